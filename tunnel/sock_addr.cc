// SockAddr conversions; see sock_addr.h.
#include "tunnel/sock_addr.h"

#include <arpa/inet.h>

#include <cstring>

namespace sitelink::tunnel {

namespace {
const std::array<uint8_t, 12> kV4MappedPrefix{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
}

SockAddr::SockAddr(const config::IpAddress& ip, uint16_t port)
    : family_(ip.is_v4() ? AF_INET : AF_INET6), ip_(ip), port_(port) {}

std::optional<SockAddr> SockAddr::from_raw(const sockaddr* sa, socklen_t len) {
  if (sa->sa_family == AF_INET && len >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
    sockaddr_in in;
    std::memcpy(&in, sa, sizeof in);
    std::array<uint8_t, 4> b;
    std::memcpy(b.data(), &in.sin_addr, 4);
    return SockAddr(config::IpAddress::v4(b), ntohs(in.sin_port));
  }
  if (sa->sa_family == AF_INET6 && len >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
    sockaddr_in6 in6;
    std::memcpy(&in6, sa, sizeof in6);
    std::array<uint8_t, 16> b;
    std::memcpy(b.data(), &in6.sin6_addr, 16);
    // A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d.
    if (std::equal(kV4MappedPrefix.begin(), kV4MappedPrefix.end(), b.begin())) {
      return SockAddr(config::IpAddress::v4({b[12], b[13], b[14], b[15]}), ntohs(in6.sin6_port));
    }
    return SockAddr(config::IpAddress::v6(b), ntohs(in6.sin6_port));
  }
  return std::nullopt;
}

std::optional<SockAddr> SockAddr::parse(std::string_view text) {
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') return std::nullopt;
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return std::nullopt;
  }
  auto ip = config::IpAddress::parse(host);
  if (!ip || port.empty() || port.size() > 5) return std::nullopt;
  uint32_t p = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return std::nullopt;
    p = p * 10 + static_cast<uint32_t>(c - '0');
  }
  if (p > 65535) return std::nullopt;
  return SockAddr(*ip, static_cast<uint16_t>(p));
}

socklen_t SockAddr::to_raw(sockaddr_storage& out, int socket_family) const {
  std::memset(&out, 0, sizeof out);
  if (is_v4() && socket_family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(&out);
    in->sin_family = AF_INET;
    in->sin_port = htons(port_);
    std::memcpy(&in->sin_addr, ip_.raw().data(), 4);
    return sizeof(sockaddr_in);
  }
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&out);
  in6->sin6_family = AF_INET6;
  in6->sin6_port = htons(port_);
  if (is_v4()) {
    std::memcpy(reinterpret_cast<uint8_t*>(&in6->sin6_addr), kV4MappedPrefix.data(), 12);
    std::memcpy(reinterpret_cast<uint8_t*>(&in6->sin6_addr) + 12, ip_.raw().data(), 4);
  } else {
    std::memcpy(&in6->sin6_addr, ip_.raw().data(), 16);
  }
  return sizeof(sockaddr_in6);
}

std::string SockAddr::to_string() const {
  if (!valid()) return "(none)";
  const std::string host = ip_.to_string();
  return (is_v4() ? host : "[" + host + "]") + ":" + std::to_string(port_);
}

std::string LocalAddr::to_string() const {
  if (!ip) return "(kernel's choice)";
  const bool link_local = !ip->is_v4() && ip->raw()[0] == 0xfe && (ip->raw()[1] & 0xc0) == 0x80;
  std::string out = ip->to_string();
  if (link_local && ifindex != 0) {
    // Appended piecewise: GCC 12 at -O3 reports a false -Wrestrict on
    // "%" + std::to_string(...).
    out += '%';
    out += std::to_string(ifindex);
  }
  return out;
}

size_t SockAddr::identity(std::array<uint8_t, 18>& out) const {
  const size_t n = is_v4() ? 4 : 16;
  std::memcpy(out.data(), ip_.raw().data(), n);
  out[n] = static_cast<uint8_t>(port_ >> 8);
  out[n + 1] = static_cast<uint8_t>(port_);
  return n + 2;
}

}  // namespace sitelink::tunnel
