// ReplayWindow: a fixed table of edge cases run in sequence on one window (in
// the style of the kernel's selftest/counter.c), a naive reference model
// compared against the bitmap for many random sequences, and a check that
// would_accept() is a pure query.
//
// The boundary is the one replay.cc implements: with next = newest + 1, a
// counter c < next is accepted iff it is unseen and next - c <=
// kCounterWindowSize, i.e. newest - (kCounterWindowSize - 1) is the oldest
// counter still accepted and newest - kCounterWindowSize the newest refused
// for age. (The kernel's counter_validate keeps one more: it accepts
// newest - COUNTER_WINDOW_SIZE. Being one stricter is safe.)
#include "handshake/replay.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <set>
#include <type_traits>
#include <vector>

namespace sitelink::handshake {
namespace {

constexpr uint64_t W = kCounterWindowSize;
constexpr uint64_t R = kRejectAfterMessages;
constexpr uint64_t kRing = kCounterBitsTotal;

static_assert(std::is_trivially_copyable_v<ReplayWindow>);

// Raw bytes of the window, to prove a call changed nothing.
std::vector<uint8_t> snapshot(const ReplayWindow& w) {
  std::vector<uint8_t> out(sizeof w);
  std::memcpy(out.data(), &w, sizeof w);
  return out;
}

struct Step {
  uint64_t counter;
  bool accepted;
};

TEST(ReplayWindowTest, EdgeCaseTableInSequence) {
  // L plays the role of the kernel's T_LIM: the first lag (newest - c) that
  // is too old here.
  constexpr uint64_t L = W;
  constexpr uint64_t E = 4 * L;                // newest after the "exact edge" jump
  constexpr uint64_t J = E + kRing + 100;      // one whole ring further
  constexpr uint64_t J2 = J + 10 * kRing + 3;  // ten rings further
  const Step table[] = {
      {0, true},
      {0, false},  // replay of the very first counter
      {1, true},
      {1, false},
      {9, true},  // a jump, leaving 2..8 open
      {8, true},
      {7, true},
      {7, false},
      {L, true},
      {L - 1, true},
      {L - 1, false},
      {L - 2, true},
      {2, true},  // next - 2 == L - 1 <= W: still inside
      {2, false},
      {L + 16, true},
      {3, false},  // next - 3 == L + 14 > W: too old
      {L + 16, false},
      // The exact window edge.
      {E, true},
      {E - (W - 1), true},  // next - c == W: the oldest accepted
      {10, false},
      {E - W, false},  // next - c == W + 1: one too old
      {E - (W + 1), false},
      {E - (W - 2), true},
      {E - (W - 1), false},  // now seen
      {0, false},
      // A jump of more than the whole ring: every old bit must be cleared.
      // E + 65 + kRing shares its ring bit with E - (W - 1) (accepted above),
      // and E + kRing shares one with E.
      {J, true},
      {E + 65 + kRing, true},
      {E + kRing, true},
      {E + 65 + kRing, false},
      {J - (W - 1), true},
      {J - W, false},
      {E, false},
      {J2, true},
      {J2 - 1, true},
      {J2 - 64, true},
      {J2 - (W - 1), true},
      {J2 - W, false},
      {J, false},
      // A small forward step that crosses a word boundary.
      {J2 + 64, true},
      {J2 + 63, true},
      {J2 + 1, true},
      {J2 + 64, false},
      // The end of the counter space.
      {R, false},
      {R - 1, true},
      {R, false},
      {R - 1, false},
      {R - 2, true},
      {R + 1, false},
      {R + 2, false},
      {R - 2, false},
      {R - 3, true},
      {R - W, true},  // next == R, next - c == W
      {R - W - 1, false},
      {UINT64_MAX, false},
      {UINT64_MAX - 1, false},
      {0, false},
      {J2, false},
  };
  ReplayWindow w;
  size_t i = 0;
  for (const Step& s : table) {
    ++i;
    SCOPED_TRACE(::testing::Message() << "step " << i << ", counter " << s.counter);
    EXPECT_EQ(w.would_accept(s.counter), s.accepted);
    EXPECT_EQ(w.accept(s.counter), s.accepted);
    EXPECT_FALSE(w.would_accept(s.counter)) << "a counter is never acceptable twice in a row";
  }
}

TEST(ReplayWindowTest, FreshWindowLimits) {
  ReplayWindow w;
  EXPECT_FALSE(w.accept(UINT64_MAX));
  EXPECT_FALSE(w.accept(R));
  EXPECT_TRUE(w.accept(R - 1));  // the first counter may be the last usable one
  EXPECT_FALSE(w.accept(0));
  EXPECT_FALSE(w.accept(R - 1));
  w.reset();
  EXPECT_TRUE(w.accept(0));
  EXPECT_TRUE(w.accept(R - 1));
}

TEST(ReplayWindowTest, ResetForgetsEverything) {
  ReplayWindow w;
  for (uint64_t c = 0; c < 1000; ++c) ASSERT_TRUE(w.accept(c));
  w.reset();
  EXPECT_EQ(snapshot(w), snapshot(ReplayWindow{}));
  for (uint64_t c = 0; c < 1000; ++c) EXPECT_TRUE(w.accept(c));
}

TEST(ReplayWindowTest, EveryCounterInOrderThenEveryReplay) {
  ReplayWindow w;
  constexpr uint64_t kN = 3 * kRing + 17;
  for (uint64_t c = 0; c < kN; ++c) ASSERT_TRUE(w.accept(c)) << c;
  for (uint64_t c = 0; c < kN; ++c) ASSERT_FALSE(w.accept(c)) << c;
}

TEST(ReplayWindowTest, ReverseOrderWithinWindow) {
  ReplayWindow w;
  const uint64_t newest = 5 * kRing + 33;
  ASSERT_TRUE(w.accept(newest));
  for (uint64_t lag = W - 1; lag >= 1; --lag) ASSERT_TRUE(w.accept(newest - lag)) << lag;
  for (uint64_t lag = 0; lag < W + 100; ++lag) ASSERT_FALSE(w.accept(newest - lag)) << lag;
}

// The obvious, slow implementation of the same rules.
class ModelWindow {
 public:
  bool would_accept(uint64_t c) const {
    if (c >= R) return false;
    if (seen_.count(c) != 0) return false;
    if (c < next_ && next_ - c > W) return false;
    return true;
  }
  bool accept(uint64_t c) {
    if (!would_accept(c)) return false;
    seen_.insert(c);
    if (c >= next_) next_ = c + 1;
    // Anything this old is refused by the age rule anyway; keep the set small.
    while (!seen_.empty() && next_ - *seen_.begin() > W) seen_.erase(seen_.begin());
    return true;
  }
  uint64_t next() const { return next_; }

