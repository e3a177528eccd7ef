// IP addresses and prefixes (IPv4 and IPv6) as values: parsing with
// inet_pton, canonical form (host bits cleared), containment and overlap.
// allowed-ips are canonicalised (a prefix with host bits set is fixed with a
// warning by the loader); interface addresses keep their host bits, since
// "198.18.0.1/24" means "address 198.18.0.1 on a /24".
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "handshake/base/result.h"

namespace sitelink::config {

enum class Family : uint8_t { kV4 = 4, kV6 = 6 };

class IpAddress {
 public:
  IpAddress() = default;
  static IpAddress v4(const std::array<uint8_t, 4>& b);
  static IpAddress v6(const std::array<uint8_t, 16>& b);
  // Dotted-quad IPv4 or RFC 4291 IPv6 text; no zone, no brackets.
  static std::optional<IpAddress> parse(std::string_view text);

  Family family() const { return family_; }
  bool is_v4() const { return family_ == Family::kV4; }
  uint8_t max_prefix_length() const { return is_v4() ? 32 : 128; }
  // Network-order bytes: 4 for IPv4, 16 for IPv6 (the rest of the array is zero).
  const std::array<uint8_t, 16>& raw() const { return bytes_; }
  std::string to_string() const;

  friend auto operator<=>(const IpAddress&, const IpAddress&) = default;

 private:
  Family family_ = Family::kV4;
  std::array<uint8_t, 16> bytes_{};
};

class IpPrefix {
 public:
  IpPrefix() = default;
  IpPrefix(IpAddress a, uint8_t length) : address_(a), length_(length) {}

  // "ADDRESS/LENGTH", or a bare address meaning a host prefix (/32, /128),
  // as wg accepts it. Host bits are kept; see canonical(). On failure the
  // error is a message for a diagnostic ("'x' is not an IP prefix...").
  [[nodiscard]] static Result<IpPrefix, std::string> parse(std::string_view text);

  const IpAddress& address() const { return address_; }
  uint8_t length() const { return length_; }
  Family family() const { return address_.family(); }

  IpPrefix canonical() const;  // host bits cleared
  bool is_canonical() const { return canonical() == *this; }
  bool contains(const IpAddress& a) const;
  bool contains(const IpPrefix& p) const;  // p lies entirely inside this prefix
  bool overlaps(const IpPrefix& p) const { return contains(p) || p.contains(*this); }
  std::string to_string() const;

  friend auto operator<=>(const IpPrefix&, const IpPrefix&) = default;

 private:
  IpAddress address_;
  uint8_t length_ = 0;
};

}  // namespace sitelink::config
