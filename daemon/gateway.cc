// The running gateway; see gateway.h.
#include "daemon/gateway.h"

#include <fcntl.h>
#include <malloc.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <utility>

#include "config/load.h"
#include "daemon/daemonize.h"
#include "daemon/exit_codes.h"
#include "daemon/journal_events.h"
#include "daemon/memory_lock.h"
#include "daemon/privileges.h"
#include "daemon/privsep.h"

namespace sitelink::daemon {

using namespace std::chrono_literals;
using tunnel::LogLevel;
using tunnel::LogLine;

namespace {

// How often DNS endpoints of peers whose handshakes keep failing are looked
// up again, so a peer whose dynamic DNS name moved is found again.
constexpr Duration kReResolveInterval = 10s;
constexpr Duration kStatusInterval = 1s;
// "Keep failing": this many unanswered retransmissions (about 10 s).
constexpr int kFailedAttemptsBeforeReResolve = 2;

// crypto-threads: auto is one thread per CPU beyond two (one for the packet
// loop, one for the kernel's share of every packet: TUN, UDP, the NIC), up
// to kAutoCryptoThreadsMax. Measured on 2 cores, a pool thread there took
// CPU from the kernel and lost 4% of the throughput.
constexpr unsigned kAutoCryptoThreadsMax = 7;
tunnel::CryptoPool::Options crypto_options(const config::DataPathConfig& d) {
  tunnel::CryptoPool::Options o;
  if (d.crypto_threads) {
    o.threads = *d.crypto_threads;
  } else {
    // The CPUs this process may run on (systemd's CPUAffinity= included).
    cpu_set_t set;
    const int cpus = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
    o.threads = std::min(static_cast<unsigned>(std::max(cpus, 2)) - 2, kAutoCryptoThreadsMax);
  }
  return o;
}

tunnel::SysResult<tunnel::UniqueFd> block_signals() {
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&set, s);
  if (sigprocmask(SIG_BLOCK, &set, nullptr) != 0) return tunnel::errno_error("sigprocmask");
  tunnel::UniqueFd fd(signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC));
  if (!fd.valid()) return tunnel::errno_error("signalfd");
  return fd;
}

// Keys stay out of core files and, where the memory limit allows, out of
// swap (memory_lock.h). Called after any fork: locks are not inherited.
void protect_secrets(tunnel::Logger& log) {
  disable_core_dumps();
  if (auto m = lock_memory(); !m.locked) LogLine(log, LogLevel::kWarn) << m.warning;
}

}  // namespace

Gateway::Gateway(std::string path, config::Config cfg, tunnel::Logger& log, tunnel::Netlink nl, tunnel::LinuxTun tun,
                 tunnel::LinuxUdp udp)
    : path_(std::move(path)),
      cfg_(std::move(cfg)),
      log_(log),
      nl_(std::move(nl)),
      tun_(std::move(tun)),
      udp_(std::move(udp)) {
  dev_ = std::make_unique<tunnel::Device>(cfg_.interface.private_key, device_settings(cfg_.interface), clock_, rng_,
                                          tun_, udp_, log_);
  send_audit_events_to_journal(dev_->audit(), log_, cfg_.interface.name);
}

// Becomes the daemon's user with CAP_NET_ADMIN only (privileges.h), then
// starts the threads: a thread keeps the capabilities it was started with
// (capset is per thread). Input from the network is read only after this.
tunnel::SysResult<void> Gateway::drop_privileges_and_start_threads(const config::DaemonUser& user) {
  if (auto r = become_network_process(user); !r) {
    return tunnel::sys_error(r.error().error, "cannot drop privileges to user '" + user.name +
                                                  "': " + r.error().message() + "; refusing to read network input");
  }
  LogLine(log_, LogLevel::kDebug) << "network process runs as " << user.name << " with CAP_NET_ADMIN only";
  resolver_.start();
  reloads_.start();
  start_crypto(cfg_.interface.data_path);
  monitor_->socket_up();
  return {};
}

// (Re)starts the crypto threads crypto-threads asks for; a thread that
// cannot be made leaves its share to the packet loop.
void Gateway::start_crypto(const config::DataPathConfig& d) {
  const auto crypto = crypto_options(d);
  dev_->set_crypto(crypto);
  if (dev_->crypto_threads() < crypto.threads) {
    LogLine(log_, LogLevel::kWarn) << "started " << dev_->crypto_threads() << " of " << crypto.threads
                                   << " crypto threads; the packet loop does the rest";
  }
}

