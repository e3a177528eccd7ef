// The reload diff: peers matched by public key are unchanged or changed
// (with the keys that differ); new keys are added, missing keys removed;
// interface changes are listed by key. Order of allowed-ips does not matter.
#include <gtest/gtest.h>

#include "config/diff.h"
#include "config/load.h"
#include "config_test_util.h"

namespace sitelink::config {
namespace {

Config load(const std::string& yaml) {
  auto r = load_text(test::with_keys(yaml), "t.yaml");
  EXPECT_TRUE(r.ok()) << test::dump(test::diagnostics_of(r));
  return r ? r->config : Config{};
}

const char* kBase = R"(interface:
  private-key: PRIV_A
peers:
  - name: office-b
    public-key: PUB_B
    endpoint: 198.51.100.2:51820
    allowed-ips: [198.18.1.0/24, 2001:db8:b::/48]
  - public-key: PUB_C
    allowed-ips: [198.18.2.0/24]
)";

TEST(ConfigDiff, SameConfigIsEmpty) {
  const ConfigDiff d = diff(load(kBase), load(kBase));
  EXPECT_TRUE(d.empty());
  EXPECT_EQ(d.unchanged.size(), 2u);
}

TEST(ConfigDiff, ReorderedAllowedIpsAndPeersAreNoChange) {
  const ConfigDiff d = diff(load(kBase), load(R"(interface:
  private-key: PRIV_A
peers:
  - public-key: PUB_C
    allowed-ips: [198.18.2.0/24]
  - name: office-b
    public-key: PUB_B
    endpoint: 198.51.100.2:51820
    allowed-ips: [2001:db8:b::/48, 198.18.1.0/24]
)"));
  EXPECT_TRUE(d.empty());
}

TEST(ConfigDiff, PeersAddedRemovedAndChanged) {
  const ConfigDiff d = diff(load(kBase), load(R"(interface:
  private-key: PRIV_A
peers:
  - name: office-b
    public-key: PUB_B
    preshared-key: PSK
    endpoint: 198.51.100.9:51820
    allowed-ips: [198.18.1.0/24]
    persistent-keepalive: 25
  - public-key: PUB_D
    allowed-ips: [198.18.3.0/24]
)"));
  ASSERT_EQ(d.added.size(), 1u);
  EXPECT_EQ(d.added[0].public_key.to_base64(), test::kPubD);
  ASSERT_EQ(d.removed.size(), 1u);
  EXPECT_EQ(d.removed[0].public_key.to_base64(), test::kPubC);
  ASSERT_EQ(d.changed.size(), 1u);
  const PeerChange& c = d.changed[0];
  EXPECT_EQ(c.fields, (std::vector<std::string>{"preshared-key", "endpoint", "allowed-ips", "persistent-keepalive"}));
  EXPECT_TRUE(c.needs_new_handshake());
  EXPECT_EQ(c.before.endpoint->to_string(), "198.51.100.2:51820");
  EXPECT_EQ(c.after.endpoint->to_string(), "198.51.100.9:51820");
  EXPECT_TRUE(d.unchanged.empty());
  EXPECT_TRUE(d.interface_changes.empty());
}

TEST(ConfigDiff, EndpointChangeKeepsTheSession) {
  std::string changed = kBase;
  changed.replace(changed.find("198.51.100.2"), 12, "198.51.100.7");
  const ConfigDiff d = diff(load(kBase), load(changed));
  ASSERT_EQ(d.changed.size(), 1u);
  EXPECT_EQ(d.changed[0].fields, std::vector<std::string>{"endpoint"});
  EXPECT_FALSE(d.changed[0].needs_new_handshake());
  EXPECT_EQ(d.unchanged.size(), 1u);
}

TEST(ConfigDiff, InterfaceChangesAreListedByKey) {
  const ConfigDiff d = diff(load("interface:\n  private-key: PRIV_A\n"), load(R"(interface:
  name: sl1
  private-key: PRIV_A
  listen-port: 51821
  address: [198.18.0.1/24]
  mtu: 1380
  routes: false
  fwmark: 7
  rekey-after-time: 60
)"));
  EXPECT_EQ(d.interface_changes, (std::vector<std::string>{"name", "listen-port", "address", "mtu", "routes", "fwmark",
                                                           "rekey-after-time"}));
  EXPECT_TRUE(d.interface_changed("mtu"));
  EXPECT_FALSE(d.interface_changed("private-key"));
  EXPECT_FALSE(d.empty());
}

TEST(ConfigDiff, MssClampChangesAreListed) {
  const Config autos = load("interface:\n  private-key: PRIV_A\n");
  const Config off = load("interface:\n  private-key: PRIV_A\n  mss-clamp: off\n");
  const Config n = load("interface:\n  private-key: PRIV_A\n  mss-clamp: 1300\n");
  EXPECT_EQ(diff(autos, off).interface_changes, std::vector<std::string>{"mss-clamp"});
  EXPECT_EQ(diff(off, n).interface_changes, std::vector<std::string>{"mss-clamp"});
  EXPECT_TRUE(diff(autos, load("interface:\n  private-key: PRIV_A\n  mss-clamp: auto\n")).empty());
}

TEST(ConfigDiff, CopyDscpChangesAreListed) {
  const Config off = load("interface:\n  private-key: PRIV_A\n");
  const Config on = load("interface:\n  private-key: PRIV_A\n  copy-dscp: true\n");
  EXPECT_EQ(diff(off, on).interface_changes, std::vector<std::string>{"copy-dscp"});
  EXPECT_EQ(diff(on, off).interface_changes, std::vector<std::string>{"copy-dscp"});
  EXPECT_TRUE(diff(off, load("interface:\n  private-key: PRIV_A\n  copy-dscp: false\n")).empty());
}

TEST(ConfigDiff, NewPrivateKeyIsAnInterfaceChange) {
  Config a = load("interface:\n  private-key: PRIV_A\n");
  Config b = a;
  handshake::SodiumRng rng;
  b.interface.private_key = handshake::PrivateKey::generate(rng);
  EXPECT_EQ(diff(a, b).interface_changes, std::vector<std::string>{"private-key"});
}

}  // namespace
}  // namespace sitelink::config
