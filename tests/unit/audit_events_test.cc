// Audit events (issue 18): two gateways over the in-memory network with a
// hand-held clock. Each transition fires its event exactly once, with the
// right fields (peer key and name, endpoint, role, reason); the limit per
// peer and kind holds and reports what it suppressed; and the daemon's
// journal entry carries the documented fields.
#include "tunnel/audit_events.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>

#include "daemon/journal_events.h"
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
    log.set_level(LogLevel::kDebug);
    log.set_sink([this](LogLevel, std::string_view line) { lines.emplace_back(line); });
    dev = std::make_unique<Device>(key, Device::Settings{}, clock, rng, tun, udp, log);
    dev->audit().set_sink([this](const AuditEvent& e) {
      events.push_back(e);
      lines.push_back(audit_line(e));
    });
  }
  std::vector<AuditEvent> of(AuditKind k) const {
    std::vector<AuditEvent> out;
    for (const auto& e : events) {
      if (e.kind == k) out.push_back(e);
    }
    return out;
  }
  hs::PrivateKey key;
  test::FakeTun tun;
  test::FakeUdp& udp;
  Logger log;
  std::vector<std::string> lines;
  std::vector<AuditEvent> events;
  std::unique_ptr<Device> dev;
};

class AuditEvents : public ::testing::Test {
 protected:
  void SetUp() override {
    a = std::make_unique<Gateway>(net, clock, rng, "203.0.113.1:51820");
    b = std::make_unique<Gateway>(net, clock, rng, "198.51.100.2:51820");
    a->dev->upsert_peer(
        PeerSpec{b->key.public_key(), {}, addr("198.51.100.2:51820"), {prefix("198.18.2.0/24")}, 0s, "office-b"});
    b->dev->upsert_peer(
        PeerSpec{a->key.public_key(), {}, addr("203.0.113.1:51820"), {prefix("198.18.1.0/24")}, 0s, "office-a"});
  }
  void pump() { test::pump_until_settled(net, *a, *b); }
  // Time passes a second at a time, every timer run as it falls due.
  void advance(Duration d) {
    for (Duration done{0}; done < d; done += 1s) {
      clock.advance(1s);
      a->dev->handle_timers();
      b->dev->handle_timers();
      pump();
    }
  }
  void up() {
    a->dev->initiate_all();
    pump();
    ASSERT_TRUE(a->dev->peer(b->key.public_key())->has_session);
    ASSERT_TRUE(b->dev->peer(a->key.public_key())->has_session);
  }
  void blackhole() {
    net.fault = [](const test::Datagram&) { return std::vector<test::Datagram>{}; };
  }

  test::FakeNetwork net;
  test::FakeClock clock;
  test::SeededRng rng{18};
  std::unique_ptr<Gateway> a, b;
};

TEST_F(AuditEvents, HandshakeAndPeerUpFireOnceOnEachSideWithTheirRoles) {
  up();
  ASSERT_EQ(a->of(AuditKind::kHandshake).size(), 1u);
  ASSERT_EQ(a->of(AuditKind::kPeerUp).size(), 1u);
  ASSERT_EQ(b->of(AuditKind::kHandshake).size(), 1u);
  ASSERT_EQ(b->of(AuditKind::kPeerUp).size(), 1u);
  EXPECT_EQ(a->events.size(), 2u);
  EXPECT_EQ(b->events.size(), 2u);
  const AuditEvent ha = a->of(AuditKind::kHandshake)[0];
  EXPECT_EQ(ha.peer, b->key.public_key());
  EXPECT_EQ(ha.peer_name, "office-b");
  EXPECT_EQ(ha.endpoint, addr("198.51.100.2:51820"));
  EXPECT_EQ(ha.role, HandshakeRole::kInitiator);
  EXPECT_EQ(ha.suppressed, 0u);
  EXPECT_EQ(ha.message, "peer office-b: handshake completed as initiator via 198.51.100.2:51820");
  const AuditEvent hb = b->of(AuditKind::kHandshake)[0];
  EXPECT_EQ(hb.peer, a->key.public_key());
  EXPECT_EQ(hb.peer_name, "office-a");
  EXPECT_EQ(hb.endpoint, addr("203.0.113.1:51820"));
  EXPECT_EQ(hb.role, HandshakeRole::kResponder);
  EXPECT_EQ(a->of(AuditKind::kPeerUp)[0].message, "peer office-b: tunnel up via 198.51.100.2:51820");
  EXPECT_EQ(b->of(AuditKind::kPeerUp)[0].role, HandshakeRole::kResponder);
}

