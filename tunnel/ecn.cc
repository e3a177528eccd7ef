// ECN per RFC 6040 and the TOS byte of inner packets; see ecn.h.
#include "tunnel/ecn.h"

#include <array>
#include <cstddef>

#include "tunnel/offload.h"

namespace sitelink::tunnel {
namespace {

constexpr size_t kIpv4Header = 20;
constexpr size_t kIpv6Header = 40;
constexpr uint8_t kDrop = 0xff;

// RFC 6040 Figure 4, [inner][outer]. The combinations it marks "(!!!)"
// (currently unused) are: inner Not-ECT under ECT(0)/ECT(1), which stays
// Not-ECT, and inner CE under ECT(1), which stays CE.
constexpr std::array<std::array<uint8_t, 4>, 4> kTable = {{
    //            outer: Not-ECT      ECT(1)        ECT(0)        CE
    /* Not-ECT */ {ecn::kNotEct, ecn::kNotEct, ecn::kNotEct, kDrop},
    /* ECT(1)  */ {ecn::kEct1, ecn::kEct1, ecn::kEct1, ecn::kCe},
    /* ECT(0)  */ {ecn::kEct0, ecn::kEct1, ecn::kEct0, ecn::kCe},
    /* CE      */ {ecn::kCe, ecn::kCe, ecn::kCe, ecn::kCe},
}};

// RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m').
uint16_t adjust_checksum(uint16_t hc, uint16_t old_word, uint16_t new_word) {
  return static_cast<uint16_t>(
      ~checksum_fold(uint32_t{static_cast<uint16_t>(~hc)} + static_cast<uint16_t>(~old_word) + new_word));
}

}  // namespace

uint8_t ip_tos(Bytes packet) {
  if (packet.size() >= kIpv4Header && packet[0] >> 4 == 4) return packet[1];
  if (packet.size() >= kIpv6Header && packet[0] >> 4 == 6) {
    return static_cast<uint8_t>((packet[0] & 0x0f) << 4 | packet[1] >> 4);
  }
  return 0;
}

std::optional<uint8_t> decapsulate_ecn(uint8_t inner, uint8_t outer) {
  const uint8_t out = kTable[inner & ecn::kMask][outer & ecn::kMask];
  if (out == kDrop) return std::nullopt;
  return out;
}

EcnResult apply_outer_ecn(MutableBytes packet, uint8_t outer_tos) {
  const uint8_t outer = outer_tos & ecn::kMask;
  if (outer == ecn::kNotEct || outer == ecn::kEct0) return EcnResult::kUnchanged;  // Figure 4: never a change
  const int version = packet.empty() ? 0 : packet[0] >> 4;
  if (!(version == 4 && packet.size() >= kIpv4Header) && !(version == 6 && packet.size() >= kIpv6Header)) {
    return EcnResult::kUnchanged;  // not an IP packet: the caller's checks refuse it
  }
  const uint8_t tos = ip_tos(packet);
  const auto inner = decapsulate_ecn(tos, outer);
  if (!inner) return EcnResult::kDrop;
  if (*inner == (tos & ecn::kMask)) return EcnResult::kUnchanged;
  const auto new_tos = static_cast<uint8_t>((tos & ~ecn::kMask) | *inner);
  if (version == 4) {
    uint8_t* p = packet.data();
    const uint16_t old_word = load_be16(p);
    p[1] = new_tos;
    store_be16(p + 10, adjust_checksum(load_be16(p + 10), old_word, load_be16(p)));
  } else {
    packet[1] = static_cast<uint8_t>((packet[1] & 0x0f) | (new_tos & 0x0f) << 4);
  }
  return EcnResult::kMarked;
}

}  // namespace sitelink::tunnel
