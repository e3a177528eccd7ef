// Two gateways over the in-memory network with a hand-held clock (issue
// 15): gateway B has two addresses; A lists both as B's endpoints. A line
// blackholed in the middle moves A to the other address and back when it
// returns, without losing packets at failback; replies leave from the
// address the peer chose (sticky source), and from the main one once that
// address is gone; a reload keeps the entry in use.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ranges>

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

// The outer network: IPv4 or IPv6 (the inner packets are IPv4 either way).
struct Underlay {
  const char* name;
  const char* a;    // A's main address
  const char* a2;   // A's second address (a second line of A's)
  const char* b1;   // B's main address, its first line
  const char* b2;   // B's second line
  const char* b3;   // where B roams to, in no entry
  const char* far;  // a third entry, for a changed list
};
void PrintTo(const Underlay& u, std::ostream* os) { *os << u.name; }
const Underlay kIpv4{"ipv4",
                     "203.0.113.1:51820",
                     "203.0.113.2:51820",
                     "198.51.100.2:51820",
                     "198.51.100.3:51820",
                     "198.51.100.4:40000",
                     "198.51.100.9:51820"};
const Underlay kIpv6{"ipv6",
                     "[2001:db8:a::1]:51820",
                     "[2001:db8:a::2]:51820",
                     "[2001:db8:b::2]:51820",
                     "[2001:db8:b::3]:51820",
                     "[2001:db8:b::4]:40000",
                     "[2001:db8:c::3]:51820"};

struct Gateway {
  Gateway(test::FakeNetwork& net, test::FakeClock& clock, test::SeededRng& rng, const SockAddr& address,
          Device::Settings settings)
      : key(hs::PrivateKey::generate(rng)), udp(net.socket(address)) {
    log.set_level(LogLevel::kDebug);
    log.set_sink([this, &clock](LogLevel level, std::string_view line) {
      lines.emplace_back(level, std::string(line));
      if (getenv("DUMP_LINES") != nullptr) {
        fprintf(stderr, "%.1f %s\n", std::chrono::duration<double>(clock.now().mono.since_boot).count(),
                std::string(line).c_str());
      }
    });
    dev = std::make_unique<Device>(key, settings, clock, rng, tun, udp, log);
    dev->audit().set_sink([this](const AuditEvent& e) {
      events.push_back(e);
      log.log(e.level, audit_line(e));
    });
  }
  size_t lines_with(std::string_view text, std::optional<LogLevel> level = std::nullopt) const {
    return static_cast<size_t>(std::ranges::count_if(lines, [&](const auto& l) {
      return l.second.find(text) != std::string::npos && (!level || l.first == *level);
    }));
  }
  hs::PrivateKey key;
  test::FakeTun tun;
  test::FakeUdp& udp;
  Logger log;
  std::vector<std::pair<LogLevel, std::string>> lines;
  std::vector<AuditEvent> events;
  std::unique_ptr<Device> dev;
};

bool is_data(const test::Datagram& d) { return !d.bytes.empty() && d.bytes[0] == 4 && d.bytes.size() > 32; }
bool is_initiation(const test::Datagram& d) { return !d.bytes.empty() && d.bytes[0] == 1; }

class DeviceFailover : public ::testing::TestWithParam<Underlay> {
 protected:
  const SockAddr kA = addr(GetParam().a);
  const SockAddr kA2 = addr(GetParam().a2);
  const SockAddr kB1 = addr(GetParam().b1);
  const SockAddr kB2 = addr(GetParam().b2);
  const SockAddr kB3 = addr(GetParam().b3);
  const SockAddr kFar = addr(GetParam().far);
  const std::string b1 = kB1.to_string();
  const std::string b2 = kB2.to_string();

