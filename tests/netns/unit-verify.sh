#!/usr/bin/env bash
# systemd/sitelink@.service passes `systemd-analyze verify`, keeps its
# contract (Type=notify, reload by SIGHUP, no restart on exit 78, watchdog,
# the sitelink user with CAP_NET_ADMIN and CAP_DAC_READ_SEARCH for sitelinkd
# to split between its two processes) and its `systemd-analyze security`
# exposure stays
# below 2.0.
#
# Usage: unit-verify.sh SITELINKD
#
# verify checks that every Exec*= binary exists, and /usr/sbin/sitelinkd
# does not exist outside an installed package, so the unit is verified as a
# copy whose /usr/sbin/sitelinkd is rewritten to the built SITELINKD (the
# only change; checked). The installed unit, with its real paths and man
# pages, is verified by package.sh after `dpkg -i`.
# Needs systemd-analyze (package systemd; tests/install-deps.sh installs it).
# Runs without root.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
UNIT="$SCRIPT_DIR/../../systemd/sitelink@.service"
SITELINKD=${1:-"$SCRIPT_DIR/../../build/daemon/sitelinkd"}
MAX_EXPOSURE=20   # systemd-analyze's threshold scale: 20 = exposure 2.0

# shellcheck source=tests/netns/lib.sh
source "$SCRIPT_DIR/lib.sh"
lib_init unit-verify slu

require_tools systemd-analyze sed grep diff
[[ -x "$SITELINKD" ]] || { log "not executable: $SITELINKD (build target sitelinkd)"; exit 1; }
SITELINKD=$(cd "$(dirname "$SITELINKD")" && pwd)/$(basename "$SITELINKD")

# --- the contract --------------------------------------------------------------------------
want_line() {
  if grep -qxF -- "$1" "$UNIT"; then pass "unit has $1"; else fail "unit lacks the line: $1"; fi
}
want_line "Type=notify"
want_line "ExecStart=/usr/sbin/sitelinkd --config /etc/sitelink/%i.yaml"
want_line "ExecStartPre=-/usr/sbin/sitelinkd --check --config /etc/sitelink/%i.yaml"
want_line "ExecReload=/usr/sbin/sitelinkd --check --config /etc/sitelink/%i.yaml"
want_line "ExecReload=/bin/kill -HUP \$MAINPID"
want_line "Restart=on-failure"
want_line "RestartPreventExitStatus=78"
want_line "WatchdogSec=30"
want_line "NotifyAccess=main"
want_line "User=sitelink"
want_line "CapabilityBoundingSet=CAP_NET_ADMIN CAP_DAC_READ_SEARCH"
want_line "AmbientCapabilities=CAP_NET_ADMIN CAP_DAC_READ_SEARCH"
want_line "SecureBits=noroot noroot-locked no-setuid-fixup no-setuid-fixup-locked keep-caps-locked"
want_line "NoNewPrivileges=yes"
want_line "ProtectSystem=strict"
want_line "RuntimeDirectory=wireguard sitelink"
want_line "RuntimeDirectoryPreserve=yes"
want_line "DevicePolicy=closed"
want_line "DeviceAllow=/dev/net/tun rw"
want_line "RestrictAddressFamilies=AF_INET AF_INET6 AF_NETLINK AF_UNIX"
want_line "SystemCallFilter=@system-service"

# --- systemd-analyze verify ------------------------------------------------------------------
# A directory holding only the template; verify loads sitelink@test.service
# from it. --man=no: the man pages are not installed here.
mkdir "$WORK_DIR/units"
copy="$WORK_DIR/units/sitelink@.service"
sed "s#/usr/sbin/sitelinkd#$SITELINKD#g" "$UNIT" >"$copy"
changed=$(diff "$UNIT" "$copy" | grep -c '^>' || true)
naming=$(grep -c /usr/sbin/sitelinkd "$UNIT" || true)
if diff <(sed "s#$SITELINKD#/usr/sbin/sitelinkd#g" "$copy") "$UNIT" >/dev/null && ((changed == naming && changed >= 3)); then
  pass "the copy differs from the unit only in the sitelinkd path ($changed lines)"