size_t Gateway::set_crypto(const config::DataPathConfig& d) {
  start_crypto(d);
  return dev_->crypto_threads();
}

Gateway::~Gateway() = default;

tunnel::SysResult<std::unique_ptr<Gateway>> Gateway::start(std::string path, const config::Config& cfg,
                                                           tunnel::Logger& log, Separation sep) {
  handshake::crypto_init();
  protect_secrets(log);
  auto signals = block_signals();
  if (!signals) return Err(signals.error());
  auto nl = tunnel::Netlink::open();
  if (!nl) return Err(nl.error());
  auto tun = tunnel::LinuxTun::open(cfg.interface.name, tun_options(cfg.interface.data_path));
  if (!tun) return Err(tun.error());
  auto udp = tunnel::LinuxUdp::bind(cfg.interface.listen_port, cfg.interface.fwmark,
                                    udp_options(cfg.interface.data_path));
  if (!udp) return Err(udp.error());
  // The interface comes up without peers; they arrive as a change, through
  // the same path as a reload.
  config::Config base = cfg;
  base.peers.clear();
  std::unique_ptr<Gateway> g(
      new Gateway(std::move(path), std::move(base), log, std::move(*nl), std::move(*tun), std::move(*udp)));
  g->signals_ = std::move(*signals);
  g->monitor_ = std::make_unique<MonitorLink>(std::move(sep.channel));
  g->notifier_.relay_through([m = g->monitor_.get()](std::string_view s) { m->notify(s); });
  if (auto r = g->configure_link(); !r) return Err(r.error());
  // Addresses, peers and routes. The first packets can enter the interface
  // once this returns, and every peer with an endpoint has been sent an
  // initiation: the peers' answers (a round trip and their X25519 work)
  // come while the control socket is made, privileges are dropped and
  // threads started; they wait in the socket until the loop reads them.
  const config::Config before = g->cfg_;
  g->apply(before, cfg, "start-up", g->path_);
  if (auto r = g->setup_loop(); !r) return Err(r.error());
  // Everything that needs more than CAP_NET_ADMIN is done.
  if (auto r = g->drop_privileges_and_start_threads(sep.user); !r) return Err(r.error());
  return g;
}

tunnel::SysResult<std::unique_ptr<Gateway>> Gateway::start_interface(const std::string& iface, tunnel::Logger& log,
                                                                     Separation sep) {
  handshake::crypto_init();
  protect_secrets(log);
  auto signals = block_signals();
  if (!signals) return Err(signals.error());
  auto nl = tunnel::Netlink::open();
  if (!nl) return Err(nl.error());
  const config::DataPathConfig defaults;
  auto tun = tunnel::LinuxTun::open(iface, tun_options(defaults));
  if (!tun) return Err(tun.error());
  auto udp = tunnel::LinuxUdp::bind(0, 0, udp_options(defaults));
  if (!udp) return Err(udp.error());
  handshake::SodiumRng rng;
  config::Config cfg;
  cfg.interface.name = iface;
  cfg.interface.private_key = handshake::PrivateKey::generate(rng);  // unused until `wg` sets one
  cfg.interface.listen_port = 0;
  cfg.interface.routes = false;  // addresses, MTU and routes are the caller's business
  std::unique_ptr<Gateway> g(new Gateway("", std::move(cfg), log, std::move(*nl), std::move(*tun), std::move(*udp)));
  g->dev_->clear_private_key(g->rng_);
  g->cfg_.interface.private_key = handshake::PrivateKey();  // none until `wg` sets one
  g->signals_ = std::move(*signals);
  g->monitor_ = std::make_unique<MonitorLink>(std::move(sep.channel));
  g->notifier_.relay_through([m = g->monitor_.get()](std::string_view s) { m->notify(s); });
  if (auto r = g->setup_loop(); !r) return Err(r.error());
  g->control_->set_on_removed([gw = g.get()] {
    LogLine(gw->log_, LogLevel::kInfo) << "control socket " << gw->control_->path() << " removed, shutting down";
    gw->loop_->stop();
  });
  if (auto r = g->drop_privileges_and_start_threads(sep.user); !r) return Err(r.error());
  return g;
}

tunnel::SysResult<void> Gateway::configure_link() {
  const int ifindex = tun_.ifindex();
  if (auto r = nl_.set_mtu(ifindex, cfg_.interface.mtu); !r) return r;
  if (auto r = nl_.set_up(ifindex, true); !r) return r;
  return {};
}

