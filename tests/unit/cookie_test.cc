// mac1, mac2 and cookie replies (paper 5.4.4, 5.4.7): the responder under
// load makes an initiator prove its address before spending a DH on it.
#include "handshake/cookie.h"

#include <gtest/gtest.h>

#include "handshake/constants.h"
#include "handshake/noise.h"
#include "support/test_support.h"

namespace sitelink::handshake {
namespace {

using namespace std::chrono_literals;

class Cookies : public ::testing::Test {
 protected:
  test::SeededRng rng{3};
  LocalIdentity initiator{PrivateKey::generate(rng)};
  LocalIdentity responder{PrivateKey::generate(rng)};
  Handshake hs{initiator, responder.public_key(), PresharedKey{}};
  CookieChecker checker{responder.public_key()};
  CookieGenerator generator{responder.public_key()};
  const std::array<uint8_t, 6> source{203, 0, 113, 7, 0xca, 0x6c};
  const std::array<uint8_t, 6> other_source{203, 0, 113, 8, 0xca, 0x6c};

  std::array<uint8_t, initiation::kSize> initiation_at(Instant now) {
    std::array<uint8_t, initiation::kSize> msg;
    EXPECT_TRUE(hs.create_initiation(msg, 1, WallTime{now.since_boot}, rng).ok());
    generator.add_macs(msg, now);
    return msg;
  }
  // The responder under load: mac2 fails, so it answers with a cookie reply
  // that the initiator takes.
  void obtain_cookie(Instant now) {
    auto msg = initiation_at(now);
    ASSERT_FALSE(checker.check_mac2(msg, source, now, rng));
    std::array<uint8_t, cookie_reply::kSize> reply;
    checker.create_reply(reply, msg, source, now, rng);
    EXPECT_EQ(load_le32(&reply[cookie_reply::kReceiver]), 1u);  // addressed to the sender index
    ASSERT_TRUE(generator.consume_reply(CookieReplyMsg{reply}, now));
  }
};

TEST_F(Cookies, Mac1IsKeyedByTheReceiversPublicKey) {
  auto msg = initiation_at(Instant{1s});
  EXPECT_TRUE(checker.check_mac1(msg));
  EXPECT_FALSE(CookieChecker(initiator.public_key()).check_mac1(msg));
  // Without a cookie, mac2 is all zeros.
  EXPECT_TRUE(ct_is_zero(std::span(msg).subspan(initiation::kMac2)));
}

TEST_F(Cookies, CookieReplyMakesMac2ValidForThatSourceOnly) {
  obtain_cookie(Instant{1s});
  EXPECT_TRUE(generator.has_fresh_cookie(Instant{1s}));
  auto msg = initiation_at(Instant{2s});
  EXPECT_TRUE(checker.check_mac1(msg));
  EXPECT_TRUE(checker.check_mac2(msg, source, Instant{2s}, rng));
  EXPECT_FALSE(checker.check_mac2(msg, other_source, Instant{2s}, rng));
}

TEST_F(Cookies, ReplyIsRefusedUnlessItAnswersOurLastMac1) {
  std::array<uint8_t, cookie_reply::kSize> reply;
  auto first = initiation_at(Instant{1s});
  checker.create_reply(reply, first, source, Instant{1s}, rng);
  initiation_at(Instant{2s});  // a newer initiation: the reply's AD no longer matches
  EXPECT_FALSE(generator.consume_reply(CookieReplyMsg{reply}, Instant{2s}));
  EXPECT_FALSE(generator.has_fresh_cookie(Instant{2s}));
}

TEST_F(Cookies, ReplyIsAcceptedOnlyOnce) {
  auto msg = initiation_at(Instant{1s});
  std::array<uint8_t, cookie_reply::kSize> reply;
  checker.create_reply(reply, msg, source, Instant{1s}, rng);
  ASSERT_TRUE(generator.consume_reply(CookieReplyMsg{reply}, Instant{1s}));
  EXPECT_FALSE(generator.consume_reply(CookieReplyMsg{reply}, Instant{1s}));
}

TEST_F(Cookies, UnsolicitedReplyIsRefused) {
  std::array<uint8_t, cookie_reply::kSize> reply{};
  store_le32(reply.data(), 3);
  EXPECT_FALSE(generator.consume_reply(CookieReplyMsg{reply}, Instant{1s}));
}

TEST_F(Cookies, InitiatorStopsUsingACookieBeforeTheResponderRotatesIt) {
  obtain_cookie(Instant{10s});
  const Instant stale = Instant{10s} + (kCookieSecretMaxAge - kCookieSecretLatency);
  EXPECT_TRUE(generator.has_fresh_cookie(stale - 1ms));
  EXPECT_FALSE(generator.has_fresh_cookie(stale));
  auto msg = initiation_at(stale);
  EXPECT_TRUE(ct_is_zero(std::span(msg).subspan(initiation::kMac2)));
}

TEST_F(Cookies, ResponderSecretRotatesEveryTwoMinutes) {
  obtain_cookie(Instant{10s});
  auto msg = initiation_at(Instant{11s});
  EXPECT_TRUE(checker.check_mac2(msg, source, Instant{11s}, rng));
  // Past the secret's lifetime, the same mac2 no longer verifies.
  EXPECT_FALSE(checker.check_mac2(msg, source, Instant{10s} + kCookieSecretMaxAge + 1s, rng));
}

TEST_F(Cookies, Mac1AndMac2CoverTheWholeMessage) {
  obtain_cookie(Instant{1s});
  auto msg = initiation_at(Instant{2s});
  for (size_t i = 0; i < initiation::kMac2; ++i) {
    auto bad = msg;
    bad[i] ^= 0x80;
    const bool mac1_ok = checker.check_mac1(bad);
    const bool mac2_ok = checker.check_mac2(bad, source, Instant{2s}, rng);
    EXPECT_FALSE(mac1_ok && mac2_ok) << "byte " << i;
    if (i < initiation::kMac1) {
      EXPECT_FALSE(mac1_ok) << "byte " << i;
    }
  }
}

}  // namespace
}  // namespace sitelink::handshake
