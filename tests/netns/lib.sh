# shellcheck shell=bash
# shellcheck disable=SC2034  # PREFIX, STOP_RC, ... are read by the sourcing script
# Shared helpers for the network-namespace test scripts (tests/netns/*.sh).
# Source it, then call lib_init first:
#
#   source "$SCRIPT_DIR/lib.sh"
#   lib_init two-offices slo        # log tag, name stem (PREFIX=slo$$)
#
# What it gives a script:
#   PREFIX, WORK_DIR      unique name prefix for this run; a private temp dir
#   log / pass / fail     "TAG: ..." on stderr; "PASS: ..." / "FAIL: ..." on
#                         stdout (fail counts into FAILED and never exits)
#   require_root, require_tools TOOL..., require_tun (/dev/net/tun)
#   require_exec VAR...   each variable holds an executable's path, made
#                         absolute; a missing one ends the script
#   sitelink_binaries [SITELINKD [SITELINK]]   SITELINKD and SITELINK (by
#                         default <repo>/build/daemon/sitelinkd and the
#                         sitelink beside it), checked with require_exec
#   on_cleanup CMD ARG... run at exit (last registered first)
#   ns_add NS...          new namespaces with lo up, deleted at exit
#   veth_add NS1 IF1 NS2 IF2   a veth pair between two namespaces, both ends up
#   wait_until DESC SECS CMD...   poll CMD every 0.1 s for at most SECS
#   gen_key BIN DIR NAME  DIR/NAME.key (mode 600) and DIR/NAME.pub with
#                         `BIN genkey` / `BIN pubkey` (sitelink or wg)
#   gen_psk BIN FILE      FILE (mode 600) with `BIN genpsk`
#   start_bg LOG CMD...   CMD in the background, output to LOG; its PID in
#                         BG_PID, remembered so that cleanup stops it
#   stop_pid PID [SECS]   SIGTERM, up to SECS (default 5) to exit, then SIGKILL;
#                         sets STOP_RC (exit status) and STOP_KILLED (0/1)
#   kill_pid PID          SIGKILL and reap (a crash); sets STOP_RC
#   now_ms                monotonic-enough wall clock in milliseconds
#   ping_once NS DST [ARGS...]   one ping from NS (-W 1, ARGS may override),
#                         at most 5 s; true if it was answered
#   check_ping LABEL NS DST [ARGS...]   3 pings from NS (at most 20 s): PASS
#                         if all came back, FAIL with ping's output if not
#   ping_counts FILE      PING_TX and PING_RX: packets sent and received by
#                         ping's summary in FILE ("" if it has none)
#   count PATTERN FILE    lines of FILE matching PATTERN (grep), 0 if none
#   xfer_data KB          a random file of KB KiB to send (XFER_DATA) and
#                         what a receiver must report for it (XFER_WANT)
#   xfer FROM_NS TO_NS DST BOUND   a sha256-checked TCP transfer of
#                         XFER_DATA (tests/support/xfer.py) from FROM_NS to a
#                         fresh server in TO_NS at DST (ports from 5001 up);
#                         true if every byte arrived within BOUND seconds
#   wg_field NS IFACE FIELD PUBKEY [COLUMN]   column COLUMN (default 2) of
#                         `wg show IFACE FIELD` in NS for the peer PUBKEY;
#                         "" if not listed
#   has_handshake NS IFACE PUBKEY   wg shows a handshake with PUBKEY
#   show_query CMD FILE ARGS...   a value from a saved `sitelink show --json`
#                         (FILE, or - for stdin) by tests/support/show_json.py:
#                         drops, drop [REASON...], drop-deltas, peer PEER FIELD;
#                         false and no output if it is not there
#
# Cleanup (on every exit, also after a failure or a signal) stops the
# processes started with start_bg that are still running, runs the
# on_cleanup commands, deletes the namespaces, prints every *.log in
# WORK_DIR if anything failed (or always with NETNS_VERBOSE=1) and removes
# WORK_DIR. The script's exit status is non-zero if any check failed.
# Only processes this script started are ever signalled, by PID.

