// `sitelink show`; see show.h. The client half of the UAPI (connect, get=1,
// read to the blank line, all under one deadline), wg show's text layout
// (wireguard-tools' show.c: pretty_time, bytes, peers sorted by latest
// handshake) and a small JSON writer.
#include "daemon/show.h"

#include <dirent.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ostream>

#include "daemon/exit_codes.h"
#include "handshake/base/secret.h"
#include "handshake/constants.h"
#include "tunnel/sys_error.h"

namespace sitelink::daemon {
namespace {

using std::chrono::steady_clock;

constexpr size_t kMaxAnswer = 64u << 20;  // a get answer larger than this is nonsense

// Waits until `fd` is ready for `events` or the deadline passes.
bool wait_for(int fd, short events, steady_clock::time_point deadline) {
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 60'000)));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return false;
  }
}

// Non-blocking, so a daemon that does not accept cannot hang us: a unix
// socket answers EAGAIN while its backlog is full; retried until `deadline`.
tunnel::SysResult<tunnel::UniqueFd> connect_to(const std::string& path, steady_clock::time_point deadline) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (path.size() >= sizeof a.sun_path) return tunnel::sys_error(ENAMETOOLONG, path);
  path.copy(a.sun_path, sizeof a.sun_path - 1);
  for (;;) {
    tunnel::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd.valid()) return tunnel::errno_error("socket AF_UNIX");
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0) return fd;
    if (errno != EAGAIN && errno != EINTR) return tunnel::errno_error(path);
    if (steady_clock::now() >= deadline) return tunnel::sys_error(ETIMEDOUT, path);
    ::usleep(10'000);
  }
}

std::string ago(WallTime then, WallTime now) {
  using std::chrono::duration_cast;
  using std::chrono::seconds;
  const int64_t t = duration_cast<seconds>(then.since_epoch).count();
  const int64_t n = duration_cast<seconds>(now.since_epoch).count();
  if (t == n) return "Now";
  if (t > n) return "(System clock wound backward; connection problems may ensue.)";
  return pretty_duration(static_cast<uint64_t>(n - t)) + " ago";
}

// Most recent handshake first; peers that never had one last (wg's order).
std::vector<const UapiPeerState*> sorted_peers(const UapiState& s) {
  std::vector<const UapiPeerState*> v;
  for (const auto& p : s.peers) v.push_back(&p);
  std::stable_sort(v.begin(), v.end(), [](const UapiPeerState* a, const UapiPeerState* b) {
    const auto ta = a->last_handshake ? a->last_handshake->since_epoch : Duration::min();
    const auto tb = b->last_handshake ? b->last_handshake->since_epoch : Duration::min();
    return ta > tb;
  });
  return v;
}

std::string join_prefixes(const std::vector<config::IpPrefix>& v) {
  if (v.empty()) return "(none)";
  std::string s;
  for (const auto& p : v) s += (s.empty() ? "" : ", ") + p.to_string();
  return s;
}

const SitelinkPeerStatus* extra_for(const SitelinkStatus& st, const handshake::PublicKey& key) {
  for (const auto& [k, v] : st.peers) {
    if (k == key) return &v;
  }
  return nullptr;
}

