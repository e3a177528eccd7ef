#!/usr/bin/env bash
# SIGHUP reload of a running sitelinkd (SPEC.md "Signals"; issue 5): the
# config file is re-read and only the difference is applied.
#
# Usage: reload.sh [SITELINKD [SITELINK]]
#   defaults: <repo>/build/daemon/sitelinkd and <repo>/build/daemon/sitelink
#
#   gw-b (${P}b)                   gw-a (${P}a)                    gw-c (${P}c)
#   ${P}ba ------------------ ${P}ab   ${P}ac ------------------ ${P}ca
#   203.0.113.2/24      203.0.113.1/24   198.51.100.1/24     198.51.100.2/24
#   TUN ${P}bt 198.18.0.2/32        TUN ${P}at 198.18.0.1/32        TUN ${P}ct 198.18.0.3/32
#   lo 198.18.2.1/32
#
# All three run sitelinkd (routes from allowed-ips; tunnel addresses are /32,
# so every route into a TUN comes from a peer's allowed-ips). gw-a starts with
# gw-b as its only peer; gw-b and gw-c know gw-a, and gw-c has no endpoint
# for it, so only gw-a can bring that tunnel up.
#
# Cases (PASS/FAIL lines; the exit status is non-zero if any failed):
#   a. a peer added by SIGHUP: while gw-a pings gw-b every 0.1 s, gw-c is
#      added to gw-a's file and gw-a gets SIGHUP. The reload is applied, the
#      new peer's tunnel comes up without any traffic to it (as at start-up),
#      gw-a -> gw-c pings, the route to 198.18.0.3 appears, gw-b's
#      `latest handshake` on gw-a is unchanged and neither side logged a new
#      handshake with the other, and the ping stream to gw-b lost nothing.
#   b. a changed peer: gw-b's allowed-ips grow by 198.18.2.0/24. The route
#      appears, 198.18.2.1 answers through the tunnel, and gw-b's session is
#      kept (no new handshake).
#   c. an invalid file (typo `allowed-ip:`): gw-a keeps running, logs
#      FILE:LINE:COL for the error, the same errors `sitelink check` prints,
#      and the old configuration stays live (both tunnels, both routes).
#   d. a peer removed by SIGHUP: gw-c's route goes, `wg show` lists it no
#      more, nothing reaches gw-c's TUN any more, and gw-b is still fine.
#   f. crypto-threads changed by SIGHUP: gw-a runs 3, then 0, then 2
#      crypto threads (counted in /proc), gw-b's session is kept and pings
#      pass; every thread of gw-a (packet loop, resolver, crypto) holds
#      CAP_NET_ADMIN alone (capabilities are per thread, so a thread
#      started before the privileges were dropped would keep them all).
#   e. SIGTERM: all three exit 0.
#
# Needs root, ip, ping, timeout, wg. Logs (--log-level debug) are printed on
# failure, or always with NETNS_VERBOSE=1.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/netns/lib.sh
source "$SCRIPT_DIR/lib.sh"
lib_init reload slr
# shellcheck source=tests/netns/topology.sh
source "$SCRIPT_DIR/topology.sh"

P=$PREFIX
NS_A="${P}a" NS_B="${P}b" NS_C="${P}c"
TUN_A="${P}at" TUN_B="${P}bt" TUN_C="${P}ct"
START_BOUND=10    # s: daemon listening, tunnel up
RELOAD_BOUND=5    # s: a reload applied / a new peer's handshake done
STREAM_PINGS=60   # at -i 0.1: 6 s of pings to gw-b across the reload
SETTLE=2          # s: gw-b's handshake is this old before any reload, so a
                  # new one could not hide in the same second

GW_NS=([a]=$NS_A [b]=$NS_B [c]=$NS_C)
declare -A TUN=([a]=$TUN_A [b]=$TUN_B [c]=$TUN_C)

require_root
require_tools ip ping timeout wg
require_tun
sitelink_binaries "$@"

