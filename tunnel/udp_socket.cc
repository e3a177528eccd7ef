// LinuxUdp: the outer UDP socket. One non-blocking socket for all peers:
// AF_INET6 with IPV6_V6ONLY off (IPv4 peers appear as ::ffff:a.b.c.d and are
// turned back into IPv4 by SockAddr::from_raw), or AF_INET alone on a host
// without IPv6. Per-datagram failures are return values, never errors.
#include "tunnel/udp_socket.h"

#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <utility>

namespace sitelink::tunnel {

namespace {

// Per system call: datagrams (or trains of them) in one recvmmsg/sendmmsg.
constexpr size_t kMaxBatch = 64;
// A UDP GSO train: the kernel's UDP_MAX_SEGMENTS, and the bytes of one
// UDP datagram (less room for the IPv6 header).
constexpr size_t kMaxSegments = 64;
constexpr size_t kMaxTrainBytes = 65000;
// After this many trains refused for want of GSO the socket stops trying.
constexpr int kMaxGsoErrors = 8;

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

// Room for bursts while the loop is busy. The FORCE variants (CAP_NET_ADMIN,
// which sitelinkd has) pass rmem_max / wmem_max; otherwise the kernel caps
// the size there, which is fine (best effort).
void grow_buffers(int fd, int bytes) {
  if (bytes <= 0) return;
  for (auto [force, plain] : {std::pair{SO_RCVBUFFORCE, SO_RCVBUF}, std::pair{SO_SNDBUFFORCE, SO_SNDBUF}}) {
    if (::setsockopt(fd, SOL_SOCKET, force, &bytes, sizeof bytes) < 0) {
      (void)::setsockopt(fd, SOL_SOCKET, plain, &bytes, sizeof bytes);
    }
  }
}

// Every datagram received says which local address it came to: on a
// dual-stack socket IPV6_RECVPKTINFO (IPv4 datagrams come as ::ffff:a.b.c.d),
// on an IPv4 one IP_PKTINFO. Without them (an old kernel) replies leave from
// the kernel's choice, as before.
void enable_pktinfo(int fd, int family) {
  const int on = 1;
  if (family == AF_INET6) {
    (void)::setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof on);
  } else {
    (void)::setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof on);
  }
}

// IPv4 datagrams leave without DF, as the kernel module's do: a router on a
// path with a smaller MTU fragments them, where with DF it would drop them
// and say so with an ICMP "fragmentation needed" that firewalls often drop
// on the way (a black hole for every large packet; issue 16.2). On the
// dual-stack socket this is its IPv4 side. IPv6 routers never fragment: there
// the kernel learns the path MTU from "packet too big" and fragments itself.
void allow_fragmentation(int fd) {
  const int dont = IP_PMTUDISC_DONT;
  (void)::setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &dont, sizeof dont);
}

// Every datagram received says which TOS / traffic class it came with
// (ECN per RFC 6040, issue 16). A dual-stack socket reports IPv4 datagrams
// by IP_RECVTOS (SOL_IP, as for an IPv4 socket) and IPv6 ones by
// IPV6_RECVTCLASS. Should the kernel refuse them, every datagram reads as
// Not-ECT, which decapsulation leaves alone.
void enable_recv_tos(int fd, int family) {
  const int on = 1;
  (void)::setsockopt(fd, IPPROTO_IP, IP_RECVTOS, &on, sizeof on);
  if (family == AF_INET6) (void)::setsockopt(fd, IPPROTO_IPV6, IPV6_RECVTCLASS, &on, sizeof on);
}

// Control-message room for a received datagram (UDP_GRO, a packet-info
// message of either family and the TOS / traffic class, with room to
// spare) and a sent one (UDP_SEGMENT, one packet-info message, IP_TOS or
// IPV6_TCLASS).
constexpr size_t kControlBytes = CMSG_SPACE(sizeof(int)) + CMSG_SPACE(sizeof(in_pktinfo)) +
                                 CMSG_SPACE(sizeof(in6_pktinfo)) + CMSG_SPACE(sizeof(int));

