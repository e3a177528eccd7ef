// The four WireGuard messages (paper 5.4.2-5.4.7) and a classifier that
// checks type and exact length before any state is touched. Field offsets
// are spelled out here so the wire format can be read in one place; every
// field is read and written in little-endian through base/bytes.h.
//
//   initiation (148)  type=1 | 3 zero | sender u32 | ephemeral 32
//                     | static 32+16 | timestamp 12+16 | mac1 16 | mac2 16
//   response    (92)  type=2 | 3 zero | sender u32 | receiver u32
//                     | ephemeral 32 | empty 0+16 | mac1 16 | mac2 16
//   cookie      (64)  type=3 | 3 zero | receiver u32 | nonce 24 | cookie 16+16
//   transport (>=32)  type=4 | 3 zero | receiver u32 | counter u64 | data+16
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <variant>

#include "handshake/base/bytes.h"
#include "handshake/base/result.h"
#include "handshake/crypto.h"
#include "handshake/errors.h"

namespace sitelink::handshake {

enum class MessageType : uint32_t {
  kInitiation = 1,
  kResponse = 2,
  kCookieReply = 3,
  kTransport = 4,
};

inline constexpr size_t kTimestampSize = 12;

namespace initiation {
inline constexpr size_t kSender = 4;
inline constexpr size_t kEphemeral = 8;
inline constexpr size_t kStatic = 40;
inline constexpr size_t kTimestamp = 88;
inline constexpr size_t kMac1 = 116;
inline constexpr size_t kMac2 = 132;
inline constexpr size_t kSize = 148;
}  // namespace initiation

namespace response {
inline constexpr size_t kSender = 4;
inline constexpr size_t kReceiver = 8;
inline constexpr size_t kEphemeral = 12;
inline constexpr size_t kEmpty = 44;
inline constexpr size_t kMac1 = 60;
inline constexpr size_t kMac2 = 76;
inline constexpr size_t kSize = 92;
}  // namespace response

namespace cookie_reply {
inline constexpr size_t kReceiver = 4;
inline constexpr size_t kNonce = 8;
inline constexpr size_t kCookie = 32;
inline constexpr size_t kSize = 64;
}  // namespace cookie_reply

namespace transport {
inline constexpr size_t kReceiver = 4;
inline constexpr size_t kCounter = 8;
inline constexpr size_t kData = 16;
inline constexpr size_t kHeaderSize = 16;
inline constexpr size_t kMinSize = kHeaderSize + kAeadTagSize;  // a keepalive
}  // namespace transport

static_assert(initiation::kMac1 + 2 * kMacSize == initiation::kSize);
static_assert(response::kMac1 + 2 * kMacSize == response::kSize);
static_assert(cookie_reply::kCookie + kMacSize + kAeadTagSize == cookie_reply::kSize);

// Views into a datagram that has passed classify(): the sizes are known to be
// right, so accessors need no further checks. They borrow the buffer.
struct InitiationMsg {
  Bytes bytes;  // exactly 148
  uint32_t sender() const { return load_le32(&bytes[initiation::kSender]); }
};
struct ResponseMsg {
  Bytes bytes;  // exactly 92
  uint32_t sender() const { return load_le32(&bytes[response::kSender]); }
  uint32_t receiver() const { return load_le32(&bytes[response::kReceiver]); }
};
struct CookieReplyMsg {
  Bytes bytes;  // exactly 64
  uint32_t receiver() const { return load_le32(&bytes[cookie_reply::kReceiver]); }
};
struct TransportMsg {
  MutableBytes bytes;  // at least 32; mutable so it can be decrypted in place
  uint32_t receiver() const { return load_le32(&bytes[transport::kReceiver]); }
  uint64_t counter() const { return load_le64(&bytes[transport::kCounter]); }
};

using Message = std::variant<InitiationMsg, ResponseMsg, CookieReplyMsg, TransportMsg>;

// Checks the 32-bit little-endian type word (so the three reserved bytes must
// be zero, as in the kernel and wireguard-go) and the exact length.
[[nodiscard]] Result<Message, ProtoError> classify(MutableBytes datagram);

// Transport framing: the header goes in the 16 bytes in front of the sealed
// payload, which the caller reserved (in-place encryption, no copy).
void write_transport_header(std::span<uint8_t, transport::kHeaderSize> out, uint32_t receiver, uint64_t counter);

// Bytes a transport message needs for a plaintext of `len` bytes after
// padding to kMessagePaddingMultiple.
size_t padded_length(size_t len, size_t mtu_limit);

}  // namespace sitelink::handshake
