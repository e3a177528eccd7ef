// Every handshake message with any single byte flipped is rejected and
// changes no state.
//
// For each message type a genuine message is built with the real code, then
// every byte is XORed with several bit patterns and the copy is pushed
// through the same checks a device applies (classify, routing by index,
// mac1, mac2 when under load, then the handshake or transport layer). Each
// flipped copy must be refused, at the stage that covers that byte, and the
// receiving side's state must be exactly as before, so the genuine message
// still works afterwards.
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <vector>

#include "handshake/cookie.h"
#include "handshake/messages.h"
#include "handshake/noise.h"
#include "handshake/peer.h"
#include "support/test_support.h"

namespace sitelink::handshake {
namespace {

using namespace std::chrono_literals;

// All single bits, and all of them at once.
constexpr uint8_t kPatterns[] = {0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xff};

constexpr uint32_t kInitiatorIndex = 0x11223344;
constexpr uint32_t kResponderIndex = 0x55667788;
const Instant kNow = Instant::from_ns(int64_t{1'000'000} * 1'000'000'000);
const WallTime kWall{1'700'000'000s};
// Source addresses as the device would encode them for cookies (ip, port).
const std::array<uint8_t, 6> kInitiatorAddr = {192, 0, 2, 1, 0xca, 0x6c};
const std::array<uint8_t, 6> kResponderAddr = {198, 51, 100, 7, 0xca, 0x6c};

// The stage of a receive path that refused a datagram.
enum class Stage { kClassify, kRoute, kMac1, kMac2, kHandshake, kAccept, kAccepted };

const char* name(Stage s) {
  switch (s) {
    case Stage::kClassify: return "classify";
    case Stage::kRoute: return "route";
    case Stage::kMac1: return "mac1";
    case Stage::kMac2: return "mac2";
    case Stage::kHandshake: return "handshake";
    case Stage::kAccept: return "accept";
    case Stage::kAccepted: return "accepted";
  }
  return "?";
}

std::vector<uint8_t> flipped(const std::vector<uint8_t>& msg, size_t pos, uint8_t pattern) {
  std::vector<uint8_t> d = msg;
  d[pos] ^= pattern;
  return d;
}

class FlipTest : public ::testing::Test {
 protected:
  test::SeededRng rng{0x5eed};
  test::SeededRng cookie_rng{0xc00c1e};
  LocalIdentity initiator{PrivateKey::generate(rng)};
  LocalIdentity responder{PrivateKey::generate(rng)};
  PresharedKey psk = PresharedKey::generate(rng);
  // The initiator's handshake with the responder, and the other way round.
  Handshake ihs{initiator, responder.public_key(), psk};
  Handshake rhs{responder, initiator.public_key(), psk};
  // Each interface checks macs on messages to it; each peer adds macs for
  // messages to the other.
  CookieChecker rchecker{responder.public_key()};
  CookieChecker ichecker{initiator.public_key()};
  CookieGenerator igen{responder.public_key()};
  CookieGenerator rgen{initiator.public_key()};

  std::vector<uint8_t> make_initiation() {
    std::vector<uint8_t> init(initiation::kSize);
    EXPECT_TRUE(ihs.create_initiation(std::span<uint8_t, initiation::kSize>(init.data(), init.size()), kInitiatorIndex,
                                      kWall, rng)
                    .ok());
    igen.add_macs(init, kNow);
    return init;
  }

  // The initiator's initiation with a valid mac2: the responder, under load,
  // answers the first attempt with a cookie reply, and the initiator sends
  // the same initiation again with mac2 filled in.
  std::vector<uint8_t> make_initiation_with_cookie() {
    std::vector<uint8_t> init = make_initiation();
    std::array<uint8_t, cookie_reply::kSize> reply;
    rchecker.create_reply(reply, init, kInitiatorAddr, kNow, cookie_rng);
    EXPECT_TRUE(igen.consume_reply(CookieReplyMsg{reply}, kNow));
    igen.add_macs(init, kNow);
    EXPECT_TRUE(rchecker.check_mac1(init));
    EXPECT_TRUE(rchecker.check_mac2(init, kInitiatorAddr, kNow, cookie_rng));
    return init;
  }

  // The responder's receive path for an initiation. `under_load` adds the
  // mac2 check; mac2 is not otherwise looked at.
  Stage responder_receives(std::vector<uint8_t> d, bool under_load) {
    auto m = classify(d);
    if (!m) return Stage::kClassify;
    // A flipped type byte could name another type of the right length; such
    // a datagram never reaches the initiation path.
    const auto* msg = std::get_if<InitiationMsg>(&*m);
    if (msg == nullptr) return Stage::kClassify;
    if (!rchecker.check_mac1(msg->bytes)) return Stage::kMac1;
    if (under_load && !rchecker.check_mac2(msg->bytes, kInitiatorAddr, kNow, cookie_rng)) return Stage::kMac2;
    auto consumed = consume_initiation(responder, *msg);
    if (!consumed) return Stage::kHandshake;
    // The device looks the peer up by the decrypted static key.
    if (!(consumed->initiator_static == rhs.remote_static())) return Stage::kHandshake;
    if (!rhs.accept_initiation(std::move(*consumed), kNow)) return Stage::kAccept;
    return Stage::kAccepted;
  }

  // The initiator's receive path for a response (to the pending initiation).
  Stage initiator_receives(std::vector<uint8_t> d, bool under_load, std::optional<SessionKeys>* keys = nullptr) {
    auto m = classify(d);
    if (!m) return Stage::kClassify;
    const auto* msg = std::get_if<ResponseMsg>(&*m);
    if (msg == nullptr) return Stage::kClassify;
    if (!ichecker.check_mac1(msg->bytes)) return Stage::kMac1;
    if (under_load && !ichecker.check_mac2(msg->bytes, kResponderAddr, kNow, cookie_rng)) return Stage::kMac2;
    auto k = ihs.consume_response(*msg);
    if (!k) return Stage::kHandshake;
    if (keys != nullptr) *keys = std::move(*k);
    return Stage::kAccepted;
  }
};

// Which stage must refuse a flip at `pos` in an initiation.
Stage initiation_stage(size_t pos, bool under_load) {
  if (pos < initiation::kSender) return Stage::kClassify;  // type and reserved bytes
  if (pos < initiation::kMac2) return Stage::kMac1;        // mac1 covers everything before it
  return under_load ? Stage::kMac2 : Stage::kAccepted;
}

TEST_F(FlipTest, InitiationWithAnyByteFlippedIsRefused) {
  const std::vector<uint8_t> init = make_initiation_with_cookie();
  ASSERT_EQ(rhs.state(), Handshake::State::kZeroed);

  for (size_t pos = 0; pos < initiation::kSize; ++pos) {
    for (uint8_t pattern : kPatterns) {
      SCOPED_TRACE(::testing::Message() << "byte " << pos << " ^ " << int{pattern});
      const auto d = flipped(init, pos, pattern);
      // mac2 is only checked under load, and nothing else covers it (it is
      // the last field): a responder that is not under load would take an
      // initiation with a damaged mac2, as it takes one with no mac2 at all.
      // So mac2 flips are only sent through the under-load path, where the
      // cookie makes them fail.
      if (pos < initiation::kMac2) {
        const Stage s = responder_receives(d, false);
        EXPECT_EQ(s, initiation_stage(pos, false)) << name(s);
      }
      const Stage s = responder_receives(d, true);
      EXPECT_EQ(s, initiation_stage(pos, true)) << name(s);
      ASSERT_EQ(rhs.state(), Handshake::State::kZeroed);
      ASSERT_EQ(rhs.transcript(), nullptr);
    }
  }

  // The genuine initiation is still accepted, under load or not.
  EXPECT_EQ(responder_receives(init, true), Stage::kAccepted);
  EXPECT_EQ(rhs.state(), Handshake::State::kConsumedInitiation);
  ASSERT_NE(rhs.transcript(), nullptr);
  const Hash accepted_hash = rhs.transcript()->hash;

  // Refusals by accept_initiation itself change nothing either: a replay of
  // the accepted initiation (timestamp not newer), and a genuinely new one
  // that comes too soon after it (flood limit).
  EXPECT_EQ(responder_receives(init, true), Stage::kAccept);
  std::vector<uint8_t> second(initiation::kSize);
  ASSERT_TRUE(ihs.create_initiation(std::span<uint8_t, initiation::kSize>(second.data(), second.size()),
                                    kInitiatorIndex + 1, WallTime{kWall.since_epoch + 1s}, rng)
                  .ok());
  igen.add_macs(second, kNow);
  EXPECT_EQ(responder_receives(second, true), Stage::kAccept);
  EXPECT_EQ(rhs.state(), Handshake::State::kConsumedInitiation);
  EXPECT_EQ(rhs.transcript()->hash, accepted_hash);

  std::array<uint8_t, response::kSize> resp;
  EXPECT_TRUE(rhs.create_response(resp, kResponderIndex, rng).ok());
}

TEST_F(FlipTest, InitiationFlipsBehindAValidMac1AreRefusedByNoise) {
  // An attacker knows the responder's public key, so it can recompute mac1
  // over a modified initiation. The Noise layer must then refuse every
  // change to the ephemeral key, the sealed static key and the sealed
  // timestamp: the ephemeral key and static key when the static key is
  // decrypted (consume_initiation), the timestamp when the peer found by
  // that key applies its static-static secret (accept_initiation).
  const std::vector<uint8_t> init = make_initiation();
  CookieGenerator attacker(responder.public_key());
  for (size_t pos = initiation::kEphemeral; pos < initiation::kMac1; ++pos) {
    for (uint8_t pattern : kPatterns) {
      SCOPED_TRACE(::testing::Message() << "byte " << pos << " ^ " << int{pattern});
      auto d = flipped(init, pos, pattern);
      attacker.add_macs(d, kNow);
      const Stage s = responder_receives(d, false);
      EXPECT_EQ(s, pos < initiation::kTimestamp ? Stage::kHandshake : Stage::kAccept) << name(s);
      ASSERT_EQ(rhs.state(), Handshake::State::kZeroed);
    }
  }
  EXPECT_EQ(responder_receives(init, false), Stage::kAccepted);
}

TEST_F(FlipTest, SenderIndicesAreCoveredByMac1Only) {
  // As in WireGuard, the sender index is not part of the Noise transcript:
  // only mac1 protects it. Someone who knows the receiver's public key (and
  // is on the path) can rewrite it, which costs no more than dropping the
  // message. This documents the property; no state is changed here.
  const std::vector<uint8_t> init = make_initiation();
  CookieGenerator attacker(responder.public_key());
  auto d = flipped(init, initiation::kSender, 0x01);
  attacker.add_macs(d, kNow);
  auto m = classify(d);
  ASSERT_TRUE(m.ok());
  const auto& msg = std::get<InitiationMsg>(*m);
  ASSERT_TRUE(rchecker.check_mac1(msg.bytes));
  auto consumed = consume_initiation(responder, msg);
  ASSERT_TRUE(consumed.ok());
  EXPECT_EQ(consumed->sender_index, kInitiatorIndex ^ 0x01);
}

Stage response_stage(size_t pos, bool under_load) {
  if (pos < response::kSender) return Stage::kClassify;
  if (pos < response::kMac2) return Stage::kMac1;
  return under_load ? Stage::kMac2 : Stage::kAccepted;
}

TEST_F(FlipTest, ResponseWithAnyByteFlippedIsRefused) {
  const std::vector<uint8_t> init = make_initiation();
  ASSERT_EQ(responder_receives(init, false), Stage::kAccepted);
  std::vector<uint8_t> resp(response::kSize);
  auto rkeys = rhs.create_response(std::span<uint8_t, response::kSize>(resp.data(), resp.size()), kResponderIndex, rng);
  ASSERT_TRUE(rkeys.ok());
  rgen.add_macs(resp, kNow);
  // Give the responder a cookie from the initiator so mac2 is valid too.
  std::array<uint8_t, cookie_reply::kSize> reply;
  ichecker.create_reply(reply, resp, kResponderAddr, kNow, cookie_rng);
  ASSERT_TRUE(rgen.consume_reply(CookieReplyMsg{reply}, kNow));
  rgen.add_macs(resp, kNow);
  ASSERT_TRUE(ichecker.check_mac2(resp, kResponderAddr, kNow, cookie_rng));

  ASSERT_EQ(ihs.state(), Handshake::State::kCreatedInitiation);
  ASSERT_NE(ihs.transcript(), nullptr);
  const Hash hash_before = ihs.transcript()->hash;
  const std::vector<uint8_t> ck_before(ihs.transcript()->chaining_key.span().begin(),
                                       ihs.transcript()->chaining_key.span().end());

  auto unchanged = [&] {
    ASSERT_EQ(ihs.state(), Handshake::State::kCreatedInitiation);
    ASSERT_EQ(ihs.initiation_index(), kInitiatorIndex);
    ASSERT_NE(ihs.transcript(), nullptr);
    ASSERT_EQ(ihs.transcript()->hash, hash_before);
    ASSERT_TRUE(std::equal(ck_before.begin(), ck_before.end(), ihs.transcript()->chaining_key.data()));
  };

  for (size_t pos = 0; pos < response::kSize; ++pos) {
    for (uint8_t pattern : kPatterns) {
      SCOPED_TRACE(::testing::Message() << "byte " << pos << " ^ " << int{pattern});
      const auto d = flipped(resp, pos, pattern);
      // As for initiations, a flipped mac2 only matters under load.
      if (pos < response::kMac2) {
        const Stage s = initiator_receives(d, false);
        EXPECT_EQ(s, response_stage(pos, false)) << name(s);
      }
      const Stage s = initiator_receives(d, true);
      EXPECT_EQ(s, response_stage(pos, true)) << name(s);
      unchanged();
    }
  }

  // Behind a recomputed mac1, Noise refuses changes to the receiver index,
  // the ephemeral key and the sealed empty payload.
  CookieGenerator attacker(initiator.public_key());
  for (size_t pos = response::kReceiver; pos < response::kMac1; ++pos) {
    for (uint8_t pattern : kPatterns) {
      SCOPED_TRACE(::testing::Message() << "re-maced byte " << pos << " ^ " << int{pattern});
      auto d = flipped(resp, pos, pattern);
      attacker.add_macs(d, kNow);
      const Stage s = initiator_receives(d, false);
      EXPECT_EQ(s, Stage::kHandshake) << name(s);
      unchanged();
    }
  }

  // The genuine response still completes the handshake.
  std::optional<SessionKeys> ikeys;
  ASSERT_EQ(initiator_receives(resp, true, &ikeys), Stage::kAccepted);
  ASSERT_TRUE(ikeys.has_value());
  EXPECT_EQ(ihs.state(), Handshake::State::kZeroed);
  EXPECT_EQ(ikeys->handshake_hash, rkeys->handshake_hash);
  EXPECT_TRUE(ct_equal(ikeys->send.span(), rkeys->receive.span()));
  EXPECT_TRUE(ct_equal(ikeys->receive.span(), rkeys->send.span()));
  EXPECT_EQ(ikeys->remote_index, kResponderIndex);
  EXPECT_EQ(rkeys->remote_index, kInitiatorIndex);
}

TEST_F(FlipTest, CookieReplyWithAnyByteFlippedIsRefused) {
  const std::vector<uint8_t> init = make_initiation();
  std::vector<uint8_t> reply(cookie_reply::kSize);
  rchecker.create_reply(std::span<uint8_t, cookie_reply::kSize>(reply.data(), reply.size()), init, kInitiatorAddr, kNow,
                        cookie_rng);

  // The initiator's receive path. The receiver index is not authenticated
  // by the reply itself: the device uses it to find the peer (and so the
  // CookieGenerator keyed by that peer's public key, holding the mac1 the
  // reply answers), so a changed index reaches no generator here.
  auto initiator_receives_reply = [&](std::vector<uint8_t> d) {
    auto m = classify(d);
    if (!m) return Stage::kClassify;
    const auto* msg = std::get_if<CookieReplyMsg>(&*m);
    if (msg == nullptr) return Stage::kClassify;
    if (msg->receiver() != kInitiatorIndex) return Stage::kRoute;
    if (!igen.consume_reply(*msg, kNow)) return Stage::kHandshake;
    return Stage::kAccepted;
  };
  auto mac2_of_next_send = [&] {
    std::vector<uint8_t> again = init;
    igen.add_macs(again, kNow);
    return std::vector<uint8_t>(again.begin() + initiation::kMac2, again.end());
  };
  const std::vector<uint8_t> no_mac2(kMacSize, 0);

  for (size_t pos = 0; pos < cookie_reply::kSize; ++pos) {
    for (uint8_t pattern : kPatterns) {
      SCOPED_TRACE(::testing::Message() << "byte " << pos << " ^ " << int{pattern});
      const Stage want = pos < cookie_reply::kReceiver ? Stage::kClassify
                         : pos < cookie_reply::kNonce  ? Stage::kRoute
                                                       : Stage::kHandshake;  // nonce, sealed cookie
      const Stage s = initiator_receives_reply(flipped(reply, pos, pattern));
      EXPECT_EQ(s, want) << name(s);
      ASSERT_FALSE(igen.has_fresh_cookie(kNow));
      ASSERT_EQ(mac2_of_next_send(), no_mac2);
    }
  }

  // The genuine reply is still taken, and the next initiation carries a
  // mac2 the responder accepts.
  EXPECT_EQ(initiator_receives_reply(reply), Stage::kAccepted);
  EXPECT_TRUE(igen.has_fresh_cookie(kNow));
  std::vector<uint8_t> again = init;
  igen.add_macs(again, kNow);
  EXPECT_TRUE(rchecker.check_mac2(again, kInitiatorAddr, kNow, cookie_rng));
}

// Collects what a PeerMachine asks for.
struct Collector final : Transmit {
  std::vector<std::vector<uint8_t>> datagrams;
  std::vector<std::vector<uint8_t>> delivered;
  void send_to_network(Bytes d) override { datagrams.emplace_back(d.begin(), d.end()); }
  void deliver_to_tun(MutableBytes p) override { delivered.emplace_back(p.begin(), p.end()); }
  std::vector<uint8_t> take() {
    EXPECT_FALSE(datagrams.empty());
    if (datagrams.empty()) return {};
    std::vector<uint8_t> d = std::move(datagrams.front());
    datagrams.erase(datagrams.begin());
    return d;
  }
};

TEST_F(FlipTest, TransportWithAnyByteFlippedIsRefused) {
  constexpr size_t kMtu = 1420;
  test::FakeIndices a_indices(100), b_indices(200);
  Collector a_out, b_out;
  const Now now{kNow, kWall};
  PeerMachine a(initiator, responder.public_key(), psk, TimerSettings{}, rng, a_indices);
  PeerMachine b(responder, initiator.public_key(), psk, TimerSettings{}, rng, b_indices);

  // Handshake: initiation, response, and the initiator's keepalive that
  // confirms the session on the responder.
  a.initiate(now, a_out);
  {
    auto d = a_out.take();
    auto m = classify(d);
    ASSERT_TRUE(m.ok());
    const auto& msg = std::get<InitiationMsg>(*m);
    ASSERT_TRUE(rchecker.check_mac1(msg.bytes));
    auto consumed = consume_initiation(responder, msg);
    ASSERT_TRUE(consumed.ok());
    ASSERT_TRUE(b.receive_initiation(now, std::move(*consumed), b_out).ok());
  }
  {
    auto d = b_out.take();
    auto m = classify(d);
    ASSERT_TRUE(m.ok());
    const auto& msg = std::get<ResponseMsg>(*m);
    ASSERT_TRUE(ichecker.check_mac1(msg.bytes));
    ASSERT_TRUE(a.receive_response(now, msg, a_out).ok());
  }
  {
    auto d = a_out.take();
    ASSERT_EQ(d.size(), transport::kMinSize);
    auto m = classify(d);
    ASSERT_TRUE(m.ok());
    ASSERT_TRUE(b.receive_transport(now, std::get<TransportMsg>(*m), b_out).ok());
  }
  ASSERT_TRUE(b.has_session(now.mono));
  ASSERT_TRUE(b_out.delivered.empty());

  auto send_from_a = [&](uint8_t tag) {
    std::vector<uint8_t> payload(40);
    for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<uint8_t>(tag + i);
    std::vector<uint8_t> buf(kHeadroom + payload.size() + kTailroom);
    std::copy(payload.begin(), payload.end(), buf.begin() + kHeadroom);
    a.send(now, buf, payload.size(), kMtu, a_out);
    return std::make_pair(a_out.take(), payload);
  };
  auto b_receives = [&](std::vector<uint8_t> d) -> Result<void, ProtoError> {
    auto m = classify(d);
    if (!m) return Err(m.error());
    const auto* msg = std::get_if<TransportMsg>(&*m);
    if (msg == nullptr) return Err(ProtoError::kBadType);
    return b.receive_transport(now, *msg, b_out);
  };

  const auto [genuine, payload] = send_from_a(0x30);
  ASSERT_EQ(genuine.size(), transport::kHeaderSize + 48 + kAeadTagSize);
  const PeerStats stats_before = b.stats();
  for (size_t pos = 0; pos < genuine.size(); ++pos) {
    for (uint8_t pattern : kPatterns) {
      SCOPED_TRACE(::testing::Message() << "byte " << pos << " ^ " << int{pattern});
      auto r = b_receives(flipped(genuine, pos, pattern));
      ASSERT_FALSE(r.ok());
      if (pos < transport::kReceiver) {
        EXPECT_TRUE(r.error() == ProtoError::kBadType || r.error() == ProtoError::kBadLength) << to_string(r.error());
      } else if (pos < transport::kCounter) {
        EXPECT_EQ(r.error(), ProtoError::kWrongIndex) << to_string(r.error());
      } else if (pos < transport::kData) {
        // A counter we have seen, or a new one the tag does not match.
        EXPECT_TRUE(r.error() == ProtoError::kReplayedCounter || r.error() == ProtoError::kDecryptFailed)
            << to_string(r.error());
      } else {
        EXPECT_EQ(r.error(), ProtoError::kDecryptFailed) << to_string(r.error());
      }
      ASSERT_TRUE(b_out.delivered.empty());
      ASSERT_TRUE(b_out.datagrams.empty());
      ASSERT_EQ(b.stats().rx_packets, stats_before.rx_packets);
      ASSERT_EQ(b.stats().rx_bytes, stats_before.rx_bytes);
    }
  }

  // The genuine packet is still delivered, exactly once, and so is the next.
  ASSERT_TRUE(b_receives(genuine).ok());
  ASSERT_EQ(b_out.delivered.size(), 1u);
  EXPECT_TRUE(std::equal(payload.begin(), payload.end(), b_out.delivered[0].begin()));
  EXPECT_EQ(b_receives(genuine).error(), ProtoError::kReplayedCounter);
  const auto [next, next_payload] = send_from_a(0x70);
  ASSERT_TRUE(b_receives(next).ok());
  ASSERT_EQ(b_out.delivered.size(), 2u);
  EXPECT_TRUE(std::equal(next_payload.begin(), next_payload.end(), b_out.delivered[1].begin()));
  EXPECT_EQ(b.stats().rx_packets, stats_before.rx_packets + 2);
}

}  // namespace
}  // namespace sitelink::handshake
