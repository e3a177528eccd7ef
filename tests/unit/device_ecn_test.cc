// ECN per RFC 6040 and copy-dscp through two gateways wired by the
// in-memory TUN and network (issue 16): each sealed datagram leaves with
// the TOS of its own inner packet (a batch that mixes them included, and
// packets staged before the session), handshakes and keepalives with 0; a
// CE mark set on the outer packet on the way reaches an ECN-capable inner
// packet (IPv4 checksum still right, IPv6 too) and drops a Not-ECT one,
// counted as ecn-ce-not-ect.
#include <gtest/gtest.h>

#include "fakes/fake_clock.h"
#include "fakes/fake_network.h"
#include "fakes/fake_tun.h"
#include "fakes/packets.h"
#include "fakes/pump.h"
#include "support/test_support.h"
#include "tunnel/device.h"
#include "tunnel/ecn.h"

namespace sitelink::tunnel {
namespace {

using namespace std::chrono_literals;
namespace hs = handshake;

config::IpPrefix prefix(const char* s) { return *config::IpPrefix::parse(s); }
SockAddr addr(const char* s) { return *SockAddr::parse(s); }

struct Gateway {
  Gateway(test::FakeNetwork& net, test::FakeClock& clock, test::SeededRng& rng, const char* address,
          Device::Settings settings)
      : key(hs::PrivateKey::generate(rng)), udp(net.socket(addr(address))) {
    dev = std::make_unique<Device>(key, settings, clock, rng, tun, udp, log);
  }
  hs::PrivateKey key;
  test::FakeTun tun;
  test::FakeUdp& udp;
  Logger log;
  std::unique_ptr<Device> dev;
};

uint16_t header_sum(const std::vector<uint8_t>& p) {
  uint32_t sum = 0;
  for (size_t i = 0; i < 20; i += 2) sum += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

// An IPv4 packet from office A's LAN with TOS `tos` and a valid header
// checksum; `tag` tells packets apart.
std::vector<uint8_t> v4(uint8_t tos, uint8_t tag) {
  auto p = test::ip_packet("198.18.1.5", "198.18.2.7", 60, tag);
  p[1] = tos;
  p[10] = p[11] = 0;
  const auto c = static_cast<uint16_t>(~header_sum(p));
  p[10] = static_cast<uint8_t>(c >> 8);
  p[11] = static_cast<uint8_t>(c);
  return p;
}

std::vector<uint8_t> v6(uint8_t tclass, uint8_t tag) {
  auto p = test::ip_packet("2001:db8:a::5", "2001:db8:b::7", 60, tag);
  p[0] = static_cast<uint8_t>(0x60 | tclass >> 4);
  p[1] = static_cast<uint8_t>(tclass << 4);
  return p;
}

bool is_data(const test::Datagram& d) { return d.bytes.size() > 32 && d.bytes[0] == 4; }

class EcnDevice : public ::testing::Test {
 protected:
  void build(Device::Settings s) {
    a = std::make_unique<Gateway>(net, clock, rng, "203.0.113.1:51820", s);
    b = std::make_unique<Gateway>(net, clock, rng, "198.51.100.2:51820", s);
    a->dev->upsert_peer(PeerSpec{b->key.public_key(),
                                 {},
                                 addr("198.51.100.2:51820"),
                                 {prefix("198.18.2.0/24"), prefix("2001:db8:b::/48")},
                                 0s,
                                 "office-b"});
    b->dev->upsert_peer(PeerSpec{a->key.public_key(),
                                 {},
                                 addr("203.0.113.1:51820"),
                                 {prefix("198.18.1.0/24"), prefix("2001:db8:a::/48")},
                                 0s,
                                 "office-a"});
    // Every datagram is recorded as it crosses, and the test may rewrite
    // the outer TOS of data packets (a congested router marking CE).
    net.fault = [this](const test::Datagram& d) {
      test::Datagram out = d;
      if (is_data(d) && mark) out.tos = static_cast<uint8_t>((d.tos & ~ecn::kMask) | *mark);
      wire.push_back(out);
      return std::vector<test::Datagram>{out};
    };
  }
  void pump() { test::pump_until_settled(net, *a, *b); }
  // Brings the session up with a packet both ways, then forgets the wire.
  void connect() {
    a->tun.inbound.push_back(v4(0, 0xee));
    pump();
    ASSERT_EQ(b->tun.outbound.size(), 1u);
    b->tun.outbound.clear();
    wire.clear();
  }
  std::vector<uint8_t> data_tos_from_a() const {
    std::vector<uint8_t> out;
    for (const auto& d : wire) {
      if (is_data(d) && d.from == addr("203.0.113.1:51820")) out.push_back(d.tos);
    }
    return out;
  }

  test::FakeNetwork net;
  test::FakeClock clock;
  test::SeededRng rng{16};
  std::unique_ptr<Gateway> a, b;
  std::vector<test::Datagram> wire;
  std::optional<uint8_t> mark;
};

TEST_F(EcnDevice, EachDatagramOfABatchCarriesItsOwnPacketsEcnField) {
  build({});
  connect();
  // One TUN read brings them all: sealed into one batch, queued together.
  const std::vector<uint8_t> inner{0x00, 0x02, 0x02, 0x01, 0x03, 0xb8 | 0x02, 0xb8, 0x00, 0x00};
  for (size_t i = 0; i < inner.size(); ++i) a->tun.inbound.push_back(v4(inner[i], static_cast<uint8_t>(i)));
  a->tun.inbound.push_back(v6(0xb8 | 0x01, 0x77));
  pump();
  const std::vector<uint8_t> want{0x00, 0x02, 0x02, 0x01, 0x03, 0x02, 0x00, 0x00, 0x00, 0x01};
  EXPECT_EQ(data_tos_from_a(), want);  // copy-dscp off: the ECN field only, CE included (RFC 6040 normal mode)
  ASSERT_EQ(b->tun.outbound.size(), inner.size() + 1);
  for (size_t i = 0; i < inner.size(); ++i) EXPECT_EQ(b->tun.outbound[i], v4(inner[i], static_cast<uint8_t>(i)));
}

TEST_F(EcnDevice, CopyDscpCarriesTheWholeTosByte) {
  build({.copy_dscp = true});
  connect();
  for (int tos : {0xb8, 0xb8 | 0x02, 0x28, 0x00}) a->tun.inbound.push_back(v4(static_cast<uint8_t>(tos), 1));
  a->tun.inbound.push_back(v6(0xb8 | 0x02, 1));
  pump();
  EXPECT_EQ(data_tos_from_a(), (std::vector<uint8_t>{0xb8, 0xba, 0x28, 0x00, 0xba}));
}

TEST_F(EcnDevice, HandshakesAndKeepalivesLeaveWithTosZeroAndStagedPacketsWithTheirOwn) {
  build({.copy_dscp = true});
  // Before any session: both packets are staged, then sealed when it is up.
  a->tun.inbound.push_back(v4(0xb8 | 0x02, 1));
  a->tun.inbound.push_back(v4(0x00, 2));
  pump();
  EXPECT_EQ(data_tos_from_a(), (std::vector<uint8_t>{0xba, 0x00}));
  ASSERT_EQ(b->tun.outbound.size(), 2u);
  size_t handshakes = 0;
  for (const auto& d : wire) {
    if (d.bytes[0] == 1 || d.bytes[0] == 2) {
      ++handshakes;
      EXPECT_EQ(d.tos, 0);
    }
  }
  EXPECT_EQ(handshakes, 2u);
  // B answers the data with a keepalive after KEEPALIVE_TIMEOUT.
  wire.clear();
  clock.advance(11s);
  b->dev->handle_timers();
  a->dev->handle_timers();
  pump();
  size_t keepalives = 0;
  for (const auto& d : wire) {
    if (d.bytes[0] == 4 && d.bytes.size() == 32) {
      ++keepalives;
      EXPECT_EQ(d.tos, 0);
    }
  }
  EXPECT_GE(keepalives, 1u);
}

TEST_F(EcnDevice, CeOnTheWayReachesEcnCapableInnerPacketsWithTheirChecksumRight) {
  build({});
  connect();
  mark = ecn::kCe;
  a->tun.inbound.push_back(v4(0xb8 | ecn::kEct0, 1));
  a->tun.inbound.push_back(v4(ecn::kEct1, 2));
  a->tun.inbound.push_back(v4(ecn::kCe, 3));
  a->tun.inbound.push_back(v6(0xb8 | ecn::kEct0, 4));
  pump();
  ASSERT_EQ(b->tun.outbound.size(), 4u);
  EXPECT_EQ(b->tun.outbound[0], v4(0xb8 | ecn::kCe, 1));  // the checksum as if built with CE
  EXPECT_EQ(header_sum(b->tun.outbound[0]), 0xffff);
  EXPECT_EQ(b->tun.outbound[1], v4(ecn::kCe, 2));
  EXPECT_EQ(b->tun.outbound[2], v4(ecn::kCe, 3));
  EXPECT_EQ(b->tun.outbound[3], v6(0xb8 | ecn::kCe, 4));
  EXPECT_EQ(b->dev->drops(Drop::kEcnCeNotEct), 0u);
}

TEST_F(EcnDevice, CeOverANotEctInnerPacketIsDroppedAndCounted) {
  build({});
  connect();
  mark = ecn::kCe;
  a->tun.inbound.push_back(v4(0xb8, 1));
  a->tun.inbound.push_back(v6(0x00, 2));
  a->tun.inbound.push_back(v4(ecn::kEct0, 3));
  pump();
  ASSERT_EQ(b->tun.outbound.size(), 1u);
  EXPECT_EQ(b->tun.outbound[0], v4(ecn::kCe, 3));
  EXPECT_EQ(b->dev->drops(Drop::kEcnCeNotEct), 2u);
  EXPECT_EQ(to_string(Drop::kEcnCeNotEct), "ecn-ce-not-ect");
  // The positive control: unmarked, the same packets arrive untouched.
  mark.reset();
  a->tun.inbound.push_back(v4(0xb8, 1));
  pump();
  ASSERT_EQ(b->tun.outbound.size(), 2u);
  EXPECT_EQ(b->tun.outbound[1], v4(0xb8, 1));
}

TEST_F(EcnDevice, Ect1OnTheWayTurnsEct0IntoEct1AndLeavesNotEctAlone) {
  build({});
  connect();
  mark = ecn::kEct1;
  a->tun.inbound.push_back(v4(ecn::kEct0, 1));
  a->tun.inbound.push_back(v4(ecn::kNotEct, 2));
  pump();
  ASSERT_EQ(b->tun.outbound.size(), 2u);
  EXPECT_EQ(b->tun.outbound[0], v4(ecn::kEct1, 1));
  EXPECT_EQ(b->tun.outbound[1], v4(ecn::kNotEct, 2));
}

}  // namespace
}  // namespace sitelink::tunnel
