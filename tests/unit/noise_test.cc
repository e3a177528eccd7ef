// WireGuard's handshake between two in-memory parties, and against a real
// initiation captured from wireguard-go (tests/data/wg_go_capture).
#include "handshake/noise.h"

#include <gtest/gtest.h>

#include "handshake/constants.h"
#include "handshake/cookie.h"
#include "support/test_support.h"

namespace sitelink::handshake {
namespace {

using namespace std::chrono_literals;
using test::SeededRng;

struct Pair {
  SeededRng rng{7};
  LocalIdentity alice{PrivateKey::generate(rng)};
  LocalIdentity bob{PrivateKey::generate(rng)};
  PresharedKey psk = PresharedKey::generate(rng);
  Handshake a{alice, bob.public_key(), psk};
  Handshake b{bob, alice.public_key(), psk};
};

WallTime wall(int64_t s) { return WallTime{std::chrono::seconds(s)}; }
Instant mono(int64_t s) { return Instant{std::chrono::seconds(s)}; }

void expect_same_transcript(const noise_ik::SymmetricState* x, const noise_ik::SymmetricState* y) {
  ASSERT_NE(x, nullptr);
  ASSERT_NE(y, nullptr);
  EXPECT_EQ(test::hex(x->hash), test::hex(y->hash));
  EXPECT_EQ(test::hex(x->chaining_key.span()), test::hex(y->chaining_key.span()));
}

TEST(Noise, TwoPartiesAgreeAfterEveryMessage) {
  Pair p;
  std::array<uint8_t, initiation::kSize> init;
  ASSERT_TRUE(p.a.create_initiation(init, 11, wall(1000), p.rng).ok());
  EXPECT_EQ(p.a.state(), Handshake::State::kCreatedInitiation);
  EXPECT_EQ(load_le32(init.data()), 1u);
  EXPECT_EQ(load_le32(&init[initiation::kSender]), 11u);

  auto consumed = consume_initiation(p.bob, InitiationMsg{init});
  ASSERT_TRUE(consumed.ok());
  EXPECT_EQ(consumed->initiator_static, p.alice.public_key());
  EXPECT_EQ(consumed->sender_index, 11u);
  ASSERT_TRUE(p.b.accept_initiation(std::move(*consumed), mono(1)).ok());
  expect_same_transcript(p.a.transcript(), p.b.transcript());

  std::array<uint8_t, response::kSize> resp;
  auto bob_keys = p.b.create_response(resp, 22, p.rng);
  ASSERT_TRUE(bob_keys.ok());
  EXPECT_EQ(p.b.state(), Handshake::State::kZeroed);
  auto alice_keys = p.a.consume_response(ResponseMsg{resp});
  ASSERT_TRUE(alice_keys.ok());

  EXPECT_EQ(test::hex(alice_keys->handshake_hash), test::hex(bob_keys->handshake_hash));
  EXPECT_EQ(test::hex(alice_keys->send.span()), test::hex(bob_keys->receive.span()));
  EXPECT_EQ(test::hex(alice_keys->receive.span()), test::hex(bob_keys->send.span()));
  EXPECT_NE(test::hex(alice_keys->send.span()), test::hex(alice_keys->receive.span()));
  EXPECT_EQ(alice_keys->local_index, 11u);
  EXPECT_EQ(alice_keys->remote_index, 22u);
  EXPECT_EQ(bob_keys->local_index, 22u);
  EXPECT_EQ(bob_keys->remote_index, 11u);
  EXPECT_TRUE(alice_keys->initiator);
  EXPECT_FALSE(bob_keys->initiator);
}

TEST(Noise, PresharedKeyMismatchFailsAtResponse) {
  Pair p;
  p.b.set_preshared_key(PresharedKey{});  // Bob has no PSK, Alice has one
  std::array<uint8_t, initiation::kSize> init;
  ASSERT_TRUE(p.a.create_initiation(init, 1, wall(1), p.rng).ok());
  auto consumed = consume_initiation(p.bob, InitiationMsg{init});
  ASSERT_TRUE(consumed.ok());  // the PSK only enters with the response
  ASSERT_TRUE(p.b.accept_initiation(std::move(*consumed), mono(1)).ok());
  std::array<uint8_t, response::kSize> resp;
  ASSERT_TRUE(p.b.create_response(resp, 2, p.rng).ok());
  auto r = p.a.consume_response(ResponseMsg{resp});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), ProtoError::kDecryptFailed);
  EXPECT_EQ(p.a.state(), Handshake::State::kCreatedInitiation);
}