// What a received message's control data says.
struct Control {
  LocalAddr local;   // the address and interface it came to
  size_t train = 0;  // UDP_GRO's segment size (0 if absent)
  uint8_t tos = 0;   // the outer TOS / traffic class
};

Control parse_control(const msghdr& h) {
  Control out;
  LocalAddr& local = out.local;
  for (cmsghdr* c = CMSG_FIRSTHDR(&h); c != nullptr; c = CMSG_NXTHDR(const_cast<msghdr*>(&h), c)) {
    // A message the kernel had to cut short (no room) says nothing.
    const auto fits = [c](size_t n) { return c->cmsg_len >= CMSG_LEN(n); };
    if (c->cmsg_level == IPPROTO_UDP && c->cmsg_type == UDP_GRO && fits(sizeof(int))) {
      int size = 0;
      std::memcpy(&size, CMSG_DATA(c), sizeof size);
      out.train = size > 0 ? static_cast<size_t>(size) : 0;
    } else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TOS && fits(1)) {
      out.tos = *CMSG_DATA(c);  // one byte (ip_cmsg_recv_tos)
    } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_TCLASS && fits(sizeof(int))) {
      int tclass = 0;
      std::memcpy(&tclass, CMSG_DATA(c), sizeof tclass);
      out.tos = static_cast<uint8_t>(tclass);
    } else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO && fits(sizeof(in_pktinfo))) {
      in_pktinfo info;
      std::memcpy(&info, CMSG_DATA(c), sizeof info);
      std::array<uint8_t, 4> b;
      std::memcpy(b.data(), &info.ipi_addr, 4);
      local = {config::IpAddress::v4(b), info.ipi_ifindex};
    } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO && fits(sizeof(in6_pktinfo))) {
      // A dual-stack socket reports IPv4 datagrams here too, as
      // ::ffff:a.b.c.d: kept as the IPv4 address it is.
      in6_pktinfo info;
      std::memcpy(&info, CMSG_DATA(c), sizeof info);
      sockaddr_in6 as_name{};
      as_name.sin6_family = AF_INET6;
      as_name.sin6_addr = info.ipi6_addr;
      const auto a = SockAddr::from_raw(reinterpret_cast<const sockaddr*>(&as_name), sizeof as_name);
      if (a) local = {a->ip(), static_cast<int>(info.ipi6_ifindex)};
    }
  }
  return out;
}

// Adds to `h` (whose msg_control has room, msg_controllen counting what is
// there already) the message that makes the datagram leave from `from`: an
// IPv4 source as IP_PKTINFO's spec_dst (the kernel routes by it, so policy
// rules on the source pick the line; no interface is forced), an IPv6 one
// as IPV6_PKTINFO, with the interface only for a link-local address, whose
// scope it is.
void add_source(msghdr& h, const LocalAddr& from) {
  auto* c = reinterpret_cast<cmsghdr*>(static_cast<char*>(h.msg_control) + h.msg_controllen);
  if (from.ip->is_v4()) {
    in_pktinfo info{};
    std::memcpy(&info.ipi_spec_dst, from.ip->raw().data(), 4);
    c->cmsg_level = IPPROTO_IP;
    c->cmsg_type = IP_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof info);
    std::memcpy(CMSG_DATA(c), &info, sizeof info);
    h.msg_controllen += CMSG_SPACE(sizeof info);
    return;
  }
  in6_pktinfo info{};
  std::memcpy(&info.ipi6_addr, from.ip->raw().data(), 16);
  const bool link_local = from.ip->raw()[0] == 0xfe && (from.ip->raw()[1] & 0xc0) == 0x80;
  info.ipi6_ifindex = link_local ? static_cast<unsigned>(from.ifindex) : 0;
  c->cmsg_level = IPPROTO_IPV6;
  c->cmsg_type = IPV6_PKTINFO;
  c->cmsg_len = CMSG_LEN(sizeof info);
  std::memcpy(CMSG_DATA(c), &info, sizeof info);
  h.msg_controllen += CMSG_SPACE(sizeof info);
}

