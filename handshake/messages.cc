// Classification and transport framing for messages.h.
#include "handshake/messages.h"

#include "handshake/constants.h"

namespace sitelink::handshake {

Result<Message, ProtoError> classify(MutableBytes d) {
  if (d.size() < 4) return Err(ProtoError::kBadLength);
  switch (static_cast<MessageType>(load_le32(d.data()))) {
    case MessageType::kInitiation:
      if (d.size() != initiation::kSize) return Err(ProtoError::kBadLength);
      return Message{InitiationMsg{d}};
    case MessageType::kResponse:
      if (d.size() != response::kSize) return Err(ProtoError::kBadLength);
      return Message{ResponseMsg{d}};
    case MessageType::kCookieReply:
      if (d.size() != cookie_reply::kSize) return Err(ProtoError::kBadLength);
      return Message{CookieReplyMsg{d}};
    case MessageType::kTransport:
      if (d.size() < transport::kMinSize) return Err(ProtoError::kBadLength);
      return Message{TransportMsg{d}};
  }
  return Err(ProtoError::kBadType);
}

void write_transport_header(std::span<uint8_t, transport::kHeaderSize> out, uint32_t receiver, uint64_t counter) {
  store_le32(out.data(), static_cast<uint32_t>(MessageType::kTransport));
  store_le32(&out[transport::kReceiver], receiver);
  store_le64(&out[transport::kCounter], counter);
}

size_t padded_length(size_t len, size_t mtu_limit) {
  // Pad to a multiple of 16, but never past the MTU (paper 5.4.6 and the
  // kernel's calculate_skb_padding): a full-size packet is sent unpadded.
  size_t padded = (len + kMessagePaddingMultiple - 1) & ~(kMessagePaddingMultiple - 1);
  if (mtu_limit != 0 && len <= mtu_limit && padded > mtu_limit) padded = mtu_limit;
  return padded < len ? len : padded;
}

}  // namespace sitelink::handshake
