#!/usr/bin/env bash
# Interoperability of the real gateway, `sitelinkd --config`, with Debian's
# wireguard-go (configured with `wg` and `ip`), over real UDP between two
# network namespaces, with real TUN devices and real ping.
#
# Usage: sitelinkd-wg-go.sh [SITELINKD [SITELINK]]
#   defaults: <repo>/build/daemon/sitelinkd and <repo>/build/daemon/sitelink
#
#   namespace ${P}s                         namespace ${P}w
#   sitelinkd, TUN ${P}st                   wireguard-go -f ${P}wg
#   198.18.0.1/32, 2001:db8::1/128          198.18.0.2/32, 2001:db8::2/128
#   (routes from allowed-ips)               (routes added with ip route)
#   ${P}vs 203.0.113.1/24 udp/51820 <-veth-> ${P}vw 203.0.113.2/24 udp/51821
#
# Every case starts both sides afresh with new keys (sitelink genkey for
# sitelinkd, wg genkey for wireguard-go: the two key formats must agree).
#   a. sitelinkd initiates: it alone has an endpoint, and hands shake at
#      start-up; wireguard-go shows the handshake before any traffic, then
#      ping both ways, IPv4 and IPv6.
#   b. wireguard-go initiates, with a preshared key on both sides: sitelinkd
#      has no endpoint for it; the first ping is from wireguard-go's side;
#      sitelinkd learns the endpoint from the initiation; then ping both ways.
#   c. rekey: sitelinkd with rekey-after-time: 5 (and the only side with an
#      endpoint, so it is the initiator and the one that rekeys) while ping
#      runs every 0.2 s for 13 s. Accepted loss: 0 packets. The new keypair
#      is used for sending only after the response confirms it, and both
#      sides keep the previous keypair for receiving, so a rekey needs to
#      lose nothing; on a quiet veth any loss is a bug. wireguard-go's
#      `wg show latest-handshakes` must advance and it must have answered at
#      least 2 more initiations during the run (rekeys at about 5 s and 10 s).
#
# Needs root, wireguard-go, wg, ip, ping, timeout. Logs (sitelinkd at debug,
# wireguard-go at LOG_LEVEL=verbose) are printed on failure, or always with
# NETNS_VERBOSE=1.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SITELINKD=${1:-"$SCRIPT_DIR/../../build/daemon/sitelinkd"}
SITELINK=${2:-"$(dirname "$SITELINKD")/sitelink"}

# shellcheck source=tests/netns/lib.sh
source "$SCRIPT_DIR/lib.sh"
lib_init sitelinkd-wg-go slw

P=$PREFIX
NS_S="${P}s" NS_W="${P}w"
TUN_S="${P}st" WG_IF="${P}wg"
UNDERLAY_S=203.0.113.1 UNDERLAY_W=203.0.113.2
PORT_S=51820 PORT_W=51821
WG_SOCK="/var/run/wireguard/$WG_IF.sock"
START_BOUND=10
REKEY_AFTER=5
REKEY_PINGS=65     # at -i 0.2: 13 s

SL_PID="" WG_PID="" SL_LOG="" WG_LOG="" KEYS=""

require_root
require_tools wireguard-go wg ip ping timeout
[[ -c /dev/net/tun ]] || { log "no /dev/net/tun"; exit 1; }
for b in "$SITELINKD" "$SITELINK"; do
  [[ -x "$b" ]] || { log "not executable: $b (build targets sitelinkd and sitelink)"; exit 1; }
done
SITELINKD=$(cd "$(dirname "$SITELINKD")" && pwd)/$(basename "$SITELINKD")
SITELINK=$(cd "$(dirname "$SITELINK")" && pwd)/$(basename "$SITELINK")

