// A peer's endpoints as values (types.h): one entry's text for logs and
// status, and the list in order of preference whichever way it was written
// (`endpoints:`, or `endpoint:` as a one-entry list).
#include "config/types.h"

namespace sitelink::config {

std::string EndpointEntry::to_string() const {
  std::string s = endpoint.to_string();
  if (source) s += " from " + source->to_string();
  return s;
}

std::vector<EndpointEntry> PeerConfig::endpoint_list() const {
  if (!endpoints.empty()) return endpoints;
  if (endpoint) return {EndpointEntry{*endpoint, std::nullopt}};
  return {};
}

}  // namespace sitelink::config
