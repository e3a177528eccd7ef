// Shared by the microbenchmarks: two PeerMachines with an established
// session, wired back to back in memory.
#pragma once

#include <benchmark/benchmark.h>

#include <chrono>
#include <memory>
#include <vector>

#include "handshake/peer.h"
#include "support/test_support.h"

namespace sitelink::bench {

using namespace handshake;
using namespace std::chrono_literals;

// Fixed clocks: nothing in a benchmark waits for a timer.
inline Now bench_now() { return Now{Instant{1000s}, WallTime{1'700'000'000s}}; }

// What a PeerMachine hands out. With `keep` it copies datagrams (set-up and
// batch preparation); without, it only looks at them (the timed loops).
struct Sink final : Transmit {
  bool keep = true;
  std::vector<std::vector<uint8_t>> datagrams;
  size_t delivered = 0;
  void send_to_network(Bytes d) override {
    if (keep) {
      datagrams.emplace_back(d.begin(), d.end());
    } else {
      benchmark::DoNotOptimize(d.data());
    }
  }
  void deliver_to_tun(MutableBytes p) override {
    delivered += p.size();
    benchmark::DoNotOptimize(p.data());
  }
};

// The timed loop of a benchmark whose every step must succeed: `step()`
// returns false on failure, which ends the run with `what` as its error.
template <typename Step>
void run_steps(benchmark::State& state, const char* what, Step step) {
  for (auto _ : state) {
    if (!step()) {
      state.SkipWithError(what);
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}

struct Gateway {
  Gateway(test::SeededRng& rng, uint32_t first_index) : identity(PrivateKey::generate(rng)), indices(first_index) {}
  LocalIdentity identity;
  test::FakeIndices indices;
  std::unique_ptr<PeerMachine> machine;
  Sink out;
};

// Alice initiates; after establish() both sides can send.
class PeerPair {
  test::SeededRng rng_{42};  // first: the gateways below take keys from it

 public:
  PeerPair() {
    const PresharedKey psk = PresharedKey::generate(rng_);
    a.machine = std::make_unique<PeerMachine>(a.identity, b.identity.public_key(), psk, TimerSettings{}, rng_,
                                              a.indices);
    b.machine = std::make_unique<PeerMachine>(b.identity, a.identity.public_key(), psk, TimerSettings{}, rng_,
                                              b.indices);
  }

  // False if the in-memory handshake did not complete.
  bool establish() {
    a.machine->initiate(bench_now(), a.out);
    for (int rounds = 0; rounds < 8 && !(a.out.datagrams.empty() && b.out.datagrams.empty()); ++rounds) {
      if (!deliver(a, b) || !deliver(b, a)) return false;
    }
    a.out.delivered = b.out.delivered = 0;
    return a.machine->has_session(bench_now().mono) && b.machine->has_session(bench_now().mono);
  }

  // Hands every datagram `from` has sent to `to`; false if one is refused.
  static bool deliver(Gateway& from, Gateway& to) {
    auto batch = std::move(from.out.datagrams);
    from.out.datagrams.clear();
    for (auto& d : batch) {
      if (!receive(to, d)) return false;
    }
    return true;
  }

  // One datagram into `to`'s machine, as the device would hand it over.
  static bool receive(Gateway& to, std::vector<uint8_t>& d) {
    auto msg = classify(d);
    if (!msg) return false;
    const Now now = bench_now();
    if (auto* i = std::get_if<InitiationMsg>(&*msg)) {
      auto c = consume_initiation(to.identity, *i);
      return c && to.machine->receive_initiation(now, std::move(*c), to.out).ok();
    }
    if (auto* r = std::get_if<ResponseMsg>(&*msg)) return to.machine->receive_response(now, *r, to.out).ok();
    if (auto* t = std::get_if<TransportMsg>(&*msg)) return to.machine->receive_transport(now, *t, to.out).ok();
    return false;
  }

  Gateway a{rng_, 100};
  Gateway b{rng_, 200};
};

}  // namespace sitelink::bench
