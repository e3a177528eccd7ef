// Applying a configuration change to the running gateway (see reconfigure.h).
#include "daemon/reconfigure.h"

#include "daemon/local_addresses.h"
#include "tunnel/netmap_table.h"

#include <algorithm>
#include <cerrno>
#include <map>
#include <set>

namespace sitelink::daemon {

std::vector<tunnel::EndpointChoice> endpoint_choices(
    const config::PeerConfig& p,
    const std::function<std::vector<tunnel::SockAddr>(const config::EndpointSpec&)>& addresses_of,
    std::vector<std::string>& unresolved) {
  std::vector<tunnel::EndpointChoice> out;
  for (const auto& e : p.endpoints) {
    const tunnel::LocalAddr source{e.source, 0};
    if (!e.endpoint.is_dns_name) {
      out.push_back({tunnel::SockAddr(*e.endpoint.address, e.endpoint.port), source, e.to_string()});
      continue;
    }
    const auto addresses = addresses_of(e.endpoint);
    if (addresses.empty()) unresolved.push_back(e.endpoint.host);
    for (const auto& a : addresses) out.push_back({a, source, e.to_string() + " (" + a.to_string() + ")"});
  }
  if (out.size() > tunnel::EndpointFailover::kMaxEntries) out.resize(tunnel::EndpointFailover::kMaxEntries);
  return out;
}

// Routing an office's LAN (a prefix wider than one address that is not our
// own interface's subnet) through the tunnel needs this host to forward
// packets; with forwarding off, the tunnel comes up and the LANs still
// cannot reach each other. Said at start-up, at every change, and by show.
tunnel::Device::Settings device_settings(const config::InterfaceConfig& i) {
  tunnel::EndpointFailover::Settings failover;
  failover.failover_after = i.failover_after;
  failover.failback_interval = i.failback_interval;
  return tunnel::Device::Settings{i.mtu, i.rekey_after_time,
                                  tunnel::MssLimits{i.mss_clamp.ipv4_limit(i.mtu), i.mss_clamp.ipv6_limit(i.mtu)},
                                  failover, i.copy_dscp};
}

std::vector<std::string> forwarding_warnings(const config::Config& cfg, GatewayControl& gw) {
  const auto own_subnet = [&](const config::IpPrefix& p) {
    return std::any_of(cfg.interface.addresses.begin(), cfg.interface.addresses.end(),
                       [&](const config::IpPrefix& a) { return a.canonical().contains(p); });
  };
  std::vector<std::string> out;
  for (const config::Family family : {config::Family::kV4, config::Family::kV6}) {
    std::string example;
    for (const auto& p : cfg.peers) {
      for (const auto& a : p.allowed_ips) {
        if (a.family() != family || a.length() == a.address().max_prefix_length() || own_subnet(a)) continue;
        example = a.to_string() + " (peer " + p.label() + ")";
        break;
      }
      if (!example.empty()) break;
    }
    if (example.empty() || gw.forwarding(family).value_or(true)) continue;
    const bool v4 = family == config::Family::kV4;
    out.push_back(std::string("allowed-ips such as ") + example + " route a network through the tunnel, but " +
                  (v4 ? "net.ipv4.ip_forward" : "net.ipv6.conf.all.forwarding") +
                  " is 0: this host will not forward between it and the tunnel; set it to 1 (sysctl -w " +
                  (v4 ? "net.ipv4.ip_forward=1" : "net.ipv6.conf.all.forwarding=1") +
                  ", and in /etc/sysctl.d/ to keep it)");
  }
  return out;
}

namespace {

using tunnel::LogLevel;
using tunnel::LogLine;

// Items beyond this many are summarised ("and 3,000 more") so that a change
// to thousands of peers stays one readable line.
constexpr size_t kMaxItemsPerLine = 20;

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (size_t i = 0; i < items.size() && i < kMaxItemsPerLine; ++i) {
    if (i > 0) out += "; ";
    out += items[i];
  }
  if (items.size() > kMaxItemsPerLine) out += "; and " + std::to_string(items.size() - kMaxItemsPerLine) + " more";
  return out;
}

std::string list(const std::vector<std::string>& fields) {
  std::string out;
  for (const auto& f : fields) out += (out.empty() ? "" : ", ") + f;
  return out;
}

std::string prefixes(const std::vector<config::IpPrefix>& v) {
  if (v.empty()) return "none";
  std::vector<std::string> s;
  s.reserve(v.size());
  for (const auto& p : v) s.push_back(p.to_string());
  return list(s);
}

// What changed on one peer, for the log, one entry per field: its old and
// new value, allowed-ips as what was added and removed; never a key.
std::vector<std::string> describe(const config::PeerChange& c) {
  std::vector<std::string> parts;
  const auto& a = c.before;
  const auto& b = c.after;
  for (const auto& f : c.fields) {
    if (f == "name") {
      parts.emplace_back("name '" + a.name + "' -> '" + b.name + "'");
    } else if (f == "preshared-key") {
      parts.emplace_back(b.preshared_key.is_zero() ? "preshared key removed" : "preshared key changed");
    } else if (f == "endpoint") {
      parts.emplace_back("endpoint " + (a.endpoint ? a.endpoint->to_string() : "none") + " -> " +
                         (b.endpoint ? b.endpoint->to_string() : "none"));
    } else if (f == "endpoints") {
      const auto entries = [](const config::PeerConfig& p) {
        std::vector<std::string> s;
        for (const auto& e : p.endpoint_list()) s.push_back(e.to_string());
        return s.empty() ? std::string("none") : list(s);
      };
      parts.emplace_back("endpoints " + entries(a) + " -> " + entries(b));
    } else if (f == "allowed-ips") {
      const std::set<config::IpPrefix> was(a.allowed_ips.begin(), a.allowed_ips.end());
      const std::set<config::IpPrefix> now(b.allowed_ips.begin(), b.allowed_ips.end());
      std::vector<std::string> delta;
      for (const auto& p : now) {
        if (!was.contains(p)) delta.emplace_back("+" + p.to_string());
      }
      for (const auto& p : was) {
        if (!now.contains(p)) delta.emplace_back("-" + p.to_string());
      }
      parts.emplace_back("allowed-ips " + list(delta));
    } else if (f == "netmap") {
      const auto entries = [](const config::PeerConfig& p) {
        std::vector<std::string> s;
        for (const auto& e : p.netmap) s.push_back(e.to_string());
        return s.empty() ? std::string("none") : list(s);
      };
      parts.emplace_back("netmap " + entries(a) + " -> " + entries(b));
    } else if (f == "persistent-keepalive") {
      parts.emplace_back("persistent-keepalive " + std::to_string(a.persistent_keepalive.count()) + " -> " +
                         std::to_string(b.persistent_keepalive.count()) + " s");
    } else {
      parts.emplace_back(f);
    }
  }
  return parts;
}

// Steps of one change: each records what it did, and undoes in `effect`
// what did not happen, so `effect` ends as the configuration in effect.
class Applier {
 public:
  Applier(const config::Config& running, const config::Config& next, tunnel::Device& dev, GatewayControl& gw,
          handshake::Rng& rng, ChangeReport& report)
      : was_(running),
        effect_(next),
        diff_(config::diff(running, next)),
        dev_(dev),
        gw_(gw),
        rng_(rng),
        report_(report) {}

