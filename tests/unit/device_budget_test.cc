// The device-wide handshake budget under load (tunnel/device.cc
// admit_handshake, tunnel/ratelimiter.h HandshakeBudget): once many sources,
// each holding a real cookie and each within its per-source rate, have spent
// the budget, further handshakes are dropped as over-budget, except from the
// address that is some configured peer's current endpoint. The budget
// refills with time.
//
// The flood is made of real initiations from a key the device does not know
// (the cheapest real load: each passes mac1, mac2, the per-source limit and
// the budget, costs the device its Curve25519 work, and then ends as
// unknown-peer without touching any peer's state), so drops(kUnknownPeer)
// counts exactly the flood messages the budget let through.
#include <gtest/gtest.h>

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "fakes/fake_clock.h"
#include "fakes/fake_network.h"
#include "fakes/fake_tun.h"
#include "handshake/cookie.h"
#include "handshake/noise.h"
#include "support/test_support.h"
#include "tunnel/device.h"

namespace sitelink::tunnel {
namespace {

using namespace std::chrono_literals;
namespace hs = handshake;

constexpr uint64_t kBurst = HandshakeBudget::kBurst;
constexpr uint64_t kPerSource = Ratelimiter::kPacketsBurstable - 1;  // stays within the per-source limit
// Enough sources for more messages than the burst (60 x 4 = 240 > 200).
constexpr size_t kFlooders = kBurst / kPerSource + 10;

SockAddr addr(const std::string& s) { return *SockAddr::parse(s); }

struct Node {
  Node(test::FakeNetwork& net, test::FakeClock& clock, test::SeededRng& rng, const std::string& address)
      : key(hs::PrivateKey::generate(rng)), udp(net.socket(addr(address))) {
    log.set_sink([](LogLevel, std::string_view) {});
    dev = std::make_unique<Device>(key, Device::Settings{}, clock, rng, tun, udp, log);
  }
  hs::PrivateKey key;
  test::FakeTun tun;
  test::FakeUdp& udp;
  Logger log;
  std::unique_ptr<Device> dev;
};

// One flooding address: a socket there and the cookie the device gave it.
struct Source {
  Source(test::FakeNetwork& net, const SockAddr& at, const hs::PublicKey& device_key)
      : udp(net.socket(at)), cookies(device_key) {}
  test::FakeUdp& udp;
  hs::CookieGenerator cookies;
};

class DeviceBudget : public ::testing::Test {
 protected:
  static constexpr const char* kDutAddress = "203.0.113.1:51820";
  static constexpr const char* kPeerEndpoint = "198.51.100.2:51820";

  void SetUp() override {
    dut = std::make_unique<Node>(net, clock, rng, kDutAddress);
    peer = std::make_unique<Node>(net, clock, rng, kPeerEndpoint);
    dut->dev->upsert_peer(PeerSpec{
        peer->key.public_key(), {}, addr(kPeerEndpoint), {*config::IpPrefix::parse("198.18.2.0/24")}, 0s, "office-b"});
    peer->dev->upsert_peer(PeerSpec{
        dut->key.public_key(), {}, addr(kDutAddress), {*config::IpPrefix::parse("198.18.1.0/24")}, 0s, "office-a"});
    dut->dev->force_under_load(true);
    stranger = std::make_unique<hs::Handshake>(stranger_identity, dut->key.public_key(), hs::PresharedKey{});
  }

  uint64_t drops(Drop d) const { return dut->dev->drops(d); }

  // Delivers what is in flight and lets both devices handle it, until quiet.
  void pump() {
    for (int round = 0; round < 100; ++round) {
      if (net.flush() == 0) return;
      for (Node* n : {dut.get(), peer.get()}) {
        while (n->dev->handle_udp_readable()) {
        }
      }
    }
    FAIL() << "network never settled";
  }

  // A fresh initiation from the unknown key, with mac1 and (when the source
  // holds a cookie) mac2, sent from `s` to the device.
  void send_initiation(Source& s) {
    std::array<uint8_t, hs::initiation::kSize> msg{};
    const Now now = clock.now();
    ASSERT_TRUE(stranger->create_initiation(msg, next_index++, now.wall, rng));
    s.cookies.add_macs(msg, now.mono);
    s.udp.send(msg, addr(kDutAddress));
  }

