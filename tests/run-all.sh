#!/usr/bin/env bash
# The one command that sets up and runs every test (as root: it fails
# without): installs whatever Debian packages are missing, builds with
# -Werror, and runs the unit tests and the network-namespace tests against
# real TUN devices and wireguard-go, then the hardening suite in its quick
# form (tests/stress/run.sh --quick: flood, faults, soak, scale, and every
# fuzzer for 10 s).
#
#   sudo bash tests/run-all.sh          # from the repository root
#   BUILD_DIR=out bash tests/run-all.sh # another build directory
set -euo pipefail
cd "$(dirname "$0")/.."

# All the tests means the network-namespace, packaging and stress suites
# too, and they need root: without it this fails rather than pass on less.
# (Unit tests alone, without root: ctest --test-dir build -L unit.)
if [[ $(id -u) -ne 0 ]]; then
  echo "run-all: must run as root (network namespaces, TUN devices, dpkg); for the unit tests alone: ctest --test-dir build -L unit" >&2
  exit 1
fi

bash tests/install-deps.sh

build=${BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSITELINK_WERROR=ON
cmake --build "$build" -j"$(nproc)"

# The stress tests run below, through their own command. A skipped test
# fails the run unless tests/skip-allowlist.txt names it with its reason.
junit="$PWD/$build/ctest-junit.xml"
rc=0
ctest --test-dir "$build" --output-on-failure --timeout 300 -LE stress --output-junit "$junit" || rc=$?
python3 tests/check-skips.py "$junit" || rc=1
((rc == 0)) || exit "$rc"
BUILD_DIR=$build bash tests/stress/run.sh --quick