  config::Config run() {
    interface_name();
    private_key();
    socket_and_link();
    addresses();
    data_path();
    log_level();
    peers();
    routes();
    check_forwarding();
    initiate();
    return std::move(effect_);
  }

 private:
  bool changed(const char* key) const { return diff_.interface_changed(key); }

  void fail(const std::string& what, const tunnel::SysError& e, const std::string& still) {
    report_.failed.emplace_back(what + ": " + e.message() + "; still " + still);
    if (report_.first_errno == 0) report_.first_errno = e.error != 0 ? e.error : EIO;
  }

  void interface_name() {
    if (!changed("name")) return;
    report_.deferred.emplace_back("name " + was_.interface.name + " -> " + effect_.interface.name);
    effect_.interface.name = was_.interface.name;
  }

  void private_key() {
    if (!changed("private-key")) return;
    auto& key = effect_.interface.private_key;
    if (key.is_zero()) {
      dev_.clear_private_key(rng_);
      report_.applied.emplace_back("private key removed");
    } else {
      dev_.set_private_key(key);
      report_.applied.emplace_back("private key changed (public key " + key.public_key().to_base64() + ")");
    }
  }

  // A number the kernel's side takes (listen-port, fwmark, mtu): on
  // failure the old value stays in effect.
  template <typename T, typename Set>
  void number(const char* key, T& now, T was, Set set) {
    if (!changed(key)) return;
    if (auto r = set(now); !r) {
      fail(std::string(key) + " " + std::to_string(now), r.error(), std::to_string(was));
      now = was;
      return;
    }
    report_.applied.emplace_back(std::string(key) + " " + std::to_string(was) + " -> " + std::to_string(now));
  }

