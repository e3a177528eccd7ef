#!/usr/bin/env bash
# README.md's quick start and key rotation, run as written with the built
# Debian package: two gateways in network namespaces follow the README's
# marked blocks, read from README.md when this runs (not a copy), and then
# the offices reach each other, before and after the rotation. The docs
# cannot drift from the product.
#
# Usage: readme-quickstart.sh BUILD_DIR      (an up-to-date build tree)
#
# The blocks: a line `<!-- KIND:SIDE -->` or `<!-- KIND:SIDE file=PATH -->`
# right before a fenced code block marks it. KIND is quickstart (section
# "Quick start") or rotate (section "Rotating keys"); SIDE is
# `install` (run once, on this machine), `office-a` or `office-b` (run in
# that gateway's network namespace). A block with file=PATH is the content of
# PATH (written mode 0600, as the admin's editor would under umask 077); any
# other block is shell, run with bash -eu -o pipefail (every command must
# succeed), at most BLOCK_BOUND seconds, in document order: the quickstart
# blocks, checks, the rotate blocks, checks. The only changes made to a
# block, all mechanical:
#   - OFFICE_X_PUBLIC_KEY and OFFICE_X_OLD_PUBLIC_KEY (X = A or B) become the
#     line `sitelink pubkey` prints for /etc/sitelink/office-x.key, and
#     OFFICE_X_NEW_PUBLIC_KEY the one for /etc/sitelink/office-x.key.new
#     (the admin pastes the other office's key);
#   - the interface name sl0 becomes a unique name per office (SPEC.md, "Test
#     networks"), so that this run collides with nothing on the machine;
#   - systemctl is a stand-in first in PATH, as this machine's init is not
#     systemd: `enable --now`/`start`/`restart`, `reload` and `stop` of
#     sitelink@NAME run the ExecStartPre/ExecStart, ExecReload lines of the
#     installed unit (/lib/systemd/system/sitelink@.service, %i = NAME),
#     the daemon in the background, and wait (START_BOUND s) until it
#     listens, as Type=notify waits for READY. The unit's sandbox is not
#     applied (packaging.unit_boot tests it under a real systemd).
#
# The network (topology.sh two_offices): host-a - gw-a - gw-b - host-b, with
# the README's addresses: gateways 203.0.113.1 and .2, LANs 198.18.1.0/24,
# 2001:db8:a::/64 and 198.18.2.0/24, 2001:db8:b::/64. Forwarding is turned
# off on the gateways first, so that the README's own sysctl step must turn
# it on.
#
# Checks: the blocks are there and each succeeds; office A's file agrees
# with the shipped example (every line of it but public-key is in the
# example); the gateways run the packaged /usr/sbin/sitelinkd; the hosts
# behind the gateways ping each other over IPv4 and IPv6; after the
# rotation, gw-a runs with the new key, gw-b has had a handshake with it,
# and the hosts ping each other again; every drop reason
# the code counts (tunnel/device.cc) is in the README's table, in the
# installed `sitelink --help` and in its man page; `dpkg --purge` keeps
# /etc/sitelink with the keys, as the README says.
#
# This installs into the real root of the machine, as package.sh does. It
# refuses (exit 77, "skipped") when a sitelink package, /etc/sitelink or a
# file the package installs is already there, and purges the package and
# removes /etc/sitelink (which it made) on every exit path. Also skipped:
# not root, or a sanitizer build.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/../.." && pwd)
README="$REPO/README.md"
BUILD_DIR=${1:-"$REPO/build"}
SKIP=77
BLOCK_BOUND=120  # s: one README block
START_BOUND=15   # s: the stand-in systemctl's wait for a started gateway

# shellcheck source=tests/netns/lib.sh
source "$SCRIPT_DIR/lib.sh"
lib_init readme-quickstart slq
# shellcheck source=tests/netns/topology.sh
source "$SCRIPT_DIR/topology.sh"

skip() { log "SKIPPED: $*"; trap - EXIT; rm -rf "$WORK_DIR"; exit "$SKIP"; }

