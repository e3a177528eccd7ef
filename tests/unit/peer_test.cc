// PeerMachine with a hand-held clock: two peers wired back to back in memory,
// checking WireGuard's session and timer rules (paper section 6; the
// kernel's timers.c) without real time or a network.
#include "handshake/peer.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "handshake/cookie.h"
#include "support/test_support.h"

namespace sitelink::handshake {
namespace {

using namespace std::chrono_literals;

constexpr size_t kMtu = 1420;

// Collects what a PeerMachine asks for.
struct Collector final : Transmit {
  std::vector<std::vector<uint8_t>> datagrams;
  std::vector<std::vector<uint8_t>> delivered;
  std::vector<PeerEvent> events;
  void send_to_network(Bytes d) override { datagrams.emplace_back(d.begin(), d.end()); }
  void deliver_to_tun(MutableBytes p) override { delivered.emplace_back(p.begin(), p.end()); }
  void on_event(PeerEvent e) override { events.push_back(e); }
  size_t count(MessageType t) const {
    return static_cast<size_t>(std::count_if(datagrams.begin(), datagrams.end(), [t](const auto& d) {
      return load_le32(d.data()) == static_cast<uint32_t>(t);
    }));
  }
  size_t count(PeerEvent e) const { return static_cast<size_t>(std::count(events.begin(), events.end(), e)); }
};

struct Side {
  Side(test::SeededRng& rng, uint32_t first_index) : identity(PrivateKey::generate(rng)), indices(first_index) {}
  LocalIdentity identity;
  test::FakeIndices indices;
  std::unique_ptr<PeerMachine> machine;
  Collector out;
  std::vector<ProtoError> refused;
};

class PeerPair : public ::testing::Test {
 protected:
  void SetUp() override { build(TimerSettings{}, TimerSettings{}); }

  void build(TimerSettings sa, TimerSettings sb) {
    const PresharedKey psk = PresharedKey::generate(rng);
    a.machine = std::make_unique<PeerMachine>(a.identity, b.identity.public_key(), psk, sa, rng, a.indices);
    b.machine = std::make_unique<PeerMachine>(b.identity, a.identity.public_key(), psk, sb, rng, b.indices);
  }