TEST_F(AuditEvents, ARekeyIsAHandshakeButNotAPeerUp) {
  up();
  for (int i = 0; i < 30; ++i) {  // traffic across REKEY_AFTER_TIME
    a->tun.inbound.push_back(test::ip_packet("198.18.1.5", "198.18.2.7", 20, static_cast<uint8_t>(i)));
    pump();
    advance(5s);
  }
  // The start-up handshake, then one rekey: each recorded by both sides,
  // in its role (a initiates both: its sessions are older).
  const auto ha = a->of(AuditKind::kHandshake);
  const auto hb = b->of(AuditKind::kHandshake);
  ASSERT_EQ(ha.size(), 2u);
  ASSERT_EQ(hb.size(), 2u);
  EXPECT_EQ(ha[1].role, HandshakeRole::kInitiator);
  EXPECT_EQ(hb[1].role, HandshakeRole::kResponder);
  EXPECT_EQ(a->of(AuditKind::kPeerUp).size(), 1u);
  EXPECT_EQ(b->of(AuditKind::kPeerUp).size(), 1u);
  EXPECT_TRUE(a->of(AuditKind::kPeerDown).empty());
}

TEST_F(AuditEvents, RoamingIsOneEndpointChangeWithBothAddresses) {
  up();
  a->udp.rebind(addr("203.0.113.99:40000"));
  for (uint8_t i = 0; i < 3; ++i) a->tun.inbound.push_back(test::ip_packet("198.18.1.5", "198.18.2.7", 20, i));
  pump();
  const auto moved = b->of(AuditKind::kEndpointChanged);
  ASSERT_EQ(moved.size(), 1u);
  EXPECT_EQ(moved[0].peer, a->key.public_key());
  EXPECT_EQ(moved[0].previous, addr("203.0.113.1:51820"));
  EXPECT_EQ(moved[0].endpoint, addr("203.0.113.99:40000"));
  EXPECT_EQ(moved[0].message, "peer office-a: endpoint changed from 203.0.113.1:51820 to 203.0.113.99:40000");
  EXPECT_EQ(moved[0].reason, "roamed");
  EXPECT_TRUE(a->of(AuditKind::kEndpointChanged).empty());
}

// An admin's move of the endpoint (a reload or `wg set`, through
// upsert_peer) is an endpoint change too, marked "configured"; setting the
// address it already has, or leaving it out, is none.
TEST_F(AuditEvents, AConfiguredEndpointChangeIsAnEventButTheSameAddressIsNot) {
  up();
  PeerSpec spec{b->key.public_key(), {}, addr("198.51.100.2:51820"), {prefix("198.18.2.0/24")}, 0s, "office-b"};
  a->dev->upsert_peer(spec);
  spec.endpoint.reset();
  a->dev->upsert_peer(spec);
  EXPECT_TRUE(a->of(AuditKind::kEndpointChanged).empty());
  spec.endpoint = addr("198.51.100.77:51820");
  a->dev->upsert_peer(spec);
  const auto moved = a->of(AuditKind::kEndpointChanged);
  ASSERT_EQ(moved.size(), 1u);
  EXPECT_EQ(moved[0].peer, b->key.public_key());
  EXPECT_EQ(moved[0].previous, addr("198.51.100.2:51820"));
  EXPECT_EQ(moved[0].endpoint, addr("198.51.100.77:51820"));
  EXPECT_EQ(moved[0].reason, "configured");
  EXPECT_EQ(moved[0].message,
            "peer office-b: endpoint changed from 198.51.100.2:51820 to 198.51.100.77:51820 (configured)");
}

