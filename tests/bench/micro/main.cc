// Google Benchmark microbenchmarks of sitelink's protocol core and of the
// tables on its packet path (issue 8): the handshake messages, transport
// seal/open by packet size (the bare AEAD and the whole PeerMachine path),
// a batch sealed with 0..3 CryptoPool threads,
// allowed-ips lookups among 10,000 prefixes, and the replay window.
//
// Built as the `microbench` target when Google Benchmark (Debian's
// libbenchmark-dev) is found; build it in a Release or RelWithDebInfo tree:
//
//   cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
//   cmake --build build -j2 --target microbench
//   build/tests/bench/microbench                            # everything
//   build/tests/bench/microbench --benchmark_filter='Seal|Open'
//   build/tests/bench/microbench --benchmark_format=json    # machine-readable
//   bash tests/bench/bench.sh --micro ...                   # with the netns benchmark;
//                                                           # results in OUT/micro.json
//
// ctest runs it once briefly (bench.micro) so that it keeps building and
// running; no test looks at the times.
#include <benchmark/benchmark.h>

#include "handshake/crypto.h"

int main(int argc, char** argv) {
  sitelink::handshake::crypto_init();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