namespace {

// Already gone (removed by hand, or with the interface): nothing to undo.
bool already_gone(int err) { return err == ENOENT || err == ESRCH || err == EADDRNOTAVAIL || err == ENODEV; }

// Brings `installed` (what we added to the kernel) to `wanted`: removes what
// is no longer wanted, adds what is missing. Returns one message per
// failure; a failed add is retried on the next sync. Only things we added
// are ever removed.
template <typename Add, typename Del>
std::vector<std::string> sync_set(std::set<config::IpPrefix>& installed, const std::vector<config::IpPrefix>& wanted,
                                  Add add, Del del, const char* what) {
  std::vector<std::string> failed;
  const std::set<config::IpPrefix> want(wanted.begin(), wanted.end());
  for (auto it = installed.begin(); it != installed.end();) {
    if (want.contains(*it)) {
      ++it;
      continue;
    }
    if (auto r = del(*it); !r && !already_gone(r.error().error)) {
      failed.push_back(std::string("cannot remove ") + what + " " + it->to_string() + ": " + r.error().message());
    }
    it = installed.erase(it);
  }
  for (const auto& p : want) {
    if (installed.contains(p)) continue;
    if (auto r = add(p); !r) {
      failed.push_back(std::string("cannot add ") + what + " " + p.to_string() + ": " + r.error().message());
      continue;
    }
    installed.insert(p);
  }
  return failed;
}

}  // namespace

std::vector<std::string> Gateway::sync_addresses(const std::vector<config::IpPrefix>& wanted) {
  const int ifindex = tun_.ifindex();
  return sync_set(
      addresses_, wanted, [&](const config::IpPrefix& a) { return nl_.add_address(ifindex, a); },
      [&](const config::IpPrefix& a) { return nl_.del_address(ifindex, a); }, "address");
}

std::vector<std::string> Gateway::sync_routes(const std::vector<config::IpPrefix>& wanted) {
  const int ifindex = tun_.ifindex();
  return sync_set(
      routes_, wanted, [&](const config::IpPrefix& r) { return nl_.add_route(ifindex, r); },
      [&](const config::IpPrefix& r) { return nl_.del_route(ifindex, r); }, "route");
}

std::optional<tunnel::SockAddr> Gateway::resolve(const config::EndpointSpec& e) {
  if (e.address) return tunnel::SockAddr(*e.address, e.port);
  return resolve_now(e.host, e.port);
}

std::vector<tunnel::SockAddr> Gateway::resolve_all(const config::EndpointSpec& e) {
  if (e.address) return {tunnel::SockAddr(*e.address, e.port)};
  auto all = resolve_all_now(e.host, e.port);
  list_names_[e.to_string()] = all;
  return all;
}

std::optional<bool> Gateway::forwarding(config::Family family) {
  const char* path = family == config::Family::kV4 ? "/proc/sys/net/ipv4/ip_forward"
                                                   : "/proc/sys/net/ipv6/conf/all/forwarding";
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  char c = 0;
  const ssize_t n = ::read(fd, &c, 1);
  ::close(fd);
  if (n != 1) return std::nullopt;
  return c != '0';
}

tunnel::SysResult<void> Gateway::set_mtu(uint32_t mtu) { return nl_.set_mtu(tun_.ifindex(), mtu); }

tunnel::SysResult<void> Gateway::set_fwmark(uint32_t mark) { return udp_.set_fwmark(mark); }

ChangeReport Gateway::apply(const config::Config& before, const config::Config& next, std::string_view what,
                            std::string_view source) {
  ChangeReport report;
  cfg_ = apply_change(before, next, *dev_, *this, rng_, report);
  // At start-up the interface's own line says what runs; only trouble is news.
  log_report(log_, what, source, report, what == "start-up");
  return report;
}

