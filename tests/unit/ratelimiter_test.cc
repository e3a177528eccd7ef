// Ratelimiter: the kernel's token bucket driven by a hand-held Instant:
// a burst of 5 then refusal, refill at 20 a second (50 ms buys exactly one
// more), the burst cap after idling, independent sources, IPv6 /64 sharing,
// IPv4 and IPv6 keys kept apart, a full table that forgets its least
// recently heard source instead of refusing new ones (checked against a
// naive model), the capacity sized by memory as the kernel's, and gc of idle
// entries at most once a second.
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
  return config::IpAddress::v4(
      {10, static_cast<uint8_t>(i >> 16), static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i)});
}

TEST(RatelimiterTest, FullTableForgetsTheLeastRecentSourceInsteadOfRefusingNewOnes) {
  constexpr size_t kCap = 64;
  Ratelimiter r(kCap);
  for (size_t i = 0; i < kCap; ++i) ASSERT_TRUE(r.allow(nth_v4(i), kT0));
  ASSERT_EQ(r.size(), kCap);
  // Source 0 is heard from again: it is now the most recent.
  EXPECT_EQ(allowed(r, nth_v4(0), kT0, 6), 4);
  // A newcomer is let in (the kernel would refuse it) and source 1, the
  // least recently heard, is forgotten.
  const auto newcomer = A("198.51.100.1");
  EXPECT_TRUE(r.allow(newcomer, kT0));
  EXPECT_EQ(r.size(), kCap);
  EXPECT_EQ(r.evictions(), 1u);
  // Source 0 kept its (spent) bucket; source 1 starts again with a full one.
  EXPECT_FALSE(r.allow(nth_v4(0), kT0));
  EXPECT_EQ(allowed(r, nth_v4(1), kT0, 6), 5);
  // Past a second the untouched entries are idle and gc drops them.
  const Instant later = kT0 + seconds(1) + milliseconds(1);
  EXPECT_TRUE(r.allow(A("198.51.100.2"), later));
  EXPECT_EQ(r.size(), 1u);
}

// The table against a naive model: a list of (source, bucket) in order of
// last use, capped by dropping the front. Same verdicts, same size.
TEST(RatelimiterTest, MatchesANaiveLruModelUnderRandomTraffic) {
  constexpr size_t kCap = 16;
  constexpr int64_t kCost = 1'000'000'000 / Ratelimiter::kPacketsPerSecond;
  constexpr int64_t kMax = kCost * Ratelimiter::kPacketsBurstable;
  struct Model {
    uint32_t source;
    Instant last;
    int64_t tokens;
  };
  std::vector<Model> model;
  Ratelimiter r(kCap);
  std::mt19937 gen(7);
  Instant now = kT0;
  Instant last_gc{};
  for (int step = 0; step < 20000; ++step) {
    now = now + milliseconds(gen() % 3 == 0 ? gen() % 400 : 0);
    const auto src = static_cast<uint32_t>(gen() % 40);
    if (now - last_gc >= seconds(1)) {  // gc, as the real one: idle > 1 s, at most once a second
      last_gc = now;
      std::erase_if(model, [&](const Model& m) { return now - m.last > seconds(1); });
    }
    bool want = true;
    auto it = std::find_if(model.begin(), model.end(), [&](const Model& m) { return m.source == src; });
    if (it != model.end()) {
      Model m = *it;
      model.erase(it);
      m.tokens = std::min(kMax, m.tokens + (now - m.last).count());
      m.last = now;
      want = m.tokens >= kCost;
      if (want) m.tokens -= kCost;
      model.push_back(m);
    } else {
      if (model.size() >= kCap) model.erase(model.begin());
      model.push_back({src, now, kMax - kCost});
    }
    ASSERT_EQ(r.allow(nth_v4(src), now), want) << "step " << step;
    ASSERT_EQ(r.size(), model.size()) << "step " << step;
  }
}

TEST(RatelimiterTest, CapacityIsSizedByMemoryAsTheKernelSizesItsTable) {
  EXPECT_EQ(Ratelimiter::capacity_for_memory(uint64_t{8} << 30), 65536u);
  EXPECT_EQ(Ratelimiter::capacity_for_memory((uint64_t{1} << 30) + 1), 65536u);
  // 512 MiB: 512 MiB / 16 KiB / 8 = 4096 buckets, 8 entries each.
  EXPECT_EQ(Ratelimiter::capacity_for_memory(uint64_t{512} << 20), 32768u);
  EXPECT_EQ(Ratelimiter::capacity_for_memory(0), 128u);
  EXPECT_GE(Ratelimiter::default_capacity(), 128u);
  EXPECT_EQ(Ratelimiter().capacity(), Ratelimiter::default_capacity());
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
