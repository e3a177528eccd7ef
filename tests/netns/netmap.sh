#!/usr/bin/env bash
# Two offices with the same LAN (issue 17, SPEC.md "Real office networks",
# `netmap:`): both are 198.18.1.0/24 and 2001:db8:1::/64, with a host at
# 198.18.1.2 / 2001:db8:1::2 on each side. Only gw-a (sitelinkd) is
# configured with the mapping; gw-b is a stock wireguard-go configured with
# wg and ip, routing the prefixes gw-a shows it.
#
# Usage: netmap.sh [SITELINKD [SITELINK]]
#   defaults: <repo>/build/daemon/sitelinkd and <repo>/build/daemon/sitelink
#
#   host-a [NS_HA]    gw-a [NS_GA] sitelinkd          gw-b [NS_GB] wireguard-go   host-b [NS_HB]
#   ${P}ah --------- ${P}al   ${P}au ------------------ ${P}bu   ${P}bl --------- ${P}bh
#   198.18.1.2/24  198.18.1.1/24  203.0.113.1/24    203.0.113.2/24  198.18.1.1/24  198.18.1.2/24
#   2001:db8:1::2/64  2001:db8:1::1/64                             2001:db8:1::1/64  2001:db8:1::2/64
#
#   gw-a's peer office-b: allowed-ips 198.18.1.0/24, 2001:db8:1::/64 (as on
#   the wire), netmap: office-b's LAN is reached here as 198.19.201.0/24 /
#   2001:db8:201::/64; our LAN is shown to it as 198.19.202.0/24 /
#   2001:db8:202::/64. gw-b's peer: allowed-ips (and routes) 198.19.202.0/24,
#   2001:db8:202::/64.
#
# Cases (PASS/FAIL lines; the exit status is non-zero if any failed):
#   a. routes: gw-a routes the seen-as prefixes through its TUN and not
#      198.18.1.0/24 (its own LAN); `wg show` (UAPI) keeps allowed-ips as
#      configured.
#   b. ping both ways, IPv4 and IPv6 (host-a -> 198.19.201.2, host-b ->
#      198.19.202.2, ...); tcpdump on host-b's link shows host-a's packets
#      coming from the mapped source 198.19.202.2 / 2001:db8:202::2.
#   c. UDP both ways: a datagram and its echo, each side seeing the other at
#      its mapped address.
#   d. an ICMP error from behind the mapping: a UDP datagram to a closed
#      port on a connected socket gets ECONNREFUSED (the sender's stack
#      matched the port-unreachable, whose quoted header was mapped), both
#      ways, IPv4 and IPv6.
#   e. TCP both ways, IPv4 and IPv6: sha256-checked transfers, with TUN
#      offloads on; `sitelink show --json` lists the mappings and counts
#      translated packets.
#   r. a reload (SIGHUP) that moves office B's IPv4 seen-as to
#      198.19.203.0/24: applied (logged), the route follows, ping reaches
#      198.19.203.2, the old prefix no longer answers, and the session is
#      kept (gw-a's latest handshake unchanged).
#   f. gw-a restarted with `tun-offload: false`: the transfers again.
#   g. sitelink on both ends: wireguard-go replaced by sitelinkd on gw-b,
#      and each gateway maps only the other's LAN (`peer:` entries; on the
#      wire both LANs keep their own addresses): ping both ways, tcpdump on
#      host-b shows host-a as 198.19.202.2, UDP, ECONNREFUSED and TCP both
#      ways.
#
# Needs root, wireguard-go, wg, ip, ping, timeout, tcpdump, python3,
# sha256sum. Logs are printed on failure, or always with NETNS_VERBOSE=1.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/netns/lib.sh
source "$SCRIPT_DIR/lib.sh"
lib_init netmap snm
# shellcheck source=tests/netns/topology.sh
source "$SCRIPT_DIR/topology.sh"

P=$PREFIX
NS_HA="${P}ha" NS_GA="${P}ga" NS_GB="${P}gb" NS_HB="${P}hb"
TUN_A="${P}at" TUN_B="${P}bt" WG_IF="${P}wg"
PORT_W=51821
START_BOUND=10    # s: daemon up and tunnel established
TRANSFER_BOUND=60 # s: one transfer
TRANSFER_KB=4096
WG_PID=""
GW_NS=([a]=$NS_GA [b]=$NS_GB)
# gw-a's netmap entries: both ways (cases a-f), or only office B's LAN (g).
NETMAP_A=(
  "  - peer: 198.18.1.0/24" "    seen-as: 198.19.201.0/24" "  - peer: 2001:db8:1::/64" "    seen-as: 2001:db8:201::/64"
  "  - local: 198.18.1.0/24" "    seen-as: 198.19.202.0/24" "  - local: 2001:db8:1::/64" "    seen-as: 2001:db8:202::/64"
)