  // Makes `count` sources at distinct addresses, each of which really goes
  // through the cookie exchange: an initiation without mac2, the device's
  // cookie reply, CookieGenerator::consume_reply. Costs no budget.
  std::vector<std::unique_ptr<Source>> sources_with_cookies(size_t count) {
    std::vector<std::unique_ptr<Source>> out;
    const uint64_t cookies_before = drops(Drop::kCookieSent);
    for (size_t i = 0; i < count; ++i) {
      // 203.0.113.3-252, then 198.51.100.10-199 (the peer uses .2 and .200).
      EXPECT_LT(next_host, 440u);
      const std::string ip = next_host < 250 ? "203.0.113." + std::to_string(3 + next_host)
                                             : "198.51.100." + std::to_string(10 + next_host - 250);
      ++next_host;
      out.push_back(std::make_unique<Source>(net, addr(ip + ":40000"), dut->key.public_key()));
      send_initiation(*out.back());
    }
    pump();
    EXPECT_EQ(drops(Drop::kCookieSent) - cookies_before, count);
    for (auto& s : out) {
      EXPECT_EQ(s->udp.inbox.size(), 1u);
      if (s->udp.inbox.empty()) continue;
      std::vector<uint8_t> datagram = std::move(s->udp.inbox.front().bytes);
      s->udp.inbox.clear();
      auto reply = hs::classify(datagram);  // a view into `datagram`
      EXPECT_TRUE(reply && std::holds_alternative<hs::CookieReplyMsg>(*reply));
      if (!reply || !std::holds_alternative<hs::CookieReplyMsg>(*reply)) continue;
      EXPECT_TRUE(s->cookies.consume_reply(std::get<hs::CookieReplyMsg>(*reply), clock.now().mono));
      EXPECT_TRUE(s->cookies.has_fresh_cookie(clock.now().mono));
    }
    return out;
  }

  // Every source sends `each` initiations with mac2; the device takes them.
  void flood(std::vector<std::unique_ptr<Source>>& sources, uint64_t each) {
    for (auto& s : sources) {
      for (uint64_t k = 0; k < each; ++k) send_initiation(*s);
    }
    pump();
  }

  // The peer's first initiation is answered with a cookie, which it keeps;
  // the clock then moves to its retransmission (which will carry mac2) but
  // the retransmission is not sent yet.
  void peer_gets_cookie_and_waits_for_retry() {
    const uint64_t cookies_before = drops(Drop::kCookieSent);
    peer->dev->initiate(dut->key.public_key());
    pump();
    ASSERT_EQ(drops(Drop::kCookieSent), cookies_before + 1);
    ASSERT_FALSE(peer->dev->peer(dut->key.public_key())->has_session);
    const Instant retry = peer->dev->next_deadline();
    ASSERT_FALSE(retry.is_never());
    clock.advance(retry - clock.now().mono);
  }

  // Spends the whole budget at the current instant: kBurst messages pass
  // (and end as unknown-peer), the rest are over budget; nothing is
  // rate-limited per source.
  void spend_budget(std::vector<std::unique_ptr<Source>>& sources) {
    const uint64_t passed_before = drops(Drop::kUnknownPeer);
    const uint64_t over_before = drops(Drop::kOverBudget);
    flood(sources, kPerSource);
    const uint64_t sent = sources.size() * kPerSource;
    ASSERT_GT(sent, kBurst);
    EXPECT_EQ(drops(Drop::kRateLimited), 0u);
    EXPECT_EQ(drops(Drop::kUnknownPeer) - passed_before, kBurst);
    ASSERT_GT(drops(Drop::kOverBudget), over_before);
    EXPECT_EQ(drops(Drop::kOverBudget) - over_before, sent - kBurst);
  }

  // The peer's retransmission (with mac2) goes out at the current instant,
  // together with one initiation from `control`, an ordinary source.
  void peer_retries_beside(Source& control) {
    const size_t sent_before = peer->udp.sent;
    send_initiation(control);
    peer->dev->handle_timers();
    ASSERT_EQ(peer->udp.sent, sent_before + 1) << "the peer did not retransmit its initiation";
    pump();
  }

  // The scene of (a) and (b): the peer holds a cookie and is due to retry;
  // flooders spend the budget; then the peer retries beside a control
  // source. Returns the over-budget count before the retry.
  uint64_t peer_retries_with_budget_spent() {
    peer_gets_cookie_and_waits_for_retry();
    auto flooders = sources_with_cookies(kFlooders);
    auto control = sources_with_cookies(1);
    spend_budget(flooders);
    const uint64_t over = drops(Drop::kOverBudget);
    peer_retries_beside(*control[0]);
    return over;
  }

  bool peer_has_session() const { return peer->dev->peer(dut->key.public_key())->has_session; }
  bool dut_has_session() const { return dut->dev->peer(peer->key.public_key())->has_session; }
  std::string endpoint_at_dut() const { return dut->dev->peer(peer->key.public_key())->endpoint->to_string(); }