void render_peer(std::string& out, const UapiPeerState& p, const SitelinkPeerStatus* extra, WallTime now) {
  const PeerHealth h = peer_health(p, extra, now);
  out += "\npeer: " + p.public_key.to_base64() + "\n";
  if (extra != nullptr && !extra->name.empty()) out += "  name: " + extra->name + "\n";
  // The same four words as the JSON's "health" and the metrics.
  const std::string why = h.dead ? "up, " + h.why : h.why;
  out += "  state: " + std::string(monitoring_state(h)) + (why.empty() ? "" : " (" + why + ")") + "\n";
  if (!p.preshared_key.is_zero()) out += "  preshared key: (hidden)\n";
  if (p.endpoint) out += "  endpoint: " + p.endpoint->to_string() + "\n";
  out += "  allowed ips: " + join_prefixes(p.allowed_ips) + "\n";
  if (p.last_handshake) out += "  latest handshake: " + ago(*p.last_handshake, now) + "\n";
  if (p.rx_bytes != 0 || p.tx_bytes != 0) {
    out += "  transfer: " + pretty_bytes(p.rx_bytes) + " received, " + pretty_bytes(p.tx_bytes) + " sent\n";
  }
  if (extra != nullptr && (extra->rx_packets != 0 || extra->tx_packets != 0)) {
    out += "  packets: " + std::to_string(extra->rx_packets) + " received, " + std::to_string(extra->tx_packets) +
           " sent\n";
  }
  if (extra != nullptr && extra->handshake_attempts != 0) {
    out += "  unanswered handshake retries: " + std::to_string(extra->handshake_attempts) + "\n";
  }
  if (p.persistent_keepalive != 0)
    out += "  persistent keepalive: every " + pretty_duration(p.persistent_keepalive) + "\n";
  if (extra == nullptr) return;
  if (!extra->source.empty()) out += "  local address: " + extra->source + "\n";
  if (extra->since_last_receive) {
    out += "  last heard: " + pretty_duration(*extra->since_last_receive) + " ago" +
           (extra->path_alive == false ? " (path not answering)" : "") + "\n";
  }
  for (const auto& m : extra->netmap) out += "  netmap: " + m.side + " " + m.prefix + " seen-as " + m.seen_as + "\n";
  if (!extra->netmap.empty()) {
    out += "  translated: " + std::to_string(extra->netmap_out) + " packets sent, " + std::to_string(extra->netmap_in) +
           " received\n";
  }
  if (!extra->endpoints.empty()) {
    out += "  endpoints (" + std::to_string(extra->endpoint_switches) + " switches):\n";
    const auto n = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(now.since_epoch).count());
    for (size_t i = 0; i < extra->endpoints.size(); ++i) {
      const auto& e = extra->endpoints[i];
      out += "    " + std::to_string(i + 1) + ". " + e.label + ": " + e.state +
             (e.last_tried != 0 ? ", tried " + pretty_duration(n - std::min(n, e.last_tried)) + " ago" : "") +
             (e.in_use ? " (in use)" : "") + "\n";
    }
  }
}

// A JSON writer for one document: values, arrays and objects, with commas
// placed for the caller. Strings are escaped; bytes outside printable ASCII
// become \u00XX, so the output is valid JSON whatever the input.
class Json {
 public:
  Json& begin_object() { return open('{'); }
  Json& end_object() { return close('}'); }
  Json& begin_array() { return open('['); }
  Json& end_array() { return close(']'); }
  Json& key(std::string_view k) {
    value(k);
    out_ += ':';
    after_key_ = true;
    return *this;
  }
  Json& value(std::string_view s) {
    separate();
    out_ += '"';
    for (const char ch : s) escape(static_cast<unsigned char>(ch));
    out_ += '"';
    return *this;
  }
  Json& value(uint64_t n) { return raw(std::to_string(n)); }
  Json& value(bool b) { return raw(b ? "true" : "false"); }
  Json& null() { return raw("null"); }
  std::string take() { return std::move(out_); }

 private:
  Json& raw(std::string_view s) {
    separate();
    out_ += s;
    return *this;
  }
  Json& open(char c) {
    separate();
    out_ += c;
    first_ = true;
    return *this;
  }
  Json& close(char c) {
    out_ += c;
    first_ = false;
    return *this;
  }
  void separate() {
    if (!first_ && !after_key_) out_ += ',';
    first_ = false;
    after_key_ = false;
  }
  void escape(unsigned char c) {
    if (c == '"' || c == '\\') {
      out_ += '\\';
      out_ += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out_ += buf;
    } else {
      out_ += static_cast<char>(c);
    }
  }

  std::string out_;
  bool first_ = true;
  bool after_key_ = false;
};

