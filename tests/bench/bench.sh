#!/usr/bin/env bash
# The side-by-side benchmark (issue 8): sitelink against wireguard-go, the
# bare veth and, where installed, fastd and OpenVPN, in one run, on this
# host, in network namespaces.
#
# Usage (as root, from anywhere):
#   bash tests/bench/bench.sh [--quick] [--micro [--microbench PATH]] [--only LIST] [--out DIR] [SITELINKD]
#     --quick       short runs, one repetition (about a minute and a half)
#     --micro       also run the Google Benchmark microbenchmarks (microbench)
#     --microbench  the microbench binary (default: next to SITELINKD's build,
#                   BUILD/tests/bench/microbench)
#     --only LIST   only these paths, comma-separated (raw, sitelink,
#                   sitelink-pool, wireguard-go, fastd, openvpn)
#     --out DIR     where results go (default <repo>/build/bench): bench.md (the
#                   table), bench.json, bench.png (gnuplot), micro.json, and
#                   raw/ (every iperf3 -J and ping output, samples.tsv)
#     SITELINKD     default <repo>/build/daemon/sitelinkd (build it Release
#                   or RelWithDebInfo)
#   A full run takes about 13 minutes with four paths, 21 with all six and
#   --micro. Run it on an otherwise idle machine; the figures are noisy anyway.
#   SITELINK_COMMIT=REV names the commit SITELINKD was built from in the
#   results when it lies outside this repository.
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
#   wireguard-go   198.18.2.1 / 198.18.2.2 (TUN)   51821   wireguard-go -f, wg set, ip
#   fastd          198.18.3.1 / 198.18.3.2 (TUN)   10000   fastd v22, salsa2012+umac
#   openvpn        198.18.4.1 / 198.18.4.2 (TUN)   1194    OpenVPN 2.6 p2p, TLS,
#                                                          ChaCha20-Poly1305, no DCO
#
# sitelink and wireguard-go gateways have two configured peers: the other
# site and an idle spare (no endpoint); fastd (one interface per peer in tun
# mode) and OpenVPN (point to point) have one. MTU 1420 on every tunnel.
#
# For each repetition (3 full, 1 quick) every path is brought up in turn (the
# order rotates between repetitions) and measured, then taken down again:
#   start to first packet  gateway B runs; the clock (CLOCK_MONOTONIC) starts,
#                          gateway A is started (and, for wireguard-go,
#                          configured with wg and ip), and an ICMP echo goes to
#                          B's tunnel address every millisecond until the first
#                          reply: process start, interface, handshake included
#   ping RTT               100 pings at 0.01 s; median and average
#   TCP                    iperf3 -t 10 (2 quick), 1 and 4 streams, A -> B
#   CPU s per GB           utime+stime of both gateway daemons over the two TCP
#                          runs, divided by the GB (1e9 bytes) received
#   UDP                    iperf3 -u at 200, 500, 1000 Mbit/s offered, 1392-byte
#                          datagrams, -t 10 (2 quick), 4 MiB socket buffers:
#                          loss % and Mbit/s received
#   RSS                    VmRSS (and VmHWM) of the larger of the two gateway
#                          daemons after the traffic
# Then, once per run, memory per configured peer: each daemon alone in a third
# namespace, idle, with 2 and with 1000 configured peers (random keys, one /32
# each, no endpoints); (RSS_1000 - RSS_2) / 998.
#
# Figures are medians over the repetitions. They are printed as a Markdown
# table and as `FIGURE: path.name=value` lines, and written to DIR. Nothing
# asserts a speed: the exit status is non-zero only when a figure could not
# be produced (a path that does not come up, an iperf3 that fails, ...).
# fastd and OpenVPN are measured only where installed; on this project's
# machines they are not, and the run says so.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$SCRIPT_DIR/../.." && pwd)
BENCH_PY="$SCRIPT_DIR/bench.py"

