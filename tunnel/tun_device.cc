// LinuxTun: the kernel TUN device (/dev/net/tun, IFF_TUN | IFF_NO_PI), opened
// non-blocking so the event loop reads it only when epoll says it is ready.
// With offloads (IFF_VNET_HDR + TUNSETOFFLOAD) every read and write carries a
// virtio_net_hdr: reads may be TCP super-packets, which are cut into
// segments here (offload.h), and writes may merge segments of a TCP flow.
// Per-packet failures are return values (nullopt / false), never errors.
#include "tunnel/tun_device.h"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace sitelink::tunnel {

namespace hs = handshake;

namespace {
constexpr size_t kMaxPacket = 65535;
}  // namespace

// --- Defaults for devices without batching (the in-memory fakes) -----------------

TunReadResult TunDevice::read_batch(SlotArena& arena, size_t max_reads, const PacketHandler& on_packet) {
  TunReadResult r;
  for (size_t i = 0; i < max_reads; ++i) {
    MutableBytes slot = arena.take();
    auto n = read(slot.subspan(hs::kHeadroom, arena.packet_room()));
    if (!n) {
      arena.untake();
      return r;
    }
    ++r.packets;
    on_packet(slot, *n);
  }
  r.more = true;
  return r;
}

size_t TunDevice::write_batch(std::span<const MutableBytes> packets) {
  size_t failed = 0;
  for (const MutableBytes& p : packets) failed += write(p) ? 0 : 1;
  return failed;
}

// --- LinuxTun ----------------------------------------------------------------------

LinuxTun::LinuxTun(UniqueFd fd, std::string name, int ifindex, bool vnet)
    : fd_(std::move(fd)),
      name_(std::move(name)),
      ifindex_(ifindex),
      vnet_(vnet),
      big_(hs::kHeadroom + kMaxPacket + hs::kTailroom),
      coalescer_(std::make_unique<TcpCoalescer>()) {}

SysResult<LinuxTun> LinuxTun::open(const std::string& name, Options options) {
  if (name.empty() || name.size() >= IFNAMSIZ) {
    return sys_error(EINVAL, "TUN name '" + name + "' must be 1 to " + std::to_string(IFNAMSIZ - 1) + " characters");
  }
  UniqueFd fd(::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC));
  if (!fd.valid()) return errno_error("open /dev/net/tun");

  ifreq ifr{};
  ifr.ifr_flags = static_cast<short>(IFF_TUN | IFF_NO_PI | (options.offload ? IFF_VNET_HDR : 0));
  std::memcpy(ifr.ifr_name, name.data(), name.size());
  if (::ioctl(fd.get(), TUNSETIFF, &ifr) < 0) return errno_error("TUNSETIFF " + name);

  bool vnet = options.offload;
  if (vnet) {
    const unsigned offloads = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
    // Without them the header stays but carries nothing: still correct.
    if (::ioctl(fd.get(), TUNSETOFFLOAD, offloads) < 0) (void)::ioctl(fd.get(), TUNSETOFFLOAD, 0u);
  }

  // The kernel may have expanded a pattern such as "sl%d".
  std::string actual(ifr.ifr_name, strnlen(ifr.ifr_name, IFNAMSIZ));
  const unsigned index = ::if_nametoindex(actual.c_str());
  if (index == 0) return errno_error("if_nametoindex " + actual);
  return LinuxTun(std::move(fd), std::move(actual), static_cast<int>(index), vnet);
}

// An error from read/readv: true to try again (EINTR).
bool LinuxTun::note_error(int err) {
  if (err == EINTR) return true;
  // The interface was deleted (possibly in another namespace): the file
  // is detached from it for good.
  if (err == EBADFD || err == EIO || err == ENXIO || err == ENODEV) gone_ = true;
  return false;  // EAGAIN: nothing waiting
}

std::optional<size_t> LinuxTun::read(MutableBytes buf) {
  std::array<uint8_t, VnetHdr::kSize> hdr{};
  const iovec iov[2] = {{hdr.data(), hdr.size()}, {buf.data(), buf.size()}};
  for (;;) {
    const ssize_t n = vnet_ ? ::readv(fd_.get(), iov, 2) : ::read(fd_.get(), buf.data(), buf.size());
    if (n < 0) {
      if (note_error(errno)) continue;
      return std::nullopt;
    }
    if (!vnet_) return static_cast<size_t>(n);
    // A plain read has no use for super-packets; complete a partial checksum.
    if (static_cast<size_t>(n) < VnetHdr::kSize) continue;
    const VnetHdr h = VnetHdr::load(hdr.data());
    const size_t len = static_cast<size_t>(n) - VnetHdr::kSize;
    if (h.gso_type != VnetHdr::kGsoNone) continue;
    if ((h.flags & VnetHdr::kNeedsCsum) && !complete_checksum(buf.first(len), h.csum_start, h.csum_offset)) continue;
    return len;
  }
}

