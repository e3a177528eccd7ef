// The replay window (handshake/replay.h), one call per received packet:
//
//   Replay/InOrder      counters 0, 1, 2, ...
//   Replay/OutOfOrder   counters rising in blocks of 1024, shuffled inside each
//                       block (well within the 8128-counter window): all new
//   Replay/Duplicate    a counter seen before: refused
#include <algorithm>
#include <numeric>
#include <random>
#include <vector>

#include "handshake/replay.h"
#include "micro_support.h"

namespace sitelink::bench {
namespace {

void InOrder(benchmark::State& state) {
  ReplayWindow w;
  uint64_t counter = 0;
  run_steps(state, "an in-order counter was refused", [&] { return w.accept(counter++); });
}
BENCHMARK(InOrder)->Name("Replay/InOrder");

void OutOfOrder(benchmark::State& state) {
  constexpr uint64_t kBlock = 1024, kSpan = 64 * kBlock;
  std::vector<uint64_t> order(kSpan);
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(3);
  for (uint64_t b = 0; b < kSpan; b += kBlock) {
    std::shuffle(order.begin() + static_cast<std::ptrdiff_t>(b),
                 order.begin() + static_cast<std::ptrdiff_t>(b + kBlock), rng);
  }
  ReplayWindow w;
  uint64_t base = 0;
  size_t i = 0;
  run_steps(state, "a counter within the window was refused", [&] {
    const bool fresh = w.accept(base + order[i]);
    if (++i == kSpan) {
      i = 0;
      base += kSpan;
    }
    return fresh;
  });
}
BENCHMARK(OutOfOrder)->Name("Replay/OutOfOrder");

void Duplicate(benchmark::State& state) {
  ReplayWindow w;
  for (uint64_t c = 0; c < 4096; ++c) (void)w.accept(c);
  uint64_t c = 0;
  run_steps(state, "a replayed counter was accepted", [&] { return !w.accept(c++ & 4095); });
}
BENCHMARK(Duplicate)->Name("Replay/Duplicate");

}  // namespace
}  // namespace sitelink::bench
