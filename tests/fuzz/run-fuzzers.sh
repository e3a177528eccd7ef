#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each for a while on a copy
# of its seed corpus (tests/fuzz/corpus/<name without _fuzzer>/).
#
#   tests/fuzz/run-fuzzers.sh [BUILD_DIR]     (default: <repo>/build-fuzz)
#
# Environment:
#   FUZZ_SECONDS  time per fuzzer (default 30)
#   CXX           the clang++ to use (default clang++)
#   CXXFLAGS      extra compile flags, read by CMake on the first configure
#
# Fails if the build fails or if any fuzzer reports anything (crash, leak,
# timeout, undefined behaviour). Inputs that did are kept in
# BUILD_DIR/fuzz-artifacts/, logs in BUILD_DIR/fuzz-logs/.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${1:-$root/build-fuzz}"
seconds="${FUZZ_SECONDS:-30}"
cxx="${CXX:-clang++}"

if ! "$cxx" --version 2>/dev/null | grep -qi clang; then
  echo "run-fuzzers: $cxx is not clang; libFuzzer needs clang (set CXX)" >&2
  exit 2
fi

cmake -S "$root" -B "$build" -DCMAKE_CXX_COMPILER="$cxx" -DSITELINK_FUZZ=ON -DSITELINK_TESTS=OFF
cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)"

# UBSan only prints by default; make it fail the run. ASan's leak check is on.
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export ASAN_OPTIONS="detect_leaks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$build/fuzz-artifacts" "$build/fuzz-logs"

shopt -s nullglob
fuzzers=("$build"/tests/*_fuzzer)
if [ ${#fuzzers[@]} -eq 0 ]; then
  echo "run-fuzzers: no fuzzers were built in $build/tests" >&2
  exit 1
fi

failed=()
for bin in "${fuzzers[@]}"; do
  name="$(basename "$bin")"
  short="${name%_fuzzer}"
  corpus="$work/$short"
  mkdir -p "$corpus"
  if [ -d "$root/tests/fuzz/corpus/$short" ]; then
    cp -r "$root/tests/fuzz/corpus/$short/." "$corpus/"
  fi
  log="$build/fuzz-logs/$name.log"
  echo "== $name: ${seconds}s on $(ls "$corpus" | wc -l) seed(s)"
  if "$bin" -max_total_time="$seconds" -timeout=25 -print_final_stats=1 \
      -artifact_prefix="$build/fuzz-artifacts/$name-" "$corpus" >"$log" 2>&1; then
    grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 || true
    grep -E 'stat::(number_of_executed_units|average_exec_per_sec)' "$log" || true
  else
    echo "!! $name failed; log: $log" >&2
    grep -E 'ERROR|SUMMARY|runtime error|check failed|Test unit written' "$log" | head -n 20 >&2 || true
    failed+=("$name")
  fi
done

if [ ${#failed[@]} -ne 0 ]; then
  echo "run-fuzzers: failed: ${failed[*]}" >&2
  exit 1
fi
echo "run-fuzzers: all ${#fuzzers[@]} fuzzers ran ${seconds}s without findings"
