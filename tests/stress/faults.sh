#!/usr/bin/env bash
# Underlay fault tests (issue 7): two offices joined by two sitelinkd gateways
# with an impaired "internet" between them. Each fault ends with the tunnel
# carrying traffic again within a stated bound and a TCP transfer across the
# tunnel that arrives intact.
#
# Usage: faults.sh [--quick|--full] SITELINKD SITELINK IMPAIR_RELAY
#   --quick (default): 20 s outage (shortened), 8 MiB transfers, 100 pings
#                      per fault; about 90 s in all
#   --full:            30 s outage, 32-64 MiB transfers, 300 pings per fault;
#                      about 4 minutes
#
#   host-a (${P}ha)     gw-a (${P}ga)         net (${P}nt)           gw-b (${P}gb)      host-b (${P}hb)
#   ${P}ah ---------- ${P}al  ${P}au -------- ${P}na  ${P}nb -------- ${P}bu  ${P}bl ---------- ${P}bh
#   198.18.1.2/24   198.18.1.1  203.0.113.1  .254  198.51.100.254  198.51.100.1  198.18.2.1  198.18.2.2
#                   TUN ${P}at 198.18.0.1/24                       TUN ${P}bt 198.18.0.2/24
#
# The impairment lives in the middle namespace, both directions alike:
#   - tc netem on ${P}na and ${P}nb when the kernel has netem; net routes
#     between the two underlays and each gateway's endpoint is the other one;
#   - otherwise impair_relay (tests/stress/impair_relay.cc): net does not
#     forward at all, gw-a's endpoint is the relay's 203.0.113.254:40001 and
#     gw-b's is 198.51.100.254:40002, and the relay passes datagrams between
#     them through loss, delay, reordering, duplication and outages.
#   FAULTS_IMPAIR=netem|relay forces one (default: auto). The output says
#   which one ran ("impairment: ...", and "impairment" in the JSON).
# Other knobs: FAULTS_SEED=N seeds the relay (default: the script's PID; the
# seed is in the relay's log); FAULTS_REKEY_AFTER=SECS sets both gateways'
# rekey-after-time, so that rekeys happen under every impairment.
#
# Scenarios, each impairment applied in both directions:
#   baseline  no impairment
#   loss      10% loss
#   delay     200 ms delay +-20 ms jitter each way (relay: FIFO, jitter does
#             not reorder; netem: its own jitter, which does reorder)
#   reorder   25% of datagrams held 20 ms longer, so later ones overtake them
#   dup       10% of datagrams sent twice
#   outage    everything dropped for OUTAGE_S seconds (quick 20, full 30:
#             longer than the 15 s after which a gateway that hears nothing
#             starts a new handshake) while a paced TCP transfer is in flight
# For each: a ping stream host-a -> host-b (loss, rtt) and a TCP transfer
# under the impairment (time, throughput); then the fault ends and the time
# from its end to the first ping reply is measured and must be within
# RECOVERY_BOUND; then a fresh TCP transfer must arrive intact (sha256 at
# both ends). Checks beyond that, that each impairment really happened, in
# both modes: loss lost pings; delay put the ping rtt at 360 ms or more;
# reordering made host-b's TCP receive segments out of order (TCPOFOQueue);
# duplicates were counted as replays by the gateways and never reach host-a
# twice (no "DUP!" replies); the outage let no ping reply through. With the
# relay, also its counters: it dropped (loss), sent out of order (reorder:
# datagrams overtaken by later ones), sent twice (dup) some of the datagrams
# of that phase, and during the outage dropped every datagram and sent none.
# And that the gateways coped: a new handshake completes within
# RECOVERY_BOUND of the outage's end and the transfer in flight survived it;
# reordering within the replay window costs no replay drops.
#
# Figures: "FIGURE: faults.<scenario>.<name>=VALUE UNIT" lines on stdout and,
# when STRESS_OUT is set, $STRESS_OUT/faults.json (tests/stress/figures.sh;
# "impairment" in it says netem or relay).
# Needs root, ip, tc, ping, timeout, python3, sha256sum, head, awk.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MODE=quick
case "${1:-}" in
  --quick) shift ;;
  --full) MODE=full; shift ;;
  -*) echo "usage: faults.sh [--quick|--full] SITELINKD SITELINK IMPAIR_RELAY" >&2; exit 64 ;;
