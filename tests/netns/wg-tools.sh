#!/usr/bin/env bash
# The stock wireguard-tools `wg` against a running `sitelinkd --config`
# through its UAPI socket /run/wireguard/IFACE.sock (SPEC.md "Control
# socket"; issue 5), and `sitelink show` on the same socket.
#
# Usage: wg-tools.sh [SITELINKD [SITELINK]]
#   defaults: <repo>/build/daemon/sitelinkd and <repo>/build/daemon/sitelink
#
#   namespace ${P}a                           namespace ${P}b
#   sitelinkd, TUN ${P}at 198.18.0.1/32        sitelinkd, TUN ${P}bt 198.18.0.2/32
#   (the one under test)                      lo 198.18.2.1/32
#   ${P}va 203.0.113.1/24 <------ veth ------> ${P}vb 203.0.113.2/24
#
# Both gateways have the other as peer with an endpoint (port 51820);
# everything below is done to gw-a with `wg` run inside its namespace.
#
# Cases (PASS/FAIL lines; the exit status is non-zero if any failed):
#   a. `wg show IFACE`: public key, listening port, peer, endpoint, allowed
#      ips, latest handshake, transfer; and the single-field forms.
#   b. `wg show IFACE dump`: every column, the private key being gw-a's own.
#   c. `wg showconf IFACE` is a valid wg config of the running state.
#   d. `wg syncconf IFACE <(wg showconf IFACE)` changes nothing and keeps the
#      session: latest handshake unchanged, no handshake in either log.
#   e. `wg set IFACE peer B allowed-ips ...,198.18.2.0/24 persistent-keepalive
#      25`: wg show reflects both, the session is kept, sitelinkd routes the
#      new prefix through the TUN (`routes: true` covers what `wg set` adds:
#      one change path for reloads and UAPI), and traffic flows to the old and
#      the new prefix.
#   f. `wg set` errors come back as wg errors: listen-port on a port another
#      socket holds fails with "Address in use" and the port stays.
#   g. `wg setconf IFACE FILE` with FILE from showconf: the configuration
#      (dump without handshake and transfer columns) is unchanged, and
#      traffic flows. (setconf goes the way of a reload: peers it leaves as
#      they were keep their sessions; wireguard-go would start them afresh.)
#   h. `wg set IFACE listen-port 51900`: wg show reports it, only the new port
#      is bound, traffic initiated by gw-a flows, gw-b follows gw-a to the new
#      port (roaming), and then gw-b -> gw-a works too.
#   i. `sitelink show IFACE` and `sitelink show --json` show the peer "up".
#
# Needs root, wg, ip, ping, ss, timeout, python3.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/netns/lib.sh
source "$SCRIPT_DIR/lib.sh"
lib_init wg-tools slt
# shellcheck source=tests/netns/topology.sh
source "$SCRIPT_DIR/topology.sh"

P=$PREFIX
NS_A="${P}a" NS_B="${P}b"
TUN_A="${P}at" TUN_B="${P}bt"
PORT=51820 NEW_PORT=51900 BUSY_PORT=51901
START_BOUND=10
SETTLE=2   # s: the handshake is this old before session checks

require_root
require_tools wg ip ping ss timeout python3
require_tun
sitelink_binaries "$@"

on_cleanup rm -f "/run/wireguard/$TUN_A.sock" "/run/wireguard/$TUN_B.sock"
underlay_pair "$NS_A" "${P}va" "$NS_B" "${P}vb"
ip -n "$NS_B" addr add 198.18.2.1/32 dev lo
GW_NS=([a]=$NS_A [b]=$NS_B)

gw_keys a b
PUB_A=$(cat "$WORK_DIR/gw-a.pub") PUB_B=$(cat "$WORK_DIR/gw-b.pub") PRIV_A=$(cat "$WORK_DIR/gw-a.key")
pair_config a "allowed-ips: [198.18.0.2/32]"
pair_config b "allowed-ips: [198.18.0.1/32]"
launch_gw a debug
launch_gw b debug
LOG_A=${GW_LOG[a]} LOG_B=${GW_LOG[b]}

