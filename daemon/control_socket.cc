// ControlSocket; see control_socket.h. One private epoll set holds the
// listening socket, a timerfd (client deadlines, paused accepts), an inotify
// watch on the socket file and every connection; the EventLoop watches that
// set's fd, and each wakeup handles at most kEventsPerWakeup of its events.
#include "daemon/control_socket.h"

#include <grp.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

#include "config/names.h"
#include "handshake/base/secret.h"

namespace sitelink::daemon {
namespace {

using Clock = std::chrono::steady_clock;  // CLOCK_MONOTONIC, as the timerfd

constexpr int kEventsPerWakeup = 16;
constexpr int kAcceptsPerEvent = 8;
constexpr int kReadsPerEvent = 4;
constexpr size_t kReadChunk = 16384;
// A get answer is made and sent this much at a time, at most
// kPiecesPerEvent pieces per event: a huge answer costs the loop one
// bounded turn after another, never one long one.
constexpr size_t kAnswerPiece = 65536;
constexpr int kPiecesPerEvent = 4;
constexpr size_t kPieceSlack = 4096;  // a piece ends with the line (or a peer's lines) that reaches the size
constexpr auto kAcceptRetry = std::chrono::seconds(1);

sockaddr_un unix_addr(const std::string& path) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  path.copy(a.sun_path, sizeof a.sun_path - 1);
  return a;
}

// "sl0" for "/run/wireguard/sl0.sock".
std::string iface_of(const std::string& path) {
  std::string name = path.substr(path.rfind('/') + 1);
  if (name.size() > 5 && name.ends_with(".sock")) name.resize(name.size() - 5);
  return name;
}

// After bind() found `path` taken: Ok if the file is a socket nobody serves
// (left by a crashed run) or already gone; an error if it is live or not a socket.
tunnel::SysResult<void> check_stale(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return {};
    return tunnel::errno_error("lstat " + path);
  }
  if (!S_ISSOCK(st.st_mode)) return tunnel::sys_error(EEXIST, path + " exists and is not a socket");
  tunnel::UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!probe.valid()) return tunnel::errno_error("socket AF_UNIX");
  const sockaddr_un a = unix_addr(path);
  const int rc = ::connect(probe.get(), reinterpret_cast<const sockaddr*>(&a), sizeof a);
  if (rc == 0 || errno == EAGAIN || errno == EINPROGRESS) {  // EAGAIN: alive, its backlog is full
    return tunnel::sys_error(EADDRINUSE,
                             "interface " + iface_of(path) + " is already served by another process (" + path + ")");
  }
  if (errno == ECONNREFUSED || errno == ENOENT) return {};
  return tunnel::errno_error("connect " + path);
}

// The gid of `name`, nullopt if there is no such group.
std::optional<gid_t> group_id(const char* name) {
  std::array<char, 16384> buf;
  group g{};
  group* found = nullptr;
  if (::getgrnam_r(name, &g, buf.data(), buf.size(), &found) != 0 || found == nullptr) return std::nullopt;
  return found->gr_gid;
}

}  // namespace

struct ControlSocket::Conn {
  explicit Conn(tunnel::UniqueFd f) : fd(std::move(f)), last_progress(Clock::now()) {}
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;
  ~Conn() {  // requests and answers may hold keys
    secure_clear(in);
    secure_clear(out);
  }
  // Nothing half-received, half-answered or unsent.
  bool idle() const { return in.empty() && out.empty() && !set && !get; }
  Clock::time_point deadline(const Limits& l) const {
    return last_progress + (idle() ? l.idle_timeout : l.stall_timeout);
  }

  tunnel::UniqueFd fd;
  std::string in;
  std::string out;
  size_t out_off = 0;
  std::unique_ptr<UapiSetStream> set;  // a set request being received
  std::unique_ptr<UapiGetStream> get;  // a get answer being sent, piece by piece
  bool eof = false;                    // the client shut down its side
  bool closing = false;                // close once `out` is sent
  bool dead = false;                   // close now
  uint32_t events = EPOLLIN;
  Clock::time_point last_progress;
};

