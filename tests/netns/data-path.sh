#!/usr/bin/env bash
# The batched data path (issue 8) end to end: two sitelinkd gateways joining
# two offices in four network namespaces, run with every data-path switch on
# (the defaults: batch-io, udp-gso, udp-gro, tun-offload), again with GRO on
# the LAN side, and with all of them off; then with wireguard-go as the other
# gateway.
#
# Usage: data-path.sh [SITELINKD [SITELINK]]
#   defaults: <repo>/build/daemon/sitelinkd and <repo>/build/daemon/sitelink
#
#   host-a (${P}ha)        gw-a (${P}ga)                    gw-b (${P}gb)        host-b (${P}hb)
#   ${P}ah ------------ ${P}al   ${P}au ---------------- ${P}bu   ${P}bl ------------ ${P}bh
#   198.18.1.2/24     198.18.1.1/24  203.0.113.1/24    203.0.113.2/24  198.18.2.1/24    198.18.2.2/24
#   2001:db8:a::2/64  2001:db8:a::1/64 2001:db8:ffff::1/64 ::2/64   2001:db8:b::1/64  2001:db8:b::2/64
#                         TUN ${P}at (sitelinkd)           TUN ${P}bt (sitelinkd) or ${P}bw (wireguard-go)
#                         198.18.0.1/24, 2001:db8::1/64    198.18.0.2/24, 2001:db8::2/64
#
# The two gateways' interfaces have different names: the control sockets
# /run/wireguard/IFACE.sock are shared by all namespaces.
#
# Modes (MODES, default "on gro on6 off"): "on" with the defaults; "gro"
# with the defaults too but the hosts sending plain 1500-byte packets that
# the gateways' LAN veths merge with GRO (as a NIC does; the TUN then gets
# forwarded super-packets whose linear part is a whole packet, and whose
# virtio_net_hdr hdr_len says so); "on6" with the defaults over an IPv6
# underlay (2001:db8:ffff::1 and ::2; UDP GSO/GRO take the IPv6 paths);
# "off" with every switch off (crypto-threads: 0 too). Crypto threads: the
# default (auto: one per CPU beyond the first two) in "on", 1 in "on6", and
# 3 in "gro", more than a 2-core machine has, so that they are often called
# off or late. In each:
#   - checksummed TCP transfers (TRANSFER_MB of random data through python3
#     sockets; the receiver's sha256 and byte count must match): host-a ->
#     host-b and back over IPv4 and over IPv6 (forwarded through both
#     gateways), and gw-a -> gw-b over the tunnel's IPv4 and gw-b -> gw-a over
#     its IPv6 addresses (the gateways' own TCP);
#   - the TUN's average packet size during a transfer: with tun-offload on,
#     the sending gateway reads super-packets larger than the MTU and the
#     receiving one writes merged ones; with it off, nothing exceeds the MTU
#     (so the switch is known to do what it says);
#   - a UDP flow (iperf3 -u at UDP_RATE for 3 s, 1300-byte datagrams, 4 MB
#     socket buffers so that iperf3's own socket does not drop the bursts a
#     batching gateway delivers), host-a -> host-b over IPv4 and host-b ->
#     host-a over IPv6, and between the gateways' tunnel addresses (their
#     own UDP, which the TUN hands over with a partial checksum that
#     sitelinkd completes; a wrong one would be dropped by the receiver and
#     count as loss); the loss is reported with where it happened (the
#     sending gateway's TUN queue, the receiving gateway's UDP socket, the
#     receiver's socket: each a queue that overflowed because its reader
#     was slow, which on a shared machine is load, not a fault, so only a
#     figure), and loss that none of them explains (a datagram dropped on
#     the way: a bad checksum, a packet the gateways mangled or lost) above
#     UDP_LOSS_BOUND % fails;
#   - ping with -s 1400 and -s 3000 (fragments cross the tunnel), IPv4 and
#     IPv6, host to host, every echo answered (after one warm-up for IPv6's
#     path MTU);
#   - `sitelink show IFACE --json` on both gateways: the drop counters
#     tun-bad-packet, tun-write-failed and send-failed are 0;
#   - both daemons alive throughout and exiting 0 on SIGTERM.
# With the defaults, gw-b then runs wireguard-go instead, and host-a <->
# host-b transfers (both ways, IPv4 and IPv6) are checksummed again, with
# sitelinkd's drop counters checked.
#
# Figures (FIGURE: lines; JSON in $STRESS_OUT/data_path.json when STRESS_OUT
# is set): Mbit/s of each transfer (never asserted on: the machine is
# shared), UDP loss, average TUN packet sizes.
#
# Environment: MODES, TRANSFER_MB (default 50), UDP_RATE (default 200M),
# UDP_LOSS_BOUND (percent, default 10), TUNNEL_MTU (default 1420; larger
# values raise the underlay's MTU to match).
# Needs root, ip, ss, ping, timeout, sysctl, ethtool, python3, iperf3, sha256sum,
# wireguard-go, wg. Logs are printed on failure, or always with NETNS_VERBOSE=1.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/netns/lib.sh
source "$SCRIPT_DIR/lib.sh"
lib_init data-path sld
# shellcheck source=tests/netns/topology.sh
source "$SCRIPT_DIR/topology.sh"

