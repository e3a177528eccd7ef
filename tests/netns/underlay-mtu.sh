#!/usr/bin/env bash
# The outer packets on an underlay path with a smaller MTU (issue 16.2): a
# router in the middle of "the internet" whose link towards office B has MTU
# 1400 (a tunnel of the ISP's, say), so that the sealed datagrams of full-size
# inner packets (1420 + 60 or 80 bytes) do not fit it. Gateway A does not
# know: only the router does. Office hosts have MTU 1500; the clamp is on
# (the default), so TCP's inner packets are at most the tunnel MTU.
#
# Usage: underlay-mtu.sh [SITELINKD [SITELINK]]
#   defaults: <repo>/build/daemon/sitelinkd and <repo>/build/daemon/sitelink
#
# Topology: two_offices ipv4+ipv6 --internet (tests/netns/topology.sh), the
# internet namespace routing both families between the gateways:
#   gw-a ${P}au 203.0.113.1, 2001:db8:fa::1 -- ${P}na [internet] ${P}nb
#   (MTU 1400) -- ${P}bu 198.51.100.1, 2001:db8:fb::1 gw-b (its uplink MTU
#   1400 too: the link's MTU, which gw-b's kernel knows).
#
# Cases, in this order (those without ICMP first, see below), each with fresh
# gateways and a sha256-checked 2 MiB TCP transfer each way between the
# office hosts (inner IPv4 and IPv6):
#   v4-noicmp-nogso  IPv4 underlay, the router's ICMP "fragmentation
#               needed" dropped on its way (nftables in the router's output
#               hook), and `udp-gso: false`: every datagram sent alone. (The
#               kernel never sets DF on a UDP GSO train's segments, so with
#               trains large datagrams passed even when DF was set on the
#               others; this case is the one that hung then.)
#   v4-noicmp   the same with GSO trains (the default)
#   v4-icmp     IPv4 underlay, the router's ICMP reaches gw-a
#   v6-noicmp-mtu   IPv6 underlay without "packet too big", both gateways
#               configured with `mtu: 1320` (1400 - 80), as README's
#               troubleshooting section says: IPv6 routers never fragment,
#               so on such a path only a smaller tunnel MTU helps.
#   v6-icmp     IPv6 underlay, "packet too big" reaches gw-a
# Each case also prints what carried the large packets, from nftables
# counters in the router: IPv4 fragments forwarded (the router fragmented:
# sitelinkd's IPv4 datagrams leave without DF, as the kernel module's do),
# IPv6 fragments forwarded (gw-a's kernel fragmented after learning the path
# MTU), and the ICMP errors the router sent; and checks the mechanism the
# case expects (v4-*: the router fragmented and sent no "fragmentation
# needed"; v6-icmp: the router sent "packet too big" and gw-a fragmented).
#
# Needs root, ip, ping, timeout, sysctl, nft, python3, sha256sum. Daemon logs
# are printed on failure, or always with NETNS_VERBOSE=1.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/netns/lib.sh
source "$SCRIPT_DIR/lib.sh"
lib_init underlay-mtu slu
# shellcheck source=tests/netns/topology.sh
source "$SCRIPT_DIR/topology.sh"

START_BOUND=10    # s: daemons up and tunnel established
TRANSFER_BOUND=60 # s: one transfer that must complete
STOP_BOUND=5      # s: SIGTERM to exit
TRANSFER_KB=2048
SMALL_MTU=1400

require_root
require_tools ip ping timeout sysctl nft python3 sha256sum
require_tun
sitelink_binaries "$@"

two_offices ipv4+ipv6 --internet
gw_keys a b
P=$PREFIX

# The internet namespace routes both families; the link towards B is small.
ip netns exec "$NS_NET" sysctl -qw net.ipv4.ip_forward=1
ip netns exec "$NS_NET" sysctl -qw net.ipv6.conf.all.forwarding=1
ip -n "$NS_GA" addr add 2001:db8:fa::1/64 dev "$UL_A" nodad
ip -n "$NS_NET" addr add 2001:db8:fa::254/64 dev "${P}na" nodad
ip -n "$NS_NET" addr add 2001:db8:fb::254/64 dev "${P}nb" nodad
ip -n "$NS_GB" addr add 2001:db8:fb::1/64 dev "$UL_B" nodad
ip -n "$NS_NET" link set "${P}nb" mtu "$SMALL_MTU"
ip -n "$NS_GB" link set "$UL_B" mtu "$SMALL_MTU"
ip -n "$NS_GA" route add 198.51.100.0/24 via 203.0.113.254
ip -n "$NS_GB" route add 203.0.113.0/24 via 198.51.100.254
ip -n "$NS_GA" -6 route add 2001:db8:fb::/64 via 2001:db8:fa::254
ip -n "$NS_GB" -6 route add 2001:db8:fa::/64 via 2001:db8:fb::254
wait_until "IPv4 underlay through the router" 10 ping_once "$NS_GA" 198.51.100.1
wait_until "IPv6 underlay through the router" 10 ping_once "$NS_GA" 2001:db8:fb::1

