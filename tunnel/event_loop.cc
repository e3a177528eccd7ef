// EventLoop; see event_loop.h.
#include "tunnel/event_loop.h"

#include <sys/epoll.h>
#include <sys/timerfd.h>

#include <array>
#include <cstring>

namespace sitelink::tunnel {

SysResult<std::unique_ptr<EventLoop>> EventLoop::create() {
  UniqueFd ep(epoll_create1(EPOLL_CLOEXEC));
  if (!ep.valid()) return errno_error("epoll_create1");
  UniqueFd tfd(timerfd_create(CLOCK_BOOTTIME, TFD_NONBLOCK | TFD_CLOEXEC));
  if (!tfd.valid()) return errno_error("timerfd_create");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = tfd.get();
  if (epoll_ctl(ep.get(), EPOLL_CTL_ADD, tfd.get(), &ev) != 0) return errno_error("epoll_ctl timerfd");
  return std::unique_ptr<EventLoop>(new EventLoop(std::move(ep), std::move(tfd)));
}

SysResult<void> EventLoop::watch(int fd, Handler on_readable) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = fd;
  if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) return errno_error("epoll_ctl add");
  handlers_[fd] = std::move(on_readable);
  return {};
}

void EventLoop::unwatch(int fd) {
  epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
  handlers_.erase(fd);
}

SysResult<void> EventLoop::set_deadline(Instant when) {
  if (when == armed_) return {};
  itimerspec its{};
  if (!when.is_never()) {
    // An absolute time of 0 would disarm: never ask for less than 1 ns.
    const int64_t ns = std::max<int64_t>(when.since_boot.count(), 1);
    its.it_value.tv_sec = ns / 1'000'000'000;
    its.it_value.tv_nsec = ns % 1'000'000'000;
  }
  if (timerfd_settime(timer_.get(), TFD_TIMER_ABSTIME, &its, nullptr) != 0) return errno_error("timerfd_settime");
  armed_ = when;
  return {};
}

void EventLoop::dispatch(int fd) {
  if (fd == timer_.get()) {
    uint64_t expirations = 0;
    if (::read(timer_.get(), &expirations, sizeof expirations) < 0 && errno != EAGAIN) return;
    armed_ = Instant::never();
    if (on_timer_) on_timer_();
    return;
  }
  auto it = handlers_.find(fd);
  if (it != handlers_.end()) {
    Handler h = it->second;  // the handler may unwatch itself
    h();
  }
}

SysResult<void> EventLoop::run() {
  running_ = true;
  std::array<epoll_event, 16> events;
  while (running_) {
    const int n = epoll_wait(epoll_.get(), events.data(), static_cast<int>(events.size()), -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error("epoll_wait");
    }
    for (int i = 0; i < n && running_; ++i) dispatch(events[static_cast<size_t>(i)].data.fd);
    if (after_events_) after_events_();
  }
  return {};
}

}  // namespace sitelink::tunnel
