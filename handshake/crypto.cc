// Implementation of crypto.h over libsodium (X25519, (X)ChaCha20-Poly1305,
// randomness, constant-time compares, wiping) and libb2 (BLAKE2s).
#include "handshake/crypto.h"

#include <algorithm>
#include <cstring>

#include <blake2.h>
#include <sodium.h>

#include <cstdlib>

namespace sitelink {

void secure_zero(void* p, size_t n) { sodium_memzero(p, n); }

}  // namespace sitelink

namespace sitelink::handshake {
namespace {

constexpr size_t kBlake2sBlockSize = 64;

void wg_nonce(uint8_t nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES], uint64_t counter) {
  static_assert(crypto_aead_chacha20poly1305_IETF_NPUBBYTES == 12);
  store_le32(nonce, 0);
  store_le64(nonce + 4, counter);
}

[[noreturn]] void crypto_failure() { std::abort(); }

}  // namespace

void crypto_init() {
  if (sodium_init() < 0) crypto_failure();
}

uint32_t Rng::uniform(uint32_t upper_bound) {
  if (upper_bound < 2) return 0;
  // Rejection sampling: discard the top partial range so every value is
  // equally likely.
  const uint32_t limit = UINT32_MAX - (UINT32_MAX % upper_bound);
  for (;;) {
    std::array<uint8_t, 4> b;
    fill(b);
    const uint32_t v = load_le32(b.data());
    if (v < limit) return v % upper_bound;
  }
}

SodiumRng::~SodiumRng() { sodium_memzero(pool_.data(), pool_.size()); }

void SodiumRng::fill(MutableBytes out) {
  if (out.size() > kPool / 4) return randombytes_buf(out.data(), out.size());
  size_t done = 0;
  while (done < out.size()) {
    if (left_ == 0) {
      randombytes_buf(pool_.data(), pool_.size());
      left_ = kPool;
    }
    const size_t n = std::min(left_, out.size() - done);
    uint8_t* from = pool_.data() + (kPool - left_);
    std::memcpy(out.data() + done, from, n);
    sodium_memzero(from, n);
    left_ -= n;
    done += n;
  }
}

void x25519_clamp(std::span<uint8_t, kKeySize> secret) {
  secret[0] &= 248;
  secret[31] = static_cast<uint8_t>((secret[31] & 127) | 64);
}

void x25519_base(std::span<uint8_t, kKeySize> public_out, std::span<const uint8_t, kKeySize> secret) {
  if (crypto_scalarmult_curve25519_base(public_out.data(), secret.data()) != 0) crypto_failure();
}

bool x25519(std::span<uint8_t, kKeySize> shared_out, std::span<const uint8_t, kKeySize> secret,
            std::span<const uint8_t, kKeySize> peer_public) {
  // libsodium itself returns -1 for an all-zero output; check explicitly as
  // well so the contract does not depend on the library version.
  if (crypto_scalarmult_curve25519(shared_out.data(), secret.data(), peer_public.data()) != 0) {
    sodium_memzero(shared_out.data(), shared_out.size());
    return false;
  }
  return !ct_is_zero(shared_out);
}

void aead_seal(MutableBytes out, std::span<const uint8_t, kKeySize> key, uint64_t counter, Bytes plain, Bytes ad) {
  if (out.size() != plain.size() + kAeadTagSize) crypto_failure();
  uint8_t nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];
  wg_nonce(nonce, counter);
  crypto_aead_chacha20poly1305_ietf_encrypt_detached(out.data(), out.data() + plain.size(), nullptr, plain.data(),
                                                     plain.size(), ad.data(), ad.size(), nullptr, nonce, key.data());
}

bool aead_open(MutableBytes out, std::span<const uint8_t, kKeySize> key, uint64_t counter, Bytes sealed, Bytes ad) {
  if (sealed.size() < kAeadTagSize || out.size() != sealed.size() - kAeadTagSize) return false;
  uint8_t nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];
  wg_nonce(nonce, counter);
  const size_t n = out.size();
  if (crypto_aead_chacha20poly1305_ietf_decrypt_detached(out.data(), nullptr, sealed.data(), n, sealed.data() + n,
                                                         ad.data(), ad.size(), nonce, key.data()) != 0) {
    sodium_memzero(out.data(), n);
    return false;
  }
  return true;
}

void xaead_seal(MutableBytes out, std::span<const uint8_t, kKeySize> key, std::span<const uint8_t, kXNonceSize> nonce,
                Bytes plain, Bytes ad) {
  static_assert(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES == kXNonceSize);
  if (out.size() != plain.size() + kAeadTagSize) crypto_failure();
  crypto_aead_xchacha20poly1305_ietf_encrypt_detached(out.data(), out.data() + plain.size(), nullptr, plain.data(),
                                                      plain.size(), ad.data(), ad.size(), nullptr, nonce.data(),
                                                      key.data());
}

