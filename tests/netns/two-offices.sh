#!/usr/bin/env bash
# Two offices joined by two sitelinkd gateways, in four network namespaces
# with real TUN devices, real UDP and real ping.
#
# Usage: two-offices.sh [SITELINKD [SITELINK]]
#   defaults: <repo>/build/daemon/sitelinkd and <repo>/build/daemon/sitelink
#
#   host-a (${P}ha)        gw-a (${P}ga)                    gw-b (${P}gb)        host-b (${P}hb)
#   ${P}ah ------------ ${P}al   ${P}au ---------------- ${P}bu   ${P}bl ------------ ${P}bh
#   198.18.1.2/24     198.18.1.1/24  203.0.113.1/24    203.0.113.2/24  198.18.2.1/24    198.18.2.2/24
#   2001:db8:a::2/64  2001:db8:a::1/64  2001:db8:ffff::1/64  ::2/64  2001:db8:b::1/64  2001:db8:b::2/64
#   default via gw-a      TUN ${P}at (sitelinkd)           TUN ${P}bt (sitelinkd)  default via gw-b
#                         198.18.0.1/24, 2001:db8::1/64    198.18.0.2/24, 2001:db8::2/64
#
# Each gateway's one peer is the other gateway, with allowed-ips = the other
# office's LAN prefixes (IPv4 and IPv6) plus its tunnel addresses; sitelinkd
# routes them into its TUN (routes: true). The gateways forward IPv4 and IPv6.
#
# Cases (each prints PASS/FAIL lines; the exit status is non-zero if any failed):
#   a. host-a <-> host-b over IPv4 and IPv6 (and gateway <-> gateway over the
#      tunnel addresses), IPv4 underlay.
#   b. the same over the IPv6 underlay: gateways restarted with endpoints
#      "[2001:db8:ffff::N]:51820" and the underlay's IPv4 addresses removed, so
#      nothing can go over IPv4 by accident.
#   c. cryptokey routing on ingress: gw-a sends host-b a ping from a source
#      outside gw-a's allowed-ips at gw-b (198.18.77.1, 2001:db8:77::1 on gw-a's
#      lo). It goes into the tunnel (gw-b's underlay sees it) but gw-b must not
#      deliver it (its TUN receives nothing) and the ping fails; the same ping
#      from 198.18.1.1 / 2001:db8:a::1 succeeds (positive control).
#   d. gw-b is killed with SIGKILL and restarted: host-a reaches host-b again
#      within RECOVERY_BOUND seconds (the time taken is printed).
#   e. gw-a's underlay address changes from 203.0.113.1 to 203.0.113.11 while
#      gw-b still has 203.0.113.1 configured: traffic keeps flowing because
#      gw-b follows gw-a's authenticated packets (roaming), within ROAM_BOUND s.
#   f. SIGTERM: each daemon exits 0 within STOP_BOUND seconds and its TUN is gone.
#
# Needs root, ip, ping, timeout, sysctl. Daemon logs (--log-level debug) are
# kept in a temp dir and printed on failure, or always with NETNS_VERBOSE=1.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SITELINKD=${1:-"$SCRIPT_DIR/../../build/daemon/sitelinkd"}
SITELINK=${2:-"$(dirname "$SITELINKD")/sitelink"}

# shellcheck source=tests/netns/lib.sh
source "$SCRIPT_DIR/lib.sh"
lib_init two-offices slo

P=$PREFIX
NS_HA="${P}ha" NS_GA="${P}ga" NS_GB="${P}gb" NS_HB="${P}hb"
TUN_A="${P}at" TUN_B="${P}bt"
UL_A="${P}au" UL_B="${P}bu"     # underlay veth ends in gw-a / gw-b
PORT=51820
START_BOUND=10     # s: daemon up and tunnel established
RECOVERY_BOUND=10  # s: case d
ROAM_BOUND=10      # s: case e
STOP_BOUND=5       # s: case f

declare -A GW_PID=([a]="" [b]="") GW_LOG=([a]="" [b]="")
GW_RUNS=0

