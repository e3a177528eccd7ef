// Value types under the loader: IP addresses and prefixes (parsing,
// canonical form, containment, overlap), endpoints and DNS-name syntax, and
// the "did you mean" matcher.
#include <gtest/gtest.h>

#include "config/endpoint.h"
#include "config/ip_prefix.h"
#include "config/names.h"
#include "config/suggest.h"

namespace sitelink::config {
namespace {

IpPrefix P(const char* s) {
  auto r = IpPrefix::parse(s);
  EXPECT_TRUE(r.ok()) << s;
  return r ? *r : IpPrefix{};
}

TEST(ConfigIpPrefix, ParsesAndPrintsBothFamilies) {
  EXPECT_EQ(P("198.18.1.0/24").to_string(), "198.18.1.0/24");
  EXPECT_EQ(P("2001:DB8:B::/48").to_string(), "2001:db8:b::/48");
  EXPECT_EQ(P("0.0.0.0/0").length(), 0);
  EXPECT_EQ(P("::/0").family(), Family::kV6);
  EXPECT_EQ(P("198.18.1.7").to_string(), "198.18.1.7/32");  // a bare address is a host prefix
  EXPECT_EQ(P("2001:db8::7").length(), 128);
  EXPECT_EQ(P("::ffff:198.18.1.7/128").family(), Family::kV6);
}

TEST(ConfigIpPrefix, RejectsWhatIsNotAPrefix) {
  for (const char* bad :
       {"", "/", "/24", "198.18.1.0/", "198.18.1.0/33", "2001:db8::/129", "198.18.300.0/24", "198.18.1/24",
        "010.0.0.0/8", "198.18.1.0/024", "198.18.1.0/-1", "198.18.1.0/+8", "198.18.1.0 /24", " 198.18.1.0/24",
        "fe80::1%eth0/64", "[2001:db8::]/48", "host.example/24", "198.18.1.0/24/8", "198.18.1.0/1000"}) {
    EXPECT_FALSE(IpPrefix::parse(bad).ok()) << bad;
  }
  EXPECT_FALSE(IpPrefix::parse(std::string_view("1.2.3.4\0/8", 10)).ok());
}

TEST(ConfigIpPrefix, CanonicalClearsHostBits) {
  EXPECT_EQ(P("198.18.1.77/24").canonical().to_string(), "198.18.1.0/24");
  EXPECT_EQ(P("198.18.1.77/31").canonical().to_string(), "198.18.1.76/31");
  EXPECT_EQ(P("255.255.255.255/0").canonical().to_string(), "0.0.0.0/0");
  EXPECT_EQ(P("2001:db8:b:1::1/48").canonical().to_string(), "2001:db8:b::/48");
  EXPECT_EQ(P("2001:db8::ffff/127").canonical().to_string(), "2001:db8::fffe/127");
  EXPECT_TRUE(P("198.18.1.0/24").is_canonical());
  EXPECT_FALSE(P("198.18.1.1/24").is_canonical());
  EXPECT_TRUE(P("198.18.1.1/32").is_canonical());
}

TEST(ConfigIpPrefix, ContainsAndOverlaps) {
  EXPECT_TRUE(P("198.18.0.0/15").contains(P("198.19.255.0/24")));
  EXPECT_FALSE(P("198.18.0.0/16").contains(P("198.19.0.0/24")));
  EXPECT_FALSE(P("198.18.1.0/25").contains(P("198.18.1.0/24")));
  EXPECT_TRUE(P("198.18.1.0/25").overlaps(P("198.18.1.0/24")));
  EXPECT_FALSE(P("198.18.1.0/25").overlaps(P("198.18.1.128/25")));
  EXPECT_TRUE(P("0.0.0.0/0").overlaps(P("203.0.113.9/32")));
  EXPECT_FALSE(P("0.0.0.0/0").overlaps(P("::/0")));  // families never overlap
  EXPECT_FALSE(P("::/0").contains(*IpAddress::parse("198.18.1.1")));
  EXPECT_TRUE(P("2001:db8::/32").contains(*IpAddress::parse("2001:db8:ffff::1")));
  EXPECT_TRUE(P("198.18.1.7/32").overlaps(P("198.18.1.7/32")));
}

TEST(ConfigEndpoint, ParsesTheThreeForms) {
  auto v4 = parse_endpoint("198.51.100.7:51820");
  ASSERT_TRUE(v4.ok());
  EXPECT_FALSE(v4->is_dns_name);
  EXPECT_TRUE(v4->address->is_v4());
  EXPECT_EQ(v4->to_string(), "198.51.100.7:51820");
  auto v6 = parse_endpoint("[2001:db8::1]:1");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "2001:db8::1");
  EXPECT_EQ(v6->port, 1);
  EXPECT_EQ(v6->to_string(), "[2001:db8::1]:1");
  auto dns = parse_endpoint("gw.office-b.example.:65535");
  ASSERT_TRUE(dns.ok());
  EXPECT_TRUE(dns->is_dns_name);
  EXPECT_FALSE(dns->address.has_value());
  EXPECT_EQ(dns->port, 65535);
  EXPECT_TRUE(parse_endpoint("localhost:5").ok());
}

TEST(ConfigEndpoint, RejectsMalformedEndpoints) {
  for (const char* bad : {"",
                          ":51820",
                          "gw.example",
                          "gw.example:",
                          "gw.example:0",
                          "gw.example:65536",
                          "gw.example:+1",
                          "gw.example:5x",
                          "2001:db8::1:51820",
                          "[2001:db8::1]",
                          "[2001:db8::1]51820",
                          "[2001:db8::1:51820",
                          "[198.51.100.7]:1",
                          "[gw.example]:1",
                          "198.51.100.300:1",
                          "1.2.3:1",
                          "-gw.example:1",
                          "gw-.example:1",
                          "gw..example:1",
                          "gw_1.example:1",
                          "gw example:1",
                          "[fe80::1%eth0]:1"}) {
    EXPECT_FALSE(parse_endpoint(bad).ok()) << bad;
  }
}

TEST(ConfigEndpoint, DnsNameSyntax) {
  EXPECT_TRUE(is_dns_name("a"));
  EXPECT_TRUE(is_dns_name("xn--bcher-kva.example"));
  EXPECT_TRUE(is_dns_name("1password.example"));
  EXPECT_TRUE(is_dns_name(std::string(63, 'a') + ".example"));
  EXPECT_FALSE(is_dns_name(std::string(64, 'a') + ".example"));
  std::string long_name;
  while (long_name.size() < 254) long_name += "abcdefg.";
  EXPECT_FALSE(is_dns_name(long_name + "example"));
  EXPECT_FALSE(is_dns_name("198.51.100.300"));  // all-numeric last label: a mistyped address
  EXPECT_FALSE(is_dns_name("."));
  EXPECT_FALSE(is_dns_name(""));
}

TEST(ConfigInterfaceName, FollowsLinuxRules) {
  EXPECT_EQ(interface_name_problem("sl0"), "");
  EXPECT_EQ(interface_name_problem("office-a-gw0123"), "");
  EXPECT_EQ(interface_name_problem("office-a-gw01234"), "it is longer than 15 characters");
  EXPECT_EQ(interface_name_problem(""), "it is empty");
  EXPECT_EQ(interface_name_problem("."), "'.' and '..' are reserved");
  EXPECT_EQ(interface_name_problem("a:b"), "it contains ':'");
  EXPECT_EQ(interface_name_problem("a\tb"), "it contains a space or a control character");
  EXPECT_EQ(interface_name_problem(std::string_view("a\0b", 3)), "it contains a space or a control character");
}

TEST(ConfigSuggest, EditDistance) {
  EXPECT_EQ(edit_distance("", ""), 0u);
  EXPECT_EQ(edit_distance("abc", ""), 3u);
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
  EXPECT_EQ(edit_distance("allowed-ip", "allowed-ips"), 1u);
  EXPECT_EQ(edit_distance("nmae", "name"), 1u);  // a swap is one edit
  EXPECT_EQ(edit_distance("ab", "ba"), 1u);
  EXPECT_EQ(edit_distance("ca", "abc"), 3u);  // optimal string alignment, not full Damerau
}

TEST(ConfigSuggest, ClosestKey) {
  const std::string_view keys[] = {"name",     "public-key",  "preshared-key",
                                   "endpoint", "allowed-ips", "persistent-keepalive"};
  EXPECT_EQ(closest_key("allowed-ip", keys), "allowed-ips");
  EXPECT_EQ(closest_key("AllowedIPs", keys), "allowed-ips");
  EXPECT_EQ(closest_key("public_key", keys), "public-key");
  EXPECT_EQ(closest_key("endpont", keys), "endpoint");
  EXPECT_EQ(closest_key("nmae", keys), "name");
  EXPECT_EQ(closest_key("keepalive", keys), "persistent-keepalive");
  EXPECT_EQ(closest_key("colour", keys), std::nullopt);
  EXPECT_EQ(closest_key("x", keys), std::nullopt);
  EXPECT_EQ(closest_key(std::string(100, 'a'), keys), std::nullopt);
}

}  // namespace
}  // namespace sitelink::config
