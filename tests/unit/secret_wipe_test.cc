// Key material is wiped on every path out: each key holder is built in a
// buffer the test owns, and after it is destroyed (or cleared, or moved
// from) the buffer must no longer hold the secret. Heap-held keypairs are
// covered by the Keypair case (KeypairSet frees them through unique_ptr,
// which runs that destructor) and by the checks that a zeroed or expired
// PeerMachine holds none.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "handshake/cookie.h"
#include "handshake/keypair.h"
#include "handshake/keys.h"
#include "handshake/noise.h"
#include "handshake/peer.h"
#include "support/test_support.h"

namespace sitelink::handshake {
namespace {

using namespace std::chrono_literals;

using Blob = std::vector<uint8_t>;

Blob blob(Bytes b) { return Blob(b.begin(), b.end()); }

// Storage for one T, readable after T is gone.
template <typename T>
class InPlace {
 public:
  template <typename... Args>
  T& make(Args&&... args) {
    std::fill(std::begin(buf_), std::end(buf_), uint8_t{0xa5});
    obj_ = new (buf_) T(std::forward<Args>(args)...);
    return *obj_;
  }
  void destroy() {
    obj_->~T();
    obj_ = nullptr;
  }
  ~InPlace() {
    if (obj_ != nullptr) destroy();
  }
  bool holds(const Blob& secret) const {
    Blob copy(sizeof(T));
    std::memcpy(copy.data(), buf_, sizeof(T));
    return std::search(copy.begin(), copy.end(), secret.begin(), secret.end()) != copy.end();
  }

 private:
  alignas(T) uint8_t buf_[sizeof(T)];
  T* obj_ = nullptr;
};

// Remembers every random draw, so the test knows the ephemeral keys and
// cookie secrets the code under test made.
class RecordingRng final : public Rng {
 public:
  explicit RecordingRng(uint64_t seed) : inner_(seed) {}
  void fill(MutableBytes out) override {
    inner_.fill(out);
    draws.push_back(blob(out));
  }
  // The last 32-byte draw, clamped as an X25519 secret is.
  Blob last_key(bool clamp = true) const {
    for (auto it = draws.rbegin(); it != draws.rend(); ++it) {
      if (it->size() != kKeySize) continue;
      Blob k = *it;
      if (clamp) x25519_clamp(std::span<uint8_t, kKeySize>(k.data(), kKeySize));
      return k;
    }
    return {};
  }
  std::vector<Blob> draws;

