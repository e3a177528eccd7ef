// The UAPI text protocol; see uapi.h. parse_set follows wireguard-go's
// IpcSetOperation line by line (device keys until the first public_key, then
// peer keys; EPROTO for a line without '=', EINVAL for everything else) but
// builds a typed request instead of applying each line as it goes, so a bad
// line late in a request leaves nothing half-applied. format_get writes what
// wireguard-go's IpcGetOperation writes; parse_get reads it as `wg` does.
#include "daemon/uapi.h"

#include <cstdlib>

#include <sodium.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <sstream>

namespace sitelink::daemon {
namespace {

constexpr int64_t kNanosPerSecond = 1'000'000'000;

// Decimal digits only (no sign, no spaces; leading zeros are fine), as Go's
// strconv.ParseUint(value, 10, bits); nullopt if empty or above `max`.
std::optional<uint64_t> parse_uint(std::string_view s, uint64_t max) {
  if (s.empty()) return std::nullopt;
  uint64_t v = 0;
  for (const char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    const auto digit = static_cast<uint64_t>(c - '0');
    if (v > (max - digit) / 10) return std::nullopt;
    v = v * 10 + digit;
  }
  return v;
}

// A key name fit to appear in a message: short and printable.
std::string printable(std::string_view key) {
  if (key.size() > 40) return "(a long key)";
  for (const char c : key) {
    if (c < 0x20 || c > 0x7e) return "(an unprintable key)";
  }
  return config::quoted(key);
}

// Splits text into lines; the last may lack its '\n'. Stops at an empty line.
class LineReader {
 public:
  explicit LineReader(std::string_view text) : rest_(text) {}
  // False at the end or at an empty line.
  bool next(std::string_view& line) {
    if (rest_.empty()) return false;
    const size_t nl = rest_.find('\n');
    line = rest_.substr(0, nl);
    rest_ = nl == std::string_view::npos ? std::string_view() : rest_.substr(nl + 1);
    ++number_;
    return !line.empty();
  }
  int number() const { return number_; }

 private:
  std::string_view rest_;
  int number_ = 0;
};

// ---- set ---------------------------------------------------------------------

class SetParser {
 public:
  explicit SetParser(std::string* why) : why_(why) {}
  Result<UapiSet, int> run(std::string_view body);

 private:
  int fail(int err, int line, const std::string& what) {
    if (why_ != nullptr) *why_ = "line " + std::to_string(line) + ": " + what;
    return err;
  }
  int device_line(std::string_view key, std::string_view value, int line);
  int peer_line(UapiPeerSet& peer, std::string_view key, std::string_view value, int line);
  int peer_key_line(UapiPeerSet& peer, std::string_view key, std::string_view value, int line);

