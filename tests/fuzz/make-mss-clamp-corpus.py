#!/usr/bin/env python3
"""Writes the seed corpus of mss_clamp_fuzzer to tests/fuzz/corpus/mss_clamp/.

Each seed: a selector byte (bit 0: partial checksum), the IPv4 and IPv6 MSS
limits (2 bytes each, big endian), then an IPv4 or IPv6 TCP packet with a
valid checksum: SYNs and SYN-ACKs with the MSS option in various places,
one without, one non-SYN, an IPv4 fragment and IPv6 with an extension header.
"""
import hashlib
import os
import struct


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def packet(version, flags, options, payload=b"", frag=0, ext=False):
    options += b"\0" * (-len(options) % 4)
    tcp = bytearray(struct.pack("!HHIIBBHHH", 40000, 443, 1, 0, (20 + len(options)) // 4 << 4, flags, 64240, 0, 0))
    tcp += options + payload
    if version == 4:
        src, dst = bytes([198, 18, 1, 10]), bytes([198, 18, 2, 10])
        pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp))
    else:
        src, dst = bytes.fromhex("20010db8000100000000000000000010"), bytes.fromhex("20010db8000200000000000000000010")
        pseudo = src + dst + struct.pack("!IxxxB", len(tcp), 6)
    struct.pack_into("!H", tcp, 16, 0xFFFF - csum(pseudo + bytes(tcp)))
    if version == 4:
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, frag, 64, 6, 0, src, dst)
        return ip + bytes(tcp)
    if ext:  # hop-by-hop header in front of TCP
        body = bytes([6, 0, 1, 4, 0, 0, 0, 0]) + bytes(tcp)
        return struct.pack("!IHBB16s16s", 0x60000000, len(body), 0, 64, src, dst) + body
    return struct.pack("!IHBB16s16s", 0x60000000, len(tcp), 6, 64, src, dst) + bytes(tcp)


def mss(v):
    return struct.pack("!BBH", 2, 4, v)


SYN, ACK = 0x02, 0x10
TS = bytes([8, 10, 1, 2, 3, 4, 0, 0, 0, 0])
seeds = [
    (0, packet(4, SYN, mss(1460) + bytes([4, 2]) + TS + bytes([1, 3, 3, 7]))),
    (0, packet(6, SYN | ACK, bytes([1]) + mss(1440) + bytes([1, 1, 4, 2]))),
    (1, packet(4, SYN, bytes([1, 3, 3, 7]) + mss(8960))),
    (1, packet(6, SYN, TS + mss(1440))),
    (0, packet(4, SYN, bytes([4, 2, 1, 3, 3, 7]))),
    (0, packet(4, ACK, mss(1460), b"x" * 30)),
    (0, packet(4, SYN, mss(1460), frag=0x2000)),
    (0, packet(6, SYN, mss(1460), ext=True)),
    (0, packet(4, SYN, bytes([3, 0]) + mss(1460))),
]
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "mss_clamp")
os.makedirs(out, exist_ok=True)
for selector, pkt in seeds:
    data = bytes([selector]) + struct.pack("!HH", 1380, 1360) + pkt
    with open(os.path.join(out, hashlib.sha1(data).hexdigest()), "wb") as f:
        f.write(data)