esac
if (($# != 3)); then
  echo "usage: faults.sh [--quick|--full] SITELINKD SITELINK IMPAIR_RELAY" >&2
  exit 64
fi
SITELINKD=$1 SITELINK=$2 RELAY=$3

# shellcheck source=tests/netns/lib.sh
source "$SCRIPT_DIR/../netns/lib.sh"
lib_init faults flt
# shellcheck source=tests/stress/figures.sh
source "$SCRIPT_DIR/figures.sh"
figures_init faults "$MODE"
# shellcheck source=tests/netns/topology.sh
source "$SCRIPT_DIR/../netns/topology.sh"

HOST_B=198.18.2.2
RELAY_A=203.0.113.254:40001 RELAY_B=198.51.100.254:40002
XFER_PORT=5201

START_BOUND=10      # s: daemons listening, tunnel up
RECOVERY_BOUND=10   # s: fault end -> first ping reply (WireGuard retries a
                    # handshake every 5 s; an unexpired keypair needs none)
if [[ $MODE == full ]]; then
  OUTAGE_S=30 CLEAN_MIB=64 IMPAIRED_MIB=32 SPAN_MIB=8 SPAN_RATE=$((1024 * 1024)) PINGS=300
  XFER_BOUND=300
else
  OUTAGE_S=20 CLEAN_MIB=8 IMPAIRED_MIB=8 SPAN_MIB=2 SPAN_RATE=$((512 * 1024)) PINGS=100
  XFER_BOUND=90
fi
KEEPALIVE_PLUS_REKEY=15  # s without a reply before a gateway starts a new handshake
SPAN_BOUND=$((OUTAGE_S * 3 + 60))  # TCP's retransmission backoff after the outage
RELAY_LIFETIME=1800                # s: the relay's own bound (--duration)

declare -A RELAY_PROFILE=(
  [loss]="loss=10" [delay]="delay=200 jitter=20" [reorder]="reorder=25 reorder-ms=20" [dup]="dup=10")
declare -A NETEM_PROFILE=(
  [loss]="loss 10%" [delay]="delay 200ms 20ms" [reorder]="delay 20ms reorder 75%" [dup]="duplicate 10%")

require_root
require_tools ip tc ping timeout python3 sha256sum head awk
require_tun
require_exec SITELINKD SITELINK RELAY

IMPAIR=""
# ms_between EPOCH_US_FROM EPOCH_US_TO
ms_between() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", (b - a) / 1000 }'; }
now_us() { echo "${EPOCHREALTIME/./}"; }

# --- topology (the picture above; net routes nothing yet) ----------------------------------
two_offices ipv4 --internet
P=$PREFIX

# --- the impairment: netem or the relay ------------------------------------------------------
FIFO="$WORK_DIR/relay.ctl"
RELAY_LOG="$WORK_DIR/relay.log"
CTL_N=0
choose_impairment() {
  IMPAIR=${FAULTS_IMPAIR:-auto}
  if [[ $IMPAIR == auto ]]; then
    if tc -n "$NS_NET" qdisc add dev "${P}na" root netem delay 0ms 2>"$WORK_DIR/tc.err"; then
      tc -n "$NS_NET" qdisc del dev "${P}na" root
      IMPAIR=netem
    else
      IMPAIR=relay
      log "this kernel has no tc netem ($(tr -d '\n' <"$WORK_DIR/tc.err")): using impair_relay"
    fi
  fi
  case $IMPAIR in
    netem) echo "impairment: tc netem on ${P}na and ${P}nb (both directions)" ;;
    relay) echo "impairment: impair_relay, a userspace UDP relay in the middle namespace (no tc netem)" ;;
    *) log "FAULTS_IMPAIR must be auto, netem or relay, not '$IMPAIR'"; exit 64 ;;
  esac
  figures_meta impairment "$IMPAIR"
}

