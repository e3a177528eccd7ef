// The five per-peer timers of WireGuard (paper 6; the kernel's timers.c),
// kept as deadlines rather than callbacks so they can be tested with a
// hand-held clock:
//
//   retransmit_handshake  REKEY_TIMEOUT + jitter after an initiation with no
//                         response: send another, up to kMaxTimerHandshakes.
//   send_keepalive        KEEPALIVE_TIMEOUT after data arrived and nothing was
//                         sent back: send an empty packet.
//   new_handshake         KEEPALIVE + REKEY_TIMEOUT + jitter after data was sent
//                         and nothing came back: start a new handshake.
//   zero_key_material     3 x REJECT_AFTER_TIME after the last session: wipe keys.
//   persistent_keepalive  the configured interval after any authenticated
//                         packet either way: send an empty packet.
//
// The data path calls the hooks below; the peer machine asks take_expired()
// which timers are due and acts on them. The rules ("arm only if not already
// pending", ...) live here, in the hooks, not in the callers.
#pragma once

#include <array>
#include <optional>

#include "handshake/base/time.h"
#include "handshake/constants.h"
#include "handshake/crypto.h"

namespace sitelink::handshake {

// Times that depend on configuration. Only rekey-after-time is configurable
// (SPEC.md, for tests); reject-after-time keeps WireGuard's 60 s margin over
// it, and the receive-side "last minute" rekey is derived from that.
struct TimerSettings {
  Duration rekey_after_time = kRekeyAfterTime;
  Duration persistent_keepalive{0};  // 0 = off

  Duration reject_after_time() const { return rekey_after_time + (kRejectAfterTime - kRekeyAfterTime); }
  Duration zero_key_material_after() const { return 3 * reject_after_time(); }
};

enum class Timer {
  kRetransmitHandshake,
  kSendKeepalive,
  kNewHandshake,
  kZeroKeyMaterial,
  kPersistentKeepalive,
  kCount,
};

class PeerTimers {
 public:
  explicit PeerTimers(TimerSettings s) : settings_(s) { deadlines_.fill(Instant::never()); }

  // Call after sending a transport packet that carries data (not a keepalive).
  void data_sent(Instant now, Rng& rng);
  // Call after receiving a transport packet that carries data.
  void data_received(Instant now);
  // Call after sending any authenticated packet (handshake, data, keepalive).
  void any_authenticated_packet_sent();
  // Call after receiving any authenticated packet.
  void any_authenticated_packet_received();
  // Call after sending or receiving any authenticated packet.
  void any_authenticated_packet_traversal(Instant now);
  // Call after sending a handshake initiation.
  void handshake_initiated(Instant now, Rng& rng);
  // Call after a handshake response is consumed, or our response is
  // confirmed by the first data packet under the new keys.
  void handshake_complete();
  // Call after new transport keys were derived (either role).
  void session_derived(Instant now);

  // The earliest pending deadline, or Instant::never().
  Instant next_deadline() const;
  // A timer whose deadline is <= now, which is then disarmed; none if none.
  std::optional<Timer> take_expired(Instant now);

  bool pending(Timer t) const { return !deadlines_[index(t)].is_never(); }
  Instant deadline(Timer t) const { return deadlines_[index(t)]; }
  void arm(Timer t, Instant when) { deadlines_[index(t)] = when; }
  void disarm(Timer t) { deadlines_[index(t)] = Instant::never(); }
  void disarm_all() { deadlines_.fill(Instant::never()); }

  int handshake_attempts = 0;  // retransmissions of the current attempt
  bool need_another_keepalive = false;
  const TimerSettings& settings() const { return settings_; }
  // A random delay in [0, kRekeyTimeoutJitterMax].
  static Duration jitter(Rng& rng);
  void set_settings(const TimerSettings& s) { settings_ = s; }

 private:
  static size_t index(Timer t) { return static_cast<size_t>(t); }

  TimerSettings settings_;
  std::array<Instant, static_cast<size_t>(Timer::kCount)> deadlines_;
};

}  // namespace sitelink::handshake
