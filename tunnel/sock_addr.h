// SockAddr: an IPv4 or IPv6 UDP endpoint as a value (a sockaddr_in or
// sockaddr_in6 inside), with formatting and the byte form used for cookies.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "config/ip_prefix.h"

namespace sitelink::tunnel {

class SockAddr {
 public:
  SockAddr() = default;
  SockAddr(const config::IpAddress& ip, uint16_t port);
  // From a kernel-filled sockaddr; nullopt for families other than v4/v6.
  static std::optional<SockAddr> from_raw(const sockaddr* sa, socklen_t len);
  // "203.0.113.1:51820" or "[2001:db8::1]:51820".
  static std::optional<SockAddr> parse(std::string_view text);

  bool valid() const { return family_ != 0; }
  bool is_v4() const { return family_ == AF_INET; }
  int family() const { return family_; }
  config::IpAddress ip() const { return ip_; }
  uint16_t port() const { return port_; }

  // For sendto(): a sockaddr of the given family (an IPv4 address is written
  // as v4-mapped IPv6 for a dual-stack socket).
  socklen_t to_raw(sockaddr_storage& out, int socket_family) const;
  std::string to_string() const;
  // Address then port, big-endian: 6 or 18 bytes. Input to cookie MACs.
  size_t identity(std::array<uint8_t, 18>& out) const;

  friend bool operator==(const SockAddr&, const SockAddr&) = default;

 private:
  int family_ = 0;  // AF_INET, AF_INET6 or 0 (unset)
  config::IpAddress ip_;
  uint16_t port_ = 0;
};

// The local end of a path: the address of this host that a datagram
// arrived on, and the interface it came in by (IP_PKTINFO / IPV6_PKTINFO).
// Sending from it keeps a peer's replies on the address the peer chose
// ("sticky sockets"); unset, the kernel chooses the source.
struct LocalAddr {
  std::optional<config::IpAddress> ip;
  int ifindex = 0;

  bool valid() const { return ip.has_value(); }
  // "203.0.113.5", "2001:db8::5%3" (the interface only where it scopes the
  // address: IPv6 link-local), or "(kernel's choice)".
  std::string to_string() const;
  friend bool operator==(const LocalAddr&, const LocalAddr&) = default;
};

}  // namespace sitelink::tunnel