start_relay() {
  mkfifo -m 600 "$FIFO"
  start_bg "$RELAY_LOG" ip netns exec "$NS_NET" "$RELAY" \
    --a-listen "$RELAY_A" --a-peer "203.0.113.1:$PORT" \
    --b-listen "$RELAY_B" --b-peer "198.51.100.1:$PORT" \
    --control "$FIFO" --seed "${FAULTS_SEED:-$$}" --duration "$RELAY_LIFETIME"
  wait_until "impair_relay to start" 5 grep -qs ' ready$' "$RELAY_LOG"
}

# relay_cmd COMMAND...: send a control line and wait for its ack. Opening the
# FIFO read-write never blocks, even if the relay is gone (then no ack comes).
relay_cmd() {
  CTL_N=$((CTL_N + 1))
  echo "$*" 1<>"$FIFO"
  wait_until "impair_relay to ack '$*'" 5 grep -qE "^n?ack $CTL_N " "$RELAY_LOG" || return 1
  ! grep -q "^nack $CTL_N " "$RELAY_LOG"
}

netem_on_both() {
  local dev
  # shellcheck disable=SC2086  # the netem arguments are split on purpose
  for dev in "${P}na" "${P}nb"; do tc -n "$NS_NET" qdisc replace dev "$dev" root netem $1; done
}
netem_clear() {
  local dev
  for dev in "${P}na" "${P}nb"; do tc -n "$NS_NET" qdisc del dev "$dev" root 2>/dev/null || true; done
}

impair_set() {  # impair_set SCENARIO
  if [[ $IMPAIR == relay ]]; then relay_cmd set "${RELAY_PROFILE[$1]}"; else netem_on_both "${NETEM_PROFILE[$1]}"; fi
}
impair_clear() {
  if [[ $IMPAIR == relay ]]; then relay_cmd set; else netem_clear; fi
}
impair_outage() {  # on|off
  if [[ $IMPAIR == relay ]]; then
    relay_cmd outage "$1"
  elif [[ $1 == on ]]; then
    netem_on_both "loss 100%"
  else
    netem_clear
  fi
}
describe_profile() {
  if [[ $IMPAIR == relay ]]; then echo "relay: ${RELAY_PROFILE[$1]}"; else echo "netem: ${NETEM_PROFILE[$1]}"; fi
}
# relay_counter DIR KEY: a counter from the relay's latest stats line (ask
# for one with `relay_cmd stats` first, not in a subshell: CTL_N must count).
relay_counter() {
  { grep "^stats $1 " "$RELAY_LOG" || true; } | tail -n 1 | tr ' ' '\n' |
    awk -F= -v k="$2" '$1 == k { n = $2 } END { print n + 0 }'
}

choose_impairment
if [[ $IMPAIR == netem ]]; then
  ip netns exec "$NS_NET" sysctl -qw net.ipv4.ip_forward=1
  ip -n "$NS_GA" route add 198.51.100.0/24 via 203.0.113.254
  ip -n "$NS_GB" route add 203.0.113.0/24 via 198.51.100.254
  ENDPOINT_A="198.51.100.1:$PORT" ENDPOINT_B="203.0.113.1:$PORT"   # as seen by gw-a / gw-b
else
  start_relay
  ENDPOINT_A=$RELAY_A ENDPOINT_B=$RELAY_B
fi

# --- gateways --------------------------------------------------------------------------------
gw_keys a b
rekey=()
[[ -n "${FAULTS_REKEY_AFTER:-}" ]] && rekey=("rekey-after-time: $FAULTS_REKEY_AFTER")
office_config a "$ENDPOINT_A" "${rekey[@]}"
office_config b "$ENDPOINT_B" "${rekey[@]}"
launch_gw a info
launch_gw b info
if wait_until "tunnel up on both gateways" "$START_BOUND" tunnel_up a b; then
  pass "gateways up, tunnel established through the $IMPAIR"
else
  fail "tunnel not established within ${START_BOUND}s"
  exit 1
fi

