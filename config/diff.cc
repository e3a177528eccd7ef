// Computing the reload delta (see diff.h).
#include "config/diff.h"

#include <algorithm>
#include <map>

#include "handshake/crypto.h"

namespace sitelink::config {
namespace {

std::vector<IpPrefix> sorted(std::vector<IpPrefix> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

std::vector<std::string> peer_fields(const PeerConfig& a, const PeerConfig& b) {
  std::vector<std::string> f;
  if (a.name != b.name) f.emplace_back("name");
  if (!(a.preshared_key == b.preshared_key)) f.emplace_back("preshared-key");
  // By value, not by how it was written: `endpoint: X` and `endpoints: [X]`
  // are the same list. A change is "endpoint" while both are written with
  // `endpoint:`, else "endpoints".
  if (a.endpoint_list() != b.endpoint_list()) {
    f.emplace_back(a.endpoints.empty() && b.endpoints.empty() ? "endpoint" : "endpoints");
  }
  if (sorted(a.allowed_ips) != sorted(b.allowed_ips)) f.emplace_back("allowed-ips");
  if (a.persistent_keepalive != b.persistent_keepalive) f.emplace_back("persistent-keepalive");
  auto na = a.netmap;  // by value: the order of entries does not matter
  auto nb = b.netmap;
  std::sort(na.begin(), na.end());
  std::sort(nb.begin(), nb.end());
  if (na != nb) f.emplace_back("netmap");
  return f;
}

std::vector<std::string> interface_fields(const InterfaceConfig& a, const InterfaceConfig& b) {
  std::vector<std::string> f;
  if (a.name != b.name) f.emplace_back("name");
  if (!handshake::ct_equal(a.private_key.bytes(), b.private_key.bytes())) f.emplace_back("private-key");
  if (a.listen_port != b.listen_port) f.emplace_back("listen-port");
  if (sorted(a.addresses) != sorted(b.addresses)) f.emplace_back("address");
  if (a.mtu != b.mtu) f.emplace_back("mtu");
  if (a.routes != b.routes) f.emplace_back("routes");
  if (a.fwmark != b.fwmark) f.emplace_back("fwmark");
  if (a.rekey_after_time != b.rekey_after_time) f.emplace_back("rekey-after-time");
  if (a.data_path != b.data_path) f.emplace_back("data-path");
  if (a.log_level != b.log_level) f.emplace_back("log-level");
  if (a.mss_clamp != b.mss_clamp) f.emplace_back("mss-clamp");
  if (a.copy_dscp != b.copy_dscp) f.emplace_back("copy-dscp");
  if (a.failover_after != b.failover_after) f.emplace_back("failover-after");
  if (a.failback_interval != b.failback_interval) f.emplace_back("failback-interval");
  return f;
}

}  // namespace

bool PeerChange::needs_new_handshake() const {
  return std::find(fields.begin(), fields.end(), "preshared-key") != fields.end();
}

bool ConfigDiff::interface_changed(const std::string& key) const {
  return std::find(interface_changes.begin(), interface_changes.end(), key) != interface_changes.end();
}

ConfigDiff diff(const Config& before, const Config& after) {
  ConfigDiff d;
  d.interface_changes = interface_fields(before.interface, after.interface);
  std::map<handshake::PublicKey, const PeerConfig*> old_peers;
  for (const auto& p : before.peers) old_peers.emplace(p.public_key, &p);
  for (const auto& p : after.peers) {
    const auto it = old_peers.find(p.public_key);
    if (it == old_peers.end()) {
      d.added.push_back(p);
      continue;
    }
    auto fields = peer_fields(*it->second, p);
    if (fields.empty()) {
      d.unchanged.push_back(p);
    } else {
      d.changed.push_back({*it->second, p, std::move(fields)});
    }
    old_peers.erase(it);
  }
  for (const auto& p : before.peers) {
    if (old_peers.contains(p.public_key)) d.removed.push_back(p);
  }
  return d;
}

}  // namespace sitelink::config