require_root
require_tools ip ping timeout sysctl
[[ -c /dev/net/tun ]] || { log "no /dev/net/tun"; exit 1; }
for b in "$SITELINKD" "$SITELINK"; do
  [[ -x "$b" ]] || { log "not executable: $b (build targets sitelinkd and sitelink)"; exit 1; }
done
SITELINKD=$(cd "$(dirname "$SITELINKD")" && pwd)/$(basename "$SITELINKD")
SITELINK=$(cd "$(dirname "$SITELINK")" && pwd)/$(basename "$SITELINK")

# --- topology ------------------------------------------------------------------------
# sitelinkd's control sockets: removed on a clean exit; this is for a crash
# (case d kills gw-b with SIGKILL) or a failed run.
on_cleanup rm -f "/run/wireguard/$TUN_A.sock" "/run/wireguard/$TUN_B.sock"
ns_add "$NS_HA" "$NS_GA" "$NS_GB" "$NS_HB"
veth_add "$NS_HA" "${P}ah" "$NS_GA" "${P}al"
veth_add "$NS_GA" "$UL_A" "$NS_GB" "$UL_B"
veth_add "$NS_GB" "${P}bl" "$NS_HB" "${P}bh"

addr() { ip -n "$1" addr add "$2" dev "$3" ${4:+"$4"}; }
addr "$NS_HA" 198.18.1.2/24 "${P}ah"
addr "$NS_HA" 2001:db8:a::2/64 "${P}ah" nodad
addr "$NS_GA" 198.18.1.1/24 "${P}al"
addr "$NS_GA" 2001:db8:a::1/64 "${P}al" nodad
addr "$NS_GA" 203.0.113.1/24 "$UL_A"
addr "$NS_GA" 2001:db8:ffff::1/64 "$UL_A" nodad
addr "$NS_GB" 203.0.113.2/24 "$UL_B"
addr "$NS_GB" 2001:db8:ffff::2/64 "$UL_B" nodad
addr "$NS_GB" 198.18.2.1/24 "${P}bl"
addr "$NS_GB" 2001:db8:b::1/64 "${P}bl" nodad
addr "$NS_HB" 198.18.2.2/24 "${P}bh"
addr "$NS_HB" 2001:db8:b::2/64 "${P}bh" nodad
ip -n "$NS_HA" route add default via 198.18.1.1
ip -n "$NS_HA" -6 route add default via 2001:db8:a::1
ip -n "$NS_HB" route add default via 198.18.2.1
ip -n "$NS_HB" -6 route add default via 2001:db8:b::1
for ns in "$NS_GA" "$NS_GB"; do
  ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
done

# ping_ok NS DST [PING ARGS...]: a bounded ping; true if every echo came back.
ping_ok() {
  local ns=$1 dst=$2
  shift 2
  ip netns exec "$ns" timeout 20 ping -n -q -c 3 -i 0.2 -W 2 "$@" "$dst" >"$WORK_DIR/ping.out" 2>&1
}
ping_once() { ip netns exec "$1" timeout 5 ping -n -q -c 1 -W 1 "$2" >/dev/null 2>&1; }

# Link-local addresses finish DAD (about a second) and every link answers, so
# no test below pays for neighbour discovery or DAD on the veths.
no_tentative() { [[ -z $(ip -n "$1" -6 addr show tentative) ]]; }
for ns in "$NS_HA" "$NS_GA" "$NS_GB" "$NS_HB"; do
  wait_until "IPv6 DAD in $ns" 10 no_tentative "$ns"
done
wait_until "underlay IPv4" 10 ping_once "$NS_GA" 203.0.113.2
wait_until "underlay IPv6" 10 ping_once "$NS_GA" 2001:db8:ffff::2
wait_until "LAN A IPv4" 10 ping_once "$NS_HA" 198.18.1.1
wait_until "LAN A IPv6" 10 ping_once "$NS_HA" 2001:db8:a::1
wait_until "LAN B IPv4" 10 ping_once "$NS_HB" 198.18.2.1
wait_until "LAN B IPv6" 10 ping_once "$NS_HB" 2001:db8:b::1