# wga ARGS...: wg in gw-a's namespace; wgb likewise for gw-b.
wga() { ip netns exec "$NS_A" timeout 10 wg "$@"; }
wgb() { ip netns exec "$NS_B" timeout 10 wg "$@"; }
# hs_a: gw-a's latest handshake with gw-b (Unix time; "" if not listed).
hs_a() { wg_field "$NS_A" "$TUN_A" latest-handshakes "$PUB_B"; }
has_hs_a() { has_handshake "$NS_A" "$TUN_A" "$PUB_B"; }
handshakes() {
  echo $(($(count 'handshake initiation to\|answered its handshake' "$LOG_A") +
    $(count 'handshake initiation to\|answered its handshake' "$LOG_B")))
}
# config_state: `wg show dump` of gw-a without the handshake and transfer
# columns: what setconf/syncconf must leave as it was. The private key is
# shown only as whether it is gw-a's own.
config_state() {
  wga show "$TUN_A" dump | awk -F '\t' -v k="$PRIV_A" '
    NR == 1 { print ($1 == k ? "(gw-a private key)" : "(another private key)"), $2, $3, $4; next }
    { print $1, $2, $3, $4, $8 }'
}
# expect_eq CASE WHAT GOT WANT [quiet]: GOT must be WANT (quiet: a PASS line
# without the value). Keys in the values are public keys only.
expect_eq() {
  local c=$1 what=$2 got=$3 want=$4 quiet=${5:-}
  if [[ $got == "$want" ]]; then
    if [[ -n $quiet ]]; then pass "$c: $what unchanged"; else pass "$c: $what: ${got//$'\t'/ }"; fi
  else
    fail "$c: $what: got '${got//$'\n'/|}', want '${want//$'\n'/|}'"
  fi
}
# has_line CASE TEXT WANT: pass if TEXT contains the line WANT.
has_line() {
  local c=$1 text=$2 want=$3
  if grep -qxF -- "$want" <<<"$text"; then
    pass "$c: '$want'"
  else
    fail "$c: no line '$want' in: $(tr '\n' '|' <<<"$text")"
  fi
}
# session_kept CASE HS0 N0
session_kept() {
  local c=$1 hs0=$2 n0=$3 hs1 n1
  hs1=$(hs_a)
  n1=$(handshakes)
  if [[ -n $hs1 && $hs1 == "$hs0" && $n1 == "$n0" ]]; then
    pass "$c: session kept: latest handshake still $hs0, no handshake in either log"
  else
    fail "$c: session not kept: latest handshake $hs0 -> ${hs1:-none}, $((n1 - n0)) handshake log lines"
  fi
}

if wait_until "the tunnel" "$START_BOUND" has_hs_a; then
  pass "start: gw-a and gw-b up, handshake done"
else
  fail "start: no handshake within ${START_BOUND}s"
fi
check_ping start "$NS_A" 198.18.0.2

