// The metrics page; see metrics.h.
#include "daemon/cli/metrics.h"

#include <algorithm>
#include <chrono>

namespace sitelink::daemon {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// The length of the well-formed UTF-8 sequence at the start of `s` (RFC
// 3629: no overlong forms, no surrogates, nothing above U+10FFFF), or 0.
size_t utf8_length(std::string_view s) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char c = byte(0);
  if (c < 0x80) return 1;
  size_t n = 0;
  unsigned char lo = 0x80;
  unsigned char hi = 0xBF;  // the range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (s.size() < n || byte(1) < lo || byte(1) > hi) return 0;
  for (size_t i = 2; i < n; ++i) {
    if (byte(i) < 0x80 || byte(i) > 0xBF) return 0;
  }
  return n;
}

bool name_char(char c, bool first, bool colon) {
  const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
  return alpha || (!first && c >= '0' && c <= '9');
}

bool valid_name(std::string_view name, bool colon) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    if (!name_char(name[i], i == 0, colon)) return false;
  }
  return true;
}

}  // namespace

std::string escape_label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  while (!v.empty()) {
    const size_t n = utf8_length(v);
    if (n == 0) {
      out += kReplacement;
      v.remove_prefix(1);
      continue;
    }
    if (v[0] == '\\') {
      out += "\\\\";
    } else if (v[0] == '"') {
      out += "\\\"";
    } else if (v[0] == '\n') {
      out += "\\n";
    } else {
      out.append(v.substr(0, n));
    }
    v.remove_prefix(n);
  }
  return out;
}

