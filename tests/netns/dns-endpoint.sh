#!/usr/bin/env bash
# A peer endpoint given as a DNS name is resolved at start, and looked up
# again when handshakes to it keep failing, so a gateway whose dynamic DNS
# name moves to a new address is found again.
#
#   ns A (sitelinkd, endpoint gw-b.sitelink.test) --veth-- ns B (sitelinkd)
#
# Name resolution inside A comes from /etc/netns/<A>/hosts, which
# `ip netns exec` mounts over /etc/hosts for A only.
#
# With `list`, A has `endpoints: [gw-b.sitelink.test:PORT]` instead, and the
# name has two addresses, the first of which nobody answers: the entry
# stands for both, A moves on to the one that answers, and the same move of
# B to a new address is found again.
#
# Usage: dns-endpoint.sh SITELINKD SITELINK [list]      (as root)
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/netns/lib.sh
source "$SCRIPT_DIR/lib.sh"
lib_init dns-endpoint sldns
# shellcheck source=tests/netns/topology.sh
source "$SCRIPT_DIR/topology.sh"

require_root
require_tools ip ping timeout
require_tun
sitelink_binaries "${1:?usage: $0 SITELINKD SITELINK [list]}" "${2:?usage: $0 SITELINKD SITELINK [list]}"
MODE=${3:-single}

P=$PREFIX
NS_A="${P}a" NS_B="${P}b"
GW_NS=([a]=$NS_A [b]=$NS_B)
on_cleanup rm -f "/run/wireguard/${P}a0.sock" "/run/wireguard/${P}b0.sock"
underlay_pair "$NS_A" "${P}va" "$NS_B" "${P}vb"

on_cleanup rm -rf "/etc/netns/$NS_A"
mkdir -p "/etc/netns/$NS_A"
names() {  # the hosts file: in list mode a dead address first
  if [[ $MODE == list ]]; then
    printf '203.0.113.9 gw-b.sitelink.test\n%s gw-b.sitelink.test\n' "$1"
  else
    printf '%s gw-b.sitelink.test\n' "$1"
  fi
}
names 203.0.113.2 >"/etc/netns/$NS_A/hosts"
if [[ $MODE == list ]]; then
  PEER_ENDPOINT="endpoints: [\"gw-b.sitelink.test:$PORT\"]"
else
  PEER_ENDPOINT="endpoint: gw-b.sitelink.test:$PORT"
fi

gw_keys a b
{
  yaml_interface "${P}a0" "$WORK_DIR/gw-a.key" "address: [198.18.0.1/24]"
  echo "peers:"
  yaml_peer office-b "$WORK_DIR/gw-b.pub" "$PEER_ENDPOINT" "allowed-ips: [198.18.2.0/24]"
} >"$WORK_DIR/gw-a.yaml"
{
  yaml_interface "${P}b0" "$WORK_DIR/gw-b.key" "address: [198.18.2.1/24]"
  echo "peers:"
  yaml_peer office-a "$WORK_DIR/gw-a.pub" "allowed-ips: [198.18.0.0/24]"
} >"$WORK_DIR/gw-b.yaml"

launch_gw a debug
launch_gw b debug

if wait_until "A to reach B" 10 ping_once "$NS_A" 198.18.2.1; then
  pass "the name resolved at start-up: A reaches B"
  if [[ $MODE == list ]]; then
    json=$(ip netns exec "$NS_A" "$SITELINK" show --json "${P}a0")
    # (The resolver orders the two addresses as RFC 6724 says.)
    entries=$(python3 -c 'import json,sys; p=json.load(sys.stdin)["interfaces"][0]["peers"][0]; e=p["endpoints"]; print(len(e), " ".join(x["endpoint"] for x in e), "| in use:", e[p["active_endpoint"]]["endpoint"] if p["active_endpoint"] is not None else None)' <<<"$json")
    if [[ $entries == "2 "*"(203.0.113.9:$PORT)"* && $entries == *"(203.0.113.2:$PORT)"* && $entries == *"in use: "*"(203.0.113.2:$PORT)" ]]; then
      pass "the one entry stands for both addresses of the name, and the one that answers is in use: $entries"
    else
      fail "endpoint entries after start-up: $entries"
    fi
  fi
else
  fail "A does not reach B through gw-b.sitelink.test"
fi

# B restarts at a new address and its DNS name follows. B's config has no
# endpoint for A, so only A can re-establish the tunnel: A's session still
# points at the old address until its handshakes fail and it looks again.
stop_gw b
# (Delete first: removing a primary address also removes the secondaries
# of its subnet.)
ip -n "$NS_B" addr del 203.0.113.2/24 dev "${P}vb"
ip -n "$NS_B" addr add 203.0.113.3/24 dev "${P}vb"
launch_gw b debug
names 203.0.113.3 >"/etc/netns/$NS_A/hosts"
start=$SECONDS
# Traffic keeps flowing from A, so A notices that nothing comes back.
if wait_until "A to reach B at its new address" 90 ping_once "$NS_A" 198.18.2.1; then
  pass "after the move A reaches B again ($((SECONDS - start)) s)"
  # The move is an endpoint-changed audit event naming both addresses and
  # the name that answered anew (a list starts again from its first entry,
  # which may be the dead address: the next event is then the failover).
  moved_to='203\.0\.113\.3'
  [[ $MODE != list ]] || moved_to='203\.0\.113\.[39]'
  if grep -qE "endpoint changed from 203\.0\.113\.2:$PORT to $moved_to:$PORT \(gw-b\.sitelink\.test " \
    "${GW_LOG[a]}"; then
    pass "A logged the move as an endpoint-changed event"
  else
    fail "A did not log the move: $(grep -i 'resolve\|endpoint' "${GW_LOG[a]}" | tail -3)"
  fi
  # The DNS thread started late (with the first lookup after start-up):
  # it too must hold nothing but CAP_NET_ADMIN.
  bad=$(threads_beyond_net_admin "${GW_PID[a]}")
  net=$(network_pid "${GW_PID[a]}")
  dns=$(cat /proc/"$net"/task/*/comm 2>/dev/null | grep -cx sitelink-dns || true)
  if [[ -z $bad && $dns == 1 ]]; then
    pass "every thread of A, the DNS one (sitelink-dns) included, holds CAP_NET_ADMIN alone"
  else
    fail "threads of A with other capabilities: ${bad//$'\n'/ }; DNS threads: $dns"
  fi
else
  fail "A never found B at its new address"
fi