  std::string* why_;
  UapiSet set_;
};

Result<UapiSet, int> SetParser::run(std::string_view body) {
  LineReader lines(body);
  std::string_view line;
  while (lines.next(line)) {
    const size_t eq = line.find('=');
    if (eq == std::string_view::npos) return Err(fail(EPROTO, lines.number(), "no '=' in the line"));
    const std::string_view key = line.substr(0, eq);
    const std::string_view value = line.substr(eq + 1);
    int err = 0;
    if (key == "public_key") {
      std::array<uint8_t, handshake::kKeySize> b;
      if (!key_from_hex(value, b)) return Err(fail(EINVAL, lines.number(), "public_key is not 64 hex digits"));
      set_.peers.emplace_back().public_key = handshake::PublicKey(b);
    } else if (set_.peers.empty()) {
      err = device_line(key, value, lines.number());
    } else {
      err = peer_line(set_.peers.back(), key, value, lines.number());
    }
    if (err != 0) return Err(err);
  }
  return std::move(set_);
}

int SetParser::device_line(std::string_view key, std::string_view value, int line) {
  if (key == "private_key") {
    Secret<handshake::kKeySize> b;
    if (!key_from_hex(value, b.span())) return fail(EINVAL, line, "private_key is not 64 hex digits");
    const bool zero = handshake::ct_is_zero(b.span());
    set_.private_key = zero ? handshake::PrivateKey() : handshake::PrivateKey(b.span());
  } else if (key == "listen_port") {
    const auto v = parse_uint(value, 0xffff);
    if (!v) return fail(EINVAL, line, "listen_port is not a number 0..65535");
    set_.listen_port = static_cast<uint16_t>(*v);
  } else if (key == "fwmark") {
    const auto v = parse_uint(value, 0xffffffff);
    if (!v) return fail(EINVAL, line, "fwmark is not a number 0..4294967295");
    set_.fwmark = static_cast<uint32_t>(*v);
  } else if (key == "replace_peers") {
    if (value != "true") return fail(EINVAL, line, "replace_peers must be 'true'");
    set_.replace_peers = true;
  } else {
    return fail(EINVAL, line, "unknown interface key " + printable(key) + " (peer keys follow a public_key line)");
  }
  return 0;
}

// The "KEY=true" flags and the preshared key of a peer section.
int SetParser::peer_key_line(UapiPeerSet& peer, std::string_view key, std::string_view value, int line) {
  if (key == "preshared_key") {
    Secret<handshake::kKeySize> b;
    if (!key_from_hex(value, b.span())) return fail(EINVAL, line, "preshared_key is not 64 hex digits");
    peer.preshared_key = handshake::PresharedKey(b.span());
    return 0;
  }
  if (value != "true") return fail(EINVAL, line, std::string(key) + " must be 'true'");
  if (key == "update_only") {
    peer.update_only = true;
  } else if (key == "remove") {
    peer.remove = true;
  } else {
    peer.replace_allowed_ips = true;
    peer.allowed_ips.clear();  // allowed_ip lines before this one are replaced too
  }
  return 0;
}

int SetParser::peer_line(UapiPeerSet& peer, std::string_view key, std::string_view value, int line) {
  if (key == "update_only" || key == "remove" || key == "replace_allowed_ips" || key == "preshared_key") {
    return peer_key_line(peer, key, value, line);
  }
  if (key == "endpoint") {
    const auto ep = tunnel::SockAddr::parse(value);
    if (!ep) return fail(EINVAL, line, "endpoint is not IP:PORT or [IPv6]:PORT");
    peer.endpoint = *ep;
  } else if (key == "persistent_keepalive_interval") {
    const auto v = parse_uint(value, 0xffff);
    if (!v) return fail(EINVAL, line, "persistent_keepalive_interval is not a number 0..65535");
    peer.persistent_keepalive = static_cast<uint16_t>(*v);
  } else if (key == "allowed_ip") {
    // netip.ParsePrefix: the "/LENGTH" is required.
    const auto p = config::IpPrefix::parse(value);
    if (value.find('/') == std::string_view::npos || !p) {
      return fail(EINVAL, line, "allowed_ip is not ADDRESS/LENGTH");
    }
    peer.allowed_ips.push_back(p->canonical());
  } else if (key == "protocol_version") {
    if (value != "1") return fail(EINVAL, line, "protocol_version must be 1");
  } else {
    return fail(EINVAL, line, "unknown peer key " + printable(key));
  }
  return 0;
}

// ---- get ---------------------------------------------------------------------

void put(std::string& out, std::string_view key, std::string_view value) {
  out.append(key).append("=").append(value).append("\n");
}

// put() for a secret key: its hex goes straight into `out` (which the
// caller wipes), with no temporary string left unwiped on the heap.
void put_secret(std::string& out, std::string_view key, std::span<const uint8_t, handshake::kKeySize> bytes) {
  char hex[handshake::kKeySize * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, bytes.data(), bytes.size());
  put(out, key, std::string_view(hex, handshake::kKeySize * 2));
  sodium_memzero(hex, sizeof hex);
}

// More than format_get writes for `s`, plus the errno line, so that the
// answer is built (and completed) without reallocating: a reallocation
// would free a copy of the keys without wiping it.
size_t get_answer_bound(const UapiState& s) {
  constexpr size_t kInterface = 256;
  constexpr size_t kPeer = 512;
  constexpr size_t kAllowedIp = 64;
  size_t n = kInterface;
  for (const UapiPeerState& p : s.peers) n += kPeer + kAllowedIp * p.allowed_ips.size();
  return n;
}

void put_peer(std::string& out, const UapiPeerState& p, bool secrets) {
  put(out, "public_key", key_to_hex(p.public_key.bytes()));
  if (secrets) put_secret(out, "preshared_key", p.preshared_key.bytes());
  put(out, "protocol_version", "1");
  if (p.endpoint && p.endpoint->valid()) put(out, "endpoint", p.endpoint->to_string());
  int64_t ns = p.last_handshake ? std::max<int64_t>(p.last_handshake->since_epoch.count(), 0) : 0;
  put(out, "last_handshake_time_sec", std::to_string(ns / kNanosPerSecond));
  put(out, "last_handshake_time_nsec", std::to_string(ns % kNanosPerSecond));
  put(out, "tx_bytes", std::to_string(p.tx_bytes));
  put(out, "rx_bytes", std::to_string(p.rx_bytes));
  put(out, "persistent_keepalive_interval", std::to_string(p.persistent_keepalive));
  for (const auto& a : p.allowed_ips) put(out, "allowed_ip", a.to_string());
}

class GetParser {
 public:
  Result<UapiState, std::string> run(std::string_view text);

