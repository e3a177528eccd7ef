// Rules that span fields and peers, checked after every field has been
// parsed (SPEC.md, "Validation beyond types"):
//   - the MTU is at least 1280 when any address or allowed-ip is IPv6
//     (RFC 8200), else at least 576 (RFC 791; checked when parsing);
//   - no two peers share a public key, and no peer has the interface's own key;
//   - no two peers have the same allowed-ips prefix (each prefix routes to
//     one peer); a prefix inside another peer's prefix is allowed and the
//     most specific wins, as in WireGuard (a hub's 198.18.0.0/15 beside a
//     direct link's 198.18.20.0/24), so each such pair gets a note; overlaps
//     within one peer are only redundant, so a warning;
//   - warnings for duplicate peer names and peers without allowed-ips.
// A file beyond the interface's limits (load_peers.cc) was read only up to
// them; its one error about that is not buried under these.
#include <algorithm>
#include <map>
#include <set>

#include "config/load_internal.h"

namespace sitelink::config::detail {
namespace {

std::string peer_label(const Draft& d, size_t k) {
  const std::string p = item_path("peers", d.sources[k].index);
  return d.config.peers[k].name.empty() ? p : p + " (" + d.config.peers[k].name + ")";
}

std::string key_path(const Draft& d, size_t k) {
  return field_path(item_path("peers", d.sources[k].index), "public-key");
}

void check_mtu(const Draft& d, Reporter& r) {
  const auto is_v6 = [](const IpPrefix& p) { return !p.address().is_v4(); };
  const auto& i = d.config.interface;
  bool v6 = std::any_of(i.addresses.begin(), i.addresses.end(), is_v6);
  for (const auto& p : d.config.peers) v6 = v6 || std::any_of(p.allowed_ips.begin(), p.allowed_ips.end(), is_v6);
  if (v6 && i.mtu < kMinMtuIpv6) {
    r.error(d.at("interface.mtu"), "interface.mtu",
            std::to_string(i.mtu) + " is too small for IPv6, which this config uses; expected 1280..65475");
  }
}

void check_public_keys(const Draft& d, Reporter& r) {
  std::map<handshake::PublicKey, size_t> first;
  const std::optional<handshake::PublicKey> own = d.private_key_known ? std::optional(d.config.interface.public_key())
                                                                      : std::nullopt;
  for (size_t k = 0; k < d.config.peers.size(); ++k) {
    const auto& key = d.config.peers[k].public_key;
    const std::string path = key_path(d, k);
    if (own && key == *own) {
      r.error(d.at(path), path, "is this interface's own public key; a gateway cannot be its own peer");
    }
    const auto [it, fresh] = first.emplace(key, k);
    if (!fresh) {
      r.error(d.at(path), path, "same public key as " + peer_label(d, it->second) + "; each peer needs its own key");
    }
  }
}

struct Route {
  IpPrefix prefix;
  size_t peer;       // index into config.peers
  size_t order;      // position in the file, for "which came later"
  std::string path;  // "peers[1].allowed-ips[0]"
};

// `later` overlaps `earlier` (one contains the other).
void report_overlap(const Draft& d, const Route& earlier, const Route& later, Reporter& r) {
  const std::string what = later.prefix.to_string();
  const std::string other = earlier.prefix.to_string();
  if (earlier.peer != later.peer && earlier.prefix == later.prefix) {
    r.error(
        d.at(later.path), later.path,
        what + " is also an allowed-ip of " + peer_label(d, earlier.peer) + "; each prefix routes to exactly one peer");
  } else if (earlier.peer != later.peer) {
    const bool later_inside = earlier.prefix.contains(later.prefix);
    const Route& inner = later_inside ? later : earlier;
    const Route& outer = later_inside ? earlier : later;
    const std::string in = inner.prefix.to_string();
    const std::string out = outer.prefix.to_string();
    r.note(d.at(later.path), later.path,
           in + " of " + peer_label(d, inner.peer) + " lies inside " + out + " of " + peer_label(d, outer.peer) +
               ": the most specific prefix wins (as in WireGuard), so addresses in " + in + " go to " +
               peer_label(d, inner.peer) + " and the rest of " + out + " to " + peer_label(d, outer.peer));
  } else if (earlier.prefix == later.prefix) {
    r.warning(d.at(later.path), later.path, what + " is listed twice (also " + earlier.path + ")");
  } else {
    r.warning(d.at(later.path), later.path,
              what + " and " + other + " (" + earlier.path + ") overlap; one is redundant");
  }
}

// Sorted by (address, length), every prefix comes after all prefixes that
// contain it, so a stack of the "open" containing prefixes finds each
// overlapping pair once.
void check_allowed_ips(const Draft& d, Reporter& r) {
  std::vector<Route> routes;
  for (size_t k = 0; k < d.config.peers.size(); ++k) {
    const auto& ips = d.config.peers[k].allowed_ips;
    for (size_t n = 0; n < ips.size(); ++n)
      routes.push_back({ips[n], k, routes.size(), d.sources[k].allowed_ip_paths[n]});
  }
  std::sort(routes.begin(), routes.end(), [](const Route& a, const Route& b) {
    return a.prefix != b.prefix ? a.prefix < b.prefix : a.order < b.order;
  });
  std::vector<const Route*> open;
  for (const Route& cur : routes) {
    while (!open.empty() && !open.back()->prefix.contains(cur.prefix)) open.pop_back();
    std::set<size_t> reported;                // one message per other peer: the innermost overlap
    for (size_t j = open.size(); j-- > 0;) {  // innermost first
      const Route* o = open[j];
      if (!reported.insert(o->peer).second) continue;
      const bool cur_later = cur.order > o->order;
      report_overlap(d, cur_later ? *o : cur, cur_later ? cur : *o, r);
    }
    open.push_back(&cur);
  }
}

void check_peer_labels(const Draft& d, Reporter& r) {
  std::map<std::string, size_t> names;
  for (size_t k = 0; k < d.config.peers.size(); ++k) {
    const auto& p = d.config.peers[k];
    const std::string path = item_path("peers", d.sources[k].index);
    if (!d.sources[k].allowed_ips_written) {
      r.warning(d.at(path), path, "no allowed-ips: no traffic will be sent to or accepted from this peer");
    }
    if (p.name.empty()) continue;
    const auto [it, fresh] = names.emplace(p.name, k);
    if (!fresh) {
      const std::string name_path = field_path(path, "name");
      r.warning(d.at(name_path), name_path,
                "same name as " + item_path("peers", d.sources[it->second].index) +
                    "; logs and status will not tell them apart");
    }
  }
}

}  // namespace

void validate(Draft& d, Reporter& r) {
  if (d.over_limit) return;
  check_mtu(d, r);
  check_public_keys(d, r);
  check_allowed_ips(d, r);
  check_peer_labels(d, r);
  check_netmap(d, r);
}

}  // namespace sitelink::config::detail
