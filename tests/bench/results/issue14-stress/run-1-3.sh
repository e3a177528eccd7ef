#!/usr/bin/env bash
# Issue 14's re-measure: main vs 2b58cb9 (before privilege separation),
# flood --quick and scale --quick, 3 rounds, the order alternating.
set -uo pipefail
cd /work/main || exit 1
M=/work/main/build; P=/work/wt/pre-privsep/build
for r in 1 2 3; do
  if ((r % 2)); then order="main pre"; else order="pre main"; fi
  for v in $order; do
    if [[ $v == main ]]; then B=$M; else B=$P; fi
    STRESS_OUT="/tmp/i14/$v-flood-$r" bash tests/stress/flood.sh --quick "$B/daemon/sitelinkd" "$B/daemon/sitelink" "$M/tests/stress/flood_tool" >"/tmp/i14/$v-flood-$r.log" 2>&1; echo "flood $v $r rc=$?"
    STRESS_OUT="/tmp/i14/$v-scale-$r" bash tests/stress/scale.sh --quick "$B/daemon/sitelinkd" "$B/daemon/sitelink" "$B/tests/stress/scale_spokes" >"/tmp/i14/$v-scale-$r.log" 2>&1; echo "scale $v $r rc=$?"
  done
done
