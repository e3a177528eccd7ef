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

bool NetmapTable::outbound(MutableBytes packet, const AllowedIps& routes) {
  if (peers_.empty()) return false;
  const auto h = parse_ip_header(packet);
  if (!h) return false;
  // A destination in a seen-as prefix names its peer; any other goes to the
  // peer whose allowed-ips hold it, whose local mapping then applies.
  auto id = h->version == 4 ? seen_as_.lookup_v4(h->dst) : seen_as_.lookup_v6(h->dst);
  if (!id) id = h->version == 4 ? routes.lookup_v4(h->dst) : routes.lookup_v6(h->dst);
  if (!id) return false;
  const auto it = peers_.find(*id);
  if (it == peers_.end() || !it->second.rules.outbound(packet)) return false;
  ++it->second.out;
  return true;
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
