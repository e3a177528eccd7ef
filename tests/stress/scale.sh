#!/usr/bin/env bash
# Scale test (issue 7): one hub sitelinkd with 1,000 configured peers, played
# by scale_spokes (every spoke a PeerMachine with its own key, socket and
# inner address, all in one process). Measures what a peer costs in memory,
# what a handshake costs the hub, and whether a packet costs more with 1,000
# peers than with 2.
#
# Usage: scale.sh [--quick|--full] [SITELINKD [SITELINK [SCALE_SPOKES]]]
#   --quick (default): 1,000 peers, 20 echoes per spoke (about 20 s)
#   --full: 1,000 peers, 50 echoes per spoke
#   SCALE_SPOKES_N=N overrides the number of peers (at least 3).
#   defaults: <repo>/build/daemon/sitelinkd, .../sitelink and
#   <repo>/build/tests/stress/scale_spokes
#
#   hub (${P}h)                                   spokes (${P}s)
#   ${P}hu 203.0.113.1/24 ------------------------- ${P}su 203.0.113.2/24 and
#   TUN ${P}ht 198.18.0.1/16                        203.0.113.100-199 (spoke i
#   a /32 route per peer (198.19.0.1 + i)           sends from .100 + i mod 100)
#
# Runs, each against a freshly started hub (--log-level info), the hub
# pinned to one CPU and scale_spokes to another:
#   base:  the hub configured with 2 peers; 2 spokes handshake, then send
#          the same number of echoes as the scale run, split between them.
#   scale: the hub configured with N peers; N spokes handshake, paced at
#          RATE per second (below the hub's under-load threshold of 512
#          handshake messages a second, so each costs what it costs
#          without cookies), then E echo requests each, round robin, at most
#          WINDOW outstanding.
#   burst: on the same hub, N new spoke sessions all at once:
#          the hub goes under load, answers with cookie replies and the
#          spokes retransmit with mac2 (REKEY_TIMEOUT, 5 s, later).
#   base again: as base, after the others (the echo cost ratio's
#          denominator is the larger of the two 2-peer costs).
#
# Checks (PASS/FAIL; exit status non-zero if any failed): every hub starts;
# every handshake completes; every spoke gets echo replies; the hub's own
# status (wg show) lists N peers with a handshake; the burst was answered
# with cookie replies (and every spoke still completed); a packet costs the
# hub at most ECHO_COST_BOUND times the CPU with N peers as with 2 (the
# bound's reason is beside it); the hub is alive after each run and exits 0
# on SIGTERM. Speed and memory are figures
# (`FIGURE: scale.NAME=VALUE UNIT`, and $STRESS_OUT/scale.json, written by
# tests/stress/figures.sh):
#   rss_idle_{2,N}, rss_sessions_{2,N}    hub VmRSS, KiB (idle after start;
#                                         after the handshakes and echoes)
#   rss_per_peer, rss_per_session_peer    (N-peer minus 2-peer) / (N - 2)
#   handshakes_per_second                 wall clock, paced by RATE
#   handshakes_per_core_second            handshakes / hub CPU seconds
#   hub_minor_faults_handshake            page faults the hub took meanwhile (both
#                                         processes): a freshly forked network
#                                         process's copy-on-write shows here
#   hub_cpu_per_echo_us_{2,N}, rtt_median_us_{2,N}, rtt_p99_us_{2,N}
#   hub_cpu_per_echo_us_2_again           the 2-peer cost, measured last
#   echo_cost_ratio                       hub_cpu_per_echo_us_N / the larger 2-peer
#                                         cost (flat: about 1; checked)
#   burst_*                               the burst run
#
# STRESS_KEEP=DIR keeps the run's files in DIR/scale.
# Needs root, ip, wg, awk, taskset, pgrep.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/netns/lib.sh
source "$SCRIPT_DIR/../netns/lib.sh"
# shellcheck source=tests/stress/proc-figures.sh
source "$SCRIPT_DIR/proc-figures.sh"
shift "$MODE_ARGS"
lib_init scale sc
# shellcheck source=tests/stress/figures.sh
source "$SCRIPT_DIR/figures.sh"
figures_init scale "$MODE"
# shellcheck source=tests/netns/topology.sh
source "$SCRIPT_DIR/../netns/topology.sh"