 private:
  // Empty on success, else what is wrong with the line.
  std::string device_line(std::string_view key, std::string_view value);
  std::string peer_line(UapiPeerState& p, std::string_view key, std::string_view value);
  std::string errno_line(std::string_view value);

  UapiState state_;
  int64_t handshake_sec_ = 0;
  int64_t handshake_nsec_ = 0;
};

std::optional<WallTime> handshake_time(int64_t sec, int64_t nsec) {
  if (sec == 0 && nsec == 0) return std::nullopt;
  return WallTime{Duration(sec * kNanosPerSecond + nsec)};
}

Result<UapiState, std::string> GetParser::run(std::string_view text) {
  LineReader lines(text);
  std::string_view line;
  while (lines.next(line)) {
    const size_t eq = line.find('=');
    const std::string where = "line " + std::to_string(lines.number()) + ": ";
    if (eq == std::string_view::npos) return Err(where + "no '=' in the line");
    const std::string_view key = line.substr(0, eq);
    const std::string_view value = line.substr(eq + 1);
    std::string problem;
    if (key == "errno") {
      problem = errno_line(value);
    } else if (key == "public_key") {
      std::array<uint8_t, handshake::kKeySize> b;
      if (!key_from_hex(value, b)) return Err(where + "public_key is not 64 hex digits");
      if (!state_.peers.empty()) state_.peers.back().last_handshake = handshake_time(handshake_sec_, handshake_nsec_);
      handshake_sec_ = handshake_nsec_ = 0;
      state_.peers.emplace_back().public_key = handshake::PublicKey(b);
    } else if (state_.peers.empty()) {
      problem = device_line(key, value);
    } else {
      problem = peer_line(state_.peers.back(), key, value);
    }
    if (!problem.empty()) return Err(where + problem);
  }
  if (!state_.peers.empty()) state_.peers.back().last_handshake = handshake_time(handshake_sec_, handshake_nsec_);
  return std::move(state_);
}

std::string GetParser::errno_line(std::string_view value) {
  const bool negative = !value.empty() && value[0] == '-';
  const auto v = parse_uint(negative ? value.substr(1) : value, 0x7fffffff);
  if (!v) return "errno is not a number";
  if (*v == 0) return "";
  return "the daemon answered errno=" + std::string(value) + " (" + std::strerror(static_cast<int>(*v)) + ")";
}

std::string GetParser::device_line(std::string_view key, std::string_view value) {
  if (key == "private_key") {
    Secret<handshake::kKeySize> b;
    if (!key_from_hex(value, b.span())) return "private_key is not 64 hex digits";
    if (handshake::ct_is_zero(b.span())) {
      state_.private_key.reset();
    } else {
      state_.private_key = handshake::PrivateKey(b.span());
    }
  } else if (key == "listen_port") {
    const auto v = parse_uint(value, 0xffff);
    if (!v) return "listen_port is not a number 0..65535";
    state_.listen_port = static_cast<uint16_t>(*v);
  } else if (key == "fwmark") {
    const auto v = parse_uint(value, 0xffffffff);
    if (!v) return "fwmark is not a number";
    state_.fwmark = static_cast<uint32_t>(*v);
  }
  return "";  // other keys are skipped, as `wg` skips them
}

std::string GetParser::peer_line(UapiPeerState& p, std::string_view key, std::string_view value) {
  constexpr uint64_t kMaxSec = INT64_MAX / kNanosPerSecond - 1;
  std::optional<uint64_t> n;
  if (key == "preshared_key") {
    Secret<handshake::kKeySize> b;
    if (!key_from_hex(value, b.span())) return "preshared_key is not 64 hex digits";
    p.preshared_key = handshake::PresharedKey(b.span());
  } else if (key == "endpoint") {
    p.endpoint = tunnel::SockAddr::parse(value);
    if (!p.endpoint) return "endpoint is not IP:PORT or [IPv6]:PORT";
  } else if (key == "allowed_ip") {
    const auto a = config::IpPrefix::parse(value);
    if (!a || value.find('/') == std::string_view::npos) return "allowed_ip is not ADDRESS/LENGTH";
    p.allowed_ips.push_back(*a);
  } else if (key == "last_handshake_time_sec") {
    if (!(n = parse_uint(value, kMaxSec))) return "last_handshake_time_sec is not a number of seconds";
    handshake_sec_ = static_cast<int64_t>(*n);
  } else if (key == "last_handshake_time_nsec") {
    if (!(n = parse_uint(value, kNanosPerSecond - 1))) return "last_handshake_time_nsec is not 0..999999999";
    handshake_nsec_ = static_cast<int64_t>(*n);
  } else if (key == "tx_bytes" || key == "rx_bytes") {
    if (!(n = parse_uint(value, UINT64_MAX))) return std::string(key) + " is not a number";
    (key == "tx_bytes" ? p.tx_bytes : p.rx_bytes) = *n;
  } else if (key == "persistent_keepalive_interval") {
    if (!(n = parse_uint(value, 0xffff))) return "persistent_keepalive_interval is not a number 0..65535";
    p.persistent_keepalive = static_cast<uint16_t>(*n);
  }
  return "";  // protocol_version and unknown keys are skipped
}

}  // namespace

UapiBackend::~UapiBackend() = default;

std::string key_to_hex(std::span<const uint8_t, handshake::kKeySize> key) {
  char buf[handshake::kKeySize * 2 + 1];
  sodium_bin2hex(buf, sizeof buf, key.data(), key.size());  // constant time, lower case
  std::string s(buf, handshake::kKeySize * 2);
  sodium_memzero(buf, sizeof buf);
  return s;
}

bool key_from_hex(std::string_view hex, std::span<uint8_t, handshake::kKeySize> out) {
  if (hex.size() != handshake::kKeySize * 2) return false;
  size_t len = 0;
  const char* end = nullptr;
  if (sodium_hex2bin(out.data(), out.size(), hex.data(), hex.size(), nullptr, &len, &end) != 0) return false;
  return len == handshake::kKeySize && end == hex.data() + hex.size();
}

Result<UapiSet, int> parse_set(std::string_view body, std::string* why) { return SetParser(why).run(body); }

std::string format_set(const UapiSet& s) {
  std::string out;
  if (s.private_key) put_secret(out, "private_key", s.private_key->bytes());
  if (s.listen_port) put(out, "listen_port", std::to_string(*s.listen_port));
  if (s.fwmark) put(out, "fwmark", std::to_string(*s.fwmark));
  if (s.replace_peers) put(out, "replace_peers", "true");
  for (const UapiPeerSet& p : s.peers) {
    put(out, "public_key", key_to_hex(p.public_key.bytes()));
    if (p.remove) put(out, "remove", "true");
    if (p.update_only) put(out, "update_only", "true");
    if (p.preshared_key) put_secret(out, "preshared_key", p.preshared_key->bytes());
    if (p.endpoint) put(out, "endpoint", p.endpoint->to_string());
    if (p.persistent_keepalive) put(out, "persistent_keepalive_interval", std::to_string(*p.persistent_keepalive));
    if (p.replace_allowed_ips) put(out, "replace_allowed_ips", "true");
    for (const auto& a : p.allowed_ips) put(out, "allowed_ip", a.to_string());
  }
  return out;
}

namespace {
std::string format_get_lines(const UapiState& s, bool secrets) {
  std::string out;
  out.reserve(get_answer_bound(s));
  if (secrets && s.private_key && !s.private_key->is_zero()) put_secret(out, "private_key", s.private_key->bytes());
  if (s.listen_port != 0) put(out, "listen_port", std::to_string(s.listen_port));
  if (s.fwmark != 0) put(out, "fwmark", std::to_string(s.fwmark));
  for (const UapiPeerState& p : s.peers) put_peer(out, p, secrets);
  return out;
}
}  // namespace

std::string format_get(const UapiState& s) { return format_get_lines(s, true); }

std::string format_public_get(const UapiState& s) { return format_get_lines(s, false); }

Result<UapiState, std::string> parse_get(std::string_view text) { return GetParser().run(text); }

std::string format_errno(int err) {
  const int64_t wire = err <= 0 ? int64_t{err} : -int64_t{err};  // negative, as wireguard-go writes it
  return "errno=" + std::to_string(wire) + "\n\n";
}

std::optional<UapiFrame> next_frame(std::string_view buf, bool eof) {
  const size_t nl = buf.find('\n');
  if (nl == std::string_view::npos) {
    if (eof && !buf.empty()) return UapiFrame{UapiOp::kUnknown, {}, buf.size()};
    return std::nullopt;
  }
  const std::string_view op = buf.substr(0, nl);
  if (op == "get=1") {
    if (buf.size() <= nl + 1) {
      if (eof) return UapiFrame{UapiOp::kUnknown, {}, buf.size()};
      return std::nullopt;
    }
    return UapiFrame{buf[nl + 1] == '\n' ? UapiOp::kGet : UapiOp::kBadGet, {}, nl + 2};
  }
  if (op == "get=sitelink") {
    if (buf.size() <= nl + 1) {
      if (eof) return UapiFrame{UapiOp::kUnknown, {}, buf.size()};
      return std::nullopt;
    }
    return UapiFrame{buf[nl + 1] == '\n' ? UapiOp::kStatus : UapiOp::kBadGet, {}, nl + 2};
  }
  if (op != "set=1") return UapiFrame{UapiOp::kUnknown, {}, buf.size()};
  const size_t start = nl + 1;
  if (buf.size() > start && buf[start] == '\n') return UapiFrame{UapiOp::kSet, buf.substr(start, 0), start + 1};
  const size_t blank = buf.find("\n\n", start);
  if (blank != std::string_view::npos) {
    return UapiFrame{UapiOp::kSet, buf.substr(start, blank + 1 - start), blank + 2};
  }
  if (eof) return UapiFrame{UapiOp::kSet, buf.substr(start), buf.size()};
  return std::nullopt;
}

}  // namespace sitelink::daemon