# --- topology ------------------------------------------------------------------------
on_cleanup rm -f "/run/wireguard/$TUN_A.sock" "/run/wireguard/$TUN_B.sock" "/run/wireguard/$TUN_C.sock"
ns_add "$NS_A" "$NS_B" "$NS_C"
veth_add "$NS_A" "${P}ab" "$NS_B" "${P}ba"
veth_add "$NS_A" "${P}ac" "$NS_C" "${P}ca"
ip -n "$NS_A" addr add 203.0.113.1/24 dev "${P}ab"
ip -n "$NS_B" addr add 203.0.113.2/24 dev "${P}ba"
ip -n "$NS_A" addr add 198.51.100.1/24 dev "${P}ac"
ip -n "$NS_C" addr add 198.51.100.2/24 dev "${P}ca"
ip -n "$NS_B" addr add 198.18.2.1/32 dev lo

wait_until "underlay a-b" 10 ping_once "$NS_A" 203.0.113.2
wait_until "underlay a-c" 10 ping_once "$NS_A" 198.51.100.2

# --- keys and configs ------------------------------------------------------------------
gw_keys a b c
pub() { cat "$WORK_DIR/gw-$1.pub"; }

# interface_yaml SIDE: the interface section of gw-SIDE's file (gw-a's
# with the lines in A_EXTRA).
A_EXTRA=()
interface_yaml() {
  local n extra=()
  n=$(case $1 in a) echo 1 ;; b) echo 2 ;; c) echo 3 ;; esac)
  [[ $1 == a ]] && extra=("${A_EXTRA[@]}")
  yaml_interface "${TUN[$1]}" "$WORK_DIR/gw-$1.key" "address: [198.18.0.$n/32]" "${extra[@]}"
  echo "peers:"
}

# write_a FILE WHAT...: gw-a's file with the listed peers:
#   b       gw-b, allowed-ips 198.18.0.2/32
#   b+lan   gw-b, allowed-ips 198.18.0.2/32 and 198.18.2.0/24
#   c       gw-c, allowed-ips 198.18.0.3/32
#   c-typo  gw-c with the key misspelt `allowed-ip:` (invalid)
write_a() {
  local file=$1 what
  shift
  {
    interface_yaml a
    for what in "$@"; do
      case $what in
        b) yaml_peer office-b "$WORK_DIR/gw-b.pub" "endpoint: 203.0.113.2:$PORT" "allowed-ips: [198.18.0.2/32]" ;;
        b+lan) yaml_peer office-b "$WORK_DIR/gw-b.pub" "endpoint: 203.0.113.2:$PORT" \
          "allowed-ips: [198.18.0.2/32, 198.18.2.0/24]" ;;
        c) yaml_peer office-c "$WORK_DIR/gw-c.pub" "endpoint: 198.51.100.2:$PORT" "allowed-ips: [198.18.0.3/32]" ;;
        c-typo) yaml_peer office-c "$WORK_DIR/gw-c.pub" "endpoint: 198.51.100.2:$PORT" "allowed-ip: [198.18.0.3/32]" ;;
      esac
    done
  } >"$file"
}

CFG_A="$WORK_DIR/gw-a.yaml"
write_a "$CFG_A" b
{
  interface_yaml b
  yaml_peer office-a "$WORK_DIR/gw-a.pub" "endpoint: 203.0.113.1:$PORT" "allowed-ips: [198.18.0.1/32]"
} >"$WORK_DIR/gw-b.yaml"
{
  interface_yaml c
  # no endpoint: gw-a must initiate
  yaml_peer office-a "$WORK_DIR/gw-a.pub" "allowed-ips: [198.18.0.1/32]"
} >"$WORK_DIR/gw-c.yaml"

# hs_of PEER: gw-a's `wg show latest-handshakes` for gw-PEER ("" if not listed).
hs_of() { wg_field "$NS_A" "$TUN_A" latest-handshakes "$(pub "$1")"; }
has_hs() { has_handshake "$NS_A" "$TUN_A" "$(pub "$1")"; }

