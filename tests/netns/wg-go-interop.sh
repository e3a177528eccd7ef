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

PREFIX="slwg$$"             # unique per run; keeps interface names <= 15 chars
NS_A="${PREFIX}a"
NS_B="${PREFIX}b"
VETH_A="${PREFIX}va"
VETH_B="${PREFIX}vb"
IFACE="${PREFIX}wg"         # wireguard-go's tun in B
UNDERLAY_A=203.0.113.1
UNDERLAY_B=203.0.113.2
PORT_A=51820                # wg_interop_peer
PORT_B=51821                # wireguard-go
TUN_A=198.18.0.1
TUN_B=198.18.0.2

WG_PID=""
PEER_PID=""
NS_CREATED=()
WORK_DIR=""
FAILED=0

log() { echo "wg-go-interop: $*" >&2; }

# stop_pid PID: SIGTERM, wait up to 5 s, then SIGKILL; only our own children.
stop_pid() {
  local pid=$1
  [[ -n "$pid" ]] || return 0
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  fi
  wait "$pid" 2>/dev/null || true
}

show_logs() {
  local f
  for f in "$WORK_DIR"/wireguard-go-*.log "$WORK_DIR"/peer-*.log "$WORK_DIR"/ping.log; do
    [[ -s "$f" ]] || continue
    log "--- $(basename "$f") ---"
    sed 's/^/  | /' "$f" >&2
  done
}

cleanup() {
  local rc=$?
  set +e
  stop_pid "$PEER_PID"
  stop_pid "$WG_PID"
  local ns
  for ns in "${NS_CREATED[@]}"; do ip netns del "$ns" 2>/dev/null; done
  # wireguard-go removes its UAPI socket on SIGTERM; make sure of it.
  rm -f "/var/run/wireguard/$IFACE.sock"
  if [[ -n "$WORK_DIR" && -d "$WORK_DIR" ]]; then
    ((rc != 0 || ${WG_INTEROP_VERBOSE:-0})) && show_logs
    rm -rf "$WORK_DIR"
  fi
  exit "$rc"
}
trap cleanup EXIT

# wait_for DESCRIPTION SECONDS COMMAND...: poll until COMMAND succeeds.
wait_for() {
  local what=$1 secs=$2
  shift 2
  local deadline=$((SECONDS + secs))
  until "$@"; do
    if ((SECONDS >= deadline)); then
      log "timed out after ${secs}s waiting for $what"
      return 1
    fi
    sleep 0.1
  done
}

pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; FAILED=1; }

# --- preconditions -----------------------------------------------------------------
if [[ $(id -u) -ne 0 ]]; then
  log "must run as root (needs network namespaces and a tun device)"
  exit 1
fi
for tool in wireguard-go wg ip ping timeout; do
  command -v "$tool" >/dev/null || { log "missing tool: $tool"; exit 1; }
done
[[ -x "$PEER_BIN" ]] || { log "not executable: $PEER_BIN (build target wg_interop_peer)"; exit 1; }
PEER_BIN=$(cd "$(dirname "$PEER_BIN")" && pwd)/$(basename "$PEER_BIN")

WORK_DIR=$(mktemp -d "/tmp/${PREFIX}.XXXXXX")
chmod 700 "$WORK_DIR"

# --- topology ------------------------------------------------------------------------
ip netns add "$NS_A"
NS_CREATED+=("$NS_A")
ip netns add "$NS_B"
NS_CREATED+=("$NS_B")
ip -n "$NS_A" link set lo up
ip -n "$NS_B" link set lo up
ip -n "$NS_A" link add "$VETH_A" type veth peer name "$VETH_B" netns "$NS_B"
ip -n "$NS_A" addr add "$UNDERLAY_A/24" dev "$VETH_A"
ip -n "$NS_B" addr add "$UNDERLAY_B/24" dev "$VETH_B"
ip -n "$NS_A" link set "$VETH_A" up
ip -n "$NS_B" link set "$VETH_B" up
wait_for "underlay connectivity" 10 \
  ip netns exec "$NS_A" ping -n -c 1 -W 1 "$UNDERLAY_B" >/dev/null

