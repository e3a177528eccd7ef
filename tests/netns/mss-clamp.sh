#!/usr/bin/env bash
# MSS clamping (issue 16.1, SPEC.md "Real office networks"): TCP between two
# offices whose hosts have MTU 1500 while the tunnel has 1420, and whose
# sending host drops ICMP "fragmentation needed" / "packet too big" (as many
# office firewalls and Windows hosts do), so path-MTU discovery cannot help.
#
# Usage: mss-clamp.sh [SITELINKD [SITELINK]]
#   defaults: <repo>/build/daemon/sitelinkd and <repo>/build/daemon/sitelink
#
# Topology: two_offices ipv4+ipv6 (tests/netns/topology.sh), default tunnel
# MTU 1420, the hosts' links 1500; host-a's nftables input hook drops ICMP
# destination-unreachable and ICMPv6 packet-too-big.
#
# Cases (each prints PASS/FAIL lines; the exit status is non-zero if any failed):
#   a. default config (mss-clamp: auto): sha256-checked TCP transfers from
#      host-a to host-b and back complete over IPv4 and IPv6 inner addresses, and
#      `sitelink show --json` on gw-a counts clamped SYNs.
#   b. gw-a and gw-b reloaded (SIGHUP) with `mss-clamp: off`: ping still
#      crosses the tunnel, but the same transfers do not complete within
#      HANG_BOUND seconds (the black hole the clamp prevents; proves case a
#      can fail).
#   c. fresh gateways with the default config over the IPv6 underlay: the
#      transfers of a again, both ways.
#
# Needs root, ip, ping, timeout, sysctl, nft, python3, sha256sum. Daemon logs
# are printed on failure, or always with NETNS_VERBOSE=1.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/netns/lib.sh
source "$SCRIPT_DIR/lib.sh"
lib_init mss-clamp slm
# shellcheck source=tests/netns/topology.sh
source "$SCRIPT_DIR/topology.sh"

START_BOUND=10    # s: daemon up and tunnel established
TRANSFER_BOUND=60 # s: one transfer that must complete
HANG_BOUND=15     # s: one transfer that must not complete
RELOAD_BOUND=10   # s: a reload's outcome in the log
STOP_BOUND=5      # s: SIGTERM to exit
TRANSFER_KB=2048

require_root
require_tools ip ping timeout sysctl nft python3 sha256sum
require_tun
sitelink_binaries "$@"

two_offices ipv4+ipv6
gw_keys a b

# host-a drops incoming "fragmentation needed" and "packet too big".
ip netns exec "$NS_HA" nft -f - <<'EOF'
table inet pmtu_blackhole {
  chain input {
    type filter hook input priority 0; policy accept;
    icmp type destination-unreachable drop
    icmpv6 type packet-too-big drop
  }
}
EOF

office_config a "203.0.113.2:$PORT"
office_config b "203.0.113.1:$PORT"
start_gw a
start_gw b
wait_until "tunnel up on both gateways" "$START_BOUND" tunnel_up a b

xfer_data "$TRANSFER_KB"

# transfer DST BOUND: host-a sends XFER_DATA to host-b's DST within BOUND s.
transfer() { xfer "$NS_HA" "$NS_HB" "$1" "$2"; }

# both_ways LABEL: sha256-checked transfers host-a -> host-b and back, inner
# IPv4 and IPv6, each PASS or FAIL.
both_ways() {
  local label=$1 from to dst
  for dst in 198.18.2.2 2001:db8:b::2 198.18.1.2 2001:db8:a::2; do
    from=$NS_HA to=$NS_HB
    [[ $dst == *1.2 || $dst == *:a::2 ]] && from=$NS_HB to=$NS_HA
    if xfer "$from" "$to" "$dst" "$TRANSFER_BOUND"; then
      pass "$label: $from -> $dst: $TRANSFER_KB KiB arrived intact with mss-clamp: auto"
    else
      fail "$label: $from -> $dst: the transfer did not complete with mss-clamp: auto"
    fi
  done
}

# clamped_syns: gw-a's count of clamped SYNs from `sitelink show --json`.
clamped_syns() {
  timeout 10 "$SITELINK" show "$TUN_A" --json 2>/dev/null |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["interfaces"][0]["mss_clamped"] or 0)'
}

# reload SIDE LINE...: gw-SIDE's config rewritten with the interface LINEs,
# SIGHUP, and wait until its log shows the reload applied.
reload() {
  local side=$1 peer_ip
  shift
  peer_ip=$([[ $side == a ]] && echo 203.0.113.2 || echo 203.0.113.1)
  office_config "$side" "$peer_ip:$PORT" "$@"
  kill -HUP "${GW_PID[$side]}"
  wait_until "gw-$side's reload" "$RELOAD_BOUND" grep -q "mss-clamp auto -> off" "${GW_LOG[$side]}"
}

case_a() {
  both_ways a
  local n
  n=$(clamped_syns || echo "")
  if [[ -n $n ]] && ((n >= 2)); then
    pass "a: gw-a counts $n clamped SYNs"
  else
    fail "a: gw-a counts '${n}' clamped SYNs (want at least 2)"
  fi
}

case_b() {
  reload a "mss-clamp: off" || { fail "b: gw-a did not apply mss-clamp: off"; return; }
  reload b "mss-clamp: off" || { fail "b: gw-b did not apply mss-clamp: off"; return; }
  pass "b: both gateways reloaded with mss-clamp: off"
  check_ping b "$NS_HA" 198.18.2.2
  check_ping b "$NS_HA" 2001:db8:b::2
  local dst
  for dst in 198.18.2.2 2001:db8:b::2; do
    if transfer "$dst" "$HANG_BOUND"; then
      fail "b: host-a -> $dst completed with mss-clamp: off (the test cannot tell clamping from none)"
    else
      pass "b: host-a -> $dst did not complete within $HANG_BOUND s with mss-clamp: off (PMTU black hole)"
    fi
  done
}

# c. The same as a over an IPv6 underlay (fresh gateways, the default config).
case_c() {
  stop_gw_check b a
  stop_gw_check b b
  office_config a "[2001:db8:ffff::2]:$PORT"
  office_config b "[2001:db8:ffff::1]:$PORT"
  start_gw a
  start_gw b
  if wait_until "tunnel up over IPv6" "$START_BOUND" tunnel_up a b; then
    both_ways c
  else
    fail "c: the tunnel did not come up over the IPv6 underlay"
  fi
}

case_a
case_b
case_c
stop_gw_check end a
stop_gw_check end b
