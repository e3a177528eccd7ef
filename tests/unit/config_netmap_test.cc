// A peer's `netmap:` (SPEC.md "Real office networks"): the accepted form and
// what it becomes, every rule with its exact line, column, field and
// message, the reload diff (a change of mappings alone is "netmap", which
// keeps the session), and the routes a mapped peer gets (Q, not P).
#include <gtest/gtest.h>

#include "config/diff.h"
#include "config/load.h"
#include "config_test_util.h"
#include "tunnel/netmap_table.h"

namespace sitelink::config {
namespace {

using test::ConfigRule;
using test::dump;
using test::RuleCase;
using test::with_keys;

// Lines 1-7; a peer's netmap entries follow from line 8.
#define NETMAP(body)                                                                             \
  "interface:\n  private-key: PRIV_A\n  address: 198.18.0.1/24\npeers:\n  - public-key: PUB_B\n" \
  "    allowed-ips: [198.18.1.0/24, 2001:db8:1::/64]\n    netmap:\n" body

constexpr const char* kSpecExample = NETMAP(R"(      - peer: 198.18.1.0/24
        seen-as: 198.19.201.0/24
      - local: 198.18.1.0/24
        seen-as: 198.19.202.0/24
      - peer: 2001:db8:1::/64
        seen-as: 2001:db8:201::/64
)");

TEST(ConfigNetmap, SpecExampleLoads) {
  auto r = load_text(with_keys(kSpecExample), "t.yaml");
  ASSERT_TRUE(r.ok()) << dump(test::diagnostics_of(r));
  EXPECT_TRUE(r->warnings.empty()) << dump(r->warnings);
  const auto& m = r->config.peers.at(0).netmap;
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m[0].to_string(), "peer 198.18.1.0/24 seen-as 198.19.201.0/24");
  EXPECT_EQ(m[1].to_string(), "local 198.18.1.0/24 seen-as 198.19.202.0/24");
  EXPECT_EQ(m[2].side, NetmapEntry::Side::kPeer);
  // Routes go to the seen-as prefixes, not to P (which is our own LAN here).
  const auto routed = tunnel::routed_prefixes(r->config.peers[0].allowed_ips, m);
  std::vector<std::string> text;
  for (const auto& p : routed) text.push_back(p.to_string());
  EXPECT_EQ(text, (std::vector<std::string>{"198.19.201.0/24", "2001:db8:201::/64"}));
  // The rewrite rules: P -> Q and L -> M.
  const tunnel::Netmap n = tunnel::netmap_of(m);
  ASSERT_EQ(n.peer.size(), 2u);
  ASSERT_EQ(n.local.size(), 1u);
  EXPECT_EQ(n.peer[0].to.to_string(), "198.19.201.0/24");
  EXPECT_EQ(n.local[0].from.to_string(), "198.18.1.0/24");
}

TEST(ConfigNetmap, ChangingOnlyMappingsIsANetmapChange) {
  auto a = load_text(with_keys(kSpecExample), "t.yaml");
  auto b = load_text(with_keys(NETMAP("      - peer: 198.18.1.0/24\n        seen-as: 198.19.209.0/24\n")), "t.yaml");
  ASSERT_TRUE(a.ok() && b.ok());
  const ConfigDiff d = diff(a->config, b->config);
  ASSERT_EQ(d.changed.size(), 1u);
  EXPECT_EQ(d.changed[0].fields, std::vector<std::string>{"netmap"});
  EXPECT_FALSE(d.changed[0].needs_new_handshake());
  // The same entries in another order: no change.
  auto c = load_text(with_keys(NETMAP(R"(      - peer: 2001:db8:1::/64
        seen-as: 2001:db8:201::/64
      - local: 198.18.1.0/24
        seen-as: 198.19.202.0/24
      - peer: 198.18.1.0/24
        seen-as: 198.19.201.0/24
)")),
                     "t.yaml");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(diff(a->config, c->config).empty());
}

const RuleCase kNetmapCases[] = {
    {"LengthsDiffer", NETMAP("      - peer: 198.18.1.0/24\n        seen-as: 198.19.201.0/25\n"), Severity::kError, 9,
     18, "peers[0].netmap[0].seen-as",
     "198.19.201.0/25 is a /25 but 198.18.1.0/24 is a /24; both sides of a mapping have the same length (host bits "
     "are kept)"},
    {"FamiliesDiffer", NETMAP("      - peer: 198.18.1.0/24\n        seen-as: 2001:d00::/24\n"), Severity::kError, 9, 18,
     "peers[0].netmap[0].seen-as",
     "2001:d00::/24 and 198.18.1.0/24 are of different IP families; a mapping keeps the family"},
    {"PeerAndLocal",
     NETMAP("      - peer: 198.18.1.0/24\n        local: 198.18.1.0/24\n        seen-as: 198.19.201.0/24\n"),
     Severity::kError, 9, 9, "peers[0].netmap[0].local",
     "set either peer: (the peer's prefix) or local: (ours) in one mapping, not both; write two entries"},
    {"NoSeenAs", NETMAP("      - peer: 198.18.1.0/24\n"), Severity::kError, 8, 9, "peers[0].netmap[0]",
     "missing 'seen-as:'; expected the prefix it is mapped to, of the same length"},
    {"UnknownKey",
     NETMAP("      - peer: 198.18.1.0/24\n        seen-as: 198.19.201.0/24\n        locl: 198.18.5.0/24\n"),
     Severity::kError, 10, 9, "peers[0].netmap[0].locl", "unknown key 'locl'; did you mean 'local'?"},
    {"NotAPrefix", NETMAP("      - peer: 198.18.1.0/24\n        seen-as: office-b\n"), Severity::kError, 9, 18,
     "peers[0].netmap[0].seen-as", "'office-b' is not an IP prefix"},
    {"NotInsideAllowedIps", NETMAP("      - peer: 198.18.7.0/24\n        seen-as: 198.19.201.0/24\n"), Severity::kError,
     8, 15, "peers[0].netmap[0].peer",
     "198.18.7.0/24 is not inside this peer's allowed-ips; allowed-ips are checked on the addresses as on the wire, "
     "so add 198.18.7.0/24 to allowed-ips"},
    {"SeenAsIsAnotherPeersAllowedIp",
     NETMAP("      - peer: 198.18.1.0/24\n        seen-as: 198.19.201.0/24\n"
            "  - public-key: PUB_C\n    allowed-ips: [198.19.0.0/16]\n"),
     Severity::kError, 9, 18, "peers[0].netmap[0].seen-as",
     "198.19.201.0/24 overlaps 198.19.0.0/16 (peers[1].allowed-ips[0]) of peers[1]; a seen-as prefix must be one no "
     "peer uses"},
    {"SeenAsIsOurAddress", NETMAP("      - peer: 198.18.1.0/24\n        seen-as: 198.18.0.0/24\n"), Severity::kError, 9,
     18, "peers[0].netmap[0].seen-as",
     "198.18.0.0/24 overlaps the interface address 198.18.0.1/24; a seen-as prefix must be one this gateway does not "
     "use"},
    {"OnePrefixMappedTwice",
     NETMAP("      - peer: 198.18.1.0/24\n        seen-as: 198.19.201.0/24\n"
            "      - peer: 198.18.1.0/25\n        seen-as: 198.19.202.0/25\n"),
     Severity::kError, 10, 15, "peers[0].netmap[1].peer",
     "198.18.1.0/25 overlaps 198.18.1.0/24, mapped already by peers[0].netmap[0]; each address is mapped once"},
    {"TwoPeersSeenAsOverlap",
     NETMAP("      - peer: 198.18.1.0/24\n        seen-as: 198.19.201.0/24\n"
            "  - public-key: PUB_C\n    allowed-ips: [198.18.2.0/24]\n    netmap:\n"
            "      - peer: 198.18.2.0/24\n        seen-as: 198.19.201.0/24\n"),
     Severity::kError, 14, 18, "peers[1].netmap[0].seen-as",
     "198.19.201.0/24 overlaps 198.19.201.0/24, the seen-as of peers[0].netmap[0] (peers[0]); two mappings cannot "
     "share addresses"},
    {"HostBits", NETMAP("      - peer: 198.18.1.0/24\n        seen-as: 198.19.201.9/24\n"), Severity::kWarning, 9, 18,
     "peers[0].netmap[0].seen-as", "'198.19.201.9/24' has host bits set; using 198.19.201.0/24"},
    {"ToItself", NETMAP("      - local: 198.18.5.0/24\n        seen-as: 198.18.5.0/24\n"), Severity::kWarning, 9, 18,
     "peers[0].netmap[0].seen-as", "maps 198.18.5.0/24 to itself; this mapping does nothing"},
    {"NotAList", NETMAP("      peer: 198.18.1.0/24\n"), Severity::kError, 8, 7, "peers[0].netmap",
     "expected a list of mappings, each '- peer: PREFIX' or '- local: PREFIX' with 'seen-as: PREFIX' of the same "
     "length"},
};
INSTANTIATE_TEST_SUITE_P(ConfigNetmap, ConfigRule, testing::ValuesIn(kNetmapCases), test::case_name);

}  // namespace
}  // namespace sitelink::config