  void SetUp() override {
    Device::Settings s;
    s.failover = {.failover_after = 3s, .probe_timeout = 1s, .failback_interval = 20s};
    a = std::make_unique<Gateway>(net, clock, rng, kA, s);
    b = std::make_unique<Gateway>(net, clock, rng, kB1, s);
    b->udp.add_address(kB2.ip());
    psk = hs::PresharedKey::generate(rng);
    a_spec = PeerSpec{b->key.public_key(),           psk, std::nullopt, {prefix("198.18.2.0/24")}, 0s, "office-b",
                      {{kB1, {}, b1}, {kB2, {}, b2}}};
    a->dev->upsert_peer(a_spec);
    b->dev->upsert_peer(PeerSpec{a->key.public_key(), psk, kA, {prefix("198.18.1.0/24")}, 0s, "office-a"});
    // Every datagram is recorded as sent; the blackhole drops what goes to
    // or comes from the dead address.
    net.fault = [this](const test::Datagram& d) {
      wire.push_back(d);
      if (dead && (d.to == *dead || d.from == *dead)) return std::vector<test::Datagram>{};
      return std::vector<test::Datagram>{d};
    };
  }
  void pump() { test::pump_until_settled(net, *a, *b); }
  // One tick: time moves, timers run, then a ping from A's side; B's host
  // answers every ping that arrives.
  void tick(Duration d = 100ms) {
    clock.advance(d);
    a->dev->handle_timers();
    b->dev->handle_timers();
    pump();
    a->tun.inbound.push_back(test::ip_packet("198.18.1.5", "198.18.2.7", 100, static_cast<uint8_t>(++pings)));
    pump();
    for (; answered < b->tun.outbound.size(); ++answered) {
      b->tun.inbound.push_back(test::ip_packet("198.18.2.7", "198.18.1.5", 100, b->tun.outbound[answered][27]));
    }
    pump();
  }
  // A sends for a minute, a packet every 100 ms; B's host never answers.
  void one_way_minute();
  PeerStatus a_status() { return *a->dev->peer(b->key.public_key()); }
  PeerStatus b_status() { return *b->dev->peer(a->key.public_key()); }
  // The last transport datagram carrying data that A sent.
  std::optional<test::Datagram> last_data_from_a() const {
    for (auto it = wire.rbegin(); it != wire.rend(); ++it) {
      if (it->from == kA && is_data(*it)) return *it;
    }
    return std::nullopt;
  }
  // Ticks until `done`, at most `limit` of fake time; returns the time taken.
  template <typename F>
  std::optional<Duration> tick_until(Duration limit, F done) {
    for (Duration t{0}; t <= limit; t += 100ms) {
      if (done()) return t;
      tick();
    }
    return std::nullopt;
  }

  test::FakeNetwork net;
  test::FakeClock clock;
  test::SeededRng rng{15};
  std::unique_ptr<Gateway> a, b;
  hs::PresharedKey psk;
  PeerSpec a_spec;
  std::vector<test::Datagram> wire;
  std::optional<SockAddr> dead;
  int pings = 0;
  size_t answered = 0;
};

TEST_P(DeviceFailover, StartsOnTheFirstEntry) {
  for (int i = 0; i < 20; ++i) tick();
  EXPECT_EQ(b->tun.outbound.size(), 20u);
  EXPECT_EQ(a->tun.outbound.size(), 20u);
  for (const auto& d : wire) {
    if (d.from == kA) {
      EXPECT_EQ(d.to, kB1);
    }
    if (d.to == kA) {
      EXPECT_EQ(d.from, kB1) << "B answers from the address A chose";
    }
  }
  const PeerStatus s = a_status();
  EXPECT_EQ(s.active_endpoint, 0u);
  ASSERT_EQ(s.endpoints.size(), 2u);
  EXPECT_EQ(s.endpoints[0].state, EndpointFailover::State::kAnswering);
  EXPECT_EQ(s.endpoints[1].state, EndpointFailover::State::kUntried);
  EXPECT_EQ(s.endpoint, kB1);
  EXPECT_TRUE(s.path_alive);
  EXPECT_EQ(s.endpoint_switches, 0u);
  EXPECT_EQ(b_status().source.ip, kB1.ip());
}

TEST_P(DeviceFailover, StartUpWithTheFirstEntryDeadComesUpOnTheSecond) {
  dead = kB1;
  a->dev->initiate_all();
  pump();
  const auto took = tick_until(5s, [&] { return a_status().has_session; });
  ASSERT_TRUE(took.has_value());
  EXPECT_LE(*took, 1s + 100ms);  // one probe_timeout
  const PeerStatus s = a_status();
  EXPECT_EQ(s.active_endpoint, 1u);
  EXPECT_EQ(s.endpoint, kB2);
  EXPECT_EQ(s.endpoints[0].state, EndpointFailover::State::kNotAnswering);
  EXPECT_EQ(s.endpoints[1].state, EndpointFailover::State::kAnswering);
  EXPECT_EQ(a->lines_with("not answering, trying " + b2), 1u);
  const size_t at_b = b->tun.outbound.size();
  for (int i = 0; i < 10; ++i) tick();
  EXPECT_EQ(b->tun.outbound.size(), at_b + 10);
  EXPECT_EQ(last_data_from_a()->to, kB2);
}

