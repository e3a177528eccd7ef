#!/usr/bin/env bash
# Endpoint failover and failback (issue 15, SPEC.md "Real office networks"):
# office B has two internet lines; one of them is blackholed in the middle of
# the internet (links stay up, nothing passes) and later restored. A steady
# 20-per-second ping between the offices measures how long traffic stops.
#
# Usage: failover.sh [SITELINKD [SITELINK]]
#   defaults: <repo>/build/daemon/sitelinkd and <repo>/build/daemon/sitelink
#   FAILOVER_ONLY="SCENARIO[.FAMILY] ..."  run only these (e.g. "wg-far.v6 control")
#
#   host-a [ha]       gw-a [ga]                 internet [nt]              gw-b [gb]          host-b [hb]
#   198.18.1.2/24 -- 198.18.1.1/24                                     198.18.2.1/24 -- 198.18.2.2/24
#   2001:db8:a::2     2001:db8:a::1                                    2001:db8:b::1    2001:db8:b::2
#                     203.0.113.1/25 ---- .126 [na]   [n1] .254 ---- 203.0.113.129/25   (line 1, "B1")
#                     2001:db8:f0::1/64 -- ::ff       [n1] f1::ff -- 2001:db8:f1::1/64
#                                                     [n2] .254 ---- 198.51.100.1/24    (line 2, "B2")
#                                                     [n2] f2::ff -- 2001:db8:f2::1/64
#   tunnel: 198.18.0.1/24, 2001:db8::1/64 (A); 198.18.0.2/24, 2001:db8::2/64 (B)
#
# gw-b routes by source (`ip rule from B1 lookup 101`, `from B2 lookup 102`,
# each table's default route through its line; the main table's default is
# line 1). The blackhole is an nftables forward rule in the internet namespace
# that drops everything to and from line 1.
#
# Scenarios (each once over the IPv4 underlay, "v4", and once over IPv6, "v6";
# the holder is the gateway with the endpoints list, and the ping runs from
# the host behind it, so the holder is the one sending into the dead line):
#   sl-src   sitelinkd on both; gw-b lists gw-a twice, `source: B1` then
#            `source: B2`; gw-a has no endpoint (it roams)
#   sl-addr  sitelinkd on both; gw-a lists gw-b's [B1, B2]
#   wg-far   gw-a sitelinkd with [B1, B2]; gw-b stock wireguard-go (`wg set`)
#   wg-near  gw-b sitelinkd with the two sources; gw-a stock wireguard-go
#   control  stock wireguard-go on both (gw-a's endpoint B1): traffic must
#            stay down for as long as the blackhole lasts (proves the
#            measurement can tell failover from none), and come back after
#   manual   stock wireguard-go on both, gw-a's endpoint switched to B2 by
#            `wg set` as the blackhole starts and back to B1 as it ends (what
#            an operator does by hand; checks the second line and gw-b's
#            policy routing, and gives the figures to compare with)
# Each sitelinkd scenario: traffic resumes during the blackhole (within
# RESUME_BOUND s); the holder logs "not answering, trying" and, after the line
# returns, "back on preferred endpoint" exactly once each, within
# FAILBACK_BOUND s; `sitelink show --json` has active_endpoint 0, then 1, then
# 0 with endpoint_switches 2 at the end; no ping packet is lost across the
# failback (make-before-break). Defaults throughout (failover-after 3 s,
# failback-interval 20 s). Timings are figures, not assertions.
#
# Figures (FIGURE: failover.FAMILY.SCENARIO.NAME=VALUE UNIT; $STRESS_OUT/
# failover.json when STRESS_OUT is set): failover_gap_ms (longest time
# without a reply from the blackhole to resumption; target below 10000),
# failover_lost, failback_s (line back to "back on preferred"; target below
# 60), failback_gap_ms and failback_lost (the control has no failback
# figures).
#
# Takes about 5.5 minutes (about 30 s per scenario and family).
#
# Needs root, ip, ping, stdbuf, nft, python3, wg, wireguard-go, timeout. Logs are
# printed on failure, or always with NETNS_VERBOSE=1.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/netns/lib.sh
source "$SCRIPT_DIR/lib.sh"
lib_init failover slf
# shellcheck source=tests/netns/topology.sh
source "$SCRIPT_DIR/topology.sh"
# shellcheck source=tests/stress/figures.sh
source "$SCRIPT_DIR/../stress/figures.sh"
figures_init failover

