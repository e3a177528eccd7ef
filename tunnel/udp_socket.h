// UdpSocket: the outer transport. One socket serves IPv4 and IPv6 peers
// (dual-stack, or IPv4 only where IPv6 is unavailable). LinuxUdp is the real
// socket (non-blocking, SO_MARK for fwmark); tests use an in-memory network.
// Every datagram received says which local address it arrived on, and every
// send may name the local address to leave from, so that a host with several
// addresses answers each peer from the one it used (issue 15). Every
// datagram also carries the outer TOS / traffic class byte: the one it
// arrived with, and the one to send it with (ECN per RFC 6040 and
// copy-dscp, issue 16; 0, the socket's default, costs nothing).
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "handshake/base/bytes.h"
#include "tunnel/sock_addr.h"
#include "tunnel/sys_error.h"
#include "tunnel/unique_fd.h"

namespace sitelink::tunnel {

struct Received {
  size_t length;
  SockAddr from;
  LocalAddr local{};  // the address it was sent to (unset if the socket cannot tell)
  uint8_t tos = 0;    // the outer IPv4 TOS / IPv6 traffic class (0 if the socket cannot tell)
};

// One datagram of a batch, inside one of the caller's buffers.
struct Datagram {
  MutableBytes data;
  SockAddr from;
  LocalAddr local{};
  uint8_t tos = 0;  // as Received::tos; the datagrams of one GRO train share it
};

class UdpSocket {
 public:
  virtual ~UdpSocket() = default;
  // One datagram into `buf`, or nullopt when none is waiting.
  virtual std::optional<Received> recv(MutableBytes buf) = 0;
  // One datagram to `to`, from the local address `from` when that is set
  // (else the kernel's choice). False if it could not be sent (counted by
  // the caller, never fatal). A `from` that is no longer an address of this
  // host is no failure: the datagram leaves from the kernel's choice and
  // take_lost_sources() reports `from`. `tos`: the outer IPv4 TOS / IPv6
  // traffic class byte (DSCP and ECN) it leaves with.
  bool send(Bytes datagram, const SockAddr& to, const LocalAddr& from = {}, uint8_t tos = 0);
  virtual int fd() const = 0;
  virtual uint16_t port() const = 0;

  // Receives what is waiting, at most one datagram (or one coalesced train
  // of datagrams) per buffer, and appends each datagram to `out` in order.
  // Returns how many buffers were filled: fewer than buffers.size() means
  // nothing more was waiting.
  virtual size_t recv_batch(std::span<const MutableBytes> buffers, std::vector<Datagram>& out);
  // Sends `datagram` later, at flush(); its bytes must stay untouched until
  // then. Datagrams leave in the order they were queued.
  virtual void queue(Bytes datagram, const SockAddr& to, const LocalAddr& from, uint8_t tos = 0);
  // Sends everything queued; returns how many datagrams could not be sent.
  virtual size_t flush();

  // The latest send the kernel refused since the last call, if any: its
  // errno and destination (for the log; the counts come from send/flush).
  struct SendError {
    int error = 0;
    SockAddr to;
  };
  std::optional<SendError> take_send_error() { return std::exchange(send_error_, std::nullopt); }
  // Local addresses that sends were asked to leave from but that the kernel
  // no longer has (removed from the host), since the last call.
  std::vector<LocalAddr> take_lost_sources() { return std::exchange(lost_sources_, {}); }
  // The source address the kernel would choose for `to` now; nullopt if
  // it cannot tell (then callers name their source on every send).
  virtual std::optional<config::IpAddress> route_source(const SockAddr& /*to*/) { return std::nullopt; }

 protected:
  // The send itself; sets send_error_ when the kernel refuses.
  virtual bool send_one(Bytes datagram, const SockAddr& to, const LocalAddr& from, uint8_t tos) = 0;
  // Whether a refusal of a send from `from` means that address is gone.
  static bool source_gone(int error);
  void note_lost_source(const LocalAddr& from);

  struct Pending {
    Bytes data;
    SockAddr to;
    LocalAddr from;
    uint8_t tos;
  };
  // Sends pending_[first, first + count) one by one; returns the failures.
  size_t send_pending(size_t first, size_t count);

  std::vector<Pending> pending_;
  size_t queue_failures_ = 0;  // refused by queue(), reported by the next flush()
  std::optional<SendError> send_error_;
  std::vector<LocalAddr> lost_sources_;
};

class LinuxUdp final : public UdpSocket {
 public:
  struct Options {
    bool batch = true;           // recvmmsg/sendmmsg: many datagrams per system call
    bool gso = true;             // UDP_SEGMENT: a train of equal datagrams in one send
    bool gro = true;             // UDP_GRO: the kernel hands us trains of datagrams
    int buffer_bytes = 4 << 20;  // SO_RCVBUF / SO_SNDBUF (0 = kernel default)
  };
  // Binds `port` (0 = any free port) on all addresses, IPv6 dual-stack when
  // the host has IPv6, else IPv4 only. fwmark 0 = none. Options the kernel
  // lacks are turned off (gso() / gro() tell).
  [[nodiscard]] static SysResult<LinuxUdp> bind(uint16_t port, uint32_t fwmark, Options options);
  [[nodiscard]] static SysResult<LinuxUdp> bind(uint16_t port, uint32_t fwmark) {
    return bind(port, fwmark, Options{});
  }

  std::optional<Received> recv(MutableBytes buf) override;
  size_t recv_batch(std::span<const MutableBytes> buffers, std::vector<Datagram>& out) override;
  void queue(Bytes datagram, const SockAddr& to, const LocalAddr& from, uint8_t tos = 0) override;
  size_t flush() override;
  int fd() const override { return fd_.get(); }
  uint16_t port() const override { return port_; }
  bool gso() const { return options_.gso; }
  bool gro() const { return options_.gro; }
  bool batch() const { return options_.batch; }
  // SO_RCVBUF / SO_SNDBUF as the kernel granted them (it doubles what is
  // asked, and caps it at net.core.rmem_max / wmem_max); 0 if unknown.
  int receive_buffer() const;
  int send_buffer() const;
  [[nodiscard]] SysResult<void> set_fwmark(uint32_t mark);
  std::optional<config::IpAddress> route_source(const SockAddr& to) override;

 protected:
  bool send_one(Bytes datagram, const SockAddr& to, const LocalAddr& from, uint8_t tos) override;

 private:
  LinuxUdp(UniqueFd fd, int family, uint16_t port, Options options)
      : fd_(std::move(fd)), family_(family), port_(port), options_(options) {}
  size_t train_length(size_t first) const;

  // A message of a flush: pending_[first, first + count), one datagram or
  // one GSO train.
  struct Group {
    size_t first, count;
  };
  // Sends the built messages with sendmmsg; a message the kernel refuses
  // is retried as singles where that can help. Returns the failures.
  size_t send_messages(std::span<mmsghdr> msgs, std::span<const Group> groups);

  UniqueFd fd_;
  int family_ = 0;
  uint16_t port_ = 0;
  Options options_;
  int gso_errors_ = 0;
  uint32_t fwmark_ = 0;
};

}  // namespace sitelink::tunnel
