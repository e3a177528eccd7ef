#!/usr/bin/env bash
# The runner behind this directory: a stress script (flood or scale, --quick)
# against several builds in turn, the order rotating by one each round.
#
#   alternate.sh AREA FIRST_ROUND LAST_ROUND OUT TOOL NAME=BUILD_DIR...
#     AREA    flood or scale (tests/stress/AREA.sh)
#     TOOL    the client every build is driven by (flood_tool, scale_spokes)
#     OUT     OUT/NAME-AREA-ROUND/AREA.json and OUT/NAME-AREA-ROUND.log
#
# The runs in this directory (README): rounds 1-3 ran flood and scale for
# main and pre (scale with each build's own scale_spokes); then
#   alternate.sh flood 4 6 OUT build/tests/stress/flood_tool privsep=... pre=... main=...
#   alternate.sh scale 4 6 OUT build/tests/stress/scale_spokes privsep=... pre=... main=...
#   alternate.sh scale 7 9 OUT build/tests/stress/scale_spokes heapcopy=... pre=... main=...
set -uo pipefail
[[ $# -ge 7 && $1 =~ ^(flood|scale)$ ]] || { sed -n '5,9p' "${BASH_SOURCE[0]}" >&2; exit 2; }
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../../.." && pwd)
area=$1 first=$2 last=$3 out=$4 tool=$5
shift 5
builds=("$@")
n=${#builds[@]}
for ((r = first; r <= last; r++)); do
  for ((k = 0; k < n; k++)); do
    b=${builds[$(((k + r - first) % n))]}
    name=${b%%=*} dir=${b#*=}
    STRESS_OUT="$out/$name-$area-$r" bash "$REPO/tests/stress/$area.sh" --quick "$dir/daemon/sitelinkd" \
      "$dir/daemon/sitelink" "$tool" >"$out/$name-$area-$r.log" 2>&1
    echo "$area $name $r rc=$?"
  done
done
