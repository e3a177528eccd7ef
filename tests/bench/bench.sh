#!/usr/bin/env bash
# The side-by-side benchmark (issue 8): sitelink against wireguard-go, the
# bare veth and, where installed, fastd and OpenVPN, in one run, on this
# host, in network namespaces.
#
# Usage (as root, from anywhere):
#   bash tests/bench/bench.sh [--quick] [--switches] [--micro [--microbench PATH]] [--only LIST]
#                             [--out DIR] [--save NAME] [SITELINKD]
#     --quick       short runs, one repetition (about two minutes)
#     --switches    instead of the side-by-side table: sitelink alone, each
#                   data-path switch added in turn (the per-technique table)
#     --micro       also run the Google Benchmark microbenchmarks (microbench)
#     --microbench  the microbench binary (default: next to SITELINKD's build,
#                   BUILD/tests/bench/microbench); every run that finds it
#                   measures the AEAD floor with it (a few seconds)
#     --only LIST   only these paths, comma-separated (raw, sitelink,
#                   sitelink-pool, wireguard-go, fastd, openvpn; sw0..sw6)
#     --out DIR     where results go (default <repo>/build/bench): bench.md (the
#                   table), bench.json, bench.png (gnuplot), micro.json, and
#                   raw/ (every iperf3 -J, ping, start and socket-buffer file)
#     --save NAME   also copy bench.json and bench.md to
#                   tests/bench/results/NAME.json and NAME.md (to commit)
#     SITELINKD     default <repo>/build/daemon/sitelinkd (build it Release
#                   or RelWithDebInfo)
#   A full run takes about 20 minutes with all six paths and --micro; a
#   --switches run about 6. Run it on an otherwise idle machine; the figures
#   are noisy anyway. SITELINK_COMMIT=REV names the commit SITELINKD was
#   built from in the results when it lies outside this repository.
#
# Layout: one namespace per site holding the gateway's tunnel interface and
# the iperf3 endpoint (client in site A, server in site B), the two joined by
# a veth pair, the underlay:
#
#   ${P}a: gateway A (TUN), iperf3 -c, ping     ${P}b: gateway B (TUN), iperf3 -s
#          ${P}va 203.0.113.1/24  <---- veth ---->  ${P}vb 203.0.113.2/24
#
#   path           addresses A / B                 UDP port
#   raw            203.0.113.1 / 203.0.113.2       -       (no tunnel: the ceiling)
#   sitelink       198.18.1.1 / 198.18.1.2 (TUN)   51820   sitelinkd --config YAML
#                                                          (crypto-threads: auto)
#   sitelink-pool  the same, with crypto-threads: 1 (auto gives none on 2
#                  CPUs): the crypto pool's before/after
#   wireguard-go   198.18.2.1 / 198.18.2.2 (TUN)   51821   wireguard-go -f, then a
#                                                          UAPI set and rtnetlink
#   fastd          198.18.3.1 / 198.18.3.2 (TUN)   10000   fastd v22, salsa2012+umac
#   openvpn        198.18.4.1 / 198.18.4.2 (TUN)   1194    OpenVPN 2.6 p2p, TLS,
#                                                          ChaCha20-Poly1305, no DCO
#   sw0..sw6       (--switches) as sitelink: sw0 with every data-path switch
#                  off, then socket-buffer, batch-io, udp-gro, udp-gso,
#                  tun-offload and crypto-threads: 1 added one at a time
#
# sitelink and wireguard-go gateways have two configured peers: the other
# site and an idle spare (no endpoint); fastd (one interface per peer in tun
# mode) and OpenVPN (point to point) have one. MTU 1420 on every tunnel.
#
# Socket buffers: every gateway's UDP sockets hold the same buffers,
# SOCKBUF (4 MiB) asked for, which the kernel doubles (8 MiB granted):
# sitelinkd by its socket-buffer (default), OpenVPN by --rcvbuf/--sndbuf.
# wireguard-go 0.0.20220316 and fastd have no option, and net.core.[rw]mem_*
# cannot be set per namespace here (read-only outside the initial one), so
# the benchmark sets SO_RCVBUFFORCE/SO_SNDBUFFORCE on their own sockets from
# outside (pidfd_getfd), once the path is up and before any traffic. What
# every socket actually holds is read the same way, after start and after the
# traffic, into raw/IMPL.REP.sockbuf-*.json and bench.json.
#
# For each repetition (3 full, 1 quick) every path is brought up in turn (the
# order rotates between repetitions) and measured, then taken down again:
#   start to first packet  gateway B is up; then gateway A is started by
#                          bench.py launch, which reads CLOCK_MONOTONIC around
#                          three phases, each ended by the same in-process
#                          poll of /proc (every 0.2 ms, no fork, no shell):
#                          process start  exec until the daemon can be
#                            configured: its UDP socket bound, or for
#                            wireguard-go (which binds only once up) its UAPI
#                            socket;
#                          configuration  until the route to B's tunnel
#                            address is in: sitelinkd and OpenVPN do it
#                            themselves, fastd by its on-up hook, wireguard-go
#                            by the launcher itself: a UAPI set on its socket
#                            (what `wg set` sends), then address, MTU and up,
#                            route over rtnetlink (what `ip` does), no fork;
#                          handshake + first echo  an ICMP echo to B's tunnel
#                            address every millisecond until the first reply
#   ping RTT               100 pings at 0.01 s; median and average
#   TCP                    iperf3 -t 10 (2 quick; 5 with --switches), 1 and 4
#                          streams, A -> B
#   CPU s per GB           utime+stime (/proc/PID/stat) of each gateway daemon
#                          alone over the two TCP runs, divided by the GB (1e9
#                          bytes) received: A seals the data, B opens it
#   AEAD floor             microbench Transport/AeadSeal/1420 and AeadOpen/1420:
#                          ChaCha20-Poly1305 alone, s per GB of 1420-byte packets
#   UDP                    iperf3 -u at 200, 500, 1000 Mbit/s offered, 1392-byte
#                          datagrams, -t 10 (2 quick), 4 MiB socket buffers:
#                          loss % and Mbit/s received
#   RSS                    VmRSS (and VmHWM) of the larger of the two gateway
#                          daemons after the traffic
# Then, once per run, memory per configured peer: each daemon alone in a third
# namespace, idle, with 2 and with 1000 configured peers (random keys, one /32
# each, no endpoints); (RSS_1000 - RSS_2) / 998. --switches measures TCP and
# CPU only.
#
# Figures are medians over the repetitions. They are printed as a Markdown
# table and as `FIGURE: path.name=value` lines, and written to DIR. Nothing
# asserts a speed: the exit status is non-zero only when a figure could not
# be produced (a path that does not come up, an iperf3 that fails, ...).
# fastd and OpenVPN are measured only where installed (apt-get install fastd
# openvpn); the run says so when they are not.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$SCRIPT_DIR/../.." && pwd)
BENCH_PY="$SCRIPT_DIR/bench.py"

