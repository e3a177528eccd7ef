#!/usr/bin/env bash
# The sitelink demo: two offices joined over a simulated internet, in
# network namespaces on this machine. On a fresh Debian 12 machine, as root,
# from the repository root:
#
#   bash tests/demo/two-offices.sh
#
# It installs the Debian packages that are missing (tests/install-deps.sh),
# builds sitelinkd and sitelink into build/ (BUILD_DIR=... to change), and
# then, printing each step and the commands it runs:
#
#   host-a ---- gw-a ======== internet ======== gw-b ---- host-b
#   office A LAN        203.0.113.0/24    198.51.100.0/24     office B LAN
#   198.18.1.0/24       (delay 20 ms and 1% loss each way     198.18.2.0/24
#   2001:db8:a::/64      with tc netem, if the kernel has it) 2001:db8:b::/64
#                       tunnel: 198.18.0.1 <-> 198.18.0.2
#
#  1. makes the five namespaces and links,
#  2. makes each gateway's key pair with `sitelink genkey` / `sitelink pubkey`
#     and its YAML file (rekey-after-time: 10, so a rekey is seen soon),
#  3. starts sitelinkd on both gateways and waits for the tunnel,
#  4. pings host-b from host-a (IPv4 and IPv6 inside an IPv4 internet),
#  5. runs iperf3 from host-a to host-b for 3 seconds,
#  6. shows `sitelink show` on both gateways,
#  7. waits for a rekey (a new handshake, with traffic flowing),
#  8. restarts gw-b's daemon (SIGTERM, start again) and times how long
#     host-a takes to reach host-b again.
#
# Everything it makes (namespaces, links, processes, files) carries a unique
# prefix and is removed on exit, also after a failure or Ctrl-C. Exit status
# 0 if every step worked. Takes about 30 seconds after the build.
#
#   bash tests/demo/two-offices.sh SITELINKD SITELINK   # use these binaries; no install, no build
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
step_no=0
step() {
  step_no=$((step_no + 1))
  printf '\n=== %d. %s\n' "$step_no" "$*"
}

if [[ $(id -u) -ne 0 ]]; then
  echo "demo: run it as root (it makes network namespaces and TUN devices): sudo bash $0" >&2
  exit 1
fi

