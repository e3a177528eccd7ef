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
# Usage: dns-endpoint.sh SITELINKD SITELINK      (as root)
set -euo pipefail

sitelinkd=${1:?usage: $0 SITELINKD SITELINK}
sitelink=${2:?usage: $0 SITELINKD SITELINK}
p="sldns$$"
a="${p}a" b="${p}b"
work=$(mktemp -d)
pids=()
failed=0

cleanup() {
  set +e
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do timeout 5 tail --pid="$pid" -f /dev/null 2>/dev/null; done
  ip netns del "$a" 2>/dev/null
  ip netns del "$b" 2>/dev/null
  rm -rf "/etc/netns/$a" "$work"
}
trap cleanup EXIT

pass() { echo "PASS: $*"; }
fail() {
  echo "FAIL: $*"
  failed=1
  for f in "$work"/*.log; do echo "--- $f"; cat "$f"; done
}
# wait_for SECONDS CMD...: runs CMD every 0.5 s until it succeeds.
wait_for() {
  local limit=$1
  shift
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.5
  done
}

ip netns add "$a"
ip netns add "$b"
ip link add "${p}va" netns "$a" type veth peer name "${p}vb" netns "$b"
ip -n "$a" addr add 203.0.113.1/24 dev "${p}va"
ip -n "$b" addr add 203.0.113.2/24 dev "${p}vb"
for ns in "$a" "$b"; do ip -n "$ns" link set lo up; done
ip -n "$a" link set "${p}va" up
ip -n "$b" link set "${p}vb" up

mkdir -p "/etc/netns/$a"
echo "203.0.113.2 gw-b.sitelink.test" >"/etc/netns/$a/hosts"

(umask 077 && "$sitelink" genkey >"$work/a.key" && "$sitelink" genkey >"$work/b.key")
pub_a=$("$sitelink" pubkey <"$work/a.key")
pub_b=$("$sitelink" pubkey <"$work/b.key")

cat >"$work/a.yaml" <<YAML
interface:
  name: ${p}a0
  private-key-file: $work/a.key
  address: [198.18.0.1/24]
peers:
  - name: office-b
    public-key: $pub_b
    endpoint: gw-b.sitelink.test:51820
    allowed-ips: [198.18.2.0/24]
YAML
cat >"$work/b.yaml" <<YAML
interface:
  name: ${p}b0
  private-key-file: $work/b.key
  address: [198.18.2.1/24]
peers:
  - name: office-a
    public-key: $pub_a
    allowed-ips: [198.18.0.0/24]
YAML

ip netns exec "$a" "$sitelinkd" --config "$work/a.yaml" --log-level debug >"$work/a.log" 2>&1 &
pids+=($!)
ip netns exec "$b" "$sitelinkd" --config "$work/b.yaml" --log-level debug >"$work/b.log" 2>&1 &
pids+=($!)

if wait_for 10 ip netns exec "$a" ping -c 1 -W 1 198.18.2.1; then
  pass "the name resolved at start-up: A reaches B"
else
  fail "A does not reach B through gw-b.sitelink.test"
fi

# B restarts at a new address and its DNS name follows. B's config has no
# endpoint for A, so only A can re-establish the tunnel: A's session still
# points at the old address until its handshakes fail and it looks again.
kill "${pids[1]}"
timeout 5 tail --pid="${pids[1]}" -f /dev/null
# (Delete first: removing a primary address also removes the secondaries
# of its subnet.)
ip -n "$b" addr del 203.0.113.2/24 dev "${p}vb"
ip -n "$b" addr add 203.0.113.3/24 dev "${p}vb"
ip netns exec "$b" "$sitelinkd" --config "$work/b.yaml" --log-level debug >"$work/b2.log" 2>&1 &
pids+=($!)
echo "203.0.113.3 gw-b.sitelink.test" >"/etc/netns/$a/hosts"
start=$SECONDS
# Traffic keeps flowing from A, so A notices that nothing comes back.
if wait_for 90 ip netns exec "$a" ping -c 1 -W 1 198.18.2.1; then
  pass "after the move A reaches B again ($((SECONDS - start)) s)"
  grep -q "now resolves to 203.0.113.3:51820" "$work/a.log" && pass "A logged the new address" ||
    fail "A did not log the new address"
else
  fail "A never found B at its new address"
fi

exit "$failed"