 private:
  std::set<uint64_t> seen_;
  uint64_t next_ = 0;  // newest accepted + 1
};

class CounterSource {
 public:
  explicit CounterSource(uint64_t seed) : gen_(seed) {}

  uint64_t pick(uint64_t next, const std::vector<uint64_t>& recent) {
    const uint64_t newest = next == 0 ? 0 : next - 1;
    switch (below(14)) {
      case 0:
      case 1:
      case 2:
      case 3: return next + below(3);  // in order, or a small gap
      case 4:
      case 5:
      case 6: return sub(newest, below(64));                                   // reordered a little
      case 7: return sub(newest, below(W + 1));                                // anywhere in the window
      case 8: return sub(newest, W - 3 + below(7));                            // around the edge
      case 9: return sub(newest, W + 1 + below(3 * kRing));                    // beyond the window
      case 10: return recent.empty() ? newest : recent[below(recent.size())];  // duplicate
      case 11: return next + 60 + below(3 * kRing);                            // jump, possibly past the whole ring
      case 12:
        if (below(50) == 0) return R - 1 - below(2 * kRing);  // near the end of the space
        return next + below(kRing / 2);
      default:
        if (below(200) == 0) return R + below(3) - 1;  // R - 1, R, R + 1
        if (below(200) == 0) return UINT64_MAX - below(2);
        return sub(newest, below(3 * W));
    }
  }
  uint64_t below(uint64_t n) { return std::uniform_int_distribution<uint64_t>(0, n - 1)(gen_); }

 private:
  static uint64_t sub(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }
  std::mt19937_64 gen_;
};

TEST(ReplayWindowTest, AgreesWithReferenceModel) {
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    CounterSource src(seed);
    ReplayWindow w;
    ModelWindow model;
    std::vector<uint64_t> recent;
    size_t accepted = 0;
    for (int step = 0; step < 20000; ++step) {
      const uint64_t c = src.pick(model.next(), recent);
      // A few pure queries around the current position first.
      for (int probe = 0; probe < 2; ++probe) {
        const uint64_t q = src.pick(model.next(), recent);
        ASSERT_EQ(w.would_accept(q), model.would_accept(q)) << "probe " << q << " at step " << step;
      }
      const bool want = model.would_accept(c);
      ASSERT_EQ(w.would_accept(c), want) << "counter " << c << " at step " << step;
      ASSERT_EQ(w.accept(c), model.accept(c)) << "counter " << c << " at step " << step;
      if (want) {
        ++accepted;
        recent.push_back(c);
        if (recent.size() > 256) recent.erase(recent.begin(), recent.begin() + 128);
      }
    }
    EXPECT_GT(accepted, 1000u);  // the mix really exercises acceptance
  }
}

TEST(ReplayWindowTest, WouldAcceptNeverChangesState) {
  CounterSource src(99);
  ReplayWindow w;
  ModelWindow model;
  std::vector<uint64_t> recent;
  for (int step = 0; step < 5000; ++step) {
    const auto before = snapshot(w);
    for (int probe = 0; probe < 8; ++probe) {
      const uint64_t q = src.pick(model.next(), recent);
      (void)w.would_accept(q);
    }
    (void)w.would_accept(0);
    (void)w.would_accept(UINT64_MAX);
    (void)w.would_accept(R - 1);
    (void)w.would_accept(model.next());
    ASSERT_EQ(snapshot(w), before) << "step " << step;
    const uint64_t c = src.pick(model.next(), recent);
    if (model.accept(c)) recent.push_back(c);
    (void)w.accept(c);
  }
  // A window that would accept a counter still accepts it after many queries.
  ReplayWindow fresh;
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(fresh.would_accept(42));
  EXPECT_TRUE(fresh.accept(42));
}

}  // namespace
}  // namespace sitelink::handshake
