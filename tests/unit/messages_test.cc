// classify(), the message accessors, transport framing and padding.
#include "handshake/messages.h"

#include <gtest/gtest.h>

#include <vector>

#include "handshake/constants.h"

namespace sitelink::handshake {
namespace {

// A datagram of `len` bytes whose type word is `type` and whose other bytes
// are a recognisable pattern.
std::vector<uint8_t> datagram(uint32_t type, size_t len) {
  std::vector<uint8_t> d(len);
  for (size_t i = 0; i < len; ++i) d[i] = static_cast<uint8_t>(0xa0 + i);
  if (len >= 4) store_le32(d.data(), type);
  return d;
}

ProtoError classify_error(std::vector<uint8_t> d) {
  auto r = classify(d);
  if (r.ok()) return ProtoError::kNone;
  return r.error();
}

struct TypeCase {
  MessageType type;
  size_t size;
  size_t variant_index;
};

const TypeCase kFixedSizes[] = {
    {MessageType::kInitiation, initiation::kSize, 0},
    {MessageType::kResponse, response::kSize, 1},
    {MessageType::kCookieReply, cookie_reply::kSize, 2},
};

TEST(MessagesTest, WireSizes) {
  EXPECT_EQ(initiation::kSize, 148u);
  EXPECT_EQ(response::kSize, 92u);
  EXPECT_EQ(cookie_reply::kSize, 64u);
  EXPECT_EQ(transport::kMinSize, 32u);
  EXPECT_EQ(transport::kHeaderSize, 16u);
}

TEST(MessagesTest, ExactLengthsAcceptedAsTheRightVariant) {
  for (const TypeCase& c : kFixedSizes) {
    SCOPED_TRACE(static_cast<uint32_t>(c.type));
    auto d = datagram(static_cast<uint32_t>(c.type), c.size);
    auto r = classify(d);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->index(), c.variant_index);
    std::visit(
        [&](const auto& m) {
          EXPECT_EQ(m.bytes.data(), d.data()) << "the view borrows the datagram";
          EXPECT_EQ(m.bytes.size(), c.size);
        },
        *r);
  }
  for (size_t len : {size_t{32}, size_t{33}, size_t{48}, size_t{1500}, size_t{65535}}) {
    auto d = datagram(static_cast<uint32_t>(MessageType::kTransport), len);
    auto r = classify(d);
    ASSERT_TRUE(r.ok()) << len;
    ASSERT_TRUE(std::holds_alternative<TransportMsg>(*r));
    EXPECT_EQ(std::get<TransportMsg>(*r).bytes.data(), d.data());
    EXPECT_EQ(std::get<TransportMsg>(*r).bytes.size(), len);
  }
}

TEST(MessagesTest, WrongLengthsRejected) {
  for (const TypeCase& c : kFixedSizes) {
    SCOPED_TRACE(static_cast<uint32_t>(c.type));
    const auto t = static_cast<uint32_t>(c.type);
    EXPECT_EQ(classify_error(datagram(t, c.size - 1)), ProtoError::kBadLength);
    EXPECT_EQ(classify_error(datagram(t, c.size + 1)), ProtoError::kBadLength);
    EXPECT_EQ(classify_error(datagram(t, 4)), ProtoError::kBadLength);
    EXPECT_EQ(classify_error(datagram(t, 2 * c.size)), ProtoError::kBadLength);
    EXPECT_EQ(classify_error(datagram(t, 1500)), ProtoError::kBadLength);
  }
  // The other fixed sizes are wrong for every other type.
  for (const TypeCase& c : kFixedSizes) {
    for (const TypeCase& other : kFixedSizes) {
      if (c.size == other.size) continue;
      EXPECT_EQ(classify_error(datagram(static_cast<uint32_t>(c.type), other.size)), ProtoError::kBadLength);
    }
  }
}

TEST(MessagesTest, TransportMinimumIsAKeepalive) {
  const auto t = static_cast<uint32_t>(MessageType::kTransport);
  for (size_t len = 4; len < 32; ++len) EXPECT_EQ(classify_error(datagram(t, len)), ProtoError::kBadLength) << len;
  EXPECT_EQ(classify_error(datagram(t, 32)), ProtoError::kNone);
}

TEST(MessagesTest, UnknownTypesRejected) {
  for (uint32_t t : {0u, 5u, 6u, 255u, 0x100u, 0xffffffffu}) {
    for (size_t len : {size_t{4}, size_t{32}, size_t{64}, size_t{92}, size_t{148}}) {
      EXPECT_EQ(classify_error(datagram(t, len)), ProtoError::kBadType) << t << " " << len;
    }
  }
}

TEST(MessagesTest, NonZeroReservedBytesRejected) {
  for (const TypeCase& c : kFixedSizes) {
    for (size_t byte = 1; byte < 4; ++byte) {
      for (uint8_t v : {uint8_t{1}, uint8_t{0x80}, uint8_t{0xff}}) {
        auto d = datagram(static_cast<uint32_t>(c.type), c.size);
        d[byte] = v;
        EXPECT_EQ(classify_error(d), ProtoError::kBadType) << static_cast<int>(c.type) << " byte " << byte;
      }
    }
  }
  auto d = datagram(static_cast<uint32_t>(MessageType::kTransport), 64);
  d[3] = 1;
  EXPECT_EQ(classify_error(d), ProtoError::kBadType);
}

TEST(MessagesTest, ShortDatagramsRejected) {
  EXPECT_EQ(classify_error({}), ProtoError::kBadLength);
  EXPECT_EQ(classify_error({1}), ProtoError::kBadLength);
  EXPECT_EQ(classify_error({1, 0}), ProtoError::kBadLength);
  EXPECT_EQ(classify_error({4, 0, 0}), ProtoError::kBadLength);
  EXPECT_EQ(classify_error({9, 9, 9}), ProtoError::kBadLength);  // length before type
  EXPECT_EQ(classify_error({1, 0, 0, 0}), ProtoError::kBadLength);
  EXPECT_EQ(classify_error({4, 0, 0, 0}), ProtoError::kBadLength);
}

TEST(MessagesTest, AccessorsReadLittleEndian) {
  {
    auto d = datagram(1, initiation::kSize);
    store_le32(&d[initiation::kSender], 0x04030201);
    auto r = classify(d);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(std::get<InitiationMsg>(*r).sender(), 0x04030201u);
    EXPECT_EQ(d[4], 0x01);
  }
  {
    auto d = datagram(2, response::kSize);
    d[4] = 0x11;
    d[5] = 0x22;
    d[6] = 0x33;
    d[7] = 0x44;
    d[8] = 0xaa;
    d[9] = 0xbb;
    d[10] = 0xcc;
    d[11] = 0xdd;
    auto r = classify(d);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(std::get<ResponseMsg>(*r).sender(), 0x44332211u);
    EXPECT_EQ(std::get<ResponseMsg>(*r).receiver(), 0xddccbbaau);
  }
  {
    auto d = datagram(3, cookie_reply::kSize);
    d[4] = 0xef;
    d[5] = 0xbe;
    d[6] = 0xad;
    d[7] = 0xde;
    auto r = classify(d);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(std::get<CookieReplyMsg>(*r).receiver(), 0xdeadbeefu);
  }
  {
    auto d = datagram(4, 48);
    for (size_t i = 0; i < 4; ++i) d[4 + i] = static_cast<uint8_t>(0x10 + i);
    for (size_t i = 0; i < 8; ++i) d[8 + i] = static_cast<uint8_t>(0x80 + i);
    auto r = classify(d);
    ASSERT_TRUE(r.ok());
    const auto& t = std::get<TransportMsg>(*r);
    EXPECT_EQ(t.receiver(), 0x13121110u);
    EXPECT_EQ(t.counter(), 0x8786858483828180ull);
    // Mutable view into the same buffer (decryption happens in place).
    t.bytes[transport::kData] = 0x5a;
    EXPECT_EQ(d[transport::kData], 0x5a);
  }
}

TEST(MessagesTest, WriteTransportHeaderLayout) {
  std::array<uint8_t, transport::kHeaderSize> h;
  h.fill(0xee);
  write_transport_header(h, 0x0a0b0c0d, 0x0102030405060708ull);
  const std::array<uint8_t, 16> want = {4,    0,    0,    0,    0x0d, 0x0c, 0x0b, 0x0a,
                                        0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01};
  EXPECT_EQ(h, want);

  // Round trip through classify() on a keepalive-sized datagram.
  std::vector<uint8_t> d(transport::kMinSize, 0);
  write_transport_header(std::span<uint8_t, transport::kHeaderSize>(d.data(), transport::kHeaderSize), 0xffffffff,
                         UINT64_MAX);
  auto r = classify(d);
  ASSERT_TRUE(r.ok());
  const auto& t = std::get<TransportMsg>(*r);
  EXPECT_EQ(t.receiver(), 0xffffffffu);
  EXPECT_EQ(t.counter(), UINT64_MAX);
}

TEST(MessagesTest, PaddedLength) {
  EXPECT_EQ(padded_length(0, 1420), 0u);
  EXPECT_EQ(padded_length(1, 1420), 16u);
  EXPECT_EQ(padded_length(15, 1420), 16u);
  EXPECT_EQ(padded_length(16, 1420), 16u);
  EXPECT_EQ(padded_length(17, 1420), 32u);
  EXPECT_EQ(padded_length(1408, 1420), 1408u);
  EXPECT_EQ(padded_length(1409, 1420), 1420u);  // 1424 would pass the MTU
  EXPECT_EQ(padded_length(1419, 1420), 1420u);
  EXPECT_EQ(padded_length(1420, 1420), 1420u);
  // Larger than the MTU: padded as usual, never cut below the packet.
  for (size_t len : {size_t{1421}, size_t{1424}, size_t{1425}, size_t{9000}}) {
    const size_t p = padded_length(len, 1420);
    EXPECT_GE(p, len) << len;
    EXPECT_LT(p, len + kMessagePaddingMultiple) << len;
  }
  // No MTU known: plain rounding up.
  EXPECT_EQ(padded_length(0, 0), 0u);
  EXPECT_EQ(padded_length(1, 0), 16u);
  EXPECT_EQ(padded_length(1419, 0), 1424u);
  // An MTU that is not a multiple of 16 caps exactly at the MTU.
  EXPECT_EQ(padded_length(1275, 1280), 1280u);
  EXPECT_EQ(padded_length(1281, 1281), 1281u);
  EXPECT_EQ(padded_length(1279, 1281), 1280u);
  // Never less than the input, even where rounding up would overflow.
  EXPECT_GE(padded_length(SIZE_MAX - 3, 0), SIZE_MAX - 3);
  for (size_t len = 0; len <= 200; ++len) {
    const size_t p = padded_length(len, 100);
    EXPECT_GE(p, len);
    if (len <= 100) {
      EXPECT_LE(p, 100u);
      EXPECT_TRUE(p % kMessagePaddingMultiple == 0 || p == 100u) << len;
    }
  }
}

}  // namespace
}  // namespace sitelink::handshake
