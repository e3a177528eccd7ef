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

#include "config/types.h"
#include "handshake/base/secret.h"

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

}  // namespace

// The lines of a set request, one at a time (UapiSetStream feeds them).
class UapiSetStream::Parser {
 public:
  // 0, or the positive errno of the line (with `why` set).
  int line(std::string_view text, int number);
  UapiSet& set() { return set_; }
  const std::string& why() const { return why_; }

 private:
  int fail(int err, int line, const std::string& what) {
    why_ = "line " + std::to_string(line) + ": " + what;
    return err;
  }
  int device_line(std::string_view key, std::string_view value, int line);
  int peer_line(UapiPeerSet& peer, std::string_view key, std::string_view value, int line);
  int peer_key_line(UapiPeerSet& peer, std::string_view key, std::string_view value, int line);
  int allowed_ip_line(UapiPeerSet& peer, std::string_view value, int line);

  std::string why_;
  UapiSet set_;
  size_t allowed_ips_ = 0;  // in set_, all sections together
};

int UapiSetStream::Parser::line(std::string_view text, int number) {
  const size_t eq = text.find('=');
  if (eq == std::string_view::npos) return fail(EPROTO, number, "no '=' in the line");
  const std::string_view key = text.substr(0, eq);
  const std::string_view value = text.substr(eq + 1);
  if (key == "public_key") {
    std::array<uint8_t, handshake::kKeySize> b;
    if (!key_from_hex(value, b)) return fail(EINVAL, number, "public_key is not 64 hex digits");
    if (set_.peers.size() >= config::kMaxPeers) {
      return fail(E2BIG, number,
                  "more than " + std::to_string(config::kMaxPeers) + " peers in one request (the limit)");
    }
    set_.peers.emplace_back().public_key = handshake::PublicKey(b);
    return 0;
  }
  if (set_.peers.empty()) return device_line(key, value, number);
  return peer_line(set_.peers.back(), key, value, number);
}

int UapiSetStream::Parser::device_line(std::string_view key, std::string_view value, int line) {
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
int UapiSetStream::Parser::peer_key_line(UapiPeerSet& peer, std::string_view key, std::string_view value, int line) {
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
    allowed_ips_ -= peer.allowed_ips.size();
    peer.allowed_ips.clear();  // allowed_ip lines before this one are replaced too
  }
  return 0;
}

int UapiSetStream::Parser::peer_line(UapiPeerSet& peer, std::string_view key, std::string_view value, int line) {
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
    return allowed_ip_line(peer, value, line);
  } else if (key == "protocol_version") {
    if (value != "1") return fail(EINVAL, line, "protocol_version must be 1");
  } else {
    return fail(EINVAL, line, "unknown peer key " + printable(key));
  }
  return 0;
}

int UapiSetStream::Parser::allowed_ip_line(UapiPeerSet& peer, std::string_view value, int line) {
  // netip.ParsePrefix: the "/LENGTH" is required.
  const auto p = config::IpPrefix::parse(value);
  if (value.find('/') == std::string_view::npos || !p) return fail(EINVAL, line, "allowed_ip is not ADDRESS/LENGTH");
  if (allowed_ips_ >= config::kMaxAllowedIps) {
    return fail(E2BIG, line,
                "more than " + std::to_string(config::kMaxAllowedIps) + " allowed IPs in one request (the limit)");
  }
  peer.allowed_ips.push_back(p->canonical());
  ++allowed_ips_;
  return 0;
}

namespace {

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

// A get answer's lines for one peer, but its allowed IPs.
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
}

