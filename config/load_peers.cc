// The `peers:` list: each peer's name, public key, preshared key (inline or
// from a file), endpoint or endpoints (load_endpoints.cc), allowed-ips
// (canonicalised, with a warning when host bits were set) and
// persistent-keepalive.
//
// The interface's limits (types.h: kMaxPeers, kMaxAllowedIps, the same as
// for `wg set`) are counted here, as items are read: the first peer or
// allowed-ip beyond one gets the one error, and nothing after it is read,
// so the work stays bounded even when YAML aliases repeat a long list.
#include <algorithm>

#include "config/load_internal.h"
#include "handshake/base/secret.h"

namespace sitelink::config::detail {
namespace {

constexpr size_t kMaxPeerName = 64;

struct PeerDraft {
  PeerConfig peer;
  PeerSource source;
  bool has_public_key = false;
};

void parse_name(const Entry& e, Reporter& r, PeerConfig& p) {
  const auto v = scalar_value(e, "a label of 1..64 characters", r);
  if (!v) return;
  const bool printable = std::none_of(v->begin(), v->end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
  if (v->empty() || v->size() > kMaxPeerName || !printable) {
    r.error(location_of(e.value), e.path,
            "not a valid peer name; expected a label of 1..64 characters without control characters");
    return;
  }
  p.name = *v;
}

void parse_allowed_ips(const Entry& e, Reporter& r, Draft& d, PeerDraft& pd) {
  const auto items = list_items(e, "IP prefixes, e.g. [198.18.1.0/24, 2001:db8:b::/48]", r);
  pd.source.allowed_ips_written = !items || !items->empty();
  if (!items) return;
  for (size_t n = 0; n < items->size(); ++n) {
    const YAML::Node& item = (*items)[n];
    const std::string path = e.value.IsSequence() ? item_path(e.path, n) : e.path;
    if (d.allowed_ips == kMaxAllowedIps) {
      r.error(
          location_of(item), path,
          "beyond the limit of " + std::to_string(kMaxAllowedIps) + " allowed-ips per interface (all peers' together)");
      d.over_limit = true;
      return;
    }
    const auto text = item_scalar(item, path, "an IP prefix, e.g. 198.18.1.0/24", r);
    if (!text) continue;
    auto p = IpPrefix::parse(*text);
    if (!p) {
      r.error(location_of(item), path, p.error());
      continue;
    }
    if (!p->is_canonical()) {
      r.warning(location_of(item), path, "'" + *text + "' has host bits set; using " + p->canonical().to_string());
    }
    d.where[path] = location_of(item);
    ++d.allowed_ips;
    pd.peer.allowed_ips.push_back(p->canonical());
    pd.source.allowed_ip_paths.push_back(path);
  }
}

void parse_field(const Entry& e, Context& ctx, Draft& d, PeerDraft& pd) {
  Reporter& r = ctx.report;
  if (e.key == "name") {
    parse_name(e, r, pd.peer);
  } else if (e.key == "public-key") {
    std::array<uint8_t, 32> raw{};
    if (read_key(e, false, "public key", ctx, raw)) {
      pd.peer.public_key = handshake::PublicKey(raw);
      pd.has_public_key = true;
    }
  } else if (e.key == "endpoint") {
    pd.peer.endpoint = endpoint_value(e, r);
  } else if (e.key == "endpoints") {
    pd.peer.endpoints = parse_endpoints(e, r, d);
  } else if (e.key == "allowed-ips") {
    parse_allowed_ips(e, r, d, pd);
  } else if (e.key == "netmap") {
    pd.peer.netmap = parse_netmap(e, r, d, pd.source.netmap_paths);
  } else if (e.key == "persistent-keepalive") {
    if (auto v = uint_value(e, 0, static_cast<uint64_t>(kMaxPersistentKeepalive.count()), "seconds, 0..65535 (0 = off)",
                            r)) {
      pd.peer.persistent_keepalive = std::chrono::seconds(*v);
    }
  }
}

// The later of two keys that may not be set together.
const Entry* later_of(const Entry& a, const Entry& b) {
  return location_of(a.key_node) < location_of(b.key_node) ? &b : &a;
}

// At most one of endpoint and endpoints (SPEC.md "Real office networks").
void check_endpoint_keys(const std::vector<Entry>& entries, Reporter& r) {
  const auto find = [&](std::string_view key) {
    const auto it = std::find_if(entries.begin(), entries.end(), [&](const Entry& e) { return e.key == key; });
    return it == entries.end() ? nullptr : &*it;
  };
  const Entry* one = find("endpoint");
  const Entry* list = find("endpoints");
  if (one == nullptr || list == nullptr) return;
  const Entry* later = later_of(*one, *list);
  r.error(location_of(later->key_node), later->path,
          "set either endpoint or endpoints, not both (list every endpoint under endpoints:, the preferred first)");
}

// At most one of preshared-key and preshared-key-file; neither is fine.
void parse_preshared_key(const Entry* inline_key, const Entry* file, Context& ctx, PeerConfig& p) {
  if (inline_key != nullptr && file != nullptr) {
    const Entry* later = later_of(*inline_key, *file);
    ctx.report.error(location_of(later->key_node), later->path,
                     "set either preshared-key or preshared-key-file, not both");
    return;
  }
  if (inline_key == nullptr && file == nullptr) return;
  const Entry& e = file != nullptr ? *file : *inline_key;
  Secret<32> raw;
  if (read_key(e, file != nullptr, "preshared key", ctx, raw.span()))
    p.preshared_key = handshake::PresharedKey(raw.span());
  if (file != nullptr && file->value.IsScalar()) p.preshared_key_file = file->value.Scalar();
}

void parse_peer(const YAML::Node& node, size_t index, Context& ctx, Draft& d) {
  const std::string path = item_path("peers", index);
  d.where[path] = location_of(node);
  const auto entries = map_entries(node, path, Section::kPeer, ctx.report);
  if (!entries) return;
  PeerDraft pd;
  pd.source.index = index;
  const Entry* psk = nullptr;
  const Entry* psk_file = nullptr;
  for (const Entry& e : *entries) {
    d.where[e.path] = location_of(e.value.IsNull() ? e.key_node : e.value);
    if (e.key == "preshared-key") {
      psk = &e;
    } else if (e.key == "preshared-key-file") {
      psk_file = &e;
    } else {
      parse_field(e, ctx, d, pd);
    }
  }
  parse_preshared_key(psk, psk_file, ctx, pd.peer);
  check_endpoint_keys(*entries, ctx.report);
  const bool written = std::any_of(entries->begin(), entries->end(),
                                   [](const Entry& e) { return e.key == "public-key"; });
  if (!written) {
    ctx.report.error(location_of(node), path,
                     "missing 'public-key'; expected the peer's public key (from 'sitelink pubkey' on that gateway)");
  }
  // A peer without a valid key cannot take part in the cross-peer checks.
  if (!pd.has_public_key) return;
  d.config.peers.push_back(std::move(pd.peer));
  d.sources.push_back(std::move(pd.source));
}

}  // namespace

void parse_peers(const Entry& peers, Context& ctx, Draft& d) {
  d.where[peers.path] = location_of(peers.key_node);
  if (peers.value.IsNull()) return;  // "peers:" with nothing yet
  if (!peers.value.IsSequence()) {
    ctx.report.error(location_of(peers.value), peers.path,
                     "expected a list of peers, each starting with '- public-key: ...'");
    return;
  }
  size_t index = 0;
  for (const YAML::Node& node : peers.value) {
    if (index == kMaxPeers) {
      ctx.report.error(location_of(node), item_path(peers.path, index),
                       "beyond the limit of " + std::to_string(kMaxPeers) + " peers per interface");
      d.over_limit = true;
    }
    if (d.over_limit) break;
    parse_peer(node, index++, ctx, d);
  }
}

}  // namespace sitelink::config::detail
