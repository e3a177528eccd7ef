// What changed between the running configuration and a re-read one (SIGHUP).
// Peers are matched by public key: a peer whose key is in both is unchanged
// or changed; the device keeps the sessions of unchanged peers, and of
// changed peers unless the change needs a new handshake (a new preshared
// key, or a new interface private key).
#pragma once

#include <string>
#include <vector>

#include "config/types.h"

namespace sitelink::config {

struct PeerChange {
  PeerConfig before;
  PeerConfig after;
  // Config keys that differ: "name", "preshared-key", "endpoint" (both
  // written with `endpoint:`), "endpoints" (the list of endpoints differs,
  // either side written with `endpoints:`), "allowed-ips",
  // "persistent-keepalive", "netmap" (applied in place: the session is kept).
  std::vector<std::string> fields;
  // A new preshared key: existing sessions were made with the old one.
  bool needs_new_handshake() const;
};

struct ConfigDiff {
  std::vector<PeerConfig> added;
  std::vector<PeerConfig> removed;
  std::vector<PeerChange> changed;
  std::vector<PeerConfig> unchanged;  // as in the new config (order of the new file)
  // Interface keys that differ: "name", "private-key", "listen-port", "address",
  // "mtu", "routes", "fwmark", "rekey-after-time", "data-path", "log-level",
  // "mss-clamp", "copy-dscp", "failover-after", "failback-interval".
  std::vector<std::string> interface_changes;

  bool empty() const { return added.empty() && removed.empty() && changed.empty() && interface_changes.empty(); }
  bool interface_changed(const std::string& key) const;
};

// Compares by value, not by how it was written: allowed-ips and addresses
// as sets, keys by their bytes (a key moved from a file inline is no change).
ConfigDiff diff(const Config& before, const Config& after);

}  // namespace sitelink::config
