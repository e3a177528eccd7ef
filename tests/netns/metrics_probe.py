#!/usr/bin/env python3
"""HTTP helpers for tests/netns/metrics.sh (standard library only).

  metrics_probe.py get URL                 print the body of a 200 answer (exit 1 otherwise)
  metrics_probe.py query PROM EXPR         print the value of Prometheus's instant query
                                           EXPR at PROM (http://ADDR:PORT), nothing if empty
  metrics_probe.py abuse HOST PORT SRC N   open N connections to HOST:PORT from address SRC:
                                           slow clients (a byte at a time), garbage requests,
                                           an endless header; print "held K" once they are
                                           open and keep them until killed
Every network wait is bounded (5 s).
"""
import json
import socket
import sys
import time
import urllib.parse
import urllib.request


def get(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        if r.status != 200:
            sys.exit(1)
        sys.stdout.write(r.read().decode("utf-8"))


def query(prom, expr):
    url = prom + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=5) as r:
        data = json.load(r)
    result = data.get("data", {}).get("result", [])
    if result:
        print(result[0]["value"][1])


def abuse(host, port, src, n):
    held = []
    kinds = [b"GET /metrics HTTP/1.1\r\nHost: x\r\n", b"\x00\xff garbage \r\n\r\n", b"GET /" + b"a" * 4000,
             b"GET /metrics HTTP/1.1\r\nX-Long: " + b"y" * 60000]
    for i in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(5)
        s.bind((src, 0))
        try:
            s.connect((host, port))
            s.send(kinds[i % len(kinds)][: 1 if i % 2 == 0 else None])  # half send one byte only
        except OSError:
            s.close()
            continue
        held.append(s)
    print("held %d" % len(held), flush=True)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:  # trickle a byte now and then: slow clients
        for s in held:
            try:
                s.send(b"X")
            except OSError:
                pass
        time.sleep(1)


def main():
    cmd = sys.argv[1]
    if cmd == "get":
        get(sys.argv[2])
    elif cmd == "query":
        query(sys.argv[2], sys.argv[3])
    elif cmd == "abuse":
        abuse(sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5]))
    else:
        sys.exit(64)


if __name__ == "__main__":
    try:
        main()
    except (OSError, ValueError) as e:
        print("metrics_probe: %s" % e, file=sys.stderr)
        sys.exit(1)