 private:
  test::SeededRng inner_;
};

Blob pattern(uint8_t seed, size_t n = kKeySize) {
  Blob b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(seed + 7 * i + 1);
  return b;
}

std::span<const uint8_t, kKeySize> key_span(const Blob& b) {
  return std::span<const uint8_t, kKeySize>(b.data(), kKeySize);
}

TEST(SecretWipe, DestroyedSecretIsZero) {
  const Blob k = pattern(1);
  InPlace<Secret<kKeySize>> s;
  s.make(key_span(k));
  ASSERT_TRUE(s.holds(k));
  s.destroy();
  EXPECT_FALSE(s.holds(k));
  EXPECT_TRUE(s.holds(Blob(kKeySize, 0)));
}

TEST(SecretWipe, MovedFromSecretIsZeroAndCopiesAreIndependent) {
  const Blob k = pattern(2);
  Secret<kKeySize> a(key_span(k));
  Secret<kKeySize> copy(a);
  EXPECT_EQ(blob(a.span()), k);  // a copy leaves the source alone
  Secret<kKeySize> b(std::move(a));
  EXPECT_TRUE(ct_is_zero(a.span()));  // NOLINT(bugprone-use-after-move): that is the point
  EXPECT_EQ(blob(b.span()), k);
  Secret<kKeySize> c;
  c = std::move(b);
  EXPECT_TRUE(ct_is_zero(b.span()));  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(blob(c.span()), k);
  copy.clear();
  EXPECT_TRUE(ct_is_zero(copy.span()));
  EXPECT_EQ(blob(c.span()), k);
}

TEST(SecretWipe, KeyTypesAreWipedOnMoveAndDestruction) {
  test::SeededRng rng(3);
  PrivateKey priv = PrivateKey::generate(rng);
  const Blob priv_bytes = blob(priv.bytes());
  PrivateKey moved(std::move(priv));
  EXPECT_TRUE(priv.is_zero());  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(blob(moved.bytes()), priv_bytes);

  InPlace<PresharedKey> psk;
  psk.make(key_span(pattern(4)));
  ASSERT_TRUE(psk.holds(pattern(4)));
  psk.destroy();
  EXPECT_FALSE(psk.holds(pattern(4)));

  InPlace<LocalIdentity> id;
  id.make(PrivateKey(key_span(priv_bytes)));
  ASSERT_TRUE(id.holds(priv_bytes));
  id.destroy();
  EXPECT_FALSE(id.holds(priv_bytes));
}

TEST(SecretWipe, KeypairIsWipedWhenDestroyed) {
  SessionKeys keys;
  std::copy_n(pattern(5).begin(), kKeySize, keys.send.data());
  std::copy_n(pattern(6).begin(), kKeySize, keys.receive.data());
  InPlace<Keypair> kp;
  kp.make(std::move(keys), Instant{});
  EXPECT_TRUE(ct_is_zero(keys.send.span()));  // NOLINT(bugprone-use-after-move): moved into the keypair
  ASSERT_TRUE(kp.holds(pattern(5)) && kp.holds(pattern(6)));
  kp.destroy();
  EXPECT_FALSE(kp.holds(pattern(5)));
  EXPECT_FALSE(kp.holds(pattern(6)));
}

// Two identities and a preshared key, for handshakes.
struct Parties {
  RecordingRng rng{7};
  LocalIdentity initiator{PrivateKey::generate(rng)};
  LocalIdentity responder{PrivateKey::generate(rng)};
  PresharedKey psk{key_span(pattern(8))};
};

std::array<uint8_t, initiation::kSize> initiate(Handshake& hs, Parties& p) {
  std::array<uint8_t, initiation::kSize> msg{};
  EXPECT_TRUE(hs.create_initiation(msg, 1, WallTime{1'700'000'000s}, p.rng).ok());
  return msg;
}

TEST(SecretWipe, HandshakeWipesEphemeralAndChainingKey) {
  Parties p;
  InPlace<Handshake> slot;
  Handshake& hs = slot.make(p.initiator, p.responder.public_key(), p.psk);
  (void)initiate(hs, p);
  const Blob ephemeral = p.rng.last_key();
  const Blob ck = blob(hs.transcript()->chaining_key.span());
  ASSERT_TRUE(slot.holds(ephemeral));
  ASSERT_TRUE(slot.holds(ck));
  ASSERT_TRUE(slot.holds(pattern(8)));  // the preshared key
  hs.clear();
  EXPECT_EQ(hs.transcript(), nullptr);
  EXPECT_FALSE(slot.holds(ephemeral));
  EXPECT_FALSE(slot.holds(ck));

  // A completed handshake keeps nothing of it either.
  auto msg = initiate(hs, p);
  const Blob ephemeral2 = p.rng.last_key();
  Handshake responder(p.responder, p.initiator.public_key(), p.psk);
  auto consumed = consume_initiation(p.responder, InitiationMsg{msg});
  ASSERT_TRUE(consumed.ok());
  ASSERT_TRUE(responder.accept_initiation(std::move(*consumed), Instant{}).ok());
  std::array<uint8_t, response::kSize> reply{};
  ASSERT_TRUE(responder.create_response(reply, 2, p.rng).ok());
  ASSERT_TRUE(slot.holds(ephemeral2));
  auto keys = hs.consume_response(ResponseMsg{reply});
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(hs.state(), Handshake::State::kZeroed);
  EXPECT_FALSE(slot.holds(ephemeral2));
  EXPECT_FALSE(slot.holds(blob(keys->send.span())));

  slot.destroy();
  EXPECT_FALSE(slot.holds(pattern(8)));
}

TEST(SecretWipe, CookieSecretsAreWipedWhenDestroyed) {
  Parties p;
  InPlace<CookieChecker> checker_slot;
  CookieChecker& checker = checker_slot.make(p.responder.public_key());
  InPlace<CookieGenerator> generator_slot;
  CookieGenerator& generator = generator_slot.make(p.responder.public_key());
  Handshake hs(p.initiator, p.responder.public_key(), p.psk);
  auto msg = initiate(hs, p);
  generator.add_macs(msg, Instant{});
  std::array<uint8_t, cookie_reply::kSize> reply{};
  const std::array<uint8_t, 6> source = {203, 0, 113, 1, 0xca, 0x6c};
  checker.create_reply(reply, msg, source, Instant{}, p.rng);
  // The secret R was the last 32-byte draw (the nonce is 24 bytes).
  const Blob r = p.rng.last_key(false);
  ASSERT_TRUE(checker_slot.holds(r));
  ASSERT_TRUE(generator.consume_reply(CookieReplyMsg{reply}, Instant{}));
  const Mac cookie = mac(r, source);
  ASSERT_TRUE(generator_slot.holds(blob(cookie)));
  checker_slot.destroy();
  generator_slot.destroy();
  EXPECT_FALSE(checker_slot.holds(r));
  EXPECT_FALSE(generator_slot.holds(blob(cookie)));
}

// Delivers datagrams between two machines as a device would.
struct Wire final : Transmit {
  std::vector<Blob> sent;
  void send_to_network(Bytes d) override { sent.push_back(blob(d)); }
  void deliver_to_tun(MutableBytes) override {}
};

struct MachinePair {
  Parties p;
  test::FakeIndices ia{100}, ib{200};
  Wire wa, wb;
  InPlace<PeerMachine> slot;
  PeerMachine& a = slot.make(p.initiator, p.responder.public_key(), p.psk, TimerSettings{}, p.rng, ia);
  PeerMachine b{p.responder, p.initiator.public_key(), p.psk, TimerSettings{}, p.rng, ib};
  Duration t{1000s};

  Now now() const { return Now{Instant{t}, WallTime{1'700'000'000s + t}}; }
  void deliver(Blob d, PeerMachine& to, const LocalIdentity& id, Wire& reply) {
    auto m = classify(d);
    ASSERT_TRUE(m.ok());
    if (auto* i = std::get_if<InitiationMsg>(&*m)) {
      auto c = consume_initiation(id, *i);
      ASSERT_TRUE(c.ok());
      (void)to.receive_initiation(now(), std::move(*c), reply);
    } else if (auto* r = std::get_if<ResponseMsg>(&*m)) {
      (void)to.receive_response(now(), *r, reply);
    } else if (auto* tr = std::get_if<TransportMsg>(&*m)) {
      (void)to.receive_transport(now(), *tr, reply);
    }
  }
  void exchange() {
    while (!wa.sent.empty() || !wb.sent.empty()) {
      auto from_a = std::exchange(wa.sent, {});
      for (auto& d : from_a) deliver(d, b, p.responder, wb);
      auto from_b = std::exchange(wb.sent, {});
      for (auto& d : from_b) deliver(d, a, p.initiator, wa);
    }
  }
  void establish() {
    a.initiate(now(), wa);
    exchange();
    a.send_keepalive(now(), wa);  // confirms b's keypair
    exchange();
    ASSERT_NE(b.keypairs().current(), nullptr);
  }
};

TEST(SecretWipe, DestroyedPeerMachineHoldsNoHandshakeSecret) {
  MachinePair m;
  m.establish();
  m.t += kRekeyTimeout + 1s;
  m.a.initiate(m.now(), m.wa);  // a handshake in flight: its ephemeral is live
  const Blob ephemeral = m.p.rng.last_key();
  ASSERT_EQ(m.a.handshake().state(), Handshake::State::kCreatedInitiation);
  ASSERT_TRUE(m.slot.holds(ephemeral));
  ASSERT_TRUE(m.slot.holds(pattern(8)));
  m.slot.destroy();  // as Device::remove_peer and a reload that drops the peer do
  EXPECT_FALSE(m.slot.holds(ephemeral));
  EXPECT_FALSE(m.slot.holds(pattern(8)));
  EXPECT_TRUE(m.ia.live.empty());  // every keypair was dropped
}

TEST(SecretWipe, ZeroedPeerMachineHoldsNoKeypairAndNoHandshake) {
  MachinePair m;
  m.establish();
  // A rekey that gets no answer: retransmitted, given up, and everything is
  // wiped 3 x REJECT_AFTER_TIME later.
  m.t += kRekeyTimeout + 1s;
  m.a.initiate(m.now(), m.wa);
  for (Duration d{0}; d < 4 * kRejectAfterTime; d += 1s) {
    m.t += 1s;
    m.a.on_timer(m.now(), m.wa);
    m.wa.sent.clear();
  }
  const KeypairSet& kps = m.a.keypairs();
  EXPECT_EQ(kps.current(), nullptr);
  EXPECT_EQ(kps.previous(), nullptr);
  EXPECT_EQ(kps.next(), nullptr);
  EXPECT_EQ(m.a.handshake().state(), Handshake::State::kZeroed);
  EXPECT_EQ(m.a.handshake().transcript(), nullptr);
  EXPECT_FALSE(m.a.handshake().initiation_index().has_value());
  EXPECT_TRUE(m.ia.live.empty());
}

TEST(SecretWipe, ResetSessionsDropsEveryKeypair) {
  MachinePair m;
  m.establish();
  m.t += kRekeyTimeout + 1s;
  m.b.initiate(m.now(), m.wb);  // b: a second keypair, so previous is set too
  m.exchange();
  m.b.send_keepalive(m.now(), m.wb);
  m.exchange();
  ASSERT_NE(m.a.keypairs().previous(), nullptr);
  m.a.reset_sessions();  // as a change of our private key does
  EXPECT_EQ(m.a.keypairs().current(), nullptr);
  EXPECT_EQ(m.a.keypairs().previous(), nullptr);
  EXPECT_EQ(m.a.keypairs().next(), nullptr);
  EXPECT_EQ(m.a.handshake().transcript(), nullptr);
  EXPECT_TRUE(m.ia.live.empty());
}

// append_wiping: a growing string that holds a key leaves no copy in the
// buffers it gives back. The allocator checks each buffer as it is freed.
template <class T>
struct CheckingAllocator {
  using value_type = T;
  static inline size_t nonzero_frees = 0;
  static inline size_t frees = 0;
  CheckingAllocator() = default;
  template <class U>
  CheckingAllocator(const CheckingAllocator<U>&) {}
  T* allocate(size_t n) { return std::allocator<T>().allocate(n); }
  void deallocate(T* p, size_t n) {
    ++frees;
    if (std::any_of(p, p + n, [](T c) { return c != T{}; })) ++nonzero_frees;
    std::allocator<T>().deallocate(p, n);
  }
  friend bool operator==(const CheckingAllocator&, const CheckingAllocator&) { return true; }
};

TEST(AppendWiping, GrowingLeavesNoCopyInFreedBuffers) {
  using WipedString = std::basic_string<char, std::char_traits<char>, CheckingAllocator<char>>;
  CheckingAllocator<char>::nonzero_frees = CheckingAllocator<char>::frees = 0;
  const std::string key = "private_key=e84b5a6d2717c1003a13b431570353dbaca9146cf150c5f8575680feba52027a\n";
  {
    WipedString request;
    for (int i = 0; i < 50; ++i) append_wiping(request, key);  // grows many times
    EXPECT_EQ(request.size(), 50 * key.size());
    EXPECT_EQ(std::string_view(request.data(), key.size()), key);
    EXPECT_EQ(std::string_view(request.data() + 49 * key.size(), key.size()), key);
    request.resize(request.capacity());
    secure_zero(request.data(), request.size());
  }
  EXPECT_GT(CheckingAllocator<char>::frees, 3u);
  EXPECT_EQ(CheckingAllocator<char>::nonzero_frees, 0u);
  // The check can fail: a plain append frees the old buffer with the key in it.
  CheckingAllocator<char>::nonzero_frees = 0;
  {
    WipedString plain;
    for (int i = 0; i < 50; ++i) plain.append(key);
    plain.resize(plain.capacity());
    secure_zero(plain.data(), plain.size());
  }
  EXPECT_GT(CheckingAllocator<char>::nonzero_frees, 0u);
}

}  // namespace
}  // namespace sitelink::handshake