// FAILS (reported to the lead): "tunnel up via" names the endpoint the
// peer had before the answer, not the entry the session came up over. The
// session is established inside receive_response (on_peer_event,
// kSessionEstablished) before update_endpoint moves the endpoint to the
// address the response came from.
TEST_P(DeviceFailover, TunnelUpLineNamesTheEntryItCameUpOver) {
  dead = kB1;
  a->dev->initiate_all();
  pump();
  ASSERT_TRUE(tick_until(5s, [&] { return a_status().has_session; }).has_value());
  EXPECT_EQ(a->lines_with("peer office-b: tunnel up via " + b2), 1u);
  EXPECT_EQ(a->lines_with("peer office-b: tunnel up via " + b1), 0u);
}

TEST_P(DeviceFailover, BlackholedLineFailsOverAndFailsBackWithoutLoss) {
  // Past REKEY_TIMEOUT (and its jitter) since the start-up handshake, so
  // that the handshake failover asks for may go at once.
  for (int i = 0; i < 60; ++i) tick();
  ASSERT_EQ(b->tun.outbound.size(), 60u);

  // The line to B1 dies in the middle: nothing passes either way.
  dead = kB1;
  const size_t delivered_before = b->tun.outbound.size();
  const int pings_before = pings;
  const auto took = tick_until(10s, [&] { return b->tun.outbound.size() > delivered_before; });
  ASSERT_TRUE(took.has_value()) << "traffic never resumed";
  EXPECT_LE(*took, 3s + 1s + 500ms);
  EXPECT_GT(pings, pings_before);
  EXPECT_EQ(a->lines_with("not answering, trying"), 1u);
  EXPECT_EQ(a->lines_with("peer office-b: endpoint " + b1 + " not answering, trying " + b2, LogLevel::kWarn), 1u);
  PeerStatus s = a_status();
  EXPECT_EQ(s.active_endpoint, 1u);
  EXPECT_EQ(s.endpoint, kB2);
  EXPECT_EQ(s.endpoint_switches, 1u);
  EXPECT_EQ(s.endpoints[0].state, EndpointFailover::State::kNotAnswering);
  EXPECT_EQ(s.endpoints[1].state, EndpointFailover::State::kAnswering);
  const Instant switched = clock.now().mono;

  // On B2 from now on, every packet both ways.
  const size_t at_b = b->tun.outbound.size();
  const size_t at_a = a->tun.outbound.size();
  const int sent = pings;
  for (int i = 0; i < 30; ++i) tick();
  EXPECT_EQ(b->tun.outbound.size() - at_b, static_cast<size_t>(pings - sent));
  EXPECT_EQ(a->tun.outbound.size() - at_a, static_cast<size_t>(pings - sent));
  ASSERT_TRUE(last_data_from_a().has_value());
  EXPECT_EQ(last_data_from_a()->to, kB2);
  EXPECT_EQ(a->lines_with("not answering, trying"), 1u) << "one line per outage";
  EXPECT_TRUE(a_status().path_alive);

  // The line comes back: A returns to B1 within failback_interval, make
  // before break: no ping and no answer is lost on the way.
  dead.reset();
  const size_t b_mark = b->tun.outbound.size();
  const size_t a_mark = a->tun.outbound.size();
  const int p_mark = pings;
  const auto back = tick_until(30s, [&] { return a_status().active_endpoint == 0u; });
  ASSERT_TRUE(back.has_value()) << "never back on the preferred endpoint";
  EXPECT_LE(clock.now().mono - switched, 20s + 1s);
  EXPECT_EQ(a->lines_with("peer office-b: back on preferred endpoint " + b1), 1u);
  const auto moved = std::ranges::find_if(a->events | std::views::reverse,
                                          [](const AuditEvent& e) { return e.kind == AuditKind::kEndpointChanged; });
  ASSERT_NE(moved, (a->events | std::views::reverse).end());
  EXPECT_EQ(moved->reason, "failover");
  EXPECT_EQ(moved->previous, kB2);
  EXPECT_EQ(moved->endpoint, kB1);
  for (int i = 0; i < 30; ++i) tick();
  EXPECT_EQ(b->tun.outbound.size() - b_mark, static_cast<size_t>(pings - p_mark)) << "pings lost at failback";
  EXPECT_EQ(a->tun.outbound.size() - a_mark, static_cast<size_t>(pings - p_mark)) << "answers lost at failback";
  ASSERT_TRUE(last_data_from_a().has_value());
  EXPECT_EQ(last_data_from_a()->to, kB1);
  s = a_status();
  EXPECT_EQ(s.endpoint, kB1);
  EXPECT_EQ(s.endpoint_switches, 2u);
  EXPECT_EQ(b_status().source.ip, kB1.ip()) << "B answers from the line A came back on";
  EXPECT_EQ(a->dev->drops(Drop::kSendFailed), 0u);
  EXPECT_EQ(b->dev->drops(Drop::kSendFailed), 0u);
}

