#!/usr/bin/env bash
# scale --quick: 2b58cb9, c7852c3 (privilege separation with the heap copy) and main, each
# with main's scale_spokes (the same client for all), 3 rounds rotating
set -uo pipefail
cd /work/main || exit 1
declare -A B=([main]=/work/main/build [pre]=/work/wt/pre-privsep/build [heapcopy]=/work/wt/heapcopy/build)
for r in 7 8 9; do
  case $r in 7) order="heapcopy pre main";; 8) order="main heapcopy pre";; 9) order="pre main heapcopy";; esac
  for v in $order; do
    b=${B[$v]}
    STRESS_OUT="/tmp/i14/$v-scale-$r" bash tests/stress/scale.sh --quick "$b/daemon/sitelinkd" "$b/daemon/sitelink" /work/main/build/tests/stress/scale_spokes >"/tmp/i14/$v-scale-$r.log" 2>&1; echo "scale $v $r rc=$?"
  done
done
