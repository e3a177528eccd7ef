// The monitor, the channel's messages and the split; see privsep.h.
#include "daemon/privsep.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "daemon/exit_codes.h"
#include "daemon/memory_lock.h"
#include "daemon/privileges.h"
#include "daemon/sd_notify.h"
#include "handshake/base/secret.h"

namespace sitelink::daemon {

using tunnel::LogLevel;
using tunnel::LogLine;

namespace {

constexpr std::string_view kMagic = "SLF1";
constexpr std::string_view kStopMagic = "SLS1";
constexpr size_t kHeader = 8;  // magic and payload length

void put_u32(std::string& out, size_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
}

// A reader over the payload that fails (once, for good) on a short read.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> in) : in_(in) {}
  std::optional<uint32_t> u32() {
    if (in_.size() < 4) return std::nullopt;
    const uint32_t v = (uint32_t{in_[0]} << 24) | (uint32_t{in_[1]} << 16) | (uint32_t{in_[2]} << 8) | in_[3];
    in_ = in_.subspan(4);
    return v;
  }
  std::optional<std::string> bytes() {
    const auto n = u32();
    if (!n || *n > in_.size()) return std::nullopt;
    std::string s(reinterpret_cast<const char*>(in_.data()), *n);
    in_ = in_.subspan(*n);
    return s;
  }
  bool empty() const { return in_.empty(); }

