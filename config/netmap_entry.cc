// A peer's `netmap:` entry as text, for logs, status and diagnostics.
#include "config/types.h"

namespace sitelink::config {

std::string NetmapEntry::to_string() const {
  return std::string(side == Side::kPeer ? "peer " : "local ") + prefix.to_string() + " seen-as " + seen_as.to_string();
}

}  // namespace sitelink::config
