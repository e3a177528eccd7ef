// Key types and WireGuard's text format for them: 32 bytes in standard
// base64 with padding (44 characters), as `wg genkey` writes them. The types
// are distinct so a public key cannot be passed where a private one is
// expected; none of them can be written to a stream.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "handshake/base/secret.h"
#include "handshake/crypto.h"

namespace sitelink::handshake {

inline constexpr size_t kKeyBase64Length = 44;

class PublicKey {
 public:
  PublicKey() { bytes_.fill(0); }
  explicit PublicKey(std::span<const uint8_t, kKeySize> b) { std::copy(b.begin(), b.end(), bytes_.begin()); }

  std::span<const uint8_t, kKeySize> bytes() const { return bytes_; }
  std::string to_base64() const;
  static std::optional<PublicKey> from_base64(std::string_view text);

  // Public keys are not secret: ordinary comparison is fine and lets them key maps.
  friend auto operator<=>(const PublicKey&, const PublicKey&) = default;

 private:
  std::array<uint8_t, kKeySize> bytes_;
};

class PrivateKey {
 public:
  PrivateKey() = default;
  // The bytes are clamped, as wg does, so the key round-trips through base64.
  explicit PrivateKey(std::span<const uint8_t, kKeySize> b);

  static PrivateKey generate(Rng& rng);
  static std::optional<PrivateKey> from_base64(std::string_view text);
  std::string to_base64() const;

  std::span<const uint8_t, kKeySize> bytes() const { return key_.span(); }
  PublicKey public_key() const;
  bool is_zero() const { return ct_is_zero(key_.span()); }

 private:
  Secret<kKeySize> key_;
};

class PresharedKey {
 public:
  PresharedKey() = default;  // all zeros: "no preshared key", as in WireGuard
  explicit PresharedKey(std::span<const uint8_t, kKeySize> b) : key_(b) {}

  static PresharedKey generate(Rng& rng);
  static std::optional<PresharedKey> from_base64(std::string_view text);
  std::string to_base64() const;

  std::span<const uint8_t, kKeySize> bytes() const { return key_.span(); }
  bool is_zero() const { return ct_is_zero(key_.span()); }
  friend bool operator==(const PresharedKey& a, const PresharedKey& b) { return ct_equal(a.bytes(), b.bytes()); }

 private:
  Secret<kKeySize> key_;
};

// Decodes exactly 32 bytes of standard, padded base64 into `out`; false on
// any other input (wrong length, bad characters, missing padding).
[[nodiscard]] bool key_from_base64(std::string_view text, std::span<uint8_t, kKeySize> out);
std::string key_to_base64(std::span<const uint8_t, kKeySize> key);

}  // namespace sitelink::handshake
