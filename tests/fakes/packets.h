// Inner IP packets for tests (the role of wireguard-go's tuntest.Ping):
// well-formed IPv4/IPv6 headers with a recognisable payload. Checksums are
// not needed: the fakes do not check them.
#pragma once

#include <string>
#include <vector>

#include "config/ip_prefix.h"

namespace sitelink::test {

inline std::vector<uint8_t> ip_packet(const std::string& src, const std::string& dst, size_t payload, uint8_t tag) {
  auto s = config::IpAddress::parse(src);
  auto d = config::IpAddress::parse(dst);
  std::vector<uint8_t> p;
  if (s->is_v4()) {
    p.assign(20 + payload, tag);
    const size_t total = p.size();
    p[0] = 0x45;
    p[1] = 0;
    p[2] = static_cast<uint8_t>(total >> 8);
    p[3] = static_cast<uint8_t>(total);
    p[8] = 64;
    p[9] = 17;
    std::copy_n(s->raw().begin(), 4, p.begin() + 12);
    std::copy_n(d->raw().begin(), 4, p.begin() + 16);
  } else {
    p.assign(40 + payload, tag);
    p[0] = 0x60;
    p[1] = p[2] = p[3] = 0;
    p[4] = static_cast<uint8_t>(payload >> 8);
    p[5] = static_cast<uint8_t>(payload);
    p[6] = 17;
    p[7] = 64;
    std::copy_n(s->raw().begin(), 16, p.begin() + 8);
    std::copy_n(d->raw().begin(), 16, p.begin() + 24);
  }
  return p;
}

}  // namespace sitelink::test
