#!/usr/bin/env bash
# Handshake flood (issue 7): a flooder namespace blasts WireGuard handshake
# traffic at a sitelinkd hub while two legitimate peer gateways keep a ping
# stream through the hub and rekey.
#
# Usage: flood.sh [--quick|--full] SITELINKD SITELINK FLOOD_TOOL
#   --quick (default): a 20 s flood at QUICK_RATE, rekey-after-time 10 s
#   --full:            a 60 s flood at FULL_RATE, rekey-after-time 15 s
#   FLOOD_RATE=PPS overrides the rate (0 = as fast as flood_tool can).
#
#   hub (${P}h)          net (${P}n): bridge ${P}br          p1 (${P}1), p2 (${P}2)
#   ${P}hu 203.0.113.1 ---- ${P}nh                ${P}n1 ---- ${P}1u 203.0.113.2
#   TUN ${P}ht 198.18.0.1/32                   ${P}n2 ---- ${P}2u 203.0.113.3
#   198.51.100.0/24 via 203.0.113.100          ${P}nf ---- ${P}fu 203.0.113.100   flooder (${P}f)
#
#   p1: TUN ${P}1t 198.18.0.2/32, LAN address 198.18.1.1/32 (on lo)
#   p2: TUN ${P}2t 198.18.0.3/32, LAN address 198.18.2.1/32 (on lo)
#
# The hub knows both peers (allowed-ips: their tunnel address and LAN /24)
# but not their endpoints; each peer has the hub at 203.0.113.1:51820. All
# three run sitelinkd with rekey-after-time shortened, so each peer rekeys
# during the flood. The flooder sends from spoofed sources in
# 198.51.100.0/24 (raw socket); the hub routes that range back to the
# flooder, whose forwarding is off, so cookie replies die there: nothing
# leaves the namespaces.
#
# The flood runs in four phases, one flood_tool run each, while p1 and p2
# ping 198.18.0.1 from their LAN address every 50 ms:
#   replay   p1's first initiation (captured with tcpdump at start-up) at
#            REPLAY_RATE, below the under-load threshold (512/s), so the hub
#            does the DH and must refuse it as a replay
#   garbage  random datagrams (bad-mac1 initiations and responses, transport
#            with random indices, random sizes and types) at RATE
#   mac1     initiations with a valid mac1 from unknown keys at RATE
#   mix      the three in turn at RATE
# The high-rate phases come last and back to back: a peer's rekey attempt
# meets the load, is answered with a cookie and retried with mac2 5 s later,
# still under load.
#
# Checks (PASS/FAIL; the exit status is non-zero if any failed):
#   - the hub's drop counters classify each phase: replay ->
#     handshake-refused, and p1's endpoint on the hub did not move; garbage
#     -> invalid-mac1 and malformed; mac1 -> cookie-sent (under load); mix ->
#     invalid-mac1 and cookie-sent
#   - each peer completed at least one handshake with the hub during the
#     flood (its latest handshake on the hub changed: a rekey), and at
#     least one while the hub was under load, after the peer had received
#     a cookie reply (its log): it rekeyed under load with a cookie (mac2)
#   - each peer's ping loss during the flood is below LOSS_BOUND_PCT
#   - after the flood the hub is alive, answers `sitelink show` and a ping
#     from each peer
# Figures (FIGURE: flood.NAME=VALUE UNIT; $STRESS_OUT/flood.json): per phase
# the offered rate, the hub's CPU (% of one core), the time it was runnable
# but waiting for a CPU (the machine's fault, not the hub's), its socket
# overflows and its drop counters; over the whole flood the same, plus the
# datagrams that reached the hub's interface, the replies (cookies) that
# went back to the flooder, and per peer ping loss and RTT, handshakes
# (under load), and cookies received.
#
# Needs root, ip, ping, timeout, wg, tcpdump, python3.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/netns/lib.sh
source "$SCRIPT_DIR/../netns/lib.sh"
# shellcheck source=tests/stress/proc-figures.sh
source "$SCRIPT_DIR/proc-figures.sh"   # MODE from --quick/--full
shift "$MODE_ARGS"
if (($# != 3)); then
  echo "usage: flood.sh [--quick|--full] SITELINKD SITELINK FLOOD_TOOL" >&2
  exit 64
fi
SITELINKD=$1 SITELINK=$2 FLOOD_TOOL=$3
lib_init flood slf
# shellcheck source=tests/stress/figures.sh
source "$SCRIPT_DIR/figures.sh"
figures_init flood "$MODE"
# shellcheck source=tests/netns/topology.sh
source "$SCRIPT_DIR/../netns/topology.sh"

QUICK_RATE=20000
FULL_RATE=50000
if [[ $MODE == quick ]]; then
  RATE=${FLOOD_RATE:-$QUICK_RATE} REKEY=10
  PHASES=("replay 4" "garbage 4" "mac1 6" "mix 6")
else
  RATE=${FLOOD_RATE:-$FULL_RATE} REKEY=15
  PHASES=("replay 10" "garbage 10" "mac1 20" "mix 20")
fi
REPLAY_RATE=400      # pps: below the hub's under-load threshold (512/s)
PING_INTERVAL=0.05
LOSS_BOUND_PCT=5
START_BOUND=15       # s: daemons listening, tunnels up
SPOOF=198.51.100.0/24
HUB=203.0.113.1 FLOODER=203.0.113.100

P=$PREFIX
NS_H="${P}h" NS_N="${P}n" NS_1="${P}1" NS_2="${P}2" NS_F="${P}f"
TUN_H="${P}ht" TUN_1="${P}1t" TUN_2="${P}2t"
UL_H="${P}hu" UL_F="${P}fu"
GW_NS=([h]=$NS_H [1]=$NS_1 [2]=$NS_2)
declare -A TUN=([h]=$TUN_H [1]=$TUN_1 [2]=$TUN_2)

require_root
require_tools ip ping timeout wg tcpdump python3 sysctl
require_tun
require_exec SITELINKD SITELINK FLOOD_TOOL

# --- topology ------------------------------------------------------------------------
on_cleanup rm -f "/run/wireguard/$TUN_H.sock" "/run/wireguard/$TUN_1.sock" "/run/wireguard/$TUN_2.sock"
ns_add "$NS_H" "$NS_N" "$NS_1" "$NS_2" "$NS_F"
ip -n "$NS_N" link add "${P}br" type bridge
ip -n "$NS_N" link set "${P}br" up
for side in h 1 2 f; do
  veth_add "$NS_N" "${P}n$side" "${P}$side" "${P}${side}u"
  ip -n "$NS_N" link set "${P}n$side" master "${P}br"
done
ip -n "$NS_H" addr add "$HUB/24" dev "$UL_H"
ip -n "$NS_1" addr add 203.0.113.2/24 dev "${P}1u"
ip -n "$NS_2" addr add 203.0.113.3/24 dev "${P}2u"
ip -n "$NS_F" addr add "$FLOODER/24" dev "$UL_F"
ip -n "$NS_1" addr add 198.18.1.1/32 dev lo
ip -n "$NS_2" addr add 198.18.2.1/32 dev lo
# Replies to the spoofed sources go to the flooder, which drops them: a
# namespace that does not forward discards datagrams for other addresses
# without a word (no ICMP).
ip -n "$NS_H" route add "$SPOOF" via "$FLOODER"
ip netns exec "$NS_F" sysctl -qw net.ipv4.conf.all.forwarding=0

wait_until "underlay hub-p1" 10 ping_once "$NS_1" "$HUB"
wait_until "underlay hub-p2" 10 ping_once "$NS_2" "$HUB"
wait_until "underlay hub-flooder" 10 ping_once "$NS_F" "$HUB"

# --- keys and configs ------------------------------------------------------------------
gw_keys h 1 2
pub() { cat "$WORK_DIR/gw-$1.pub"; }

# interface_yaml GW N: the interface section; tunnel address 198.18.0.N/32.
interface_yaml() {
  yaml_interface "${TUN[$1]}" "$WORK_DIR/gw-$1.key" "address: [198.18.0.$2/32]" "rekey-after-time: $REKEY"
  echo "peers:"
}
{
  interface_yaml h 1
  for n in 1 2; do
    yaml_peer "p$n" "$WORK_DIR/gw-$n.pub" "allowed-ips: [198.18.0.$((n + 1))/32, 198.18.$n.0/24]"
  done
} >"$WORK_DIR/gw-h.yaml"
for n in 1 2; do
  {
    interface_yaml "$n" $((n + 1))
    yaml_peer hub "$WORK_DIR/gw-h.pub" "endpoint: $HUB:$PORT" "allowed-ips: [198.18.0.1/32]"
  } >"$WORK_DIR/gw-$n.yaml"
done

# The hub logs at info: at debug it would write a line per refused packet
# class every so often, which is not what is measured here.
start_gw h info

# A genuine initiation to replay: p1's first one, as the hub received it.
CAPTURE="$WORK_DIR/p1-initiation.pcap"
start_bg "$WORK_DIR/tcpdump.log" ip netns exec "$NS_H" timeout 30 tcpdump -n -U -c 1 -i "$UL_H" -w "$CAPTURE" \
  "udp dst port $PORT and src host 203.0.113.2 and udp[4:2] = 156 and udp[8:4] = 0x01000000"
TCPDUMP_PID=$BG_PID
wait_until "tcpdump to listen" 10 grep -q 'listening on' "$WORK_DIR/tcpdump.log"
start_gw 1 debug
start_gw 2 debug
if wait_until "p1's initiation captured" 10 bash -c "! kill -0 $TCPDUMP_PID 2>/dev/null"; then
  _lib_reap "$TCPDUMP_PID"
fi

# hs_of PEER: the hub's latest handshake (Unix seconds) with pPEER, or "".
hs_of() { wg_field "$NS_H" "$TUN_H" latest-handshakes "$(pub "$1")"; }
has_hs() { has_handshake "$NS_H" "$TUN_H" "$(pub "$1")"; }
tunnel_ping() { ping_once "${GW_NS[$1]}" 198.18.0.1 -I "198.18.$1.1"; }

for n in 1 2; do
  if wait_until "p$n's tunnel" "$START_BOUND" has_hs "$n" && wait_until "p$n's ping" 10 tunnel_ping "$n"; then
    pass "start: p$n has a tunnel to the hub and pings through it"
  else
    fail "start: p$n has no working tunnel to the hub within ${START_BOUND}s"
  fi
done
if [[ -s $CAPTURE ]]; then
  pass "start: captured p1's handshake initiation with tcpdump"
else
  fail "start: tcpdump captured no initiation from p1"
  exit 1
fi

# --- measurements ------------------------------------------------------------------------
# show_json FILE: the hub's `sitelink show --json` into FILE; false if it
# does not answer.
show_json() { ip netns exec "$NS_H" timeout 10 "$SITELINK" show "$TUN_H" --json >"$1" 2>"$1.err"; }

# drops FILE: "reason count" lines from a saved `sitelink show --json`.
drops() { show_query drops "$1" || true; }
# drop_deltas BEFORE AFTER: "reason increase" for every reason counted.
drop_deltas() { show_query drop-deltas "$1" "$2" || true; }
endpoint_of() { show_query peer "$1" "$(pub "$2")" endpoint || true; }

iface_stat() { ip netns exec "$1" cat "/sys/class/net/$2/statistics/$3"; }
# udp_stat NS FIELD: a counter from the Udp: lines of /proc/net/snmp.
udp_stat() {
  # shellcheck disable=SC2016  # an awk program, run by ip netns exec
  ip netns exec "$1" awk -v f="$2" '$1 == "Udp:" { if (!n) { for (i = 2; i <= NF; i++) col[$i] = i; n = 1 } else print $col[f] }' /proc/net/snmp
}

# proc_wait_ns PID: time its threads (and its children's: sitelinkd's
# network process) spent runnable but waiting for a CPU (schedstat's second
# field): high when the machine, not the hub, is busy.
proc_wait_ns() {
  local p t run wait total=0
  for p in $(_proc_tree "$1"); do
    for t in "/proc/$p/task/"*/schedstat; do
      read -r run wait _ <"$t" 2>/dev/null || continue
      total=$((total + wait))
    done
  done
  echo "$total"
}

# cpu_pct NS_BEFORE NS_AFTER WINDOW_MS: CPU time as a % of one core.
cpu_pct() { python3 -c "print(round(($2 - $1) / ($3 * 1e4), 1))"; }

# sample_handshakes: every second, the hub's latest handshakes ("PUB EPOCH").
sample_handshakes() {
  while :; do
    ip netns exec "$NS_H" timeout 5 wg show "$TUN_H" latest-handshakes 2>/dev/null || echo "sample failed"
    sleep 1
  done
}

# --- the flood ------------------------------------------------------------------------
total_s=0
for ph in "${PHASES[@]}"; do total_s=$((total_s + ${ph#* })); done
PINGS=$(python3 -c "print(int($total_s / $PING_INTERVAL))")
log "flood: $MODE, ${total_s}s in ${#PHASES[@]} phases at $RATE pps (replay at $REPLAY_RATE pps), $PINGS pings per peer"

show_json "$WORK_DIR/show.0.json" || fail "the hub does not answer sitelink show before the flood"
HS_BEFORE=()
for n in 1 2; do
  HS_BEFORE[n]=$(hs_of "$n")
done
rx0=$(iface_stat "$NS_H" "$UL_H" rx_packets)
frx0=$(iface_stat "$NS_F" "$UL_F" rx_packets)
rcvbuf0=$(udp_stat "$NS_H" RcvbufErrors)
declare -A PING_PID=()
for n in 1 2; do
  start_bg "$WORK_DIR/ping-p$n.out" ip netns exec "${GW_NS[$n]}" timeout $((total_s + 30)) \
    ping -n -q -i "$PING_INTERVAL" -c "$PINGS" -W 1 -I "198.18.$n.1" 198.18.0.1
  PING_PID[$n]=$BG_PID
done
start_bg "$WORK_DIR/handshakes.log" sample_handshakes
SAMPLER_PID=$BG_PID
t_start=$(date +%s)
cpu0=$(proc_cpu_ns "${GW_PID[h]}")
wait0=$(proc_wait_ns "${GW_PID[h]}")
ms0=$(now_ms)

# run_phase N MODE SECONDS: one flood_tool run; the hub's counters before
# and after go to phase.N (figures and checks come after the flood, so the
# gaps between phases stay short) and show.N.json.
LOAD_FROM="" LOAD_TO=""
run_phase() {
  local n=$1 mode=$2 secs=$3 rate=$RATE before
  [[ $mode == replay ]] && rate=$REPLAY_RATE
  before="$(proc_cpu_ns "${GW_PID[h]}") $(proc_wait_ns "${GW_PID[h]}") $(now_ms) $(udp_stat "$NS_H" RcvbufErrors)"
  local t_a=${EPOCHREALTIME%.*}
  ip netns exec "$NS_F" timeout $((secs + 20)) "$FLOOD_TOOL" --target "$HUB:$PORT" --mode "$mode" \
    --duration "$secs" --rate "$rate" --spoof "$SPOOF" --gateway-public-key "$(pub h)" \
    --replay-file "$CAPTURE" >"$WORK_DIR/flood-$mode.out" 2>"$WORK_DIR/flood-$mode.log" ||
    fail "$mode: flood_tool failed: $(cat "$WORK_DIR/flood-$mode.log")"
  if [[ $mode != replay ]]; then
    LOAD_FROM=${LOAD_FROM:-$t_a}
    LOAD_TO=${EPOCHREALTIME%.*}
  fi
  echo "$before $(proc_cpu_ns "${GW_PID[h]}") $(proc_wait_ns "${GW_PID[h]}") $(now_ms) $(udp_stat "$NS_H" RcvbufErrors)" \
    >"$WORK_DIR/phase.$n"
  show_json "$WORK_DIR/show.$n.json" || echo "failed" >"$WORK_DIR/show.$n.json"
}

N_PHASES=${#PHASES[@]}
for ((i = 1; i <= N_PHASES; i++)); do
  ph=${PHASES[i - 1]}
  run_phase "$i" "${ph% *}" "${ph#* }"
done

cpu1=$(proc_cpu_ns "${GW_PID[h]}")
wait1=$(proc_wait_ns "${GW_PID[h]}")
ms1=$(now_ms)
rx1=$(iface_stat "$NS_H" "$UL_H" rx_packets)
frx1=$(iface_stat "$NS_F" "$UL_F" rx_packets)
rcvbuf1=$(udp_stat "$NS_H" RcvbufErrors)
stop_pid "$SAMPLER_PID" 3
for n in 1 2; do
  wait_until "p$n's ping stream to end" 30 bash -c "! kill -0 ${PING_PID[$n]} 2>/dev/null" || true
  _lib_reap "${PING_PID[$n]}"
done

# --- results ----------------------------------------------------------------------------
# report_phase N MODE WANT...: the phase's figures; each WANT drop reason
# must have counted something.
offered_total=0
report_phase() {
  local n=$1 mode=$2 line sent pps cpu_a wait_a ms_a ovf_a cpu_b wait_b ms_b ovf_b
  shift 2
  line=$(tail -n 1 "$WORK_DIR/flood-$mode.out")
  log "$line"
  sent=$(sed -n 's/.* sent=\([0-9]*\) .*/\1/p' <<<"$line")
  pps=$(sed -n 's/.* rate=\([0-9]*\) pps.*/\1/p' <<<"$line")
  offered_total=$((offered_total + ${sent:-0}))
  read -r cpu_a wait_a ms_a ovf_a cpu_b wait_b ms_b ovf_b <"$WORK_DIR/phase.$n"
  figure "$mode.offered_rate" "${pps:-0}" pps
  figure "$mode.sent" "${sent:-0}" datagrams
  figure "$mode.hub_cpu" "$(cpu_pct "$cpu_a" "$cpu_b" $((ms_b - ms_a)))" "%"
  figure "$mode.hub_cpu_wait" "$(cpu_pct "$wait_a" "$wait_b" $((ms_b - ms_a)))" "%"
  figure "$mode.hub_socket_overflows" $((ovf_b - ovf_a)) datagrams
  if [[ $(<"$WORK_DIR/show.$n.json") == failed ]]; then
    fail "$mode: the hub did not answer sitelink show after the phase"
    cp "$WORK_DIR/show.$((n - 1)).json" "$WORK_DIR/show.$n.json"
    return
  fi
  local r deltas want d
  deltas=$(drop_deltas "$WORK_DIR/show.$((n - 1)).json" "$WORK_DIR/show.$n.json")
  delta_of() { awk -v r="$1" '$1 == r { n = $2 } END { print n + 0 }' <<<"$deltas"; }
  for r in invalid-mac1 malformed unknown-index cookie-sent rate-limited unknown-peer handshake-refused; do
    figure "$mode.hub_drops.$r" "$(delta_of "$r")" datagrams
  done
  for want in "$@"; do
    d=$(delta_of "$want")
    if ((d > 0)); then
      pass "$mode: the hub classified the flood: $want +$d"
    else
      fail "$mode: the hub's $want counter did not move ($d) during the $mode flood"
    fi
  done
}

for ((i = 1; i <= N_PHASES; i++)); do
  mode=${PHASES[i - 1]% *}
  case $mode in
    garbage) report_phase "$i" "$mode" invalid-mac1 malformed ;;
    mac1) report_phase "$i" "$mode" cookie-sent ;;
    replay)
      report_phase "$i" "$mode" handshake-refused
      ep=$(endpoint_of "$WORK_DIR/show.$i.json" 1)
      if [[ $ep == "203.0.113.2:$PORT" ]]; then
        pass "replay: p1's endpoint on the hub is still $ep"
      else
        fail "replay: p1's endpoint on the hub moved to '${ep:-none}'"
      fi
      ;;
    mix) report_phase "$i" "$mode" invalid-mac1 cookie-sent ;;
  esac
done

window_ms=$((ms1 - ms0))
figure flood_seconds "$(python3 -c "print(round($window_ms / 1000, 1))")" s
figure offered_total "$offered_total" datagrams
figure offered_mean_rate "$(python3 -c "print(round($offered_total * 1000 / $window_ms))")" pps
figure hub_interface_rx "$((rx1 - rx0))" datagrams
figure hub_socket_overflows "$((rcvbuf1 - rcvbuf0))" datagrams
figure replies_to_flooder "$((frx1 - frx0))" datagrams
figure hub_cpu "$(cpu_pct "$cpu0" "$cpu1" "$window_ms")" "%"
figure hub_cpu_wait "$(cpu_pct "$wait0" "$wait1" "$window_ms")" "%"

for n in 1 2; do
  out="$WORK_DIR/ping-p$n.out"
  ping_counts "$out"
  tx=$PING_TX rxp=$PING_RX
  rtt=$(sed -n 's|^rtt min/avg/max/mdev = [0-9.]*/\([0-9.]*\)/\([0-9.]*\)/.*|\1 \2|p' "$out")
  if [[ -z $tx || -z $rxp ]] || ((tx == 0)); then
    fail "p$n: no ping statistics: $(tr '\n' ' ' <"$out")"
    continue
  fi
  loss=$(python3 -c "print(round(100 * ($tx - $rxp) / $tx, 2))")
  figure "p$n.ping_sent" "$tx" packets
  figure "p$n.ping_loss" "$loss" "%"
  figure "p$n.rtt_avg" "${rtt% *}" ms
  figure "p$n.rtt_max" "${rtt#* }" ms
  if python3 -c "import sys; sys.exit(0 if $loss < $LOSS_BOUND_PCT else 1)"; then
    pass "p$n: ping loss during the flood $loss% ($rxp/$tx; bound $LOSS_BOUND_PCT%)"
  else
    fail "p$n: ping loss during the flood $loss% ($rxp/$tx) is not below $LOSS_BOUND_PCT%"
  fi
done

# Handshakes during the flood: distinct latest-handshake values after
# t_start; "under load" ones fall strictly inside the high-rate phases
# (which follow each other; whole seconds, so the boundaries do not count).
# A peer's rekey attempt meets the load, gets a cookie and retries with
# mac2 REKEY_TIMEOUT (5 s) later, still under load, whatever the age of its
# session at the start (< REKEY): the phases are laid out for it.
# cookie_times N: when pN received a cookie reply during the flood (Unix
# seconds, from the UTC time stamps of its log's "under load and sent a
# cookie" lines, which the peer writes only for a reply it could open).
cookie_times() {
  { grep 'under load and sent a cookie' "${GW_LOG[$1]}" || true; } | cut -d' ' -f1 | date -f - +%s.%3N |
    awk -v t="$t_start" '$1 >= t'
}
log "handshake samples: $(grep -c . "$WORK_DIR/handshakes.log" || true) lines, $(grep -c 'sample failed' "$WORK_DIR/handshakes.log" || true) failed"
for n in 1 2; do
  hs_times=$(awk -v k="$(pub "$n")" -v t="$t_start" '$1 == k && $2 > t { print $2 }' "$WORK_DIR/handshakes.log" | sort -u)
  count=$(grep -c . <<<"$hs_times" || true)
  loaded_times=$(awk -v a="$LOAD_FROM" -v b="$LOAD_TO" '$1 > a && $1 < b' <<<"$hs_times")
  loaded=$(grep -c . <<<"$loaded_times" || true)
  ctimes=$(cookie_times "$n")
  cookies=$(grep -c . <<<"$ctimes" || true)
  figure "p$n.handshake_age_at_start" "$((t_start - HS_BEFORE[n]))" s
  figure "p$n.handshakes" "$count" handshakes
  figure "p$n.handshakes_under_load" "$loaded" handshakes
  figure "p$n.cookies_received" "$cookies" cookies
  if ((count >= 1)); then
    pass "p$n: $count handshake(s) with the hub completed during the flood (rekey-after-time ${REKEY}s; $cookies cookie replies received)"
  else
    fail "p$n: no handshake with the hub completed during the ${total_s}s flood (rekey-after-time ${REKEY}s; $cookies cookie replies received)"
  fi
  if ((loaded >= 1)); then
    pass "p$n: $loaded of them while the hub was under load"
  else
    fail "p$n: no handshake completed while the hub was under load (handshakes at: $(tr '\n' ' ' <<<"$hs_times"); load $LOAD_FROM..$LOAD_TO)"
  fi
  # The rekey under load went through the cookie round trip: the peer got a
  # cookie reply, and a handshake under load completed after it (the hub
  # records whole seconds, so one at second S completed before S + 1).
  first_cookie=$(head -n 1 <<<"$ctimes")
  with_cookie=$(awk -v c="${first_cookie:-0}" 'c > 0 && $1 + 1 > c' <<<"$loaded_times" | head -n 1)
  if ((cookies == 0)); then
    fail "p$n: received no cookie reply during the flood: its rekey was never answered with a cookie"
  elif [[ -z $with_cookie ]]; then
    fail "p$n: got a cookie reply at $first_cookie but no handshake under load completed after it" \
      "(handshakes under load at: $(tr '\n' ' ' <<<"$loaded_times"))"
  else
    pass "p$n: rekeyed under load with a cookie: cookie reply at $first_cookie, handshake at $with_cookie (mac2)"
  fi
done

# --- after the flood -----------------------------------------------------------------------
if kill -0 "${GW_PID[h]}" 2>/dev/null; then
  pass "after: the hub's sitelinkd is still running"
else
  fail "after: the hub's sitelinkd died during the flood"
fi
if show_json "$WORK_DIR/show.end.json"; then
  pass "after: the hub answers sitelink show"
  log "hub drops after the flood: $(drops "$WORK_DIR/show.end.json" | tr '\n' ' ')"
else
  fail "after: the hub does not answer sitelink show: $(cat "$WORK_DIR/show.end.json.err")"
fi
for n in 1 2; do
  if wait_until "p$n's ping after the flood" 10 tunnel_ping "$n"; then
    pass "after: p$n pings the hub through the tunnel"
  else
    fail "after: p$n cannot ping the hub through the tunnel"
  fi
done