[[ $(id -u) -eq 0 ]] || skip "needs root (dpkg -i, network namespaces)"
[[ -f "$BUILD_DIR/CPackConfig.cmake" ]] || { log "no CPackConfig.cmake in $BUILD_DIR: configure and build it first"; exit 1; }
BUILD_DIR=$(cd "$BUILD_DIR" && pwd)
if grep -q '^SITELINK_SANITIZE:BOOL=ON' "$BUILD_DIR/CMakeCache.txt"; then
  skip "$BUILD_DIR is a sanitizer build"
fi
require_tools apt cpack dpkg dpkg-query ip ping timeout sysctl awk sed setsid zcat wg
require_tun
if dpkg-query -W -f='${Status}' sitelink 2>/dev/null | grep -q 'installed\|config-files'; then
  skip "a sitelink package is already on this machine; not touching it"
fi
for f in /etc/sitelink /usr/sbin/sitelinkd /usr/bin/sitelink /lib/systemd/system/sitelink@.service; do
  [[ -e $f ]] && skip "$f already exists; not overwriting it"
done

STATE="$WORK_DIR"           # the stand-in's logs (shown on failure) and PID files
STANDIN="$WORK_DIR/bin"     # the stand-in systemctl
BLOCKS="$WORK_DIR/blocks"   # the README's blocks
mkdir -p "$STANDIN" "$BLOCKS"

