// TUN offload packet surgery (tunnel/offload.h), checked against a naive
// model written here from the RFCs and the kernel's rules rather than from
// offload.cc:
//   - the checksum helpers against an RFC 1071 sum taken 16 bits at a time;
//   - split_tcp_gso against a reference segmenter (the rules of the kernel's
//     tcp_gso_segment: each segment gets the headers, seq + offset, IPv4 id
//     + index, its own lengths and checksums; FIN and PSH only on the last,
//     CWR only on the first) on random IPv4 and IPv6 super-packets;
//   - TcpCoalescer: whatever it writes, cut again by the reference
//     segmenter, gives back exactly the packets it was fed, flow by flow and
//     in order; merged packets carry a virtio_net_hdr and a partial checksum
//     that completes to a valid one.
// Random tests use a fixed seed (OFFLOAD_TEST_SEED overrides it), printed
// with every failure.
#include "tunnel/offload.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "support/naive_offload.h"

namespace sitelink::tunnel {
namespace {

using namespace test;  // the naive reference: Buf, naive_sum, pseudo_header, ...

constexpr uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10, kUrg = 0x20, kEce = 0x40,
                  kCwr = 0x80;

uint32_t test_seed() {
  const char* s = std::getenv("OFFLOAD_TEST_SEED");
  return s != nullptr ? static_cast<uint32_t>(std::strtoul(s, nullptr, 0)) : 0x0ff10adu;
}

std::string seed_note(uint32_t seed, size_t round) {
  return "seed " + std::to_string(seed) + " (OFFLOAD_TEST_SEED), round " + std::to_string(round);
}

// --- Reference model ----------------------------------------------------------------

// A packet as fields. build() lays it out with every length and checksum
// right; parse() reads one back.
struct Pkt {
  int version = 4;
  std::array<uint8_t, 16> src{}, dst{};
  uint8_t tos = 0, ttl = 64;  // IPv4 (tos = IPv6 traffic class, ttl = hop limit)
  bool df = true;
  uint16_t id = 0;
  uint16_t frag = 0;        // IPv4 MF + offset bits
  Buf ip_options;           // IPv4, a multiple of 4
  uint32_t flow_label = 0;  // IPv6
  uint8_t proto = 6;
  uint16_t sport = 40000, dport = 5201;
  uint32_t seq = 1000, ack = 7777;
  uint8_t flags = kAck;
  uint8_t reserved = 0;  // the low 4 bits of the data offset byte (AccECN's AE is bit 0)
  uint16_t window = 502, urgent = 0;
  Buf tcp_options;  // a multiple of 4
  Buf payload;

