// Two gateways wired through an in-memory TUN and network with a hand-held
// clock: the packet path, cryptokey routing both ways, roaming, faults on
// the wire, cookies under load, rekey under traffic (issue 4's in-process
// tests; wireguard-go's genTestPair is the model).
#include "tunnel/device.h"

#include <gtest/gtest.h>

#include "fakes/fake_clock.h"
#include "fakes/fake_network.h"
#include "fakes/fake_tun.h"
#include "fakes/packets.h"
#include "fakes/pump.h"
#include "support/naive_offload.h"
#include "support/tcp_syn.h"
#include "support/test_support.h"

namespace sitelink::tunnel {
namespace {

using namespace std::chrono_literals;
namespace hs = handshake;

config::IpPrefix prefix(const char* s) { return *config::IpPrefix::parse(s); }
SockAddr addr(const char* s) { return *SockAddr::parse(s); }

struct Gateway {
  Gateway(test::FakeNetwork& net, test::FakeClock& clock, test::SeededRng& rng, const char* address,
          Device::Settings settings = {}, CryptoPool::Options crypto = {})
      : key(hs::PrivateKey::generate(rng)), udp(net.socket(addr(address))) {
    log.set_level(LogLevel::kDebug);
    log.set_sink([this](LogLevel, std::string_view line) { lines.emplace_back(line); });
    dev = std::make_unique<Device>(key, settings, clock, rng, tun, udp, log);
    dev->set_crypto(crypto);
  }
  hs::PrivateKey key;
  test::FakeTun tun;
  test::FakeUdp& udp;
  Logger log;
  std::vector<std::string> lines;
  std::unique_ptr<Device> dev;
};

// Every test runs twice: with the transport crypto on the packet loop's
// thread, and with all of it on two pool threads (CryptoPool), which must
// not change a single byte or counter.
struct CryptoMode {
  const char* name;
  CryptoPool::Options options;
};
void PrintTo(const CryptoMode& m, std::ostream* os) { *os << m.name; }  // in test names and failures
const CryptoMode kInline{"inline", {}};
const CryptoMode kThreads{"threads", {.threads = 2, .min_parallel = 1, .caller_shares = false}};

class TwoOffices : public ::testing::TestWithParam<CryptoMode> {
 protected:
  void SetUp() override { build({}); }
  void build(Device::Settings s) { build(s, s); }
  void build(Device::Settings sa, Device::Settings sb) {
    a = std::make_unique<Gateway>(net, clock, rng, "203.0.113.1:51820", sa, GetParam().options);
    b = std::make_unique<Gateway>(net, clock, rng, "198.51.100.2:51820", sb, GetParam().options);
    const auto psk = hs::PresharedKey::generate(rng);
    a->dev->upsert_peer(PeerSpec{b->key.public_key(),
                                 psk,
                                 addr("198.51.100.2:51820"),
                                 {prefix("198.18.2.0/24"), prefix("2001:db8:b::/48")},
                                 0s,
                                 "office-b"});
    b->dev->upsert_peer(PeerSpec{a->key.public_key(),
                                 psk,
                                 addr("203.0.113.1:51820"),
                                 {prefix("198.18.1.0/24"), prefix("2001:db8:a::/48")},
                                 0s,
                                 "office-a"});
  }
  // Runs both gateways until nothing moves (the event loop, minus epoll).
  void pump() { test::pump_until_settled(net, *a, *b); }
  void advance(Duration d) {
    clock.advance(d);
    a->dev->handle_timers();
    b->dev->handle_timers();
    pump();
  }
  void from_a(const std::vector<uint8_t>& p) { a->tun.inbound.push_back(p); }
  void from_b(const std::vector<uint8_t>& p) { b->tun.inbound.push_back(p); }

