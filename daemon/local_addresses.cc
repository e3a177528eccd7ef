// This host's addresses and the `source:` addresses that are not among them
// (see local_addresses.h).
#include "daemon/local_addresses.h"

#include <ifaddrs.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <set>

namespace sitelink::daemon {
namespace {

std::optional<config::IpAddress> address_of(const sockaddr* sa) {
  if (sa == nullptr) return std::nullopt;
  if (sa->sa_family == AF_INET) {
    sockaddr_in in{};
    std::memcpy(&in, sa, sizeof in);
    std::array<uint8_t, 4> b{};
    std::memcpy(b.data(), &in.sin_addr, b.size());
    return config::IpAddress::v4(b);
  }
  if (sa->sa_family == AF_INET6) {
    sockaddr_in6 in6{};
    std::memcpy(&in6, sa, sizeof in6);
    std::array<uint8_t, 16> b{};
    std::memcpy(b.data(), &in6.sin6_addr, b.size());
    return config::IpAddress::v6(b);
  }
  return std::nullopt;
}

}  // namespace

std::vector<config::IpAddress> local_addresses() {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return {};
  std::vector<config::IpAddress> out;
  for (const ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
    if (auto a = address_of(i->ifa_addr)) out.push_back(*a);
  }
  ::freeifaddrs(list);
  return out;
}

std::vector<std::string> nonlocal_sources(const config::Config& cfg, const std::vector<config::IpAddress>& local) {
  std::vector<std::string> out;
  for (const auto& p : cfg.peers) {
    std::set<config::IpAddress> named;
    for (const auto& e : p.endpoints) {
      if (!e.source || std::find(local.begin(), local.end(), *e.source) != local.end()) continue;
      if (!named.insert(*e.source).second) continue;
      out.push_back("peer " + p.label() + ": source " + e.source->to_string() +
                    " is not an address of this host (yet): the kernel will choose the source until it is");
    }
  }
  return out;
}

std::vector<std::string> nonlocal_sources(const config::Config& cfg) {
  return nonlocal_sources(cfg, local_addresses());
}

}  // namespace sitelink::daemon