MTU=${TUNNEL_MTU:-1420}
UNDERLAY=4 # the mode's underlay: 4 or 6
TRANSFER_MB=${TRANSFER_MB:-50}
UDP_RATE=${UDP_RATE:-200M}
UDP_LOSS_BOUND=${UDP_LOSS_BOUND:-10}
START_BOUND=10     # s: daemon up and tunnel established
TRANSFER_BOUND=120 # s: one transfer
STOP_BOUND=5       # s: SIGTERM to exit

WG_PID=""
NEXT_PORT=5001
FIGURES="" # "name value unit" lines, for the JSON

require_root
require_tools ip ss ping timeout sysctl ethtool python3 iperf3 sha256sum wireguard-go wg
require_tun
sitelink_binaries "$@"

# --- topology (the picture above), keys --------------------------------------------
two_offices ipv4+ipv6
P=$PREFIX
WG_IF="${P}bw"
on_cleanup rm -f "/run/wireguard/$WG_IF.sock"
if ((MTU > 1420)); then  # room for the tunnel's packets on the underlay
  ip -n "$NS_GA" link set "$UL_A" mtu $((MTU + 80))
  ip -n "$NS_GB" link set "$UL_B" mtu $((MTU + 80))
fi
gw_keys a b

# --- helpers -------------------------------------------------------------------------------
# figure NAME VALUE UNIT
figure() {
  echo "FIGURE: data_path.$1=$2 $3"
  FIGURES+="$1 $2 $3"$'\n'
}

write_figures() {
  [[ -n "${STRESS_OUT:-}" ]] || return 0
  mkdir -p "$STRESS_OUT"
  printf '%s' "$FIGURES" | python3 -c '
import json, sys
figures = {}
for line in sys.stdin:
    name, value, unit = line.split()
    figures[name] = {"value": float(value), "unit": unit}
json.dump({"area": "data_path", "figures": figures}, sys.stdout, indent=2)
print()' >"$STRESS_OUT/data_path.json"
  log "figures in $STRESS_OUT/data_path.json"
}

XFER="$SCRIPT_DIR/../support/xfer.py" # sha256-checked TCP transfers
DATA="$WORK_DIR/data.bin"
head -c "$((TRANSFER_MB * 1024 * 1024))" /dev/urandom >"$DATA"
DATA_SHA=$(sha256sum "$DATA" | cut -d' ' -f1)
DATA_BYTES=$(stat -c %s "$DATA")

ns_of() { case $1 in ha) echo "$NS_HA" ;; ga) echo "$NS_GA" ;; gb) echo "$NS_GB" ;; hb) echo "$NS_HB" ;; esac; }