require_root
require_tools wireguard-go wg ip ping timeout tcpdump python3 sha256sum
require_tun
sitelink_binaries "$@"

# --- topology ------------------------------------------------------------------------
ns_add "$NS_HA" "$NS_GA" "$NS_GB" "$NS_HB"
on_cleanup rm -f "/var/run/wireguard/$WG_IF.sock" "/run/wireguard/$TUN_A.sock" "/run/wireguard/$TUN_B.sock"
veth_add "$NS_HA" "${P}ah" "$NS_GA" "${P}al"
veth_add "$NS_GA" "${P}au" "$NS_GB" "${P}bu"
veth_add "$NS_GB" "${P}bl" "$NS_HB" "${P}bh"
ip -n "$NS_GA" addr add 203.0.113.1/24 dev "${P}au"
ip -n "$NS_GB" addr add 203.0.113.2/24 dev "${P}bu"
# The same LAN on both sides.
for side in a b; do
  host_ns=$NS_HA gw_ns=$NS_GA
  [[ $side == b ]] && host_ns=$NS_HB gw_ns=$NS_GB
  ip -n "$host_ns" addr add 198.18.1.2/24 dev "${P}${side}h"
  ip -n "$host_ns" addr add 2001:db8:1::2/64 dev "${P}${side}h" nodad
  ip -n "$gw_ns" addr add 198.18.1.1/24 dev "${P}${side}l"
  ip -n "$gw_ns" addr add 2001:db8:1::1/64 dev "${P}${side}l" nodad
  ip -n "$host_ns" route add default via 198.18.1.1
  ip -n "$host_ns" -6 route add default via 2001:db8:1::1
  ip netns exec "$gw_ns" sysctl -qw net.ipv4.ip_forward=1
  ip netns exec "$gw_ns" sysctl -qw net.ipv6.conf.all.forwarding=1
done
for ns in "$NS_HA" "$NS_GA" "$NS_GB" "$NS_HB"; do wait_until "IPv6 DAD in $ns" 10 no_tentative "$ns"; done
wait_until "underlay" 10 ping_once "$NS_GA" 203.0.113.2
wait_until "LAN A" 10 ping_once "$NS_HA" 198.18.1.1
wait_until "LAN B" 10 ping_once "$NS_HB" 198.18.1.1
wait_until "LAN A IPv6" 10 ping_once "$NS_HA" 2001:db8:1::1
wait_until "LAN B IPv6" 10 ping_once "$NS_HB" 2001:db8:1::1

gw_keys a b
gen_key wg "$WORK_DIR" wg

# gw-b: stock wireguard-go, configured with wg and ip only.
start_wireguard_go "$NS_GB" "$WG_IF" "$WORK_DIR/wireguard-go.log" || { fail "wireguard-go did not start"; exit 1; }
ip netns exec "$NS_GB" timeout 10 wg set "$WG_IF" private-key "$WORK_DIR/wg.key" listen-port "$PORT_W" \
  peer "$(cat "$WORK_DIR/gw-a.pub")" allowed-ips "198.19.202.0/24,2001:db8:202::/64"
ip -n "$NS_GB" link set "$WG_IF" up
ip -n "$NS_GB" route add 198.19.202.0/24 dev "$WG_IF"
ip -n "$NS_GB" route add 2001:db8:202::/64 dev "$WG_IF"

# gw_a_config [LINE...]: gw-a.yaml with the interface LINEs.
gw_a_config() {
  {
    # No rekey during the run: case r compares the latest handshake.
    yaml_interface "$TUN_A" "$WORK_DIR/gw-a.key" "rekey-after-time: 3600" "$@"
    echo "peers:"
    yaml_peer office-b "$WORK_DIR/${B_PUB:-wg}.pub" "endpoint: 203.0.113.2:$PORT_W" \
      'allowed-ips: [198.18.1.0/24, "2001:db8:1::/64"]' "netmap:" "${NETMAP_A[@]}"
  } >"$WORK_DIR/gw-a.yaml"
}

start_gw_a() {
  gw_a_config "$@"
  start_gw a || { fail "gw-a did not start"; return 1; }
  wait_until "gw-a's tunnel" "$START_BOUND" tunnel_up a || { fail "gw-a: no tunnel"; return 1; }
}