# The router's counters: fragments it forwards, ICMP errors it sends, and
# (when ICMP_DROP=1) a drop of those errors on their way out.
router_rules() {
  local drop=$1 verdict=accept
  ((drop)) && verdict=drop
  ip netns exec "$NS_NET" nft delete table inet mtu_watch 2>/dev/null || true
  ip netns exec "$NS_NET" nft -f - <<EOF
table inet mtu_watch {
  counter v4_fragments {}
  counter v6_fragments {}
  counter frag_needed {}
  counter too_big {}
  chain forward {
    type filter hook forward priority 0; policy accept;
    ip frag-off & 0x3fff != 0 counter name v4_fragments
    exthdr frag exists counter name v6_fragments
  }
  chain output {
    type filter hook output priority 0; policy accept;
    icmp type destination-unreachable icmp code frag-needed counter name frag_needed $verdict
    icmpv6 type packet-too-big counter name too_big $verdict
  }
}
EOF
}

# counter NAME: packets the router's counter NAME has seen.
counter() {
  ip netns exec "$NS_NET" nft list counter inet mtu_watch "$1" | awk '/packets/ {print $2; exit}'
}

xfer_data "$TRANSFER_KB"

# transfer FROM_NS TO_NS DST: FROM_NS sends XFER_DATA to a server in TO_NS at
# DST; true if every byte arrived within the bound.
transfer() { xfer "$1" "$2" "$3" "$TRANSFER_BOUND"; }

# run_case NAME ENDPOINT_OF_A ENDPOINT_OF_B ICMP_DROP [LINE...]: fresh
# gateways (the interface LINEs in both configs), the router's counters
# zeroed, four transfers; leaves the counters for the caller's checks.
run_case() {
  local name=$1 ep_a=$2 ep_b=$3 drop=$4
  shift 4
  router_rules "$drop"
  office_config a "$ep_b" "$@"
  office_config b "$ep_a" "$@"
  start_gw a
  start_gw b
  if ! wait_until "$name: tunnel up" "$START_BOUND" tunnel_up a b; then
    fail "$name: the tunnel did not come up"
    stop_gw_check "$name" a
    stop_gw_check "$name" b
    return
  fi
  local dst
  for dst in 198.18.2.2 2001:db8:b::2; do
    if transfer "$NS_HA" "$NS_HB" "$dst"; then
      pass "$name: host-a -> $dst: $TRANSFER_KB KiB arrived intact"
    else
      fail "$name: host-a -> $dst: the transfer did not complete within $TRANSFER_BOUND s"
    fi
  done
  for dst in 198.18.1.2 2001:db8:a::2; do
    if transfer "$NS_HB" "$NS_HA" "$dst"; then
      pass "$name: host-b -> $dst: $TRANSFER_KB KiB arrived intact"
    else
      fail "$name: host-b -> $dst: the transfer did not complete within $TRANSFER_BOUND s"
    fi
  done
  GSO_A=$(timeout 10 "$SITELINK" show "$TUN_A" --json 2>/dev/null |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["interfaces"][0]["data_path"]["udp_gso"])' || true)
  FRAG4=$(counter v4_fragments) FRAG6=$(counter v6_fragments)
  NEEDED=$(counter frag_needed) TOO_BIG=$(counter too_big)
  log "$name: the router forwarded $FRAG4 IPv4 and $FRAG6 IPv6 fragments;" \
    "it sent $NEEDED 'fragmentation needed' and $TOO_BIG 'packet too big'" \
    "$( ((drop)) && echo "(dropped on their way)")"
  stop_gw_check "$name" a
  stop_gw_check "$name" b
}

# The cases without ICMP come first: a path MTU a gateway's kernel learns
# from ICMP stays in its route cache for ten minutes and would carry a later
# case in the same namespaces.
for name in v4-noicmp-nogso v4-noicmp v4-icmp; do
  drop=1 lines=()
  [[ $name == v4-icmp ]] && drop=0
  [[ $name == *nogso ]] && lines=("udp-gso: false")
  run_case "$name" "203.0.113.1:$PORT" "198.51.100.1:$PORT" "$drop" "${lines[@]}"
  if ((FRAG4 > 0 && NEEDED == 0)); then
    pass "$name: the router fragmented the outer IPv4 datagrams ($FRAG4 fragments) and sent no 'fragmentation needed'"
  else
    fail "$name: want outer IPv4 fragments from the router and no 'fragmentation needed': $FRAG4 fragments, $NEEDED sent"
  fi
done

run_case v6-noicmp-mtu "[2001:db8:fa::1]:$PORT" "[2001:db8:fb::1]:$PORT" 1 "mtu: $((SMALL_MTU - 80))"
if ((FRAG6 == 0)); then
  pass "v6-noicmp-mtu: with mtu $((SMALL_MTU - 80)) every outer datagram fit the path (no fragments)"
else
  fail "v6-noicmp-mtu: $FRAG6 IPv6 fragments with mtu $((SMALL_MTU - 80))"
fi
run_case v6-icmp "[2001:db8:fa::1]:$PORT" "[2001:db8:fb::1]:$PORT" 0
if ((TOO_BIG > 0 && FRAG6 > 0)); then
  pass "v6-icmp: the router sent $TOO_BIG 'packet too big' and gw-a's kernel fragmented ($FRAG6 fragments)"
else
  fail "v6-icmp: want 'packet too big' from the router and IPv6 fragments from gw-a: $TOO_BIG sent, $FRAG6 fragments"
fi
# Trains to a destination with a smaller learned path MTU must not turn GSO
# off for the whole socket.
if [[ $GSO_A == True ]]; then
  pass "v6-icmp: gw-a still makes UDP GSO trains after the path MTU went down"
else
  fail "v6-icmp: gw-a's udp-gso is '${GSO_A}' after the path MTU went down (want True)"
fi

