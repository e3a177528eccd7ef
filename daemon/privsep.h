// Privilege separation, in the OpenSSH and OpenBGPD style: sitelinkd runs
// as two processes.
//
//   monitor          the process that was started (systemd's MainPID). It
//                    reads the configuration and key files on reload,
//                    validates them and hands them over; it removes the
//                    control socket once the network process is gone; it
//                    forwards SIGTERM/SIGINT and exits with the network
//                    process's status. It never sees a packet or a UAPI
//                    request: its only input is its own files, signals and
//                    the few fixed messages below.
//   network process  its child: the TUN, the UDP socket, the control
//                    socket, the handshakes: everything that reads input
//                    from the network or from local clients, as the
//                    daemon's user with CAP_NET_ADMIN only (privileges.h).
//
// The two talk over a socketpair (the channel). Network process to monitor:
//   'R'  reload, please (it was sent SIGHUP itself)
//   'U'  up: the control socket exists (the monitor notes which file it is)
//   'N' u16 length, text: an sd_notify message for systemd, which listens to
//        the main PID only (NotifyAccess=main); the monitor passes on only
//        the lines READY=1, RELOADING=1, STOPPING=1, WATCHDOG=1, STATUS=
//        and MONOTONIC_USEC= (never MAINPID= or file descriptors)
// The monitor trusts none of it: anything else is dropped and counted.
// Monitor to network process, frames (integers are big-endian):
//   "SLF1" u32 payload length, then the payload: a file set (config/load.h's
//          FileSet): u32 record count; records of u32 name length, name,
//          u32 data length, data. The first record is the configuration
//          (its path and text), each other one a key file (its path and
//          trimmed contents). The network process loads the configuration
//          from it with config::load_files, on a worker thread (the packet
//          loop goes on), and applies it through the one change path
//          (reconfigure.h).
//   "SLS1" u32 signal number: stop, as if sent that signal (SIGTERM or
//          SIGINT). The monitor, root without CAP_KILL, may not signal a
//          process of another user; and the network process stops when the
//          channel closes, so that it never outlives the monitor.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "config/daemon_user.h"
#include "config/load.h"
#include "handshake/base/unique_fd.h"
#include "tunnel/log.h"
#include "tunnel/sys_error.h"

namespace sitelink::daemon {

inline constexpr char kAskReload = 'R';
inline constexpr char kSocketUp = 'U';
inline constexpr char kNotify = 'N';
inline constexpr size_t kMaxNotify = 4096;
// The largest configuration (config::kMaxConfigSize, 64 MiB) plus 1 KiB for
// a key file of every peer and the interface (its path, trimmed contents
// and the record's lengths; a key is 44 bytes).
inline constexpr size_t kMaxFileSetFrame = config::kMaxConfigSize + (config::kMaxPeers + 1) * 1024;

std::string encode_file_set(const config::FileSet& files);

std::string encode_stop(int signal);

struct MonitorFrame {
  enum class Status { kFileSet, kStop, kIncomplete, kBad };
  Status status = Status::kIncomplete;
  config::FileSet files;  // kFileSet
  int signal = 0;         // kStop
  size_t used = 0;        // bytes of the input the frame took (kFileSet, kStop)
  std::string error;      // kBad
};
// Decodes the frame at the start of `in`.
MonitorFrame decode_monitor_frame(std::span<const uint8_t> in);

struct ChildMessage {
  char kind = 0;     // kAskReload, kSocketUp or kNotify
  std::string text;  // kNotify
};
// Takes the complete messages from the front of `buffer`, removing them;
// bytes that begin no message are removed and counted in `junk`.
std::vector<ChildMessage> take_child_messages(std::string& buffer, size_t& junk);
std::string encode_notify(std::string_view text);
// The lines of an sd_notify message that the monitor passes on (above).
std::string allowed_notify(std::string_view text);

// Forks. In the monitor: the child's PID and the monitor's end of the
// channel. In the network process: pid 0 and its end. Signals SIGTERM,
// SIGINT, SIGHUP and SIGCHLD are blocked in the monitor (it takes them
// from a signalfd); the network process gets the watchdog (WATCHDOG_PID).
struct Split {
  pid_t child = 0;
  UniqueFd channel;
  bool is_monitor() const { return child > 0; }
};
[[nodiscard]] tunnel::SysResult<Split> split_processes();

// The monitor's whole life, after split_processes; returns the exit code.
// `config_path` is empty in cross-platform mode (nothing to reload);
// `socket_path` is the control socket's file, `status_socket_path` the
// status socket's (control_socket.h); each is removed at exit if still the
// file that was there at kSocketUp.
struct MonitorOptions {
  std::string config_path;
  std::string socket_path;
  std::string status_socket_path;
};
int run_monitor(Split split, const MonitorOptions& options, tunnel::Logger& log);

// The network process's end of the channel (non-blocking).
class MonitorLink {
 public:
  explicit MonitorLink(UniqueFd channel);
  MonitorLink(const MonitorLink&) = delete;
  MonitorLink& operator=(const MonitorLink&) = delete;
  ~MonitorLink();
  int fd() const { return fd_.get(); }
  void ask_reload() { send(std::string(1, kAskReload)); }
  void socket_up() { send(std::string(1, kSocketUp)); }
  void notify(std::string_view text) { send(encode_notify(text)); }

  struct Input {
    std::vector<config::FileSet> file_sets;  // complete frames, in order (wipe each)
    std::optional<int> stop;                 // the monitor asks us to stop (its signal)
    std::string error;                       // a bad frame: the channel is closed
    bool gone = false;                       // the monitor is gone (or sent garbage)
  };
  // Everything the socket holds now.
  Input read();

 private:
  void send(std::string_view message);
  UniqueFd fd_;
  std::string buf_;  // received, not yet a whole frame (may hold keys)
};

// The daemon's user, or an error that says how to make one.
[[nodiscard]] tunnel::SysResult<config::DaemonUser> network_user();

}  // namespace sitelink::daemon
