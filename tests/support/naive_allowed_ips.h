// A naive reference model of tunnel::AllowedIps (a list with a linear
// longest-prefix match), shared by the unit tests and the fuzz target that
// check the trie against it.
#pragma once

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

#include "config/ip_prefix.h"
#include "tunnel/allowed_ips.h"

namespace sitelink::test {

using config::IpAddress;
using config::IpPrefix;
using tunnel::PeerId;

class NaiveAllowedIps {
 public:
  void insert(const IpPrefix& p, PeerId peer) {
    const IpPrefix c = p.canonical();
    for (auto& [q, owner] : entries_) {
      if (q == c) {
        owner = peer;
        return;
      }
    }
    entries_.emplace_back(c, peer);
  }

  bool remove(const IpPrefix& p, PeerId peer) {
    const IpPrefix c = p.canonical();
    const auto owned = [&](const auto& e) { return e.first == c && e.second == peer; };
    return std::erase_if(entries_, owned) > 0;
  }

  void remove_peer(PeerId peer) {
    std::erase_if(entries_, [&](const auto& e) { return e.second == peer; });
  }

  std::optional<PeerId> lookup(const IpAddress& a) const {
    std::optional<PeerId> best;
    int best_len = -1;
    for (const auto& [q, owner] : entries_) {
      if (q.contains(a) && q.length() > best_len) {
        best = owner;
        best_len = q.length();
      }
    }
    return best;
  }

  std::vector<IpPrefix> prefixes_of(PeerId peer) const {
    std::vector<IpPrefix> out;
    for (const auto& [q, owner] : entries_) {
      if (owner == peer) out.push_back(q);
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  size_t size() const { return entries_.size(); }
  const std::vector<std::pair<IpPrefix, PeerId>>& entries() const { return entries_; }

 private:
  std::vector<std::pair<IpPrefix, PeerId>> entries_;
};

}  // namespace sitelink::test
