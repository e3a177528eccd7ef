#!/usr/bin/env bash
# Captures one real WireGuard handshake initiation (message type 1, 148 bytes)
# sent by Debian's wireguard-go, so that sitelink's unit tests can check that
# our responder consumes it.
#
# Usage: capture-wg-go-initiation.sh [OUTPUT_DIR]
#   OUTPUT_DIR defaults to <repo>/tests/data/wg_go_capture.
#
# Keys: if initiator.key, responder.key and psk already exist in OUTPUT_DIR
# they are reused (so regenerating keeps the same keys); otherwise they are
# generated with `wg genkey` / `wg genpsk`. The .pub files are always derived
# again from the private keys.
#
# Everything runs inside one fresh network namespace: wireguard-go (the
# initiator) has its UDP endpoint set to 127.0.0.1:PORT on that namespace's
# loopback, where a python3 listener stands in for the responder. No packet
# leaves the namespace. Needs root, wireguard-go, wg, ip, ping, timeout,
# python3.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT_DIR=${1:-"$SCRIPT_DIR/../data/wg_go_capture"}

PREFIX="slcap$$"            # unique per run; at most 12 characters
NS="$PREFIX"                # network namespace
IFACE="${PREFIX}i"          # wireguard-go tun interface (<= 15 characters)
RESPONDER_PORT=51820        # python listener, on the namespace's loopback
INITIATOR_PORT=51821        # wireguard-go listen port
TUN_ADDR=198.18.8.1/24      # initiator tunnel address
PEER_NET=198.18.9.0/24      # allowed-ips of the (fake) responder
PING_TARGET=198.18.9.1      # anything inside PEER_NET triggers a handshake

WG_PID=""
LISTENER_PID=""
NS_CREATED=0
WORK_DIR=""

log() { echo "capture-wg-go: $*" >&2; }

