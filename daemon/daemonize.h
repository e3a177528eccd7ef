// Cross-platform mode's detach (`sitelinkd IFACE` without -f, as
// `wireguard-go IFACE`): the process forks, and the parent stays until the
// child says the interface and control socket are ready, then exits 0; or
// prints the child's error and exits 1. The child leaves the caller's
// session and lets go of its stdin, stdout and stderr (so `wg-quick up ... |
// cat` or `$(wg-quick up ...)` returns when wg-quick does, and a reader that
// goes away cannot touch the daemon); its log goes to syslog, which the
// journal serves where there is one.
#pragma once

#include <optional>
#include <string_view>

namespace sitelink::daemon {

class Detach {
 public:
  // Forks. Returns the exit code to leave with in the parent (the child's
  // verdict) or when the fork fails (with the reason on stderr); nullopt in
  // the child, whose `child_side` then reports with ready() or failed().
  static std::optional<int> start(Detach& child_side);

  Detach() = default;
  Detach(const Detach&) = delete;
  Detach& operator=(const Detach&) = delete;
  ~Detach();

  // In the child: the interface and socket exist; the parent exits 0.
  void ready();
  // In the child: start-up failed; the parent prints `message` and exits 1.
  void failed(std::string_view message);
  // In a process that will say neither (privsep.h's monitor, whose network
  // process reports): closes its copy of the pipe, so that the parent's
  // wait ends when the reporting process ends.
  void release();

 private:
  int fd_ = -1;  // the pipe's write end, in the child
};

}  // namespace sitelink::daemon