# handshakes_ab: handshake lines between gw-a and gw-b in both logs (every
# initiation sent and every initiation answered).
handshakes_ab() {
  echo $(($(count 'peer office-b: handshake initiation to\|peer office-b: answered' "${GW_LOG[a]}") +
    $(count 'peer office-a: handshake initiation to\|peer office-a: answered' "${GW_LOG[b]}")))
}

routes_a() { ip -n "$NS_A" route show dev "$TUN_A" 2>/dev/null || true; }
has_route() { routes_a | grep -q "^$1 "; }

# sighup_a: SIGHUP to gw-a; waits until the log shows the reload's outcome
# (applied or invalid).
RELOADS=0
sighup_a() {
  local before
  before=$(count 'reload: ' "${GW_LOG[a]}")
  kill -HUP "${GW_PID[a]}"
  RELOADS=$((RELOADS + 1))
  wait_until "gw-a's reload $RELOADS" "$RELOAD_BOUND" \
    bash -c "(( \$(grep -c 'reload: applied\|reload: .* is invalid' '${GW_LOG[a]}' || true) >= $RELOADS ))" ||
    log "gw-a logged $(($(count 'reload: ' "${GW_LOG[a]}") - before)) reload lines"
}

# check_b_session CASE HS0 N0: gw-b's session on gw-a is the one from before.
check_b_session() {
  local c=$1 hs0=$2 n0=$3 hs1 n1
  hs1=$(hs_of b)
  n1=$(handshakes_ab)
  if [[ -n $hs1 && $hs1 == "$hs0" ]]; then
    pass "$c: gw-b's latest handshake on gw-a unchanged ($hs0)"
  else
    fail "$c: gw-b's latest handshake on gw-a changed: $hs0 -> ${hs1:-none}"
  fi
  if ((n1 == n0)); then
    pass "$c: no new handshake between gw-a and gw-b in either log"
  else
    fail "$c: $((n1 - n0)) new handshake message(s) between gw-a and gw-b"
  fi
}

# --- start ---------------------------------------------------------------------------
for gw in a b c; do start_gw "$gw"; done
if wait_until "gw-a <-> gw-b tunnel" "$START_BOUND" has_hs b; then
  pass "start: gw-a and gw-b up, tunnel established"
else
  fail "start: no handshake between gw-a and gw-b within ${START_BOUND}s"
fi
HS_B0=$(hs_of b)
wait_until "gw-b's handshake to be ${SETTLE} s old" 5 bash -c "(( \$(date +%s) >= $HS_B0 + $SETTLE ))" || true
HS_B0=$(hs_of b)
N_AB0=$(handshakes_ab)

# --- a. add a peer under traffic ----------------------------------------------------
case_a() {
  local out="$WORK_DIR/ping-stream.out" ping_pid t0 tx0
  local tx_packets="/sys/class/net/$TUN_A/statistics/tx_packets"  # what gw-a reads from its TUN
  tx0=$(ip netns exec "$NS_A" cat "$tx_packets")
  start_bg "$WORK_DIR/ping-stream.out" ip netns exec "$NS_A" \
    timeout 30 ping -n -q -i 0.1 -c "$STREAM_PINGS" -W 1 198.18.0.2
  ping_pid=$BG_PID
  wait_until "the ping stream to flow" 5 \
    bash -c "(( \$(ip netns exec $NS_A cat $tx_packets) >= $tx0 + 5 ))" || true
  write_a "$CFG_A" b c
  t0=$(now_ms)
  sighup_a
  if grep -q "reload: applied $CFG_A" "${GW_LOG[a]}"; then
    pass "a: reload applied $(($(now_ms) - t0)) ms after SIGHUP"
  else
    fail "a: gw-a did not log 'reload: applied $CFG_A'"
  fi
  if ip netns exec "$NS_A" timeout 10 wg show "$TUN_A" peers | grep -qx "$(pub c)"; then
    pass "a: gw-c is a peer of gw-a after the reload"
  else
    fail "a: gw-c is not among gw-a's peers after the reload"
  fi
  # No packet to 198.18.0.3 yet: only gw-a's own initiation can bring it up.
  if wait_until "gw-c's handshake" "$RELOAD_BOUND" has_hs c; then
    pass "a: new peer gw-c came up without traffic $(($(now_ms) - t0)) ms after SIGHUP"
  else
    fail "a: new peer gw-c not initiated by the reload (no handshake within ${RELOAD_BOUND}s without traffic)"
  fi
  if has_route 198.18.0.3; then
    pass "a: route 198.18.0.3 dev $TUN_A added"
  else
    fail "a: no route 198.18.0.3 dev $TUN_A: $(routes_a | tr '\n' ';')"
  fi
  check_ping a "$NS_A" 198.18.0.3
  check_ping a "$NS_C" 198.18.0.1
  # The stream to gw-b runs on across the reload and ends by itself.
  wait_until "the ping stream to end" 30 bash -c "! kill -0 $ping_pid 2>/dev/null" || true
  _lib_reap "$ping_pid"
  ping_counts "$out"
  if [[ $PING_TX == "$STREAM_PINGS" && $PING_RX == "$STREAM_PINGS" ]]; then
    pass "a: ping stream to gw-b across the reload: $PING_RX/$PING_TX replies, nothing lost"
  else
    fail "a: ping stream to gw-b across the reload lost packets: $(tr '\n' ' ' <"$out")"
  fi
  check_b_session a "$HS_B0" "$N_AB0"
}

