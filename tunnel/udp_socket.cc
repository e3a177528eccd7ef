// LinuxUdp: the outer UDP socket. One non-blocking socket for all peers:
// AF_INET6 with IPV6_V6ONLY off (IPv4 peers appear as ::ffff:a.b.c.d and are
// turned back into IPv4 by SockAddr::from_raw), or AF_INET alone on a host
// without IPv6. Per-datagram failures are return values, never errors.
#include "tunnel/udp_socket.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace sitelink::tunnel {

namespace {

// Room for bursts while the loop is busy; the kernel caps it at rmem_max /
// wmem_max, which is fine (best effort).
constexpr int kSocketBufferBytes = 4 << 20;

// A dual-stack AF_INET6 socket, or AF_INET where the kernel has no IPv6.
SysResult<UniqueFd> make_socket(int& family) {
  constexpr int kType = SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC;
  family = AF_INET6;
  UniqueFd fd(::socket(AF_INET6, kType, 0));
  if (!fd.valid() && errno == EAFNOSUPPORT) {
    family = AF_INET;
    fd.reset(::socket(AF_INET, kType, 0));
  }
  if (!fd.valid()) return errno_error("socket UDP");
  if (family == AF_INET6) {
    const int off = 0;
    if (::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off) < 0) {
      return errno_error("setsockopt IPV6_V6ONLY 0");
    }
  }
  return fd;
}

void grow_buffers(int fd) {
  for (int opt : {SO_RCVBUF, SO_SNDBUF}) {
    (void)::setsockopt(fd, SOL_SOCKET, opt, &kSocketBufferBytes, sizeof kSocketBufferBytes);
  }
}

SysResult<void> bind_any(int fd, int family, uint16_t port) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (family == AF_INET6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
    in6->sin6_family = AF_INET6;
    in6->sin6_addr = in6addr_any;
    in6->sin6_port = htons(port);
    len = sizeof(sockaddr_in6);
  } else {
    auto* in = reinterpret_cast<sockaddr_in*>(&ss);
    in->sin_family = AF_INET;
    in->sin_addr.s_addr = htonl(INADDR_ANY);
    in->sin_port = htons(port);
    len = sizeof(sockaddr_in);
  }
  const std::string where = family == AF_INET6 ? "[::]:" : "0.0.0.0:";
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&ss), len) < 0) {
    return errno_error("bind " + where + std::to_string(port));
  }
  return {};
}

// The port actually bound (differs from the request when it was 0).
SysResult<uint16_t> bound_port(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) < 0) return errno_error("getsockname");
  const auto addr = SockAddr::from_raw(reinterpret_cast<const sockaddr*>(&ss), len);
  if (!addr) return sys_error(EAFNOSUPPORT, "getsockname: unexpected address family");
  return addr->port();
}

}  // namespace

SysResult<LinuxUdp> LinuxUdp::bind(uint16_t port, uint32_t fwmark) {
  int family = 0;
  auto fd = make_socket(family);
  if (!fd) return Err(fd.error());
  grow_buffers(fd->get());
  LinuxUdp sock(std::move(*fd), family, 0);
  if (fwmark != 0) {
    if (auto r = sock.set_fwmark(fwmark); !r) return Err(r.error());
  }
  if (auto r = bind_any(sock.fd(), family, port); !r) return Err(r.error());
  auto actual = bound_port(sock.fd());
  if (!actual) return Err(actual.error());
  sock.port_ = *actual;
  return sock;
}

std::optional<Received> LinuxUdp::recv(MutableBytes buf) {
  for (;;) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    const ssize_t n = ::recvfrom(fd_.get(), buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&ss), &len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::nullopt;  // EAGAIN: nothing waiting; ICMP errors etc.: caller reads again
    const auto from = SockAddr::from_raw(reinterpret_cast<const sockaddr*>(&ss), len);
    if (!from) continue;  // not an IP source: cannot happen on an inet socket; skip it
    return Received{static_cast<size_t>(n), *from};
  }
}

bool LinuxUdp::send(Bytes datagram, const SockAddr& to) {
  if (!to.valid() || (family_ == AF_INET && !to.is_v4())) return false;
  sockaddr_storage ss{};
  const socklen_t len = to.to_raw(ss, family_);
  for (;;) {
    const ssize_t n =
        ::sendto(fd_.get(), datagram.data(), datagram.size(), 0, reinterpret_cast<const sockaddr*>(&ss), len);
    if (n >= 0) return static_cast<size_t>(n) == datagram.size();
    if (errno != EINTR) return false;
  }
}

SysResult<void> LinuxUdp::set_fwmark(uint32_t mark) {
  if (::setsockopt(fd_.get(), SOL_SOCKET, SO_MARK, &mark, sizeof mark) < 0) {
    return errno_error("setsockopt SO_MARK " + std::to_string(mark));
  }
  return {};
}

}  // namespace sitelink::tunnel