// A get answer's interface lines.
void put_device(std::string& out, const UapiDeviceState& d, bool secrets) {
  if (secrets && d.private_key && !d.private_key->is_zero()) put_secret(out, "private_key", d.private_key->bytes());
  if (d.listen_port != 0) put(out, "listen_port", std::to_string(d.listen_port));
  if (d.fwmark != 0) put(out, "fwmark", std::to_string(d.fwmark));
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

// ---- set, streamed ------------------------------------------------------------

UapiSetStream::UapiSetStream(bool parse) : parser_(parse ? std::make_unique<Parser>() : nullptr) {}

UapiSetStream::~UapiSetStream() { secure_clear(line_); }

size_t UapiSetStream::feed(std::string_view data) {
  size_t used = 0;
  while (used < data.size() && !complete_) {
    const std::string_view rest = data.substr(used);
    const size_t nl = rest.find('\n');
    const std::string_view part = rest.substr(0, nl);
    if (!part.empty()) line_empty_ = false;
    if (parser_ && !line_too_long_) {
      if (line_.size() + part.size() > kUapiMaxLine) {
        line_too_long_ = true;
        secure_clear(line_);
      } else {
        append_wiping(line_, part);
      }
    }
    used += part.size();
    if (nl == std::string_view::npos) break;
    ++used;  // the '\n'
    end_of_line();
  }
  size_ += used;
  return used;
}

void UapiSetStream::finish() {
  if (!complete_ && !line_empty_) end_of_line();
  complete_ = true;
}

// The line in line_ is complete (its '\n' taken, or the end of input).
void UapiSetStream::end_of_line() {
  if (line_empty_) {  // the blank line: the end of the request
    complete_ = true;
    return;
  }
  ++line_number_;
  if (parser_ && line_too_long_) {
    err_ = EMSGSIZE;
    why_ = "line " + std::to_string(line_number_) + ": longer than " + std::to_string(kUapiMaxLine) + " bytes";
    parser_.reset();
  } else if (parser_) {
    if (const int err = parser_->line(line_, line_number_); err != 0) {
      err_ = err;
      why_ = parser_->why();
      parser_.reset();  // the rest is only read to its end
    }
  }
  secure_clear(line_);
  line_too_long_ = false;
  line_empty_ = true;
}

Result<UapiSet, int> UapiSetStream::take() {
  if (err_ != 0) return Err(err_);
  if (!parser_) return Err(EPERM);  // not parsed (or taken already)
  UapiSet set = std::move(parser_->set());
  parser_.reset();
  return set;
}

Result<UapiSet, int> parse_set(std::string_view body, std::string* why) {
  UapiSetStream stream;
  stream.feed(body);
  stream.finish();
  auto r = stream.take();
  if (!r && why != nullptr) *why = stream.why();
  return r;
}

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

// The whole answer through the stream: one code for both.
class StateBackend final : public UapiBackend {
 public:
  explicit StateBackend(const UapiState& s) : state_(s) {}
  UapiDeviceState get_device() override {
    UapiDeviceState d{state_.private_key, state_.listen_port, state_.fwmark, {}};
    for (const auto& p : state_.peers) d.peers.push_back(p.public_key);
    return d;
  }
  std::optional<UapiPeerState> get_peer(const handshake::PublicKey& key) override {
    // In order, so a key listed twice gives its sections in order too.
    for (; next_ < state_.peers.size(); ++next_) {
      if (state_.peers[next_].public_key == key) return state_.peers[next_++];
    }
    return std::nullopt;
  }
  int set(const UapiSet&) override { return EPERM; }

 private:
  const UapiState& state_;
  size_t next_ = 0;
};

std::string format_get_lines(const UapiState& s, bool secrets) {
  StateBackend backend(s);
  UapiGetStream stream(backend, secrets);
  std::string out;
  // Room for everything (and the errno line), so the string never
  // reallocates: a reallocation would free a copy of the keys unwiped.
  constexpr size_t kPerPeer = 512;
  constexpr size_t kPerAllowedIp = 64;
  size_t bound = 256;
  for (const UapiPeerState& p : s.peers) bound += kPerPeer + kPerAllowedIp * p.allowed_ips.size();
  out.reserve(bound);
  while (!stream.done()) stream.next(out, bound);
  out.resize(out.size() - format_errno(0).size());  // without the errno line, as documented
  return out;
}

}  // namespace

std::string format_get(const UapiState& s) { return format_get_lines(s, true); }

std::string format_public_get(const UapiState& s) { return format_get_lines(s, false); }

UapiState UapiBackend::get() {
  UapiDeviceState d = get_device();
  UapiState s;
  s.private_key = std::move(d.private_key);
  s.listen_port = d.listen_port;
  s.fwmark = d.fwmark;
  for (const auto& key : d.peers) {
    if (auto p = get_peer(key)) s.peers.push_back(std::move(*p));
  }
  return s;
}

UapiGetStream::UapiGetStream(UapiBackend& backend, bool secrets)
    : backend_(backend), secrets_(secrets), device_(backend.get_device()), keys_(std::move(device_->peers)) {}

void UapiGetStream::next(std::string& out, size_t budget) {
  const size_t start = out.size();
  const auto room = [&] { return out.size() - start < budget; };
  if (device_) {
    put_device(out, *device_, secrets_);
    device_.reset();
  }
  while (room() && !done_) {
    if (peer_) {
      const auto& ips = peer_->allowed_ips;
      for (; next_allowed_ip_ < ips.size() && room(); ++next_allowed_ip_) {
        put(out, "allowed_ip", ips[next_allowed_ip_].to_string());
      }
      if (next_allowed_ip_ < ips.size()) break;
      peer_.reset();
    } else if (next_peer_ < keys_.size()) {
      peer_ = backend_.get_peer(keys_[next_peer_++]);
      next_allowed_ip_ = 0;
      if (peer_) put_peer(out, *peer_, secrets_);
    } else {
      out += format_errno(0);
      done_ = true;
    }
  }
}

Result<UapiState, std::string> parse_get(std::string_view text) { return GetParser().run(text); }

std::string format_errno(int err) {
  const int64_t wire = err <= 0 ? int64_t{err} : -int64_t{err};  // negative, as wireguard-go writes it
  return "errno=" + std::to_string(wire) + "\n\n";
}

std::optional<UapiFrame> next_frame(std::string_view buf, bool eof) {
  constexpr size_t kLongestOp = 16;  // "get=sitelink\n"
  const size_t nl = buf.find('\n');
  if (nl == std::string_view::npos) {
    if ((eof && !buf.empty()) || buf.size() > kLongestOp) return UapiFrame{UapiOp::kUnknown, buf.size()};
    return std::nullopt;
  }
  const std::string_view op = buf.substr(0, nl);
  if (op == "set=1") return UapiFrame{UapiOp::kSet, nl + 1};
  const bool get = op == "get=1";
  if (!get && op != "get=sitelink") return UapiFrame{UapiOp::kUnknown, buf.size()};
  if (buf.size() <= nl + 1) {
    if (eof) return UapiFrame{UapiOp::kUnknown, buf.size()};
    return std::nullopt;
  }
  if (buf[nl + 1] != '\n') return UapiFrame{UapiOp::kBadGet, nl + 2};
  return UapiFrame{get ? UapiOp::kGet : UapiOp::kStatus, nl + 2};
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