# stat_of NS IFACE COUNTER
stat_of() { ip netns exec "$1" cat "/sys/class/net/$2/statistics/$3" 2>/dev/null || echo 0; }

# transfer CASE FROM TO ADDRESS [SEND_TUN_NS SEND_TUN RECV_TUN_NS RECV_TUN]:
# TRANSFER_MB from namespace FROM to a server in namespace TO at ADDRESS;
# with the TUNs named, their average packet sizes during the transfer are
# left in AVG_TX (read by the sending gateway) and AVG_RX (written by the
# receiving one).
transfer() {
  local c=$1 from=$2 to=$3 dst=$4 stun_ns=${5:-} stun=${6:-} rtun_ns=${7:-} rtun=${8:-}
  local port=$NEXT_PORT
  NEXT_PORT=$((NEXT_PORT + 1))
  local slog="$WORK_DIR/xfer-$port-server.log" out="$WORK_DIR/xfer-$port-client.out"
  local what="$c: TCP $from -> $to ($dst), $TRANSFER_MB MB"
  start_bg "$slog" ip netns exec "$(ns_of "$to")" timeout "$TRANSFER_BOUND" python3 "$XFER" serve "$port"
  local server=$BG_PID
  if ! wait_until "transfer server on $to" 10 grep -q ready "$slog"; then
    fail "$what: the server did not start"
    stop_pid "$server"
    return
  fi
  local tx0=0 txp0=0 rx0=0 rxp0=0
  if [[ -n $stun ]]; then
    tx0=$(stat_of "$stun_ns" "$stun" tx_bytes) txp0=$(stat_of "$stun_ns" "$stun" tx_packets)
    rx0=$(stat_of "$rtun_ns" "$rtun" rx_bytes) rxp0=$(stat_of "$rtun_ns" "$rtun" rx_packets)
  fi
  if ! ip netns exec "$(ns_of "$from")" timeout "$TRANSFER_BOUND" python3 "$XFER" \
      send "$dst" "$port" "$DATA" >"$out" 2>&1; then
    fail "$what: the sender failed: $(tr '\n' ' ' <"$out")"
    stop_pid "$server"
    return
  fi
  stop_pid "$server" 10
  local digest bytes mbit
  read -r digest bytes mbit <"$out"
  if [[ $digest == "$DATA_SHA" && $bytes == "$DATA_BYTES" ]]; then
    pass "$what: sha256 and length match (${mbit} Mbit/s)"
  else
    fail "$what: received $bytes bytes, sha256 $digest; sent $DATA_BYTES, $DATA_SHA"
  fi
  figure "$c.tcp_${from}_${to}_$([[ $dst == *:* ]] && echo v6 || echo v4)" "$mbit" Mbit/s
  if [[ -n $stun ]]; then
    local txp rxp
    txp=$(($(stat_of "$stun_ns" "$stun" tx_packets) - txp0))
    rxp=$(($(stat_of "$rtun_ns" "$rtun" rx_packets) - rxp0))
    AVG_TX=$((($(stat_of "$stun_ns" "$stun" tx_bytes) - tx0) / (txp > 0 ? txp : 1)))
    AVG_RX=$((($(stat_of "$rtun_ns" "$rtun" rx_bytes) - rx0) / (rxp > 0 ? rxp : 1)))
  fi
}

# start_mode_gw SIDE MODE [LINE...]: gw-SIDE's config for MODE (its peer on
# the mode's underlay, the tunnel MTU, with MODE off every data-path switch
# off, and the extra interface LINEs), then its sitelinkd (info); waits
# until it listens.
start_mode_gw() {
  local side=$1 mode=$2 them=2 switches=()
  shift 2
  [[ $side == b ]] && them=1
  local endpoint="203.0.113.$them:$PORT"
  ((UNDERLAY == 6)) && endpoint="[2001:db8:ffff::$them]:$PORT"
  [[ $mode == off ]] && switches=("batch-io: false" "udp-gso: false" "udp-gro: false" "tun-offload: false"
    "crypto-threads: 0")
  switches+=("$@")
  office_config "$side" "$endpoint" "mtu: $MTU" "${switches[@]}"
  start_gw "$side" info
}

