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
# shellcheck source=tests/netns/lib.sh
source "$SCRIPT_DIR/lib.sh"
lib_init two-offices slo
# shellcheck source=tests/netns/topology.sh
source "$SCRIPT_DIR/topology.sh"

START_BOUND=10     # s: daemon up and tunnel established
RECOVERY_BOUND=10  # s: case d
ROAM_BOUND=10      # s: case e
STOP_BOUND=5       # s: case f

require_root
require_tools ip ping timeout sysctl
require_tun
sitelink_binaries "$@"

# --- topology (the picture above), keys ----------------------------------------------
two_offices ipv4+ipv6
gw_keys a b

# start_office SIDE ENDPOINT: gw-SIDE's config, its peer at ENDPOINT, and its
# sitelinkd (waits until it listens).
start_office() { office_config "$1" "$2" && start_gw "$1"; }

# start_pair A_ENDPOINT B_ENDPOINT: both gateways, then wait for both tunnels.
start_pair() {
  start_office a "$1" || return 1
  start_office b "$2" || return 1
  wait_until "tunnel up on both gateways" "$START_BOUND" tunnel_up a b
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
  if grep -q 'tunnel up via \[2001:db8:ffff::2\]:' "${GW_LOG[a]}"; then
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
  if ! start_office b "203.0.113.1:$PORT"; then
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
  if grep -q "endpoint changed from 203.0.113.1:$PORT to 203.0.113.11:$PORT" "${GW_LOG[b]}"; then
    pass "e: gw-b followed gw-a to 203.0.113.11:$PORT"
  else
    fail "e: gw-b's log shows no endpoint change to 203.0.113.11:$PORT"
  fi
  check_ping e "$NS_HB" 198.18.1.2
  check_ping e "$NS_HB" 2001:db8:a::2
}

# --- f. SIGTERM ------------------------------------------------------------------------------
case_f() {
  local side tun
  for side in a b; do
    stop_gw_check f "$side"
    tun=$([[ $side == a ]] && echo "$TUN_A" || echo "$TUN_B")
    if ip -n "${GW_NS[$side]}" link show dev "$tun" >/dev/null 2>&1; then
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