# --- a. wg show ----------------------------------------------------------------------
case_a() {
  local out
  out=$(wga show "$TUN_A" 2>&1) || fail "a: wg show $TUN_A exited non-zero: $out"
  # shellcheck disable=SC2001  # wg indents the fields; strip every line's
  out=$(sed 's/^ *//' <<<"$out")
  has_line a "$out" "interface: $TUN_A"
  has_line a "$out" "public key: $PUB_A"
  has_line a "$out" "private key: (hidden)"
  has_line a "$out" "listening port: $PORT"
  has_line a "$out" "peer: $PUB_B"
  has_line a "$out" "endpoint: 203.0.113.2:$PORT"
  has_line a "$out" "allowed ips: 198.18.0.2/32"
  if grep -qE '^latest handshake: ([0-9]+ (second|minute)s?(, )?)+ ago$|^latest handshake: Now$' <<<"$out"; then
    pass "a: '$(grep '^latest handshake' <<<"$out")'"
  else
    fail "a: no recent 'latest handshake' line in wg show"
  fi
  if grep -qE '^transfer: [0-9.]+ [KMG]?i?B received, [0-9.]+ [KMG]?i?B sent$' <<<"$out" &&
    ! grep -q '^transfer: 0 B received' <<<"$out"; then
    pass "a: '$(grep '^transfer' <<<"$out")'"
  else
    fail "a: no transfer line with bytes received: $(grep '^transfer' <<<"$out" || echo none)"
  fi
  expect_eq a "wg show public-key" "$(wga show "$TUN_A" public-key)" "$PUB_A"
  if [[ $(wga show "$TUN_A" private-key) == "$PRIV_A" ]]; then
    pass "a: wg show private-key is gw-a's key"
  else
    fail "a: wg show private-key is not gw-a's key"
  fi
  expect_eq a "wg show listen-port" "$(wga show "$TUN_A" listen-port)" "$PORT"
  expect_eq a "wg show fwmark" "$(wga show "$TUN_A" fwmark)" off
  expect_eq a "wg show peers" "$(wga show "$TUN_A" peers)" "$PUB_B"
  expect_eq a "wg show endpoints" "$(wga show "$TUN_A" endpoints)" "$PUB_B"$'\t'"203.0.113.2:$PORT"
  expect_eq a "wg show allowed-ips" "$(wga show "$TUN_A" allowed-ips)" "$PUB_B"$'\t'"198.18.0.2/32"
  expect_eq a "wg show persistent-keepalive" "$(wga show "$TUN_A" persistent-keepalive)" "$PUB_B"$'\t'off
  expect_eq a "wg show preshared-keys" "$(wga show "$TUN_A" preshared-keys)" "$PUB_B"$'\t'"(none)"
  if wga show interfaces | tr ' ' '\n' | grep -qx "$TUN_A"; then
    pass "a: wg show interfaces lists $TUN_A"
  else
    fail "a: wg show interfaces: $(wga show interfaces)"
  fi
}

