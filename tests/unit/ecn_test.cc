// ECN per RFC 6040 and DSCP copying (tunnel/ecn.h): the decapsulation table
// case by case against RFC 6040's Figure 4 as printed, the encapsulation
// rule, and the in-place rewrite of IPv4 and IPv6 headers (the IPv4
// checksum checked against a from-scratch computation).
#include "tunnel/ecn.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "tests/fakes/packets.h"

namespace sitelink::tunnel {
namespace {

uint8_t codepoint(const std::string& name) {
  static const std::map<std::string, uint8_t> kNames{
      {"Not-ECT", 0b00}, {"ECT(1)", 0b01}, {"ECT(0)", 0b10}, {"CE", 0b11}};
  return kNames.at(name);
}

// RFC 6040 section 4.2, Figure 4, "Arriving Inner Header" down, "Arriving
// Outer Header" across, with its "(!)" and "(!!!)" annotations dropped.
struct Row {
  const char* inner;
  std::array<const char*, 4> by_outer;  // outer Not-ECT, ECT(0), ECT(1), CE
};
constexpr std::array<const char*, 4> kOuter{"Not-ECT", "ECT(0)", "ECT(1)", "CE"};
constexpr std::array<Row, 4> kFigure4{{
    {"Not-ECT", {"Not-ECT", "Not-ECT", "Not-ECT", "<drop>"}},
    {"ECT(0)", {"ECT(0)", "ECT(0)", "ECT(1)", "CE"}},
    {"ECT(1)", {"ECT(1)", "ECT(1)", "ECT(1)", "CE"}},
    {"CE", {"CE", "CE", "CE", "CE"}},
}};

TEST(Ecn, DecapsulationFollowsRfc6040Figure4InAllSixteenCombinations) {
  int cases = 0;
  for (const Row& row : kFigure4) {
    for (size_t o = 0; o < kOuter.size(); ++o) {
      const auto got = decapsulate_ecn(codepoint(row.inner), codepoint(kOuter[o]));
      const std::string want = row.by_outer[o];
      SCOPED_TRACE(std::string("inner ") + row.inner + ", outer " + kOuter[o]);
      if (want == "<drop>") {
        EXPECT_FALSE(got.has_value());
      } else {
        ASSERT_TRUE(got.has_value());
        EXPECT_EQ(*got, codepoint(want));
      }
      ++cases;
    }
  }
  EXPECT_EQ(cases, 16);
}

TEST(Ecn, DecapsulationLooksOnlyAtTheEcnBits) {
  // The DSCP bits of either header change nothing (EF = 46 << 2).
  EXPECT_EQ(decapsulate_ecn(0xb8 | ecn::kEct0, 0xb8 | ecn::kCe), ecn::kCe);
  EXPECT_FALSE(decapsulate_ecn(0xb8, 0x20 | ecn::kCe).has_value());
}

TEST(Ecn, EncapsulationCopiesTheEcnFieldAsIsAndTheDscpOnlyWhenAsked) {
  for (uint8_t e : {ecn::kNotEct, ecn::kEct0, ecn::kEct1, ecn::kCe}) {  // RFC 6040 normal mode: CE too
    EXPECT_EQ(outer_tos(static_cast<uint8_t>(0xb8 | e), false), e);
    EXPECT_EQ(outer_tos(static_cast<uint8_t>(0xb8 | e), true), 0xb8 | e);
  }
  EXPECT_EQ(outer_tos(0, true), 0);
  EXPECT_EQ(outer_tos(0x20, false), 0);  // CS1, not copied by default
}

std::vector<uint8_t> v4(uint8_t tos) {
  auto p = test::ip_packet("198.18.1.2", "198.18.2.2", 30, 0x11);
  p[1] = tos;
  p[4] = 0x12;  // an ID and a fragment field, so the checksum is not trivial
  p[5] = 0x34;
  p[6] = 0x40;
  // A valid header checksum to begin with.
  p[10] = p[11] = 0;
  uint32_t sum = 0;
  for (size_t i = 0; i < 20; i += 2) sum += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  const auto c = static_cast<uint16_t>(~sum);
  p[10] = static_cast<uint8_t>(c >> 8);
  p[11] = static_cast<uint8_t>(c);
  return p;
}

// The RFC 1071 checksum of the header computed from scratch, the checksum
// field taken as zero.
uint16_t scratch_checksum(const std::vector<uint8_t>& p) {
  uint32_t sum = 0;
  for (size_t i = 0; i < 20; i += 2) {
    if (i == 10) continue;
    sum += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
  }
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

uint16_t stored_checksum(const std::vector<uint8_t>& p) { return static_cast<uint16_t>(p[10] << 8 | p[11]); }

TEST(Ecn, IpTosReadsBothVersions) {
  EXPECT_EQ(ip_tos(v4(0xb9)), 0xb9);
  auto p6 = test::ip_packet("2001:db8:a::2", "2001:db8:b::2", 10, 0);
  p6[0] = 0x6b;  // traffic class 0xb9: 0xb in the first byte's low nibble ...
  p6[1] = 0x90;  // ... 0x9 in the second byte's high nibble
  EXPECT_EQ(ip_tos(p6), 0xb9);
  EXPECT_EQ(ip_tos(std::vector<uint8_t>(32, 0)), 0);       // a keepalive's empty plaintext and padding
  EXPECT_EQ(ip_tos(std::vector<uint8_t>{0x45, 0xb8}), 0);  // truncated
}

TEST(Ecn, CeOverEctMarksTheInnerIpv4PacketAndFixesItsChecksum) {
  for (int dscp : {0x00, 0xb8, 0xfc}) {
    for (uint8_t inner : {ecn::kEct0, ecn::kEct1}) {
      auto p = v4(static_cast<uint8_t>(dscp | inner));
      ASSERT_EQ(scratch_checksum(p), stored_checksum(p));
      EXPECT_EQ(apply_outer_ecn(p, ecn::kCe), EcnResult::kMarked);
      EXPECT_EQ(p[1], dscp | ecn::kCe);
      EXPECT_EQ(stored_checksum(p), scratch_checksum(p)) << int(dscp) << " " << int(inner);
    }
  }
}

TEST(Ecn, Ect1OverEct0SetsEct1AndFixesTheChecksum) {
  auto p = v4(ecn::kEct0);
  EXPECT_EQ(apply_outer_ecn(p, ecn::kEct1), EcnResult::kMarked);
  EXPECT_EQ(p[1], ecn::kEct1);
  EXPECT_EQ(stored_checksum(p), scratch_checksum(p));
}

TEST(Ecn, CeOverNotEctMeansDropAndLeavesThePacketAlone) {
  auto p = v4(0xb8);
  const auto before = p;
  EXPECT_EQ(apply_outer_ecn(p, 0xb8 | ecn::kCe), EcnResult::kDrop);
  EXPECT_EQ(p, before);
}

TEST(Ecn, EveryCombinationOnARealHeaderAgreesWithTheTable) {
  for (uint8_t inner = 0; inner < 4; ++inner) {
    for (uint8_t outer = 0; outer < 4; ++outer) {
      auto p = v4(static_cast<uint8_t>(0x28 | inner));
      const auto before = p;
      const EcnResult r = apply_outer_ecn(p, outer);
      const auto want = decapsulate_ecn(inner, outer);
      SCOPED_TRACE(std::to_string(inner) + "/" + std::to_string(outer));
      if (!want) {
        EXPECT_EQ(r, EcnResult::kDrop);
        EXPECT_EQ(p, before);
        continue;
      }
      EXPECT_EQ(r, *want == inner ? EcnResult::kUnchanged : EcnResult::kMarked);
      EXPECT_EQ(p[1], 0x28 | *want);
      EXPECT_EQ(stored_checksum(p), scratch_checksum(p));
      p[1] = before[1];
      p[10] = before[10];
      p[11] = before[11];
      EXPECT_EQ(p, before);  // nothing else touched
    }
  }
}

TEST(Ecn, Ipv6TrafficClassIsMarkedWithoutTouchingTheFlowLabel) {
  auto p = test::ip_packet("2001:db8:a::2", "2001:db8:b::2", 10, 0);
  p[0] = 0x6b;  // traffic class 0xba: DSCP EF, ECT(0)
  p[1] = 0xa5;  // ... and flow label 0x5xxxx
  p[2] = 0x67;
  p[3] = 0x89;
  const auto before = p;
  EXPECT_EQ(apply_outer_ecn(p, ecn::kCe), EcnResult::kMarked);
  EXPECT_EQ(ip_tos(p), 0xbb);
  EXPECT_EQ(p[0], 0x6b);
  EXPECT_EQ(p[1], 0xb5);
  EXPECT_TRUE(std::equal(p.begin() + 2, p.end(), before.begin() + 2));
  p[1] = 0x05;  // Not-ECT
  EXPECT_EQ(apply_outer_ecn(p, ecn::kCe), EcnResult::kDrop);
}

TEST(Ecn, OuterNotEctOrEct0NeverChangesAnything) {
  for (uint8_t inner = 0; inner < 4; ++inner) {
    for (uint8_t outer : {ecn::kNotEct, ecn::kEct0}) {
      auto p = v4(inner);
      const auto before = p;
      EXPECT_EQ(apply_outer_ecn(p, outer), EcnResult::kUnchanged);
      EXPECT_EQ(p, before);
    }
  }
}

TEST(Ecn, WhatIsNotAnIpPacketIsLeftAlone) {
  std::vector<uint8_t> junk{0x45, 0x02, 0x00};
  EXPECT_EQ(apply_outer_ecn(junk, ecn::kCe), EcnResult::kUnchanged);
  std::vector<uint8_t> empty;
  EXPECT_EQ(apply_outer_ecn(empty, ecn::kCe), EcnResult::kUnchanged);
  std::vector<uint8_t> v5(40, 0x50);
  EXPECT_EQ(apply_outer_ecn(v5, ecn::kCe), EcnResult::kUnchanged);
}

}  // namespace
}  // namespace sitelink::tunnel
