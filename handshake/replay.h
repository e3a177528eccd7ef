// Sliding-window replay protection for transport counters (paper 5.4.6,
// RFC 6479's bitmap without per-packet shifting). Counters may arrive out of
// order within kCounterWindowSize of the newest one; anything older, anything
// seen before, and anything at or beyond kRejectAfterMessages is refused.
#pragma once

#include <array>
#include <cstdint>

#include "handshake/constants.h"

namespace sitelink::handshake {

class ReplayWindow {
 public:
  // Call only after the packet authenticated. True if `counter` is new (it
  // is then recorded); false if it must be dropped.
  [[nodiscard]] bool accept(uint64_t counter);

  // Whether `counter` would be accepted, without recording it (to drop
  // obvious replays before spending a decryption on them).
  bool would_accept(uint64_t counter) const;

  void reset() { *this = ReplayWindow{}; }

 private:
  static constexpr size_t kWords = kCounterBitsTotal / 64;
  // `next_` is one more than the highest counter accepted so far; bit
  // (c mod 8192) of the ring says whether counter c was seen.
  uint64_t next_ = 0;
  std::array<uint64_t, kWords> bits_{};
};

}  // namespace sitelink::handshake
