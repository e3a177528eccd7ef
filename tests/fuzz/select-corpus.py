#!/usr/bin/env python3
"""Grows a checked-in seed corpus from a fuzzing run, keeping it small.

    python3 tests/fuzz/select-corpus.py FUZZER SEED_DIR GROWN_DIR [MAX_FILES]

Runs FUZZER (a libFuzzer binary) in merge mode with -use_counters=0 (so
only coverage edges count, not hit counts) over the seed corpus first and
then the grown one (e.g. FUZZ_KEEP of run-fuzzers.sh). libFuzzer takes the
grown inputs smallest first and records the edges each adds to those before
it; every seed is kept, and of the grown inputs that add edges, those that
add the most are copied into SEED_DIR (under their SHA-1, as libFuzzer names
them) until it holds MAX_FILES (default 190). Prints the edges covered.
"""
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile


def new_edges_per_input(fuzzer, seed_dir, grown_dir):
    """Per input, the edges it covers that no earlier input did; and how
    many inputs came from the first corpus (the seeds)."""
    with tempfile.TemporaryDirectory() as tmp:
        control = os.path.join(tmp, "control")
        seeds = os.path.join(tmp, "seeds")
        shutil.copytree(seed_dir, seeds)
        subprocess.run([fuzzer, "-merge=1", "-use_counters=0", "-merge_control_file=" + control,
                        seeds, grown_dir],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        with open(control) as f:
            lines = f.read().splitlines()
    count, first = int(lines[0]), int(lines[1])
    paths = lines[2:2 + count]
    edges = {}
    for line in lines[2 + count:]:
        if line.startswith("COV "):
            fields = line.split()
            edges[int(fields[1])] = len(fields) - 2
    seed_edges = sum(n for i, n in edges.items() if i < first)
    grown = [(n, paths[i]) for i, n in edges.items() if i >= first and n > 0]
    return first, seed_edges, grown


def main():
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
    fuzzer, seed_dir, grown_dir = sys.argv[1:4]
    max_files = int(sys.argv[4]) if len(sys.argv) == 5 else 190
    seeds, seed_edges, grown = new_edges_per_input(fuzzer, seed_dir, grown_dir)
    grown.sort(key=lambda g: (-g[0], os.path.getsize(g[1])))
    picked = grown[:max(0, max_files - seeds)]
    for _, p in picked:
        with open(p, "rb") as f:
            name = hashlib.sha1(f.read()).hexdigest()
        shutil.copy(p, os.path.join(seed_dir, name))
    print("%s: %d seeds (%d edges) + %d of %d inputs that add edges; edges %d of %d" %
          (os.path.basename(fuzzer), seeds, seed_edges, len(picked), len(grown),
           seed_edges + sum(n for n, _ in picked), seed_edges + sum(n for n, _ in grown)))


if __name__ == "__main__":
    main()
