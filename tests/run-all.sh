#!/usr/bin/env bash
# The one command that sets up and runs every test: installs whatever Debian
# packages are missing, builds, and runs the unit tests and (as root) the
# network-namespace tests against real TUN devices and wireguard-go.
#
#   sudo bash tests/run-all.sh          # from the repository root
#   BUILD_DIR=out bash tests/run-all.sh # another build directory
set -euo pipefail
cd "$(dirname "$0")/.."

bash tests/install-deps.sh

build=${BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$build" -j"$(nproc)"

ctest_args=(--test-dir "$build" --output-on-failure --timeout 300)
if [[ $(id -u) -ne 0 ]]; then
  echo "run-all: not root: skipping the network-namespace tests (label netns)" >&2
  ctest_args+=(-LE netns)
fi
ctest "${ctest_args[@]}"