 private:
  std::span<const uint8_t> in_;
};

MonitorFrame bad(std::string why) {
  MonitorFrame f;
  f.status = MonitorFrame::Status::kBad;
  f.error = std::move(why);
  return f;
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

}  // namespace

std::string encode_file_set(const config::FileSet& files) {
  std::string payload;
  put_u32(payload, 1 + files.key_files.size());
  auto record = [&](const std::string& name, const std::string& data) {
    put_u32(payload, name.size());
    payload += name;
    put_u32(payload, data.size());
    payload += data;
  };
  record(files.config_path, files.config_text);
  for (const auto& [path, contents] : files.key_files) record(path, contents);
  std::string frame(kMagic);
  put_u32(frame, payload.size());
  frame += payload;
  secure_zero(payload.data(), payload.size());
  return frame;
}

std::string encode_stop(int signal) {
  std::string frame(kStopMagic);
  put_u32(frame, static_cast<size_t>(signal));
  return frame;
}

MonitorFrame decode_monitor_frame(std::span<const uint8_t> in) {
  const auto start = in.first(std::min(in.size(), kMagic.size()));
  const bool file_set = std::equal(start.begin(), start.end(), kMagic.begin());
  const bool stop = std::equal(start.begin(), start.end(), kStopMagic.begin());
  if (!file_set && !stop) return bad("not a monitor frame");
  if (in.size() < kHeader) return {};
  const size_t length = (size_t{in[4]} << 24) | (size_t{in[5]} << 16) | (size_t{in[6]} << 8) | in[7];
  if (stop) {
    MonitorFrame f;
    f.status = MonitorFrame::Status::kStop;
    f.signal = static_cast<int>(std::min<size_t>(length, 64));
    f.used = kHeader;
    return f;
  }
  if (length > kMaxFileSetFrame) return bad("file set frame of " + std::to_string(length) + " bytes is too large");
  if (in.size() - kHeader < length) return {};
  Reader r(in.subspan(kHeader, length));
  const auto count = r.u32();
  if (!count || *count == 0) return bad("file set without a configuration");
  MonitorFrame f;
  for (uint32_t i = 0; i < *count; ++i) {
    auto name = r.bytes();
    auto data = r.bytes();
    if (!name || !data) {
      f.files.wipe();
      return bad("file set frame cut short in record " + std::to_string(i));
    }
    if (i == 0) {
      f.files.config_path = std::move(*name);
      f.files.config_text = std::move(*data);
    } else if (!f.files.key_files.emplace(std::move(*name), std::move(*data)).second) {
      f.files.wipe();
      return bad("file set names a key file twice");
    }
  }
  if (!r.empty()) {
    f.files.wipe();
    return bad("file set frame has bytes after its records");
  }
  f.status = MonitorFrame::Status::kFileSet;
  f.used = kHeader + length;
  return f;
}

std::string encode_notify(std::string_view text) {
  text = text.substr(0, kMaxNotify);
  std::string out(1, kNotify);
  out.push_back(static_cast<char>(text.size() >> 8));
  out.push_back(static_cast<char>(text.size() & 0xff));
  out.append(text);
  return out;
}

std::vector<ChildMessage> take_child_messages(std::string& buffer, size_t& junk) {
  std::vector<ChildMessage> out;
  size_t i = 0;
  while (i < buffer.size()) {
    const char kind = buffer[i];
    if (kind == kAskReload || kind == kSocketUp) {
      out.push_back({kind, {}});
      ++i;
    } else if (kind == kNotify) {
      if (buffer.size() - i < 3) break;
      const size_t n = (size_t{static_cast<uint8_t>(buffer[i + 1])} << 8) | static_cast<uint8_t>(buffer[i + 2]);
      if (n > kMaxNotify) {
        ++junk;
        ++i;
        continue;
      }
      if (buffer.size() - i - 3 < n) break;
      out.push_back({kind, buffer.substr(i + 3, n)});
      i += 3 + n;
    } else {
      ++junk;
      ++i;
    }
  }
  buffer.erase(0, i);
  return out;
}

std::string allowed_notify(std::string_view text) {
  static constexpr std::string_view kExact[] = {"READY=1", "RELOADING=1", "STOPPING=1", "WATCHDOG=1"};
  static constexpr std::string_view kPrefixes[] = {"STATUS=", "MONOTONIC_USEC="};
  std::string out;
  while (!text.empty()) {
    const size_t end = text.find('\n');
    const std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    bool ok = std::find(std::begin(kExact), std::end(kExact), line) != std::end(kExact);
    for (auto p : kPrefixes) ok = ok || (line.starts_with(p) && line.find('\0') == std::string_view::npos);
    if (!ok) continue;
    if (!out.empty()) out.push_back('\n');
    out.append(line);
  }
  return out;
}

tunnel::SysResult<config::DaemonUser> network_user() {
  auto user = config::daemon_user();
  if (!user) {
    return tunnel::sys_error(0, std::string("no '") + config::kDaemonUserName + "' or '" + config::kFallbackUserName +
                                    "' user to run the network process as; create one with 'adduser --system --group " +
                                    config::kDaemonUserName + "'");
  }
  return *user;
}

namespace {

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23  // Linux 5.14; older C libraries lack the name
#endif

// After fork, every heap page is shared with the monitor until one of the
// two writes to it; the network process would take those copy-on-write
// faults one by one, in the packet loop, as its first handshakes allocate
// from them (in the scale test with 1,000 peers: 737 faults after start-up
// against 253 in one process, and 10% more CPU for the first handshake of
// each peer on a virtual machine, where a fault is dear; 380 with this).
// The heap is copied here, at once, before anything is read from the network.
// Best effort: on a kernel without MADV_POPULATE_WRITE the faults come later.
void own_heap() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    if (!line.ends_with("[heap]")) continue;
    const size_t dash = line.find('-');
    const size_t space = line.find(' ');
    if (dash == std::string::npos || space == std::string::npos || space < dash) return;
    const uintptr_t start = std::stoull(line.substr(0, dash), nullptr, 16);
    const uintptr_t end = std::stoull(line.substr(dash + 1, space - dash - 1), nullptr, 16);
    if (end > start) {
      // NOLINTNEXTLINE(performance-no-int-to-ptr): an address from /proc/self/maps
      (void)::madvise(reinterpret_cast<void*>(start), end - start, MADV_POPULATE_WRITE);
    }
    return;
  }
}

}  // namespace

tunnel::SysResult<Split> split_processes() {
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGTERM, SIGINT, SIGHUP, SIGCHLD}) sigaddset(&set, s);
  if (sigprocmask(SIG_BLOCK, &set, nullptr) != 0) return tunnel::errno_error("sigprocmask");
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return tunnel::errno_error("socketpair");
  UniqueFd monitor_end(sv[0]);
  UniqueFd network_end(sv[1]);
  const pid_t pid = ::fork();
  if (pid < 0) return tunnel::errno_error("fork");
  if (pid > 0) return Split{pid, std::move(monitor_end)};
  monitor_end.reset();
  own_heap();
  sigset_t child;
  sigemptyset(&child);
  sigaddset(&child, SIGCHLD);
  sigprocmask(SIG_UNBLOCK, &child, nullptr);
  // systemd names the main PID (the monitor) for the watchdog; the loop it
  // watches runs here.
  if (const char* w = std::getenv("WATCHDOG_PID"); w != nullptr && std::atoll(w) == ::getppid()) {
    ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
  }
  return Split{0, std::move(network_end)};
}

