// Cryptokey routing (tunnel/allowed_ips.h) with 10,000 prefixes, half IPv4
// (lengths 8-32) and half IPv6 (lengths 16-128), spread over 100 peers, and
// random lookups: half of the addresses fall inside an inserted prefix, half
// are drawn at random.
//
//   AllowedIps/LookupV4, LookupV6   lookup_v4 / lookup_v6 on raw header bytes,
//                                   as the data path calls them
//   AllowedIps/LookupMixed          lookup(IpAddress), IPv4 and IPv6 alternating
//   AllowedIps/Insert10k            building the whole table (items = prefixes)
#include <random>
#include <vector>

#include "micro_support.h"
#include "tunnel/allowed_ips.h"

namespace sitelink::bench {
namespace {

using config::IpAddress;
using config::IpPrefix;
using tunnel::AllowedIps;

constexpr size_t kPrefixes = 10'000;
constexpr size_t kLookups = 4096;  // a power of two
constexpr uint32_t kPeers = 100;

struct Table {
  std::vector<IpPrefix> prefixes;
  std::vector<IpAddress> v4, v6, mixed;  // kLookups each
};

IpAddress random_address(std::mt19937_64& rng, bool v4) {
  std::array<uint8_t, 16> b{};
  for (auto& x : b) x = static_cast<uint8_t>(rng());
  if (v4) return IpAddress::v4({b[0], b[1], b[2], b[3]});
  return IpAddress::v6(b);
}

// An address inside `p`: its network bits, random host bits.
IpAddress inside(std::mt19937_64& rng, const IpPrefix& p) {
  auto bytes = p.address().raw();
  const size_t n = p.address().is_v4() ? 4 : 16;
  for (size_t bit = p.length(); bit < n * 8; ++bit) {
    const auto mask = static_cast<uint8_t>(0x80u >> (bit % 8));
    if (rng() & 1) {
      bytes[bit / 8] = static_cast<uint8_t>(bytes[bit / 8] | mask);
    } else {
      bytes[bit / 8] = static_cast<uint8_t>(bytes[bit / 8] & ~mask);
    }
  }
  if (p.address().is_v4()) return IpAddress::v4({bytes[0], bytes[1], bytes[2], bytes[3]});
  return IpAddress::v6(bytes);
}

const Table& table() {
  static const Table t = [] {
    Table t;
    std::mt19937_64 rng(8);
    for (size_t i = 0; i < kPrefixes; ++i) {
      const bool v4 = i % 2 == 0;
      const auto len = static_cast<uint8_t>(v4 ? 8 + rng() % 25 : 16 + rng() % 113);
      t.prefixes.push_back(IpPrefix(random_address(rng, v4), len).canonical());
    }
    std::vector<IpPrefix> v4p, v6p;
    for (const auto& p : t.prefixes) (p.address().is_v4() ? v4p : v6p).push_back(p);
    for (size_t i = 0; i < kLookups; ++i) {
      const bool hit = i % 2 == 0;
      t.v4.push_back(hit ? inside(rng, v4p[rng() % v4p.size()]) : random_address(rng, true));
      t.v6.push_back(hit ? inside(rng, v6p[rng() % v6p.size()]) : random_address(rng, false));
      t.mixed.push_back(i % 4 < 2 ? t.v4.back() : t.v6.back());
    }
    return t;
  }();
  return t;
}

AllowedIps filled() {
  AllowedIps ips;
  uint32_t peer = 0;
  for (const auto& p : table().prefixes) ips.insert(p, peer++ % kPeers);
  return ips;
}

// lookup_v4 or lookup_v6 straight on the address bytes.
template <bool kV4>
void LookupRaw(benchmark::State& state) {
  const AllowedIps ips = filled();
  const auto& addrs = kV4 ? table().v4 : table().v6;
  size_t i = 0, found = 0;
  for (auto _ : state) {
    const uint8_t* addr = addrs[i++ & (kLookups - 1)].raw().data();
    auto peer = kV4 ? ips.lookup_v4(addr) : ips.lookup_v6(addr);
    found += peer.has_value();
    benchmark::DoNotOptimize(peer);
  }
  state.counters["found"] = benchmark::Counter(static_cast<double>(found) / static_cast<double>(state.iterations()));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK_TEMPLATE(LookupRaw, true)->Name("AllowedIps/LookupV4");
BENCHMARK_TEMPLATE(LookupRaw, false)->Name("AllowedIps/LookupV6");

void LookupMixed(benchmark::State& state) {
  const AllowedIps ips = filled();
  const auto& addrs = table().mixed;
  size_t i = 0;
  for (auto _ : state) {
    auto peer = ips.lookup(addrs[i++ & (kLookups - 1)]);
    benchmark::DoNotOptimize(peer);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(LookupMixed)->Name("AllowedIps/LookupMixed");

void Insert10k(benchmark::State& state) {
  table();
  for (auto _ : state) {
    AllowedIps ips = filled();
    if (ips.size() == 0) state.SkipWithError("empty table");
    benchmark::DoNotOptimize(ips);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(kPrefixes));
}
BENCHMARK(Insert10k)->Name("AllowedIps/Insert10k")->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace sitelink::bench