if (($# >= 1)); then
  SITELINKD=$1
  SITELINK=${2:-"$(dirname "$SITELINKD")/sitelink"}
else
  step "Install missing packages and build"
  echo "\$ bash tests/install-deps.sh"
  bash "$REPO/tests/install-deps.sh"
  build=${BUILD_DIR:-build}
  [[ $build == /* ]] || build="$REPO/$build"
  echo "\$ cmake -S . -B ${build#"$REPO"/} && cmake --build ${build#"$REPO"/} --target sitelinkd sitelink"
  cmake -S "$REPO" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build" -j"$(nproc)" --target sitelinkd sitelink | grep -E 'Linking|Built target|error' || true
  SITELINKD=$build/daemon/sitelinkd
  SITELINK=$build/daemon/sitelink
fi

# shellcheck source=tests/netns/lib.sh
source "$REPO/tests/netns/lib.sh"
lib_init demo sld
# shellcheck source=tests/netns/topology.sh
source "$REPO/tests/netns/topology.sh"
T_START=$(now_ms)
require_tools ip tc ping iperf3 timeout sysctl ss
require_tun
require_exec SITELINKD SITELINK

P=$PREFIX
NS_HA="$P-host-a" NS_GA="$P-gw-a" NS_NET="$P-internet" NS_GB="$P-gw-b" NS_HB="$P-host-b"
UP_BOUND=20       # s: both daemons started and the tunnel up (a lost handshake is retried after 5 s)
REKEY_BOUND=25    # s: a second handshake (rekey-after-time is 10 s)
RESTART_BOUND=15  # s: host-a reaches host-b again after gw-b's restart

# die MESSAGE: a step failed and the ones after it cannot work.
die() {
  fail "$*"
  exit 1
}

# run CMD...: print CMD (binaries by their short names), run it, indent its output.
pretty() {
  local s="$*"
  s=${s//"$SITELINKD"/sitelinkd}
  s=${s//"$SITELINK"/sitelink}
  s=${s//"$WORK_DIR"/\$DEMO}
  printf '$ %s\n' "$s"
}
run() {
  pretty "$@"
  local rc=0
  "$@" >"$WORK_DIR/run.out" 2>&1 || rc=$?
  sed 's/^/    /' "$WORK_DIR/run.out"
  return "$rc"
}
# runq OUT CMD...: print CMD, run it with its output in OUT.
runq() {
  local out=$1
  shift
  pretty "$@"
  "$@" >"$out" 2>&1
}
# in_ns NS CMD... / inq OUT NS CMD...: the same in namespace NS.
in_ns() {
  local ns=$1
  shift
  run ip netns exec "$ns" "$@"
}
inq() {
  local out=$1 ns=$2
  shift 2
  runq "$out" ip netns exec "$ns" "$@"
}

# --- 1. the network --------------------------------------------------------------------------
step "Five namespaces: host-a, gw-a, internet, gw-b, host-b"
# host-a, gw-a, internet, gw-b, host-b as drawn above (tests/netns/topology.sh)
two_offices ipv4+ipv6 --internet
# The internet routes between the two uplinks; the gateways' default route is
# the internet.
ip netns exec "$NS_NET" sysctl -qw net.ipv4.ip_forward=1
ip -n "$NS_GA" route add default via 203.0.113.254
ip -n "$NS_GB" route add default via 198.51.100.254
echo "host-a 198.18.1.2 -- gw-a 198.18.1.1 | 203.0.113.1 -- internet -- 198.51.100.1 | gw-b 198.18.2.1 -- host-b 198.18.2.2"

if tc -n "$NS_NET" qdisc add dev "${P}na" root netem delay 20ms loss 1% 2>"$WORK_DIR/tc.err"; then
  tc -n "$NS_NET" qdisc add dev "${P}nb" root netem delay 20ms loss 1%
  pretty tc -n "$NS_NET" qdisc add dev "${P}na" root netem delay 20ms loss 1%
  pretty tc -n "$NS_NET" qdisc add dev "${P}nb" root netem delay 20ms loss 1%
  echo "the internet adds 20 ms and drops 1% of packets in each direction"
else
  echo "note: this kernel has no tc netem ($(tr -d '\n' <"$WORK_DIR/tc.err")): the internet has no added delay or loss"
fi

wait_until "gw-a to reach gw-b over the internet" 10 ping_once "$NS_GA" 198.51.100.1 -W 2 ||
  die "gw-a cannot reach gw-b over the internet"
if ping_once "$NS_HA" 198.18.2.2 -W 2; then die "host-a reaches host-b without the tunnel"; fi
pass "network up; host-a cannot reach host-b yet (no tunnel)"

# --- 2. keys and configuration -----------------------------------------------------------------
step "Keys and configuration files"
umask 077
for side in a b; do
  pretty "$SITELINK genkey > \$DEMO/gw-$side.key"
  "$SITELINK" genkey >"$WORK_DIR/gw-$side.key"
  pretty "$SITELINK pubkey < \$DEMO/gw-$side.key > \$DEMO/gw-$side.pub"
  "$SITELINK" pubkey <"$WORK_DIR/gw-$side.key" >"$WORK_DIR/gw-$side.pub"
  echo "    gw-$side's public key: $(cat "$WORK_DIR/gw-$side.pub")"
done

# write_config SIDE: gw-SIDE's YAML.
write_config() {
  local side=$1 peer me tun lan6 underlay
  if [[ $side == a ]]; then
    peer=b me=1 tun=$TUN_A lan=198.18.2.0/24 lan6=2001:db8:b::/64 underlay=198.51.100.1
  else
    peer=a me=2 tun=$TUN_B lan=198.18.1.0/24 lan6=2001:db8:a::/64 underlay=203.0.113.1
  fi
  cat >"$WORK_DIR/gw-$side.yaml" <<YAML
# gw-$side: office ${side^^}'s gateway
interface:
  name: $tun
  private-key-file: gw-$side.key      # relative to this file
  listen-port: $PORT
  address: [198.18.0.$me/24]
  rekey-after-time: 10              # a new handshake every 10 s (WireGuard's is 120)
peers:
  - name: office-$peer
    public-key: $(cat "$WORK_DIR/gw-$peer.pub")
    endpoint: $underlay:$PORT
    allowed-ips: [$lan, "$lan6", 198.18.0.$((3 - me))/32]
YAML
}
for side in a b; do
  write_config "$side"
  pretty cat "\$DEMO/gw-$side.yaml"
  sed 's/^/    /' "$WORK_DIR/gw-$side.yaml"
  run "$SITELINK" check "$WORK_DIR/gw-$side.yaml" || die "sitelink check rejects gw-$side.yaml"
done
umask 022

# --- 3. the gateways -----------------------------------------------------------------------------
# start_demo_gw SIDE: sitelinkd for gw-SIDE in the background (log in WORK_DIR).
start_demo_gw() {
  pretty ip netns exec "${GW_NS[$1]}" "$SITELINKD" --config "$WORK_DIR/gw-$1.yaml" "&"
  launch_gw "$1" debug
}
up_or_gone() { ! gw_alive a || ! gw_alive b || tunnel_up a b; }

step "Start sitelinkd on both gateways"
start_demo_gw a
start_demo_gw b
t0=$(now_ms)
if wait_until "the tunnel" "$UP_BOUND" up_or_gone && gw_alive a && gw_alive b && tunnel_up a b; then
  pass "tunnel up $(($(now_ms) - t0)) ms after the daemons started"
else
  die "the tunnel did not come up within ${UP_BOUND}s"
fi
grep -h 'sitelinkd:\|tunnel up' "${GW_LOG[a]}" "${GW_LOG[b]}" | sed 's/^/    /'

# --- 4. ping ------------------------------------------------------------------------------------------
step "host-a pings host-b through the tunnel"
for dst in 198.18.2.2 2001:db8:b::2; do
  if inq "$WORK_DIR/ping.out" "$NS_HA" timeout 20 ping -n -c 5 -i 0.2 -W 2 "$dst"; then
    sed -n '/packets transmitted/,$p' "$WORK_DIR/ping.out" | sed 's/^/    /'
    pass "host-a -> host-b ($dst)"
  elif grep -q ' [1-4] received' "$WORK_DIR/ping.out"; then
    # The internet drops 1% of packets: a lost echo is not a failure.
    sed -n '/packets transmitted/,$p' "$WORK_DIR/ping.out" | sed 's/^/    /'
    pass "host-a -> host-b ($dst), with some loss"
  else
    cat "$WORK_DIR/ping.out"
    fail "host-a cannot ping host-b ($dst)"
  fi
done

# --- 5. iperf3 --------------------------------------------------------------------------------------
step "iperf3 from host-a to host-b, 3 seconds"
start_bg "$WORK_DIR/iperf3-server.log" ip netns exec "$NS_HB" iperf3 --server --one-off --bind 198.18.2.2
IPERF_PID=$BG_PID
iperf_listening() { ip netns exec "$NS_HB" ss -Hltn 'sport = :5201' | grep -q .; }
if wait_until "iperf3 server" 10 iperf_listening &&
  inq "$WORK_DIR/iperf3.out" "$NS_HA" timeout 30 iperf3 --client 198.18.2.2 --time 3 --format m; then
  grep -E 'sender|receiver' "$WORK_DIR/iperf3.out" | sed 's/^/    /'
  pass "iperf3: $(awk '/receiver/ {print $7, $8}' "$WORK_DIR/iperf3.out") received at host-b"
else
  cat "$WORK_DIR/iperf3.out" 2>/dev/null || true
  fail "iperf3 from host-a to host-b failed"
fi
stop_pid "$IPERF_PID" 2

# --- 6. status ------------------------------------------------------------------------------------------
step "sitelink show on both gateways"
for side in a b; do
  tun=$([[ $side == a ]] && echo "$TUN_A" || echo "$TUN_B")
  in_ns "${GW_NS[$side]}" "$SITELINK" show "$tun" || fail "sitelink show $tun (gw-$side) failed"
done

# --- 7. rekey -------------------------------------------------------------------------------------------
# handshake_time: gw-a's latest handshake with its peer, in seconds since the epoch.
handshake_time() {
  "$SITELINK" show "$TUN_A" --json 2>/dev/null | grep -o '"latest_handshake":[0-9]*' | head -1 | cut -d: -f2
}
step "A rekey: a new handshake every 10 s while traffic flows (rekey-after-time: 10)"
h0=$(handshake_time)
[[ -n $h0 ]] || die "gw-a reports no handshake"
echo "gw-a's latest handshake: $(date -u -d "@$h0" +%T) UTC; pinging host-b until there is a newer one"
start_bg "$WORK_DIR/rekey-ping.log" ip netns exec "$NS_HA" ping -n -q -i 0.2 -w "$REKEY_BOUND" 198.18.2.2
REKEY_PING=$BG_PID
t0=$(now_ms)
newer_handshake() {
  local h
  h=$(handshake_time)
  [[ -n $h && $h -gt $h0 ]]
}
if wait_until "a new handshake" "$REKEY_BOUND" newer_handshake; then
  h1=$(handshake_time)
  pass "rekeyed: latest handshake $(date -u -d "@$h0" +%T) -> $(date -u -d "@$h1" +%T) UTC (after $(($(now_ms) - t0)) ms of waiting)"
else
  fail "no new handshake within ${REKEY_BOUND}s"
fi
stop_pid "$REKEY_PING" 2
pretty ip netns exec "$NS_GA" "$SITELINK" show "$TUN_A" "| grep handshake"
"$SITELINK" show "$TUN_A" | grep 'handshake' | sed 's/^/    /' || true

# --- 8. restart -------------------------------------------------------------------------------------------
step "Restart gw-b's daemon: SIGTERM, start it again, and time the way back"
pretty kill -TERM "${GW_PID[b]}"
stop_pid "${GW_PID[b]}" 5
if ((STOP_KILLED == 0 && STOP_RC == 0)); then pass "gw-b's sitelinkd exited 0 after SIGTERM"; else fail "gw-b's sitelinkd: exit $STOP_RC (killed: $STOP_KILLED)"; fi
if ping_once "$NS_HA" 198.18.2.2 -W 2; then fail "host-b still reachable with gw-b's daemon stopped"; else echo "    host-b is unreachable now"; fi
t0=$(now_ms)
start_demo_gw b
back=0
while (($(now_ms) - t0 < RESTART_BOUND * 1000)); do
  gw_alive b || break
  if ip netns exec "$NS_HA" ping -n -q -c 1 -W 1 198.18.2.2 >/dev/null 2>&1; then
    back=1
    break
  fi
done
if ((back)); then
  grep -h 'sitelinkd:\|tunnel up' "${GW_LOG[b]}" | sed 's/^/    /'
  pass "host-a reaches host-b again $(($(now_ms) - t0)) ms after gw-b's daemon was started again"
else
  die "host-a does not reach host-b within ${RESTART_BOUND}s of gw-b's restart"
fi
in_ns "$NS_HA" ping -n -q -c 3 -i 0.2 -W 2 198.18.2.2 || fail "ping after the restart"

step "Done"
elapsed=$(($(now_ms) - T_START))
printf 'demo: %d.%d s (after the build); cleaning up\n' $((elapsed / 1000)) $((elapsed % 1000 / 100))
