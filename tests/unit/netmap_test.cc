// 1:1 prefix mapping (tunnel/netmap.h) against a naive reference model
// written here: a packet is described (addresses, protocol, fragment,
// extension headers, the packet quoted in an ICMP error and how much of it
// is quoted), the description is mapped bit by bit, and the expected packet
// is built from the mapped description with every checksum computed from
// scratch (tests/support/naive_offload.h, 16 bits at a time). The rewrite
// under test works incrementally on the original bytes; both must agree
// byte for byte. Partial checksums (NEEDS_CSUM) are completed afterwards as
// the kernel does and compared likewise. Random tests use a fixed seed
// (NETMAP_TEST_SEED overrides it), printed with every failure.
#include "tunnel/netmap.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "support/naive_offload.h"
#include "tunnel/offload.h"

namespace sitelink::tunnel {
namespace {

using config::IpAddress;
using config::IpPrefix;
using test::Buf;
using test::naive_sum;
using test::pseudo_header;
using test::put16;
using test::put32;
using test::set16;

constexpr uint8_t kIcmp = 1, kTcp = 6, kUdp = 17, kIcmpv6 = 58, kGre = 47;
constexpr uint8_t kHopByHop = 0, kRouting = 43, kFragment = 44, kDestOpts = 60;

using Addr = std::array<uint8_t, 16>;

// A packet as the model sees it.
struct Desc {
  int version = 4;
  uint8_t proto = kTcp;
  Addr src{}, dst{};
  uint8_t icmp_type = 0;  // ICMP/ICMPv6
  Buf payload;            // after the transport header (not for an error)
  bool zero_udp_checksum = false;
  int fragment = 0;  // 0 whole, 1 first fragment (cut after `first_bytes` of transport), 2 a later one
  size_t first_bytes = 0;
  size_t ipv4_options = 0;       // 0, 4 or 8 bytes of NOPs
  std::vector<uint8_t> ext;      // IPv6 extension headers (a fragment header comes from `fragment`)
  std::shared_ptr<Desc> quoted;  // ICMP errors: the packet quoted ...
  size_t quote_len = 0;          // ... and how many of its bytes
  uint16_t ident = 0x1234;
};

size_t alen(int version) { return version == 4 ? 4 : 16; }

bool is_error(const Desc& d) {
  if (d.proto == kIcmp) return d.icmp_type == 3 || d.icmp_type == 11 || d.icmp_type == 12;
  if (d.proto == kIcmpv6) return d.icmp_type < 128;
  return false;
}

Buf build(const Desc& d);

// The transport bytes, with their checksum computed from scratch over all
// of them (the whole datagram, fragments or not).
Buf transport(const Desc& d) {
  if (d.fragment == 2) return d.payload;  // a later fragment: no transport header
  Buf t;
  size_t field = 0;
  if (d.proto == kTcp) {
    put32(t, 0x30390050);  // ports 12345 -> 80
    put32(t, 0x01020304);
    put32(t, 0x05060708);
    put16(t, 0x5018);
    put16(t, 0xffff);
    put32(t, 0);
    field = 16;
  } else if (d.proto == kUdp) {
    put32(t, 0xd4310035);
    put16(t, static_cast<uint16_t>(8 + d.payload.size()));
    put16(t, 0);
    field = 6;
  } else if (d.proto == kIcmp || d.proto == kIcmpv6) {
    t.push_back(d.icmp_type);
    t.push_back(d.proto == kIcmp && d.icmp_type == 3 ? 3 : 0);
    put16(t, 0);
    put16(t, d.ident);
    put16(t, 7);
    field = 2;
  } else {
    t = d.payload;
    return t;
  }
  if (is_error(d)) {
    Buf q = build(*d.quoted);
    q.resize(std::min(q.size(), d.quote_len));
    t.insert(t.end(), q.begin(), q.end());
  } else {
    t.insert(t.end(), d.payload.begin(), d.payload.end());
  }
  uint64_t start = 0;
  if (d.proto != kIcmp) start = naive_sum(pseudo_header(d.version, d.src.data(), d.dst.data(), d.proto, t.size()));
  auto c = static_cast<uint16_t>(~naive_sum(t.data(), t.size(), start));
  if (d.proto == kUdp && c == 0) c = 0xffff;
  if (d.proto == kUdp && d.zero_udp_checksum) c = 0;
  set16(&t[field], c);
  return t;
}

Buf build(const Desc& d) {
  Buf t = transport(d);
  if (d.fragment == 1) t.resize(std::min(t.size(), d.first_bytes));
  Buf ext;
  if (d.version == 6) {
    std::vector<uint8_t> kinds = d.ext;
    if (d.fragment != 0) kinds.push_back(kFragment);
    for (size_t i = 0; i < kinds.size(); ++i) {
      const uint8_t next = i + 1 < kinds.size() ? kinds[i + 1] : d.proto;
      ext.push_back(next);
      ext.push_back(0);  // 8 bytes
      if (kinds[i] == kFragment) {
        put16(ext, d.fragment == 2 ? 0x0108 : 0x0001);  // offset 33 / offset 0 with M
        put32(ext, 0xabcd);
      } else if (kinds[i] == kRouting) {
        ext.insert(ext.end(), {0, 0, 0, 0, 0, 0});  // type 0, segments left 0
      } else {
        ext.insert(ext.end(), {1, 4, 0, 0, 0, 0});  // PadN
      }
    }
  }
  Buf b;
  if (d.version == 4) {
    const size_t ihl = 20 + d.ipv4_options;
    b.push_back(static_cast<uint8_t>(0x40 | ihl / 4));
    b.push_back(0);
    put16(b, static_cast<uint16_t>(ihl + t.size()));
    put16(b, 0x4242);
    put16(b, d.fragment == 1 ? 0x2000 : d.fragment == 2 ? 0x00b9 : 0x4000);
    b.push_back(64);
    b.push_back(d.proto);
    put16(b, 0);
    b.insert(b.end(), d.src.begin(), d.src.begin() + 4);
    b.insert(b.end(), d.dst.begin(), d.dst.begin() + 4);
    b.insert(b.end(), d.ipv4_options, 1);
    set16(&b[10], static_cast<uint16_t>(~naive_sum(b)));
  } else {
    put32(b, 0x60000000);
    put16(b, static_cast<uint16_t>(ext.size() + t.size()));
    b.push_back(d.ext.empty() && d.fragment == 0 ? d.proto : d.ext.empty() ? kFragment : d.ext[0]);
    b.push_back(64);
    b.insert(b.end(), d.src.begin(), d.src.end());
    b.insert(b.end(), d.dst.begin(), d.dst.end());
    b.insert(b.end(), ext.begin(), ext.end());
  }
  b.insert(b.end(), t.begin(), t.end());
  return b;
}

// --- The model's mapping: bit by bit ---------------------------------------------------------

bool bit(const uint8_t* a, size_t i) { return ((a[i / 8] >> (7 - i % 8)) & 1) != 0; }

Addr map_naive(int version, const Addr& a, const Rewrites& rules) {
  const auto family = version == 4 ? config::Family::kV4 : config::Family::kV6;
  for (const auto& r : rules) {
    if (r.from.family() != family) continue;
    bool in = true;
    for (size_t i = 0; i < r.from.length(); ++i) in = in && bit(a.data(), i) == bit(r.from.address().raw().data(), i);
    if (!in) continue;
    Addr out{};
    for (size_t i = 0; i < alen(version) * 8; ++i) {
      const bool v = i < r.to.length() ? bit(r.to.address().raw().data(), i) : bit(a.data(), i);
      if (v) out[i / 8] = static_cast<uint8_t>(out[i / 8] | (0x80 >> (i % 8)));
    }
    return out;
  }
  return a;
}

Desc map_desc(const Desc& d, const Rewrites& src, const Rewrites& dst) {
  Desc m = d;
  m.src = map_naive(d.version, d.src, src);
  m.dst = map_naive(d.version, d.dst, dst);
  if (d.quoted) {
    const size_t qhdr = d.quoted->version == 4 ? 20 + d.quoted->ipv4_options : 40;
    if (d.quote_len >= qhdr) m.quoted = std::make_shared<Desc>(map_desc(*d.quoted, dst, src));
  }
  return m;
}

// --- Random descriptions and rules ----------------------------------------------------------

struct Gen {
  std::mt19937 rng;
  size_t below(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); }
  uint8_t byte() { return static_cast<uint8_t>(below(256)); }
  Buf bytes(size_t n) {
    Buf b(n);
    for (auto& x : b) x = byte();
    return b;
  }
  Addr address(int version) {
    Addr a{};
    for (size_t i = 0; i < alen(version); ++i) a[i] = byte();
    return a;
  }
  IpPrefix prefix(int version, uint8_t length) {
    const Addr a = address(version);
    const IpAddress ip = version == 4 ? IpAddress::v4({a[0], a[1], a[2], a[3]}) : IpAddress::v6(a);
    return IpPrefix(ip, length).canonical();
  }
  // An address inside the `from` prefix of one of `rules` half the time.
  Addr address_for(int version, const Rewrites& rules) {
    const Addr a = address(version);
    if (rules.empty() || below(2) == 0) return a;
    const auto& r = rules[below(rules.size())];
    const bool v4 = version == 4;
    if (r.from.family() != (v4 ? config::Family::kV4 : config::Family::kV6)) return a;
    const IpPrefix everything(v4 ? IpAddress::v4({0, 0, 0, 0}) : IpAddress::v6({}), 0);
    return map_naive(version, a, {{everything, r.from}});
  }
  Rewrites rules() {
    Rewrites out;
    const size_t n = below(4);
    for (size_t i = 0; i < n; ++i) {
      const int v = below(2) == 0 ? 4 : 6;
      const auto len = static_cast<uint8_t>(v == 4 ? 8 + below(25) : 16 + below(113));
      out.push_back({prefix(v, len), prefix(v, len)});
    }
    return out;
  }
  Desc desc(int version, const Rewrites& src, const Rewrites& dst, bool quoted = false) {
    Desc d;
    d.version = version;
    d.src = address_for(version, src);
    d.dst = address_for(version, dst);
    const uint8_t icmp = version == 4 ? kIcmp : kIcmpv6;
    const uint8_t protos[] = {kTcp, kUdp, icmp, icmp, kGre};
    d.proto = protos[below(5)];
    d.payload = bytes(below(40));
    d.ident = static_cast<uint16_t>(below(65536));
    if (version == 4) d.ipv4_options = 4 * below(3);
    if (d.proto == kUdp && version == 4) d.zero_udp_checksum = below(4) == 0;
    if (d.proto == icmp) {
      const bool error = !quoted && below(3) != 0;
      d.icmp_type = version == 4 ? (error ? std::array<uint8_t, 3>{3, 11, 12}[below(3)] : 8)
                                 : (error ? static_cast<uint8_t>(1 + below(4)) : 128);
      if (error) {
        d.quoted = std::make_shared<Desc>(desc(version, dst, src, true));
        const Desc& q = *d.quoted;
        d.quote_len = below(build(q).size() + 1);
        // A quoted checksum cut in half cannot be fixed: not generated.
        const size_t field = q.proto == kTcp ? 16 : q.proto == kUdp ? 6 : 2;
        if (d.quote_len == (version == 4 ? 20 + q.ipv4_options : 40) + field + 1) --d.quote_len;
      }
    }
    if (!quoted && !is_error(d)) {
      d.fragment = below(4) == 0 ? static_cast<int>(1 + below(2)) : 0;
      d.first_bytes = 8 * (1 + below(8));
      if (version == 6 && below(3) == 0) {
        const uint8_t kinds[] = {kHopByHop, kDestOpts, kRouting};
        for (size_t i = 0, n = 1 + below(2); i < n; ++i) d.ext.push_back(kinds[below(3)]);
        if (d.ext.size() > 1 && d.ext[1] == kHopByHop) d.ext[1] = kDestOpts;  // hop-by-hop comes first only
      }
    }
    return d;
  }
};

uint32_t seed() {
  const char* s = std::getenv("NETMAP_TEST_SEED");
  return s != nullptr ? static_cast<uint32_t>(std::strtoul(s, nullptr, 10)) : 20261204;
}

std::string hex(const Buf& b) {
  std::string s;
  char tmp[4];
  for (uint8_t x : b) {
    std::snprintf(tmp, sizeof tmp, "%02x", x);
    s += tmp;
  }
  return s;
}

// Transport offset of a built (top-level) packet.
size_t l4_of(const Desc& d) {
  if (d.version == 4) return 20 + d.ipv4_options;
  return 40 + 8 * (d.ext.size() + (d.fragment != 0 ? 1 : 0));
}

// Random packets, both families, every protocol: the incremental rewrite
// gives exactly the packet the model builds from scratch.
TEST(Netmap, MatchesFromScratchOnRandomPackets) {
  Gen g{std::mt19937(seed())};
  int changed = 0, quotes = 0;
  for (int i = 0; i < 20000; ++i) {
    const AddressRewrites rules{g.rules(), g.rules()};
    const Desc d = g.desc(g.below(2) == 0 ? 4 : 6, rules.source, rules.destination);
    const Buf original = build(d);
    const Buf expected = build(map_desc(d, rules.source, rules.destination));
    // Padding after the IP length is left alone.
    Buf got = original;
    const Buf pad = g.bytes(g.below(3) * 3);
    got.insert(got.end(), pad.begin(), pad.end());
    const bool did = rewrite_addresses(got, rules);
    got.resize(original.size());
    ASSERT_EQ(hex(got), hex(expected)) << "seed " << seed() << " packet " << i << " original " << hex(original);
    changed += did ? 1 : 0;
    quotes += (did && is_error(d) && d.quote_len >= 20) ? 1 : 0;
    EXPECT_EQ(did, got != original) << i;
  }
  // The test means something: many packets were rewritten, quotes among them.
  EXPECT_GT(changed, 4000);
  EXPECT_GT(quotes, 300);
}

// Partial checksums (NEEDS_CSUM): the field holds the pseudo-header sum.
// Rewritten, then completed as the kernel does, the packet equals the
// model's from-scratch one.
TEST(Netmap, PartialChecksumCompletesToFromScratch) {
  Gen g{std::mt19937(seed() + 1)};
  int changed = 0;
  for (int i = 0; i < 20000; ++i) {
    const AddressRewrites rules{g.rules(), g.rules()};
    Desc d = g.desc(g.below(2) == 0 ? 4 : 6, rules.source, rules.destination);
    d.fragment = 0;
    d.zero_udp_checksum = false;
    if (d.proto == kGre) continue;
    const size_t l4 = l4_of(d);
    const size_t field = d.proto == kTcp ? 16 : d.proto == kUdp ? 6 : 2;
    Buf got = build(d);
    const size_t l4_len = got.size() - l4;
    // What the kernel leaves there: the pseudo-header sum (none for ICMPv4).
    const uint16_t partial = d.proto == kIcmp
                                 ? 0
                                 : naive_sum(pseudo_header(d.version, d.src.data(), d.dst.data(), d.proto, l4_len));
    set16(&got[l4 + field], partial);
    const Buf original = got;
    changed += rewrite_addresses(got, rules, true) ? 1 : 0;
    ASSERT_TRUE(complete_checksum(got, l4, field));
    const Buf expected = build(map_desc(d, rules.source, rules.destination));
    ASSERT_EQ(hex(got), hex(expected)) << "seed " << seed() + 1 << " packet " << i << " original " << hex(original);
  }
  EXPECT_GT(changed, 4000);
}

IpPrefix pfx(const char* text) { return IpPrefix::parse(text).value(); }
Addr v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) { return {a, b, c, d}; }

