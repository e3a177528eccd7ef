#!/usr/bin/env bash
# Cross-platform mode (SPEC.md: `sitelinkd [-f] IFACE`, as `wireguard-go
# IFACE`): two sitelinkd configured only with `wg`, their interfaces moved
# into other namespaces after creation; ping and iperf3 over IPv4 and IPv6;
# endpoint, listen-port and MTU changes; exit when the interface is deleted
# or the socket removed; and a wg-quick up/down cycle with
# WG_QUICK_USERSPACE_IMPLEMENTATION=sitelinkd.
#
#   ua (daemon A's home) --veth underlay-- ub (daemon B's home)
#   ia (A's TUN moved here)                ib (B's TUN moved here)
#
# Usage: xplatform.sh SITELINKD            (as root)
set -euo pipefail
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/netns/lib.sh
source "$SCRIPT_DIR/lib.sh"
lib_init xplatform slx
require_root
require_tools ip wg wg-quick ping iperf3

sitelinkd=$(readlink -f "${1:?usage: $0 SITELINKD}")
ua="${PREFIX}ua" ub="${PREFIX}ub" ia="${PREFIX}ia" ib="${PREFIX}ib"
xa="${PREFIX}a" xb="${PREFIX}b" xq="${PREFIX}q"
ns_add "$ua" "$ub" "$ia" "$ib"
veth_add "$ua" "${PREFIX}va" "$ub" "${PREFIX}vb"
ip -n "$ua" addr add 203.0.113.1/24 dev "${PREFIX}va"
ip -n "$ub" addr add 203.0.113.2/24 dev "${PREFIX}vb"
ip -n "$ua" addr add 2001:db8:ffff::1/64 dev "${PREFIX}va" nodad
ip -n "$ub" addr add 2001:db8:ffff::2/64 dev "${PREFIX}vb" nodad
on_cleanup rm -f "/run/wireguard/$xa.sock" "/run/wireguard/$xb.sock" "/run/wireguard/$xq.sock"

for n in a b q; do gen_key wg "$WORK_DIR" "$n"; done
pub_a=$(cat "$WORK_DIR/a.pub") pub_b=$(cat "$WORK_DIR/b.pub") pub_q=$(cat "$WORK_DIR/q.pub")

# --- start both in the foreground, as `wireguard-go -f` ----------------------------
start_bg "$WORK_DIR/a.log" ip netns exec "$ua" "$sitelinkd" -f "$xa"
pid_a=$BG_PID
start_bg "$WORK_DIR/b.log" ip netns exec "$ub" "$sitelinkd" -f "$xb"
pid_b=$BG_PID
wait_until "both sockets" 5 test -S "/run/wireguard/$xa.sock" -a -S "/run/wireguard/$xb.sock"

# Move each TUN out of the namespace its UDP socket lives in.
ip -n "$ua" link set "$xa" netns "$ia"
ip -n "$ub" link set "$xb" netns "$ib"

wg set "$xa" private-key "$WORK_DIR/a.key" listen-port 51820 \
  peer "$pub_b" endpoint 203.0.113.2:51821 allowed-ips 198.18.2.0/24,2001:db8:2::/64
wg set "$xb" private-key "$WORK_DIR/b.key" listen-port 51821 \
  peer "$pub_a" allowed-ips 198.18.1.0/24,2001:db8:1::/64
ip -n "$ia" addr add 198.18.1.1/24 dev "$xa"
ip -n "$ia" addr add 2001:db8:1::1/64 dev "$xa" nodad
ip -n "$ia" link set "$xa" up
ip -n "$ia" route add 198.18.2.0/24 dev "$xa"
ip -n "$ia" route add 2001:db8:2::/64 dev "$xa"
ip -n "$ib" addr add 198.18.2.1/24 dev "$xb"
ip -n "$ib" addr add 2001:db8:2::1/64 dev "$xb" nodad
ip -n "$ib" link set "$xb" up
ip -n "$ib" route add 198.18.1.0/24 dev "$xb"
ip -n "$ib" route add 2001:db8:1::/64 dev "$xb"

ping_ok() { ip netns exec "$1" ping -c 1 -W 1 "${@:2}" >/dev/null 2>&1; }

if wait_until "IPv4 ping" 10 ping_ok "$ia" 198.18.2.1; then pass "ping over IPv4 between moved interfaces"; else fail "IPv4 ping"; fi
if wait_until "IPv6 ping" 10 ping_ok "$ia" 2001:db8:2::1; then pass "ping over IPv6"; else fail "IPv6 ping"; fi
if wg show "$xa" latest-handshakes | awk '{exit !($2 > 0)}'; then pass "wg show reports the handshake"; else fail "wg show"; fi