START_BOUND=10     # s: a daemon up and listening
FIRST_BOUND=20     # s: the first replies through the tunnel
BLACKHOLE_S=15     # s: how long line 1 is dead
RESUME_BOUND=30    # s: traffic back after the blackhole starts (target: 10)
FAILBACK_BOUND=45  # s: "back on preferred" after the line returns (interval 20 s)
SWITCH_LOG_BOUND=5 # s: the switch's log line once traffic has resumed
STOP_BOUND=5       # s: SIGTERM to exit
PING_DEADLINE=180  # s: ping's own -w bound
STEADY=20          # replies before the fault
GAPS="$SCRIPT_DIR/../support/ping_gaps.py"

require_root
require_tools ip ping stdbuf timeout nft python3 wg wireguard-go
require_tun
sitelink_binaries "$@"

# --- the networks --------------------------------------------------------------------
P=$PREFIX
NS_HA=${P}ha NS_GA=${P}ga NS_NET=${P}nt NS_GB=${P}gb NS_HB=${P}hb
GW_NS=([a]=$NS_GA [b]=$NS_GB)
declare -A HOST_NS=([a]=$NS_HA [b]=$NS_HB)
declare -A WG_PIDS=() TUN=()

build_networks() {
  ns_add "$NS_HA" "$NS_GA" "$NS_NET" "$NS_GB" "$NS_HB"
  local ns
  for ns in "$NS_GA" "$NS_NET" "$NS_GB"; do
    ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
    # gw-b receives on line 2 from addresses its main table routes via line 1.
    ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
  done
  local ns1 if1 v4_1 v6_1 ns2 if2 v4_2 v6_2
  while read -r ns1 if1 v4_1 v6_1 ns2 if2 v4_2 v6_2; do
    veth_add "$ns1" "$if1" "$ns2" "$if2"
    ip -n "$ns1" addr add "$v4_1" dev "$if1"
    ip -n "$ns2" addr add "$v4_2" dev "$if2"
    ip -n "$ns1" addr add "$v6_1" dev "$if1" nodad
    ip -n "$ns2" addr add "$v6_2" dev "$if2" nodad
  done <<EOF
$NS_HA ${P}ah 198.18.1.2/24 2001:db8:a::2/64 $NS_GA ${P}al 198.18.1.1/24 2001:db8:a::1/64
$NS_GB ${P}bl 198.18.2.1/24 2001:db8:b::1/64 $NS_HB ${P}bh 198.18.2.2/24 2001:db8:b::2/64
$NS_GA ${P}au 203.0.113.1/25 2001:db8:f0::1/64 $NS_NET ${P}na 203.0.113.126/25 2001:db8:f0::ff/64
$NS_GB ${P}b1 203.0.113.129/25 2001:db8:f1::1/64 $NS_NET ${P}n1 203.0.113.254/25 2001:db8:f1::ff/64
$NS_GB ${P}b2 198.51.100.1/24 2001:db8:f2::1/64 $NS_NET ${P}n2 198.51.100.254/24 2001:db8:f2::ff/64
EOF
  ip -n "$NS_HA" route add default via 198.18.1.1
  ip -n "$NS_HA" -6 route add default via 2001:db8:a::1
  ip -n "$NS_HB" route add default via 198.18.2.1
  ip -n "$NS_HB" -6 route add default via 2001:db8:b::1
  ip -n "$NS_GA" route add default via 203.0.113.126
  ip -n "$NS_GA" -6 route add default via 2001:db8:f0::ff
  # gw-b: line 1 by default; each source address through its own line.
  ip -n "$NS_GB" route add default via 203.0.113.254
  ip -n "$NS_GB" -6 route add default via 2001:db8:f1::ff
  ip -n "$NS_GB" route add default via 203.0.113.254 dev "${P}b1" table 101
  ip -n "$NS_GB" route add default via 198.51.100.254 dev "${P}b2" table 102
  ip -n "$NS_GB" -6 route add default via 2001:db8:f1::ff dev "${P}b1" table 101
  ip -n "$NS_GB" -6 route add default via 2001:db8:f2::ff dev "${P}b2" table 102
  ip -n "$NS_GB" rule add from 203.0.113.129 lookup 101
  ip -n "$NS_GB" rule add from 198.51.100.1 lookup 102
  ip -n "$NS_GB" -6 rule add from 2001:db8:f1::1 lookup 101
  ip -n "$NS_GB" -6 rule add from 2001:db8:f2::1 lookup 102

  for ns in "$NS_HA" "$NS_GA" "$NS_NET" "$NS_GB" "$NS_HB"; do
    wait_until "IPv6 DAD in $ns" 10 no_tentative "$ns"
  done
  local src dst
  for src in 203.0.113.129 198.51.100.1 2001:db8:f1::1 2001:db8:f2::1; do
    dst=203.0.113.1
    [[ $src == *:* ]] && dst=2001:db8:f0::1
    wait_until "gw-b -> gw-a from $src" 10 ping_once "$NS_GB" "$dst" -I "$src"
  done
  wait_until "LAN A" 10 ping_once "$NS_HA" 2001:db8:a::1
  wait_until "LAN B" 10 ping_once "$NS_HB" 2001:db8:b::1
}