_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LIB_TAG=netns
PREFIX=""
WORK_DIR=""
FAILED=0
PASSED=0
BG_PID=""
STOP_RC=0
STOP_KILLED=0
_LIB_PIDS=()
_LIB_NS=()
_LIB_CLEANUPS=()

log() { echo "$LIB_TAG: $*" >&2; }
pass() { echo "PASS: $*"; PASSED=$((PASSED + 1)); }
fail() { echo "FAIL: $*"; FAILED=$((FAILED + 1)); }

# lib_init TAG STEM: PREFIX=STEM<pid> (keep STEM short: interface names
# built from PREFIX must stay within 15 characters), WORK_DIR, traps.
lib_init() {
  LIB_TAG=$1
  PREFIX="$2$$"
  WORK_DIR=$(mktemp -d "/tmp/${PREFIX}.XXXXXX")
  chmod 700 "$WORK_DIR"
  trap _lib_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

require_root() {
  if [[ $(id -u) -ne 0 ]]; then
    log "must run as root (needs network namespaces and TUN devices)"
    exit 1
  fi
}

require_tools() {
  local t
  for t in "$@"; do
    command -v "$t" >/dev/null || { log "missing tool: $t"; exit 1; }
  done
}

require_tun() {
  [[ -c /dev/net/tun ]] || { log "no /dev/net/tun"; exit 1; }
}

require_exec() {
  local var path
  for var in "$@"; do
    path=${!var}
    [[ -x "$path" ]] || { log "not executable: $path (build it first)"; exit 1; }
    printf -v "$var" '%s' "$(cd "$(dirname "$path")" && pwd)/$(basename "$path")"
  done
}

sitelink_binaries() {
  SITELINKD=${1:-"$_LIB_DIR/../../build/daemon/sitelinkd"}
  SITELINK=${2:-"$(dirname "$SITELINKD")/sitelink"}
  require_exec SITELINKD SITELINK
}

now_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }

ping_once() { ip netns exec "$1" timeout 5 ping -n -q -c 1 -W 1 "${@:3}" "$2" >/dev/null 2>&1; }

check_ping() {
  local label=$1 ns=$2 dst=$3 out="$WORK_DIR/ping.out"
  shift 3
  if ip netns exec "$ns" timeout 20 ping -n -q -c 3 -i 0.2 -W 2 "$@" "$dst" >"$out" 2>&1; then
    pass "$label: ${ns#"$PREFIX"} -> $dst${*:+ $*} ($(grep -o 'rtt.*' "$out" || true))"
  else
    fail "$label: ${ns#"$PREFIX"} -> $dst${*:+ $*}: $(tr '\n' ' ' <"$out")"
  fi
}

ping_counts() {
  PING_TX=$(sed -n 's/^\([0-9]*\) packets transmitted.*/\1/p' "$1")
  PING_RX=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$1")
}

count() { grep -c -- "$1" "$2" || true; }

# network_pid PID: the network process of the sitelinkd whose monitor is
# PID (privilege separation: the process a test starts is the monitor; the
# packets, threads and capabilities are its one child's); nothing if there
# is none (yet).
network_pid() { pgrep -P "$1" -x sitelinkd | head -n 1 || true; }

# crypto_threads PID: how many crypto threads (sitelink-crypto) the
# sitelinkd with monitor PID runs.
crypto_threads() {
  local pid
  pid=$(network_pid "$1")
  [[ -n $pid ]] || { echo 0; return; }
  cat /proc/"$pid"/task/*/comm 2>/dev/null | grep -cx sitelink-crypto || true
}

# threads_beyond_net_admin PID [BOUNDING]: each thread of the network process
# of the sitelinkd with monitor PID that runs as root, holds anything but
# CAP_NET_ADMIN in its effective or permitted set, anything inheritable or
# ambient, anything in its bounding set beyond BOUNDING (default
# 0000000000001000, CAP_NET_ADMIN alone) or lacks no_new_privs, as
# NAME/TID:WHAT (nothing when all are right; capabilities are per thread).
threads_beyond_net_admin() {
  local pid t bnd=${2:-0000000000001000} st
  pid=$(network_pid "$1")
  [[ -n $pid ]] || { echo "sitelinkd/$1:no-network-process"; return; }
  for t in /proc/"$pid"/task/*; do
    st=$(awk -v bnd="$bnd" '
      /^Uid:/ { for (i = 2; i <= 5; i++) if ($i == 0) bad = bad " uid0" }
      /^Cap(Eff|Prm):/ && $2 != "0000000000001000" { bad = bad " " $1 $2 }
      /^Cap(Inh|Amb):/ && $2 != "0000000000000000" { bad = bad " " $1 $2 }
      /^CapBnd:/ && $2 != "0000000000001000" && $2 != bnd { bad = bad " " $1 $2 }
      /^NoNewPrivs:/ { nnp = $2 }
      END { if (nnp != 1) bad = bad " NoNewPrivs:" nnp; print bad }' "$t/status" 2>/dev/null)
    [[ -z $st ]] || echo "$(cat "$t/comm" 2>/dev/null)/${t##*/}:${st# }"
  done
}

