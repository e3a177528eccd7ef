// The three steps of WireGuard's handshake (handshake/noise.h), each with
// the mac1 work a gateway does around it (handshake/cookie.h). Randomness
// comes from libsodium, as in the daemon.
//
//   Handshake/InitiationCreate           initiator: ephemeral key, DH es (ss is
//                                        the peer's precomputed secret), sealed
//                                        static key and timestamp, mac1
//   Handshake/InitiationConsumeAndRespond responder: mac1 check, decrypt the
//                                        initiation (es, s), the peer's ss and
//                                        timestamp, accept it, write the
//                                        response with mac1. The responder is
//                                        long-lived, as a device's peer is;
//                                        each initiation is a second later than
//                                        the last (a timestamp is accepted once)
//   Handshake/InitiationFromUnknownKey   responder: mac1 check and decrypt the
//                                        static key of an initiation from a key
//                                        that is no peer, then the lookup that
//                                        refuses it: what a stranger's
//                                        initiation costs (one X25519)
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
  Handshake bob_hs{bob, alice.public_key(), psk};
  std::array<uint8_t, initiation::kSize> init{};
  std::array<uint8_t, response::kSize> resp{};
  uint32_t next_index = 1;
  Now now = bench_now();

  // Alice's next initiation, with mac1, into `init`, a second after the last.
  bool initiate() {
    now.mono = now.mono + 1s;
    now.wall.since_epoch += 1s;
    if (!alice_hs.create_initiation(init, next_index++, now.wall, rng)) return false;
    macs_to_bob.add_macs(init, now.mono);
    benchmark::DoNotOptimize(init.data());
    return true;
  }

  // Bob's side of `init`: his handshake with Alice writes `resp`.
  bool respond() {
    if (!bob_checks.check_mac1(init)) return false;
    auto consumed = consume_initiation(bob, InitiationMsg{init});
    if (!consumed || !(consumed->initiator_static == alice.public_key())) return false;
    if (!bob_hs.accept_initiation(std::move(*consumed), now.mono)) return false;
    if (!bob_hs.create_response(resp, 7, rng)) return false;
    macs_to_alice.add_macs(resp, now.mono);
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
  run_steps(state, "the responder refused the initiation", [&] {
    state.PauseTiming();
    const bool made = p.initiate();
    state.ResumeTiming();
    return made && p.respond();
  });
}
BENCHMARK(InitiationConsumeAndRespond)->Name("Handshake/InitiationConsumeAndRespond");

void InitiationFromUnknownKey(benchmark::State& state) {
  Parties p;
  // Dave is not Bob's peer (Bob knows only Alice).
  const LocalIdentity dave{PrivateKey::generate(p.rng)};
  Handshake dave_hs{dave, p.bob.public_key(), PresharedKey{}};
  std::array<uint8_t, initiation::kSize> init{};
  if (!dave_hs.create_initiation(init, 1, p.now.wall, p.rng)) state.SkipWithError("create_initiation failed");
  p.macs_to_bob.add_macs(init, p.now.mono);
  run_steps(state, "the stranger's initiation was not refused as unknown", [&] {
    if (!p.bob_checks.check_mac1(init)) return false;
    auto consumed = consume_initiation(p.bob, InitiationMsg{init});
    benchmark::DoNotOptimize(consumed);
    return consumed.ok() && !(consumed->initiator_static == p.alice.public_key());
  });
}
BENCHMARK(InitiationFromUnknownKey)->Name("Handshake/InitiationFromUnknownKey");

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
