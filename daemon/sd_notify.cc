// sd_notify's datagram protocol; see sd_notify.h.
#include "daemon/sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

namespace sitelink::daemon {

std::string reloading_state() {
  timespec mono{};
  clock_gettime(CLOCK_MONOTONIC, &mono);
  const long long usec = static_cast<long long>(mono.tv_sec) * 1'000'000 + mono.tv_nsec / 1000;
  return "RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec);
}

Notifier::Notifier() {
  if (const char* p = std::getenv("NOTIFY_SOCKET"); p != nullptr && (p[0] == '/' || p[0] == '@')) path_ = p;
  // The watchdog is ours only if WATCHDOG_PID is unset or names us.
  if (const char* pid = std::getenv("WATCHDOG_PID"); pid != nullptr && std::atoll(pid) != getpid()) return;
  if (const char* w = std::getenv("WATCHDOG_USEC"); w != nullptr) {
    const long long usec = std::atoll(w);
    if (usec > 0) watchdog_ = std::chrono::microseconds(usec / 2);
  }
}

void Notifier::send(std::string_view state) const {
  if (path_.empty()) return;
  if (relay_) {
    relay_(state);
    return;
  }
  if (path_.size() >= sizeof(sockaddr_un::sun_path)) return;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path_.data(), path_.size());
  if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';
  const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path_.size());
  const int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  (void)sendto(fd, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(&addr), len);
  close(fd);
}

}  // namespace sitelink::daemon