// A stock far end answers a handshake wherever its endpoint for us points
// when the answer leaves; the keepalive A sends on B2 right after its probe
// to B1 may get there first, and the answer then comes over B2 (CI saw
// wireguard-go do it on two probes in a row: the peer never failed back).
// Played here by rewriting the first probe answer's source to B2. A sends
// the probe again as soon as a handshake may go (REKEY_TIMEOUT after the
// last), not a failback_interval later, and fails back on that one.
TEST_P(DeviceFailover, ProbeAnsweredOverTheLineInUseIsSentAgain) {
  for (int i = 0; i < 60; ++i) tick();
  dead = kB1;
  ASSERT_TRUE(tick_until(10s, [&] { return a_status().active_endpoint == 1u; }).has_value());
  const Instant switched = clock.now().mono;
  for (int i = 0; i < 10; ++i) tick();
  bool rewritten = false;
  net.fault = [&](const test::Datagram& d) {
    wire.push_back(d);
    test::Datagram out = d;
    if (!rewritten && d.from == kB1 && d.bytes[0] == static_cast<uint8_t>(hs::MessageType::kResponse)) {
      rewritten = true;
      out.from = kB2;
    }
    return std::vector<test::Datagram>{out};
  };
  const size_t b_mark = b->tun.outbound.size();
  const int p_mark = pings;
  ASSERT_TRUE(tick_until(30s, [&] { return a_status().active_endpoint == 0u; }).has_value());
  EXPECT_TRUE(rewritten);
  EXPECT_LE(clock.now().mono - switched, 20s + hs::kRekeyTimeout + 1s) << "failback waited for a later probe";
  EXPECT_EQ(a->lines_with("peer office-b: back on preferred endpoint " + b1), 1u);
  EXPECT_EQ(a_status().endpoint_switches, 2u);
  EXPECT_EQ(b->tun.outbound.size() - b_mark, static_cast<size_t>(pings - p_mark)) << "pings lost";
}

// Both lines dead for ten minutes while the office keeps sending: WireGuard
// keeps initiating (data is waiting), each initiation to one entry in turn,
// a bounded number of log lines; then the second line returns alone and the
// tunnel comes back over it.
TEST_P(DeviceFailover, BothLinesDeadForTenMinutesStayBounded) {
  for (int i = 0; i < 60; ++i) tick();
  ASSERT_EQ(b->tun.outbound.size(), 60u);
  std::optional<SockAddr> alive;
  net.fault = [&](const test::Datagram& d) {
    wire.push_back(d);
    if (alive && (d.to == *alive || d.from == *alive)) return std::vector<test::Datagram>{d};
    return std::vector<test::Datagram>{};
  };
  const size_t lines_before = a->lines.size();
  wire.clear();
  for (int i = 0; i < 1200; ++i) tick(500ms);
  std::vector<SockAddr> targets;
  for (const auto& d : wire) {
    if (d.from == kA && is_initiation(d)) targets.push_back(d.to);
  }
  // WireGuard's pace, one per REKEY_TIMEOUT and its jitter (at most 120 in
  // 10 minutes), plus the one copy of the first round.
  EXPECT_LE(targets.size(), 121u);
  EXPECT_GE(targets.size(), 100u);
  // After the first round, each initiation to one entry, in turn.
  for (size_t i = 3; i < targets.size(); ++i) EXPECT_NE(targets[i], targets[i - 1]) << "initiation " << i;
  size_t warnings = 0;
  for (size_t i = lines_before; i < a->lines.size(); ++i) {
    if (a->lines[i].first <= LogLevel::kWarn) ++warnings;
  }
  EXPECT_LE(warnings, 5u) << "warnings are not bounded";
  EXPECT_EQ(a->lines_with("not answering, trying"), 1u);
  EXPECT_EQ(a->lines_with("none of its 2 endpoints answers"), 1u);

  // The second line comes back (the first stays dead): within two of
  // WireGuard's retries, the tunnel is up over it.
  alive = kB2;
  const size_t at_b = b->tun.outbound.size();
  const auto took = tick_until(15s, [&] { return b->tun.outbound.size() > at_b; });
  ASSERT_TRUE(took.has_value()) << "the tunnel never came back over the live line";
  EXPECT_LE(*took, 2 * (5s + 333ms) + 500ms);
  EXPECT_EQ(a_status().active_endpoint, 1u);
  EXPECT_EQ(a_status().endpoint, kB2);
}

