#!/usr/bin/env python3
"""A stand-in for systemd's notify socket, for tests/netns/notify.sh.

Usage: notify_listener.py SOCKET_PATH

Binds an AF_UNIX SOCK_DGRAM socket at SOCKET_PATH (what a service finds in
$NOTIFY_SOCKET) and prints every datagram it receives on one line of stdout,
flushed at once, as

    MILLISECONDS<TAB>FIELD<TAB>FIELD...

MILLISECONDS is CLOCK_MONOTONIC at arrival; the fields are the datagram's
newline-separated assignments (READY=1, STATUS=..., WATCHDOG=1, ...), so
"READY=1\\nSTATUS=x" prints as "123<TAB>READY=1<TAB>STATUS=x". Runs until it
is signalled; the socket file is removed on SIGTERM or SIGINT.
"""

import os
import signal
import socket
import sys
import time


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 64
    path = sys.argv[1]
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)

    def stop(_signo, _frame):
        try:
            os.unlink(path)
        finally:
            sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while True:
        data = sock.recv(65536)
        ms = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1_000_000
        text = data.decode("utf-8", errors="backslashreplace")
        fields = [f for f in text.split("\n") if f]
        print("\t".join([str(ms)] + fields), flush=True)


if __name__ == "__main__":
    sys.exit(main())
