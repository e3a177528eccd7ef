// An in-memory UDP network (wireguard-go's bindtest.ChannelBind, with
// faults): sockets are registered under an address; datagrams sent are held
// in flight until flush(), where a test hook may drop, duplicate, reorder or
// rewrite them (e.g. change the source, as a NAT rebinding would).
#pragma once

#include <algorithm>
#include <cerrno>
#include <deque>
#include <functional>
#include <map>
#include <vector>

#include "tunnel/udp_socket.h"

namespace sitelink::test {

struct Datagram {
  tunnel::SockAddr from;
  tunnel::SockAddr to;
  std::vector<uint8_t> bytes;
  uint8_t tos = 0;  // the outer TOS / traffic class (a fault may set CE, as a congested router)
};

// A socket of a host with several addresses: it receives datagrams sent to
// any of them (each says which: Received::local), sends from the one asked
// for, and refuses (EINVAL, as the kernel's route lookup does) a source the
// host does not have, until it is added.

class FakeNetwork;

class FakeUdp final : public tunnel::UdpSocket {
 public:
  FakeUdp(FakeNetwork& net, tunnel::SockAddr addr) : net_(&net), addr_(addr) {}
  std::optional<tunnel::Received> recv(MutableBytes buf) override {
    if (inbox.empty()) return std::nullopt;
    Datagram d = std::move(inbox.front());
    inbox.pop_front();
    const size_t n = std::min(d.bytes.size(), buf.size());
    std::copy_n(d.bytes.begin(), n, buf.begin());
    return tunnel::Received{n, d.from, tunnel::LocalAddr{d.to.ip(), 1}, d.tos};
  }
  int fd() const override { return -1; }
  uint16_t port() const override { return addr_.port(); }
  const tunnel::SockAddr& address() const { return addr_; }
  void rebind(tunnel::SockAddr addr);
  // More addresses of this host (same port); remove_address takes one away.
  void add_address(const config::IpAddress& ip);
  void remove_address(const config::IpAddress& ip);

  std::deque<Datagram> inbox;
  size_t sent = 0;
  int fail_errno = 0;  // nonzero: every send fails with this errno, as a refusing kernel's

 protected:
  bool send_one(Bytes datagram, const tunnel::SockAddr& to, const tunnel::LocalAddr& from, uint8_t tos) override;

 private:
  std::vector<config::IpAddress> extra_;
  FakeNetwork* net_;
  tunnel::SockAddr addr_;
};

class FakeNetwork {
 public:
  // Returns the datagrams to deliver in place of `d` (none = dropped).
  using Fault = std::function<std::vector<Datagram>(const Datagram& d)>;

  FakeUdp& socket(const tunnel::SockAddr& addr) {
    sockets_.push_back(std::make_unique<FakeUdp>(*this, addr));
    by_addr_[addr.to_string()] = sockets_.back().get();
    return *sockets_.back();
  }
  void send(Datagram d) { in_flight_.push_back(std::move(d)); }
  // Delivers everything in flight; returns how many datagrams arrived.
  size_t flush() {
    auto batch = std::move(in_flight_);
    in_flight_.clear();
    if (reorder) std::reverse(batch.begin(), batch.end());
    size_t n = 0;
    for (auto& d : batch) {
      for (auto& out : fault ? fault(d) : std::vector<Datagram>{d}) {
        auto it = by_addr_.find(out.to.to_string());
        if (it == by_addr_.end()) continue;  // nobody listens there
        it->second->inbox.push_back(std::move(out));
        ++n;
      }
    }
    return n;
  }
  void rebind(FakeUdp& s, const tunnel::SockAddr& old_addr, const tunnel::SockAddr& new_addr) {
    by_addr_.erase(old_addr.to_string());
    by_addr_[new_addr.to_string()] = &s;
  }
  void alias(FakeUdp& s, const tunnel::SockAddr& addr) { by_addr_[addr.to_string()] = &s; }
  void unalias(const tunnel::SockAddr& addr) { by_addr_.erase(addr.to_string()); }

  Fault fault;
  bool reorder = false;

 private:
  std::vector<std::unique_ptr<FakeUdp>> sockets_;
  std::map<std::string, FakeUdp*> by_addr_;
  std::vector<Datagram> in_flight_;
};

inline bool FakeUdp::send_one(Bytes datagram, const tunnel::SockAddr& to, const tunnel::LocalAddr& from, uint8_t tos) {
  const bool have = !from.valid() || *from.ip == addr_.ip() ||
                    std::find(extra_.begin(), extra_.end(), *from.ip) != extra_.end();
  const int error = fail_errno != 0 ? fail_errno : (have ? 0 : EINVAL);
  if (error != 0) {
    send_error_ = SendError{error, to};
    return false;
  }
  ++sent;
  const tunnel::SockAddr source = from.valid() ? tunnel::SockAddr(*from.ip, addr_.port()) : addr_;
  net_->send(Datagram{source, to, std::vector<uint8_t>(datagram.begin(), datagram.end()), tos});
  return true;
}

inline void FakeUdp::add_address(const config::IpAddress& ip) {
  extra_.push_back(ip);
  net_->alias(*this, tunnel::SockAddr(ip, addr_.port()));
}

inline void FakeUdp::remove_address(const config::IpAddress& ip) {
  extra_.erase(std::remove(extra_.begin(), extra_.end(), ip), extra_.end());
  net_->unalias(tunnel::SockAddr(ip, addr_.port()));
}

inline void FakeUdp::rebind(tunnel::SockAddr addr) {
  net_->rebind(*this, addr_, addr);
  addr_ = addr;
}

}  // namespace sitelink::test
