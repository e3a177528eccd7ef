// Gateway: `sitelinkd --config FILE` as a running process. The composition
// root: it builds the real TUN, UDP socket, netlink, clock and event loop
// around a tunnel::Device, applies the configuration (and, on SIGHUP, the
// difference to a re-read configuration), talks to systemd, and takes down
// what it set up when it stops.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>

#include "config/load.h"
#include "config/types.h"
#include "daemon/control_socket.h"
#include "daemon/privsep.h"
#include "daemon/reconfigure.h"
#include "daemon/resolver.h"
#include "daemon/sd_notify.h"
#include "daemon/uapi.h"
#include "daemon/worker_thread.h"
#include "handshake/crypto.h"
#include "tunnel/clock.h"
#include "tunnel/device.h"
#include "tunnel/event_loop.h"
#include "tunnel/log.h"
#include "tunnel/netlink.h"
#include "tunnel/tun_device.h"
#include "tunnel/udp_socket.h"

namespace sitelink::daemon {

// The config's data-path switches as the I/O classes take them.
inline tunnel::LinuxTun::Options tun_options(const config::DataPathConfig& d) { return {d.tun_offload}; }
inline tunnel::LinuxUdp::Options udp_options(const config::DataPathConfig& d) {
  return {d.batch_io, d.udp_gso, d.udp_gro, static_cast<int>(d.socket_buffer)};
}

class Gateway final : public UapiBackend, private GatewayControl {
 public:
  // Sets everything up; on failure the error says what could not be done.
  // The network process's side of privilege separation (privsep.h): the
  // channel to the monitor and the user to become once set up.
  struct Separation {
    UniqueFd channel;
    config::DaemonUser user;
  };
  [[nodiscard]] static tunnel::SysResult<std::unique_ptr<Gateway>> start(std::string config_path,
                                                                         const config::Config& cfg, tunnel::Logger& log,
                                                                         Separation sep);
  // Cross-platform mode (`sitelinkd IFACE`, as `wireguard-go IFACE`): only
  // the TUN and the control socket; everything else comes from `wg`.
  [[nodiscard]] static tunnel::SysResult<std::unique_ptr<Gateway>> start_interface(const std::string& iface,
                                                                                   tunnel::Logger& log, Separation sep);
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;
  ~Gateway() override;
  // Runs until SIGTERM or SIGINT; returns the exit code.
  int run();
  // --log-level was given: reloads leave the logger's level alone.
  void pin_log_level() { log_level_pinned_ = true; }

  // UAPI (wg show / wg set) over /run/wireguard/IFACE.sock: the running
  // state. `wg set` changes it until the next reload or restart, through the
  // same change path as a reload (reconfigure.h; gateway_uapi.cc).
  UapiDeviceState get_device() override;
  std::optional<UapiPeerState> get_peer(const handshake::PublicKey& key) override;
  int set(const UapiSet& request) override;
  std::string status() override;

 private:
  Gateway(std::string path, config::Config cfg, tunnel::Logger& log, tunnel::Netlink nl, tunnel::LinuxTun tun,
          tunnel::LinuxUdp udp);
  [[nodiscard]] tunnel::SysResult<void> configure_link();
  [[nodiscard]] tunnel::SysResult<void> setup_loop();
  [[nodiscard]] tunnel::SysResult<void> drop_privileges_and_start_threads(const config::DaemonUser& user);
  void start_crypto(const config::DataPathConfig& d);
  // The one change path (reconfigure.h): `next` over `before` (the
  // configuration in effect) becomes cfg_; logged as `what` (log_report).
  ChangeReport apply(const config::Config& before, const config::Config& next, std::string_view what,
                     std::string_view source = {});
  void on_signal();
  void on_tun_readable();
  void reload();
  void on_monitor();
  void on_reloaded();
  void re_resolve();
  void take_resolved();
  void take_resolved_list(const config::PeerConfig& p, const Resolver::Result& r);
  void after_events();
  std::string status_line() const;