// The shape SPEC.md shows: both directions of one peer's netmap, inbound
// undoing outbound.
TEST(Netmap, PeerRulesMapBothDirections) {
  const Netmap m{{{pfx("198.18.1.0/24"), pfx("198.19.201.0/24")}}, {{pfx("198.18.1.0/24"), pfx("198.19.202.0/24")}}};
  const NetmapRules rules(m);
  Desc d;
  d.proto = kUdp;
  d.payload = {1, 2, 3};
  d.src = v4(198, 18, 1, 5);    // our host
  d.dst = v4(198, 19, 201, 7);  // the far host, as seen here
  Buf b = build(d);
  ASSERT_TRUE(rules.outbound(b));
  Desc wire = d;
  wire.src = v4(198, 19, 202, 5);
  wire.dst = v4(198, 18, 1, 7);
  EXPECT_EQ(hex(b), hex(build(wire)));
  // The reply, as it arrives from the peer.
  Desc reply = wire;
  std::swap(reply.src, reply.dst);
  Buf r = build(reply);
  ASSERT_TRUE(rules.inbound(r));
  Desc local = d;
  std::swap(local.src, local.dst);
  EXPECT_EQ(hex(r), hex(build(local)));
  // Outside every prefix: untouched.
  Desc other = d;
  other.dst = v4(198, 18, 9, 9);
  other.src = v4(198, 18, 8, 8);
  Buf o = build(other);
  EXPECT_FALSE(rules.outbound(o));
  EXPECT_EQ(hex(o), hex(build(other)));
}

