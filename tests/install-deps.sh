#!/usr/bin/env bash
# Installs every Debian package that building sitelink and running its tests
# needs, and nothing that is already there. Used by README's commands and by
# .ci/run. Must run as root on Debian 12.
set -euo pipefail

PACKAGES=(
  # build
  cmake g++ make pkg-config clang libclang-rt-14-dev
  libsodium-dev libb2-dev libmnl-dev libyaml-cpp-dev
  libboost-program-options-dev libgtest-dev libgmock-dev libmicrohttpd-dev
  libsystemd-dev  # sd_notify, sd_journal_send (audit events)
  # system and interop tests
  iproute2 iputils-ping iperf3 tcpdump wireguard-go wireguard-tools ethtool
  python3 procps nftables
  # monitoring tests: promtool and a real Prometheus scraping `sitelink metrics`
  prometheus
  # benchmark (tests/bench): the chart and the microbenchmarks
  gnuplot-nox libbenchmark-dev fastd openvpn
  # packaging tests (systemd-analyze; cpack's dpkg-shlibdeps, file, objdump)
  systemd dpkg-dev file lintian binutils
  # lint (tests/lint.sh)
  clang-format clang-tidy shellcheck
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps: missing packages: ${missing[*]}; run as root to install them" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# --no-install-recommends matters: wireguard-tools recommends a kernel image.
if ! apt-get install -y --no-install-recommends "${missing[@]}"; then
  apt-get update
  apt-get install -y --no-install-recommends "${missing[@]}"
fi
