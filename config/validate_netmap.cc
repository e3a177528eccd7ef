// The rules of `netmap:` that span entries and peers (SPEC.md "Real office
// networks"), checked after every field is parsed:
//   - a peer-side prefix P lies inside that peer's allowed-ips (they are
//     checked on the addresses as on the wire);
//   - one prefix is mapped once: no two entries of a peer map overlapping
//     prefixes on the same side;
//   - a peer-side seen-as Q (routed here) overlaps no peer's allowed-ips, a
//     local-side seen-as M none of its own peer's (that peer would see its
//     own addresses);
//   - no two seen-as prefixes overlap, except local-side ones of different
//     peers (each exists only on the wire to its own peer);
//   - no seen-as overlaps the interface's own addresses.
#include <string>

#include "config/load_internal.h"

namespace sitelink::config::detail {
namespace {

using Side = NetmapEntry::Side;

struct Mapping {
  const NetmapEntry* entry;
  size_t peer;
  std::string path;  // "peers[0].netmap[1]"
};

std::string side_key(const NetmapEntry& e) { return e.side == Side::kPeer ? "peer" : "local"; }

std::string peer_name(const Draft& d, size_t k) {
  const std::string p = item_path("peers", d.sources[k].index);
  return d.config.peers[k].name.empty() ? p : p + " (" + d.config.peers[k].name + ")";
}

void check_inside_allowed_ips(const Draft& d, const Mapping& m, Reporter& r) {
  if (m.entry->side != Side::kPeer) return;
  const auto& ips = d.config.peers[m.peer].allowed_ips;
  for (const IpPrefix& p : ips) {
    if (p.contains(m.entry->prefix)) return;
  }
  const std::string path = field_path(m.path, "peer");
  r.error(d.at(path), path,
          m.entry->prefix.to_string() + " is not inside this peer's allowed-ips; allowed-ips are checked on the " +
              "addresses as on the wire, so add " + m.entry->prefix.to_string() + " to allowed-ips");
}

void check_seen_as_routes(const Draft& d, const Mapping& m, Reporter& r) {
  const std::string path = field_path(m.path, "seen-as");
  const IpPrefix& q = m.entry->seen_as;
  for (size_t k = 0; k < d.config.peers.size(); ++k) {
    if (m.entry->side == Side::kLocal && k != m.peer) continue;
    const auto& ips = d.config.peers[k].allowed_ips;
    for (size_t n = 0; n < ips.size(); ++n) {
      if (!ips[n].overlaps(q)) continue;
      r.error(d.at(path), path,
              q.to_string() + " overlaps " + ips[n].to_string() + " (" + d.sources[k].allowed_ip_paths[n] + ") of " +
                  peer_name(d, k) + "; a seen-as prefix must be one no peer uses");
      return;
    }
  }
  for (const IpPrefix& a : d.config.interface.addresses) {
    if (!a.canonical().overlaps(q)) continue;
    r.error(d.at(path), path,
            q.to_string() + " overlaps the interface address " + a.to_string() +
                "; a seen-as prefix must be one this gateway does not use");
    return;
  }
}

void check_pair(const Draft& d, const Mapping& a, const Mapping& b, Reporter& r) {
  const NetmapEntry& x = *a.entry;
  const NetmapEntry& y = *b.entry;
  if (a.peer == b.peer && x.side == y.side && x.prefix.overlaps(y.prefix)) {
    const std::string path = field_path(b.path, side_key(y));
    r.error(d.at(path), path,
            y.prefix.to_string() + " overlaps " + x.prefix.to_string() + ", mapped already by " + a.path +
                "; each address is mapped once");
  }
  const bool separate_wires = a.peer != b.peer && x.side == Side::kLocal && y.side == Side::kLocal;
  if (!separate_wires && x.seen_as.overlaps(y.seen_as)) {
    const std::string path = field_path(b.path, "seen-as");
    r.error(d.at(path), path,
            y.seen_as.to_string() + " overlaps " + x.seen_as.to_string() + ", the seen-as of " + a.path +
                (a.peer != b.peer ? " (" + peer_name(d, a.peer) + ")" : "") + "; two mappings cannot share addresses");
  }
}

}  // namespace

void check_netmap(const Draft& d, Reporter& r) {
  std::vector<Mapping> all;
  for (size_t k = 0; k < d.config.peers.size(); ++k) {
    const auto& entries = d.config.peers[k].netmap;
    for (size_t n = 0; n < entries.size(); ++n) all.push_back({&entries[n], k, d.sources[k].netmap_paths[n]});
  }
  for (size_t i = 0; i < all.size(); ++i) {
    check_inside_allowed_ips(d, all[i], r);
    check_seen_as_routes(d, all[i], r);
    for (size_t j = 0; j < i; ++j) check_pair(d, all[j], all[i], r);
  }
}

}  // namespace sitelink::config::detail