  Now now() const { return Now{Instant{t}, WallTime{1'700'000'000s + t}}; }
  void advance(Duration d) {
    t += d;
    a.machine->on_timer(now(), a.out);
    b.machine->on_timer(now(), b.out);
  }
  // Advances to `d` from now in steps, firing timers as the loop would.
  void run_for(Duration d, Duration step = 100ms) {
    for (Duration done{0}; done < d; done += step) {
      advance(step);
      exchange();
    }
  }

  static std::vector<uint8_t> packet(uint8_t tag, size_t len = 60) {
    std::vector<uint8_t> p(len, tag);
    return p;
  }

  void send(Side& s, const std::vector<uint8_t>& payload) {
    std::vector<uint8_t> buf(kHeadroom + payload.size() + kTailroom);
    std::copy(payload.begin(), payload.end(), buf.begin() + kHeadroom);
    s.machine->send(now(), buf, payload.size(), kMtu, s.out);
  }

  // Moves every queued datagram from `from` to `to`; returns how many.
  size_t deliver(Side& from, Side& to) {
    auto batch = std::move(from.out.datagrams);
    from.out.datagrams.clear();
    for (auto& d : batch) receive(to, d);
    return batch.size();
  }
  void receive(Side& to, std::vector<uint8_t>& d) {
    auto msg = classify(d);
    ASSERT_TRUE(msg.ok());
    Result<void, ProtoError> r;
    if (auto* i = std::get_if<InitiationMsg>(&*msg)) {
      auto c = consume_initiation(to.identity, *i);
      r = c ? to.machine->receive_initiation(now(), std::move(*c), to.out) : Result<void, ProtoError>(Err(c.error()));
    } else if (auto* rs = std::get_if<ResponseMsg>(&*msg)) {
      r = to.machine->receive_response(now(), *rs, to.out);
    } else if (auto* c = std::get_if<CookieReplyMsg>(&*msg)) {
      r = to.machine->receive_cookie_reply(now(), *c, to.out);
    } else {
      r = to.machine->receive_transport(now(), std::get<TransportMsg>(*msg), to.out);
    }
    if (!r) to.refused.push_back(r.error());
  }
  // Delivers back and forth until both outboxes are empty.
  void exchange() {
    while (deliver(a, b) + deliver(b, a) > 0) {
    }
  }
  void establish() {
    a.machine->initiate(now(), a.out);
    exchange();
    ASSERT_TRUE(a.machine->has_session(now().mono));
    ASSERT_TRUE(b.machine->has_session(now().mono));
  }

  test::SeededRng rng{42};
  Side a{rng, 100};
  Side b{rng, 200};
  Duration t = 1000s;
};

TEST_F(PeerPair, FirstPacketTriggersHandshakeAndIsDeliveredAfterIt) {
  send(a, packet(1));
  EXPECT_EQ(a.out.count(MessageType::kInitiation), 1u);
  EXPECT_EQ(a.machine->staged_packets(), 1u);
  exchange();
  ASSERT_EQ(b.out.delivered.size(), 1u);
  EXPECT_EQ(std::vector<uint8_t>(b.out.delivered[0].begin(), b.out.delivered[0].begin() + 60), packet(1));
  EXPECT_EQ(b.out.delivered[0].size(), 64u);  // padded to 16
  EXPECT_EQ(a.machine->staged_packets(), 0u);
  EXPECT_EQ(a.out.count(PeerEvent::kSessionEstablished), 1u);
  EXPECT_EQ(b.out.count(PeerEvent::kSessionEstablished), 1u);  // confirmed by the data packet
  EXPECT_TRUE(b.machine->stats().last_handshake.has_value());
  EXPECT_TRUE(a.refused.empty() && b.refused.empty());
}

TEST_F(PeerPair, ResponderWaitsForConfirmationBeforeSending) {
  a.machine->initiate(now(), a.out);
  deliver(a, b);                                     // initiation -> b answers
  EXPECT_FALSE(b.machine->has_session(now().mono));  // the keypair is still "next"
  send(b, packet(2));
  EXPECT_EQ(b.machine->staged_packets(), 1u);
  deliver(b, a);  // response -> a has a session and sends a keepalive
  EXPECT_TRUE(a.machine->has_session(now().mono));
  deliver(a, b);  // keepalive confirms b's keypair, b flushes its queue
  EXPECT_EQ(b.machine->staged_packets(), 0u);
  deliver(b, a);
  ASSERT_EQ(a.out.delivered.size(), 1u);
  EXPECT_TRUE(b.out.delivered.empty());  // the keepalive is not delivered
}

TEST_F(PeerPair, DataFlowsBothWaysAndCountsBytes) {
  establish();
  for (uint8_t i = 0; i < 20; ++i) {
    send(a, packet(i, 100 + i));
    send(b, packet(static_cast<uint8_t>(i + 100), 1420));
  }
  exchange();
  ASSERT_EQ(b.out.delivered.size(), 20u);
  ASSERT_EQ(a.out.delivered.size(), 20u);
  EXPECT_EQ(a.out.delivered[5][0], 105);
  EXPECT_EQ(a.out.delivered[5].size(), 1420u);  // full-size packets are not padded past the MTU
  EXPECT_GT(a.machine->stats().tx_bytes, 20u * 100);
  EXPECT_EQ(a.machine->stats().tx_bytes, b.machine->stats().rx_bytes);
}

TEST_F(PeerPair, DuplicatedDatagramIsRefusedAsReplay) {
  establish();
  send(a, packet(9));
  ASSERT_EQ(a.out.datagrams.size(), 1u);
  auto copy = a.out.datagrams[0];
  deliver(a, b);
  receive(b, copy);
  ASSERT_EQ(b.out.delivered.size(), 1u);
  ASSERT_EQ(b.refused.size(), 1u);
  EXPECT_EQ(b.refused[0], ProtoError::kReplayedCounter);
}

TEST_F(PeerPair, ReorderedDatagramsAreAllDelivered) {
  establish();
  for (uint8_t i = 0; i < 10; ++i) send(a, packet(i));
  std::reverse(a.out.datagrams.begin(), a.out.datagrams.end());
  deliver(a, b);
  EXPECT_EQ(b.out.delivered.size(), 10u);
  EXPECT_TRUE(b.refused.empty());
}

TEST_F(PeerPair, InitiatorRekeysAfterRekeyAfterTimeWithoutLosingPackets) {
  establish();
  const uint32_t first_index = a.machine->keypairs().current()->local_index;
  size_t sent = 0;
  // Continuous traffic both ways for 130 s: one rekey must happen at 120 s.
  for (int i = 0; i < 1300; ++i) {
    advance(100ms);
    send(a, packet(static_cast<uint8_t>(i)));
    send(b, packet(static_cast<uint8_t>(i)));
    ++sent;
    exchange();
  }
  EXPECT_EQ(b.out.delivered.size(), sent);
  EXPECT_EQ(a.out.delivered.size(), sent);
  EXPECT_NE(a.machine->keypairs().current()->local_index, first_index);
  EXPECT_EQ(a.out.count(PeerEvent::kHandshakeInitiated), 2u);
  EXPECT_EQ(b.out.count(PeerEvent::kHandshakeInitiated), 0u);
  EXPECT_TRUE(a.refused.empty() && b.refused.empty());
}

TEST_F(PeerPair, ConfiguredRekeyAfterTimeIsHonoured) {
  TimerSettings fast;
  fast.rekey_after_time = 10s;
  build(fast, fast);
  establish();
  run_for(9s);
  send(a, packet(1));
  EXPECT_EQ(a.out.count(MessageType::kInitiation), 0u);
  advance(1s);
  send(a, packet(2));
  EXPECT_EQ(a.out.count(MessageType::kInitiation), 1u);
}

TEST_F(PeerPair, RetransmitsEveryRekeyTimeoutPlusJitterThenGivesUp) {
  send(a, packet(1));  // b never answers: its datagrams are dropped
  std::vector<Instant> sent_at{now().mono};
  a.out.datagrams.clear();
  for (int step = 0; step < 2000; ++step) {  // 200 s in 100 ms steps
    t += 100ms;
    a.machine->on_timer(now(), a.out);
    for (auto& d : a.out.datagrams) {
      if (load_le32(d.data()) == 1) sent_at.push_back(now().mono);
    }
    a.out.datagrams.clear();
  }
  // The kernel's rule: give up after MAX_TIMER_HANDSHAKES + 2 initiations.
  ASSERT_EQ(sent_at.size(), static_cast<size_t>(kMaxTimerHandshakes + 2));
  for (size_t i = 1; i < sent_at.size(); ++i) {
    const Duration gap = sent_at[i] - sent_at[i - 1];
    EXPECT_GE(gap, kRekeyTimeout);
    EXPECT_LE(gap, kRekeyTimeout + kRekeyTimeoutJitterMax + 100ms);
  }
  EXPECT_EQ(a.out.count(PeerEvent::kHandshakeGaveUp), 1u);
  EXPECT_EQ(a.machine->staged_packets(), 0u);  // what waited is dropped
  EXPECT_TRUE(a.machine->timers().pending(Timer::kZeroKeyMaterial));
}

TEST_F(PeerPair, NoInitiationMoreOftenThanRekeyTimeout) {
  send(a, packet(1));
  send(a, packet(2));
  advance(4s);
  send(a, packet(3));
  EXPECT_EQ(a.out.count(MessageType::kInitiation), 1u);
  EXPECT_EQ(a.machine->staged_packets(), 3u);
}

TEST_F(PeerPair, StagedQueueIsBounded) {
  for (size_t i = 0; i < kMaxStagedPackets + 10; ++i) send(a, packet(static_cast<uint8_t>(i)));
  EXPECT_EQ(a.machine->staged_packets(), kMaxStagedPackets);
  EXPECT_EQ(a.out.count(PeerEvent::kStagedPacketDropped), 10u);
  exchange();
  ASSERT_EQ(b.out.delivered.size(), kMaxStagedPackets);
  EXPECT_EQ(b.out.delivered.front()[0], 10);  // the oldest were dropped
}

TEST_F(PeerPair, KeepaliveAfterTenSecondsOfReceiveOnly) {
  establish();
  send(a, packet(1));
  exchange();
  b.out.datagrams.clear();
  advance(kKeepaliveTimeout - 1ms);
  EXPECT_TRUE(b.out.datagrams.empty());
  advance(1ms);
  ASSERT_EQ(b.out.datagrams.size(), 1u);
  EXPECT_EQ(b.out.datagrams[0].size(), transport::kMinSize);  // an empty transport packet
}

TEST_F(PeerPair, NoKeepaliveWhenReplyTrafficFlows) {
  establish();
  send(a, packet(1));
  exchange();
  advance(5s);
  send(b, packet(2));  // b answers with data: no keepalive needed
  b.out.datagrams.clear();
  advance(kKeepaliveTimeout);
  EXPECT_TRUE(b.out.datagrams.empty());
}

TEST_F(PeerPair, NewHandshakeWhenSentDataGetsNoReply) {
  establish();
  const size_t before = a.out.count(PeerEvent::kHandshakeInitiated);
  send(a, packet(1));
  a.out.datagrams.clear();  // lost: b never hears it, never answers
  advance(kKeepaliveTimeout + kRekeyTimeout - 1ms);
  EXPECT_EQ(a.out.count(PeerEvent::kHandshakeInitiated), before);
  advance(kRekeyTimeoutJitterMax + 2ms);
  EXPECT_EQ(a.out.count(PeerEvent::kHandshakeInitiated), before + 1);
}

TEST_F(PeerPair, KeypairIsRejectedAfterRejectAfterTime) {
  establish();
  send(b, packet(1));
  exchange();
  // A packet sealed by a just before the keypair's 180th second...
  t += kRejectAfterTime - 1s;
  a.out.datagrams.clear();
  send(a, packet(3));
  ASSERT_EQ(a.out.count(MessageType::kTransport), 1u);
  auto late = a.out.datagrams.front();
  // ...arrives after it: refused.
  t += 1s;
  receive(b, late);
  ASSERT_EQ(b.refused.size(), 1u);
  EXPECT_EQ(b.refused.back(), ProtoError::kExpiredKeypair);
  // b (the responder, which never rekeys on time) can no longer send on it:
  // the packet waits and a handshake starts.
  send(b, packet(2));
  EXPECT_EQ(b.machine->staged_packets(), 1u);
  EXPECT_EQ(b.out.count(MessageType::kTransport), 0u);
  EXPECT_EQ(b.out.count(MessageType::kInitiation), 1u);
}

TEST_F(PeerPair, KeyMaterialIsZeroedAfterThreeTimesRejectAfterTime) {
  establish();
  advance(3 * kRejectAfterTime - 1s);
  EXPECT_NE(a.machine->keypairs().current(), nullptr);
  advance(1s);
  EXPECT_EQ(a.machine->keypairs().current(), nullptr);
  EXPECT_EQ(b.machine->keypairs().current(), nullptr);
  EXPECT_EQ(a.out.count(PeerEvent::kKeysZeroed), 1u);
  EXPECT_TRUE(a.indices.live.empty());
  EXPECT_TRUE(b.indices.live.empty());
}

TEST_F(PeerPair, PersistentKeepaliveAtTheConfiguredInterval) {
  TimerSettings keep;
  keep.persistent_keepalive = 25s;
  build(keep, TimerSettings{});
  establish();
  a.out.datagrams.clear();
  advance(24s);
  EXPECT_TRUE(a.out.datagrams.empty());
  advance(1s);
  ASSERT_EQ(a.out.datagrams.size(), 1u);
  EXPECT_EQ(a.out.datagrams[0].size(), transport::kMinSize);
  deliver(a, b);
  a.out.datagrams.clear();
  advance(25s);
  EXPECT_EQ(a.out.count(MessageType::kTransport), 1u);
}

TEST_F(PeerPair, LastMinuteRekeyOnReceiveForTheInitiator) {
  establish();
  // Only b sends; a (the initiator) never sends data, so the send-side rule
  // never fires. At REJECT - KEEPALIVE - REKEY_TIMEOUT a rekeys on receive.
  t += kRejectAfterTime - kKeepaliveTimeout - kRekeyTimeout - 1s;
  send(b, packet(1));
  deliver(b, a);
  EXPECT_EQ(a.out.count(MessageType::kInitiation), 0u);
  t += 1s;
  send(b, packet(2));
  deliver(b, a);
  EXPECT_EQ(a.out.count(MessageType::kInitiation), 1u);
}

TEST_F(PeerPair, CrossingInitiationsCompleteOneHandshakeAtOnce) {
  // Both initiate at the same moment (two gateways started together): each
  // answers the other's initiation; only the one with the greater public key
  // keeps its own, so exactly one handshake completes, at once.
  a.machine->initiate(now(), a.out);
  b.machine->initiate(now(), b.out);
  exchange();
  EXPECT_TRUE(a.machine->has_session(now().mono));
  EXPECT_TRUE(b.machine->has_session(now().mono));
  // The smaller key's side refuses the response to the initiation it dropped.
  Side& smaller = a.identity.public_key() < b.identity.public_key() ? a : b;
  Side& greater = &smaller == &a ? b : a;
  ASSERT_EQ(smaller.refused.size(), 1u);
  EXPECT_EQ(smaller.refused[0], ProtoError::kUnexpectedMessage);
  EXPECT_TRUE(greater.refused.empty());
  send(a, packet(1));
  send(b, packet(2));
  exchange();
  EXPECT_EQ(b.out.delivered.size(), 1u);
  EXPECT_EQ(a.out.delivered.size(), 1u);
  EXPECT_FALSE(a.machine->timers().pending(Timer::kRetransmitHandshake));
  EXPECT_FALSE(b.machine->timers().pending(Timer::kRetransmitHandshake));
  EXPECT_LE(a.indices.live.size(), 3u);
  // Both send and receive on one and the same session: the current one.
  EXPECT_EQ(a.machine->keypairs().current()->remote_index, b.machine->keypairs().current()->local_index);
  EXPECT_EQ(b.machine->keypairs().current()->remote_index, a.machine->keypairs().current()->local_index);
}

TEST_F(PeerPair, CrossingWithAPeerThatDropsItsOwnInitiationStillConverges) {
  // b behaves like the kernel: the response to its superseded initiation is
  // lost. a keeps its own, so b's response to it completes a's handshake and
  // a's data confirms b's keypair.
  a.machine->initiate(now(), a.out);
  b.machine->initiate(now(), b.out);
  deliver(b, a);                             // a answers b's initiation (and keeps its own)
  deliver(a, b);                             // b gets a's initiation, then a's response
  auto from_b = std::move(b.out.datagrams);  // b's response to a's initiation
  b.out.datagrams.clear();
  for (auto& d : from_b) receive(a, d);
  EXPECT_TRUE(a.machine->has_session(now().mono));
  exchange();
  send(a, packet(1));
  exchange();
  EXPECT_EQ(b.out.delivered.size(), 1u);
}

TEST_F(PeerPair, ReleasesEveryIndexItTook) {
  establish();
  run_for(300s, 1s);  // several rekeys (none: no traffic) and keepalive rules
  for (int i = 0; i < 5; ++i) {
    t += kRekeyAfterTime;
    send(a, packet(1));
    exchange();
  }
  EXPECT_LE(a.indices.live.size(), 4u);  // previous, current, next, handshake
  a.machine.reset();
  b.machine.reset();
  EXPECT_TRUE(a.indices.live.empty());
  EXPECT_TRUE(b.indices.live.empty());
}

TEST_F(PeerPair, CookieReplyMakesTheRetransmissionCarryMac2) {
  // b is under load: instead of answering, it sends a cookie reply.
  CookieChecker b_checker(b.identity.public_key());
  const std::array<uint8_t, 6> a_source{203, 0, 113, 1, 0xca, 0x6c};
  send(a, packet(1));
  auto init = a.out.datagrams.back();
  a.out.datagrams.clear();
  ASSERT_FALSE(b_checker.check_mac2(init, a_source, now().mono, rng));
  std::array<uint8_t, cookie_reply::kSize> reply;
  b_checker.create_reply(reply, init, a_source, now().mono, rng);
  std::vector<uint8_t> reply_datagram(reply.begin(), reply.end());
  receive(a, reply_datagram);
  EXPECT_EQ(a.out.count(PeerEvent::kCookieReceived), 1u);
  EXPECT_TRUE(a.out.datagrams.empty());  // no immediate resend
  advance(kRekeyTimeout + kRekeyTimeoutJitterMax);
  ASSERT_EQ(a.out.count(MessageType::kInitiation), 1u);
  EXPECT_TRUE(b_checker.check_mac2(a.out.datagrams.back(), a_source, now().mono, rng));
}

TEST_F(PeerPair, NextDeadlineIsTheEarliestTimer) {
  EXPECT_TRUE(a.machine->next_deadline().is_never());
  send(a, packet(1));
  const Instant d = a.machine->next_deadline();
  EXPECT_GE(d - now().mono, kRekeyTimeout);
  EXPECT_LE(d - now().mono, kRekeyTimeout + kRekeyTimeoutJitterMax);
}

}  // namespace
}  // namespace sitelink::handshake
