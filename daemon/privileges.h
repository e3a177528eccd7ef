// Dropping privileges once set-up is done: afterwards the daemon holds only
// CAP_NET_ADMIN (routes and addresses on reload, SO_MARK), in its effective,
// permitted and bounding sets.
#pragma once

#include "tunnel/sys_error.h"

namespace sitelink::daemon {

[[nodiscard]] tunnel::SysResult<void> keep_only_net_admin();

}  // namespace sitelink::daemon