  test::FakeNetwork net;
  test::FakeClock clock;
  test::SeededRng rng{23};
  std::unique_ptr<Node> dut, peer;
  // The flood's sender: a key the device has no peer for.
  hs::LocalIdentity stranger_identity{hs::PrivateKey::generate(rng)};
  std::unique_ptr<hs::Handshake> stranger;
  uint32_t next_index = 1;
  size_t next_host = 0;
};

// (a) and the control beside it: while the budget is spent, the peer's
// retransmission from its configured endpoint completes the handshake; an
// ordinary source at the same instant is still dropped as over budget.
TEST_F(DeviceBudget, KnownEndpointCompletesAHandshakeWhileTheBudgetIsSpent) {
  const uint64_t over = peer_retries_with_budget_spent();
  EXPECT_EQ(drops(Drop::kOverBudget), over + 1) << "the control source must still be over budget";
  EXPECT_EQ(drops(Drop::kUnknownPeer), kBurst) << "nothing but the peer may have passed";
  EXPECT_TRUE(peer_has_session()) << "the peer's retransmission from its endpoint was not answered";
  EXPECT_TRUE(dut_has_session());
  EXPECT_EQ(endpoint_at_dut(), kPeerEndpoint);
  EXPECT_EQ(drops(Drop::kHandshakeRefused), 0u);
}

// (b): the same peer, with a valid cookie for the address it sends from, is
// over budget there because that address is not its configured endpoint.
// Once the budget has refilled, the same retransmission gets through from
// there (and the endpoint roams to it), so the drop was the budget's.
TEST_F(DeviceBudget, SamePeerFromAnotherAddressIsDroppedOverBudget) {
  const char* kElsewhere = "198.51.100.200:51820";
  peer->udp.rebind(addr(kElsewhere));
  const uint64_t over = peer_retries_with_budget_spent();
  EXPECT_EQ(drops(Drop::kOverBudget), over + 2) << "both the control and the peer away from its endpoint";
  EXPECT_FALSE(peer_has_session());
  EXPECT_FALSE(dut_has_session());
  EXPECT_EQ(endpoint_at_dut(), kPeerEndpoint);

  const Instant retry = peer->dev->next_deadline();
  ASSERT_FALSE(retry.is_never());
  clock.advance(retry - clock.now().mono);  // seconds: the budget is full again
  peer->dev->handle_timers();
  pump();
  EXPECT_EQ(drops(Drop::kOverBudget), over + 2);
  EXPECT_TRUE(peer_has_session());
  EXPECT_TRUE(dut_has_session());
  EXPECT_EQ(endpoint_at_dut(), kElsewhere);
}

// The per-source rate limiter's table, full of flooders that each hold a
// real cookie and send one initiation a second (within their rate), must
// not keep out a configured peer that is not yet in it: the table forgets
// its least recent source instead of refusing the new one (the kernel, and
// this device before, refused it, and the peer never got a session).
TEST_F(DeviceBudget, FullRateLimiterTableDoesNotLockOutAConfiguredPeer) {
  constexpr size_t kTable = 32;
  dut->dev->ratelimiter().set_capacity(kTable);
  auto flooders = sources_with_cookies(kTable);
  const uint64_t passed = drops(Drop::kUnknownPeer);
  flood(flooders, 1);
  ASSERT_EQ(drops(Drop::kUnknownPeer), passed + kTable);
  ASSERT_EQ(dut->dev->ratelimiter().size(), kTable) << "the flood must fill the table";
  peer->dev->initiate(dut->key.public_key());  // answered with a cookie
  pump();
  // The flood goes on, one initiation per flooder a second, until the
  // peer's retransmissions (now with mac2) complete the handshake.
  for (int second = 0; second < 30 && !peer_has_session(); ++second) {
    clock.advance(1s);
    flood(flooders, 1);
    ASSERT_EQ(dut->dev->ratelimiter().size(), kTable);
    peer->dev->handle_timers();
    dut->dev->handle_timers();
    pump();
  }
  EXPECT_TRUE(peer_has_session()) << "the configured peer was locked out by a full table";
  EXPECT_TRUE(dut_has_session());
  EXPECT_EQ(drops(Drop::kRateLimited), 0u);
  EXPECT_GT(dut->dev->ratelimiter().evictions(), 0u);
}

// The budget refills at kPerSecond: two messages' worth of time lets two
// through and drops the third; a second later the whole burst passes again,
// and no more.
TEST_F(DeviceBudget, RefillsWithTime) {
  auto flooders = sources_with_cookies(kFlooders);
  auto fresh = sources_with_cookies(3);
  spend_budget(flooders);
  const Duration per_message = Duration(1s) / HandshakeBudget::kPerSecond;
  clock.advance(2 * per_message);
  const uint64_t passed = drops(Drop::kUnknownPeer);
  const uint64_t over = drops(Drop::kOverBudget);
  flood(fresh, 1);
  EXPECT_EQ(drops(Drop::kUnknownPeer), passed + 2);
  EXPECT_EQ(drops(Drop::kOverBudget), over + 1);
  clock.advance(1s);  // the flooders' own per-source buckets are full again too
  spend_budget(flooders);
}

}  // namespace
}  // namespace sitelink::tunnel