# --- topology ------------------------------------------------------------------------
ns_add "$NS_S" "$NS_W"
veth_add "$NS_S" "${P}vs" "$NS_W" "${P}vw"
ip -n "$NS_S" addr add "$UNDERLAY_S/24" dev "${P}vs"
ip -n "$NS_W" addr add "$UNDERLAY_W/24" dev "${P}vw"
# wireguard-go and sitelinkd remove their sockets when they exit; this is
# for a crash or a failed run.
on_cleanup rm -f "$WG_SOCK" "/run/wireguard/$TUN_S.sock"
ping_once() { ip netns exec "$1" timeout 5 ping -n -q -c 1 -W 1 "$2" >/dev/null 2>&1; }
wait_until "underlay connectivity" 10 ping_once "$NS_S" "$UNDERLAY_W"

# new_keys TAG [psk]: fresh keys for one case.
new_keys() {
  KEYS="$WORK_DIR/keys-$1"
  mkdir -m 700 "$KEYS"
  gen_key "$SITELINK" "$KEYS" sl
  gen_key wg "$KEYS" wg
  rm -f "$KEYS/psk"
  if [[ ${2:-} == psk ]]; then
    (umask 077 && "$SITELINK" genpsk >"$KEYS/psk")
    chmod 600 "$KEYS/psk"
  fi
}

# start_wg_go TAG [ENDPOINT]: wireguard-go in the foreground (so the PID is
# its own), configured with wg set and ip.
start_wg_go() {
  local tag=$1 endpoint=${2:-}
  WG_LOG="$WORK_DIR/wireguard-go-$tag.log"
  start_bg "$WG_LOG" ip netns exec "$NS_W" env WG_PROCESS_FOREGROUND=1 LOG_LEVEL=verbose wireguard-go -f "$WG_IF"
  WG_PID=$BG_PID
  wait_until "wireguard-go's UAPI socket" 10 bash -c "test -S '$WG_SOCK' || ! kill -0 $WG_PID 2>/dev/null"
  kill -0 "$WG_PID" 2>/dev/null || { log "wireguard-go exited early"; return 1; }
  local args=(private-key "$KEYS/wg.key" listen-port "$PORT_W"
    peer "$(cat "$KEYS/sl.pub")" allowed-ips "198.18.0.1/32,2001:db8::1/128")
  [[ -f "$KEYS/psk" ]] && args+=(preshared-key "$KEYS/psk")
  [[ -n "$endpoint" ]] && args+=(endpoint "$endpoint")
  ip netns exec "$NS_W" timeout 10 wg set "$WG_IF" "${args[@]}"
  ip -n "$NS_W" addr add 198.18.0.2/32 dev "$WG_IF"
  ip -n "$NS_W" addr add 2001:db8::2/128 dev "$WG_IF" nodad
  ip -n "$NS_W" link set "$WG_IF" up
  ip -n "$NS_W" route add 198.18.0.1/32 dev "$WG_IF"
  ip -n "$NS_W" route add 2001:db8::1/128 dev "$WG_IF"
}

# start_sitelinkd TAG [ENDPOINT] [REKEY_AFTER_TIME]
start_sitelinkd() {
  local tag=$1 endpoint=${2:-} rekey=${3:-}
  local cfg="$WORK_DIR/sitelinkd-$tag.yaml"
  {
    echo "interface:"
    echo "  name: $TUN_S"
    echo "  private-key-file: $KEYS/sl.key"
    echo "  listen-port: $PORT_S"
    echo "  address: [198.18.0.1/32, \"2001:db8::1/128\"]"
    [[ -n "$rekey" ]] && echo "  rekey-after-time: $rekey"
    echo "peers:"
    echo "  - name: wg-go"
    echo "    public-key: $(cat "$KEYS/wg.pub")"
    [[ -f "$KEYS/psk" ]] && echo "    preshared-key-file: $KEYS/psk"
    [[ -n "$endpoint" ]] && echo "    endpoint: \"$endpoint\""
    echo "    allowed-ips: [198.18.0.2/32, \"2001:db8::2/128\"]"
  } >"$cfg"
  SL_LOG="$WORK_DIR/sitelinkd-$tag.log"
  start_bg "$SL_LOG" ip netns exec "$NS_S" "$SITELINKD" --config "$cfg" --log-level debug
  SL_PID=$BG_PID
  wait_until "sitelinkd to listen" "$START_BOUND" \
    bash -c "grep -q 'listening on port' '$SL_LOG' || ! kill -0 $SL_PID 2>/dev/null"
  kill -0 "$SL_PID" 2>/dev/null || { log "sitelinkd exited early"; return 1; }
}

