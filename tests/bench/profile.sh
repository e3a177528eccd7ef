#!/usr/bin/env bash
# Where sitelinkd spends its CPU on bench.sh's sitelink path: perf samples
# the whole machine while `bench.sh --quick --only sitelink` runs, then
# prints, for each function named, its share of sitelinkd's samples (both
# processes, every thread), and their sum. A function inlined into its
# caller has no samples of its own: name the caller too.
#
#   bash tests/bench/profile.sh --out DIR SITELINKD FUNCTION...
#     e.g. ... build/daemon/sitelinkd clamp_mss apply_outer_ecn ip_tos outer_tos NetmapTable::
#
# Writes DIR/perf.data, DIR/symbols.txt (every sitelinkd symbol's share) and
# DIR/profile.md (the named ones). Needs perf (linux-perf) and what bench.sh needs.
set -euo pipefail
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

[[ ${1:-} == --out && $# -ge 4 ]] || { sed -n '8,9p' "${BASH_SOURCE[0]}" >&2; exit 2; }
OUT=$2 BIN=$3
shift 3
mkdir -p "$OUT"
command -v perf >/dev/null || { echo "profile: perf is not installed (apt-get install linux-perf)" >&2; exit 2; }

perf record -a -F 1999 -o "$OUT/perf.data" -- \
  bash "$SCRIPT_DIR/bench.sh" --quick --only sitelink --out "$OUT/bench" "$BIN" >"$OUT/record.log" 2>&1 ||
  echo "profile: the benchmark or perf exited nonzero ($OUT/record.log)"
perf report -i "$OUT/perf.data" --comm sitelinkd --sort symbol --stdio --percentage relative 2>/dev/null |
  sed -E 's/ {2,}/ /g; s/ - - *$//' >"$OUT/symbols.txt"

{
  echo "| function | share of sitelinkd's CPU samples |"
  echo "|---|---|"
  total=0
  for f in "$@"; do
    share=$(awk -v f="$f" 'index($0, f) && $1 ~ /%$/ { s += $1 } END { printf "%.2f", s }' "$OUT/symbols.txt")
    total=$(awk -v a="$total" -v b="$share" 'BEGIN { printf "%.2f", a + b }')
    echo "| \`$f\` | $share % |"
  done
  echo "| all of them | $total % |"
  echo
  grep -m1 '^# Samples' "$OUT/symbols.txt" || true
} | tee "$OUT/profile.md"
