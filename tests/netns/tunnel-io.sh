#!/usr/bin/env bash
# Real-kernel test of tunnel/'s I/O classes: LinuxTun, Netlink (rtnetlink via
# libmnl) and LinuxUdp, driven by the test program tunnel_io_check inside a
# fresh network namespace. The program does each step through our code; this
# script checks the result from outside with `ip` and `ping`.
#
# Usage: tunnel-io.sh [PATH_TO_tunnel_io_check]
#   default: <repo>/build/tests/interop/tunnel_io_check
#
#   namespace ${PREFIX}n (everything is created fresh and removed on exit)
#     lo                  up (UDP to ourselves over 127.0.0.1 and ::1)
#     ${PREFIX}d          dummy link (or a persistent TUN where the kernel has
#                         no dummy driver), deleted by the program (delete_link)
#     ${PREFIX}t          TUN made by the program: mtu 1380,
#                         198.18.5.1/24, 2001:db8:5::1/64,
#                         routes 198.18.6.0/24 and 2001:db8:6::/48
#
# The program and this script talk in lines (program stdout -> us, us ->
# program stdin); the protocol is described at the top of tunnel_io_check.cc.
# Every read has a timeout, and so has every command that could hang.
#
# Needs root, ip, ping, timeout. The program's log is printed on failure, or
# always with TUNNEL_IO_VERBOSE=1.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BIN=${1:-"$SCRIPT_DIR/../../build/tests/interop/tunnel_io_check"}

# shellcheck source=tests/netns/lib.sh
source "$SCRIPT_DIR/lib.sh"
lib_init tunnel-io sltio      # PREFIX: unique per run, short enough for interface names
NETNS_VERBOSE=${NETNS_VERBOSE:-${TUNNEL_IO_VERBOSE:-0}}
NS="${PREFIX}n"
TUN="${PREFIX}t"
DUMMY="${PREFIX}d"
STEP_TIMEOUT=30             # seconds for each line from the program

PROG_PID=""
FROM=""                     # our ends of the program's stdout and stdin
TO=""

# stop_program (at exit): its stdin closed first, so that it sees EOF.
stop_program() {
  [[ -n "$TO" ]] && exec {TO}>&-
  stop_pid "$PROG_PID"
  [[ -n "$FROM" ]] && exec {FROM}<&-
}
on_cleanup stop_program
trap '' PIPE   # a write to a dead program fails (and exits through cleanup) instead of killing us

# expect_line PREFIX: the program's next line must start with PREFIX; the
# whole line is left in LINE. A missing or wrong line ends the test.
expect_line() {
  LINE=""
  if ! IFS= read -r -t "$STEP_TIMEOUT" -u "$FROM" LINE; then
    log "no line from tunnel_io_check within ${STEP_TIMEOUT}s (waiting for '$1')"
    exit 1
  fi
  if [[ "$LINE" != "$1"* ]]; then
    log "expected '$1...' from tunnel_io_check, got '$LINE'"
    exit 1
  fi
  pass "program: $LINE"
}

tell() { echo "$1" >&"$TO"; }

# expect DESCRIPTION REGEX TEXT / expect_not DESCRIPTION REGEX TEXT
expect() {
  if grep -Eq -- "$2" <<<"$3"; then pass "$1"; else fail "$1 (no /$2/ in: $3)"; fi
}
expect_not() {
  if grep -Eq -- "$2" <<<"$3"; then fail "$1 (/$2/ found in: $3)"; else pass "$1"; fi
}

nsip() { timeout 10 ip -n "$NS" "$@"; }

# --- preconditions ---------------------------------------------------------------------
require_root
require_tools ip ping timeout
require_tun
require_exec BIN

# --- namespace ---------------------------------------------------------------------------
ns_add "$NS"
# The link for delete_link: a dummy, or where the kernel has no dummy driver
# a persistent TUN (what a crashed run would leave behind).
if nsip link add "$DUMMY" type dummy 2>/dev/null; then
  log "$DUMMY is a dummy link"
else
  nsip tuntap add dev "$DUMMY" mode tun
  log "$DUMMY is a persistent TUN (no dummy driver)"
fi

