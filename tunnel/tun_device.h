// TunDevice: where IP packets enter and leave the host. Packets are read
// into and written from caller buffers, so the data path can keep headroom
// in front of each packet for in-place encryption. LinuxTun is the real
// device (/dev/net/tun, IFF_TUN | IFF_NO_PI, non-blocking); tests use an
// in-memory fake.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "handshake/base/bytes.h"
#include "tunnel/sys_error.h"
#include "tunnel/unique_fd.h"

namespace sitelink::tunnel {

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
};

class LinuxTun final : public TunDevice {
 public:
  // Creates (or attaches to) TUN interface `name`, non-blocking.
  [[nodiscard]] static SysResult<LinuxTun> open(const std::string& name);

  std::optional<size_t> read(MutableBytes buf) override;
  bool write(Bytes packet) override;
  int fd() const override { return fd_.get(); }
  const std::string& name() const override { return name_; }
  int ifindex() const { return ifindex_; }
  // True once a read found the interface deleted.
  bool gone() const { return gone_; }

 private:
  LinuxTun(UniqueFd fd, std::string name, int ifindex)
      : fd_(std::move(fd)), name_(std::move(name)), ifindex_(ifindex) {}
  UniqueFd fd_;
  std::string name_;
  int ifindex_ = 0;
  bool gone_ = false;
};

}  // namespace sitelink::tunnel
