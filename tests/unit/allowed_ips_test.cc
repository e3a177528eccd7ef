// AllowedIps: the trie checked against a naive reference model (a list of
// (prefix, peer) with a linear longest match, like the kernel selftest's
// horrible_allowedips) under seeded random inserts, removes, remove_peer and
// lookups, for IPv4, IPv6 and both mixed; then the specific cases: default
// routes, host routes, overlaps, owner replacement, fall-back after removal,
// removal by a non-owner, host bits, family independence, prefixes_of order,
// size, raw-byte lookups, and large peers.
#include "tunnel/allowed_ips.h"

#include <gtest/gtest.h>

#include "support/naive_allowed_ips.h"

#include <algorithm>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace sitelink::tunnel {
namespace {

using config::IpAddress;
using config::IpPrefix;

IpPrefix P(const std::string& text) {
  auto r = IpPrefix::parse(text);
  EXPECT_TRUE(r.ok()) << text;
  return r.value();
}

IpAddress A(const std::string& text) {
  const auto a = IpAddress::parse(text);
  EXPECT_TRUE(a.has_value()) << text;
  return a.value_or(IpAddress());
}

std::optional<PeerId> L(const AllowedIps& t, const std::string& addr) { return t.lookup(A(addr)); }

using NaiveAllowedIps = test::NaiveAllowedIps;

// --- random inputs ----------------------------------------------------------

constexpr PeerId kPeers = 8;

// Addresses built from a few byte values (plus some fully random bytes), so
// that random prefixes overlap and random lookups hit them.
class Gen {
 public:
  explicit Gen(uint64_t seed) : rng_(seed) {}

  IpAddress address(bool v4) {
    std::array<uint8_t, 16> b{};
    const size_t n = v4 ? 4 : 16;
    for (size_t i = 0; i < n; ++i) b[i] = byte();
    return v4 ? IpAddress::v4({b[0], b[1], b[2], b[3]}) : IpAddress::v6(b);
  }

  IpPrefix prefix(bool v4) {
    const IpAddress a = address(v4);
    const auto len = static_cast<uint8_t>(below(a.max_prefix_length() + 1u));
    return IpPrefix(a, len);  // host bits left in: the trie must ignore them
  }

  PeerId peer() { return 1 + static_cast<PeerId>(below(kPeers)); }
  uint32_t below(uint32_t n) { return std::uniform_int_distribution<uint32_t>(0, n - 1)(rng_); }
  bool coin(uint32_t percent) { return below(100) < percent; }

 private:
  uint8_t byte() {
    static constexpr uint8_t kCommon[] = {0x00, 0x0a, 0x80, 0xc0, 0xfe, 0xff};
    if (coin(20)) return static_cast<uint8_t>(below(256));
    return kCommon[below(sizeof kCommon)];
  }