TEST(Noise, InitiationForAnotherResponderDoesNotDecrypt) {
  Pair p;
  LocalIdentity carol{PrivateKey::generate(p.rng)};
  std::array<uint8_t, initiation::kSize> init;
  ASSERT_TRUE(p.a.create_initiation(init, 1, wall(1), p.rng).ok());
  auto consumed = consume_initiation(carol, InitiationMsg{init});
  ASSERT_FALSE(consumed.ok());
  EXPECT_EQ(consumed.error(), ProtoError::kDecryptFailed);
}

// Runs one initiation from `a` to `b` at the given times.
Result<void, ProtoError> initiate(Pair& p, WallTime w, Instant m) {
  std::array<uint8_t, initiation::kSize> init;
  if (auto r = p.a.create_initiation(init, 1, w, p.rng); !r) return r;
  auto consumed = consume_initiation(p.bob, InitiationMsg{init});
  if (!consumed) return Err(consumed.error());
  return p.b.accept_initiation(std::move(*consumed), m);
}

TEST(Noise, ReplayedOrOlderTimestampIsRefused) {
  Pair p;
  std::array<uint8_t, initiation::kSize> init;
  ASSERT_TRUE(p.a.create_initiation(init, 1, wall(100), p.rng).ok());
  auto first = consume_initiation(p.bob, InitiationMsg{init});
  auto replay = consume_initiation(p.bob, InitiationMsg{init});
  ASSERT_TRUE(first.ok() && replay.ok());
  ASSERT_TRUE(p.b.accept_initiation(std::move(*first), mono(1)).ok());
  auto r = p.b.accept_initiation(std::move(*replay), mono(10));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), ProtoError::kReplayedTimestamp);
  // An older clock is refused too; a newer one is accepted.
  EXPECT_EQ(initiate(p, wall(99), mono(20)).error(), ProtoError::kReplayedTimestamp);
  EXPECT_TRUE(initiate(p, wall(101), mono(30)).ok());
}

TEST(Noise, InitiationsFasterThanFiftyPerSecondAreRefused) {
  Pair p;
  ASSERT_TRUE(initiate(p, wall(1), Instant{1s}).ok());
  auto r = initiate(p, wall(2), Instant{1s + 19ms});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), ProtoError::kFloodedInitiation);
  EXPECT_TRUE(initiate(p, wall(3), Instant{1s + 20ms}).ok());
}

TEST(Noise, AcceptRefusesInitiationFromAnotherPeer) {
  Pair p;
  LocalIdentity carol{PrivateKey::generate(p.rng)};
  Handshake carol_to_bob{carol, p.bob.public_key(), PresharedKey{}};
  std::array<uint8_t, initiation::kSize> init;
  ASSERT_TRUE(carol_to_bob.create_initiation(init, 1, wall(1), p.rng).ok());
  auto consumed = consume_initiation(p.bob, InitiationMsg{init});
  ASSERT_TRUE(consumed.ok());
  EXPECT_EQ(p.b.accept_initiation(std::move(*consumed), mono(1)).error(), ProtoError::kUnknownPeer);
}

TEST(Noise, ResponseToWrongIndexOrUnsolicitedIsRefused) {
  Pair p;
  std::array<uint8_t, response::kSize> resp{};
  EXPECT_EQ(p.a.consume_response(ResponseMsg{resp}).error(), ProtoError::kUnexpectedMessage);
  std::array<uint8_t, initiation::kSize> init;
  ASSERT_TRUE(p.a.create_initiation(init, 5, wall(1), p.rng).ok());
  auto consumed = consume_initiation(p.bob, InitiationMsg{init});
  ASSERT_TRUE(p.b.accept_initiation(std::move(*consumed), mono(1)).ok());
  ASSERT_TRUE(p.b.create_response(resp, 6, p.rng).ok());
  store_le32(&resp[response::kReceiver], 4);
  EXPECT_EQ(p.a.consume_response(ResponseMsg{resp}).error(), ProtoError::kWrongIndex);
}