void json_peer(Json& j, const UapiPeerState& p, const SitelinkPeerStatus* extra, WallTime now) {
  const PeerHealth h = peer_health(p, extra, now);
  j.begin_object();
  j.key("public_key").value(p.public_key.to_base64());
  j.key("name");
  extra != nullptr && !extra->name.empty() ? j.value(extra->name) : j.null();
  j.key("rx_packets").value(extra != nullptr ? extra->rx_packets : 0);
  j.key("tx_packets").value(extra != nullptr ? extra->tx_packets : 0);
  j.key("state").value(to_string(h.state));
  j.key("state_reason").value(h.why);
  // The four states of monitoring (up, dead, connecting, down) with a fixed
  // reason word, as `sitelink metrics` labels them.
  j.key("health").value(monitoring_state(h));
  j.key("health_reason").value(h.reason);
  j.key("preshared_key").value(!p.preshared_key.is_zero());
  j.key("endpoint");
  p.endpoint ? j.value(p.endpoint->to_string()) : j.null();
  j.key("allowed_ips").begin_array();
  for (const auto& a : p.allowed_ips) j.value(a.to_string());
  j.end_array();
  const auto since = [&](WallTime t) {
    return std::chrono::duration_cast<std::chrono::seconds>(t.since_epoch).count();
  };
  j.key("latest_handshake");
  p.last_handshake ? j.value(static_cast<uint64_t>(std::max<int64_t>(since(*p.last_handshake), 0))) : j.null();
  j.key("seconds_since_handshake");
  p.last_handshake ? j.value(static_cast<uint64_t>(std::max<int64_t>(since(now) - since(*p.last_handshake), 0)))
                   : j.null();
  j.key("rx_bytes").value(p.rx_bytes);
  j.key("tx_bytes").value(p.tx_bytes);
  j.key("persistent_keepalive").value(static_cast<uint64_t>(p.persistent_keepalive));
  // Health and paths (issue 15).
  j.key("source");
  extra != nullptr && !extra->source.empty() ? j.value(extra->source) : j.null();
  j.key("since_last_receive");
  extra != nullptr && extra->since_last_receive ? j.value(*extra->since_last_receive) : j.null();
  j.key("path_alive");
  extra != nullptr && extra->path_alive ? j.value(*extra->path_alive) : j.null();
  j.key("endpoints").begin_array();
  std::optional<uint64_t> active;
  if (extra != nullptr) {
    for (size_t i = 0; i < extra->endpoints.size(); ++i) {
      const auto& e = extra->endpoints[i];
      if (e.in_use) active = i;
      j.begin_object();
      j.key("endpoint").value(e.label);
      j.key("state").value(e.state);
      j.key("last_tried");
      e.last_tried != 0 ? j.value(e.last_tried) : j.null();
      j.key("in_use").value(e.in_use);
      j.end_object();
    }
  }
  j.end_array();
  j.key("active_endpoint");
  active ? j.value(*active) : j.null();
  j.key("endpoint_switches").value(extra != nullptr ? extra->endpoint_switches : 0);
  j.key("netmap").begin_array();
  if (extra != nullptr) {
    for (const auto& m : extra->netmap) {
      j.begin_object();
      j.key("side").value(m.side);
      j.key("prefix").value(m.prefix);
      j.key("seen_as").value(m.seen_as);
      j.end_object();
    }
  }
  j.end_array();
  j.key("netmap_packets_sent").value(extra != nullptr ? extra->netmap_out : 0);
  j.key("netmap_packets_received").value(extra != nullptr ? extra->netmap_in : 0);
  j.end_object();
}

// One interface, from its UAPI socket or, where that is not ours to open,
// its status socket; false after reporting why on io.err.
bool fetch(const ShowOptions& o, const std::string& name, std::vector<InterfaceStatus>& out, Io& io) {
  std::string path = socket_path(name, o.socket_dir);
  auto st = fetch_status(name, path);
  if (!st && (st.error().error == EACCES || st.error().error == EPERM || st.error().error == ENOENT)) {
    const std::string status_path = socket_path(name, o.status_dir);
    auto ro = fetch_status(name, status_path);
    if (ro || ro.error().error != ENOENT) {
      st = std::move(ro);
      path = status_path;
    }
  }
  if (!st) {
    const auto& e = st.error();
    if (e.error == EPROTO && !e.what.empty()) {
      io.err << "sitelink show: " << path << ": " << e.what << '\n';
      return false;
    }
    const std::string hint = e.error == ENOENT || e.error == ECONNREFUSED ? " (is sitelinkd running for " + name + "?)"
                             : e.error == EACCES
                                 ? " (run as root, or as a member of group " + std::string(kStatusGroup) + ")"
                                 : "";
    io.err << "sitelink show: cannot reach the daemon at " << path << ": " << std::strerror(e.error) << hint << '\n';
    return false;
  }
  out.push_back(std::move(*st));
  return true;
}

WallTime wall_now() {
  return WallTime{std::chrono::duration_cast<Duration>(std::chrono::system_clock::now().time_since_epoch())};
}

}  // namespace

