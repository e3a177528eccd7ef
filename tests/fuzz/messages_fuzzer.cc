// libFuzzer target: classify() on arbitrary bytes, then every accessor of
// whatever it returns, checked against the classification rules. The first
// bytes also drive padded_length() and a transport-header round trip.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <variant>
#include <vector>

#include "fuzz/fuzz_check.h"
#include "handshake/constants.h"
#include "handshake/crypto.h"
#include "handshake/messages.h"

namespace sitelink::handshake {
namespace {

void check_classify(const uint8_t* data, size_t size) {
  std::vector<uint8_t> d(data, data + size);
  auto r = classify(d);
  if (!r) {
    FUZZ_CHECK(r.error() == ProtoError::kBadType || r.error() == ProtoError::kBadLength);
    if (size >= 4) {
      const uint32_t type = load_le32(data);
      FUZZ_CHECK((r.error() == ProtoError::kBadType) == (type < 1 || type > 4));
    } else {
      FUZZ_CHECK(r.error() == ProtoError::kBadLength);
    }
    return;
  }
  FUZZ_CHECK(size >= 4);
  const uint32_t type = load_le32(data);
  std::visit(
      [&](const auto& m) {
        using T = std::decay_t<decltype(m)>;
        FUZZ_CHECK(m.bytes.data() == d.data());
        FUZZ_CHECK(m.bytes.size() == size);
        if constexpr (std::is_same_v<T, InitiationMsg>) {
          FUZZ_CHECK(type == 1 && size == initiation::kSize);
          FUZZ_CHECK(m.sender() == load_le32(data + initiation::kSender));
        } else if constexpr (std::is_same_v<T, ResponseMsg>) {
          FUZZ_CHECK(type == 2 && size == response::kSize);
          FUZZ_CHECK(m.sender() == load_le32(data + response::kSender));
          FUZZ_CHECK(m.receiver() == load_le32(data + response::kReceiver));
        } else if constexpr (std::is_same_v<T, CookieReplyMsg>) {
          FUZZ_CHECK(type == 3 && size == cookie_reply::kSize);
          FUZZ_CHECK(m.receiver() == load_le32(data + cookie_reply::kReceiver));
        } else {
          FUZZ_CHECK(type == 4 && size >= transport::kMinSize);
          FUZZ_CHECK(m.receiver() == load_le32(data + transport::kReceiver));
          FUZZ_CHECK(m.counter() == load_le64(data + transport::kCounter));
          // The payload view is writable and covers the rest of the datagram.
          const MutableBytes payload = m.bytes.subspan(transport::kData);
          FUZZ_CHECK(payload.size() == size - transport::kHeaderSize);
          if (!payload.empty()) payload.back() ^= 0xff;
        }
      },
      *r);
}

void check_framing(const uint8_t* data, size_t size) {
  if (size < 16) return;
  const uint32_t receiver = load_le32(data);
  const uint64_t counter = load_le64(data + 4);
  const size_t len = load_le32(data + 12) & 0xffffff;
  const size_t mtu = load_le32(data + 8) & 0xffff;

  const size_t padded = padded_length(len, mtu);
  FUZZ_CHECK(padded >= len);
  FUZZ_CHECK(padded < len + kMessagePaddingMultiple);
  if (mtu != 0 && len <= mtu) FUZZ_CHECK(padded <= mtu);
  if (mtu == 0 || padded < mtu) FUZZ_CHECK(padded % kMessagePaddingMultiple == 0);

  std::vector<uint8_t> d(transport::kMinSize + (len & 0xff), 0x5c);
  write_transport_header(std::span<uint8_t, transport::kHeaderSize>(d.data(), transport::kHeaderSize), receiver,
                         counter);
  auto r = classify(d);
  FUZZ_CHECK(r.ok());
  const auto* t = std::get_if<TransportMsg>(&*r);
  FUZZ_CHECK(t != nullptr);
  FUZZ_CHECK(t->receiver() == receiver);
  FUZZ_CHECK(t->counter() == counter);
}

}  // namespace
}  // namespace sitelink::handshake

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool initialised = [] {
    sitelink::handshake::crypto_init();
    return true;
  }();
  (void)initialised;
  sitelink::handshake::check_classify(data, size);
  sitelink::handshake::check_framing(data, size);
  return 0;
}
