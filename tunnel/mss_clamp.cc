#include "tunnel/mss_clamp.h"

#include <cstddef>

#include "handshake/base/bytes.h"
#include "tunnel/offload.h"

namespace sitelink::tunnel {
namespace {

constexpr uint8_t kProtoTcp = 6;
constexpr uint8_t kTcpSyn = 0x02;
constexpr size_t kTcpMinHeader = 20;
constexpr uint8_t kOptEnd = 0;
constexpr uint8_t kOptNop = 1;
constexpr uint8_t kOptMss = 2;
constexpr uint8_t kOptMssLen = 4;

uint16_t swap16(uint16_t v) { return static_cast<uint16_t>(v << 8 | v >> 8); }

// RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m').
uint16_t adjust_checksum(uint16_t hc, uint16_t old_word, uint16_t new_word) {
  return static_cast<uint16_t>(
      ~checksum_fold(uint32_t{static_cast<uint16_t>(~hc)} + static_cast<uint16_t>(~old_word) + new_word));
}

// The MSS option in TCP header `tcp` of `hlen` bytes: lowered to `limit` if
// above it. `tcp` starts at an even offset of the segment the checksum covers.
bool clamp_options(uint8_t* tcp, size_t hlen, uint16_t limit, bool partial_checksum) {
  size_t i = kTcpMinHeader;
  while (i < hlen) {
    const uint8_t kind = tcp[i];
    if (kind == kOptEnd) return false;
    if (kind == kOptNop) {
      ++i;
      continue;
    }
    if (hlen - i < 2) return false;
    const uint8_t len = tcp[i + 1];
    if (len < 2 || len > hlen - i) return false;
    if (kind == kOptMss) {
      if (len != kOptMssLen) return false;
      uint8_t* value = tcp + i + 2;
      const uint16_t mss = load_be16(value);
      if (mss <= limit) return false;
      store_be16(value, limit);
      if (!partial_checksum) {
        // The one's-complement sum is byte-order independent: a value at an
        // odd offset counts byte-swapped.
        const bool odd = ((i + 2) & 1) != 0;
        const uint16_t old_word = odd ? swap16(mss) : mss;
        const uint16_t new_word = odd ? swap16(limit) : limit;
        store_be16(tcp + 16, adjust_checksum(load_be16(tcp + 16), old_word, new_word));
      }
      return true;
    }
    i += len;
  }
  return false;
}

}  // namespace

bool clamp_mss(MutableBytes packet, MssLimits limits, bool partial_checksum) {
  const size_t size = packet.size();
  if (size < 40) return false;  // IPv4 20 + TCP 20 at least
  uint8_t* p = packet.data();
  const int version = p[0] >> 4;
  size_t l4 = 0;
  size_t end = 0;
  uint16_t limit = 0;
  if (version == 4) {
    if (p[9] != kProtoTcp) return false;
    l4 = size_t{p[0] & 0x0fu} * 4;
    if (l4 < 20 || size < l4 + kTcpMinHeader) return false;
    if ((p[l4 + 13] & kTcpSyn) == 0) return false;
    if ((load_be16(p + 6) & 0x3fff) != 0) return false;  // MF or a fragment offset
    end = load_be16(p + 2);
    limit = limits.ipv4;
  } else if (version == 6) {
    if (p[6] != kProtoTcp) return false;  // extension headers: left alone
    l4 = 40;
    if (size < l4 + kTcpMinHeader) return false;
    if ((p[l4 + 13] & kTcpSyn) == 0) return false;
    end = l4 + load_be16(p + 4);
    limit = limits.ipv6;
  } else {
    return false;
  }
  if (limit == 0 || end > size || end < l4 + kTcpMinHeader) return false;
  const size_t hlen = static_cast<size_t>(p[l4 + 12] >> 4) * 4;
  if (hlen <= kTcpMinHeader || hlen > end - l4) return false;  // no options, or truncated
  return clamp_options(p + l4, hlen, limit, partial_checksum);
}

}  // namespace sitelink::tunnel