# stop_mode_gw SIDE CASE: gw-SIDE's sitelinkd, if it runs, must exit 0 on
# SIGTERM within STOP_BOUND.
stop_mode_gw() { [[ -z ${GW_PID[$1]:-} ]] || stop_gw_check "$2" "$1"; }

# alive CASE SIDE...: each gateway's sitelinkd still runs.
alive() {
  local c=$1 side
  shift
  for side in "$@"; do
    if gw_alive "$side"; then
      pass "$c: gw-$side's sitelinkd is alive"
    else
      fail "$c: gw-$side's sitelinkd died: $(tail -n 5 "${GW_LOG[$side]}" | tr '\n' ' ')"
    fi
  done
}

# check_drops CASE TUN MODE: the data-path drop counters of a sitelinkd are
# 0, and every data-path technique is reported in effect (MODE on) or off
# (MODE off), so that a silent fallback cannot take coverage away. A kernel
# that lacks one fails the check unless DATA_PATH_MISSING_OK names it (e.g.
# "udp_gro"), which the output then says.
check_drops() {
  local c=$1 tun=$2 mode=$3 json="$WORK_DIR/show-$2.json"
  if ! timeout 10 "$SITELINK" show "$tun" --json >"$json" 2>&1; then
    fail "$c: sitelink show $tun --json failed: $(tr '\n' ' ' <"$json")"
    return
  fi
  local verdict
  verdict=$(python3 - "$json" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
dropped = doc["interfaces"][0]["dropped"]
bad = {k: dropped.get(k, 0) for k in ("tun-bad-packet", "tun-write-failed", "send-failed") if dropped.get(k, 0)}
others = ", ".join(f"{k} {v}" for k, v in sorted(dropped.items()) if v) or "none"
print(("BAD " + ", ".join(f"{k} {v}" for k, v in bad.items())) if bad else "OK", "(all drops:", others + ")")
EOF
  ) || verdict="BAD unreadable JSON"
  local in_effect
  in_effect=$(python3 - "$json" "$mode" "${DATA_PATH_MISSING_OK:-}" <<'EOF'
import json, sys
path = json.load(open(sys.argv[1]))["interfaces"][0]["data_path"]
want = sys.argv[2] != "off"
excused = set(sys.argv[3].split())
names = ("batch_io", "udp_gso", "udp_gro", "tun_offload")
wrong = [k for k in names if path.get(k) is not want and k not in excused]
said = ", ".join(f"{k}={path.get(k)}" for k in names)
note = f" (excused by DATA_PATH_MISSING_OK: {' '.join(sorted(excused))})" if excused else ""
print(("BAD " if wrong else "OK ") + said + note)
EOF
  ) || in_effect="BAD unreadable JSON"
  if [[ $in_effect == OK* ]]; then
    pass "$c: $tun: every data-path technique $([[ $mode == off ]] && echo off || echo "in effect"): ${in_effect#OK }"
  else
    fail "$c: $tun: data path not as configured ($mode): ${in_effect#BAD }"
  fi
  if [[ $verdict == OK* ]]; then
    pass "$c: $tun: tun-bad-packet, tun-write-failed and send-failed are 0 ${verdict#OK }"
  else
    fail "$c: $tun: $verdict"
  fi
}

# listening NS PORT: something listens on TCP port PORT in NS.
listening() { [[ -n $(ip netns exec "$1" ss -Hltn "sport = :$2") ]]; }

# udp_errors NS: UDP datagrams dropped for a full receive buffer (IPv4 and IPv6).
udp_errors() {
  # shellcheck disable=SC2016  # awk's fields
  ip netns exec "$1" awk '/^Udp: [0-9]/ { n += $6 } /^Udp6RcvbufErrors/ { n += $2 } END { print n + 0 }' \
    /proc/net/snmp /proc/net/snmp6
}