# --- keys ------------------------------------------------------------------------------
# new_keys TAG: fresh key files for one test, readable only by root.
new_keys() {
  local d="$WORK_DIR/keys-$1"
  (umask 077 && mkdir "$d" && wg genkey >"$d/ours.key" && wg genkey >"$d/wg.key" && wg genpsk >"$d/psk")
  chmod 600 "$d"/*
  wg pubkey <"$d/ours.key" >"$d/ours.pub"
  wg pubkey <"$d/wg.key" >"$d/wg.pub"
  KEYS=$d
}

# --- wireguard-go ----------------------------------------------------------------------
# start_wg_go TAG [ENDPOINT]: wireguard-go in B with our public key as its one
# peer. -f keeps it in the foreground (so $! is its PID: `ip netns exec`
# execs); WG_PROCESS_FOREGROUND=1 silences Debian's kernel-module banner.
start_wg_go() {
  local tag=$1 endpoint=${2:-}
  ip netns exec "$NS_B" env WG_PROCESS_FOREGROUND=1 LOG_LEVEL=verbose \
    wireguard-go -f "$IFACE" >"$WORK_DIR/wireguard-go-$tag.log" 2>&1 &
  WG_PID=$!
  wait_for "wireguard-go UAPI socket" 10 \
    bash -c "test -S /var/run/wireguard/$IFACE.sock || ! kill -0 $WG_PID"
  kill -0 "$WG_PID" 2>/dev/null || { log "wireguard-go exited early"; return 1; }
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
  rm -f "/var/run/wireguard/$IFACE.sock"
  wait_for "tun removal" 10 bash -c "! ip -n $NS_B link show $IFACE >/dev/null 2>&1"
}

# start_peer TAG ARGS...: wg_interop_peer in A, in the background.
start_peer() {
  local tag=$1
  shift
  ip netns exec "$NS_A" "$PEER_BIN" \
    --private-key-file "$KEYS/ours.key" --peer-public-key "$(cat "$KEYS/wg.pub")" \
    --psk-file "$KEYS/psk" --endpoint "$UNDERLAY_B:$PORT_B" --listen-port "$PORT_A" \
    --tunnel-src "$TUN_A" --tunnel-dst "$TUN_B" "$@" >"$WORK_DIR/peer-$tag.log" 2>&1 &
  PEER_PID=$!
}

# wait_peer: the exit status of wg_interop_peer (which bounds itself with
# --timeout-ms; `timeout` here is only a backstop).
wait_peer() {
  local rc=0
  timeout 30 tail --pid="$PEER_PID" -f /dev/null || true
  if kill -0 "$PEER_PID" 2>/dev/null; then
    log "wg_interop_peer did not exit"
    stop_pid "$PEER_PID"
    PEER_PID=""
    return 1
  fi
  wait "$PEER_PID" || rc=$?
  PEER_PID=""
  return "$rc"
}

# wg_field FIELD COLUMN: one column of `wg show IFACE FIELD` for our key.
wg_field() {
  ip netns exec "$NS_B" timeout 10 wg show "$IFACE" "$1" |
    awk -v k="$(cat "$KEYS/ours.pub")" -v c="$2" '$1 == k { print $c }' || true
}

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
  hs=$(wg_field latest-handshakes 2)
  rx=$(wg_field transfer 2)
  tx=$(wg_field transfer 3)
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
  if ! wait_for "wg_interop_peer to start" 10 grep -qs "local public key" "$WORK_DIR/peer-2.log"; then
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

if ((FAILED)); then
  log "logs follow"
  exit 1
fi
echo "PASS: wg-go-interop (wireguard-go $(wireguard-go --version 2>/dev/null | head -n1 | awk '{print $2}'))"
