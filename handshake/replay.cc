// The replay window; see replay.h.
#include "handshake/replay.h"

namespace sitelink::handshake {

bool ReplayWindow::would_accept(uint64_t counter) const {
  if (counter >= kRejectAfterMessages) return false;
  if (counter >= next_) return true;
  if (next_ - counter > kCounterWindowSize) return false;
  const uint64_t word = bits_[(counter / 64) % kWords];
  return (word >> (counter % 64) & 1) == 0;
}

bool ReplayWindow::accept(uint64_t counter) {
  if (!would_accept(counter)) return false;
  if (counter >= next_) {
    // Slide forward: clear every word between the old newest and the new
    // one (at most the whole ring), so stale bits cannot read as "seen".
    const uint64_t old_word = next_ == 0 ? 0 : (next_ - 1) / 64;
    const uint64_t new_word = counter / 64;
    if (next_ == 0) {
      bits_.fill(0);
    } else {
      const uint64_t steps = std::min<uint64_t>(new_word - old_word, kWords);
      for (uint64_t i = 1; i <= steps; ++i) bits_[(old_word + i) % kWords] = 0;
    }
    next_ = counter + 1;
  }
  bits_[(counter / 64) % kWords] |= uint64_t{1} << (counter % 64);
  return true;
}

}  // namespace sitelink::handshake