# --- b. a peer's allowed-ips grow ---------------------------------------------------
case_b() {
  write_a "$CFG_A" b+lan c
  sighup_a
  if has_route 198.18.2.0/24; then
    pass "b: route 198.18.2.0/24 dev $TUN_A added for gw-b's new prefix"
  else
    fail "b: no route 198.18.2.0/24 dev $TUN_A: $(routes_a | tr '\n' ';')"
  fi
  if ip netns exec "$NS_A" timeout 10 wg show "$TUN_A" allowed-ips | grep "^$(pub b)" | grep -q 198.18.2.0/24; then
    pass "b: wg show lists 198.18.2.0/24 for gw-b"
  else
    fail "b: wg show does not list 198.18.2.0/24 for gw-b"
  fi
  check_ping b "$NS_A" 198.18.2.1
  check_b_session b "$HS_B0" "$N_AB0"
}

# --- c. invalid file ---------------------------------------------------------------
case_c() {
  write_a "$CFG_A" b+lan c-typo
  local errors_before
  errors_before=$(count 'is invalid' "${GW_LOG[a]}")
  sighup_a
  # Still running and still serving: its loop answers wg after the reload.
  if kill -0 "${GW_PID[a]}" 2>/dev/null && timeout 5 wg show "$TUN_A" >/dev/null 2>&1; then
    pass "c: gw-a still running and serving wg after an invalid reload"
  else
    fail "c: gw-a exited after an invalid reload"
    return
  fi
  if (($(count 'is invalid' "${GW_LOG[a]}") > errors_before)); then
    pass "c: gw-a reports the file as invalid and keeps the running configuration"
  else
    fail "c: gw-a logged no 'is invalid' line for the bad file"
  fi
  local want
  want=$(grep -E "^$CFG_A:[0-9]+:[0-9]+: peers\[1\]\.allowed-ip: unknown key" <(timeout 10 "$SITELINK" check "$CFG_A" 2>&1) || true)
  if [[ -z $want ]]; then
    fail "c: sitelink check does not report peers[1].allowed-ip with FILE:LINE:COL"
  elif grep -qF -- "$want" "${GW_LOG[a]}"; then
    pass "c: the log names the error as sitelink check does: $want"
  else
    fail "c: the log lacks '$want'"
  fi
  # Every error line of `sitelink check` is in the log, warnings aside.
  local missing=0 line
  while IFS= read -r line; do
    grep -qF -- "$line" "${GW_LOG[a]}" || { log "not in gw-a's log: $line"; missing=$((missing + 1)); }
  done < <(timeout 10 "$SITELINK" check "$CFG_A" 2>&1 | grep -E "^$CFG_A:[0-9]+:[0-9]+: " | grep -v ': warning: ')
  if ((missing == 0)); then
    pass "c: every error sitelink check reports is in the reload log"
  else
    fail "c: $missing error line(s) of sitelink check missing from the reload log"
  fi
  if has_route 198.18.0.3 && has_route 198.18.2.0/24; then
    pass "c: routes of the running configuration kept"
  else
    fail "c: routes changed by an invalid reload: $(routes_a | tr '\n' ';')"
  fi
  check_ping c "$NS_A" 198.18.0.2
  check_ping c "$NS_A" 198.18.2.1
  check_ping c "$NS_A" 198.18.0.3
  check_b_session c "$HS_B0" "$N_AB0"
}