  test::FakeNetwork net;
  test::FakeClock clock;
  test::SeededRng rng{11};
  std::unique_ptr<Gateway> a, b;
};

TEST_P(TwoOffices, HostsReachEachOtherOverIpv4AndIpv6) {
  const auto ping = test::ip_packet("198.18.1.5", "198.18.2.7", 56, 0xab);
  const auto ping6 = test::ip_packet("2001:db8:a::5", "2001:db8:b::7", 56, 0xcd);
  from_a(ping);
  from_a(ping6);
  pump();
  ASSERT_EQ(b->tun.outbound.size(), 2u);
  EXPECT_EQ(b->tun.outbound[0], ping);  // padding trimmed by the IP length
  EXPECT_EQ(b->tun.outbound[1], ping6);
  const auto pong = test::ip_packet("198.18.2.7", "198.18.1.5", 56, 0xef);
  from_b(pong);
  pump();
  ASSERT_EQ(a->tun.outbound.size(), 1u);
  EXPECT_EQ(a->tun.outbound[0], pong);
  auto st = a->dev->peer(b->key.public_key());
  ASSERT_TRUE(st && st->has_session);
  EXPECT_GT(st->stats.rx_bytes, 0u);
  EXPECT_TRUE(st->stats.last_handshake.has_value());
  EXPECT_NE(std::find(a->lines.begin(), a->lines.end(), "peer office-b: tunnel up via 198.51.100.2:51820"),
            a->lines.end());
}

// A recorded initiation is refused after our key is changed and changed
// back (K -> K2 -> K, as two reloads do) or removed and restored (`wg set
// private-key /dev/null`, then the key again): the peer's replay history
// outlives the key, as the kernel's latest_timestamp does. Before, it was
// accepted once: answered, and the peer's endpoint moved to the attacker.
TEST_P(TwoOffices, RecordedInitiationIsRefusedAfterTheKeyChangesAndComesBack) {
  std::vector<test::Datagram> recorded;
  net.fault = [&](const test::Datagram& d) {
    if (!d.bytes.empty() && d.bytes[0] == 1) recorded.push_back(d);  // message type 1: initiation
    return std::vector<test::Datagram>{d};
  };
  b->dev->initiate(a->key.public_key());
  pump();
  net.fault = nullptr;
  ASSERT_EQ(recorded.size(), 1u);
  ASSERT_TRUE(a->dev->peer(b->key.public_key())->has_session);
  auto& attacker = net.socket(addr("198.51.100.66:6666"));
  const auto other_key = hs::PrivateKey::generate(rng);
  for (const char* change : {"K -> K2 -> K", "no key -> K"}) {
    SCOPED_TRACE(change);
    if (std::string(change) == "K -> K2 -> K") {
      a->dev->set_private_key(other_key);
    } else {
      a->dev->clear_private_key(rng);
    }
    a->dev->set_private_key(a->key);
    clock.advance(1s);  // past the flood limit: only the timestamp can refuse it
    const uint64_t refused = a->dev->drops(Drop::kHandshakeRefused);
    attacker.send(recorded[0].bytes, addr("203.0.113.1:51820"));
    pump();
    EXPECT_EQ(a->dev->drops(Drop::kHandshakeRefused), refused + 1);
    EXPECT_TRUE(attacker.inbox.empty()) << "a replayed initiation was answered";
    EXPECT_EQ(a->dev->peer(b->key.public_key())->endpoint, addr("198.51.100.2:51820"))
        << "the peer's endpoint moved to the attacker";
  }
}

// The kernel's own IPv6 on a fresh interface (a router solicitation from
// fe80:: to ff02::2, an MLD report to ff02::16) has no route through any
// peer; it is counted apart from real routing misses, as normal.
TEST_P(TwoOffices, HostsOwnIpv6LinkTrafficIsNotCountedAsNoRoute) {
  from_a(test::ip_packet("fe80::1", "ff02::2", 8, 0x01));
  from_a(test::ip_packet("fe80::1", "ff02::16", 8, 0x02));
  from_a(test::ip_packet("2001:db8:a::5", "ff05::1:3", 8, 0x03));
  from_a(test::ip_packet("2001:db8:a::5", "2001:db8:9::1", 8, 0x04));  // a real miss
  from_a(test::ip_packet("198.18.1.5", "198.18.9.1", 8, 0x05));        // a real miss
  pump();
  EXPECT_EQ(a->dev->drops(Drop::kTunIpv6Local), 3u);
  EXPECT_EQ(a->dev->drops(Drop::kTunNoRoute), 2u);
  EXPECT_EQ(to_string(Drop::kTunIpv6Local), "tun-ipv6-local");
}

TEST_P(TwoOffices, StartupHandshakeBringsTunnelUpBeforeTraffic) {
  a->dev->initiate_all();
  pump();
  EXPECT_TRUE(a->dev->peer(b->key.public_key())->has_session);
  EXPECT_TRUE(b->dev->peer(a->key.public_key())->has_session);  // confirmed by a's keepalive
  EXPECT_TRUE(b->tun.outbound.empty());                         // keepalives are not written
}

TEST_P(TwoOffices, PacketWithoutRouteIsDroppedAndCounted) {
  from_a(test::ip_packet("198.18.1.5", "198.18.99.1", 10, 1));
  from_a({0x00, 0x01, 0x02});
  pump();
  EXPECT_EQ(a->dev->drops(Drop::kTunNoRoute), 1u);
  EXPECT_EQ(a->dev->drops(Drop::kTunBadPacket), 1u);
  EXPECT_EQ(a->udp.sent, 0u);
  // At debug level the drop is named with its addresses.
  EXPECT_TRUE(std::ranges::any_of(a->lines, [](const std::string& l) {
    return l.find("dropped a packet from 198.18.1.5 to 198.18.99.1: no peer's allowed-ips holds 198.18.99.1") !=
           std::string::npos;
  })) << testing::PrintToString(a->lines);
}

// An invalid mac1 from a peer's endpoint names that peer, wherever the
// endpoint has moved (wg set, a reload, roaming) and not once the peer or
// its old endpoint is gone: the device's endpoint index follows every change.
TEST_P(TwoOffices, InvalidMac1FromAPeersEndpointNamesThePeerWhereverItMoved) {
  const auto x1 = addr("198.51.100.9:4000");
  const auto x2 = addr("198.51.100.10:4001");
  auto& s1 = net.socket(x1);
  auto& s2 = net.socket(x2);
  const auto named = [&] {
    return std::ranges::count_if(a->lines, [](const std::string& l) {
      return l.find("peer office-b (") != std::string::npos && l.find("invalid-mac1") != std::string::npos;
    });
  };
  // A well-formed initiation whose mac1 is not keyed by a's public key.
  std::vector<uint8_t> junk(hs::initiation::kSize, 0x5a);
  junk[0] = 1, junk[1] = junk[2] = junk[3] = 0;
  const auto probe = [&](test::FakeUdp& from) {
    advance(61s);  // past the line's once-a-minute limit
    from.send(junk, addr("203.0.113.1:51820"));
    pump();
  };
  a->dev->set_endpoint(b->key.public_key(), x1);  // as `wg set ... endpoint`
  probe(s1);
  EXPECT_EQ(named(), 1) << testing::PrintToString(a->lines);
  PeerSpec moved{b->key.public_key(), {}, x2, {prefix("198.18.2.0/24")}, 0s, "office-b"};
  a->dev->upsert_peer(moved);  // as a reload
  probe(s1);
  EXPECT_EQ(named(), 1) << "the old endpoint still names the peer";
  probe(s2);
  EXPECT_EQ(named(), 2);
  a->dev->remove_peer(b->key.public_key());
  probe(s2);
  EXPECT_EQ(named(), 2) << "a removed peer is still found by its endpoint";
  EXPECT_GE(a->dev->drops(Drop::kInvalidMac1), 4u);
}

// A send the kernel refuses is counted, and logged once with its errno and
// what it likely means; a different errno is news again.
TEST_P(TwoOffices, RefusedSendsAreCountedAndLoggedWithTheirCause) {
  a->udp.fail_errno = EPERM;
  a->dev->initiate_all();
  pump();
  advance(6s);  // a retransmission, refused too
  EXPECT_GE(a->dev->drops(Drop::kSendFailed), 2u);
  const auto count = [&](const char* text) {
    return std::ranges::count_if(a->lines, [&](const std::string& l) { return l.find(text) != std::string::npos; });
  };
  EXPECT_EQ(count("sendmsg to 198.51.100.2:51820: Operation not permitted; a local firewall rejects it (an nftables or "
                  "iptables output rule)"),
            1)
      << testing::PrintToString(a->lines);
  const auto st = a->dev->peer(b->key.public_key());
  EXPECT_EQ(st->send_errno, EPERM);
  EXPECT_EQ(st->send_error_at, clock.now().wall);
  EXPECT_GE(st->unanswered_initiations, 2);
  EXPECT_LT(*st->unanswered_since, clock.now().wall);
  a->udp.fail_errno = ENETUNREACH;
  advance(6s);
  EXPECT_EQ(count("sendmsg to 198.51.100.2:51820: Network is unreachable; this host has no route to it"), 1)
      << testing::PrintToString(a->lines);
  a->udp.fail_errno = 0;
  advance(6s);
  EXPECT_TRUE(a->dev->peer(b->key.public_key())->has_session);
  // Answered: nothing unanswered any more; data from b is the last receive.
  EXPECT_EQ(a->dev->peer(b->key.public_key())->unanswered_initiations, 0);
  from_b(test::ip_packet("198.18.2.7", "198.18.1.5", 20, 9));
  pump();
  EXPECT_EQ(a->dev->peer(b->key.public_key())->last_receive, clock.now().wall);
}

TEST_P(TwoOffices, InnerSourceOutsideSendersAllowedIpsIsDropped) {
  // a's host spoofs a source that b does not allow for a.
  from_a(test::ip_packet("198.18.77.1", "198.18.2.7", 20, 1));
  from_a(test::ip_packet("198.18.2.9", "198.18.2.7", 20, 2));  // b's own range, not a's
  pump();
  EXPECT_TRUE(b->tun.outbound.empty());
  EXPECT_EQ(b->dev->drops(Drop::kSourceNotAllowed), 2u);
  EXPECT_TRUE(std::ranges::any_of(b->lines, [](const std::string& l) {
    return l.find(
               "peer office-a: dropped a packet from 198.18.77.1 to 198.18.2.7, whose source is not in its "
               "allowed-ips") != std::string::npos;
  })) << testing::PrintToString(b->lines);
}

TEST_P(TwoOffices, LostInitiationIsRetransmittedAndQueuedPacketDelivered) {
  int dropped = 0;
  net.fault = [&](const test::Datagram& d) -> std::vector<test::Datagram> {
    if (d.bytes[0] == 1 && dropped++ == 0) return {};
    return {d};
  };
  from_a(test::ip_packet("198.18.1.5", "198.18.2.7", 20, 1));
  pump();
  EXPECT_TRUE(b->tun.outbound.empty());
  advance(hs::kRekeyTimeout + hs::kRekeyTimeoutJitterMax);
  EXPECT_EQ(b->tun.outbound.size(), 1u);
}

TEST_P(TwoOffices, DuplicatedDatagramsAreDeliveredOnce) {
  a->dev->initiate_all();
  pump();
  net.fault = [](const test::Datagram& d) { return std::vector<test::Datagram>{d, d}; };
  for (uint8_t i = 0; i < 5; ++i) from_a(test::ip_packet("198.18.1.5", "198.18.2.7", 20, i));
  pump();
  EXPECT_EQ(b->tun.outbound.size(), 5u);
  EXPECT_EQ(b->dev->drops(Drop::kReplay), 5u);
  // One debug line (rate-limited) names the peer and where it came from.
  EXPECT_EQ(std::ranges::count_if(b->lines,
                                  [](const std::string& l) {
                                    return l.find("peer office-a: dropped a packet from 203.0.113.1:51820: replay") !=
                                           std::string::npos;
                                  }),
            1)
      << testing::PrintToString(b->lines);
}

TEST_P(TwoOffices, ReorderedDatagramsAreAllDelivered) {
  a->dev->initiate_all();
  pump();
  net.reorder = true;
  for (uint8_t i = 0; i < 20; ++i) from_a(test::ip_packet("198.18.1.5", "198.18.2.7", 20, i));
  pump();
  ASSERT_EQ(b->tun.outbound.size(), 20u);
  EXPECT_EQ(b->tun.outbound.front().back(), 19);  // arrived last-first
}

TEST_P(TwoOffices, EndpointFollowsTheLatestAuthenticatedSource) {
  a->dev->initiate_all();
  pump();
  // a's NAT maps it to a new address: b must answer there.
  a->udp.rebind(addr("203.0.113.99:40000"));
  from_a(test::ip_packet("198.18.1.5", "198.18.2.7", 20, 1));
  pump();
  ASSERT_EQ(b->tun.outbound.size(), 1u);
  EXPECT_EQ(b->dev->peer(a->key.public_key())->endpoint->to_string(), "203.0.113.99:40000");
  from_b(test::ip_packet("198.18.2.7", "198.18.1.5", 20, 2));
  pump();
  EXPECT_EQ(a->tun.outbound.size(), 1u);
}

TEST_P(TwoOffices, ForgedDatagramsDoNotMoveTheEndpointOrBreakTheTunnel) {
  a->dev->initiate_all();
  pump();
  auto& attacker = net.socket(addr("198.51.100.66:666"));
  std::vector<uint8_t> junk(148, 0);
  junk[0] = 1;
  attacker.send(junk, addr("198.51.100.2:51820"));  // initiation with a bad mac1
  std::vector<uint8_t> data(64, 0);
  data[0] = 4;
  attacker.send(data, addr("198.51.100.2:51820"));  // transport to an unknown index
  attacker.send(Bytes(junk.data(), 7), addr("198.51.100.2:51820"));
  pump();
  EXPECT_EQ(b->dev->drops(Drop::kInvalidMac1), 1u);
  EXPECT_EQ(b->dev->drops(Drop::kUnknownIndex), 1u);
  EXPECT_EQ(b->dev->drops(Drop::kMalformed), 1u);
  EXPECT_EQ(b->dev->peer(a->key.public_key())->endpoint->to_string(), "203.0.113.1:51820");
  from_a(test::ip_packet("198.18.1.5", "198.18.2.7", 20, 1));
  pump();
  EXPECT_EQ(b->tun.outbound.size(), 1u);
}

TEST_P(TwoOffices, UnderLoadTheResponderAsksForACookieFirst) {
  b->dev->force_under_load(true);
  from_a(test::ip_packet("198.18.1.5", "198.18.2.7", 20, 1));
  pump();
  EXPECT_EQ(b->dev->drops(Drop::kCookieSent), 1u);
  EXPECT_TRUE(b->tun.outbound.empty());
  advance(hs::kRekeyTimeout + hs::kRekeyTimeoutJitterMax);  // the retransmission carries mac2
  EXPECT_EQ(b->tun.outbound.size(), 1u);
  EXPECT_EQ(b->dev->drops(Drop::kCookieSent), 1u);
}

TEST_P(TwoOffices, RekeysOnTheTimerUnderContinuousTrafficWithoutLoss) {
  build(Device::Settings{1420, 10s});
  size_t sent = 0;
  // Both sides send at once, so their first initiations cross; the jitter
  // on retransmissions separates them (10 ms steps: faster than the jitter).
  for (int i = 0; i < 450; ++i) {  // 45 s: four rekeys at 10 s
    from_a(test::ip_packet("198.18.1.5", "198.18.2.7", 100, static_cast<uint8_t>(i)));
    from_b(test::ip_packet("198.18.2.7", "198.18.1.5", 100, static_cast<uint8_t>(i)));
    ++sent;
    for (int step = 0; step < 10; ++step) advance(10ms);
  }
  EXPECT_EQ(b->tun.outbound.size(), sent);
  EXPECT_EQ(a->tun.outbound.size(), sent);
  EXPECT_EQ(a->dev->drops(Drop::kDecryptFailed) + b->dev->drops(Drop::kDecryptFailed), 0u);
  EXPECT_GE(a->dev->peer(b->key.public_key())->stats.tx_packets, sent + 4);  // + 4 initiations
}

// Memory is bounded whatever arrives: the index table never holds more than
// kMaxIndicesPerPeer per peer through a storm of initiations from both
// sides (crossing, lost, duplicated, retransmitted) and rekeys under traffic.
TEST_P(TwoOffices, IndexTableStaysWithinItsCapThroughHandshakeStorms) {
  build(Device::Settings{1420, 10s});
  test::SeededRng faults{5};
  net.fault = [&](const test::Datagram& d) {
    const uint32_t roll = faults.uniform(10);
    if (roll == 0) return std::vector<test::Datagram>{};      // lost
    if (roll == 1) return std::vector<test::Datagram>{d, d};  // duplicated
    return std::vector<test::Datagram>{d};
  };
  size_t peak = 0;
  for (int i = 0; i < 600; ++i) {
    if (i % 3 == 0) {
      a->dev->initiate(b->key.public_key());
      b->dev->initiate(a->key.public_key());
    }
    from_a(test::ip_packet("198.18.1.5", "198.18.2.7", 100, static_cast<uint8_t>(i)));
    from_b(test::ip_packet("198.18.2.7", "198.18.1.5", 100, static_cast<uint8_t>(i)));
    advance(100ms);
    for (Gateway* g : {a.get(), b.get()}) {
      peak = std::max(peak, g->dev->index_count());
      ASSERT_LE(g->dev->index_count(), Device::kMaxIndicesPerPeer) << "step " << i;
    }
  }
  EXPECT_GE(peak, 3u);  // the storm really did fill it: pending + current + previous
  EXPECT_TRUE(a->dev->peer(b->key.public_key())->has_session);
  // Removing the peer gives every index back.
  ASSERT_TRUE(a->dev->remove_peer(b->key.public_key()));
  EXPECT_EQ(a->dev->index_count(), 0u);
}

// Both gateways start at once, so their start-up initiations cross. Exactly
// one of the two handshakes may complete: with two, each side would receive
// on a session the other drops at the next rekey, and packets in flight at
// that rekey would be lost (found by the soak test). Two packets per step
// each way keep data in flight behind every initiation.
TEST_P(TwoOffices, CrossedStartupInitiationsLoseNothingAtLaterRekeys) {
  build(Device::Settings{1420, 10s});
  a->dev->initiate_all();
  b->dev->initiate_all();
  pump();
  size_t sent = 0;
  for (int i = 0; i < 400; ++i) {  // 40 s: three rekeys
    for (int k = 0; k < 2; ++k) {
      from_a(test::ip_packet("198.18.1.5", "198.18.2.7", 100, static_cast<uint8_t>(i)));
      from_b(test::ip_packet("198.18.2.7", "198.18.1.5", 100, static_cast<uint8_t>(i)));
      ++sent;
    }
    advance(100ms);
  }
  for (Gateway* g : {a.get(), b.get()}) {
    EXPECT_EQ(g->dev->drops(Drop::kUnknownIndex), 0u);
    EXPECT_EQ(g->dev->drops(Drop::kDecryptFailed), 0u);
    EXPECT_EQ(g->dev->drops(Drop::kReplay), 0u);
    EXPECT_EQ(g->dev->drops(Drop::kExpiredKeypair), 0u);
    EXPECT_EQ(g->tun.outbound.size(), sent);
  }
}

TEST_P(TwoOffices, RemovedPeerGetsNoTrafficAndReleasesItsIndices) {
  a->dev->initiate_all();
  pump();
  ASSERT_TRUE(a->dev->remove_peer(b->key.public_key()));
  from_a(test::ip_packet("198.18.1.5", "198.18.2.7", 20, 1));
  from_b(test::ip_packet("198.18.2.7", "198.18.1.5", 20, 1));
  pump();
  EXPECT_EQ(a->dev->drops(Drop::kTunNoRoute), 1u);
  EXPECT_EQ(a->dev->drops(Drop::kUnknownIndex), 1u);  // b's packet names a released index
  EXPECT_TRUE(a->tun.outbound.empty());
}

TEST_P(TwoOffices, UpdatingAPeerKeepsItsSession) {
  a->dev->initiate_all();
  pump();
  auto spec = PeerSpec{b->key.public_key(), {}, std::nullopt, {prefix("198.18.3.0/24")}, 0s, "b"};
  auto before = a->dev->peer(b->key.public_key())->stats.last_handshake;
  a->dev->upsert_peer(spec);  // new allowed-ips; the endpoint is kept
  from_a(test::ip_packet("198.18.1.5", "198.18.3.7", 20, 1));
  from_a(test::ip_packet("198.18.1.5", "198.18.2.7", 20, 1));
  pump();
  EXPECT_EQ(a->dev->drops(Drop::kTunNoRoute), 1u);
  EXPECT_EQ(a->dev->peer(b->key.public_key())->stats.last_handshake, before);
  EXPECT_EQ(a->dev->peer(b->key.public_key())->endpoint->to_string(), "198.51.100.2:51820");
}

using test::mss_of;
using test::tcp_syn;

TEST_P(TwoOffices, SynMssIsClampedToTheTunnelByDefault) {
  const auto syn = tcp_syn("198.18.1.5", "198.18.2.7", 1460);
  const auto syn6 = tcp_syn("2001:db8:a::5", "2001:db8:b::7", 1440);
  ASSERT_TRUE(test::tcp_checksum_ok(syn));
  ASSERT_TRUE(test::tcp_checksum_ok(syn6));
  from_a(syn);
  from_a(syn6);
  pump();
  ASSERT_EQ(b->tun.outbound.size(), 2u);
  EXPECT_EQ(mss_of(b->tun.outbound[0]), 1380);  // MTU 1420 - 40
  EXPECT_EQ(mss_of(b->tun.outbound[1]), 1360);  // MTU 1420 - 60
  EXPECT_TRUE(test::tcp_checksum_ok(b->tun.outbound[0]));
  EXPECT_TRUE(test::tcp_checksum_ok(b->tun.outbound[1]));
  EXPECT_EQ(a->dev->mss_clamped(), 2u);  // on the way in at A; nothing left for B
  EXPECT_EQ(b->dev->mss_clamped(), 0u);
  // The SYN-ACK back, and an MSS already small enough: untouched.
  const auto synack = tcp_syn("198.18.2.7", "198.18.1.5", 1460, true);
  const auto small = tcp_syn("198.18.2.7", "198.18.1.5", 1200, true);
  from_b(synack);
  from_b(small);
  pump();
  ASSERT_EQ(a->tun.outbound.size(), 2u);
  EXPECT_EQ(mss_of(a->tun.outbound[0]), 1380);
  EXPECT_TRUE(test::tcp_checksum_ok(a->tun.outbound[0]));
  EXPECT_EQ(a->tun.outbound[1], small);
  EXPECT_EQ(b->dev->mss_clamped(), 1u);
}

TEST_P(TwoOffices, SynMssIsClampedOnDeliveryToo) {
  // A does not clamp (mss-clamp: off); B clamps what it delivers.
  build(Device::Settings{1420, 120s, MssLimits{}}, Device::Settings{1420, 120s, MssLimits{1300, 1280}});
  const auto syn = tcp_syn("198.18.1.5", "198.18.2.7", 1460);
  from_a(syn);
  from_a(tcp_syn("2001:db8:a::5", "2001:db8:b::7", 1440));
  pump();
  ASSERT_EQ(b->tun.outbound.size(), 2u);
  EXPECT_EQ(mss_of(b->tun.outbound[0]), 1300);
  EXPECT_EQ(mss_of(b->tun.outbound[1]), 1280);
  EXPECT_TRUE(test::tcp_checksum_ok(b->tun.outbound[0]));
  EXPECT_TRUE(test::tcp_checksum_ok(b->tun.outbound[1]));
  EXPECT_EQ(a->dev->mss_clamped(), 0u);
  EXPECT_EQ(b->dev->mss_clamped(), 2u);
  // A's side is off: B's SYN-ACK reaches A's TUN as it was sent.
  const auto synack = tcp_syn("198.18.2.7", "198.18.1.5", 1460, true);
  b->dev->set_settings(Device::Settings{1420, 120s, MssLimits{}});  // as a reload to off does
  from_b(synack);
  pump();
  ASSERT_EQ(a->tun.outbound.size(), 1u);
  EXPECT_EQ(a->tun.outbound[0], synack);
}

TEST_P(TwoOffices, SynMssIsLeftAloneWhenOff) {
  build(Device::Settings{1420, 120s, MssLimits{}});
  const auto syn = tcp_syn("198.18.1.5", "198.18.2.7", 1460);
  from_a(syn);
  pump();
  ASSERT_EQ(b->tun.outbound.size(), 1u);
  EXPECT_EQ(b->tun.outbound[0], syn);
  EXPECT_EQ(a->dev->mss_clamped() + b->dev->mss_clamped(), 0u);
  // A reload back to a limit applies to the next SYN.
  a->dev->set_settings(Device::Settings{1420, 120s, MssLimits{1300, 1280}});
  from_a(syn);
  pump();
  ASSERT_EQ(b->tun.outbound.size(), 2u);
  EXPECT_EQ(mss_of(b->tun.outbound[1]), 1300);
  EXPECT_TRUE(test::tcp_checksum_ok(b->tun.outbound[1]));
}

INSTANTIATE_TEST_SUITE_P(Crypto, TwoOffices, ::testing::Values(kInline, kThreads),
                         [](const auto& info) { return std::string(info.param.name); });

// Bulk both ways (whole TUN batches, receive batches), a rekey in the
// middle, duplicated, corrupted and reordered datagrams: everything that
// crosses the wire and reaches the TUNs, and every drop counter, with the
// crypto run by the pool's threads equals what one thread produces.
struct Trace {
  std::vector<std::vector<uint8_t>> wire, tun_a, tun_b;
  std::vector<uint64_t> drops;
  uint64_t parallel_batches = 0;
};

Trace bulk_run(CryptoPool::Options crypto) {
  test::FakeNetwork net;
  test::FakeClock clock;
  test::SeededRng rng(21);
  const Device::Settings settings{1420, 10s};
  Gateway a(net, clock, rng, "203.0.113.1:51820", settings, crypto);
  Gateway b(net, clock, rng, "198.51.100.2:51820", settings, crypto);
  a.dev->upsert_peer(PeerSpec{b.key.public_key(), {}, addr("198.51.100.2:51820"), {prefix("198.18.2.0/24")}, 0s, "b"});
  b.dev->upsert_peer(PeerSpec{a.key.public_key(), {}, addr("203.0.113.1:51820"), {prefix("198.18.1.0/24")}, 0s, "a"});
  Trace t;
  size_t n = 0;
  net.reorder = true;
  net.fault = [&](const test::Datagram& d) {
    t.wire.push_back(d.bytes);
    ++n;
    if (n % 7 == 0) return std::vector<test::Datagram>{d, d};
    if (n % 11 == 0) {
      test::Datagram bad = d;
      bad.bytes.back() ^= 1;
      return std::vector<test::Datagram>{bad};
    }
    return std::vector<test::Datagram>{d};
  };
  for (int round = 0; round < 30; ++round) {
    for (int i = 0; i < 100; ++i) {
      a.tun.inbound.push_back(
          test::ip_packet("198.18.1.5", "198.18.2.7", static_cast<size_t>(i * 13 % 1300), static_cast<uint8_t>(i)));
      b.tun.inbound.push_back(
          test::ip_packet("198.18.2.7", "198.18.1.5", static_cast<size_t>(i * 7 % 900), static_cast<uint8_t>(round)));
    }
    for (int step = 0; step < 50; ++step) {
      net.flush();
      for (Gateway* g : {&a, &b}) {
        while (g->dev->handle_udp_readable() || g->dev->handle_tun_readable()) {
        }
      }
      clock.advance(10ms);
      a.dev->handle_timers();
      b.dev->handle_timers();
    }
  }
  t.tun_a = a.tun.outbound;
  t.tun_b = b.tun.outbound;
  for (size_t d = 0; d < static_cast<size_t>(Drop::kCount); ++d) {
    t.drops.push_back(a.dev->drops(static_cast<Drop>(d)));
    t.drops.push_back(b.dev->drops(static_cast<Drop>(d)));
  }
  t.parallel_batches = a.dev->parallel_batches() + b.dev->parallel_batches();
  return t;
}

TEST(ParallelCrypto, PoolThreadsChangeNoByteOnTheWireOrAtTheTun) {
  const Trace one = bulk_run(kInline.options);
  const Trace pooled = bulk_run({.threads = 3, .min_parallel = 2, .caller_shares = false});
  EXPECT_EQ(one.parallel_batches, 0u);
  EXPECT_GT(pooled.parallel_batches, 100u);
  ASSERT_GT(one.wire.size(), 6000u);
  EXPECT_GT(one.tun_b.size(), 2500u);  // most of 3,000 arrive; the corrupted ones do not
  EXPECT_GT(one.drops[2 * static_cast<size_t>(Drop::kDecryptFailed) + 1], 0u);
  EXPECT_GT(one.drops[2 * static_cast<size_t>(Drop::kReplay) + 1], 0u);
  EXPECT_EQ(one.wire.size(), pooled.wire.size());
  EXPECT_TRUE(one.wire == pooled.wire);
  EXPECT_TRUE(one.tun_a == pooled.tun_a);
  EXPECT_TRUE(one.tun_b == pooled.tun_b);
  EXPECT_EQ(one.drops, pooled.drops);
}

TEST(HubAndSpoke, HubRoutesToEachOfManySpokes) {
  test::FakeNetwork net;
  test::FakeClock clock;
  test::SeededRng rng(5);
  Gateway hub(net, clock, rng, "203.0.113.1:51820");
  std::vector<std::unique_ptr<Gateway>> spokes;
  constexpr int kSpokes = 50;
  for (int i = 0; i < kSpokes; ++i) {
    const std::string ep = "198.51.100." + std::to_string(i + 1) + ":51820";
    spokes.push_back(std::make_unique<Gateway>(net, clock, rng, ep.c_str()));
    const std::string lan = "198.18." + std::to_string(i) + ".0/24";
    hub.dev->upsert_peer(
        PeerSpec{spokes.back()->key.public_key(), {}, addr(ep.c_str()), {prefix(lan.c_str())}, 0s, ""});
    spokes.back()->dev->upsert_peer(
        PeerSpec{hub.key.public_key(), {}, addr("203.0.113.1:51820"), {prefix("198.18.0.0/15")}, 0s, "hub"});
  }
  for (int i = 0; i < kSpokes; ++i) {
    const std::string dst = "198.18." + std::to_string(i) + ".1";
    hub.tun.inbound.push_back(test::ip_packet("198.19.0.1", dst, 20, static_cast<uint8_t>(i)));
  }
  for (int round = 0; round < 20; ++round) {
    net.flush();
    while (hub.dev->handle_tun_readable() || hub.dev->handle_udp_readable()) {
    }
    for (auto& s : spokes) {
      while (s->dev->handle_udp_readable()) {
      }
    }
  }
  for (int i = 0; i < kSpokes; ++i) {
    ASSERT_EQ(spokes[static_cast<size_t>(i)]->tun.outbound.size(), 1u) << "spoke " << i;
    EXPECT_EQ(spokes[static_cast<size_t>(i)]->tun.outbound[0].back(), i);
  }
}

}  // namespace
}  // namespace sitelink::tunnel