// A DNS name answering anew moves the peer: "resolved", with the name in
// its line; the same answer again is no event, nor is a peer's first
// endpoint (it was nowhere before).
TEST_F(AuditEvents, AnEndpointNameResolvingAnewIsAnEventMarkedResolved) {
  const hs::PublicKey c = hs::PrivateKey::generate(rng).public_key();
  a->dev->upsert_peer(PeerSpec{c, {}, std::nullopt, {}, 0s, "office-c"});
  a->dev->set_endpoint(c, addr("198.51.100.3:51820"), "(c.example.net now resolves to it)");
  a->dev->set_endpoint(b->key.public_key(), addr("198.51.100.2:51820"), "(b.example.net now resolves to it)");
  EXPECT_TRUE(a->of(AuditKind::kEndpointChanged).empty());
  a->dev->set_endpoint(b->key.public_key(), addr("198.51.100.20:51820"), "(b.example.net now resolves to it)");
  const auto moved = a->of(AuditKind::kEndpointChanged);
  ASSERT_EQ(moved.size(), 1u);
  EXPECT_EQ(moved[0].reason, "resolved");
  EXPECT_EQ(moved[0].previous, addr("198.51.100.2:51820"));
  EXPECT_EQ(moved[0].message,
            "peer office-b: endpoint changed from 198.51.100.2:51820 to 198.51.100.20:51820 (b.example.net now "
            "resolves to it)");
}

TEST_F(AuditEvents, HandshakesGivenUpForAPeerNeverUpIsNoPeerDown) {
  blackhole();
  a->tun.inbound.push_back(test::ip_packet("198.18.1.5", "198.18.2.7", 20, 1));
  pump();
  advance(hs::kRekeyAttemptTime + 30s);  // 18 retransmissions, each after 5 s and up to 1/3 s of jitter
  const auto failed = a->of(AuditKind::kHandshakeFailed);
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].endpoint, addr("198.51.100.2:51820"));
  EXPECT_EQ(failed[0].level, LogLevel::kWarn);
  EXPECT_TRUE(a->of(AuditKind::kPeerDown).empty());
  EXPECT_TRUE(a->of(AuditKind::kHandshake).empty());
}

TEST_F(AuditEvents, APeerUpGoesDownOnceWhenItsHandshakesAreGivenUp) {
  up();
  blackhole();
  advance(hs::kRekeyAfterTime + 1s);
  a->tun.inbound.push_back(test::ip_packet("198.18.1.5", "198.18.2.7", 20, 1));  // wants a rekey
  pump();
  advance(hs::kRekeyAttemptTime + 90s);  // the data unanswered starts a fresh handshake after 15 s
  const auto down = a->of(AuditKind::kPeerDown);
  ASSERT_EQ(down.size(), 1u) << testing::PrintToString(a->lines);
  EXPECT_EQ(down[0].reason, "handshake-failed");
  EXPECT_EQ(down[0].peer, b->key.public_key());
  EXPECT_EQ(a->of(AuditKind::kHandshakeFailed).size(), 1u);
  // Later, the keys are wiped: the peer is down already, nothing more.
  advance(3 * hs::kRejectAfterTime);
  EXPECT_EQ(a->of(AuditKind::kPeerDown).size(), 1u);
}

TEST_F(AuditEvents, AnIdlePeerGoesDownOnceWhenItsKeysAreWiped) {
  up();
  advance(3 * hs::kRejectAfterTime + 10s);
  for (Gateway* g : {a.get(), b.get()}) {
    const auto down = g->of(AuditKind::kPeerDown);
    ASSERT_EQ(down.size(), 1u);
    EXPECT_EQ(down[0].reason, "idle");
    EXPECT_EQ(down[0].level, LogLevel::kInfo);
  }
  EXPECT_EQ(a->of(AuditKind::kPeerDown)[0].message, "peer office-b: tunnel down: idle, keys wiped");
  // Up again on the next packet: a second peer-up.
  a->tun.inbound.push_back(test::ip_packet("198.18.1.5", "198.18.2.7", 20, 1));
  pump();
  EXPECT_EQ(a->of(AuditKind::kPeerUp).size(), 2u);
  EXPECT_EQ(b->of(AuditKind::kPeerUp).size(), 2u);
}

TEST_F(AuditEvents, RemovingAPeerThatIsUpOrChangingOurKeyIsAPeerDown) {
  up();
  a->dev->set_private_key(hs::PrivateKey::generate(rng));
  ASSERT_EQ(a->of(AuditKind::kPeerDown).size(), 1u);
  EXPECT_EQ(a->of(AuditKind::kPeerDown)[0].reason, "private-key-changed");
  b->dev->remove_peer(a->key.public_key());
  ASSERT_EQ(b->of(AuditKind::kPeerDown).size(), 1u);
  EXPECT_EQ(b->of(AuditKind::kPeerDown)[0].reason, "removed");
  EXPECT_EQ(b->of(AuditKind::kPeerDown)[0].peer_name, "office-a");
  a->dev->remove_peer(b->key.public_key());  // already down: no event
  EXPECT_EQ(a->of(AuditKind::kPeerDown).size(), 1u);
}