  // GatewayControl: the kernel's side of a change.
  tunnel::SysResult<void> set_mtu(uint32_t mtu) override;
  tunnel::SysResult<void> set_fwmark(uint32_t mark) override;
  tunnel::SysResult<void> set_listen_port(uint16_t port) override;
  std::vector<std::string> sync_addresses(const std::vector<config::IpPrefix>& wanted) override;
  std::vector<std::string> sync_routes(const std::vector<config::IpPrefix>& wanted) override;
  std::optional<tunnel::SockAddr> resolve(const config::EndpointSpec& endpoint) override;
  std::vector<tunnel::SockAddr> resolve_all(const config::EndpointSpec& endpoint) override;
  size_t set_crypto(const config::DataPathConfig& d) override;
  bool set_log_level(std::optional<config::LogLevel> level) override;
  std::optional<bool> forwarding(config::Family family) override;

  std::string path_;  // empty in cross-platform mode
  config::Config cfg_;
  tunnel::Logger& log_;
  tunnel::Netlink nl_;
  tunnel::LinuxTun tun_;
  tunnel::LinuxUdp udp_;
  tunnel::SystemClock clock_;
  handshake::SodiumRng rng_;
  std::unique_ptr<tunnel::Device> dev_;
  std::unique_ptr<tunnel::EventLoop> loop_;
  tunnel::UniqueFd signals_;
  Resolver resolver_;
  // A reloaded configuration is parsed on a worker thread (about 2 s for
  // 130,000 allowed-ips, ten times that at the size limit), so that the
  // packet loop goes on meanwhile; on_reloaded applies it when it is back.
  // The job owns the files (keys among them) and wipes them when done.
  struct ReloadJob {
    config::FileSet files;
    ReloadJob() = default;
    ReloadJob(ReloadJob&&) noexcept = default;
    ReloadJob& operator=(ReloadJob&&) noexcept = default;
    ReloadJob(const ReloadJob&) = delete;
    ReloadJob& operator=(const ReloadJob&) = delete;
    ~ReloadJob() { files.wipe(); }
  };
  struct Reloaded {
    std::string config_path;
    Result<config::Loaded, config::Diagnostics> loaded;
  };
  WorkerThread<ReloadJob, Reloaded> reloads_{"sitelink-reload", [](ReloadJob& job) {
                                               return Reloaded{job.files.config_path, config::load_files(job.files)};
                                             }};
  // What each DNS name of an `endpoints:` entry resolved to last ("host:port"),
  // so that a list is rebuilt from a new answer without a blocking lookup.
  std::map<std::string, std::vector<tunnel::SockAddr>> list_names_;
  std::unique_ptr<ControlSocket> control_;
  std::unique_ptr<ControlSocket> status_;  // read-only, /run/sitelink/IFACE.sock; null if it could not be made
  std::unique_ptr<MonitorLink> monitor_;
  Notifier notifier_;
  std::set<config::IpPrefix> routes_;     // routes we added
  std::set<config::IpPrefix> addresses_;  // addresses we added
  Instant next_resolve_check_;
  Instant next_watchdog_;
  std::string last_status_;
  Instant next_status_{};
  bool status_stale_ = false;
  bool log_level_pinned_ = false;  // --log-level given: the file's log-level does not apply
  bool monitor_lost_ = false;      // stopped because the monitor went: a failure, to be restarted
};

// The logger's level for a configured one.
tunnel::LogLevel to_tunnel(config::LogLevel l);

// sitelinkd --config: load, start, run. Returns the exit code. `cli_level`
// (--log-level) wins over the file's log-level, at start and on reloads.
int run_gateway(const std::string& path, config::Config cfg, std::optional<config::LogLevel> cli_level);
// sitelinkd [-f] IFACE: daemonizes unless `foreground` (the parent exits 0
// once the interface and socket exist, 1 if they could not be made).
int run_interface(const std::string& iface, bool foreground, config::LogLevel level);

}  // namespace sitelink::daemon
