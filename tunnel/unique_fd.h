// tunnel/ names the one UniqueFd (handshake/base/unique_fd.h) as its own.
#pragma once

#include "handshake/base/unique_fd.h"

namespace sitelink::tunnel {

using sitelink::UniqueFd;

}  // namespace sitelink::tunnel
