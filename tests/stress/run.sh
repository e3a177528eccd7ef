#!/usr/bin/env bash
# Hardening and load, in one command (issue 7): the handshake flood, the
# underlay faults, the soak and the 1,000-peer scale test (all in network
# namespaces, as root), then every libFuzzer target. Prints each test's
# figures and collects them, as JSON, in one directory.
#
#   sudo bash tests/stress/run.sh [--quick|--full] [--out DIR] [--only LIST]
#
#   --quick  (default) the CI mode: each test in its short form (about
#            8 minutes in all) and each fuzzer for 10 s.
#   --full   the long form: a 60 s flood at a higher rate, a 30 s outage,
#            a 10-minute soak, 1,000 spokes, and each fuzzer for 10 minutes
#            (about 2 hours in all).
#   --out    where the figures go (default: BUILD_DIR/stress-<mode>).
#   --only   a comma-separated subset of: flood,faults,soak,scale,fuzz.
#
# Environment: BUILD_DIR (default build), FUZZ_SECONDS (overrides the mode's
# time per fuzzer). Installs missing Debian packages and builds first.
# Exits non-zero if any part failed; the others still run.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"

mode=quick
out=""
only="flood,faults,soak,scale,fuzz"
while (($#)); do
  case $1 in
    --quick) mode=quick ;;
    --full) mode=full ;;
    --out) out=$2; shift ;;
    --only) only=$2; shift ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "stress: unknown argument '$1' (see --help)" >&2; exit 64 ;;
  esac
  shift
done
if [[ $(id -u) -ne 0 ]]; then
  echo "stress: must run as root (network namespaces, TUN devices)" >&2
  exit 1
fi

bash tests/install-deps.sh
build=${BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" --target sitelinkd sitelink flood_tool impair_relay scale_spokes
out=${out:-$build/stress-$mode}
rm -rf "$out"
mkdir -p "$out"
export STRESS_OUT
STRESS_OUT=$(cd "$out" && pwd)

bin=$build/daemon
tool() { echo "$build/tests/stress/$1"; }
declare -A args=(
  [flood]="$(tool flood_tool)"
  [faults]="$(tool impair_relay)"
  [soak]=""
  [scale]="$(tool scale_spokes)"
)

failed=()
run_part() {
  local name=$1; shift
  local start=$SECONDS
  echo "=== stress: $name ($mode)"
  if "$@" > >(tee "$STRESS_OUT/$name.log") 2> >(tee "$STRESS_OUT/$name.err" >&2); then
    echo "=== stress: $name passed in $((SECONDS - start)) s"
  else
    echo "=== stress: $name FAILED after $((SECONDS - start)) s (log: $STRESS_OUT/$name.log)"
    failed+=("$name")
  fi
}

IFS=, read -ra parts <<<"$only"
for part in "${parts[@]}"; do
  case $part in
    flood|faults|soak|scale)
      # shellcheck disable=SC2086  # the tool argument is empty for soak
      run_part "$part" bash "tests/stress/$part.sh" "--$mode" "$bin/sitelinkd" "$bin/sitelink" ${args[$part]} ;;
    fuzz)
      seconds=${FUZZ_SECONDS:-$([[ $mode == full ]] && echo 600 || echo 10)}
      run_part fuzz env FUZZ_SECONDS="$seconds" bash tests/fuzz/run-fuzzers.sh "${FUZZ_BUILD_DIR:-build-fuzz}" ;;
    *) echo "stress: unknown part '$part'" >&2; exit 64 ;;
  esac
done

echo
echo "=== stress figures ($mode; JSON in $STRESS_OUT)"
for part in "${parts[@]}"; do
  [[ -f $STRESS_OUT/$part.log ]] || continue
  grep -h '^FIGURE:' "$STRESS_OUT/$part.log" | sed "s/^FIGURE: /  $part: /" || true
done
if ((${#failed[@]})); then
  echo "stress: FAILED: ${failed[*]}"
  exit 1
fi
echo "stress: all passed"