else
  fail "the copy differs from the unit in more than the sitelinkd path ($changed lines changed, $naming name it)"
fi
if out=$(systemd-analyze verify --man=no "$WORK_DIR/units/sitelink@test.service" 2>&1) && [[ -z $out ]]; then
  pass "systemd-analyze verify: no complaints"
else
  fail "systemd-analyze verify: ${out:-exit status non-zero}"
fi

# The check bites: the unchanged unit names /usr/sbin/sitelinkd, which
# verify must report when it is missing (unless it is installed).
if [[ ! -e /usr/sbin/sitelinkd ]]; then
  mkdir "$WORK_DIR/orig"
  cp "$UNIT" "$WORK_DIR/orig/"
  if out=$(systemd-analyze verify --man=no "$WORK_DIR/orig/sitelink@test.service" 2>&1) ||
    [[ $out != *"/usr/sbin/sitelinkd is not executable"* ]]; then
    fail "verify did not report the missing /usr/sbin/sitelinkd: ${out:-no output}"
  else
    pass "verify reports a missing /usr/sbin/sitelinkd (so the check above means something)"
  fi
fi

# --- exposure --------------------------------------------------------------------------------
sec_out="$WORK_DIR/security.txt"
if systemd-analyze security --offline=yes --threshold="$MAX_EXPOSURE" "$WORK_DIR/units/sitelink@test.service" \
  >"$sec_out" 2>&1; then
  pass "exposure: $(grep -o 'Overall exposure level.*' "$sec_out" | sed 's/ for [^:]*//') (must stay <= 2.0)"
else
  grep '✗' "$sec_out" >&2 || true
  fail "exposure above 2.0: $(grep -o 'Overall exposure level.*' "$sec_out" || tail -3 "$sec_out")"
fi

# --- sitelink-metrics.service: no root, sandboxed, exposure <= 2.0, not enabled by itself ----------
MUNIT="$SCRIPT_DIR/../../systemd/sitelink-metrics.service"
SITELINK="$(dirname "$SITELINKD")/sitelink"
for line in "DynamicUser=yes" "SupplementaryGroups=sitelink" "CapabilityBoundingSet=" "NoNewPrivileges=yes" \
  "ProtectSystem=strict" "ExecStart=/usr/bin/sitelink metrics --listen 127.0.0.1:19586"; do
  if grep -qxF -- "$line" "$MUNIT"; then pass "metrics unit has $line"; else fail "metrics unit lacks the line: $line"; fi
done
if grep -qE '^(User|Group)=' "$MUNIT"; then fail "metrics unit names a User= or Group= (must be DynamicUser=)"; else pass "metrics unit runs as a dynamic user"; fi
mkdir "$WORK_DIR/munits"
sed "s#/usr/bin/sitelink#$SITELINK#g" "$MUNIT" >"$WORK_DIR/munits/sitelink-metrics.service"
if [[ -x $SITELINK ]] && out=$(systemd-analyze verify --man=no "$WORK_DIR/munits/sitelink-metrics.service" 2>&1) && [[ -z $out ]]; then
  pass "systemd-analyze verify sitelink-metrics.service: no complaints"
else
  fail "systemd-analyze verify sitelink-metrics.service: ${out:-$SITELINK missing or exit status non-zero}"
fi
msec_out="$WORK_DIR/metrics-security.txt"
if systemd-analyze security --offline=yes --threshold="$MAX_EXPOSURE" "$WORK_DIR/munits/sitelink-metrics.service" \
  >"$msec_out" 2>&1; then
  pass "metrics unit exposure: $(grep -o 'Overall exposure level.*' "$msec_out" | sed 's/ for [^:]*//') (must stay <= 2.0)"
else
  grep '✗' "$msec_out" >&2 || true
  fail "metrics unit exposure above 2.0: $(grep -o 'Overall exposure level.*' "$msec_out" || tail -3 "$msec_out")"
fi