// Entries with one address and two sources (our two lines to one far
// address): the second entry's packets leave from our second address, and
// the far end follows by roaming.
TEST_P(DeviceFailover, EntriesWithASourceSendFromItAndAreToldApartByIt) {
  const SockAddr a2 = kA2;
  const std::string from1 = b1 + " from " + kA.ip().to_string();
  const std::string from2 = b1 + " from " + kA2.ip().to_string();
  a->udp.add_address(a2.ip());
  a_spec.endpoints = {{kB1, LocalAddr{kA.ip(), 0}, from1}, {kB1, LocalAddr{a2.ip(), 0}, from2}};
  a->dev->upsert_peer(a_spec);
  for (int i = 0; i < 60; ++i) tick();
  ASSERT_EQ(b->tun.outbound.size(), 60u);
  for (const auto& d : wire) {
    if (d.to == kB1) {
      EXPECT_EQ(d.from, kA);
    }
  }
  // Our first line dies.
  dead = kA;
  const size_t delivered = b->tun.outbound.size();
  const auto took = tick_until(10s, [&] { return b->tun.outbound.size() > delivered; });
  ASSERT_TRUE(took.has_value());
  EXPECT_LE(*took, 3s + 1s + 500ms);
  PeerStatus s = a_status();
  EXPECT_EQ(s.active_endpoint, 1u);
  EXPECT_EQ(s.source.ip, a2.ip());
  EXPECT_EQ(b_status().endpoint, a2) << "B did not follow A to its second address";
  wire.clear();
  for (int i = 0; i < 10; ++i) tick();
  size_t data = 0;
  for (const auto& d : wire) {
    if (is_data(d) && d.to == kB1) {
      EXPECT_EQ(d.from, a2);
      ++data;
    }
  }
  EXPECT_EQ(data, 10u);
  EXPECT_EQ(a->lines_with("not answering, trying " + from2), 1u);
  // The first line returns: back on it.
  dead.reset();
  const size_t b_mark = b->tun.outbound.size();
  const int p_mark = pings;
  ASSERT_TRUE(tick_until(25s, [&] { return a_status().active_endpoint == 0u; }).has_value());
  for (int i = 0; i < 10; ++i) tick();
  EXPECT_EQ(b->tun.outbound.size() - b_mark, static_cast<size_t>(pings - p_mark));
  EXPECT_EQ(a_status().source.ip, kA.ip());
  EXPECT_EQ(b_status().endpoint, kA);
  EXPECT_EQ(a->lines_with("back on preferred endpoint " + from1), 1u);
}

// An entry's source that this host does not have (addresses come and go):
// its packets leave from the kernel's choice, nothing fails. FAILS
// (reported to the lead) on the last line: the answers arrive on our main
// address, EndpointFailover::match() refuses the entry because its source
// differs, and the peer counts as roamed (no entry in use, no failback)
// while it answers on the first entry's address.
TEST_P(DeviceFailover, SourceThatIsNotOursFallsBackToTheKernelsChoice) {
  a_spec.endpoints = {{kB1, LocalAddr{kA2.ip(), 0}, b1 + " from " + kA2.ip().to_string()}, {kB2, {}, b2}};
  a->dev->upsert_peer(a_spec);
  for (int i = 0; i < 20; ++i) tick();
  EXPECT_EQ(b->tun.outbound.size(), 20u);
  EXPECT_EQ(a->tun.outbound.size(), 20u);
  EXPECT_EQ(a->dev->drops(Drop::kSendFailed), 0u);
  for (const auto& d : wire) {
    if (d.to == kB1) {
      EXPECT_EQ(d.from, kA);
    }
  }
  EXPECT_EQ(a_status().active_endpoint, 0u) << "its answers come to our main address; the entry still matches";
}

// The far end moves to an address in no entry (its NAT rebinds): followed,
// as in WireGuard, with no entry in use.
TEST_P(DeviceFailover, PeerRoamingToAnUnlistedAddressIsFollowed) {
  for (int i = 0; i < 10; ++i) tick();
  const SockAddr b3 = kB3;
  b->udp.rebind(b3);
  b->tun.inbound.push_back(test::ip_packet("198.18.2.7", "198.18.1.5", 100, 0xee));
  pump();
  PeerStatus s = a_status();
  EXPECT_EQ(s.endpoint, b3);
  EXPECT_EQ(s.active_endpoint, std::nullopt);
  EXPECT_EQ(s.endpoint_switches, 0u);
  wire.clear();
  const size_t at_b = b->tun.outbound.size();
  for (int i = 0; i < 100; ++i) tick();  // 10 s: no failover, no probes
  EXPECT_EQ(b->tun.outbound.size(), at_b + 100);
  for (const auto& d : wire) {
    if (d.from == kA) {
      EXPECT_EQ(d.to, b3);
    }
  }
  EXPECT_EQ(a->lines_with("not answering"), 0u);
}