bool LinuxTun::write_gather(const iovec* iov, size_t count) {
  for (;;) {
    const ssize_t n = ::writev(fd_.get(), iov, static_cast<int>(count));
    if (n >= 0) return true;
    if (errno != EINTR) return false;
  }
}

bool LinuxTun::write(Bytes packet) {
  const std::array<uint8_t, VnetHdr::kSize> none{};  // no offload for this packet
  iovec iov[2] = {{const_cast<uint8_t*>(none.data()), none.size()},
                  {const_cast<uint8_t*>(packet.data()), packet.size()}};
  return vnet_ ? write_gather(iov, 2) : write_gather(iov + 1, 1);
}

std::optional<ssize_t> LinuxTun::read_into(MutableBytes slot, size_t room, VnetHdr& hdr) {
  // The header lands just in front of the packet (inside the headroom), the
  // packet in the slot; anything longer spills into big_ right where it
  // continues the slot's bytes once they are copied there.
  const size_t h = vnet_ ? VnetHdr::kSize : 0;
  const iovec iov[2] = {{slot.data() + hs::kHeadroom - h, h + room},
                        {big_.data() + hs::kHeadroom + room, kMaxPacket - room}};
  for (;;) {
    const ssize_t n = ::readv(fd_.get(), iov, room < kMaxPacket ? 2 : 1);
    if (n < 0) {
      if (note_error(errno)) continue;
      return std::nullopt;
    }
    if (static_cast<size_t>(n) < h) continue;  // cannot happen; skip it
    if (vnet_) hdr = VnetHdr::load(slot.data() + hs::kHeadroom - h);
    return n - static_cast<ssize_t>(h);
  }
}

TunReadResult LinuxTun::read_batch(SlotArena& arena, size_t max_reads, const PacketHandler& on_packet) {
  static_assert(hs::kHeadroom >= VnetHdr::kSize);
  TunReadResult r;
  const size_t room = std::min(arena.packet_room(), kMaxPacket);
  for (size_t i = 0; i < max_reads; ++i) {
    MutableBytes slot = arena.take();
    VnetHdr hdr;
    auto n = read_into(slot, room, hdr);
    if (!n) {
      arena.untake();
      return r;
    }
    const auto len = static_cast<size_t>(*n);
    MutableBytes frame = slot;
    if (len > room) {  // larger than a slot: continue in big_
      std::memcpy(big_.data() + hs::kHeadroom, slot.data() + hs::kHeadroom, room);
      arena.untake();
      frame = MutableBytes(big_);
    }
    const MutableBytes packet = frame.subspan(hs::kHeadroom, len);
    if (hdr.gso_type == VnetHdr::kGsoNone) {
      if ((hdr.flags & VnetHdr::kNeedsCsum) && !complete_checksum(packet, hdr.csum_start, hdr.csum_offset)) {
        if (frame.data() == slot.data()) arena.untake();
        ++r.malformed;
        continue;
      }
      ++r.packets;
      on_packet(frame, len);
      continue;
    }
    // A TCP super-packet: cut it into slots. It is in big_ (then it is not
    // in the arena) or in the slot just taken, which must not be reused
    // while cutting: copy it to big_ first.
    if (frame.data() == slot.data()) {
      std::memcpy(big_.data() + hs::kHeadroom, packet.data(), len);
      arena.untake();
    }
    const Bytes super(big_.data() + hs::kHeadroom, len);
    const size_t segment = tcp_headers_length(super) + hdr.gso_size;
    if (segment > room) {  // the device's MTU grew past the slots: next time
      r.want_room = std::max(r.want_room, segment);
      ++r.malformed;
      continue;
    }
    // One pointer each, so the callbacks fit std::function's inline storage:
    // no allocation per super-packet.
    struct Cutting {
      SlotArena& arena;
      size_t room;
      TunReadResult& result;
      const PacketHandler& on_packet;
      MutableBytes seg;
    } cutting{arena, room, r, on_packet, {}};
    auto cut = split_tcp_gso(
        hdr, super,
        [c = &cutting](size_t) {
          c->seg = c->arena.take();
          return c->seg.subspan(hs::kHeadroom, c->room);
        },
        [c = &cutting](size_t size) {
          ++c->result.packets;
          c->on_packet(c->seg, size);
        });
    if (!cut) ++r.malformed;
  }
  r.more = true;
  return r;
}

size_t LinuxTun::write_batch(std::span<const MutableBytes> packets) {
  if (!vnet_) return TunDevice::write_batch(packets);
  write_failures_ = 0;
  coalescer_->set_writer([this](const iovec* iov, size_t count) {
    if (!write_gather(iov, count)) ++write_failures_;
  });
  for (const MutableBytes& p : packets) coalescer_->add(p);
  coalescer_->flush();
  return write_failures_;
}

}  // namespace sitelink::tunnel
