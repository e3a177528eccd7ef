// Time values the protocol core receives but never reads itself.
//   Instant:  monotonic time since boot (CLOCK_BOOTTIME, so suspend counts,
//             as the kernel's ktime_get_coarse_boottime does).
//   WallTime: Unix time, only for TAI64N timestamps and "last handshake".
#pragma once

#include <chrono>
#include <cstdint>

namespace sitelink {

using Duration = std::chrono::nanoseconds;

struct Instant {
  Duration since_boot{0};

  static constexpr Instant from_ns(int64_t ns) { return Instant{Duration(ns)}; }
  static constexpr Instant never() { return Instant{Duration::max()}; }

  constexpr bool is_never() const { return since_boot == Duration::max(); }
  friend constexpr auto operator<=>(Instant, Instant) = default;
  friend constexpr Instant operator+(Instant t, Duration d) {
    if (t.is_never()) return t;
    return Instant{t.since_boot + d};
  }
  friend constexpr Instant operator-(Instant t, Duration d) { return Instant{t.since_boot - d}; }
  friend constexpr Duration operator-(Instant a, Instant b) { return a.since_boot - b.since_boot; }
};

struct WallTime {
  Duration since_epoch{0};
  friend constexpr auto operator<=>(WallTime, WallTime) = default;
};

// One consistent reading of both clocks, taken once per event-loop turn.
struct Now {
  Instant mono;
  WallTime wall;
};

}  // namespace sitelink