# --- b. wg show dump ---------------------------------------------------------------
case_b() {
  local dump iface peer
  dump=$(wga show "$TUN_A" dump)
  iface=$(sed -n 1p <<<"$dump")
  peer=$(sed -n 2p <<<"$dump")
  if [[ $iface == "$PRIV_A"$'\t'"$PUB_A"$'\t'"$PORT"$'\t'off ]]; then
    pass "b: dump interface line: private key, public key, $PORT, off"
  else
    fail "b: dump interface line: '${iface//$PRIV_A/PRIVATE}'"
  fi
  local f
  IFS=$'\t' read -r -a f <<<"$peer"
  if [[ $(wc -l <<<"$dump") == 2 && ${#f[@]} == 8 && ${f[0]} == "$PUB_B" && ${f[1]} == "(none)" &&
    ${f[2]} == "203.0.113.2:$PORT" && ${f[3]} == 198.18.0.2/32 && ${f[4]} =~ ^[1-9][0-9]*$ &&
    ${f[5]} =~ ^[1-9][0-9]*$ && ${f[6]} =~ ^[1-9][0-9]*$ && ${f[7]} == off ]]; then
    pass "b: dump peer line: ${peer//$'\t'/ }"
  else
    fail "b: dump peer line: '${peer//$'\t'/ }' (want key, (none), endpoint, allowed ips, handshake, rx, tx, off)"
  fi
  local now=$EPOCHSECONDS
  if ((f[4] <= now && now - f[4] < 60)); then
    pass "b: latest handshake $((now - f[4])) s ago (Unix time ${f[4]})"
  else
    fail "b: latest handshake ${f[4]} is not within the last minute (now $now)"
  fi
}

# --- c. wg showconf ----------------------------------------------------------------
SHOWCONF="$WORK_DIR/showconf.conf"
case_c() {
  if wga showconf "$TUN_A" >"$SHOWCONF"; then
    pass "c: wg showconf $TUN_A"
  else
    fail "c: wg showconf $TUN_A failed"
  fi
  local text
  text=$(sed 's/ *$//' "$SHOWCONF")
  local want
  for want in "[Interface]" "ListenPort = $PORT" "PrivateKey = $PRIV_A" "[Peer]" "PublicKey = $PUB_B" \
    "AllowedIPs = 198.18.0.2/32" "Endpoint = 203.0.113.2:$PORT"; do
    if grep -qxF -- "$want" <<<"$text"; then
      pass "c: showconf has '${want//$PRIV_A/PrivateKey of gw-a}'"
    else
      fail "c: showconf lacks '${want//$PRIV_A/PrivateKey of gw-a}'"
    fi
  done
}

# --- d. wg syncconf keeps the session ----------------------------------------------------
case_d() {
  sleep "$SETTLE"
  local hs0 n0 before after
  hs0=$(hs_a)
  n0=$(handshakes)
  before=$(config_state)
  if ip netns exec "$NS_A" timeout 10 bash -c "wg syncconf '$TUN_A' <(wg showconf '$TUN_A')" 2>"$WORK_DIR/wg.err"; then
    pass "d: wg syncconf $TUN_A <(wg showconf $TUN_A)"
  else
    fail "d: wg syncconf failed: $(cat "$WORK_DIR/wg.err")"
  fi
  after=$(config_state)
  expect_eq d "configuration (dump without handshake and transfer) after syncconf" "$after" "$before" quiet
  session_kept d "$hs0" "$n0"
  check_ping d "$NS_A" 198.18.0.2
  session_kept d "$hs0" "$n0"
}

# --- e. wg set allowed-ips, persistent-keepalive -------------------------------------------
case_e() {
  local hs0 n0 out
  hs0=$(hs_a)
  n0=$(handshakes)
  if wga set "$TUN_A" peer "$PUB_B" allowed-ips 198.18.0.2/32,198.18.2.0/24 persistent-keepalive 25 2>"$WORK_DIR/wg.err"; then
    pass "e: wg set peer allowed-ips 198.18.0.2/32,198.18.2.0/24 persistent-keepalive 25"
  else
    fail "e: wg set failed: $(cat "$WORK_DIR/wg.err")"
  fi
  out=$(wga show "$TUN_A" allowed-ips)
  expect_eq e "wg show allowed-ips" "$(tr ' ' '\n' <<<"${out#*$'\t'}" | sort | tr '\n' ' ')" "198.18.0.2/32 198.18.2.0/24 "
  expect_eq e "wg show persistent-keepalive" "$(wga show "$TUN_A" persistent-keepalive)" "$PUB_B"$'\t'25
  if wga show "$TUN_A" | grep -q '^  persistent keepalive: every 25 seconds$'; then
    pass "e: wg show: 'persistent keepalive: every 25 seconds'"
  else
    fail "e: wg show has no 'persistent keepalive: every 25 seconds'"
  fi
  check_ping e "$NS_A" 198.18.0.2
  if [[ -n $(ip -n "$NS_A" route show 198.18.2.0/24 dev "$TUN_A") ]]; then
    pass "e: sitelinkd added the route for 198.18.2.0/24 (routes: true)"
  else
    fail "e: no route for 198.18.2.0/24 via $TUN_A after wg set added it"
  fi
  check_ping e "$NS_A" 198.18.2.1
  session_kept e "$hs0" "$n0"
}

# --- f. a wg set the daemon refuses ----------------------------------------------------
case_f() {
  local holder err
  start_bg "$WORK_DIR/udp-holder.out" ip netns exec "$NS_A" python3 -c \
    "import socket,time; s=socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0); s.bind(('::', $BUSY_PORT)); print('bound', flush=True); time.sleep(60)"
  holder=$BG_PID
  wait_until "the port holder" 5 grep -q bound "$WORK_DIR/udp-holder.out" || true
  if err=$(wga set "$TUN_A" listen-port "$BUSY_PORT" 2>&1); then
    fail "f: wg set listen-port $BUSY_PORT succeeded although the port is taken"
  elif [[ $err == *"Address in use"* || $err == *"Address already in use"* ]]; then
    pass "f: wg set listen-port $BUSY_PORT (taken): '$err'"
  else
    fail "f: wg set listen-port $BUSY_PORT (taken) failed with an unexpected message: '$err'"
  fi
  expect_eq f "wg show listen-port after the refused change" "$(wga show "$TUN_A" listen-port)" "$PORT"
  stop_pid "$holder" 2
  check_ping f "$NS_A" 198.18.0.2
}

# --- g. wg setconf ---------------------------------------------------------------------
case_g() {
  local before after conf="$WORK_DIR/setconf.conf"
  wga showconf "$TUN_A" >"$conf"
  before=$(config_state)
  if wga setconf "$TUN_A" "$conf" 2>"$WORK_DIR/wg.err"; then
    pass "g: wg setconf $TUN_A FILE (FILE from showconf)"
  else
    fail "g: wg setconf failed: $(cat "$WORK_DIR/wg.err")"
  fi
  after=$(config_state)
  expect_eq g "configuration (dump without handshake and transfer) after setconf" "$after" "$before" quiet
  check_ping g "$NS_A" 198.18.0.2
  check_ping g "$NS_A" 198.18.2.1
  check_ping g "$NS_B" 198.18.0.1
}

# --- h. wg set listen-port -----------------------------------------------------------------
case_h() {
  local out
  if wga set "$TUN_A" listen-port "$NEW_PORT" 2>"$WORK_DIR/wg.err"; then
    pass "h: wg set listen-port $NEW_PORT"
  else
    fail "h: wg set listen-port failed: $(cat "$WORK_DIR/wg.err")"
  fi
  expect_eq h "wg show listen-port" "$(wga show "$TUN_A" listen-port)" "$NEW_PORT"
  has_line h "$(wga show "$TUN_A")" "  listening port: $NEW_PORT"
  out=$(ip netns exec "$NS_A" ss -Hlun)
  if grep -q ":$NEW_PORT\b" <<<"$out" && ! grep -q ":$PORT\b" <<<"$out"; then
    pass "h: UDP $NEW_PORT bound, $PORT released"
  else
    fail "h: bound UDP sockets in gw-a: $(tr '\n' '|' <<<"$out")"
  fi
  check_ping h "$NS_A" 198.18.0.2
  out=$(wgb show "$TUN_B" endpoints)
  if [[ $out == "$PUB_A"$'\t'"203.0.113.1:$NEW_PORT" ]]; then
    pass "h: gw-b follows gw-a to 203.0.113.1:$NEW_PORT"
  else
    fail "h: gw-b's endpoint for gw-a: '$out'"
  fi
  check_ping h "$NS_B" 198.18.0.1
}

# --- i. sitelink show --------------------------------------------------------------------
case_i() {
  local out rc=0
  out=$(ip netns exec "$NS_A" timeout 10 "$SITELINK" show "$TUN_A" 2>&1) || rc=$?
  if ((rc == 0)) && grep -qF "peer: $PUB_B" <<<"$out" && grep -qE '^ *state: up( |$)' <<<"$out"; then
    pass "i: sitelink show $TUN_A: peer $PUB_B, $(grep -m1 -E '^ *state:' <<<"$out" | sed 's/^ *//')"
  else
    fail "i: sitelink show $TUN_A (exit $rc): $(tr '\n' '|' <<<"$out")"
  fi
  rc=0
  out=$(ip netns exec "$NS_A" timeout 10 "$SITELINK" show --json 2>"$WORK_DIR/show.err") || rc=$?
  local verdict
  verdict=$(python3 -c '
import json, sys
iface, peer = sys.argv[1], sys.argv[2]
doc = json.loads(sys.stdin.read())
for i in doc["interfaces"]:
    if i["name"] == iface:
        for p in i["peers"]:
            if p["public_key"] == peer:
                print(p["state"])
                sys.exit(0)
        print("peer missing")
        sys.exit(0)
print("interface missing")
' "$TUN_A" "$PUB_B" <<<"$out" 2>&1) || verdict="not JSON: $verdict"
  if [[ $verdict == up ]]; then
    pass "i: sitelink show --json: $TUN_A's peer has state \"up\""
  else
    fail "i: sitelink show --json: $verdict"
  fi
  # Other daemons on this host (not ours) may come and go meanwhile; a
  # complaint about our own sockets is a failure.
  if ((rc == 0)); then
    pass "i: sitelink show --json exited 0"
  elif grep -q "$P" "$WORK_DIR/show.err"; then
    fail "i: sitelink show --json exited $rc: $(cat "$WORK_DIR/show.err")"
  else
    log "sitelink show --json exited $rc about other daemons: $(cat "$WORK_DIR/show.err")"
  fi
}

case_a
case_b
case_c
case_d
case_e
case_f
case_g
case_h
case_i
for gw in a b; do stop_gw_check end "$gw"; done
