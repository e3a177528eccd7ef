// Inner IP header parsing; see ip_header.h.
#include "tunnel/ip_header.h"

namespace sitelink::tunnel {

namespace {
constexpr size_t kIpv4MinHeader = 20;
constexpr size_t kIpv6Header = 40;
}  // namespace

std::optional<IpHeader> parse_ip_header(Bytes p) {
  if (p.empty()) return std::nullopt;
  IpHeader h;
  h.version = p[0] >> 4;
  if (h.version == 4) {
    if (p.size() < kIpv4MinHeader) return std::nullopt;
    const size_t ihl = size_t{p[0] & 0x0fu} * 4;
    h.total_length = size_t{p[2]} << 8 | p[3];
    if (ihl < kIpv4MinHeader || h.total_length < ihl || h.total_length > p.size()) return std::nullopt;
    h.src = &p[12];
    h.dst = &p[16];
    return h;
  }
  if (h.version == 6) {
    if (p.size() < kIpv6Header) return std::nullopt;
    h.total_length = kIpv6Header + (size_t{p[4]} << 8 | p[5]);
    if (h.total_length > p.size()) return std::nullopt;
    h.src = &p[8];
    h.dst = &p[24];
    return h;
  }
  return std::nullopt;
}

}  // namespace sitelink::tunnel
