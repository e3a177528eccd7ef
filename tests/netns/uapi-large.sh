#!/usr/bin/env bash
# Configurations of any size through the control socket and the YAML file
# (issue 19): the stock `wg` sets and reads them whole, a request beyond
# the interface's limits (config/types.h: kMaxPeers 65536 peers,
# kMaxAllowedIps 1,048,576 allowed-ips in all peers together) is refused
# with E2BIG after it was read, changing nothing, and traffic through the
# tunnel goes on meanwhile.
#
# Usage: uapi-large.sh [SITELINKD [SITELINK]]    (as root)
#   defaults: <repo>/build/daemon/sitelinkd and <repo>/build/daemon/sitelink
#
#   ${P}ia                  ${P}ua (underlay A)                       ${P}ub (underlay B)
#   TUN ${P}x (moved here)  sitelinkd -f ${P}x: UDP 51820              wireguard-go -f ${P}w
#   198.18.1.1/24           sitelinkd --config: TUN ${P}c, UDP 51822   UDP 51821, TUN ${P}w
#   2001:db8:1::1/64        198.18.3.1/24 (routes: false)             198.18.2.1/24, 2001:db8:2::1/64
#                           ${P}va 203.0.113.1/24 ------ veth ------ ${P}vb 203.0.113.2/24
#
# X, the sitelinkd under test, runs in cross-platform mode and is configured
# only with `wg` (its peer W is the wireguard-go); C is a sitelinkd started
# with --config, also a peer of W. The large allowed-ips lists carry no
# traffic (SPEC.md allows other ranges for such lists): BIG is every
# A.B.0.0/16 (A 1..255, B 0..255), each with an IPv6 /128
# 2001:db8:f000::A:B, 130,560 prefixes; W's 198.18.2.0/24 inside BIG's
# 198.18.0.0/16 is more specific and keeps the tunnel's traffic.
#
# Cases (PASS/FAIL lines; the exit status is non-zero if any failed):
#   a. `wg setconf X FILE`, FILE holding X's key, W and the peer BIG: wg
#      exits 0, and `wg show X allowed-ips` lists BIG's 130,560 prefixes,
#      exactly (the whole set is compared, a few entries are named).
#   e. `wg setconf X FILE` with a peer of kMaxAllowedIps + 1 = 1,048,577
#      IPv6 /128s: wg exits non-zero (not 141, SIGPIPE) saying "Argument
#      list too long", X's log gains exactly one line at warning level or
#      worse, and it names the limit; `wg show X allowed-ips` is as before
#      and X keeps running. Prints how long making the file and wg took.
#   f. a 100/s ping from ${P}ia through X to W runs during (1) a's set, (2)
#      a's `wg show X allowed-ips`, e's refused set and (3) a slow set: a
#      client writing a set of 130,560 allowed-ips (peer SLOW) to X's socket
#      in 64 KiB pieces 50 ms apart while another client's `wg show X` and
#      `wg showconf X` must complete before the slow set is written whole;
#      the slow set is then answered errno=0 and SLOW has its 130,560.
#      Each phase prints the longest gap between successive ping replies (a
#      figure, not a check: the machine is shared) and checks only that
#      replies come after it.
#   b. `wg setconf` of W and 40 peers of 52 distinct allowed-ips each: every
#      peer is listed with its 52 (BIG and SLOW are gone).
#   c. `wg setconf` of 30 peers, only the last with allowed-ips (W goes):
#      `wg showconf X` exits 0 with 30 [Peer] sections, the last one's
#      AllowedIPs present and no other's.
#   d. `wg show` and `sitelink show` of an interface that does not exist
#      fail (non-zero, not 141) within 10 s.
#   g. the same sizes through the YAML file: C starts with W and BIG in its
#      file (routes: false: 130,560 kernel routes would only cost time here,
#      and BIG's /16s would cover the underlay); `wg show C allowed-ips` and
#      `sitelink show C` list all of BIG's; SIGHUP with W and the 40 x 52
#      file: each peer has its 52; SIGHUP with W and the 30 peers, the last
#      alone with allowed-ips: showconf as in c; SIGHUP back to BIG while a
#      100/s ping runs through C: the longest gap between replies is the
#      packet loop's pause while it loads and applies 130,560 entries
#      (a figure, printed).
#
# Needs root, wg, wireguard-go, ip, ping, timeout, awk, python3.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/netns/lib.sh
source "$SCRIPT_DIR/lib.sh"
lib_init uapi-large slu
# shellcheck source=tests/netns/topology.sh
source "$SCRIPT_DIR/topology.sh"

