#!/usr/bin/env bash
# Sticky source addresses (issue 15, SPEC.md "Real office networks"): a
# gateway G with two IPv4 and two IPv6 addresses on one interface answers a
# peer from the local address that peer's packets arrived on, and falls back
# to another address (the kernel's choice) as soon as that one is removed,
# without losing the tunnel.
#
# Usage: sticky-source.sh [SITELINKD [SITELINK]]
#   defaults: <repo>/build/daemon/sitelinkd and <repo>/build/daemon/sitelink
#   STICKY_ONLY="MODE ..."  run only these modes (config, uapi, wg-go)
#
#   G [gN]                                             W [wN]
#   ${P}gN  203.0.113.1/24, 203.0.113.2/24   --veth--  ${P}wN 203.0.113.10/24
#           2001:db8:ffff::1/64, ::2/64                     2001:db8:ffff::10/64
#   TUN 198.18.0.1/24, 2001:db8::1/64                  TUN 198.18.0.2/24, 2001:db8::2/64
#
# W is stock wireguard-go set up with `wg`; it roams: its endpoint for G is
# the source of G's latest authenticated packet. G is, by mode:
#   config  sitelinkd --config (G's YAML names W without an endpoint)
#   uapi    sitelinkd -f IFACE, set up with `wg set` (cross-platform mode)
#   wg-go   stock wireguard-go (a reference: it already replies sticky)
# Checks, in each mode:
#   1. for each of G's four addresses in turn: `wg set` points W at it, W
#      pings G's tunnel address, and `wg show endpoints` on W still shows
#      exactly that address (G replied from it);
#   2. for each family: with W on G's second address and a 20/s ping from G
#      to W running, the address is removed from G (`ip addr del`): the ping
#      comes back within REMOVE_BOUND s and W's endpoint is G's other address
#      of that family (W learned it by roaming). The longest gap is a figure
#      (FIGURE: sticky.MODE.FAMILY.remove_gap_ms=N ms).
#
# Takes about 50 s (the wg-go reference needs about 15 s to recover from the
# IPv4 removal; sitelinkd about 0.1 s).
#
# Needs root, ip, ping, stdbuf, wg, wireguard-go, python3, timeout. Logs are
# printed on failure, or always with NETNS_VERBOSE=1.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/netns/lib.sh
source "$SCRIPT_DIR/lib.sh"
lib_init sticky-source sls
# shellcheck source=tests/netns/topology.sh
source "$SCRIPT_DIR/topology.sh"
# shellcheck source=tests/stress/figures.sh
source "$SCRIPT_DIR/../stress/figures.sh"
figures_init sticky

START_BOUND=10   # s: a daemon up
REMOVE_BOUND=30  # s: traffic back after the address in use is removed
                 # (stock wireguard-go takes about 15 s for IPv4)
STEADY=20        # replies before the address is removed
PING_DEADLINE=60 # s: ping's own -w bound
GAPS="$SCRIPT_DIR/../support/ping_gaps.py"

require_root
require_tools ip ping stdbuf timeout python3 wg wireguard-go
require_tun
sitelink_binaries "$@"

gen_key wg "$WORK_DIR" g
gen_key wg "$WORK_DIR" w
PUB_G=$(<"$WORK_DIR/g.pub")
PUB_W=$(<"$WORK_DIR/w.pub")
G_ADDRS=(203.0.113.1 203.0.113.2 2001:db8:ffff::1 2001:db8:ffff::2)
RUN=0

ep() { if [[ $1 == *:* ]]; then echo "[$1]:$PORT"; else echo "$1:$PORT"; fi; }
plen() { if [[ $1 == *:* ]]; then echo 64; else echo 24; fi; }