# From here on, whatever happens, the package and /etc/sitelink go again
# (the gateways first).
remove_package() {
  if dpkg-query -W -f='${Status}' sitelink 2>/dev/null | grep -q 'installed\|config-files\|half'; then
    dpkg --purge --force-remove-reinstreq sitelink >/dev/null 2>&1 || true
  fi
  rm -rf /etc/sitelink
}
stop_gateways() {
  local f
  for f in "$STATE"/*.pid; do
    [[ -f $f ]] && stop_pid "$(<"$f")" 5
  done
  return 0
}
on_cleanup remove_package
on_cleanup stop_gateways

# --- the README's blocks ---------------------------------------------------------------
# BLOCKS/NN: a block's text; BLOCKS/NN.meta: "KIND SIDE [file=PATH]".
awk -v dir="$BLOCKS" '
  /^<!-- (quickstart|rotate):.* -->$/ {
    want = $0; sub(/^<!-- /, "", want); sub(/:/, " ", want); sub(/ -->$/, "", want); next
  }
  inblock && /^```/ { inblock = 0; close(f); want = ""; next }
  inblock { print > f; next }
  want != "" && /^```/ {
    inblock = 1; n++; f = sprintf("%s/%02d", dir, n)
    printf "" > f; print want > (f ".meta"); close(f ".meta"); next
  }
  want != "" && !/^[[:space:]]*$/ { print "README.md: marker " want " is not followed by a fenced block" > "/dev/stderr"; bad = 1; want = "" }
  END { exit bad }
' "$README" || fail "README.md: a marker without its block"
mapfile -t METAS < <(find "$BLOCKS" -name '*.meta' | sort)
declare -A SEEN=()
for m in "${METAS[@]}"; do
  read -r kind side spec <"$m"
  SEEN[$kind $side${spec:+ file}]=1
done
for want in "quickstart install" "quickstart office-a" "quickstart office-b" "quickstart office-a file" \
  "quickstart office-b file" "rotate office-a" "rotate office-b"; do
  [[ -n ${SEEN[$want]:-} ]] || fail "README.md has no ${want/ /:}${want/* file/ file=PATH} block"
done
grep -qx 'systemctl enable --now sitelink@office-a' "$BLOCKS"/?? || fail "no block starts sitelink@office-a"
grep -q '^ping ' "$BLOCKS"/?? || fail "no block pings across the tunnel"
grep -qx 'systemctl reload sitelink@office-a' "$BLOCKS"/?? || fail "no block reloads sitelink@office-a"
((FAILED == 0)) || exit 1
pass "README.md has ${#METAS[@]} marked blocks (install, both offices' shell and files, the key rotation)"

# --- the package -------------------------------------------------------------------------
DEB_DIR="$WORK_DIR/out"
log "cpack -G DEB in $BUILD_DIR"
if ! cpack -G DEB --config "$BUILD_DIR/CPackConfig.cmake" -B "$DEB_DIR" >"$WORK_DIR/cpack.log" 2>&1; then
  fail "cpack -G DEB failed"
  exit 1
fi
rm -rf "$DEB_DIR/_CPack_Packages"
mapfile -t debs < <(find "$DEB_DIR" -maxdepth 1 -name 'sitelink_*.deb')
((${#debs[@]} == 1)) || { fail "cpack made '${debs[*]}', want one sitelink_*.deb"; exit 1; }

# --- the stand-in systemctl ------------------------------------------------------------------
cat >"$STANDIN/systemctl" <<'EOF'
#!/usr/bin/env bash
# Stand-in for systemctl where systemd is not the init (readme-quickstart.sh):
# runs sitelink@NAME's Exec lines from the installed unit.
set -euo pipefail
unit=/lib/systemd/system/sitelink@.service
now=0 args=()
for a in "$@"; do
  case $a in
    --now) now=1 ;;
    -*) ;;
    *) args+=("$a") ;;
  esac
done
verb=${args[0]:-} inst=${args[1]:-}
if ! [[ $inst =~ ^sitelink@([A-Za-z0-9_.-]+)(\.service)?$ ]]; then
  echo "systemctl (stand-in): only sitelink@NAME: $*" >&2
  exit 1
fi
name=${BASH_REMATCH[1]}
pidfile="$RQ_STATE/sitelink@$name.pid" logf="$RQ_STATE/sitelink@$name.log"
lines() { sed -n "s/^$1=//p" "$unit" | sed "s/%i/$name/g; s/\$MAINPID/${2:-}/g"; }
run_lines() {
  local line ignore cmd
  while read -r line; do
    ignore=0
    [[ $line == -* ]] && ignore=1 line=${line#-}
    read -ra cmd <<<"$line"
    if ! "${cmd[@]}" && ((!ignore)); then return 1; fi
  done < <(lines "$1" "${2:-}")
}
running() { [[ -f $pidfile ]] && kill -0 "$(<"$pidfile")" 2>/dev/null; }
start() {
  running && return 0
  run_lines ExecStartPre
  local cmd pid i
  read -ra cmd <<<"$(lines ExecStart)"
  setsid "${cmd[@]}" </dev/null >>"$logf" 2>&1 &
  pid=$!
  echo "$pid" >"$pidfile"
  for ((i = 0; i < RQ_START_BOUND * 10; i++)); do
    grep -q 'listening on port' "$logf" && return 0
    kill -0 "$pid" 2>/dev/null || { echo "sitelink@$name exited:" >&2; cat "$logf" >&2; return 1; }
    sleep 0.1
  done
  echo "sitelink@$name: not listening after $RQ_START_BOUND s" >&2
  return 1
}
stop() {
  running || return 0
  local pid i
  pid=$(<"$pidfile")
  kill -TERM "$pid"
  for ((i = 0; i < 150; i++)); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  echo "sitelink@$name did not stop" >&2
  return 1
}
case $verb in
  enable) if ((now)); then start; fi ;;
  start) start ;;
  restart) stop && start ;;
  reload) running && run_lines ExecReload "$(<"$pidfile")" ;;
  stop | disable) stop ;;
  *) echo "systemctl (stand-in): '$verb' is not supported" >&2; exit 1 ;;
esac
EOF
chmod 755 "$STANDIN/systemctl"

# --- the network ---------------------------------------------------------------------------
two_offices ipv4+ipv6
for ns in "$NS_GA" "$NS_GB"; do
  ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=0 net.ipv6.conf.all.forwarding=0
done
declare -A SIDE_NS=([office-a]=$NS_GA [office-b]=$NS_GB) SIDE_TUN=([office-a]=$TUN_A [office-b]=$TUN_B)

# --- run the blocks ------------------------------------------------------------------------
# pubkey FILE: the public key of the private key in FILE.
pubkey() { /usr/bin/sitelink pubkey <"$1"; }

# prepare BLOCK SIDE: the block with the mechanical substitutions, on stdout.
prepare() {
  local block=$1 side=$2 text office o key
  text=$(<"$block")
  for office in a b; do
    o=${office^^}
    for ph in "OFFICE_${o}_PUBLIC_KEY" "OFFICE_${o}_OLD_PUBLIC_KEY" "OFFICE_${o}_NEW_PUBLIC_KEY"; do
      [[ $text == *"$ph"* ]] || continue
      if [[ $ph == *_NEW_* ]]; then key=$(pubkey "/etc/sitelink/office-$office.key.new") || return 1
      else key=$(pubkey "/etc/sitelink/office-$office.key") || return 1; fi
      text=${text//"$ph"/$key}
    done
  done
  [[ -n ${SIDE_TUN[$side]:-} ]] && text=$(sed -E "s/\<sl0\>/${SIDE_TUN[$side]}/g" <<<"$text")
  printf '%s\n' "$text"
}

# config_lines FILE: its lines without comments, trailing blanks and empty lines.
config_lines() { sed -E 's/[[:space:]]+#.*$//; /^[[:space:]]*#/d; s/[[:space:]]+$//; /^$/d' "$1"; }

EXAMPLE=/usr/share/doc/sitelink/examples/office-a.yaml
# run_blocks KIND: the KIND blocks, in document order; the first failing one ends the test.
run_blocks() {
  local m block n kind side spec run path missing wrap out
  for m in "${METAS[@]}"; do
    block=${m%.meta} n=$(basename "${m%.meta}")
    read -r kind side spec <"$m"
    [[ $kind == "$1" ]] || continue
    run="$block.run"
    prepare "$block" "$side" >"$run" || { fail "block $n ($side): cannot fill in the public keys"; exit 1; }
    if [[ $spec == file=* ]]; then
      path=${spec#file=}
      (umask 077 && cp "$run" "$path")
      pass "block $n ($side): wrote $path"
      if [[ $path == /etc/sitelink/office-a.yaml ]]; then
        missing=$(grep -vxF -f <(config_lines "$EXAMPLE") <(config_lines "$block" | grep -v 'public-key:') || true)
        if [[ -z $missing ]]; then
          pass "office A's file agrees with the shipped example (every line but public-key is in $EXAMPLE)"
        else
          fail "office A's file has lines the shipped example lacks: $(tr '\n' ';' <<<"$missing")"
        fi
      fi
      continue
    fi
    case $side in
      install) wrap=() ;;
      office-a | office-b) wrap=(ip netns exec "${SIDE_NS[$side]}") ;;
      *) fail "block $n: unknown side '$side'"; exit 1 ;;
    esac
    out="$WORK_DIR/block-$n.log"
    if (cd "$DEB_DIR" && timeout "$BLOCK_BOUND" "${wrap[@]}" env PATH="$STANDIN:$PATH" RQ_STATE="$STATE" \
      RQ_START_BOUND="$START_BOUND" bash -eu -o pipefail "$run") </dev/null >"$out" 2>&1; then
      pass "block $n ($side): $(grep -c . "$run") commands ran, each succeeded"
    else
      fail "block $n ($side) failed: $(tail -5 "$out" | tr '\n' ' ')"
      log "--- block $n ---"; sed 's/^/  | /' "$run" >&2
      exit 1
    fi
  done
}

run_blocks quickstart

# --- the result ----------------------------------------------------------------------------
for office in office-a office-b; do
  pidf="$STATE/sitelink@$office.pid"
  if [[ -f $pidf ]] && [[ $(readlink "/proc/$(<"$pidf")/exe") == /usr/sbin/sitelinkd ]]; then
    pass "sitelink@$office runs the packaged /usr/sbin/sitelinkd"
  else
    fail "sitelink@$office is not running /usr/sbin/sitelinkd"
  fi
done
check_ping "office A's LAN to office B's (IPv4)" "$NS_HA" 198.18.2.2
check_ping "office A's LAN to office B's (IPv6)" "$NS_HA" 2001:db8:b::2
check_ping "office B's LAN to office A's (IPv4)" "$NS_HB" 198.18.1.2
check_ping "office B's LAN to office A's (IPv6)" "$NS_HB" 2001:db8:a::2

# --- the key rotation ----------------------------------------------------------------------
OLD_A=$(pubkey /etc/sitelink/office-a.key)
run_blocks rotate
NEW_A=$(pubkey /etc/sitelink/office-a.key)
[[ $NEW_A != "$OLD_A" ]] || fail "office-a.key is the same key after the rotation"
running_a=$(ip netns exec "$NS_GA" timeout 10 wg show "$TUN_A" public-key 2>/dev/null || true)
if [[ $running_a == "$NEW_A" ]]; then pass "gw-a runs with its new key ($NEW_A)"; else fail "gw-a runs with '$running_a', want $NEW_A"; fi
b_peers=$(ip netns exec "$NS_GB" timeout 10 wg show "$TUN_B" peers 2>/dev/null || true)
if [[ $b_peers == "$NEW_A" ]]; then pass "gw-b's one peer is office A's new key"; else fail "gw-b's peers: '$b_peers', want $NEW_A only"; fi
if wait_until "gw-b's handshake with office A's new key" 20 has_handshake "$NS_GB" "$TUN_B" "$NEW_A"; then
  pass "gw-b had a handshake with office A's new key"
else
  fail "no handshake between gw-b and office A's new key"
fi
check_ping "after the rotation: office A's LAN to office B's (IPv4)" "$NS_HA" 198.18.2.2
check_ping "after the rotation: office B's LAN to office A's (IPv6)" "$NS_HB" 2001:db8:a::2

# Every drop reason the code counts is documented: the README's table, the
# installed --help and man page.
mapfile -t REASONS < <(sed -n '/to_string(Drop d)/,/^}/p' "$REPO/tunnel/device.cc" | grep -o '"[a-z0-9-]*"' | tr -d '"')
((${#REASONS[@]} >= 20)) || fail "found only ${#REASONS[@]} drop reasons in tunnel/device.cc"
TABLE=$(sed -n '/<!-- drop-reasons:begin -->/,/<!-- drop-reasons:end -->/p' "$README")
HELP=$(/usr/bin/sitelink --help)
MAN=$(zcat /usr/share/man/man8/sitelink.8.gz | sed 's/\\-/-/g')
undocumented=()
for r in "${REASONS[@]}"; do
  grep -q "^| \`$r\` |" <<<"$TABLE" || undocumented+=("$r (README)")
  grep -qE "^  $r +[a-z]" <<<"$HELP" || undocumented+=("$r (sitelink --help)")
  grep -qE "^  $r +[a-z]" <<<"$MAN" || undocumented+=("$r (sitelink.8)")
done
if ((${#undocumented[@]} == 0)); then
  pass "all ${#REASONS[@]} drop reasons are in the README's table, sitelink --help and sitelink(8)"
else
  fail "drop reasons not documented: ${undocumented[*]}"
fi

# Purging keeps /etc/sitelink and the keys (README, "Uninstalling and purging").
stop_gateways
if dpkg --purge sitelink >"$WORK_DIR/purge.log" 2>&1; then pass "dpkg --purge sitelink"; else fail "dpkg --purge: $(tail -3 "$WORK_DIR/purge.log")"; fi
if [[ -s /etc/sitelink/office-a.key && -s /etc/sitelink/office-b.key && $(stat -c %a /etc/sitelink) == 700 ]]; then
  pass "purge kept /etc/sitelink (0700) with both keys"
else
  fail "purge did not keep /etc/sitelink and its keys"
fi
if grep -q "/etc/sitelink.*not empty" "$WORK_DIR/purge.log"; then
  pass "dpkg said that /etc/sitelink was not empty: $(grep "/etc/sitelink" "$WORK_DIR/purge.log" | head -1)"
else
  fail "dpkg said nothing about /etc/sitelink: $(tr '\n' ' ' <"$WORK_DIR/purge.log")"
fi
