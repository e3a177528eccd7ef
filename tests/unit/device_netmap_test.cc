// `netmap:` in the device (issue 17): two offices with the same LAN,
// 198.18.1.0/24 and 2001:db8:1::/64 each. Gateway A maps both ways (B's LAN
// is 198.19.201.0/24 / 2001:db8:201::/64 here; A's LAN is 198.19.202.0/24 /
// 2001:db8:202::/64 to B); B is configured as a stock WireGuard peer would
// be, with A's mapped prefixes as allowed-ips. The allowed-ips check on A
// runs on the addresses as on the wire, before mapping.
#include <gtest/gtest.h>

#include "fakes/fake_clock.h"
#include "fakes/fake_network.h"
#include "fakes/fake_tun.h"
#include "fakes/packets.h"
#include "fakes/pump.h"
#include "support/test_support.h"
#include "tunnel/device.h"

namespace sitelink::tunnel {
namespace {

using namespace std::chrono_literals;
namespace hs = handshake;

config::IpPrefix prefix(const char* s) { return *config::IpPrefix::parse(s); }
SockAddr addr(const char* s) { return *SockAddr::parse(s); }

struct Gateway {
  Gateway(test::FakeNetwork& net, test::FakeClock& clock, test::SeededRng& rng, const char* address)
      : key(hs::PrivateKey::generate(rng)), udp(net.socket(addr(address))) {
    dev = std::make_unique<Device>(key, Device::Settings{}, clock, rng, tun, udp, log);
  }
  hs::PrivateKey key;
  test::FakeTun tun;
  test::FakeUdp& udp;
  Logger log;
  std::unique_ptr<Device> dev;
};

Netmap both_ways() {
  return Netmap{
      {{prefix("198.18.1.0/24"), prefix("198.19.201.0/24")}, {prefix("2001:db8:1::/64"), prefix("2001:db8:201::/64")}},
      {{prefix("198.18.1.0/24"), prefix("198.19.202.0/24")}, {prefix("2001:db8:1::/64"), prefix("2001:db8:202::/64")}}};
}

class SameLan : public ::testing::Test {
 protected:
  void SetUp() override {
    a = std::make_unique<Gateway>(net, clock, rng, "203.0.113.1:51820");
    b = std::make_unique<Gateway>(net, clock, rng, "198.51.100.2:51820");
    PeerSpec to_b{
        b->key.public_key(), {}, addr("198.51.100.2:51820"), {prefix("198.18.1.0/24"), prefix("2001:db8:1::/64")}, 0s,
        "office-b"};
    to_b.netmap = both_ways();
    a->dev->upsert_peer(to_b);
    b->dev->upsert_peer(PeerSpec{a->key.public_key(),
                                 {},
                                 addr("203.0.113.1:51820"),
                                 {prefix("198.19.202.0/24"), prefix("2001:db8:202::/64")},
                                 0s,
                                 "office-a"});
  }
  void pump() { test::pump_until_settled(net, *a, *b); }
  PeerStatus a_view() const { return *a->dev->peer(b->key.public_key()); }

