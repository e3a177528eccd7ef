// A peer's `endpoints:` list and the failover timing keys (SPEC.md "Real
// office networks"): every accepted form and what it becomes, every rule
// with its exact line, column, field and message, endpoint_list() for both
// ways of writing a peer's endpoints, the reload diff, and the warning for a
// `source` that is not an address of this host.
#include <gtest/gtest.h>

#include <algorithm>

#include "config/diff.h"
#include "config/load.h"
#include "config_test_util.h"
#include "daemon/local_addresses.h"

namespace sitelink::config {
namespace {

using test::ConfigRule;
using test::dump;
using test::RuleCase;
using test::with_keys;

Config load_ok(const std::string& yaml) {
  auto r = load_text(with_keys(yaml), "t.yaml");
  EXPECT_TRUE(r.ok()) << dump(test::diagnostics_of(r));
  if (!r) return {};
  EXPECT_TRUE(r->warnings.empty()) << dump(r->warnings);
  return std::move(r->config);
}

IpAddress ip(const char* text) { return IpAddress::parse(text).value(); }

// A peer whose lines from line 6 on are `body` (indented by 4, as a peer's keys).
std::string peer(const std::string& body) {
  return "interface:\n  private-key: PRIV_A\npeers:\n  - public-key: PUB_B\n    allowed-ips: [198.18.1.0/24]\n" + body;
}

TEST(ConfigEndpoints, EveryEntryFormIsAccepted) {
  const Config c = load_ok(peer(R"(    endpoints:
      - 198.51.100.1:51820
      - "[2001:db8::1]:51820"
      - gw.office-b.example:51820
      - endpoint: 198.51.100.129:51820
        source: 203.0.113.130
      - endpoint: "[2001:db8::2]:443"
        source: 2001:db8:a::130
      - endpoint: backup.office-b.example:51820
        source: 203.0.113.131
      - endpoint: 198.51.100.1:51820
        source: 203.0.113.130
      - endpoint: 198.51.100.9:51820
)"));
  ASSERT_EQ(c.peers.size(), 1u);
  const PeerConfig& p = c.peers[0];
  EXPECT_FALSE(p.endpoint.has_value());
  std::vector<std::string> text;
  for (const auto& e : p.endpoints) text.push_back(e.to_string());
  EXPECT_EQ(text, (std::vector<std::string>{"198.51.100.1:51820", "[2001:db8::1]:51820", "gw.office-b.example:51820",
                                            "198.51.100.129:51820 from 203.0.113.130",
                                            "[2001:db8::2]:443 from 2001:db8:a::130",
                                            "backup.office-b.example:51820 from 203.0.113.131",
                                            // The same endpoint as the first, from another source: another path.
                                            "198.51.100.1:51820 from 203.0.113.130", "198.51.100.9:51820"}));
  ASSERT_EQ(p.endpoints.size(), 8u);
  EXPECT_EQ(p.endpoints[0].endpoint.address, ip("198.51.100.1"));
  EXPECT_EQ(p.endpoints[0].endpoint.port, 51820);
  EXPECT_FALSE(p.endpoints[0].source.has_value());
  EXPECT_TRUE(p.endpoints[2].endpoint.is_dns_name);
  EXPECT_EQ(p.endpoints[3].source, ip("203.0.113.130"));
  EXPECT_EQ(p.endpoints[4].source, ip("2001:db8:a::130"));
  EXPECT_TRUE(p.endpoints[5].endpoint.is_dns_name);
  EXPECT_EQ(p.endpoints[5].source, ip("203.0.113.131"));  // any family for a DNS name
  EXPECT_FALSE(p.endpoints[7].source.has_value());
  EXPECT_EQ(p.endpoint_list(), p.endpoints);
}

TEST(ConfigEndpoints, FlowListSingleValueAndSixteenEntries) {
  const Config flow = load_ok(peer("    endpoints: [198.51.100.1:51820, \"[2001:db8::1]:51820\"]\n"));
  ASSERT_EQ(flow.peers[0].endpoints.size(), 2u);
  EXPECT_EQ(flow.peers[0].endpoints[1].to_string(), "[2001:db8::1]:51820");
  // A single value is a one-entry list, as allowed-ips takes one.
  const Config one = load_ok(peer("    endpoints: 198.51.100.1:51820\n"));
  ASSERT_EQ(one.peers[0].endpoints.size(), 1u);
  EXPECT_EQ(one.peers[0].endpoints[0].to_string(), "198.51.100.1:51820");
  std::string sixteen = "    endpoints:\n";
  for (int n = 1; n <= 16; ++n) sixteen += "      - 198.51.100." + std::to_string(n) + ":51820\n";
  const Config most = load_ok(peer(sixteen));
  ASSERT_EQ(most.peers[0].endpoints.size(), kMaxEndpoints);
  EXPECT_EQ(most.peers[0].endpoints[15].to_string(), "198.51.100.16:51820");
}

TEST(ConfigEndpoints, EndpointListForEveryWayOfWritingIt) {
  const Config c = load_ok(R"(interface:
  private-key: PRIV_A
peers:
  - public-key: PUB_B
    endpoint: 198.51.100.1:51820
    allowed-ips: [198.18.1.0/24]
  - public-key: PUB_C
    endpoints: [198.51.100.2:51820, 198.51.100.3:51820]
    allowed-ips: [198.18.2.0/24]
  - public-key: PUB_D
    allowed-ips: [198.18.3.0/24]
)");
  ASSERT_EQ(c.peers.size(), 3u);
  const auto one = c.peers[0].endpoint_list();
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].endpoint, *c.peers[0].endpoint);
  EXPECT_FALSE(one[0].source.has_value());
  EXPECT_TRUE(c.peers[0].endpoints.empty());
  const auto two = c.peers[1].endpoint_list();
  ASSERT_EQ(two.size(), 2u);
  EXPECT_EQ(two[0].to_string(), "198.51.100.2:51820");
  EXPECT_EQ(two[1].to_string(), "198.51.100.3:51820");
  EXPECT_TRUE(c.peers[2].endpoint_list().empty());
}

TEST(ConfigEndpoints, FailoverTimingDefaultsAndValues) {
  const Config def = load_ok("interface:\n  private-key: PRIV_A\n");
  EXPECT_EQ(def.interface.failover_after, std::chrono::seconds(3));
  EXPECT_EQ(def.interface.failback_interval, std::chrono::seconds(20));
  const Config low = load_ok("interface:\n  private-key: PRIV_A\n  failover-after: 1\n  failback-interval: 5\n");
  EXPECT_EQ(low.interface.failover_after, std::chrono::seconds(1));
  EXPECT_EQ(low.interface.failback_interval, std::chrono::seconds(5));
  const Config high = load_ok("interface:\n  private-key: PRIV_A\n  failover-after: 60\n  failback-interval: 3600\n");
  EXPECT_EQ(high.interface.failover_after, std::chrono::seconds(60));
  EXPECT_EQ(high.interface.failback_interval, std::chrono::seconds(3600));
}

// Interface cases: line 3 is the field under test.
#define IFACE(field) \
  "interface:\n  private-key: PRIV_A\n  " field "\npeers:\n  - public-key: PUB_B\n    allowed-ips: [198.18.1.0/24]\n"
// Peer cases: from line 6 on, indented by 4.
#define PEER(field) \
  "interface:\n  private-key: PRIV_A\npeers:\n  - public-key: PUB_B\n    allowed-ips: [198.18.1.0/24]\n    " field "\n"

constexpr const char* kListExpected =
    "1..16 endpoints in order of preference, each HOST:PORT or a map with 'endpoint: HOST:PORT' and an optional "
    "'source: ADDRESS'";
constexpr const char* kSourceExpected = "a local IP address to send from, e.g. 203.0.113.130 or 2001:db8::1";

std::string s(const char* a, const char* b = "", const char* c = "") { return std::string(a) + b + c; }

const std::string kEmpty = s("is empty; expected ", kListExpected);
const std::string kMapNotList = s("expected a list of ", kListExpected, ", not a map");
const std::string kSourceNotIp = s("'203.0.113.130/24' is not an IP address; expected ", kSourceExpected);
const std::string kSourceWithPort = s("'203.0.113.130:51820' is not an IP address; expected ", kSourceExpected);
const std::string kSourceHasNoValue = s("has no value; expected ", kSourceExpected);

// Seventeen entries (lines 7 to 23).
std::string seventeen() {
  std::string t = "    endpoints:\n";
  for (int n = 1; n <= 17; ++n) t += "      - 198.51.100." + std::to_string(n) + ":51820\n";
  return peer(t);
}
const std::string kSeventeen = seventeen();

const RuleCase kEndpointCases[] = {
    {"EndpointAndEndpoints", PEER("endpoint: 198.51.100.1:51820\n    endpoints: [198.51.100.2:51820]"),
     Severity::kError, 7, 5, "peers[0].endpoints",
     "set either endpoint or endpoints, not both (list every endpoint under endpoints:, the preferred first)"},
    {"EndpointsBeforeEndpoint", PEER("endpoints: [198.51.100.2:51820]\n    endpoint: 198.51.100.1:51820"),
     Severity::kError, 7, 5, "peers[0].endpoint",
     "set either endpoint or endpoints, not both (list every endpoint under endpoints:, the preferred first)"},
    {"EmptyFlowList", PEER("endpoints: []"), Severity::kError, 6, 16, "peers[0].endpoints", kEmpty.c_str()},
    {"NoValue", PEER("endpoints:"), Severity::kError, 6, 5, "peers[0].endpoints", kEmpty.c_str()},
    {"AMapInsteadOfAList", PEER("endpoints:\n      endpoint: 198.51.100.1:51820"), Severity::kError, 7, 7,
     "peers[0].endpoints", kMapNotList.c_str()},
    {"SeventeenEntries", kSeventeen.c_str(), Severity::kError, 23, 9, "peers[0].endpoints[16]",
     "a peer has at most 16 endpoints; this list has 17"},
    {"SameEntryTwice", PEER("endpoints:\n      - 198.51.100.1:51820\n      - 198.51.100.1:51820"), Severity::kError, 8,
     9, "peers[0].endpoints[1]",
     "same endpoint as peers[0].endpoints[0] (198.51.100.1:51820); list each endpoint once"},
    {"SameEntryTwiceAsStringAndMap",
     PEER("endpoints:\n      - 198.51.100.1:51820\n      - endpoint: 198.51.100.1:51820"), Severity::kError, 8, 9,
     "peers[0].endpoints[1]", "same endpoint as peers[0].endpoints[0] (198.51.100.1:51820); list each endpoint once"},
    {"SameEntryTwiceWithSource",
     PEER("endpoints:\n      - endpoint: 198.51.100.1:51820\n        source: 203.0.113.130\n"
          "      - endpoint: 198.51.100.1:51820\n        source: 203.0.113.130"),
     Severity::kError, 9, 9, "peers[0].endpoints[1]",
     "same endpoint as peers[0].endpoints[0] (198.51.100.1:51820 from 203.0.113.130); list each endpoint once"},
    {"SameIpv6AddressWrittenTwoWays", PEER("endpoints: [\"[2001:db8::1]:51820\", \"[2001:DB8:0::1]:51820\"]"),
     Severity::kError, 6, 40, "peers[0].endpoints[1]",
     "same endpoint as peers[0].endpoints[0] ([2001:DB8:0::1]:51820); list each endpoint once"},
    {"SameDnsNameInAnotherCase", PEER("endpoints: [gw.example:51820, GW.Example.:51820]"), Severity::kError, 6, 35,
     "peers[0].endpoints[1]", "same endpoint as peers[0].endpoints[0] (GW.Example.:51820); list each endpoint once"},
    {"SourceNotAnAddress", PEER("endpoints:\n      - endpoint: 198.51.100.1:51820\n        source: 203.0.113.130/24"),
     Severity::kError, 8, 17, "peers[0].endpoints[0].source", kSourceNotIp.c_str()},
    {"SourceWithAPort", PEER("endpoints:\n      - endpoint: 198.51.100.1:51820\n        source: 203.0.113.130:51820"),
     Severity::kError, 8, 17, "peers[0].endpoints[0].source", kSourceWithPort.c_str()},
    {"SourceWithoutValue", PEER("endpoints:\n      - endpoint: 198.51.100.1:51820\n        source:"), Severity::kError,
     8, 9, "peers[0].endpoints[0].source", kSourceHasNoValue.c_str()},
    {"Ipv6SourceForIpv4Endpoint",
     PEER(
         "endpoints:\n      - 198.51.100.7:51820\n      - endpoint: 198.51.100.1:51820\n        source: 2001:db8::130"),
     Severity::kError, 9, 17, "peers[0].endpoints[1].source",
     "2001:db8::130 is an IPv6 address but the endpoint 198.51.100.1:51820 is IPv4; a source must be of the "
     "endpoint's family"},
    {"Ipv4SourceForIpv6Endpoint",
     PEER("endpoints:\n      - source: 203.0.113.130\n        endpoint: \"[2001:db8::1]:51820\""), Severity::kError, 7,
     17, "peers[0].endpoints[0].source",
     "203.0.113.130 is an IPv4 address but the endpoint [2001:db8::1]:51820 is IPv6; a source must be of the "
     "endpoint's family"},
    {"MapWithoutEndpoint", PEER("endpoints:\n      - source: 203.0.113.130"), Severity::kError, 7, 9,
     "peers[0].endpoints[0]", "missing 'endpoint'; expected 'endpoint: HOST:PORT' (and optionally 'source: ADDRESS')"},
    {"UnknownKeyInAnEntry", PEER("endpoints:\n      - endpoint: 198.51.100.1:51820\n        sorce: 203.0.113.130"),
     Severity::kError, 8, 9, "peers[0].endpoints[0].sorce", "unknown key 'sorce'; did you mean 'source'?"},
    {"UnknownKeyInAnEntryWithoutSuggestion",
     PEER("endpoints:\n      - endpoint: 198.51.100.1:51820\n        weight: 2"), Severity::kError, 8, 9,
     "peers[0].endpoints[0].weight", "unknown key 'weight'; expected one of: endpoint, source"},
    {"PeerKeyIndentedIntoAnEntry",
     PEER("endpoints:\n      - endpoint: 198.51.100.1:51820\n        persistent-keepalive: 25"), Severity::kError, 8, 9,
     "peers[0].endpoints[0].persistent-keepalive",
     "'persistent-keepalive' belongs to the peer, not to an entry of 'endpoints:' (indented too far?)"},
    {"BadEndpointInTheList", PEER("endpoints:\n      - 198.51.100.1:51820\n      - gw.example"), Severity::kError, 8, 9,
     "peers[0].endpoints[1]",
     "'gw.example' is not an endpoint: the port is missing; expected HOST:PORT, e.g. 198.51.100.7:51820, "
     "\"[2001:db8::1]:51820\" or gw.example.net:51820"},
    {"BadEndpointInAMap", PEER("endpoints:\n      - endpoint: 198.51.100.1:0"), Severity::kError, 7, 19,
     "peers[0].endpoints[0].endpoint", "'0' is not a port in '198.51.100.1:0'; expected a port number 1..65535"},
    {"EmptyEntry", PEER("endpoints:\n      - 198.51.100.1:51820\n      -"), Severity::kError, 6, 5,
     "peers[0].endpoints[1]",
     "is empty; expected HOST:PORT or a map with 'endpoint: HOST:PORT' and an optional 'source: ADDRESS'"},
    {"UnquotedIpv6WithPortIsASyntaxError", PEER("endpoints:\n      - [2001:db8::1]:51820"), Severity::kError, 7, 22, "",
     "YAML syntax error: end of sequence not found (an IPv6 endpoint must be quoted: - \"[2001:db8::1]:51820\")"},
    {"UnquotedIpv6IsAList", PEER("endpoints:\n      - [2001:db8::1]"), Severity::kError, 7, 9, "peers[0].endpoints[0]",
     "is a list; an IPv6 endpoint must be quoted, since YAML reads '[' as a list: \"[2001:db8::1]:51820\""},
};
INSTANTIATE_TEST_SUITE_P(ConfigEndpoints, ConfigRule, testing::ValuesIn(kEndpointCases), test::case_name);

const RuleCase kTimingCases[] = {
    {"FailoverAfterZero", IFACE("failover-after: 0"), Severity::kError, 3, 19, "interface.failover-after",
     "0 is out of range; expected seconds, 1..60 (default 3)"},
    {"FailoverAfterTooLong", IFACE("failover-after: 61"), Severity::kError, 3, 19, "interface.failover-after",
     "61 is out of range; expected seconds, 1..60 (default 3)"},
    {"FailoverAfterWithUnit", IFACE("failover-after: 3s"), Severity::kError, 3, 19, "interface.failover-after",
     "'3s' is not a number; expected seconds, 1..60 (default 3)"},
    {"FailbackIntervalTooShort", IFACE("failback-interval: 4"), Severity::kError, 3, 22, "interface.failback-interval",
     "4 is out of range; expected seconds, 5..3600 (default 20)"},
    {"FailbackIntervalTooLong", IFACE("failback-interval: 3601"), Severity::kError, 3, 22,
     "interface.failback-interval", "3601 is out of range; expected seconds, 5..3600 (default 20)"},
    {"FailbackIntervalAList", IFACE("failback-interval: [20]"), Severity::kError, 3, 22, "interface.failback-interval",
     "expected seconds, 5..3600 (default 20), not a list"},
    {"TimingKeyInAPeer", PEER("failover-after: 3"), Severity::kError, 6, 5, "peers[0].failover-after",
     "'failover-after' belongs under 'interface:', not in a peer"},
};
INSTANTIATE_TEST_SUITE_P(ConfigFailoverTiming, ConfigRule, testing::ValuesIn(kTimingCases), test::case_name);

#undef IFACE
#undef PEER

// Every problem of a list is reported, not only the first.
TEST(ConfigEndpoints, EveryProblemOfAListIsReported) {
  const auto r = load_text(with_keys(peer(R"(    endpoints:
      - 198.51.100.1:51820
      - endpoint: 198.51.100.2:51820
        source: 2001:db8::1
      - 198.51.100.1:51820
      - nonsense
)")),
                           "t.yaml");
  ASSERT_FALSE(r.ok());
  std::vector<std::string> paths;
  for (const auto& d : r.error()) paths.push_back(d.path);
  EXPECT_EQ(paths, (std::vector<std::string>{"peers[0].endpoints[1].source", "peers[0].endpoints[2]",
                                             "peers[0].endpoints[3]"}))
      << dump(r.error());
}

const char* kTwoLines = R"(interface:
  private-key: PRIV_A
peers:
  - name: office-b
    public-key: PUB_B
    endpoints:
      - 198.51.100.1:51820
      - endpoint: 198.51.100.129:51820
        source: 203.0.113.130
    allowed-ips: [198.18.1.0/24]
)";

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

std::vector<std::string> changed_fields(const std::string& a, const std::string& b) {
  const ConfigDiff d = diff(load_ok(a), load_ok(b));
  EXPECT_TRUE(d.added.empty() && d.removed.empty());
  return d.changed.empty() ? std::vector<std::string>{} : d.changed.at(0).fields;
}

TEST(ConfigEndpointsDiff, AChangeOfTheListIsTheFieldEndpoints) {
  const std::vector<std::string> endpoints{"endpoints"};
  EXPECT_TRUE(diff(load_ok(kTwoLines), load_ok(kTwoLines)).empty());
  // Another address, another source, a source removed, the order, an entry added.
  EXPECT_EQ(changed_fields(kTwoLines, replaced(kTwoLines, "198.51.100.1:", "198.51.100.2:")), endpoints);
  EXPECT_EQ(changed_fields(kTwoLines, replaced(kTwoLines, "203.0.113.130", "203.0.113.131")), endpoints);
  EXPECT_EQ(changed_fields(kTwoLines, replaced(kTwoLines, "        source: 203.0.113.130\n", "")), endpoints);
  const std::string swapped = replaced(replaced(kTwoLines, "      - 198.51.100.1:51820\n", ""), "    allowed-ips",
                                       "      - 198.51.100.1:51820\n    allowed-ips");
  EXPECT_EQ(changed_fields(kTwoLines, swapped), endpoints);
  EXPECT_EQ(
      changed_fields(kTwoLines, replaced(kTwoLines, "    allowed-ips", "      - 198.51.100.9:51820\n    allowed-ips")),
      endpoints);
  const ConfigDiff d = diff(load_ok(kTwoLines), load_ok(replaced(kTwoLines, "203.0.113.130", "203.0.113.131")));
  ASSERT_EQ(d.changed.size(), 1u);
  EXPECT_FALSE(d.changed[0].needs_new_handshake());
  EXPECT_EQ(d.changed[0].after.endpoints[1].to_string(), "198.51.100.129:51820 from 203.0.113.131");
}

TEST(ConfigEndpointsDiff, BetweenTheTwoFormsOnlyTheListCounts) {
  const std::string single =
      "interface:\n  private-key: PRIV_A\npeers:\n  - public-key: PUB_B\n    allowed-ips: [198.18.1.0/24]\n"
      "    endpoint: 198.51.100.1:51820\n";
  const std::string as_list = replaced(single, "endpoint: 198.51.100.1:51820", "endpoints: [198.51.100.1:51820]");
  const std::string longer = replaced(single, "endpoint: 198.51.100.1:51820",
                                      "endpoints: [198.51.100.1:51820, 198.51.100.2:51820]");
  // The same list written another way is no change.
  EXPECT_TRUE(diff(load_ok(single), load_ok(as_list)).empty());
  EXPECT_EQ(changed_fields(single, longer), std::vector<std::string>{"endpoints"});
  EXPECT_EQ(changed_fields(longer, single), std::vector<std::string>{"endpoints"});
  // Both written with `endpoint:`: the field it always was.
  EXPECT_EQ(changed_fields(single, replaced(single, "100.1:", "100.3:")), std::vector<std::string>{"endpoint"});
  const std::string none =
      "interface:\n  private-key: PRIV_A\npeers:\n  - public-key: PUB_B\n    allowed-ips: [198.18.1.0/24]\n";
  EXPECT_EQ(changed_fields(single, none), std::vector<std::string>{"endpoint"});
  EXPECT_EQ(changed_fields(none, longer), std::vector<std::string>{"endpoints"});
}

TEST(ConfigEndpointsDiff, TimingChangesAreInterfaceChanges) {
  const std::string base = "interface:\n  private-key: PRIV_A\n";
  EXPECT_TRUE(diff(load_ok(base), load_ok(base + "  failover-after: 3\n  failback-interval: 20\n")).empty());
  EXPECT_EQ(diff(load_ok(base), load_ok(base + "  failover-after: 5\n")).interface_changes,
            std::vector<std::string>{"failover-after"});
  const ConfigDiff d = diff(load_ok(base), load_ok(base + "  failover-after: 5\n  failback-interval: 60\n"));
  EXPECT_EQ(d.interface_changes, (std::vector<std::string>{"failover-after", "failback-interval"}));
  EXPECT_TRUE(d.interface_changed("failback-interval"));
}

TEST(NonlocalSources, NamesEachSourceThatIsNotLocalOnce) {
  const Config c = load_ok(R"(interface:
  private-key: PRIV_A
peers:
  - name: office-b
    public-key: PUB_B
    endpoints:
      - endpoint: 198.51.100.1:51820
        source: 203.0.113.130
      - endpoint: 198.51.100.2:51820
        source: 203.0.113.130
      - endpoint: "[2001:db8::1]:51820"
        source: 2001:db8:a::130
      - endpoint: 198.51.100.3:51820
        source: 198.51.100.77
      - 198.51.100.4:51820
    allowed-ips: [198.18.1.0/24]
  - public-key: PUB_C
    endpoints:
      - endpoint: 198.51.100.5:51820
        source: 203.0.113.130
    allowed-ips: [198.18.2.0/24]
  - public-key: PUB_D
    endpoint: 198.51.100.6:51820
    allowed-ips: [198.18.3.0/24]
)");
  const std::vector<IpAddress> local{ip("127.0.0.1"), ip("2001:db8:a::130"), ip("198.51.100.77")};
  EXPECT_EQ(daemon::nonlocal_sources(c, local),
            (std::vector<std::string>{
                "peer office-b: source 203.0.113.130 is not an address of this host (yet): the kernel will choose "
                "the source until it is",
                std::string("peer ") + test::kPubC +
                    ": source 203.0.113.130 is not an address of this host (yet): the kernel will choose the source "
                    "until it is"}));
  EXPECT_EQ(daemon::nonlocal_sources(c, {ip("203.0.113.130"), ip("2001:db8:a::130"), ip("198.51.100.77")}),
            std::vector<std::string>{});
  EXPECT_EQ(daemon::nonlocal_sources(c, {}).size(), 4u);
}

// The real list of this host's addresses: loopback is one, an address from
// a documentation range is not.
TEST(NonlocalSources, LoopbackIsLocalADocumentationAddressIsNot) {
  const auto local = daemon::local_addresses();
  ASSERT_NE(std::find(local.begin(), local.end(), ip("127.0.0.1")), local.end());
  EXPECT_EQ(std::find(local.begin(), local.end(), ip("198.51.100.77")), local.end());
  const Config c = load_ok(R"(interface:
  private-key: PRIV_A
peers:
  - name: office-b
    public-key: PUB_B
    endpoints:
      - endpoint: 127.0.0.1:51820
        source: 127.0.0.1
      - endpoint: 198.51.100.1:51820
        source: 198.51.100.77
    allowed-ips: [198.18.1.0/24]
)");
  EXPECT_EQ(daemon::nonlocal_sources(c),
            std::vector<std::string>{"peer office-b: source 198.51.100.77 is not an address of this host (yet): "
                                     "the kernel will choose the source until it is"});
}

}  // namespace
}  // namespace sitelink::config
