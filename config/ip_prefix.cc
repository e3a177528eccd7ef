// IP address and prefix parsing (inet_pton/inet_ntop) and prefix arithmetic.
#include "config/ip_prefix.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

#include "config/diagnostic.h"

namespace sitelink::config {
namespace {

// The longest IPv6 text inet_pton accepts is 45 characters.
constexpr size_t kMaxAddressText = 64;

// True if the first `bits` bits of a and b are equal.
bool same_leading_bits(const std::array<uint8_t, 16>& a, const std::array<uint8_t, 16>& b, unsigned bits) {
  const unsigned whole = bits / 8;
  if (!std::equal(a.begin(), a.begin() + whole, b.begin())) return false;
  const unsigned rest = bits % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a[whole] & mask) == (b[whole] & mask);
}

std::optional<unsigned> parse_length(std::string_view s) {
  if (s.empty() || s.size() > 3) return std::nullopt;
  if (s.size() > 1 && s[0] == '0') return std::nullopt;  // no leading zeros
  unsigned v = 0;
  for (const char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  return v;
}

}  // namespace

IpAddress IpAddress::v4(const std::array<uint8_t, 4>& b) {
  IpAddress a;
  a.family_ = Family::kV4;
  std::copy(b.begin(), b.end(), a.bytes_.begin());
  return a;
}

IpAddress IpAddress::v6(const std::array<uint8_t, 16>& b) {
  IpAddress a;
  a.family_ = Family::kV6;
  a.bytes_ = b;
  return a;
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  if (text.empty() || text.size() >= kMaxAddressText) return std::nullopt;
  char buf[kMaxAddressText];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  if (std::memchr(buf, '\0', text.size()) != nullptr) return std::nullopt;
  std::array<uint8_t, 16> b{};
  if (inet_pton(AF_INET, buf, b.data()) == 1) {
    return v4({b[0], b[1], b[2], b[3]});
  }
  if (inet_pton(AF_INET6, buf, b.data()) == 1) return v6(b);
  return std::nullopt;
}

std::string IpAddress::to_string() const {
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(is_v4() ? AF_INET : AF_INET6, bytes_.data(), buf, sizeof buf);
  return buf;
}

Result<IpPrefix, std::string> IpPrefix::parse(std::string_view text) {
  const std::string not_prefix = quoted(text) + " is not an IP prefix";
  const size_t slash = text.find('/');
  const auto addr = IpAddress::parse(text.substr(0, slash));
  if (!addr) return Err(not_prefix);
  if (slash == std::string_view::npos) return IpPrefix(*addr, addr->max_prefix_length());
  const auto len = parse_length(text.substr(slash + 1));
  if (!len) return Err(not_prefix + ": the length after '/' must be a number");
  if (*len > addr->max_prefix_length()) {
    return Err(not_prefix + ": an " + std::string(addr->is_v4() ? "IPv4" : "IPv6") + " prefix length is 0.." +
               std::to_string(addr->max_prefix_length()));
  }
  return IpPrefix(*addr, static_cast<uint8_t>(*len));
}

IpPrefix IpPrefix::canonical() const {
  std::array<uint8_t, 16> b = address_.raw();
  for (unsigned bit = length_; bit < 128; ++bit) {
    b[bit / 8] = static_cast<uint8_t>(b[bit / 8] & ~(0x80u >> (bit % 8)));
  }
  const IpAddress a = address_.is_v4() ? IpAddress::v4({b[0], b[1], b[2], b[3]}) : IpAddress::v6(b);
  return {a, length_};
}

bool IpPrefix::contains(const IpAddress& a) const {
  return a.family() == family() && same_leading_bits(address_.raw(), a.raw(), length_);
}

bool IpPrefix::contains(const IpPrefix& p) const {
  return p.family() == family() && p.length_ >= length_ && same_leading_bits(address_.raw(), p.address_.raw(), length_);
}

std::string IpPrefix::to_string() const { return address_.to_string() + "/" + std::to_string(length_); }

}  // namespace sitelink::config
