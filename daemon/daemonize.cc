// Cross-platform mode's detach; see daemonize.h.
//
// The pipe carries one verdict byte (0: ready) and, on failure, the error
// text. A child that dies before writing anything closes the pipe: the
// parent reads EOF and reports that.
#include "daemon/daemonize.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "daemon/exit_codes.h"

namespace sitelink::daemon {
namespace {

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

std::string read_all(int fd) {
  std::string out;
  char buf[512];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
}

// The parent's wait: the child's verdict, and its error on stderr.
int wait_for_verdict(int fd) {
  const std::string verdict = read_all(fd);
  ::close(fd);
  if (!verdict.empty() && verdict[0] == 0) return kExitOk;
  const std::string why = verdict.size() > 1 ? verdict.substr(1) : "sitelinkd: the daemon exited before it was ready";
  std::fprintf(stderr, "%s\n", why.c_str());
  return kExitFailure;
}

// The caller's terminal, pipes and files are not ours to keep.
void leave_callers_stdio() {
  const int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull < 0) return;
  for (int fd : {STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO}) ::dup2(devnull, fd);
  ::close(devnull);
}

}  // namespace

std::optional<int> Detach::start(Detach& child_side) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    std::fprintf(stderr, "sitelinkd: pipe: %s\n", std::strerror(errno));
    return kExitFailure;
  }
  const pid_t pid = ::fork();
  if (pid < 0) {
    std::fprintf(stderr, "sitelinkd: fork: %s\n", std::strerror(errno));
    ::close(fds[0]);
    ::close(fds[1]);
    return kExitFailure;
  }
  if (pid > 0) {
    ::close(fds[1]);
    return wait_for_verdict(fds[0]);
  }
  ::close(fds[0]);
  ::setsid();
  leave_callers_stdio();
  child_side.fd_ = fds[1];
  return std::nullopt;
}

Detach::~Detach() {
  if (fd_ >= 0) ::close(fd_);
}

void Detach::release() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void Detach::ready() {
  if (fd_ < 0) return;
  // A parent that is gone has nobody to tell: nothing more to do.
  if (!write_all(fd_, std::string_view("\0", 1))) return;
  ::close(fd_);
  fd_ = -1;
}

void Detach::failed(std::string_view message) {
  if (fd_ < 0) return;
  std::string verdict(1, '\1');
  verdict.append(message);
  if (!write_all(fd_, verdict)) return;
  ::close(fd_);
  fd_ = -1;
}

}  // namespace sitelink::daemon
