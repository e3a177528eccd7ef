#!/usr/bin/env python3
"""Fails when a test was skipped without leave.

Usage: check-skips.py JUNIT.xml [ALLOWLIST]

Reads the JUnit XML that `ctest --output-junit` writes and finds every
skipped test: ctest's "Skipped"/"Not Run" (SKIP_RETURN_CODE) and GoogleTest's
GTEST_SKIP ("[  SKIPPED ]" in the output). Each must be in the allow-list
(tests/skip-allowlist.txt: "name | text the skip message contains | why"),
with the named text in its output. Prints every skip either way; exits 1 if
any is not allowed, 2 if the XML cannot be read.
"""
import os
import re
import sys
import xml.etree.ElementTree as ET


def read_allowlist(path):
    allowed = {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = [p.strip() for p in line.split("|", 2)]
            if len(parts) != 3 or not all(parts):
                sys.exit(f"{path}:{n}: expected 'name | text | reason'")
            allowed[parts[0]] = (parts[1], parts[2])
    return allowed


def skips(junit_path):
    """(name, message) for every skipped test case."""
    root = ET.parse(junit_path).getroot()
    for case in root.iter("testcase"):
        out = "".join(e.text or "" for e in case.iter("system-out"))
        skipped = case.find("skipped")
        gtest_skip = re.search(r"^\[  SKIPPED \] .*$", out, re.M)
        if case.get("status") in ("notrun", "disabled") or skipped is not None or gtest_skip:
            why = out.strip().splitlines()[-3:] if out.strip() else [skipped.get("message", "") if skipped is not None else ""]
            yield case.get("name"), out, " / ".join(why)


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    here = os.path.dirname(os.path.abspath(__file__))
    allow = read_allowlist(sys.argv[2] if len(sys.argv) == 3 else os.path.join(here, "skip-allowlist.txt"))
    try:
        found = list(skips(sys.argv[1]))
    except (OSError, ET.ParseError) as e:
        print(f"check-skips: cannot read {sys.argv[1]}: {e}", file=sys.stderr)
        return 2
    bad = 0
    for name, out, why in found:
        rule = allow.get(name)
        if rule and rule[0] in out:
            print(f"check-skips: skipped (allowed: {rule[1]}): {name}: {why}")
        else:
            print(f"check-skips: SKIPPED WITHOUT LEAVE: {name}: {why}")
            bad += 1
    print(f"check-skips: {len(found)} skipped, {bad} not allowed ({sys.argv[1]})")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
