// systemd's notify protocol, through libsystemd's sd_notify(3): readiness,
// reloads, stopping, status and watchdog pings. A no-op when not started by
// systemd ($NOTIFY_SOCKET unset).
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace sitelink::daemon {

// "RELOADING=1\nMONOTONIC_USEC=N": a reload starts now (systemd 253's
// Type=notify-reload wants the time; older ones ignore it).
std::string reloading_state();

class Notifier {
 public:
  Notifier();  // reads $NOTIFY_SOCKET and the watchdog (sd_watchdog_enabled)
  bool enabled() const { return enabled_; }
  void send(std::string_view state) const;
  // Sends through `relay` instead (the network process, whose monitor is
  // the main PID that systemd listens to; privsep.h).
  void relay_through(std::function<void(std::string_view)> relay) { relay_ = std::move(relay); }
  // Half of $WATCHDOG_USEC (how often to send WATCHDOG=1), when the
  // watchdog is on and ours ($WATCHDOG_PID unset or this process).
  std::optional<std::chrono::microseconds> watchdog_interval() const { return watchdog_; }

 private:
  bool enabled_ = false;
  std::optional<std::chrono::microseconds> watchdog_;
  std::function<void(std::string_view)> relay_;
};

}  // namespace sitelink::daemon