# drop_points FROM TO: where datagrams of a UDP flow from host FROM to host
# TO can be lost, as "sending TUN queue, gateway UDP socket, receiver socket".
drop_points() {
  local sgw=a rgw=b
  [[ $1 == ?b ]] && sgw=b rgw=a
  local stun=$TUN_A
  [[ $sgw == b ]] && stun=$TUN_B
  echo "$(stat_of "$(ns_of "g$sgw")" "$stun" tx_dropped) $(udp_errors "$(ns_of "g$rgw")") $(udp_errors "$(ns_of "$2")")"
}

# udp_flow CASE FROM TO ADDRESS: iperf3 -u from FROM to a server in TO.
udp_flow() {
  local c=$1 from=$2 to=$3 dst=$4
  local port=$NEXT_PORT
  NEXT_PORT=$((NEXT_PORT + 1))
  local slog="$WORK_DIR/iperf-$port-server.log" out="$WORK_DIR/iperf-$port.json"
  local what="$c: UDP $from -> $to ($dst) at $UDP_RATE"
  start_bg "$slog" ip netns exec "$(ns_of "$to")" timeout 60 iperf3 -s -1 -p "$port"
  local server=$BG_PID
  if ! wait_until "iperf3 server on $to" 10 listening "$(ns_of "$to")" "$port"; then
    fail "$what: the iperf3 server did not start"
    stop_pid "$server"
    return
  fi
  local d0 d1
  d0=$(drop_points "$from" "$to")
  ip netns exec "$(ns_of "$from")" timeout 40 iperf3 -c "$dst" -p "$port" -u -b "$UDP_RATE" -l 1300 -w 4M -t 3 -J \
    >"$out" 2>&1 || true
  stop_pid "$server" 10
  d1=$(drop_points "$from" "$to")
  local tun0 gw0 rcv0 tun1 gw1 rcv1
  read -r tun0 gw0 rcv0 <<<"$d0"
  read -r tun1 gw1 rcv1 <<<"$d1"
  local where="dropped at the sending TUN queue $((tun1 - tun0)), the gateway's UDP socket $((gw1 - gw0)),"
  where+=" the receiver's socket $((rcv1 - rcv0))"
  local result
  result=$(python3 - "$out" <<'EOF'
import json, sys
try:
    s = json.load(open(sys.argv[1]))["end"]["sum"]
    print(s["packets"], s["lost_packets"], round(s["lost_percent"], 3))
except Exception as e:
    print("error", type(e).__name__)
EOF
  )
  local packets lost percent
  read -r packets lost percent <<<"$result"
  if [[ $packets == error || -z $packets ]] || ((packets == 0)); then
    fail "$what: no result: $(head -c 300 "$out" | tr '\n' ' ')"
    return
  fi
  figure "$c.udp_${from}_${to}_$([[ $dst == *:* ]] && echo v6 || echo v4)_loss" "$percent" %
  local queued=$(((tun1 - tun0) + (gw1 - gw0) + (rcv1 - rcv0)))
  local unexplained=$((lost > queued ? lost - queued : 0))
  if python3 -c "import sys; sys.exit(0 if $unexplained * 100 <= $UDP_LOSS_BOUND * $packets else 1)"; then
    pass "$what: $packets datagrams, $lost lost ($percent %; $where), $unexplained not explained by a full queue"
  else
    fail "$what: $packets datagrams, $lost lost ($percent %; $where): $unexplained not explained by a full queue, more than $UDP_LOSS_BOUND %"
  fi
}

