// libFuzzer target: AllowedIps driven by a byte program and checked against
// a naive reference model (a list with a linear longest match), as the unit
// test does with seeded random programs. Each step reads:
//
//   op    bit 7: IPv6; bits 0-1: 0-1 insert, 2 remove, 3 remove_peer
//   len   prefix length, taken modulo (max + 1)
//   peer  low 3 bits
//   addr  4 bytes (IPv4) or 8 bytes (IPv6: written twice, so the host half
//         repeats the network half and long prefixes still overlap)
//
// After each step the step's address and its neighbours are looked up in
// both; at the end size() and prefixes_of() of every peer must agree.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <utility>
#include <vector>

#include "fuzz/fuzz_check.h"
#include "support/naive_allowed_ips.h"
#include "tunnel/allowed_ips.h"

namespace sitelink::tunnel {
namespace {

using config::IpAddress;
using config::IpPrefix;

constexpr size_t kMaxSteps = 512;
constexpr PeerId kPeers = 8;

// The reference model (canonicalises what it is given).
using Model = test::NaiveAllowedIps;

struct Step {
  uint8_t op;
  IpPrefix prefix;  // canonical: the model compares canonical prefixes
  IpPrefix raw;     // as read, host bits and all
  PeerId peer;
};

std::optional<Step> read_step(const uint8_t*& p, const uint8_t* end) {
  if (end - p < 3) return std::nullopt;
  const uint8_t op = p[0];
  const bool v6 = (op & 0x80) != 0;
  const ptrdiff_t n = v6 ? 8 : 4;
  if (end - p < 3 + n) return std::nullopt;
  std::array<uint8_t, 16> b{};
  for (ptrdiff_t i = 0; i < n; ++i) b[i] = b[i + 8] = p[3 + i];
  const IpAddress a = v6 ? IpAddress::v6(b) : IpAddress::v4({b[0], b[1], b[2], b[3]});
  const auto len = static_cast<uint8_t>(p[1] % (a.max_prefix_length() + 1));
  const IpPrefix raw(a, len);
  const Step s{op, raw.canonical(), raw, static_cast<PeerId>(p[2] % kPeers)};
  p += 3 + n;
  return s;
}

// The address with bit `bit` flipped (bit < max prefix length).
IpAddress flipped(const IpAddress& a, unsigned bit) {
  std::array<uint8_t, 16> b = a.raw();
  b[bit / 8] = static_cast<uint8_t>(b[bit / 8] ^ (0x80u >> (bit % 8)));
  return a.is_v4() ? IpAddress::v4({b[0], b[1], b[2], b[3]}) : IpAddress::v6(b);
}

void apply(AllowedIps& t, Model& m, const Step& s) {
  switch (s.op & 3) {
    case 0:
    case 1:
      t.insert(s.raw, s.peer);
      m.insert(s.prefix, s.peer);
      break;
    case 2: FUZZ_CHECK(t.remove(s.raw, s.peer) == m.remove(s.prefix, s.peer)); break;
    default:
      t.remove_peer(s.peer);
      m.remove_peer(s.peer);
      break;
  }
}

void check_lookups(const AllowedIps& t, const Model& m, const Step& s) {
  const IpAddress& a = s.raw.address();
  FUZZ_CHECK(t.lookup(a) == m.lookup(a));
  const unsigned max = a.max_prefix_length();
  for (const unsigned bit : {s.prefix.length() == 0 ? 0u : s.prefix.length() - 1u, max - 1u}) {
    const IpAddress b = flipped(a, bit);
    FUZZ_CHECK(t.lookup(b) == m.lookup(b));
  }
}

}  // namespace
}  // namespace sitelink::tunnel

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sitelink::tunnel;
  AllowedIps t;
  Model m;
  const uint8_t* p = data;
  for (size_t i = 0; i < kMaxSteps; ++i) {
    const auto s = read_step(p, data + size);
    if (!s) break;
    apply(t, m, *s);
    check_lookups(t, m, *s);
  }
  FUZZ_CHECK(t.size() == m.size());
  for (PeerId peer = 0; peer < kPeers; ++peer) {
    FUZZ_CHECK(t.prefixes_of(peer) == m.prefixes_of(peer));
  }
  return 0;
}
