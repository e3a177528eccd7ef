#!/usr/bin/env bash
# sitelinkd under a systemd-like supervisor (SPEC.md "sitelinkd"; issue 5):
# the sd_notify datagram protocol on $NOTIFY_SOCKET, watchdog pings, journal
# priority prefixes, and a clean SIGTERM that leaves nothing behind.
#
# Usage: notify.sh [SITELINKD [SITELINK]]
#   defaults: <repo>/build/daemon/sitelinkd and <repo>/build/daemon/sitelink
#
#   namespace ${P}a                             namespace ${P}b
#   sitelinkd under test, TUN ${P}at             sitelinkd, TUN ${P}bt
#   NOTIFY_SOCKET=WORK_DIR/notify.sock          (plain stderr, no JOURNAL_STREAM)
#   WATCHDOG_USEC=2000000, JOURNAL_STREAM set
#   ${P}va 203.0.113.1/24 <------ veth ------> ${P}vb 203.0.113.2/24
#
# The notify socket is a filesystem AF_UNIX socket, reachable from inside
# the namespace; tests/netns/notify_listener.py prints what arrives, one
# datagram per line.
#
# Cases (PASS/FAIL lines; the exit status is non-zero if any failed):
#   a. start-up: READY=1 with a STATUS= line, once the TUN is up and the
#      UAPI socket is there; STATUS= changes to "1/1 peers up" when the
#      tunnel to gw-b comes up.
#   b. watchdog: WATCHDOG=1 within 2 s of READY=1, then regularly: never more
#      than WATCHDOG_USEC (2 s) between two pings, for the whole run.
#   c. SIGHUP with a valid file: RELOADING=1, then READY=1; the same for an
#      invalid file (the old configuration stays, and systemd must still see
#      READY=1).
#   d. logs: with JOURNAL_STREAM set every stderr line has a <N> prefix:
#      <6> for info (start-up line), <3> for the invalid reload, <7> for
#      debug; without it (gw-b) every line starts with an RFC 3339 time.
#   e. SIGTERM: STOPPING=1 arrives, sitelinkd exits 0, and no interface, no
#      route and no /run/wireguard/IFACE.sock remain; the same for gw-b.
#
# Needs root, ip, ping, timeout, python3.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/netns/lib.sh
source "$SCRIPT_DIR/lib.sh"
lib_init notify sln
# shellcheck source=tests/netns/topology.sh
source "$SCRIPT_DIR/topology.sh"

P=$PREFIX
NS_A="${P}a" NS_B="${P}b"
TUN_A="${P}at" TUN_B="${P}bt"
SOCK_A="/run/wireguard/$TUN_A.sock" SOCK_B="/run/wireguard/$TUN_B.sock"
START_BOUND=10
NOTIFY_BOUND=5       # s: a notification arrives after its event
WATCHDOG_USEC=2000000
WATCHDOG_RUN=3       # s: watch the pings this long before any reload
RELOAD_MARK=0        # datagrams received before the end of case c

require_root
require_tools ip ping timeout python3
require_tun
sitelink_binaries "$@"

on_cleanup rm -f "$SOCK_A" "$SOCK_B"
underlay_pair "$NS_A" "${P}va" "$NS_B" "${P}vb"
GW_NS=([a]=$NS_A [b]=$NS_B)

gw_keys a b
# write_config SIDE [TYPO]: the peer's allowed-ips key is misspelt with TYPO.
write_config() {
  local n=2
  [[ $1 == b ]] && n=1
  pair_config "$1" "allowed-${2:-ips}: [198.18.0.$n/32, 198.18.$n.0/24]"
}
write_config a
write_config b

# --- the notify listener ----------------------------------------------------------
NOTIFY_SOCK="$WORK_DIR/notify.sock"
NOTES="$WORK_DIR/notify.out"   # not *.log: printed below on failure
start_bg "$NOTES" python3 "$SCRIPT_DIR/notify_listener.py" "$NOTIFY_SOCK"
LISTENER_PID=$BG_PID
wait_until "the notify listener's socket" 5 test -S "$NOTIFY_SOCK"

# note_lines: how many datagrams so far.
note_lines() { wc -l <"$NOTES"; }
# notes_after N: the datagrams after the first N, fields only.
notes_after() { tail -n "+$(($1 + 1))" "$NOTES" | cut -f 2-; }
# seen_after N FIELD...: the fields arrive in this order after datagram N.
seen_after() {
  local n=$1
  shift
  notes_after "$n" | tr '\t' '\n' | awk -v want="$*" '
    BEGIN { k = split(want, w, " "); i = 1 }
    i <= k && $0 == w[i] { i++ }
    END { exit !(i > k) }'
}
show_notes() { cut -f 2- "$NOTES" | grep -v '^WATCHDOG=1$' | tr '\t' ' ' | tail -n "${1:-20}" | sed 's/^/    /' >&2; }

