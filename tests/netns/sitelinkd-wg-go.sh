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
# shellcheck source=tests/netns/lib.sh
source "$SCRIPT_DIR/lib.sh"
lib_init sitelinkd-wg-go slw
# shellcheck source=tests/netns/topology.sh
source "$SCRIPT_DIR/topology.sh"

P=$PREFIX
NS_S="${P}s" NS_W="${P}w"
TUN_S="${P}st" WG_IF="${P}wg"
UNDERLAY_S=203.0.113.1 UNDERLAY_W=203.0.113.2
PORT_S=51820 PORT_W=51821
PORT=$PORT_S
WG_SOCK="/var/run/wireguard/$WG_IF.sock"
START_BOUND=10
REKEY_AFTER=5
REKEY_PINGS=65     # at -i 0.2: 13 s

WG_PID="" WG_LOG="" KEYS=""
GW_NS=([sl]=$NS_S)   # sitelinkd: gw-sl.yaml, GW_PID[sl], GW_LOG[sl]

require_root
require_tools wireguard-go wg ip ping timeout
require_tun
sitelink_binaries "$@"

# --- topology ------------------------------------------------------------------------
underlay_pair "$NS_S" "${P}vs" "$NS_W" "${P}vw"
# wireguard-go and sitelinkd remove their sockets when they exit; this is
# for a crash or a failed run.
on_cleanup rm -f "$WG_SOCK" "/run/wireguard/$TUN_S.sock"

# new_keys TAG [psk]: fresh keys for one case.
new_keys() {
  KEYS="$WORK_DIR/keys-$1"
  mkdir -m 700 "$KEYS"
  gen_key "$SITELINK" "$KEYS" sl
  gen_key wg "$KEYS" wg
  rm -f "$KEYS/psk"
  if [[ ${2:-} == psk ]]; then gen_psk "$SITELINK" "$KEYS/psk"; fi
}

# start_wg_go TAG [ENDPOINT]: wireguard-go in the foreground (so the PID is
# its own), configured with wg set and ip.
start_wg_go() {
  local tag=$1 endpoint=${2:-}
  WG_LOG="$WORK_DIR/wireguard-go-$tag.log"
  start_wireguard_go "$NS_W" "$WG_IF" "$WG_LOG" verbose || return 1
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

# start_sitelinkd [ENDPOINT] [REKEY_AFTER_TIME]: sitelinkd (gateway "sl"),
# with wireguard-go as its one peer; waits until it listens.
start_sitelinkd() {
  local endpoint=${1:-} rekey=${2:-} peer=()
  [[ -f "$KEYS/psk" ]] && peer+=("preshared-key-file: $KEYS/psk")
  [[ -n "$endpoint" ]] && peer+=("endpoint: \"$endpoint\"")
  {
    yaml_interface "$TUN_S" "$KEYS/sl.key" 'address: [198.18.0.1/32, "2001:db8::1/128"]' \
      ${rekey:+"rekey-after-time: $rekey"}
    echo "peers:"
    yaml_peer wg-go "$KEYS/wg.pub" "${peer[@]}" 'allowed-ips: [198.18.0.2/32, "2001:db8::2/128"]'
  } >"$WORK_DIR/gw-sl.yaml"
  start_gw sl
}

# stop_both CASE: sitelinkd must exit 0 on SIGTERM; then wireguard-go, and
# both TUNs go.
stop_both() {
  stop_gw_check "$1" sl
  stop_pid "$WG_PID"
  WG_PID=""
  rm -f "$WG_SOCK"
  wait_until "TUNs removed" 10 bash -c \
    "! ip -n '$NS_W' link show '$WG_IF' >/dev/null 2>&1 && ! ip -n '$NS_S' link show '$TUN_S' >/dev/null 2>&1"
}

# wg_col FIELD COLUMN: a column of `wg show WG_IF FIELD` for sitelinkd's key.
wg_col() { wg_field "$NS_W" "$WG_IF" "$1" "$(cat "$KEYS/sl.pub")" "$2"; }

both_ways() {
  check_ping "$1" "$NS_S" 198.18.0.2
  check_ping "$1" "$NS_S" 2001:db8::2
  check_ping "$1" "$NS_W" 198.18.0.1
  check_ping "$1" "$NS_W" 2001:db8::1
}

wg_has_handshake() { has_handshake "$NS_W" "$WG_IF" "$(cat "$KEYS/sl.pub")"; }

# --- a. sitelinkd initiates -----------------------------------------------------------
case_a() {
  new_keys a
  start_wg_go a
  start_sitelinkd "$UNDERLAY_W:$PORT_W"
  if wait_until "sitelinkd's tunnel" "$START_BOUND" grep -q 'tunnel up' "${GW_LOG[sl]}"; then
    pass "a: sitelinkd's start-up handshake with wireguard-go completed"
  else
    fail "a: no tunnel within ${START_BOUND}s of sitelinkd's start"
  fi
  # wireguard-go, the responder, counts the handshake once sitelinkd's first
  # transport packet (the keepalive that confirms the session) arrives.
  local hs ep
  wait_until "wireguard-go's handshake" 5 wg_has_handshake || true
  hs=$(wg_col latest-handshakes 2)
  ep=$(wg_col endpoints 2)
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
  rx=$(wg_col transfer 2)
  tx=$(wg_col transfer 3)
  if ((${rx:-0} > 0 && ${tx:-0} > 0)); then
    pass "a: wireguard-go transfer: rx $rx B, tx $tx B"
  else
    fail "a: wireguard-go transfer rx ${rx:-none}, tx ${tx:-none}"
  fi
  stop_both a
}

# --- b. wireguard-go initiates, preshared key ---------------------------------------------
case_b() {
  new_keys b psk
  start_sitelinkd
  start_wg_go b "$UNDERLAY_S:$PORT_S"
  # The first packet of all comes from wireguard-go's side.
  check_ping b "$NS_W" 198.18.0.1
  if grep -q "tunnel up via $UNDERLAY_W:$PORT_W" "${GW_LOG[sl]}"; then
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
  stop_both b
}

# --- c. rekey under continuous traffic -------------------------------------------------------
case_c() {
  new_keys c
  start_wg_go c
  start_sitelinkd "$UNDERLAY_W:$PORT_W" "$REKEY_AFTER"
  if ! wait_until "sitelinkd's tunnel" "$START_BOUND" grep -q 'tunnel up' "${GW_LOG[sl]}"; then
    fail "c: no tunnel within ${START_BOUND}s"
    stop_both c
    return
  fi
  local hs0 hs1 init0 init1 own0 own1 out="$WORK_DIR/ping-rekey.out"
  hs0=$(wg_col latest-handshakes 2)
  init0=$(count 'Received handshake initiation' "$WG_LOG")
  own0=$(count 'Sending handshake initiation' "$WG_LOG")
  ip netns exec "$NS_S" timeout 40 ping -n -q -i 0.2 -c "$REKEY_PINGS" -W 2 198.18.0.2 >"$out" 2>&1 || true
  hs1=$(wg_col latest-handshakes 2)
  init1=$(count 'Received handshake initiation' "$WG_LOG")
  own1=$(count 'Sending handshake initiation' "$WG_LOG")
  ping_counts "$out"
  if [[ $PING_TX == "$REKEY_PINGS" && $PING_RX == "$REKEY_PINGS" ]]; then
    pass "c: $PING_RX/$PING_TX echo replies during rekeying, no loss"
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
  stop_both c
}

case_a
case_b
case_c
