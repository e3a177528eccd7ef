// ControlSocket: serves the UAPI (uapi.h) on /run/wireguard/IFACE.sock, the
// stream socket `wg` and `sitelink show` connect to (SPEC.md, "Control
// socket"; wireguard-go's ipc/uapi_linux.go). Mode 0600 from the moment it
// exists (fchmod before bind, which Linux uses for the new inode, so no
// process-wide umask is touched). A stale file from a crashed run (nobody
// answers: ECONNREFUSED) is replaced; a live one is an error.
//
// Everything runs inside the caller's EventLoop and never blocks it: the
// listening socket, every connection, a timerfd for client deadlines and an
// inotify watch on the socket file sit in a private epoll set, and only that
// set's fd is watched by the loop (EventLoop watches for readability only; a
// connection also needs writability while an answer is unsent). Each wakeup
// handles one bounded batch of events. Per connection: requests are handled
// one at a time in order (several per connection, as wg allows); a set
// request is parsed as it arrives (UapiSetStream: memory bounded by the
// longest line and the request so far, its limits answered with an errno
// once the whole request is read, and logged) and applied at its end; a get
// answer is made and sent a piece at a time as the client reads it
// (UapiGetStream), so neither a huge request nor a huge answer to a slow
// client holds up the loop or other clients; a client that stops reading
// or writing mid-request for stall_timeout, or sits idle for idle_timeout,
// is cut off; beyond
// max_connections a new client takes the place of the one idle the longest
// (connected, nothing in flight), or is closed at once if none is idle.
//
// The status socket (SPEC.md, "Monitoring"; listen_status) is the same
// machinery at /run/sitelink/IFACE.sock, mode 0660, group `sitelink` where
// that group exists, for `sitelink metrics` and for `sitelink show` without
// root. It answers only what carries no secret:
//   "get=1\n\n"         the get answer WITHOUT private_key= and preshared_key=
//                        lines (without_secrets() in uapi.h)
//   "get=sitelink\n\n"  the status extension as on the control socket
// and refuses every "set=1" request with errno=-1 (EPERM) without parsing
// it; any other first line closes the connection. A request larger than
// kStatusMaxRequest is answered errno=-EMSGSIZE and the connection closed.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "daemon/uapi.h"
#include "tunnel/event_loop.h"
#include "tunnel/log.h"
#include "tunnel/sys_error.h"
#include "tunnel/unique_fd.h"

namespace sitelink::daemon {

inline constexpr const char* kSocketDirectory = "/run/wireguard";
inline constexpr const char* kStatusDirectory = "/run/sitelink";
inline constexpr const char* kStatusGroup = "sitelink";
inline constexpr size_t kStatusMaxRequest = 4096;  // "get=sitelink\n\n" is 14 bytes

// "/run/wireguard/IFACE.sock".
std::string socket_path(std::string_view iface, std::string_view dir = kSocketDirectory);

struct ControlSocketLimits {
  // Bytes of one request on the read-only status socket (kStatusMaxRequest
  // at most). The control socket reads set requests of any size as a
  // stream; what bounds them is UapiSetStream's limits (uapi.h).
  size_t max_request = kStatusMaxRequest;
  size_t max_connections = 32;
  std::chrono::milliseconds stall_timeout{5000};  // a request or answer making no progress
  std::chrono::milliseconds idle_timeout{60000};  // a connection with nothing in flight
};

class ControlSocket {
 public:
  using Limits = ControlSocketLimits;

  // /run/wireguard/IFACE.sock (the directory is made 0755 if missing). The
  // backend and the loop must outlive the socket.
  [[nodiscard]] static tunnel::SysResult<std::unique_ptr<ControlSocket>> listen(const std::string& iface,
                                                                                UapiBackend& backend,
                                                                                tunnel::EventLoop& loop,
                                                                                Limits limits = {});
  // The same at any path whose directory exists (tests).
  [[nodiscard]] static tunnel::SysResult<std::unique_ptr<ControlSocket>> listen_at(const std::string& path,
                                                                                   UapiBackend& backend,
                                                                                   tunnel::EventLoop& loop,
                                                                                   Limits limits = {});
  // The read-only status socket (above): /run/sitelink/IFACE.sock (the
  // directory is made 0755 if missing).
  [[nodiscard]] static tunnel::SysResult<std::unique_ptr<ControlSocket>> listen_status(const std::string& iface,
                                                                                       UapiBackend& backend,
                                                                                       tunnel::EventLoop& loop,
                                                                                       Limits limits = {});
  // The same at any path whose directory exists; `group` (nullopt: the
  // process's own) owns the file (tests).
  [[nodiscard]] static tunnel::SysResult<std::unique_ptr<ControlSocket>> listen_status_at(const std::string& path,
                                                                                          UapiBackend& backend,
                                                                                          tunnel::EventLoop& loop,
                                                                                          std::optional<gid_t> group,
                                                                                          Limits limits = {});
  // Stops serving, closes every connection and removes the socket file if
  // it is still ours (not one a newer process put in its place).
  ~ControlSocket();
  ControlSocket(const ControlSocket&) = delete;
  ControlSocket& operator=(const ControlSocket&) = delete;

  const std::string& path() const { return path_; }
  bool read_only() const { return read_only_; }
  // False once the file at path() is gone or is no longer our socket.
  bool file_still_there() const;
  // Called once, from the loop, when the socket file is removed or replaced
  // (cross-platform mode exits then, as wireguard-go does). The handler may
  // stop the loop but must not destroy this ControlSocket.
  void set_on_removed(std::function<void()> handler) { on_removed_ = std::move(handler); }
  // Parse failures and cut-off clients are logged at debug (never a value).
  void set_logger(tunnel::Logger* log) { log_ = log; }
  size_t connection_count() const { return conns_.size(); }

 private:
  struct Conn;

  ControlSocket(std::string path, UapiBackend& backend, tunnel::EventLoop& loop, Limits limits);
  [[nodiscard]] tunnel::SysResult<void> open();
  [[nodiscard]] tunnel::SysResult<void> bind_socket();
  [[nodiscard]] tunnel::SysResult<void> start();
  void on_ready();
  void on_accept();
  void on_conn(int fd, uint32_t events);
  void on_inotify();
  void on_timer();
  void read_from(Conn& c) const;
  void write_to(Conn& c);
  void handle_requests(Conn& c);
  bool receive_set(Conn& c);
  void begin_request(Conn& c, UapiOp op);
  void update(Conn& c);
  void close_conn(int fd);
  bool evict_idle();
  void arm_timer();
  void debug(const std::string& msg);

  std::string path_;
  bool read_only_ = false;      // the status socket: no secrets, no changes
  mode_t mode_ = 0600;          // of the socket file
  std::optional<gid_t> group_;  // the file's group, if not the process's
  UapiBackend& backend_;
  tunnel::EventLoop& loop_;
  Limits limits_;
  tunnel::UniqueFd listen_fd_;
  tunnel::UniqueFd epoll_fd_;
  tunnel::UniqueFd timer_fd_;
  tunnel::UniqueFd inotify_fd_;
  dev_t dev_ = 0;  // identity of the socket file we created
  ino_t ino_ = 0;
  bool watched_ = false;
  bool removed_reported_ = false;
  std::optional<std::chrono::steady_clock::time_point> accept_paused_until_;  // out of fds: retry then
  std::chrono::steady_clock::time_point armed_ = std::chrono::steady_clock::time_point::max();
  std::unordered_map<int, std::unique_ptr<Conn>> conns_;
  std::function<void()> on_removed_;
  tunnel::Logger* log_ = nullptr;
};

}  // namespace sitelink::daemon