# --- start ---------------------------------------------------------------------------
launch_gw b debug
launch_gw a debug NOTIFY_SOCKET="$NOTIFY_SOCK" WATCHDOG_USEC="$WATCHDOG_USEC" JOURNAL_STREAM=8:4242
LOG_A=${GW_LOG[a]} LOG_B=${GW_LOG[b]} PID_A=${GW_PID[a]}

# --- a. READY and STATUS ------------------------------------------------------------
case_a() {
  if wait_until "READY=1" "$START_BOUND" seen_after 0 READY=1; then
    pass "a: READY=1 received"
  else
    fail "a: no READY=1 within ${START_BOUND}s"
    show_notes
    return
  fi
  local ready
  ready=$(grep -m1 -P '\tREADY=1(\t|$)' "$NOTES" | cut -f 2-)
  if [[ $ready == *STATUS=* ]] || grep -q -P '\tSTATUS=' "$NOTES"; then
    pass "a: STATUS= sent with READY ($(grep -m1 -o -P 'STATUS=[^\t]*' "$NOTES"))"
  else
    fail "a: no STATUS= line"
  fi
  if ip -n "$NS_A" link show "$TUN_A" 2>/dev/null | grep -q '[<,]UP[,>]' && [[ -S $SOCK_A ]]; then
    pass "a: after READY=1 the TUN is up and $SOCK_A exists"
  else
    fail "a: after READY=1: TUN $(ip -n "$NS_A" -br link show "$TUN_A" 2>&1), socket $(ls -l "$SOCK_A" 2>&1)"
  fi
  if wait_until "STATUS with the peer up" "$START_BOUND" grep -q -P '\tSTATUS=1/1 peers up' "$NOTES"; then
    pass "a: STATUS changed when the tunnel came up: $(grep -m1 -o -P 'STATUS=1/1 [^\t]*' "$NOTES")"
  else
    fail "a: no STATUS=1/1 peers up within ${START_BOUND}s"
    show_notes
  fi
}

# --- b. watchdog ----------------------------------------------------------------------
# watchdog_gaps: "COUNT MAX_GAP_MS FIRST_AFTER_READY_MS" over the whole run.
watchdog_gaps() {
  awk -F '\t' '
    { ready = 0; wd = 0
      for (i = 2; i <= NF; i++) { if ($i == "READY=1") ready = 1; if ($i == "WATCHDOG=1") wd = 1 } }
    ready && r0 == "" { r0 = $1 }
    wd { n++; if (last != "" && $1 - last > max) max = $1 - last; last = $1
         if (first == "" && r0 != "") first = $1 - r0 }
    END { printf "%d %d %s\n", n, max, (first == "" ? "none" : first) }' "$NOTES"
}

case_b() {
  sleep "$WATCHDOG_RUN"
  local n max first
  read -r n max first < <(watchdog_gaps)
  if [[ $first != none ]] && ((first <= 2000)); then
    pass "b: first WATCHDOG=1 $first ms after READY=1"
  else
    fail "b: no WATCHDOG=1 within 2 s of READY=1 (${first})"
  fi
  if ((n >= WATCHDOG_RUN)); then
    pass "b: $n WATCHDOG=1 pings in the first ${WATCHDOG_RUN}+ s (WATCHDOG_USEC=$WATCHDOG_USEC)"
  else
    fail "b: only $n WATCHDOG=1 pings in ${WATCHDOG_RUN}+ s"
  fi
}

check_watchdog_gaps() {
  local n max first
  if wait_until "a WATCHDOG=1 after the reloads" 2 seen_after "$RELOAD_MARK" WATCHDOG=1; then
    pass "b: WATCHDOG=1 pings go on after the reloads"
  else
    fail "b: no WATCHDOG=1 within 2 s after the reloads"
  fi
  read -r n max first < <(watchdog_gaps)
  if ((max > 0 && max < WATCHDOG_USEC / 1000)); then
    pass "b: $n WATCHDOG=1 pings over the run, at most $max ms apart (limit $((WATCHDOG_USEC / 1000)) ms)"
  else
    fail "b: WATCHDOG=1 pings up to $max ms apart ($n pings), systemd would kill at $((WATCHDOG_USEC / 1000)) ms"
  fi
}

# --- c. SIGHUP -------------------------------------------------------------------------
# reload_case WHAT: SIGHUP and expect RELOADING=1 then READY=1.
reload_case() {
  local what=$1 n
  n=$(note_lines)
  kill -HUP "$PID_A"
  if wait_until "RELOADING=1 then READY=1" "$NOTIFY_BOUND" seen_after "$n" RELOADING=1 READY=1; then
    pass "c: $what: RELOADING=1 then READY=1"
  else
    fail "c: $what: no RELOADING=1 followed by READY=1 within ${NOTIFY_BOUND}s"
    show_notes 10
  fi
}

