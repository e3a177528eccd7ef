// libFuzzer target: a PeerMachine (the responder B of an established
// session with A) fed a sequence of events from the input, with a fake clock.
//
// Set-up, once: A and B run a complete handshake in memory, deterministically
// (keys, ephemerals and indices from fixed seeds): A's initiation, B's
// response, A's keepalive confirming the session, then a few data packets
// and a later rekey initiation from A. Those of A's datagrams are kept.
//
// Every run then builds a fresh B with the same seeds and replays A's
// initiation and keepalive to it, which puts it in exactly the state of the
// set-up (same keys, same indices), so runs are independent and A's recorded
// packets are valid in every run. The input is a sequence of steps:
//
//   ctl u8 | len u16 LE | len bytes
//
//   ctl bits 0-4: how far the clock moves first, times the unit in bits
//   5-6 (1 ms, 250 ms, 2 s, 30 s); B's timers then run (on_timer).
//   ctl bit 7 clear: the bytes are a datagram from the network: classified,
//   mac1-checked for handshake messages and given to B's receive_* functions
//   (an initiation through consume_initiation first). Set: they are an IP
//   packet B's TUN device wants sent to A (PeerMachine::send).
//
// A length running past the input is cut to what is left. Everything B sends
// must classify, and handshake messages from B must carry a valid mac1 for
// A. When the run ends, B must have released every index it took.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <variant>
#include <vector>

#include "handshake/cookie.h"
#include "handshake/crypto.h"
#include "handshake/messages.h"
#include "handshake/noise.h"
#include "handshake/peer.h"

#ifndef SITELINK_TEST_DATA
#define SITELINK_TEST_DATA ""  // test_support.h's vector files are not used here
#endif
#include "fuzz/fuzz_check.h"
#include "tests/support/test_support.h"