# big_pings CASE FROM DST: -s 1400 and -s 3000, all answered.
big_pings() {
  local c=$1 from=$2 dst=$3 size
  local df=()
  [[ $dst == *:* ]] || df=(-M dont)
  for size in 1400 3000; do
    # The first large IPv6 packet may be lost learning the path MTU.
    ip netns exec "$(ns_of "$from")" timeout 10 ping -n -q -c 2 -i 0.2 -W 1 -s "$size" "${df[@]}" "$dst" \
      >/dev/null 2>&1 || true
    if ip netns exec "$(ns_of "$from")" timeout 20 ping -n -q -c 5 -i 0.2 -W 2 -s "$size" "${df[@]}" "$dst" \
        >"$WORK_DIR/ping.out" 2>&1; then
      pass "$c: ping -s $size $from -> $dst: 5/5 ($(grep -o 'rtt.*' "$WORK_DIR/ping.out" || true))"
    else
      fail "$c: ping -s $size $from -> $dst: $(tr '\n' ' ' <"$WORK_DIR/ping.out")"
    fi
  done
}

# check_sizes CASE MODE WHAT: AVG_TX/AVG_RX against the MTU.
check_sizes() {
  local c=$1 mode=$2 what=$3
  figure "$c.tun_avg_read_$what" "$AVG_TX" bytes
  figure "$c.tun_avg_write_$what" "$AVG_RX" bytes
  if [[ $mode == on ]]; then
    if ((AVG_TX > MTU && AVG_RX > MTU)); then
      pass "$c: $what: TUN super-packets both ways (average read $AVG_TX B, written $AVG_RX B > MTU $MTU)"
    else
      fail "$c: $what: average TUN packet read $AVG_TX B, written $AVG_RX B: want both > MTU $MTU with tun-offload on"
    fi
  elif ((AVG_TX <= MTU && AVG_RX <= MTU)); then
    pass "$c: $what: no super-packets with tun-offload off (average read $AVG_TX B, written $AVG_RX B)"
  else
    fail "$c: $what: average TUN packet read $AVG_TX B, written $AVG_RX B > MTU $MTU with tun-offload off"
  fi
}

# --- the two modes -------------------------------------------------------------------------
# check_crypto_threads CASE MODE [LINE...]: gw-a runs the crypto threads its
# config asks for: 0 with MODE off, N for a "crypto-threads: N" LINE, else
# auto's one per CPU beyond the first two (up to 7).
check_crypto_threads() {
  local c=$1 mode=$2 want line have
  shift 2
  want=$(($(nproc) - 2))
  ((want < 0)) && want=0
  ((want > 7)) && want=7
  [[ $mode == off ]] && want=0
  for line in "$@"; do [[ $line =~ ^crypto-threads:\ ([0-9]+)$ ]] && want=${BASH_REMATCH[1]}; done
  have=$(crypto_threads "${GW_PID[a]}")
  if ((have == want)); then
    pass "$c: gw-a runs $have crypto thread(s)"
  else
    fail "$c: gw-a runs $have crypto thread(s), its config asks for $want"
  fi
}

# run_mode CASE MODE [LINE...]: the checks above with the switches MODE (on,
# off) and the extra interface LINEs.
run_mode() {
  local c=$1 mode=$2
  shift 2
  if start_mode_gw a "$mode" "$@" && start_mode_gw b "$mode" "$@" &&
    wait_until "tunnel up on both gateways" "$START_BOUND" tunnel_up a b; then
    pass "$c: both gateways up (data path switches $mode), tunnel established over IPv$UNDERLAY"
    check_crypto_threads "$c" "$mode" "$@"
  else
    fail "$c: tunnel not established within ${START_BOUND}s"
    stop_mode_gw a "$c"
    stop_mode_gw b "$c"
    return
  fi
  transfer "$c" ha hb 198.18.2.2 "$NS_GA" "$TUN_A" "$NS_GB" "$TUN_B"
  check_sizes "$c" "$mode" ha_hb_v4
  transfer "$c" hb ha 198.18.1.2
  transfer "$c" ha hb 2001:db8:b::2
  transfer "$c" hb ha 2001:db8:a::2 "$NS_GB" "$TUN_B" "$NS_GA" "$TUN_A"
  check_sizes "$c" "$mode" hb_ha_v6
  transfer "$c" ga gb 198.18.0.2
  transfer "$c" gb ga 2001:db8::1
  udp_flow "$c" ha hb 198.18.2.2
  udp_flow "$c" hb ha 2001:db8:a::2
  udp_flow "$c" ga gb 198.18.0.2 # the gateway's own UDP: a partial checksum the TUN hands over
  udp_flow "$c" gb ga 2001:db8::1
  big_pings "$c" ha 198.18.2.2
  big_pings "$c" ha 2001:db8:b::2
  big_pings "$c" hb 198.18.1.2
  big_pings "$c" ga 2001:db8::2
  alive "$c" a b
  check_drops "$c" "$TUN_A" "$mode"
  check_drops "$c" "$TUN_B" "$mode"
}