MonitorLink::MonitorLink(UniqueFd channel) : fd_(std::move(channel)) {
  const int flags = ::fcntl(fd_.get(), F_GETFL);
  if (flags >= 0) ::fcntl(fd_.get(), F_SETFL, flags | O_NONBLOCK);
}

MonitorLink::~MonitorLink() { secure_zero(buf_.data(), buf_.size()); }

// A message goes whole or not at all: the monitor drains the channel at
// once, so waiting a little for room is enough.
void MonitorLink::send(std::string_view message) {
  while (!message.empty()) {
    const ssize_t n = ::send(fd_.get(), message.data(), message.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      message.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    pollfd p{fd_.get(), POLLOUT, 0};
    if (n < 0 && errno == EAGAIN && ::poll(&p, 1, 1000) == 1) continue;
    return;
  }
}

MonitorLink::Input MonitorLink::read() {
  Input in;
  uint8_t chunk[16384];
  for (;;) {
    const ssize_t n = ::read(fd_.get(), chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    if (n <= 0) {
      in.gone = true;
      break;
    }
    // Frames carry keys: a buffer that grows leaves no copy behind.
    append_wiping(buf_, std::string_view(reinterpret_cast<const char*>(chunk), static_cast<size_t>(n)));
    if (buf_.size() > kMaxFileSetFrame + 8) break;  // decoded (and refused) below
  }
  secure_zero(chunk, sizeof chunk);
  size_t start = 0;
  for (;;) {
    const std::span<const uint8_t> all(reinterpret_cast<const uint8_t*>(buf_.data()), buf_.size());
    auto frame = decode_monitor_frame(all.subspan(start));
    if (frame.status == MonitorFrame::Status::kIncomplete) break;
    if (frame.status == MonitorFrame::Status::kBad) {
      in.error = frame.error;
      in.gone = true;
      start = buf_.size();
      break;
    }
    if (frame.status == MonitorFrame::Status::kStop) in.stop = frame.signal;
    if (frame.status == MonitorFrame::Status::kFileSet) in.file_sets.push_back(std::move(frame.files));
    start += frame.used;
  }
  if (start > 0) {  // keep the rest in a fresh buffer; the old one is wiped whole
    std::string rest(buf_, start);
    secure_zero(buf_.data(), buf_.size());
    buf_.swap(rest);
  }
  return in;
}

namespace {

class Monitor {
 public:
  Monitor(Split split, const MonitorOptions& o, tunnel::Logger& log)
      : child_(split.child), channel_(std::move(split.channel)), o_(o), log_(log) {}

  int channel() const { return channel_.get(); }

  int run() {
    sigset_t set;
    sigemptyset(&set);
    for (int s : {SIGTERM, SIGINT, SIGHUP, SIGCHLD}) sigaddset(&set, s);
    signals_.reset(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!signals_.valid()) {
      LogLine(log_, LogLevel::kError) << "monitor: signalfd: " << std::strerror(errno);
      stop_child(SIGTERM);
    }
    // A reload that the network process does not read within this long is
    // abandoned rather than block the monitor.
    const timeval send_timeout{5, 0};
    ::setsockopt(channel_.get(), SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof send_timeout);
    while (!exit_code_) {
      pollfd fds[2] = {{signals_.get(), POLLIN, 0}, {channel_open_ ? channel_.get() : -1, POLLIN, 0}};
      if (::poll(fds, 2, signals_.valid() ? -1 : 1000) < 0 && errno != EINTR) break;
      if ((fds[1].revents & (POLLIN | POLLHUP | POLLERR)) != 0) on_channel();
      on_signals();
    }
    remove_socket();
    return exit_code_.value_or(kExitFailure);
  }

 private:
  void on_signals() {
    signalfd_siginfo si{};
    while (signals_.valid() && ::read(signals_.get(), &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
      if (si.ssi_signo == SIGHUP) {
        reload();
      } else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
        stop_child(static_cast<int>(si.ssi_signo));
      }
    }
    reap();
  }

  // Asks the network process to stop; closing the channel is the answer
  // of last resort (it stops on EOF too).
  void stop_child(int signal) {
    if (!write_all(channel_.get(), encode_stop(signal))) ::shutdown(channel_.get(), SHUT_RDWR);
  }

  void reap() {
    int status = 0;
    if (::waitpid(child_, &status, WNOHANG) != child_) return;
    if (WIFEXITED(status)) {
      exit_code_ = WEXITSTATUS(status);
    } else {
      LogLine(log_, LogLevel::kError) << "the network process was killed by signal " << WTERMSIG(status) << " ("
                                      << strsignal(WTERMSIG(status)) << ")";
      exit_code_ = kExitFailure;
    }
  }

  void on_channel() {
    char buf[4096];
    const ssize_t n = ::read(channel_.get(), buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (n <= 0) {
      channel_open_ = false;  // the network process is exiting: SIGCHLD follows
      return;
    }
    in_.append(buf, static_cast<size_t>(n));
    size_t junk = 0;
    for (const auto& m : take_child_messages(in_, junk)) {
      if (m.kind == kAskReload) reload();
      if (m.kind == kSocketUp) note_socket();
      if (m.kind == kNotify) {
        if (const std::string ok = allowed_notify(m.text); !ok.empty()) notifier_.send(ok);
      }
    }
    if (junk > 0) {
      LogLine(log_, LogLevel::kWarn) << "monitor: dropped " << junk
                                     << " bytes from the network process that are no message";
    }
  }

  void reload() {
    if (o_.config_path.empty()) {
      LogLine(log_, LogLevel::kInfo) << "SIGHUP ignored: no configuration file (configure with wg)";
      return;
    }
    config::FileSet files;
    config::LoadOptions options;
    options.record = &files;
    auto loaded = config::load_file(o_.config_path, options);
    if (!loaded) {
      // The network process hears nothing; systemd hears that a reload came
      // and went, as it would from it.
      notifier_.send(reloading_state());
      LogLine(log_, LogLevel::kError) << "reload: " << o_.config_path
                                      << " is invalid; keeping the running configuration";
      for (const auto& d : loaded.error()) LogLine(log_, LogLevel::kError) << "reload: " << d.to_string();
      notifier_.send("READY=1");
    } else {
      std::string frame = encode_file_set(files);
      if (!write_all(channel_.get(), frame)) {
        // Part of a frame may have gone: the stream is no longer whole, and
        // the network process must not read the next frame as this one's
        // rest. It stops on the closed channel, as a failure (restarted).
        LogLine(log_, LogLevel::kError) << "reload: cannot hand the configuration to the network process ("
                                        << std::strerror(errno) << "); stopping it";
        ::shutdown(channel_.get(), SHUT_RDWR);
      }
      secure_zero(frame.data(), frame.size());
    }
    files.wipe();
  }

  void note_socket() {
    sockets_.clear();
    for (const std::string* path : {&o_.socket_path, &o_.status_socket_path}) {
      struct stat st {};
      if (!path->empty() && ::lstat(path->c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) sockets_.emplace_back(*path, st);
    }
  }

  // The network process (not root) may not remove its sockets from root's
  // /run/wireguard and /run/sitelink; the monitor does, each only if the
  // file is still the one it made.
  void remove_socket() {
    for (const auto& [path, made] : sockets_) {
      struct stat st {};
      if (::lstat(path.c_str(), &st) != 0) continue;
      if (st.st_dev == made.st_dev && st.st_ino == made.st_ino) ::unlink(path.c_str());
    }
  }

  pid_t child_;
  UniqueFd channel_;
  bool channel_open_ = true;
  std::string in_;  // what the network process sent that is not yet a whole message
  Notifier notifier_;
  UniqueFd signals_;
  const MonitorOptions& o_;
  tunnel::Logger& log_;
  std::vector<std::pair<std::string, struct stat>> sockets_;
  std::optional<int> exit_code_;
};

}  // namespace

int run_monitor(Split split, const MonitorOptions& options, tunnel::Logger& log) {
  disable_core_dumps();
  (void)lock_memory();  // key files pass through on reload; the network process reports locking
  const auto dropped = become_monitor();
  Monitor m(std::move(split), options, log);
  if (!dropped) {
    LogLine(log, LogLevel::kError) << "monitor: cannot drop privileges (" << dropped.error().message() << "); stopping";
    ::shutdown(m.channel(), SHUT_RDWR);
  }
  return m.run();
}

}  // namespace sitelink::daemon