blackhole_on() {
  ip netns exec "$NS_NET" nft -f - <<EOF
table inet ${P}bh {
  chain forward {
    type filter hook forward priority 0; policy accept;
    iifname "${P}n1" drop
    oifname "${P}n1" drop
  }
}
EOF
}

blackhole_off() { ip netns exec "$NS_NET" nft delete table inet "${P}bh"; }

# --- the gateways ---------------------------------------------------------------------
# Per underlay family: gw-a's address, gw-b's two, and HOST:PORT.
set_family() {
  FAM=$1
  if [[ $FAM == v4 ]]; then
    ADDR_A=203.0.113.1 ADDR_B1=203.0.113.129 ADDR_B2=198.51.100.1
  else
    ADDR_A=2001:db8:f0::1 ADDR_B1=2001:db8:f1::1 ADDR_B2=2001:db8:f2::1
  fi
}
ep() { if [[ $1 == *:* ]]; then echo "[$1]:$PORT"; else echo "$1:$PORT"; fi; }

# side_vars SIDE: ME (1/2), THEM, PEER (the other side's letter).
side_vars() {
  if [[ $1 == a ]]; then ME=1 THEM=2 PEER=b; else ME=2 THEM=1 PEER=a; fi
}

# sl_config SIDE PEER-LINE...: gw-SIDE.yaml with one peer (the other office).
sl_config() {
  local side=$1
  shift
  side_vars "$side"
  {
    yaml_interface "${TUN[$side]}" "$WORK_DIR/$side.key" "address: [198.18.0.$ME/24, \"2001:db8::$ME/64\"]"
    echo "peers:"
    yaml_peer "office-$PEER" "$WORK_DIR/$PEER.pub" \
      "allowed-ips: [198.18.$THEM.0/24, 198.18.0.$THEM/32, \"2001:db8:$PEER::/64\", \"2001:db8::$THEM/128\"]" "$@"
  } >"$WORK_DIR/gw-$side.yaml"
}

# start_sl SIDE PEER-LINE...: sitelinkd on gw-SIDE.
start_sl() {
  local side=$1
  shift
  sl_config "$side" "$@"
  start_gw "$side"
}

# start_wg SIDE [ENDPOINT]: stock wireguard-go on gw-SIDE, set up with wg.
start_wg() {
  local side=$1 endpoint=${2:-} ns=${GW_NS[$1]} tun=${TUN[$1]}
  side_vars "$side"
  start_wireguard_go "$ns" "$tun" "$WORK_DIR/wg-$side.$RUN.log" || return 1
  WG_PIDS[$side]=$WG_PID
  local args=(peer "$(<"$WORK_DIR/$PEER.pub")"
    allowed-ips "198.18.$THEM.0/24,198.18.0.$THEM/32,2001:db8:$PEER::/64,2001:db8::$THEM/128")
  [[ -z $endpoint ]] || args+=(endpoint "$endpoint")
  wg set "$tun" private-key "$WORK_DIR/$side.key" listen-port "$PORT" "${args[@]}"
  ip -n "$ns" addr add "198.18.0.$ME/24" dev "$tun"
  ip -n "$ns" addr add "2001:db8::$ME/64" dev "$tun" nodad
  ip -n "$ns" link set "$tun" up
  ip -n "$ns" route add "198.18.$THEM.0/24" dev "$tun"
  ip -n "$ns" -6 route add "2001:db8:$PEER::/64" dev "$tun"
}

# The endpoints lists of the holder (SPEC.md "Real office networks").
list_by_source() {
  printf '%s\n' "endpoints:" \
    "  - endpoint: \"$(ep "$ADDR_A")\"" "    source: \"$ADDR_B1\"" \
    "  - endpoint: \"$(ep "$ADDR_A")\"" "    source: \"$ADDR_B2\""
}
list_by_address() {
  printf '%s\n' "endpoints:" "  - \"$(ep "$ADDR_B1")\"" "  - \"$(ep "$ADDR_B2")\""
}

# --- measurement ----------------------------------------------------------------------
# replies_after MS N: the ping log has at least N replies that arrived after MS.
replies_after() {
  awk -v t="$1" -v n="$2" -F'[][]' \
    '/bytes from/ && $2 * 1000 > t { c++ } END { exit !(c >= n) }' "$PING_LOG"
}