# --- d. remove a peer --------------------------------------------------------------
case_d() {
  write_a "$CFG_A" b+lan
  sighup_a
  if has_route 198.18.0.3; then
    fail "d: route 198.18.0.3 dev $TUN_A still there after gw-c was removed"
  else
    pass "d: route 198.18.0.3 dev $TUN_A removed"
  fi
  if ip netns exec "$NS_A" timeout 10 wg show "$TUN_A" peers | grep -qx "$(pub c)"; then
    fail "d: gw-c still a peer of gw-a"
  else
    pass "d: gw-c no longer a peer of gw-a"
  fi
  local rx0 rx1
  rx0=$(ip netns exec "$NS_C" cat "/sys/class/net/$TUN_C/statistics/rx_packets")
  if ip netns exec "$NS_A" timeout 10 ping -n -q -c 3 -i 0.2 -W 1 198.18.0.3 >"$WORK_DIR/ping.out" 2>&1; then
    fail "d: gw-a still reaches gw-c after removing it"
  else
    pass "d: gw-a -> 198.18.0.3 fails after gw-c's removal"
  fi
  # Not through the /32 on gw-a's TUN either: send into the TUN directly.
  ip netns exec "$NS_A" timeout 10 ping -n -q -c 3 -i 0.2 -W 1 -I "$TUN_A" 198.18.0.3 >/dev/null 2>&1 || true
  rx1=$(ip netns exec "$NS_C" cat "/sys/class/net/$TUN_C/statistics/rx_packets")
  if ((rx1 == rx0)); then
    pass "d: nothing reached gw-c's TUN (rx_packets stays $rx0)"
  else
    fail "d: gw-c's TUN received $((rx1 - rx0)) packets after its removal from gw-a"
  fi
  check_ping d "$NS_A" 198.18.0.2
  check_b_session d "$HS_B0" "$N_AB0"
}

# --- f. crypto-threads, and every thread's capabilities ----------------------------
crypto_threads_are() { (($(crypto_threads "$1") == $2)); }
case_f() {
  local pid=${GW_PID[a]} n bad
  for n in 3 0 2; do
    A_EXTRA=("crypto-threads: $n")
    write_a "$CFG_A" b+lan
    sighup_a
    if wait_until "gw-a's $n crypto threads" "$RELOAD_BOUND" crypto_threads_are "$pid" "$n"; then
      local tasks=("/proc/$(network_pid "$pid")/task"/*)
      pass "f: crypto-threads: $n applied by the reload (${#tasks[@]} threads in all)"
    else
      fail "f: gw-a does not run $n crypto threads after the reload"
    fi
    check_ping f "$NS_A" 198.18.0.2
  done
  bad=$(threads_beyond_net_admin "$pid")
  if [[ -z $bad ]]; then
    pass "f: every thread of gw-a holds CAP_NET_ADMIN alone"
  else
    fail "f: threads with other capabilities: ${bad//$'\n'/ }"
  fi
  check_b_session f "$HS_B0" "$N_AB0"
}

# --- e. SIGTERM ------------------------------------------------------------------------
case_e() {
  local gw
  for gw in a b c; do stop_gw_check e "$gw"; done
}

case_a
case_b
case_c
case_d
case_f
case_e
