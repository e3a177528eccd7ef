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
// running; no test looks at the times. A benchmark that reports an error
// (SkipWithError: a refused handshake, a packet that did not open) makes
// the program exit 1, so the run cannot pass with a benchmark that measured
// nothing; bench.micro_error proves it with a benchmark that always fails,
// registered only when SITELINK_MICROBENCH_SELFTEST is set.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "handshake/crypto.h"

namespace {

// The display reporter the flags ask for, counting the runs that erred.
class ErrorCounter final : public benchmark::BenchmarkReporter {
 public:
  explicit ErrorCounter(std::unique_ptr<benchmark::BenchmarkReporter> inner) : inner_(std::move(inner)) {}
  bool ReportContext(const Context& context) override {
    inner_->SetOutputStream(&GetOutputStream());
    inner_->SetErrorStream(&GetErrorStream());
    return inner_->ReportContext(context);
  }
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs) {
      if (r.error_occurred) ++errors_;
    }
    inner_->ReportRuns(runs);
  }
  void Finalize() override { inner_->Finalize(); }
  int errors() const { return errors_; }

 private:
  std::unique_ptr<benchmark::BenchmarkReporter> inner_;
  int errors_ = 0;
};

std::unique_ptr<benchmark::BenchmarkReporter> display_reporter(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--benchmark_format=json") == 0) return std::make_unique<benchmark::JSONReporter>();
  }
  return std::make_unique<benchmark::ConsoleReporter>();
}

void AlwaysErrs(benchmark::State& state) {
  for (auto _ : state) state.SkipWithError("the self-test's deliberate error");
}

}  // namespace

int main(int argc, char** argv) {
  sitelink::handshake::crypto_init();
  if (std::getenv("SITELINK_MICROBENCH_SELFTEST") != nullptr) {
    benchmark::RegisterBenchmark("Selftest/AlwaysErrs", AlwaysErrs);
  }
  ErrorCounter reporter(display_reporter(argc, argv));
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  if (reporter.errors() > 0) {
    std::fprintf(stderr, "microbench: %d benchmark(s) reported an error\n", reporter.errors());
    return 1;
  }
  return 0;
}