TEST(Noise, Tai64nIsBigEndianWithWhitenedNanoseconds) {
  const Tai64n t = tai64n(WallTime{std::chrono::seconds(1) + std::chrono::nanoseconds(123'456'789)});
  EXPECT_EQ(test::hex(t), "400000000000000b" + test::hex(std::array<uint8_t, 4>{0x07, 0x00, 0x00, 0x00}));
  EXPECT_TRUE(tai64n_after(tai64n(wall(2)), tai64n(wall(1))));
  EXPECT_FALSE(tai64n_after(tai64n(wall(1)), tai64n(wall(1))));
  // Within one 2^24 ns step the timestamp does not change.
  EXPECT_EQ(tai64n(WallTime{1s + 1ns}), tai64n(WallTime{1s + 16'000'000ns}));
}

// --- A real initiation from wireguard-go -----------------------------------------

std::string trimmed(const std::string& s) {
  const auto e = s.find_last_not_of(" \n\r\t");
  return s.substr(0, e + 1);
}

TEST(Noise, ConsumesInitiationCapturedFromWireguardGo) {
  const std::string dir = "wg_go_capture/";
  auto responder = PrivateKey::from_base64(trimmed(test::read_text(test::data_path(dir + "responder.key"))));
  auto initiator = PublicKey::from_base64(trimmed(test::read_text(test::data_path(dir + "initiator.pub"))));
  auto psk = PresharedKey::from_base64(trimmed(test::read_text(test::data_path(dir + "psk"))));
  ASSERT_TRUE(responder && initiator && psk);
  std::vector<uint8_t> datagram = test::unhex(trimmed(test::read_text(test::data_path(dir + "initiation.hex"))));
  const long captured_at = std::stol(test::read_text(test::data_path(dir + "captured_at.txt")));

  LocalIdentity local(std::move(*responder));
  auto msg = classify(datagram);
  ASSERT_TRUE(msg.ok());
  ASSERT_TRUE(std::holds_alternative<InitiationMsg>(*msg));
  const auto& init = std::get<InitiationMsg>(*msg);
  EXPECT_TRUE(CookieChecker(local.public_key()).check_mac1(init.bytes));

  auto consumed = consume_initiation(local, init);
  ASSERT_TRUE(consumed.ok()) << to_string(consumed.error());
  EXPECT_EQ(consumed->initiator_static.to_base64(), initiator->to_base64());
  EXPECT_EQ(consumed->sender_index, init.sender());

  // Our responder accepts it and answers.
  SeededRng rng(1);
  Handshake hs(local, *initiator, *psk);
  ASSERT_TRUE(hs.accept_initiation(std::move(*consumed), mono(1)).ok());
  // The timestamp is the capture's wall clock in TAI64N.
  ASSERT_TRUE(hs.latest_timestamp());
  EXPECT_EQ(load_be64(hs.latest_timestamp()->data()), (uint64_t{1} << 62) + 10 + static_cast<uint64_t>(captured_at));
  std::array<uint8_t, response::kSize> resp;
  auto keys = hs.create_response(resp, 77, rng);
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(keys->remote_index, init.sender());
}

TEST(Noise, CapturedInitiationWithAnyByteFlippedIsRefused) {
  const std::string dir = "wg_go_capture/";
  auto responder = PrivateKey::from_base64(trimmed(test::read_text(test::data_path(dir + "responder.key"))));
  ASSERT_TRUE(responder);
  LocalIdentity local(std::move(*responder));
  CookieChecker checker(local.public_key());
  const std::vector<uint8_t> good = test::unhex(trimmed(test::read_text(test::data_path(dir + "initiation.hex"))));
  for (size_t i = 0; i < initiation::kMac2; ++i) {
    std::vector<uint8_t> bad = good;
    bad[i] ^= 0x01;
    auto msg = classify(bad);
    const bool accepted = msg.ok() && checker.check_mac1(bad) && consume_initiation(local, InitiationMsg{bad}).ok();
    EXPECT_FALSE(accepted) << "byte " << i;
  }
}

}  // namespace
}  // namespace sitelink::handshake
