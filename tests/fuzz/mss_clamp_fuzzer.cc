// libFuzzer target: TCP MSS clamping (tunnel/mss_clamp.h) on arbitrary
// packets.
//
// Input: a selector byte (bit 0: the packet has a partial checksum, as with
// VIRTIO_NET_HDR_F_NEEDS_CSUM), the IPv4 and IPv6 limits (2 bytes each, big
// endian), then the packet, copied into an exact-size heap buffer so ASan
// sees any access outside it.
//
// Checked: no crash, no access outside the packet; unclamped packets are
// unchanged; a clamped one is an IPv4/IPv6 TCP packet whose only changed
// bytes (at most 4: the MSS value and the checksum) lie in its TCP header,
// whose MSS went down, and whose TCP checksum (computed from scratch) is
// valid if the input's was. With a partial checksum the input's field is
// first set to the pseudo-header sum (what the kernel puts there), and after
// clamping the checksum is completed as the TUN reader does; it must verify.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>

#include "fuzz/fuzz_check.h"
#include "support/naive_offload.h"
#include "tunnel/mss_clamp.h"

namespace sitelink::tunnel {
namespace {

using test::be16;
using test::Buf;

struct Segment {
  int version;
  size_t l4;   // TCP header offset
  size_t end;  // the IP packet's stated length
};

// The TCP segment of a packet whose lengths are consistent, written out here.
std::optional<Segment> tcp_segment(const uint8_t* p, size_t n) {
  if (n < 1) return std::nullopt;
  const int v = p[0] >> 4;
  if (v == 4 && n >= 20 && p[9] == 6 && (p[0] & 0x0f) >= 5) {
    const size_t l4 = size_t{p[0] & 0x0fu} * 4, end = be16(p + 2);
    if (end <= n && end >= l4 + 20) return Segment{4, l4, end};
  } else if (v == 6 && n >= 40 && p[6] == 6) {
    const size_t end = 40 + size_t{be16(p + 4)};
    if (end <= n && end >= 60) return Segment{6, 40, end};
  }
  return std::nullopt;
}

}  // namespace
}  // namespace sitelink::tunnel

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sitelink::tunnel;
  using namespace sitelink::test;
  if (size < 5) return 0;
  const bool partial = (data[0] & 1) != 0;
  const MssLimits limits{be16(data + 1), be16(data + 3)};
  const size_t n = size - 5;
  auto packet = std::make_unique<uint8_t[]>(n == 0 ? 1 : n);
  if (n > 0) std::memcpy(packet.get(), data + 5, n);
  uint8_t* p = packet.get();

  const std::optional<Segment> seg = tcp_segment(p, n);
  if (partial && seg) {
    const uint8_t* src = p + (seg->version == 4 ? 12 : 8);
    const uint8_t* dst = src + (seg->version == 4 ? 4 : 16);
    set16(p + seg->l4 + 16, naive_sum(pseudo_header(seg->version, src, dst, 6, seg->end - seg->l4)));
  }
  const Buf before(p, p + n);
  const bool input_ok = seg && tcp_checksum_ok(p, seg->end);

  const bool clamped = clamp_mss(sitelink::MutableBytes(p, n), limits, partial);
  if (!clamped) {
    FUZZ_CHECK(std::equal(p, p + n, before.begin()));  // (memcmp may not take an empty buffer's null)
    return 0;
  }
  FUZZ_CHECK(seg.has_value());
  FUZZ_CHECK((p[seg->l4 + 13] & 0x02) != 0);  // SYN
  const size_t hlen = static_cast<size_t>(p[seg->l4 + 12] >> 4) * 4;
  size_t changed = 0;
  for (size_t i = 0; i < n; ++i) {
    if (p[i] == before[i]) continue;
    ++changed;
    FUZZ_CHECK(i >= seg->l4 + 16 && i < seg->l4 + hlen);
  }
  FUZZ_CHECK(changed <= 4);
  if (partial) {
    FUZZ_CHECK(std::memcmp(p + seg->l4 + 16, before.data() + seg->l4 + 16, 2) == 0);
    Buf done(p, p + seg->end);
    naive_complete(done, seg->l4, 16);
    FUZZ_CHECK(tcp_checksum_ok(done));
  } else if (input_ok) {
    FUZZ_CHECK(tcp_checksum_ok(p, seg->end));
  }
  return 0;
}
