#!/usr/bin/env bash
# sitelinkd in scripts and pipes (issue 21, "process hygiene"):
#   a. `wg-quick up` with WG_QUICK_USERSPACE_IMPLEMENTATION=sitelinkd, its
#      output read through a pipe (as `| cat`, `| tee up.log` or Ansible do)
#      and then through `$(...)`: each reader sees the end of the output
#      within seconds, because the daemonized sitelinkd keeps none of the
#      caller's stdio; the daemon lives on after the reader is gone, logs
#      again (`wg set`) and still serves `wg show`.
#   b. `sitelinkd -f IFACE 2>&1 | head -n1`: once head has gone, the daemon
#      logs again (`wg set`) and is still running: SIGPIPE is ignored.
#   c. the same in --config mode, logging again through a reload (SIGHUP),
#      then exiting 0 on SIGTERM.
#   d. a daemonized start that fails (the interface name is taken) prints
#      the daemon's reason on the caller's stderr and exits 1.
#
# Usage: stdio.sh SITELINKD            (as root)
set -euo pipefail
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/netns/lib.sh
source "$SCRIPT_DIR/lib.sh"
lib_init stdio sls
require_root
require_tun
require_tools ip wg wg-quick mkfifo

sitelinkd=$(readlink -f "${1:?usage: $0 SITELINKD}")
ns="${PREFIX}n"
ns_add "$ns"
q="${PREFIX}q" f="${PREFIX}f" c="${PREFIX}c" d="${PREFIX}d"
on_cleanup rm -f "/run/wireguard/$q.sock" "/run/wireguard/$f.sock" "/run/wireguard/$c.sock" "/run/wireguard/$d.sock"
# A daemonized sitelinkd is not our child: if one outlives the test, stop it
# (found by its unique command line).
on_cleanup sh -c "pid=\$(pgrep -fxo '$sitelinkd $q'); [ -n \"\$pid\" ] && kill \$pid; true"
for n in q peer; do gen_key wg "$WORK_DIR" "$n"; done

# alive PID: running, not a zombie.
alive() { [[ -r /proc/$1/stat ]] && [[ $(awk '{print $3}' "/proc/$1/stat") != Z ]]; }

# stops_cleanly CASE PID: SIGTERM, and it exits 0 by itself.
stops_cleanly() {
  stop_pid "$2" 5
  if ((STOP_RC == 0 && STOP_KILLED == 0)); then
    pass "$1: exits 0 on SIGTERM"
  else
    fail "$1: exit status $STOP_RC on SIGTERM (killed: $STOP_KILLED)"
  fi
}

# --- a. wg-quick, read through a pipe and through $(...) ---------------------------------
cat >"$WORK_DIR/$q.conf" <<CONF
[Interface]
PrivateKey = $(cat "$WORK_DIR/q.key")
Address = 198.18.3.1/24

[Peer]
PublicKey = $(cat "$WORK_DIR/peer.pub")
AllowedIPs = 198.18.4.0/24
CONF
chmod 600 "$WORK_DIR/$q.conf"
up=(ip netns exec "$ns" env WG_QUICK_USERSPACE_IMPLEMENTATION="$sitelinkd" wg-quick up "$WORK_DIR/$q.conf")
printf -v up_cmd '%q ' "${up[@]}"

check_daemon_lives_on() {
  local how=$1 port=$2 pid
  pid=$(pgrep -fxo "$sitelinkd $q" || true)
  if [[ -z $pid ]]; then
    fail "a ($how): no sitelinkd $q running after wg-quick up"
    return
  fi
  # The change makes the daemon log ("wg set: applied: ...") with nobody
  # reading the caller's old pipe.
  wg set "$q" listen-port "$port" || true
  if wait_until "wg show to report port $port" 5 sh -c "[ \"\$(wg show $q listen-port)\" = $port ]" && alive "$pid"; then
    pass "a ($how): the daemon lives on after its caller's reader is gone, logs and serves wg"
  else
    fail "a ($how): daemon $pid gone or not serving after the reader left"
  fi
}

quick_down() {
  if timeout 20 ip netns exec "$ns" wg-quick down "$WORK_DIR/$q.conf" >"$WORK_DIR/down.log" 2>&1 &&
    wait_until "the wg-quick daemon to exit" 5 sh -c "! pgrep -fx '$sitelinkd $q' >/dev/null"; then
    pass "a ($1): wg-quick down; the daemon exits"
  else
    fail "a ($1): wg-quick down"
  fi
}