# iperf3 both families, 2 s each, bounded.
start_bg "$WORK_DIR/iperf-server.log" ip netns exec "$ib" iperf3 -s
iperf_pid=$BG_PID
wait_until "iperf3 server" 5 ip netns exec "$ib" sh -c 'ss -ltn | grep -q ":5201 "'
for dst in 198.18.2.1 2001:db8:2::1; do
  if timeout 20 ip netns exec "$ia" iperf3 -c "$dst" -t 2 >"$WORK_DIR/iperf-$dst.log" 2>&1; then
    pass "iperf3 to $dst: $(grep -E 'receiver' "$WORK_DIR/iperf-$dst.log" | awk '{print $7, $8}')"
  else
    fail "iperf3 to $dst"
  fi
done
stop_pid "$iperf_pid"

# --- changes made with wg set and ip link -----------------------------------
wg set "$xa" peer "$pub_b" endpoint "[2001:db8:ffff::2]:51821"
if wait_until "ping after endpoint change" 10 ping_ok "$ia" 198.18.2.1 &&
  wg show "$xa" endpoints | grep -q "\[2001:db8:ffff::2\]:51821"; then
  pass "endpoint changed to the IPv6 underlay with wg set"
else
  fail "endpoint change"
fi
# The audit record of it (issue 18): an endpoint-changed event naming both
# addresses and the cause.
if wait_until "endpoint-changed event" 5 grep -q \
  "endpoint changed from 203\.0\.113\.2:51821 to \[2001:db8:ffff::2\]:51821 (configured)" "$WORK_DIR/a.log"; then
  pass "wg set endpoint is logged as an endpoint-changed event"
else
  fail "no endpoint-changed event for wg set endpoint: $(grep -i endpoint "$WORK_DIR/a.log" | tail -3)"
fi
wg set "$xb" listen-port 51999
wg set "$xa" peer "$pub_b" endpoint 203.0.113.2:51999
if wait_until "ping after listen-port change" 10 ping_ok "$ia" 198.18.2.1 &&
  [[ $(wg show "$xb" listen-port) == 51999 ]]; then
  pass "listen-port changed with wg set"
else
  fail "listen-port change"
fi
ip -n "$ia" link set "$xa" mtu 1300
ip -n "$ib" link set "$xb" mtu 1300
if wait_until "full-size ping at MTU 1300" 10 ping_ok "$ia" -M "do" -s 1272 198.18.2.1; then
  pass "MTU changed with ip link; a 1300-byte packet passes"
else
  fail "MTU change"
fi

# --- exit conditions ------------------------------------------------------------
ip -n "$ia" link del "$xa"
if wait_until "A to exit" 5 sh -c "! kill -0 $pid_a 2>/dev/null" && [[ ! -e /run/wireguard/$xa.sock ]]; then
  pass "deleting the interface stops the daemon and removes its socket"
else
  fail "daemon A still running after its interface was deleted"
fi
stop_pid "$pid_a" 1 || true

# --- wg-quick up/down, daemonized (no -f): B's peer is now Q ---------------------
wg set "$xb" peer "$pub_a" remove peer "$pub_q" allowed-ips 198.18.3.0/24
ip -n "$ib" route add 198.18.3.0/24 dev "$xb"
cat >"$WORK_DIR/$xq.conf" <<CONF
[Interface]
PrivateKey = $(cat "$WORK_DIR/q.key")
Address = 198.18.3.1/24
MTU = 1380

[Peer]
PublicKey = $pub_b
Endpoint = 203.0.113.2:51999
AllowedIPs = 198.18.2.0/24
CONF
chmod 600 "$WORK_DIR/$xq.conf"
# If a daemon of ours outlives the test, stop it (found by its unique name).
on_cleanup sh -c "pid=\$(pgrep -fxo '$sitelinkd $xq'); [ -n \"\$pid\" ] && kill \$pid; true"
if timeout 20 ip netns exec "$ua" env WG_QUICK_USERSPACE_IMPLEMENTATION="$sitelinkd" \
  wg-quick up "$WORK_DIR/$xq.conf" >"$WORK_DIR/wg-quick-up.log" 2>&1; then
  pass "wg-quick up with WG_QUICK_USERSPACE_IMPLEMENTATION=sitelinkd"
else
  fail "wg-quick up"
fi
if wait_until "ping through the wg-quick interface" 10 ping_ok "$ua" 198.18.2.1; then
  pass "traffic through the wg-quick interface"
else
  fail "no traffic through the wg-quick interface"
fi
if timeout 20 ip netns exec "$ua" wg-quick down "$WORK_DIR/$xq.conf" >"$WORK_DIR/wg-quick-down.log" 2>&1 &&
  wait_until "the wg-quick daemon to exit" 5 sh -c "! test -e /run/wireguard/$xq.sock"; then
  pass "wg-quick down removes the interface; the daemon exits"
else
  fail "wg-quick down"
fi

# --- removing the socket file stops a daemon too ----------------------------------
rm -f "/run/wireguard/$xb.sock"
if wait_until "B to exit" 5 sh -c "! kill -0 $pid_b 2>/dev/null" &&
  ! ip -n "$ib" link show "$xb" >/dev/null 2>&1; then
  pass "removing the socket stops the daemon and its interface goes"
else
  fail "daemon B still running after its socket was removed"
fi
