#!/usr/bin/env bash
# Interoperability test: sitelink's protocol core (driven by the test program
# wg_interop_peer) against Debian's wireguard-go, over real UDP between two
# network namespaces.
#
# Usage: wg-go-interop.sh [PATH_TO_wg_interop_peer]
#   default: <repo>/build/tests/interop/wg_interop_peer
#
# Topology (everything is created fresh and removed on exit):
#
#   namespace A (${PREFIX}a)            namespace B (${PREFIX}b)
#   wg_interop_peer                     wireguard-go, tun ${PREFIX}wg
#   203.0.113.1 udp/$PORT_A  <-veth->   203.0.113.2 udp/$PORT_B
#   tunnel address 198.18.0.1           tunnel address 198.18.0.2/24
#
# Test 1: we initiate. Our ICMP echo request to 198.18.0.2 goes through our
#   handshake and transport encryption; wireguard-go decrypts it, B's kernel
#   answers, and the reply must come back through wireguard-go to us.
# Test 2: wireguard-go initiates (fresh wireguard-go and keys). `ping` in B
#   to 198.18.0.1 makes wireguard-go hand shake with us; we answer the echo
#   request and ping must succeed.
#
# Needs root, wireguard-go, wg, ip, ping, timeout. Logs (wireguard-go at
# LOG_LEVEL=verbose, wg_interop_peer, ping) are printed on failure, or always
# with WG_INTEROP_VERBOSE=1.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PEER_BIN=${1:-"$SCRIPT_DIR/../../build/tests/interop/wg_interop_peer"}

# shellcheck source=tests/netns/lib.sh
source "$SCRIPT_DIR/lib.sh"
lib_init wg-go-interop slwg   # PREFIX: unique per run, short enough for interface names
NETNS_VERBOSE=${NETNS_VERBOSE:-${WG_INTEROP_VERBOSE:-0}}
# shellcheck source=tests/netns/topology.sh
source "$SCRIPT_DIR/topology.sh"

NS_A="${PREFIX}a"
NS_B="${PREFIX}b"
IFACE="${PREFIX}wg"         # wireguard-go's tun in B
UNDERLAY_A=203.0.113.1
UNDERLAY_B=203.0.113.2
PORT_A=51820                # wg_interop_peer
PORT_B=51821                # wireguard-go
TUN_A=198.18.0.1
TUN_B=198.18.0.2
WG_SOCK="/var/run/wireguard/$IFACE.sock"

WG_PID=""
PEER_PID=""

# --- preconditions -----------------------------------------------------------------
require_root
require_tools wireguard-go wg ip ping timeout
require_exec PEER_BIN

# --- topology ------------------------------------------------------------------------
underlay_pair "$NS_A" "${PREFIX}va" "$NS_B" "${PREFIX}vb"
# wireguard-go removes its UAPI socket on SIGTERM; make sure of it.
on_cleanup rm -f "$WG_SOCK"

# --- keys ------------------------------------------------------------------------------
# new_keys TAG: fresh key files for one test, readable only by root.
new_keys() {
  KEYS="$WORK_DIR/keys-$1"
  mkdir -m 700 "$KEYS"
  gen_key wg "$KEYS" ours
  gen_key wg "$KEYS" wg
  gen_psk wg "$KEYS/psk"
}

# --- wireguard-go ----------------------------------------------------------------------
# start_wg_go TAG [ENDPOINT]: wireguard-go in B with our public key as its one
# peer (LOG_LEVEL=verbose).
start_wg_go() {
  local tag=$1 endpoint=${2:-}
  start_wireguard_go "$NS_B" "$IFACE" "$WORK_DIR/wireguard-go-$tag.log" verbose || return 1
  local args=(private-key "$KEYS/wg.key" listen-port "$PORT_B"
    peer "$(cat "$KEYS/ours.pub")" preshared-key "$KEYS/psk" allowed-ips "$TUN_A/32")
  [[ -n "$endpoint" ]] && args+=(endpoint "$endpoint")
  ip netns exec "$NS_B" timeout 10 wg set "$IFACE" "${args[@]}"
  ip -n "$NS_B" addr add "$TUN_B/24" dev "$IFACE"
  ip -n "$NS_B" link set "$IFACE" up
}

