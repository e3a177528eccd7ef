// The one place the daemon reads time. The protocol core only receives a
// Now; tests substitute a clock they advance by hand.
#pragma once

#include "handshake/base/time.h"

namespace sitelink::tunnel {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual Now now() = 0;
};

// CLOCK_BOOTTIME (counts suspend, as the kernel's WireGuard does) and
// CLOCK_REALTIME.
class SystemClock final : public Clock {
 public:
  Now now() override;
};

}  // namespace sitelink::tunnel