# --- the program -----------------------------------------------------------------------
# `exec` so that PROG_PID is the program itself (`ip netns exec` execs too).
# The coprocess's fds and PID are copied because bash unsets TIO and TIO_PID
# once it exits.
coproc TIO { exec ip netns exec "$NS" "$BIN" "$TUN" "$DUMMY" 2>"$WORK_DIR/program.log"; }
PROG_PID=$TIO_PID
exec {FROM}<&"${TIO[0]}" {TO}>&"${TIO[1]}"

# 1. Configuration through Netlink: check it with ip.
expect_line "configured $TUN "
link=$(nsip -o link show dev "$TUN")
addrs=$(nsip -o addr show dev "$TUN")
routes4=$(nsip -4 route show dev "$TUN")
routes6=$(nsip -6 route show dev "$TUN")
expect "mtu 1380" ' mtu 1380 ' "$link"
expect "link is up" '[<,]UP[,>]' "$link"
expect "ifindex as reported" "^${LINE##* }: " "$link"
expect "address 198.18.5.1/24" 'inet 198\.18\.5\.1/24 ' "$addrs"
expect "address 2001:db8:5::1/64" 'inet6 2001:db8:5::1/64 ' "$addrs"
expect_not "IPv6 address not tentative (nodad)" 'tentative' "$addrs"
expect "route 198.18.6.0/24 static, scope link" '^198\.18\.6\.0/24 proto static scope link' "$routes4"
expect "route 2001:db8:6::/48 static" '^2001:db8:6::/48 proto static' "$routes6"

# 2. The MTU changed from outside is read back.
nsip link set dev "$TUN" mtu 1300
tell mtu
expect_line "mtu "
if [[ "$LINE" == "mtu 1300" ]]; then
  pass "mtu() reads 1300 after ip link set"
else
  fail "mtu() after ip link set: $LINE"
fi

# 3. TUN I/O: our ping is routed into the TUN; then the program's own echo
# request gets the kernel's reply (both checked by the program).
expect_line "tun-ready"
start_bg "$WORK_DIR/ping.log" ip netns exec "$NS" timeout 20 ping -n -c 50 -i 0.2 -w 15 198.18.6.7
PING_PID=$BG_PID
expect_line "tun-read-ok"
expect_line "tun-reply-ok"
stop_pid "$PING_PID"

# 4. UDP to ourselves over 127.0.0.1 and ::1.
expect_line "udp-ok "

# 5. delete_link: the dummy link is gone.
expect_line "dummy-deleted"
if nsip link show dev "$DUMMY" >/dev/null 2>&1; then fail "dummy link still there"; else pass "dummy link removed"; fi

# 6. Removal: routes and addresses are gone, the link stays.
expect_line "removed"
addrs=$(nsip -o addr show dev "$TUN")
routes4=$(nsip -4 route show dev "$TUN")
routes6=$(nsip -6 route show dev "$TUN")
expect_not "address 198.18.5.1 removed" '198\.18\.5\.1' "$addrs"
expect_not "address 2001:db8:5::1 removed" '2001:db8:5::1' "$addrs"
expect_not "route 198.18.6.0/24 removed" '198\.18\.6\.' "$routes4"
expect_not "route 2001:db8:6::/48 removed" '2001:db8:6:' "$routes6"

# 7. Link down.
tell down
expect_line "down"
expect_not "link is down" '[<,]UP[,>]' "$(nsip -o link show dev "$TUN")"

# 8. The program exits cleanly, and its TUN goes with it.
tell exit
rc=0
timeout "$STEP_TIMEOUT" tail --pid="$PROG_PID" -f /dev/null || true
if kill -0 "$PROG_PID" 2>/dev/null; then
  fail "tunnel_io_check did not exit"
else
  wait "$PROG_PID" || rc=$?
  PROG_PID=""
  if ((rc == 0)); then pass "tunnel_io_check exited 0"; else fail "tunnel_io_check exited $rc"; fi
fi
if wait_until "TUN removal" 10 bash -c "! ip -n '$NS' link show dev '$TUN' >/dev/null 2>&1"; then
  pass "TUN removed when the program exited"
else
  fail "TUN still there after the program exited"
fi
