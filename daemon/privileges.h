// What each of sitelinkd's two processes may do (privsep.h), and getting
// there from whatever it was started with: root with every capability (a
// manual `sitelinkd --config`, or wg-quick's `sitelinkd IFACE`), or the
// systemd unit's `sitelink` user with CAP_NET_ADMIN and CAP_DAC_READ_SEARCH.
//
//   network process  the daemon's user (config/daemon_user.h), its group and
//                    no others; CAP_NET_ADMIN only (TUN, routes, addresses,
//                    SO_MARK), in the permitted and effective sets, nothing
//                    inheritable or ambient; the bounding set cut to it
//                    where we hold CAP_SETPCAP (systemd cut it already).
//   monitor          its user as started (root in the manual modes: the
//                    owner of root's 0600 key files and of /run/wireguard);
//                    CAP_DAC_READ_SEARCH only if it was started with it (to
//                    read key files owned by the daemon's user).
// Both: no_new_privs, and securebits locked so that uid 0 is never again a
// source of capabilities (SECBIT_NOROOT, NO_SETUID_FIXUP, KEEP_CAPS and
// NO_CAP_AMBIENT_RAISE, each locked). Each call checks the result and fails
// rather than leave the process with more than it should have. Call them
// before the process starts a thread: capabilities are per thread.
#pragma once

#include <cstdint>
#include <string>

#include "config/daemon_user.h"
#include "tunnel/sys_error.h"

namespace sitelink::daemon {

[[nodiscard]] tunnel::SysResult<void> become_network_process(const config::DaemonUser& user);
[[nodiscard]] tunnel::SysResult<void> become_monitor();

// The calling thread's state, as /proc/PID/status shows it.
struct PrivilegeState {
  uint64_t effective = 0, permitted = 0, inheritable = 0, ambient = 0;
  unsigned securebits = 0;
  bool no_new_privs = false;
};
PrivilegeState privilege_state();

}  // namespace sitelink::daemon