tunnel::SysResult<void> Gateway::setup_loop() {
  auto loop = tunnel::EventLoop::create();
  if (!loop) return Err(loop.error());
  loop_ = std::move(*loop);
  if (auto r = loop_->watch(tun_.fd(), [this] { on_tun_readable(); }); !r) return r;
  if (auto r = loop_->watch(udp_.fd(), [this] { dev_->handle_udp_readable(); }); !r) return r;
  if (auto r = loop_->watch(signals_.get(), [this] { on_signal(); }); !r) return r;
  if (auto r = loop_->watch(resolver_.fd(), [this] { take_resolved(); }); !r) return r;
  if (auto r = loop_->watch(reloads_.fd(), [this] { on_reloaded(); }); !r) return r;
  if (auto r = loop_->watch(monitor_->fd(), [this] { on_monitor(); }); !r) return r;
  auto control = ControlSocket::listen(cfg_.interface.name, *this, *loop_);
  if (!control) return Err(control.error());
  control_ = std::move(*control);
  control_->set_logger(&log_);
  // The status socket serves monitoring only: the gateway runs without it.
  if (auto status = ControlSocket::listen_status(cfg_.interface.name, *this, *loop_)) {
    status_ = std::move(*status);
    status_->set_logger(&log_);
  } else {
    LogLine(log_, LogLevel::kWarn)
        << "no status socket (sitelink metrics, and sitelink show without root, will not see " << cfg_.interface.name
        << "): " << status.error().message();
  }
  loop_->set_timer_handler([this] { dev_->handle_timers(); });
  loop_->set_after_events([this] { after_events(); });
  return {};
}

std::string Gateway::status_line() const {
  return std::to_string(dev_->sessions_up()) + "/" + std::to_string(dev_->peer_count()) + " peers up on " +
         cfg_.interface.name + ", port " + std::to_string(udp_.port());
}

// Runs after every batch of events: re-arm the single timer for the earliest
// of the protocol deadlines and our own housekeeping.
void Gateway::after_events() {
  const Instant now = clock_.now().mono;
  if (now >= next_resolve_check_) {
    re_resolve();
    next_resolve_check_ = now + kReResolveInterval;
  }
  if (notifier_.watchdog_interval() && now >= next_watchdog_) {
    notifier_.send("WATCHDOG=1");
    next_watchdog_ = now + *notifier_.watchdog_interval();
  }
  // The status line costs a pass over the peers: at most once a second,
  // and a second after the last wake-up that may have changed it.
  status_stale_ = true;
  if (now >= next_status_) {
    std::string status = status_line();
    if (status != last_status_) {
      notifier_.send("STATUS=" + status);
      last_status_ = std::move(status);
    }
    status_stale_ = false;
    next_status_ = now + kStatusInterval;
  }
  Instant deadline = std::min(dev_->next_deadline(), next_resolve_check_);
  if (status_stale_) deadline = std::min(deadline, next_status_);
  if (notifier_.watchdog_interval()) deadline = std::min(deadline, next_watchdog_);
  if (auto r = loop_->set_deadline(deadline); !r) {
    LogLine(log_, LogLevel::kError) << r.error().message();
  }
}

void Gateway::re_resolve() {
  bool no_worker = false;
  for (const auto& p : cfg_.peers) {
    const bool names = std::any_of(p.endpoints.begin(), p.endpoints.end(),
                                   [](const config::EndpointEntry& e) { return e.endpoint.is_dns_name; });
    if ((!p.endpoint || !p.endpoint->is_dns_name) && !names) continue;
    auto st = dev_->peer(p.public_key, tunnel::Device::kWithoutAllowedIps);
    if (st && st->has_session && st->handshake_attempts < kFailedAttemptsBeforeReResolve) continue;
    if (p.endpoint && p.endpoint->is_dns_name) {
      if (!resolver_.request(p.public_key, p.endpoint->host, p.endpoint->port)) no_worker = true;
    }
    for (const auto& e : p.endpoints) {
      if (e.endpoint.is_dns_name && !resolver_.request(p.public_key, e.endpoint.host, e.endpoint.port)) {
        no_worker = true;
      }
    }
  }
  if (no_worker) {
    LogLine(log_, LogLevel::kWarn) << "cannot start the DNS lookup thread; trying again in "
                                   << std::chrono::duration_cast<std::chrono::seconds>(kReResolveInterval).count()
                                   << " s";
  }
}

void Gateway::take_resolved() {
  for (auto& r : resolver_.take()) {
    const auto cfg = std::find_if(cfg_.peers.begin(), cfg_.peers.end(),
                                  [&](const config::PeerConfig& p) { return p.public_key == r.peer; });
    if (cfg != cfg_.peers.end() && !cfg->endpoints.empty()) {
      take_resolved_list(*cfg, r);
      continue;
    }
    auto st = dev_->peer(r.peer, tunnel::Device::kWithoutAllowedIps);
    if (!st || !r.address || st->endpoint == r.address) continue;
    if (!st->endpoint) {
      LogLine(log_, LogLevel::kInfo) << "peer " << st->label << ": " << r.host << " now resolves to "
                                     << r.address->to_string();
    }
    dev_->set_endpoint(r.peer, *r.address, "(" + r.host + " now resolves to it)");
    dev_->initiate(r.peer);
  }
}