# show_json SIDE: gw-SIDE's `sitelink show --json` on stdout (nothing if it
# does not answer); read with show_query (tests/netns/lib.sh).
show_json() {
  local ns=$NS_GA tun=$TUN_A
  [[ $1 == b ]] && ns=$NS_GB tun=$TUN_B
  ip netns exec "$ns" timeout 5 "$SITELINK" show "$tun" --json 2>/dev/null || true
}
# latest_handshake SIDE: gw-SIDE's one peer's latest handshake, or "none".
latest_handshake() { show_json "$1" | show_query peer - 0 latest_handshake || echo none; }
# replays: transport packets both gateways dropped as replays.
replays() {
  local side n total=0
  for side in a b; do
    n=$(show_json "$side" | show_query drop - replay) || n=0
    total=$((total + n))
  done
  echo "$total"
}
# tcp_ofo: TCP segments host-b has received out of order (TcpExt
# TCPOFOQueue; /proc/net/netstat is per namespace).
tcp_ofo() {
  # shellcheck disable=SC2016  # awk's fields
  ip netns exec "$NS_HB" awk -v k=TCPOFOQueue \
    '$1 == "TcpExt:" { if (!h) { for (i = 2; i <= NF; i++) c[$i] = i; h = 1 } else { print $c[k] + 0; exit } }' \
    /proc/net/netstat
}
gateways_alive() {
  local pid
  for pid in "${GW_PID[a]}" "${GW_PID[b]}"; do
    kill -0 "$pid" 2>/dev/null || { fail "a sitelinkd exited (pid $pid)"; return 1; }
  done
}

# --- TCP transfers ---------------------------------------------------------------------------
# xfer.py recv ADDR PORT TIMEOUT | send HOST PORT FILE TIMEOUT [BYTES_PER_S]
# The receiver hashes what arrives and sends the digest back after EOF, so the
# sender's time covers delivery of every byte.
cat >"$WORK_DIR/xfer.py" <<'EOF'
import hashlib, socket, sys, time

def remaining(deadline):
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("time bound reached")
    return left

def recv(addr, port, timeout):
    deadline = time.monotonic() + timeout
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((addr, port))
    srv.listen(1)
    print("listening", flush=True)
    srv.settimeout(remaining(deadline))
    conn, _ = srv.accept()
    print("connected", flush=True)
    t0, h, n = time.monotonic(), hashlib.sha256(), 0
    while True:
        conn.settimeout(remaining(deadline))
        b = conn.recv(1 << 16)
        if not b:
            break
        h.update(b)
        n += len(b)
    conn.sendall((h.hexdigest() + "\n").encode())
    conn.close()
    print(f"received bytes={n} sha256={h.hexdigest()} seconds={time.monotonic() - t0:.3f}", flush=True)

def send(host, port, path, timeout, rate):
    deadline = time.monotonic() + timeout
    data = open(path, "rb").read()
    s = socket.create_connection((host, port), timeout=remaining(deadline))
    t0, sent = time.monotonic(), 0
    while sent < len(data):
        if rate > 0:
            time.sleep(max(0.0, t0 + sent / rate - time.monotonic()))
        s.settimeout(remaining(deadline))
        s.sendall(data[sent:sent + 65536])
        sent = min(len(data), sent + 65536)
    s.shutdown(socket.SHUT_WR)
    reply = b""
    while not reply.endswith(b"\n"):
        s.settimeout(remaining(deadline))
        b = s.recv(128)
        if not b:
            break
        reply += b
    print(f"sent bytes={len(data)} seconds={time.monotonic() - t0:.3f} peer_sha256={reply.decode().strip()}", flush=True)