require_root
require_tools wg wireguard-go ip ping timeout awk python3 sort comm
require_tun
sitelink_binaries "$@"

P=$PREFIX
NS_IA="${P}ia" NS_UA="${P}ua" NS_UB="${P}ub"
TUN_X="${P}x" TUN_W="${P}w" TUN_C="${P}c"
PORT_X=51820 PORT_W=51821 PORT_C=51822
SOCK_X="/run/wireguard/$TUN_X.sock"
BIG_COUNT=130560
OVER_COUNT=$(((1 << 20) + 1)) # config::kMaxAllowedIps + 1
WG_BOUND=60                   # s: one wg command, however large
PING_BOUND=170                # s: -w of a background ping (it is stopped long before)
FIGURES=()

on_cleanup rm -f "$SOCK_X" "/run/wireguard/$TUN_W.sock" "/run/wireguard/$TUN_C.sock" \
  "/run/sitelink/$TUN_X.sock" "/run/sitelink/$TUN_C.sock"

# --- keys, lists and files ------------------------------------------------------------------
for k in x w c; do gen_key wg "$WORK_DIR" "$k"; done
PUB_X=$(<"$WORK_DIR/x.pub") PUB_W=$(<"$WORK_DIR/w.pub") PUB_C=$(<"$WORK_DIR/c.pub")
# Peers that are never there: public keys alone (random 32 bytes).
mapfile -t KEYS < <(python3 -c '
import base64, os
for _ in range(73):
    print(base64.b64encode(os.urandom(32)).decode())')
PUB_BIG=${KEYS[0]} PUB_OVER=${KEYS[1]} PUB_SLOW=${KEYS[2]}
MANY=("${KEYS[@]:3:40}") # b: 40 peers of 52
FEW=("${KEYS[@]:43:30}") # c: 30 peers, the last with allowed-ips

# big_list LEAD: BIG's prefixes, one a line after LEAD.
big_list() {
  awk -v lead="$1" 'BEGIN {
    for (a = 1; a < 256; a++)
      for (b = 0; b < 256; b++) printf "%s%d.%d.0.0/16\n%s2001:db8:f000::%x:%x/128\n", lead, a, b, lead, a, b
  }'
}
big_list "" | sort >"$WORK_DIR/big.want"

# many_list I: the 52 allowed-ips of b's peer I (0..39), comma-separated and quoted.
many_list() {
  awk -v i="$1" 'BEGIN {
    for (j = 0; j < 26; j++) printf "%s\"198.19.%d.%d/32\", \"2001:db8:b:%x::%x/128\"", (j ? ", " : ""), i, j, i + 1, j + 1
  }'
}
FEW_LAST_IPS="198.19.200.0/24, 2001:db8:c::/48" FEW_LAST_SORTED="198.19.200.0/24,2001:db8:c::/48"