N=${SCALE_SPOKES_N:-1000}
ECHOES=$([[ $MODE == full ]] && echo 50 || echo 20)
RATE=400          # handshakes started per second in the scale run
# The hub and the spokes each on a CPU of their own (the first two this
# script may use), the same in every run: whether they share one changes
# what a packet costs the hub by a third.
mapfile -t CPUS < <(taskset -c -p $$ | sed 's/.*: //' | tr ',' '\n' |
  awk -F- '{ if (NF == 2) for (i = $1; i <= $2; i++) print i; else print $1 }')
HUB_CPU=${CPUS[0]:-0} SPOKES_CPU=${CPUS[1]:-${CPUS[0]:-0}}
WINDOW=32         # echoes outstanding
SOURCES=100       # spoke source addresses 203.0.113.100..199
START_BOUND=30    # s: hub listening (N routes to add)
RUN_BOUND=90      # s: one scale_spokes run
STOP_BOUND=10     # s: SIGTERM to exit
# ECHO_COST_BOUND: the most a packet may cost the hub (CPU time per echo)
# with N peers, as a multiple of its cost with 2. Why 3: on this machine (2
# shared cores, other builds running) the ratio measured 1.13 to 1.40 with
# the hub and spokes pinned (3 runs) and 1.17 to 2.04 before they were (11
# runs): the N-peer hub is a little dearer per packet (a larger working set:
# 1,000 sessions touched round robin) and a busy machine (its caches shared
# with others) makes that worse; 3 leaves room for the worst seen. What it
# catches: per-packet work that grows with the peers by twice a 2-peer
# packet's cost or more (about 20 us here: 20 ns per peer per packet at
# 1,000 peers), e.g. per-peer work done for each packet (a timer, a lock, a
# scan of every peer's sessions or allowed-ips). What it does not: one tight
# scan over the peer table. Measured by putting one into Device::by_index
# (every transport packet), it added 5-9 us a packet, ratio 1.59 to 1.92
# pinned (1.24 to 2.11 not), inside this machine's noise for a bound that
# must not flake.
ECHO_COST_BOUND=3
SEED="scale-$PREFIX"

P=$PREFIX
NS_H="${P}h" NS_S="${P}s" TUN="${P}ht"
HUB_PID=""

require_root
require_tools ip wg awk taskset pgrep
require_tun
sitelink_binaries "${1:-}" "${2:-}"
SCALE_SPOKES=${3:-"$(dirname "$SITELINKD")/../tests/stress/scale_spokes"}
require_exec SCALE_SPOKES
((N >= 3)) || { log "SCALE_SPOKES_N must be at least 3"; exit 1; }
log "$MODE mode: $N peers, $ECHOES echoes per spoke, handshakes paced at $RATE/s"

# --- topology ------------------------------------------------------------------------
[[ -n "${STRESS_KEEP:-}" ]] && on_cleanup cp -r "$WORK_DIR" "$STRESS_KEEP/scale"
on_cleanup rm -f "/run/wireguard/$TUN.sock"
underlay_pair "$NS_H" "${P}hu" "$NS_S" "${P}su"
for ((i = 0; i < SOURCES; i++)); do echo "addr add 203.0.113.$((100 + i))/24 dev ${P}su"; done |
  ip -n "$NS_S" -batch -

gen_key "$SITELINK" "$WORK_DIR" hub
HUB_PUB=$(<"$WORK_DIR/hub.pub")

# start_hub PEERS [TAG]: the hub with PEERS spokes configured; waits until it
# listens. It is gateway hub-PEERSTAG (config gw-hub-PEERSTAG.yaml, its log
# gw-hub-PEERSTAG.log).
start_hub() {
  local peers=$1 gw="hub-$1${2:-}"
  {
    yaml_interface "$TUN" "$WORK_DIR/hub.key" "address: [198.18.0.1/16]"
    "$SCALE_SPOKES" peers --spokes "$peers" --seed "$SEED"
  } >"$WORK_DIR/gw-$gw.yaml"
  GW_NS[$gw]=$NS_H
  local started=0
  start_gw "$gw" info && started=1
  HUB_PID=${GW_PID[$gw]}
  if ((started)); then
    local p  # the hub and its child (sitelinkd's network process)
    for p in "$HUB_PID" $(pgrep -P "$HUB_PID"); do
      taskset -a -p -c "$HUB_CPU" "$p" >/dev/null ||
        log "could not pin the hub's process $p to CPU $HUB_CPU (its echo cost is noisier)"
    done
  fi
  if ((started)); then
    pass "hub with $peers peers started"
  else
    fail "hub with $peers peers did not start: $(tail -3 "${GW_LOG[$gw]}" | tr '\n' ' ')"
    return 1
  fi
}

