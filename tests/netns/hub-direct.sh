#!/usr/bin/env bash
# Hub and direct (issue 21): three gateways on one underlay. The hub is a
# stock WireGuard peer (wireguard-go configured by wg) that routes the whole
# 198.18.0.0/15; branch A (sitelinkd) lists the hub with the /15 and branch
# B (sitelinkd) directly with B's /24, which lies inside it. The most
# specific prefix wins: a capture on A's underlay link shows A's traffic to
# B's LAN going straight to B and A's traffic to the hub's LAN going to the
# hub; both answer.
#
#   ns A (sitelinkd)  203.0.113.1 \
#   ns B (sitelinkd)  203.0.113.2 -- bridge in ns N
#   ns H (wireguard-go) 203.0.113.10 /
#   LANs (a host address of each, on lo): A 198.18.1.1, B 198.18.2.1, H 198.19.0.1
#   tunnel addresses: A 198.18.0.1, B 198.18.0.2, H 198.18.0.10
#
# Usage: hub-direct.sh SITELINKD SITELINK      (as root)
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/netns/lib.sh
source "$SCRIPT_DIR/lib.sh"
lib_init hub-direct slh
# shellcheck source=tests/netns/topology.sh
source "$SCRIPT_DIR/topology.sh"

require_root
require_tools ip ping timeout wg wireguard-go tcpdump
require_tun
sitelink_binaries "${1:?usage: $0 SITELINKD SITELINK}" "${2:?usage: $0 SITELINKD SITELINK}"

BOUND=15
P=$PREFIX
NS_A="${P}a" NS_B="${P}b" NS_H="${P}h" NS_N="${P}n"
TUN_A="${P}at" TUN_B="${P}bt" TUN_H="${P}ht"
GW_NS=([a]=$NS_A [b]=$NS_B)
for i in "$TUN_A" "$TUN_B" "$TUN_H"; do on_cleanup rm -f "/run/wireguard/$i.sock"; done

ns_add "$NS_A" "$NS_B" "$NS_H" "$NS_N"
ip -n "$NS_N" link add "${P}br" type bridge
ip -n "$NS_N" link set "${P}br" up
declare -A UL=([a]=203.0.113.1 [b]=203.0.113.2 [h]=203.0.113.10)
declare -A NSOF=([a]=$NS_A [b]=$NS_B [h]=$NS_H)
declare -A LAN=([a]=198.18.1.1/32 [b]=198.18.2.1/32 [h]=198.19.0.1/32)
for s in a b h; do
  veth_add "${NSOF[$s]}" "${P}u$s" "$NS_N" "${P}p$s"
  ip -n "$NS_N" link set "${P}p$s" master "${P}br"
  ip -n "${NSOF[$s]}" addr add "${UL[$s]}/24" dev "${P}u$s"
  ip -n "${NSOF[$s]}" addr add "${LAN[$s]}" dev lo # the office's LAN, one host of it
  ip netns exec "${NSOF[$s]}" sysctl -qw net.ipv4.ip_forward=1
done
wait_until "the underlay" 10 ping_once "$NS_A" 203.0.113.10
wait_until "the underlay" 10 ping_once "$NS_A" 203.0.113.2

gw_keys a b h
PORT=51820
{
  yaml_interface "$TUN_A" "$WORK_DIR/gw-a.key" "address: [198.18.0.1/32]"
  echo "peers:"
  yaml_peer hub "$WORK_DIR/gw-h.pub" "endpoint: 203.0.113.10:$PORT" "allowed-ips: [198.18.0.0/15]"
  yaml_peer office-b "$WORK_DIR/gw-b.pub" "endpoint: 203.0.113.2:$PORT" "allowed-ips: [198.18.2.0/24, 198.18.0.2/32]"
} >"$WORK_DIR/gw-a.yaml"
{
  yaml_interface "$TUN_B" "$WORK_DIR/gw-b.key" "address: [198.18.0.2/32]"
  echo "peers:"
  yaml_peer hub "$WORK_DIR/gw-h.pub" "endpoint: 203.0.113.10:$PORT" "allowed-ips: [198.18.0.0/15]"
  yaml_peer office-a "$WORK_DIR/gw-a.pub" "endpoint: 203.0.113.1:$PORT" "allowed-ips: [198.18.1.0/24, 198.18.0.1/32]"
} >"$WORK_DIR/gw-b.yaml"

