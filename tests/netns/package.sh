#!/usr/bin/env bash
# The Debian package: `cpack -G DEB` in a build tree makes
# sitelink_VERSION_ARCH.deb with the right contents, modes and dependencies,
# and it installs, works, upgrades in place and removes cleanly with dpkg.
#
# Usage: package.sh BUILD_DIR      (an up-to-date build tree)
#
# This installs into the real root of the machine. It refuses (exit 77,
# "skipped") when a sitelink package, or any file the package would
# install, is already there, and removes what it installed on every exit
# path (dpkg --purge). Also skipped: not root, or a sanitizer build (not
# something to package).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUILD_DIR=${1:-"$SCRIPT_DIR/../../build"}
SKIP=77

# shellcheck source=tests/netns/lib.sh
source "$SCRIPT_DIR/lib.sh"
lib_init package slp

skip() { log "SKIPPED: $*"; trap - EXIT; rm -rf "$WORK_DIR"; exit "$SKIP"; }

[[ $(id -u) -eq 0 ]] || skip "needs root (dpkg -i)"
[[ -f "$BUILD_DIR/CPackConfig.cmake" ]] || { log "no CPackConfig.cmake in $BUILD_DIR: configure and build it first"; exit 1; }
BUILD_DIR=$(cd "$BUILD_DIR" && pwd)
if grep -q '^SITELINK_SANITIZE:BOOL=ON' "$BUILD_DIR/CMakeCache.txt"; then
  skip "$BUILD_DIR is a sanitizer build"
fi
require_tools cpack dpkg dpkg-deb dpkg-query file lintian objdump
if dpkg-query -W -f='${Status}' sitelink 2>/dev/null | grep -q 'installed\|config-files'; then
  skip "a sitelink package is already on this machine; not touching it"
fi

# The package's paths (regular files and the directories it owns).
FILES=(
  /usr/sbin/sitelinkd
  /usr/bin/sitelink
  /lib/systemd/system/sitelink@.service
  /lib/systemd/system/sitelink-metrics.service
  /usr/share/man/man8/sitelinkd.8.gz
  /usr/share/man/man8/sitelink.8.gz
  /usr/share/doc/sitelink/copyright
  /usr/share/doc/sitelink/changelog.gz
  /usr/share/doc/sitelink/examples/office-a.yaml
  /usr/share/doc/sitelink/examples/sitelink-alerts.yml
  /usr/share/lintian/overrides/sitelink
)
DIRS=(/etc/sitelink /usr/share/doc/sitelink/examples /usr/share/doc/sitelink)
for f in "${FILES[@]}" "${DIRS[@]}"; do
  [[ -e $f ]] && skip "$f already exists (not from a package); not overwriting it"
done

# From here on, whatever happens, the package goes again.
remove_package() {
  if dpkg-query -W -f='${Status}' sitelink 2>/dev/null | grep -q 'installed\|config-files\|half'; then
    dpkg --purge --force-remove-reinstreq sitelink >/dev/null 2>&1 || true
  fi
  rm -f "/etc/systemd/system/multi-user.target.wants/sitelink@${PREFIX}.service"
  rm -f "/etc/sitelink/${PREFIX}.key"
  rmdir /etc/sitelink 2>/dev/null || true
}
on_cleanup remove_package

# --- build ------------------------------------------------------------------------------
VERSION=$("$BUILD_DIR/daemon/sitelinkd" --version | awk '{print $2}')
ARCH=$(dpkg --print-architecture)
log "cpack -G DEB in $BUILD_DIR (version $VERSION, $ARCH)"
if ! cpack -G DEB --config "$BUILD_DIR/CPackConfig.cmake" -B "$WORK_DIR/out" >"$WORK_DIR/cpack.log" 2>&1; then
  fail "cpack -G DEB failed"
  exit 1