// Adds to `h` (as add_source) the TOS / traffic class the datagram leaves
// with: IP_TOS for an IPv4 destination, on a dual-stack socket too (the
// kernel sends to ::ffff:a.b.c.d as IPv4 and reads SOL_IP messages then),
// IPV6_TCLASS for an IPv6 one. Callers add none for 0, the socket's default.
void add_tos(msghdr& h, bool v4, uint8_t tos) {
  auto* c = reinterpret_cast<cmsghdr*>(static_cast<char*>(h.msg_control) + h.msg_controllen);
  const int value = tos;
  c->cmsg_level = v4 ? IPPROTO_IP : IPPROTO_IPV6;
  c->cmsg_type = v4 ? IP_TOS : IPV6_TCLASS;
  c->cmsg_len = CMSG_LEN(sizeof value);
  std::memcpy(CMSG_DATA(c), &value, sizeof value);
  h.msg_controllen += CMSG_SPACE(sizeof value);
}

// A source of the other family than the destination cannot be used; the
// kernel's choice is then the right one.
bool usable_source(const LocalAddr& from, const SockAddr& to) { return from.valid() && from.ip->is_v4() == to.is_v4(); }

// Turns on what the kernel supports of the options; returns them as they are.
LinuxUdp::Options enable_offloads(int fd, LinuxUdp::Options o) {
  if (o.gro) {
    const int on = 1;
    o.gro = ::setsockopt(fd, IPPROTO_UDP, UDP_GRO, &on, sizeof on) == 0;
  }
  if (o.gso) {
    int size = 0;
    socklen_t len = sizeof size;
    o.gso = ::getsockopt(fd, IPPROTO_UDP, UDP_SEGMENT, &size, &len) == 0;
  }
  return o;
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

SysResult<LinuxUdp> LinuxUdp::bind(uint16_t port, uint32_t fwmark, Options options) {
  int family = 0;
  auto fd = make_socket(family);
  if (!fd) return Err(fd.error());
  grow_buffers(fd->get(), options.buffer_bytes);
  enable_pktinfo(fd->get(), family);
  allow_fragmentation(fd->get());
  enable_recv_tos(fd->get(), family);
  options = enable_offloads(fd->get(), options);
  LinuxUdp sock(std::move(*fd), family, 0, options);
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
    iovec iov{buf.data(), buf.size()};
    alignas(cmsghdr) std::array<char, kControlBytes> control;
    msghdr h{};
    h.msg_name = &ss;
    h.msg_namelen = sizeof ss;
    h.msg_iov = &iov;
    h.msg_iovlen = 1;
    h.msg_control = control.data();
    h.msg_controllen = control.size();
    const ssize_t n = ::recvmsg(fd_.get(), &h, MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::nullopt;  // EAGAIN: nothing waiting; ICMP errors etc.: caller reads again
    const auto from = SockAddr::from_raw(reinterpret_cast<const sockaddr*>(&ss), h.msg_namelen);
    if (!from) continue;  // not an IP source: cannot happen on an inet socket; skip it
    const Control control_data = parse_control(h);
    return Received{static_cast<size_t>(n), *from, control_data.local, control_data.tos};
  }
}

bool LinuxUdp::send_one(Bytes datagram, const SockAddr& to, const LocalAddr& from, uint8_t tos) {
  if (!to.valid() || (family_ == AF_INET && !to.is_v4())) return false;
  sockaddr_storage ss{};
  iovec iov{const_cast<uint8_t*>(datagram.data()), datagram.size()};
  alignas(cmsghdr) std::array<char, kControlBytes> control{};
  msghdr h{};
  h.msg_name = &ss;
  h.msg_namelen = to.to_raw(ss, family_);
  h.msg_iov = &iov;
  h.msg_iovlen = 1;
  const bool source = usable_source(from, to);
  if (source || tos != 0) h.msg_control = control.data();
  if (source) add_source(h, from);
  if (tos != 0) add_tos(h, to.is_v4(), tos);
  for (;;) {
    const ssize_t n = ::sendmsg(fd_.get(), &h, 0);
    if (n >= 0) return static_cast<size_t>(n) == datagram.size();
    if (errno != EINTR) {
      send_error_ = SendError{errno, to};
      return false;
    }
  }
}

// --- Batches -------------------------------------------------------------------------

size_t UdpSocket::recv_batch(std::span<const MutableBytes> buffers, std::vector<Datagram>& out) {
  size_t filled = 0;
  for (; filled < buffers.size(); ++filled) {
    auto r = recv(buffers[filled]);
    if (!r) break;
    out.push_back({buffers[filled].first(std::min(r->length, buffers[filled].size())), r->from, r->local, r->tos});
  }
  return filled;
}

// What the route lookup says for a source the host does not have (IPv4:
// ENETUNREACH on current kernels, EINVAL on older ones; IPv6: EINVAL), or
// EADDRNOTAVAIL: the address was removed (or is not yet usable). Where the
// destination is what has no route, the retry without the source fails
// too and is reported as such; the peer's source is then learnt again from
// its next packet.
bool UdpSocket::source_gone(int error) { return error == EINVAL || error == EADDRNOTAVAIL || error == ENETUNREACH; }

void UdpSocket::note_lost_source(const LocalAddr& from) {
  if (std::find(lost_sources_.begin(), lost_sources_.end(), from) == lost_sources_.end()) {
    lost_sources_.push_back(from);
  }
}

bool UdpSocket::send(Bytes datagram, const SockAddr& to, const LocalAddr& from, uint8_t tos) {
  if (send_one(datagram, to, from, tos)) return true;
  if (!from.valid() || !send_error_ || !source_gone(send_error_->error)) return false;
  // The address went away: this datagram, and the next ones once the
  // caller has heard, leave from the kernel's choice.
  send_error_.reset();
  note_lost_source(from);
  return send_one(datagram, to, LocalAddr{}, tos);
}

void UdpSocket::queue(Bytes datagram, const SockAddr& to, const LocalAddr& from, uint8_t tos) {
  pending_.push_back({datagram, to, from, tos});
}

size_t UdpSocket::send_pending(size_t first, size_t count) {
  size_t failed = 0;
  for (size_t i = first; i < first + count; ++i) {
    failed += send(pending_[i].data, pending_[i].to, pending_[i].from, pending_[i].tos) ? 0 : 1;
  }
  return failed;
}

size_t UdpSocket::flush() {
  const size_t failed = std::exchange(queue_failures_, 0) + send_pending(0, pending_.size());
  pending_.clear();
  return failed;
}

size_t LinuxUdp::recv_batch(std::span<const MutableBytes> buffers, std::vector<Datagram>& out) {
  const size_t n = std::min(buffers.size(), options_.batch ? kMaxBatch : size_t{1});
  std::array<mmsghdr, kMaxBatch> msgs;
  std::array<iovec, kMaxBatch> iov;
  std::array<sockaddr_storage, kMaxBatch> names;
  alignas(cmsghdr) std::array<std::array<char, kControlBytes>, kMaxBatch> control;
  for (size_t i = 0; i < n; ++i) {
    iov[i] = {buffers[i].data(), buffers[i].size()};
    msgs[i].msg_hdr = msghdr{};
    msgs[i].msg_hdr.msg_name = &names[i];
    msgs[i].msg_hdr.msg_namelen = sizeof names[i];
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
    msgs[i].msg_hdr.msg_control = control[i].data();
    msgs[i].msg_hdr.msg_controllen = control[i].size();
    msgs[i].msg_len = 0;
  }
  int got = 0;
  do {
    got = ::recvmmsg(fd_.get(), msgs.data(), static_cast<unsigned>(n), MSG_DONTWAIT, nullptr);
  } while (got < 0 && errno == EINTR);
  if (got <= 0) return 0;  // EAGAIN: nothing waiting; ICMP errors: read again later

  for (size_t i = 0; i < static_cast<size_t>(got); ++i) {
    const msghdr& h = msgs[i].msg_hdr;
    const size_t len = msgs[i].msg_len;
    const auto from = SockAddr::from_raw(reinterpret_cast<const sockaddr*>(&names[i]), h.msg_namelen);
    if (!from || (h.msg_flags & MSG_TRUNC)) continue;  // cannot happen with 64 KiB buffers
    // UDP_GRO: the size of each datagram of a train. The kernel's GRO
    // merges only packets whose IP headers agree but for length, ID and
    // checksum (inet_gro_receive flushes on a different TOS, ipv6_gro_receive
    // on a different first word), so the train's one TOS is each one's.
    const Control c = parse_control(h);
    const size_t train = c.train;
    const MutableBytes data = buffers[i].first(len);
    if (train == 0 || train >= len) {
      out.push_back({data, *from, c.local, c.tos});
      continue;
    }
    for (size_t off = 0; off < len; off += train) {
      out.push_back({data.subspan(off, std::min(train, len - off)), *from, c.local, c.tos});
    }
  }
  return static_cast<size_t>(got);
}

void LinuxUdp::queue(Bytes datagram, const SockAddr& to, const LocalAddr& from, uint8_t tos) {
  if (!to.valid() || (family_ == AF_INET && !to.is_v4())) {
    ++queue_failures_;  // would fail anyway, and must not count against GSO
    return;
  }
  pending_.push_back({datagram, to, usable_source(from, to) ? from : LocalAddr{}, tos});
}

// How many queued datagrams from pending_[first] on make one message: a
// GSO train (see flush) or, without GSO, one.
size_t LinuxUdp::train_length(size_t first) const {
  const Pending& head = pending_[first];
  const size_t seg = head.data.size();
  size_t count = 1;
  size_t total = seg;
  while (options_.gso && first + count < pending_.size() && count < kMaxSegments) {
    const Pending& p = pending_[first + count];
    if (p.to != head.to || p.from != head.from || p.tos != head.tos || p.data.size() > seg ||
        total + p.data.size() > kMaxTrainBytes) {
      break;
    }
    total += p.data.size();
    ++count;
    if (p.data.size() < seg) break;  // a shorter datagram ends the train
  }
  return count;
}

// Groups the queue into messages: with GSO, a run of datagrams to the same
// address from the same source with the same TOS (one message, one TOS: a
// change of the inner packets' ECN or DSCP ends a train), all of one size
// but the last (which may be shorter), becomes one train; then sendmmsg
// sends up to kMaxBatch messages per call.
size_t LinuxUdp::flush() {
  size_t failed = std::exchange(queue_failures_, 0);
  std::array<Group, kMaxBatch> groups;
  std::array<mmsghdr, kMaxBatch> msgs;
  std::array<sockaddr_storage, kMaxBatch> names;
  alignas(cmsghdr) std::array<std::array<char, kControlBytes>, kMaxBatch> control;
  std::array<iovec, kMaxBatch * kMaxSegments> iov;

  size_t next = 0;
  while (next < pending_.size()) {
    size_t m = 0;
    size_t v = 0;
    const size_t per_call = options_.batch ? kMaxBatch : 1;
    while (m < per_call && next < pending_.size()) {
      const Pending& head = pending_[next];
      const size_t seg = head.data.size();
      const size_t count = train_length(next);
      groups[m] = {next, count};
      msghdr& h = msgs[m].msg_hdr;
      h = msghdr{};
      h.msg_name = &names[m];
      h.msg_namelen = head.to.to_raw(names[m], family_);
      h.msg_iov = &iov[v];
      h.msg_iovlen = count;
      for (size_t i = 0; i < count; ++i) {
        const Bytes d = pending_[next + i].data;
        iov[v++] = {const_cast<uint8_t*>(d.data()), d.size()};
      }
      if (count > 1 || head.from.valid() || head.tos != 0) {
        control[m].fill(0);
        h.msg_control = control[m].data();
        h.msg_controllen = 0;
      }
      if (count > 1) {
        auto* c = reinterpret_cast<cmsghdr*>(control[m].data());
        c->cmsg_level = IPPROTO_UDP;
        c->cmsg_type = UDP_SEGMENT;
        c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
        const auto size = static_cast<uint16_t>(seg);
        std::memcpy(CMSG_DATA(c), &size, sizeof size);
        h.msg_controllen = CMSG_SPACE(sizeof(uint16_t));
      }
      if (head.from.valid()) add_source(h, head.from);
      if (head.tos != 0) add_tos(h, head.to.is_v4(), head.tos);
      next += count;
      ++m;
    }
    failed += send_messages(std::span(msgs).first(m), std::span<const Group>(groups).first(m));
  }
  pending_.clear();
  return failed;
}

size_t LinuxUdp::send_messages(std::span<mmsghdr> msgs, std::span<const Group> groups) {
  size_t failed = 0;
  size_t k = 0;
  while (k < msgs.size()) {
    const int sent = ::sendmmsg(fd_.get(), msgs.data() + k, static_cast<unsigned>(msgs.size() - k), 0);
    if (sent > 0) {
      k += static_cast<size_t>(sent);
      continue;
    }
    if (sent < 0 && errno == EINTR) continue;
    const int err = errno;
    const Group g = groups[k++];
    if (pending_[g.first].from.valid() && source_gone(err)) {
      // The source address went away: these leave from the kernel's
      // choice (send() retries each without it and notes the loss).
      failed += send_pending(g.first, g.count);
    } else if (g.count > 1 && err != EAGAIN && err != ENOBUFS) {
      // The kernel refused the train: send it one by one. A segment
      // larger than the route's MTU (EMSGSIZE) is that destination's
      // business (singles are fragmented); other refusals mean the
      // kernel or device cannot do GSO, and after repeated ones the
      // socket stops making trains.
      if (err != EMSGSIZE && ++gso_errors_ >= kMaxGsoErrors) options_.gso = false;
      failed += send_pending(g.first, g.count);
    } else {
      failed += g.count;
      send_error_ = SendError{err, pending_[g.first].to};
    }
  }
  return failed;
}

namespace {

int socket_int(int fd, int option) {
  int v = 0;
  socklen_t len = sizeof v;
  return ::getsockopt(fd, SOL_SOCKET, option, &v, &len) == 0 ? v : 0;
}

}  // namespace

int LinuxUdp::receive_buffer() const { return socket_int(fd_.get(), SO_RCVBUF); }
int LinuxUdp::send_buffer() const { return socket_int(fd_.get(), SO_SNDBUF); }

SysResult<void> LinuxUdp::set_fwmark(uint32_t mark) {
  if (::setsockopt(fd_.get(), SOL_SOCKET, SO_MARK, &mark, sizeof mark) < 0) {
    return errno_error("setsockopt SO_MARK " + std::to_string(mark));
  }
  fwmark_ = mark;
  return {};
}

// A connected socket of the same family and mark, never sent on: the
// kernel fills in the source it would use (connect does the route lookup).
std::optional<config::IpAddress> LinuxUdp::route_source(const SockAddr& to) {
  UniqueFd probe(::socket(family_, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!probe.valid()) return std::nullopt;
  if (fwmark_ != 0) (void)::setsockopt(probe.get(), SOL_SOCKET, SO_MARK, &fwmark_, sizeof fwmark_);
  sockaddr_storage ss{};
  const socklen_t len = to.to_raw(ss, family_);
  if (::connect(probe.get(), reinterpret_cast<const sockaddr*>(&ss), len) < 0) return std::nullopt;
  sockaddr_storage mine{};
  socklen_t mine_len = sizeof mine;
  if (::getsockname(probe.get(), reinterpret_cast<sockaddr*>(&mine), &mine_len) < 0) return std::nullopt;
  const auto a = SockAddr::from_raw(reinterpret_cast<const sockaddr*>(&mine), mine_len);
  return a ? std::optional(a->ip()) : std::nullopt;
}

}  // namespace sitelink::tunnel