QUICK=0 MICRO=0 MICROBENCH="" OUT_DIR="" SITELINKD="" ONLY=""
usage() { sed -n '6,23p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
while (($#)); do
  case $1 in
    --quick) QUICK=1 ;;
    --micro) MICRO=1 ;;
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
if ((MICRO)); then
  MICROBENCH=${MICROBENCH:-"$(dirname "$SITELINKD")/../tests/bench/microbench"}
  [[ -x "$MICROBENCH" ]] || { log "not executable: $MICROBENCH (build the microbench target; needs libbenchmark-dev)"; exit 1; }
fi

if ((QUICK)); then
  REPS=1 TCP_T=2 UDP_T=2
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
rm -f "$OUT_DIR"/bench.{json,md,png,dat,gp} "$OUT_DIR/micro.json"
mkdir -p "$RAW"
SAMPLES="$RAW/samples.tsv"
: >"$SAMPLES"
sample() { echo "$1 $2 $3 ${4:-nan}" >>"$SAMPLES"; }

# --- run description --------------------------------------------------------------------
for t in "${skipped[@]}"; do log "$t: not installed, skipped"; done
{
  printf 'date\t%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  printf 'command\t%s\n' "bash tests/bench/bench.sh$( ((QUICK)) && echo ' --quick')$( ((MICRO)) && echo ' --micro')"
  printf 'quick\t%s\nmicro\t%s\n' "$QUICK" "$MICRO"
  printf 'repetitions\t%s\ntcp_seconds\t%s\nudp_seconds\t%s\npings\t%s\n' "$REPS" "$TCP_T" "$UDP_T" "$PINGS"
  printf 'udp_rates_mbps\t%s\nudp_datagram_bytes\t%s\nudp_socket_buffer_bytes\t%s\n' "${UDP_RATES[*]}" "$UDP_LEN" "$UDP_WIN"
  printf 'implementations\t%s\nmem_implementations\t%s\n' "${IMPLS[*]}" "${MEM_IMPLS[*]}"
  printf 'clk_tck\t%s\nmem_peers_few\t%s\nmem_peers_many\t%s\n' "$(getconf CLK_TCK)" "$MEM_FEW" "$MEM_MANY"
  printf 'machine.nproc\t%s\n' "$(nproc)"
  printf 'machine.kernel\t%s\n' "$(uname -r)"
  printf 'machine.cpu\t%s\n' "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
  printf 'machine.memory\t%s\n' "$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
  printf 'version.sitelink\t%s\n' "$("$SITELINKD" --version | head -1 | awk '{ print $NF }')"
  # The commit the measured sitelinkd was built from: SITELINK_COMMIT if set,
  # else this repository's when SITELINKD lies inside it.
  commit=${SITELINK_COMMIT:-unknown}
  if [[ -z "${SITELINK_COMMIT:-}" && $SITELINKD == "$REPO_DIR"/* ]]; then
    commit=$(git -C "$REPO_DIR" describe --always --dirty 2>/dev/null || echo unknown)
  fi
  printf 'version.sitelink_commit\t%s\nsitelinkd\t%s\n' "$commit" "$SITELINKD"
  printf 'version.wireguard-go\t%s\n' "$(wireguard-go --version | head -1 | awk '{ print $2 }')"
  printf 'version.iperf3\t%s\n' "$(iperf3 --version | head -1)"
  printf 'version.kernel\t%s\n' "$(uname -r)"
  command -v fastd >/dev/null && printf 'version.fastd\t%s\n' "$(fastd --version | awk '{ print $2 }') ($FASTD_METHOD)"
  command -v openvpn >/dev/null && printf 'version.openvpn\t%s\n' "$(openvpn --version | awk 'NR == 1 { print $2 }') ($OVPN_CIPHER, no DCO)"
  for t in "${skipped[@]}"; do printf 'skipped.%s\t%s\n' "$t" "not installed"; done
} >"$RAW/meta.tsv"

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
# cpu_ticks PID...: utime+stime of all the processes (empty if one is gone).
cpu_ticks() {
  local pid sum=0 t
  for pid in "$@"; do
    t=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{ print $12 + $13 }') || return 0
    [[ -n "$t" ]] || return 0
    sum=$((sum + t))
  done
  echo "$sum"
}
# status_kib FIELD PID...: the largest /proc/PID/status FIELD (VmRSS, VmHWM) in KiB.
status_kib() {
  local field=$1 pid v max=""
  shift
  for pid in "$@"; do
    v=$(awk -v f="$field:" '$1 == f { print $2 }' "/proc/$pid/status" 2>/dev/null) || true
    [[ -n "$v" ]] || continue
    [[ -z "$max" || $v -gt $max ]] && max=$v
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
# up_IMPL REP sets A_PID, B_PID (the daemons), LAUNCH_PID (A's launcher) and
# START_MS; down_IMPL stops them.
A_PID="" B_PID="" LAUNCH_PID="" START_MS=""

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

# wg_setup IFACE KEY ADDR PEERKEY PEERADDR [ENDPOINT]: the commands that
# configure a wireguard-go interface, as one bash script (run in its namespace).
wg_setup() {
  local ep=""
  [[ -n "${6:-}" ]] && ep="endpoint $6"
  cat <<EOF
set -e
for ((i = 0; i < 5000; i++)); do [[ -S /run/wireguard/$1.sock ]] && break; sleep 0.001; done
wg set $1 private-key $2 listen-port 51821 peer $(cat "$4") $ep allowed-ips $5/32 peer $(cat "$KEYS/spare.pub") allowed-ips 198.18.9.0/24
ip addr add $3/32 dev $1
ip link set $1 mtu 1420 up
ip route add $5/32 dev $1
EOF
}

# launch_a REP IMPL DEST [--setup SCRIPT] -- CMD...: gateway A through the
# launcher, which times start to first packet.
launch_a() {
  local rep=$1 impl=$2 dest=$3
  shift 3
  local pidf="$WORK_DIR/$impl-$rep.pid" resf="$WORK_DIR/$impl-$rep.start"
  start_bg "$WORK_DIR/$impl-a-$rep.log" ip netns exec "$NS_A" python3 "$BENCH_PY" launch \
    --pidfile "$pidf" --result "$resf" --dest "$dest" --bound "$UP_BOUND" "$@"
  LAUNCH_PID=$BG_PID
  wait_until "gateway A ($impl) and its first packet" $((UP_BOUND + 5)) test -f "$resf" || return 1
  A_PID=$(cat "$pidf")
  adopt_pid "$A_PID"
  START_MS=$(cat "$resf")
  [[ $START_MS != fail ]] || { log "$impl: no reply through the tunnel within ${UP_BOUND}s"; START_MS=""; return 1; }
}

# up_sitelink REP [IMPL [LINE...]]: the pair as IMPL (default sitelink), with
# the extra interface LINEs.
up_sitelink() {
  local rep=$1 impl=${2:-sitelink}
  SL_EXTRA=("${@:3}")
  sitelink_yaml "$WORK_DIR/sl-b.yaml" "${P}sb" "$KEYS/b.key" 198.18.1.2 "$KEYS/a.pub" 198.18.1.1
  sitelink_yaml "$WORK_DIR/sl-a.yaml" "${P}sa" "$KEYS/a.key" 198.18.1.1 "$KEYS/b.pub" 198.18.1.2 "$UNDER_B:51820"
  start_bg "$WORK_DIR/$impl-b-$rep.log" ip netns exec "$NS_B" "$SITELINKD" --config "$WORK_DIR/sl-b.yaml" --log-level info
  B_PID=$BG_PID
  wait_until "sitelinkd B" "$UP_BOUND" gateway_ready "$NS_B" "${P}sb" 51820 "$B_PID" || return 1
  alive "$B_PID" || { log "sitelinkd B exited"; return 1; }
  launch_a "$rep" "$impl" 198.18.1.2 -- "$SITELINKD" --config "$WORK_DIR/sl-a.yaml" --log-level info
}
up_sitelink-pool() { up_sitelink "$1" sitelink-pool "crypto-threads: 1"; }

up_wireguard-go() {
  local rep=$1
  start_bg "$WORK_DIR/wg-b-$rep.log" ip netns exec "$NS_B" env LOG_LEVEL=error wireguard-go -f "${P}wb"
  B_PID=$BG_PID
  wg_setup "${P}wb" "$KEYS/b.key" 198.18.2.2 "$KEYS/a.pub" 198.18.2.1 >"$WORK_DIR/wg-b.sh"
  wg_setup "${P}wa" "$KEYS/a.key" 198.18.2.1 "$KEYS/b.pub" 198.18.2.2 "$UNDER_B:51821" >"$WORK_DIR/wg-a.sh"
  ip netns exec "$NS_B" timeout "$UP_BOUND" bash "$WORK_DIR/wg-b.sh" || return 1
  launch_a "$rep" wireguard-go 198.18.2.2 --setup "bash $WORK_DIR/wg-a.sh" -- \
    env LOG_LEVEL=error wireguard-go -f "${P}wa"
}

up_raw() { A_PID="" B_PID="" START_MS=""; }
down_raw() { :; }

down_daemons() {
  [[ -n "$LAUNCH_PID" ]] && stop_pid "$LAUNCH_PID"
  [[ -n "$A_PID" ]] && stop_pid "$A_PID"  # gone with its launcher, unless that was killed
  [[ -n "$B_PID" ]] && stop_pid "$B_PID"
  LAUNCH_PID="" A_PID="" B_PID=""
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
  start_bg "$WORK_DIR/fastd-b-$rep.log" ip netns exec "$NS_B" fastd --config "$WORK_DIR/fastd-b.conf"
  B_PID=$BG_PID
  wait_until "fastd B" "$UP_BOUND" up_ready "$NS_B" "${P}fb" 10000 "$B_PID" || return 1
  alive "$B_PID" || { log "fastd B exited"; return 1; }
  launch_a "$rep" fastd 198.18.3.2 -- fastd --config "$WORK_DIR/fastd-a.conf"
}

# OpenVPN 2.6 peer to peer over TLS with self-signed certificates pinned by
# --peer-fingerprint, ChaCha20-Poly1305 for data, in userspace (no DCO).
# OpenVPN sets the point-to-point addresses itself (--ifconfig).
ovpn_cert() { # NAME: KEYS/NAME.crt, .pem (key), .fp (SHA-256 fingerprint)
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "/CN=$1" \
    -keyout "$KEYS/$1.pem" -out "$KEYS/$1.crt" 2>/dev/null &&
    openssl x509 -in "$KEYS/$1.crt" -noout -fingerprint -sha256 | sed 's/^.*=//' >"$KEYS/$1.fp"
}
ovpn_args() { # IFACE CERTNAME PEERCERTNAME LOCAL_TUN REMOTE_TUN
  echo --dev "$1" --dev-type tun --proto udp --port 1194 --ifconfig "$4" "$5" --tun-mtu 1420 \
    --data-ciphers "$OVPN_CIPHER" --dh none --disable-dco --cert "$KEYS/$2.crt" --key "$KEYS/$2.pem" \
    --peer-fingerprint "$(cat "$KEYS/$3.fp")" --verb 1
}
up_openvpn() {
  local rep=$1
  [[ -s "$KEYS/ovpn-b.fp" ]] || { ovpn_cert ovpn-a && ovpn_cert ovpn-b; } || return 1
  # shellcheck disable=SC2046  # ovpn_args prints words without spaces
  start_bg "$WORK_DIR/openvpn-b-$rep.log" ip netns exec "$NS_B" openvpn --tls-server --local "$UNDER_B" \
    $(ovpn_args "${P}ob" ovpn-b ovpn-a 198.18.4.2 198.18.4.1)
  B_PID=$BG_PID
  wait_until "OpenVPN B" "$UP_BOUND" up_ready "$NS_B" "${P}ob" 1194 "$B_PID" || return 1
  alive "$B_PID" || { log "OpenVPN B exited"; return 1; }
  # shellcheck disable=SC2046
  launch_a "$rep" openvpn 198.18.4.2 -- openvpn --tls-client --remote "$UNDER_B" \
    $(ovpn_args "${P}oa" ovpn-a ovpn-b 198.18.4.1 198.18.4.2)
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

measure() {
  local impl=$1 rep=$2 dst=${DST[$1]} base="$RAW/$1.$2" t0 t1 rate pids=()
  # The gateway daemons of this path (none for the bare veth).
  [[ -n $A_PID ]] && pids+=("$A_PID")
  [[ -n $B_PID ]] && pids+=("$B_PID")
  log "rep $rep: $impl"
  ip netns exec "$NS_A" timeout 60 ping -n -c "$PINGS" -i 0.01 -W 1 "$dst" >"$base.ping.txt" 2>&1 || true
  # A gateway that died takes no more time (its figures stay missing).
  t0=$(cpu_ticks "${pids[@]}")
  alive "${pids[@]}" && iperf "$base.tcp1.json" "$TCP_T" "$dst"
  alive "${pids[@]}" && iperf "$base.tcp4.json" "$TCP_T" "$dst" -P 4
  t1=$(cpu_ticks "${pids[@]}")
  for rate in "${UDP_RATES[@]}"; do
    alive "${pids[@]}" && iperf "$base.udp$rate.json" "$UDP_T" "$dst" -u -b "${rate}M" -l "$UDP_LEN" -w "$UDP_WIN"
  done
  alive "${pids[@]}" || log "rep $rep: $impl: a gateway daemon exited during the measurements"
  if [[ $impl != raw ]]; then
    [[ -n "$t0" && -n "$t1" ]] && sample "$impl" "$rep" cpu_ticks $((t1 - t0))
    sample "$impl" "$rep" rss_kib "$(status_kib VmRSS "$A_PID" "$B_PID")"
    sample "$impl" "$rep" hwm_kib "$(status_kib VmHWM "$A_PID" "$B_PID")"
  fi
}

# --- the alternating run ---------------------------------------------------------------------------
for ((rep = 1; rep <= REPS; rep++)); do
  n=${#IMPLS[@]}
  for ((k = 0; k < n; k++)); do
    impl=${IMPLS[$(((k + rep - 1) % n))]}
    if "up_$impl" "$rep"; then
      [[ $impl != raw ]] && sample "$impl" "$rep" start_ms "$START_MS"
      measure "$impl" "$rep"
    else
      log "rep $rep: $impl did not come up; its figures for this repetition are missing"
    fi
    "down_$impl"
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
if python3 "$BENCH_PY" report --out "$OUT_DIR"; then
  pass "every figure produced; results in $OUT_DIR (bench.md, bench.json, bench.png)"
else
  fail "some figures are missing (see above); raw outputs in $RAW"
fi
