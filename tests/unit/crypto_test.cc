// Known-answer tests for the primitives in handshake/crypto.h, driven by the
// published vectors in tests/data/vectors/, plus the properties the protocol
// relies on (low-order points rejected, tampering detected, in-place AEAD,
// constant-time compares, unbiased Rng::uniform).
#include "handshake/crypto.h"

#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <string>
#include <vector>

#include "handshake/constants.h"
#include "support/test_support.h"

namespace sitelink::handshake {
namespace {

using test::hex;
using test::read_vectors;
using test::unhex;
using test::VectorCase;

// Hex value of `key` in a vector case as a fixed-size array; throws (and so
// fails the test) if the key is missing or has the wrong length.
template <size_t N>
std::array<uint8_t, N> fixed(const VectorCase& c, const std::string& key) {
  const std::vector<uint8_t> v = unhex(c.at(key));
  if (v.size() != N) throw std::invalid_argument(key + ": expected " + std::to_string(N) + " bytes");
  std::array<uint8_t, N> out;
  std::copy(v.begin(), v.end(), out.begin());
  return out;
}

std::vector<uint8_t> bytes_of(const VectorCase& c, const std::string& key) { return unhex(c.at(key)); }

// Normalised hex of a vector value, for readable comparisons.
std::string want(const VectorCase& c, const std::string& key) { return hex(unhex(c.at(key))); }

std::vector<uint8_t> concat(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  std::vector<uint8_t> out = a;
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

Bytes as_bytes(const char* s) { return Bytes(reinterpret_cast<const uint8_t*>(s), std::strlen(s)); }

// --- X25519 -------------------------------------------------------------------

TEST(CryptoKat, X25519Rfc7748) {
  const auto cases = read_vectors("vectors/x25519.txt");
  int scalar_cases = 0, dh_cases = 0;
  for (const auto& c : cases) {
    if (c.count("scalar")) {
      // Section 5.2: the scalars are not clamped and vector 2's u has bit 255
      // set; X25519 must clamp the scalar and mask u itself.
      SCOPED_TRACE(c.at("scalar"));
      const auto k = fixed<32>(c, "scalar");
      const auto u = fixed<32>(c, "u");
      std::array<uint8_t, 32> out{};
      ASSERT_TRUE(x25519(out, k, u));
      EXPECT_EQ(hex(out), want(c, "out"));
      ++scalar_cases;
    } else if (c.count("alice_private")) {
      // Section 6.1: public keys from x25519_base, shared secret both ways.
      const auto a_priv = fixed<32>(c, "alice_private");
      const auto b_priv = fixed<32>(c, "bob_private");
      std::array<uint8_t, 32> a_pub{}, b_pub{}, s1{}, s2{};
      x25519_base(a_pub, a_priv);
      x25519_base(b_pub, b_priv);
      EXPECT_EQ(hex(a_pub), want(c, "alice_public"));
      EXPECT_EQ(hex(b_pub), want(c, "bob_public"));
      const auto a_pub_v = fixed<32>(c, "alice_public");
      const auto b_pub_v = fixed<32>(c, "bob_public");
      ASSERT_TRUE(x25519(s1, a_priv, b_pub_v));
      ASSERT_TRUE(x25519(s2, b_priv, a_pub_v));
      EXPECT_EQ(hex(s1), want(c, "shared"));
      EXPECT_EQ(hex(s2), want(c, "shared"));
      // x25519_base agrees with x25519 against the base point u = 9.
      std::array<uint8_t, 32> nine{};
      nine[0] = 9;
      std::array<uint8_t, 32> via_nine{};
      ASSERT_TRUE(x25519(via_nine, a_priv, nine));
      EXPECT_EQ(hex(via_nine), want(c, "alice_public"));
      ++dh_cases;
    }
  }
  EXPECT_EQ(scalar_cases, 2);
  EXPECT_EQ(dh_cases, 1);
}

TEST(CryptoKat, X25519Iterated) {
  int tested = 0;
  for (const auto& c : read_vectors("vectors/x25519_iterated.txt")) {
    const unsigned long iterations = std::stoul(c.at("iterations"));
    // The 1,000,000-iteration case takes minutes; 1 and 1000 exercise the
    // same code path.
    if (iterations > 1000) continue;
    SCOPED_TRACE("iterations = " + c.at("iterations"));
    auto k = fixed<32>(c, "k");
    auto u = fixed<32>(c, "u");
    for (unsigned long i = 0; i < iterations; ++i) {
      std::array<uint8_t, 32> r{};
      ASSERT_TRUE(x25519(r, k, u)) << "iteration " << i;
      u = k;
      k = r;
    }
    EXPECT_EQ(hex(k), want(c, "out"));
    ++tested;
  }
  EXPECT_EQ(tested, 2);
}

TEST(CryptoMisc, X25519RejectsLowOrderPoints) {
  // With a clamped scalar (a multiple of the cofactor 8), X25519 of a point
  // of order 1, 2, 4 or 8 is the identity, encoded as u = 0. Both u = 0
  // (order 2) and u = 1 (order 4) therefore give an all-zero shared secret,
  // which x25519() must report as failure with the output zeroed.
  const auto c = read_vectors("vectors/x25519.txt").at(2);
  const auto priv = fixed<32>(c, "alice_private");
  std::array<uint8_t, 32> zero{};
  std::array<uint8_t, 32> one{};
  one[0] = 1;
  for (const auto& u : {zero, one}) {
    SCOPED_TRACE(hex(u));
    std::array<uint8_t, 32> out;
    out.fill(0xaa);
    EXPECT_FALSE(x25519(out, priv, u));
    EXPECT_TRUE(ct_is_zero(out)) << hex(out);
  }
  // A proper public key still works with the same scalar.
  std::array<uint8_t, 32> out{};
  EXPECT_TRUE(x25519(out, priv, fixed<32>(c, "bob_public")));
  EXPECT_FALSE(ct_is_zero(out));
}

TEST(CryptoMisc, X25519ClampIsIdempotentAndDoesNotChangeTheKey) {
  const auto c = read_vectors("vectors/x25519.txt").at(2);
  auto priv = fixed<32>(c, "alice_private");
  const auto raw = priv;
  x25519_clamp(priv);
  EXPECT_EQ(priv[0] & 7, 0);
  EXPECT_EQ(priv[31] & 0x80, 0);
  EXPECT_EQ(priv[31] & 0x40, 0x40);
  for (size_t i = 1; i < 31; ++i) EXPECT_EQ(priv[i], raw[i]) << i;
  auto again = priv;
  x25519_clamp(again);
  EXPECT_EQ(hex(again), hex(priv));
  // X25519 clamps internally, so the clamped key has the same public key.
  std::array<uint8_t, 32> p1{}, p2{};
  x25519_base(p1, raw);
  x25519_base(p2, priv);
  EXPECT_EQ(hex(p1), hex(p2));
  EXPECT_EQ(hex(p1), want(c, "alice_public"));
}

// --- ChaCha20-Poly1305 ----------------------------------------------------------

// Flips every bit of `sealed` and of `ad` in turn; aead_open must fail each
// time and leave `out` all zero.
void expect_tamper_detected(std::span<const uint8_t, kKeySize> key, uint64_t counter,
                            const std::vector<uint8_t>& sealed, const std::vector<uint8_t>& ad) {
  const size_t n = sealed.size() - kAeadTagSize;
  size_t accepted = 0, not_zeroed = 0;
  std::string first_bad;
  auto check = [&](const std::vector<uint8_t>& s, const std::vector<uint8_t>& a, const std::string& what) {
    std::vector<uint8_t> out(n, 0xaa);
    const bool ok = aead_open(out, key, counter, s, a);
    const bool zeroed = ct_is_zero(out);
    if (ok) ++accepted;
    if (!zeroed) ++not_zeroed;
    if ((ok || !zeroed) && first_bad.empty()) first_bad = what;
  };
  for (size_t bit = 0; bit < sealed.size() * 8; ++bit) {
    std::vector<uint8_t> s = sealed;
    s[bit / 8] = static_cast<uint8_t>(s[bit / 8] ^ (1u << (bit % 8)));
    check(s, ad, "sealed bit " + std::to_string(bit));
  }
  for (size_t bit = 0; bit < ad.size() * 8; ++bit) {
    std::vector<uint8_t> a = ad;
    a[bit / 8] = static_cast<uint8_t>(a[bit / 8] ^ (1u << (bit % 8)));
    check(sealed, a, "ad bit " + std::to_string(bit));
  }
  // Truncating or extending the associated data is also tampering.
  if (!ad.empty()) check(sealed, std::vector<uint8_t>(ad.begin(), ad.end() - 1), "ad truncated");
  check(sealed, concat(ad, {0}), "ad extended");
  EXPECT_EQ(accepted, 0u) << "first: " << first_bad;
  EXPECT_EQ(not_zeroed, 0u) << "first: " << first_bad;
}

TEST(CryptoAead, ChaCha20Poly1305Rfc8439) {
  int tested = 0, inexpressible = 0;
  for (const auto& c : read_vectors("vectors/chacha20poly1305.txt")) {
    const auto nonce = fixed<12>(c, "nonce");
    // WireGuard's nonce is 4 zero bytes then the 64-bit little-endian
    // counter. An RFC nonce with a non-zero prefix (section 2.8.2 uses the
    // constant 07000000) cannot be produced by aead_seal, so there is nothing
    // of ours to check against it.
    if (load_le32(nonce.data()) != 0) {
      ++inexpressible;
      continue;
    }
    const uint64_t counter = load_le64(nonce.data() + 4);
    SCOPED_TRACE("nonce " + c.at("nonce"));
    const auto key = fixed<32>(c, "key");
    const auto ad = bytes_of(c, "aad");
    const auto plain = bytes_of(c, "plaintext");
    const auto sealed_want = concat(bytes_of(c, "ciphertext"), bytes_of(c, "tag"));
    ASSERT_EQ(sealed_want.size(), plain.size() + kAeadTagSize);

    std::vector<uint8_t> sealed(plain.size() + kAeadTagSize);
    aead_seal(sealed, key, counter, plain, ad);
    EXPECT_EQ(hex(sealed), hex(sealed_want));

    std::vector<uint8_t> opened(plain.size(), 0xaa);
    ASSERT_TRUE(aead_open(opened, key, counter, sealed_want, ad));
    EXPECT_EQ(hex(opened), hex(plain));

    // Any other counter, or another key, must not open it.
    for (uint64_t other : {counter + 1, counter ^ (uint64_t{1} << 63), uint64_t{0}}) {
      if (other == counter) continue;
      std::vector<uint8_t> out(plain.size(), 0xaa);
      EXPECT_FALSE(aead_open(out, key, other, sealed_want, ad)) << other;
      EXPECT_TRUE(ct_is_zero(out));
    }
    auto other_key = key;
    other_key[0] ^= 1;
    std::vector<uint8_t> out(plain.size(), 0xaa);
    EXPECT_FALSE(aead_open(out, other_key, counter, sealed_want, ad));
    EXPECT_TRUE(ct_is_zero(out));

    expect_tamper_detected(key, counter, sealed_want, ad);
    ++tested;
  }
  EXPECT_EQ(tested, 1);         // RFC 8439 A.5
  EXPECT_EQ(inexpressible, 1);  // RFC 8439 2.8.2
}

TEST(CryptoAead, EmptyPlaintextIsJustATag) {
  // A keepalive: no plaintext, the output is the 16-byte tag only.
  const auto c = read_vectors("vectors/chacha20poly1305.txt").at(1);
  const auto key = fixed<32>(c, "key");
  std::array<uint8_t, kAeadTagSize> tag{};
  aead_seal(tag, key, 7, Bytes{}, Bytes{});
  EXPECT_FALSE(ct_is_zero(tag));
  std::array<uint8_t, 0> none{};
  EXPECT_TRUE(aead_open(none, key, 7, tag, Bytes{}));
  EXPECT_FALSE(aead_open(none, key, 8, tag, Bytes{}));
  expect_tamper_detected(key, 7, std::vector<uint8_t>(tag.begin(), tag.end()), {});
}

TEST(CryptoAead, InPlaceMatchesOutOfPlace) {
  test::SeededRng rng(1);
  for (size_t len : {size_t{0}, size_t{1}, size_t{15}, size_t{16}, size_t{63}, size_t{64}, size_t{65}, size_t{1420}}) {
    SCOPED_TRACE("len " + std::to_string(len));
    std::array<uint8_t, 32> key;
    rng.fill(key);
    std::vector<uint8_t> plain(len), ad(13);
    rng.fill(plain);
    rng.fill(ad);
    const uint64_t counter = 0x0102030405060708ULL + len;

    std::vector<uint8_t> separate(len + kAeadTagSize);
    aead_seal(separate, key, counter, plain, ad);

    std::vector<uint8_t> buf(len + kAeadTagSize);
    std::copy(plain.begin(), plain.end(), buf.begin());
    aead_seal(buf, key, counter, MutableBytes(buf).first(len), ad);
    EXPECT_EQ(hex(buf), hex(separate));

    // Open in place: the plaintext reappears at the front of the buffer.
    ASSERT_TRUE(aead_open(MutableBytes(buf).first(len), key, counter, buf, ad));
    EXPECT_EQ(hex(Bytes(buf).first(len)), hex(plain));

    // A failed in-place open zeroes the plaintext part.
    std::vector<uint8_t> bad = separate;
    bad.back() ^= 0x80;
    EXPECT_FALSE(aead_open(MutableBytes(bad).first(len), key, counter, bad, ad));
    EXPECT_TRUE(ct_is_zero(Bytes(bad).first(len)));
  }
}

// --- XChaCha20-Poly1305 ---------------------------------------------------------

TEST(CryptoAead, XChaCha20Poly1305Draft) {
  int tested = 0;
  for (const auto& c : read_vectors("vectors/xchacha20poly1305.txt")) {
    const auto key = fixed<32>(c, "key");
    const auto nonce = fixed<kXNonceSize>(c, "nonce");
    const auto ad = bytes_of(c, "aad");
    const auto plain = bytes_of(c, "plaintext");
    const auto sealed_want = concat(bytes_of(c, "ciphertext"), bytes_of(c, "tag"));

    std::vector<uint8_t> sealed(plain.size() + kAeadTagSize);
    xaead_seal(sealed, key, nonce, plain, ad);
    EXPECT_EQ(hex(sealed), hex(sealed_want));

    std::vector<uint8_t> opened(plain.size(), 0xaa);
    ASSERT_TRUE(xaead_open(opened, key, nonce, sealed_want, ad));
    EXPECT_EQ(hex(opened), hex(plain));

    // Tampering with the tag, the ciphertext, the AD or the nonce fails and
    // zeroes the output.
    auto bad_nonce = nonce;
    bad_nonce[23] ^= 1;
    std::vector<uint8_t> out(plain.size(), 0xaa);
    EXPECT_FALSE(xaead_open(out, key, bad_nonce, sealed_want, ad));
    EXPECT_TRUE(ct_is_zero(out));
    for (size_t pos : {size_t{0}, sealed_want.size() - 1}) {
      auto bad = sealed_want;
      bad[pos] ^= 1;
      out.assign(plain.size(), 0xaa);
      EXPECT_FALSE(xaead_open(out, key, nonce, bad, ad)) << pos;
      EXPECT_TRUE(ct_is_zero(out));
    }
    auto bad_ad = ad;
    bad_ad[0] ^= 1;
    out.assign(plain.size(), 0xaa);
    EXPECT_FALSE(xaead_open(out, key, nonce, sealed_want, bad_ad));
    EXPECT_TRUE(ct_is_zero(out));
    ++tested;
  }
  EXPECT_EQ(tested, 1);
}

// --- BLAKE2s, HMAC, KDF -----------------------------------------------------------

TEST(CryptoKat, Blake2s) {
  int hashed = 0, maced = 0, inexpressible = 0;
  for (const auto& c : read_vectors("vectors/blake2s.txt")) {
    const auto in = bytes_of(c, "in");
    const std::vector<uint8_t> key = c.count("key") ? bytes_of(c, "key") : std::vector<uint8_t>{};
    const size_t outlen = c.count("outlen") ? std::stoul(c.at("outlen")) : 32;
    SCOPED_TRACE("in " + c.at("in") + " key " + (c.count("key") ? c.at("key") : "") + " outlen " +
                 std::to_string(outlen));
    if (key.empty() && outlen == kHashSize) {
      EXPECT_EQ(hex(hash({in})), want(c, "out"));
      // hash() of several parts is the hash of their concatenation.
      const size_t mid = in.size() / 2;
      EXPECT_EQ(hex(hash({Bytes(in).first(mid), Bytes(in).subspan(mid)})), want(c, "out"));
      EXPECT_EQ(hex(hash({Bytes{}, in, Bytes{}})), want(c, "out"));
      ++hashed;
    } else if (!key.empty() && outlen == kMacSize) {
      EXPECT_EQ(hex(mac(key, in)), want(c, "out"));
      ++maced;
    } else {
      // hash() only produces unkeyed 32-byte digests and mac() only keyed
      // 16-byte ones (WireGuard needs nothing else), so keyed 32-byte and
      // other-length outputs cannot be expressed with our API.
      ++inexpressible;
    }
  }
  // Every case in the file is accounted for: 7 unkeyed 32-byte digests, 10
  // keyed 16-byte MACs, 8 keyed 32-byte or odd-length outputs skipped.
  EXPECT_EQ(hashed, 7);
  EXPECT_EQ(maced, 10);
  EXPECT_EQ(inexpressible, 8);
}

TEST(CryptoKat, HmacBlake2s) {
  int tested = 0;
  for (const auto& c : read_vectors("vectors/hmac_blake2s.txt")) {
    const auto key = bytes_of(c, "key");
    const auto in = bytes_of(c, "in");
    SCOPED_TRACE("key length " + std::to_string(key.size()) + ", input length " + std::to_string(in.size()));
    std::array<uint8_t, 32> out{};
    hmac(out, key, {in});
    EXPECT_EQ(hex(out), want(c, "out"));
    // The input list is concatenated.
    const size_t mid = in.size() / 3;
    std::array<uint8_t, 32> parts{};
    hmac(parts, key, {Bytes(in).first(mid), Bytes{}, Bytes(in).subspan(mid)});
    EXPECT_EQ(hex(parts), want(c, "out"));
    ++tested;
  }
  EXPECT_EQ(tested, 9);
}

TEST(CryptoKat, KdfBlake2s) {
  int tested = 0;
  for (const auto& c : read_vectors("vectors/kdf_blake2s.txt")) {
    const auto key = bytes_of(c, "key");
    const auto input = bytes_of(c, "input");
    SCOPED_TRACE("key " + c.at("key") + " input " + c.at("input"));
    std::array<uint8_t, 32> a0{}, b0{}, b1{}, c0{}, c1{}, c2{};
    kdf1(a0, key, input);
    kdf2(b0, b1, key, input);
    kdf3(c0, c1, c2, key, input);
    EXPECT_EQ(hex(a0), want(c, "t0"));
    EXPECT_EQ(hex(b0), want(c, "t0"));
    EXPECT_EQ(hex(b1), want(c, "t1"));
    EXPECT_EQ(hex(c0), want(c, "t0"));
    EXPECT_EQ(hex(c1), want(c, "t1"));
    EXPECT_EQ(hex(c2), want(c, "t2"));
    ++tested;
  }
  EXPECT_EQ(tested, 3);
}

TEST(CryptoKat, KdfOutputMayAliasKey) {
  // mix_key() passes the chaining key as both the KDF key and its first
  // output; that must give the same result as separate buffers.
  const auto c = read_vectors("vectors/kdf_blake2s.txt").at(0);
  const auto input = bytes_of(c, "input");
  std::array<uint8_t, 32> ck{};
  ck.fill(0x5a);
  std::array<uint8_t, 32> t0{}, t1{};
  kdf2(t0, t1, ck, input);
  std::array<uint8_t, 32> k{};
  kdf2(ck, k, ck, input);
  EXPECT_EQ(hex(ck), hex(t0));
  EXPECT_EQ(hex(k), hex(t1));
}

TEST(CryptoKat, WireguardConstants) {
  const auto cases = read_vectors("vectors/wireguard_constants.txt");
  ASSERT_EQ(cases.size(), 1u);
  const auto& c = cases[0];
  // The strings in constants.h are the ones the vectors were made from.
  EXPECT_EQ(hex(as_bytes(kConstruction)), want(c, "construction"));
  EXPECT_EQ(hex(as_bytes(kIdentifier)), want(c, "identifier"));
  EXPECT_EQ(hex(as_bytes(kLabelMac1)), want(c, "label_mac1"));
  EXPECT_EQ(hex(as_bytes(kLabelCookie)), want(c, "label_cookie"));
  // Ci = HASH(construction), Hi = HASH(Ci || identifier).
  const Hash ci = hash({bytes_of(c, "construction")});
  EXPECT_EQ(hex(ci), want(c, "ci"));
  EXPECT_EQ(hex(hash({ci, bytes_of(c, "identifier")})), want(c, "hi"));
  EXPECT_EQ(hex(hash({as_bytes(kConstruction)})), want(c, "ci"));
}

// --- Constant-time compares ---------------------------------------------------------

TEST(CryptoMisc, CtEqual) {
  std::array<uint8_t, 32> a{}, b{};
  for (size_t i = 0; i < a.size(); ++i) a[i] = b[i] = static_cast<uint8_t>(i * 7 + 1);
  EXPECT_TRUE(ct_equal(a, b));
  EXPECT_TRUE(ct_equal(Bytes{}, Bytes{}));
  for (size_t i = 0; i < b.size(); ++i) {
    for (uint8_t bit = 0; bit < 8; ++bit) {
      auto c = b;
      c[i] = static_cast<uint8_t>(c[i] ^ (1u << bit));
      EXPECT_FALSE(ct_equal(a, c)) << i << ":" << int{bit};
    }
  }
  // Different lengths are never equal, even when one is a prefix.
  EXPECT_FALSE(ct_equal(a, Bytes(b).first(31)));
  EXPECT_FALSE(ct_equal(Bytes(a).first(0), b));
}

TEST(CryptoMisc, CtIsZero) {
  std::array<uint8_t, 48> z{};
  EXPECT_TRUE(ct_is_zero(z));
  EXPECT_TRUE(ct_is_zero(Bytes{}));
  for (size_t i = 0; i < z.size(); ++i) {
    auto c = z;
    c[i] = 0x80;
    EXPECT_FALSE(ct_is_zero(c)) << i;
    c[i] = 0x01;
    EXPECT_FALSE(ct_is_zero(c)) << i;
  }
}

// --- Rng::uniform ---------------------------------------------------------------

TEST(CryptoMisc, UniformStaysInRangeAndHitsEveryValue) {
  test::SeededRng rng(12345);
  for (uint32_t bound : {2u, 3u, 7u, 10u, 33u}) {
    SCOPED_TRACE("bound " + std::to_string(bound));
    std::vector<uint32_t> counts(bound, 0);
    const uint32_t draws = bound * 2000;
    for (uint32_t i = 0; i < draws; ++i) {
      const uint32_t v = rng.uniform(bound);
      ASSERT_LT(v, bound);
      ++counts[v];
    }
    // Every value appears, roughly equally often (2000 expected each; the
    // seed is fixed, so this is deterministic, and the margin is ~11 sigma).
    for (uint32_t v = 0; v < bound; ++v) {
      EXPECT_GT(counts[v], 1500u) << v;
      EXPECT_LT(counts[v], 2500u) << v;
    }
  }
  EXPECT_EQ(rng.uniform(1), 0u);
}

TEST(CryptoMisc, UniformIsUnbiasedForLargeBounds) {
  // With bound = 3 * 2^30, a plain `v % bound` would put half of all draws
  // in [0, 2^30) instead of a third; rejection sampling must not.
  test::SeededRng rng(99);
  const uint32_t bound = 3u << 30;
  const int draws = 30000;
  int low = 0;
  for (int i = 0; i < draws; ++i) {
    const uint32_t v = rng.uniform(bound);
    ASSERT_LT(v, bound);
    if (v < (1u << 30)) ++low;
  }
  EXPECT_GT(low, draws * 3 / 10);  // expected 1/3 = 10000, std. dev. ~82
  EXPECT_LT(low, draws * 37 / 100);
  // The full range is reachable near the top as well.
  bool high = false;
  for (int i = 0; i < 1000 && !high; ++i) high = rng.uniform(UINT32_MAX) > UINT32_MAX - (UINT32_MAX / 8);
  EXPECT_TRUE(high);
}

TEST(CryptoMisc, SodiumRngFillsDistinctBuffers) {
  SodiumRng rng;
  std::array<uint8_t, 32> a{}, b{};
  rng.fill(a);
  rng.fill(b);
  EXPECT_FALSE(ct_is_zero(a));
  EXPECT_FALSE(ct_equal(a, b));
  EXPECT_LT(rng.uniform(5), 5u);
}

}  // namespace
}  // namespace sitelink::handshake
