#!/usr/bin/env bash
# flood --quick: privsep alone (0b6207a) against 2b58cb9 and main, 3 rounds rotating
set -uo pipefail
cd /work/main || exit 1
declare -A B=([main]=/work/main/build [pre]=/work/wt/pre-privsep/build [privsep]=/work/wt/privsep/build)
for r in 4 5 6; do
  case $r in 4) order="privsep pre main";; 5) order="main privsep pre";; 6) order="pre main privsep";; esac
  for v in $order; do
    b=${B[$v]}
    STRESS_OUT="/tmp/i14/$v-flood-$r" bash tests/stress/flood.sh --quick "$b/daemon/sitelinkd" "$b/daemon/sitelink" /work/main/build/tests/stress/flood_tool >"/tmp/i14/$v-flood-$r.log" 2>&1; echo "flood $v $r rc=$?"
  done
done