std::string socket_path(std::string_view iface, std::string_view dir) {
  return std::string(dir) + "/" + std::string(iface) + ".sock";
}

ControlSocket::ControlSocket(std::string path, UapiBackend& backend, tunnel::EventLoop& loop, Limits limits)
    : path_(std::move(path)), backend_(backend), loop_(loop), limits_(limits) {}

tunnel::SysResult<std::unique_ptr<ControlSocket>> ControlSocket::listen(const std::string& iface, UapiBackend& backend,
                                                                        tunnel::EventLoop& loop, Limits limits) {
  const std::string why = config::interface_name_problem(iface);
  if (!why.empty()) return tunnel::sys_error(EINVAL, "'" + iface + "' is not a valid interface name: " + why);
  if (::mkdir(kSocketDirectory, 0755) != 0 && errno != EEXIST) {
    return tunnel::errno_error(std::string("mkdir ") + kSocketDirectory);
  }
  return listen_at(socket_path(iface), backend, loop, limits);
}

tunnel::SysResult<std::unique_ptr<ControlSocket>> ControlSocket::listen_at(const std::string& path,
                                                                           UapiBackend& backend,
                                                                           tunnel::EventLoop& loop, Limits limits) {
  std::unique_ptr<ControlSocket> s(new ControlSocket(path, backend, loop, limits));
  if (auto r = s->open(); !r) return Err(r.error());
  return s;
}

tunnel::SysResult<std::unique_ptr<ControlSocket>> ControlSocket::listen_status(const std::string& iface,
                                                                               UapiBackend& backend,
                                                                               tunnel::EventLoop& loop, Limits limits) {
  const std::string why = config::interface_name_problem(iface);
  if (!why.empty()) return tunnel::sys_error(EINVAL, "'" + iface + "' is not a valid interface name: " + why);
  if (::mkdir(kStatusDirectory, 0755) != 0 && errno != EEXIST) {
    return tunnel::errno_error(std::string("mkdir ") + kStatusDirectory);
  }
  return listen_status_at(socket_path(iface, kStatusDirectory), backend, loop, group_id(kStatusGroup), limits);
}

tunnel::SysResult<std::unique_ptr<ControlSocket>> ControlSocket::listen_status_at(
    const std::string& path, UapiBackend& backend, tunnel::EventLoop& loop, std::optional<gid_t> group, Limits limits) {
  limits.max_request = std::min(limits.max_request, kStatusMaxRequest);
  std::unique_ptr<ControlSocket> s(new ControlSocket(path, backend, loop, limits));
  s->read_only_ = true;
  s->mode_ = 0660;
  s->group_ = group;
  if (auto r = s->open(); !r) return Err(r.error());
  return s;
}

tunnel::SysResult<void> ControlSocket::open() {
  if (path_.empty() || path_.size() >= sizeof(sockaddr_un::sun_path)) {
    return tunnel::sys_error(ENAMETOOLONG, "control socket path " + path_);
  }
  if (auto r = bind_socket(); !r) return r;
  if (::listen(listen_fd_.get(), 64) != 0) return tunnel::errno_error("listen " + path_);
  return start();
}

tunnel::SysResult<void> ControlSocket::bind_socket() {
  listen_fd_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!listen_fd_.valid()) return tunnel::errno_error("socket AF_UNIX");
  // Linux gives the new file the socket inode's mode (less the umask): set
  // it first, so the file is never wider than mode_, even for an instant.
  if (::fchmod(listen_fd_.get(), mode_) != 0) return tunnel::errno_error("fchmod control socket");
  const sockaddr_un a = unix_addr(path_);
  const auto* sa = reinterpret_cast<const sockaddr*>(&a);
  if (::bind(listen_fd_.get(), sa, sizeof a) != 0) {
    if (errno != EADDRINUSE) return tunnel::errno_error("bind " + path_);
    if (auto r = check_stale(path_); !r) return r;
    if (::unlink(path_.c_str()) != 0 && errno != ENOENT) return tunnel::errno_error("remove stale " + path_);
    if (::bind(listen_fd_.get(), sa, sizeof a) != 0) return tunnel::errno_error("bind " + path_);
  }
  // The group first (until then the file is the process's group's), then
  // exactly mode_ even under a stricter umask (never wider before).
  if (group_ && ::chown(path_.c_str(), static_cast<uid_t>(-1), *group_) != 0) {
    return tunnel::errno_error("chown " + path_ + " to group " + std::to_string(*group_));
  }
  ::chmod(path_.c_str(), mode_);
  struct stat st {};
  if (::lstat(path_.c_str(), &st) != 0) return tunnel::errno_error("lstat " + path_);
  dev_ = st.st_dev;
  ino_ = st.st_ino;
  return {};
}

