// An in-memory UDP network (wireguard-go's bindtest.ChannelBind, with
// faults): sockets are registered under an address; datagrams sent are held
// in flight until flush(), where a test hook may drop, duplicate, reorder or
// rewrite them (e.g. change the source, as a NAT rebinding would).
#pragma once

#include <algorithm>
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
};

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
    return tunnel::Received{n, d.from};
  }
  bool send(Bytes datagram, const tunnel::SockAddr& to) override;
  int fd() const override { return -1; }
  uint16_t port() const override { return addr_.port(); }
  const tunnel::SockAddr& address() const { return addr_; }
  void rebind(tunnel::SockAddr addr);

  std::deque<Datagram> inbox;
  size_t sent = 0;
  int fail_errno = 0;  // nonzero: every send fails with this errno, as a refusing kernel's

 private:
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

  Fault fault;
  bool reorder = false;

 private:
  std::vector<std::unique_ptr<FakeUdp>> sockets_;
  std::map<std::string, FakeUdp*> by_addr_;
  std::vector<Datagram> in_flight_;
};

inline bool FakeUdp::send(Bytes datagram, const tunnel::SockAddr& to) {
  if (fail_errno != 0) {
    send_error_ = SendError{fail_errno, to};
    return false;
  }
  ++sent;
  net_->send(Datagram{addr_, to, std::vector<uint8_t>(datagram.begin(), datagram.end())});
  return true;
}

inline void FakeUdp::rebind(tunnel::SockAddr addr) {
  net_->rebind(*this, addr_, addr);
  addr_ = addr;
}

}  // namespace sitelink::test
