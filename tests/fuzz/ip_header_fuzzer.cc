// libFuzzer target: parse_ip_header (tunnel/ip_header.h) on arbitrary bytes,
// checked against the rules written out independently below, and used the
// way the device uses it.
//
//   - accepted exactly when the version is 4 or 6, the buffer holds the
//     fixed header, an IPv4 header length is at least 20 and within the
//     stated total length, and the total length fits in the buffer;
//   - the result's version, addresses (pointers at the right offsets inside
//     the buffer) and total length agree with the bytes;
//   - the packet cut to its total length (as Device::deliver trims the
//     padding) parses to the same header, and one byte less is refused;
//   - the addresses are read as the device reads them (4 or 16 bytes).
//
// The input is copied into a buffer of exactly its size, so that ASan sees
// any read past the end. The seed corpus (corpus/ip_header) holds real
// packets captured by make-ip-header-corpus.sh: ICMP, TCP, UDP, IGMP and MLD
// over IPv4 (with options, fragments) and IPv6 (hop-by-hop and fragment
// headers, neighbour discovery), and truncated, padded and broken variants.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>

#include "config/ip_prefix.h"
#include "fuzz/fuzz_check.h"
#include "tunnel/ip_header.h"

namespace sitelink::tunnel {
namespace {

size_t be16(const uint8_t* p) { return size_t{p[0]} << 8 | p[1]; }

// The acceptance rule and the stated total length, from the RFCs' layouts
// (RFC 791 section 3.1, RFC 8200 section 3).
std::optional<size_t> expected_total(const uint8_t* p, size_t n) {
  if (n == 0) return std::nullopt;
  const int version = p[0] >> 4;
  if (version == 4) {
    if (n < 20) return std::nullopt;
    const size_t ihl = size_t{p[0] & 0x0fu} * 4;
    const size_t total = be16(p + 2);
    if (ihl < 20 || ihl > total || total > n) return std::nullopt;
    return total;
  }
  if (version == 6) {
    if (n < 40) return std::nullopt;
    const size_t total = 40 + be16(p + 4);
    if (total > n) return std::nullopt;
    return total;
  }
  return std::nullopt;
}

void check_header(const uint8_t* p, size_t n, const IpHeader& h) {
  FUZZ_CHECK(h.version == p[0] >> 4);
  const size_t addr_len = h.version == 4 ? 4 : 16;
  FUZZ_CHECK(h.src == p + (h.version == 4 ? 12 : 8));
  FUZZ_CHECK(h.dst == h.src + addr_len);
  // Both addresses lie inside the header, inside the stated length.
  FUZZ_CHECK(static_cast<size_t>(h.dst + addr_len - p) <= h.total_length);
  FUZZ_CHECK(h.total_length <= n);
  // As Device::deliver reads a source address for its debug log.
  const auto src = h.version == 4 ? config::IpAddress::v4({h.src[0], h.src[1], h.src[2], h.src[3]})
                                  : config::IpAddress::v6(take<16>(h.src));
  FUZZ_CHECK(src.is_v4() == (h.version == 4));
}

}  // namespace
}  // namespace sitelink::tunnel

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sitelink::tunnel;
  // An exact-size heap copy: any read past the end is an ASan report.
  const auto buf = std::make_unique<uint8_t[]>(size);
  std::copy(data, data + size, buf.get());
  const uint8_t* p = buf.get();

  const auto h = parse_ip_header(sitelink::Bytes(p, size));
  const auto want = expected_total(p, size);
  FUZZ_CHECK(h.has_value() == want.has_value());
  if (!h) return 0;
  FUZZ_CHECK(h->total_length == *want);
  check_header(p, size, *h);

  // Padding trimmed: the same header; anything shorter is truncated.
  const auto trimmed = parse_ip_header(sitelink::Bytes(p, h->total_length));
  FUZZ_CHECK(trimmed && trimmed->total_length == h->total_length && trimmed->src == h->src);
  FUZZ_CHECK(!parse_ip_header(sitelink::Bytes(p, h->total_length - 1)));
  return 0;
}