tunnel::SysResult<void> ControlSocket::start() {
  epoll_fd_.reset(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_fd_.valid()) return tunnel::errno_error("epoll_create1");
  timer_fd_.reset(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
  if (!timer_fd_.valid()) return tunnel::errno_error("timerfd_create");
  inotify_fd_.reset(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!inotify_fd_.valid()) return tunnel::errno_error("inotify_init1");
  // Unlinking the file changes its link count (IN_ATTRIB); the inode lives
  // on while we are bound to it, so IN_DELETE_SELF alone would come too late.
  if (::inotify_add_watch(inotify_fd_.get(), path_.c_str(), IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF) < 0) {
    return tunnel::errno_error("inotify_add_watch " + path_);
  }
  for (const int fd : {listen_fd_.get(), timer_fd_.get(), inotify_fd_.get()}) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) return tunnel::errno_error("epoll_ctl add");
  }
  if (auto r = loop_.watch(epoll_fd_.get(), [this] { on_ready(); }); !r) return r;
  watched_ = true;
  return {};
}

ControlSocket::~ControlSocket() {
  if (watched_) loop_.unwatch(epoll_fd_.get());
  conns_.clear();
  if (dev_ != 0 || ino_ != 0) {
    if (file_still_there()) ::unlink(path_.c_str());
  }
}

bool ControlSocket::file_still_there() const {
  struct stat st {};
  return ::lstat(path_.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == dev_ && st.st_ino == ino_;
}

void ControlSocket::debug(const std::string& msg) {
  if (log_ != nullptr && log_->enabled(tunnel::LogLevel::kDebug)) {
    log_->log(tunnel::LogLevel::kDebug, "control socket " + path_ + ": " + msg);
  }
}

void ControlSocket::on_ready() {
  std::array<epoll_event, kEventsPerWakeup> evs;
  const int n = ::epoll_wait(epoll_fd_.get(), evs.data(), static_cast<int>(evs.size()), 0);
  for (int i = 0; i < n; ++i) {
    const epoll_event& ev = evs[static_cast<size_t>(i)];
    if (ev.data.fd == listen_fd_.get()) {
      on_accept();
    } else if (ev.data.fd == timer_fd_.get()) {
      on_timer();
    } else if (ev.data.fd == inotify_fd_.get()) {
      on_inotify();
    } else {
      on_conn(ev.data.fd, ev.events);
    }
  }
  arm_timer();
}

void ControlSocket::on_accept() {
  for (int i = 0; i < kAcceptsPerEvent; ++i) {
    tunnel::UniqueFd fd(::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd.valid()) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EAGAIN) return;
      // Out of descriptors or memory: the listening socket would stay
      // readable and spin the loop, so stop accepting for a while.
      debug(std::string("accept failed, pausing: ") + std::strerror(errno));
      ::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, listen_fd_.get(), nullptr);
      accept_paused_until_ = Clock::now() + kAcceptRetry;
      return;
    }
    if (conns_.size() >= limits_.max_connections && !evict_idle()) {
      debug("too many clients, all busy: one refused");
      continue;  // closed by UniqueFd
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd.get();
    if (::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, fd.get(), &ev) != 0) continue;
    const int key = fd.get();
    conns_.emplace(key, std::make_unique<Conn>(std::move(fd)));
  }
}

void ControlSocket::on_conn(int fd, uint32_t events) {
  const auto it = conns_.find(fd);
  if (it == conns_.end()) return;
  Conn& c = *it->second;
  const bool answering = !c.out.empty() || c.get;
  if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) != 0 && answering) write_to(c);
  if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0 && c.out.empty() && !c.get && !c.eof && !c.closing) {
    read_from(c);
  }
  handle_requests(c);
  update(c);
}

