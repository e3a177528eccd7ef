// Endpoint parsing: splitting host and port, IP literals, DNS name syntax.
#include "config/endpoint.h"

#include <algorithm>

#include "config/diagnostic.h"

namespace sitelink::config {
namespace {

constexpr std::string_view kExpected =
    "expected HOST:PORT, e.g. 198.51.100.7:51820, \"[2001:db8::1]:51820\" or gw.example.net:51820";

bool is_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool valid_label(std::string_view l) {
  if (l.empty() || l.size() > 63 || l.front() == '-' || l.back() == '-') return false;
  return std::all_of(l.begin(), l.end(), [](char c) { return is_alnum(c) || c == '-'; });
}

std::optional<uint16_t> parse_port(std::string_view s) {
  if (s.empty() || s.size() > 5 || !std::all_of(s.begin(), s.end(), is_digit)) return std::nullopt;
  unsigned v = 0;
  for (const char c : s) v = v * 10 + static_cast<unsigned>(c - '0');
  if (v < 1 || v > 65535) return std::nullopt;
  return static_cast<uint16_t>(v);
}

}  // namespace

bool is_dns_name(std::string_view host) {
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  if (host.empty() || host.size() > 253) return false;
  std::string_view last;
  size_t start = 0;
  while (true) {
    const size_t dot = host.find('.', start);
    last = host.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (!valid_label(last)) return false;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return !std::all_of(last.begin(), last.end(), is_digit);
}

std::string EndpointSpec::to_string() const {
  const bool v6 = address && !address->is_v4();
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Result<EndpointSpec, std::string> parse_endpoint(std::string_view text) {
  const std::string bad = quoted(text) + " is not an endpoint; " + std::string(kExpected);
  EndpointSpec e;
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') return Err(bad);
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    e.address = IpAddress::parse(host);
    if (!e.address || e.address->is_v4())
      return Err(quoted(host) + " is not an IPv6 address; " + std::string(kExpected));
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return Err(quoted(text) + " is not an endpoint: the port is missing; " + std::string(kExpected));
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return Err(quoted(text) +
                 " is not an endpoint: write an IPv6 address in brackets, quoted, e.g. \"[2001:db8::1]:51820\"");
    }
    e.address = IpAddress::parse(host);
    if (!e.address) {
      if (!is_dns_name(host))
        return Err(quoted(host) + " is neither an IPv4 address nor a DNS name; " + std::string(kExpected));
      e.is_dns_name = true;
    }
  }
  const auto p = parse_port(port);
  if (!p) return Err(quoted(port) + " is not a port in " + quoted(text) + "; expected a port number 1..65535");
  e.host = std::string(host);
  e.port = *p;
  return e;
}

}  // namespace sitelink::config