  void socket_and_link() {
    auto& now = effect_.interface;
    const auto& was = was_.interface;
    number("listen-port", now.listen_port, was.listen_port, [&](uint16_t v) { return gw_.set_listen_port(v); });
    number("fwmark", now.fwmark, was.fwmark, [&](uint32_t v) { return gw_.set_fwmark(v); });
    number("mtu", now.mtu, was.mtu, [&](uint32_t v) { return gw_.set_mtu(v); });
    if (changed("rekey-after-time")) {
      report_.applied.emplace_back("rekey-after-time " + std::to_string(was.rekey_after_time.count()) + " s -> " +
                                   std::to_string(now.rekey_after_time.count()) + " s");
    }
    if (changed("mss-clamp")) {
      report_.applied.emplace_back("mss-clamp " + was.mss_clamp.to_string() + " -> " + now.mss_clamp.to_string());
    }
    if (changed("copy-dscp")) {
      report_.applied.emplace_back(std::string("copy-dscp ") + (was.copy_dscp ? "true" : "false") + " -> " +
                                   (now.copy_dscp ? "true" : "false"));
    }
    for (const char* f : {"failover-after", "failback-interval"}) {
      if (!changed(f)) continue;
      const bool after = std::string_view(f) == "failover-after";
      report_.applied.emplace_back(
          std::string(f) + " " + std::to_string((after ? was.failover_after : was.failback_interval).count()) +
          " s -> " + std::to_string((after ? now.failover_after : now.failback_interval).count()) + " s");
    }
    // The device takes the MTU (its padding limit and, under mss-clamp: auto,
    // the MSS limits), the rekey interval, mss-clamp, copy-dscp and the
    // failover timing together.
    if (now.mtu != was.mtu || changed("rekey-after-time") || changed("mss-clamp") || changed("copy-dscp") ||
        changed("failover-after") || changed("failback-interval")) {
      dev_.set_settings(device_settings(now));
    }
  }

  // Always synced, not only when changed: an address that could not be
  // added last time is tried again.
  void addresses() {
    for (auto& why : gw_.sync_addresses(effect_.interface.addresses)) report_.failed.emplace_back(std::move(why));
    if (changed("address")) {
      report_.applied.emplace_back("address " + prefixes(was_.interface.addresses) + " -> " +
                                   prefixes(effect_.interface.addresses));
    }
  }

  // Of the data path only crypto-threads changes while running.
  void data_path() {
    auto& now = effect_.interface.data_path;
    const auto& was = was_.interface.data_path;
    config::DataPathConfig running = was;
    running.crypto_threads = now.crypto_threads;
    if (running != now) {
      report_.deferred.emplace_back("batch-io, udp-gso, udp-gro, tun-offload, socket-buffer");
    }
    if (now.crypto_threads != was.crypto_threads) {
      const size_t threads = gw_.set_crypto(now);
      report_.applied.emplace_back("crypto-threads: " + std::to_string(threads) + " running");
    }
    now = running;
  }

  void log_level() {
    if (!changed("log-level")) return;
    const std::string level(config::to_string(effect_.interface.log_level.value_or(config::LogLevel::kInfo)));
    if (gw_.set_log_level(effect_.interface.log_level)) {
      report_.applied.emplace_back("log-level " + level);
    } else {
      report_.applied.emplace_back("log-level " + level + " in the file; --log-level on the command line wins");
    }
  }

  std::vector<tunnel::EndpointChoice> endpoint_choices(const config::PeerConfig& p) {
    std::vector<std::string> unresolved;
    auto out = daemon::endpoint_choices(
        p, [this](const config::EndpointSpec& e) { return gw_.resolve_all(e); }, unresolved);
    for (const auto& host : unresolved) report_.failed.emplace_back("peer " + p.label() + ": cannot resolve " + host);
    return out;
  }

  tunnel::PeerSpec spec(const config::PeerConfig& p, bool with_endpoint) {
    tunnel::PeerSpec s{p.public_key, p.preshared_key, std::nullopt, p.allowed_ips, p.persistent_keepalive, p.name};
    s.netmap = tunnel::netmap_of(p.netmap);
    if (!p.endpoints.empty()) {
      // The list always goes to the device, which keeps the entry in use
      // and the session when it is unchanged.
      s.endpoints = endpoint_choices(p);
      if (s.endpoints.empty()) {
        report_.failed.emplace_back("peer " + p.label() + ": none of its endpoints resolves; will wait for it");
      }
      return s;
    }
    if (with_endpoint && p.endpoint) {
      s.endpoint = gw_.resolve(*p.endpoint);
      if (!s.endpoint) {
        report_.failed.emplace_back("peer " + p.label() + ": cannot resolve " + p.endpoint->host + "; will retry");
      }
    }
    return s;
  }