QUICK=0 MICRO=0 SWITCHES=0 MICROBENCH="" OUT_DIR="" SITELINKD="" ONLY="" SAVE=""
ARGS=("$@")
usage() { sed -n '6,31p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
while (($#)); do
  case $1 in
    --quick) QUICK=1 ;;
    --micro) MICRO=1 ;;
    --switches) SWITCHES=1 ;;
    --save) SAVE=${2:?--save needs a name}; shift ;;
    --microbench) MICROBENCH=${2:?--microbench needs a path}; shift ;;
    --out) OUT_DIR=${2:?--out needs a directory}; shift ;;
    --only) ONLY=${2:?--only needs a list}; shift ;;
    -h | --help) usage; exit 0 ;;
    -*) echo "bench: unknown option $1" >&2; usage >&2; exit 64 ;;
    *) SITELINKD=$1 ;;
  esac
  shift
done
SITELINKD=${SITELINKD:-"$REPO_DIR/build/daemon/sitelinkd"}
OUT_DIR=${OUT_DIR:-"$REPO_DIR/build/bench"}

# shellcheck source=tests/netns/lib.sh
source "$REPO_DIR/tests/netns/lib.sh"
lib_init bench bn
# shellcheck source=tests/netns/topology.sh
source "$REPO_DIR/tests/netns/topology.sh"

require_root
require_tools ip ping iperf3 ss wireguard-go wg python3 gnuplot timeout awk
require_tun
require_exec SITELINKD
SITELINK="$(dirname "$SITELINKD")/sitelink"
MICROBENCH=${MICROBENCH:-"$(dirname "$SITELINKD")/../tests/bench/microbench"}
if [[ ! -x "$MICROBENCH" ]]; then
  ((MICRO)) && { log "not executable: $MICROBENCH (build the microbench target; needs libbenchmark-dev)"; exit 1; }
  log "no microbench at $MICROBENCH: the AEAD floor is not measured"
  MICROBENCH=""
fi
[[ -n "$SAVE" && ! "$SAVE" =~ ^[A-Za-z0-9._-]+$ ]] && { log "--save: a plain file name, not $SAVE"; exit 64; }

if ((QUICK)); then
  REPS=1 TCP_T=2 UDP_T=2
elif ((SWITCHES)); then
  REPS=3 TCP_T=5 UDP_T=0
else
  REPS=3 TCP_T=10 UDP_T=10
fi
PINGS=100
UDP_RATES=(200 500 1000)
UDP_LEN=1392       # 1420 - 20 (IPv4) - 8 (UDP): no fragmentation in the tunnels
# iperf3's own sockets get 4 MiB buffers (or what net.core.[rw]mem_max allow),
# so that the endpoints are not what loses datagrams: with the default
# 208 KiB, the bare veth already loses 7-9 % at 500 Mbit/s on a busy 2-core host.
UDP_WIN=$(awk 'BEGIN { m = 4194304 } $1 < m { m = $1 } END { print m }' /proc/sys/net/core/[rw]mem_max)
MEM_FEW=2 MEM_MANY=1000
# The UDP socket buffers every gateway gets (sitelinkd's socket-buffer
# default; the kernel grants twice what is asked).
SOCKBUF=4194304
UP_BOUND=10        # s for a gateway to start and carry its first packet
IPERF_PORT=5201

P=$PREFIX
NS_A="${P}a" NS_B="${P}b" NS_M="${P}m"
UNDER_A=203.0.113.1 UNDER_B=203.0.113.2
IMPLS=(raw sitelink sitelink-pool wireguard-go)
MEM_IMPLS=(sitelink wireguard-go)
declare -A DST=([raw]=$UNDER_B [sitelink]=198.18.1.2 [sitelink-pool]=198.18.1.2 [wireguard-go]=198.18.2.2 [fastd]=198.18.3.2 [openvpn]=198.18.4.2)
FASTD_METHOD=salsa2012+umac   # fastd's fastest authenticated method (it has no ChaCha20-Poly1305)
OVPN_CIPHER=CHACHA20-POLY1305
skipped=()
if command -v fastd >/dev/null; then IMPLS+=(fastd); else skipped+=(fastd); fi
if command -v openvpn >/dev/null && command -v openssl >/dev/null; then IMPLS+=(openvpn); else skipped+=(openvpn); fi

