// Peer endpoints as written in the config: "host:port", "[v6]:port" or
// "dns.name:port". DNS names are only syntax-checked here (RFC 1123 labels);
// the daemon resolves them. A bare IPv6 address without brackets is refused,
// since its last ':' cannot be told apart from the port separator.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "config/ip_prefix.h"
#include "handshake/base/result.h"

namespace sitelink::config {

struct EndpointSpec {
  std::string host;   // IP literal (no brackets) or DNS name, as written
  uint16_t port = 0;  // 1..65535
  bool is_dns_name = false;
  std::optional<IpAddress> address;  // set exactly when !is_dns_name

  // "198.51.100.7:51820", "[2001:db8::1]:51820" or "gw.example:51820".
  std::string to_string() const;
  friend bool operator==(const EndpointSpec&, const EndpointSpec&) = default;
};

// On failure the error is a diagnostic message ("'x' is not ...; expected ...").
[[nodiscard]] Result<EndpointSpec, std::string> parse_endpoint(std::string_view text);

// RFC 1123 host name: dot-separated labels of letters, digits and '-', 1..63
// characters each, not starting or ending with '-', at most 253 characters,
// an optional trailing dot, and a last label that is not all digits (so a
// mistyped IPv4 address such as 198.51.100.300 is not taken for a name).
bool is_dns_name(std::string_view host);

}  // namespace sitelink::config