void ControlSocket::read_from(Conn& c) const {
  std::array<char, kReadChunk> buf;
  // A set request's body does not stay in `in` (UapiSetStream takes it as
  // it comes), so this bounds what one client can make us hold.
  for (int i = 0; i < kReadsPerEvent && !c.dead && c.in.size() < kReadChunk * kReadsPerEvent; ++i) {
    const ssize_t n = ::recv(c.fd.get(), buf.data(), buf.size(), MSG_DONTWAIT);
    if (n > 0) {
      append_wiping(c.in, std::string_view(buf.data(), static_cast<size_t>(n)));  // may hold a private key
      c.last_progress = Clock::now();
    } else if (n == 0) {
      c.eof = true;
      break;
    } else if (errno == EINTR) {
      continue;
    } else {
      c.dead = errno != EAGAIN;
      break;
    }
  }
  secure_zero(buf.data(), buf.size());
}

// Sends what is unsent; with a get answer in progress, its next pieces as
// the client takes them.
void ControlSocket::write_to(Conn& c) {
  for (int piece = 0; piece < kPiecesPerEvent; ++piece) {
    if (c.out_off == c.out.size()) {
      secure_clear(c.out);
      c.out_off = 0;
      if (!c.get) return;
      // Room for the whole piece first: the string must not reallocate
      // while it holds a key (the old buffer would be freed unwiped).
      c.out.reserve(kAnswerPiece + kPieceSlack);
      c.get->next(c.out, kAnswerPiece);
      if (c.get->done()) c.get.reset();
    }
    while (c.out_off < c.out.size()) {
      const ssize_t n = ::send(c.fd.get(), c.out.data() + c.out_off, c.out.size() - c.out_off,
                               MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        c.out_off += static_cast<size_t>(n);
        c.last_progress = Clock::now();
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else {
        c.dead = n < 0 && errno != EAGAIN;
        return;
      }
    }
  }
  if (c.out_off == c.out.size()) {
    secure_clear(c.out);
    c.out_off = 0;
  }
}

// Answers complete requests in order while nothing is waiting to be sent
// (a client that does not read its answers gets no more work done). A set
// request's body is parsed as it arrives and answered at its end.
void ControlSocket::handle_requests(Conn& c) {
  while (c.out.empty() && !c.get && !c.closing && !c.dead) {
    if (c.set) {
      if (!receive_set(c)) break;
    } else {
      const auto f = next_frame(c.in, c.eof);
      if (!f) break;
      if (f->op == UapiOp::kUnknown) {
        debug("unknown operation, connection closed");
        c.dead = true;
        break;
      }
      begin_request(c, f->op);
      secure_zero(c.in.data(), f->consumed);
      c.in.erase(0, f->consumed);
    }
    write_to(c);
  }
  if (c.eof && c.in.empty() && !c.set) c.closing = true;
}

// Feeds the set request's body what has arrived; false until it is
// complete, then answers it.
bool ControlSocket::receive_set(Conn& c) {
  UapiSetStream& set = *c.set;
  const size_t used = set.feed(c.in);
  secure_zero(c.in.data(), used);
  c.in.erase(0, used);
  if (!set.complete() && c.eof) set.finish();
  if (read_only_ && set.size() > limits_.max_request) {
    debug("request larger than " + std::to_string(limits_.max_request) + " bytes, connection closed");
    c.set.reset();
    secure_clear(c.in);
    c.out = format_errno(EMSGSIZE);
    c.closing = true;
    return true;
  }
  if (!set.complete()) return false;
  if (read_only_) {  // not even parsed: nothing on this socket changes anything
    debug("set refused: read-only status socket");
    c.out = format_errno(EPERM);
  } else if (auto request = set.take(); !request) {
    // The client writes its whole request before it reads: the rest of it
    // was read (not parsed) to its end, so it gets this answer.
    if (log_ != nullptr) {
      tunnel::LogLine(*log_, tunnel::LogLevel::kWarn)
          << "control socket: set request refused, nothing changed: " << set.why();
    }
    c.out = format_errno(request.error());
  } else {
    c.out = format_errno(backend_.set(*request));
  }
  c.set.reset();
  return true;
}

void ControlSocket::begin_request(Conn& c, UapiOp op) {
  switch (op) {
    case UapiOp::kGet:
      // The control socket's answer holds the private key: each piece is
      // wiped once sent.
      c.get = std::make_unique<UapiGetStream>(backend_, !read_only_);
      break;
    case UapiOp::kStatus:
      c.out = backend_.status();
      c.out += format_errno(0);
      break;
    case UapiOp::kBadGet:
      debug("get=1 not followed by a blank line");
      c.out = format_errno(EINVAL);
      break;
    case UapiOp::kSet: c.set = std::make_unique<UapiSetStream>(!read_only_); break;
    case UapiOp::kUnknown: break;
  }
}

void ControlSocket::update(Conn& c) {
  const bool done = c.out.empty() && (c.closing || c.eof);
  if (c.dead || done) {
    close_conn(c.fd.get());
    return;
  }
  uint32_t want = 0;
  if (!c.out.empty() || c.get) {
    want = EPOLLOUT;
  } else if (!c.closing && !c.eof) {
    want = EPOLLIN;
  }
  if (want == 0) {  // nothing can happen any more
    close_conn(c.fd.get());
    return;
  }
  if (want != c.events) {
    epoll_event ev{};
    ev.events = want;
    ev.data.fd = c.fd.get();
    if (::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_MOD, c.fd.get(), &ev) != 0) {
      close_conn(c.fd.get());
      return;
    }
    c.events = want;
  }
}