start_gw_a || exit 1

# --- a. routes and the UAPI view -----------------------------------------------------
case_a() {
  local routes
  routes=$(ip -n "$NS_GA" route show dev "$TUN_A"; ip -n "$NS_GA" -6 route show dev "$TUN_A")
  if grep -q '^198.19.201.0/24' <<<"$routes" && grep -q '^2001:db8:201::/64' <<<"$routes" &&
    ! grep -q '^198.18.1.0/24' <<<"$routes" && ! grep -q '^2001:db8:1::/64' <<<"$routes"; then
    pass "a: gw-a routes the seen-as prefixes through $TUN_A, not its own LAN"
  else
    fail "a: gw-a's routes through $TUN_A: $(tr '\n' ';' <<<"$routes")"
  fi
  local allowed
  allowed=$(ip netns exec "$NS_GA" timeout 10 wg show "$TUN_A" allowed-ips 2>&1 || true)
  if grep -q '198.18.1.0/24' <<<"$allowed" && grep -q '2001:db8:1::/64' <<<"$allowed" &&
    ! grep -q '198.19.201' <<<"$allowed"; then
    pass "a: wg show keeps allowed-ips as configured ($(tr '\n\t' '  ' <<<"$allowed"))"
  else
    fail "a: wg show allowed-ips: $allowed"
  fi
}

# --- b. ping, and the mapped source on the far LAN ------------------------------------
# seen_from FILTER WANT DST: tcpdump on host-b's link for one packet matching
# FILTER while host-a pings DST; PASS if it shows WANT.
seen_from() {
  local filter=$1 want=$2 dst=$3 logf="$WORK_DIR/tcpdump-$RANDOM.log"
  start_bg "$logf" ip netns exec "$NS_HB" timeout 20 tcpdump -l -n -c 1 -i "${P}bh" "$filter"
  local pid=$BG_PID
  if ! wait_until "tcpdump to listen" 10 grep -q 'listening on' "$logf"; then
    fail "${CASE:-b}: tcpdump did not start"
    stop_pid "$pid"
    return
  fi
  ping_once "$NS_HA" "$dst" || true
  wait_until "tcpdump's packet" 10 grep -q "$want" "$logf" || true
  stop_pid "$pid" 2
  if grep -q "$want" "$logf"; then
    pass "${CASE:-b}: host-b sees host-a's ping as '$want'"
  else
    fail "${CASE:-b}: host-b's capture: $(tr '\n' ' ' <"$logf")"
  fi
}

case_b() {
  check_ping b "$NS_HA" 198.19.201.2
  check_ping b "$NS_HA" 2001:db8:201::2
  check_ping b "$NS_HB" 198.19.202.2
  check_ping b "$NS_HB" 2001:db8:202::2
  seen_from "icmp and src 198.19.202.2" "198.19.202.2 > 198.18.1.2" 198.19.201.2
  seen_from "icmp6 and src 2001:db8:202::2" "2001:db8:202::2 > 2001:db8:1::2" 2001:db8:201::2
}

# --- c. UDP ---------------------------------------------------------------------------
UDP_ECHO='
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", int(sys.argv[1])))
s.settimeout(20)
print("ready", flush=True)
data, peer = s.recvfrom(2048)
print("from", peer[0], flush=True)
s.sendto(data, peer)
'
# Sends on a connected socket (so only an answer from DST is taken) and
# waits for the echo; a few tries, 2 s each.
UDP_SEND='
import socket, sys
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.settimeout(2)
s.connect((sys.argv[1], int(sys.argv[2])))
for _ in range(3):
    s.send(b"netmap udp")
    try:
        print("echo" if s.recv(2048) == b"netmap udp" else "wrong"); sys.exit(0)
    except ConnectionRefusedError:
        print("refused"); sys.exit(0)
    except socket.timeout:
        pass
print("timeout")
'
UDP_PORT=6001

# udp_case FROM_NS TO_NS DST WANT_SOURCE
udp_case() {
  local from=$1 to=$2 dst=$3 want=$4 port=$UDP_PORT logf got
  UDP_PORT=$((UDP_PORT + 1))
  logf="$WORK_DIR/udp-$port.log"
  start_bg "$logf" ip netns exec "$to" python3 -c "$UDP_ECHO" "$port"
  local pid=$BG_PID
  wait_until "UDP echo on $port" 10 grep -q ready "$logf" || true
  got=$(ip netns exec "$from" timeout 15 python3 -c "$UDP_SEND" "$dst" "$port" 2>&1 || true)
  stop_pid "$pid" 2
  if [[ $got == echo ]] && grep -q "from .*$want\$" "$logf"; then
    pass "${CASE:-c}: UDP ${from#"$P"} -> $dst echoed; the far host saw the sender as $want"
  else
    fail "${CASE:-c}: UDP ${from#"$P"} -> $dst: client '$got', server '$(tr '\n' ' ' <"$logf")'"
  fi
}

