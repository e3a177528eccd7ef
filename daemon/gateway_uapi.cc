// The Gateway as a UAPI backend: what `wg show` reads and `wg set` changes
// (wireguard-go's device/uapi.go semantics, see uapi.h). Changes apply to
// the running device only; the config file is not rewritten, and a reload
// or restart returns to it.
#include "daemon/gateway.h"

namespace sitelink::daemon {

using tunnel::LogLevel;
using tunnel::LogLine;

UapiDeviceState Gateway::get_device() {
  UapiDeviceState d;
  if (dev_->has_private_key()) d.private_key = dev_->private_key();
  d.listen_port = udp_.port();
  d.fwmark = cfg_.interface.fwmark;
  d.peers = dev_->peer_keys();
  return d;
}

std::optional<UapiPeerState> Gateway::get_peer(const handshake::PublicKey& key) {
  auto p = dev_->peer(key);
  if (!p) return std::nullopt;
  UapiPeerState ps;
  ps.public_key = p->public_key;
  ps.preshared_key = p->preshared_key;
  ps.endpoint = p->endpoint;
  ps.last_handshake = p->stats.last_handshake;
  ps.tx_bytes = p->stats.tx_bytes;
  ps.rx_bytes = p->stats.rx_bytes;
  ps.persistent_keepalive = static_cast<uint16_t>(p->persistent_keepalive.count());
  ps.allowed_ips = std::move(p->allowed_ips);
  return ps;
}

namespace {
// A value on one line of the key=value answer.
std::string one_line(std::string s) {
  for (char& ch : s) {
    if (ch == '\n' || ch == '\r') ch = ' ';
  }
  return s;
}
}  // namespace

std::string Gateway::status() {
  std::string out;
  const Instant now_mono = clock_.now().mono;
  if (dev_->has_private_key()) {
    out += "interface_public_key=" + key_to_hex(dev_->public_key().bytes()) + "\n";
  }
  // The data path as in effect, not as configured.
  const auto flag = [&out](const char* key, bool on) { out += std::string(key) + "=" + (on ? "1" : "0") + "\n"; };
  flag("batch_io", udp_.batch());
  flag("udp_gso", udp_.gso());
  flag("udp_gro", udp_.gro());
  flag("tun_offload", tun_.offload());
  out += "socket_rcvbuf=" + std::to_string(udp_.receive_buffer()) + "\n";
  out += "socket_sndbuf=" + std::to_string(udp_.send_buffer()) + "\n";
  out += "crypto_threads=" + std::to_string(dev_->crypto_threads()) + "\n";
  out += "mss_clamped=" + std::to_string(dev_->mss_clamped()) + "\n";
  // What the running configuration asks of the host that the host does not
  // do (forwarding off), as at start-up and reloads.
  for (const auto& w : forwarding_warnings(cfg_, *this)) out += "warning=" + w + "\n";
  for (size_t d = 0; d < static_cast<size_t>(tunnel::Drop::kCount); ++d) {
    const auto reason = static_cast<tunnel::Drop>(d);
    if (dev_->drops(reason) != 0) {
      out += "drop=" + std::string(tunnel::to_string(reason)) + ":" + std::to_string(dev_->drops(reason)) + "\n";
    }
  }
  for (const auto& p : dev_->peers(tunnel::Device::kWithoutAllowedIps)) {
    out += "public_key=" + key_to_hex(p.public_key.bytes()) + "\n";
    if (p.label != p.public_key.to_base64()) out += "name=" + one_line(p.label) + "\n";
    out += "rx_packets=" + std::to_string(p.stats.rx_packets) + "\n";
    out += "tx_packets=" + std::to_string(p.stats.tx_packets) + "\n";
    out += "handshake_attempts=" + std::to_string(p.handshake_attempts) + "\n";
    out += "handshakes=" + std::to_string(p.stats.handshakes) + "\n";
    const auto seconds = [](const std::optional<WallTime>& t) {
      return t ? std::to_string(std::chrono::duration_cast<std::chrono::seconds>(t->since_epoch).count()) : "0";
    };
    out += "unanswered_initiations=" + std::to_string(p.unanswered_initiations) + "\n";
    out += "unanswered_since=" + seconds(p.unanswered_since) + "\n";
    out += "last_receive=" + seconds(p.last_receive) + "\n";
    if (p.send_errno != 0) {
      out += "send_error=" + std::to_string(p.send_errno) + "\n";
      out += "send_error_time=" + seconds(p.send_error_at) + "\n";
    }
    // Health and paths (issue 15): the local address replies leave from,
    // how long since anything authenticated came, whether the path counts
    // as alive, and with an endpoint list each entry as
    // state,last-tried,in-use,label (the label last: it is free text).
    if (p.source.valid()) out += "source=" + p.source.to_string() + "\n";
    if (p.last_receive_mono) {
      const auto ago = std::chrono::duration_cast<std::chrono::seconds>(now_mono - *p.last_receive_mono);
      out += "since_last_receive=" + std::to_string(std::max<int64_t>(ago.count(), 0)) + "\n";
    }
    out += std::string("path_alive=") + (p.path_alive ? "1" : "0") + "\n";
    for (size_t i = 0; i < p.endpoints.size(); ++i) {
      const auto& e = p.endpoints[i];
      out += "endpoint_entry=" + std::string(tunnel::to_string(e.state)) + "," + seconds(e.last_tried) + "," +
             (p.active_endpoint == i ? "1" : "0") + "," + one_line(e.choice.label) + "\n";
    }
    if (!p.endpoints.empty()) out += "endpoint_switches=" + std::to_string(p.endpoint_switches) + "\n";
    for (const auto& r : p.netmap.peer)
      out += "netmap=peer " + r.from.to_string() + " seen-as " + r.to.to_string() + "\n";
    for (const auto& r : p.netmap.local)
      out += "netmap=local " + r.from.to_string() + " seen-as " + r.to.to_string() + "\n";
    if (!p.netmap.empty())
      out += "netmap_packets=" + std::to_string(p.netmap_out) + "," + std::to_string(p.netmap_in) + "\n";
  }
  return out;
}

tunnel::SysResult<void> Gateway::set_listen_port(uint16_t port) {
  if (port != 0 && port == udp_.port()) return {};
  auto fresh = tunnel::LinuxUdp::bind(port, cfg_.interface.fwmark, udp_options(cfg_.interface.data_path));
  if (!fresh) return Err(fresh.error());
  loop_->unwatch(udp_.fd());
  udp_ = std::move(*fresh);  // the device keeps using udp_, now the new socket
  if (auto r = loop_->watch(udp_.fd(), [this] { dev_->handle_udp_readable(); }); !r) return r;
  LogLine(log_, LogLevel::kInfo) << "listening on port " << udp_.port();
  return {};
}

// A set request goes the way of a reload: the configuration it asks for is
// compared with the one in effect and the difference applied (reconfigure.h).
// The request was parsed whole before this (a malformed one, or one beyond
// the limits, changes nothing: UapiSetStream); a step that fails here (a
// port in use, a mark not permitted) is answered with its errno and logged,
// and the request's other changes stay.
int Gateway::set(const UapiSet& request) {
  const UapiChange change = uapi_change(cfg_, request, *dev_);
  // The limits hold for what the request leads to, not only for what it
  // holds: refused whole, as a malformed request is.
  size_t allowed_ips = 0;
  for (const auto& p : change.after.peers) allowed_ips += p.allowed_ips.size();
  if (change.after.peers.size() > config::kMaxPeers || allowed_ips > config::kMaxAllowedIps) {
    LogLine(log_, LogLevel::kWarn) << "wg set: refused, nothing changed: it would leave " << change.after.peers.size()
                                   << " peers and " << allowed_ips << " allowed IPs, beyond the limits of "
                                   << config::kMaxPeers << " peers and " << config::kMaxAllowedIps
                                   << " allowed IPs per interface";
    return E2BIG;
  }
  const ChangeReport report = apply(change.before, change.after, "wg set");
  return report.first_errno;
}

}  // namespace sitelink::daemon