namespace sitelink::handshake::fuzz_peer {

using namespace std::chrono_literals;

inline constexpr uint64_t kKeyASeed = 0xa11ce;
inline constexpr uint64_t kKeyBSeed = 0xb0b;
inline constexpr uint64_t kPskSeed = 0x9e5;
inline constexpr uint64_t kRngASeed = 0xaaaa;
inline constexpr uint64_t kRngBSeed = 0xbbbb;
inline constexpr uint32_t kFirstIndexA = 1000;
inline constexpr uint32_t kFirstIndexB = 2000;
inline constexpr size_t kMtu = 1420;
inline constexpr size_t kStepHeader = 3;
inline constexpr Now kStart{Instant::from_ns(int64_t{1000} * 1'000'000'000),
                            WallTime{std::chrono::seconds(1'700'000'000)}};
inline constexpr Duration kUnits[4] = {1ms, 250ms, 2s, 30s};

// Collects datagrams and checks what the machine emits.
class Sink final : public Transmit {
 public:
  explicit Sink(const PublicKey& receiver) : receiver_mac1_(receiver) {}
  void send_to_network(Bytes d) override {
    std::vector<uint8_t> copy(d.begin(), d.end());
    auto m = classify(copy);
    FUZZ_CHECK(m.ok());
    if (std::holds_alternative<InitiationMsg>(*m) || std::holds_alternative<ResponseMsg>(*m)) {
      FUZZ_CHECK(receiver_mac1_.check_mac1(copy));
    }
    sent.push_back(std::move(copy));
  }
  void deliver_to_tun(MutableBytes p) override { delivered_bytes += p.size(); }
  void on_event(PeerEvent) override { ++events; }

  std::vector<std::vector<uint8_t>> sent;
  size_t delivered_bytes = 0;
  size_t events = 0;

 private:
  CookieChecker receiver_mac1_;  // the receiving side's mac1 check
};

// A's datagrams to B from the set-up.
struct Fixture {
  LocalIdentity a;
  LocalIdentity b;
  PresharedKey psk;
  std::vector<uint8_t> initiation;         // A's first initiation
  std::vector<uint8_t> response;           // B's response to it
  std::vector<uint8_t> keepalive;          // A's keepalive confirming the session (counter 0)
  std::vector<std::vector<uint8_t>> data;  // A's data packets after it (counters 1..)
  std::vector<uint8_t> rekey_initiation;   // A's next initiation, kRekeyTimeout later
};

inline PrivateKey key_from_seed(uint64_t seed) {
  test::SeededRng rng(seed);
  return PrivateKey::generate(rng);
}

// B with everything it owns. On destruction the machine goes first and
// must hand back every index it took (FakeIndices itself aborts on a double
// release).
struct Responder {
  explicit Responder(const Fixture& f) : checker(f.b.public_key()), out(f.a.public_key()) {
    machine.emplace(f.b, f.a.public_key(), f.psk, TimerSettings{}, rng, indices);
  }
  ~Responder() {
    machine.reset();
    FUZZ_CHECK(indices.live.empty());
  }
  Responder(const Responder&) = delete;
  Responder& operator=(const Responder&) = delete;

  test::SeededRng rng{kRngBSeed};
  test::SeededRng cookie_rng{kRngBSeed + 1};
  test::FakeIndices indices{kFirstIndexB};
  CookieChecker checker;  // B's interface
  Sink out;
  std::optional<PeerMachine> machine;
};

// A datagram from the network for B, as the device would hand it over.
inline Result<void, ProtoError> deliver(const Fixture& f, Responder& b, const Now& now, Bytes datagram) {
  std::vector<uint8_t> d(datagram.begin(), datagram.end());
  auto m = classify(d);
  if (!m) return Err(m.error());
  if (const auto* init = std::get_if<InitiationMsg>(&*m)) {
    if (!b.checker.check_mac1(init->bytes)) return Err(ProtoError::kInvalidMac1);
    (void)b.checker.check_mac2(init->bytes, Bytes{}, now.mono, b.cookie_rng);
    auto consumed = consume_initiation(f.b, *init);
    if (!consumed) return Err(consumed.error());
    if (!(consumed->initiator_static == b.machine->remote_static())) return Err(ProtoError::kUnknownPeer);
    return b.machine->receive_initiation(now, std::move(*consumed), b.out);
  }
  if (const auto* resp = std::get_if<ResponseMsg>(&*m)) {
    if (!b.checker.check_mac1(resp->bytes)) return Err(ProtoError::kInvalidMac1);
    return b.machine->receive_response(now, *resp, b.out);
  }
  if (const auto* reply = std::get_if<CookieReplyMsg>(&*m)) {
    return b.machine->receive_cookie_reply(now, *reply, b.out);
  }
  return b.machine->receive_transport(now, std::get<TransportMsg>(*m), b.out);
}

// A fresh B that has answered A's initiation and seen A's keepalive.
inline std::unique_ptr<Responder> established_responder(const Fixture& f, const Now& now) {
  auto b = std::make_unique<Responder>(f);
  FUZZ_CHECK(deliver(f, *b, now, f.initiation).ok());
  FUZZ_CHECK(b->out.sent.size() == 1);
  if (!f.response.empty()) FUZZ_CHECK(b->out.sent[0] == f.response);
  FUZZ_CHECK(deliver(f, *b, now, f.keepalive).ok());
  FUZZ_CHECK(b->machine->has_session(now.mono));
  b->out.sent.clear();
  return b;
}

inline const Fixture& fixture() {
  static const Fixture* fixture = [] {
    auto* f = new Fixture{LocalIdentity(key_from_seed(kKeyASeed)),
                          LocalIdentity(key_from_seed(kKeyBSeed)),
                          [] {
                            test::SeededRng rng(kPskSeed);
                            return PresharedKey::generate(rng);
                          }(),
                          {},
                          {},
                          {},
                          {},
                          {}};
    test::SeededRng rng_a(kRngASeed);
    test::FakeIndices indices_a(kFirstIndexA);
    Sink out_a(f->b.public_key());
    Now now = kStart;
    {
      PeerMachine a(f->a, f->b.public_key(), f->psk, TimerSettings{}, rng_a, indices_a);
      a.initiate(now, out_a);
      FUZZ_CHECK(out_a.sent.size() == 1);
      f->initiation = out_a.sent[0];

      auto b = std::make_unique<Responder>(*f);
      FUZZ_CHECK(deliver(*f, *b, now, f->initiation).ok());
      FUZZ_CHECK(b->out.sent.size() == 1);
      f->response = b->out.sent[0];

      std::vector<uint8_t> resp = f->response;
      auto m = classify(resp);
      FUZZ_CHECK(m.ok());
      FUZZ_CHECK(a.receive_response(now, std::get<ResponseMsg>(*m), out_a).ok());
      FUZZ_CHECK(out_a.sent.size() == 2);
      f->keepalive = out_a.sent[1];
      FUZZ_CHECK(deliver(*f, *b, now, f->keepalive).ok());

      for (size_t i = 0; i < 4; ++i) {
        const size_t len = 20 + 40 * i;  // IPv4-sized payloads of a few lengths
        std::vector<uint8_t> buf(kHeadroom + len + kTailroom);
        for (size_t j = 0; j < len; ++j) buf[kHeadroom + j] = static_cast<uint8_t>(0x45 + i + j);
        a.send(now, buf, len, kMtu, out_a);
        FUZZ_CHECK(out_a.sent.size() == 3 + i);
        f->data.push_back(out_a.sent.back());
        FUZZ_CHECK(deliver(*f, *b, now, f->data.back()).ok());
      }
      FUZZ_CHECK(b->out.delivered_bytes > 0);

      now.mono = now.mono + kRekeyTimeout + 1s;
      now.wall.since_epoch += kRekeyTimeout + 1s;
      a.initiate(now, out_a);
      FUZZ_CHECK(out_a.sent.size() == 3 + f->data.size());
      f->rekey_initiation = out_a.sent.back();
      FUZZ_CHECK(deliver(*f, *b, now, f->rekey_initiation).ok());
    }
    // A fresh B gets into the same state from the recorded datagrams.
    FUZZ_CHECK(indices_a.live.empty());
    (void)established_responder(*f, kStart);
    return f;
  }();
  return *fixture;
}

// Runs the steps in `data` against a fresh, established B. `observe`, if
// given, sees every datagram B sent after each step.
inline void run(const uint8_t* data, size_t size,
                const std::function<void(size_t step, const std::vector<std::vector<uint8_t>>&)>& observe = {}) {
  const Fixture& f = fixture();
  Now now = kStart;
  auto b = established_responder(f, now);
  std::vector<uint8_t> buf;
  size_t pos = 0;
  for (size_t step = 0; size - pos >= kStepHeader; ++step) {
    const uint8_t ctl = data[pos];
    size_t len = size_t{data[pos + 1]} | size_t{data[pos + 2]} << 8;
    pos += kStepHeader;
    len = std::min(len, size - pos);
    const Bytes chunk(data + pos, len);
    pos += len;

    const Duration advance = (ctl & 0x1f) * kUnits[(ctl >> 5) & 3];
    now.mono = now.mono + advance;
    now.wall.since_epoch += advance;
    b->machine->on_timer(now, b->out);
    FUZZ_CHECK(b->machine->next_deadline() > now.mono);

    if ((ctl & 0x80) != 0) {
      buf.assign(kHeadroom + len + kTailroom, 0);
      std::copy(chunk.begin(), chunk.end(), buf.begin() + kHeadroom);
      b->machine->send(now, buf, len, kMtu, b->out);
    } else {
      const uint64_t rx_before = b->machine->stats().rx_packets;
      const size_t delivered_before = b->out.delivered_bytes;
      auto r = deliver(f, *b, now, chunk);
      if (!r) {
        // A refused datagram is not counted and delivers nothing.
        FUZZ_CHECK(b->machine->stats().rx_packets == rx_before);
        FUZZ_CHECK(b->out.delivered_bytes == delivered_before);
      }
    }
    FUZZ_CHECK(b->machine->staged_packets() <= kMaxStagedPackets);
    if (observe) observe(step, b->out.sent);
    b->out.sent.clear();
  }
  b.reset();  // checks that every index was released
}

}  // namespace sitelink::handshake::fuzz_peer

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool initialised = [] {
    sitelink::handshake::crypto_init();
    return true;
  }();
  (void)initialised;
  sitelink::handshake::fuzz_peer::run(data, size);
  return 0;
}