  size_t ip_len() const { return version == 4 ? 20 + ip_options.size() : 40; }
  size_t l4_header() const { return proto == 6 ? 20 + tcp_options.size() : 8; }
};

Buf build(const Pkt& p) {
  Buf l4;
  if (p.proto == 6) {
    put16(l4, p.sport);
    put16(l4, p.dport);
    put32(l4, p.seq);
    put32(l4, p.ack);
    l4.push_back(static_cast<uint8_t>((20 + p.tcp_options.size()) / 4 << 4 | (p.reserved & 0x0f)));
    l4.push_back(p.flags);
    put16(l4, p.window);
    put16(l4, 0);  // checksum, below
    put16(l4, p.urgent);
    l4.insert(l4.end(), p.tcp_options.begin(), p.tcp_options.end());
  } else {
    put16(l4, p.sport);
    put16(l4, p.dport);
    put16(l4, static_cast<uint16_t>(8 + p.payload.size()));
    put16(l4, 0);
  }
  l4.insert(l4.end(), p.payload.begin(), p.payload.end());
  const size_t alen = p.version == 4 ? 4 : 16;
  const Buf pseudo = pseudo_header(p.version, p.src.data(), p.dst.data(), p.proto, l4.size());
  const uint16_t sum = static_cast<uint16_t>(~naive_sum(l4, naive_sum(pseudo)));
  set16(&l4[p.proto == 6 ? 16 : 6], sum);

  Buf ip;
  if (p.version == 4) {
    ip.push_back(static_cast<uint8_t>(0x40 | p.ip_len() / 4));
    ip.push_back(p.tos);
    put16(ip, static_cast<uint16_t>(p.ip_len() + l4.size()));
    put16(ip, p.id);
    put16(ip, static_cast<uint16_t>((p.df ? 0x4000 : 0) | p.frag));
    ip.push_back(p.ttl);
    ip.push_back(p.proto);
    put16(ip, 0);
    ip.insert(ip.end(), p.src.begin(), p.src.begin() + 4);
    ip.insert(ip.end(), p.dst.begin(), p.dst.begin() + 4);
    ip.insert(ip.end(), p.ip_options.begin(), p.ip_options.end());
    set16(&ip[10], static_cast<uint16_t>(~naive_sum(ip)));
  } else {
    put32(ip, 0x60000000u | uint32_t{p.tos} << 20 | (p.flow_label & 0xfffff));
    put16(ip, static_cast<uint16_t>(l4.size()));
    ip.push_back(p.proto);
    ip.push_back(p.ttl);
    ip.insert(ip.end(), p.src.begin(), p.src.begin() + static_cast<ptrdiff_t>(alen));
    ip.insert(ip.end(), p.dst.begin(), p.dst.begin() + static_cast<ptrdiff_t>(alen));
  }
  ip.insert(ip.end(), l4.begin(), l4.end());
  return ip;
}

// Reads a well-formed TCP packet back into fields (the checksums are not kept).
Pkt parse(const Buf& b) {
  Pkt p;
  p.version = b[0] >> 4;
  size_t l4 = 40;
  if (p.version == 4) {
    l4 = size_t{b[0] & 0x0fu} * 4;
    p.tos = b[1];
    p.id = be16(&b[4]);
    p.df = (b[6] & 0x40) != 0;
    p.frag = be16(&b[6]) & 0x3fff;
    p.ttl = b[8];
    p.proto = b[9];
    std::copy(&b[12], &b[16], p.src.begin());
    std::copy(&b[16], &b[20], p.dst.begin());
    p.ip_options.assign(&b[20], &b[l4]);
  } else {
    const uint32_t w = be32(&b[0]);
    p.tos = static_cast<uint8_t>(w >> 20);
    p.flow_label = w & 0xfffff;
    p.proto = b[6];
    p.ttl = b[7];
    std::copy(&b[8], &b[24], p.src.begin());
    std::copy(&b[24], &b[40], p.dst.begin());
  }
  const uint8_t* t = &b[l4];
  p.sport = be16(t);
  p.dport = be16(t + 2);
  p.seq = be32(t + 4);
  p.ack = be32(t + 8);
  const size_t thlen = size_t{t[12]} / 16 * 4;
  p.reserved = t[12] & 0x0f;
  p.flags = t[13];
  p.window = be16(t + 14);
  p.urgent = be16(t + 18);
  p.tcp_options.assign(t + 20, t + thlen);
  p.payload.assign(t + thlen, b.data() + b.size());
  return p;
}

// The segments the kernel's GSO would make of `super` with `gso` bytes per
// segment.
std::vector<Buf> reference_split(const Pkt& super, size_t gso) {
  const size_t n = super.payload.empty() ? 1 : (super.payload.size() + gso - 1) / gso;
  std::vector<Buf> out;
  for (size_t i = 0; i < n; ++i) {
    Pkt s = super;
    const size_t off = i * gso;
    const size_t len = std::min(gso, super.payload.size() - off);
    s.payload.assign(super.payload.begin() + static_cast<ptrdiff_t>(off),
                     super.payload.begin() + static_cast<ptrdiff_t>(off + len));
    s.seq = super.seq + static_cast<uint32_t>(off);
    s.id = static_cast<uint16_t>(super.id + i);
    if (i + 1 < n) s.flags &= static_cast<uint8_t>(~(kFin | kPsh));
    if (i > 0) s.flags &= static_cast<uint8_t>(~kCwr);
    out.push_back(build(s));
  }
  return out;
}

size_t l4_offset_of(const Buf& b) { return test::l4_offset_of(b.data()); }
bool ipv4_header_ok(const Buf& b) { return test::ipv4_header_ok(b.data()); }

std::string hex_diff(const Buf& got, const Buf& want) {
  if (got.size() != want.size()) {
    return "size " + std::to_string(got.size()) + " want " + std::to_string(want.size());
  }
  for (size_t i = 0; i < got.size(); ++i) {
    if (got[i] != want[i]) {
      return "first difference at byte " + std::to_string(i) + ": " + std::to_string(got[i]) + " want " +
             std::to_string(want[i]);
    }
  }
  return "equal";
}

// --- Random packets --------------------------------------------------------------------

struct Gen {
  explicit Gen(uint32_t seed) : rng(seed) {}
  std::mt19937 rng;
  size_t upto(size_t n) { return std::uniform_int_distribution<size_t>(0, n)(rng); }
  size_t between(size_t lo, size_t hi) { return std::uniform_int_distribution<size_t>(lo, hi)(rng); }
  bool chance(int percent) { return upto(99) < static_cast<size_t>(percent); }
  int version() { return chance(50) ? 4 : 6; }
  uint8_t byte() { return static_cast<uint8_t>(upto(255)); }
  Buf bytes(size_t n) {
    Buf b(n);
    for (auto& x : b) x = byte();
    return b;
  }
  // TCP options as a real stack sends them: NOPs and a timestamp, or junk.
  Buf tcp_options() {
    switch (upto(3)) {
      case 0: return {};
      case 1: {
        Buf b{1, 1, 8, 10};
        const Buf ts = bytes(8);
        b.insert(b.end(), ts.begin(), ts.end());
        return b;
      }
      default: return bytes(4 * between(1, 10));
    }
  }
  Pkt tcp_packet(int version) {
    Pkt p;
    p.version = version;
    for (auto& x : p.src) x = byte();
    for (auto& x : p.dst) x = byte();
    p.tos = byte();
    p.ttl = byte();
    p.df = chance(80);
    p.id = static_cast<uint16_t>(upto(0xffff));
    p.flow_label = static_cast<uint32_t>(upto(0xfffff));
    p.sport = static_cast<uint16_t>(upto(0xffff));
    p.dport = static_cast<uint16_t>(upto(0xffff));
    p.seq = static_cast<uint32_t>(upto(0xffffffff));
    p.ack = static_cast<uint32_t>(upto(0xffffffff));
    p.window = static_cast<uint16_t>(upto(0xffff));
    p.tcp_options = tcp_options();
    if (version == 4 && chance(10)) p.ip_options = bytes(4 * between(1, 10));
    return p;
  }
};

// Runs `body(g, round)` for `rounds` rounds with one generator seeded by
// test_seed(); every failure names the seed and the round, and the first
// failing round is the last.
template <typename Body>
void random_rounds(size_t rounds, Body body) {
  const uint32_t seed = test_seed();
  Gen g(seed);
  for (size_t round = 0; round < rounds; ++round) {
    SCOPED_TRACE(seed_note(seed, round));
    body(g, round);
    if (::testing::Test::HasFailure()) return;
  }
}

// --- Checksum helpers ---------------------------------------------------------------------

TEST(OffloadChecksum, AddAndFoldMatchTheNaiveSumOnRandomData) {
  random_rounds(2000, [&](Gen& g, size_t round) {
    const Buf data = g.bytes(round < 100 ? round : g.upto(3000));
    const uint32_t start = g.chance(50) ? 0 : static_cast<uint32_t>(g.upto(0xffffffff));
    const uint32_t sum = checksum_add(data, start);
    EXPECT_LE(sum, 0xffffu);
    EXPECT_EQ(checksum_fold(sum), naive_sum(data, start));
  });
}

TEST(OffloadChecksum, AllOnesAndZerosAndChaining) {
  EXPECT_EQ(checksum_fold(checksum_add(Buf{})), 0);
  EXPECT_EQ(checksum_fold(checksum_add(Buf(7, 0))), 0);
  EXPECT_EQ(checksum_fold(checksum_add(Buf(9, 0xff))), naive_sum(Buf(9, 0xff)));
  EXPECT_EQ(checksum_fold(0xffffffffu), 0xffff);
  EXPECT_EQ(checksum_fold(0x1fffeu), 0xffff);
  EXPECT_EQ(checksum_fold(0x10000u), 1);
  // An even-length first part chains into the next.
  random_rounds(500, [&](Gen& g, size_t) {
    const Buf a = g.bytes(2 * g.upto(300));
    const Buf b = g.bytes(g.upto(301));
    Buf ab = a;
    ab.insert(ab.end(), b.begin(), b.end());
    EXPECT_EQ(checksum_fold(checksum_add(b, checksum_add(a))), naive_sum(ab));
  });
}

TEST(OffloadChecksum, PseudoHeaderSumMatchesTheBytes) {
  random_rounds(500, [&](Gen& g, size_t) {
    const int version = g.version();
    const Buf src = g.bytes(16), dst = g.bytes(16);
    const uint8_t proto = g.chance(50) ? 6 : 17;
    const size_t len = version == 4 ? g.upto(0xffff) : g.upto(0x3ffff);
    EXPECT_EQ(checksum_fold(pseudo_header_sum(version, src.data(), dst.data(), proto, len)),
              naive_sum(pseudo_header(version, src.data(), dst.data(), proto, len)));
  });
}

TEST(OffloadChecksum, CompleteChecksumFinishesAPartialTcpChecksum) {
  random_rounds(300, [&](Gen& g, size_t) {
    const int version = g.version();
    Pkt p = g.tcp_packet(version);
    p.payload = g.bytes(g.upto(1500));
    const Buf full = build(p);
    Buf partial = full;
    // As the kernel hands it over with CHECKSUM_PARTIAL: the pseudo-header
    // sum in the checksum field, not complemented.
    const size_t l4 = l4_offset_of(partial);
    const uint8_t* src = &partial[version == 4 ? 12 : 8];
    set16(&partial[l4 + 16],
          naive_sum(pseudo_header(version, src, src + (version == 4 ? 4 : 16), 6, partial.size() - l4)));
    ASSERT_TRUE(complete_checksum(partial, l4, 16));
    EXPECT_TRUE(tcp_checksum_ok(partial));
    EXPECT_EQ(partial, full) << hex_diff(partial, full);
  });
}

TEST(OffloadChecksum, CompleteChecksumUdpZeroBecomesAllOnes) {
  // The sum of these bytes is 0xffff, so the checksum comes out 0: UDP sends
  // 0xffff instead (0 would mean "no checksum"); TCP keeps 0.
  Buf udp{0xff, 0xff, 0, 0, 0, 0, 0, 0};
  ASSERT_TRUE(complete_checksum(udp, 0, 6));
  EXPECT_EQ(be16(&udp[6]), 0xffff);
  Buf tcp(20, 0);
  tcp[0] = tcp[1] = 0xff;
  ASSERT_TRUE(complete_checksum(tcp, 0, 16));
  EXPECT_EQ(be16(&tcp[16]), 0);
}

TEST(OffloadChecksum, CompleteChecksumRefusesOffsetsOutsideThePacket) {
  Buf p(40, 0xab);
  const Buf before = p;
  EXPECT_FALSE(complete_checksum(p, 41, 0));
  EXPECT_FALSE(complete_checksum(p, 40, 0));
  EXPECT_FALSE(complete_checksum(p, 20, 19));
  EXPECT_FALSE(complete_checksum(p, 0, 39));
  EXPECT_FALSE(complete_checksum(p, 0, 0xffff));
  EXPECT_FALSE(complete_checksum(MutableBytes(), 0, 0));
  EXPECT_EQ(p, before);
  EXPECT_TRUE(complete_checksum(p, 20, 18));  // the last two bytes
  EXPECT_TRUE(complete_checksum(p, 38, 0));
}

TEST(OffloadVnetHdr, StoreAndLoadInHostOrder) {
  VnetHdr h;
  h.flags = VnetHdr::kNeedsCsum;
  h.gso_type = VnetHdr::kGsoTcpV6 | VnetHdr::kGsoEcn;
  h.hdr_len = 0x1234;
  h.gso_size = 0x0568;
  h.csum_start = 40;
  h.csum_offset = 16;
  std::array<uint8_t, VnetHdr::kSize> b{};
  h.store(b.data());
  uint16_t v = 0;
  std::memcpy(&v, &b[2], 2);
  EXPECT_EQ(v, 0x1234);  // host order, as TUN expects without TUNSETVNETBE
  std::memcpy(&v, &b[4], 2);
  EXPECT_EQ(v, 0x0568);
  EXPECT_EQ(b[0], VnetHdr::kNeedsCsum);
  EXPECT_EQ(b[1], VnetHdr::kGsoTcpV6 | VnetHdr::kGsoEcn);
  const VnetHdr back = VnetHdr::load(b.data());
  EXPECT_EQ(back.flags, h.flags);
  EXPECT_EQ(back.gso_type, h.gso_type);
  EXPECT_EQ(back.hdr_len, h.hdr_len);
  EXPECT_EQ(back.gso_size, h.gso_size);
  EXPECT_EQ(back.csum_start, h.csum_start);
  EXPECT_EQ(back.csum_offset, h.csum_offset);
}

// --- split_tcp_gso ----------------------------------------------------------------------------

VnetHdr gso_hdr(const Pkt& p, size_t gso) {
  VnetHdr h;
  h.flags = VnetHdr::kNeedsCsum;
  h.gso_type = p.version == 4 ? VnetHdr::kGsoTcpV4 : VnetHdr::kGsoTcpV6;
  h.gso_size = static_cast<uint16_t>(gso);
  h.hdr_len = static_cast<uint16_t>(p.ip_len() + p.l4_header());
  h.csum_start = static_cast<uint16_t>(p.ip_len());
  h.csum_offset = 16;
  return h;
}

struct SplitResult {
  std::optional<size_t> count;
  std::vector<Buf> segments;
  std::vector<size_t> asked;  // the sizes next_buffer was asked for
  bool alternated = true;     // next_buffer and emit called in turn
};

// Runs split_tcp_gso with buffers of `room` bytes (plus a guard area that
// must stay untouched).
SplitResult run_split(const VnetHdr& h, const Buf& packet, size_t room = 70000) {
  SplitResult r;
  constexpr size_t kGuard = 64;
  Buf buf;
  bool pending = false;
  const auto next = [&](size_t size) {
    r.alternated &= !pending;
    pending = true;
    r.asked.push_back(size);
    buf.assign(room + kGuard, 0xa5);
    return MutableBytes(buf.data(), room);
  };
  const auto emit = [&](size_t size) {
    r.alternated &= pending;
    pending = false;
    EXPECT_LE(size, room);
    EXPECT_EQ(size, r.asked.back());
    EXPECT_TRUE(std::all_of(buf.begin() + static_cast<ptrdiff_t>(room), buf.end(), [](uint8_t x) { return x == 0xa5; }))
        << "wrote past the buffer";
    r.segments.emplace_back(buf.begin(), buf.begin() + static_cast<ptrdiff_t>(std::min(size, room)));
  };
  r.count = split_tcp_gso(h, packet, next, emit);
  return r;
}

void expect_split_matches(const Pkt& super, size_t gso, const VnetHdr& h) {
  const Buf packet = build(super);
  const SplitResult r = run_split(h, packet);
  const std::vector<Buf> want = reference_split(super, gso);
  ASSERT_TRUE(r.count.has_value());
  EXPECT_EQ(tcp_headers_length(packet), super.ip_len() + super.l4_header());
  EXPECT_TRUE(r.alternated);
  ASSERT_EQ(*r.count, want.size());
  ASSERT_EQ(r.segments.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    SCOPED_TRACE("segment " + std::to_string(i));
    EXPECT_EQ(r.segments[i], want[i]) << hex_diff(r.segments[i], want[i]);
    // Independently of the model: valid checksums and lengths.
    EXPECT_TRUE(tcp_checksum_ok(r.segments[i]));
    if (super.version == 4) {
      EXPECT_TRUE(ipv4_header_ok(r.segments[i]));
      EXPECT_EQ(be16(&r.segments[i][2]), r.segments[i].size());
    } else {
      EXPECT_EQ(be16(&r.segments[i][4]) + 40u, r.segments[i].size());
    }
  }
}

TEST(OffloadSplit, RandomSuperPacketsMatchTheReference) {
  random_rounds(400, [&](Gen& g, size_t) {
    const int version = g.version();
    Pkt p = g.tcp_packet(version);
    p.df = true;
    p.flags = static_cast<uint8_t>(kAck | (g.chance(30) ? kPsh : 0) | (g.chance(20) ? kFin : 0) |
                                   (g.chance(20) ? kCwr : 0) | (g.chance(10) ? kEce : 0));
    const size_t headers = p.ip_len() + p.l4_header();
    const size_t max_payload = 65535 - headers;
    p.payload = g.bytes(g.chance(10) ? g.upto(200) : g.upto(max_payload));
    size_t gso;
    switch (g.upto(3)) {
      case 0: gso = g.between(1, 64); break;
      case 1: gso = g.between(500, 1460); break;
      case 2: gso = std::min<size_t>(p.payload.size() + 1 + g.upto(100), 65535); break;  // one segment
      default: gso = g.between(1, 9000); break;
    }
    if (gso * 2000 < p.payload.size()) p.payload.resize(gso * 2000);  // keep rounds quick
    VnetHdr h = gso_hdr(p, gso);
    if (g.chance(20)) h.gso_type |= VnetHdr::kGsoEcn;
    if (g.chance(20)) h.flags = 0;
    if (g.chance(20)) h.hdr_len = 0;  // only a hint: the packet's own headers count
    expect_split_matches(p, gso, h);
  });
}

TEST(OffloadSplit, ExactMultipleOfGsoAndEmptyPayload) {
  Pkt p;
  p.src[0] = 198;
  p.dst[0] = 198;
  p.flags = kAck | kPsh | kFin | kCwr;
  p.payload.assign(4 * 1000, 0x5a);
  expect_split_matches(p, 1000, gso_hdr(p, 1000));
  p.payload.clear();
  expect_split_matches(p, 1000, gso_hdr(p, 1000));  // one header-only segment
  const SplitResult r = run_split(gso_hdr(p, 1000), build(p));
  ASSERT_EQ(r.segments.size(), 1u);
  EXPECT_EQ(r.segments[0][20 + 13], kAck | kPsh | kFin | kCwr);  // first and last
}

TEST(OffloadSplit, SequenceNumbersWrap) {
  Pkt p;
  p.version = 6;
  p.seq = 0xffffffffu - 1500;
  p.payload.assign(5000, 1);
  expect_split_matches(p, 1000, gso_hdr(p, 1000));
}

TEST(OffloadSplit, IpIdWraps) {
  Pkt p;
  p.id = 0xfffe;
  p.payload.assign(5000, 2);
  expect_split_matches(p, 1000, gso_hdr(p, 1000));
}

// Each malformed input: refused, nothing emitted.
void expect_refused(const VnetHdr& h, const Buf& packet, const std::string& what) {
  SCOPED_TRACE(what);
  const SplitResult r = run_split(h, packet);
  EXPECT_FALSE(r.count.has_value());
  EXPECT_TRUE(r.segments.empty());
}

TEST(OffloadSplit, MalformedInputsAreRefused) {
  Pkt p4;
  p4.payload.assign(3000, 3);
  p4.tcp_options = {1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2};
  Pkt p6 = p4;
  p6.version = 6;
  const Buf b4 = build(p4), b6 = build(p6);
  const VnetHdr h4 = gso_hdr(p4, 1000), h6 = gso_hdr(p6, 1000);

  expect_refused(h4, Buf{}, "empty");
  for (size_t n : {1, 19, 20, 39, 51})
    expect_refused(h4, Buf(b4.begin(), b4.begin() + static_cast<ptrdiff_t>(n)), "IPv4 cut at " + std::to_string(n));
  for (size_t n : {1, 39, 40, 59, 71})
    expect_refused(h6, Buf(b6.begin(), b6.begin() + static_cast<ptrdiff_t>(n)), "IPv6 cut at " + std::to_string(n));

  VnetHdr wrong = h4;
  wrong.gso_type = VnetHdr::kGsoTcpV6;
  expect_refused(wrong, b4, "IPv4 packet, TCPV6 type");
  wrong = h6;
  wrong.gso_type = VnetHdr::kGsoTcpV4;
  expect_refused(wrong, b6, "IPv6 packet, TCPV4 type");
  for (uint8_t type :
       {uint8_t{VnetHdr::kGsoNone}, uint8_t{3} /* UDP */, uint8_t{5} /* UDP_L4 */, uint8_t{VnetHdr::kGsoEcn}}) {
    wrong = h4;
    wrong.gso_type = type;
    expect_refused(wrong, b4, "IPv4, gso type " + std::to_string(type));
    wrong = h6;
    wrong.gso_type = type;
    expect_refused(wrong, b6, "IPv6, gso type " + std::to_string(type));
  }
  wrong = h4;
  wrong.gso_size = 0;
  expect_refused(wrong, b4, "gso_size 0");
  wrong = h6;
  wrong.gso_size = 0;
  expect_refused(wrong, b6, "IPv6 gso_size 0");

  Pkt frag = p4;
  frag.frag = 0x2000;  // more fragments
  expect_refused(h4, build(frag), "IPv4 first fragment");
  frag.frag = 100;  // an offset
  expect_refused(h4, build(frag), "IPv4 later fragment");

  Pkt udp = p4;
  udp.proto = 17;
  expect_refused(h4, build(udp), "UDP");
  Buf ext = b6;
  ext[6] = 0;  // a hop-by-hop header, which we do not walk
  expect_refused(h6, ext, "IPv6 extension header");
  Buf bad = b4;
  bad[0] = 0x45 ^ 0x70;  // version 3
  expect_refused(h4, bad, "version 3");
  bad = b4;
  bad[0] = 0x44;  // IHL 16 bytes
  expect_refused(h4, bad, "IPv4 IHL 4");
  bad = b4;
  bad[20 + 12] = 0x40;  // TCP data offset 16 bytes
  expect_refused(h4, bad, "TCP data offset 4");
  bad = b4;
  bad[20 + 12] = 0xf0;  // a TCP header of 60 bytes in a 70-byte cut
  expect_refused(h4, Buf(bad.begin(), bad.begin() + 70), "TCP header past the end");
}

// The header length the TUN sizes its slots by (the kernel's hdr_len is
// only a hint): the packet's own IP + TCP headers, 0 where split refuses it.
TEST(OffloadSplit, TcpHeadersLengthIsThePacketsOwn) {
  Pkt p;
  p.payload.assign(100, 5);
  EXPECT_EQ(tcp_headers_length(build(p)), 20u + 20);
  p.tcp_options.assign(12, 1);
  EXPECT_EQ(tcp_headers_length(build(p)), 20u + 32);
  p.ip_options = {1, 1, 1, 0};
  p.tcp_options.clear();
  EXPECT_EQ(tcp_headers_length(build(p)), 24u + 20);
  p.version = 6;
  EXPECT_EQ(tcp_headers_length(build(p)), 40u + 20);
  p.payload.clear();
  const Buf header_only = build(p);
  EXPECT_EQ(tcp_headers_length(header_only), 60u);
  EXPECT_EQ(tcp_headers_length(Buf(header_only.begin(), header_only.end() - 1)), 0u) << "cut";
  EXPECT_EQ(tcp_headers_length(Buf(header_only.begin(), header_only.begin() + 40)), 0u) << "no TCP header";
  EXPECT_EQ(tcp_headers_length(Buf{}), 0u);
  Pkt frag;
  frag.frag = 0x2000;
  EXPECT_EQ(tcp_headers_length(build(frag)), 0u) << "fragment";
  Pkt udp;
  udp.proto = 17;
  EXPECT_EQ(tcp_headers_length(build(udp)), 0u) << "UDP";
  Buf bad = build(Pkt{});
  bad[20 + 12] = 0x40;  // data offset 16 bytes
  EXPECT_EQ(tcp_headers_length(bad), 0u) << "TCP header shorter than 20";
  bad[20 + 12] = 0xf0;  // 60 bytes in a 52-byte packet
  EXPECT_EQ(tcp_headers_length(bad), 0u) << "TCP header past the end";
}

TEST(OffloadSplit, TooSmallBufferStopsEmitting) {
  Pkt p;
  p.payload.assign(5000, 4);
  const Buf b = build(p);
  // Room for 2 segments of 1000 bytes, then a short buffer.
  size_t calls = 0, emitted = 0;
  Buf buf(2000);
  const auto next = [&](size_t) {
    ++calls;
    return MutableBytes(buf.data(), calls <= 2 ? buf.size() : 1039);
  };
  const auto r = split_tcp_gso(gso_hdr(p, 1000), b, next, [&](size_t) { ++emitted; });
  EXPECT_FALSE(r.has_value());
  EXPECT_EQ(emitted, 2u);
  EXPECT_EQ(calls, 3u);
  // A buffer of exactly the segment's size is enough.
  const SplitResult exact = run_split(gso_hdr(p, 1000), b, 1040);
  ASSERT_TRUE(exact.count.has_value());
  EXPECT_EQ(*exact.count, 5u);
  const SplitResult small = run_split(gso_hdr(p, 1000), b, 1039);
  EXPECT_FALSE(small.count.has_value());
  EXPECT_TRUE(small.segments.empty());
}

// --- TcpCoalescer -------------------------------------------------------------------------------

struct Written {
  VnetHdr hdr;
  Buf bytes;
};

// Feeds copies of `in` (the coalescer may change them; they live until the
// end) and collects what it writes.
struct Harness {
  std::vector<Buf> store;
  std::vector<Written> out;
  size_t max_iov = 0;
  TcpCoalescer c{[this](const iovec* iov, size_t count) {
    max_iov = std::max(max_iov, count);
    ASSERT_GE(count, 2u);
    ASSERT_EQ(iov[0].iov_len, VnetHdr::kSize);
    Written w{VnetHdr::load(static_cast<const uint8_t*>(iov[0].iov_base)), {}};
    for (size_t i = 1; i < count; ++i) {
      const auto* p = static_cast<const uint8_t*>(iov[i].iov_base);
      w.bytes.insert(w.bytes.end(), p, p + iov[i].iov_len);
    }
    out.push_back(std::move(w));
  }};