// A port-unreachable from behind the mapping quotes the packet that came
// in: its addresses are rewritten the other way, so the sender matches it.
TEST(Netmap, IcmpErrorQuoteRunsTheOtherWay) {
  const Netmap m{{{pfx("198.18.1.0/24"), pfx("198.19.201.0/24")}}, {}};
  const NetmapRules rules(m);
  auto sent = std::make_shared<Desc>();  // as our host sent it, seen here: to the mapped address
  sent->proto = kUdp;
  sent->src = v4(198, 18, 1, 5);
  sent->dst = v4(198, 19, 201, 7);
  sent->payload = {9, 9, 9, 9};
  // The error as the far host sends it: about the packet as it arrived there.
  Desc err;
  err.proto = kIcmp;
  err.icmp_type = 3;
  err.src = v4(198, 18, 1, 7);
  err.dst = v4(198, 18, 1, 5);
  auto arrived = std::make_shared<Desc>(*sent);
  arrived->dst = v4(198, 18, 1, 7);
  err.quoted = arrived;
  err.quote_len = 1000;
  Buf b = build(err);
  ASSERT_TRUE(rules.inbound(b));
  Desc want = err;
  want.src = v4(198, 19, 201, 7);
  want.quoted = sent;
  EXPECT_EQ(hex(b), hex(build(want)));
  EXPECT_EQ(test::naive_sum(b.data() + 20, b.size() - 20), 0xffff);  // ICMP checksum valid
}

