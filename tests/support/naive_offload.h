// A naive reference for the TUN offload checks (tunnel/offload.h), shared by
// the unit tests and the fuzz target: RFC 1071 sums taken 16 bits at a time
// over byte vectors, the pseudo-header laid out as bytes, and checksum
// verification of whole packets. Written from the RFCs, not from offload.cc.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace sitelink::test {

using Buf = std::vector<uint8_t>;

inline uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
inline uint32_t be32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}
inline void set16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline void put16(Buf& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}
inline void put32(Buf& b, uint32_t v) {
  put16(b, static_cast<uint16_t>(v >> 16));
  put16(b, static_cast<uint16_t>(v));
}

// RFC 1071, the slow way: 16-bit big-endian words, an odd last byte padded
// with zero, carries folded at the end. Not complemented.
inline uint16_t naive_sum(const uint8_t* data, size_t n, uint64_t start = 0) {
  uint64_t sum = start;
  for (size_t i = 0; i < n; i += 2) {
    const uint64_t hi = data[i];
    const uint64_t lo = i + 1 < n ? data[i + 1] : 0;
    sum += hi << 8 | lo;
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}
inline uint16_t naive_sum(const Buf& data, uint64_t start = 0) { return naive_sum(data.data(), data.size(), start); }

// The TCP/UDP pseudo-header as bytes (RFC 793 section 3.1, RFC 8200 section 8.1).
inline Buf pseudo_header(int version, const uint8_t* src, const uint8_t* dst, uint8_t proto, size_t l4_len) {
  Buf b;
  const size_t alen = version == 4 ? 4 : 16;
  b.insert(b.end(), src, src + alen);
  b.insert(b.end(), dst, dst + alen);
  if (version == 4) {
    b.push_back(0);
    b.push_back(proto);
    put16(b, static_cast<uint16_t>(l4_len));
  } else {
    put32(b, static_cast<uint32_t>(l4_len));
    b.insert(b.end(), {0, 0, 0, proto});
  }
  return b;
}

// Where the TCP header starts in a packet known to be IPv4 or IPv6 TCP.
inline size_t l4_offset_of(const uint8_t* p) { return (p[0] >> 4) == 4 ? size_t{p[0] & 0x0fu} * 4 : 40; }

// True if the TCP checksum of a whole IPv4/IPv6 TCP packet verifies.
inline bool tcp_checksum_ok(const uint8_t* p, size_t n) {
  const int version = p[0] >> 4;
  const size_t l4 = l4_offset_of(p);
  const uint8_t* src = p + (version == 4 ? 12 : 8);
  const uint8_t* dst = src + (version == 4 ? 4 : 16);
  const Buf pseudo = pseudo_header(version, src, dst, 6, n - l4);
  return naive_sum(p + l4, n - l4, naive_sum(pseudo)) == 0xffff;
}
inline bool tcp_checksum_ok(const Buf& b) { return tcp_checksum_ok(b.data(), b.size()); }

// True if an IPv4 header's checksum verifies.
inline bool ipv4_header_ok(const uint8_t* p) { return naive_sum(p, l4_offset_of(p)) == 0xffff; }

// Completes a partial checksum as the kernel does for CHECKSUM_PARTIAL: the
// complement of the sum from `start` to the end, stored at start + offset.
inline void naive_complete(Buf& b, size_t start, size_t offset) {
  set16(&b[start + offset], static_cast<uint16_t>(~naive_sum(b.data() + start, b.size() - start)));
}

}  // namespace sitelink::test
