#include "tunnel/netmap.h"

#include <algorithm>
#include <array>
#include <cstddef>

#include "tunnel/offload.h"

namespace sitelink::tunnel {
namespace {

constexpr uint8_t kProtoIcmp = 1;
constexpr uint8_t kProtoTcp = 6;
constexpr uint8_t kProtoUdp = 17;
constexpr uint8_t kProtoIcmpv6 = 58;
constexpr uint8_t kExtHopByHop = 0;
constexpr uint8_t kExtRouting = 43;
constexpr uint8_t kExtFragment = 44;
constexpr uint8_t kExtDestOptions = 60;
constexpr size_t kIpv4Header = 20;
constexpr size_t kIpv6Header = 40;
constexpr size_t kIcmpHeader = 8;  // type, code, checksum, 4 bytes; the quote follows
constexpr int kMaxExtHeaders = 8;

// The running one's-complement change of a checksummed region: the sum of
// ~old + new over every 16-bit word (at an even offset of the region)
// written. RFC 1624 eqn. 3 applied to many words at once.
struct Delta {
  uint32_t sum = 0;
  void add(uint16_t old_word, uint16_t new_word) { sum += uint32_t{static_cast<uint16_t>(~old_word)} + new_word; }
  void add(const Delta& d) { sum = checksum_fold(sum) + checksum_fold(d.sum); }
};

// Writes `value` at `p`, adding the change to every region it lies in.
void put16(uint8_t* p, uint16_t value, Delta* a, Delta* b = nullptr) {
  const uint16_t old = load_be16(p);
  if (a != nullptr) a->add(old, value);
  if (b != nullptr) b->add(old, value);
  store_be16(p, value);
}

// A complemented checksum field after its region changed by `d`:
// HC' = ~(~HC + sum of (~m + m')).
uint16_t adjusted(uint16_t hc, const Delta& d) {
  return static_cast<uint16_t>(~checksum_fold(uint32_t{static_cast<uint16_t>(~hc)} + checksum_fold(d.sum)));
}
// A partial (pseudo-header only, not complemented) checksum field.
uint16_t adjusted_partial(uint16_t sum, const Delta& d) { return checksum_fold(uint32_t{sum} + checksum_fold(d.sum)); }

bool rule_holds(const config::IpPrefix& prefix, const uint8_t* a) {
  const auto& raw = prefix.address().raw();
  const size_t full = prefix.length() / 8;
  if (!std::equal(a, a + full, raw.begin())) return false;
  const unsigned bits = prefix.length() % 8;
  if (bits == 0) return true;
  const auto mask = static_cast<uint8_t>(0xffu << (8 - bits));
  return ((a[full] ^ raw[full]) & mask) == 0;
}

// Maps the address at `a` (4 or 16 bytes) by the first rule that holds it;
// the words it changes are added to `pseudo` (the sums covering the address).
// Returns whether it changed.
bool map_address(uint8_t* a, int version, const Rewrites& rules, Delta& pseudo, Delta* outer) {
  const config::Family family = version == 4 ? config::Family::kV4 : config::Family::kV6;
  const size_t alen = version == 4 ? 4 : 16;
  for (const PrefixRewrite& r : rules) {
    if (r.from.family() != family || r.to.family() != family || r.from.length() != r.to.length()) continue;
    if (!rule_holds(r.from, a)) continue;
    std::array<uint8_t, 16> now{};
    std::copy(a, a + alen, now.begin());
    const auto& to = r.to.address().raw();
    const size_t full = r.to.length() / 8;
    std::copy(to.begin(), to.begin() + static_cast<std::ptrdiff_t>(full), now.begin());
    if (const unsigned bits = r.to.length() % 8; bits != 0) {
      const auto mask = static_cast<uint8_t>(0xffu << (8 - bits));
      now[full] = static_cast<uint8_t>((to[full] & mask) | (a[full] & ~mask));
    }
    if (std::equal(a, a + alen, now.begin())) return false;
    for (size_t i = 0; i < alen; i += 2) put16(a + i, load_be16(&now[i]), &pseudo, outer);
    return true;
  }
  return false;
}

bool is_icmp_error(uint8_t proto, uint8_t type) {
  if (proto == kProtoIcmpv6) return type < 128;  // destination unreachable, too big, time exceeded, parameter problem
  // destination unreachable, source quench, redirect, time exceeded, parameter problem
  return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
}

// One IP packet (the packet itself, or one quoted in an ICMP error) and what
// is being done to it.
struct Job {
  const Rewrites* src;
  const Rewrites* dst;
  bool partial;  // the transport checksum is partial (never for a quote)
  bool quoted;   // inside an ICMP error: lengths are what the quote holds
  Delta* outer;  // the enclosing ICMP checksum's region, for a quote
};

bool rewrite_ip(uint8_t* p, size_t avail, const Job& job);

// The transport header at `l4` (`len` bytes of it here) after the addresses
// in its pseudo-header changed by `pseudo` (`moved`: they did). An ICMP
// error's quote is rewritten too. Returns whether anything changed.
bool fix_transport(int version, uint8_t proto, uint8_t* l4, size_t len, const Delta& pseudo, bool moved,
                   const Job& job) {
  size_t field = 0;
  bool zero_means_none = false;
  Delta inner;  // changes inside the transport bytes themselves (a quote)
  bool quote_changed = false;
  if (proto == kProtoTcp) {
    field = 16;
  } else if (proto == kProtoUdp) {
    field = 6;
    zero_means_none = true;
  } else if (proto == kProtoIcmp || proto == kProtoIcmpv6) {
    if ((proto == kProtoIcmp) != (version == 4)) return moved;
    field = 2;
    if (!job.quoted && len >= kIcmpHeader && is_icmp_error(proto, l4[0])) {
      const Job quote{job.dst, job.src, false, true, &inner};
      quote_changed = rewrite_ip(l4 + kIcmpHeader, len - kIcmpHeader, quote);
    }
  } else {
    return moved;
  }
  if (!moved && !quote_changed) return false;
  if (len < field + 2) return true;
  Delta d = inner;
  if (proto != kProtoIcmp) d.add(pseudo);  // ICMPv4 has no pseudo-header
  uint8_t* f = l4 + field;
  const uint16_t hc = load_be16(f);
  if (job.partial) {
    // Only the pseudo-header sum is there; the completion covers the bytes.
    if (proto != kProtoIcmp && moved) put16(f, adjusted_partial(hc, pseudo), job.outer);
    return true;
  }
  if ((zero_means_none && hc == 0) || d.sum == 0) return true;
  uint16_t c = adjusted(hc, d);
  if (zero_means_none && c == 0) c = 0xffff;
  put16(f, c, job.outer);
  return true;
}

bool rewrite_v4(uint8_t* p, size_t avail, const Job& job) {
  const size_t ihl = size_t{p[0] & 0x0fu} * 4;
  if (avail < kIpv4Header || ihl < kIpv4Header || ihl > avail) return false;
  size_t end = avail;
  if (!job.quoted) {
    end = load_be16(p + 2);
    if (end < ihl || end > avail) return false;
  }
  Delta pseudo;
  const bool src = map_address(p + 12, 4, *job.src, pseudo, job.outer);
  const bool moved = map_address(p + 16, 4, *job.dst, pseudo, job.outer) || src;
  if (moved) put16(p + 10, adjusted(load_be16(p + 10), pseudo), job.outer);
  if ((load_be16(p + 6) & 0x1fff) != 0) return moved;  // a later fragment: no transport header
  return fix_transport(4, p[9], p + ihl, end - ihl, pseudo, moved, job);
}

// The transport protocol and header offset of an IPv6 packet of `end`
// bytes, past the extension headers we know; 0 if there is none to fix.
size_t ipv6_transport(const uint8_t* p, size_t end, uint8_t& proto) {
  uint8_t next = p[6];
  size_t off = kIpv6Header;
  for (int i = 0; i < kMaxExtHeaders; ++i) {
    if (next != kExtHopByHop && next != kExtDestOptions && next != kExtRouting && next != kExtFragment) {
      proto = next;
      return off;
    }
    if (end - off < 8) return 0;
    if (next == kExtFragment) {
      if ((load_be16(p + off + 2) & 0xfff8) != 0) return 0;  // a later fragment
      next = p[off];
      off += 8;
      continue;
    }
    if (next == kExtRouting && p[off + 3] != 0) return 0;  // the pseudo-header holds the final destination
    const size_t len = (size_t{p[off + 1]} + 1) * 8;
    if (len > end - off) return 0;
    next = p[off];
    off += len;
  }
  return 0;
}

bool rewrite_v6(uint8_t* p, size_t avail, const Job& job) {
  if (avail < kIpv6Header) return false;
  size_t end = avail;
  if (!job.quoted) {
    end = kIpv6Header + load_be16(p + 4);
    if (end > avail) return false;
  }
  Delta pseudo;
  const bool src = map_address(p + 8, 6, *job.src, pseudo, job.outer);
  const bool moved = map_address(p + 24, 6, *job.dst, pseudo, job.outer) || src;
  uint8_t proto = 0;
  const size_t l4 = ipv6_transport(p, end, proto);
  if (l4 == 0) return moved;
  return fix_transport(6, proto, p + l4, end - l4, pseudo, moved, job);
}

bool rewrite_ip(uint8_t* p, size_t avail, const Job& job) {
  if (avail == 0) return false;
  const int version = p[0] >> 4;
  if (version == 4) return rewrite_v4(p, avail, job);
  if (version == 6) return rewrite_v6(p, avail, job);
  return false;
}

Rewrites reversed(const Rewrites& rules) {
  Rewrites out;
  out.reserve(rules.size());
  for (const PrefixRewrite& r : rules) out.push_back(r.reversed());
  return out;
}

}  // namespace

bool rewrite_addresses(MutableBytes packet, const AddressRewrites& rules, bool partial_checksum) {
  if (rules.source.empty() && rules.destination.empty()) return false;
  const Job job{&rules.source, &rules.destination, partial_checksum, false, nullptr};
  return rewrite_ip(packet.data(), packet.size(), job);
}

NetmapRules::NetmapRules(const Netmap& m) : out_{m.local, reversed(m.peer)}, in_{m.peer, reversed(m.local)} {}

}  // namespace sitelink::tunnel
