// libFuzzer target: 1:1 prefix mapping (tunnel/netmap.h) on arbitrary
// packets.
//
// Input: a selector byte (bit 0: the packet has a partial checksum; bit 1:
// the source rules are IPv6; bit 2: the destination rules are IPv6), the
// prefix lengths of the source and destination rules (1 byte each, reduced
// modulo the family's length + 1), four 16-byte prefixes A, B, C, D, then
// the packet, copied into an exact-size heap buffer so ASan sees any access
// outside it.
//
// The rules swap: sources A <-> B, destinations C <-> D, a bijection on
// every address, so mapping and then unmapping (the rules reversed) must
// give back the input whatever it holds. Checked: no crash, no access
// outside the packet; a packet reported unchanged is byte for byte the
// input; after the round trip every byte is back, except that a 16-bit word
// (a checksum) may have gone from 0x0000 to 0xffff or back, the two
// one's-complement zeros an incremental update cannot tell apart.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "fuzz/fuzz_check.h"
#include "tunnel/netmap.h"

namespace {

using sitelink::config::IpAddress;
using sitelink::config::IpPrefix;
using sitelink::tunnel::PrefixRewrite;
using sitelink::tunnel::Rewrites;

IpPrefix prefix(bool v6, const uint8_t* p, uint8_t length) {
  std::array<uint8_t, 16> a{};
  std::memcpy(a.data(), p, 16);
  const IpAddress ip = v6 ? IpAddress::v6(a) : IpAddress::v4({a[0], a[1], a[2], a[3]});
  return IpPrefix(ip, static_cast<uint8_t>(length % (v6 ? 129 : 33)));
}

Rewrites swap(const IpPrefix& a, const IpPrefix& b) { return {{a, b}, {b, a}}; }

Rewrites reversed(const Rewrites& r) {
  Rewrites out;
  for (const auto& x : r) out.push_back(x.reversed());
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sitelink::tunnel;
  constexpr size_t kHead = 3 + 4 * 16;
  if (size < kHead) return 0;
  const bool partial = (data[0] & 1) != 0;
  const bool src_v6 = (data[0] & 2) != 0, dst_v6 = (data[0] & 4) != 0;
  const AddressRewrites map{swap(prefix(src_v6, data + 3, data[1]), prefix(src_v6, data + 19, data[1])),
                            swap(prefix(dst_v6, data + 35, data[2]), prefix(dst_v6, data + 51, data[2]))};
  const AddressRewrites unmap{reversed(map.source), reversed(map.destination)};

  const size_t n = size - kHead;
  auto packet = std::make_unique<uint8_t[]>(n == 0 ? 1 : n);
  if (n > 0) std::memcpy(packet.get(), data + kHead, n);
  uint8_t* p = packet.get();
  const std::vector<uint8_t> before(p, p + n);

  if (!rewrite_addresses(sitelink::MutableBytes(p, n), map, partial)) {
    FUZZ_CHECK(std::equal(p, p + n, before.begin()));
    return 0;
  }
  FUZZ_CHECK(rewrite_addresses(sitelink::MutableBytes(p, n), unmap, partial));
  for (size_t i = 0; i < n; i += 2) {
    if (i + 1 == n) {
      FUZZ_CHECK(p[i] == before[i]);
      break;
    }
    if (p[i] == before[i] && p[i + 1] == before[i + 1]) continue;
    const unsigned got = unsigned{p[i]} << 8 | p[i + 1], was = unsigned{before[i]} << 8 | before[i + 1];
    FUZZ_CHECK((got == 0 && was == 0xffff) || (got == 0xffff && was == 0));
  }
  return 0;
}
