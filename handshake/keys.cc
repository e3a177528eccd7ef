// Base64 (libsodium's original, padded variant) and key derivation for the
// key types in keys.h.
#include "handshake/keys.h"

#include <sodium.h>

namespace sitelink::handshake {

bool key_from_base64(std::string_view text, std::span<uint8_t, kKeySize> out) {
  if (text.size() != kKeyBase64Length) return false;
  // libsodium 1.0.18 reads a byte >= 0x80 (a negative `char`) as a valid
  // digit; no such byte is base64. Checked without branching per byte.
  unsigned high = 0;
  for (const char c : text) high |= static_cast<unsigned char>(c);
  if ((high & 0x80) != 0) return false;
  size_t len = 0;
  const char* end = nullptr;
  Secret<kKeySize + 1> buf;  // one spare byte to detect over-long input
  if (sodium_base642bin(buf.data(), decltype(buf)::size(), text.data(), text.size(), nullptr, &len, &end,
                        sodium_base64_VARIANT_ORIGINAL) != 0) {
    return false;
  }
  if (len != kKeySize || end != text.data() + text.size()) return false;
  std::copy(buf.data(), buf.data() + kKeySize, out.begin());
  return true;
}

std::string key_to_base64(std::span<const uint8_t, kKeySize> key) {
  char buf[sodium_base64_ENCODED_LEN(kKeySize, sodium_base64_VARIANT_ORIGINAL)];
  sodium_bin2base64(buf, sizeof buf, key.data(), key.size(), sodium_base64_VARIANT_ORIGINAL);
  std::string s(buf);
  sodium_memzero(buf, sizeof buf);
  return s;
}

std::string PublicKey::to_base64() const { return key_to_base64(bytes_); }

std::optional<PublicKey> PublicKey::from_base64(std::string_view text) {
  std::array<uint8_t, kKeySize> b;
  if (!key_from_base64(text, b)) return std::nullopt;
  return PublicKey(b);
}

PrivateKey::PrivateKey(std::span<const uint8_t, kKeySize> b) : key_(b) { x25519_clamp(key_.span()); }

PrivateKey PrivateKey::generate(Rng& rng) {
  Secret<kKeySize> raw;
  rng.fill(raw.span());
  return PrivateKey(raw.span());
}

std::optional<PrivateKey> PrivateKey::from_base64(std::string_view text) {
  Secret<kKeySize> raw;
  if (!key_from_base64(text, raw.span())) return std::nullopt;
  return PrivateKey(raw.span());
}

std::string PrivateKey::to_base64() const { return key_to_base64(key_.span()); }

PublicKey PrivateKey::public_key() const {
  std::array<uint8_t, kKeySize> pub;
  x25519_base(pub, key_.span());
  return PublicKey(pub);
}

PresharedKey PresharedKey::generate(Rng& rng) {
  Secret<kKeySize> raw;
  rng.fill(raw.span());
  return PresharedKey(raw.span());
}

std::optional<PresharedKey> PresharedKey::from_base64(std::string_view text) {
  Secret<kKeySize> raw;
  if (!key_from_base64(text, raw.span())) return std::nullopt;
  return PresharedKey(raw.span());
}

std::string PresharedKey::to_base64() const { return key_to_base64(key_.span()); }

}  // namespace sitelink::handshake
