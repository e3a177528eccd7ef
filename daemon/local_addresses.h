// The addresses of this host, for the `source:` of a peer's `endpoints:`
// (SPEC.md "Real office networks"): a source that is not (yet) an address
// of this host is worth a warning, not an error, since addresses come and go
// (a DSL line's address arrives after the daemon starts). `sitelink check`
// prints the warnings; sitelinkd logs them at start-up and on reload.
#pragma once

#include <string>
#include <vector>

#include "config/ip_prefix.h"
#include "config/types.h"

namespace sitelink::daemon {

// Every IPv4 and IPv6 address on this host's interfaces in the current
// network namespace (getifaddrs); empty if they cannot be listed.
std::vector<config::IpAddress> local_addresses();

// One warning per endpoint entry whose source is not in `local`, e.g.
// "peer office-b: source 203.0.113.130 is not an address of this host
// (yet): the kernel will choose the source until it is". In the order of
// the peers and their entries; a source named twice in a peer is named once.
std::vector<std::string> nonlocal_sources(const config::Config& cfg, const std::vector<config::IpAddress>& local);
// The same against local_addresses().
std::vector<std::string> nonlocal_sources(const config::Config& cfg);

}  // namespace sitelink::daemon