  void peers() {
    for (const auto& p : diff_.removed) {
      dev_.remove_peer(p.public_key);
      report_.applied.emplace_back("peer " + p.label() + " removed");
    }
    for (const auto& c : diff_.changed) {
      // An unchanged endpoint is left alone: the peer may have roamed.
      const bool endpoint = std::find(c.fields.begin(), c.fields.end(), "endpoint") != c.fields.end() ||
                            std::find(c.fields.begin(), c.fields.end(), "endpoints") != c.fields.end();
      dev_.upsert_peer(spec(c.after, endpoint));
      for (auto& part : describe(c)) report_.applied.emplace_back("peer " + c.after.label() + ": " + part);
      // Sessions made with the old preshared key end with a new handshake.
      if (c.needs_new_handshake()) initiate_.push_back(c.after.public_key);
    }
    for (const auto& p : diff_.added) {
      dev_.upsert_peer(spec(p, true));
      report_.applied.emplace_back("peer " + p.label() + " added");
      initiate_.push_back(p.public_key);
    }
    for (const auto& p : diff_.unchanged) report_.unchanged_peers.push_back(p.label());
  }

  // With `routes: true`, one route per allowed-ips prefix through the TUN;
  // always synced, as addresses are.
  void routes() {
    std::set<config::IpPrefix> wanted;
    if (effect_.interface.routes) {
      for (const auto& p : effect_.peers) {
        const auto routed = tunnel::routed_prefixes(p.allowed_ips, p.netmap);
        wanted.insert(routed.begin(), routed.end());
      }
    }
    for (auto& why : gw_.sync_routes({wanted.begin(), wanted.end()})) report_.failed.emplace_back(std::move(why));
    if (changed("routes")) {
      report_.applied.emplace_back(std::string("routes ") + (effect_.interface.routes ? "on" : "off"));
    }
  }

  void check_forwarding() {
    for (auto& w : forwarding_warnings(effect_, gw_)) report_.warnings.push_back(std::move(w));
    // A `source:` this host does not have (yet): sends go from the kernel's
    // choice until it appears.
    for (auto& w : nonlocal_sources(effect_)) report_.warnings.push_back(std::move(w));
  }

  // New peers come up at once, as at start-up (peers without an endpoint
  // wait for the other side).
  void initiate() {
    for (const auto& key : initiate_) dev_.initiate(key);
  }