bool xaead_open(MutableBytes out, std::span<const uint8_t, kKeySize> key, std::span<const uint8_t, kXNonceSize> nonce,
                Bytes sealed, Bytes ad) {
  if (sealed.size() < kAeadTagSize || out.size() != sealed.size() - kAeadTagSize) return false;
  const size_t n = out.size();
  if (crypto_aead_xchacha20poly1305_ietf_decrypt_detached(out.data(), nullptr, sealed.data(), n, sealed.data() + n,
                                                          ad.data(), ad.size(), nonce.data(), key.data()) != 0) {
    sodium_memzero(out.data(), n);
    return false;
  }
  return true;
}

Hash hash(std::initializer_list<Bytes> parts) {
  blake2s_state s;
  if (blake2s_init(&s, kHashSize) != 0) crypto_failure();
  for (Bytes p : parts) blake2s_update(&s, p.data(), p.size());
  Hash out;
  blake2s_final(&s, out.data(), out.size());
  sodium_memzero(&s, sizeof s);
  return out;
}

Mac mac(Bytes key, Bytes input) {
  Mac out;
  if (key.empty() || key.size() > BLAKE2S_KEYBYTES) crypto_failure();
  // What libb2's blake2s() does, but the state (after the key block it is
  // as good as the key: cookies are MACs under the cookie secret) is wiped.
  blake2s_state s;
  if (blake2s_init_key(&s, out.size(), key.data(), key.size()) != 0) crypto_failure();
  blake2s_update(&s, input.data(), input.size());
  blake2s_final(&s, out.data(), out.size());
  sodium_memzero(&s, sizeof s);
  return out;
}

void hmac(std::span<uint8_t, kHashSize> out, Bytes key, std::initializer_list<Bytes> input) {
  // RFC 2104: H((K ^ opad) || H((K ^ ipad) || text)), K padded to the block.
  Secret<kBlake2sBlockSize> block;
  if (key.size() > kBlake2sBlockSize) {
    const Hash k = hash({key});
    std::copy(k.begin(), k.end(), block.data());
  } else {
    std::copy(key.begin(), key.end(), block.data());
  }
  for (size_t i = 0; i < kBlake2sBlockSize; ++i) block.data()[i] ^= 0x36;
  blake2s_state s;
  blake2s_init(&s, kHashSize);
  blake2s_update(&s, block.data(), kBlake2sBlockSize);
  for (Bytes p : input) blake2s_update(&s, p.data(), p.size());
  Secret<kHashSize> inner;
  blake2s_final(&s, inner.data(), kHashSize);

  for (size_t i = 0; i < kBlake2sBlockSize; ++i) block.data()[i] ^= 0x36 ^ 0x5c;
  blake2s_init(&s, kHashSize);
  blake2s_update(&s, block.data(), kBlake2sBlockSize);
  blake2s_update(&s, inner.data(), kHashSize);
  blake2s_final(&s, out.data(), kHashSize);
  sodium_memzero(&s, sizeof s);
}

namespace {

// HKDF-Expand over a PRK that is itself HMAC(key, input) (HKDF-Extract);
// writes as many 32-byte outputs as `outs` has.
void kdf(std::initializer_list<std::span<uint8_t, 32>> outs, Bytes key, Bytes input) {
  Secret<kHashSize> prk;
  hmac(prk.span(), key, {input});
  Secret<kHashSize> prev;
  uint8_t counter = 1;
  for (auto out : outs) {
    const uint8_t c[1] = {counter};
    if (counter == 1) {
      hmac(prev.span(), prk.span(), {Bytes(c, 1)});
    } else {
      Secret<kHashSize> next;
      hmac(next.span(), prk.span(), {prev.span(), Bytes(c, 1)});
      prev = next;
    }
    std::copy(prev.data(), prev.data() + kHashSize, out.data());
    ++counter;
  }
}

}  // namespace

void kdf1(std::span<uint8_t, 32> t0, Bytes key, Bytes input) { kdf({t0}, key, input); }

void kdf2(std::span<uint8_t, 32> t0, std::span<uint8_t, 32> t1, Bytes key, Bytes input) { kdf({t0, t1}, key, input); }

void kdf3(std::span<uint8_t, 32> t0, std::span<uint8_t, 32> t1, std::span<uint8_t, 32> t2, Bytes key, Bytes input) {
  kdf({t0, t1, t2}, key, input);
}

bool ct_equal(Bytes a, Bytes b) { return a.size() == b.size() && sodium_memcmp(a.data(), b.data(), a.size()) == 0; }

bool ct_is_zero(Bytes a) { return sodium_is_zero(a.data(), a.size()) == 1; }

}  // namespace sitelink::handshake