out=$("$SITELINKD" --check --config "$WORK_DIR/gw-a.yaml" 2>&1) || fail "check of A's nested prefixes: $out"
if grep -q "note:" <<<"$out" && grep -q "198.18.2.0/24" <<<"$out"; then
  pass "check accepts A's /24 inside the hub's /15 and notes it: $(grep -m1 'note:' <<<"$out")"
else
  fail "check does not note the nesting: $out"
fi

# The hub: stock wireguard-go, configured by wg, as any WireGuard hub.
start_wireguard_go "$NS_H" "$TUN_H" "$WORK_DIR/wg-go.log" || { fail "wireguard-go did not start"; exit 1; }
ip netns exec "$NS_H" wg set "$TUN_H" listen-port "$PORT" private-key "$WORK_DIR/gw-h.key" \
  peer "$(<"$WORK_DIR/gw-a.pub")" endpoint 203.0.113.1:$PORT allowed-ips 198.18.1.0/24,198.18.0.1/32 \
  peer "$(<"$WORK_DIR/gw-b.pub")" endpoint 203.0.113.2:$PORT allowed-ips 198.18.2.0/24,198.18.0.2/32
ip -n "$NS_H" addr add 198.18.0.10/32 dev "$TUN_H"
ip -n "$NS_H" link set "$TUN_H" up
ip -n "$NS_H" route add 198.18.0.0/24 dev "$TUN_H"
ip -n "$NS_H" route add 198.18.1.0/24 dev "$TUN_H"
ip -n "$NS_H" route add 198.18.2.0/24 dev "$TUN_H"

start_gw a info
start_gw b info

# capture NAME CMD...: UDP on A's underlay while CMD runs; NAME.pcap.
capture() {
  local name=$1 pid
  shift
  ip netns exec "$NS_A" timeout 30 tcpdump -i "${P}ua" -n -U --immediate-mode -w "$WORK_DIR/$name.pcap" udp port $PORT \
    >"$WORK_DIR/$name.tcpdump.log" 2>&1 &
  pid=$!
  wait_until "tcpdump to listen" 10 grep -q "listening on" "$WORK_DIR/$name.tcpdump.log" || true
  "$@" || true
  kill -INT "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
# sent_to NAME ADDR: datagrams A sent to ADDR in the capture.
sent_to() {
  tcpdump -r "$WORK_DIR/$1.pcap" -n "src host 203.0.113.1 and dst host $2" 2>/dev/null | grep -c . || true
}
pings() { ip netns exec "$NS_A" timeout 20 ping -n -q -c 5 -i 0.2 -W 2 -I 198.18.1.1 "$1" >"$WORK_DIR/ping-$1.log" 2>&1; }

wait_until "A to reach B's LAN" "$BOUND" ping_once "$NS_A" 198.18.2.1 -I 198.18.1.1 || true
wait_until "A to reach the hub's LAN" "$BOUND" ping_once "$NS_A" 198.19.0.1 -I 198.18.1.1 || true

capture direct pings 198.18.2.1
ping_counts "$WORK_DIR/ping-198.18.2.1.log"
to_b=$(sent_to direct 203.0.113.2) to_h=$(sent_to direct 203.0.113.10)
if [[ $PING_RX == 5 ]] && ((to_b >= 5 && to_h == 0)); then
  pass "198.18.2.0/24 goes direct: 5 of 5 echoes answered; A sent $to_b datagrams to B, $to_h to the hub"
else
  fail "198.18.2.0/24: ${PING_RX:-0} of 5 answered; A sent $to_b datagrams to B and $to_h to the hub ($(tr "\n" " " <"$WORK_DIR/direct.tcpdump.log"); $(tcpdump -r "$WORK_DIR/direct.pcap" -n 2>&1 | head -3 | tr "\n" " "))"
fi

capture hub pings 198.19.0.1
ping_counts "$WORK_DIR/ping-198.19.0.1.log"
to_b=$(sent_to hub 203.0.113.2) to_h=$(sent_to hub 203.0.113.10)
if [[ $PING_RX == 5 ]] && ((to_h >= 5 && to_b == 0)); then
  pass "the rest of 198.18.0.0/15 goes through the hub: 5 of 5 echoes answered; A sent $to_h datagrams to the hub, $to_b to B"
else
  fail "198.19.0.1: ${PING_RX:-0} of 5 answered; A sent $to_h datagrams to the hub and $to_b to B"
fi

log "done: $PASSED passed, $FAILED failed"
((FAILED == 0))
