#!/usr/bin/env bash
# ECN per RFC 6040 and copy-dscp (issue 16.3/16.4, SPEC.md "Real office
# networks") between two real gateways whose underlay runs through a router
# namespace, where nftables plays a congested router and counts what it sees.
#
# Usage: ecn-dscp.sh [SITELINKD [SITELINK]]
#   defaults: <repo>/build/daemon/sitelinkd and <repo>/build/daemon/sitelink
#
# Topology: two_offices ipv4+ipv6 --internet (tests/netns/topology.sh): the
# gateways reach each other over IPv4 through the router namespace NS_NET
# (forwarding on, a route each way); inner IPv4 and IPv6.
#
# Cases (each prints PASS/FAIL lines; the exit status is non-zero if any failed):
#   a. host-a pings host-b with ECT(0) (ping -Q 2), IPv4 and IPv6 inner: the
#      outer packets crossing the router are ECT(0) (the ECN field copied),
#      and host-b sees ECT(0), no CE (the control for b).
#   b. the router rewrites the ECN field of every packet towards gw-b to CE
#      (nft `ip ecn set ce`): the same pings arrive at host-b marked CE, IPv4
#      and IPv6 inner.
#   c. with the rewrite still on, pings without ECN (Not-ECT) are lost, and
#      gw-b's `sitelink show --json` counts them as ecn-ce-not-ect.
#   d. rewrite off; host-a pings with DSCP EF (ping -Q 0xb8): with the default
#      (copy-dscp: false) no outer packet carries EF; after gw-a is reloaded
#      with copy-dscp: true, they do (IPv4 and IPv6 inner).
#
# Needs root, ip, ping, timeout, sysctl, nft, python3. Daemon logs are
# printed on failure, or always with NETNS_VERBOSE=1.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/netns/lib.sh
source "$SCRIPT_DIR/lib.sh"
lib_init ecn-dscp slecn
# shellcheck source=tests/netns/topology.sh
source "$SCRIPT_DIR/topology.sh"

START_BOUND=10  # s: daemon up and tunnel established
RELOAD_BOUND=10 # s: a reload's outcome in the log
STOP_BOUND=5    # s: SIGTERM to exit
PINGS=5         # per check

require_root
require_tools ip ping timeout sysctl nft python3
require_tun
sitelink_binaries "$@"

two_offices ipv4+ipv6 --internet
gw_keys a b
ip netns exec "$NS_NET" sysctl -qw net.ipv4.ip_forward=1
ip -n "$NS_GA" route add 198.51.100.0/24 via 203.0.113.254
ip -n "$NS_GB" route add 203.0.113.0/24 via 198.51.100.254
wait_until "gw-a reaches gw-b through the router" 10 ping_once "$NS_GA" 198.51.100.1

# The router counts the outer packets towards gw-b before anything else
# (priority -10); the chain `congest` (priority 0) is where the CE rewrite
# goes. host-b counts the echo requests that reach it by ECN field.
ip netns exec "$NS_NET" nft -f - <<EOF
table inet ecn_router {
  counter outer_ect0 {}
  counter outer_ef {}
  counter marked {}
  chain count {
    type filter hook forward priority -10; policy accept;
    ip daddr 198.51.100.1 udp dport $PORT ip ecn ect0 counter name outer_ect0
    ip daddr 198.51.100.1 udp dport $PORT ip dscp ef counter name outer_ef
  }
  chain congest {
    type filter hook forward priority 0; policy accept;
  }
}
EOF
ip netns exec "$NS_HB" nft -f - <<'EOF'
table inet ecn_host {
  counter ect0_4 {}
  counter ce_4 {}
  counter ect0_6 {}
  counter ce_6 {}
  chain input {
    type filter hook input priority 0; policy accept;
    icmp type echo-request ip ecn ect0 counter name ect0_4
    icmp type echo-request ip ecn ce counter name ce_4
    icmpv6 type echo-request ip6 ecn ect0 counter name ect0_6
    icmpv6 type echo-request ip6 ecn ce counter name ce_6
  }
}
EOF

office_config a "198.51.100.1:$PORT"
office_config b "203.0.113.1:$PORT"
start_gw a
start_gw b
check_ping start "$NS_HA" 198.18.2.2 # the first packet brings the tunnel up
wait_until "tunnel up on both gateways" "$START_BOUND" tunnel_up a b

# counted NS TABLE COUNTER: the packets that counter has counted.
counted() {
  ip netns exec "$1" nft list counter inet "$2" "$3" | sed -n 's/.*packets \([0-9]*\).*/\1/p'
}

# pings NS DST [PING OPTION...]: PINGS echo requests, 0.2 s apart; prints
# how many were answered.
pings() {
  local ns=$1 dst=$2 out="$WORK_DIR/pings.out"
  shift 2
  ip netns exec "$ns" timeout 20 ping -n -q -c "$PINGS" -i 0.2 -W 1 "$@" "$dst" >"$out" 2>&1 || true
  ping_counts "$out"
  echo "${PING_RX:-0}"
}

# expect LABEL WHAT GOT WANT_MIN: pass if GOT >= WANT_MIN.
expect_at_least() {
  if [[ -n $3 ]] && (($3 >= $4)); then
    pass "$1: $2: $3"
  else
    fail "$1: $2: '$3' (want at least $4)"
  fi
}