# stop_hub PEERS [TAG]: the hub must be alive and exit 0 on SIGTERM.
stop_hub() { stop_gw_check "hub with $1 peers" "hub-$1${2:-}"; }

# spokes OUT SPOKES RATE ECHOES: one scale_spokes run against the hub; its
# name=value results in OUT, its exit status in SPOKES_RC.
spokes() {
  local out=$1 n=$2 rate=$3 echoes=$4
  SPOKES_RC=0
  ip netns exec "$NS_S" timeout $((RUN_BOUND + 10)) taskset -c "$SPOKES_CPU" "$SCALE_SPOKES" run --hub-public-key "$HUB_PUB" \
    --hub-endpoint "203.0.113.1:$PORT" --spokes "$n" --seed "$SEED" --source-base 203.0.113.100 \
    --sources "$SOURCES" --rate "$rate" --echoes "$echoes" --window "$WINDOW" --hub-pid "$HUB_PID" \
    --timeout-s "$RUN_BOUND" >"$out" 2>"$out.err" || SPOKES_RC=$?
}
result() { awk -F= -v k="$2" '$1 == k {print $2}' "$1"; }

# check_run NAME OUT SPOKES: the run's assertions
check_run() {
  local name=$1 out=$2 n=$3 completed answered
  completed=$(result "$out" handshakes_completed) answered=$(result "$out" spokes_answered)
  if [[ ${completed:-0} == "$n" ]]; then
    pass "$name: all $n handshakes completed ($(result "$out" cookie_replies) cookie replies)"
  else
    fail "$name: ${completed:-0} of $n handshakes completed" \
      "(scale_spokes exit $SPOKES_RC: $(tail -2 "$out.err" | tr '\n' ' '))"
  fi
  if [[ ${answered:-0} == "$n" ]]; then
    pass "$name: every spoke got echo replies ($(result "$out" echo_replies) of $(result "$out" echo_sent))"
  else
    fail "$name: ${answered:-0} of $n spokes got an echo reply ($(result "$out" echo_lost) echoes lost)"
  fi
  if ((SPOKES_RC == 0)); then
    pass "$name: scale_spokes exit 0"
  else
    fail "$name: scale_spokes exit $SPOKES_RC"
  fi
}

# hub_peers_with_handshake: peers the hub itself reports a handshake for
hub_peers_with_handshake() { wg show "$TUN" latest-handshakes | awk '$2 != 0 {n++} END {print n + 0}'; }

# --- base: 2 peers -----------------------------------------------------------------------
TOTAL_ECHOES=$((N * ECHOES))
start_hub 2
sleep 1  # sampling after start-up, not a synchronisation
RSS_IDLE_2=$(proc_rss_kib "$HUB_PID")
spokes "$WORK_DIR/base.out" 2 "$RATE" $((TOTAL_ECHOES / 2))
check_run "2 peers" "$WORK_DIR/base.out" 2
RSS_SESSIONS_2=$(proc_rss_kib "$HUB_PID")
stop_hub 2

# --- scale: N peers ----------------------------------------------------------------------
start_hub "$N"
sleep 1
RSS_IDLE_N=$(proc_rss_kib "$HUB_PID")
spokes "$WORK_DIR/scale.out" "$N" "$RATE" "$ECHOES"
check_run "$N peers" "$WORK_DIR/scale.out" "$N"
RSS_SESSIONS_N=$(proc_rss_kib "$HUB_PID")
seen=$(hub_peers_with_handshake)
if ((seen == N)); then
  pass "the hub reports a handshake with all $N peers"
else
  fail "the hub reports a handshake with $seen of $N peers"
fi

spokes "$WORK_DIR/burst.out" "$N" 0 1
check_run "$N peers, all at once" "$WORK_DIR/burst.out" "$N"
# N initiations at once are far above the hub's under-load threshold (512
# handshake messages a second): it must have answered some with cookie
# replies, and the spokes completed anyway (check_run: all N handshakes).
burst_cookies=$(result "$WORK_DIR/burst.out" cookie_replies)
if ((${burst_cookies:-0} > 0)); then
  pass "$N peers, all at once: the hub went under load and sent $burst_cookies cookie replies"
