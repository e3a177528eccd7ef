#!/usr/bin/env bash
# scale --quick: 2b58cb9, 0b6207a (privilege separation alone) and main, each
# with main's scale_spokes (the same client for all), 3 rounds rotating
set -uo pipefail
cd /work/main || exit 1
declare -A B=([main]=/work/main/build [pre]=/work/wt/pre-privsep/build [privsep]=/work/wt/privsep/build)
for r in 4 5 6; do
  case $r in 4) order="privsep pre main";; 5) order="main privsep pre";; 6) order="pre main privsep";; esac
  for v in $order; do
    b=${B[$v]}
    STRESS_OUT="/tmp/i14/$v-scale-$r" bash tests/stress/scale.sh --quick "$b/daemon/sitelinkd" "$b/daemon/sitelink" /work/main/build/tests/stress/scale_spokes >"/tmp/i14/$v-scale-$r.log" 2>&1; echo "scale $v $r rc=$?"
  done
done