std::vector<std::string> socket_names(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return names;
  while (const dirent* e = ::readdir(d)) {
    const std::string n = e->d_name;
    if (n.size() > 5 && n.ends_with(".sock")) names.push_back(n.substr(0, n.size() - 5));
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

tunnel::SysResult<InterfaceStatus> fetch_status(const std::string& name, const std::string& path,
                                                std::chrono::milliseconds timeout) {
  auto answer = uapi_request(path, "get=1\n\n", timeout);
  if (!answer) return Err(answer.error());
  auto state = parse_get(*answer);
  secure_zero(answer->data(), answer->size());  // it may hold the keys (the parsed ones wipe themselves)
  if (!state) return tunnel::sys_error(EPROTO, "unexpected answer: " + state.error());
  InterfaceStatus st{name, std::move(*state), {}};
  // sitelink's own extension; another daemon (wireguard-go) just closes.
  if (const auto extra = uapi_request(path, "get=sitelink\n\n", timeout)) st.extra = parse_status(*extra);
  return st;
}

tunnel::SysResult<std::string> uapi_request(const std::string& path, std::string_view request,
                                            std::chrono::milliseconds timeout) {
  const auto deadline = steady_clock::now() + timeout;
  auto fd = connect_to(path, deadline);
  if (!fd) return Err(fd.error());
  for (size_t sent = 0; sent < request.size();) {
    if (!wait_for(fd->get(), POLLOUT, deadline)) return tunnel::sys_error(ETIMEDOUT, "send to " + path);
    const ssize_t n = ::send(fd->get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EINTR) return tunnel::errno_error("send to " + path);
    if (n > 0) sent += static_cast<size_t>(n);
  }
  std::string answer;
  constexpr size_t kChunk = 16384;
  char buf[kChunk];
  // A get=1 answer carries the private and preshared keys: neither the
  // receive buffer nor a partial answer is left behind (a complete one is
  // the caller's to wipe, as fetch does).
  struct Wipe {
    Wipe(std::string& a, char* b) : answer(a), buf(b) {}
    Wipe(const Wipe&) = delete;
    Wipe& operator=(const Wipe&) = delete;
    std::string& answer;
    char* buf;
    bool keep_answer = false;
    ~Wipe() {
      secure_zero(buf, kChunk);
      if (!keep_answer) secure_zero(answer.data(), answer.size());
    }
  } wipe{answer, buf};
  // An answer ends with "errno=N\n\n"; no line before it is empty.
  while (answer.size() < 2 || answer.compare(answer.size() - 2, 2, "\n\n") != 0) {
    if (!wait_for(fd->get(), POLLIN, deadline)) return tunnel::sys_error(ETIMEDOUT, "no answer from " + path);
    const ssize_t n = ::recv(fd->get(), buf, kChunk, 0);
    if (n == 0) return tunnel::sys_error(EPROTO, "the daemon at " + path + " closed the connection");
    if (n < 0 && errno != EAGAIN && errno != EINTR) return tunnel::errno_error("receive from " + path);
    if (n > 0) append_wiping(answer, std::string_view(buf, static_cast<size_t>(n)));
    if (answer.size() > kMaxAnswer) return tunnel::sys_error(EMSGSIZE, "answer from " + path);
  }
  wipe.keep_answer = true;
  return answer;
}

std::string_view to_string(PeerState s) {
  switch (s) {
    case PeerState::kUp: return "up";
    case PeerState::kHandshaking: return "handshaking";
    case PeerState::kDown: return "down";
  }
  return "?";
}

namespace {

uint64_t seconds_of(WallTime t) {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(t.since_epoch).count());
}

// How long a refused send stays news in the state line.
constexpr uint64_t kSendErrorFresh = 60;

}  // namespace

PeerHealth peer_health(const UapiPeerState& p, const SitelinkPeerStatus* extra, WallTime now) {
  const bool recent = p.last_handshake &&
                      now.since_epoch - p.last_handshake->since_epoch <= handshake::kRejectAfterTime;
  const std::string last = p.last_handshake ? "last handshake " + ago(*p.last_handshake, now) : "no handshake yet";
  const std::string where = p.endpoint ? p.endpoint->to_string() : "the peer";
  std::string failing;
  if (extra != nullptr && extra->send_errno != 0 && extra->send_error_time + kSendErrorFresh >= seconds_of(now)) {
    failing = "sends to " + where + " fail: " + std::strerror(extra->send_errno) +
              tunnel::send_error_hint(extra->send_errno);
  }
  std::string no_answer;
  if (extra != nullptr && extra->unanswered_initiations >= 2 && p.endpoint) {
    const uint64_t n = seconds_of(now);
    no_answer = "no answer to " + std::to_string(extra->unanswered_initiations) + " handshake initiations in " +
                pretty_duration(n - std::min(n, extra->unanswered_since)) + ": the far end is down, or UDP port " +
                std::to_string(p.endpoint->port()) + " is blocked on the way, or it does not know our key";
    if (extra->last_receive != 0) {
      no_answer += "; nothing received for " + pretty_duration(n - std::min(n, extra->last_receive));
    }
  }
  // Up but dead: a session, data going out, nothing coming back.
  if (recent && no_answer.empty() && extra != nullptr && extra->path_alive == false) {
    const std::string quiet = extra->since_last_receive
                                  ? "nothing received for " + pretty_duration(*extra->since_last_receive)
                                  : "nothing received yet";
    return {PeerState::kUp, "but not answering: data sent, " + quiet + (failing.empty() ? "" : "; " + failing), true,
            "nothing-received"};
  }
  if (recent && no_answer.empty()) return {PeerState::kUp, failing, false, failing.empty() ? "" : "send-failed"};
  if (!p.endpoint)
    return {PeerState::kDown, "no endpoint, waiting for the peer to connect; " + last, false, "no-endpoint"};
  if (!failing.empty()) return {PeerState::kHandshaking, failing + "; " + last, false, "send-failed"};
  if (!no_answer.empty()) {
    return {PeerState::kHandshaking, (recent ? "answered before, but " : "") + no_answer + "; " + last, false,
            "no-answer"};
  }
  return {PeerState::kHandshaking, last, false, "no-recent-handshake"};
}

std::string_view monitoring_state(const PeerHealth& h) {
  switch (h.state) {
    case PeerState::kUp: return h.dead ? "dead" : "up";
    case PeerState::kDown: return "down";
    case PeerState::kHandshaking: return h.reason == "send-failed" || h.reason == "no-answer" ? "down" : "connecting";
  }
  return "down";
}

std::string pretty_duration(uint64_t left) {
  struct Unit {
    const char* name;
    uint64_t seconds;
  };
  constexpr Unit kUnits[] = {
      {"year", 365ull * 24 * 3600}, {"day", 24ull * 3600}, {"hour", 3600}, {"minute", 60}, {"second", 1}};
  std::string s;
  for (const Unit& u : kUnits) {
    const uint64_t n = left / u.seconds;
    left %= u.seconds;
    if (n == 0) continue;
    s += (s.empty() ? "" : ", ") + std::to_string(n) + " " + u.name + (n == 1 ? "" : "s");
  }
  return s.empty() ? "0 seconds" : s;
}

std::string pretty_bytes(uint64_t b) {
  constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB"};
  if (b < 1024) return std::to_string(b) + " B";
  double v = static_cast<double>(b) / 1024;
  size_t u = 0;
  for (uint64_t limit = 1024ull * 1024; u < 3 && b >= limit; limit *= 1024) {
    v /= 1024;
    ++u;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f %s", v, kUnits[u]);
  return buf;
}

std::string render_text(const InterfaceStatus& iface, WallTime now) {
  const UapiState& s = iface.state;
  std::string out = "interface: " + iface.name + "\n";
  if (s.private_key && !s.private_key->is_zero()) {
    out += "  public key: " + s.private_key->public_key().to_base64() + "\n";
    out += "  private key: (hidden)\n";
  } else if (iface.extra.public_key) {  // from the status socket, which has no private key
    out += "  public key: " + iface.extra.public_key->to_base64() + "\n";
  }
  if (s.listen_port != 0) out += "  listening port: " + std::to_string(s.listen_port) + "\n";
  if (s.fwmark != 0) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%x", s.fwmark);
    out += std::string("  fwmark: ") + buf + "\n";
  }
  const DataPathStatus& d = iface.extra.data_path;
  if (d.batch_io) {
    const auto on = [](const std::optional<bool>& b) { return b.value_or(false) ? "on" : "off"; };
    out += std::string("  data path: batch-io ") + on(d.batch_io) + ", udp-gso " + on(d.udp_gso) + ", udp-gro " +
           on(d.udp_gro) + ", tun-offload " + on(d.tun_offload) + ", socket buffers " +
           std::to_string(d.socket_rcvbuf.value_or(0)) + "/" + std::to_string(d.socket_sndbuf.value_or(0)) +
           " bytes, crypto threads " + std::to_string(d.crypto_threads.value_or(0)) + "\n";
  }
  if (iface.extra.mss_clamped) out += "  mss clamped: " + std::to_string(*iface.extra.mss_clamped) + " TCP SYNs\n";
  for (const auto& w : iface.extra.warnings) out += "  warning: " + w + "\n";
  if (!iface.extra.drops.empty()) {
    out += "  dropped:";
    for (const auto& [reason, n] : iface.extra.drops) out += " " + reason + " " + std::to_string(n) + ";";
    out.back() = '\n';
  }
  for (const UapiPeerState* p : sorted_peers(s)) render_peer(out, *p, extra_for(iface.extra, p->public_key), now);
  return out;
}

// "data_path": each technique as in effect (null where the daemon does not
// say: wireguard-go).
void json_data_path(Json& j, const DataPathStatus& d) {
  j.key("data_path").begin_object();
  const std::pair<const char*, const std::optional<bool>*> flags[] = {
      {"batch_io", &d.batch_io}, {"udp_gso", &d.udp_gso}, {"udp_gro", &d.udp_gro}, {"tun_offload", &d.tun_offload}};
  for (const auto& [name, v] : flags) {
    j.key(name);
    *v ? j.value(**v) : j.null();
  }
  const std::pair<const char*, const std::optional<uint64_t>*> numbers[] = {
      {"socket_rcvbuf", &d.socket_rcvbuf}, {"socket_sndbuf", &d.socket_sndbuf}, {"crypto_threads", &d.crypto_threads}};
  for (const auto& [name, v] : numbers) {
    j.key(name);
    *v ? j.value(**v) : j.null();
  }
  j.end_object();
}

std::string render_json(const std::vector<InterfaceStatus>& ifaces, WallTime now) {
  Json j;
  j.begin_object().key("interfaces").begin_array();
  for (const InterfaceStatus& i : ifaces) {
    const UapiState& s = i.state;
    j.begin_object().key("name").value(i.name).key("public_key");
    if (s.private_key && !s.private_key->is_zero()) {
      j.value(s.private_key->public_key().to_base64());
    } else {
      i.extra.public_key ? j.value(i.extra.public_key->to_base64()) : j.null();
    }
    j.key("listen_port").value(static_cast<uint64_t>(s.listen_port));
    j.key("fwmark").value(static_cast<uint64_t>(s.fwmark));
    j.key("dropped").begin_object();
    for (const auto& [reason, n] : i.extra.drops) j.key(reason).value(n);
    j.end_object();
    j.key("mss_clamped");
    i.extra.mss_clamped ? j.value(*i.extra.mss_clamped) : j.null();
    json_data_path(j, i.extra.data_path);
    j.key("warnings").begin_array();
    for (const auto& w : i.extra.warnings) j.value(w);
    j.end_array();
    j.key("peers").begin_array();
    for (const UapiPeerState* p : sorted_peers(s)) json_peer(j, *p, extra_for(i.extra, p->public_key), now);
    j.end_array().end_object();
  }
  j.end_array().end_object();
  return j.take() + "\n";
}

int show_command(const ShowOptions& o, Io& io) {
  std::vector<std::string> names;
  if (o.iface) {
    names.push_back(*o.iface);
  } else {
    names = socket_names(o.socket_dir);
    if (names.empty()) names = socket_names(o.status_dir);
    if (names.empty()) {
      io.err << "sitelink show: cannot reach any sitelinkd: no control sockets in " << o.socket_dir << "/\n";
      return kExitFailure;
    }
  }
  std::vector<InterfaceStatus> found;
  bool all_ok = true;
  for (const auto& n : names) all_ok = fetch(o, n, found, io) && all_ok;
  const WallTime now = wall_now();
  if (o.json) {
    io.out << render_json(found, now);
  } else {
    for (size_t i = 0; i < found.size(); ++i) io.out << (i == 0 ? "" : "\n") << render_text(found[i], now);
  }
  io.out.flush();
  return all_ok ? kExitOk : kExitFailure;
}

}  // namespace sitelink::daemon
