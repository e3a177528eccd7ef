// The device's `netmap:` state (SPEC.md "Real office networks"): each
// peer's mapping rules, the seen-as prefixes Q that lead to a peer, and how
// many packets were translated. Device calls it at two points only:
//
//   route_outbound: route_outbound() is the allowed-ips lookup (a
//     destination in Q names its peer and becomes the peer's P; a source
//     in our L becomes M for the peer the packet goes to);
//   deliver: inbound() after the allowed-ips check on the wire source (a
//     source in P becomes Q, a destination in M becomes our L).
//
// Without mappings this is the plain lookup, after one emptiness test. The config
// view (allowed-ips as configured, routes for Q instead of P) is here too.
#pragma once

#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

#include "config/types.h"
#include "handshake/base/bytes.h"
#include "tunnel/allowed_ips.h"
#include "tunnel/ip_header.h"
#include "tunnel/netmap.h"

namespace sitelink::tunnel {

// A peer's `netmap:` entries as the rewrite rules take them.
Netmap netmap_of(const std::vector<config::NetmapEntry>& entries);

// The prefixes to route through the TUN for a peer (`routes: true`): its
// allowed-ips, except those inside a mapped peer prefix P (which may be our
// own LAN), plus each P's seen-as Q.
std::vector<config::IpPrefix> routed_prefixes(const std::vector<config::IpPrefix>& allowed_ips,
                                              const std::vector<config::NetmapEntry>& netmap);

class NetmapTable {
 public:
  // Replaces a peer's mapping (an empty one removes it).
  void set(PeerId peer, const Netmap& m);
  void erase(PeerId peer);
  bool empty() const { return peers_.empty(); }

  // The allowed-ips lookup of a packet read from the TUN (a complete IP
  // packet: the TUN reader completed partial checksums and cut
  // super-packets), `h` its parsed header: the peer it goes to, after
  // rewriting it by that peer's mapping (h's addresses point into the
  // packet and read the new ones). One lookup, as without mappings.
  std::optional<PeerId> route_outbound(MutableBytes packet, const IpHeader& h, const AllowedIps& routes);
  // Call after the allowed-ips check of a packet opened from `peer`.
  bool inbound(PeerId peer, MutableBytes packet);

  const Netmap* netmap(PeerId peer) const;
  // Packets translated for this peer, each direction.
  uint64_t translated_out(PeerId peer) const;
  uint64_t translated_in(PeerId peer) const;

 private:
  struct PeerMap {
    Netmap netmap;
    NetmapRules rules;
    uint64_t out = 0;
    uint64_t in = 0;
  };
  void rebuild_seen_as();

  std::unordered_map<PeerId, PeerMap> peers_;
  AllowedIps seen_as_;  // each peer-side Q -> its peer
};

}  // namespace sitelink::tunnel
