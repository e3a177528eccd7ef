// Thin, typed wrappers over the primitives WireGuard uses. This file and
// crypto.cc are the only places that include <sodium.h> and <blake2.h>; no
// primitive is implemented here, only composed (HMAC and the KDF chain are
// built from libb2's BLAKE2s exactly as the WireGuard paper, section 5.4,
// defines them).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "handshake/base/bytes.h"
#include "handshake/base/secret.h"

namespace sitelink::handshake {

inline constexpr size_t kKeySize = 32;
inline constexpr size_t kHashSize = 32;
inline constexpr size_t kMacSize = 16;
inline constexpr size_t kAeadTagSize = 16;
inline constexpr size_t kXNonceSize = 24;

using Hash = std::array<uint8_t, kHashSize>;
using Mac = std::array<uint8_t, kMacSize>;
using SymmetricKey = Secret<kKeySize>;

// Must be called once before any other function here (idempotent).
void crypto_init();

// The single source of randomness for the protocol core, always injected so
// tests can make handshakes and jitter reproducible.
class Rng {
 public:
  virtual ~Rng() = default;
  virtual void fill(MutableBytes out) = 0;
  uint32_t uniform(uint32_t upper_bound);  // in [0, upper_bound), unbiased
};

// The operating system's CSPRNG (libsodium's randombytes).
// Draws from the kernel (getrandom, through libsodium) a pool at a time, so
// that a flood answered with cookie replies, each needing a fresh nonce,
// does not cost a system call per packet. Bytes handed out are wiped from
// the pool.
class SodiumRng final : public Rng {
 public:
  SodiumRng() = default;
  SodiumRng(const SodiumRng&) = delete;
  SodiumRng& operator=(const SodiumRng&) = delete;
  ~SodiumRng() override;
  void fill(MutableBytes out) override;

 private:
  static constexpr size_t kPool = 512;
  std::array<uint8_t, kPool> pool_{};
  size_t left_ = 0;  // unread bytes at the end of pool_
};

// --- X25519 (RFC 7748) ---------------------------------------------------
void x25519_clamp(std::span<uint8_t, kKeySize> secret);
// Public key for a secret scalar. Always succeeds.
void x25519_base(std::span<uint8_t, kKeySize> public_out, std::span<const uint8_t, kKeySize> secret);
// Shared secret; false if the result is all zeros (a low-order point), which
// WireGuard treats as a failed handshake.
[[nodiscard]] bool x25519(std::span<uint8_t, kKeySize> shared_out, std::span<const uint8_t, kKeySize> secret,
                          std::span<const uint8_t, kKeySize> peer_public);

// --- ChaCha20-Poly1305 (RFC 8439) with WireGuard's nonce --------------------
// The 96-bit nonce is 32 zero bits followed by the 64-bit little-endian counter.
// Encrypts `plain` into `out` (|out| == |plain| + 16). `out` may alias `plain`
// exactly (in place).
void aead_seal(MutableBytes out, std::span<const uint8_t, kKeySize> key, uint64_t counter, Bytes plain, Bytes ad);
// Decrypts `sealed` into `out` (|out| == |sealed| - 16); false if the tag is
// wrong, in which case `out` is zeroed. `out` may alias `sealed` exactly.
[[nodiscard]] bool aead_open(MutableBytes out, std::span<const uint8_t, kKeySize> key, uint64_t counter, Bytes sealed,
                             Bytes ad);

// --- XChaCha20-Poly1305 (cookie replies) ------------------------------------
void xaead_seal(MutableBytes out, std::span<const uint8_t, kKeySize> key, std::span<const uint8_t, kXNonceSize> nonce,
                Bytes plain, Bytes ad);
[[nodiscard]] bool xaead_open(MutableBytes out, std::span<const uint8_t, kKeySize> key,
                              std::span<const uint8_t, kXNonceSize> nonce, Bytes sealed, Bytes ad);

// --- BLAKE2s (RFC 7693) -----------------------------------------------------
// HASH(a || b || ...): unkeyed BLAKE2s-256 over the concatenation.
Hash hash(std::initializer_list<Bytes> parts);
// MAC(key, input): keyed BLAKE2s with a 16-byte output (mac1, mac2, cookies).
Mac mac(Bytes key, Bytes input);
// HMAC(key, input) with BLAKE2s-256 and its 64-byte block (RFC 2104).
void hmac(std::span<uint8_t, kHashSize> out, Bytes key, std::initializer_list<Bytes> input);

// KDFn(key, input) from the paper: HKDF with HMAC-BLAKE2s, n outputs of 32 bytes.
void kdf1(std::span<uint8_t, 32> t0, Bytes key, Bytes input);
void kdf2(std::span<uint8_t, 32> t0, std::span<uint8_t, 32> t1, Bytes key, Bytes input);
void kdf3(std::span<uint8_t, 32> t0, std::span<uint8_t, 32> t1, std::span<uint8_t, 32> t2, Bytes key, Bytes input);

// Constant-time equality for secrets and authenticators.
[[nodiscard]] bool ct_equal(Bytes a, Bytes b);
// Constant-time "all bytes zero".
[[nodiscard]] bool ct_is_zero(Bytes a);

}  // namespace sitelink::handshake