std::string escape_help(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

bool valid_metric_name(std::string_view name) { return valid_name(name, true); }

bool valid_label_name(std::string_view name) { return valid_name(name, false) && !name.starts_with("__"); }

bool Exposition::declare(std::string_view name, Type type, std::string_view help) {
  if (!valid_metric_name(name)) return false;
  if (std::any_of(families_.begin(), families_.end(), [&](const Family& f) { return f.name == name; })) return false;
  families_.push_back({std::string(name), type, std::string(help), {}});
  return true;
}

bool Exposition::add(std::string_view name, const std::vector<MetricLabel>& labels, uint64_t value) {
  const auto f = std::find_if(families_.begin(), families_.end(), [&](const Family& x) { return x.name == name; });
  if (f == families_.end()) return false;
  std::string line(name);
  for (size_t i = 0; i < labels.size(); ++i) {
    if (!valid_label_name(labels[i].name)) return false;
    line += i == 0 ? "{" : ",";
    line.append(labels[i].name).append("=\"").append(escape_label_value(labels[i].value)).append("\"");
  }
  if (!labels.empty()) line += "}";
  // Appended piecewise: GCC 12 at -O3 reports a false -Wrestrict on " " + std::to_string(...).
  line += ' ';
  line += std::to_string(value);
  line += '\n';
  f->samples += line;
  return true;
}

std::string Exposition::text() const {
  std::string out;
  for (const Family& f : families_) {
    if (f.samples.empty()) continue;  // a family without samples says nothing
    out += "# HELP " + f.name + " " + escape_help(f.help) + "\n";
    out += "# TYPE " + f.name + (f.type == Type::kCounter ? " counter\n" : " gauge\n");
    out += f.samples;
  }
  return out;
}

namespace {

using Type = Exposition::Type;

struct FamilySpec {
  const char* name;
  Type type;
  const char* help;
};

constexpr FamilySpec kFamilies[] = {
    {"sitelink_interface_up", Type::kGauge, "1 if the interface's status socket answered this scrape."},
    {"sitelink_interface_peers", Type::kGauge, "Peers configured on the interface."},
    {"sitelink_drops_total", Type::kCounter, "Packets dropped, by reason."},
    {"sitelink_mss_clamped_total", Type::kCounter, "TCP SYNs whose MSS option was lowered (mss-clamp)."},
    {"sitelink_data_path_enabled", Type::kGauge, "1 if the data-path technique is in effect now."},
    {"sitelink_crypto_threads", Type::kGauge, "Crypto threads running."},
    {"sitelink_peer_up", Type::kGauge, "1 while a session with the peer is current."},
    {"sitelink_peer_state", Type::kGauge, "1 for the peer's state: up, dead (nothing received), connecting, down."},
    {"sitelink_peer_state_reason", Type::kGauge, "1, labelled with the peer's state and why."},
    {"sitelink_peer_last_handshake_seconds", Type::kGauge, "Unix time of the latest handshake; 0 if none."},
    {"sitelink_peer_last_receive_seconds", Type::kGauge, "Unix time data last came from the peer; 0 if never."},
    {"sitelink_peer_receive_bytes_total", Type::kCounter, "Bytes received from the peer (authenticated datagrams)."},
    {"sitelink_peer_transmit_bytes_total", Type::kCounter, "Bytes sent to the peer (datagrams)."},
    {"sitelink_peer_receive_packets_total", Type::kCounter, "Datagrams received from the peer."},
    {"sitelink_peer_transmit_packets_total", Type::kCounter, "Datagrams sent to the peer."},
    {"sitelink_peer_handshakes_total", Type::kCounter, "Sessions established with the peer."},
    {"sitelink_peer_unanswered_initiations", Type::kGauge, "Handshake initiations unanswered since the last session."},
    {"sitelink_peer_path_alive", Type::kGauge, "1 while the path to the peer answers."},
    {"sitelink_peer_endpoint_switches_total", Type::kCounter, "Moves along the peer's endpoints list."},
};

uint64_t unix_seconds(const std::optional<WallTime>& t) {
  if (!t) return 0;
  return static_cast<uint64_t>(
      std::max<int64_t>(std::chrono::duration_cast<std::chrono::seconds>(t->since_epoch).count(), 0));
}

void render_interface(Exposition& e, const InterfaceStatus& i) {
  const std::vector<MetricLabel> iface{{"interface", i.name}};
  const auto with = [&](std::string_view name, std::string value) {
    auto l = iface;
    l.push_back({name, std::move(value)});
    return l;
  };
  e.add("sitelink_interface_up", iface, 1);
  e.add("sitelink_interface_peers", iface, i.state.peers.size());
  for (const auto& [reason, n] : i.extra.drops) e.add("sitelink_drops_total", with("reason", reason), n);
  if (i.extra.mss_clamped) e.add("sitelink_mss_clamped_total", iface, *i.extra.mss_clamped);
  const DataPathStatus& d = i.extra.data_path;
  const std::pair<const char*, const std::optional<bool>*> techniques[] = {
      {"batch_io", &d.batch_io}, {"udp_gso", &d.udp_gso}, {"udp_gro", &d.udp_gro}, {"tun_offload", &d.tun_offload}};
  for (const auto& [name, on] : techniques) {
    if (*on) e.add("sitelink_data_path_enabled", with("technique", name), **on ? 1 : 0);
  }
  if (d.crypto_threads) e.add("sitelink_crypto_threads", iface, *d.crypto_threads);
}

void render_peer(Exposition& e, const std::string& iface, const UapiPeerState& p, const SitelinkPeerStatus* x,
                 WallTime now) {
  std::vector<MetricLabel> l{{"interface", iface}, {"peer", p.public_key.to_base64()}};
  if (x != nullptr && !x->name.empty()) l.push_back({"name", x->name});
  const auto with = [&](const std::vector<std::pair<std::string_view, std::string_view>>& more) {
    auto out = l;
    for (const auto& [k, v] : more) out.push_back({k, std::string(v)});
    return out;
  };
  const PeerHealth h = peer_health(p, x, now);
  const std::string_view state = monitoring_state(h);
  e.add("sitelink_peer_up", l, h.state == PeerState::kUp ? 1 : 0);
  for (const std::string_view s : kMonitoringStates) e.add("sitelink_peer_state", with({{"state", s}}), s == state);
  e.add("sitelink_peer_state_reason", with({{"state", state}, {"reason", h.reason}}), 1);
  e.add("sitelink_peer_last_handshake_seconds", l, unix_seconds(p.last_handshake));
  e.add("sitelink_peer_receive_bytes_total", l, p.rx_bytes);
  e.add("sitelink_peer_transmit_bytes_total", l, p.tx_bytes);
  if (x == nullptr) return;  // another daemon (wireguard-go) tells no more
  e.add("sitelink_peer_last_receive_seconds", l, x->last_receive);
  e.add("sitelink_peer_receive_packets_total", l, x->rx_packets);
  e.add("sitelink_peer_transmit_packets_total", l, x->tx_packets);
  e.add("sitelink_peer_handshakes_total", l, x->handshakes);
  e.add("sitelink_peer_unanswered_initiations", l, x->unanswered_initiations);
  if (x->path_alive) e.add("sitelink_peer_path_alive", l, *x->path_alive ? 1 : 0);
  if (!x->endpoints.empty()) e.add("sitelink_peer_endpoint_switches_total", l, x->endpoint_switches);
}

}  // namespace

std::string render_metrics(const std::vector<InterfaceStatus>& ifaces, const std::vector<std::string>& unreachable,
                           WallTime now) {
  Exposition e;
  for (const FamilySpec& f : kFamilies) e.declare(f.name, f.type, f.help);
  for (const std::string& name : unreachable) e.add("sitelink_interface_up", {{"interface", name}}, 0);
  for (const InterfaceStatus& i : ifaces) {
    render_interface(e, i);
    for (const UapiPeerState& p : i.state.peers) {
      const SitelinkPeerStatus* extra = nullptr;
      for (const auto& [k, v] : i.extra.peers) {
        if (k == p.public_key) extra = &v;
      }
      render_peer(e, i.name, p, extra, now);
    }
  }
  return e.text();
}

}  // namespace sitelink::daemon