# --switches: sw0 has every data-path switch off; swK adds the first K of
# SWITCH_ORDER (cumulative), each at its SW_ON value.
SWITCH_ORDER=(socket-buffer batch-io udp-gro udp-gso tun-offload crypto-threads)
declare -A SW_OFF=([socket-buffer]=0 [batch-io]=false [udp-gro]=false [udp-gso]=false [tun-offload]=false [crypto-threads]=0)
declare -A SW_ON=([socket-buffer]=$SOCKBUF [batch-io]=true [udp-gro]=true [udp-gso]=true [tun-offload]=true [crypto-threads]=1)
# switch_lines K: the interface lines of step swK.
switch_lines() {
  local i sw
  for i in "${!SWITCH_ORDER[@]}"; do
    sw=${SWITCH_ORDER[$i]}
    if ((i < $1)); then echo "$sw: ${SW_ON[$sw]}"; else echo "$sw: ${SW_OFF[$sw]}"; fi
  done
}
if ((SWITCHES)); then
  IMPLS=() MEM_IMPLS=() skipped=()
  for ((k = 0; k <= ${#SWITCH_ORDER[@]}; k++)); do
    IMPLS+=("sw$k")
    DST[sw$k]=198.18.1.2
  done
fi
if [[ -n "$ONLY" ]]; then
  keep=()
  for impl in "${IMPLS[@]}"; do [[ ",$ONLY," == *",$impl,"* ]] && keep+=("$impl"); done
  ((${#keep[@]})) || { log "--only $ONLY: none of ${IMPLS[*]}"; exit 64; }
  IMPLS=("${keep[@]}")
  keep=()
  for impl in "${MEM_IMPLS[@]}"; do [[ ",$ONLY," == *",$impl,"* ]] && keep+=("$impl"); done
  MEM_IMPLS=("${keep[@]}")
fi

mkdir -p "$OUT_DIR"
OUT_DIR=$(cd "$OUT_DIR" && pwd)
RAW="$OUT_DIR/raw"
rm -rf "$RAW"
rm -f "$OUT_DIR"/bench.{json,md,png,dat,gp} "$OUT_DIR/micro.json" "$OUT_DIR/aead.json"
mkdir -p "$RAW"
SAMPLES="$RAW/samples.tsv"
: >"$SAMPLES"
sample() { echo "$1 $2 $3 ${4:-nan}" >>"$SAMPLES"; }

# --- run description --------------------------------------------------------------------
for t in "${skipped[@]}"; do log "$t: not installed, skipped"; done
dpkg_version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo "not installed"; }
{
  printf 'date\t%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  printf 'command\t%s\n' "bash tests/bench/bench.sh ${ARGS[*]}"
  printf 'mode\t%s\n' "$( ((SWITCHES)) && echo switches || echo side-by-side)"
  printf 'quick\t%s\nmicro\t%s\n' "$QUICK" "$MICRO"
  printf 'repetitions\t%s\ntcp_seconds\t%s\nudp_seconds\t%s\npings\t%s\n' "$REPS" "$TCP_T" "$UDP_T" "$PINGS"
  printf 'udp_rates_mbps\t%s\nudp_datagram_bytes\t%s\nudp_socket_buffer_bytes\t%s\n' "${UDP_RATES[*]}" "$UDP_LEN" "$UDP_WIN"
  printf 'gateway_socket_buffer_bytes\t%s\n' "$SOCKBUF"
  printf 'microbench\t%s\n' "$MICROBENCH"
  printf 'implementations\t%s\nmem_implementations\t%s\n' "${IMPLS[*]}" "${MEM_IMPLS[*]}"
  printf 'clk_tck\t%s\nmem_peers_few\t%s\nmem_peers_many\t%s\n' "$(getconf CLK_TCK)" "$MEM_FEW" "$MEM_MANY"
  printf 'machine.nproc\t%s\n' "$(nproc)"
  printf 'machine.kernel\t%s\n' "$(uname -r)"
  printf 'machine.cpu\t%s\n' "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
  printf 'machine.memory\t%s\n' "$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
  printf 'machine.os\t%s\n' "$(. /etc/os-release && echo "$PRETTY_NAME")"
  printf 'machine.net_core\t%s\n' "$(for f in rmem_max wmem_max rmem_default wmem_default; do printf '%s=%s ' "$f" "$(cat /proc/sys/net/core/$f)"; done)"
  printf 'version.sitelink\t%s\n' "$("$SITELINKD" --version | head -1 | awk '{ print $NF }')"
  # The commit the measured sitelinkd was built from: SITELINK_COMMIT if set,
  # else this repository's HEAD (and whether its tracked files differ from
  # it) when SITELINKD lies inside it.
  commit=${SITELINK_COMMIT:-unknown} dirty=unknown
  if [[ -z "${SITELINK_COMMIT:-}" && $SITELINKD == "$REPO_DIR"/* ]]; then
    commit=$(git -C "$REPO_DIR" rev-parse HEAD 2>/dev/null || echo unknown)
    if [[ -n $(git -C "$REPO_DIR" status --porcelain --untracked-files=no 2>/dev/null) ]]; then dirty=true; else dirty=false; fi
  fi
  printf 'version.sitelink_commit\t%s\nversion.sitelink_dirty\t%s\nsitelinkd\t%s\n' "$commit" "$dirty" "$SITELINKD"
  printf 'version.wireguard-go\t%s\n' "$(wireguard-go --version | head -1 | awk '{ print $2 }')"
  printf 'version.iperf3\t%s\n' "$(iperf3 --version | head -1)"
  printf 'version.kernel\t%s\n' "$(uname -r)"
  for pkg in wireguard-go fastd openvpn iperf3; do printf 'dpkg.%s\t%s\n' "$pkg" "$(dpkg_version "$pkg")"; done
  command -v fastd >/dev/null && printf 'version.fastd\t%s\n' "$(fastd --version | awk '{ print $2 }') ($FASTD_METHOD)"
  command -v openvpn >/dev/null && printf 'version.openvpn\t%s\n' "$(openvpn --version | awk 'NR == 1 { print $2 }') ($OVPN_CIPHER, no DCO)"
  for t in "${skipped[@]}"; do printf 'skipped.%s\t%s\n' "$t" "not installed"; done
  if ((SWITCHES)); then
    printf 'label.sw0\t%s\n' "every switch off: one system call per packet, the kernel's default socket buffers"
    for ((k = 1; k <= ${#SWITCH_ORDER[@]}; k++)); do
      sw=${SWITCH_ORDER[$((k - 1))]}
      printf 'label.sw%d\t+ %s: %s\n' "$k" "$sw" "${SW_ON[$sw]}"
    done
  fi
} >"$RAW/meta.tsv"

# The machine's load over the run (it is shared): the load averages every 10 s.
load_sampler() {
  while :; do
    echo "$(date +%s) $(cut -d' ' -f1-3 /proc/loadavg)"
    sleep 10
  done
}
start_bg "$RAW/load.tsv" load_sampler
LOAD_PID=$BG_PID

# --- the AEAD floor ---------------------------------------------------------------------------
# ChaCha20-Poly1305 alone on this CPU, 1420-byte packets: what a gateway
# cannot go below per GB, whatever its data path.
if [[ -n "$MICROBENCH" ]]; then
  log "AEAD floor: $MICROBENCH Transport/Aead{Seal,Open}/1420"
  timeout 120 "$MICROBENCH" '--benchmark_filter=^Transport/Aead(Seal|Open)/1420$' --benchmark_repetitions=3 \
    "--benchmark_min_time=$( ((QUICK)) && echo 0.1 || echo 0.5)" --benchmark_report_aggregates_only=true \
    --benchmark_out="$RAW/aead.json" --benchmark_out_format=json >"$RAW/aead.txt" 2>&1 ||
    log "the AEAD floor's microbench failed: $(tail -1 "$RAW/aead.txt")"
fi

# --- microbenchmarks ------------------------------------------------------------------------
if ((MICRO)); then
  log "microbenchmarks: $MICROBENCH"
  micro_args=(--benchmark_out="$OUT_DIR/micro.json" --benchmark_out_format=json)
  ((QUICK)) && micro_args+=(--benchmark_min_time=0.05)
  if timeout 900 "$MICROBENCH" "${micro_args[@]}" >"$RAW/micro.txt" 2>&1; then
    python3 "$BENCH_PY" micro-table "$OUT_DIR/micro.json" || true
  else
    log "microbench failed:"
    cat "$RAW/micro.txt" >&2
  fi
fi

# --- topology ---------------------------------------------------------------------------
underlay_pair "$NS_A" "${P}va" "$NS_B" "${P}vb"   # UNDER_A, UNDER_B
ns_add "$NS_M"
for ifc in sa sb wa wb ms mw fa fb oa ob; do on_cleanup rm -f "/run/wireguard/${P}$ifc.sock"; done

KEYS="$WORK_DIR/keys"
mkdir -m 700 "$KEYS"
for k in a b spare m; do gen_key wg "$KEYS" "$k"; done

# --- reading a daemon -----------------------------------------------------------------------
# A daemon is its process and that process's children: sitelinkd runs as a
# monitor (the PID started) and a network process (its child; privilege
# separation), and its figures are both's. The others are one process.
# daemon_tree PID: PID and its children, one per line.
daemon_tree() {
  echo "$1"
  pgrep -P "$1" || true
}
# socket_pid PID: the process of the daemon PID that holds its UDP socket:
# sitelinkd's network process (a child of the same name, whatever the
# binary is called: a before/after run may rename one), or PID itself.
socket_pid() {
  local c
  c=$(pgrep -P "$1" -x "$(cat "/proc/$1/comm" 2>/dev/null || echo sitelinkd)" | head -n 1 || true)
  echo "${c:-$1}"
}
# cpu_ticks PID...: utime+stime of all the daemons (empty if one is gone,
# or for no PID: the bare veth has no daemon).
cpu_ticks() {
  local pid p sum=0 t
  (($#)) || return 0
  for pid in "$@"; do
    [[ $pid =~ ^[0-9]+$ ]] || return 0
    for p in $(daemon_tree "$pid"); do
      t=$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null | awk '{ print $12 + $13 }') || return 0
      [[ -n "$t" ]] || return 0
      sum=$((sum + t))
    done
  done
  echo "$sum"
}
# status_kib FIELD PID...: the largest daemon's /proc/PID/status FIELD
# (VmRSS, VmHWM) in KiB, summed over its processes.
status_kib() {
  local field=$1 pid p v sum max=""
  shift
  for pid in "$@"; do
    sum=""
    for p in $(daemon_tree "$pid"); do
      v=$(awk -v f="$field:" '$1 == f { print $2 }' "/proc/$p/status" 2>/dev/null) || true
      [[ -n "$v" ]] && sum=$((${sum:-0} + v))
    done
    [[ -n "$sum" ]] || continue
    [[ -z "$max" || $sum -gt $max ]] && max=$sum
  done
  echo "$max"
}
# settled_rss PID: VmRSS once two readings 0.2 s apart agree (at most 3 s).
settled_rss() {
  local prev="" cur i
  for ((i = 0; i < 15; i++)); do
    cur=$(status_kib VmRSS "$1")
    [[ -n "$cur" && "$cur" == "$prev" ]] && break
    prev=$cur
    sleep 0.2
  done
  echo "$cur"
}
sock_ready() { test -S "/run/wireguard/$1.sock"; }
# up_ready NS IFACE PORT PID: the daemon's interface exists and its UDP port
# is bound (or the daemon has exited).
up_ready() {
  kill -0 "$4" 2>/dev/null || return 0
  ip -n "$1" link show "$2" >/dev/null 2>&1 && ip netns exec "$1" ss -Hlun "sport = :$3" | grep -q .
}
# gateway_ready NS IFACE PORT PID: what SPEC.md promises once sitelinkd is up:
# its UAPI socket too.
gateway_ready() { up_ready "$@" && { sock_ready "$2" || ! kill -0 "$4" 2>/dev/null; }; }
alive() {
  local pid
  for pid in "$@"; do kill -0 "$pid" 2>/dev/null || return 1; done
}

# --- bringing paths up and down -----------------------------------------------------------------
# up_IMPL REP sets A_PID, B_PID (the daemons), A_LAUNCH, B_LAUNCH (their
# launchers); down_IMPL stops them. Both gateways start through bench.py
# launch (the same phases and polls); A's phases are the start figures.
A_PID="" B_PID="" A_LAUNCH="" B_LAUNCH=""

# FILE IFACE KEY ADDR PEERKEY PEERADDR [ENDPOINT]; listen-port PORT (51820),
# and the interface lines in SL_EXTRA.
SL_EXTRA=()
sitelink_yaml() {
  {
    yaml_interface "$2" "$3" "address: [$4/32]" "${SL_EXTRA[@]}"
    echo "peers:"
    yaml_peer other-site "$5" ${7:+"endpoint: \"$7\""} "allowed-ips: [$6/32]"
    yaml_peer spare "$KEYS/spare.pub" "allowed-ips: [198.18.9.0/24]"
  } >"$1"
}

# wireguard-go is configured from outside: wg_uapi writes the UAPI set
# request `wg set` would send; the launcher writes it to the socket and sets
# the interface's address, MTU, up and route over rtnetlink itself (--netlink:
# what `ip` would do), so that no fork is timed on one side only.
key_hex() { base64 -d <"$1" | od -An -v -tx1 | tr -d ' \n'; }
wg_uapi() { # FILE KEY PEERKEY PEERADDR [ENDPOINT]
  {
    echo "set=1"
    echo "private_key=$(key_hex "$2")"
    echo "listen_port=51821"
    echo "replace_peers=true"
    echo "public_key=$(key_hex "$3")"
    [[ -n "${5:-}" ]] && echo "endpoint=$5"
    echo "replace_allowed_ips=true"
    echo "allowed_ip=$4/32"
    echo "public_key=$(key_hex "$KEYS/spare.pub")"
    echo "replace_allowed_ips=true"
    echo "allowed_ip=198.18.9.0/24"
    echo
  } >"$1"
  chmod 600 "$1"
}

# launch_gw SIDE REP IMPL NS LAUNCH-OPTION... -- CMD...: gateway SIDE (a or b)
# through bench.py launch in NS; waits for its result (the phases, in
# RAW/IMPL.REP.start-SIDE.json). Sets A_PID and A_LAUNCH, or B_PID and B_LAUNCH.
launch_gw() {
  local side=$1 rep=$2 impl=$3 ns=$4 pid
  shift 4
  local pidf="$WORK_DIR/$impl-$side-$rep.pid" resf="$RAW/$impl.$rep.start-$side.json"
  start_bg "$WORK_DIR/$impl-$side-$rep.log" ip netns exec "$ns" python3 "$BENCH_PY" launch \
    --pidfile "$pidf" --result "$resf" --bound "$UP_BOUND" "$@"
  if [[ $side == a ]]; then A_LAUNCH=$BG_PID; else B_LAUNCH=$BG_PID; fi
  wait_until "gateway $side ($impl)" $((UP_BOUND + 5)) test -f "$resf" || return 1
  pid=$(cat "$pidf")
  adopt_pid "$pid"
  if [[ $side == a ]]; then A_PID=$pid; else B_PID=$pid; fi
  grep -q '"ok": true' "$resf" || { log "$impl: gateway $side did not come up: $(cat "$resf")"; return 1; }
}

# up_sitelink REP [IMPL [LINE...]]: the pair as IMPL (default sitelink), with
# the extra interface LINEs.
up_sitelink() {
  local rep=$1 impl=${2:-sitelink}
  SL_EXTRA=("${@:3}")
  sitelink_yaml "$WORK_DIR/sl-b.yaml" "${P}sb" "$KEYS/b.key" 198.18.1.2 "$KEYS/a.pub" 198.18.1.1
  sitelink_yaml "$WORK_DIR/sl-a.yaml" "${P}sa" "$KEYS/a.key" 198.18.1.1 "$KEYS/b.pub" 198.18.1.2 "$UNDER_B:51820"
  launch_gw b "$rep" "$impl" "$NS_B" --iface "${P}sb" --ready udp:51820 --route-to 198.18.1.1 -- \
    "$SITELINKD" --config "$WORK_DIR/sl-b.yaml" --log-level info || return 1
  # What SPEC.md promises once sitelinkd is up: its UAPI socket too.
  wait_until "sitelinkd B's UAPI socket" "$UP_BOUND" gateway_ready "$NS_B" "${P}sb" 51820 "$B_PID" || return 1
  alive "$B_PID" || { log "sitelinkd B exited"; return 1; }
  launch_gw a "$rep" "$impl" "$NS_A" --iface "${P}sa" --ready udp:51820 --route-to 198.18.1.2 --dest 198.18.1.2 -- \
    "$SITELINKD" --config "$WORK_DIR/sl-a.yaml" --log-level info || return 1
  wait_until "sitelinkd A's UAPI socket" "$UP_BOUND" gateway_ready "$NS_A" "${P}sa" 51820 "$A_PID"
}
up_sitelink-pool() { up_sitelink "$1" sitelink-pool "crypto-threads: 1"; }
# up_swK REP: a --switches step.
up_switch() {
  local rep=$1 k=${2#sw} lines
  mapfile -t lines < <(switch_lines "$k")
  up_sitelink "$rep" "$2" "${lines[@]}"
}

up_wireguard-go() {
  local rep=$1
  wg_uapi "$WORK_DIR/wg-b.uapi" "$KEYS/b.key" "$KEYS/a.pub" 198.18.2.1
  wg_uapi "$WORK_DIR/wg-a.uapi" "$KEYS/a.key" "$KEYS/b.pub" 198.18.2.2 "$UNDER_B:51821"
  launch_gw b "$rep" wireguard-go "$NS_B" --iface "${P}wb" --ready "unix:/run/wireguard/${P}wb.sock" \
    --uapi "$WORK_DIR/wg-b.uapi" --netlink 198.18.2.2,1420,198.18.2.1 --route-to 198.18.2.1 -- \
    env LOG_LEVEL=error wireguard-go -f "${P}wb" || return 1
  launch_gw a "$rep" wireguard-go "$NS_A" --iface "${P}wa" --ready "unix:/run/wireguard/${P}wa.sock" \
    --uapi "$WORK_DIR/wg-a.uapi" --netlink 198.18.2.1,1420,198.18.2.2 --route-to 198.18.2.2 --dest 198.18.2.2 -- \
    env LOG_LEVEL=error wireguard-go -f "${P}wa"
}

up_raw() { A_PID="" B_PID=""; }
down_raw() { :; }

down_daemons() {
  local pid
  for pid in "$A_LAUNCH" "$A_PID" "$B_LAUNCH" "$B_PID"; do
    [[ -n "$pid" ]] && stop_pid "$pid"  # a daemon is gone with its launcher, unless that was killed
  done
  A_LAUNCH="" A_PID="" B_LAUNCH="" B_PID=""
  local ifc
  for ifc in "$@"; do
    wait_until "$ifc removed" 5 bash -c "! ip -n '$NS_A' link show '$ifc' >/dev/null 2>&1 && ! ip -n '$NS_B' link show '$ifc' >/dev/null 2>&1" ||
      { ip -n "$NS_A" link del "$ifc" 2>/dev/null; ip -n "$NS_B" link del "$ifc" 2>/dev/null; true; }
    rm -f "/run/wireguard/$ifc.sock"
  done
}
down_sitelink() { down_daemons "${P}sa" "${P}sb"; }
down_sitelink-pool() { down_sitelink; }
down_wireguard-go() { down_daemons "${P}wa" "${P}wb"; }
down_fastd() { down_daemons "${P}fa" "${P}fb"; }
down_openvpn() { down_daemons "${P}oa" "${P}ob"; }

# up IMPL REP / down IMPL: the path's functions (swK: the --switches steps).
up() { if [[ $1 == sw* ]]; then up_switch "$2" "$1"; else "up_$1" "$2"; fi; }
down() { if [[ $1 == sw* ]]; then down_sitelink; else "down_$1"; fi; }

# fastd, tun mode, keys made with fastd itself; the interface is configured
# by its on-up hook (so that counts into start to first packet). One peer
# only: in tun mode fastd makes an interface per peer.
fastd_key() { # NAME: KEYS/NAME.fsec (secret) and KEYS/NAME.fpub
  (umask 077 && fastd --generate-key --machine-readable 2>/dev/null >"$KEYS/$1.fsec")
  printf 'secret "%s";\n' "$(cat "$KEYS/$1.fsec")" >"$KEYS/$1.fshow"
  fastd --config "$KEYS/$1.fshow" --show-key --machine-readable 2>/dev/null >"$KEYS/$1.fpub"
}
fastd_conf() { # FILE IFACE KEYNAME BIND ADDR PEERKEYNAME PEERADDR [REMOTE]
  cat >"$1" <<EOF
log level error;
interface "$2";
mode tun;
method "$FASTD_METHOD";
bind $4:10000;
secret "$(cat "$KEYS/$3.fsec")";
mtu 1420;
on up sync "ip addr add $5/32 dev \$INTERFACE && ip link set \$INTERFACE up && ip route add $7/32 dev \$INTERFACE";
peer "other-site" { key "$(cat "$KEYS/$6.fpub")"; ${8:+remote $8:10000;} }
EOF
}
up_fastd() {
  local rep=$1
  [[ -s "$KEYS/b.fpub" ]] || { fastd_key a && fastd_key b; } || return 1
  fastd_conf "$WORK_DIR/fastd-b.conf" "${P}fb" b "$UNDER_B" 198.18.3.2 a 198.18.3.1
  fastd_conf "$WORK_DIR/fastd-a.conf" "${P}fa" a "$UNDER_A" 198.18.3.1 b 198.18.3.2 "$UNDER_B"
  launch_gw b "$rep" fastd "$NS_B" --iface "${P}fb" --ready udp:10000 --route-to 198.18.3.1 -- \
    fastd --config "$WORK_DIR/fastd-b.conf" || return 1
  launch_gw a "$rep" fastd "$NS_A" --iface "${P}fa" --ready udp:10000 --route-to 198.18.3.2 --dest 198.18.3.2 -- \
    fastd --config "$WORK_DIR/fastd-a.conf"
}

# OpenVPN 2.6 peer to peer over TLS with self-signed certificates pinned by
# --peer-fingerprint, ChaCha20-Poly1305 for data, in userspace (no DCO).
# OpenVPN sets the point-to-point addresses itself (--ifconfig), and its
# socket buffers (--rcvbuf, --sndbuf: SOCKBUF, as sitelinkd's).
ovpn_cert() { # NAME: KEYS/NAME.crt, .pem (key), .fp (SHA-256 fingerprint)
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "/CN=$1" \
    -keyout "$KEYS/$1.pem" -out "$KEYS/$1.crt" 2>/dev/null &&
    openssl x509 -in "$KEYS/$1.crt" -noout -fingerprint -sha256 | sed 's/^.*=//' >"$KEYS/$1.fp"
}
ovpn_args() { # IFACE CERTNAME PEERCERTNAME LOCAL_TUN REMOTE_TUN
  echo --dev "$1" --dev-type tun --proto udp --port 1194 --ifconfig "$4" "$5" --tun-mtu 1420 \
    --data-ciphers "$OVPN_CIPHER" --dh none --disable-dco --rcvbuf "$SOCKBUF" --sndbuf "$SOCKBUF" --cert "$KEYS/$2.crt" --key "$KEYS/$2.pem" \
    --peer-fingerprint "$(cat "$KEYS/$3.fp")" --verb 1
}
up_openvpn() {
  local rep=$1
  [[ -s "$KEYS/ovpn-b.fp" ]] || { ovpn_cert ovpn-a && ovpn_cert ovpn-b; } || return 1
  # shellcheck disable=SC2046  # ovpn_args prints words without spaces
  launch_gw b "$rep" openvpn "$NS_B" --iface "${P}ob" --ready udp:1194 --route-to 198.18.4.1 -- \
    openvpn --tls-server --local "$UNDER_B" $(ovpn_args "${P}ob" ovpn-b ovpn-a 198.18.4.2 198.18.4.1) || return 1
  # shellcheck disable=SC2046
  launch_gw a "$rep" openvpn "$NS_A" --iface "${P}oa" --ready udp:1194 --route-to 198.18.4.2 --dest 198.18.4.2 -- \
    openvpn --tls-client --remote "$UNDER_B" $(ovpn_args "${P}oa" ovpn-a ovpn-b 198.18.4.1 198.18.4.2)
}

# --- measurements ----------------------------------------------------------------------------
iperf_listening() { ip netns exec "$NS_B" ss -Hltn "sport = :$IPERF_PORT" | grep -q .; }

# iperf FILE SECONDS ARGS...: one iperf3 test A -> B against a fresh one-off
# server; the client's JSON goes to FILE.
iperf() {
  local file=$1 secs=$2 srv
  shift 2
  start_bg "$WORK_DIR/iperf3-server.log" ip netns exec "$NS_B" iperf3 -s -1 -p "$IPERF_PORT"
  srv=$BG_PID
  if wait_until "iperf3 server" 5 iperf_listening; then
    ip netns exec "$NS_A" timeout $((secs + 30)) iperf3 -c "$@" -p "$IPERF_PORT" -t "$secs" --connect-timeout 3000 \
      -J >"$file" 2>>"$RAW/iperf3.stderr" ||
      log "iperf3 $* failed: $(grep -m1 '"error"' "$file" || tail -1 "$file")"
  fi
  stop_pid "$srv" 2
}

# sockbufs IMPL REP WHEN: what every UDP socket of both gateways holds,
# into RAW/IMPL.REP.sockbuf-WHEN.json; at "up", wireguard-go's and fastd's
# are first set to SOCKBUF (they have no option for it). sitelinkd's own
# report (sitelink show --json: data_path) goes beside it.
sockbufs() {
  local impl=$1 rep=$2 when=$3 how args=()
  case $impl in
    sitelink* | sw*) how="own option: socket-buffer (sitelinkd's default, 4 MiB; 0 = the kernel's default)" ;;
    openvpn) how="own options: --rcvbuf $SOCKBUF --sndbuf $SOCKBUF (SO_RCVBUF/SO_SNDBUF, capped by net.core.[rw]mem_max)" ;;
    *)
      how="no option of its own: SO_RCVBUFFORCE/SO_SNDBUFFORCE $SOCKBUF set by the benchmark on the daemon's socket (pidfd_getfd)"
      [[ $when == up ]] && args=(--set "$SOCKBUF")
      ;;
  esac
  python3 "$BENCH_PY" sockbuf --pid "$(socket_pid "$A_PID")" --pid "$(socket_pid "$B_PID")" --how "$how" "${args[@]}" \
    --out "$RAW/$impl.$rep.sockbuf-$when.json" || log "$impl: could not read (or set) every gateway socket's buffers"
  if [[ $impl == sitelink* || $impl == sw* ]] && [[ -x "$SITELINK" ]]; then
    "$SITELINK" show "${P}sa" --json >"$RAW/$impl.$rep.show-a-$when.json" 2>/dev/null || true
    "$SITELINK" show "${P}sb" --json >"$RAW/$impl.$rep.show-b-$when.json" 2>/dev/null || true
  fi
}

measure() {
  local impl=$1 rep=$2 dst=${DST[$1]} base="$RAW/$1.$2" a0 a1 b0 b1 rate pids=()
  # The gateway daemons of this path (none for the bare veth).
  [[ -n $A_PID ]] && pids+=("$A_PID")
  [[ -n $B_PID ]] && pids+=("$B_PID")
  log "rep $rep: $impl"
  ((SWITCHES)) || ip netns exec "$NS_A" timeout 60 ping -n -c "$PINGS" -i 0.01 -W 1 "$dst" >"$base.ping.txt" 2>&1 || true
  # A gateway that died takes no more time (its figures stay missing).
  a0=$(cpu_ticks ${A_PID:+"$A_PID"}) b0=$(cpu_ticks ${B_PID:+"$B_PID"})
  alive "${pids[@]}" && iperf "$base.tcp1.json" "$TCP_T" "$dst"
  alive "${pids[@]}" && iperf "$base.tcp4.json" "$TCP_T" "$dst" -P 4
  a1=$(cpu_ticks ${A_PID:+"$A_PID"}) b1=$(cpu_ticks ${B_PID:+"$B_PID"})
  if ((!SWITCHES)); then
    for rate in "${UDP_RATES[@]}"; do
      alive "${pids[@]}" && iperf "$base.udp$rate.json" "$UDP_T" "$dst" -u -b "${rate}M" -l "$UDP_LEN" -w "$UDP_WIN"
    done
  fi
  alive "${pids[@]}" || log "rep $rep: $impl: a gateway daemon exited during the measurements"
  if [[ $impl != raw ]]; then
    [[ -n "$a0" && -n "$a1" ]] && sample "$impl" "$rep" cpu_ticks_a $((a1 - a0))
    [[ -n "$b0" && -n "$b1" ]] && sample "$impl" "$rep" cpu_ticks_b $((b1 - b0))
    sample "$impl" "$rep" rss_kib "$(status_kib VmRSS "$A_PID" "$B_PID")"
    sample "$impl" "$rep" hwm_kib "$(status_kib VmHWM "$A_PID" "$B_PID")"
  fi
}

# --- the alternating run ---------------------------------------------------------------------------
for ((rep = 1; rep <= REPS; rep++)); do
  n=${#IMPLS[@]}
  for ((k = 0; k < n; k++)); do
    impl=${IMPLS[$(((k + rep - 1) % n))]}
    if up "$impl" "$rep"; then
      [[ $impl != raw ]] && sockbufs "$impl" "$rep" up
      measure "$impl" "$rep"
      [[ $impl != raw ]] && sockbufs "$impl" "$rep" after
    else
      log "rep $rep: $impl did not come up; its figures for this repetition are missing"
    fi
    down "$impl"
  done
done

# --- memory per configured peer ----------------------------------------------------------------
mem_sitelink() {
  local n=$1 cfg="$WORK_DIR/mem-sl-$1.yaml" pid
  python3 "$BENCH_PY" peers-conf --impl sitelink --n "$n" --iface "${P}ms" --port 51830 \
    --keyfile "$KEYS/m.key" --out "$cfg"
  start_bg "$WORK_DIR/mem-sl-$n.log" ip netns exec "$NS_M" "$SITELINKD" --config "$cfg" --log-level info
  pid=$BG_PID
  if wait_until "sitelinkd with $n peers" 30 gateway_ready "$NS_M" "${P}ms" 51830 "$pid" && alive "$pid"; then
    sample sitelink "$n" mem_rss_kib "$(settled_rss "$pid")"
  fi
  stop_pid "$pid"
}
mem_wireguard-go() {
  local n=$1 cfg="$WORK_DIR/mem-wg-$1.conf" pid
  python3 "$BENCH_PY" peers-conf --impl wg --n "$n" --iface "${P}mw" --port 51831 \
    --keyfile "$KEYS/m.key" --out "$cfg"
  start_bg "$WORK_DIR/mem-wg-$n.log" ip netns exec "$NS_M" env LOG_LEVEL=error wireguard-go -f "${P}mw"
  pid=$BG_PID
  if wait_until "wireguard-go's socket" 10 sock_ready "${P}mw" &&
    ip netns exec "$NS_M" timeout 30 wg setconf "${P}mw" "$cfg" &&
    ip -n "$NS_M" link set "${P}mw" up; then
    sample wireguard-go "$n" mem_rss_kib "$(settled_rss "$pid")"
  fi
  stop_pid "$pid"
  rm -f "/run/wireguard/${P}mw.sock"
}
for impl in "${MEM_IMPLS[@]}"; do
  for n in "$MEM_FEW" "$MEM_MANY"; do
    log "memory: $impl with $n configured peers"
    "mem_$impl" "$n"
  done
done

# --- report ----------------------------------------------------------------------------------------
stop_pid "$LOAD_PID" 1
if python3 "$BENCH_PY" report --out "$OUT_DIR"; then
  pass "every figure produced; results in $OUT_DIR (bench.md, bench.json, bench.png)"
else
  fail "some figures are missing (see above); raw outputs in $RAW"
fi
if [[ -n "$SAVE" ]]; then
  cp "$OUT_DIR/bench.json" "$SCRIPT_DIR/results/$SAVE.json"
  cp "$OUT_DIR/bench.md" "$SCRIPT_DIR/results/$SAVE.md"
  log "saved as tests/bench/results/$SAVE.json and $SAVE.md"
fi