# --- keys and configs ------------------------------------------------------------------
gen_key "$SITELINK" "$WORK_DIR" gw-a
gen_key "$SITELINK" "$WORK_DIR" gw-b

# write_config SIDE PEER_ENDPOINT: the YAML for gw-SIDE.
write_config() {
  local side=$1 endpoint=$2 me peer tun
  if [[ $side == a ]]; then me=1 peer=b tun=$TUN_A; else me=2 peer=a tun=$TUN_B; fi
  local peer_lan="198.18.2.0/24, 2001:db8:b::/64" peer_tun=2
  [[ $peer == a ]] && peer_lan="198.18.1.0/24, 2001:db8:a::/64" peer_tun=1
  cat >"$WORK_DIR/gw-$side.yaml" <<EOF
interface:
  name: $tun
  private-key-file: $WORK_DIR/gw-$side.key
  listen-port: $PORT
  address: [198.18.0.$me/24, "2001:db8::$me/64"]
peers:
  - name: office-$peer
    public-key: $(cat "$WORK_DIR/gw-$peer.pub")
    endpoint: "$endpoint"
    allowed-ips: [$peer_lan, 198.18.0.$peer_tun/32, "2001:db8::$peer_tun/128"]
EOF
}

# start_gw SIDE ENDPOINT: sitelinkd for gw-SIDE; waits until it is listening.
# Its log is gw-SIDE.N.log (N counts all starts); GW_LOG[SIDE] names it.
start_gw() {
  local side=$1 endpoint=$2 ns
  ns=$([[ $side == a ]] && echo "$NS_GA" || echo "$NS_GB")
  write_config "$side" "$endpoint"
  GW_RUNS=$((GW_RUNS + 1))
  local logf="$WORK_DIR/gw-$side.$GW_RUNS.log"
  start_bg "$logf" ip netns exec "$ns" "$SITELINKD" --config "$WORK_DIR/gw-$side.yaml" --log-level debug
  GW_PID[$side]=$BG_PID
  GW_LOG[$side]=$logf
  wait_until "sitelinkd gw-$side to listen" "$START_BOUND" \
    bash -c "grep -q 'listening on port' '$logf' || ! kill -0 $BG_PID 2>/dev/null"
  kill -0 "$BG_PID" 2>/dev/null || { log "sitelinkd gw-$side exited early"; return 1; }
}

gw_log() { echo "${GW_LOG[$1]}"; }

stop_gw() {
  stop_pid "${GW_PID[$1]}" "$STOP_BOUND"
  GW_PID[$1]=""
}

# start_pair A_ENDPOINT B_ENDPOINT: both gateways, then wait for both tunnels.
start_pair() {
  start_gw a "$1" || return 1
  start_gw b "$2" || return 1
  wait_until "tunnel up on both gateways" "$START_BOUND" \
    bash -c "grep -q 'tunnel up' '$(gw_log a)' && grep -q 'tunnel up' '$(gw_log b)'"
}