# monitor_beyond_read PID [BOUNDING]: what the monitor PID holds beyond
# CAP_DAC_READ_SEARCH (effective, permitted; bounding beyond BOUNDING if
# given), inheritable or ambient capabilities, no_new_privs unset, or an
# open socket other than a UNIX one (it must never touch the network);
# nothing when all is right.
monitor_beyond_read() {
  local bad fd
  bad=$(awk -v bnd="${2:-0000000000000004}" '
    /^Cap(Eff|Prm):/ && $2 != "0000000000000004" && $2 != "0000000000000000" { b = b " " $1 $2 }
    /^CapBnd:/ && $2 != "0000000000000004" && $2 != "0000000000000000" && $2 != bnd { b = b " " $1 $2 }
    /^Cap(Inh|Amb):/ && $2 != "0000000000000000" { b = b " " $1 $2 }
    /^NoNewPrivs:/ && $2 != 1 { b = b " NoNewPrivs:" $2 }
    END { print b }' "/proc/$1/status" 2>/dev/null)
  for fd in /proc/"$1"/fd/*; do
    case $(readlink "$fd" 2>/dev/null) in
      /dev/net/tun) bad+=" tun-fd" ;;
      socket:*)
        local ino
        ino=$(readlink "$fd" | tr -dc 0-9)
        awk -v i="$ino" '$7 == i { f = 1 } END { exit !f }' /proc/"$1"/net/unix 2>/dev/null ||
          bad+=" non-unix-socket:$ino"
        ;;
    esac
  done
  echo "${bad# }"
}

wg_field() {
  ip netns exec "$1" timeout 10 wg show "$2" "$3" 2>/dev/null |
    awk -v k="$4" -v c="${5:-2}" '$1 == k { print $c }' || true
}

has_handshake() {
  local h
  h=$(wg_field "$1" "$2" latest-handshakes "$3")
  [[ $h =~ ^[0-9]+$ ]] && ((h > 0))
}

show_query() { python3 "$_LIB_DIR/../support/show_json.py" "$@"; }

on_cleanup() {
  local q
  printf -v q '%q ' "$@"
  _LIB_CLEANUPS+=("$q")
}

ns_add() {
  local ns
  for ns in "$@"; do
    ip netns add "$ns"
    _LIB_NS+=("$ns")
    ip -n "$ns" link set lo up
  done
}

veth_add() {
  local ns1=$1 if1=$2 ns2=$3 if2=$4
  ip -n "$ns1" link add "$if1" type veth peer name "$if2" netns "$ns2"
  ip -n "$ns1" link set "$if1" up
  ip -n "$ns2" link set "$if2" up
}

xfer_data() {
  XFER_DATA="$WORK_DIR/xfer-data.bin"
  head -c "$(($1 * 1024))" /dev/urandom >"$XFER_DATA"
  XFER_WANT="$(sha256sum "$XFER_DATA" | cut -d' ' -f1) $(($1 * 1024))"
}

_XFER_PORT=5001
xfer() {
  local from=$1 to=$2 dst=$3 bound=$4 port=$_XFER_PORT slog got rc=0 server digest bytes
  _XFER_PORT=$((_XFER_PORT + 1))
  slog="$WORK_DIR/xfer-serve-$port.log"
  start_bg "$slog" ip netns exec "$to" python3 "$_LIB_DIR/../support/xfer.py" serve "$port"
  server=$BG_PID
  if ! wait_until "server on port $port" 10 grep -q ready "$slog"; then
    stop_pid "$server"
    return 1
  fi
  got=$(ip netns exec "$from" timeout "$bound" python3 "$_LIB_DIR/../support/xfer.py" send "$dst" "$port" \
    "$XFER_DATA" 2>&1) || rc=$?
  stop_pid "$server" 2
  log "transfer to $dst: exit $rc, answer '${got}'"
  read -r digest bytes _ <<<"$got"
  ((rc == 0)) && [[ "$digest $bytes" == "$XFER_WANT" ]]
}

wait_until() {
  local what=$1 secs=$2
  shift 2
  local deadline=$(($(now_ms) + secs * 1000))
  until "$@"; do
    if (($(now_ms) >= deadline)); then
      log "timed out after ${secs}s waiting for $what"
      return 1
    fi
    sleep 0.1
  done
}

gen_key() {
  local bin=$1 dir=$2 name=$3
  (umask 077 && "$bin" genkey >"$dir/$name.key")
  chmod 600 "$dir/$name.key"
  "$bin" pubkey <"$dir/$name.key" >"$dir/$name.pub"
}

gen_psk() {
  (umask 077 && "$1" genpsk >"$2")
  chmod 600 "$2"
}

# `ip netns exec NS PROG` execs PROG, so BG_PID is PROG's own PID.
start_bg() {
  local logfile=$1
  shift
  "$@" >"$logfile" 2>&1 &
  BG_PID=$!
  _LIB_PIDS+=("$BG_PID")
}

# adopt_pid PID: a process we did not start as a child (a daemon started by
# a launcher) that the cleanup stops too, by its PID.
adopt_pid() { _LIB_PIDS+=("$1"); }

_lib_forget() {
  local pid=$1 i
  for i in "${!_LIB_PIDS[@]}"; do
    [[ ${_LIB_PIDS[$i]} == "$pid" ]] && unset '_LIB_PIDS[i]'
  done
  return 0
}

# _lib_reap PID: wait for our child and record its exit status.
_lib_reap() {
  STOP_RC=0
  wait "$1" 2>/dev/null || STOP_RC=$?
  _lib_forget "$1"
}

stop_pid() {
  local pid=$1 secs=${2:-5} i
  STOP_KILLED=0
  STOP_RC=0
  [[ -n "$pid" ]] || return 0
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < secs * 10; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      kill -KILL "$pid" 2>/dev/null || true
      STOP_KILLED=1
    fi
  fi
  _lib_reap "$pid"
}

kill_pid() {
  local pid=$1
  STOP_RC=0
  [[ -n "$pid" ]] || return 0
  kill -KILL "$pid" 2>/dev/null || true
  _lib_reap "$pid"
}

_lib_show_logs() {
  local f
  for f in "$WORK_DIR"/*.log; do
    [[ -s "$f" ]] || continue
    log "--- $(basename "$f") ---"
    sed 's/^/  | /' "$f" >&2
  done
}

_lib_cleanup() {
  local rc=$?
  set +eu
  trap - INT TERM
  ((rc == 0 && FAILED > 0)) && rc=1
  local pid i ns
  for pid in "${_LIB_PIDS[@]}"; do stop_pid "$pid" 3; done
  for ((i = ${#_LIB_CLEANUPS[@]} - 1; i >= 0; i--)); do eval "${_LIB_CLEANUPS[$i]}" >/dev/null 2>&1; done
  for ns in "${_LIB_NS[@]}"; do ip netns del "$ns" 2>/dev/null; done
  if [[ -n "$WORK_DIR" && -d "$WORK_DIR" ]]; then
    ((rc != 0 || ${NETNS_VERBOSE:-0})) && _lib_show_logs
    rm -rf "$WORK_DIR"
  fi
  if ((rc == 0)); then
    echo "$LIB_TAG: all $PASSED checks passed"
  elif ((FAILED > 0)); then
    echo "$LIB_TAG: FAILED ($FAILED of $((PASSED + FAILED)) checks failed, exit $rc)"
  else
    echo "$LIB_TAG: FAILED (stopped with exit $rc after $PASSED passed checks)"
  fi
  exit "$rc"
}