TEST_P(DeviceFailover, RepliesLeaveFromTheAddressThePeerChose) {
  // A plain peer (no list) pointed at each of B's addresses in turn.
  a_spec.endpoints.clear();
  a_spec.endpoint = kB1;
  a->dev->upsert_peer(a_spec);
  ASSERT_TRUE(a_status().endpoints.empty());
  for (const SockAddr& target : {kB2, kB1, kB2}) {
    SCOPED_TRACE(target.to_string());
    a->dev->set_endpoint(b->key.public_key(), target);
    wire.clear();
    for (int i = 0; i < 10; ++i) tick();
    size_t from_b = 0;
    for (const auto& d : wire) {
      if (d.from == kA) {
        EXPECT_EQ(d.to, target);
      }
      if (d.to == kA) {
        EXPECT_EQ(d.from, target) << "B answered from another address";
        ++from_b;
      }
    }
    EXPECT_GE(from_b, 10u);
    EXPECT_EQ(b_status().source.ip, target.ip());
    EXPECT_EQ(a_status().endpoint, target) << "A's endpoint flipped";
  }
  // B2, in use, is removed from B: B's next sends leave from its main
  // address, nothing counts as a failed send, and A follows by roaming.
  b->udp.remove_address(kB2.ip());
  wire.clear();
  const size_t at_a = a->tun.outbound.size();
  b->tun.inbound.push_back(test::ip_packet("198.18.2.7", "198.18.1.5", 100, 0xee));
  pump();
  ASSERT_EQ(a->tun.outbound.size(), at_a + 1) << "B's packet did not arrive";
  ASSERT_FALSE(wire.empty());
  EXPECT_EQ(wire.front().from, kB1);
  EXPECT_EQ(b->dev->drops(Drop::kSendFailed), 0u);
  EXPECT_FALSE(b_status().source.valid());
  EXPECT_EQ(b->lines_with("local address " + kB2.ip().to_string() + " is gone"), 1u);
  EXPECT_EQ(a_status().endpoint, kB1) << "A did not roam to B's main address";
  const size_t at_b = b->tun.outbound.size();
  for (int i = 0; i < 10; ++i) tick();
  EXPECT_EQ(b->tun.outbound.size(), at_b + 10);
  EXPECT_EQ(b_status().source.ip, kB1.ip());
  for (const auto& d : wire) {
    if (d.to == kA) {
      EXPECT_EQ(d.from, kB1);
    }
  }
  EXPECT_EQ(b->dev->drops(Drop::kSendFailed), 0u);
  EXPECT_EQ(a->dev->drops(Drop::kSendFailed), 0u);
}

// A handshake message that arrives on B2 is answered from B2, whatever B's
// sticky source for that peer was.
TEST_P(DeviceFailover, HandshakeResponseLeavesFromTheAddressTheInitiationCameTo) {
  for (int i = 0; i < 5; ++i) tick();
  ASSERT_EQ(b_status().source.ip, kB1.ip());
  wire.clear();
  a_spec.endpoints.clear();
  a_spec.endpoint = kB1;
  a->dev->upsert_peer(a_spec);
  a->dev->set_endpoint(b->key.public_key(), kB2);
  clock.advance(6s);  // past REKEY_TIMEOUT
  a->dev->initiate(b->key.public_key());
  pump();
  size_t responses = 0;
  for (const auto& d : wire) {
    if (d.to == kA && !d.bytes.empty() && d.bytes[0] == 2) {
      EXPECT_EQ(d.from, kB2);
      ++responses;
    }
  }
  EXPECT_EQ(responses, 1u);
}

// Under load, B answers an initiation with a cookie reply, from the
// address the initiation came to.
TEST_P(DeviceFailover, CookieReplyLeavesFromTheAddressTheInitiationCameTo) {
  for (int i = 0; i < 5; ++i) tick();
  a_spec.endpoints.clear();
  a_spec.endpoint = kB1;
  a->dev->upsert_peer(a_spec);
  a->dev->set_endpoint(b->key.public_key(), kB2);
  b->dev->force_under_load(true);
  wire.clear();
  clock.advance(6s);
  a->dev->initiate(b->key.public_key());
  pump();
  size_t cookies = 0;
  for (const auto& d : wire) {
    if (d.to == kA && !d.bytes.empty() && d.bytes[0] == 3) {
      EXPECT_EQ(d.from, kB2);
      ++cookies;
    }
  }
  EXPECT_EQ(cookies, 1u);
  EXPECT_EQ(b->dev->drops(Drop::kCookieSent), 1u);
}