# X's [Interface] and W as wg config sections.
x_interface() { printf '[Interface]\nPrivateKey = %s\nListenPort = %s\n\n' "$(<"$WORK_DIR/x.key")" "$PORT_X"; }
w_peer() {
  printf '[Peer]\nPublicKey = %s\nEndpoint = 203.0.113.2:%s\nAllowedIPs = 198.18.2.0/24, 2001:db8:2::/64\n\n' \
    "$PUB_W" "$PORT_W"
}
# many_peers / few_peers FORMAT: b's or c's peers as wg sections (wg) or YAML items (yaml).
many_peers() {
  local i
  for i in "${!MANY[@]}"; do
    if [[ $1 == wg ]]; then
      printf '[Peer]\nPublicKey = %s\nAllowedIPs = %s\n\n' "${MANY[i]}" "$(many_list "$i" | tr -d '"')"
    else
      printf '  - public-key: %s\n    allowed-ips: [%s]\n' "${MANY[i]}" "$(many_list "$i")"
    fi
  done
}
few_peers() {
  local i last=$((${#FEW[@]} - 1))
  for i in "${!FEW[@]}"; do
    if [[ $1 == wg ]]; then
      printf '[Peer]\nPublicKey = %s\n' "${FEW[i]}"
      ((i < last)) || printf 'AllowedIPs = %s\n' "$FEW_LAST_IPS"
      echo
    else
      printf '  - public-key: %s\n' "${FEW[i]}"
      ((i < last)) || printf '    allowed-ips: [198.19.200.0/24, "2001:db8:c::/48"]\n'
    fi
  done
}
(umask 077 && {
  x_interface
  w_peer
  printf '[Peer]\nPublicKey = %s\n' "$PUB_BIG"
  big_list "AllowedIPs = "
} >"$WORK_DIR/a.conf")
(umask 077 && { x_interface && w_peer && many_peers wg; } >"$WORK_DIR/b.conf")
(umask 077 && { x_interface && few_peers wg; } >"$WORK_DIR/c.conf")

# C's YAML files: interface, W, then BIG (big), b's peers (many) or c's (few).
c_yaml() {
  printf 'interface:\n  name: %s\n  private-key-file: %s\n  listen-port: %s\n' "$TUN_C" "$WORK_DIR/c.key" "$PORT_C"
  printf '  address: [198.18.3.1/24]\n  routes: false\npeers:\n'
  printf '  - name: wg-go\n    public-key: %s\n    endpoint: 203.0.113.2:%s\n    allowed-ips: [198.18.2.0/24]\n' \
    "$PUB_W" "$PORT_W"
  case $1 in
    big)
      printf '  - name: big\n    public-key: %s\n    allowed-ips:\n' "$PUB_BIG"
      big_list "      - "
      ;;
    many) many_peers yaml ;;
    few) few_peers yaml ;;
  esac
}

# --- helpers ------------------------------------------------------------------------------
wgt() { timeout "$WG_BOUND" wg "$@"; }

# counts IFACE: "KEY COUNT" for each peer of `wg show IFACE allowed-ips`.
counts() {
  wgt show "$1" allowed-ips | awk -F '\t' '{ n = ($2 == "(none)") ? 0 : split($2, f, " "); print $1, n }'
}
count_of() { awk -v k="$2" '$1 == k { print $2; f = 1 } END { if (!f) print 0 }' <<<"$1"; }

# listed IFACE KEY FILE: KEY's allowed-ips as `wg show IFACE allowed-ips` lists them, one a line, sorted.
listed() {
  wgt show "$1" allowed-ips | awk -F '\t' -v k="$2" '$1 == k { n = split($2, f, " "); for (i = 1; i <= n; i++) print f[i] }' |
    sort >"$3"
}