# check_ping CASE NS DST [ARGS...]
check_ping() {
  local c=$1 ns=$2 dst=$3
  shift 3
  local who=${ns#"$P"}
  if ping_ok "$ns" "$dst" "$@"; then
    pass "$c: $who -> $dst $* ($(grep -o 'rtt.*' "$WORK_DIR/ping.out" || true))"
  else
    fail "$c: $who -> $dst $*: $(tr '\n' ' ' <"$WORK_DIR/ping.out")"
  fi
}

offices_talk() {
  local c=$1
  check_ping "$c" "$NS_HA" 198.18.2.2
  check_ping "$c" "$NS_HA" 2001:db8:b::2
  check_ping "$c" "$NS_HB" 198.18.1.2
  check_ping "$c" "$NS_HB" 2001:db8:a::2
  check_ping "$c" "$NS_GA" 198.18.0.2
  check_ping "$c" "$NS_GB" 2001:db8::1
}

# stat_of NS IFACE COUNTER: an interface counter, or "none".
stat_of() { ip netns exec "$1" cat "/sys/class/net/$2/statistics/$3" 2>/dev/null || echo none; }

# --- a. IPv4 underlay --------------------------------------------------------------------
case_a() {
  if start_pair "203.0.113.2:$PORT" "203.0.113.1:$PORT"; then
    pass "a: both gateways up, tunnel established over IPv4"
  else
    fail "a: tunnel not established over IPv4 within ${START_BOUND}s"
  fi
  offices_talk a
  stop_gw a
  stop_gw b
}

# --- b. IPv6 underlay --------------------------------------------------------------------
case_b() {
  ip -n "$NS_GA" addr del 203.0.113.1/24 dev "$UL_A"
  ip -n "$NS_GB" addr del 203.0.113.2/24 dev "$UL_B"
  if start_pair "[2001:db8:ffff::2]:$PORT" "[2001:db8:ffff::1]:$PORT"; then
    pass "b: tunnel established over the IPv6 underlay (no IPv4 on the underlay)"
  else
    fail "b: tunnel not established over IPv6 within ${START_BOUND}s"
  fi
  if grep -q 'tunnel up via \[2001:db8:ffff::2\]:' "$(gw_log a)"; then
    pass "b: gw-a reports its peer at [2001:db8:ffff::2]"
  else
    fail "b: gw-a's log does not show the IPv6 endpoint"
  fi
  offices_talk b
  stop_gw a
  stop_gw b
  ip -n "$NS_GA" addr add 203.0.113.1/24 dev "$UL_A"
  ip -n "$NS_GB" addr add 203.0.113.2/24 dev "$UL_B"
  wait_until "underlay IPv4 back" 10 ping_once "$NS_GA" 203.0.113.2
}

# --- c. inner source outside the sender's allowed-ips ----------------------------------
# spoof_check FAMILY BAD_SRC GOOD_SRC DST
spoof_check() {
  local fam=$1 bad=$2 good=$3 dst=$4
  local tun0 ul0 tun1 ul1
  tun0=$(stat_of "$NS_GB" "$TUN_B" rx_packets)
  ul0=$(stat_of "$NS_GB" "$UL_B" rx_packets)
  if ip netns exec "$NS_GA" timeout 10 ping -n -q -c 2 -i 0.2 -W 1 -I "$bad" "$dst" >"$WORK_DIR/ping.out" 2>&1; then
    fail "c: IPv$fam ping from $bad (not in gw-a's allowed-ips at gw-b) got through"
  else
    pass "c: IPv$fam ping from $bad to $dst was dropped"
  fi
  tun1=$(stat_of "$NS_GB" "$TUN_B" rx_packets)
  ul1=$(stat_of "$NS_GB" "$UL_B" rx_packets)
  if [[ "$tun0$tun1$ul0$ul1" == *none* ]]; then
    fail "c: IPv$fam: gw-b's interface counters are unreadable (TUN $tun0/$tun1, underlay $ul0/$ul1)"
  elif ((ul1 - ul0 >= 2 && tun1 == tun0)); then
    pass "c: IPv$fam: gw-b received $((ul1 - ul0)) datagrams and delivered none of them to its TUN"
  else
    fail "c: IPv$fam: gw-b underlay rx +$((ul1 - ul0)) (want >= 2), TUN rx +$((tun1 - tun0)) (want 0)"
  fi
  check_ping c "$NS_GA" "$dst" -I "$good"
}

case_c() {
  if start_pair "203.0.113.2:$PORT" "203.0.113.1:$PORT"; then
    pass "c: gateways up again over IPv4"
  else
    fail "c: tunnel not re-established within ${START_BOUND}s"
  fi
  ip -n "$NS_GA" addr add 198.18.77.1/32 dev lo
  ip -n "$NS_GA" addr add 2001:db8:77::1/128 dev lo nodad
  spoof_check 4 198.18.77.1 198.18.1.1 198.18.2.2
  spoof_check 6 2001:db8:77::1 2001:db8:a::1 2001:db8:b::2
  ip -n "$NS_GA" addr del 198.18.77.1/32 dev lo
  ip -n "$NS_GA" addr del 2001:db8:77::1/128 dev lo
}

# until_ping NS DST BOUND: ping -c1 -W1 until it succeeds, for at most BOUND
# seconds; ELAPSED_MS is the time from the call to the first reply.
until_ping() {
  local ns=$1 dst=$2 bound=$3 t0
  t0=$(now_ms)
  while (($(now_ms) - t0 < bound * 1000)); do
    if ping_once "$ns" "$dst"; then
      ELAPSED_MS=$(($(now_ms) - t0))
      return 0
    fi
  done
  ELAPSED_MS=$(($(now_ms) - t0))
  return 1
}

# --- d. SIGKILL and restart --------------------------------------------------------------
case_d() {
  check_ping d "$NS_HA" 198.18.2.2
  kill_pid "${GW_PID[b]}"
  GW_PID[b]=""
  if ((STOP_RC == 128 + 9)); then pass "d: gw-b killed (SIGKILL)"; else fail "d: gw-b exit status $STOP_RC after SIGKILL"; fi
  if ping_once "$NS_HA" 198.18.2.2; then
    fail "d: host-b still reachable with gw-b's daemon dead"
  else
    pass "d: host-b unreachable while gw-b's daemon is dead"
  fi
  local t0
  t0=$(now_ms)
  if ! start_gw b "203.0.113.1:$PORT"; then
    fail "d: gw-b did not restart"
    return
  fi
  if until_ping "$NS_HA" 198.18.2.2 "$RECOVERY_BOUND"; then
    pass "d: host-a reaches host-b $(($(now_ms) - t0)) ms after gw-b was restarted (first reply after ${ELAPSED_MS} ms of pinging; bound ${RECOVERY_BOUND}s)"
  else
    fail "d: host-a does not reach host-b within ${RECOVERY_BOUND}s of gw-b's restart"
  fi
  check_ping d "$NS_HB" 2001:db8:a::2
}

# --- e. gw-a's underlay address changes (roaming) ---------------------------------------
case_e() {
  check_ping e "$NS_HA" 198.18.2.2
  ip -n "$NS_GA" addr del 203.0.113.1/24 dev "$UL_A"
  ip -n "$NS_GA" addr add 203.0.113.11/24 dev "$UL_A"
  if until_ping "$NS_HA" 198.18.2.2 "$ROAM_BOUND"; then
    pass "e: host-a -> host-b flows ${ELAPSED_MS} ms after gw-a moved to 203.0.113.11 (bound ${ROAM_BOUND}s)"
  else
    fail "e: host-a -> host-b broken for ${ROAM_BOUND}s after gw-a's address change"
  fi
  if grep -q "endpoint changed from 203.0.113.1:$PORT to 203.0.113.11:$PORT" "$(gw_log b)"; then
    pass "e: gw-b followed gw-a to 203.0.113.11:$PORT"
  else
    fail "e: gw-b's log shows no endpoint change to 203.0.113.11:$PORT"
  fi
  check_ping e "$NS_HB" 198.18.1.2
  check_ping e "$NS_HB" 2001:db8:a::2
}

# --- f. SIGTERM ------------------------------------------------------------------------------
case_f() {
  local side ns tun t0
  for side in a b; do
    ns=$([[ $side == a ]] && echo "$NS_GA" || echo "$NS_GB")
    tun=$([[ $side == a ]] && echo "$TUN_A" || echo "$TUN_B")
    t0=$(now_ms)
    stop_gw "$side"
    if ((STOP_KILLED)); then
      fail "f: gw-$side did not exit within ${STOP_BOUND}s of SIGTERM"
    elif ((STOP_RC == 0)); then
      pass "f: gw-$side exited 0 $(($(now_ms) - t0)) ms after SIGTERM"
    else
      fail "f: gw-$side exited $STOP_RC after SIGTERM"
    fi
    if ip -n "$ns" link show dev "$tun" >/dev/null 2>&1; then
      fail "f: $tun still exists after gw-$side stopped"
    else
      pass "f: $tun is gone"
    fi
  done
}

case_a
case_b
case_c
case_d
case_e
case_f
