// Transport data by IP packet size (64, 512, 1420, 8192 bytes):
//
//   Transport/AeadSeal, AeadOpen   ChaCha20-Poly1305 alone (handshake/crypto.h),
//                                  in place as the data path does it: the bound
//                                  for anything built on libsodium
//   Transport/PeerSend             PeerMachine::send: padding, counter, header,
//                                  seal in the caller's buffer, statistics
//   Transport/PeerReceive          classify + PeerMachine::receive_transport:
//                                  keypair lookup, open in place, replay window,
//                                  delivery (batches of datagrams are sealed
//                                  outside the timed region)
//
// Bytes per second count the IP packet, not the 32 bytes of overhead.
#include <array>
#include <vector>

#include "micro_support.h"

namespace sitelink::bench {
namespace {

constexpr size_t kBatch = 1024;

void sizes(benchmark::internal::Benchmark* b) {
  for (int64_t n : {64, 512, 1420, 8192}) b->Arg(n);
}

std::array<uint8_t, kKeySize> some_key() {
  std::array<uint8_t, kKeySize> key{};
  SodiumRng().fill(key);
  return key;
}

void AeadSeal(benchmark::State& state) {
  const auto len = static_cast<size_t>(state.range(0));
  const auto key = some_key();
  std::vector<uint8_t> buf(len + kAeadTagSize, 0x45);
  uint64_t counter = 0;
  for (auto _ : state) {
    aead_seal(buf, key, counter++, Bytes(buf.data(), len), {});
    benchmark::DoNotOptimize(buf.data());
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(AeadSeal)->Name("Transport/AeadSeal")->Apply(sizes);

void AeadOpen(benchmark::State& state) {
  const auto len = static_cast<size_t>(state.range(0));
  const auto key = some_key();
  std::vector<uint8_t> sealed(len + kAeadTagSize, 0x45);
  aead_seal(sealed, key, 9, Bytes(sealed.data(), len), {});
  std::vector<uint8_t> work(sealed.size());
  for (auto _ : state) {
    // Opening in place destroys the ciphertext: start from a copy, as a
    // receive buffer would hold it (the copy is a small part of the cost).
    std::copy(sealed.begin(), sealed.end(), work.begin());
    if (!aead_open(MutableBytes(work.data(), len), key, 9, work, {})) {
      state.SkipWithError("aead_open failed");
      break;
    }
    benchmark::DoNotOptimize(work.data());
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(AeadOpen)->Name("Transport/AeadOpen")->Apply(sizes);

// A buffer laid out as the device gives it to PeerMachine::send.
std::vector<uint8_t> send_buffer(size_t len) { return std::vector<uint8_t>(kHeadroom + len + kTailroom, 0x45); }

void PeerSend(benchmark::State& state) {
  const auto len = static_cast<size_t>(state.range(0));
  PeerPair pair;
  if (!pair.establish()) state.SkipWithError("no session");
  auto buf = send_buffer(len);
  pair.a.out.keep = false;
  for (auto _ : state) {
    pair.a.machine->send(bench_now(), buf, len, len, pair.a.out);
  }
  if (pair.a.machine->stats().tx_packets < static_cast<uint64_t>(state.iterations()))
    state.SkipWithError("packets were not sent");
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(PeerSend)->Name("Transport/PeerSend")->Apply(sizes);

void PeerReceive(benchmark::State& state) {
  const auto len = static_cast<size_t>(state.range(0));
  PeerPair pair;
  if (!pair.establish()) state.SkipWithError("no session");
  auto buf = send_buffer(len);
  size_t next = kBatch;
  std::vector<std::vector<uint8_t>> batch;
  for (auto _ : state) {
    if (next == kBatch) {
      state.PauseTiming();
      pair.a.out.datagrams.clear();
      for (size_t i = 0; i < kBatch; ++i) pair.a.machine->send(bench_now(), buf, len, len, pair.a.out);
      batch = std::move(pair.a.out.datagrams);
      next = 0;
      state.ResumeTiming();
    }
    if (!PeerPair::receive(pair.b, batch[next++])) {
      state.SkipWithError("a transport message was refused");
      break;
    }
  }
  if (pair.b.out.delivered < static_cast<size_t>(state.iterations()) * len) {
    state.SkipWithError("packets were not delivered");
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(PeerReceive)->Name("Transport/PeerReceive")->Apply(sizes);

}  // namespace
}  // namespace sitelink::bench
