// UniqueFd: a move-only owner of a file descriptor (AOSP libbase's
// unique_fd, minus its implicit int conversion). close() keeps errno intact
// so an error can still be reported after cleanup. One type for every
// layer that owns descriptors (config/'s key files, tunnel/, daemon/); the
// protocol core itself never opens one.
#pragma once

#include <unistd.h>
#include <cerrno>

#include <utility>

namespace sitelink {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    reset(o.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  bool operator!() const = delete;  // `if (!fd)` is a bug: use valid()
  [[nodiscard]] int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1) {
    if (fd_ >= 0) {
      const int saved = errno;
      ::close(fd_);
      errno = saved;
    }
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

}  // namespace sitelink