  void feed(const std::vector<Buf>& in, bool flush = true) {
    store.reserve(store.size() + in.size());
    const size_t first = store.size();
    for (const Buf& b : in) store.push_back(b);
    for (size_t i = first; i < store.size(); ++i) c.add(store[i]);
    if (flush) c.flush();
  }
};

// A flow's identity: addresses and ports (or the protocol for non-TCP).
// IPv4 fragments are not of the flow: like the kernel's GRO, the coalescer
// passes them on at once (and only the first one has the ports anyway).
using FlowKey = std::tuple<int, Buf, uint32_t>;
FlowKey flow_of(const Buf& b) {
  if (b.size() < 20) return {0, b, 0};
  const int version = b[0] >> 4;
  const size_t aoff = version == 4 ? 12 : 8, alen = version == 4 ? 8 : 32;
  const uint8_t proto = version == 4 ? b[9] : b[6];
  const size_t l4 = l4_offset_of(b);
  const bool fragment = version == 4 && (be16(&b[6]) & 0x3fff) != 0;
  const uint32_t ports = proto == 6 && !fragment && b.size() >= l4 + 4 ? be32(&b[l4]) : 0x10000000u + proto;
  return {version, Buf(b.begin() + static_cast<ptrdiff_t>(aoff), b.begin() + static_cast<ptrdiff_t>(aoff + alen)),
          ports};
}

// Checks one written packet on its own; returns the packets it stands for.
std::vector<Buf> expand(const Written& w) {
  if (w.hdr.gso_type == VnetHdr::kGsoNone) {
    EXPECT_EQ(w.hdr.flags, 0);
    EXPECT_EQ(w.hdr.gso_size, 0);
    EXPECT_EQ(w.hdr.hdr_len, 0);
    EXPECT_EQ(w.hdr.csum_start, 0);
    EXPECT_EQ(w.hdr.csum_offset, 0);
    return {w.bytes};
  }
  const Buf& b = w.bytes;
  const int version = b[0] >> 4;
  const size_t l4 = l4_offset_of(b);
  const size_t headers = l4 + size_t{b[l4 + 12]} / 16 * 4;
  EXPECT_EQ(w.hdr.gso_type, version == 4 ? VnetHdr::kGsoTcpV4 : VnetHdr::kGsoTcpV6);
  EXPECT_EQ(w.hdr.flags, VnetHdr::kNeedsCsum);
  EXPECT_EQ(w.hdr.csum_start, l4);
  EXPECT_EQ(w.hdr.csum_offset, 16);
  EXPECT_EQ(w.hdr.hdr_len, headers);
  EXPECT_GT(w.hdr.gso_size, 0);
  EXPECT_GT(b.size(), headers + w.hdr.gso_size) << "a merged packet holds more than one segment";
  EXPECT_LE(b.size(), TcpCoalescer::kMaxMerged);
  EXPECT_LE((b.size() - headers + w.hdr.gso_size - 1) / w.hdr.gso_size, TcpCoalescer::kMaxSegments);
  if (version == 4) {
    EXPECT_EQ(be16(&b[2]), b.size());
    EXPECT_TRUE(ipv4_header_ok(b));
  } else {
    EXPECT_EQ(be16(&b[4]) + 40u, b.size());
  }
  // The partial checksum: the folded pseudo-header sum, not complemented...
  const uint8_t* src = &b[version == 4 ? 12 : 8];
  const Buf pseudo = pseudo_header(version, src, src + (version == 4 ? 4 : 16), 6, b.size() - l4);
  EXPECT_EQ(be16(&b[l4 + 16]), naive_sum(pseudo));
  // ...so that completing it, as the kernel does, gives a valid checksum.
  Buf done = b;
  naive_complete(done, w.hdr.csum_start, w.hdr.csum_offset);
  EXPECT_TRUE(tcp_checksum_ok(done));
  return reference_split(parse(done), w.hdr.gso_size);
}

// Everything written, cut again, is exactly the input, flow by flow in
// order; returns the number of packets written.
size_t expect_round_trip(const std::vector<Buf>& in, const std::vector<Written>& out) {
  std::map<FlowKey, std::vector<Buf>> want, got;
  for (const Buf& b : in) want[flow_of(b)].push_back(b);
  for (const Written& w : out) {
    for (Buf& s : expand(w)) got[flow_of(s)].push_back(std::move(s));
  }
  EXPECT_EQ(got.size(), want.size());
  for (const auto& [flow, packets] : want) {
    const auto& g = got[flow];
    EXPECT_EQ(g.size(), packets.size()) << "packets of one flow";
    for (size_t i = 0; i < std::min(g.size(), packets.size()); ++i) {
      EXPECT_EQ(g[i], packets[i]) << "packet " << i << " of a flow: " << hex_diff(g[i], packets[i]);
    }
  }
  return out.size();
}

// A stream of full segments, as split_tcp_gso would cut `count` * `mss` bytes.
std::vector<Buf> stream(const Pkt& first, size_t count, size_t mss, size_t last = 0) {
  Pkt super = first;
  super.payload.resize(count * mss + last);
  for (size_t i = 0; i < super.payload.size(); ++i) super.payload[i] = static_cast<uint8_t>(i * 7 + first.seq);
  return reference_split(super, mss);
}

// `count` in-order segments of `size` bytes from `first` on, each changed
// by `edit(segment, index)` before it is built.
std::vector<Buf> segments(const Pkt& first, size_t count, size_t size, const std::function<void(Pkt&, size_t)>& edit) {
  std::vector<Buf> out;
  for (size_t i = 0; i < count; ++i) {
    Pkt s = first;
    s.seq = first.seq + static_cast<uint32_t>(i * size);
    s.payload.assign(size, static_cast<uint8_t>(i));
    edit(s, i);
    out.push_back(build(s));
  }
  return out;
}

Pkt flow(int version, uint16_t sport) {
  Pkt p;
  p.version = version;
  p.src = {198, 18, 1, 2, 0x20, 0x01, 0x0d, 0xb8};
  p.dst = {198, 18, 2, 2, 0x20, 0x01, 0x0d, 0xb8, 0, 0xb};
  p.sport = sport;
  p.tcp_options = {1, 1, 8, 10, 0, 1, 2, 3, 0, 4, 5, 6};
  return p;
}

TEST(OffloadCoalescer, MergesAStreamIntoOneSuperPacket) {
  for (int version : {4, 6}) {
    SCOPED_TRACE("IPv" + std::to_string(version));
    const auto in = stream(flow(version, 1), 10, 1000);
    Harness h;
    h.feed(in);
    ASSERT_EQ(expect_round_trip(in, h.out), 1u);
    const Written& w = h.out[0];
    EXPECT_EQ(w.hdr.gso_type, version == 4 ? VnetHdr::kGsoTcpV4 : VnetHdr::kGsoTcpV6);
    EXPECT_EQ(w.hdr.gso_size, 1000);
    EXPECT_EQ(w.hdr.hdr_len, (version == 4 ? 20 : 40) + 32);
    EXPECT_EQ(w.hdr.csum_start, version == 4 ? 20 : 40);
    EXPECT_EQ(w.hdr.csum_offset, 16);
    EXPECT_EQ(w.hdr.flags, VnetHdr::kNeedsCsum);
    EXPECT_EQ(w.bytes.size(), w.hdr.hdr_len + 10000u);
    EXPECT_EQ(h.max_iov, 11u);  // the header and ten pieces, not copied
  }
}

TEST(OffloadCoalescer, ShortSegmentEndsARunAndLimitsHold) {
  // 7 full + a short one, then more of the stream: the short one ends the run.
  Pkt f = flow(4, 2);
  auto in = stream(f, 7, 1200, 300);
  Pkt next = f;
  next.seq = f.seq + 7 * 1200 + 300;
  next.id = static_cast<uint16_t>(f.id + 8);
  for (const Buf& b : stream(next, 3, 1200)) in.push_back(b);
  Harness h;
  h.feed(in);
  ASSERT_EQ(expect_round_trip(in, h.out), 2u);
  EXPECT_EQ(h.out[0].bytes.size(), 52u + 7 * 1200 + 300);

  // kMaxSegments: 150 small segments.
  const auto many = stream(flow(6, 3), 150, 100);
  Harness m;
  m.feed(many);
  ASSERT_EQ(expect_round_trip(many, m.out), 3u);
  EXPECT_EQ(m.out[0].bytes.size(), 72u + 64 * 100);
  EXPECT_EQ(m.out[1].bytes.size(), 72u + 64 * 100);

  // 64 KiB: 1448-byte segments, 45 fit (52 + 45 * 1448 = 65212).
  const auto big = stream(flow(4, 4), 100, 1448);
  Harness b;
  b.feed(big);
  ASSERT_EQ(expect_round_trip(big, b.out), 3u);
  EXPECT_EQ(b.out[0].bytes.size(), 52u + 45 * 1448);
  for (const Written& w : b.out) EXPECT_LE(w.bytes.size(), 65535u);
}

TEST(OffloadCoalescer, PshEndsARun) {
  const auto in = segments(flow(6, 5), 6, 500, [](Pkt& s, size_t i) {
    if (i == 2) s.flags |= kPsh;
  });
  Harness h;
  h.feed(in);
  ASSERT_EQ(expect_round_trip(in, h.out), 2u);
  EXPECT_EQ(h.out[0].bytes[40 + 13], kAck | kPsh);
  EXPECT_EQ(h.out[1].bytes[40 + 13], kAck);
}

TEST(OffloadCoalescer, NewestWindowWins) {
  const auto in = segments(flow(4, 6), 3, 500, [](Pkt& s, size_t i) {
    s.id = static_cast<uint16_t>(i);
    s.window = static_cast<uint16_t>(100 + i);
  });
  Harness h;
  h.feed(in);
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(be16(&h.out[0].bytes[20 + 14]), 102);
  expand(h.out[0]);  // headers and checksum checks
}

// Packets that must not join the run before them: each is written after it
// (the flow's order), and the stream goes on merging afterwards.
TEST(OffloadCoalescer, PacketsThatDoNotMergeKeepTheirPlace) {
  struct Case {
    const char* name;
    std::function<void(Pkt&)> change;
  };
  const std::vector<Case> cases = {
      {"SYN", [](Pkt& p) { p.flags |= kSyn; }},
      {"FIN", [](Pkt& p) { p.flags |= kFin; }},
      {"RST", [](Pkt& p) { p.flags |= kRst; }},
      {"URG",
       [](Pkt& p) {
         p.flags |= kUrg;
         p.urgent = 10;
       }},
      {"CWR", [](Pkt& p) { p.flags |= kCwr; }},
      {"ECE", [](Pkt& p) { p.flags |= kEce; }},
      {"no ACK", [](Pkt& p) { p.flags = 0; }},
      {"AccECN AE bit", [](Pkt& p) { p.reserved = 1; }},
      {"reserved bits", [](Pkt& p) { p.reserved = 0x0e; }},
      {"pure ACK", [](Pkt& p) { p.payload.clear(); }},
      {"other ACK number", [](Pkt& p) { p.ack += 1; }},
      {"other options", [](Pkt& p) { p.tcp_options[11] ^= 1; }},
      {"no options", [](Pkt& p) { p.tcp_options.clear(); }},
      {"gap", [](Pkt& p) { p.seq += 1; }},
      {"retransmission", [](Pkt& p) { p.seq -= 1000; }},
      {"larger than the first", [](Pkt& p) { p.payload.resize(1001, 1); }},
      {"other TTL", [](Pkt& p) { p.ttl = 3; }},
      {"other TOS / traffic class", [](Pkt& p) { p.tos = 0x10; }},
      {"ECN CE", [](Pkt& p) { p.tos = 3; }},
      {"IPv4 DF cleared", [](Pkt& p) { p.df = false; }},
      {"IPv6 flow label", [](Pkt& p) { p.flow_label = 77; }},
      {"IPv4 fragment", [](Pkt& p) { p.frag = 0x2000; }},
      {"IPv4 options",
       [](Pkt& p) {
         p.ip_options = {1, 1, 1, 0};
       }},
      {"UDP", [](Pkt& p) { p.proto = 17; }},
  };
  for (int version : {4, 6}) {
    for (const Case& c : cases) {
      SCOPED_TRACE(std::string(c.name) + ", IPv" + std::to_string(version));
      if (version == 6 && (std::string(c.name).starts_with("IPv4"))) continue;
      if (version == 4 && (std::string(c.name).starts_with("IPv6"))) continue;
      Pkt f = flow(version, 7);
      std::vector<Buf> in = stream(f, 4, 1000);
      Pkt odd = f;
      odd.seq = f.seq + 4000;
      odd.id = static_cast<uint16_t>(f.id + 4);
      odd.payload.assign(1000, 0xee);
      c.change(odd);
      in.push_back(build(odd));
      // The stream goes on: 4 more full segments.
      Pkt more = f;
      more.seq = f.seq + 5000;
      more.id = static_cast<uint16_t>(f.id + 5);
      for (const Buf& b : stream(more, 4, 1000)) in.push_back(b);
      Harness h;
      h.feed(in);
      const size_t n = expect_round_trip(in, h.out);
      EXPECT_GE(n, 3u);
      EXPECT_LE(n, 4u);
      const size_t first_run = (version == 4 ? 52u : 72u) + 4000;
      EXPECT_TRUE(std::any_of(h.out.begin(), h.out.end(), [&](const Written& w) {
        return w.hdr.gso_type != VnetHdr::kGsoNone && w.bytes.size() == first_run;
      })) << "the first four segments merged on their own";
    }
  }
}

// IPv4 options are part of the header every segment gets back: segments
// with other options (or another split of the same header bytes between IP
// and TCP) must not be merged.
TEST(OffloadCoalescer, Ipv4OptionsMustMatch) {
  Pkt f = flow(4, 20);
  f.ip_options = {1, 1, 1, 0};  // NOP NOP NOP EOL
  std::vector<Buf> in = stream(f, 3, 1000);
  Pkt g = f;
  g.seq = f.seq + 3000;
  g.id = static_cast<uint16_t>(f.id + 3);
  g.ip_options = {0x94, 4, 0, 0};  // router alert
  for (const Buf& b : stream(g, 3, 1000)) in.push_back(b);
  Harness h;
  h.feed(in);
  EXPECT_GE(expect_round_trip(in, h.out), 2u);  // merged per options, or (as the kernel does) not at all

  // 24 + 32 and 20 + 36 bytes of headers: the same length, not the same layout.
  Pkt a = flow(4, 21);
  a.ip_options = {1, 1, 1, 0};
  in = stream(a, 3, 1000);
  Pkt b = a;
  b.seq = a.seq + 3000;
  b.id = static_cast<uint16_t>(a.id + 3);
  b.ip_options.clear();
  // b's TCP options are a's followed by the first 4 payload bytes of a's
  // first segment: byte for byte, b's headers from offset 20 on look like
  // a's options and payload, only the split differs.
  for (size_t i = 0; i < 4; ++i) b.tcp_options.push_back(in[0][24 + 32 + i]);
  for (const Buf& x : stream(b, 3, 1000)) in.push_back(x);
  Harness h2;
  h2.feed(in);
  EXPECT_GE(expect_round_trip(in, h2.out), 2u);
}

TEST(OffloadCoalescer, PaddedOrTruncatedPacketsAreWrittenAsTheyAre) {
  Pkt f = flow(4, 8);
  std::vector<Buf> in = stream(f, 3, 1000);
  Buf padded = in[1];
  padded.push_back(0);  // longer than its IPv4 total length
  Harness h;
  h.feed({in[0], padded, in[2]});
  ASSERT_EQ(h.out.size(), 3u);
  for (const Written& w : h.out) EXPECT_EQ(w.hdr.gso_type, VnetHdr::kGsoNone);
  EXPECT_EQ(h.out[1].bytes, padded);

  Harness t;
  const Buf cut(in[0].begin(), in[0].begin() + 22);
  t.feed({cut, Buf{0x45}, Buf{}, Buf{0x60, 0, 0}});
  ASSERT_EQ(t.out.size(), 4u);
  EXPECT_EQ(t.out[0].bytes, cut);
}

TEST(OffloadCoalescer, InterleavedFlowsMergeSeparately) {
  const auto a = stream(flow(4, 10), 8, 1000);
  const auto b = stream(flow(6, 11), 8, 1000);
  Pkt rev = flow(4, 10);  // the reverse direction of a: another flow
  std::swap(rev.src, rev.dst);
  std::swap(rev.sport, rev.dport);
  const auto c = stream(rev, 8, 1000);
  std::vector<Buf> in;
  for (size_t i = 0; i < 8; ++i) {
    in.push_back(a[i]);
    in.push_back(b[i]);
    in.push_back(c[i]);
  }
  Harness h;
  h.feed(in);
  EXPECT_EQ(expect_round_trip(in, h.out), 3u);
}

TEST(OffloadCoalescer, MoreFlowsThanRunsStillKeepsEveryFlowInOrder) {
  std::vector<std::vector<Buf>> flows;
  for (uint16_t i = 0; i < TcpCoalescer::kMaxRuns + 3; ++i) flows.push_back(stream(flow(i % 2 ? 6 : 4, i), 6, 700));
  std::vector<Buf> in;
  for (size_t k = 0; k < 6; ++k) {
    for (const auto& f : flows) in.push_back(f[k]);
  }
  Harness h;
  h.feed(in);
  expect_round_trip(in, h.out);
  // With at most kMaxRuns open, the oldest is written to make room.
  EXPECT_GT(h.out.size(), flows.size());
}

TEST(OffloadCoalescer, NothingIsHeldAfterFlushAndFlushIsIdempotent) {
  const auto a = stream(flow(4, 12), 3, 1000);
  Harness h;
  h.feed(a);
  EXPECT_EQ(h.out.size(), 1u);
  h.c.flush();
  EXPECT_EQ(h.out.size(), 1u);
  // A second batch starts afresh (the earlier packets are gone).
  Pkt next = flow(4, 12);
  next.seq += 3000;
  next.id = 3;
  const auto b = stream(next, 3, 1000);
  h.feed(b);
  ASSERT_EQ(h.out.size(), 2u);
  std::vector<Buf> all = a;
  all.insert(all.end(), b.begin(), b.end());
  expect_round_trip(all, h.out);
}

// Random streams: several flows, each a sequence of segments with events
// (short, PSH, gaps, other ACKs, pure ACKs, FIN, options changes) and
// non-TCP packets between them, interleaved at random.
TEST(OffloadCoalescer, RandomStreamsRoundTrip) {
  random_rounds(300, [&](Gen& g, size_t) {
    const size_t nflows = g.between(1, 12);
    std::vector<Pkt> state;
    std::vector<size_t> mss;
    for (size_t i = 0; i < nflows; ++i) {
      Pkt p = g.tcp_packet(g.version());
      p.sport = static_cast<uint16_t>(i);  // distinct flows
      p.flags = kAck;
      p.frag = 0;
      if (g.chance(80)) p.ip_options.clear();
      state.push_back(p);
      mss.push_back(g.chance(20) ? g.between(1, 100) : g.between(500, 1448));
    }
    std::vector<Buf> in;
    const size_t total = g.between(1, 400);
    for (size_t k = 0; k < total; ++k) {
      const size_t i = g.upto(nflows - 1);
      Pkt& s = state[i];
      Pkt p = s;
      p.payload = g.bytes(mss[i]);
      const size_t ev = g.upto(99);
      if (ev < 5) {
        p.payload.resize(g.upto(mss[i]));  // short, or a pure ACK
      } else if (ev < 10) {
        p.flags |= kPsh;
      } else if (ev < 12) {
        p.seq += static_cast<uint32_t>(g.between(1, 5000));  // a gap
      } else if (ev < 15) {
        p.ack += static_cast<uint32_t>(g.upto(3000));
        s.ack = p.ack;
      } else if (ev < 16) {
        p.flags |= kFin;
      } else if (ev < 18) {
        p.tcp_options = g.tcp_options();
        s.tcp_options = p.tcp_options;
      } else if (ev < 19) {
        p.reserved = static_cast<uint8_t>(g.upto(15));
        s.reserved = p.reserved;
      } else if (ev < 22) {
        Pkt other = g.tcp_packet(p.version);
        other.proto = g.chance(50) ? 17 : 1;
        other.payload = g.bytes(g.upto(100));
        if (other.proto == 1) other.proto = 17;  // build() lays out UDP for any non-TCP
        in.push_back(build(other));
      }
      in.push_back(build(p));
      s.seq = p.seq + static_cast<uint32_t>(p.payload.size());
      s.id = static_cast<uint16_t>(p.id + 1);
    }
    Harness h;
    // Sometimes in several batches, as the device flushes between reads.
    size_t done = 0;
    while (done < in.size()) {
      const size_t n = std::min(in.size() - done, g.between(1, 200));
      h.feed(
          std::vector<Buf>(in.begin() + static_cast<ptrdiff_t>(done), in.begin() + static_cast<ptrdiff_t>(done + n)));
      done += n;
    }
    expect_round_trip(in, h.out);
  });
}

// Split and merge are inverses: a super-packet cut by split_tcp_gso and fed
// to the coalescer comes back as the same super-packet (bar the checksum
// field, which is partial) when it fits the limits.
TEST(OffloadCoalescer, MergesWhatSplitCut) {
  random_rounds(200, [&](Gen& g, size_t) {
    Pkt p = g.tcp_packet(g.version());
    p.ip_options.clear();
    p.flags = static_cast<uint8_t>(kAck | (g.chance(50) ? kPsh : 0));
    const size_t gso = g.between(536, 1448);
    const size_t segs = g.between(2, 40);
    p.payload = g.bytes(gso * (segs - 1) + g.between(1, gso));
    const VnetHdr hdr = gso_hdr(p, gso);
    const Buf super = build(p);
    const SplitResult r = run_split(hdr, super);
    ASSERT_TRUE(r.count.has_value());
    Harness h;
    h.feed(r.segments);
    ASSERT_EQ(h.out.size(), 1u);
    EXPECT_EQ(h.out[0].hdr.gso_size, gso);
    Buf merged = h.out[0].bytes;
    const size_t l4 = p.ip_len();
    Buf want = super;
    set16(&merged[l4 + 16], 0);
    set16(&want[l4 + 16], 0);
    EXPECT_EQ(merged, want) << hex_diff(merged, want);
  });
}

}  // namespace
}  // namespace sitelink::tunnel