TEST_F(AuditEvents, AFlappingPeerIsLimitedAndTheNextEventCountsWhatWasSuppressed) {
  b->dev->audit().set_limit({.burst = 2, .refill = 60s});
  up();
  for (int i = 0; i < 6; ++i) {  // a's address changes six times in a row
    a->udp.rebind(addr(i % 2 == 0 ? "203.0.113.98:40000" : "203.0.113.99:40000"));
    a->tun.inbound.push_back(test::ip_packet("198.18.1.5", "198.18.2.7", 20, static_cast<uint8_t>(i)));
    pump();
  }
  ASSERT_EQ(b->of(AuditKind::kEndpointChanged).size(), 2u);
  EXPECT_EQ(b->dev->audit().suppressed_total(), 4u);
  EXPECT_EQ(b->of(AuditKind::kPeerUp).size(), 1u);  // other kinds keep their own budget
  clock.advance(60s);
  a->udp.rebind(addr("203.0.113.97:40000"));
  a->tun.inbound.push_back(test::ip_packet("198.18.1.5", "198.18.2.7", 20, 9));
  pump();
  const auto moved = b->of(AuditKind::kEndpointChanged);
  ASSERT_EQ(moved.size(), 3u);
  EXPECT_EQ(moved[2].suppressed, 4u);
  EXPECT_EQ(moved[2].endpoint, addr("203.0.113.97:40000"));
  EXPECT_EQ(audit_line(moved[2]),
            "peer office-a: endpoint changed from 203.0.113.99:40000 to 203.0.113.97:40000 (4 similar suppressed)");
}

// The default sink: each event is the log line it always was.
TEST_F(AuditEvents, WithoutASinkEventsAreLogLines) {
  Logger log;
  std::vector<std::pair<LogLevel, std::string>> lines;
  log.set_level(LogLevel::kDebug);
  log.set_sink([&](LogLevel l, std::string_view line) { lines.emplace_back(l, std::string(line)); });
  AuditLog audit(log);
  AuditEvent e;
  e.kind = AuditKind::kPeerUp;
  e.peer = a->key.public_key();
  e.message = "peer x: tunnel up via 203.0.113.1:51820";
  audit.emit(clock.now().mono, e);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].first, LogLevel::kInfo);
  EXPECT_EQ(lines[0].second, e.message);
}

TEST(AuditLimit, TokensComeBackOnePerRefillUpToTheBurst) {
  test::SeededRng rng{3};
  Logger log;
  AuditLog audit(log);
  audit.set_limit({.burst = 3, .refill = 10s});
  std::vector<AuditEvent> seen;
  audit.set_sink([&](const AuditEvent& e) { seen.push_back(e); });
  AuditEvent e;
  e.kind = AuditKind::kHandshake;
  e.peer = hs::PrivateKey::generate(rng).public_key();
  AuditEvent other = e;
  other.peer = hs::PrivateKey::generate(rng).public_key();
  Instant t = Instant::from_ns(0) + 1000s;
  for (int i = 0; i < 5; ++i) audit.emit(t, e);
  EXPECT_EQ(seen.size(), 3u);
  audit.emit(t, other);  // another peer: its own bucket
  EXPECT_EQ(seen.size(), 4u);
  audit.emit(t + 9s, e);  // not yet a token
  EXPECT_EQ(seen.size(), 4u);
  audit.emit(t + 10s, e);
  ASSERT_EQ(seen.size(), 5u);
  EXPECT_EQ(seen.back().suppressed, 3u);
  audit.emit(t + 10s, e);
  EXPECT_EQ(seen.size(), 5u);
  // A long quiet spell fills the bucket to its burst, no more.
  t = t + 1000s;
  for (int i = 0; i < 5; ++i) audit.emit(t, e);
  EXPECT_EQ(seen.size(), 8u);
  EXPECT_EQ(seen[5].suppressed, 1u);
  EXPECT_EQ(audit.suppressed_total(), 6u);
  // A removed peer's buckets go: it starts full again.
  audit.forget(e.peer);
  audit.emit(t, e);
  EXPECT_EQ(seen.size(), 9u);
}