# active_endpoint: the holder's "active_endpoint" from `sitelink show --json`.
active_endpoint() {
  timeout 10 "$SITELINK" show --json "${TUN[$HOLDER]}" >"$WORK_DIR/show.json" 2>/dev/null || true
  show_query peer "$WORK_DIR/show.json" 0 active_endpoint || echo "?"
}

expect_active() {
  local label=$1 want=$2 got
  got=$(active_endpoint)
  if [[ $got == "$want" ]]; then
    pass "$label: show --json on gw-$HOLDER: active_endpoint $got"
  else
    fail "$label: show --json on gw-$HOLDER: active_endpoint '$got', want $want"
  fi
}

# window FIGURE-STEM FROM TO: the longest gap and the losses in [FROM, TO]
# as figures; GAP_MS and LOST for the caller.
window() {
  local stem=$1 sent
  read -r GAP_MS LOST sent < <(python3 "$GAPS" "$PING_LOG" "$2" "$3" || echo "- - -")
  figure "$FAM.$SCEN.${stem}_gap_ms" "${GAP_MS//-/}" ms
  figure "$FAM.$SCEN.${stem}_lost" "${LOST//-/}" "packets of $sent"
}

stop_sides() {
  local side
  for side in a b; do
    if [[ -n ${WG_PIDS[$side]:-} ]]; then
      stop_pid "${WG_PIDS[$side]}"
      WG_PIDS[$side]=""
    elif [[ -n ${GW_PID[$side]:-} ]]; then
      stop_gw_check "$LABEL" "$side"
    fi
  done
  rm -f "/run/wireguard/${TUN[a]}.sock" "/run/wireguard/${TUN[b]}.sock"
}

# --- one scenario ----------------------------------------------------------------------
RUN=0

