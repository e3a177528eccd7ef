// TAI64N timestamps for handshake initiations (paper 5.4.2). The responder
// keeps the newest timestamp it accepted from each peer and refuses any
// initiation that is not newer, which stops replayed initiations.
#pragma once

#include <array>
#include <cstdint>

#include "handshake/base/time.h"

namespace sitelink::handshake {

using Tai64n = std::array<uint8_t, 12>;

// Seconds are offset by 2^62 + 10 (TAI64's label for the Unix epoch, plus the
// 10 s TAI-UTC offset WireGuard uses). Nanoseconds are rounded down to a
// multiple of 2^24 so the timestamp does not reveal the precise clock; this is
// finer than 1/kInitiationsPerSecond, so consecutive initiations still differ.
Tai64n tai64n(WallTime now);

// True if `a` is strictly after `b` (big-endian, so byte order is time order).
bool tai64n_after(const Tai64n& a, const Tai64n& b);

}  // namespace sitelink::handshake