case_c() {
  udp_case "$NS_HA" "$NS_HB" 198.19.201.2 198.19.202.2
  udp_case "$NS_HA" "$NS_HB" 2001:db8:201::2 2001:db8:202::2
  udp_case "$NS_HB" "$NS_HA" 198.19.202.2 198.19.201.2
  udp_case "$NS_HB" "$NS_HA" 2001:db8:202::2 2001:db8:201::2
}

# --- d. ICMP errors from behind the mapping ---------------------------------------------
case_d() {
  local from dst got
  for pair in "$NS_HA 198.19.201.2" "$NS_HA 2001:db8:201::2" "$NS_HB 198.19.202.2" "$NS_HB 2001:db8:202::2"; do
    read -r from dst <<<"$pair"
    got=$(ip netns exec "$from" timeout 15 python3 -c "$UDP_SEND" "$dst" 9 2>&1 || true)
    if [[ $got == refused ]]; then
      pass "${CASE:-d}: ${from#"$P"} -> $dst port 9 (closed): ECONNREFUSED, the port-unreachable matched the socket"
    else
      fail "${CASE:-d}: ${from#"$P"} -> $dst port 9 (closed): '$got' (want refused)"
    fi
  done
}

# --- e./f. TCP --------------------------------------------------------------------------
XFER="$SCRIPT_DIR/../support/xfer.py"
DATA="$WORK_DIR/data.bin"
head -c "$((TRANSFER_KB * 1024))" /dev/urandom >"$DATA"
WANT="$(sha256sum "$DATA" | cut -d' ' -f1) $((TRANSFER_KB * 1024))"
NEXT_PORT=5001

# transfer LABEL FROM_NS TO_NS DST: FROM sends DATA to a server in TO at DST.
transfer() {
  local label=$1 from=$2 to=$3 dst=$4 port=$NEXT_PORT slog got rc=0 digest bytes
  NEXT_PORT=$((NEXT_PORT + 1))
  slog="$WORK_DIR/serve-$port.log"
  start_bg "$slog" ip netns exec "$to" python3 "$XFER" serve "$port"
  local server=$BG_PID
  wait_until "server on port $port" 10 grep -q ready "$slog" || true
  got=$(ip netns exec "$from" timeout "$TRANSFER_BOUND" python3 "$XFER" send "$dst" "$port" "$DATA" 2>&1) || rc=$?
  stop_pid "$server" 2
  read -r digest bytes _ <<<"$got"
  if ((rc == 0)) && [[ "$digest $bytes" == "$WANT" ]]; then
    pass "$label: TCP ${from#"$P"} -> $dst: $TRANSFER_KB KiB intact ($got)"
  else
    fail "$label: TCP ${from#"$P"} -> $dst: exit $rc, answer '$got'"
  fi
}

tcp_both_ways() {
  transfer "$1" "$NS_HA" "$NS_HB" 198.19.201.2
  transfer "$1" "$NS_HA" "$NS_HB" 2001:db8:201::2
  transfer "$1" "$NS_HB" "$NS_HA" 198.19.202.2
  transfer "$1" "$NS_HB" "$NS_HA" 2001:db8:202::2
}

case_e() {
  local offload
  offload=$(timeout 10 "$SITELINK" show "$TUN_A" --json 2>/dev/null |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["interfaces"][0]["data_path"]["tun_offload"])' || true)
  log "gw-a tun_offload in effect: $offload"
  tcp_both_ways "e (tun-offload: true, in effect: $offload)"
  local summary
  summary=$(timeout 10 "$SITELINK" show "$TUN_A" --json 2>/dev/null | python3 -c '
import json, sys
p = json.load(sys.stdin)["interfaces"][0]["peers"][0]
print(len(p["netmap"]), p["netmap_packets_sent"], p["netmap_packets_received"],
      " ".join(m["side"] + ":" + m["prefix"] + ">" + m["seen_as"] for m in p["netmap"]))' || true)
  local n sent received
  read -r n sent received _ <<<"$summary"
  if [[ $n == 4 ]] && ((sent > 1000 && received > 1000)); then
    pass "e: sitelink show --json lists the 4 mappings, $sent packets translated out, $received in"
  else
    fail "e: sitelink show --json: '$summary'"
  fi
  if timeout 10 "$SITELINK" show "$TUN_A" 2>/dev/null | grep -q 'netmap: peer 198.18.1.0/24 seen-as 198.19.201.0/24'; then
    pass "e: sitelink show lists the mapping"
  else
    fail "e: sitelink show does not list the mapping"
  fi
}

latest_handshake() {
  timeout 10 "$SITELINK" show "$TUN_A" --json 2>/dev/null |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["interfaces"][0]["peers"][0]["latest_handshake"])' ||
    true
}

