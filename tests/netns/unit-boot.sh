#!/usr/bin/env bash
# systemd/sitelink@.service run by a real systemd: the sandbox lets sitelinkd
# work, and the unit behaves as documented.
#
# Usage: unit-boot.sh SITELINKD [SITELINK]
#
# On a machine whose init is not systemd (containers, CI VMs) this boots a
# private systemd as PID 1 of new PID, mount, network, UTS, IPC and cgroup
# namespaces. Nothing it does can reach the host:
#   - /run, /tmp, /var/tmp, /var/log, /var/lib/systemd, /etc/systemd/system
#     and /dev are fresh tmpfs inside (a /dev with null, zero, full, random,
#     urandom, tty, ptmx, pts and net/tun only; /dev/console is a file);
#     /sys and /proc/sys are read-only;
#   - systemd starts only the test's target, journald and the unit under
#     test: the sysinit services (tmpfiles, sysctl, sysusers, udev, binfmt,
#     modules-load, remount-fs, utmp, ...) are masked, and the unit gets
#     DefaultDependencies=no (so sysinit.target is not pulled in);
#   - it runs in child cgroups of this script's own, removed at exit.
# The unit is installed as a copy that names the built sitelinkd (copied to
# the private /run) and reads /run/sltest/etc/NAME.yaml instead of
# /etc/sitelink/NAME.yaml; a drop-in sets DefaultDependencies=no,
# WatchdogSec=3 and RestartSec=1 so the test is quick. Everything else is
# the shipped unit.
#
# The peer gateway is a plain sitelinkd in an ordinary namespace, linked to
# systemd's network namespace by a veth pair (203.0.113.0/24 underlay,
# 198.18.0.0/24 tunnel).
#
# Checks: start (ExecStartPre, READY, STATUS=); privilege separation (the
# monitor as the sitelink user with CAP_DAC_READ_SEARCH alone, the network
# process and its threads with CAP_NET_ADMIN alone), no new privileges,
# seccomp; the tunnel carries pings; the control socket in
# /run/wireguard (0600) answers `sitelink show`; audit events reach the
# journal with their fields (journalctl SITELINK_EVENT=handshake, peer-up:
# the peer's key, name, endpoint, role); watchdog pings keep it
# alive; `systemctl reload` applies a valid file (adding a peer whose key
# file is root's, 0600) and refuses an invalid one
# (same PID, still up); SIGKILL -> restarted (Restart=on-failure); restart
# timing; an invalid configuration fails with 78 and is not restarted
# (RestartPreventExitStatus=78); stop removes the TUN and the socket and
# keeps /run/wireguard.
#
# Skipped (exit 77) when not root, when systemd already is this machine's
# init, or without systemd / unshare / nsenter.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
UNIT="$SCRIPT_DIR/../../systemd/sitelink@.service"
SITELINKD=${1:-"$SCRIPT_DIR/../../build/daemon/sitelinkd"}
SITELINK=${2:-"$(dirname "$SITELINKD")/sitelink"}
SYSTEMD=/lib/systemd/systemd
SKIP=77

# shellcheck source=tests/netns/lib.sh
source "$SCRIPT_DIR/lib.sh"
lib_init unit-boot slb

skip() { log "SKIPPED: $*"; trap - EXIT; rm -rf "$WORK_DIR"; exit "$SKIP"; }
[[ $(id -u) -eq 0 ]] || skip "needs root"
[[ $(cat /proc/1/comm) != systemd ]] || skip "systemd is this machine's init; this test boots its own only where it is not"
[[ -x $SYSTEMD ]] || skip "no $SYSTEMD (package systemd)"
for t in unshare nsenter pgrep; do command -v "$t" >/dev/null || skip "needs $t"; done
require_tools ip ping timeout findmnt
for b in "$SITELINKD" "$SITELINK"; do
  [[ -x "$b" ]] || { log "not executable: $b"; exit 1; }
done

P=$PREFIX
INST=office                  # sitelink@office.service
TUN_S="${P}s" TUN_PEER="${P}p"
NS_PEER="${P}peer"
START_BOUND=15
SD_PID=""                    # systemd, PID 1 of the private namespaces (as seen from here)
UNSHARE_PID=""
CGROUPS=()

