// One path for every change to a running gateway. A reload (SIGHUP) and a
// UAPI `set` (`wg set`, `wg setconf`) both produce the next configuration;
// config::diff compares it with the one in effect, and apply_change() makes
// the difference real, step by step, on the Device and the interface.
//
// What is applied is what the report says: each step that worked is listed,
// each that failed is listed with its reason and leaves that setting as it
// was, and each that needs a restart (the interface name, the data-path
// switches other than crypto-threads) is listed as deferred. The returned
// configuration is the one in effect afterwards, so the next change is
// compared with the truth, not with what was asked for.
//
// Peers whose key is in both configurations and whose fields did not change
// are not touched: their sessions, roamed endpoints and counters stay.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/diff.h"
#include "config/types.h"
#include "daemon/uapi.h"
#include "handshake/crypto.h"
#include "tunnel/device.h"
#include "tunnel/log.h"

namespace sitelink::daemon {

// What a change needs from the running gateway beyond the Device: the
// kernel's side of the interface and socket, name resolution and threads.
// Each operation either does all of its job or reports why not.
class GatewayControl {
 public:
  virtual ~GatewayControl() = default;
  [[nodiscard]] virtual tunnel::SysResult<void> set_mtu(uint32_t mtu) = 0;
  [[nodiscard]] virtual tunnel::SysResult<void> set_fwmark(uint32_t mark) = 0;
  // Rebinds the UDP socket (0 = any free port).
  [[nodiscard]] virtual tunnel::SysResult<void> set_listen_port(uint16_t port) = 0;
  // Brings the interface's addresses (routes) to `wanted`. Returns one
  // message per prefix that could not be added (it is retried on the next
  // sync); removing only ever touches what was added here.
  virtual std::vector<std::string> sync_addresses(const std::vector<config::IpPrefix>& wanted) = 0;
  virtual std::vector<std::string> sync_routes(const std::vector<config::IpPrefix>& wanted) = 0;
  // The endpoint's address now (DNS names are looked up; may be nullopt).
  virtual std::optional<tunnel::SockAddr> resolve(const config::EndpointSpec& endpoint) = 0;
  // Every address of the endpoint (a DNS name may have several), preferred first.
  virtual std::vector<tunnel::SockAddr> resolve_all(const config::EndpointSpec& endpoint) {
    auto a = resolve(endpoint);
    return a ? std::vector<tunnel::SockAddr>{*a} : std::vector<tunnel::SockAddr>{};
  }
  // Restarts the crypto threads as `d.crypto_threads` asks; returns how many run.
  virtual size_t set_crypto(const config::DataPathConfig& d) = 0;
  // The file's log-level (absent: info); false when --log-level on the
  // command line wins and the level stays as it is.
  virtual bool set_log_level(std::optional<config::LogLevel> level) = 0;
  // Whether the host forwards packets of that family between interfaces
  // (net.ipv4.ip_forward, net.ipv6.conf.all.forwarding); nullopt if unknown.
  virtual std::optional<bool> forwarding(config::Family family) = 0;
};

// A peer's `endpoints:` as the device takes them: an IP entry is one
// choice; a DNS name one per address `addresses_of` gives for it (in its
// order), each labelled with the name. Names without an address are added
// to `unresolved`. At most EndpointFailover::kMaxEntries.
std::vector<tunnel::EndpointChoice> endpoint_choices(
    const config::PeerConfig& p,
    const std::function<std::vector<tunnel::SockAddr>(const config::EndpointSpec&)>& addresses_of,
    std::vector<std::string>& unresolved);

struct ChangeReport {
  std::vector<std::string> applied;          // "mtu 1420 -> 1380", "peer office-c added"
  std::vector<std::string> deferred;         // "name (sl0 -> sl1): after a restart"
  std::vector<std::string> failed;           // "mtu 1380: Operation not permitted; still 1420"
  std::vector<std::string> warnings;         // in effect, but probably not what was meant
  std::vector<std::string> unchanged_peers;  // labels
  int first_errno = 0;                       // of the first failure (EIO when it had none)

  bool ok() const { return failed.empty(); }
  bool empty() const { return applied.empty() && deferred.empty() && failed.empty(); }
};

// What the device takes from the interface section: the MTU, the rekey
// interval and the mss-clamp limits.
tunnel::Device::Settings device_settings(const config::InterfaceConfig& i);

// The warnings that the host will not forward what `cfg` routes (a LAN
// behind a peer while IPv4 or IPv6 forwarding is off); empty when it will.
std::vector<std::string> forwarding_warnings(const config::Config& cfg, GatewayControl& gw);

// Applies `next` over `running` and returns the configuration in effect
// afterwards. New peers with an endpoint are sent an initiation at once.
config::Config apply_change(const config::Config& running, const config::Config& next, tunnel::Device& dev,
                            GatewayControl& gw, handshake::Rng& rng, ChangeReport& report);

// The configuration a UAPI set request asks for, from the one in effect
// (wireguard-go's semantics, see UapiPeerSet). `dev` supplies where peers
// are now: `before` is `running` with the live endpoint of every peer whose
// endpoint the request names, so that `wg set ... endpoint X` moves a peer
// that roamed away from X back to it. An allowed IP given to one peer is
// taken from any other, as WireGuard does.
struct UapiChange {
  config::Config before;
  config::Config after;
};
UapiChange uapi_change(const config::Config& running, const UapiSet& request, const tunnel::Device& dev);

// "<what>: applied [SOURCE]: <changes, or no change> (N peer(s) unchanged)"
// (unless `quiet`), then where there are such items "<what>: takes effect
// after a restart: ..." and one line per warning (warnings), and "<what>:
// not applied: ..." (an error).
void log_report(tunnel::Logger& log, std::string_view what, std::string_view source, const ChangeReport& report,
                bool quiet = false);

// "198.51.100.7:51820" as the config would have written it.
config::EndpointSpec endpoint_of(const tunnel::SockAddr& a);

}  // namespace sitelink::daemon