// Only the quote needs mapping (the error comes from a router that is not
// mapped): the quote and the ICMP checksum are still fixed.
TEST(Netmap, QuoteMappedWhenOuterAddressesAreNot) {
  const Netmap m{{}, {{pfx("198.18.1.0/24"), pfx("198.19.202.0/24")}}};
  const NetmapRules rules(m);
  auto arrived = std::make_shared<Desc>();  // from the far host to our host, mapped inbound already
  arrived->proto = kTcp;
  arrived->src = v4(198, 18, 5, 1);
  arrived->dst = v4(198, 18, 1, 5);
  Desc err;
  err.proto = kIcmp;
  err.icmp_type = 11;
  err.src = v4(198, 18, 0, 1);  // our gateway: not in L
  err.dst = v4(198, 18, 5, 1);
  err.quoted = arrived;
  err.quote_len = 28;
  Buf b = build(err);
  ASSERT_TRUE(rules.outbound(b));
  Desc want = err;
  auto on_wire = std::make_shared<Desc>(*arrived);
  on_wire->dst = v4(198, 19, 202, 5);
  want.quoted = on_wire;
  EXPECT_EQ(hex(b), hex(build(want)));
}

// Behind an extension header we cannot walk (AH) or a routing header with
// segments left, only the addresses change: the transport checksum stays.
TEST(Netmap, UnknownIpv6ExtensionLeavesTransportChecksum) {
  Desc d;
  d.version = 6;
  d.proto = kTcp;
  d.ext = {kRouting};
  const Rewrites src{{pfx("2001:db8:1::/64"), pfx("2001:db8:99::/64")}};
  d.src = IpAddress::parse("2001:db8:1::5")->raw();
  d.dst = IpAddress::parse("2001:db8:2::5")->raw();
  for (const uint8_t kind : {uint8_t{51}, kRouting}) {
    Buf b = build(d);
    b[6] = kind;
    if (kind == kRouting) b[40 + 3] = 1;  // segments left
    const Buf before = b;
    ASSERT_TRUE(rewrite_addresses(b, {src, {}}));
    for (size_t i = 0; i < b.size(); ++i) {
      if (i >= 8 && i < 24) continue;
      EXPECT_EQ(b[i], before[i]) << "byte " << i << " kind " << int{kind};
    }
    EXPECT_EQ(IpAddress::v6(take<16>(b.data() + 8)).to_string(), "2001:db8:99::5");
  }
}

