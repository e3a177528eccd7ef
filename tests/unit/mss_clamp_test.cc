// TCP MSS clamping (tunnel/mss_clamp.h) on crafted and random packets. The
// checksum is checked against a from-scratch RFC 793/8200 computation
// written here (pseudo-header plus segment, 16 bits at a time), never against
// the incremental update under test. Random tests use a fixed seed
// (MSS_TEST_SEED overrides it), printed with every failure.
#include "tunnel/mss_clamp.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace sitelink::tunnel {
namespace {

using Buf = std::vector<uint8_t>;

constexpr uint8_t kSyn = 0x02, kAck = 0x10;
constexpr MssLimits kLimits{1380, 1360};

uint16_t get16(const Buf& b, size_t at) { return static_cast<uint16_t>(b[at] << 8 | b[at + 1]); }
void put16(Buf& b, size_t at, uint16_t v) {
  b[at] = static_cast<uint8_t>(v >> 8);
  b[at + 1] = static_cast<uint8_t>(v);
}

size_t l4_offset(const Buf& b) { return (b[0] >> 4) == 4 ? size_t{b[0] & 0x0fu} * 4 : 40; }

// Sum of the pseudo-header and the TCP segment (checksum field included),
// 16 bits at a time, carries folded at the end.
uint32_t naive_sum(const Buf& b) {
  const bool v4 = (b[0] >> 4) == 4;
  const size_t l4 = l4_offset(b);
  const size_t end = v4 ? get16(b, 2) : 40 + size_t{get16(b, 4)};
  uint64_t sum = 0;
  const size_t a = v4 ? 12 : 8, alen = v4 ? 8 : 32;
  for (size_t i = a; i < a + alen; i += 2) sum += get16(b, i);
  sum += 6;  // protocol
  sum += end - l4;
  for (size_t i = l4; i < end; i += 2) sum += i + 1 < end ? get16(b, i) : uint32_t{b[i]} << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint32_t>(sum);
}
bool checksum_ok(const Buf& b) { return naive_sum(b) == 0xffff; }
void set_full_checksum(Buf& b) {
  const size_t l4 = l4_offset(b);
  put16(b, l4 + 16, 0);
  put16(b, l4 + 16, static_cast<uint16_t>(~naive_sum(b)));
}

// A TCP segment with the given options (padded with EOL to a multiple of 4)
// and payload, with a valid checksum.
Buf make_packet(int version, uint8_t flags, const Buf& options, size_t payload = 0, uint8_t seed = 1) {
  const size_t opt_len = (options.size() + 3) / 4 * 4;
  const size_t ip = version == 4 ? 20 : 40, tcp = 20 + opt_len;
  Buf b(ip + tcp + payload, 0);
  if (version == 4) {
    b[0] = 0x45;
    put16(b, 2, static_cast<uint16_t>(b.size()));
    b[6] = 0x40;  // DF
    b[8] = 64;
    b[9] = 6;
    for (size_t i = 0; i < 8; ++i) b[12 + i] = static_cast<uint8_t>(198 + i * seed);
  } else {
    b[0] = 0x60;
    put16(b, 4, static_cast<uint16_t>(tcp + payload));
    b[6] = 6;
    b[7] = 64;
    for (size_t i = 0; i < 32; ++i) b[8 + i] = static_cast<uint8_t>(0x20 + i * seed);
  }
  put16(b, ip, 40000);
  put16(b, ip + 2, 443);
  b[ip + 4] = seed;
  b[ip + 12] = static_cast<uint8_t>(tcp / 4 << 4);
  b[ip + 13] = flags;
  put16(b, ip + 14, 64240);
  for (size_t i = 0; i < options.size(); ++i) b[ip + 20 + i] = options[i];
  for (size_t i = 0; i < payload; ++i) b[ip + tcp + i] = static_cast<uint8_t>(i * 7 + seed);
  set_full_checksum(b);
  return b;
}

Buf mss_option(uint16_t mss) { return {2, 4, static_cast<uint8_t>(mss >> 8), static_cast<uint8_t>(mss)}; }
Buf cat(std::initializer_list<Buf> parts) {
  Buf r;
  for (const Buf& p : parts) r.insert(r.end(), p.begin(), p.end());
  return r;
}

// The MSS value in the packet's options, read independently (first MSS).
std::optional<uint16_t> read_mss(const Buf& b) {
  const size_t l4 = l4_offset(b), hlen = static_cast<size_t>(b[l4 + 12] >> 4) * 4;
  for (size_t i = 20; i + 1 < hlen;) {
    if (b[l4 + i] == 0) break;
    if (b[l4 + i] == 1) {
      ++i;
      continue;
    }
    if (b[l4 + i] == 2 && i + 4 <= hlen) return get16(b, l4 + i + 2);
    if (b[l4 + i + 1] < 2) break;
    i += b[l4 + i + 1];
  }
  return std::nullopt;
}

bool clamp(Buf& b, MssLimits limits = kLimits, bool partial = false) {
  return clamp_mss(MutableBytes(b.data(), b.size()), limits, partial);
}

// Clamps, expecting the packet unchanged.
void expect_unchanged(Buf b, MssLimits limits = kLimits) {
  const Buf before = b;
  EXPECT_FALSE(clamp(b, limits));
  EXPECT_EQ(b, before);
}

TEST(MssClamp, LowersIpv4SynMssAndKeepsChecksumValid) {
  Buf b = make_packet(4, kSyn, mss_option(1460));
  ASSERT_TRUE(checksum_ok(b));
  EXPECT_TRUE(clamp(b));
  EXPECT_EQ(read_mss(b), 1380);
  EXPECT_TRUE(checksum_ok(b));
}

TEST(MssClamp, LowersIpv6SynAckMss) {
  Buf b = make_packet(6, kSyn | kAck, cat({mss_option(1440), {4, 2, 1, 3, 3, 7}}));
  EXPECT_TRUE(clamp(b));
  EXPECT_EQ(read_mss(b), 1360);
  EXPECT_TRUE(checksum_ok(b));
}

TEST(MssClamp, FindsMssAfterOtherOptionsAtOddAndEvenOffsets) {
  const Buf ts = {8, 10, 1, 2, 3, 4, 5, 6, 7, 8};
  for (int version : {4, 6}) {
    for (size_t nops = 0; nops < 4; ++nops) {
      SCOPED_TRACE("version " + std::to_string(version) + " nops " + std::to_string(nops));
      Buf b = make_packet(version, kSyn, cat({Buf(nops, 1), ts, {3, 3, 7}, mss_option(9000)}), 100);
      EXPECT_TRUE(clamp(b));
      EXPECT_EQ(read_mss(b), version == 4 ? 1380 : 1360);
      EXPECT_TRUE(checksum_ok(b));
    }
  }
}

TEST(MssClamp, NeverRaises) {
  expect_unchanged(make_packet(4, kSyn, mss_option(1200)));
  expect_unchanged(make_packet(4, kSyn, mss_option(1380)));  // exactly the limit
  expect_unchanged(make_packet(6, kSyn | kAck, mss_option(1360)));
}

TEST(MssClamp, LeavesPacketsWithoutMssAlone) {
  expect_unchanged(make_packet(4, kSyn, {}));
  expect_unchanged(make_packet(4, kSyn, {1, 1, 4, 2, 3, 3, 7}));
  // An MSS option after the end-of-options marker does not count.
  expect_unchanged(make_packet(4, kSyn, cat({{1, 0, 1, 1}, mss_option(1460)})));
}

TEST(MssClamp, LeavesNonSynSegmentsAlone) {
  expect_unchanged(make_packet(4, kAck, mss_option(1460), 50));
  expect_unchanged(make_packet(6, kAck, mss_option(1460), 50));
  expect_unchanged(make_packet(4, 0, mss_option(1460)));
}

TEST(MssClamp, LeavesOffFamiliesAlone) {
  expect_unchanged(make_packet(4, kSyn, mss_option(1460)), MssLimits{0, 1360});
  expect_unchanged(make_packet(6, kSyn, mss_option(1460)), MssLimits{1380, 0});
  Buf b = make_packet(6, kSyn, mss_option(1460));
  EXPECT_TRUE(clamp(b, MssLimits{0, 1360}));
}

TEST(MssClamp, LeavesIpv4FragmentsAlone) {
  Buf mf = make_packet(4, kSyn, mss_option(1460));
  mf[6] = 0x20;  // MF
  expect_unchanged(mf);
  Buf offset = make_packet(4, kSyn, mss_option(1460));
  put16(offset, 6, 0x0001);  // fragment offset 8 bytes
  expect_unchanged(offset);
}

TEST(MssClamp, LeavesIpv6WithExtensionHeadersAlone) {
  // Hop-by-hop (0) and fragment (44) headers before TCP: not parsed.
  for (const uint8_t next : {uint8_t{0}, uint8_t{44}, uint8_t{60}}) {
    Buf b = make_packet(6, kSyn, mss_option(1460));
    Buf ext = {6, 0, 1, 4, 0, 0, 0, 0};  // next header TCP, length 0 (8 bytes), padding
    b.insert(b.begin() + 40, ext.begin(), ext.end());
    b[6] = next;
    put16(b, 4, static_cast<uint16_t>(get16(b, 4) + 8));
    expect_unchanged(b);
  }
}

TEST(MssClamp, LeavesOtherProtocolsAndVersionsAlone) {
  Buf udp = make_packet(4, kSyn, mss_option(1460));
  udp[9] = 17;
  expect_unchanged(udp);
  Buf v5 = make_packet(4, kSyn, mss_option(1460));
  v5[0] = 0x55;
  expect_unchanged(v5);
  Buf v6udp = make_packet(6, kSyn, mss_option(1460));
  v6udp[6] = 17;
  expect_unchanged(v6udp);
}

TEST(MssClamp, LeavesTruncatedPacketsAlone) {
  for (int version : {4, 6}) {
    const Buf full = make_packet(version, kSyn, cat({{1, 1, 1}, mss_option(1460)}));
    for (size_t n = 0; n < full.size(); ++n) {
      SCOPED_TRACE("version " + std::to_string(version) + " length " + std::to_string(n));
      // Cut off, lengths as before: the stated length exceeds the buffer.
      expect_unchanged(Buf(full.begin(), full.begin() + static_cast<ptrdiff_t>(n)));
    }
    // TCP data offset beyond the stated length, or below 5.
    Buf big = full;
    big[l4_offset(big) + 12] = 0xf0;
    expect_unchanged(big);
    Buf small = full;
    small[l4_offset(small) + 12] = 0x40;
    expect_unchanged(small);
    // Stated IP length shorter than the TCP header (padding after it).
    Buf stated = full;
    if (version == 4) {
      put16(stated, 2, static_cast<uint16_t>(stated.size() - 4));
    } else {
      put16(stated, 4, static_cast<uint16_t>(get16(stated, 4) - 4));
    }
    expect_unchanged(stated);
  }
  Buf ihl = make_packet(4, kSyn, mss_option(1460));
  ihl[0] = 0x44;  // IHL 4
  expect_unchanged(ihl);
}

TEST(MssClamp, LeavesMalformedOptionsAlone) {
  // Length 0 and 1 before an MSS option: the walk stops.
  expect_unchanged(make_packet(4, kSyn, cat({{3, 0, 7, 1}, mss_option(1460)})));
  expect_unchanged(make_packet(4, kSyn, cat({{3, 1, 7, 1}, mss_option(1460)})));
  // A length running past the TCP header.
  expect_unchanged(make_packet(4, kSyn, cat({{8, 40, 1, 1}, mss_option(1460)})));
  // An MSS option with the wrong length, or cut by the header's end.
  expect_unchanged(make_packet(4, kSyn, {2, 3, 5, 0xb4}));
  expect_unchanged(make_packet(4, kSyn, {2, 6, 5, 0xb4, 0, 0, 0, 0}));
  Buf cut = make_packet(4, kSyn, {1, 1, 1, 1, 1, 1, 2, 4});  // value past the header
  expect_unchanged(cut);
  Buf kind_last = make_packet(4, kSyn, {1, 1, 1, 1, 1, 1, 1, 2});  // length byte past the header
  expect_unchanged(kind_last);
}

TEST(MssClamp, PartialChecksumIsLeftForTheCompletion) {
  // With VIRTIO_NET_HDR_F_NEEDS_CSUM the field holds the folded pseudo-header
  // sum; completing it sums the segment's bytes, so it must stay as it is.
  for (int version : {4, 6}) {
    for (size_t nops : {0, 1}) {
      Buf b = make_packet(version, kSyn, cat({Buf(nops, 1), mss_option(1460)}), 20);
      const size_t l4 = l4_offset(b);
      // The pseudo-header sum alone: the whole sum minus the segment's.
      Buf seg_only = b;
      put16(seg_only, l4 + 16, 0);
      const uint32_t whole = naive_sum(seg_only);
      uint64_t seg = 0;
      const size_t end = b.size();
      for (size_t i = l4; i < end; i += 2) seg += i + 1 < end ? get16(b, i) : uint32_t{b[i]} << 8;
      seg -= get16(b, l4 + 16);
      while (seg >> 16) seg = (seg & 0xffff) + (seg >> 16);
      // whole = pseudo + seg (one's complement): pseudo = whole - seg.
      uint32_t pseudo = whole + (0xffff - static_cast<uint32_t>(seg));
      while (pseudo >> 16) pseudo = (pseudo & 0xffff) + (pseudo >> 16);
      put16(b, l4 + 16, static_cast<uint16_t>(pseudo));
      const uint16_t field = get16(b, l4 + 16);
      EXPECT_TRUE(clamp(b, kLimits, true));
      EXPECT_EQ(get16(b, l4 + 16), field);
      // Complete it as the TUN reader does: ~sum from csum_start to the end.
      uint64_t s = 0;
      for (size_t i = l4; i < end; i += 2) s += i + 1 < end ? get16(b, i) : uint32_t{b[i]} << 8;
      while (s >> 16) s = (s & 0xffff) + (s >> 16);
      put16(b, l4 + 16, static_cast<uint16_t>(~s));
      EXPECT_TRUE(checksum_ok(b)) << "version " << version << " nops " << nops;
      EXPECT_EQ(read_mss(b), version == 4 ? 1380 : 1360);
    }
  }
}

uint32_t test_seed() {
  const char* s = std::getenv("MSS_TEST_SEED");
  return s != nullptr ? static_cast<uint32_t>(std::strtoul(s, nullptr, 10)) : 20261204;
}

TEST(MssClamp, RandomPacketsAgainstFromScratchChecksum) {
  const uint32_t seed = test_seed();
  std::mt19937 rng(seed);
  auto pick = [&](uint32_t n) { return static_cast<uint32_t>(rng() % n); };
  size_t clamped = 0;
  for (int round = 0; round < 5000; ++round) {
    SCOPED_TRACE("seed " + std::to_string(seed) + " round " + std::to_string(round));
    const int version = pick(2) == 0 ? 4 : 6;
    Buf options;
    const uint16_t mss = static_cast<uint16_t>(pick(65536));
    const bool with_mss = pick(8) != 0;
    const size_t before = pick(4);
    for (size_t i = 0; i < 4; ++i) {
      if (with_mss && i == before) options = cat({options, mss_option(mss)});
      switch (pick(4)) {
        case 0: options.push_back(1); break;
        case 1: options = cat({options, {3, 3, static_cast<uint8_t>(pick(15))}}); break;
        case 2: options = cat({options, {4, 2}}); break;
        default: options = cat({options, {8, 10, 1, 2, 3, 4, 5, 6, 7, 8}}); break;
      }
    }
    if (options.size() > 40) options.resize(40);  // may cut an option: then a malformed walk
    const uint8_t flags = static_cast<uint8_t>(pick(256));
    const MssLimits limits{static_cast<uint16_t>(pick(3000)), static_cast<uint16_t>(pick(3000))};
    Buf b = make_packet(version, flags, options, pick(200), static_cast<uint8_t>(pick(256)));
    const Buf orig = b;
    const std::optional<uint16_t> found = read_mss(orig);
    const uint16_t limit = version == 4 ? limits.ipv4 : limits.ipv6;
    const bool expect = (flags & kSyn) != 0 && limit != 0 && found && *found > limit &&
                        [&] {  // the MSS option whole within the header (not cut by resize)
                          const size_t l4 = l4_offset(orig), hlen = static_cast<size_t>(orig[l4 + 12] >> 4) * 4;
                          for (size_t i = 20; i < hlen;) {
                            if (orig[l4 + i] == 0) return false;
                            if (orig[l4 + i] == 1) {
                              ++i;
                              continue;
                            }
                            if (i + 1 >= hlen || orig[l4 + i + 1] < 2 || i + orig[l4 + i + 1] > hlen) return false;
                            if (orig[l4 + i] == 2) return orig[l4 + i + 1] == 4;
                            i += orig[l4 + i + 1];
                          }
                          return false;
                        }();
    const bool did = clamp(b, limits);
    ASSERT_EQ(did, expect);
    ASSERT_TRUE(checksum_ok(b));
    if (!did) {
      ASSERT_EQ(b, orig);
      continue;
    }
    ++clamped;
    ASSERT_EQ(read_mss(b), limit);
    // Only the MSS value and the checksum changed.
    size_t diff = 0;
    for (size_t i = 0; i < b.size(); ++i) diff += b[i] != orig[i];
    ASSERT_LE(diff, 4u);
  }
  EXPECT_GT(clamped, 500u);  // the generator reaches the rewrite often
}

}  // namespace
}  // namespace sitelink::tunnel