case_c() {
  reload_case "valid file"
  if wait_until "reload applied" "$NOTIFY_BOUND" grep -q 'reload: applied' "$LOG_A"; then
    pass "c: gw-a logged the reload as applied"
  else
    fail "c: no 'reload: applied' in gw-a's log"
  fi
  write_config a ip
  reload_case "invalid file"
  if kill -0 "$PID_A" 2>/dev/null && ping_once "$NS_A" 198.18.0.2; then
    pass "c: after the invalid reload gw-a runs on and the tunnel works"
  else
    fail "c: gw-a is gone or its tunnel broken after an invalid reload"
  fi
  write_config a
  RELOAD_MARK=$(note_lines)
}

# --- d. journal prefixes -----------------------------------------------------------
case_d() {
  local line bad
  line=$(grep -m1 'listening on port' "$LOG_A" || true)
  if [[ $line == "<6>"* ]]; then
    pass "d: JOURNAL_STREAM set: info line has <6>: $line"
  else
    fail "d: JOURNAL_STREAM set: start-up line lacks <6>: '$line'"
  fi
  line=$(grep -m1 'is invalid' "$LOG_A" || true)
  if [[ $line == "<3>"* ]]; then
    pass "d: JOURNAL_STREAM set: error line has <3>: $line"
  else
    fail "d: JOURNAL_STREAM set: invalid-reload line lacks <3>: '$line'"
  fi
  line=$(grep -m1 'handshake initiation to\|answered its handshake' "$LOG_A" || true)
  if [[ $line == "<7>"* ]]; then
    pass "d: JOURNAL_STREAM set: debug line has <7>: $line"
  else
    fail "d: JOURNAL_STREAM set: debug line lacks <7>: '$line'"
  fi
  bad=$(grep -c -v '^<[0-7]>' "$LOG_A" || true)
  if ((bad == 0)); then
    pass "d: every one of gw-a's $(wc -l <"$LOG_A") log lines has a <N> prefix"
  else
    fail "d: $bad of gw-a's log lines have no <N> prefix"
  fi
  line=$(grep -m1 'listening on port' "$LOG_B" || true)
  bad=$(grep -c -v -E '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z ' "$LOG_B" || true)
  if [[ $line =~ ^[0-9T:.-]+Z\ sitelinkd: ]] && ((bad == 0)); then
    pass "d: without JOURNAL_STREAM every line starts with an RFC 3339 time: $line"
  else
    fail "d: without JOURNAL_STREAM: $bad lines without an RFC 3339 time; start-up line '$line'"
  fi
}

# --- e. SIGTERM ------------------------------------------------------------------------
# leftovers NS TUN SOCK PREFIXES...: what remains of a stopped daemon.
leftovers() {
  local ns=$1 tun=$2 sock=$3 p out=""
  shift 3
  ip -n "$ns" link show "$tun" >/dev/null 2>&1 && out+=" interface $tun;"
  for p in "$@"; do
    [[ -n $(ip -n "$ns" route show "$p" 2>/dev/null) ]] && out+=" route $p;"
  done
  [[ -e $sock ]] && out+=" $sock;"
  echo "$out"
}

# stop_and_check GW TUN SOCK PREFIXES...: gw-GW's sitelinkd stops cleanly and
# leaves nothing behind.
stop_and_check() {
  local gw=$1 ns=${GW_NS[$1]} tun=$2 sock=$3 who="gw-$1" rest
  shift 3
  rest=$(leftovers "$ns" "$tun" "$sock" "$@")
  if [[ $rest == *"route "*"route "* && $rest == *interface* && $rest == *"$sock"* ]]; then
    pass "e: $who running: interface, routes and socket present"
  else
    fail "e: $who running, but expected interface, 2 routes and socket:$rest"
  fi
  stop_gw_check e "$gw"
  rest=$(leftovers "$ns" "$tun" "$sock" "$@")
  if [[ -z $rest ]]; then
    pass "e: $who left no interface, route or socket behind"
  else
    fail "e: $who left behind:$rest"
  fi
}

case_e() {
  local n
  n=$(note_lines)
  stop_and_check a "$TUN_A" "$SOCK_A" 198.18.0.2 198.18.2.0/24
  sleep 0.2  # the listener prints what already arrived
  if seen_after "$n" STOPPING=1; then
    pass "e: STOPPING=1 received"
  else
    fail "e: no STOPPING=1 after SIGTERM"
    show_notes 5
  fi
  local last
  last=$(notes_after "$n" | tail -n 1)
  if [[ $last == STOPPING=1 ]]; then
    pass "e: STOPPING=1 is the last notification"
  else
    fail "e: after STOPPING=1 came: $last"
  fi
  stop_and_check b "$TUN_B" "$SOCK_B" 198.18.0.1 198.18.1.0/24
}

case_a
case_b
case_c
check_watchdog_gaps
case_d
case_e
((FAILED == 0)) || { log "--- notifications (WATCHDOG=1 left out) ---"; show_notes 40; }
stop_pid "$LISTENER_PID"