try:
    if sys.argv[1] == "recv":
        recv(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
    else:
        send(sys.argv[2], int(sys.argv[3]), sys.argv[4], float(sys.argv[5]),
             float(sys.argv[6]) if len(sys.argv) > 6 else 0.0)
except (OSError, TimeoutError) as e:
    sys.exit(f"xfer {sys.argv[1]}: {e!r}")
EOF

# make_file NAME MIB: a random file and its digest in SHA_<NAME>.
declare -A SHA=()
make_file() {
  head -c "$(($2 * 1024 * 1024))" /dev/urandom >"$WORK_DIR/$1.bin"
  SHA[$1]=$(sha256sum "$WORK_DIR/$1.bin" | cut -d' ' -f1)
}
make_file clean "$CLEAN_MIB"
make_file impaired "$IMPAIRED_MIB"
make_file span "$SPAN_MIB"

# xfer_start SCENARIO TAG FILE BOUND [RATE]: receiver in host-b, sender in
# host-a; logs rx-/tx-SCENARIO-TAG.log.
XFER_RX="" XFER_TX=""
xfer_start() {
  local id="$1-$2" file=$3 bound=$4 rate=${5:-0}
  start_bg "$WORK_DIR/rx-$id.log" ip netns exec "$NS_HB" timeout $((bound + 5)) \
    python3 "$WORK_DIR/xfer.py" recv "$HOST_B" "$XFER_PORT" "$bound"
  XFER_RX=$BG_PID
  if ! wait_until "receiver for $id" 10 grep -qs listening "$WORK_DIR/rx-$id.log"; then
    fail "$1: TCP receiver for $2 did not start"
    return 1
  fi
  start_bg "$WORK_DIR/tx-$id.log" ip netns exec "$NS_HA" timeout $((bound + 5)) \
    python3 "$WORK_DIR/xfer.py" send "$HOST_B" "$XFER_PORT" "$WORK_DIR/$file.bin" "$bound" "$rate"
  XFER_TX=$BG_PID
}

# xfer_finish SCENARIO TAG FILE BOUND: waits for both ends; checks digests;
# reports time and throughput as figures SCENARIO.TAG_{s,mbit_s}.
xfer_finish() {
  local scn=$1 tag=$2 file=$3 bound=$4 tx_rc rx_rc secs
  wait_until "transfer $scn/$tag to end" $((bound + 10)) \
    bash -c "! kill -0 $XFER_TX 2>/dev/null && ! kill -0 $XFER_RX 2>/dev/null" || true
  stop_pid "$XFER_TX" 1
  tx_rc=$STOP_RC
  stop_pid "$XFER_RX" 1
  rx_rc=$STOP_RC
  local txl="$WORK_DIR/tx-$scn-$tag.log" rxl="$WORK_DIR/rx-$scn-$tag.log"
  if ((tx_rc != 0 || rx_rc != 0)); then
    fail "$scn: TCP transfer ($tag, $(stat -c %s "$WORK_DIR/$file.bin") bytes) did not complete within ${bound}s:" \
      "sender exit $tx_rc ($(tail -n 1 "$txl" 2>/dev/null)), receiver exit $rx_rc ($(tail -n 1 "$rxl" 2>/dev/null))"
    return 1
  fi
  if grep -q "peer_sha256=${SHA[$file]}\$" "$txl" && grep -q "sha256=${SHA[$file]} " "$rxl"; then
    secs=$(sed -n 's/.* seconds=\([0-9.]*\) .*/\1/p' "$txl")
    pass "$scn: TCP transfer ($tag) intact: $(awk '{print $2}' "$rxl" | tail -n 1) in ${secs}s, sha256 matches"
    figure "$scn.${tag}_time" "$secs" s
    figure "$scn.${tag}_throughput" \
      "$(awk -v b="$(stat -c %s "$WORK_DIR/$file.bin")" -v s="$secs" 'BEGIN { printf "%.2f", b * 8 / s / 1e6 }')" Mbit/s
  else
    fail "$scn: TCP transfer ($tag) corrupted: sent ${SHA[$file]}; $(tail -n 1 "$rxl"); $(tail -n 1 "$txl")"
    return 1
  fi
}

xfer() {  # xfer SCENARIO TAG FILE BOUND
  xfer_start "$@" && xfer_finish "$@"
}

# --- pings ---------------------------------------------------------------------------------------
# ping_start TAG [COUNT]: host-a -> host-b every 0.1 s, timestamped (-D); with
# COUNT it ends by itself; without, it runs until stopped (at most 10 min).
PING_PID=""
ping_start() {
  local count=()
  [[ -n "${2:-}" ]] && count=(-c "$2")
  start_bg "$WORK_DIR/ping-$1.log" ip netns exec "$NS_HA" timeout 600 \
    ping -n -D -i 0.1 -W 2 "${count[@]}" "$HOST_B"
  PING_PID=$BG_PID
}

# ping_report SCENARIO TAG COUNT: waits for a counted ping, reports loss/rtt.
ping_report() {
  local scn=$1 log="$WORK_DIR/ping-$2.log" loss rtt
  wait_until "ping $2 to finish" $(($3 / 10 + 15)) bash -c "! kill -0 $PING_PID 2>/dev/null" || true
  stop_pid "$PING_PID" 1
  loss=$(sed -n 's/.* \([0-9.]*\)% packet loss.*/\1/p' "$log")
  rtt=$(sed -n 's|^rtt [^=]*= [0-9.]*/\([0-9.]*\)/.*|\1|p' "$log")
  PING_LOSS=${loss:-100} PING_RTT=$rtt
  figure "$scn.ping_loss" "$PING_LOSS" %
  [[ -n "$rtt" ]] && figure "$scn.ping_rtt_avg" "$rtt" ms
  DUPS=$(grep -c 'DUP!' "$log" || true)
}

# replies_between LOG FROM_US TO_US: echo replies timestamped in [FROM, TO).
replies_between() {
  awk -v a="$2" -v b="$3" -F'[][]' '/bytes from/ { t = $2 * 1e6; if (t >= a && t < b) n++ } END { print n + 0 }' "$1"
}
reply_after() { (($(replies_between "$1" "$2" 99999999999999999) > 0)); }
first_reply_after() {
  awk -v a="$2" -F'[][]' '/bytes from/ { t = $2 * 1e6; if (t >= a) { printf "%.0f", t; exit } }' "$1"
}

# recovered SCENARIO PINGLOG T_END_US: waits for the first reply after the
# fault's end; reports the time as SCENARIO.recovery.
recovered() {
  local scn=$1 log=$2 t_end=$3 t_first ms
  if wait_until "$scn: a ping reply after the fault" "$RECOVERY_BOUND" reply_after "$log" "$t_end"; then
    t_first=$(first_reply_after "$log" "$t_end")
    ms=$(ms_between "$t_end" "$t_first")
    pass "$scn: first ping reply ${ms} ms after the fault ended (bound ${RECOVERY_BOUND}s)"
    figure "$scn.recovery" "$ms" ms
  else
    fail "$scn: no ping reply within ${RECOVERY_BOUND}s of the fault's end"
  fi
}

# --- scenarios -------------------------------------------------------------------------------------
baseline() {
  log "== baseline: no impairment"
  if [[ $IMPAIR == relay ]]; then
    if ping_once "$NS_GA" 198.51.100.1; then
      fail "baseline: gw-a reaches gw-b's underlay directly, bypassing the relay"
    else
      pass "baseline: the gateways can reach each other only through the relay"
    fi
  fi
  ping_start baseline "$PINGS"
  xfer baseline transfer clean "$XFER_BOUND" || true
  ping_report baseline baseline "$PINGS"
  if [[ $IMPAIR == relay ]]; then
    local a2b=0 b2a=0
    relay_cmd stats && a2b=$(relay_counter a2b out) b2a=$(relay_counter b2a out)
    if ((a2b > 1000 && b2a > 100)); then
      pass "baseline: the relay forwarded $a2b datagrams A->B and $b2a B->A"
    else
      fail "baseline: the relay forwarded only $a2b datagrams A->B and $b2a B->A"
    fi
  fi
}

# relay_totals: the relay's counters, both directions summed, into REL[KEY]
# (impair_relay.cc: in, out, lost, dup, reordered = held longer, overtaken =
# sent after a datagram that arrived later, outage = dropped by an outage).
declare -A REL=()
relay_totals() {
  local k
  REL=()
  [[ $IMPAIR == relay ]] && relay_cmd stats || return 0
  for k in in out lost dup reordered overtaken outage; do
    REL[$k]=$(($(relay_counter a2b "$k") + $(relay_counter b2a "$k")))
  done
}

# effect_checks SCENARIO: the impairment happened, and the gateways coped
# with it as WireGuard must (uses DUPS, REPLAYS, PING_LOSS, PING_RTT,
# TCP_OFO and RELAY_D, the relay's counter deltas over the impaired phase).
# In every mode: loss by ping loss, delay by ping rtt, reordering by host-b's
# TCP receiving segments out of order, duplication by the gateways' replay
# drops; with the relay, also by its counters (lost, overtaken, dup).
effect_checks() {
  case $1 in
    loss)
      if awk -v l="$PING_LOSS" 'BEGIN { exit !(l > 0) }'; then
        pass "loss: the ping stream lost ${PING_LOSS}% (the underlay dropped datagrams)"
      else
        fail "loss: no ping lost under 10% underlay loss each way (is the impairment on?)"
      fi ;;
    delay)
      if awk -v r="$PING_RTT" 'BEGIN { exit !(r >= 360) }'; then
        pass "delay: ping rtt ${PING_RTT} ms with 200 ms added each way"
      else
        fail "delay: ping rtt ${PING_RTT:-none} ms, expected at least 360 ms (is the impairment on?)"
      fi ;;
    reorder)
      if ((TCP_OFO > 0)); then
        pass "reorder: host-b's TCP received $TCP_OFO segments out of order (TCPOFOQueue): the underlay reordered"
      else
        fail "reorder: host-b's TCP received no segment out of order under 25% reordering (is the impairment on?)"
      fi
      if ((REPLAYS == 0)); then
        pass "reorder: no replay drops (reordering stays within the replay window)"
      else
        fail "reorder: $REPLAYS transport packets dropped as replays under reordering alone"
      fi ;;
    dup)
      if ((DUPS == 0)); then
        pass "dup: no duplicate echo replies reached host-a (the gateways drop underlay duplicates)"
      else
        fail "dup: $DUPS duplicate echo replies reached host-a"
      fi
      if ((REPLAYS > 0)); then
        pass "dup: the gateways counted $REPLAYS duplicated transport packets as replays"
      else
        fail "dup: no replay drops counted although the underlay duplicated datagrams"
      fi ;;
  esac
  local key=${RELAY_KEY[$1]:-}
  if [[ $IMPAIR == relay && -n $key ]]; then
    if ((${RELAY_D[$key]:-0} > 0)); then
      pass "$1: the relay ${RELAY_WHAT[$key]} ${RELAY_D[$key]} of the ${RELAY_D[in]} datagrams it received"
    else
      fail "$1: the relay ${RELAY_WHAT[$key]} none of the ${RELAY_D[in]:-0} datagrams it received"
    fi
  fi
}
declare -A RELAY_KEY=([loss]=lost [reorder]=overtaken [dup]=dup)
declare -A RELAY_WHAT=([lost]="dropped" [overtaken]="sent out of order (overtaken by a later one)"
  [dup]="sent twice")