# check_big CASE IFACE: BIG's allowed-ips on IFACE are exactly big_list's.
check_big() {
  local c=$1 got="$WORK_DIR/big.got" n missing extra e
  listed "$2" "$PUB_BIG" "$got"
  n=$(wc -l <"$got")
  missing=$(comm -23 "$WORK_DIR/big.want" "$got" | wc -l)
  extra=$(comm -13 "$WORK_DIR/big.want" "$got" | wc -l)
  if ((n == BIG_COUNT && missing == 0 && extra == 0)); then
    pass "$c: wg show $2 allowed-ips lists BIG's $n prefixes, exactly"
  else
    fail "$c: wg show $2 allowed-ips lists $n of BIG's prefixes ($missing missing, $extra not BIG's)"
  fi
  local absent=()
  for e in 1.0.0.0/16 198.18.0.0/16 255.255.0.0/16 2001:db8:f000::1:0/128 2001:db8:f000::c6:12/128 \
    2001:db8:f000::ff:ff/128; do
    grep -qxF "$e" "$got" || absent+=("$e")
  done
  if ((${#absent[@]} == 0)); then
    pass "$c: among them 1.0.0.0/16, 198.18.0.0/16, 255.255.0.0/16, 2001:db8:f000::1:0/128, ::c6:12/128, ::ff:ff/128"
  else
    fail "$c: not listed: ${absent[*]}"
  fi
}

# Ping phases: 100 pings a second from NS to DST, timestamped (-D); each
# phase reports the longest gap between successive replies (a figure) and
# checks that replies come after the phase.
ping_start() {
  PING_PHASE=$1 PING_LOG="$WORK_DIR/ping-$1.out"
  start_bg "$PING_LOG" ip netns exec "$2" ping -D -n -i 0.01 -W 1 -w "$PING_BOUND" "$3"
  PING_PID=$BG_PID
  wait_until "the first ping reply ($1)" 10 grep -q 'bytes from' "$PING_LOG" ||
    fail "f: $1: no ping reply before the phase"
}
_reply_after() { awk -F '[][]' -v t="$1" '/bytes from/ && $2 > t { f = 1; exit } END { exit !f }' "$PING_LOG"; }
ping_stop() {
  local t=$EPOCHREALTIME ok=0 gap
  wait_until "a ping reply after $PING_PHASE" 10 _reply_after "$t" && ok=1
  stop_pid "$PING_PID" 2
  gap=$(awk -F '[][]' '/bytes from/ { if (n++ && $2 - last > max) max = $2 - last; last = $2 }
    END { printf "longest gap between replies %.0f ms (%d replies)", max * 1000, n }' "$PING_LOG")
  FIGURES+=("$PING_PHASE: $gap")
  if ((ok)); then
    pass "f: $PING_PHASE: ping replies go on after it; $gap"
  else
    fail "f: $PING_PHASE: no ping reply within 10 s after it; $gap"
  fi
}

# wg_rc CASE RC ERRFILE WHAT: PASS if RC is 0, FAIL naming a SIGPIPE.
wg_rc() {
  if (($2 == 0)); then
    pass "$1: $4 exited 0"
  elif (($2 == 141)); then
    fail "$1: $4 was killed by SIGPIPE (exit 141): the daemon closed the socket before reading the request"
  else
    fail "$1: $4 exited $2: $(tr '\n' ' ' <"$3")"
  fi
}

# --- topology, X and W ------------------------------------------------------------------
underlay_pair "$NS_UA" "${P}va" "$NS_UB" "${P}vb"
ns_add "$NS_IA"
# Forwarding on where X and C run: otherwise every change of allowed-ips
# logs a warning about it, and e counts X's warnings.
ip netns exec "$NS_UA" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1

start_bg "$WORK_DIR/x.log" ip netns exec "$NS_UA" env JOURNAL_STREAM=8:4242 "$SITELINKD" -f "$TUN_X"
PID_X=$BG_PID
LOG_X="$WORK_DIR/x.log"
wait_until "X's socket" 10 test -S "$SOCK_X"
ip -n "$NS_UA" link set "$TUN_X" netns "$NS_IA"
start_wireguard_go "$NS_UB" "$TUN_W" "$WORK_DIR/wireguard-go.log"

wgt set "$TUN_X" private-key "$WORK_DIR/x.key" listen-port "$PORT_X" \
  peer "$PUB_W" endpoint "203.0.113.2:$PORT_W" allowed-ips 198.18.2.0/24,2001:db8:2::/64
wgt set "$TUN_W" private-key "$WORK_DIR/w.key" listen-port "$PORT_W" \
  peer "$PUB_X" allowed-ips 198.18.1.0/24,2001:db8:1::/64 \
  peer "$PUB_C" allowed-ips 198.18.3.0/24
ip -n "$NS_IA" addr add 198.18.1.1/24 dev "$TUN_X"
ip -n "$NS_IA" addr add 2001:db8:1::1/64 dev "$TUN_X" nodad
ip -n "$NS_IA" link set "$TUN_X" up
ip -n "$NS_IA" route add 198.18.2.0/24 dev "$TUN_X"
ip -n "$NS_IA" route add 2001:db8:2::/64 dev "$TUN_X"
ip -n "$NS_UB" addr add 198.18.2.1/24 dev "$TUN_W"
ip -n "$NS_UB" addr add 2001:db8:2::1/64 dev "$TUN_W" nodad
ip -n "$NS_UB" link set "$TUN_W" up
ip -n "$NS_UB" route add 198.18.1.0/24 dev "$TUN_W"
ip -n "$NS_UB" route add 2001:db8:1::/64 dev "$TUN_W"
ip -n "$NS_UB" route add 198.18.3.0/24 dev "$TUN_W"

if wait_until "the tunnel X - W" 10 ping_once "$NS_IA" 198.18.2.1 &&
  wait_until "IPv6 through it" 10 ping_once "$NS_IA" 2001:db8:2::1; then
  pass "start: X (sitelinkd -f) and W (wireguard-go) ping each other over IPv4 and IPv6"
else
  fail "start: no ping through the tunnel X - W"
fi

# --- a, f(1), f(2): 130,560 allowed-ips set and read ---------------------------------------
case_a() {
  local rc=0 t0
  ping_start "set-130560" "$NS_IA" 198.18.2.1
  t0=$(now_ms)
  wgt setconf "$TUN_X" "$WORK_DIR/a.conf" 2>"$WORK_DIR/wg.err" || rc=$?
  FIGURES+=("a: wg setconf of 130,560 allowed-ips: exit $rc after $(($(now_ms) - t0)) ms")
  wg_rc a "$rc" "$WORK_DIR/wg.err" "wg setconf of W and BIG (130,560 allowed-ips)"
  ping_stop
  ping_start "get-130560" "$NS_IA" 198.18.2.1
  check_big a "$TUN_X"
  ping_stop
  local c
  c=$(counts "$TUN_X")
  if [[ $(count_of "$c" "$PUB_W") == 2 && $(wc -l <<<"$c") == 2 ]]; then
    pass "a: W kept its 2 allowed-ips; 2 peers"
  else
    fail "a: peers and counts after the set: $(tr '\n' ' ' <<<"$c")"
  fi
}

# --- e: one allowed-ip beyond the limit ------------------------------------------------------
case_e() {
  local rc=0 t0 t1 before after mark warnings
  before=$(counts "$TUN_X")
  t0=$(now_ms)
  (umask 077 && {
    x_interface
    w_peer
    printf '[Peer]\nPublicKey = %s\n' "$PUB_OVER"
    awk -v n="$OVER_COUNT" 'BEGIN { for (x = 0; x < n; x++) printf "AllowedIPs = 2001:db8:e000::%x:%x/128\n", int(x / 65536), x % 65536 }'
  } >"$WORK_DIR/e.conf")
  t1=$(now_ms)
  mark=$(wc -c <"$LOG_X")
  ping_start "over-limit" "$NS_IA" 198.18.2.1
  wgt setconf "$TUN_X" "$WORK_DIR/e.conf" 2>"$WORK_DIR/wg.err" || rc=$?
  FIGURES+=("e: $OVER_COUNT allowed-ips: file made in $((t1 - t0)) ms ($(($(stat -c %s "$WORK_DIR/e.conf") >> 20)) MiB); wg setconf exit $rc after $(($(now_ms) - t1)) ms")
  if ((rc != 0 && rc != 141)) && grep -q "Argument list too long" "$WORK_DIR/wg.err"; then
    pass "e: wg setconf of $OVER_COUNT allowed-ips exited $rc: $(tr '\n' ' ' <"$WORK_DIR/wg.err")"
  else
    fail "e: wg setconf of $OVER_COUNT allowed-ips exited $rc (want non-zero, not 141, with \"Argument list too long\"): $(tr '\n' ' ' <"$WORK_DIR/wg.err")"
  fi
  wait_until "X's warning" 5 sh -c "tail -c +$((mark + 1)) '$LOG_X' | grep -q '^<[0-4]>'" || true
  after=$(counts "$TUN_X")
  if [[ $after == "$before" ]]; then
    pass "e: wg show allowed-ips as before the refused set ($(wc -l <<<"$after") peers, counts unchanged)"
  else
    fail "e: wg show allowed-ips changed: before '${before//$'\n'/|}', after '${after//$'\n'/|}'"
  fi
  ping_stop
  # One line at warning level or worse (<0>..<4>) since the request, naming the limit.
  warnings=$(tail -c +$((mark + 1)) "$LOG_X" | grep '^<[0-4]>' || true)
  if [[ $(grep -c . <<<"$warnings") == 1 ]] && grep -qE '1,?048,?576' <<<"$warnings"; then
    pass "e: X logged one warning: $warnings"
  else
    fail "e: X's log since the request, at warning level or worse (want one line naming 1048576): '${warnings//$'\n'/|}'"
  fi
  if kill -0 "$PID_X" 2>/dev/null; then pass "e: X still runs"; else fail "e: X exited"; fi
  rm -f "$WORK_DIR/e.conf"
}

# --- f(3): a slow set does not hold up another client's get -------------------------------
# argv: socket, public key (base64), count, piece size, pause between pieces (s).
SLOW_CLIENT=$(
  cat <<'PY'
import base64, socket, sys, time
path, key, n, piece, pause = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
lines = ["set=1", "public_key=" + base64.b64decode(key).hex()]
lines += ["allowed_ip=2001:db8:d000::%x:%x/128" % (x >> 16, x & 0xFFFF) for x in range(n)]
body = ("\n".join(lines) + "\n\n").encode()
pieces = (len(body) + piece - 1) // piece
try:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    for i in range(pieces):
        s.sendall(body[i * piece:(i + 1) * piece])
        print("piece", i + 1, "of", pieces, flush=True)
        if i + 1 < pieces:
            time.sleep(pause)  # the pace of a slow writer
    print("sent-all", flush=True)
    answer = b""
    while not answer.endswith(b"\n\n"):
        chunk = s.recv(4096)
        if not chunk:
            break
        answer += chunk
    print("answer", answer.decode(errors="replace").strip().replace("\n", " "), flush=True)
except OSError as e:
    print("error", e, flush=True)
    sys.exit(1)
PY
)

case_f3() {
  local slow out="$WORK_DIR/slow-set.out" rc=0 t0 took progress
  ping_start "slow-set" "$NS_IA" 198.18.2.1
  start_bg "$out" python3 -c "$SLOW_CLIENT" "$SOCK_X" "$PUB_SLOW" "$BIG_COUNT" 65536 0.05
  slow=$BG_PID
  wait_until "the slow set to be under way" 10 grep -q '^piece 3 ' "$out" || true
  t0=$(now_ms)
  { wgt show "$TUN_X" >"$WORK_DIR/show.out" && wgt showconf "$TUN_X" >"$WORK_DIR/showconf.out"; } \
    2>"$WORK_DIR/wg.err" || rc=$?
  took=$(($(now_ms) - t0))
  progress=$(grep -E '^(piece|sent-all|answer|error)' "$out" | tail -n 1 || true)
  if ((rc == 0)) && ! grep -q '^sent-all' "$out" && grep -q '^piece ' "$out"; then
    pass "f: wg show and wg showconf of X completed in $took ms while the slow set was being written ($progress)"
  elif ((rc == 0)); then
    fail "f: wg show and showconf completed ($took ms), but not while the slow set was in progress ($progress)"
  else
    fail "f: wg show or showconf during the slow set exited $rc after $took ms: $(tr '\n' ' ' <"$WORK_DIR/wg.err")"
  fi
  wait_until "the slow set's answer" 30 grep -qE '^(answer|error)' "$out" || true
  stop_pid "$slow" 2
  if grep -qx 'answer errno=0' "$out"; then
    pass "f: the slow set of $BIG_COUNT allowed-ips was answered errno=0"
  else
    fail "f: the slow set: $(grep -E '^(sent-all|answer|error)' "$out" | tr '\n' ' ' || true) (last: $progress)"
  fi
  local n
  n=$(count_of "$(counts "$TUN_X")" "$PUB_SLOW")
  if [[ $n == "$BIG_COUNT" ]]; then pass "f: SLOW has its $n allowed-ips"; else fail "f: SLOW has $n allowed-ips, want $BIG_COUNT"; fi
  ping_stop
}

# check_many CASE IFACE: b's 40 peers with 52 each, W with its own, nobody else.
check_many() {
  local c=$1 got i n bad=() want_w=$3
  got=$(counts "$2")
  for i in "${!MANY[@]}"; do
    n=$(count_of "$got" "${MANY[i]}")
    [[ $n == 52 ]] || bad+=("peer $i: $n")
  done
  if ((${#bad[@]} == 0)); then
    pass "$c: each of the 40 peers is listed with its 52 allowed-ips"
  else
    fail "$c: allowed-ips per peer, want 52: ${bad[*]}"
  fi
  if [[ $(wc -l <<<"$got") == 41 && $(count_of "$got" "$PUB_W") == "$want_w" ]]; then
    pass "$c: 41 peers: the 40 and W (with $want_w)"
  else
    fail "$c: $(wc -l <<<"$got") peers listed (want the 40 and W with $want_w): BIG $(count_of "$got" "$PUB_BIG"), SLOW $(count_of "$got" "$PUB_SLOW")"
  fi
}

# showconf_allowed CONF KEY: KEY's AllowedIPs in the showconf output CONF,
# sorted and comma-separated ("" if it has none).
showconf_allowed() {
  awk -v k="$2" '/^\[/ { p = 0 } /^PublicKey = / { p = ($3 == k) } p && /^AllowedIPs = / { sub(/^AllowedIPs = /, ""); print }' "$1" |
    tr ',' '\n' | tr -d ' ' | sed '/^$/d' | sort | paste -sd, -
}

# check_few CASE IFACE PEERS: showconf exits 0 with PEERS [Peer] sections;
# of c's 30 only the last has AllowedIPs, and they are FEW_LAST_IPS.
check_few() {
  local c=$1 rc=0 conf="$WORK_DIR/few-showconf.out" sections i got bad=()
  wgt showconf "$2" >"$conf" 2>"$WORK_DIR/wg.err" || rc=$?
  wg_rc "$c" "$rc" "$WORK_DIR/wg.err" "wg showconf $2"
  sections=$(grep -cx '\[Peer\]' "$conf" || true)
  for i in "${!FEW[@]}"; do
    got=$(showconf_allowed "$conf" "${FEW[i]}")
    if ((i + 1 < ${#FEW[@]})); then
      [[ -z $got ]] || bad+=("peer $i: $got")
    elif [[ $got != "$FEW_LAST_SORTED" ]]; then
      bad+=("the last: '$got'")
    fi
  done
  if [[ $sections == "$3" && ${#bad[@]} == 0 ]]; then
    pass "$c: showconf has $sections [Peer] sections; of the 30 only the last has AllowedIPs ($got)"
  else
    fail "$c: showconf has $sections [Peer] sections (want $3); AllowedIPs of the 30 not as written: ${bad[*]}"
  fi
}

case_b() {
  local rc=0
  ping_start "setconf-40x52" "$NS_IA" 198.18.2.1
  wgt setconf "$TUN_X" "$WORK_DIR/b.conf" 2>"$WORK_DIR/wg.err" || rc=$?
  wg_rc b "$rc" "$WORK_DIR/wg.err" "wg setconf of W and 40 peers of 52 allowed-ips"
  check_many b "$TUN_X" 2
  ping_stop
}

case_c() {
  local rc=0
  wgt setconf "$TUN_X" "$WORK_DIR/c.conf" 2>"$WORK_DIR/wg.err" || rc=$?
  wg_rc c "$rc" "$WORK_DIR/wg.err" "wg setconf of 30 peers, the last alone with allowed-ips"
  check_few c "$TUN_X" 30
}

case_d() {
  local rc t0 tool
  for tool in wg "$SITELINK"; do
    rc=0
    t0=$(now_ms)
    timeout 10 "$tool" show "${P}nx" >"$WORK_DIR/d.out" 2>&1 || rc=$?
    if ((rc != 0 && rc != 141 && rc != 124)); then
      pass "d: $(basename "$tool") show ${P}nx (no such interface) exited $rc in $(($(now_ms) - t0)) ms: $(head -n 1 "$WORK_DIR/d.out")"
    else
      fail "d: $(basename "$tool") show ${P}nx (no such interface) exited $rc (124: still running after 10 s): $(tr '\n' ' ' <"$WORK_DIR/d.out")"
    fi
  done
}

# --- g: the same sizes through the YAML file and SIGHUP ------------------------------------
peers_are() { [[ $(wgt show "$TUN_C" peers | wc -l) == "$1" ]] && [[ -z $2 || $(wgt show "$TUN_C" peers) != *"$2"* ]]; }

# reload_c KIND WHAT PEERS GONE: C's file becomes c_yaml KIND, C is sent
# SIGHUP, and (bounded) C then lists PEERS peers and no longer GONE.
reload_c() {
  (umask 077 && c_yaml "$1" >"$WORK_DIR/gw-c.yaml")
  kill -HUP "${GW_PID[c]}"
  wait_until "C's reload to $2" 60 peers_are "$3" "$4" && return 0
  fail "g: C did not reload to $2: $(grep -i reload "${GW_LOG[c]}" | tail -n 3 | tr '\n' ' ')"
  return 1
}

case_g() {
  GW_NS[c]=$NS_UA
  (umask 077 && c_yaml big >"$WORK_DIR/gw-c.yaml")
  local t0
  t0=$(now_ms)
  if START_BOUND=60 start_gw c info; then
    pass "g: sitelinkd --config with W and BIG (130,560 allowed-ips) started in $(($(now_ms) - t0)) ms"
    FIGURES+=("g: sitelinkd --config start with 130,560 allowed-ips: $(($(now_ms) - t0)) ms to listening")
  else
    fail "g: sitelinkd --config with BIG did not start: $(tail -n 3 "${GW_LOG[c]}" | tr '\n' ' ')"
    return
  fi
  ip -n "$NS_UA" route add 198.18.2.0/24 dev "$TUN_C"
  if wait_until "the tunnel C - W" 15 ping_once "$NS_UA" 198.18.2.1; then
    pass "g: C pings W through its tunnel"
  else
    fail "g: no ping through the tunnel C - W"
  fi
  check_big g "$TUN_C"
  local out rc=0 n
  out=$(timeout "$WG_BOUND" "$SITELINK" show "$TUN_C" 2>&1) || rc=$?
  # `sitelink show` lists a peer's allowed-ips on one line, comma-separated.
  n=$(awk -v k="peer: $PUB_BIG" 'index($0, k) { p = 1; next } /^peer: / { p = 0 }
    p && /^ *allowed ips: / { sub(/^ *allowed ips: /, ""); print split($0, f, ", "); exit }' <<<"$out")
  if ((rc == 0)) && [[ $n == "$BIG_COUNT" ]]; then
    pass "g: sitelink show $TUN_C lists BIG's $n allowed-ips"
  else
    fail "g: sitelink show $TUN_C (exit $rc) lists ${n:-no} allowed-ips for BIG: $(head -c 300 <<<"$out" | tr '\n' '|')"
  fi

  if reload_c many "W and the 40 peers" 41 "$PUB_BIG"; then check_many g "$TUN_C" 1; fi
  if reload_c few "W and the 30 peers" 31 "${MANY[0]}"; then check_few g "$TUN_C" 31; fi
  # Back to BIG while traffic flows through C: how long the packet loop pauses.
  ping_start "reload-to-130560" "$NS_UA" 198.18.2.1
  if reload_c big "W and BIG" 2 "${FEW[0]}"; then check_big g "$TUN_C"; fi
  ping_stop
  stop_gw_check g c
}

case_a
case_e
case_f3
case_b
case_c
case_d
case_g
log "figures:"
for f in "${FIGURES[@]}"; do echo "  $f"; done
