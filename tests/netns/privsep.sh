#!/usr/bin/env bash
# Privilege separation (issue 14.4) in every mode a user starts sitelinkd
# by hand (unit-boot.sh covers the systemd unit): the process that reads
# network input runs as the daemon's user (`sitelink`, else `nobody`) with
# CAP_NET_ADMIN alone and no_new_privs, in every thread; the monitor holds
# at most CAP_DAC_READ_SEARCH and never a network socket; reloads read
# root-only (0600) key files through the monitor.
#
#   ns A (sitelinkd --config) --veth-- ns B (sitelinkd --config)
#   then, in A: sitelinkd -f IFACE and a detached sitelinkd IFACE
#
# Cases:
#   a. --config: both processes as above; the tunnel carries pings
#   b. SIGHUP to the monitor adds a peer whose preshared key is in a new
#      root-owned 0600 file that the daemon's user cannot read; SIGHUP to the
#      network process (forwarded to the monitor) removes it again
#   c. a key file owned by another user: the reload is refused, naming the
#      owner, and `sitelinkd --check` exits 78
#   d. SIGTERM to the monitor: both exit 0, the socket and the TUN go
#   e. the network process killed: the monitor exits 1 and removes the socket
#   f. the monitor killed: the network process follows, the TUN goes
#   g. sitelinkd -f IFACE: as a; deleting the interface stops both and the
#      socket goes
#   h. detached sitelinkd IFACE: as a; SIGTERM stops both, the socket goes
#
# Usage: privsep.sh SITELINKD SITELINK      (as root)
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/netns/lib.sh
source "$SCRIPT_DIR/lib.sh"
lib_init privsep slp
# shellcheck source=tests/netns/topology.sh
source "$SCRIPT_DIR/topology.sh"

require_root
require_tools ip ping timeout wg pgrep setpriv
require_tun
sitelink_binaries "${1:?usage: $0 SITELINKD SITELINK}" "${2:?usage: $0 SITELINKD SITELINK}"

BOUND=10 # s, for every wait
P=$PREFIX
NS_A="${P}a" NS_B="${P}b"
TUN_A="${P}at" TUN_B="${P}bt"
GW_NS=([a]=$NS_A [b]=$NS_B)
for i in "$TUN_A" "$TUN_B" "${P}f0" "${P}d0"; do on_cleanup rm -f "/run/wireguard/$i.sock" "/run/sitelink/$i.sock"; done
underlay_pair "$NS_A" "${P}va" "$NS_B" "${P}vb"

if USER_NAME=sitelink && id -u sitelink >/dev/null 2>&1; then :; else USER_NAME=nobody; fi
USER_UID=$(id -u "$USER_NAME")
USER_GID=$(id -g "$USER_NAME")
log "the network process should run as $USER_NAME ($USER_UID:$USER_GID)"

gw_keys a b c
pair_config a "allowed-ips: [198.18.0.2/32]"
pair_config b "allowed-ips: [198.18.0.1/32]"
# Threads to check: the crypto pool's (and the DNS resolver's, if any).
sed -i '/^interface:/a\  crypto-threads: 2' "$WORK_DIR/gw-a.yaml"
cp "$WORK_DIR/gw-a.yaml" "$WORK_DIR/gw-a.base.yaml"