# --- cgroups: a child of this script's cgroup in every hierarchy -----------------------------
cg_mount_of() {  # CONTROLLERS (as in /proc/self/cgroup; empty = cgroup2)
  local ctrls=$1 target fstype opts c ok
  while read -r target fstype opts; do
    if [[ -z $ctrls ]]; then
      [[ $fstype == cgroup2 ]] && { echo "$target"; return; }
      continue
    fi
    [[ $fstype == cgroup ]] || continue
    ok=1
    for c in ${ctrls//,/ }; do [[ ",$opts," == *",$c,"* ]] || ok=0; done
    ((ok)) && { echo "$target"; return; }
  done < <(findmnt -n -t cgroup,cgroup2 -o TARGET,FSTYPE,FS-OPTIONS)
}
cg_leave() {  # this shell back into the parents of the child cgroups
  local d
  for d in "${CGROUPS[@]}"; do echo $$ >"$(dirname "$d")/cgroup.procs"; done
}
cg_cleanup() {  # the namespace's processes may take a moment to go
  local d i left
  cg_leave 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    left=0
    for d in "${CGROUPS[@]}"; do
      if [[ -d $d ]]; then
        find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
        [[ -d $d ]] && left=1
      fi
    done
    ((left)) || return 0
    sleep 0.1
  done
  log "could not remove cgroups: ${CGROUPS[*]}"
}
cg_enter() {  # move this shell into fresh child cgroups
  local line ctrls path mnt dir lines
  # Read it whole first: moving changes the file under a running read.
  mapfile -t lines </proc/self/cgroup
  for line in "${lines[@]}"; do
    ctrls=$(cut -d: -f2 <<<"$line")
    path=$(cut -d: -f3- <<<"$line")
    mnt=$(cg_mount_of "$ctrls")
    [[ -n $mnt ]] || continue
    dir="$mnt${path%/}/$P"
    mkdir "$dir"
    CGROUPS+=("$dir")
    if [[ -e $dir/cpuset.cpus ]]; then
      cat "$(dirname "$dir")/cpuset.cpus" >"$dir/cpuset.cpus"
      cat "$(dirname "$dir")/cpuset.mems" >"$dir/cpuset.mems"
    fi
    echo $$ >"$dir/cgroup.procs"
  done
}

# --- the private systemd ------------------------------------------------------------------------
STAGE="$WORK_DIR/stage"   # read by the namespace's PID 1 before it execs systemd
mkdir -p "$STAGE/units/sitelink@.service.d" "$STAGE/bin"
cp "$SITELINKD" "$STAGE/bin/sitelinkd"
cp "$SITELINK" "$STAGE/bin/sitelink"
sed -e 's#/usr/sbin/sitelinkd#/run/sltest/bin/sitelinkd#g' -e 's#/etc/sitelink/#/run/sltest/etc/#g' \
  "$UNIT" >"$STAGE/units/sitelink@.service"
cat >"$STAGE/units/sitelink@.service.d/test.conf" <<'UNIT'
[Unit]
DefaultDependencies=no
[Service]
WatchdogSec=3
RestartSec=1
UNIT
cat >"$STAGE/units/sltest.target" <<'UNIT'
[Unit]
Description=sitelink unit test
DefaultDependencies=no
Wants=systemd-journald.socket systemd-journald.service
UNIT
MASK=(sysinit.target basic.target network-online.target nss-lookup.target local-fs.target swap.target
  cryptsetup.target integritysetup.target veritysetup.target
  systemd-tmpfiles-setup.service systemd-tmpfiles-setup-dev.service systemd-tmpfiles-clean.timer
  systemd-sysctl.service systemd-sysusers.service systemd-udevd.service systemd-udev-trigger.service
  systemd-udev-settle.service systemd-binfmt.service proc-sys-fs-binfmt_misc.automount
  systemd-modules-load.service systemd-remount-fs.service systemd-update-utmp.service
  systemd-random-seed.service systemd-journal-flush.service systemd-machine-id-commit.service
  systemd-firstboot.service systemd-hwdb-update.service ldconfig.service systemd-journal-catalog-update.service
  systemd-update-done.service systemd-pstore.service systemd-boot-system-token.service
  systemd-ask-password-console.path systemd-ask-password-wall.path dev-hugepages.mount dev-mqueue.mount
  sys-kernel-debug.mount sys-kernel-tracing.mount sys-kernel-config.mount sys-fs-fuse-connections.mount
  tmp.mount kmod-static-nodes.service systemd-networkd.service systemd-resolved.service
  systemd-timesyncd.service systemd-logind.service getty.target)
for u in "${MASK[@]}"; do ln -s /dev/null "$STAGE/units/$u"; done

# The unit runs as the `sitelink` system user, which the package makes. The
# namespace gets its own copy of /etc/passwd and /etc/group with that user
# added where the host lacks it (bound over the originals inside only).
SL_USER_LINE=$(getent passwd sitelink || true)
SL_GROUP_LINE=$(getent group sitelink || true)
if [[ -z $SL_USER_LINE ]]; then
  for ((id = 999; id > 100; id--)); do
    getent passwd "$id" >/dev/null || getent group "$id" >/dev/null || break
  done
  SL_USER_LINE="sitelink:x:$id:$id:sitelink:/nonexistent:/usr/sbin/nologin"
  SL_GROUP_LINE="sitelink:x:$id:"
fi
{ grep -v '^sitelink:' /etc/passwd; echo "$SL_USER_LINE"; } >"$STAGE/passwd"
{ grep -v '^sitelink:' /etc/group; echo "$SL_GROUP_LINE"; } >"$STAGE/group"
chmod 644 "$STAGE/passwd" "$STAGE/group"
SL_UID=$(cut -d: -f3 <<<"$SL_USER_LINE")

cat >"$STAGE/pid1.sh" <<'STAGE1'
# PID 1 of the new namespaces until it execs systemd.
set -euo pipefail
stage=$1
mount --make-rprivate /
mount -t tmpfs -o mode=755 sltest-run /run
mkdir -p /run/sltest/bin /run/sltest/etc
cp "$stage/bin/sitelinkd" "$stage/bin/sitelink" /run/sltest/bin/
mount --bind "$stage/passwd" /etc/passwd
mount --bind "$stage/group" /etc/group
mount -t tmpfs -o mode=755 sltest-units /etc/systemd/system
cp -a "$stage/units/." /etc/systemd/system/
# /dev/console is this file (in the stage directory, which /tmp's tmpfs is
# about to hide: bind it first). systemd itself logs to the journal.
: >"$stage/systemd.log"
touch /run/sltest/console.log
mount --bind "$stage/systemd.log" /run/sltest/console.log
for d in /tmp /var/tmp; do mount -t tmpfs -o mode=1777 sltest-tmp "$d"; done
for d in /var/log /var/lib/systemd; do
  if [[ -d $d ]]; then mount -t tmpfs -o mode=755 sltest-var "$d"; fi
done
mkdir -p /var/log/journal
# A private /dev with the devices a gateway needs.
mount -t tmpfs -o mode=755,nosuid sltest-dev /dev
mkdir -p /dev/net /dev/shm /dev/pts
for n in "null 1 3" "zero 1 5" "full 1 7" "random 1 8" "urandom 1 9" "tty 5 0" "net/tun 10 200"; do
  read -r name major minor <<<"$n"
  mknod -m 666 "/dev/$name" c "$major" "$minor"
done
mknod -m 666 /dev/ptmx c 5 2
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 sltest-pts /dev/pts
touch /dev/console
mount --bind /run/sltest/console.log /dev/console
mount -t tmpfs -o mode=1777 sltest-shm /dev/shm
# Kernel settings stay as they are.
mount -o remount,bind,ro /sys
mount --bind /proc/sys /proc/sys
mount -o remount,bind,ro /proc/sys
ip link set lo up
export container=sitelink-test
exec /lib/systemd/systemd --system --unit=sltest.target --log-target=journal-or-kmsg --log-level=info --show-status=no \
  </dev/null >/dev/console 2>&1
STAGE1

teardown() {
  if ((FAILED > 0)) && [[ -n $SD_PID ]] && kill -0 "$SD_PID" 2>/dev/null; then
    sd journalctl --no-pager -o short-monotonic >"$WORK_DIR/journal.log" 2>&1 || true
    sd systemctl status --no-pager "sitelink@*" >"$WORK_DIR/status.log" 2>&1 || true
  fi
  [[ -f $STAGE/systemd.log ]] && cp "$STAGE/systemd.log" "$WORK_DIR/systemd-pid1.log"
  if [[ -n $UNSHARE_PID ]]; then
    # SIGKILL to unshare: --kill-child takes systemd, and so every process of its namespace, with it.
    kill -KILL "$UNSHARE_PID" 2>/dev/null || true
    wait "$UNSHARE_PID" 2>/dev/null || true
    local i
    for ((i = 0; i < 50; i++)); do
      if [[ -z $SD_PID ]] || ! kill -0 "$SD_PID" 2>/dev/null; then break; fi
      sleep 0.1
    done
  fi
  cg_cleanup
}
on_cleanup teardown

cg_enter
start_bg "$WORK_DIR/unshare.log" unshare --pid --fork --mount --net --uts --ipc --cgroup --propagation private \
  --mount-proc --kill-child -- bash "$STAGE/pid1.sh" "$STAGE"
UNSHARE_PID=$BG_PID
_lib_forget "$UNSHARE_PID"   # teardown stops it (SIGKILL at once)
# Back to this script's own cgroups for everything else (the namespace's
# processes stay in the child ones).
cg_leave

find_sd() {
  SD_PID=$(pgrep -P "$UNSHARE_PID" -x systemd || true)
  [[ -n $SD_PID ]]
}
wait_until "systemd to start" 10 find_sd || { fail "no systemd under unshare ($(cat "$WORK_DIR/unshare.log"))"; exit 1; }
sd() { nsenter --target "$SD_PID" --mount --pid --net --uts --ipc -- "$@"; }
sdctl() { sd systemctl "$@"; }
booted() {
  local st
  st=$(sd systemctl show -P SystemState 2>/dev/null) || return 1
  [[ $st == running || $st == degraded ]]
}
if wait_until "systemd to finish starting" 20 booted; then
  pass "a private systemd runs as PID 1 of its namespaces ($(sdctl show -P Version), state $(sdctl show -P SystemState))"
else
  fail "the private systemd did not come up: $(tail -5 "$STAGE/systemd.log")"
  exit 1
fi

# --- the network: systemd's namespace <-> the peer's ---------------------------------------------
ns_add "$NS_PEER"
on_cleanup rm -f "/run/wireguard/$TUN_PEER.sock"
ip link add "${P}v0" type veth peer name "${P}v1"
ip link set "${P}v0" netns "$SD_PID"
ip link set "${P}v1" netns "$NS_PEER"
sd ip addr add 203.0.113.1/24 dev "${P}v0"
sd ip link set "${P}v0" up
ip -n "$NS_PEER" addr add 203.0.113.2/24 dev "${P}v1"
ip -n "$NS_PEER" link set "${P}v1" up
wait_until "the underlay" 10 ip netns exec "$NS_PEER" ping -n -q -c1 -W1 203.0.113.1 >/dev/null ||
  { fail "no underlay between the namespaces"; exit 1; }

# --- keys and configurations ------------------------------------------------------------------------
gen_key "$SITELINK" "$WORK_DIR" sd
gen_key "$SITELINK" "$WORK_DIR" peer
# sd_config FILE [EXTRA PEER LINES]: the configuration the unit runs.
sd_config() {
  cat <<YAML
interface:
  name: $TUN_S
  private-key-file: /run/sltest/etc/$INST.key
  listen-port: 51820
  address: [198.18.0.1/24]
  crypto-threads: 2
peers:
  - name: peer
    public-key: $(cat "$WORK_DIR/peer.pub")
    endpoint: 203.0.113.2:51820
    allowed-ips: [198.18.0.2/32]
${1:-}
YAML
}
install_sd_config() {  # CONTENT -> /run/sltest/etc/office.yaml inside
  sd sh -c "umask 077; cat > /run/sltest/etc/$INST.yaml" <<<"$1"
}
sd sh -c "umask 077; cat > /run/sltest/etc/$INST.key" <"$WORK_DIR/sd.key"
install_sd_config "$(sd_config)"
cat >"$WORK_DIR/peer.yaml" <<YAML
interface:
  name: $TUN_PEER
  private-key-file: $WORK_DIR/peer.key
  listen-port: 51820
  address: [198.18.0.2/24]
peers:
  - name: unit
    public-key: $(cat "$WORK_DIR/sd.pub")
    endpoint: 203.0.113.1:51820
    allowed-ips: [198.18.0.1/32]
YAML
start_bg "$WORK_DIR/peer.log" ip netns exec "$NS_PEER" "$SITELINKD" --config "$WORK_DIR/peer.yaml" --log-level debug
wait_until "the peer gateway" 10 grep -q 'listening on port' "$WORK_DIR/peer.log" || { fail "the peer gateway did not start"; exit 1; }

U="sitelink@$INST.service"
prop() { sdctl show -P "$1" "$U"; }
tunnel_ok() { ip netns exec "$NS_PEER" ping -n -q -c 1 -W 1 198.18.0.1 >/dev/null 2>&1; }

# --- start ---------------------------------------------------------------------------------------------
if [[ -n ${UNIT_BOOT_PAUSE:-} ]]; then  # debugging: time to look around with nsenter
  log "pausing ${UNIT_BOOT_PAUSE}s: nsenter --target $SD_PID --mount --pid --net -- systemctl ..."
  sleep "$UNIT_BOOT_PAUSE"
fi
t0=$(now_ms)
if sdctl start "$U" >"$WORK_DIR/start.out" 2>&1; then
  pass "systemctl start $U: $(prop ActiveState)/$(prop SubState) after $(($(now_ms) - t0)) ms (Type=notify: READY=1 came)"
else
  fail "systemctl start $U failed: $(cat "$WORK_DIR/start.out")"
  exit 1
fi
PID1=$(prop MainPID)
status=$(prop StatusText)
if [[ $status == *"peers up on $TUN_S"* ]]; then pass "STATUS=: $status"; else fail "StatusText: '$status'"; fi
if sd journalctl --no-pager -u "$U" -o cat | grep -q "$INST.yaml: OK"; then
  pass "ExecStartPre= checked the configuration"
else
  fail "no output of the ExecStartPre= check in the journal"
fi
# Privilege separation under the unit: the main PID is the monitor (the
# sitelink user, CAP_DAC_READ_SEARCH alone, no network socket); its child,
# the network process, holds CAP_NET_ADMIN alone in every thread. The
# bounding set keeps the unit's two (dropping from it needs CAP_SETPCAP);
# with no_new_privs and nothing inheritable or ambient that grants nothing.
caps=$(sd grep -E '^(Uid|CapEff|CapPrm|CapBnd|CapInh|CapAmb|NoNewPrivs|Seccomp):' "/proc/$PID1/status" | tr -s '\t ' ' ' | tr '\n' ' ')
mon_bad=$(sd bash -c "$(declare -f monitor_beyond_read); monitor_beyond_read $PID1 0000000000001004")
if [[ $caps == *"Uid: $SL_UID $SL_UID $SL_UID $SL_UID"* && $caps == *"CapEff: 0000000000000004"* &&
  $caps == *"CapPrm: 0000000000000004"* && $caps == *"NoNewPrivs: 1"* && $caps == *"Seccomp: 2"* && -z $mon_bad ]]; then
  pass "the monitor (main PID) runs as sitelink with CAP_DAC_READ_SEARCH alone, no new privileges, seccomp filter on, no network socket"
else
  fail "the monitor's privileges: $caps ${mon_bad}"
fi
# crypto-threads: 2 under the unit's seccomp filter and capability set:
# both threads start (a refused clone3 or prctl would leave fewer, with a
# warning), and each holds CAP_NET_ADMIN alone like the main thread.
n=$(sd bash -c "$(declare -f network_pid crypto_threads); crypto_threads $PID1")
bad=$(sd bash -c "$(declare -f network_pid threads_beyond_net_admin); threads_beyond_net_admin $PID1 0000000000001004")
NET1=$(sd bash -c "$(declare -f network_pid); network_pid $PID1")
# shellcheck disable=SC2016  # awk's $2, not the shell's
net_uid=$(sd awk '/^Uid:/ { print $2 }' "/proc/$NET1/status" 2>/dev/null || true)
if [[ $n == 2 && -z $bad && $net_uid == "$SL_UID" ]]; then
  pass "the network process runs as sitelink; it and its 2 crypto threads hold CAP_NET_ADMIN alone, no_new_privs"
else
  fail "the network process (uid ${net_uid:-?}): crypto threads $n of 2; threads beyond CAP_NET_ADMIN: ${bad:-none}"
fi
if wait_until "ping over the tunnel" "$START_BOUND" tunnel_ok; then
  pass "the peer pings the unit's tunnel address 198.18.0.1 (sandboxed sitelinkd: TUN, UDP, netlink, handshake)"
else
  fail "no ping over the tunnel to the unit's sitelinkd"
fi
sock=$(sd stat -c '%a %F' "/run/wireguard/$TUN_S.sock" 2>&1 || true)
if [[ $sock == "600 socket" ]]; then pass "control socket /run/wireguard/$TUN_S.sock, 0600"; else fail "control socket: $sock"; fi
if sd /run/sltest/bin/sitelink show "$TUN_S" >"$WORK_DIR/show.out" 2>&1 && grep -q 'latest handshake' "$WORK_DIR/show.out"; then
  pass "sitelink show $TUN_S answers (handshake seen)"
else
  fail "sitelink show $TUN_S: $(cat "$WORK_DIR/show.out")"
fi

# --- audit events in the journal --------------------------------------------------------------------------
# The network process (not root, sandboxed: _PID is its) writes structured
# entries to the journal's socket: `journalctl -u UNIT SITELINK_EVENT=handshake`
# finds the handshake with the peer's key, its endpoint and our role.
audit_entry() {  # EVENT: that event's newest entry, as KEY=VALUE lines
  sd journalctl --no-pager -u "$U" "SITELINK_EVENT=$1" -o export -n 1 2>/dev/null | grep -a '^[A-Z_]*=' || true
}
handshake_logged() { audit_entry handshake | grep -q -x "SITELINK_PEER=$(cat "$WORK_DIR/peer.pub")"; }
if wait_until "the handshake event in the journal" 10 handshake_logged; then
  ev=$(audit_entry handshake)
  if grep -q -x "SITELINK_PEER_NAME=peer" <<<"$ev" && grep -q -x "SITELINK_ENDPOINT=203.0.113.2:51820" <<<"$ev" &&
    grep -q -x -E "SITELINK_ROLE=(initiator|responder)" <<<"$ev" && grep -q -x "SITELINK_INTERFACE=$TUN_S" <<<"$ev" &&
    grep -q -x "SYSLOG_IDENTIFIER=sitelinkd" <<<"$ev" && grep -q -x "_PID=$NET1" <<<"$ev"; then
    pass "journalctl -u $U SITELINK_EVENT=handshake: peer $(cat "$WORK_DIR/peer.pub"), $(grep -x -E 'SITELINK_(ROLE|ENDPOINT)=.*' <<<"$ev" | tr '\n' ' ')"
  else
    fail "the handshake event lacks fields: $(tr '\n' ' ' <<<"$ev")"
  fi
else
  fail "no SITELINK_EVENT=handshake entry with SITELINK_PEER=$(cat "$WORK_DIR/peer.pub") in the journal: $(audit_entry handshake | tr '\n' ' ')"
fi
if audit_entry peer-up | grep -q -x "SITELINK_PEER=$(cat "$WORK_DIR/peer.pub")"; then
  pass "journalctl -u $U SITELINK_EVENT=peer-up: the peer's key"
else
  fail "no SITELINK_EVENT=peer-up entry for the peer in the journal"
fi
# Each event once: as a structured entry (_TRANSPORT=journal), not also as
# a plain line on stderr (_TRANSPORT=stdout).
if sd journalctl --no-pager -u "$U" _TRANSPORT=stdout -o cat | grep -q "tunnel up via"; then
  fail "the peer-up event was also written as a plain stderr line"
elif sd journalctl --no-pager -u "$U" _TRANSPORT=journal -o cat | grep -q "peer peer: tunnel up via"; then
  pass "the peer-up line is in the journal once, as the structured entry (no stderr copy)"
else
  fail "no structured entry whose MESSAGE is the peer-up line"
fi

# --- watchdog ----------------------------------------------------------------------------------------------
# systemd stamps WatchdogTimestampMonotonic at every WATCHDOG=1: wait until
# the pings have kept coming for more than one WatchdogSec (3 s), then the
# unit must still be the same process, never restarted.
wd0=$(prop WatchdogTimestampMonotonic)
wd_past() { (($(prop WatchdogTimestampMonotonic) - wd0 > 3500000)); }
if wait_until "watchdog pings over more than WatchdogSec" 10 wd_past &&
  [[ $(prop ActiveState) == active && $(prop MainPID) == "$PID1" && $(prop NRestarts) == 0 ]]; then
  pass "pings for over 3.5 s with WatchdogSec=3: still active, same PID, no restart"
else
  fail "watchdog: state $(prop ActiveState), PID $(prop MainPID) (was $PID1), restarts $(prop NRestarts), result $(prop Result)"
fi

# --- reload ------------------------------------------------------------------------------------------------
gen_key "$SITELINK" "$WORK_DIR" branch
gen_psk "$SITELINK" "$WORK_DIR/branch.psk"
sd sh -c "umask 077; cat > /run/sltest/etc/branch.psk" <"$WORK_DIR/branch.psk"
install_sd_config "$(sd_config "    persistent-keepalive: 25
  - name: branch
    public-key: $(cat "$WORK_DIR/branch.pub")
    preshared-key-file: /run/sltest/etc/branch.psk
    allowed-ips: [198.18.0.3/32]")"
if sdctl reload "$U" >"$WORK_DIR/reload.out" 2>&1 && [[ $(prop MainPID) == "$PID1" && $(prop ActiveState) == active ]]; then
  pass "systemctl reload with a valid file: same PID, still active"
else
  fail "systemctl reload: $(cat "$WORK_DIR/reload.out"); state $(prop ActiveState), PID $(prop MainPID)"
fi
if wait_until "the reload to be applied" 5 bash -c "$(declare -f sd); SD_PID=$SD_PID; sd journalctl --no-pager -u '$U' -o cat | grep -q 'reload: applied'"; then
  pass "sitelinkd applied the reloaded file (SIGHUP)"
else
  fail "no 'reload: applied' in the journal"
fi
branch_psk() { sd wg show "$TUN_S" preshared-keys | awk -v k="$(cat "$WORK_DIR/branch.pub")" '$1 == k { print $2 }'; }
if [[ $(branch_psk) == "$(cat "$WORK_DIR/branch.psk")" && $(sd stat -c '%U %a' /run/sltest/etc/branch.psk) == "root 600" ]]; then
  pass "the reload added a peer whose preshared key is in a new root-owned 0600 file (read by the monitor)"
else
  fail "the reload did not add peer branch with its preshared key (wg: '$(branch_psk)')"
fi
good=$(sd cat "/run/sltest/etc/$INST.yaml")
install_sd_config "$(sd_config "    persistent-keepalive: many")"
if sdctl reload "$U" >"$WORK_DIR/reload2.out" 2>&1; then
  fail "systemctl reload accepted an invalid file"
else
  pass "systemctl reload refuses an invalid file (ExecReload= check)"
fi
if [[ $(prop MainPID) == "$PID1" && $(prop ActiveState) == active ]] && tunnel_ok; then
  pass "after the refused reload: same PID, still active, tunnel up"
else
  fail "after the refused reload: state $(prop ActiveState), PID $(prop MainPID)"
fi
install_sd_config "$good"

# --- a crash is restarted -----------------------------------------------------------------------------------
sd kill -KILL "$PID1"
restarted() { local p; p=$(prop MainPID); [[ $(prop ActiveState) == active && $p != 0 && $p != "$PID1" ]]; }
t0=$(now_ms)
if wait_until "the restart after SIGKILL" 10 restarted && wait_until "the tunnel after the restart" 10 tunnel_ok; then
  pass "SIGKILL -> restarted (Restart=on-failure, NRestarts=$(prop NRestarts)), tunnel back $(($(now_ms) - t0)) ms after the kill"
else
  fail "after SIGKILL: state $(prop ActiveState), PID $(prop MainPID), restarts $(prop NRestarts)"
fi

# --- systemctl restart ----------------------------------------------------------------------------------------
PID2=$(prop MainPID)
t0=$(now_ms)
if sdctl restart "$U" && [[ $(prop MainPID) != "$PID2" ]] && wait_until "the tunnel after restart" 10 tunnel_ok; then
  pass "systemctl restart: new PID, tunnel back in $(($(now_ms) - t0)) ms"
else
  fail "systemctl restart: state $(prop ActiveState)"
fi

# --- stop ---------------------------------------------------------------------------------------------------------
if sdctl stop "$U" && [[ $(prop ActiveState) == inactive ]]; then pass "systemctl stop: inactive"; else fail "systemctl stop: $(prop ActiveState)"; fi
if sd ip link show "$TUN_S" >/dev/null 2>&1; then fail "$TUN_S still exists after stop"; else pass "$TUN_S is gone"; fi
if sd test -e "/run/wireguard/$TUN_S.sock"; then fail "the control socket is still there after stop"; else pass "the control socket is gone"; fi
if sd test -d /run/wireguard; then pass "/run/wireguard kept (RuntimeDirectoryPreserve=yes)"; else fail "/run/wireguard removed on stop"; fi

# --- an invalid configuration is not restarted ---------------------------------------------------------------------
install_sd_config "$(sd_config "    persistent-keepalive: many")"
if sdctl start "$U" >/dev/null 2>&1; then fail "an invalid configuration started"; fi
# A unit whose restart is scheduled waits in activating/auto-restart; one
# that systemd will not restart (RestartPreventExitStatus=78) goes to failed.
unit_failed() { [[ $(prop ActiveState) == failed ]]; }
wait_until "the unit to settle as failed" 10 unit_failed || true
if [[ $(prop ActiveState) == failed && $(prop ExecMainStatus) == 78 && $(prop NRestarts) == 0 ]]; then
  pass "invalid configuration: failed with status 78 and not restarted (RestartPreventExitStatus=78)"
else
  fail "invalid configuration: state $(prop ActiveState), status $(prop ExecMainStatus), restarts $(prop NRestarts)"
fi
# journald writes what the unit printed asynchronously: wait for it (bounded).
journal_names_field() { sd journalctl --no-pager -u "$U" -o cat | grep -q "persistent-keepalive"; }
if wait_until "the journal to name the bad field" 10 journal_names_field; then
  pass "the journal names the bad field"
else
  fail "the journal does not name the bad field"
fi
# JOURNAL_STREAM is set: sitelinkd's <N> prefixes become journal priorities.
if ! sd journalctl --no-pager -u "$U" -p err -o cat | grep -q "persistent-keepalive"; then
  log "NOTE: configuration errors reach the journal at priority info, not err (daemon/check_command.cc prints them without a <3> prefix)"
fi
if sd journalctl --no-pager -u "$U" -o cat | grep -q '^<[0-7]>'; then
  fail "journal lines still carry <N> prefixes"
else
  pass "no raw <N> prefixes in the journal"
fi

# --- nothing else ran ---------------------------------------------------------------------------------------------------
others=$(sdctl list-units --all --no-legend --plain --type=service --state=active,activating,deactivating,failed,reloading |
  awk '{print $1}' | grep -v -e "^sitelink@" -e '^systemd-journald.service$' || true)
if [[ -z $others ]]; then pass "no other service ran in the private systemd"; else fail "other services ran: $others"; fi