// A name of an `endpoints:` entry answered: when its addresses changed the
// list is rebuilt (from what every name answered last) and starts again
// from its first entry.
void Gateway::take_resolved_list(const config::PeerConfig& p, const Resolver::Result& r) {
  std::string name;
  for (const auto& e : p.endpoints) {
    if (e.endpoint.is_dns_name && e.endpoint.host == r.host) name = e.endpoint.to_string();
  }
  if (name.empty() || r.addresses.empty() || list_names_[name] == r.addresses) return;
  list_names_[name] = r.addresses;
  std::string text;
  for (const auto& a : r.addresses) text += (text.empty() ? "" : ", ") + a.to_string();
  LogLine(log_, LogLevel::kInfo) << "peer " << p.label() << ": " << r.host << " now resolves to " << text;
  std::vector<std::string> unresolved;
  const auto choices = endpoint_choices(
      p, [this](const config::EndpointSpec& e) { return list_names_[e.to_string()]; }, unresolved);
  dev_->set_endpoint_list(p.public_key, choices,
                          "(" + r.host + " resolves anew; the list starts again from its first entry)");
  dev_->initiate(p.public_key);
}

void Gateway::on_tun_readable() {
  dev_->handle_tun_readable();
  if (tun_.gone()) {
    LogLine(log_, LogLevel::kInfo) << "interface " << cfg_.interface.name << " was deleted, shutting down";
    loop_->stop();
  }
}