// Full: the connection idle (nothing half-received or unsent) the longest
// makes room, so that clients which connect and wait cannot hold every
// slot; false if none is idle (busy ones are cut off by stall_timeout).
bool ControlSocket::evict_idle() {
  int oldest = -1;
  Clock::time_point since = Clock::time_point::max();
  for (const auto& [fd, c] : conns_) {
    if (c->idle() && c->last_progress < since) {
      oldest = fd;
      since = c->last_progress;
    }
  }
  if (oldest < 0) return false;
  debug("too many clients: the longest idle one closed to make room");
  close_conn(oldest);
  return true;
}

void ControlSocket::close_conn(int fd) {
  ::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, fd, nullptr);
  conns_.erase(fd);
}

void ControlSocket::on_inotify() {
  std::array<char, 4096> buf;
  while (::read(inotify_fd_.get(), buf.data(), buf.size()) > 0) {
  }
  if (removed_reported_ || file_still_there()) return;
  removed_reported_ = true;
  debug("socket file removed");
  if (on_removed_) on_removed_();
}

void ControlSocket::on_timer() {
  uint64_t expirations = 0;
  (void)!::read(timer_fd_.get(), &expirations, sizeof expirations);
  armed_ = Clock::time_point::max();
  const auto now = Clock::now();
  std::vector<int> late;
  for (const auto& [fd, c] : conns_) {
    if (c->deadline(limits_) <= now) late.push_back(fd);
  }
  for (const int fd : late) {
    debug("client made no progress in time, cut off");
    close_conn(fd);
  }
  if (accept_paused_until_ && *accept_paused_until_ <= now) {
    accept_paused_until_.reset();
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = listen_fd_.get();
    ::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, listen_fd_.get(), &ev);
  }
}

void ControlSocket::arm_timer() {
  auto next = accept_paused_until_.value_or(Clock::time_point::max());
  for (const auto& [fd, c] : conns_) next = std::min(next, c->deadline(limits_));
  if (next == armed_) return;
  itimerspec its{};
  if (next != Clock::time_point::max()) {
    const auto ns = std::max<int64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(next.time_since_epoch()).count(), 1);
    its.it_value.tv_sec = ns / 1'000'000'000;
    its.it_value.tv_nsec = ns % 1'000'000'000;
  }
  if (::timerfd_settime(timer_fd_.get(), TFD_TIMER_ABSTIME, &its, nullptr) == 0) armed_ = next;
}

}  // namespace sitelink::daemon
