// The notify protocol through libsystemd; see sd_notify.h.
#include "daemon/sd_notify.h"

#include <systemd/sd-daemon.h>
#include <time.h>

#include <cstdlib>
#include <string>

namespace sitelink::daemon {

std::string reloading_state() {
  timespec mono{};
  clock_gettime(CLOCK_MONOTONIC, &mono);
  const long long usec = static_cast<long long>(mono.tv_sec) * 1'000'000 + mono.tv_nsec / 1000;
  return "RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec);
}

Notifier::Notifier() : enabled_(std::getenv("NOTIFY_SOCKET") != nullptr) {
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) watchdog_ = std::chrono::microseconds(usec / 2);
}

void Notifier::send(std::string_view state) const {
  if (!enabled_) return;
  if (relay_) {
    relay_(state);
    return;
  }
  (void)sd_notify(0, std::string(state).c_str());
}

}  // namespace sitelink::daemon
