// Just enough of the inner IPv4/IPv6 header for the data path: the version,
// source and destination (for cryptokey routing) and the total length (to
// trim WireGuard's padding from a decrypted packet).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "handshake/base/bytes.h"

namespace sitelink::tunnel {

struct IpHeader {
  int version = 0;               // 4 or 6
  const uint8_t* src = nullptr;  // 4 or 16 network-order bytes inside the packet
  const uint8_t* dst = nullptr;
  size_t total_length = 0;  // header + payload, as the header says
};

// Parses the fixed header of an IPv4 or IPv6 packet. Refuses anything too
// short for its header, with a bad IPv4 header length, or whose stated total
// length exceeds the bytes available (a longer buffer is fine: padding).
std::optional<IpHeader> parse_ip_header(Bytes packet);

}  // namespace sitelink::tunnel
