// LinuxTun: the kernel TUN device (/dev/net/tun, IFF_TUN | IFF_NO_PI), opened
// non-blocking so the event loop reads it only when epoll says it is ready.
// Per-packet failures are return values (nullopt / false), never errors.
#include "tunnel/tun_device.h"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace sitelink::tunnel {

SysResult<LinuxTun> LinuxTun::open(const std::string& name) {
  if (name.empty() || name.size() >= IFNAMSIZ) {
    return sys_error(EINVAL, "TUN name '" + name + "' must be 1 to " + std::to_string(IFNAMSIZ - 1) + " characters");
  }
  UniqueFd fd(::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC));
  if (!fd.valid()) return errno_error("open /dev/net/tun");

  ifreq ifr{};
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  std::memcpy(ifr.ifr_name, name.data(), name.size());
  if (::ioctl(fd.get(), TUNSETIFF, &ifr) < 0) return errno_error("TUNSETIFF " + name);

  // The kernel may have expanded a pattern such as "sl%d".
  std::string actual(ifr.ifr_name, strnlen(ifr.ifr_name, IFNAMSIZ));
  const unsigned index = ::if_nametoindex(actual.c_str());
  if (index == 0) return errno_error("if_nametoindex " + actual);
  return LinuxTun(std::move(fd), std::move(actual), static_cast<int>(index));
}

std::optional<size_t> LinuxTun::read(MutableBytes buf) {
  for (;;) {
    const ssize_t n = ::read(fd_.get(), buf.data(), buf.size());
    if (n >= 0) return static_cast<size_t>(n);
    if (errno == EINTR) continue;
    // The interface was deleted (possibly in another namespace): the file
    // is detached from it for good.
    if (errno == EBADFD || errno == EIO || errno == ENXIO || errno == ENODEV) gone_ = true;
    return std::nullopt;  // EAGAIN: nothing waiting
  }
}

bool LinuxTun::write(Bytes packet) {
  for (;;) {
    const ssize_t n = ::write(fd_.get(), packet.data(), packet.size());
    if (n >= 0) return static_cast<size_t>(n) == packet.size();
    if (errno != EINTR) return false;
  }
}

}  // namespace sitelink::tunnel