# network: G's and W's namespaces and the veth between them, fresh per mode.
network() {
  NS_G=${PREFIX}g$RUN NS_W=${PREFIX}w$RUN IF_G=${PREFIX}g$RUN IF_W=${PREFIX}w$RUN
  TUN_G=${PREFIX}tg$RUN TUN_W=${PREFIX}tw$RUN
  on_cleanup rm -f "/run/wireguard/$TUN_G.sock" "/run/wireguard/$TUN_W.sock"
  ns_add "$NS_G" "$NS_W"
  # Removing the primary IPv4 address keeps the secondary one.
  ip netns exec "$NS_G" sysctl -qw net.ipv4.conf.all.promote_secondaries=1 \
    net.ipv4.conf.default.promote_secondaries=1
  veth_add "$NS_G" "$IF_G" "$NS_W" "$IF_W"
  local a
  ip -n "$NS_G" addr add 203.0.113.1/24 dev "$IF_G"
  ip -n "$NS_G" addr add 203.0.113.2/24 dev "$IF_G"
  ip -n "$NS_G" addr add 2001:db8:ffff::1/64 dev "$IF_G" nodad
  ip -n "$NS_G" addr add 2001:db8:ffff::2/64 dev "$IF_G" nodad
  ip -n "$NS_W" addr add 203.0.113.10/24 dev "$IF_W"
  ip -n "$NS_W" addr add 2001:db8:ffff::10/64 dev "$IF_W" nodad
  wait_until "IPv6 DAD in $NS_G" 10 no_tentative "$NS_G"
  wait_until "IPv6 DAD in $NS_W" 10 no_tentative "$NS_W"
  for a in "${G_ADDRS[@]}"; do wait_until "W -> $a" 10 ping_once "$NS_W" "$a"; done
}

# uapi_daemon NS TUN LOG CMD...: CMD (a userspace WireGuard in the foreground)
# in NS; waits for TUN's UAPI socket; its PID in UAPI_PID.
uapi_daemon() {
  local ns=$1 tun=$2 logf=$3
  shift 3
  start_bg "$logf" ip netns exec "$ns" "$@"
  UAPI_PID=$BG_PID
  wait_until "$tun's UAPI socket" "$START_BOUND" test -S "/run/wireguard/$tun.sock" || return 1
  kill -0 "$UAPI_PID" 2>/dev/null || { log "$* exited early"; return 1; }
}

# wg_side NS TUN ME KEY PEER-PUB [ENDPOINT]: a UAPI-configured tunnel end.
wg_side() {
  local ns=$1 tun=$2 me=$3 key=$4 pub=$5 endpoint=${6:-} them=$((3 - $3))
  local args=(peer "$pub" allowed-ips "198.18.0.$them/32,2001:db8::$them/128")
  [[ -z $endpoint ]] || args+=(endpoint "$endpoint")
  wg set "$tun" private-key "$key" listen-port "$PORT" "${args[@]}"
  ip -n "$ns" addr add "198.18.0.$me/24" dev "$tun"
  ip -n "$ns" addr add "2001:db8::$me/64" dev "$tun" nodad
  ip -n "$ns" link set "$tun" up
}

start_g() {
  case $MODE in
    config)
      GW_NS=([g]=$NS_G)
      {
        yaml_interface "$TUN_G" "$WORK_DIR/g.key" 'address: [198.18.0.1/24, "2001:db8::1/64"]'
        echo "peers:"
        yaml_peer w "$WORK_DIR/w.pub" 'allowed-ips: [198.18.0.2/32, "2001:db8::2/128"]'
      } >"$WORK_DIR/gw-g.yaml"
      start_gw g || return 1
      G_PID=${GW_PID[g]}
      ;;
    uapi)
      uapi_daemon "$NS_G" "$TUN_G" "$WORK_DIR/g-uapi.$RUN.log" "$SITELINKD" -f "$TUN_G" || return 1
      G_PID=$UAPI_PID
      wg_side "$NS_G" "$TUN_G" 1 "$WORK_DIR/g.key" "$PUB_W"
      ;;
    wg-go)
      uapi_daemon "$NS_G" "$TUN_G" "$WORK_DIR/g-wg-go.$RUN.log" \
        env WG_PROCESS_FOREGROUND=1 LOG_LEVEL=error wireguard-go -f "$TUN_G" || return 1
      G_PID=$UAPI_PID
      wg_side "$NS_G" "$TUN_G" 1 "$WORK_DIR/g.key" "$PUB_W"
      ;;
  esac
}

w_endpoint() { wg_field "$NS_W" "$TUN_W" endpoints "$PUB_G"; }
point_w() { wg set "$TUN_W" peer "$PUB_G" endpoint "$(ep "$1")"; }