namespace sitelink::daemon {

namespace {

bool parse_data_path_line(std::string_view key, const std::string& value, uint64_t number, DataPathStatus& d) {
  const std::pair<std::string_view, std::optional<bool>*> flags[] = {
      {"batch_io", &d.batch_io}, {"udp_gso", &d.udp_gso}, {"udp_gro", &d.udp_gro}, {"tun_offload", &d.tun_offload}};
  for (const auto& [name, field] : flags) {
    if (key != name) continue;
    if (value == "1" || value == "0") *field = value == "1";
    return true;
  }
  const std::pair<std::string_view, std::optional<uint64_t>*> numbers[] = {
      {"socket_rcvbuf", &d.socket_rcvbuf}, {"socket_sndbuf", &d.socket_sndbuf}, {"crypto_threads", &d.crypto_threads}};
  for (const auto& [name, field] : numbers) {
    if (key != name) continue;
    *field = number;
    return true;
  }
  return false;
}

}  // namespace

UapiState without_secrets(UapiState state) {
  state.private_key.reset();
  for (auto& p : state.peers) p.preshared_key = handshake::PresharedKey();
  return state;
}

namespace {

// netmap=SIDE PREFIX seen-as PREFIX
void parse_netmap_line(const std::string& value, SitelinkPeerStatus& peer) {
  std::istringstream words(value);
  SitelinkPeerStatus::Mapping m;
  std::string seen;
  if (words >> m.side >> m.prefix >> seen >> m.seen_as) peer.netmap.push_back(std::move(m));
}

// endpoint_entry=STATE,LAST_TRIED,IN_USE,LABEL
void parse_endpoint_entry(const std::string& value, SitelinkPeerStatus& peer) {
  const size_t a = value.find(',');
  const size_t b = a == std::string::npos ? a : value.find(',', a + 1);
  const size_t c = b == std::string::npos ? b : value.find(',', b + 1);
  if (c == std::string::npos) return;
  peer.endpoints.push_back({value.substr(0, a), std::strtoull(value.c_str() + a + 1, nullptr, 10),
                            value.substr(b + 1, c - b - 1) == "1", value.substr(c + 1)});
}

}  // namespace

SitelinkStatus parse_status(std::string_view text) {
  SitelinkStatus st;
  SitelinkPeerStatus* peer = nullptr;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    const std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    if (line.empty()) break;
    const size_t eq = line.find('=');
    if (eq == std::string_view::npos) continue;
    const std::string_view key = line.substr(0, eq);
    const std::string value(line.substr(eq + 1));
    const uint64_t number = std::strtoull(value.c_str(), nullptr, 10);
    if (peer == nullptr && parse_data_path_line(key, value, number, st.data_path)) continue;
    if (key == "warning" && peer == nullptr) {
      st.warnings.push_back(value);
    } else if (key == "interface_public_key" && peer == nullptr) {
      std::array<uint8_t, handshake::kKeySize> k;
      if (key_from_hex(value, k)) st.public_key = handshake::PublicKey(k);
    } else if (key == "mss_clamped" && peer == nullptr) {
      st.mss_clamped = number;
    } else if (key == "drop") {
      const size_t colon = value.rfind(':');
      if (colon != std::string::npos)
        st.drops.emplace_back(value.substr(0, colon), std::strtoull(value.c_str() + colon + 1, nullptr, 10));
    } else if (key == "public_key") {
      std::array<uint8_t, handshake::kKeySize> k;
      peer = nullptr;
      if (key_from_hex(value, k)) {
        st.peers.emplace_back(handshake::PublicKey(k), SitelinkPeerStatus{});
        peer = &st.peers.back().second;
      }
    } else if (peer != nullptr && key == "name") {
      peer->name = value;
    } else if (peer != nullptr && key == "rx_packets") {
      peer->rx_packets = number;
    } else if (peer != nullptr && key == "tx_packets") {
      peer->tx_packets = number;
    } else if (peer != nullptr && key == "handshakes") {
      peer->handshakes = number;
    } else if (peer != nullptr && key == "handshake_attempts") {
      peer->handshake_attempts = number;
    } else if (peer != nullptr && key == "unanswered_initiations") {
      peer->unanswered_initiations = number;
    } else if (peer != nullptr && key == "unanswered_since") {
      peer->unanswered_since = number;
    } else if (peer != nullptr && key == "last_receive") {
      peer->last_receive = number;
    } else if (peer != nullptr && key == "send_error") {
      peer->send_errno = static_cast<int>(std::min<uint64_t>(number, 4095));
    } else if (peer != nullptr && key == "send_error_time") {
      peer->send_error_time = number;
    } else if (peer != nullptr && key == "source") {
      peer->source = value;
    } else if (peer != nullptr && key == "since_last_receive") {
      peer->since_last_receive = number;
    } else if (peer != nullptr && key == "path_alive") {
      peer->path_alive = value == "1";
    } else if (peer != nullptr && key == "endpoint_switches") {
      peer->endpoint_switches = number;
    } else if (peer != nullptr && key == "netmap") {
      parse_netmap_line(value, *peer);
    } else if (peer != nullptr && key == "netmap_packets") {
      const size_t comma = value.find(',');
      peer->netmap_out = number;
      if (comma != std::string::npos) peer->netmap_in = std::strtoull(value.c_str() + comma + 1, nullptr, 10);
    } else if (peer != nullptr && key == "endpoint_entry") {
      parse_endpoint_entry(value, *peer);
    }
  }
  return st;
}

}  // namespace sitelink::daemon
