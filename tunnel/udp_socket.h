// UdpSocket: the outer transport. One socket serves IPv4 and IPv6 peers
// (dual-stack, or IPv4 only where IPv6 is unavailable). LinuxUdp is the real
// socket (non-blocking, SO_MARK for fwmark); tests use an in-memory network.
#pragma once

#include <cstdint>
#include <optional>

#include "handshake/base/bytes.h"
#include "tunnel/sock_addr.h"
#include "tunnel/sys_error.h"
#include "tunnel/unique_fd.h"

namespace sitelink::tunnel {

struct Received {
  size_t length;
  SockAddr from;
};

class UdpSocket {
 public:
  virtual ~UdpSocket() = default;
  // One datagram into `buf`, or nullopt when none is waiting.
  virtual std::optional<Received> recv(MutableBytes buf) = 0;
  // False if it could not be sent (counted by the caller, never fatal).
  virtual bool send(Bytes datagram, const SockAddr& to) = 0;
  virtual int fd() const = 0;
  virtual uint16_t port() const = 0;
};

class LinuxUdp final : public UdpSocket {
 public:
  // Binds `port` (0 = any free port) on all addresses, IPv6 dual-stack when
  // the host has IPv6, else IPv4 only. fwmark 0 = none.
  [[nodiscard]] static SysResult<LinuxUdp> bind(uint16_t port, uint32_t fwmark);

  std::optional<Received> recv(MutableBytes buf) override;
  bool send(Bytes datagram, const SockAddr& to) override;
  int fd() const override { return fd_.get(); }
  uint16_t port() const override { return port_; }
  [[nodiscard]] SysResult<void> set_fwmark(uint32_t mark);

 private:
  LinuxUdp(UniqueFd fd, int family, uint16_t port) : fd_(std::move(fd)), family_(family), port_(port) {}
  UniqueFd fd_;
  int family_ = 0;
  uint16_t port_ = 0;
};

}  // namespace sitelink::tunnel
