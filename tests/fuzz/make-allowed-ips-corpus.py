#!/usr/bin/env python3
"""Writes the seed corpus of the allowed_ips fuzzer (corpus/allowed_ips):
byte programs in the step format of allowed_ips_fuzzer.cc, each a routing
table a gateway could have, or an edge of the trie.

    python3 tests/fuzz/make-allowed-ips-corpus.py [OUT_DIR]
"""
import ipaddress
import os
import sys

INSERT, REMOVE, REMOVE_PEER = 0, 2, 3


def step(op, prefix="0.0.0.0/0", peer=0, length=None):
    """One step: op | len | peer | 4 address bytes, or 8 for IPv6 (the
    fuzzer repeats them as the host half)."""
    net = ipaddress.ip_network(prefix, strict=False)
    v6 = net.version == 6
    addr = ipaddress.ip_interface(prefix).ip.packed[:8 if v6 else 4]
    n = net.prefixlen if length is None else length
    return bytes([op | (0x80 if v6 else 0), n, peer]) + addr


def ins(prefix, peer, length=None):
    return step(INSERT, prefix, peer, length)


def rm(prefix, peer):
    return step(REMOVE, prefix, peer)


def rm_peer(peer, v6=False):
    return step(REMOVE_PEER, "::/0" if v6 else "0.0.0.0/0", peer)


SEEDS = {
    # Two offices: each peer owns its LAN and tunnel address.
    "two-offices": [ins("198.18.1.0/24", 0), ins("198.18.0.2/32", 0),
                    ins("2001:db8:1::/48", 0), ins("2001:db8::2/128", 0),
                    ins("198.18.2.0/24", 1), ins("2001:db8:2::/48", 1)],
    # Nested prefixes for different peers: the longest match wins.
    "nested-v4": [ins("198.18.0.0/15", 0), ins("198.18.4.0/22", 1),
                  ins("198.18.5.0/24", 2), ins("198.18.5.128/25", 3),
                  ins("198.18.5.129/32", 4)],
    "nested-v6": [ins("2001:db8::/32", 0), ins("2001:db8:1::/48", 1),
                  ins("2001:db8:1:2::/64", 2), ins("2001:db8:1:2::/63", 3)],
    # A peer that takes everything (a hub), then others carving it up.
    "default-routes": [ins("0.0.0.0/0", 0), ins("::/0", 0),
                       ins("198.18.7.0/24", 1), ins("2001:db8:7::/48", 1),
                       rm("0.0.0.0/0", 0), rm("::/0", 1), rm("::/0", 0)],
    # Host bits set, prefix lengths above the maximum (taken modulo).
    "host-bits": [ins("198.18.5.7/20", 0), ins("198.18.255.255/9", 1),
                  ins("198.18.3.3/32", 2, length=45),
                  ins("2001:db8:ffff:1234::/40", 3),
                  ins("2001:db8::1/64", 4, length=200)],
    # The same prefix moved between peers, removed by the wrong and the
    # right owner, and removed when absent.
    "move-and-remove": [ins("198.18.9.0/24", 0), ins("198.18.9.0/24", 1),
                        rm("198.18.9.0/24", 0), rm("198.18.9.0/24", 1),
                        rm("198.18.9.0/24", 1), ins("2001:db8:9::/48", 2),
                        ins("2001:db8:9::/48", 3), rm("2001:db8:9::/48", 3)],
    # A hub with a /24 per site over 8 peers, then peers leave.
    "hub": [ins("198.18.%d.0/24" % i, i % 8) for i in range(48)]
           + [ins("2001:db8:%x::/48" % i, i % 8) for i in range(16)]
           + [rm_peer(3), rm_peer(5, v6=True), ins("198.18.3.0/24", 2), rm_peer(2)],
    # Sibling prefixes that split and re-join trie nodes.
    "siblings": [ins("198.18.0.0/25", 0), ins("198.18.0.128/25", 1),
                 ins("198.18.0.0/24", 2), rm("198.18.0.0/25", 0),
                 rm("198.18.0.128/25", 1), ins("198.18.0.64/26", 3),
                 ins("2001:db8::/33", 4), ins("2001:db8:8000::/33", 5),
                 rm("2001:db8::/33", 4)],
    # Zero-length and full-length prefixes in both families.
    "edges": [ins("0.0.0.0/0", 1), ins("255.255.255.255/32", 2),
              ins("::/0", 3), ins("ffff:ffff:ffff:ffff::/128", 4),
              ins("0.0.0.0/32", 5), rm_peer(1), rm_peer(3, v6=True)],
}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "corpus", "allowed_ips")
    os.makedirs(out, exist_ok=True)
    for name, steps in SEEDS.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(b"".join(steps))
    print("wrote %d seeds to %s" % (len(SEEDS), out))


if __name__ == "__main__":
    main()