# impaired SCENARIO: ping + transfer under the impairment, then recovery.
declare -A RELAY_D=()
impaired() {
  local scn=$1 replay0 ofo0 t_end k
  log "== $scn: $(describe_profile "$scn")"
  replay0=$(replays)
  ofo0=$(tcp_ofo)
  relay_totals
  local -A rel0=()
  for k in "${!REL[@]}"; do rel0[$k]=${REL[$k]}; done
  impair_set "$scn" || { fail "$scn: could not apply the impairment"; return; }
  ping_start "$scn" "$PINGS"
  xfer "$scn" impaired_transfer impaired "$XFER_BOUND" || true
  ping_report "$scn" "$scn" "$PINGS"
  REPLAYS=$(($(replays) - replay0))
  figure "$scn.replay_drops" "$REPLAYS" packets
  TCP_OFO=$(($(tcp_ofo) - ofo0))
  figure "$scn.tcp_out_of_order" "$TCP_OFO" segments
  relay_totals
  RELAY_D=()
  for k in "${!REL[@]}"; do
    RELAY_D[$k]=$((${REL[$k]} - ${rel0[$k]}))
    [[ $k != outage ]] && figure "$scn.underlay_$k" "${RELAY_D[$k]}" datagrams
  done
  effect_checks "$scn"
  ping_start "$scn-end"
  t_end=$(now_us)
  impair_clear || fail "$scn: could not end the impairment"
  recovered "$scn" "$WORK_DIR/ping-$scn-end.log" "$t_end"
  stop_pid "$PING_PID" 1
  xfer "$scn" transfer_after clean "$XFER_BOUND" || true
  gateways_alive || true
}

