// ECN and DSCP across the tunnel (SPEC.md "Real office networks": ECN
// follows RFC 6040 always; `copy-dscp` copies the DSCP). The IP header's
// TOS byte (IPv4) or traffic class (IPv6) holds the DSCP in its upper six
// bits and the ECN field in its lower two.
//
// Sealing (RFC 6040 4.1, normal mode): the outer header carries the inner
// ECN field as it is, CE included, and, with copy-dscp, the inner DSCP.
// Opening (RFC 6040 4.2): the outer ECN field, which routers on the way may
// have set to CE, is combined with the inner one by the table in
// decapsulate_ecn; CE over a Not-ECT inner packet means drop.
//
// Pure functions on caller buffers: unit-tested case by case.
#pragma once

#include <cstdint>
#include <optional>

#include "handshake/base/bytes.h"

namespace sitelink::tunnel {

// The ECN codepoints (RFC 3168 5).
namespace ecn {
constexpr uint8_t kNotEct = 0b00;
constexpr uint8_t kEct1 = 0b01;
constexpr uint8_t kEct0 = 0b10;
constexpr uint8_t kCe = 0b11;
constexpr uint8_t kMask = 0b11;
}  // namespace ecn

// The TOS / traffic-class byte of an IPv4 or IPv6 packet; 0 for anything
// else (a keepalive's empty plaintext, a truncated header).
uint8_t ip_tos(Bytes packet);

// The outer TOS for a sealed inner packet with TOS `inner` (RFC 6040 4.1
// normal mode: the ECN field copied as is; the DSCP only with copy-dscp).
constexpr uint8_t outer_tos(uint8_t inner, bool copy_dscp) {
  return copy_dscp ? inner : static_cast<uint8_t>(inner & ecn::kMask);
}

// RFC 6040 4.2, Figure 4: the ECN field the inner packet leaves the tunnel
// with, given the inner and outer ECN fields as they arrived; nullopt:
// drop (outer CE over a Not-ECT inner packet: the congestion signal cannot
// be passed on, and dropping is what the router would have done).
std::optional<uint8_t> decapsulate_ecn(uint8_t inner, uint8_t outer);

// What apply_outer_ecn did to a packet.
enum class EcnResult : uint8_t { kUnchanged, kMarked, kDrop };

// Applies decapsulate_ecn to the IPv4 or IPv6 `packet` that arrived in an
// outer packet of TOS `outer_tos`, in place: a changed IPv4 TOS fixes the
// header checksum incrementally (RFC 1624); IPv6 has none. An outer
// Not-ECT or ECT(0) never changes anything (checked first: the common case
// costs one test).
EcnResult apply_outer_ecn(MutableBytes packet, uint8_t outer_tos);

}  // namespace sitelink::tunnel