stop_both() {
  stop_pid "$SL_PID"
  ((STOP_RC == 0 && !STOP_KILLED)) || fail "sitelinkd did not exit 0 on SIGTERM (status $STOP_RC)"
  SL_PID=""
  stop_pid "$WG_PID"
  WG_PID=""
  rm -f "$WG_SOCK"
  wait_until "TUNs removed" 10 bash -c \
    "! ip -n '$NS_W' link show '$WG_IF' >/dev/null 2>&1 && ! ip -n '$NS_S' link show '$TUN_S' >/dev/null 2>&1"
}

# wg_field FIELD COLUMN: a column of `wg show WG_IF FIELD` for sitelinkd's key.
wg_field() {
  ip netns exec "$NS_W" timeout 10 wg show "$WG_IF" "$1" |
    awk -v k="$(cat "$KEYS/sl.pub")" -v c="$2" '$1 == k { print $c }' || true
}

# check_ping CASE NS DST: three bounded pings, all must come back.
check_ping() {
  local c=$1 ns=$2 dst=$3 out="$WORK_DIR/ping.out"
  local who=wireguard-go
  [[ $ns == "$NS_S" ]] && who=sitelinkd
  if ip netns exec "$ns" timeout 20 ping -n -q -c 3 -i 0.2 -W 2 "$dst" >"$out" 2>&1; then
    pass "$c: $who side -> $dst ($(grep -o 'rtt.*' "$out" || true))"
  else
    fail "$c: $who side -> $dst: $(tr '\n' ' ' <"$out")"
  fi
}

both_ways() {
  check_ping "$1" "$NS_S" 198.18.0.2
  check_ping "$1" "$NS_S" 2001:db8::2
  check_ping "$1" "$NS_W" 198.18.0.1
  check_ping "$1" "$NS_W" 2001:db8::1
}

wg_has_handshake() { local hs; hs=$(wg_field latest-handshakes 2); [[ "${hs:-0}" =~ ^[0-9]+$ ]] && ((hs > 0)); }

count() { grep -c -- "$1" "$2" || true; }

# --- a. sitelinkd initiates -----------------------------------------------------------
case_a() {
  new_keys a
  start_wg_go a
  start_sitelinkd a "$UNDERLAY_W:$PORT_W"
  if wait_until "sitelinkd's tunnel" "$START_BOUND" grep -q 'tunnel up' "$SL_LOG"; then
    pass "a: sitelinkd's start-up handshake with wireguard-go completed"
  else
    fail "a: no tunnel within ${START_BOUND}s of sitelinkd's start"
  fi
  # wireguard-go, the responder, counts the handshake once sitelinkd's first
  # transport packet (the keepalive that confirms the session) arrives.
  local hs ep
  wait_until "wireguard-go's handshake" 5 wg_has_handshake || true
  hs=$(wg_field latest-handshakes 2)
  ep=$(wg_field endpoints 2)
  if [[ "${hs:-0}" =~ ^[0-9]+$ ]] && ((hs > 0)); then
    pass "a: wireguard-go shows a handshake before any traffic (latest-handshake $hs)"
  else
    fail "a: wireguard-go shows no handshake (${hs:-none})"
  fi
  if [[ $ep == "$UNDERLAY_S:$PORT_S" ]]; then
    pass "a: wireguard-go learned sitelinkd's endpoint $ep"
  else
    fail "a: wireguard-go's endpoint for sitelinkd is '${ep:-none}', want $UNDERLAY_S:$PORT_S"
  fi
  both_ways a
  local rx tx
  rx=$(wg_field transfer 2)
  tx=$(wg_field transfer 3)
  if ((${rx:-0} > 0 && ${tx:-0} > 0)); then
    pass "a: wireguard-go transfer: rx $rx B, tx $tx B"
  else
    fail "a: wireguard-go transfer rx ${rx:-none}, tx ${tx:-none}"
  fi
  stop_both
}

