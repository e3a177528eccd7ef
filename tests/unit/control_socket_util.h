// Test helpers for the control and status sockets (daemon/control_socket.h):
// a fake UapiBackend, an EventLoop on its own thread serving one socket, and
// blocking client helpers with time bounds.
#pragma once

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "daemon/control_socket.h"

namespace sitelink::daemon::test_socket {

using namespace std::chrono_literals;

inline constexpr const char* kPubA = "vJBN6b2YiMW9jZ/UlWes/rkPo+rCxWUE21IrQDgVFFE=";
inline constexpr const char* kPrivA = "6Obb2KbPsezaGhceqapNiX1U6hwRqVTbQMFGD8/XFnI=";
inline constexpr const char* kPubB = "SNlPs3/lNaEKa1ddQQgVqeDRgf1fsxJFkkOjE+tPkQ4=";
inline constexpr const char* kPubC = "CetCp7Os4WOLBLaPeQJMkusJDvPALSezyTvxbFQ5lxg=";

inline handshake::PublicKey pub(const char* b64) { return *handshake::PublicKey::from_base64(b64); }

class FakeBackend : public UapiBackend {
 public:
  std::string status() override {
    std::lock_guard lock(mu_);
    return status_;
  }
  void put_status(std::string s) {
    std::lock_guard lock(mu_);
    status_ = std::move(s);
  }
  UapiDeviceState get_device() override {
    std::lock_guard lock(mu_);
    ++gets_;
    UapiDeviceState d{state_.private_key, state_.listen_port, state_.fwmark, {}};
    for (const auto& p : state_.peers) d.peers.push_back(p.public_key);
    return d;
  }
  std::optional<UapiPeerState> get_peer(const handshake::PublicKey& key) override {
    std::lock_guard lock(mu_);
    ++peer_gets_;
    for (const auto& p : state_.peers) {
      if (p.public_key == key) return p;
    }
    return std::nullopt;
  }
  int peer_gets() {
    std::lock_guard lock(mu_);
    return peer_gets_;
  }
  int set(const UapiSet& s) override {
    std::lock_guard lock(mu_);
    sets_.push_back(s);
    return set_result_;
  }
  void put(UapiState s) {
    std::lock_guard lock(mu_);
    state_ = std::move(s);
  }
  void fail_sets_with(int err) {
    std::lock_guard lock(mu_);
    set_result_ = err;
  }
  std::vector<UapiSet> sets() {
    std::lock_guard lock(mu_);
    return sets_;
  }

 private:
  std::mutex mu_;
  UapiState state_;
  std::vector<UapiSet> sets_;
  std::string status_;
  int gets_ = 0;
  int peer_gets_ = 0;
  int set_result_ = 0;
};

// A state with one peer whose handshake was a moment ago (fixed per test).
inline UapiState make_state() {
  UapiState s;
  s.private_key = handshake::PrivateKey::from_base64(kPrivA);
  s.listen_port = 51820;
  UapiPeerState p;
  p.public_key = pub(kPubB);
  p.endpoint = tunnel::SockAddr::parse("203.0.113.2:51820");
  p.last_handshake = WallTime{
      std::chrono::duration_cast<Duration>(std::chrono::system_clock::now().time_since_epoch())};
  p.rx_bytes = 2048;
  p.tx_bytes = 1024;
  p.persistent_keepalive = 25;
  p.allowed_ips = {*config::IpPrefix::parse("198.18.1.0/24")};
  s.peers.push_back(p);
  return s;
}

// An EventLoop on its own thread serving one ControlSocket.
class Served {
 public:
  explicit Served(FakeBackend& backend) : backend_(backend) {
    loop_ = tunnel::EventLoop::create().value();
    stop_.reset(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    EXPECT_TRUE(loop_->watch(stop_.get(), [this] { loop_->stop(); }).ok());
  }
  ~Served() {
    stop();
    socket_.reset();
  }
  tunnel::SysResult<void> listen_at(const std::string& path, ControlSocket::Limits limits = {}) {
    auto s = ControlSocket::listen_at(path, backend_, *loop_, limits);
    if (!s) return Err(s.error());
    socket_ = std::move(*s);
    return {};
  }
  tunnel::SysResult<void> listen_status_at(const std::string& path, std::optional<gid_t> group = std::nullopt) {
    auto s = ControlSocket::listen_status_at(path, backend_, *loop_, group);
    if (!s) return Err(s.error());
    socket_ = std::move(*s);
    return {};
  }
  tunnel::SysResult<void> listen(const std::string& iface) {
    auto s = ControlSocket::listen(iface, backend_, *loop_);
    if (!s) return Err(s.error());
    socket_ = std::move(*s);
    return {};
  }
  void start() {
    thread_ = std::thread([this] { (void)loop_->run(); });
  }
  void stop() {
    if (!thread_.joinable()) return;
    const uint64_t one = 1;
    (void)!::write(stop_.get(), &one, sizeof one);
    thread_.join();
  }
  ControlSocket& socket() { return *socket_; }
  void close_socket() { socket_.reset(); }

 private:
  FakeBackend& backend_;
  std::unique_ptr<tunnel::EventLoop> loop_;
  std::unique_ptr<ControlSocket> socket_;
  tunnel::UniqueFd stop_;
  std::thread thread_;
};

inline tunnel::UniqueFd connect_unix(const std::string& path) {
  tunnel::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  path.copy(a.sun_path, sizeof a.sun_path - 1);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) return tunnel::UniqueFd();
  return fd;
}

inline void send_all(int fd, std::string_view s) {
  while (!s.empty()) {
    const ssize_t n = ::send(fd, s.data(), s.size(), MSG_NOSIGNAL);
    ASSERT_GT(n, 0) << std::strerror(errno);
    s.remove_prefix(static_cast<size_t>(n));
  }
}

// Reads until `answers` answers ("...\n\n") arrived, end of file, or 5 s.
// `eof` tells whether the server closed the connection.
inline std::string read_answers(int fd, int answers, bool* eof = nullptr, std::chrono::milliseconds limit = 5000ms) {
  std::string got;
  const auto deadline = std::chrono::steady_clock::now() + limit;
  if (eof != nullptr) *eof = false;
  auto count = [&] {
    int n = 0;
    for (size_t at = got.find("\n\n"); at != std::string::npos; at = got.find("\n\n", at + 2)) ++n;
    return n;
  };
  while (count() < answers && std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    char buf[65536];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      if (eof != nullptr) *eof = true;
      break;
    }
    got.append(buf, static_cast<size_t>(n));
  }
  return got;
}

// Waits up to `limit` for `events` on `fd` without reading it; true if they came.
inline bool wait_for(int fd, short events, std::chrono::milliseconds limit) {
  pollfd p{fd, events, 0};
  return ::poll(&p, 1, static_cast<int>(limit.count())) == 1 && (p.revents & events) != 0;
}

// True if the server closes `fd` within `limit` (whatever it sent before).
inline bool closed_within(int fd, std::chrono::milliseconds limit) {
  bool eof = false;
  read_answers(fd, 1 << 30, &eof, limit);
  return eof;
}

}  // namespace sitelink::daemon::test_socket