TEST(AuditNames, KindsAndRolesHaveTheirDocumentedNames) {
  EXPECT_EQ(to_string(AuditKind::kHandshake), "handshake");
  EXPECT_EQ(to_string(AuditKind::kHandshakeFailed), "handshake-failed");
  EXPECT_EQ(to_string(AuditKind::kEndpointChanged), "endpoint-changed");
  EXPECT_EQ(to_string(AuditKind::kPeerUp), "peer-up");
  EXPECT_EQ(to_string(AuditKind::kPeerDown), "peer-down");
  EXPECT_EQ(to_string(HandshakeRole::kInitiator), "initiator");
  EXPECT_EQ(to_string(HandshakeRole::kResponder), "responder");
}

TEST(JournalEvents, AnEventsEntryCarriesTheDocumentedFields) {
  test::SeededRng rng{5};
  AuditEvent e;
  e.kind = AuditKind::kEndpointChanged;
  e.peer = hs::PrivateKey::generate(rng).public_key();
  e.peer_name = "office-b";
  e.endpoint = addr("198.51.100.3:51820");
  e.previous = addr("198.51.100.2:51820");
  e.reason = "failover";
  e.message = "peer office-b: endpoint changed";
  e.suppressed = 2;
  const std::vector<std::string> want{"MESSAGE=peer office-b: endpoint changed (2 similar suppressed)",
                                      "PRIORITY=6",
                                      "SYSLOG_IDENTIFIER=sitelinkd",
                                      "SITELINK_EVENT=endpoint-changed",
                                      "SITELINK_INTERFACE=sl0",
                                      "SITELINK_PEER=" + e.peer.to_base64(),
                                      "SITELINK_PEER_NAME=office-b",
                                      "SITELINK_ENDPOINT=198.51.100.3:51820",
                                      "SITELINK_PREVIOUS_ENDPOINT=198.51.100.2:51820",
                                      "SITELINK_REASON=failover",
                                      "SITELINK_SUPPRESSED=2"};
  EXPECT_EQ(daemon::journal_fields(e, "sl0"), want);
  AuditEvent h;
  h.kind = AuditKind::kHandshake;
  h.peer = e.peer;
  h.role = HandshakeRole::kResponder;
  h.level = LogLevel::kDebug;
  h.endpoint = addr("[2001:db8::1]:51820");
  h.message = "m";
  const std::vector<std::string> want_h{"MESSAGE=m",
                                        "PRIORITY=7",
                                        "SYSLOG_IDENTIFIER=sitelinkd",
                                        "SITELINK_EVENT=handshake",
                                        "SITELINK_INTERFACE=sl1",
                                        "SITELINK_PEER=" + e.peer.to_base64(),
                                        "SITELINK_ENDPOINT=[2001:db8::1]:51820",
                                        "SITELINK_ROLE=responder"};
  EXPECT_EQ(daemon::journal_fields(h, "sl1"), want_h);
}

// JOURNAL_STREAM counts only if it names the stream fd 2 is.
TEST(JournalEvents, StderrIsTheJournalOnlyIfJournalStreamNamesIt) {
  const char* saved = std::getenv("JOURNAL_STREAM");
  const std::string before = saved != nullptr ? saved : "";
  struct stat st {};
  ASSERT_EQ(::fstat(2, &st), 0);
  ::unsetenv("JOURNAL_STREAM");
  EXPECT_FALSE(daemon::stderr_is_journal());
  ::setenv("JOURNAL_STREAM", (std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino)).c_str(), 1);
  EXPECT_TRUE(daemon::stderr_is_journal());
  ::setenv("JOURNAL_STREAM", (std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino + 1)).c_str(), 1);
  EXPECT_FALSE(daemon::stderr_is_journal());
  ::setenv("JOURNAL_STREAM", "8:4242x", 1);
  EXPECT_FALSE(daemon::stderr_is_journal());
  if (saved != nullptr) {
    ::setenv("JOURNAL_STREAM", before.c_str(), 1);
  } else {
    ::unsetenv("JOURNAL_STREAM");
  }
}

}  // namespace
}  // namespace sitelink::tunnel