else
  fail "$N peers, all at once: no cookie reply (the hub never went under load, or its cookies were lost)"
fi
RSS_END_N=$(proc_rss_kib "$HUB_PID")
stop_hub "$N"

# --- base again: 2 peers, for the echo cost ratio ------------------------------------------
start_hub 2 -again
spokes "$WORK_DIR/base-again.out" 2 "$RATE" $((TOTAL_ECHOES / 2))
check_run "2 peers, again" "$WORK_DIR/base-again.out" 2
stop_hub 2 -again

# --- figures -----------------------------------------------------------------------------
per_peer() { awk -v a="$1" -v b="$2" -v n=$((N - 2)) 'BEGIN {printf "%d", (a - b) * 1024 / n}'; }
figure peers "$N" peers
figure rss_idle_2 "$RSS_IDLE_2" KiB
figure "rss_idle_$N" "$RSS_IDLE_N" KiB
figure rss_sessions_2 "$RSS_SESSIONS_2" KiB
figure "rss_sessions_$N" "$RSS_SESSIONS_N" KiB
figure rss_per_peer "$(per_peer "$RSS_IDLE_N" "$RSS_IDLE_2")" bytes
figure rss_per_session_peer "$(per_peer "$RSS_SESSIONS_N" "$RSS_SESSIONS_2")" bytes
S="$WORK_DIR/scale.out" B="$WORK_DIR/base.out"
figure handshakes "$(result "$S" handshakes_completed)" handshakes
figure handshake_seconds "$(result "$S" handshake_seconds)" s
figure handshakes_per_second "$(result "$S" handshakes_per_second)" handshakes/s
figure hub_cpu_handshake_seconds "$(result "$S" hub_cpu_handshake_seconds)" s
figure handshakes_per_core_second "$(result "$S" handshakes_per_hub_cpu_second)" handshakes/cpu-s
figure hub_minor_faults_handshake "$(result "$S" hub_minor_faults_handshake)" faults
figure cookie_replies "$(result "$S" cookie_replies)" replies
for run in 2 "$N"; do
  out=$([[ $run == 2 ]] && echo "$B" || echo "$S")
  figure "echoes_$run" "$(result "$out" echo_sent)" packets
  figure "echo_lost_$run" "$(result "$out" echo_lost)" packets
  figure "hub_cpu_per_echo_us_$run" "$(result "$out" hub_cpu_per_echo_us)" us
  figure "rtt_median_us_$run" "$(result "$out" rtt_median_us)" us
  figure "rtt_p99_us_$run" "$(result "$out" rtt_p99_us)" us
done
# The echo cost ratio: hub CPU per echo with N peers over the same with 2,
# the 2-peer cost being the larger of the runs before and after the N-peer
# one, so that the machine getting busier during the N-peer run (CPU per
# packet doubles when the other core is busy) is less likely to pass for
# growth.
BA="$WORK_DIR/base-again.out"
figure hub_cpu_per_echo_us_2_again "$(result "$BA" hub_cpu_per_echo_us)" us
BASE_COST=$(awk -v a="$(result "$B" hub_cpu_per_echo_us)" -v b="$(result "$BA" hub_cpu_per_echo_us)" \
  'BEGIN {printf "%.3f", (a > b ? a : b)}')
RATIO=$(awk -v a="$(result "$S" hub_cpu_per_echo_us)" -v b="$BASE_COST" \
  'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')
figure echo_cost_ratio "$RATIO" x
if awk -v r="$RATIO" -v max="$ECHO_COST_BOUND" 'BEGIN {exit !(r > 0 && r <= max)}'; then
  pass "a packet costs the hub ${RATIO}x the CPU with $N peers as with 2 (bound ${ECHO_COST_BOUND}x)"
else
  fail "a packet costs the hub ${RATIO}x the CPU with $N peers as with 2 (bound ${ECHO_COST_BOUND}x):" \
    "$(result "$S" hub_cpu_per_echo_us) us against $BASE_COST us per echo"
fi
BU="$WORK_DIR/burst.out"
figure burst_handshake_seconds "$(result "$BU" handshake_seconds)" s
figure burst_cookie_replies "$(result "$BU" cookie_replies)" replies
figure burst_initiations "$(result "$BU" initiations_sent)" initiations
figure burst_hub_cpu_seconds "$(result "$BU" hub_cpu_handshake_seconds)" s
figure rss_end_burst "$RSS_END_N" KiB