case_r() {
  local before after
  before=$(latest_handshake)
  NETMAP_A[1]="    seen-as: 198.19.203.0/24"
  gw_a_config
  kill -HUP "${GW_PID[a]}"
  if wait_until "gw-a's reload" 10 grep -q 'netmap peer 198.18.1.0/24 seen-as 198.19.201.0/24.* -> ' "${GW_LOG[a]}"; then
    pass "r: gw-a applied the new mapping on SIGHUP"
  else
    fail "r: gw-a's log does not show the netmap change"
  fi
  if ip -n "$NS_GA" route show dev "$TUN_A" | grep -q '^198.19.203.0/24' &&
    ! ip -n "$NS_GA" route show dev "$TUN_A" | grep -q '^198.19.201.0/24'; then
    pass "r: the route moved to 198.19.203.0/24"
  else
    fail "r: routes through $TUN_A: $(ip -n "$NS_GA" route show dev "$TUN_A" | tr '\n' ';')"
  fi
  check_ping r "$NS_HA" 198.19.203.2
  if ping_once "$NS_HA" 198.19.201.2; then
    fail "r: the old seen-as 198.19.201.2 still answers"
  else
    pass "r: the old seen-as 198.19.201.2 no longer answers"
  fi
  after=$(latest_handshake)
  if [[ -n $before && $before == "$after" ]]; then
    pass "r: the session was kept (latest handshake $before before and after)"
  else
    fail "r: latest handshake '$before' before the reload, '$after' after"
  fi
  NETMAP_A[1]="    seen-as: 198.19.201.0/24"
}

case_f() {
  stop_gw a
  start_gw_a "tun-offload: false" || return
  tcp_both_ways "f (tun-offload: false)"
}

# --- g. sitelink on both ends ----------------------------------------------------------
case_g() {
  stop_gw a
  stop_pid "$WG_PID"
  WG_PID=""
  wait_until "wireguard-go's TUN gone" 10 bash -c "! ip -n '$NS_GB' link show '$WG_IF' >/dev/null 2>&1" || true
  NETMAP_A=("  - peer: 198.18.1.0/24" "    seen-as: 198.19.201.0/24"
    "  - peer: 2001:db8:1::/64" "    seen-as: 2001:db8:201::/64")
  B_PUB="gw-b"
  {
    PORT=$PORT_W yaml_interface "$TUN_B" "$WORK_DIR/gw-b.key"
    echo "peers:"
    yaml_peer office-a "$WORK_DIR/gw-a.pub" 'allowed-ips: [198.18.1.0/24, "2001:db8:1::/64"]' "netmap:" \
      "  - peer: 198.18.1.0/24" "    seen-as: 198.19.202.0/24" \
      "  - peer: 2001:db8:1::/64" "    seen-as: 2001:db8:202::/64"
  } >"$WORK_DIR/gw-b.yaml"
  CASE=g
  start_gw b || { fail "g: gw-b did not start"; return; }
  start_gw_a || return
  check_ping g "$NS_HA" 198.19.201.2
  check_ping g "$NS_HA" 2001:db8:201::2
  check_ping g "$NS_HB" 198.19.202.2
  check_ping g "$NS_HB" 2001:db8:202::2
  seen_from "icmp and src 198.19.202.2" "198.19.202.2 > 198.18.1.2" 198.19.201.2
  udp_case "$NS_HA" "$NS_HB" 198.19.201.2 198.19.202.2
  udp_case "$NS_HB" "$NS_HA" 2001:db8:202::2 2001:db8:201::2
  case_d
  transfer g "$NS_HA" "$NS_HB" 198.19.201.2
  transfer g "$NS_HB" "$NS_HA" 2001:db8:202::2
  stop_gw_check "g" b
}

case_a
case_b
case_c
case_d
case_e
case_r
case_f
case_g
stop_gw_check "end" a
stop_pid "$WG_PID"
echo "netmap: $PASSED passed, $FAILED failed"
((FAILED == 0))