  const config::Config& was_;
  config::Config effect_;
  const config::ConfigDiff diff_;
  tunnel::Device& dev_;
  GatewayControl& gw_;
  handshake::Rng& rng_;
  ChangeReport& report_;
  std::vector<handshake::PublicKey> initiate_;
};

// The UAPI peer section `ps` applied to `after` (see UapiPeerSet).
// `owner` maps each allowed IP in `after` to its peer; `moved` collects
// those that moved from one peer to another.
void apply_peer_section(const UapiPeerSet& ps, const std::optional<handshake::PublicKey>& own,
                        const tunnel::Device& dev, std::map<config::IpPrefix, handshake::PublicKey>& owner,
                        std::set<config::IpPrefix>& moved, UapiChange& c) {
  auto& peers = c.after.peers;
  auto it = std::find_if(peers.begin(), peers.end(), [&](const auto& p) { return p.public_key == ps.public_key; });
  // Forgets the prefixes of `p` that it still owns.
  const auto disown = [&owner](const config::PeerConfig& p) {
    for (const auto& a : p.allowed_ips) {
      const auto o = owner.find(a);
      if (o != owner.end() && o->second == p.public_key) owner.erase(o);
    }
  };
  if (ps.remove) {
    if (it != peers.end()) {
      disown(*it);
      peers.erase(it);
    }
    return;
  }
  if (own && ps.public_key == *own) return;  // never our own key
  if (ps.update_only && it == peers.end()) return;
  if (it == peers.end()) {
    config::PeerConfig fresh;
    fresh.public_key = ps.public_key;
    it = peers.insert(peers.end(), std::move(fresh));
  }
  config::PeerConfig& p = *it;
  if (ps.preshared_key) {
    p.preshared_key = *ps.preshared_key;
    p.preshared_key_file.clear();
  }
  if (ps.endpoint) {
    p.endpoint = endpoint_of(*ps.endpoint);
    // Compare with where the peer is now, not where it was configured.
    for (auto& b : c.before.peers) {
      if (!(b.public_key == ps.public_key)) continue;
      const auto live = dev.peer(ps.public_key, tunnel::Device::kWithoutAllowedIps);
      b.endpoint = live && live->endpoint ? std::optional(endpoint_of(*live->endpoint)) : std::nullopt;
    }
  }
  if (ps.persistent_keepalive) p.persistent_keepalive = std::chrono::seconds(*ps.persistent_keepalive);
  if (ps.replace_allowed_ips) {
    disown(p);
    p.allowed_ips.clear();
  }
  for (const auto& a : ps.allowed_ips) {
    auto [o, inserted] = owner.try_emplace(a, ps.public_key);
    if (!inserted) {
      if (o->second == ps.public_key) continue;  // already this peer's
      // Another peer's: it moves here. Only `owner` says so for now (the
      // other peer's list is settled at the end: erasing from it here would
      // make moving many prefixes quadratic).
      o->second = ps.public_key;
      moved.insert(a);
    }
    p.allowed_ips.push_back(a);
  }
}

// After the sections: each peer keeps the allowed IPs it still owns (not
// those that moved to another peer since), each once (one that moved away
// and back is listed twice), in order.
void settle_allowed_ips(std::vector<config::PeerConfig>& peers,
                        const std::map<config::IpPrefix, handshake::PublicKey>& owner,
                        const std::set<config::IpPrefix>& moved) {
  if (moved.empty()) return;
  for (auto& p : peers) {
    std::set<config::IpPrefix> seen;  // of those that moved
    std::erase_if(p.allowed_ips, [&](const config::IpPrefix& a) {
      if (!moved.contains(a)) return false;
      const auto o = owner.find(a);
      return o == owner.end() || !(o->second == p.public_key) || !seen.insert(a).second;
    });
  }
}

}  // namespace

config::Config apply_change(const config::Config& running, const config::Config& next, tunnel::Device& dev,
                            GatewayControl& gw, handshake::Rng& rng, ChangeReport& report) {
  return Applier(running, next, dev, gw, rng, report).run();
}

UapiChange uapi_change(const config::Config& running, const UapiSet& request, const tunnel::Device& dev) {
  UapiChange c{running, running};
  auto& iface = c.after.interface;
  if (request.private_key) {
    iface.private_key = *request.private_key;
    iface.private_key_file.clear();
  }
  if (request.listen_port) iface.listen_port = *request.listen_port;
  if (request.fwmark) iface.fwmark = *request.fwmark;
  if (request.replace_peers) c.after.peers.clear();
  std::optional<handshake::PublicKey> own;
  if (!iface.private_key.is_zero()) own = iface.public_key();
  std::map<config::IpPrefix, handshake::PublicKey> owner;
  for (const auto& p : c.after.peers) {
    for (const auto& a : p.allowed_ips) owner.emplace(a, p.public_key);
  }
  std::set<config::IpPrefix> moved;
  for (const auto& ps : request.peers) apply_peer_section(ps, own, dev, owner, moved, c);
  settle_allowed_ips(c.after.peers, owner, moved);
  return c;
}

config::EndpointSpec endpoint_of(const tunnel::SockAddr& a) {
  config::EndpointSpec e;
  e.host = a.ip().to_string();
  e.port = a.port();
  e.address = a.ip();
  return e;
}

void log_report(tunnel::Logger& log, std::string_view what, std::string_view source, const ChangeReport& report,
                bool quiet) {
  // One line per change, so that each can be found (and counted) alone.
  if (!quiet) {
    const std::string head = std::string(what) + ": applied" + (source.empty() ? "" : " " + std::string(source)) + ": ";
    for (const auto& change : report.applied) LogLine(log, LogLevel::kInfo) << head << change;
    if (report.applied.empty()) {
      LogLine(log, LogLevel::kInfo) << head << "no change (" << report.unchanged_peers.size() << " peer(s) unchanged)";
    }
  }
  if (!report.deferred.empty()) {
    LogLine(log, LogLevel::kWarn) << what << ": takes effect after a restart: " << join(report.deferred);
  }
  for (const auto& w : report.warnings) LogLine(log, LogLevel::kWarn) << what << ": " << w;
  if (!report.failed.empty()) {
    LogLine(log, LogLevel::kError) << what << ": not applied: " << join(report.failed);
  }
}

}  // namespace sitelink::daemon