cleanup() {
  local rc=$?
  set +e
  for pid in "$LISTENER_PID" "$WG_PID"; do
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null
      for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
      done
      kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
      wait "$pid" 2>/dev/null
    fi
  done
  if ((NS_CREATED)); then
    ip netns del "$NS" 2>/dev/null
  fi
  # wireguard-go removes its UAPI socket on SIGTERM; make sure of it.
  rm -f "/var/run/wireguard/$IFACE.sock"
  if [[ -n "$WORK_DIR" && -d "$WORK_DIR" ]]; then
    if ((rc != 0)) && [[ -s "$WORK_DIR/wireguard-go.log" ]]; then
      log "wireguard-go log follows"
      sed 's/^/  | /' "$WORK_DIR/wireguard-go.log" >&2
    fi
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

pid_alive() { kill -0 "$1" 2>/dev/null; }

if [[ $(id -u) -ne 0 ]]; then
  log "must run as root (needs network namespaces and a tun device)"
  exit 1
fi
for tool in wireguard-go wg ip ping timeout python3; do
  command -v "$tool" >/dev/null || { log "missing tool: $tool"; exit 1; }
done

mkdir -p "$OUT_DIR"
OUT_DIR=$(cd "$OUT_DIR" && pwd)
WORK_DIR=$(mktemp -d "/tmp/${PREFIX}.XXXXXX")
umask 077

# --- keys -------------------------------------------------------------------
if [[ -s "$OUT_DIR/initiator.key" && -s "$OUT_DIR/responder.key" && -s "$OUT_DIR/psk" ]]; then
  log "reusing keys from $OUT_DIR"
else
  log "generating new keys in $OUT_DIR"
  wg genkey >"$OUT_DIR/initiator.key"
  wg genkey >"$OUT_DIR/responder.key"
  wg genpsk >"$OUT_DIR/psk"
fi
wg pubkey <"$OUT_DIR/initiator.key" >"$OUT_DIR/initiator.pub"
wg pubkey <"$OUT_DIR/responder.key" >"$OUT_DIR/responder.pub"
RESPONDER_PUB=$(cat "$OUT_DIR/responder.pub")

# Old capture results must not survive a failed run.
rm -f "$OUT_DIR/initiation.hex" "$OUT_DIR/captured_at.txt"

# --- namespace ----------------------------------------------------------------
ip netns add "$NS"
NS_CREATED=1
ip -n "$NS" link set lo up

# --- responder stand-in: python UDP listener ----------------------------------
cat >"$WORK_DIR/listener.py" <<'PY'
import os, socket, sys, time

port, out_hex, out_time, ready = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", port))
s.settimeout(30)
open(ready, "w").close()
data, addr = s.recvfrom(65535)
now = int(time.time())
if len(data) != 148 or data[0] != 1:
    sys.exit(f"listener: unexpected first datagram from {addr}: "
             f"{len(data)} bytes, type {data[0] if data else None}")
for path, text in ((out_hex, data.hex() + "\n"), (out_time, f"{now}\n")):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.rename(path + ".tmp", path)
print(f"listener: captured 148-byte initiation from {addr[0]}:{addr[1]}", file=sys.stderr)
PY
ip netns exec "$NS" timeout 40 python3 "$WORK_DIR/listener.py" \
  "$RESPONDER_PORT" "$OUT_DIR/initiation.hex" "$OUT_DIR/captured_at.txt" \
  "$WORK_DIR/listener.ready" &
LISTENER_PID=$!
wait_for "UDP listener" 10 test -e "$WORK_DIR/listener.ready"

# --- initiator: wireguard-go ---------------------------------------------------
# -f keeps wireguard-go in the foreground (otherwise it forks a daemon child
# whose PID we would not know); WG_PROCESS_FOREGROUND=1 additionally silences
# Debian's "kernel has WireGuard, you don't need this" banner. `ip netns exec`
# execs the command, so $! is wireguard-go's own PID.
ip netns exec "$NS" env WG_PROCESS_FOREGROUND=1 LOG_LEVEL=verbose \
  wireguard-go -f "$IFACE" >"$WORK_DIR/wireguard-go.log" 2>&1 &
WG_PID=$!
wait_for "wireguard-go UAPI socket" 10 \
  bash -c "test -S /var/run/wireguard/$IFACE.sock || ! kill -0 $WG_PID"
pid_alive "$WG_PID" || { log "wireguard-go exited early"; exit 1; }

ip netns exec "$NS" timeout 10 wg set "$IFACE" \
  private-key "$OUT_DIR/initiator.key" \
  listen-port "$INITIATOR_PORT" \
  peer "$RESPONDER_PUB" \
  preshared-key "$OUT_DIR/psk" \
  endpoint "127.0.0.1:$RESPONDER_PORT" \
  allowed-ips "$PEER_NET"
ip -n "$NS" addr add "$TUN_ADDR" dev "$IFACE"
ip -n "$NS" link set "$IFACE" up
# The peer network is not on-link for the tun address; route it into the tun.
ip -n "$NS" route add "$PEER_NET" dev "$IFACE"

# --- trigger the handshake -----------------------------------------------------
# Nobody answers, so ping fails; one initiation is all we need.
for _ in 1 2 3; do
  pid_alive "$LISTENER_PID" || break
  ip netns exec "$NS" timeout 5 ping -n -c 1 -W 2 "$PING_TARGET" >/dev/null 2>&1 || true
done

listener_rc=0
timeout 15 tail --pid="$LISTENER_PID" -f /dev/null || true
wait "$LISTENER_PID" || listener_rc=$?
LISTENER_PID=""
if ((listener_rc != 0)) || [[ ! -s "$OUT_DIR/initiation.hex" ]]; then
  log "no initiation captured (listener exit status $listener_rc)"
  exit 1
fi

# --- sanity check: mac1 must verify against the responder's public key ----------
python3 - "$OUT_DIR/initiation.hex" "$OUT_DIR/responder.pub" <<'PY'
import base64, hashlib, sys
msg = bytes.fromhex(open(sys.argv[1]).read().strip())
pub = base64.b64decode(open(sys.argv[2]).read().strip())
assert len(msg) == 148 and msg[:4] == b"\x01\0\0\0", "not a handshake initiation"
key = hashlib.blake2s(b"mac1----" + pub).digest()
mac1 = hashlib.blake2s(msg[:116], key=key, digest_size=16).digest()
assert mac1 == msg[116:132], "mac1 does not verify against responder.pub"
assert msg[132:148] == bytes(16), "mac2 is not zero"
print("capture-wg-go: mac1 verifies against responder.pub; mac2 is zero", file=sys.stderr)
PY

WG_VERSION=$(wireguard-go --version 2>/dev/null | head -n1 | sed 's/^wireguard-go //')
WG_DEB=$(dpkg-query -W -f='${Version}' wireguard-go 2>/dev/null || echo unknown)

cat >"$OUT_DIR/README.txt" <<EOF
Real WireGuard handshake initiation captured from wireguard-go
================================================================

Regenerate with: tests/netns/capture-wg-go-initiation.sh [OUTPUT_DIR]
(as root; existing keys in OUTPUT_DIR are reused, the capture is new).

Captured from wireguard-go ${WG_VERSION} (Debian package ${WG_DEB}).

Files (keys are base64, as printed by wg genkey / wg pubkey / wg genpsk):

  initiator.key  Curve25519 private key of the INITIATOR, i.e. wireguard-go.
  initiator.pub  Its public key; our responder must list it as a peer.
  responder.key  Curve25519 private key that OUR RESPONDER must use to
                 consume the capture.
  responder.pub  Its public key; wireguard-go was configured with it as the
                 peer's public key, so mac1 is keyed with it.
  psk            Preshared key; it WAS configured on wireguard-go's peer
                 (wg set ... preshared-key psk). In Noise_IKpsk2 it does not
                 enter the initiation itself; the responder must use it when
                 building the response and deriving the session keys.
  initiation.hex The first UDP datagram wireguard-go sent: one line of
                 lowercase hex, 148 bytes = 296 hex characters. Layout:
                   [0..4)     type 1, reserved 0 (01000000)
                   [4..8)     sender index (little endian, random)
                   [8..40)    unencrypted ephemeral public key
                   [40..88)   encrypted static key (32 + 16 tag)
                   [88..116)  encrypted timestamp (12 + 16 tag)
                   [116..132) mac1 = BLAKE2s-128(key = BLAKE2s-256("mac1----"
                              || responder.pub), bytes [0..116))
                   [132..148) mac2, all zero (no cookie was ever received)
  captured_at.txt Wall-clock time, unix seconds, at which the datagram was
                 received, on the same host clock wireguard-go used. The
                 initiation's own timestamp is TAI64N and is only visible
                 after decrypting the timestamp field; it should lie within
                 about a second of this value. wireguard-go encodes it as
                 12 big-endian bytes: seconds = 0x400000000000000a (2^62 + 10)
                 + unix seconds, then nanoseconds with the low 24 bits
                 cleared (whitened).

How it was produced: in a fresh network namespace, wireguard-go (-f, in the
foreground) ran as the initiator with initiator.key, listen-port
${INITIATOR_PORT}, tunnel address ${TUN_ADDR}, a route to ${PEER_NET} via the tun,
and a single peer (responder.pub, psk, endpoint 127.0.0.1:${RESPONDER_PORT},
allowed-ips ${PEER_NET}). A ping to
${PING_TARGET} made it send the initiation, which a python UDP listener on
127.0.0.1:${RESPONDER_PORT} in the same namespace recorded. Nothing answered, and no
packet left the namespace.
EOF
chmod 644 "$OUT_DIR"/*

log "wrote $OUT_DIR: $(cd "$OUT_DIR" && echo *)"
