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

// Alice (the initiator) and Bob, with the state each benchmark needs.
struct Parties {
  SodiumRng rng;
  LocalIdentity alice{PrivateKey::generate(rng)};
  LocalIdentity bob{PrivateKey::generate(rng)};
  PresharedKey psk = PresharedKey::generate(rng);
  CookieGenerator macs_to_bob{bob.public_key()};
  CookieGenerator macs_to_alice{alice.public_key()};
  CookieChecker bob_checks{bob.public_key()};
  CookieChecker alice_checks{alice.public_key()};
  Handshake alice_hs{alice, bob.public_key(), psk};
  std::array<uint8_t, initiation::kSize> init{};
  std::array<uint8_t, response::kSize> resp{};
  uint32_t next_index = 1;

  // Alice's next initiation, with mac1, into `init`.
  bool initiate() {
    if (!alice_hs.create_initiation(init, next_index++, bench_now().wall, rng)) return false;
    macs_to_bob.add_macs(init, bench_now().mono);
    benchmark::DoNotOptimize(init.data());
    return true;
  }

  // Bob's side of `init`: a fresh responder writes `resp`.
  bool respond() {
    if (!bob_checks.check_mac1(init)) return false;
    auto consumed = consume_initiation(bob, InitiationMsg{init});
    if (!consumed) return false;
    Handshake bob_hs(bob, alice.public_key(), psk);
    if (!bob_hs.accept_initiation(std::move(*consumed), bench_now().mono)) return false;
    if (!bob_hs.create_response(resp, 7, rng)) return false;
    macs_to_alice.add_macs(resp, bench_now().mono);
    benchmark::DoNotOptimize(resp.data());
    return true;
  }
};

void InitiationCreate(benchmark::State& state) {
  Parties p;
  run_steps(state, "create_initiation failed", [&] { return p.initiate(); });
}
BENCHMARK(InitiationCreate)->Name("Handshake/InitiationCreate");

void InitiationConsumeAndRespond(benchmark::State& state) {
  Parties p;
  if (!p.initiate()) state.SkipWithError("create_initiation failed");
  run_steps(state, "the responder refused the initiation", [&] { return p.respond(); });
}
BENCHMARK(InitiationConsumeAndRespond)->Name("Handshake/InitiationConsumeAndRespond");

void ResponseConsume(benchmark::State& state) {
  Parties p;
  run_steps(state, "consume_response failed", [&] {
    state.PauseTiming();
    const bool made = p.initiate() && p.respond();
    state.ResumeTiming();
    if (!made || !p.alice_checks.check_mac1(p.resp)) return false;
    auto keys = p.alice_hs.consume_response(ResponseMsg{p.resp});
    if (!keys) return false;
    benchmark::DoNotOptimize(keys->send.span().data());
    return true;
  });
}
BENCHMARK(ResponseConsume)->Name("Handshake/ResponseConsume");

}  // namespace
}  // namespace sitelink::bench
