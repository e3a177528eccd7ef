// The three steps of WireGuard's handshake (handshake/noise.h), each with
// the mac1 work a gateway does around it (handshake/cookie.h). Randomness
// comes from libsodium, as in the daemon.
//
//   Handshake/InitiationCreate           initiator: ephemeral key, DH es and ss,
//                                        sealed static key and timestamp, mac1
//   Handshake/InitiationConsumeAndRespond responder: mac1 check, decrypt the
//                                        initiation, accept it, write the
//                                        response with mac1 (a fresh responder
//                                        per iteration, because one accepts each
//                                        timestamp only once)
//   Handshake/ResponseConsume            initiator: mac1 check, DH ee and se,
//                                        session keys (the initiation and
//                                        response it answers are made outside
//                                        the timed region)
#include <array>

#include "handshake/cookie.h"
#include "handshake/noise.h"
#include "micro_support.h"

namespace sitelink::bench {
namespace {

struct Parties {
  SodiumRng rng;
  LocalIdentity alice{PrivateKey::generate(rng)};
  LocalIdentity bob{PrivateKey::generate(rng)};
  PresharedKey psk = PresharedKey::generate(rng);
  CookieGenerator macs_to_bob{bob.public_key()};
  CookieGenerator macs_to_alice{alice.public_key()};
  CookieChecker bob_checks{bob.public_key()};
  CookieChecker alice_checks{alice.public_key()};
};

bool make_initiation(Parties& p, Handshake& alice, std::array<uint8_t, initiation::kSize>& msg, uint32_t index) {
  if (!alice.create_initiation(msg, index, bench_now().wall, p.rng)) return false;
  p.macs_to_bob.add_macs(msg, bench_now().mono);
  return true;
}

// Bob's side of one initiation: true if a response was written.
bool respond(Parties& p, const std::array<uint8_t, initiation::kSize>& init,
             std::array<uint8_t, response::kSize>& resp) {
  if (!p.bob_checks.check_mac1(init)) return false;
  auto consumed = consume_initiation(p.bob, InitiationMsg{init});
  if (!consumed) return false;
  Handshake bob(p.bob, p.alice.public_key(), p.psk);
  if (!bob.accept_initiation(std::move(*consumed), bench_now().mono)) return false;
  if (!bob.create_response(resp, 7, p.rng)) return false;
  p.macs_to_alice.add_macs(resp, bench_now().mono);
  return true;
}

void InitiationCreate(benchmark::State& state) {
  Parties p;
  Handshake alice(p.alice, p.bob.public_key(), p.psk);
  std::array<uint8_t, initiation::kSize> msg{};
  uint32_t index = 1;
  run_steps(state, "create_initiation failed", [&] {
    const bool made = make_initiation(p, alice, msg, index++);
    benchmark::DoNotOptimize(msg.data());
    return made;
  });
}
BENCHMARK(InitiationCreate)->Name("Handshake/InitiationCreate");

void InitiationConsumeAndRespond(benchmark::State& state) {
  Parties p;
  Handshake alice(p.alice, p.bob.public_key(), p.psk);
  std::array<uint8_t, initiation::kSize> init{};
  std::array<uint8_t, response::kSize> resp{};
  if (!make_initiation(p, alice, init, 1)) state.SkipWithError("create_initiation failed");
  run_steps(state, "the responder refused the initiation", [&] {
    const bool made = respond(p, init, resp);
    benchmark::DoNotOptimize(resp.data());
    return made;
  });
}
BENCHMARK(InitiationConsumeAndRespond)->Name("Handshake/InitiationConsumeAndRespond");

void ResponseConsume(benchmark::State& state) {
  Parties p;
  Handshake alice(p.alice, p.bob.public_key(), p.psk);
  std::array<uint8_t, initiation::kSize> init{};
  std::array<uint8_t, response::kSize> resp{};
  uint32_t index = 1;
  for (auto _ : state) {
    state.PauseTiming();
    const bool made = make_initiation(p, alice, init, index++) && respond(p, init, resp);
    state.ResumeTiming();
    if (!made) {
      state.SkipWithError("could not prepare a response");
      break;
    }
    if (!p.alice_checks.check_mac1(resp)) {
      state.SkipWithError("mac1 of the response is wrong");
      break;
    }
    auto keys = alice.consume_response(ResponseMsg{resp});
    if (!keys) {
      state.SkipWithError("consume_response failed");
      break;
    }
    benchmark::DoNotOptimize(keys->send.span().data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(ResponseConsume)->Name("Handshake/ResponseConsume");

}  // namespace
}  // namespace sitelink::bench
