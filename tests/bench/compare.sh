#!/usr/bin/env bash
# Two or more sitelinkd builds on the sitelink path of bench.sh, in
# alternating runs, so that every build meets the same changing conditions
# of a shared machine; then each figure's median per build.
#
#   bash tests/bench/compare.sh [--rounds N] [--quick] --out DIR NAME=SITELINKD NAME=SITELINKD...
#     --rounds N   rounds (default 4); each runs every build once, the
#                  order rotating by one each round
#     --quick      bench.sh --quick (1 repetition of 2 s per figure) instead
#                  of its default (3 repetitions of 5 s)
#     --out DIR    DIR/NAME-R.json (bench.sh's bench.json of build NAME in
#                  round R), DIR/raw/NAME-R/ (its raw outputs), and
#                  DIR/compare.md (the medians table printed at the end)
#
# Used for the "no throughput lost" checks of issues 16 and 17
# (tests/bench/results/checks-cost/README.md). Needs what bench.sh needs.
set -euo pipefail
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

usage() {
  sed -n '6,14p' "${BASH_SOURCE[0]}" >&2
  exit 2
}
ROUNDS=4 QUICK=() OUT=""
builds=()
while (($#)); do
  case $1 in
    --rounds) ROUNDS=${2:?}; shift ;;
    --quick) QUICK=(--quick) ;;
    --out) OUT=${2:?}; shift ;;
    *=*) builds+=("$1") ;;
    *) usage ;;
  esac
  shift
done
[[ -n $OUT && ${#builds[@]} -ge 2 && $ROUNDS =~ ^[1-9][0-9]*$ ]] || usage
for b in "${builds[@]}"; do
  [[ -x ${b#*=} ]] || { echo "compare: ${b#*=} is not an executable" >&2; exit 2; }
done
mkdir -p "$OUT/raw"

n=${#builds[@]}
for ((round = 1; round <= ROUNDS; round++)); do
  for ((k = 0; k < n; k++)); do
    b=${builds[$(((k + round - 1) % n))]}
    name=${b%%=*} bin=${b#*=}
    echo "compare: round $round/$ROUNDS: $name ($bin)"
    # bench.sh exits nonzero when a figure is missing; the others still count.
    SITELINK_COMMIT=$name bash "$SCRIPT_DIR/bench.sh" "${QUICK[@]}" --only sitelink \
      --out "$OUT/raw/$name-$round" "$bin" >"$OUT/raw/$name-$round.log" 2>&1 ||
      echo "compare: bench.sh exited $? ($OUT/raw/$name-$round.log)"
    cp "$OUT/raw/$name-$round/bench.json" "$OUT/$name-$round.json"
  done
done

names=()
for b in "${builds[@]}"; do names+=("${b%%=*}"); done
python3 - "$OUT" "${names[@]}" <<'EOF' | tee "$OUT/compare.md"
import glob, json, os, statistics, sys

out, names = sys.argv[1], sys.argv[2:]
figures = [("tcp1_mbps", "TCP 1 stream, Mbit/s"), ("tcp4_mbps", "TCP 4 streams, Mbit/s"),
           ("cpu_s_per_gb_a", "CPU s/GB, A (seals)"), ("cpu_s_per_gb_b", "CPU s/GB, B (opens)"),
           ("udp500_mbps", "UDP 500 offered, Mbit/s"), ("rtt_median_ms", "ping RTT median, ms")]
print("| build | runs | " + " | ".join(label for _, label in figures) + " |")
print("|---|---|" + "---|" * len(figures))
for name in names:
    runs = []
    for path in sorted(glob.glob(os.path.join(out, f"{name}-*.json"))):
        with open(path) as f:
            runs.append(json.load(f)["results"]["sitelink"]["median"])
    cells = []
    for key, _ in figures:
        vals = [r[key] for r in runs if isinstance(r.get(key), (int, float))]
        if not vals:
            cells.append("-")
            continue
        cells.append(f"{statistics.median(vals):,.2f} ({min(vals):,.2f}-{max(vals):,.2f})")
    print(f"| {name} | {len(runs)} | " + " | ".join(cells) + " |")
print("\nEach cell: the median over the runs (lowest-highest).")
EOF
