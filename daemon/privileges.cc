// Capability dropping with the raw capset(2) interface (libcap is not needed
// for one fixed set); see privileges.h.
#include "daemon/privileges.h"

#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace sitelink::daemon {

tunnel::SysResult<void> keep_only_net_admin() {
  // The bounding set first. Dropping needs CAP_SETPCAP, which we hold unless
  // a service manager bounded us already (systemd's CapabilityBoundingSet=
  // CAP_NET_ADMIN): only what is still in the set is dropped.
  for (int cap = 0; cap <= CAP_LAST_CAP; ++cap) {
    if (cap == CAP_NET_ADMIN) continue;
    if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) != 1) continue;  // not in the set, or unknown to this kernel
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) {
      return tunnel::errno_error("prctl(PR_CAPBSET_DROP)");
    }
  }
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  // Nothing more than CAP_NET_ADMIN permitted already (as under the unit,
  // whose seccomp filter also refuses capset): nothing to do.
  if (syscall(SYS_capget, &header, data) == 0) {
    bool only_net_admin = true;
    for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; ++i) {
      const __u32 allowed = i == CAP_TO_INDEX(CAP_NET_ADMIN) ? CAP_TO_MASK(CAP_NET_ADMIN) : 0;
      if ((data[i].permitted & ~allowed) != 0 || (data[i].effective & ~allowed) != 0) only_net_admin = false;
    }
    if (only_net_admin) return {};
  }
  header = {_LINUX_CAPABILITY_VERSION_3, 0};
  for (auto& d : data) d = {};
  data[CAP_TO_INDEX(CAP_NET_ADMIN)].effective = CAP_TO_MASK(CAP_NET_ADMIN);
  data[CAP_TO_INDEX(CAP_NET_ADMIN)].permitted = CAP_TO_MASK(CAP_NET_ADMIN);
  if (syscall(SYS_capset, &header, data) != 0) return tunnel::errno_error("capset");
  return {};
}

}  // namespace sitelink::daemon
