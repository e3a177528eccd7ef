// 1:1 prefix mapping for overlapping office LANs: the pure packet surgery
// behind a peer's `netmap:` (SPEC.md "Real office networks"). An address
// inside a mapped prefix is replaced by the address with the same host bits
// inside the other prefix, and every checksum that covers it is fixed
// incrementally (RFC 1624): the IPv4 header, TCP, UDP (a zero IPv4 UDP
// checksum stays zero: "none"), ICMPv6 (its pseudo-header), and the IP
// header and transport checksum quoted inside ICMP/ICMPv6 errors, whose
// addresses run the other way (the quoted packet is one that went from the
// error's destination to its source).
//
//   Fragments: only the first carries the transport header; later ones get
//   the IP header rewritten and nothing else.
//   IPv6 extension headers: hop-by-hop, destination options, routing (with
//   no segments left) and fragment headers are walked; behind any other
//   (AH, ESP, ...) or a routing header with segments left the transport
//   checksum is left alone (its pseudo-header is not ours to know).
//   Quoted packets: handled as far as the quote goes; a transport checksum
//   cut off by the quote is left alone. Errors quoted inside errors are not
//   looked into.
//
// Works on caller buffers, no system calls: unit-tested and fuzzed directly.
#pragma once

#include <cstdint>
#include <vector>

#include "config/ip_prefix.h"
#include "handshake/base/bytes.h"

namespace sitelink::tunnel {

// An address inside `from` becomes the address with the same host bits
// inside `to`. Both have the same family and length (the config loader
// checks it; a rule that breaks it is ignored).
struct PrefixRewrite {
  config::IpPrefix from;
  config::IpPrefix to;
  PrefixRewrite reversed() const { return {to, from}; }
  friend bool operator==(const PrefixRewrite&, const PrefixRewrite&) = default;
};
using Rewrites = std::vector<PrefixRewrite>;

// What one direction does: the first rule in `source` that holds the
// packet's source rewrites it, likewise the destination.
struct AddressRewrites {
  Rewrites source;
  Rewrites destination;
};

// Rewrites the addresses of the IPv4/IPv6 packet in `packet` (a longer
// buffer is fine: the IP length is used) and fixes its checksums. Returns
// whether an address of the packet itself changed. Anything malformed or
// truncated is left as far as it cannot be parsed; nothing outside the
// packet is read or written.
//
// `partial_checksum`: the transport checksum field holds only the
// pseudo-header sum, not complemented (VIRTIO_NET_HDR_F_NEEDS_CSUM; a GSO
// super-packet always has it), which whoever completes the checksum adds to
// the sum of the transport bytes. It is adjusted for the pseudo-header
// change alone (still a one's-complement update of the same sum, not
// complemented); changes inside the transport bytes (a quoted header) are
// then covered by the completion.
bool rewrite_addresses(MutableBytes packet, const AddressRewrites& rules, bool partial_checksum = false);

// A peer's `netmap:` entries.
struct Netmap {
  Rewrites peer;   // from: the peer's prefix P as on the wire; to: Q, as seen here
  Rewrites local;  // from: our prefix L; to: M, as the peer sees it
  bool empty() const { return peer.empty() && local.empty(); }
  friend bool operator==(const Netmap&, const Netmap&) = default;
};

// A Netmap turned into its two directions.
class NetmapRules {
 public:
  NetmapRules() = default;
  explicit NetmapRules(const Netmap& m);
  // TUN -> peer, before the allowed-ips lookup: destination Q -> P, source L -> M.
  bool outbound(MutableBytes packet, bool partial_checksum = false) const {
    return rewrite_addresses(packet, out_, partial_checksum);
  }
  // Peer -> TUN, after the allowed-ips check on the wire source: source P -> Q,
  // destination M -> L.
  bool inbound(MutableBytes packet, bool partial_checksum = false) const {
    return rewrite_addresses(packet, in_, partial_checksum);
  }

 private:
  AddressRewrites out_;
  AddressRewrites in_;
};

}  // namespace sitelink::tunnel
