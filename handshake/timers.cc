// Timer hooks; see timers.h. Each hook mirrors the kernel function of the
// same name (wg_timers_*).
#include "handshake/timers.h"

namespace sitelink::handshake {

Duration PeerTimers::jitter(Rng& rng) {
  const auto max_us = static_cast<uint32_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(kRekeyTimeoutJitterMax).count());
  return std::chrono::microseconds(rng.uniform(max_us + 1));
}

void PeerTimers::data_sent(Instant now, Rng& rng) {
  if (!pending(Timer::kNewHandshake)) {
    arm(Timer::kNewHandshake, now + kKeepaliveTimeout + kRekeyTimeout + jitter(rng));
  }
}

void PeerTimers::data_received(Instant now) {
  if (!pending(Timer::kSendKeepalive)) {
    arm(Timer::kSendKeepalive, now + kKeepaliveTimeout);
  } else {
    need_another_keepalive = true;
  }
}

void PeerTimers::any_authenticated_packet_sent() { disarm(Timer::kSendKeepalive); }

void PeerTimers::any_authenticated_packet_received() { disarm(Timer::kNewHandshake); }

void PeerTimers::any_authenticated_packet_traversal(Instant now) {
  if (settings_.persistent_keepalive.count() > 0) {
    arm(Timer::kPersistentKeepalive, now + settings_.persistent_keepalive);
  }
}

void PeerTimers::handshake_initiated(Instant now, Rng& rng) {
  arm(Timer::kRetransmitHandshake, now + kRekeyTimeout + jitter(rng));
}

void PeerTimers::handshake_complete() {
  disarm(Timer::kRetransmitHandshake);
  handshake_attempts = 0;
}

void PeerTimers::session_derived(Instant now) {
  arm(Timer::kZeroKeyMaterial, now + settings_.zero_key_material_after());
}

Instant PeerTimers::next_deadline() const {
  Instant earliest = Instant::never();
  for (Instant d : deadlines_) earliest = std::min(earliest, d);
  return earliest;
}

std::optional<Timer> PeerTimers::take_expired(Instant now) {
  // The earliest due timer first, so actions happen in deadline order even
  // when the caller wakes late.
  std::optional<size_t> due;
  for (size_t i = 0; i < deadlines_.size(); ++i) {
    if (deadlines_[i] <= now && (!due || deadlines_[i] < deadlines_[*due])) due = i;
  }
  if (!due) return std::nullopt;
  deadlines_[*due] = Instant::never();
  return static_cast<Timer>(*due);
}

}  // namespace sitelink::handshake
