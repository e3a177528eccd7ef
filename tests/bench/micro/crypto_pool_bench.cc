// CryptoPool: one batch of 64 packets of 1420 bytes sealed in place (as a
// TUN batch is before it is sent), by the calling thread alone (0) or with
// 1..3 pool threads. Real (wall) time, since the point is to finish the
// batch sooner by using more cores; bytes per second count the packets.
//
//   Transport/SealBatch/threads:N
//
// On a machine with fewer free cores than threads, the pool's threads are
// called off or wait for a core, and the figure shows what that costs.
#include <array>
#include <vector>

#include "micro_support.h"
#include "tunnel/crypto_pool.h"

namespace sitelink::bench {
namespace {

void SealBatch(benchmark::State& state) {
  constexpr size_t kPackets = 64, kLen = 1420;
  tunnel::CryptoPool pool({.threads = static_cast<size_t>(state.range(0))});
  std::array<uint8_t, kKeySize> key{};
  SodiumRng().fill(key);
  std::vector<uint8_t> mem(kPackets * 1536, 0x45);  // slots as the device's arena lays them out
  uint64_t counter = 0;
  auto seal = [&](size_t i) {
    const MutableBytes slot(mem.data() + i * 1536, kLen + kAeadTagSize);
    run_seal(SealJob{slot, key, counter + i});
  };
  for (auto _ : state) {
    pool.run(kPackets, seal);
    counter += kPackets;
    benchmark::DoNotOptimize(mem.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kPackets * kLen));
  state.counters["shared"] = static_cast<double>(pool.parallel_batches()) / static_cast<double>(state.iterations());
}
BENCHMARK(SealBatch)->Name("Transport/SealBatch")->ArgName("threads")->DenseRange(0, 3)->UseRealTime();

}  // namespace
}  // namespace sitelink::bench
