// Capabilities with the raw capget/capset(2) interface (libcap is not
// needed for two fixed sets); see privileges.h.
#include "daemon/privileges.h"

#include <grp.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>

namespace sitelink::daemon {
namespace {

constexpr uint64_t bit(int cap) { return uint64_t{1} << cap; }

constexpr unsigned kLockedBits = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
                                 SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE |
                                 SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;

struct CapSets {
  uint64_t effective = 0, permitted = 0, inheritable = 0;
};

tunnel::SysResult<CapSets> get_caps() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (syscall(SYS_capget, &header, data) != 0) return tunnel::errno_error("capget");
  auto join = [&](auto field) { return uint64_t{data[0].*field} | (uint64_t{data[1].*field} << 32); };
  return CapSets{join(&__user_cap_data_struct::effective), join(&__user_cap_data_struct::permitted),
                 join(&__user_cap_data_struct::inheritable)};
}

tunnel::SysResult<void> set_caps(uint64_t caps) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; ++i) {
    data[i].effective = data[i].permitted = static_cast<__u32>(caps >> (32 * i));
  }
  if (syscall(SYS_capset, &header, data) != 0) return tunnel::errno_error("capset");
  return {};
}

// Locks the securebits where we may (CAP_SETPCAP); under systemd the unit
// set them (SecureBits=) and we hold no CAP_SETPCAP. Checked at the end.
void lock_securebits(uint64_t permitted) {
  const int now = prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
  if (now < 0 || (static_cast<unsigned>(now) & kLockedBits) == kLockedBits) return;
  if ((permitted & bit(CAP_SETPCAP)) != 0) prctl(PR_SET_SECUREBITS, static_cast<unsigned>(now) | kLockedBits, 0, 0, 0);
}

// Cuts the bounding set to `keep` where we may (CAP_SETPCAP).
tunnel::SysResult<void> cut_bounding_set(uint64_t keep, uint64_t permitted) {
  if ((permitted & bit(CAP_SETPCAP)) == 0) return {};
  for (int cap = 0; cap <= CAP_LAST_CAP; ++cap) {
    if ((keep & bit(cap)) != 0) continue;
    if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) != 1) continue;  // not in the set, or unknown to this kernel
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) {
      return tunnel::errno_error("prctl(PR_CAPBSET_DROP)");
    }
  }
  return {};
}

tunnel::SysResult<void> switch_user(const config::DaemonUser& user) {
  uid_t uids[3] = {};
  getresuid(&uids[0], &uids[1], &uids[2]);
  gid_t gids[3] = {};
  getresgid(&gids[0], &gids[1], &gids[2]);
  const auto is_uid = [&](uid_t u) { return u == user.uid; };
  const auto is_gid = [&](gid_t g) { return g == user.gid; };
  if (std::all_of(std::begin(uids), std::end(uids), is_uid) && std::all_of(std::begin(gids), std::end(gids), is_gid)) {
    return {};  // started as the user (the systemd unit's User=)
  }
  const gid_t groups[1] = {user.gid};
  if (setgroups(1, groups) != 0) return tunnel::errno_error("setgroups");
  if (setresgid(user.gid, user.gid, user.gid) != 0) return tunnel::errno_error("setresgid(" + user.name + ")");
  if (setresuid(user.uid, user.uid, user.uid) != 0) return tunnel::errno_error("setresuid(" + user.name + ")");
  return {};
}

// Everything both processes do; `keep` is what remains of what we hold.
tunnel::SysResult<void> restrict_to(uint64_t keep, const config::DaemonUser* user) {
  auto caps = get_caps();
  if (!caps) return Err(caps.error());
  keep &= caps->permitted;
  lock_securebits(caps->permitted);
  if (auto r = cut_bounding_set(keep, caps->permitted); !r) return r;
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) {
    return tunnel::errno_error("prctl(PR_CAP_AMBIENT_CLEAR_ALL)");
  }
  if (user != nullptr) {
    if (auto r = switch_user(*user); !r) return r;
  }
  if (auto r = set_caps(keep); !r) return r;
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return tunnel::errno_error("prctl(PR_SET_NO_NEW_PRIVS)");

  // Trust, but verify.
  const PrivilegeState st = privilege_state();
  if (st.effective != keep || st.permitted != keep || st.inheritable != 0 || st.ambient != 0) {
    return tunnel::sys_error(0, "capabilities not dropped as intended");
  }
  if (!st.no_new_privs) return tunnel::sys_error(0, "no_new_privs is not set");
  if (user != nullptr && (getuid() == 0 || geteuid() == 0)) return tunnel::sys_error(0, "still running as root");
  if (geteuid() == 0 && (st.securebits & kLockedBits) != kLockedBits) {
    return tunnel::sys_error(0, "running as root without locked securebits (SECBIT_NOROOT)");
  }
  return {};
}

}  // namespace

tunnel::SysResult<void> become_network_process(const config::DaemonUser& user) {
  if (user.uid == 0) return tunnel::sys_error(0, "the daemon's user '" + user.name + "' is root");
  return restrict_to(bit(CAP_NET_ADMIN), &user);
}

tunnel::SysResult<void> become_monitor() { return restrict_to(bit(CAP_DAC_READ_SEARCH), nullptr); }

PrivilegeState privilege_state() {
  PrivilegeState st;
  if (auto caps = get_caps()) {
    st.effective = caps->effective;
    st.permitted = caps->permitted;
    st.inheritable = caps->inheritable;
  }
  for (int cap = 0; cap <= CAP_LAST_CAP; ++cap) {
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0) == 1) st.ambient |= bit(cap);
  }
  const int sb = prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
  st.securebits = sb < 0 ? 0 : static_cast<unsigned>(sb);
  st.no_new_privs = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1;
  return st;
}

}  // namespace sitelink::daemon
