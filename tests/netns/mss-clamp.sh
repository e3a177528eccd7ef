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
#      `sitelink show --json` on gw-a counts clamped SYNs; tcpdump at host-b
#      shows host-a's SYNs with MSS 1380 (IPv4) and 1360 (IPv6).
#   b. gw-a and gw-b reloaded (SIGHUP) with `mss-clamp: off`: ping still
#      crosses the tunnel, but the same transfers do not complete within
#      HANG_BOUND seconds (the black hole the clamp prevents; proves case a
#      can fail).
#   c. fresh gateways with the default config over the IPv6 underlay: the
#      transfers of a again, both ways.
#
# Needs root, ip, ping, timeout, sysctl, nft, python3, sha256sum, tcpdump. Daemon logs
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
require_tools ip ping timeout sysctl nft python3 sha256sum tcpdump
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

# syn_mss FILE FAMILY: the MSS options of the SYNs from host-a in a
# tcpdump -v capture's text (FAMILY 4 or 6), one per line.
syn_mss() {
  local src=198.18.1.2
  [[ $2 == 6 ]] && src=2001:db8:a::2
  grep -E "[ )]${src//./\\.}\.[0-9]+ > " "$1" | grep -F "[S]," | grep -o 'mss [0-9]*' | awk '{print $2}' || true
}

case_a() {
  # What host-b sees of the SYNs: the clamped MSS (1420 - 40 / - 60).
  local cap="$WORK_DIR/host-b-syns.txt" dump
  start_bg "$cap" ip netns exec "$NS_HB" timeout 60 tcpdump -i "${PREFIX}bh" -nn -v -l -U \
    'tcp and dst portrange 5001-5100'
  dump=$BG_PID
  wait_until "tcpdump at host-b" 10 grep -q "listening on" "$cap" || fail "a: tcpdump at host-b did not start"
  both_ways a
  stop_pid "$dump" 2
  local v4 v6
  v4=$(syn_mss "$cap" 4 | sort -u | tr '\n' ' ') v6=$(syn_mss "$cap" 6 | sort -u | tr '\n' ' ')
  if [[ $v4 == "1380 " && $v6 == "1360 " ]]; then
    pass "a: tcpdump at host-b: host-a's SYNs arrive with MSS 1380 (IPv4) and 1360 (IPv6)"
  else
    fail "a: tcpdump at host-b: host-a's SYNs carry MSS '$v4' (IPv4, want 1380) and '$v6' (IPv6, want 1360)"
  fi
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
