// Table-driven tests of every configuration rule: each case is a complete
// file and the one diagnostic it must produce, with its exact line, column,
// field path and message. The loader runs from memory (load_text) with
// inline keys; key files have their own tests (config_key_file_test.cc).
#include <gtest/gtest.h>

#include "config/load.h"
#include "config_test_util.h"

namespace sitelink::config {
namespace {

using test::ConfigRule;
using test::dump;
using test::RuleCase;
using test::with_keys;

TEST_P(ConfigRule, ReportsExactLocationPathAndMessage) {
  const RuleCase& c = GetParam();
  const auto r = load_text(with_keys(c.yaml), "office.yaml");
  const Diagnostics ds = test::diagnostics_of(r);
  // An error fails the load; a warning or a note alone does not.
  EXPECT_EQ(r.ok(), c.severity != Severity::kError) << dump(ds);
  ASSERT_EQ(ds.size(), 1u) << dump(ds);
  const Diagnostic& d = ds[0];
  EXPECT_EQ(d.severity, c.severity);
  EXPECT_EQ(d.file, "office.yaml");
  EXPECT_EQ(d.where.line, c.line) << d.to_string();
  EXPECT_EQ(d.where.column, c.column) << d.to_string();
  EXPECT_EQ(d.path, c.path);
  EXPECT_EQ(d.message, c.message);
}

// The valid file every case is a variation of:
//   interface:
//     private-key: PRIV_A
//   peers:
//     - public-key: PUB_B
//       allowed-ips: [198.18.1.0/24]
const RuleCase kPrefixCases[] = {
    {"PrefixNotAnAddress",
     "interface:\n  private-key: PRIV_A\npeers:\n  - public-key: PUB_B\n    allowed-ips: [198.18.1.0/24, 198.18.300.0/24]\n",
     Severity::kError, 5, 34, "peers[0].allowed-ips[1]", "'198.18.300.0/24' is not an IP prefix"},
    {"PrefixLengthTooLongV4",
     "interface:\n  private-key: PRIV_A\npeers:\n  - public-key: PUB_B\n    allowed-ips: [198.18.1.0/33]\n",
     Severity::kError, 5, 19, "peers[0].allowed-ips[0]",
     "'198.18.1.0/33' is not an IP prefix: an IPv4 prefix length is 0..32"},
    {"PrefixLengthTooLongV6InBlockList",
     "interface:\n  private-key: PRIV_A\npeers:\n  - public-key: PUB_B\n    allowed-ips:\n      - 2001:db8::/129\n",
     Severity::kError, 6, 9, "peers[0].allowed-ips[0]",
     "'2001:db8::/129' is not an IP prefix: an IPv6 prefix length is 0..128"},
    {"PrefixLengthNotANumber",
     "interface:\n  private-key: PRIV_A\npeers:\n  - public-key: PUB_B\n    allowed-ips: [198.18.1.0/x]\n",
     Severity::kError, 5, 19, "peers[0].allowed-ips[0]",
     "'198.18.1.0/x' is not an IP prefix: the length after '/' must be a number"},
    {"PrefixHostBitsFixedWithWarning",
     "interface:\n  private-key: PRIV_A\npeers:\n  - public-key: PUB_B\n    allowed-ips: [198.18.1.1/24]\n",
     Severity::kWarning, 5, 19, "peers[0].allowed-ips[0]", "'198.18.1.1/24' has host bits set; using 198.18.1.0/24"},
    {"PrefixListedTwiceInOnePeer",
     "interface:\n  private-key: PRIV_A\npeers:\n  - public-key: PUB_B\n    allowed-ips: [198.18.1.0/24, 198.18.1.0/24]\n",
     Severity::kWarning, 5, 34, "peers[0].allowed-ips[1]",
     "198.18.1.0/24 is listed twice (also peers[0].allowed-ips[0])"},
    {"PrefixInsideAnotherOfSamePeer",
     "interface:\n  private-key: PRIV_A\npeers:\n  - public-key: PUB_B\n    allowed-ips: [198.18.1.0/25, 198.18.1.0/24]\n",
     Severity::kWarning, 5, 34, "peers[0].allowed-ips[1]",
     "198.18.1.0/24 and 198.18.1.0/25 (peers[0].allowed-ips[0]) overlap; one is redundant"},
    {"AddressNotAPrefix",
     "interface:\n  private-key: PRIV_A\n  address: [198.18.0.1/24, not-an-ip]\npeers:\n  - public-key: PUB_B\n    allowed-ips: [198.18.1.0/24]\n",
     Severity::kError, 3, 28, "interface.address[1]", "'not-an-ip' is not an IP prefix"},
    {"AllowedIpsIsAMap", "interface:\n  private-key: PRIV_A\npeers:\n  - public-key: PUB_B\n    allowed-ips: {a: 1}\n",
     Severity::kError, 5, 18, "peers[0].allowed-ips",
     "expected a list of IP prefixes, e.g. [198.18.1.0/24, 2001:db8:b::/48], not a map"},
    {"AllowedIpsItemIsAList",
     "interface:\n  private-key: PRIV_A\npeers:\n  - public-key: PUB_B\n    allowed-ips: [[198.18.1.0/24]]\n",
     Severity::kError, 5, 19, "peers[0].allowed-ips[0]", "is a list; expected an IP prefix, e.g. 198.18.1.0/24"},
};
INSTANTIATE_TEST_SUITE_P(ConfigPrefixes, ConfigRule, testing::ValuesIn(kPrefixCases), test::case_name);

// The same prefix on two peers is an error (which peer would it route
// to?); a prefix inside another peer's is how a direct link is added beside
// a hub (198.18.0.0/15 via the hub, 198.18.20.0/24 straight to one branch):
// allowed, with a note saying the most specific wins, as in WireGuard.
const RuleCase kPeerOverlapCases[] = {
    {"SamePrefixOnTwoPeersReportedOnTheLaterOne",
     "interface:\n  private-key: PRIV_A\npeers:\n  - name: office-b\n    public-key: PUB_B\n    allowed-ips: [198.18.1.0/24]\n"
     "  - public-key: PUB_C\n    allowed-ips: [198.18.1.0/24]\n",
     Severity::kError, 8, 19, "peers[1].allowed-ips[0]",
     "198.18.1.0/24 is also an allowed-ip of peers[0] (office-b); each prefix routes to exactly one peer"},
    {"NestedPrefixBetweenPeersIsANote",
     "interface:\n  private-key: PRIV_A\npeers:\n  - public-key: PUB_B\n    allowed-ips: [198.18.1.0/24]\n"
     "  - public-key: PUB_C\n    allowed-ips: [198.18.1.128/25]\n",
     Severity::kNote, 7, 19, "peers[1].allowed-ips[0]",
     "198.18.1.128/25 of peers[1] lies inside 198.18.1.0/24 of peers[0]: the most specific prefix wins (as in "
     "WireGuard), so addresses in 198.18.1.128/25 go to peers[1] and the rest of 198.18.1.0/24 to peers[0]"},
    {"HubPrefixAfterTheDirectLink",
     "interface:\n  private-key: PRIV_A\npeers:\n  - name: branch\n    public-key: PUB_B\n    allowed-ips: [198.18.20.0/24]\n"
     "  - name: hub\n    public-key: PUB_C\n    allowed-ips: [10.0.0.0/8, 198.18.0.0/15]\n",
     Severity::kNote, 9, 31, "peers[1].allowed-ips[1]",
     "198.18.20.0/24 of peers[0] (branch) lies inside 198.18.0.0/15 of peers[1] (hub): the most specific prefix "
     "wins (as in WireGuard), so addresses in 198.18.20.0/24 go to peers[0] (branch) and the rest of "
     "198.18.0.0/15 to peers[1] (hub)"},
    {"Ipv6DefaultRouteBesideAPeerPrefix",
     "interface:\n  private-key: PRIV_A\npeers:\n  - public-key: PUB_B\n    allowed-ips: [2001:db8:b::/48]\n"
     "  - public-key: PUB_C\n    allowed-ips: [\"::/0\"]\n",
     Severity::kNote, 7, 19, "peers[1].allowed-ips[0]",
     "2001:db8:b::/48 of peers[0] lies inside ::/0 of peers[1]: the most specific prefix wins (as in WireGuard), so "
     "addresses in 2001:db8:b::/48 go to peers[0] and the rest of ::/0 to peers[1]"},
};
INSTANTIATE_TEST_SUITE_P(ConfigPeerOverlap, ConfigRule, testing::ValuesIn(kPeerOverlapCases), test::case_name);

const RuleCase kKeyCases[] = {
    {"UnknownInterfaceKeyWithSuggestion",
     "interface:\n  private-key: PRIV_A\n  listen_port: 1\npeers:\n  - public-key: PUB_B\n    allowed-ips: [198.18.1.0/24]\n",
     Severity::kError, 3, 3, "interface.listen_port", "unknown key 'listen_port'; did you mean 'listen-port'?"},
    {"UnknownPeerKeyWithSuggestion",
     "interface:\n  private-key: PRIV_A\npeers:\n  - public-key: PUB_B\n    allowed-ips: [198.18.1.0/24]\n    allowed-ip: [198.18.2.0/24]\n",
     Severity::kError, 6, 5, "peers[0].allowed-ip", "unknown key 'allowed-ip'; did you mean 'allowed-ips'?"},
    {"UnknownKeyWgQuickSpelling",
     "interface:\n  private-key: PRIV_A\npeers:\n  - public-key: PUB_B\n    allowed-ips: [198.18.1.0/24]\n    AllowedIPs: [198.18.2.0/24]\n",
     Severity::kError, 6, 5, "peers[0].AllowedIPs", "unknown key 'AllowedIPs'; did you mean 'allowed-ips'?"},
    {"UnknownKeyPieceOfALongerKey",
     "interface:\n  private-key: PRIV_A\npeers:\n  - public-key: PUB_B\n    allowed-ips: [198.18.1.0/24]\n    keepalive: 25\n",
     Severity::kError, 6, 5, "peers[0].keepalive", "unknown key 'keepalive'; did you mean 'persistent-keepalive'?"},
    {"UnknownTopLevelKeyWithSuggestion", "interface:\n  private-key: PRIV_A\npeer:\n  - public-key: PUB_B\n",
     Severity::kError, 3, 1, "peer", "unknown key 'peer'; did you mean 'peers'?"},
    {"UnknownKeyWithoutSuggestion", "interface:\n  private-key: PRIV_A\n  colour: blue\n", Severity::kError, 3, 3,
     "interface.colour",
     "unknown key 'colour'; expected one of: name, private-key, private-key-file, listen-port, address, mtu, "
     "routes, fwmark, rekey-after-time, log-level, batch-io, udp-gso, udp-gro, tun-offload, socket-buffer, crypto-threads, "
     "mss-clamp, copy-dscp, failover-after, failback-interval"},
    {"InterfaceKeyInAPeer",
     "interface:\n  private-key: PRIV_A\npeers:\n  - public-key: PUB_B\n    allowed-ips: [198.18.1.0/24]\n    listen-port: 5\n",
     Severity::kError, 6, 5, "peers[0].listen-port", "'listen-port' belongs under 'interface:', not in a peer"},
    {"PeerKeyUnderInterface", "interface:\n  private-key: PRIV_A\n  allowed-ips: [198.18.1.0/24]\n", Severity::kError,
     3, 3, "interface.allowed-ips", "'allowed-ips' belongs in an entry of 'peers:', not under 'interface:'"},
    {"InterfaceKeyAtTopLevel", "interface:\n  private-key: PRIV_A\nlisten-port: 5\n", Severity::kError, 3, 1,
     "listen-port", "'listen-port' belongs under 'interface:'"},
    {"MergeKeysNotSupported", "interface:\n  private-key: PRIV_A\n  <<: {mtu: 1400}\n", Severity::kError, 3, 3,
     "interface.<<", "YAML merge keys ('<<') are not supported; write the settings out"},
    {"KeySetTwice", "interface:\n  private-key: PRIV_A\n  mtu: 1400\n  mtu: 1380\n", Severity::kError, 4, 3,
     "interface.mtu", "set twice (first on line 3)"},
};
INSTANTIATE_TEST_SUITE_P(ConfigKeys, ConfigRule, testing::ValuesIn(kKeyCases), test::case_name);

}  // namespace
}  // namespace sitelink::config