void Gateway::on_signal() {
  signalfd_siginfo si{};
  while (::read(signals_.get(), &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
    if (si.ssi_signo == SIGHUP) {
      reload();
    } else {
      LogLine(log_, LogLevel::kInfo) << "received " << strsignal(static_cast<int>(si.ssi_signo)) << ", shutting down";
      loop_->stop();
      return;
    }
  }
}

// The monitor reads the files (they may be root's alone) and hands them
// over; see on_monitor.
void Gateway::reload() {
  if (path_.empty()) {
    LogLine(log_, LogLevel::kInfo) << "SIGHUP ignored: no configuration file (configure with wg)";
    return;
  }
  monitor_->ask_reload();
}

void Gateway::on_monitor() {
  auto in = monitor_->read();
  for (auto& files : in.file_sets) {
    notifier_.send(reloading_state());
    // The job takes the files (it wipes them); what stays here is empty.
    ReloadJob job;
    std::swap(job.files, files);
    if (!reloads_.request(std::move(job))) {
      LogLine(log_, LogLevel::kError) << "reload: no thread to read the configuration could be started (a "
                                         "resource limit?); it is applied when one can be, at the next reload";
      notifier_.send("READY=1");
    }
  }
  if (!in.error.empty()) LogLine(log_, LogLevel::kError) << "monitor channel: " << in.error;
  if (in.stop) {
    LogLine(log_, LogLevel::kInfo) << "received " << strsignal(*in.stop) << " (through the monitor), shutting down";
    loop_->stop();
  } else if (in.gone) {
    LogLine(log_, LogLevel::kError) << "the monitor process is gone; shutting down";
    monitor_lost_ = true;
    loop_->stop();
  }
}

// A reloaded configuration, read on the worker thread, is applied here.
void Gateway::on_reloaded() {
  for (auto& [config_path, loaded] : reloads_.take()) {
    if (!loaded) {
      // The monitor validated the same text: only a race with an edit gets here.
      LogLine(log_, LogLevel::kError) << "reload: " << config_path << " is invalid; keeping the running configuration";
      for (const auto& d : loaded.error()) LogLine(log_, LogLevel::kError) << "reload: " << d.to_string();
      notifier_.send("READY=1");
      continue;
    }
    for (const auto& d : loaded->warnings) {
      LogLine(log_, d.severity == config::Severity::kNote ? LogLevel::kInfo : LogLevel::kWarn) << d.to_string();
    }
    // The file is the whole truth: peers added with `wg set` go too.
    const config::Config before = cfg_;
    apply(before, loaded->config, "reload", path_);
    notifier_.send("READY=1");
  }
}

int Gateway::run() {
  LogLine(log_, LogLevel::kInfo) << "sitelinkd: interface " << cfg_.interface.name << " up, listening on port "
                                 << udp_.port() << ", " << dev_->peer_count() << " peer(s)";
  notifier_.send("READY=1\nSTATUS=" + status_line());
  after_events();
  auto r = loop_->run();
  notifier_.send("STOPPING=1");
  for (const auto& route : routes_) (void)nl_.del_route(tun_.ifindex(), route);
  for (const auto& a : addresses_) (void)nl_.del_address(tun_.ifindex(), a);
  if (!r) {
    LogLine(log_, LogLevel::kError) << r.error().message();
    return kExitFailure;
  }
  return monitor_lost_ ? kExitFailure : kExitOk;
}

tunnel::LogLevel to_tunnel(config::LogLevel l) {
  switch (l) {
    case config::LogLevel::kError: return LogLevel::kError;
    case config::LogLevel::kWarn: return LogLevel::kWarn;
    case config::LogLevel::kInfo: return LogLevel::kInfo;
    case config::LogLevel::kDebug: return LogLevel::kDebug;
  }
  return LogLevel::kInfo;
}

bool Gateway::set_log_level(std::optional<config::LogLevel> level) {
  if (log_level_pinned_) return false;
  log_.set_level(to_tunnel(level.value_or(config::LogLevel::kInfo)));
  return true;
}

namespace {

// Splits into the monitor and the network process (privsep.h). Returns the
// exit code in the monitor; nullopt in the network process, with `sep` set.
std::optional<int> separate(const std::string& config_path, const std::string& iface, tunnel::Logger& log,
                            Gateway::Separation& sep, Detach* detach, const std::function<void()>& in_monitor = {}) {
  auto user = network_user();
  if (!user) {
    LogLine(log, LogLevel::kError) << "sitelinkd: " << user.error().message();
    if (detach != nullptr) detach->failed("sitelinkd: " + user.error().message());
    return kExitFailure;
  }
  auto split = split_processes();
  if (!split) {
    LogLine(log, LogLevel::kError) << "sitelinkd: " << split.error().message();
    if (detach != nullptr) detach->failed("sitelinkd: " + split.error().message());
    return kExitFailure;
  }
  if (split->is_monitor()) {
    // The network process says ready or failed to whoever waits.
    if (detach != nullptr) detach->release();
    // Made before in_monitor, which may clear what `iface` refers to.
    MonitorOptions options{config_path, socket_path(iface), socket_path(iface, kStatusDirectory)};
    if (in_monitor) in_monitor();
    return run_monitor(std::move(*split), options, log);
  }
  sep.channel = std::move(split->channel);
  sep.user = *user;
  return std::nullopt;
}

}  // namespace

int run_gateway(const std::string& path, config::Config cfg, std::optional<config::LogLevel> cli_level) {
  tunnel::Logger log;
  log.set_level(to_tunnel(cli_level.value_or(cfg.interface.log_level.value_or(config::LogLevel::kInfo))));
  Gateway::Separation sep;
  // The monitor has no use for the loaded configuration: it drops it (its
  // keys wiped) and gives the memory back, rather than keep a copy of every
  // peer beside the network process's.
  const auto drop_config = [&cfg] {
    cfg = config::Config{};
    ::malloc_trim(0);
  };
  if (auto monitor_exit = separate(path, cfg.interface.name, log, sep, nullptr, drop_config)) return *monitor_exit;
  auto g = Gateway::start(path, cfg, log, std::move(sep));
  if (!g) {
    LogLine(log, LogLevel::kError) << "sitelinkd: " << g.error().message();
    return kExitFailure;
  }
  if (cli_level) (*g)->pin_log_level();
  return (*g)->run();
}

int run_interface(const std::string& iface, bool foreground, config::LogLevel level) {
  Detach detach;
  const bool detached = !foreground && std::getenv("WG_PROCESS_FOREGROUND") == nullptr;
  if (detached) {
    if (auto parent_exit = Detach::start(detach)) return *parent_exit;
  }
  tunnel::Logger log;
  log.set_level(to_tunnel(level));
  if (detached) log.to_syslog("sitelinkd");
  Gateway::Separation sep;
  if (auto monitor_exit = separate("", iface, log, sep, &detach)) return *monitor_exit;
  auto g = Gateway::start_interface(iface, log, std::move(sep));
  if (!g) {
    const std::string why = "sitelinkd: " + g.error().message();
    LogLine(log, LogLevel::kError) << why;
    detach.failed(why);
    return kExitFailure;
  }
  detach.ready();
  return (*g)->run();
}

}  // namespace sitelink::daemon