# handshake_after T_OFF_US HS0_A HS0_B: after an outage long enough for the
# gateways to start a new handshake, one must complete once it ends.
handshake_after() {
  local t_off=$1 hs0_a=$2 hs0_b=$3
  new_handshake() { [[ $(latest_handshake a) != "$hs0_a" || $(latest_handshake b) != "$hs0_b" ]]; }
  if wait_until "a handshake after the outage" "$RECOVERY_BOUND" new_handshake; then
    local ms
    ms=$(ms_between "$t_off" "$(now_us)")
    pass "outage: a new handshake completed ${ms} ms after the outage (within ${RECOVERY_BOUND}s)"
    figure outage.handshake_after "$ms" ms
  else
    fail "outage: no handshake completed within ${RECOVERY_BOUND}s of the outage's end" \
      "(latest handshakes: gw-a $(latest_handshake a), gw-b $(latest_handshake b))"
  fi
}

outage() {
  local t_on t_off n hs0_a hs0_b
  log "== outage: everything dropped for ${OUTAGE_S}s$([[ $MODE == quick ]] && echo " (quick mode; --full: 30 s)")"
  figure outage.duration "$OUTAGE_S" s
  ping_start outage
  local plog="$WORK_DIR/ping-outage.log" ping_pid=$PING_PID
  xfer_start outage transfer_across span "$SPAN_BOUND" "$SPAN_RATE" || return 0
  wait_until "the paced transfer to connect" 10 grep -qs connected "$WORK_DIR/rx-outage-transfer_across.log" || true
  hs0_a=$(latest_handshake a) hs0_b=$(latest_handshake b)
  t_on=$(now_us)
  impair_outage on || fail "outage: could not start the outage"
  relay_totals
  local out0=${REL[out]:-0} cut0=${REL[outage]:-0}
  if grep -qs '^sent' "$WORK_DIR/tx-outage-transfer_across.log"; then
    fail "outage: the paced transfer ended before the outage began (the test proves nothing)"
  fi
  sleep "$OUTAGE_S"  # the fault itself
  relay_totals
  t_off=$(now_us)
  impair_outage off || fail "outage: could not end the outage"
  if [[ $IMPAIR == relay ]]; then
    local sent=$((REL[out] - out0)) cut=$((REL[outage] - cut0))
    figure outage.underlay_dropped "$cut" datagrams
    if ((sent == 0 && cut > 0)); then
      pass "outage: the relay dropped all $cut datagrams that arrived during the outage and sent none"
    else
      fail "outage: during the outage the relay dropped $cut datagrams and sent $sent (want: some dropped, none sent)"
    fi
  fi
  n=$(replies_between "$plog" $((t_on + 500000)) "$t_off")
  if ((n == 0)); then
    pass "outage: no ping reply during the ${OUTAGE_S}s outage"
  else
    fail "outage: $n ping replies during the outage (the outage did not cut the underlay)"
  fi
  recovered outage "$plog" "$t_off"
  if ((OUTAGE_S > KEEPALIVE_PLUS_REKEY)); then handshake_after "$t_off" "$hs0_a" "$hs0_b"; fi
  xfer_finish outage transfer_across span "$SPAN_BOUND" || true
  stop_pid "$ping_pid" 1
  xfer outage transfer_after clean "$XFER_BOUND" || true
  gateways_alive || true
}

baseline
impaired loss
impaired delay
impaired reorder
impaired dup
outage

for side in a b; do
  log "gw-$side: $(ip netns exec "$([[ $side == a ]] && echo "$NS_GA" || echo "$NS_GB")" timeout 5 \
    "$SITELINK" show "$([[ $side == a ]] && echo "$TUN_A" || echo "$TUN_B")" 2>&1 | tr -s ' \n' ' ')"
done
[[ $IMPAIR == relay ]] && relay_cmd stats && grep '^stats' "$RELAY_LOG" | tail -n 2 | sed 's/^/faults: relay /' >&2
stop_gw a
stop_gw b