fi
mapfile -t debs < <(find "$WORK_DIR/out" -maxdepth 1 -name '*.deb' -printf '%f\n')
if ((${#debs[@]} == 1)) && [[ ${debs[0]} == "sitelink_${VERSION}_${ARCH}.deb" ]]; then
  pass "cpack made ${debs[0]}"
else
  fail "cpack made '${debs[*]}', want sitelink_${VERSION}_${ARCH}.deb"
  exit 1
fi
DEB="$WORK_DIR/out/${debs[0]}"

# --- lintian: no error, and no warning without a reason in debian/lintian-overrides ------
if lintian --fail-on error,warning --tag-display-limit 0 "$DEB" >"$WORK_DIR/lintian.log" 2>&1; then
  pass "lintian: no errors, no warnings beyond the overridden ones ($(grep -c '^sitelink:' "$SCRIPT_DIR/../../packaging/debian/lintian-overrides") overrides, each with its reason)"
else
  fail "lintian: $(grep -E '^[EW]:' "$WORK_DIR/lintian.log" | tr '\n' ';')"
fi

# --- contents -----------------------------------------------------------------------------
dpkg-deb -c "$DEB" | awk '{print $1, $2, $6}' | sed 's#\./#/#; s#/$##' >"$WORK_DIR/contents"
entry() { awk -v p="$1" '$3 == p {print $1, $2}' "$WORK_DIR/contents"; }
for f in /usr/sbin/sitelinkd /usr/bin/sitelink; do
  if [[ $(entry "$f") == "-rwxr-xr-x root/root" ]]; then pass "$f 0755 root"; else fail "$f: '$(entry "$f")'"; fi
done
for f in /lib/systemd/system/sitelink@.service /lib/systemd/system/sitelink-metrics.service \
  /usr/share/man/man8/sitelinkd.8.gz /usr/share/man/man8/sitelink.8.gz \
  /usr/share/doc/sitelink/copyright /usr/share/doc/sitelink/changelog.gz \
  /usr/share/doc/sitelink/examples/office-a.yaml /usr/share/doc/sitelink/examples/sitelink-alerts.yml \
  /usr/share/lintian/overrides/sitelink; do
  if [[ $(entry "$f") == "-rw-r--r-- root/root" ]]; then pass "$f 0644 root"; else fail "$f: '$(entry "$f")'"; fi
done
if [[ $(entry /etc/sitelink) == "drwx------ root/root" ]]; then
  pass "/etc/sitelink is a directory, mode 0700, root"
else
  fail "/etc/sitelink: '$(entry /etc/sitelink)', want drwx------ root/root"
fi
extra=$(awk '$1 !~ /^d/ {print $3}' "$WORK_DIR/contents" | grep -vxF -f <(printf '%s\n' "${FILES[@]}") || true)
if [[ -z $extra ]]; then pass "no other files in the package"; else fail "unexpected files: $extra"; fi
if dpkg-deb -c "$DEB" | grep -q ' \./etc/sitelink/.'; then fail "the package ships files in /etc/sitelink"; fi

# The binaries are stripped; the man pages are gzipped roff.
dpkg-deb -x "$DEB" "$WORK_DIR/root"
for f in usr/sbin/sitelinkd usr/bin/sitelink; do
  if file -b "$WORK_DIR/root/$f" | grep -q 'ELF.*, stripped'; then pass "$f is stripped"; else fail "$f: $(file -b "$WORK_DIR/root/$f")"; fi
done
for m in sitelinkd sitelink; do
  if zcat "$WORK_DIR/root/usr/share/man/man8/$m.8.gz" | grep -q "^\.TH ${m^^} 8 "; then
    pass "$m.8.gz is a section-8 man page"
  else
    fail "$m.8.gz is not a man page"
  fi
done

# --- control --------------------------------------------------------------------------------
field() { dpkg-deb -f "$DEB" "$1"; }
want_field() {
  local got
  got=$(field "$1")
  if [[ $got == "$2" ]]; then pass "$1: $got"; else fail "$1: '$got', want '$2'"; fi
}
want_field Package sitelink
want_field Version "$VERSION"
want_field Architecture "$ARCH"
want_field Section net
if [[ -n $(field Maintainer) && -n $(field Description) ]]; then
  pass "Maintainer and Description set"
else
  fail "Maintainer or Description missing"
fi
DEPENDS=$(field Depends)
log "Depends: $DEPENDS"
# Every package whose shared library the packaged binaries link directly
# (their DT_NEEDED entries; they link some libraries statically,
# SITELINK_STATIC_DEPS) must be a dependency. The libraries those load in
# turn are their packages' own dependencies (libsystemd0's libgcrypt20, say).
needed_packages() {
  local f lib path
  for f in usr/sbin/sitelinkd usr/bin/sitelink; do
    local -A direct=()
    while read -r lib; do direct[$lib]=1; done < <(objdump -p "$WORK_DIR/root/$f" | awk '$1 == "NEEDED" { print $2 }')
    while read -r lib path; do
      [[ -n $path && -n ${direct[$lib]:-} ]] || continue
      dpkg -S "*/$lib" 2>/dev/null | awk -F: 'NR == 1 { print $1 }'
    done < <(ldd "$WORK_DIR/root/$f" | awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }')
    unset direct
  done | sort -u
}
mapfile -t NEEDED < <(needed_packages)
if ((${#NEEDED[@]} >= 2)); then
  pass "the binaries link libraries of ${#NEEDED[@]} packages: ${NEEDED[*]}"
else
  fail "could not find which packages the binaries' libraries come from: ${NEEDED[*]:-none}"
fi
if [[ ", $DEPENDS," == *", adduser,"* || ", $DEPENDS," == *", adduser "* ]]; then
  pass "Depends on adduser (postinst makes the sitelink user)"
else
  fail "Depends lacks adduser: $DEPENDS"
fi
for lib in "${NEEDED[@]}"; do
  if [[ ", $DEPENDS," == *", $lib "* || ", $DEPENDS," == *", $lib,"* ]]; then
    pass "Depends on $lib (dpkg-shlibdeps)"
  else
    fail "Depends lacks $lib: $DEPENDS"
  fi
done
dpkg-deb --ctrl-tarfile "$DEB" | tar -tvf - >"$WORK_DIR/control"
for s in postinst prerm postrm; do
  if grep -q "^-rwxr-xr-x .* \./$s$" "$WORK_DIR/control"; then pass "$s is there, 0755"; else fail "$s missing or not 0755"; fi
done
dpkg-deb -e "$DEB" "$WORK_DIR/ctl"
for s in postinst prerm postrm; do
  sh -n "$WORK_DIR/ctl/$s" || fail "$s: syntax error"
  # systemctl only when systemd runs (deb-systemd-invoke's test).
  if grep -q systemctl "$WORK_DIR/ctl/$s" && ! grep -q '\[ -d /run/systemd/system \]' "$WORK_DIR/ctl/$s"; then
    fail "$s calls systemctl without checking that systemd is running"
  fi
done

# --- install ----------------------------------------------------------------------------------
if dpkg -i "$DEB" >"$WORK_DIR/dpkg-i.log" 2>&1; then
  pass "dpkg -i $(basename "$DEB")"
else
  fail "dpkg -i failed: $(tail -3 "$WORK_DIR/dpkg-i.log")"
  exit 1
fi
for f in "${FILES[@]}"; do [[ -f $f ]] || fail "$f not installed"; done
if [[ $(stat -c '%a %U' /etc/sitelink) == "700 root" ]]; then pass "/etc/sitelink installed 0700 root"; else fail "/etc/sitelink: $(stat -c '%a %U' /etc/sitelink)"; fi
if u=$(getent passwd sitelink) && [[ $(cut -d: -f3 <<<"$u") -lt 1000 && $(cut -d: -f7 <<<"$u") == */nologin ]] &&
  getent group sitelink >/dev/null; then
  pass "the sitelink system user and group exist (the network process runs as it): $u"
else
  fail "no sitelink system user after install: '${u:-}'"
fi
if out=$(/usr/sbin/sitelinkd --version) && [[ $out == "sitelinkd $VERSION" ]]; then
  pass "/usr/sbin/sitelinkd --version: $out"
else
  fail "/usr/sbin/sitelinkd --version: '$out'"
fi
if pub=$(/usr/bin/sitelink genkey | /usr/bin/sitelink pubkey) && [[ $pub =~ ^[A-Za-z0-9+/]{43}=$ ]]; then
  pass "sitelink genkey | sitelink pubkey: $pub"
else
  fail "sitelink genkey | sitelink pubkey: '$pub'"
fi
if command -v man >/dev/null; then
  for m in sitelinkd sitelink; do
    if p=$(man -w "$m" 2>/dev/null) && [[ $p == "/usr/share/man/man8/$m.8.gz" ]]; then
      pass "man -w $m: $p"
    else
      fail "man -w $m: '${p:-not found}'"
    fi
  done
else
  log "man-db is not installed: man -w not checked"
fi
# The installed unit, with its real paths and man pages, passes verify.
if command -v systemd-analyze >/dev/null; then
  if out=$(systemd-analyze verify "/lib/systemd/system/sitelink@${PREFIX}.service" 2>&1) && [[ -z $out ]]; then
    pass "systemd-analyze verify of the installed sitelink@${PREFIX}.service: no complaints"
  else
    fail "systemd-analyze verify of the installed unit: ${out:-exit status non-zero}"
  fi
fi

# Reinstalling (an upgrade to the same version) runs postinst with the old version.
if dpkg -i "$DEB" >"$WORK_DIR/dpkg-i2.log" 2>&1; then pass "dpkg -i again (upgrade path)"; else fail "dpkg -i again failed"; fi

# --- remove and purge ---------------------------------------------------------------------------
if dpkg -r sitelink >"$WORK_DIR/dpkg-r.log" 2>&1; then pass "dpkg -r sitelink"; else fail "dpkg -r failed: $(tail -3 "$WORK_DIR/dpkg-r.log")"; fi
gone=1
for f in "${FILES[@]}" "${DIRS[@]}"; do
  if [[ -e $f ]]; then fail "$f still there after dpkg -r"; gone=0; fi
done
((gone)) && pass "dpkg -r removed every file and directory of the package"
dpkg --purge sitelink >/dev/null 2>&1 || fail "dpkg --purge after -r failed"
if dpkg-query -W -f='${Status}' sitelink 2>/dev/null | grep -q 'installed\|config-files'; then
  fail "dpkg still knows sitelink: $(dpkg-query -W -f='${Status}' sitelink)"
else
  pass "dpkg no longer knows sitelink"
fi

# Purging never deletes the administrator's keys, and drops enabled
# instances' symlinks.
dpkg -i "$DEB" >"$WORK_DIR/dpkg-i3.log" 2>&1 || fail "dpkg -i (second round) failed"
(umask 077 && /usr/bin/sitelink genkey >"/etc/sitelink/${PREFIX}.key")
wants="/etc/systemd/system/multi-user.target.wants/sitelink@${PREFIX}.service"
mkdir -p "$(dirname "$wants")"
ln -s /lib/systemd/system/sitelink@.service "$wants"
dpkg --purge sitelink >"$WORK_DIR/dpkg-P.log" 2>&1 || fail "dpkg --purge failed: $(tail -3 "$WORK_DIR/dpkg-P.log")"
if [[ -s "/etc/sitelink/${PREFIX}.key" && $(stat -c %a /etc/sitelink) == 700 ]]; then
  pass "purge kept /etc/sitelink (0700) with the key in it"
else
  fail "purge removed or opened /etc/sitelink with a key in it"
fi
if [[ -L $wants ]]; then fail "purge left $wants"; else pass "purge removed the enabled instance's symlink"; fi
for f in "${FILES[@]}"; do [[ -e $f ]] && fail "$f still there after purge"; done
remove_package
[[ -e /etc/sitelink ]] && fail "/etc/sitelink still there after the test's cleanup"
true
