#!/usr/bin/env python3
"""A sha256-checked TCP transfer for the namespace tests (data-path.sh,
mss-clamp.sh), so that each test checks the same thing the same way.

  xfer.py serve PORT            take one connection (dual-stack), hash what
                                arrives and answer "SHA256 BYTES"; prints
                                "ready" once listening (60 s timeouts)
  xfer.py send HOST PORT FILE   send FILE, half-close, print the answer and
                                the rate: "SHA256 BYTES MBIT_PER_S"
"""
import hashlib, socket, sys, time

def serve(port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("::", port))
    s.listen(1)
    s.settimeout(60)
    print("ready", flush=True)
    c, peer = s.accept()
    c.settimeout(60)
    h, n = hashlib.sha256(), 0
    while True:
        b = c.recv(1 << 20)
        if not b:
            break
        h.update(b)
        n += len(b)
    c.sendall(f"{h.hexdigest()} {n}\n".encode())
    c.close()
    print(f"received {n} bytes from {peer[0]}, sha256 {h.hexdigest()}", flush=True)

def send(host, port, path):
    with open(path, "rb") as f:
        data = f.read()
    c = socket.create_connection((host, port), timeout=30)
    t0 = time.monotonic()
    c.sendall(data)
    c.shutdown(socket.SHUT_WR)
    reply = b""
    while True:
        b = c.recv(4096)
        if not b:
            break
        reply += b
    seconds = time.monotonic() - t0
    digest, n = reply.decode().split()
    print(digest, n, round(len(data) * 8 / seconds / 1e6))

if sys.argv[1] == "serve":
    serve(int(sys.argv[2]))
else:
    send(sys.argv[2], int(sys.argv[3]), sys.argv[4])