# 1. W pointed at each of G's addresses sees G's replies come from it.
each_address() {
  local a got
  for a in "${G_ADDRS[@]}"; do
    point_w "$a"
    check_ping "$MODE: W at $a" "$NS_W" 198.18.0.1
    got=$(w_endpoint)
    if [[ $got == "$(ep "$a")" ]]; then
      pass "$MODE: W pointed at $(ep "$a") still has it: G replied from that address"
    else
      fail "$MODE: W pointed at $(ep "$a") now has '$got': G replied from another address"
    fi
  done
}

replies_after() {
  awk -v t="$1" -v n="$2" -F'[][]' \
    '/bytes from/ && $2 * 1000 > t { c++ } END { exit !(c >= n) }' "$PING_LOG"
}

# 2. The address in use (ADDR) removed from G while G pings W; OTHER is
# where W must end up.
remove_in_use() {
  local fam=$1 addr=$2 other=$3 got t_del t_up ping_pid
  point_w "$addr"
  check_ping "$MODE: W at $addr before the removal" "$NS_W" 198.18.0.1
  got=$(w_endpoint)
  if [[ $got != "$(ep "$addr")" ]]; then
    fail "$MODE: W's endpoint is '$got' before $addr is removed, not that address: nothing to test"
    return
  fi
  PING_LOG="$WORK_DIR/ping-$MODE-$fam.log"
  start_bg "$PING_LOG" ip netns exec "$NS_G" \
    stdbuf -oL ping -n -D -O -i 0.05 -W 1 -w "$PING_DEADLINE" 198.18.0.2
  ping_pid=$BG_PID
  if ! wait_until "$STEADY replies from W" 10 replies_after 0 "$STEADY"; then
    fail "$MODE: no steady ping from G to W over $fam"
    stop_pid "$ping_pid"
    return
  fi
  t_del=$(now_ms)
  ip -n "$NS_G" addr del "$addr/$(plen "$addr")" dev "$IF_G"
  if wait_until "the ping to come back" "$REMOVE_BOUND" replies_after $((t_del + 1500)) 5; then
    t_up=$(now_ms)
    pass "$MODE: $addr removed from G in use: the tunnel carried traffic again $((t_up - t_del)) ms later"
  else
    t_up=$(now_ms)
    fail "$MODE: $addr removed from G in use: no traffic within $REMOVE_BOUND s"
  fi
  stop_pid "$ping_pid"
  local gap lost sent
  read -r gap lost sent < <(python3 "$GAPS" "$PING_LOG" "$t_del" "$t_up" || echo "- - -")
  figure "$MODE.$fam.remove_gap_ms" "${gap//-/}" ms
  figure "$MODE.$fam.remove_lost" "${lost//-/}" "packets of $sent"
  got=$(w_endpoint)
  if [[ $got == "$(ep "$other")" ]]; then
    pass "$MODE: W roamed to G's other $fam address $got"
  else
    fail "$MODE: W's endpoint is '$got' after $addr was removed, want $(ep "$other")"
  fi
}

mode() {
  MODE=$1
  RUN=$((RUN + 1))
  log "=== $MODE ==="
  network
  if ! start_g; then
    fail "$MODE: G did not start"
    return
  fi
  if ! uapi_daemon "$NS_W" "$TUN_W" "$WORK_DIR/w.$RUN.log" \
    env WG_PROCESS_FOREGROUND=1 LOG_LEVEL=error wireguard-go -f "$TUN_W"; then
    fail "$MODE: W's wireguard-go did not start"
    return
  fi
  local w_pid=$UAPI_PID
  wg_side "$NS_W" "$TUN_W" 2 "$WORK_DIR/w.key" "$PUB_G" "$(ep "${G_ADDRS[0]}")"
  each_address
  remove_in_use v4 203.0.113.2 203.0.113.1
  remove_in_use v6 2001:db8:ffff::2 2001:db8:ffff::1
  stop_pid "$w_pid"
  if [[ $MODE == config ]]; then
    stop_gw_check "$MODE" g
  else
    stop_pid "$G_PID"
    if ((STOP_RC == 0 && !STOP_KILLED)); then
      pass "$MODE: G exited 0 on SIGTERM"
    else
      fail "$MODE: G exit status $STOP_RC on SIGTERM (killed: $STOP_KILLED)"
    fi
  fi
}

for m in config uapi wg-go; do
  if [[ -n ${STICKY_ONLY:-} && " $STICKY_ONLY " != *" $m "* ]]; then continue; fi
  mode "$m"
done
