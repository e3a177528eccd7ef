// AllowedIps: cryptokey routing (paper section 2). Maps IP prefixes to
// peers; a lookup returns the peer of the longest matching prefix. Used both
// ways: outbound, the destination picks the peer; inbound, the source must
// map back to the peer that sent the packet. Lookup cost depends on the
// address length, not on the number of peers or prefixes.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "config/ip_prefix.h"

namespace sitelink::tunnel {

using PeerId = uint32_t;

class AllowedIps {
 public:
  AllowedIps();
  ~AllowedIps();
  AllowedIps(AllowedIps&&) noexcept;
  AllowedIps& operator=(AllowedIps&&) noexcept;
  AllowedIps(const AllowedIps&) = delete;
  AllowedIps& operator=(const AllowedIps&) = delete;

  // Maps `prefix` (host bits are ignored) to `peer`, replacing any earlier
  // owner of exactly that prefix (as wg does).
  void insert(const config::IpPrefix& prefix, PeerId peer);
  // Removes exactly `prefix` if `peer` owns it; true if removed.
  bool remove(const config::IpPrefix& prefix, PeerId peer);
  // Removes every prefix of `peer`.
  void remove_peer(PeerId peer);
  void clear();

  // Longest-prefix match over the 4 or 16 network-order bytes of `addr`.
  std::optional<PeerId> lookup(const config::IpAddress& addr) const;
  std::optional<PeerId> lookup_v4(const uint8_t* addr4) const;
  std::optional<PeerId> lookup_v6(const uint8_t* addr16) const;

  // The prefixes of `peer`, canonical, IPv4 first then IPv6, each in
  // ascending order.
  std::vector<config::IpPrefix> prefixes_of(PeerId peer) const;
  size_t size() const;

 private:
  struct Node;
  std::unique_ptr<Node> root4_;
  std::unique_ptr<Node> root6_;
  // Each peer's owned nodes form an intrusive list (as the kernel's
  // peer->allowedips_list), so remove_peer touches only that peer's prefixes.
  std::unordered_map<PeerId, Node*> peer_nodes_;
  size_t size_ = 0;
};

}  // namespace sitelink::tunnel