  std::mt19937_64 rng_;
};

// Picks the family for one operation: 4, 6 or either.
bool pick_v4(Gen& g, int family) { return family == 4 || (family != 6 && g.coin(50)); }

void expect_same_lookups(const AllowedIps& t, const NaiveAllowedIps& m, Gen& g, int family) {
  for (int i = 0; i < 8; ++i) {
    const IpAddress a = g.address(pick_v4(g, family));
    ASSERT_EQ(t.lookup(a), m.lookup(a)) << a.to_string();
  }
  // The prefixes' own addresses and their neighbours sit on the edges.
  if (m.size() == 0) return;
  const IpPrefix& q = m.entries()[g.below(static_cast<uint32_t>(m.size()))].first;
  ASSERT_EQ(t.lookup(q.address()), m.lookup(q.address())) << q.to_string();
}

void expect_same_contents(const AllowedIps& t, const NaiveAllowedIps& m) {
  ASSERT_EQ(t.size(), m.size());
  for (PeerId p = 0; p <= kPeers + 1; ++p) {
    ASSERT_EQ(t.prefixes_of(p), m.prefixes_of(p)) << "peer " << p;
  }
}

// One random operation on both tables; the expected result of remove() is
// the model's.
void random_step(AllowedIps& t, NaiveAllowedIps& m, Gen& g, int family) {
  const uint32_t op = g.below(100);
  if (op < 55) {
    const IpPrefix p = g.prefix(pick_v4(g, family));
    const PeerId peer = g.peer();
    t.insert(p, peer);
    m.insert(p, peer);
  } else if (op < 85 && m.size() > 0) {
    // An existing prefix, by its owner or (sometimes) by someone else.
    const auto& [q, owner] = m.entries()[g.below(static_cast<uint32_t>(m.size()))];
    const PeerId who = g.coin(70) ? owner : g.peer();
    const IpPrefix target = q;  // m.remove invalidates q
    ASSERT_EQ(t.remove(target, who), m.remove(target, who)) << target.to_string();
  } else if (op < 97) {
    const IpPrefix p = g.prefix(pick_v4(g, family));
    const PeerId who = g.peer();
    ASSERT_EQ(t.remove(p, who), m.remove(p, who)) << p.to_string();
  } else {
    const PeerId who = g.peer();
    t.remove_peer(who);
    m.remove_peer(who);
  }
}

void run_against_model(uint64_t seed, int family, int steps) {
  SCOPED_TRACE("seed " + std::to_string(seed) + " family " + std::to_string(family));
  Gen g(seed);
  AllowedIps t;
  NaiveAllowedIps m;
  for (int i = 0; i < steps; ++i) {
    ASSERT_NO_FATAL_FAILURE(random_step(t, m, g, family));
    ASSERT_NO_FATAL_FAILURE(expect_same_lookups(t, m, g, family));
    if (i % 97 == 0) {
      ASSERT_NO_FATAL_FAILURE(expect_same_contents(t, m));
    }
  }
  ASSERT_NO_FATAL_FAILURE(expect_same_contents(t, m));
}

TEST(AllowedIpsTest, MatchesNaiveModelIpv4) {
  for (uint64_t seed = 1; seed <= 12; ++seed) run_against_model(seed, 4, 3000);
}

TEST(AllowedIpsTest, MatchesNaiveModelIpv6) {
  for (uint64_t seed = 101; seed <= 112; ++seed) run_against_model(seed, 6, 3000);
}

TEST(AllowedIpsTest, MatchesNaiveModelMixedFamilies) {
  for (uint64_t seed = 201; seed <= 206; ++seed) run_against_model(seed, 0, 3000);
}

// Inserts many prefixes, then empties the table in a random order: every
// branch point must go with the prefixes (checked by lookups of the model).
TEST(AllowedIpsTest, MatchesNaiveModelWhileDraining) {
  Gen g(301);
  AllowedIps t;
  NaiveAllowedIps m;
  for (int i = 0; i < 2000; ++i) {
    const IpPrefix p = g.prefix(g.coin(50));
    const PeerId peer = g.peer();
    t.insert(p, peer);
    m.insert(p, peer);
  }
  while (m.size() > 0) {
    const auto [q, owner] = m.entries()[g.below(static_cast<uint32_t>(m.size()))];
    ASSERT_TRUE(t.remove(q, owner)) << q.to_string();
    ASSERT_TRUE(m.remove(q, owner));
    ASSERT_NO_FATAL_FAILURE(expect_same_lookups(t, m, g, 0));
  }
  EXPECT_EQ(t.size(), 0u);
}

// --- specific cases ----------------------------------------------------------

TEST(AllowedIpsTest, EmptyTableFindsNothing) {
  const AllowedIps t;
  EXPECT_EQ(L(t, "10.0.0.1"), std::nullopt);
  EXPECT_EQ(L(t, "2001:db8::1"), std::nullopt);
  EXPECT_EQ(t.size(), 0u);
}

TEST(AllowedIpsTest, DefaultRouteMatchesEveryAddressOfItsFamily) {
  AllowedIps t;
  t.insert(P("0.0.0.0/0"), 1);
  EXPECT_EQ(L(t, "0.0.0.0"), 1u);
  EXPECT_EQ(L(t, "198.51.100.7"), 1u);
  EXPECT_EQ(L(t, "255.255.255.255"), 1u);
  EXPECT_EQ(L(t, "2001:db8::1"), std::nullopt);
  t.insert(P("::/0"), 2);
  EXPECT_EQ(L(t, "::"), 2u);
  EXPECT_EQ(L(t, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), 2u);
  EXPECT_EQ(L(t, "198.51.100.7"), 1u);
}

TEST(AllowedIpsTest, HostRoutesMatchOnlyTheirAddress) {
  AllowedIps t;
  t.insert(P("198.18.0.1/32"), 1);
  t.insert(P("2001:db8::1/128"), 2);
  EXPECT_EQ(L(t, "198.18.0.1"), 1u);
  EXPECT_EQ(L(t, "198.18.0.0"), std::nullopt);
  EXPECT_EQ(L(t, "198.18.0.2"), std::nullopt);
  EXPECT_EQ(L(t, "2001:db8::1"), 2u);
  EXPECT_EQ(L(t, "2001:db8::"), std::nullopt);
  EXPECT_EQ(L(t, "2001:db8::3"), std::nullopt);
  EXPECT_EQ(L(t, "2001:db8::1:1"), std::nullopt);
}

TEST(AllowedIpsTest, LongestOverlappingPrefixWins) {
  AllowedIps t;
  t.insert(P("10.1.2.3/32"), 4);  // inserted out of order on purpose
  t.insert(P("10.0.0.0/8"), 1);
  t.insert(P("10.1.2.0/24"), 3);
  t.insert(P("10.1.0.0/16"), 2);
  EXPECT_EQ(L(t, "10.9.9.9"), 1u);
  EXPECT_EQ(L(t, "10.1.9.9"), 2u);
  EXPECT_EQ(L(t, "10.1.2.9"), 3u);
  EXPECT_EQ(L(t, "10.1.2.3"), 4u);
  EXPECT_EQ(L(t, "11.1.2.3"), std::nullopt);

  t.insert(P("2001:db8::/32"), 5);
  t.insert(P("2001:db8:1::/48"), 6);
  t.insert(P("2001:db8:1:2::/64"), 7);
  EXPECT_EQ(L(t, "2001:db8:ffff::1"), 5u);
  EXPECT_EQ(L(t, "2001:db8:1:ffff::1"), 6u);
  EXPECT_EQ(L(t, "2001:db8:1:2::1"), 7u);
}

TEST(AllowedIpsTest, InsertingAnIdenticalPrefixReplacesItsOwner) {
  AllowedIps t;
  t.insert(P("192.0.2.0/24"), 1);
  t.insert(P("192.0.2.0/24"), 2);
  EXPECT_EQ(L(t, "192.0.2.1"), 2u);
  EXPECT_EQ(t.size(), 1u);
  EXPECT_TRUE(t.prefixes_of(1).empty());
  EXPECT_EQ(t.prefixes_of(2), std::vector<IpPrefix>{P("192.0.2.0/24")});
  EXPECT_FALSE(t.remove(P("192.0.2.0/24"), 1));  // no longer the owner
  EXPECT_TRUE(t.remove(P("192.0.2.0/24"), 2));
  EXPECT_EQ(t.size(), 0u);
}

TEST(AllowedIpsTest, ReinsertingBySameOwnerChangesNothing) {
  AllowedIps t;
  t.insert(P("192.0.2.0/24"), 1);
  t.insert(P("192.0.2.0/24"), 1);
  EXPECT_EQ(t.size(), 1u);
  EXPECT_EQ(t.prefixes_of(1), std::vector<IpPrefix>{P("192.0.2.0/24")});
}

TEST(AllowedIpsTest, RemovingTheLongerPrefixFallsBackToTheShorter) {
  AllowedIps t;
  t.insert(P("10.0.0.0/8"), 1);
  t.insert(P("10.1.0.0/16"), 2);
  ASSERT_EQ(L(t, "10.1.0.1"), 2u);
  EXPECT_TRUE(t.remove(P("10.1.0.0/16"), 2));
  EXPECT_EQ(L(t, "10.1.0.1"), 1u);
  EXPECT_TRUE(t.remove(P("10.0.0.0/8"), 1));
  EXPECT_EQ(L(t, "10.1.0.1"), std::nullopt);
  EXPECT_FALSE(t.remove(P("10.0.0.0/8"), 1));  // already gone
}

TEST(AllowedIpsTest, RemovingTheShorterPrefixKeepsTheLonger) {
  AllowedIps t;
  t.insert(P("10.0.0.0/8"), 1);
  t.insert(P("10.1.0.0/16"), 2);
  EXPECT_TRUE(t.remove(P("10.0.0.0/8"), 1));
  EXPECT_EQ(L(t, "10.1.0.1"), 2u);
  EXPECT_EQ(L(t, "10.2.0.1"), std::nullopt);
}

TEST(AllowedIpsTest, RemoveByANonOwnerDoesNothing) {
  AllowedIps t;
  t.insert(P("10.0.0.0/8"), 1);
  EXPECT_FALSE(t.remove(P("10.0.0.0/8"), 2));
  EXPECT_FALSE(t.remove(P("10.0.0.0/16"), 1));  // a different prefix, even if inside
  EXPECT_FALSE(t.remove(P("10.0.0.0/7"), 1));
  EXPECT_EQ(L(t, "10.0.0.1"), 1u);
  EXPECT_EQ(t.size(), 1u);
}

// Two prefixes that diverge create an unowned branch point; inserting the
// branch point's own prefix must give it an owner, and removing it again
// must leave the two prefixes reachable.
TEST(AllowedIpsTest, PrefixOnABranchPointCanBeInsertedAndRemoved) {
  AllowedIps t;
  t.insert(P("10.0.0.0/8"), 1);
  t.insert(P("11.0.0.0/8"), 2);
  EXPECT_EQ(L(t, "10.0.0.0"), 1u);
  EXPECT_EQ(L(t, "11.0.0.0"), 2u);
  t.insert(P("10.0.0.0/7"), 3);  // the branch point of the two
  EXPECT_EQ(L(t, "10.0.0.0"), 1u);
  EXPECT_EQ(L(t, "11.0.0.0"), 2u);
  EXPECT_TRUE(t.remove(P("10.0.0.0/8"), 1));
  EXPECT_EQ(L(t, "10.0.0.0"), 3u);
  EXPECT_TRUE(t.remove(P("10.0.0.0/7"), 3));
  EXPECT_EQ(L(t, "10.0.0.0"), std::nullopt);
  EXPECT_EQ(L(t, "11.0.0.0"), 2u);
  EXPECT_EQ(t.size(), 1u);
}

TEST(AllowedIpsTest, HostBitsOfInsertedPrefixesAreIgnored) {
  AllowedIps t;
  t.insert(P("10.1.2.3/8"), 1);
  t.insert(P("2001:db8::1/32"), 2);
  EXPECT_EQ(L(t, "10.200.0.1"), 1u);
  EXPECT_EQ(L(t, "2001:db8:ffff::"), 2u);
  EXPECT_EQ(t.prefixes_of(1), std::vector<IpPrefix>{P("10.0.0.0/8")});
  EXPECT_EQ(t.prefixes_of(2), std::vector<IpPrefix>{P("2001:db8::/32")});
  // The same prefix written with other host bits is the same prefix.
  t.insert(P("10.9.9.9/8"), 3);
  EXPECT_EQ(t.size(), 2u);
  EXPECT_EQ(L(t, "10.0.0.1"), 3u);
  EXPECT_TRUE(t.remove(P("10.4.4.4/8"), 3));
  EXPECT_TRUE(t.remove(P("2001:db8:0:0:1::/32"), 2));
  EXPECT_EQ(t.size(), 0u);
}

TEST(AllowedIpsTest, Ipv4AndIpv6TablesAreIndependent) {
  AllowedIps t;
  t.insert(P("10.0.0.0/8"), 1);
  t.insert(P("0.0.0.0/0"), 1);
  // An IPv6 address whose leading bytes look like 10.x must not match v4.
  EXPECT_EQ(L(t, "a00::1"), std::nullopt);
  EXPECT_EQ(L(t, "::a00:1"), std::nullopt);
  EXPECT_EQ(L(t, "::ffff:10.0.0.1"), std::nullopt);
  t.insert(P("a00::/8"), 2);
  t.insert(P("::/0"), 2);
  EXPECT_EQ(L(t, "10.0.0.1"), 1u);
  EXPECT_EQ(L(t, "a00::1"), 2u);
  t.remove_peer(1);
  EXPECT_EQ(L(t, "10.0.0.1"), std::nullopt);
  EXPECT_EQ(L(t, "a00::1"), 2u);
  EXPECT_EQ(t.size(), 2u);
}

TEST(AllowedIpsTest, PrefixesOfIsCanonicalV4FirstAndAscending) {
  AllowedIps t;
  for (const char* s : {"2001:db8:1::/48", "198.51.100.0/24", "10.0.0.0/16", "2001:db8::/32", "10.0.0.0/8", "::/0",
                        "0.0.0.0/0", "198.51.100.77/32"}) {
    t.insert(P(s), 7);
  }
  t.insert(P("192.0.2.0/24"), 8);
  const std::vector<IpPrefix> want = {P("0.0.0.0/0"),        P("10.0.0.0/8"), P("10.0.0.0/16"),   P("198.51.100.0/24"),
                                      P("198.51.100.77/32"), P("::/0"),       P("2001:db8::/32"), P("2001:db8:1::/48")};
  EXPECT_EQ(t.prefixes_of(7), want);
  EXPECT_EQ(t.prefixes_of(8), std::vector<IpPrefix>{P("192.0.2.0/24")});
  EXPECT_TRUE(t.prefixes_of(9).empty());
}

TEST(AllowedIpsTest, PrefixesOfFollowsChanges) {
  AllowedIps t;
  t.insert(P("10.0.0.0/8"), 1);
  t.insert(P("10.1.0.0/16"), 1);
  t.insert(P("10.2.0.0/16"), 1);
  t.insert(P("10.1.0.0/16"), 2);  // taken over
  EXPECT_TRUE(t.remove(P("10.2.0.0/16"), 1));
  EXPECT_EQ(t.prefixes_of(1), std::vector<IpPrefix>{P("10.0.0.0/8")});
  EXPECT_EQ(t.prefixes_of(2), std::vector<IpPrefix>{P("10.1.0.0/16")});
  t.remove_peer(2);
  EXPECT_TRUE(t.prefixes_of(2).empty());
  EXPECT_EQ(L(t, "10.1.0.1"), 1u);
}

TEST(AllowedIpsTest, SizeCountsPrefixesNotPeersOrBranchPoints) {
  AllowedIps t;
  t.insert(P("10.0.0.0/8"), 1);
  t.insert(P("11.0.0.0/8"), 1);  // adds a branch point, which is not counted
  t.insert(P("2001:db8::/32"), 2);
  EXPECT_EQ(t.size(), 3u);
  EXPECT_FALSE(t.remove(P("10.0.0.0/7"), 1));  // the branch point is no prefix
  EXPECT_EQ(t.size(), 3u);
  t.remove_peer(1);
  EXPECT_EQ(t.size(), 1u);
  t.clear();
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(L(t, "2001:db8::1"), std::nullopt);
  EXPECT_TRUE(t.prefixes_of(2).empty());
}

TEST(AllowedIpsTest, RawByteLookupsReadNetworkOrder) {
  AllowedIps t;
  t.insert(P("192.0.2.0/24"), 1);
  t.insert(P("2001:db8::/32"), 2);
  const uint8_t v4[4] = {192, 0, 2, 200};
  const uint8_t v4_reversed[4] = {200, 2, 0, 192};
  const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  EXPECT_EQ(t.lookup_v4(v4), 1u);
  EXPECT_EQ(t.lookup_v4(v4_reversed), std::nullopt);
  EXPECT_EQ(t.lookup_v6(v6), 2u);
}

TEST(AllowedIpsTest, MoveKeepsTheContents) {
  AllowedIps a;
  a.insert(P("10.0.0.0/8"), 1);
  a.insert(P("2001:db8::/32"), 2);
  AllowedIps b(std::move(a));
  EXPECT_EQ(L(b, "10.1.1.1"), 1u);
  b.remove_peer(1);  // the per-peer index moved along
  EXPECT_EQ(L(b, "10.1.1.1"), std::nullopt);
  AllowedIps c;
  c = std::move(b);
  EXPECT_EQ(L(c, "2001:db8::5"), 2u);
  EXPECT_EQ(c.prefixes_of(2), std::vector<IpPrefix>{P("2001:db8::/32")});
}

// Tens of thousands of host routes per peer, as a site with a big LAN might
// have; remove_peer must take them all and only them.
TEST(AllowedIpsTest, RemovePeerWithManyPrefixes) {
  constexpr uint32_t kCount = 40000;
  AllowedIps t;
  for (uint32_t i = 0; i < kCount; ++i) {
    const auto b = [&](int shift) { return static_cast<uint8_t>(i >> shift); };
    t.insert(IpPrefix(IpAddress::v4({10, b(16), b(8), b(0)}), 32), 1);
    t.insert(IpPrefix(IpAddress::v4({11, b(16), b(8), b(0)}), 32), 2);
  }
  t.insert(P("10.0.0.0/8"), 3);
  ASSERT_EQ(t.size(), 2 * kCount + 1);
  EXPECT_EQ(t.prefixes_of(1).size(), kCount);
  t.remove_peer(1);
  EXPECT_EQ(t.size(), kCount + 1);
  EXPECT_TRUE(t.prefixes_of(1).empty());
  EXPECT_EQ(L(t, "10.0.1.2"), 3u);  // falls back to the /8
  EXPECT_EQ(L(t, "11.0.1.2"), 2u);
  t.remove_peer(2);
  EXPECT_EQ(t.size(), 1u);
  EXPECT_EQ(L(t, "11.0.1.2"), std::nullopt);
}

}  // namespace
}  // namespace sitelink::tunnel
