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

# shellcheck source=tests/netns/lib.sh
source "$SCRIPT_DIR/lib.sh"
lib_init capture-wg-go slcap  # PREFIX: unique per run, at most 12 characters
# shellcheck source=tests/netns/topology.sh
source "$SCRIPT_DIR/topology.sh"
NS="$PREFIX"                # network namespace
IFACE="${PREFIX}i"          # wireguard-go tun interface (<= 15 characters)
RESPONDER_PORT=51820        # python listener, on the namespace's loopback
INITIATOR_PORT=51821        # wireguard-go listen port
TUN_ADDR=198.18.8.1/24      # initiator tunnel address
PEER_NET=198.18.9.0/24      # allowed-ips of the (fake) responder
PING_TARGET=198.18.9.1      # anything inside PEER_NET triggers a handshake

require_root
require_tools wireguard-go wg ip ping timeout python3

mkdir -p "$OUT_DIR"
OUT_DIR=$(cd "$OUT_DIR" && pwd)
umask 077
# wireguard-go removes its UAPI socket on SIGTERM; make sure of it.
on_cleanup rm -f "/var/run/wireguard/$IFACE.sock"

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
ns_add "$NS"

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
start_bg "$WORK_DIR/listener.log" ip netns exec "$NS" timeout 40 python3 "$WORK_DIR/listener.py" \
  "$RESPONDER_PORT" "$OUT_DIR/initiation.hex" "$OUT_DIR/captured_at.txt" "$WORK_DIR/listener.ready"
LISTENER_PID=$BG_PID
wait_until "UDP listener" 10 test -e "$WORK_DIR/listener.ready"

# --- initiator: wireguard-go ---------------------------------------------------
# In the foreground (-f; otherwise it forks a daemon child whose PID we would
# not know), LOG_LEVEL=verbose.
start_wireguard_go "$NS" "$IFACE" "$WORK_DIR/wireguard-go.log" verbose

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
  kill -0 "$LISTENER_PID" 2>/dev/null || break
  ip netns exec "$NS" timeout 5 ping -n -c 1 -W 2 "$PING_TARGET" >/dev/null 2>&1 || true
done

timeout 15 tail --pid="$LISTENER_PID" -f /dev/null || true
stop_pid "$LISTENER_PID"
cat "$WORK_DIR/listener.log" >&2
if ((STOP_RC != 0)) || [[ ! -s "$OUT_DIR/initiation.hex" ]]; then
  log "no initiation captured (listener exit status $STOP_RC)"
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

pass "captured wireguard-go's initiation; wrote $OUT_DIR: $(cd "$OUT_DIR" && echo *)"