scenario() {
  SCEN=$1
  set_family "$2"
  LABEL="$SCEN.$FAM"
  RUN=$((RUN + 1))
  TUN=([a]=${P}ta$RUN [b]=${P}tb$RUN)
  GW_PID=([a]="" [b]="")
  on_cleanup rm -f "/run/wireguard/${TUN[a]}.sock" "/run/wireguard/${TUN[b]}.sock"
  log "=== $LABEL ==="
  mapfile -t BY_SOURCE < <(list_by_source)
  mapfile -t BY_ADDRESS < <(list_by_address)
  local ok=0
  case $SCEN in
    sl-src)
      HOLDER=b
      start_sl a && start_sl b "${BY_SOURCE[@]}" && ok=1
      ;;
    sl-addr)
      HOLDER=a
      start_sl b && start_sl a "${BY_ADDRESS[@]}" && ok=1
      ;;
    wg-far)
      HOLDER=a
      start_wg b && start_sl a "${BY_ADDRESS[@]}" && ok=1
      ;;
    wg-near)
      HOLDER=b
      start_wg a && start_sl b "${BY_SOURCE[@]}" && ok=1
      ;;
    control | manual)
      HOLDER=a
      start_wg b && start_wg a "$(ep "$ADDR_B1")" && ok=1
      ;;
  esac
  if ((!ok)); then
    fail "$LABEL: the gateways did not start"
    stop_sides
    return
  fi
  side_vars "$HOLDER"
  local dst=198.18.$THEM.2
  [[ $FAM == v6 ]] && dst=2001:db8:$PEER::2
  PING_LOG="$WORK_DIR/ping.$RUN.log"
  start_bg "$PING_LOG" ip netns exec "${HOST_NS[$HOLDER]}" \
    stdbuf -oL ping -n -D -O -i 0.05 -W 1 -w "$PING_DEADLINE" "$dst"
  local ping_pid=$BG_PID
  if ! wait_until "$STEADY replies from $dst" "$FIRST_BOUND" replies_after 0 "$STEADY"; then
    fail "$LABEL: no steady ping from host-$HOLDER to $dst through the tunnel"
    stop_pid "$ping_pid"
    stop_sides
    return
  fi
  pass "$LABEL: host-$HOLDER pings $dst through the tunnel"
  local sl=1 hlog=""
  [[ $SCEN == control || $SCEN == manual ]] && sl=0
  if ((sl)); then
    hlog=${GW_LOG[$HOLDER]}
    expect_active "$LABEL: before the fault" 0
  fi

  # Failover: line 1 dead for BLACKHOLE_S seconds.
  local t_bh t_up t_fb t_back
  t_bh=$(now_ms)
  blackhole_on
  [[ $SCEN != manual ]] || wg set "${TUN[a]}" peer "$(<"$WORK_DIR/b.pub")" endpoint "$(ep "$ADDR_B2")"
  if [[ $SCEN != control ]]; then
    if wait_until "traffic to resume" "$RESUME_BOUND" replies_after $((t_bh + 1500)) 5; then
      t_up=$(now_ms)
      pass "$LABEL: traffic resumed $((t_up - t_bh)) ms into the blackhole of line 1"
    else
      t_up=$(now_ms)
      fail "$LABEL: no traffic within $RESUME_BOUND s of line 1's blackhole"
    fi
  fi
  if ((sl)); then
    if wait_until "the failover log line" "$SWITCH_LOG_BOUND" grep -q "not answering, trying" "$hlog"; then
      pass "$LABEL: gw-$HOLDER logs: $(grep -m1 "not answering, trying" "$hlog" | tr -s ' ')"
    else
      fail "$LABEL: gw-$HOLDER logged no 'not answering, trying'"
    fi
    expect_active "$LABEL: during the fault" 1
  fi
  local rest=$((t_bh + BLACKHOLE_S * 1000 - $(now_ms)))
  ((rest <= 0)) || sleep "$((rest / 1000)).$(printf '%03d' $((rest % 1000)))" # the fault's duration
  if [[ $SCEN == control ]]; then
    t_up=$(now_ms)
    if replies_after $((t_bh + 1500)) 1; then
      fail "$LABEL: replies crossed the blackhole with stock WireGuard on both ends"
    else
      pass "$LABEL: no reply for the $BLACKHOLE_S s of the blackhole with stock WireGuard on both ends"
    fi
  fi

  # Failback: line 1 back.
  t_fb=$(now_ms)
  blackhole_off
  [[ $SCEN != manual ]] || wg set "${TUN[a]}" peer "$(<"$WORK_DIR/b.pub")" endpoint "$(ep "$ADDR_B1")"
  if ((sl)); then
    if wait_until "back on the preferred endpoint" "$FAILBACK_BOUND" grep -q "back on preferred endpoint" "$hlog"; then
      t_back=$(now_ms)
      pass "$LABEL: gw-$HOLDER logs: $(grep -m1 "back on preferred endpoint" "$hlog" | tr -s ' ')"
      figure "$FAM.$SCEN.failback_s" "$(((t_back - t_fb + 500) / 1000))" s
    else
      t_back=$(now_ms)
      fail "$LABEL: gw-$HOLDER not back on its preferred endpoint $FAILBACK_BOUND s after line 1 returned"
    fi
    expect_active "$LABEL: after the fault" 0
  else
    t_back=$t_fb
  fi
  if wait_until "traffic after the fault" 10 replies_after $((t_back + 2000)) 1; then
    pass "$LABEL: traffic flows after line 1 returned"
  else
    fail "$LABEL: no traffic after line 1 returned"
  fi
  stop_pid "$ping_pid"
  window failover "$t_bh" "$t_up"
  [[ $SCEN == control ]] || window failback "$t_fb" $((t_back + 1000))
  if ((sl)); then
    if [[ $LOST == 0 ]]; then
      pass "$LABEL: no packet lost at failback (make-before-break)"
    else
      fail "$LABEL: '$LOST' packets lost at failback (want 0: make-before-break)"
    fi
    local n
    for n in "not answering, trying" "back on preferred endpoint"; do
      if [[ $(count "$n" "$hlog") == 1 ]]; then
        pass "$LABEL: gw-$HOLDER logged '$n' exactly once"
      else
        fail "$LABEL: gw-$HOLDER logged '$n' $(count "$n" "$hlog") times, want 1"
      fi
    done
    timeout 10 "$SITELINK" show --json "${TUN[$HOLDER]}" >"$WORK_DIR/show.json" 2>/dev/null || true
    n=$(show_query peer "$WORK_DIR/show.json" 0 endpoint_switches || echo "?")
    if [[ $n == 2 ]]; then
      pass "$LABEL: show --json on gw-$HOLDER counts 2 endpoint switches"
    else
      fail "$LABEL: show --json on gw-$HOLDER counts '$n' endpoint switches, want 2"
    fi
  fi
  stop_sides
}

only() {
  local want
  [[ -n ${FAILOVER_ONLY:-} ]] || return 0
  for want in $FAILOVER_ONLY; do
    [[ $want == "$1" || $want == "$1.$2" ]] && return 0
  done
  return 1
}

gen_key wg "$WORK_DIR" a
gen_key wg "$WORK_DIR" b
build_networks
for fam in v4 v6; do
  for scen in sl-src sl-addr wg-far wg-near manual control; do
    only "$scen" "$fam" || continue
    scenario "$scen" "$fam"
  done
done