uid_of() { awk '/^Uid:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
gone() { ! kill -0 "$1" 2>/dev/null; }
no_file() { [[ ! -e $1 ]]; }
no_link() { ! ip -n "$1" link show "$2" >/dev/null 2>&1; }

# check_processes LABEL MONITOR_PID
check_processes() {
  local label=$1 mon=$2 net bad
  wait_until "the network process of $mon" "$BOUND" sh -c "pgrep -P $mon -x sitelinkd >/dev/null" || true
  net=$(network_pid "$mon")
  if [[ -z $net ]]; then
    fail "$label: monitor $mon has no network process"
    return
  fi
  bad=$(threads_beyond_net_admin "$mon")
  local tasks=("/proc/$net/task"/*)
  if [[ -z $bad && $(uid_of "$net") == "$USER_UID" ]]; then
    pass "$label: network process $net runs as $USER_NAME; all ${#tasks[@]} threads hold CAP_NET_ADMIN alone, no_new_privs"
  else
    fail "$label: network process $net (uid $(uid_of "$net")): $bad"
  fi
  bad=$(monitor_beyond_read "$mon")
  if [[ -z $bad ]]; then
    pass "$label: monitor $mon holds at most CAP_DAC_READ_SEARCH, no_new_privs, and no network socket or TUN"
  else
    fail "$label: monitor $mon: $bad"
  fi
}

# --- a. --config ----------------------------------------------------------------------
start_gw a info
start_gw b info
check_processes a "${GW_PID[a]}"
if wait_until "A to reach B" "$BOUND" ping_once "$NS_A" 198.18.0.2; then
  pass "a: the tunnel carries pings"
else
  fail "a: no ping through the tunnel"
fi

# --- b. a reload reads a new root-only key file ---------------------------------------
KEYDIR="$WORK_DIR/keys"
mkdir -m 0700 "$KEYDIR"
gen_psk "$SITELINK" "$KEYDIR/c.psk"
if setpriv --reuid="$USER_UID" --regid="$USER_GID" --clear-groups cat "$KEYDIR/c.psk" >/dev/null 2>&1; then
  fail "b: $USER_NAME can read the new key file; the test proves nothing"
fi
add_peer_c() {
  cp "$WORK_DIR/gw-a.base.yaml" "$WORK_DIR/gw-a.yaml"
  yaml_peer office-c "$WORK_DIR/gw-c.pub" "preshared-key-file: $KEYDIR/c.psk" \
    "allowed-ips: [198.18.0.3/32]" >>"$WORK_DIR/gw-a.yaml"
}
psk_of_c() { wg_field "$NS_A" "$TUN_A" preshared-keys "$(<"$WORK_DIR/gw-c.pub")"; }
has_c_psk() { [[ $(psk_of_c) == "$(<"$KEYDIR/c.psk")" ]]; }
no_c() { [[ -z $(wg_field "$NS_A" "$TUN_A" endpoints "$(<"$WORK_DIR/gw-c.pub")") ]]; }
add_peer_c
kill -HUP "${GW_PID[a]}"
if wait_until "peer c with its preshared key" "$BOUND" has_c_psk; then
  pass "b: SIGHUP added a peer whose preshared key is in a root-only 0600 file"
else
  fail "b: peer c not added with its preshared key (wg shows '$(psk_of_c)')"
fi
cp "$WORK_DIR/gw-a.base.yaml" "$WORK_DIR/gw-a.yaml"
kill -HUP "$(network_pid "${GW_PID[a]}")"
if wait_until "peer c to go" "$BOUND" no_c; then
  pass "b: SIGHUP to the network process reloads through the monitor (peer c removed)"
else
  fail "b: SIGHUP to the network process did not reload"
fi

# --- c. a key file owned by another user ----------------------------------------------
chown 4242 "$KEYDIR/c.psk"
add_peer_c
kill -HUP "${GW_PID[a]}"
if wait_until "the refusal in the log" "$BOUND" grep -q "belongs to uid 4242" "${GW_LOG[a]}" && no_c; then
  pass "c: a key file owned by uid 4242 is refused on reload: $(grep -o "key file.*belongs to uid 4242[^;]*" "${GW_LOG[a]}" | head -1)"
else
  fail "c: the reload did not refuse a key file owned by uid 4242"
fi
rc=0
out=$("$SITELINKD" --check --config "$WORK_DIR/gw-a.yaml" 2>&1) || rc=$?
if ((rc == 78)) && grep -q "belongs to uid 4242" <<<"$out"; then
  pass "c: sitelinkd --check exits 78 and names the owner"
else
  fail "c: sitelinkd --check exit $rc: $out"
fi
cp "$WORK_DIR/gw-a.base.yaml" "$WORK_DIR/gw-a.yaml"

# --- d. SIGTERM to the monitor --------------------------------------------------------
net=$(network_pid "${GW_PID[a]}")
stop_gw a
if ((STOP_RC == 0 && STOP_KILLED == 0)) && gone "$net" && no_file "/run/wireguard/$TUN_A.sock" && no_link "$NS_A" "$TUN_A"; then
  pass "d: SIGTERM: monitor and network process exit 0; socket and TUN removed"
else
  fail "d: SIGTERM: exit $STOP_RC (killed $STOP_KILLED), network process gone: $(gone "$net" && echo yes || echo no)," \
    "socket: $(ls "/run/wireguard/$TUN_A.sock" 2>&1), TUN: $(ip -n "$NS_A" -br link show "$TUN_A" 2>&1)"
fi

# --- e. the network process killed ----------------------------------------------------
mon=${GW_PID[b]}
net=$(network_pid "$mon")
kill -KILL "$net"
if wait_until "the monitor to follow" "$BOUND" gone "$mon"; then
  _lib_reap "$mon"
  GW_PID[b]=""
  if ((STOP_RC == 1)) && no_file "/run/wireguard/$TUN_B.sock"; then
    pass "e: network process killed: the monitor exits 1 and removes the socket"
  else
    fail "e: network process killed: monitor exit $STOP_RC, socket: $(ls "/run/wireguard/$TUN_B.sock" 2>&1)"
  fi
else
  fail "e: the monitor lives on after its network process was killed"
fi

# --- f. the monitor killed ------------------------------------------------------------
start_gw a info
mon=${GW_PID[a]}
wait_until "the network process" "$BOUND" sh -c "pgrep -P $mon -x sitelinkd >/dev/null" || true
net=$(network_pid "$mon")
kill_pid "$mon"
GW_PID[a]=""
if [[ -n $net ]] && wait_until "the network process to follow" "$BOUND" gone "$net" &&
  wait_until "the TUN to go" "$BOUND" no_link "$NS_A" "$TUN_A"; then
  pass "f: monitor killed: the network process exits and the TUN goes"
else
  fail "f: the network process ($net) outlives its monitor"
fi
rm -f "/run/wireguard/$TUN_A.sock" "/run/sitelink/$TUN_A.sock" # a killed monitor cannot remove it; the next start would

# --- g. sitelinkd -f IFACE ------------------------------------------------------------
IF_F="${P}f0"
start_bg "$WORK_DIR/iface-f.log" ip netns exec "$NS_A" "$SITELINKD" -f "$IF_F"
mon=$BG_PID
if wait_until "the -f interface's socket" "$BOUND" test -S "/run/wireguard/$IF_F.sock"; then
  check_processes g "$mon"
  ip -n "$NS_A" link del "$IF_F"
  if wait_until "-f to exit" "$BOUND" gone "$mon" && no_file "/run/wireguard/$IF_F.sock"; then
    _lib_reap "$mon"
    pass "g: deleting the interface stops both processes (exit $STOP_RC); the socket is removed"
  else
    fail "g: after deleting $IF_F: monitor alive: $(gone "$mon" && echo no || echo yes), socket: $(ls "/run/wireguard/$IF_F.sock" 2>&1)"
  fi
else
  fail "g: sitelinkd -f $IF_F made no control socket"
fi

# --- h. detached sitelinkd IFACE ------------------------------------------------------
IF_D="${P}d0"
rc=0
timeout "$BOUND" ip netns exec "$NS_A" "$SITELINKD" "$IF_D" || rc=$?
mon=$(pgrep -fxo "$SITELINKD $IF_D" || true)
if ((rc == 0)) && [[ -n $mon ]]; then
  adopt_pid "$mon"
  check_processes h "$mon"
  net=$(network_pid "$mon")
  kill -TERM "$mon"
  if wait_until "the detached daemon to exit" "$BOUND" gone "$mon" && gone "$net" &&
    no_file "/run/wireguard/$IF_D.sock"; then
    _lib_forget "$mon"
    pass "h: SIGTERM stops the detached daemon's two processes; the socket is removed"
  else
    fail "h: after SIGTERM: socket $(ls "/run/wireguard/$IF_D.sock" 2>&1)"
  fi
else
  fail "h: detached sitelinkd $IF_D: exit $rc, monitor '$mon'"
fi

log "done: $PASSED passed, $FAILED failed"
((FAILED == 0))