# --- b. wireguard-go initiates, preshared key ---------------------------------------------
case_b() {
  new_keys b psk
  start_sitelinkd b
  start_wg_go b "$UNDERLAY_S:$PORT_S"
  # The first packet of all comes from wireguard-go's side.
  check_ping b "$NS_W" 198.18.0.1
  if grep -q "tunnel up via $UNDERLAY_W:$PORT_W" "$SL_LOG"; then
    pass "b: sitelinkd accepted wireguard-go's initiation (with preshared key) and learned $UNDERLAY_W:$PORT_W"
  else
    fail "b: sitelinkd's log shows no tunnel to $UNDERLAY_W:$PORT_W"
  fi
  local sent
  sent=$(count 'Sending handshake initiation' "$WG_LOG")
  if ((sent >= 1)); then
    pass "b: wireguard-go sent $sent initiation(s)"
  else
    fail "b: wireguard-go's log shows no initiation"
  fi
  both_ways b
  stop_both
}

# --- c. rekey under continuous traffic -------------------------------------------------------
case_c() {
  new_keys c
  start_wg_go c
  start_sitelinkd c "$UNDERLAY_W:$PORT_W" "$REKEY_AFTER"
  if ! wait_until "sitelinkd's tunnel" "$START_BOUND" grep -q 'tunnel up' "$SL_LOG"; then
    fail "c: no tunnel within ${START_BOUND}s"
    stop_both
    return
  fi
  local hs0 hs1 init0 init1 own0 own1 out="$WORK_DIR/ping-rekey.out"
  hs0=$(wg_field latest-handshakes 2)
  init0=$(count 'Received handshake initiation' "$WG_LOG")
  own0=$(count 'Sending handshake initiation' "$WG_LOG")
  ip netns exec "$NS_S" timeout 40 ping -n -q -i 0.2 -c "$REKEY_PINGS" -W 2 198.18.0.2 >"$out" 2>&1 || true
  hs1=$(wg_field latest-handshakes 2)
  init1=$(count 'Received handshake initiation' "$WG_LOG")
  own1=$(count 'Sending handshake initiation' "$WG_LOG")
  local tx rx
  tx=$(sed -n 's/^\([0-9]*\) packets transmitted.*/\1/p' "$out")
  rx=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$out")
  if [[ $tx == "$REKEY_PINGS" && $rx == "$REKEY_PINGS" ]]; then
    pass "c: $rx/$tx echo replies during rekeying, no loss"
  else
    fail "c: loss during rekeying: $(tr '\n' ' ' <"$out")"
  fi
  if [[ "${hs0:-0}" =~ ^[0-9]+$ && "${hs1:-0}" =~ ^[0-9]+$ ]] && ((hs1 > hs0)); then
    pass "c: wireguard-go's latest-handshake advanced by $((hs1 - hs0)) s ($hs0 -> $hs1)"
  else
    fail "c: wireguard-go's latest-handshake did not advance (${hs0:-none} -> ${hs1:-none})"
  fi
  if ((init1 - init0 >= 2)); then
    pass "c: wireguard-go answered $((init1 - init0)) rekey initiations from sitelinkd in 13 s"
  else
    fail "c: wireguard-go answered $((init1 - init0)) initiations during the run, want >= 2"
  fi
  if ((own1 == own0)); then
    pass "c: wireguard-go (responder) started no handshake itself"
  else
    fail "c: wireguard-go sent $((own1 - own0)) initiations itself"
  fi
  stop_both
}

case_a
case_b
case_c
