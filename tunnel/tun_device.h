// TunDevice: where IP packets enter and leave the host. Packets are read
// into and written from caller buffers, so the data path can keep headroom
// in front of each packet for in-place encryption. LinuxTun is the real
// device (/dev/net/tun, IFF_TUN | IFF_NO_PI, non-blocking, optionally with
// IFF_VNET_HDR offloads); tests use an in-memory fake.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "handshake/base/bytes.h"
#include "tunnel/offload.h"
#include "tunnel/slot_arena.h"
#include "tunnel/sys_error.h"
#include "tunnel/unique_fd.h"

namespace sitelink::tunnel {

// One packet read from the TUN: it sits at frame[kHeadroom, kHeadroom + len)
// with kTailroom spare bytes after it.
using PacketHandler = std::function<void(MutableBytes frame, size_t len)>;

struct TunReadResult {
  size_t packets = 0;    // handed to the handler (segments of a super-packet count one each)
  size_t malformed = 0;  // unusable offload headers or super-packets, dropped
  bool more = false;     // stopped at the read limit: more may be waiting
  size_t want_room = 0;  // a segment did not fit a slot: the room it needs
};

class TunDevice {
 public:
  virtual ~TunDevice() = default;
  // One packet into `buf`; its length, or nullopt when none is waiting.
  virtual std::optional<size_t> read(MutableBytes buf) = 0;
  // Writes one packet; false if the kernel refused it (counted by the caller).
  virtual bool write(Bytes packet) = 0;
  // For the event loop; -1 for fakes driven directly.
  virtual int fd() const = 0;
  virtual const std::string& name() const = 0;

  // Up to `max_reads` reads. Each packet goes into the next slot of `arena`
  // (or, if it is larger than a slot, a buffer of the device's that is
  // overwritten by the next read) and then to `on_packet`. The arena must
  // not be full on entry, and `on_packet` must reset it once it is full.
  virtual TunReadResult read_batch(SlotArena& arena, size_t max_reads, const PacketHandler& on_packet);
  // Writes the packets in order (a device with offloads may merge TCP
  // segments); returns how many packets could not be written.
  virtual size_t write_batch(std::span<const MutableBytes> packets);
};

class LinuxTun final : public TunDevice {
 public:
  struct Options {
    // IFF_VNET_HDR with checksum and TCP segmentation offload: the kernel
    // hands us TCP super-packets (we cut them) and we hand it merged ones.
    bool offload = true;
  };
  // Creates (or attaches to) TUN interface `name`, non-blocking. If the
  // kernel refuses the offloads, the device works without them.
  [[nodiscard]] static SysResult<LinuxTun> open(const std::string& name, Options options);
  [[nodiscard]] static SysResult<LinuxTun> open(const std::string& name) { return open(name, Options{}); }

  std::optional<size_t> read(MutableBytes buf) override;
  bool write(Bytes packet) override;
  TunReadResult read_batch(SlotArena& arena, size_t max_reads, const PacketHandler& on_packet) override;
  size_t write_batch(std::span<const MutableBytes> packets) override;
  int fd() const override { return fd_.get(); }
  const std::string& name() const override { return name_; }
  int ifindex() const { return ifindex_; }
  bool offload() const { return vnet_; }
  // True once a read found the interface deleted.
  bool gone() const { return gone_; }

 private:
  LinuxTun(UniqueFd fd, std::string name, int ifindex, bool vnet);
  // readv into a slot, spilling into big_; the packet's bytes or nullopt.
  std::optional<ssize_t> read_into(MutableBytes slot, size_t room, VnetHdr& hdr);
  bool note_error(int err);
  bool write_gather(const struct iovec* iov, size_t count);

  UniqueFd fd_;
  std::string name_;
  int ifindex_ = 0;
  bool vnet_ = false;
  bool gone_ = false;
  std::vector<uint8_t> big_;  // headroom + a 64 KiB packet + tailroom
  std::unique_ptr<TcpCoalescer> coalescer_;
  size_t write_failures_ = 0;
};

}  // namespace sitelink::tunnel
