#!/usr/bin/env python3
"""Gaps and losses in the log of a steady ping (`ping -n -D -O -i INTERVAL`),
for the test scripts that measure how long traffic stops (failover, failback).

  ping_gaps.py LOG FROM_MS TO_MS     "GAP_MS LOST SENT" for the window

Times are Unix milliseconds (bash: ${EPOCHREALTIME}, the clock of ping -D).
GAP_MS is the longest time between two consecutive replies (by arrival) where
that interval overlaps the window [FROM_MS, TO_MS]; LOST is how many of the
SENT echo requests sent within the window got no reply at all (late replies
count as received). A request's send time is its reply's arrival less the
round trip ping reports or, for one never answered, the time of ping's "no
answer yet" line (-O: written as the next request goes out) less one interval
(the median spacing of the replies' send times). Exit status 1 (no output) if
the log holds no reply.
"""
import re
import statistics
import sys

REPLY = re.compile(r"^\[(\d+\.\d+)\] \d+ bytes from .*icmp_seq=(\d+) .*time=([\d.]+) ms")
NO_ANSWER = re.compile(r"^\[(\d+\.\d+)\] no answer yet for icmp_seq=(\d+)")


def parse(path):
    replies = {}  # seq -> (arrival ms, send ms)
    unanswered = {}  # seq -> time of the "no answer yet" line, ms
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = REPLY.match(line)
            if m:
                arrival = float(m.group(1)) * 1000
                seq = int(m.group(2))
                replies.setdefault(seq, (arrival, arrival - float(m.group(3))))
                continue
            m = NO_ANSWER.match(line)
            if m:
                unanswered.setdefault(int(m.group(2)), float(m.group(1)) * 1000)
    return replies, unanswered


def window(replies, unanswered, t0, t1):
    arrivals = sorted(a for a, _ in replies.values())
    gap = 0.0
    for a, b in zip(arrivals, arrivals[1:]):
        if b >= t0 and a <= t1:
            gap = max(gap, b - a)
    sends = sorted(s for _, s in replies.values())
    spacing = statistics.median([b - a for a, b in zip(sends, sends[1:])] or [0.0])
    sent = lost = 0
    for seq in set(replies) | set(unanswered):
        if seq in replies:
            t = replies[seq][1]
        else:
            t = unanswered[seq] - spacing
        if t0 <= t <= t1:
            sent += 1
            lost += seq not in replies
    return round(gap), lost, sent


def main(argv):
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 64
    replies, unanswered = parse(argv[1])
    if not replies:
        return 1
    gap, lost, sent = window(replies, unanswered, float(argv[2]), float(argv[3]))
    print(gap, lost, sent)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
