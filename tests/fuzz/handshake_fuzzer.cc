// libFuzzer target: one datagram into the handshake layer, as a device would
// take it, with fixed identities (keys from fixed seeds):
//
//   initiation   -> responder: check_mac1, check_mac2 and a cookie reply (the
//                   under-load path), consume_initiation, and for the known
//                   initiator accept_initiation + create_response on a fresh
//                   Handshake.
//   response     -> initiator: check_mac1, then consume_response on a fresh
//                   Handshake that has just sent the fixed initiation.
//   cookie reply -> a CookieGenerator that has just sent the fixed initiation.
//   transport    -> accessors only (the peer fuzzer covers decryption).
//
// mac1 is a keyed hash the fuzzer cannot guess, so initiations and responses
// are also tried a second time with mac1 recomputed, as anyone who knows the
// receiver's public key can. Everything a run touches is created in the run,
// so runs are independent. Invariants that hold for valid code are checked
// with FUZZ_CHECK (which aborts, so libFuzzer reports it).
//
// The seed corpus (corpus/handshake) holds messages made with the fixture
// below: a valid initiation (with and without mac2), a valid response to it,
// a cookie reply to it, and transport messages.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <variant>
#include <vector>

#include "handshake/cookie.h"
#include "handshake/crypto.h"
#include "handshake/messages.h"
#include "handshake/noise.h"

#ifndef SITELINK_TEST_DATA
#define SITELINK_TEST_DATA ""  // test_support.h's vector files are not used here
#endif
#include "fuzz/fuzz_check.h"
#include "tests/support/test_support.h"

