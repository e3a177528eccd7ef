#!/usr/bin/env python3
"""Writes the seed corpus of the offload fuzzer (corpus/offload): inputs in
the format of offload_fuzzer.cc, a selector byte, a virtio_net_hdr (10
bytes, little-endian fields) and length-prefixed packets, the first of them
the super-packet for split_tcp_gso. The packets are what a TUN with TSO
hands over (IPv4 and IPv6 TCP super-packets with timestamps, PSH/FIN/CWR,
IPv4 options) and what the coalescer meets on receive (in-order segments of
two flows, pure ACKs, UDP, ICMP, fragments), plus refused headers.

    python3 tests/fuzz/make-offload-corpus.py [OUT_DIR]
"""
import ipaddress
import os
import struct
import sys

TCP, UDP, ICMP = 6, 17, 1
FIN, SYN, PSH, ACK, CWR = 0x01, 0x02, 0x08, 0x10, 0x80
GSO_NONE, GSO_TCPV4, GSO_TCPV6, GSO_ECN = 0, 1, 4, 0x80
NEEDS_CSUM = 1
TIMESTAMPS = bytes([1, 1, 8, 10, 0, 0, 1, 0, 0, 0, 2, 0])


def csum(data, start=0):
    if len(data) % 2:
        data += b"\0"
    s = start + sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s > 0xFFFF:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def packet(src, dst, proto=TCP, sport=40000, dport=5201, seq=1000, ack=1, flags=ACK,
           window=502, tcp_options=TIMESTAMPS, payload=b"", ip_options=b"", ident=7, frag=0x4000):
    """An IPv4 or IPv6 packet (by the addresses) with valid checksums."""
    s, d = ipaddress.ip_address(src), ipaddress.ip_address(dst)
    if proto == TCP:
        l4 = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, (20 + len(tcp_options)) // 4 << 4,
                         flags, window, 0, 0) + tcp_options + payload
        at = 16
    elif proto == UDP:
        l4 = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
        at = 6
    else:
        l4 = struct.pack("!BBHHH", 8, 0, 0, 1, 1) + payload
        at = 2
    if s.version == 4:
        pseudo = s.packed + d.packed + struct.pack("!BBH", 0, proto, len(l4))
    else:
        pseudo = s.packed + d.packed + struct.pack("!I3xB", len(l4), proto)
    c = 0xFFFF - csum(l4, 0 if proto == ICMP and s.version == 4 else csum(pseudo))
    l4 = l4[:at] + struct.pack("!H", c) + l4[at + 2:]
    if s.version == 6:
        return struct.pack("!IHBB", 0x60000000, len(l4), proto, 64) + s.packed + d.packed + l4
    ihl = 20 + len(ip_options)
    h = struct.pack("!BBHHHBBH", 0x40 | ihl // 4, 0, ihl + len(l4), ident, frag, 64, proto, 0)
    h += s.packed + d.packed + ip_options
    h = h[:10] + struct.pack("!H", 0xFFFF - csum(h)) + h[12:]
    return h + l4


def vnet(gso_type=GSO_NONE, gso_size=0, hdr_len=0, csum_start=0, flags=NEEDS_CSUM):
    return struct.pack("<BBHHHH", flags, gso_type, hdr_len, gso_size, csum_start, 16 if flags else 0)


def segments(src, dst, count, mss, sport=40000, seq=1000, last=None, flags=ACK):
    out = []
    for i in range(count):
        size = mss if last is None or i + 1 < count else last
        f = flags if i + 1 == count else flags & ~(PSH | FIN)
        out.append(packet(src, dst, sport=sport, seq=seq, flags=f, ident=7 + i,
                          payload=bytes((seq + j) & 0xFF for j in range(size))))
        seq += size
    return out


def entry(sel, hdr, packets):
    out = bytes([sel]) + hdr
    for p in packets:
        out += struct.pack("!H", len(p)) + p
    return out


A4, B4 = "198.18.1.2", "198.18.2.2"
A6, B6 = "2001:db8:a::2", "2001:db8:b::2"


def payload(n):
    return bytes((i * 7) & 0xFF for i in range(n))


def seeds():
    v4 = packet(A4, B4, payload=payload(10 * 1448), flags=ACK | PSH)
    v6 = packet(A6, B6, payload=payload(7 * 1000 + 300), flags=ACK | PSH | FIN | CWR)
    hdr4 = vnet(GSO_TCPV4, 1448, 52, 20)
    hdr6 = vnet(GSO_TCPV6, 1000, 72, 40)
    yield "v4-super", entry(0, hdr4, [v4])
    yield "v6-super-psh-fin-cwr", entry(0, hdr6, [v6])
    yield "v4-super-ecn", entry(0, vnet(GSO_TCPV4 | GSO_ECN, 536, 52, 20), [v4])
    yield "v4-super-ip-options", entry(0, vnet(GSO_TCPV4, 1000, 56, 24),
                                      [packet(A4, B4, ip_options=b"\x94\x04\0\0", payload=payload(4000))])
    yield "v4-header-only", entry(0, hdr4, [packet(A4, B4)])
    yield "v6-one-segment", entry(0, hdr6, [packet(A6, B6, payload=payload(999))])
    # Refused: wrong type for the version, gso_size 0, fragment, UDP.
    yield "v4-as-tcpv6", entry(0, vnet(GSO_TCPV6, 1448, 52, 20), [v4])
    yield "gso-size-0", entry(0, vnet(GSO_TCPV4, 0, 52, 20), [v4])
    yield "v4-fragment", entry(0, hdr4, [packet(A4, B4, frag=0x2000, payload=payload(3000))])
    yield "udp", entry(0, hdr4, [packet(A4, B4, proto=UDP, payload=payload(3000))])
    # Receive side: segments of two flows, interleaved, with other traffic.
    fa = segments(A4, B4, 12, 1448, last=700)
    fb = segments(A6, B6, 12, 1200, sport=40001, flags=ACK | PSH)
    mixed = [x for pair in zip(fa, fb) for x in pair]
    other = [packet(B4, A4, sport=5201, dport=40000, seq=1, ack=1000 + 1448 * 11 + 700),  # pure ACK back
             packet(A4, B4, proto=UDP, payload=payload(100)),
             packet(A6, B6, proto=ICMP, payload=payload(56)),
             packet(A4, B4, seq=1000 + 1448 * 11 + 700, flags=ACK | FIN)]
    yield "rx-two-flows", entry(0, vnet(), [b""] + mixed + other)
    yield "rx-mixed-into-split", entry(0x04 | 0x30, hdr4, [v4] + other + fa[:4])
    yield "rx-split-and-raw", entry(0x08 | 0x01 | 0x02, vnet(GSO_TCPV4, 1000, 52, 20), [v4] + fa[:3])
    yield "rx-many-small", entry(0, vnet(), [b""] + segments(A4, B4, 80, 100))
    yield "rx-out-of-order", entry(0, vnet(), [b""] + fa[:3] + fa[4:6] + fa[3:4])
    yield "rx-syn", entry(0, vnet(), [b""] + [packet(A4, B4, flags=SYN, tcp_options=b"")] + fa[:2])


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "corpus", "offload")
    os.makedirs(out, exist_ok=True)
    for name, data in seeds():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    print(f"wrote {len(list(seeds()))} seeds to {out}")


if __name__ == "__main__":
    main()