// The first line goes down and up every 7 s for five minutes: every switch
// is logged once and counted, the warnings stay bounded, and most pings
// get through.
TEST_P(DeviceFailover, FlappingLineLogsAndCountsEachSwitchOnce) {
  for (int i = 0; i < 60; ++i) tick();
  const size_t lines_before = a->lines.size();
  const int p_mark = pings;
  const size_t b_mark = b->tun.outbound.size();
  for (int period = 0; period < 43; ++period) {
    if (period % 2 == 0) {
      dead = kB1;
    } else {
      dead.reset();
    }
    for (int i = 0; i < 70; ++i) tick();
  }
  dead.reset();
  for (int i = 0; i < 300; ++i) tick();  // settles back on the first line
  const PeerStatus s = a_status();
  EXPECT_EQ(s.active_endpoint, 0u);
  size_t switch_lines = 0;
  size_t warnings = 0;
  for (size_t i = lines_before; i < a->lines.size(); ++i) {
    const std::string& l = a->lines[i].second;
    if (l.find("answers; using it") != std::string::npos || l.find("back on preferred") != std::string::npos) {
      ++switch_lines;
    }
    if (a->lines[i].first <= LogLevel::kWarn) ++warnings;
  }
  EXPECT_EQ(switch_lines, s.endpoint_switches) << "a switch not logged, or logged twice";
  EXPECT_GE(s.endpoint_switches, 2u);
  // One warning per outage at most (22 outages).
  EXPECT_LE(warnings, 22u);
  const size_t delivered = b->tun.outbound.size() - b_mark;
  EXPECT_GE(delivered * 10, static_cast<size_t>(pings - p_mark) * 6) << "fewer than 60% of pings arrived";
}

// A sends for a minute; B's host never answers.
void DeviceFailover::one_way_minute() {
  for (int i = 0; i < 60; ++i) tick();
  wire.clear();
  const size_t at_b = b->tun.outbound.size();
  for (int i = 0; i < 600; ++i) {  // one minute, a packet every 100 ms, no answers
    clock.advance(100ms);
    a->dev->handle_timers();
    b->dev->handle_timers();
    pump();
    a->tun.inbound.push_back(test::ip_packet("198.18.1.5", "198.18.2.7", 100, 1));
    pump();
  }
  EXPECT_EQ(b->tun.outbound.size() - at_b, 600u);
  EXPECT_EQ(a_status().endpoint_switches, 0u);
}

// FAILS (reported to the lead as a design finding): a healthy line with
// one-way traffic (A sends, B's host never answers: a UDP stream, syslog)
// makes a new handshake every ~6 s for as long as it flows. B answers data
// only with a passive keepalive after KEEPALIVE_TIMEOUT (10 s), later than
// failover-after (3 s), so A suspects the path again and again; each
// handshake answered by the entry in use proves the path, yet the next
// suspicion comes failover-after later. WireGuard's own rule (a new
// handshake when nothing came back for KEEPALIVE_TIMEOUT + REKEY_TIMEOUT)
// makes none here; this test allows one per 15 s.
TEST_P(DeviceFailover, OneWayTrafficOnAHealthyLineDoesNotHandshakeEveryFewSeconds) {
  one_way_minute();
  const auto initiations = std::ranges::count_if(wire, is_initiation);
  EXPECT_LE(initiations, 4) << "one-way traffic on a healthy line made " << initiations << " handshakes in a minute";
}

// The same without a list (plain WireGuard behaviour): no handshake.
TEST_P(DeviceFailover, OneWayTrafficWithoutAListMakesNoHandshake) {
  a->dev->set_endpoint(b->key.public_key(), kB1);
  one_way_minute();
  EXPECT_EQ(std::ranges::count_if(wire, is_initiation), 0);
}

// FAILS (reported to the lead): the first line comes back one way only
// (A to B1 passes, B1 to A does not: a broken return route). Each failback
// probe reaches B on B1, and B moves its sticky source for A to B1 (as an
// authenticated initiation does), so what B's office sends leaves by the
// dead B1 until A's probe retry reaches B over B2 about 5 s later: ~19% of
// B's packets are lost, every failback interval. Traffic B's office sends
// must keep going over B2, where A is.
TEST_P(DeviceFailover, HalfReturnedLineLosesNothingOnTheLineInUse) {
  for (int i = 0; i < 60; ++i) tick();
  dead = kB1;
  ASSERT_TRUE(tick_until(10s, [&] { return a_status().active_endpoint == 1u; }).has_value());
  for (int i = 0; i < 10; ++i) tick();
  // Only B1's outbound stays dead.
  net.fault = [this](const test::Datagram& d) {
    wire.push_back(d);
    if (d.from == kB1) return std::vector<test::Datagram>{};
    return std::vector<test::Datagram>{d};
  };
  // Now B's office sends (a ping every 100 ms) and A's answers.
  size_t sent = 0;
  const size_t a_mark = a->tun.outbound.size();
  size_t answered_at_a = a->tun.outbound.size();
  for (int i = 0; i < 600; ++i) {
    clock.advance(100ms);
    a->dev->handle_timers();
    b->dev->handle_timers();
    pump();
    b->tun.inbound.push_back(test::ip_packet("198.18.2.7", "198.18.1.5", 100, static_cast<uint8_t>(i)));
    ++sent;
    pump();
    for (; answered_at_a < a->tun.outbound.size(); ++answered_at_a) {
      a->tun.inbound.push_back(test::ip_packet("198.18.1.5", "198.18.2.7", 100, a->tun.outbound[answered_at_a][27]));
    }
    pump();
  }
  EXPECT_EQ(a_status().active_endpoint, 1u);
  EXPECT_EQ(a->tun.outbound.size() - a_mark, sent) << "B's packets lost while A probed the half-returned line";
}