# forward_gro on|off: the hosts send plain linear 1500-byte packets (no
# scatter-gather, so no TSO) and the gateways' LAN veths merge them with GRO,
# as a NIC does: the super-packets forwarded into the TUN then start with a
# whole packet in their linear part (the kernel's hdr_len says so).
forward_gro() {
  local on=$1 off
  off=$([[ $on == on ]] && echo off || echo on)
  ip netns exec "$NS_HA" ethtool -K "${P}ah" sg "$off"
  ip netns exec "$NS_HB" ethtool -K "${P}bh" sg "$off"
  ip netns exec "$NS_GA" ethtool -K "${P}al" gro "$on"
  ip netns exec "$NS_GB" ethtool -K "${P}bl" gro "$on"
}

for mode in ${MODES:-on gro on6 off}; do
  case $mode in
    gro)
      forward_gro on
      run_mode gro on "crypto-threads: 3"
      forward_gro off
      ;;
    on6)
      UNDERLAY=6
      run_mode on6 on "crypto-threads: 1"
      UNDERLAY=4
      ;;
    *) run_mode "$mode" "$mode" ;;
  esac
  stop_mode_gw a "$mode"
  stop_mode_gw b "$mode"
done

# --- sitelinkd (defaults) against wireguard-go ---------------------------------------------
start_wg_go() {
  start_wireguard_go "$NS_GB" "$WG_IF" "$WORK_DIR/wireguard-go.log" error || return 1
  gen_key wg "$WORK_DIR" wg-b
  cp "$WORK_DIR/wg-b.pub" "$WORK_DIR/gw-b.pub"
  ip netns exec "$NS_GB" timeout 10 wg set "$WG_IF" private-key "$WORK_DIR/wg-b.key" listen-port "$PORT" \
    peer "$(cat "$WORK_DIR/gw-a.pub")" endpoint "203.0.113.1:$PORT" \
    allowed-ips "198.18.1.0/24,2001:db8:a::/64,198.18.0.1/32,2001:db8::1/128"
  ip -n "$NS_GB" link set "$WG_IF" mtu "$MTU"
  ip -n "$NS_GB" addr add 198.18.0.2/24 dev "$WG_IF"
  ip -n "$NS_GB" addr add 2001:db8::2/64 dev "$WG_IF" nodad
  ip -n "$NS_GB" link set "$WG_IF" up
  ip -n "$NS_GB" route add 198.18.1.0/24 dev "$WG_IF"
  ip -n "$NS_GB" -6 route add 2001:db8:a::/64 dev "$WG_IF"
}

c=wg-go
if start_wg_go && start_mode_gw a on && wait_until "tunnel to wireguard-go" "$START_BOUND" tunnel_up a; then
  pass "$c: sitelinkd (defaults) and wireguard-go: tunnel established"
  transfer "$c" ha hb 198.18.2.2
  transfer "$c" hb ha 198.18.1.2
  transfer "$c" ha hb 2001:db8:b::2
  transfer "$c" hb ha 2001:db8:a::2
  big_pings "$c" ha 198.18.2.2
  alive "$c" a
  check_drops "$c" "$TUN_A" on
else
  fail "$c: no tunnel between sitelinkd and wireguard-go within ${START_BOUND}s"
fi
stop_mode_gw a "$c"
stop_pid "$WG_PID"
WG_PID=""

write_figures
