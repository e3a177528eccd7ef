// The systemd notify protocol (sd_notify(3)): one datagram of "KEY=VALUE"
// lines to the unix socket named by $NOTIFY_SOCKET ('@' = abstract
// namespace). A no-op when not started by systemd.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace sitelink::daemon {

class Notifier {
 public:
  Notifier();  // reads $NOTIFY_SOCKET and $WATCHDOG_USEC
  bool enabled() const { return !path_.empty(); }
  void send(std::string_view state) const;
  // Half of $WATCHDOG_USEC (how often to send WATCHDOG=1), when set.
  std::optional<std::chrono::microseconds> watchdog_interval() const { return watchdog_; }

 private:
  std::string path_;
  std::optional<std::chrono::microseconds> watchdog_;
};

}  // namespace sitelink::daemon
