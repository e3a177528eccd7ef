// Ratelimiter: the kernel's token bucket driven by a hand-held Instant:
// a burst of 5 then refusal, refill at 20 a second (50 ms buys exactly one
// more), the burst cap after idling, independent sources, IPv6 /64 sharing,
// IPv4 and IPv6 keys kept apart, the kMaxEntries cap with new sources refused,
// and gc of idle entries at most once a second.
#include "tunnel/ratelimiter.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <string>

namespace sitelink::tunnel {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;

const Instant kT0 = Instant::from_ns(100'000'000'000);  // 100 s after boot

config::IpAddress A(const std::string& text) {
  const auto a = config::IpAddress::parse(text);
  EXPECT_TRUE(a.has_value()) << text;
  return a.value_or(config::IpAddress());
}

// How many of `n` packets at `now` are allowed.
int allowed(Ratelimiter& r, const config::IpAddress& src, Instant now, int n) {
  int ok = 0;
  for (int i = 0; i < n; ++i) ok += r.allow(src, now) ? 1 : 0;
  return ok;
}

TEST(RatelimiterTest, BurstOfFiveThenRefused) {
  Ratelimiter r;
  const auto src = A("192.0.2.1");
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(r.allow(src, kT0)) << "packet " << i;
  EXPECT_FALSE(r.allow(src, kT0));
  EXPECT_FALSE(r.allow(src, kT0));
}

TEST(RatelimiterTest, RefillsAtTwentyPerSecond) {
  Ratelimiter r;
  const auto src = A("192.0.2.1");
  ASSERT_EQ(allowed(r, src, kT0, 5), 5);
  EXPECT_FALSE(r.allow(src, kT0 + milliseconds(50) - nanoseconds(1)));
  EXPECT_TRUE(r.allow(src, kT0 + milliseconds(50)));  // exactly one more
  EXPECT_FALSE(r.allow(src, kT0 + milliseconds(50)));
  EXPECT_EQ(allowed(r, src, kT0 + milliseconds(200), 10), 3);
}

TEST(RatelimiterTest, SustainedRateIsTwentyPerSecondAfterTheBurst) {
  Ratelimiter r;
  const auto src = A("192.0.2.1");
  int ok = 0;
  for (int ms = 0; ms < 1000; ++ms) ok += allowed(r, src, kT0 + milliseconds(ms), 1);
  // 5 from the full bucket, then one per 50 ms over 999 ms.
  EXPECT_GE(ok, 24);
  EXPECT_LE(ok, 25);
}

TEST(RatelimiterTest, CreditIsCappedAtTheBurst) {
  Ratelimiter r;
  const auto src = A("192.0.2.1");
  ASSERT_EQ(allowed(r, src, kT0, 5), 5);
  EXPECT_EQ(allowed(r, src, kT0 + milliseconds(900), 20), 5);   // idle, but not gc'd
  EXPECT_EQ(allowed(r, src, kT0 + seconds(1'000'000), 20), 5);  // a very long idle
}

TEST(RatelimiterTest, ClockSteppingBackGrantsNothing) {
  Ratelimiter r;
  const auto src = A("192.0.2.1");
  ASSERT_EQ(allowed(r, src, kT0, 5), 5);
  EXPECT_FALSE(r.allow(src, kT0 - seconds(10)));
  EXPECT_FALSE(r.allow(src, kT0 + milliseconds(49)));
  EXPECT_TRUE(r.allow(src, kT0 + milliseconds(50)));
}

TEST(RatelimiterTest, SourcesAreIndependent) {
  Ratelimiter r;
  ASSERT_EQ(allowed(r, A("192.0.2.1"), kT0, 10), 5);
  EXPECT_EQ(allowed(r, A("192.0.2.2"), kT0, 10), 5);
  EXPECT_EQ(allowed(r, A("2001:db8::1"), kT0, 10), 5);
  EXPECT_EQ(r.size(), 3u);
}

TEST(RatelimiterTest, Ipv6SourcesShareABucketPerSlash64) {
  Ratelimiter r;
  // Three addresses in 2001:db8:1:2::/64 draw on one bucket of 5.
  EXPECT_EQ(allowed(r, A("2001:db8:1:2::1"), kT0, 2), 2);
  EXPECT_EQ(allowed(r, A("2001:db8:1:2:ffff:ffff:ffff:ffff"), kT0, 2), 2);
  EXPECT_EQ(allowed(r, A("2001:db8:1:2:abcd::9"), kT0, 5), 1);
  // The neighbouring /64s have their own.
  EXPECT_EQ(allowed(r, A("2001:db8:1:3::1"), kT0, 10), 5);
  EXPECT_EQ(allowed(r, A("2001:db8:1:1::1"), kT0, 10), 5);
  EXPECT_EQ(r.size(), 3u);
}

TEST(RatelimiterTest, Ipv4AndIpv6KeysNeverCollide) {
  Ratelimiter r;
  ASSERT_EQ(allowed(r, A("10.0.0.1"), kT0, 10), 5);
  // This /64's upper 64 bits equal the IPv4 address as a number.
  EXPECT_EQ(allowed(r, A("0:0:a00:1::5"), kT0, 10), 5);
}

TEST(RatelimiterTest, V4MappedIpv6IsTheIpv4Source) {
  Ratelimiter r;
  ASSERT_EQ(allowed(r, A("192.0.2.1"), kT0, 3), 3);
  EXPECT_EQ(allowed(r, A("::ffff:192.0.2.1"), kT0, 10), 2);
  EXPECT_EQ(allowed(r, A("::ffff:192.0.2.2"), kT0, 10), 5);  // not one bucket for all of IPv4
}

config::IpAddress nth_v4(size_t i) {
  return config::IpAddress::v4({10, static_cast<uint8_t>(i >> 16), static_cast<uint8_t>(i >> 8),
                                static_cast<uint8_t>(i)});
}

TEST(RatelimiterTest, FullTableRefusesNewSourcesUntilGcFreesIdleOnes) {
  Ratelimiter r;
  for (size_t i = 0; i < Ratelimiter::kMaxEntries; ++i) ASSERT_TRUE(r.allow(nth_v4(i), kT0));
  ASSERT_EQ(r.size(), Ratelimiter::kMaxEntries);
  const auto newcomer = A("198.51.100.1");
  EXPECT_FALSE(r.allow(newcomer, kT0));
  EXPECT_EQ(r.size(), Ratelimiter::kMaxEntries);
  // Known sources go on as before (4 left at T0, so the 5th and 6th fail).
  EXPECT_EQ(allowed(r, nth_v4(0), kT0, 6), 4);
  EXPECT_EQ(allowed(r, nth_v4(1), kT0 + milliseconds(500), 6), 5);
  EXPECT_FALSE(r.allow(newcomer, kT0 + milliseconds(500)));
  // Past a second the untouched entries are idle and gc drops them; the
  // one used at +500 ms stays, and the newcomer gets a bucket.
  const Instant later = kT0 + seconds(1) + milliseconds(1);
  EXPECT_TRUE(r.allow(newcomer, later));
  EXPECT_EQ(r.size(), 2u);
  EXPECT_TRUE(r.allow(nth_v4(2), later));  // gone, so new again
  EXPECT_EQ(r.size(), 3u);
}

TEST(RatelimiterTest, GcRunsAtMostOnceASecondAndDropsOnlyIdleEntries) {
  Ratelimiter r;
  ASSERT_TRUE(r.allow(A("192.0.2.1"), kT0));                      // gc at T0 (empty)
  ASSERT_TRUE(r.allow(A("192.0.2.2"), kT0 + milliseconds(500)));  // no gc
  ASSERT_TRUE(r.allow(A("192.0.2.3"), kT0 + milliseconds(1200)));
  EXPECT_EQ(r.size(), 2u);  // gc at 1.2 s: .1 (idle 1.2 s) gone, .2 (0.7 s) kept
  ASSERT_TRUE(r.allow(A("192.0.2.4"), kT0 + milliseconds(1600)));
  EXPECT_EQ(r.size(), 3u);  // .2 is idle 1.1 s, but the last gc was 0.4 s ago
  ASSERT_TRUE(r.allow(A("192.0.2.5"), kT0 + milliseconds(2200)));
  EXPECT_EQ(r.size(), 3u);  // gc at 2.2 s: .2 gone; .3 (exactly 1 s), .4 and .5 kept
}

TEST(RatelimiterTest, SourceDroppedByGcStartsWithAFullBucket) {
  Ratelimiter r;
  const auto src = A("192.0.2.1");
  ASSERT_EQ(allowed(r, src, kT0, 10), 5);
  EXPECT_EQ(allowed(r, src, kT0 + seconds(5), 10), 5);
  EXPECT_EQ(r.size(), 1u);
}

// The device-wide budget against a naive model: credit in nanoseconds,
// refilled by elapsed time up to the burst, one packet's cost per message.
TEST(HandshakeBudgetTest, MatchesANaiveBucketUnderRandomArrivals) {
  constexpr int64_t kCost = 1'000'000'000 / static_cast<int64_t>(HandshakeBudget::kPerSecond);
  constexpr int64_t kMax = kCost * static_cast<int64_t>(HandshakeBudget::kBurst);
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937 rng(seed);
    HandshakeBudget budget;
    int64_t model_tokens = kMax;
    Instant t = kT0, model_last = kT0;
    for (int i = 0; i < 20000; ++i) {
      // Bursts (0 ns apart) and gaps up to 2 ms, so the bucket empties and refills.
      const int64_t gap = rng() % 4 == 0 ? 0 : static_cast<int64_t>(rng() % 2'000'000);
      t = t + nanoseconds(gap);
      model_tokens = std::min(kMax, model_tokens + (t - model_last).count());
      model_last = t;
      const bool expect = model_tokens >= kCost;
      if (expect) model_tokens -= kCost;
      ASSERT_EQ(budget.take(t), expect) << "message " << i;
    }
  }
}

TEST(HandshakeBudgetTest, AFloodGetsTheBurstThenTheRate) {
  HandshakeBudget budget;
  int first = 0;
  for (int i = 0; i < 100000; ++i) first += budget.take(kT0) ? 1 : 0;
  EXPECT_EQ(first, static_cast<int>(HandshakeBudget::kBurst));
  // One message every microsecond for a second: the rate, no more.
  int second = 0;
  for (int us = 1; us <= 1'000'000; ++us) second += budget.take(kT0 + std::chrono::microseconds(us)) ? 1 : 0;
  EXPECT_EQ(second, static_cast<int>(HandshakeBudget::kPerSecond));
}

}  // namespace
}  // namespace sitelink::tunnel