expect_zero() {
  if [[ $3 == 0 ]]; then pass "$1: $2: 0"; else fail "$1: $2: '$3' (want 0)"; fi
}

case_a() {
  local ect_before
  ect_before=$(counted "$NS_NET" ecn_router outer_ect0)
  expect_at_least a "IPv4 ECT(0) pings answered" "$(pings "$NS_HA" 198.18.2.2 -Q 2)" "$PINGS"
  expect_at_least a "IPv6 ECT(0) pings answered" "$(pings "$NS_HA" 2001:db8:b::2 -Q 2)" "$PINGS"
  expect_at_least a "outer packets with ECT(0) at the router" \
    "$(($(counted "$NS_NET" ecn_router outer_ect0) - ect_before))" $((2 * PINGS))
  expect_at_least a "IPv4 echo requests at host-b with ECT(0)" "$(counted "$NS_HB" ecn_host ect0_4)" "$PINGS"
  expect_at_least a "IPv6 echo requests at host-b with ECT(0)" "$(counted "$NS_HB" ecn_host ect0_6)" "$PINGS"
  expect_zero a "IPv4 echo requests at host-b with CE (nothing marks yet)" "$(counted "$NS_HB" ecn_host ce_4)"
  expect_zero a "IPv6 echo requests at host-b with CE" "$(counted "$NS_HB" ecn_host ce_6)"
}

case_b() {
  ip netns exec "$NS_NET" nft add rule inet ecn_router congest \
    ip daddr 198.51.100.1 udp dport "$PORT" ip ecn set ce counter name marked
  expect_at_least b "IPv4 ECT(0) pings answered through the congested router" \
    "$(pings "$NS_HA" 198.18.2.2 -Q 2)" "$PINGS"
  expect_at_least b "IPv6 ECT(0) pings answered" "$(pings "$NS_HA" 2001:db8:b::2 -Q 2)" "$PINGS"
  expect_at_least b "outer packets the router marked CE" "$(counted "$NS_NET" ecn_router marked)" $((2 * PINGS))
  expect_at_least b "IPv4 echo requests at host-b with CE" "$(counted "$NS_HB" ecn_host ce_4)" "$PINGS"
  expect_at_least b "IPv6 echo requests at host-b with CE" "$(counted "$NS_HB" ecn_host ce_6)" "$PINGS"
}

# show_drops FILE: gw-b's `sitelink show --json` saved in FILE.
show_drops() { timeout 10 "$SITELINK" show "$TUN_B" --json >"$1" 2>/dev/null; }

case_c() {
  local before="$WORK_DIR/show-before.json" after="$WORK_DIR/show-after.json" n0 n1
  show_drops "$before" || { fail "c: sitelink show on gw-b failed"; return; }
  expect_zero c "IPv4 Not-ECT pings answered under CE marking" "$(pings "$NS_HA" 198.18.2.2)"
  expect_zero c "IPv6 Not-ECT pings answered under CE marking" "$(pings "$NS_HA" 2001:db8:b::2)"
  show_drops "$after" || { fail "c: sitelink show on gw-b failed"; return; }
  n0=$(show_query drop "$before" ecn-ce-not-ect || echo "")
  n1=$(show_query drop "$after" ecn-ce-not-ect || echo "")
  if [[ -n $n0 && -n $n1 ]]; then
    expect_at_least c "gw-b's ecn-ce-not-ect drops counted by sitelink show" "$((n1 - n0))" $((2 * PINGS))
  else
    fail "c: sitelink show --json on gw-b has no ecn-ce-not-ect count ('$n0' / '$n1')"
  fi
}

case_d() {
  ip netns exec "$NS_NET" nft flush chain inet ecn_router congest
  check_ping d "$NS_HA" 198.18.2.2 # Not-ECT crosses again
  local ef0 ef1
  ef0=$(counted "$NS_NET" ecn_router outer_ef)
  expect_at_least d "IPv4 EF pings answered with copy-dscp: false" "$(pings "$NS_HA" 198.18.2.2 -Q 0xb8)" "$PINGS"
  expect_zero d "outer packets with DSCP EF at the router (copy-dscp: false)" \
    "$(($(counted "$NS_NET" ecn_router outer_ef) - ef0))"
  office_config a "198.51.100.1:$PORT" "copy-dscp: true"
  kill -HUP "${GW_PID[a]}"
  if ! wait_until "gw-a's reload" "$RELOAD_BOUND" grep -q "copy-dscp false -> true" "${GW_LOG[a]}"; then
    fail "d: gw-a did not apply copy-dscp: true"
    return
  fi
  pass "d: gw-a reloaded with copy-dscp: true"
  ef1=$(counted "$NS_NET" ecn_router outer_ef)
  expect_at_least d "IPv4 EF pings answered with copy-dscp: true" "$(pings "$NS_HA" 198.18.2.2 -Q 0xb8)" "$PINGS"
  expect_at_least d "IPv6 EF pings answered" "$(pings "$NS_HA" 2001:db8:b::2 -Q 0xb8)" "$PINGS"
  expect_at_least d "outer packets with DSCP EF at the router (copy-dscp: true)" \
    "$(($(counted "$NS_NET" ecn_router outer_ef) - ef1))" $((2 * PINGS))
}

case_a
case_b
case_c
case_d
stop_gw_check end a
stop_gw_check end b