mkfifo "$WORK_DIR/up.fifo"
start_bg "$WORK_DIR/reader.log" sh -c "cat <'$WORK_DIR/up.fifo' >'$WORK_DIR/up.out'; touch '$WORK_DIR/reader.done'"
start_bg "$WORK_DIR/up.fifo" "${up[@]}"
if wait_until "the pipe reader to see the end of wg-quick's output" 20 test -e "$WORK_DIR/reader.done"; then
  pass "a (| cat): the reader got EOF: $(wc -l <"$WORK_DIR/up.out") lines of wg-quick output"
else
  fail "a (| cat): the reader never saw the end of wg-quick's output (the daemon holds the pipe)"
fi
check_daemon_lives_on "| cat" 51999
quick_down "| cat"

start_bg "$WORK_DIR/subst.log" bash -c "out=\$($up_cmd 2>&1); printf '%s\n' \"\$out\" >'$WORK_DIR/subst.out'; touch '$WORK_DIR/subst.done'"
if wait_until "\$(wg-quick up) to return" 20 test -e "$WORK_DIR/subst.done"; then
  pass "a (\$(...)): command substitution returned"
else
  fail "a (\$(...)): \$(wg-quick up ...) never returned"
fi
check_daemon_lives_on "\$(...)" 51998
quick_down "\$(...)"

# --- b. -f, its log read by head -n1 --------------------------------------------------------
mkfifo "$WORK_DIR/f.fifo"
start_bg "$WORK_DIR/head-f.log" sh -c "head -n1 <'$WORK_DIR/f.fifo' >'$WORK_DIR/head-f.out'; touch '$WORK_DIR/head-f.done'"
start_bg "$WORK_DIR/f.fifo" ip netns exec "$ns" "$sitelinkd" -f "$f"
pid_f=$BG_PID
wait_until "head -n1 to exit" 10 test -e "$WORK_DIR/head-f.done" || true
wg set "$f" listen-port 51997 || true
if wait_until "wg show to report port 51997" 5 sh -c "[ \"\$(wg show $f listen-port)\" = 51997 ]" && alive "$pid_f"; then
  pass "b: -f | head -n1: head read '$(cat "$WORK_DIR/head-f.out")', left; the daemon logged again and runs"
else
  fail "b: -f: the daemon died once its log's reader was gone"
fi
stops_cleanly "b: -f" "$pid_f"

# --- c. --config, its log read by head -n1 --------------------------------------------------
cat >"$WORK_DIR/c.yaml" <<YAML
interface:
  name: $c
  private-key-file: $WORK_DIR/q.key
  listen-port: 0
peers:
  - public-key: $(cat "$WORK_DIR/peer.pub")
    allowed-ips: [198.18.5.0/24]
YAML
mkfifo "$WORK_DIR/c.fifo"
start_bg "$WORK_DIR/head-c.log" sh -c "head -n1 <'$WORK_DIR/c.fifo' >'$WORK_DIR/head-c.out'; touch '$WORK_DIR/head-c.done'"
start_bg "$WORK_DIR/c.fifo" ip netns exec "$ns" "$sitelinkd" --config "$WORK_DIR/c.yaml"
pid_c=$BG_PID
wait_until "head -n1 to exit" 10 test -e "$WORK_DIR/head-c.done" || true
wait_until "the control socket" 5 test -S "/run/wireguard/$c.sock" || true
# A reload that changes something logs ("reload: applied ..."); wg show
# shows when it has happened.
sed -i 's/198.18.5.0\/24/198.18.6.0\/24/' "$WORK_DIR/c.yaml"
kill -HUP "$pid_c" || true
if wait_until "the reload" 5 sh -c "wg show $c allowed-ips | grep -q 198.18.6.0/24" && alive "$pid_c"; then
  pass "c: --config | head -n1: the daemon reloaded (and logged) after its reader left, and runs"
else
  fail "c: --config: the daemon died or did not reload once its log's reader was gone"
fi
stops_cleanly "c: --config" "$pid_c"

# --- d. a daemonized start that fails says why, on the caller's stderr ---------------------
ip -n "$ns" link add "$d" type veth peer name "${d}p"
rc=0
ip netns exec "$ns" "$sitelinkd" "$d" >"$WORK_DIR/d.out" 2>"$WORK_DIR/d.err" || rc=$?
if ((rc == 1)) && grep -q "^sitelinkd: .*$d" "$WORK_DIR/d.err" && [[ ! -s $WORK_DIR/d.out ]]; then
  pass "d: a failed daemonized start exits 1 with the daemon's reason: $(cat "$WORK_DIR/d.err")"
else
  fail "d: exit $rc, stderr '$(cat "$WORK_DIR/d.err")'"
fi