stop_wg_go() {
  stop_pid "$WG_PID"
  WG_PID=""
  rm -f "$WG_SOCK"
  wait_until "tun removal" 10 bash -c "! ip -n $NS_B link show $IFACE >/dev/null 2>&1"
}

# start_peer TAG ARGS...: wg_interop_peer in A, in the background.
start_peer() {
  local tag=$1
  shift
  start_bg "$WORK_DIR/peer-$tag.log" ip netns exec "$NS_A" "$PEER_BIN" \
    --private-key-file "$KEYS/ours.key" --peer-public-key "$(cat "$KEYS/wg.pub")" \
    --psk-file "$KEYS/psk" --endpoint "$UNDERLAY_B:$PORT_B" --listen-port "$PORT_A" \
    --tunnel-src "$TUN_A" --tunnel-dst "$TUN_B" "$@"
  PEER_PID=$BG_PID
}

# wait_peer: the exit status of wg_interop_peer (which bounds itself with
# --timeout-ms; `timeout` here is only a backstop).
wait_peer() {
  timeout 30 tail --pid="$PEER_PID" -f /dev/null || true
  if kill -0 "$PEER_PID" 2>/dev/null; then
    log "wg_interop_peer did not exit"
    stop_pid "$PEER_PID"
    PEER_PID=""
    return 1
  fi
  _lib_reap "$PEER_PID"
  PEER_PID=""
  return "$STOP_RC"
}

# wg_col FIELD COLUMN: one column of `wg show IFACE FIELD` for our key.
wg_col() { wg_field "$NS_B" "$IFACE" "$1" "$(cat "$KEYS/ours.pub")" "$2"; }

# --- test 1: we initiate -----------------------------------------------------------------
test_we_initiate() {
  new_keys 1
  start_wg_go 1
  start_peer 1 --timeout-ms 8000
  if wait_peer; then
    pass "test 1: wireguard-go accepted our initiation; echo reply came back through the tunnel"
  else
    fail "test 1: wg_interop_peer (initiator) failed"
  fi
  local hs rx tx
  hs=$(wg_col latest-handshakes 2)
  rx=$(wg_col transfer 2)
  tx=$(wg_col transfer 3)
  if [[ "${hs:-0}" =~ ^[0-9]+$ ]] && ((hs > 0)); then
    pass "test 1: wireguard-go latest-handshake for our key: $hs"
  else
    fail "test 1: wireguard-go shows no handshake for our key (${hs:-none})"
  fi
  if [[ "${rx:-0}" =~ ^[0-9]+$ && "${tx:-0}" =~ ^[0-9]+$ ]] && ((rx > 0 && tx > 0)); then
    pass "test 1: wireguard-go transfer rx $rx bytes, tx $tx bytes"
  else
    fail "test 1: wireguard-go transfer not non-zero (rx ${rx:-none}, tx ${tx:-none})"
  fi
  stop_wg_go
}

# --- test 2: wireguard-go initiates ------------------------------------------------------------
test_wg_go_initiates() {
  new_keys 2
  start_wg_go 2 "$UNDERLAY_A:$PORT_A"
  start_peer 2 --respond --timeout-ms 10000
  # It logs its public key once its socket is bound.
  if ! wait_until "wg_interop_peer to start" 10 grep -qs "local public key" "$WORK_DIR/peer-2.log"; then
    fail "test 2: wg_interop_peer (responder) did not start"
    stop_wg_go
    return
  fi
  local ping_rc=0
  ip netns exec "$NS_B" timeout 15 ping -n -c 1 -W 5 "$TUN_A" >"$WORK_DIR/ping.log" 2>&1 || ping_rc=$?
  if ((ping_rc == 0)); then
    pass "test 2: ping from wireguard-go's side through the tunnel succeeded"
  else
    fail "test 2: ping through wireguard-go failed (exit $ping_rc): $(tr '\n' ' ' <"$WORK_DIR/ping.log")"
  fi
  if wait_peer; then
    pass "test 2: we accepted wireguard-go's initiation and answered the echo request"
  else
    fail "test 2: wg_interop_peer (responder) failed"
  fi
  stop_wg_go
}

test_we_initiate
test_wg_go_initiates

((FAILED)) || pass "wg-go-interop (wireguard-go $(wireguard-go --version 2>/dev/null | head -n1 | awk '{print $2}'))"