  test::FakeNetwork net;
  test::FakeClock clock;
  test::SeededRng rng{17};
  std::unique_ptr<Gateway> a, b;
};

std::string source_of(const std::vector<uint8_t>& p) {
  const bool v4 = (p[0] >> 4) == 4;
  return (v4 ? config::IpAddress::v4({p[12], p[13], p[14], p[15]}) : config::IpAddress::v6(take<16>(&p[8])))
      .to_string();
}
std::string destination_of(const std::vector<uint8_t>& p) {
  const bool v4 = (p[0] >> 4) == 4;
  return (v4 ? config::IpAddress::v4({p[16], p[17], p[18], p[19]}) : config::IpAddress::v6(take<16>(&p[24])))
      .to_string();
}

TEST_F(SameLan, HostsAtTheSameAddressReachEachOtherThroughTheMapping) {
  a->tun.inbound.push_back(test::ip_packet("198.18.1.5", "198.19.201.7", 40, 0xab));
  a->tun.inbound.push_back(test::ip_packet("2001:db8:1::5", "2001:db8:201::7", 40, 0xcd));
  pump();
  ASSERT_EQ(b->tun.outbound.size(), 2u);
  EXPECT_EQ(source_of(b->tun.outbound[0]), "198.19.202.5");
  EXPECT_EQ(destination_of(b->tun.outbound[0]), "198.18.1.7");
  EXPECT_EQ(source_of(b->tun.outbound[1]), "2001:db8:202::5");
  EXPECT_EQ(destination_of(b->tun.outbound[1]), "2001:db8:1::7");
  b->tun.inbound.push_back(test::ip_packet("198.18.1.7", "198.19.202.5", 40, 0xef));
  b->tun.inbound.push_back(test::ip_packet("2001:db8:1::7", "2001:db8:202::5", 40, 0x12));
  pump();
  ASSERT_EQ(a->tun.outbound.size(), 2u);
  EXPECT_EQ(source_of(a->tun.outbound[0]), "198.19.201.7");
  EXPECT_EQ(destination_of(a->tun.outbound[0]), "198.18.1.5");
  EXPECT_EQ(source_of(a->tun.outbound[1]), "2001:db8:201::7");
  EXPECT_EQ(destination_of(a->tun.outbound[1]), "2001:db8:1::5");
  const PeerStatus s = a_view();
  EXPECT_EQ(s.netmap_out, 2u);
  EXPECT_EQ(s.netmap_in, 2u);
  EXPECT_EQ(s.netmap, both_ways());
  // The UAPI view keeps allowed-ips as configured (on the wire).
  EXPECT_EQ(s.allowed_ips, (std::vector<config::IpPrefix>{prefix("198.18.1.0/24"), prefix("2001:db8:1::/64")}));
}

// A destination in a seen-as prefix goes to the peer whose mapping it is,
// even when another peer holds a more specific prefix inside that peer's P
// (P is the far office's LAN as on the wire; here it is also ours).
TEST_F(SameLan, SeenAsDestinationGoesToTheMappingsPeer) {
  const auto other = hs::PrivateKey::generate(rng);
  a->dev->upsert_peer(
      PeerSpec{other.public_key(), {}, addr("198.51.100.9:51820"), {prefix("198.18.1.0/25")}, 0s, "branch"});
  a->tun.inbound.push_back(test::ip_packet("198.18.1.5", "198.19.201.7", 40, 0xab));
  pump();
  ASSERT_EQ(b->tun.outbound.size(), 1u);
  EXPECT_EQ(destination_of(b->tun.outbound[0]), "198.18.1.7");
  EXPECT_EQ(a_view().netmap_out, 1u);
}

// The check runs on the wire source, before mapping: a source outside the
// peer's allowed-ips is dropped and counted as without a mapping, and is
// not translated.
TEST_F(SameLan, SourceOutsideAllowedIpsIsDroppedBeforeMapping) {
  b->dev->upsert_peer(PeerSpec{a->key.public_key(),
                               {},
                               addr("203.0.113.1:51820"),
                               {prefix("198.19.202.0/24"), prefix("198.18.9.0/24")},
                               0s,
                               "office-a"});
  b->tun.inbound.push_back(test::ip_packet("198.18.9.9", "198.19.202.5", 20, 1));
  b->tun.inbound.push_back(test::ip_packet("198.19.201.7", "198.19.202.5", 20, 2));  // the seen-as: not on the wire
  pump();
  EXPECT_TRUE(a->tun.outbound.empty());
  EXPECT_EQ(a->dev->drops(Drop::kSourceNotAllowed), 2u);
  EXPECT_EQ(a_view().netmap_in, 0u);
}

// A mapping changed in place (a reload that changes only `netmap:`) keeps
// the session and applies at once; removed, packets to the old seen-as
// prefix have no route.
TEST_F(SameLan, ChangingTheMappingKeepsTheSession) {
  a->tun.inbound.push_back(test::ip_packet("198.18.1.5", "198.19.201.7", 20, 1));
  pump();
  const auto handshake = a_view().stats.last_handshake;
  ASSERT_TRUE(handshake.has_value());
  PeerSpec to_b{b->key.public_key(), {}, std::nullopt, {prefix("198.18.1.0/24"), prefix("2001:db8:1::/64")}, 0s,
                "office-b"};
  to_b.netmap = both_ways();
  to_b.netmap.peer[0].to = prefix("198.19.209.0/24");
  a->dev->upsert_peer(to_b);
  a->tun.inbound.push_back(test::ip_packet("198.18.1.5", "198.19.209.7", 20, 2));
  a->tun.inbound.push_back(test::ip_packet("198.18.1.5", "198.19.201.7", 20, 3));  // the old Q: no longer routed
  pump();
  ASSERT_EQ(b->tun.outbound.size(), 2u);
  EXPECT_EQ(destination_of(b->tun.outbound[1]), "198.18.1.7");
  EXPECT_EQ(a_view().stats.last_handshake, handshake);
  EXPECT_EQ(a->dev->drops(Drop::kTunNoRoute), 1u);
  to_b.netmap = {};
  a->dev->upsert_peer(to_b);
  a->tun.inbound.push_back(test::ip_packet("198.18.1.5", "198.19.209.7", 20, 4));
  pump();
  EXPECT_EQ(a->dev->drops(Drop::kTunNoRoute), 2u);
  EXPECT_TRUE(a_view().netmap.empty());
}

}  // namespace
}  // namespace sitelink::tunnel
