#include "tunnel/netmap_table.h"

#include <algorithm>

#include "tunnel/ip_header.h"

namespace sitelink::tunnel {

Netmap netmap_of(const std::vector<config::NetmapEntry>& entries) {
  Netmap m;
  for (const auto& e : entries) {
    (e.side == config::NetmapEntry::Side::kPeer ? m.peer : m.local).push_back({e.prefix, e.seen_as});
  }
  return m;
}

std::vector<config::IpPrefix> routed_prefixes(const std::vector<config::IpPrefix>& allowed_ips,
                                              const std::vector<config::NetmapEntry>& netmap) {
  std::vector<config::IpPrefix> out;
  const auto mapped = [&](const config::IpPrefix& a) {
    return std::any_of(netmap.begin(), netmap.end(), [&](const config::NetmapEntry& e) {
      return e.side == config::NetmapEntry::Side::kPeer && e.prefix.contains(a);
    });
  };
  for (const auto& a : allowed_ips) {
    if (!mapped(a)) out.push_back(a);
  }
  for (const auto& e : netmap) {
    if (e.side == config::NetmapEntry::Side::kPeer) out.push_back(e.seen_as);
  }
  return out;
}

void NetmapTable::set(PeerId peer, const Netmap& m) {
  if (m.empty()) return erase(peer);
  auto& p = peers_[peer];
  if (p.netmap == m) return;
  p.netmap = m;
  p.rules = NetmapRules(m);
  rebuild_seen_as();
}

void NetmapTable::erase(PeerId peer) {
  if (peers_.erase(peer) > 0) rebuild_seen_as();
}

void NetmapTable::rebuild_seen_as() {
  seen_as_.clear();
  for (const auto& [id, p] : peers_) {
    for (const auto& r : p.netmap.peer) seen_as_.insert(r.to, id);
  }
}

namespace {
std::optional<PeerId> lookup(const AllowedIps& table, const IpHeader& h) {
  return h.version == 4 ? table.lookup_v4(h.dst) : table.lookup_v6(h.dst);
}
}  // namespace

std::optional<PeerId> NetmapTable::route_outbound(MutableBytes packet, const IpHeader& h, const AllowedIps& routes) {
  if (peers_.empty()) return lookup(routes, h);
  // A destination in a seen-as prefix names its peer (rewritten to the
  // peer's P, it goes to that peer); any other goes to the peer whose
  // allowed-ips hold it, whose local mapping then applies.
  if (const auto q = lookup(seen_as_, h)) {
    const auto it = peers_.find(*q);
    if (it != peers_.end() && it->second.rules.outbound(packet)) {
      ++it->second.out;
      return q;
    }
  }
  const auto id = lookup(routes, h);
  if (!id) return id;
  const auto it = peers_.find(*id);
  if (it != peers_.end() && it->second.rules.outbound(packet)) ++it->second.out;
  return id;
}

bool NetmapTable::inbound(PeerId peer, MutableBytes packet) {
  if (peers_.empty()) return false;
  const auto it = peers_.find(peer);
  if (it == peers_.end() || !it->second.rules.inbound(packet)) return false;
  ++it->second.in;
  return true;
}

const Netmap* NetmapTable::netmap(PeerId peer) const {
  const auto it = peers_.find(peer);
  return it == peers_.end() ? nullptr : &it->second.netmap;
}

uint64_t NetmapTable::translated_out(PeerId peer) const {
  const auto it = peers_.find(peer);
  return it == peers_.end() ? 0 : it->second.out;
}

uint64_t NetmapTable::translated_in(PeerId peer) const {
  const auto it = peers_.find(peer);
  return it == peers_.end() ? 0 : it->second.in;
}

}  // namespace sitelink::tunnel