// A GSO super-packet: only its header is rewritten (partial checksum); the
// segments it is cut into all carry the mapped addresses and valid
// checksums.
TEST(Netmap, GsoSuperPacketSegmentsAreValid) {
  for (const int version : {4, 6}) {
    Desc d;
    d.version = version;
    d.proto = kTcp;
    d.payload.assign(5000, 0x5a);
    const Rewrites dst = version == 4 ? Rewrites{{pfx("198.19.201.0/24"), pfx("198.18.1.0/24")}}
                                      : Rewrites{{pfx("2001:db8:201::/64"), pfx("2001:db8:1::/64")}};
    d.src = version == 4 ? v4(198, 18, 1, 5) : IpAddress::parse("2001:db8:1::5")->raw();
    d.dst = version == 4 ? v4(198, 19, 201, 7) : IpAddress::parse("2001:db8:201::7")->raw();
    Buf b = build(d);
    const size_t l4 = version == 4 ? 20 : 40;
    set16(&b[l4 + 16], naive_sum(pseudo_header(version, d.src.data(), d.dst.data(), kTcp, b.size() - l4)));
    ASSERT_TRUE(rewrite_addresses(b, {{}, dst}, true));
    VnetHdr h;
    h.flags = VnetHdr::kNeedsCsum;
    h.gso_type = version == 4 ? VnetHdr::kGsoTcpV4 : VnetHdr::kGsoTcpV6;
    h.gso_size = 1200;
    h.hdr_len = static_cast<uint16_t>(l4 + 20);
    h.csum_start = static_cast<uint16_t>(l4);
    h.csum_offset = 16;
    std::vector<Buf> segments;
    Buf room(70000);
    const auto n = split_tcp_gso(
        h, b, [&](size_t) { return MutableBytes(room); },
        [&](size_t size) { segments.emplace_back(room.begin(), room.begin() + static_cast<ptrdiff_t>(size)); });
    ASSERT_EQ(n, 5u);
    for (const Buf& s : segments) {
      EXPECT_TRUE(test::tcp_checksum_ok(s));
      if (version == 4) {
        EXPECT_TRUE(test::ipv4_header_ok(s.data()));
      }
      const size_t at = version == 4 ? 16 : 24;
      EXPECT_EQ(Buf(s.begin() + static_cast<ptrdiff_t>(at), s.begin() + static_cast<ptrdiff_t>(at + 2)),
                (version == 4 ? Buf{198, 18} : Buf{0x20, 0x01}));
    }
  }
}

// Truncated and garbage input: nothing read or written past the packet
// (ASan in CI), and a packet whose header cannot be parsed is unchanged.
TEST(Netmap, TruncatedPacketsAreLeftAlone) {
  const Rewrites all4{{pfx("0.0.0.0/0"), pfx("198.18.0.0/16")}};
  Desc d;
  d.proto = kTcp;
  d.src = v4(1, 2, 3, 4);
  d.dst = v4(5, 6, 7, 8);
  const Buf full = build(d);
  for (size_t n = 0; n < 20; ++n) {
    Buf b(full.begin(), full.begin() + static_cast<ptrdiff_t>(n));
    const Buf before = b;
    auto heap = std::make_unique<uint8_t[]>(n + 1);
    std::copy(b.begin(), b.end(), heap.get());
    EXPECT_FALSE(rewrite_addresses(MutableBytes(heap.get(), n), {all4, all4}));
    EXPECT_TRUE(std::equal(before.begin(), before.end(), heap.get()));
  }
  // The stated length beyond the buffer: refused.
  Buf b = full;
  b.resize(b.size() - 1);
  EXPECT_FALSE(rewrite_addresses(b, {all4, all4}));
}

}  // namespace
}  // namespace sitelink::tunnel