namespace sitelink::handshake::fuzz_handshake {

using namespace std::chrono_literals;

inline constexpr uint64_t kInitiatorKeySeed = 0x1111;
inline constexpr uint64_t kResponderKeySeed = 0x2222;
inline constexpr uint64_t kPskSeed = 0x3333;
inline constexpr uint64_t kInitiatorEphemeralSeed = 0x4444;
inline constexpr uint64_t kResponderRngSeed = 0x5555;
inline constexpr uint32_t kInitiatorIndex = 0x01020304;
inline constexpr uint32_t kResponderIndex = 0x0a0b0c0d;
inline constexpr Instant kNow = Instant::from_ns(int64_t{3600} * 1'000'000'000);
inline constexpr WallTime kWall{std::chrono::seconds(1'700'000'000)};
inline constexpr std::array<uint8_t, 6> kSource = {203, 0, 113, 9, 0xca, 0x6c};

struct Fixture {
  LocalIdentity initiator;
  LocalIdentity responder;
  PresharedKey psk;
  // The initiator's initiation (mac1 for the responder, no mac2); every run
  // recreates the same one.
  std::array<uint8_t, initiation::kSize> initiation{};
};

inline PrivateKey key_from_seed(uint64_t seed) {
  test::SeededRng rng(seed);
  return PrivateKey::generate(rng);
}

inline PresharedKey psk_from_seed(uint64_t seed) {
  test::SeededRng rng(seed);
  return PresharedKey::generate(rng);
}

// The initiator's handshake right after it wrote the fixed initiation (to
// `out`, without macs).
inline Handshake fresh_initiator(const Fixture& f, std::span<uint8_t, initiation::kSize> out) {
  Handshake hs(f.initiator, f.responder.public_key(), f.psk);
  test::SeededRng rng(kInitiatorEphemeralSeed);
  FUZZ_CHECK(hs.create_initiation(out, kInitiatorIndex, kWall, rng).ok());
  return hs;
}

inline const Fixture& fixture() {
  static const Fixture* f = [] {
    auto* fx = new Fixture{LocalIdentity(key_from_seed(kInitiatorKeySeed)),
                           LocalIdentity(key_from_seed(kResponderKeySeed)), psk_from_seed(kPskSeed)};
    (void)fresh_initiator(*fx, fx->initiation);
    CookieGenerator(fx->responder.public_key()).add_macs(fx->initiation, kNow);
    return fx;
  }();
  return *f;
}

// Recomputes mac1 (and clears mac2) for the holder of `receiver`'s key.
inline std::vector<uint8_t> with_valid_mac1(Bytes msg, const PublicKey& receiver) {
  std::vector<uint8_t> copy(msg.begin(), msg.end());
  CookieGenerator(receiver).add_macs(copy, kNow);
  return copy;
}

inline void responder_receives(const Fixture& f, const InitiationMsg& msg) {
  CookieChecker checker(f.responder.public_key());
  test::SeededRng rng(kResponderRngSeed);
  if (!checker.check_mac1(msg.bytes)) return;

  // Under load: check mac2, and answer with a cookie reply. The sender of
  // this message (whose mac1 it is) must be able to open that reply, and its
  // next message must then pass the mac2 check.
  const bool mac2_ok = checker.check_mac2(msg.bytes, kSource, kNow, rng);
  std::array<uint8_t, cookie_reply::kSize> reply;
  checker.create_reply(reply, msg.bytes, kSource, kNow, rng);
  {
    auto classified = classify(reply);
    FUZZ_CHECK(classified.ok());
    const auto* cr = std::get_if<CookieReplyMsg>(&*classified);
    FUZZ_CHECK(cr != nullptr && cr->receiver() == msg.sender());
    std::vector<uint8_t> sent(msg.bytes.begin(), msg.bytes.end());
    CookieGenerator sender(f.responder.public_key());
    sender.add_macs(sent, kNow);  // the same mac1, so the reply answers it
    FUZZ_CHECK(sender.consume_reply(*cr, kNow));
    FUZZ_CHECK(sender.has_fresh_cookie(kNow));
    sender.add_macs(sent, kNow);
    FUZZ_CHECK(checker.check_mac2(sent, kSource, kNow, rng));
    if (mac2_ok) FUZZ_CHECK(std::equal(sent.begin(), sent.end(), msg.bytes.begin()));
  }

  auto consumed = consume_initiation(f.responder, msg);
  if (!consumed) {
    FUZZ_CHECK(consumed.error() == ProtoError::kDecryptFailed);
    return;
  }
  FUZZ_CHECK(consumed->sender_index == msg.sender());
  if (!(consumed->initiator_static == f.initiator.public_key())) return;  // unknown peer

  Handshake hs(f.responder, f.initiator.public_key(), f.psk);
  FUZZ_CHECK(hs.state() == Handshake::State::kZeroed);
  if (auto r = hs.accept_initiation(std::move(*consumed), kNow); !r) {
    FUZZ_CHECK(hs.state() == Handshake::State::kZeroed);
    return;
  }
  FUZZ_CHECK(hs.state() == Handshake::State::kConsumedInitiation);
  // A replay of the same initiation is refused and changes nothing.
  const Hash h = hs.transcript()->hash;
  if (auto again = consume_initiation(f.responder, msg); again.ok()) {
    FUZZ_CHECK(!hs.accept_initiation(std::move(*again), kNow + 1s).ok());
    FUZZ_CHECK(hs.state() == Handshake::State::kConsumedInitiation && hs.transcript()->hash == h);
  }
  std::array<uint8_t, response::kSize> resp;
  auto keys = hs.create_response(resp, kResponderIndex, rng);
  if (!keys) return;
  FUZZ_CHECK(hs.state() == Handshake::State::kZeroed);
  FUZZ_CHECK(keys->remote_index == msg.sender() && keys->local_index == kResponderIndex);
  auto classified = classify(resp);
  FUZZ_CHECK(classified.ok());
  const auto* rm = std::get_if<ResponseMsg>(&*classified);
  FUZZ_CHECK(rm != nullptr && rm->receiver() == msg.sender() && rm->sender() == kResponderIndex);
}

inline void initiator_receives(const Fixture& f, const ResponseMsg& msg) {
  CookieChecker checker(f.initiator.public_key());
  if (!checker.check_mac1(msg.bytes)) return;
  std::array<uint8_t, initiation::kSize> init;
  Handshake hs = fresh_initiator(f, init);
  FUZZ_CHECK(hs.state() == Handshake::State::kCreatedInitiation);
  const Hash before = hs.transcript()->hash;
  auto keys = hs.consume_response(msg);
  if (!keys) {
    // A refused response leaves the handshake exactly as it was.
    FUZZ_CHECK(hs.state() == Handshake::State::kCreatedInitiation);
    FUZZ_CHECK(hs.transcript()->hash == before);
    FUZZ_CHECK(hs.initiation_index() == kInitiatorIndex);
    return;
  }
  FUZZ_CHECK(msg.receiver() == kInitiatorIndex);
  FUZZ_CHECK(hs.state() == Handshake::State::kZeroed);
  FUZZ_CHECK(keys->local_index == kInitiatorIndex && keys->remote_index == msg.sender());
  FUZZ_CHECK(keys->initiator);
  // The same response cannot complete a second time.
  FUZZ_CHECK(!hs.consume_response(msg).ok());
}

inline void cookie_reply_received(const Fixture& f, const CookieReplyMsg& msg) {
  (void)msg.receiver();
  CookieGenerator gen(f.responder.public_key());
  std::array<uint8_t, initiation::kSize> sent = f.initiation;
  gen.add_macs(sent, kNow);
  FUZZ_CHECK(std::equal(sent.begin(), sent.end(), f.initiation.begin()));
  if (!gen.consume_reply(msg, kNow)) {
    FUZZ_CHECK(!gen.has_fresh_cookie(kNow));
    return;
  }
  FUZZ_CHECK(gen.has_fresh_cookie(kNow));
  FUZZ_CHECK(!gen.has_fresh_cookie(kNow + kCookieSecretMaxAge));
  FUZZ_CHECK(!gen.consume_reply(msg, kNow));  // one reply per message sent
  gen.add_macs(sent, kNow);
  FUZZ_CHECK(!std::all_of(sent.begin() + initiation::kMac2, sent.end(), [](uint8_t b) { return b == 0; }));
}

inline void run(const uint8_t* data, size_t size) {
  const Fixture& f = fixture();
  std::vector<uint8_t> d(data, data + size);
  auto m = classify(d);
  if (!m) return;
  if (const auto* init = std::get_if<InitiationMsg>(&*m)) {
    (void)init->sender();
    responder_receives(f, *init);
    std::vector<uint8_t> remaced = with_valid_mac1(init->bytes, f.responder.public_key());
    responder_receives(f, InitiationMsg{remaced});
  } else if (const auto* resp = std::get_if<ResponseMsg>(&*m)) {
    (void)resp->sender();
    initiator_receives(f, *resp);
    std::vector<uint8_t> remaced = with_valid_mac1(resp->bytes, f.initiator.public_key());
    initiator_receives(f, ResponseMsg{remaced});
  } else if (const auto* reply = std::get_if<CookieReplyMsg>(&*m)) {
    cookie_reply_received(f, *reply);
  } else if (const auto* t = std::get_if<TransportMsg>(&*m)) {
    (void)t->receiver();
    (void)t->counter();
  }
}

}  // namespace sitelink::handshake::fuzz_handshake

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool initialised = [] {
    sitelink::handshake::crypto_init();
    return true;
  }();
  (void)initialised;
  sitelink::handshake::fuzz_handshake::run(data, size);
  return 0;
}