TEST_P(DeviceFailover, ReloadWithTheSameListKeepsTheEntryAndTheSession) {
  for (int i = 0; i < 10; ++i) tick();
  dead = kB1;
  ASSERT_TRUE(tick_until(10s, [&] { return a_status().active_endpoint == 1u; }).has_value());
  dead.reset();
  for (int i = 0; i < 5; ++i) tick();
  const PeerStatus before = a_status();
  ASSERT_TRUE(before.has_session);
  ASSERT_EQ(before.active_endpoint, 1u);
  wire.clear();
  a->dev->upsert_peer(a_spec);  // SIGHUP, list unchanged
  PeerStatus s = a_status();
  EXPECT_EQ(s.active_endpoint, 1u);
  EXPECT_EQ(s.endpoint, kB2);
  EXPECT_TRUE(s.has_session);
  EXPECT_EQ(s.stats.last_handshake, before.stats.last_handshake);
  EXPECT_EQ(s.endpoint_switches, before.endpoint_switches);
  ASSERT_EQ(s.endpoints.size(), 2u);
  EXPECT_EQ(s.endpoints[0].state, before.endpoints[0].state);
  const size_t at_b = b->tun.outbound.size();
  for (int i = 0; i < 5; ++i) tick();
  EXPECT_EQ(b->tun.outbound.size(), at_b + 5);
  EXPECT_EQ(std::ranges::count_if(wire, is_initiation), 0) << "a reload with the same list made a new handshake";
  EXPECT_EQ(last_data_from_a()->to, kB2);

  // A different list starts again at its first entry; the session stays.
  a_spec.endpoints.push_back({kFar, {}, kFar.to_string()});
  a->dev->upsert_peer(a_spec);
  s = a_status();
  EXPECT_EQ(s.active_endpoint, 0u);
  EXPECT_EQ(s.endpoint, kB1);
  ASSERT_EQ(s.endpoints.size(), 3u);
  for (const auto& e : s.endpoints) EXPECT_EQ(e.state, EndpointFailover::State::kUntried);
  EXPECT_EQ(s.endpoint_switches, 0u);
  EXPECT_TRUE(s.has_session);
  for (int i = 0; i < 5; ++i) tick();
  EXPECT_EQ(b->tun.outbound.size(), at_b + 10);
  EXPECT_EQ(last_data_from_a()->to, kB1);
}

TEST_P(DeviceFailover, UapiEndpointReplacesTheList) {
  for (int i = 0; i < 5; ++i) tick();
  a->dev->set_endpoint(b->key.public_key(), kB2);
  PeerStatus s = a_status();
  EXPECT_TRUE(s.endpoints.empty());
  EXPECT_EQ(s.active_endpoint, std::nullopt);
  EXPECT_EQ(s.endpoint, kB2);
  for (int i = 0; i < 5; ++i) tick();
  EXPECT_EQ(last_data_from_a()->to, kB2);
  // Failover no longer applies: a dead B2 is not left for B1.
  dead = kB2;
  for (int i = 0; i < 100; ++i) tick();
  EXPECT_EQ(a_status().endpoint, kB2);
  EXPECT_EQ(a->lines_with("not answering, trying"), 0u);
  // The next reload gives the list back, from its first entry.
  dead.reset();
  a->dev->upsert_peer(a_spec);
  s = a_status();
  EXPECT_EQ(s.endpoints.size(), 2u);
  EXPECT_EQ(s.active_endpoint, 0u);
  EXPECT_EQ(s.endpoint, kB1);
}

INSTANTIATE_TEST_SUITE_P(Underlays, DeviceFailover, ::testing::Values(kIpv4, kIpv6),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace sitelink::tunnel
