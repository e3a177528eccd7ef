#!/usr/bin/env bash
# The one command that sets up and runs every test: installs whatever Debian
# packages are missing, builds, and runs the unit tests and (as root) the
# network-namespace tests against real TUN devices and wireguard-go, then
# the hardening suite in its quick form (tests/stress/run.sh --quick: flood,
# faults, soak, scale, and every fuzzer for 20 s).
#
#   sudo bash tests/run-all.sh          # from the repository root
#   BUILD_DIR=out bash tests/run-all.sh # another build directory
set -euo pipefail
cd "$(dirname "$0")/.."

bash tests/install-deps.sh

build=${BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$build" -j"$(nproc)"

# The stress tests run below, through their own command.
ctest_args=(--test-dir "$build" --output-on-failure --timeout 300)
if [[ $(id -u) -ne 0 ]]; then
  echo "run-all: not root: skipping the network-namespace and stress tests" >&2
  ctest "${ctest_args[@]}" -LE 'netns|stress'
  exit 0
fi
ctest "${ctest_args[@]}" -LE stress
BUILD_DIR=$build bash tests/stress/run.sh --quick
