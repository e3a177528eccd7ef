#!/usr/bin/env python3
"""Values from a saved `sitelink show IFACE --json` (one interface), for the
test scripts, so that none of them parses it by itself. FILE may be - (stdin).

  show_json.py drops FILE                "REASON COUNT" lines, one per drop reason
  show_json.py drop FILE [REASON...]     the sum of those reasons' counts (absent
                                         ones count 0); without REASON, of all
  show_json.py drop-deltas BEFORE AFTER  "REASON INCREASE" for every reason in either
  show_json.py peer FILE PEER FIELD      a peer's FIELD (empty for null); PEER is
                                         its public key or its index in the list

Exit status 1 (and nothing on stdout) if FILE is not the JSON of at least one
interface, or the peer or field is not there; 64 on a bad command line.
"""
import json
import sys


def interface(path):
    with (sys.stdin if path == "-" else open(path, encoding="utf-8")) as f:
        return json.load(f)["interfaces"][0]


def peer(iface, which):
    peers = iface["peers"]
    if which.isdigit():
        return peers[int(which)]
    for p in peers:
        if p["public_key"] == which:
            return p
    raise LookupError(which)


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    cmd, args = argv[1], argv[2:]
    if cmd == "drops" and len(args) == 1:
        for reason, n in interface(args[0])["dropped"].items():
            print(reason, n)
    elif cmd == "drop" and len(args) >= 1:
        dropped = interface(args[0])["dropped"]
        reasons = args[1:] or list(dropped)
        print(sum(dropped.get(r, 0) for r in reasons))
    elif cmd == "drop-deltas" and len(args) == 2:
        a, b = (interface(p)["dropped"] for p in args)
        for reason in sorted(set(a) | set(b)):
            print(reason, b.get(reason, 0) - a.get(reason, 0))
    elif cmd == "peer" and len(args) == 3:
        v = peer(interface(args[0]), args[1])[args[2]]
        print("" if v is None else v)
    else:
        print(__doc__, file=sys.stderr)
        return 64
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except (OSError, ValueError, LookupError, TypeError):
        sys.exit(1)
