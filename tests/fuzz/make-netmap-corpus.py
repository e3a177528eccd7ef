#!/usr/bin/env python3
"""Writes the seed corpus of netmap_fuzzer to tests/fuzz/corpus/netmap/.

Each seed: a selector byte (bit 0: partial checksum, bit 1/2: the source /
destination rules are IPv6), the two prefix lengths, four 16-byte prefixes
(sources A <-> B, destinations C <-> D), then a packet with valid
checksums whose addresses lie in A and C: IPv4 and IPv6 TCP, UDP (one IPv4
with checksum 0), ICMP echo, ICMP and ICMPv6 port-unreachable quoting a UDP
datagram the other way, an IPv4 later fragment and IPv6 behind a hop-by-hop
header.
"""
import hashlib
import ipaddress
import os
import struct


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def a(text):
    return ipaddress.ip_address(text).packed


def pseudo(src, dst, proto, length):
    if len(src) == 4:
        return src + dst + struct.pack("!BBH", 0, proto, length)
    return src + dst + struct.pack("!IxxxB", length, proto)


def l4(proto, src, dst, body, zero=False):
    if proto == 6:
        t = bytearray(struct.pack("!HHIIBBHHH", 40000, 80, 1, 0, 0x50, 0x18, 1000, 0, 0)) + body
        off = 16
    elif proto == 17:
        t = bytearray(struct.pack("!HHHH", 40000, 53, 8 + len(body), 0)) + body
        off = 6
    else:
        t = bytearray(body)
        off = 2
    if not zero:
        ps = b"" if proto == 1 else pseudo(src, dst, proto, len(t))
        c = 0xFFFF - csum(ps + bytes(t))
        struct.pack_into("!H", t, off, c or (0xFFFF if proto == 17 else 0))
    return bytes(t)


def ip(src, dst, proto, payload, frag=0, hbh=False):
    if len(src) == 4:
        h = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 7, frag, 64, proto, 0, src, dst))
        struct.pack_into("!H", h, 10, 0xFFFF - csum(bytes(h)))
        return bytes(h) + payload
    if hbh:
        body = bytes([proto, 0, 1, 4, 0, 0, 0, 0]) + payload
        return struct.pack("!IHBB16s16s", 0x60000000, len(body), 0, 64, src, dst) + body
    return struct.pack("!IHBB16s16s", 0x60000000, len(payload), proto, 64, src, dst) + payload


def packet(src, dst, proto, body, **kw):
    zero = kw.pop("zero", False)
    return ip(src, dst, proto, l4(proto, src, dst, body, zero), **kw)


def icmp_error(src, dst, quoted):
    proto = 1 if len(src) == 4 else 58
    head = bytes([3, 3, 0, 0, 0, 0, 0, 0]) if proto == 1 else bytes([1, 4, 0, 0, 0, 0, 0, 0])
    return packet(src, dst, proto, head + quoted)


def prefix16(text):
    p = a(text)
    return p + b"\0" * (16 - len(p))


A4, B4, C4, D4 = "198.18.1.0", "198.19.202.0", "198.19.201.0", "198.18.9.0"
A6, B6, C6, D6 = "2001:db8:1::", "2001:db8:202::", "2001:db8:201::", "2001:db8:9::"
s4, d4 = a("198.18.1.5"), a("198.19.201.7")
s6, d6 = a("2001:db8:1::5"), a("2001:db8:201::7")
seeds4 = [
    (0, packet(s4, d4, 6, b"hello")),
    (1, packet(s4, d4, 6, b"partial")),
    (0, packet(s4, d4, 17, b"dns?")),
    (0, packet(s4, d4, 17, b"none", zero=True)),
    (0, packet(s4, d4, 1, bytes([8, 0, 0, 0, 0, 1, 0, 1]) + b"ping")),
    (0, icmp_error(s4, d4, packet(d4, s4, 17, b"closed port"))),
    (0, packet(s4, d4, 17, b"later fragment", frag=0x0010)),
]
seeds6 = [
    (6, packet(s6, d6, 6, b"hello")),
    (7, packet(s6, d6, 17, b"partial")),
    (6, packet(s6, d6, 58, bytes([128, 0, 0, 0, 0, 1, 0, 1]) + b"ping")),
    (6, icmp_error(s6, d6, packet(d6, s6, 17, b"closed port"))),
    (6, packet(s6, d6, 6, b"behind hop-by-hop", hbh=True)),
]
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "netmap")
os.makedirs(out, exist_ok=True)
for family, seeds, prefixes, length in ((4, seeds4, (A4, B4, C4, D4), 24), (6, seeds6, (A6, B6, C6, D6), 64)):
    for selector, pkt in seeds:
        data = bytes([selector, length, length]) + b"".join(prefix16(x) for x in prefixes) + pkt
        with open(os.path.join(out, hashlib.sha1(data).hexdigest()), "wb") as f:
            f.write(data)
