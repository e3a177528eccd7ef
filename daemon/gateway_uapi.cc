// The Gateway as a UAPI backend: what `wg show` reads and `wg set` changes
// (wireguard-go's device/uapi.go semantics, see uapi.h). Changes apply to
// the running device only; the config file is not rewritten, and a reload
// or restart returns to it.
#include <cerrno>

#include "daemon/gateway.h"

namespace sitelink::daemon {

using tunnel::LogLevel;
using tunnel::LogLine;

UapiState Gateway::get() {
  UapiState st;
  if (dev_->has_private_key()) st.private_key = dev_->private_key();
  st.listen_port = udp_.port();
  st.fwmark = cfg_.interface.fwmark;
  for (const auto& p : dev_->peers()) {
    UapiPeerState ps;
    ps.public_key = p.public_key;
    ps.preshared_key = p.preshared_key;
    ps.endpoint = p.endpoint;
    ps.last_handshake = p.stats.last_handshake;
    ps.tx_bytes = p.stats.tx_bytes;
    ps.rx_bytes = p.stats.rx_bytes;
    ps.persistent_keepalive = static_cast<uint16_t>(p.persistent_keepalive.count());
    ps.allowed_ips = p.allowed_ips;
    st.peers.push_back(std::move(ps));
  }
  return st;
}

std::string Gateway::status() {
  std::string out;
  for (size_t d = 0; d < static_cast<size_t>(tunnel::Drop::kCount); ++d) {
    const auto reason = static_cast<tunnel::Drop>(d);
    if (dev_->drops(reason) != 0) {
      out += "drop=" + std::string(tunnel::to_string(reason)) + ":" + std::to_string(dev_->drops(reason)) + "\n";
    }
  }
  for (const auto& p : dev_->peers()) {
    out += "public_key=" + key_to_hex(p.public_key.bytes()) + "\n";
    if (p.label != p.public_key.to_base64()) {
      std::string name = p.label;
      for (char& ch : name) {
        if (ch == '\n' || ch == '\r') ch = ' ';  // one line per key
      }
      out += "name=" + name + "\n";
    }
    out += "rx_packets=" + std::to_string(p.stats.rx_packets) + "\n";
    out += "tx_packets=" + std::to_string(p.stats.tx_packets) + "\n";
    out += "handshake_attempts=" + std::to_string(p.handshake_attempts) + "\n";
  }
  return out;
}

int Gateway::rebind(uint16_t port) {
  if (port != 0 && port == udp_.port()) return 0;
  auto fresh = tunnel::LinuxUdp::bind(port, cfg_.interface.fwmark, udp_options(cfg_.interface.data_path));
  if (!fresh) return fresh.error().error != 0 ? fresh.error().error : EADDRINUSE;
  loop_->unwatch(udp_.fd());
  udp_ = std::move(*fresh);  // the device keeps using udp_, now the new socket
  if (auto r = loop_->watch(udp_.fd(), [this] { dev_->handle_udp_readable(); }); !r) return r.error().error;
  LogLine(log_, LogLevel::kInfo) << "listening on port " << udp_.port();
  return 0;
}

int Gateway::set_peer(const UapiPeerSet& ps) {
  if (ps.remove) {
    dev_->remove_peer(ps.public_key);
    return 0;
  }
  if (ps.public_key == dev_->public_key()) return 0;  // never our own key
  auto existing = dev_->peer(ps.public_key);
  if (ps.update_only && !existing) return 0;
  tunnel::PeerSpec spec;
  spec.public_key = ps.public_key;
  if (existing) {
    spec.preshared_key = existing->preshared_key;
    spec.endpoint = existing->endpoint;
    spec.allowed_ips = existing->allowed_ips;
    spec.persistent_keepalive = existing->persistent_keepalive;
    spec.name = existing->label == ps.public_key.to_base64() ? "" : existing->label;
  }
  if (ps.preshared_key) spec.preshared_key = *ps.preshared_key;
  if (ps.endpoint) spec.endpoint = ps.endpoint;
  if (ps.persistent_keepalive) spec.persistent_keepalive = std::chrono::seconds(*ps.persistent_keepalive);
  if (ps.replace_allowed_ips) spec.allowed_ips.clear();
  spec.allowed_ips.insert(spec.allowed_ips.end(), ps.allowed_ips.begin(), ps.allowed_ips.end());
  dev_->upsert_peer(spec);
  return 0;
}

int Gateway::set(const UapiSet& request) {
  if (request.private_key) {
    if (request.private_key->is_zero()) {
      dev_->clear_private_key(rng_);
    } else if (!dev_->has_private_key() || !(request.private_key->public_key() == dev_->public_key())) {
      dev_->set_private_key(*request.private_key);
      LogLine(log_, LogLevel::kInfo) << "private key changed through the control socket";
    }
  }
  if (request.listen_port) {
    if (int err = rebind(*request.listen_port); err != 0) return err;
  }
  if (request.fwmark && *request.fwmark != cfg_.interface.fwmark) {
    if (auto r = udp_.set_fwmark(*request.fwmark); !r) return r.error().error;
    cfg_.interface.fwmark = *request.fwmark;
  }
  if (request.replace_peers) {
    for (const auto& p : dev_->peers()) dev_->remove_peer(p.public_key);
  }
  for (const auto& ps : request.peers) {
    if (int err = set_peer(ps); err != 0) return err;
  }
  return 0;
}

}  // namespace sitelink::daemon
