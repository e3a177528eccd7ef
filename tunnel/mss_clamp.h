// TCP MSS clamping: the pure packet surgery behind `mss-clamp` (SPEC.md
// "Real office networks"). Office hosts announce an MSS that fits their
// 1500-byte LAN; segments that size do not fit the tunnel, and path-MTU
// discovery fails wherever ICMP is dropped. Lowering the MSS option of the
// SYN and SYN-ACK that cross the tunnel makes both ends send segments that
// fit.
//
// Works on caller buffers, no system calls: unit-tested and fuzzed directly.
#pragma once

#include <cstdint>

#include "handshake/base/bytes.h"

namespace sitelink::tunnel {

// The largest MSS allowed per IP version; 0 leaves that version alone.
struct MssLimits {
  uint16_t ipv4 = 0;
  uint16_t ipv6 = 0;
};

// If `packet` is an IPv4 or IPv6 TCP segment with SYN set (SYN or SYN-ACK),
// not a fragment (IPv6: the TCP header directly after the fixed header; any
// extension header and the packet is left alone), with a well-formed MSS
// option above the limit for its version, lowers the option to the limit and
// fixes the TCP checksum incrementally (RFC 1624). Returns whether it did.
// Anything malformed (truncated headers, option lengths 0/1 or past the TCP
// header) is left unchanged; nothing outside the IP packet's stated length
// is read or written.
//
// `partial_checksum`: the packet came with VIRTIO_NET_HDR_F_NEEDS_CSUM, so
// the checksum field holds the pseudo-header sum, a summand that whoever
// completes the checksum adds to the sum of the TCP bytes; it then already
// covers the new MSS and must not be adjusted.
bool clamp_mss(MutableBytes packet, MssLimits limits, bool partial_checksum = false);

}  // namespace sitelink::tunnel
