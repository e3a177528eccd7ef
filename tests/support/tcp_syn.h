// TCP SYNs for data path tests: an IPv4 or IPv6 SYN (or SYN-ACK) whose
// options end with an MSS option, with a valid checksum computed from
// scratch (naive_offload.h), and the MSS read back.
#pragma once

#include <algorithm>
#include <iterator>
#include <string>
#include <vector>

#include "fakes/packets.h"
#include "support/naive_offload.h"

namespace sitelink::test {

// A TCP SYN (or SYN-ACK) with a timestamp option and then an MSS option, and
// a valid checksum (computed from scratch).
inline std::vector<uint8_t> tcp_syn(const std::string& src, const std::string& dst, uint16_t mss, bool ack = false) {
  std::vector<uint8_t> p = ip_packet(src, dst, 32, 0);
  const bool v4 = (p[0] >> 4) == 4;
  const size_t l4 = v4 ? 20 : 40;
  p[v4 ? 9 : 6] = 6;
  const uint8_t tcp[32] = {0x9c, 0x40, 0x01, 0xbb, 0, 0, 0, 1, 0, 0, 0, ack ? uint8_t{1} : uint8_t{0}, 0x80,
                           static_cast<uint8_t>(ack ? 0x12 : 0x02), 0xfa, 0xf0, 0, 0, 0, 0,
                           // NOP, NOP, timestamps, then MSS at an even offset
                           1, 1, 8, 10, 0, 0, 0, 7, 0, 0, 0, 0};
  std::copy(std::begin(tcp), std::end(tcp), p.begin() + static_cast<ptrdiff_t>(l4));
  const uint8_t opt[4] = {2, 4, static_cast<uint8_t>(mss >> 8), static_cast<uint8_t>(mss)};
  p.insert(p.end(), std::begin(opt), std::end(opt));
  p[l4 + 12] = 0x90;  // 36-byte header
  if (v4) {
    set16(&p[2], static_cast<uint16_t>(p.size()));
  } else {
    set16(&p[4], static_cast<uint16_t>(p.size() - 40));
  }
  const size_t a = v4 ? 12 : 8, alen = v4 ? 4 : 16;
  const Buf pseudo = pseudo_header(v4 ? 4 : 6, &p[a], &p[a + alen], 6, p.size() - l4);
  set16(&p[l4 + 16], static_cast<uint16_t>(~naive_sum(&p[l4], p.size() - l4, naive_sum(pseudo))));
  return p;
}
// The MSS of a packet made by tcp_syn (its last two bytes).
inline uint16_t mss_of(const std::vector<uint8_t>& p) { return be16(&p[p.size() - 2]); }

}  // namespace sitelink::test
