// EventLoop: one thread, one epoll set (level-triggered) over the TUN, the
// UDP socket, the control socket and a signalfd, plus one timerfd on
// CLOCK_BOOTTIME armed for the earliest protocol deadline. No polling tick:
// the loop sleeps until an fd is ready or the deadline passes.
#pragma once

#include <functional>
#include <memory>
#include <unordered_map>

#include "handshake/base/time.h"
#include "tunnel/sys_error.h"
#include "tunnel/unique_fd.h"

namespace sitelink::tunnel {

class EventLoop {
 public:
  using Handler = std::function<void()>;

  [[nodiscard]] static SysResult<std::unique_ptr<EventLoop>> create();

  // Calls `on_readable` whenever `fd` is readable (until unwatch).
  [[nodiscard]] SysResult<void> watch(int fd, Handler on_readable);
  void unwatch(int fd);
  // The timer handler runs once `when` has passed; never() disarms it.
  void set_timer_handler(Handler h) { on_timer_ = std::move(h); }
  [[nodiscard]] SysResult<void> set_deadline(Instant when);
  // After every batch of events (to re-arm the deadline, ping watchdogs...).
  void set_after_events(Handler h) { after_events_ = std::move(h); }

  // Runs until stop() is called from a handler.
  [[nodiscard]] SysResult<void> run();
  void stop() { running_ = false; }

 private:
  EventLoop(UniqueFd epoll, UniqueFd timer) : epoll_(std::move(epoll)), timer_(std::move(timer)) {}
  void dispatch(int fd);

  UniqueFd epoll_;
  UniqueFd timer_;
  std::unordered_map<int, Handler> handlers_;
  Handler on_timer_;
  Handler after_events_;
  Instant armed_ = Instant::never();
  bool running_ = false;
};

}  // namespace sitelink::tunnel
