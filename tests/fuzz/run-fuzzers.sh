#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each for a while, one at a
# time, on a copy of its seed corpus (tests/fuzz/corpus/<name without _fuzzer>/).
#
#   tests/fuzz/run-fuzzers.sh [BUILD_DIR]     (default: <repo>/build-fuzz)
#
# Environment:
#   FUZZ_SECONDS  time per fuzzer (default 30)
#   FUZZ_BUILD_ONLY=1  build the fuzzers and stop
#   FUZZERS       names to run, space-separated (default: every *_fuzzer built),
#                 e.g. FUZZERS="ip_header peer"
#   FUZZ_KEEP     a directory: each fuzzer's corpus after its run is kept in
#                 FUZZ_KEEP/<name>/; tests/fuzz/select-corpus.py then adds
#                 the inputs that cover new edges to the seed corpus
#   STRESS_OUT    a directory: the figures are also written to
#                 $STRESS_OUT/fuzz.json
#   CXX           the clang++ to use (default clang++)
#   CXXFLAGS      extra compile flags, read by CMake on the first configure
#
# Prints, per fuzzer, the executions, executions per second, libFuzzer's
# final coverage (cov: edges, ft: features) and the corpus size, as lines
# `FIGURE: fuzz.<name>.<figure>=<value> <unit>`.
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

fuzz_targets=()
for src in "$root"/tests/fuzz/*_fuzzer.cc; do fuzz_targets+=("$(basename "$src" .cc)"); done
# One build at a time in a build directory: CI builds the fuzzers early, in
# the background (FUZZ_BUILD_ONLY=1), and the run waits here for it.
mkdir -p "$build"
exec {lock}>"$build/.build-lock"
flock "$lock"
cmake -S "$root" -B "$build" -DCMAKE_CXX_COMPILER="$cxx" -DSITELINK_FUZZ=ON -DSITELINK_TESTS=OFF
cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" --target "${fuzz_targets[@]}"
flock -u "$lock"
if [[ ${FUZZ_BUILD_ONLY:-0} == 1 ]]; then
  echo "run-fuzzers: built ${#fuzz_targets[@]} fuzzers in $build (FUZZ_BUILD_ONLY=1: not run)"
  exit 0
fi

# UBSan only prints by default; make it fail the run. ASan's leak check is on.
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export ASAN_OPTIONS="detect_leaks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$build/fuzz-artifacts" "$build/fuzz-logs"

fuzzers=()
if [ -n "${FUZZERS:-}" ]; then
  for short in $FUZZERS; do fuzzers+=("$build/tests/${short%_fuzzer}_fuzzer"); done
else
  shopt -s nullglob
  fuzzers=("$build"/tests/*_fuzzer)
fi
if [ ${#fuzzers[@]} -eq 0 ]; then
  echo "run-fuzzers: no fuzzers were built in $build/tests" >&2
  exit 1
fi

# field LINE KEY: the number after "KEY: " in a libFuzzer status line.
field() { sed -nE "s/.* $2: ([0-9]+).*/\1/p" <<<"$1"; }
# final_stat LOG NAME: a -print_final_stats=1 figure.
final_stat() { sed -nE "s/^stat::$2:[[:space:]]*([0-9]+).*/\1/p" "$1" | tail -n 1; }

json_rows=()
failed=()
for bin in "${fuzzers[@]}"; do
  name="$(basename "$bin")"
  short="${name%_fuzzer}"
  corpus="$work/$short"
  mkdir -p "$corpus"
  if [ -d "$root/tests/fuzz/corpus/$short" ]; then
    cp -r "$root/tests/fuzz/corpus/$short/." "$corpus/"
  fi
  seeds=$(find "$corpus" -type f | wc -l)
  log="$build/fuzz-logs/$name.log"
  echo "== $name: ${seconds}s on $seeds seed(s)"
  result=ok
  if ! "$bin" -max_total_time="$seconds" -timeout=25 -print_final_stats=1 \
      -artifact_prefix="$build/fuzz-artifacts/$name-" "$corpus" >"$log" 2>&1; then
    echo "!! $name failed; log: $log" >&2
    grep -E 'ERROR|SUMMARY|runtime error|check failed|Test unit written' "$log" | head -n 20 >&2 || true
    failed+=("$name")
    result=failed
  fi

  # The last status line (DONE after a clean run) has the final coverage.
  last="$(grep -E '^#[0-9]+[[:space:]]' "$log" | tail -n 1 || true)"
  execs="$(final_stat "$log" number_of_executed_units)"
  rate="$(final_stat "$log" average_exec_per_sec)"
  cov="$(field "$last" cov)" ft="$(field "$last" ft)"
  files=$(find "$corpus" -type f | wc -l)
  bytes=$(find "$corpus" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}')
  echo "   $result: ${execs:-?} executions (${rate:-?}/s), cov ${cov:-?} edges, ft ${ft:-?}, corpus $seeds -> $files files ($bytes bytes)"
  echo "FIGURE: fuzz.$short.executions=${execs:-0} runs"
  echo "FIGURE: fuzz.$short.exec_per_sec=${rate:-0} runs/s"
  echo "FIGURE: fuzz.$short.cov=${cov:-0} edges"
  echo "FIGURE: fuzz.$short.ft=${ft:-0} features"
  echo "FIGURE: fuzz.$short.corpus_files=$files files"
  json_rows+=("$(printf '    "%s": {"result": "%s", "seconds": %s, "executions": %s, "exec_per_sec": %s, "cov_edges": %s, "features": %s, "seed_files": %s, "corpus_files": %s, "corpus_bytes": %s}' \
    "$short" "$result" "$seconds" "${execs:-null}" "${rate:-null}" "${cov:-null}" "${ft:-null}" "$seeds" "$files" "$bytes")")
  if [ -n "${FUZZ_KEEP:-}" ]; then
    mkdir -p "$FUZZ_KEEP/$short"
    cp -r "$corpus/." "$FUZZ_KEEP/$short/"
  fi
done

if [ -n "${STRESS_OUT:-}" ]; then
  mkdir -p "$STRESS_OUT"
  {
    printf '{\n  "area": "fuzz",\n  "seconds_per_fuzzer": %s,\n  "fuzzers": {\n' "$seconds"
    for i in "${!json_rows[@]}"; do
      printf '%s%s\n' "${json_rows[$i]}" "$([ "$i" -lt $((${#json_rows[@]} - 1)) ] && echo ,)"
    done
    printf '  }\n}\n'
  } >"$STRESS_OUT/fuzz.json"
  echo "run-fuzzers: figures in $STRESS_OUT/fuzz.json"
fi

if [ ${#failed[@]} -ne 0 ]; then
  echo "run-fuzzers: failed: ${failed[*]}" >&2
  exit 1
fi
echo "run-fuzzers: all ${#fuzzers[@]} fuzzers ran ${seconds}s without findings"
