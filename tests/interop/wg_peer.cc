// wg_interop_peer: a test program (not product code) that drives sitelink's
// sans-I/O protocol core (handshake/) over a real UDP socket against
// wireguard-go, to prove byte compatibility. tests/netns/wg-go-interop.sh
// runs it in a network namespace opposite wireguard-go.
//
//   initiator (default): sends one ICMP echo request through the tunnel,
//     which makes the PeerMachine handshake first; exits 0 once the matching
//     echo reply comes back decrypted.
//   --respond: waits for wireguard-go's initiation, answers it, and answers
//     the first ICMP echo request that arrives through the tunnel; exits 0
//     once the reply is sent.
//
// The whole run is bounded by --timeout-ms; any timeout or error exits 1
// with a message on stderr. Progress goes to stderr, one line per event.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iterator>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "handshake/cookie.h"
#include "handshake/crypto.h"
#include "handshake/keys.h"
#include "handshake/messages.h"
#include "handshake/noise.h"
#include "handshake/peer.h"

namespace hs = sitelink::handshake;
using sitelink::Bytes;
using sitelink::Instant;
using sitelink::MutableBytes;
using sitelink::Now;
using sitelink::WallTime;

namespace {

constexpr size_t kMtu = 1420;
constexpr size_t kIpHeaderSize = 20;
constexpr size_t kIcmpHeaderSize = 8;
constexpr uint8_t kIcmpEchoReply = 0;
constexpr uint8_t kIcmpEchoRequest = 8;
constexpr uint8_t kProtoIcmp = 1;
constexpr uint16_t kIcmpSequence = 1;
constexpr std::string_view kPayload = "sitelink wg-go interop probe 0123456789";

void log(const std::string& s) { std::fprintf(stderr, "wg_interop_peer: %s\n", s.c_str()); }

[[noreturn]] void fail(const std::string& s) {
  log("FAIL: " + s);
  std::exit(1);
}

// --- Options ------------------------------------------------------------------

struct Options {
  std::string private_key_file;
  std::string peer_public_key;
  std::string psk_file;
  std::string endpoint;
  uint16_t listen_port = 0;
  std::string tunnel_src;
  std::string tunnel_dst;
  long timeout_ms = 5000;
  bool respond = false;
};

[[noreturn]] void usage() {
  std::fprintf(stderr,
               "usage: wg_interop_peer --private-key-file F --peer-public-key B64 [--psk-file F]\n"
               "         --endpoint IP:PORT --listen-port N --tunnel-src IP --tunnel-dst IP\n"
               "         [--timeout-ms N] [--respond]\n");
  std::exit(2);
}

long parse_number(const std::string& s, long lo, long hi) {
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(s.c_str(), &end, 10);
  if (errno != 0 || end == s.c_str() || *end != '\0' || v < lo || v > hi) fail("bad number: " + s);
  return v;
}

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (flag == "--respond") {
      o.respond = true;
      continue;
    }
    if (i + 1 >= argc) usage();
    const std::string value = argv[++i];
    if (flag == "--private-key-file") o.private_key_file = value;
    else if (flag == "--peer-public-key") o.peer_public_key = value;
    else if (flag == "--psk-file") o.psk_file = value;
    else if (flag == "--endpoint") o.endpoint = value;
    else if (flag == "--listen-port") o.listen_port = static_cast<uint16_t>(parse_number(value, 0, 65535));
    else if (flag == "--tunnel-src") o.tunnel_src = value;
    else if (flag == "--tunnel-dst") o.tunnel_dst = value;
    else if (flag == "--timeout-ms") o.timeout_ms = parse_number(value, 1, 3'600'000);
    else usage();
  }
  if (o.private_key_file.empty() || o.peer_public_key.empty() || o.endpoint.empty() || o.tunnel_src.empty() ||
      o.tunnel_dst.empty()) {
    usage();
  }
  return o;
}

// The first whitespace-delimited word of a file, as `wg genkey` writes it.
std::string read_key_file(const std::string& path) {
  std::ifstream in(path);
  std::string word;
  if (!(in >> word)) fail("cannot read key file " + path);
  return word;
}

uint32_t parse_ipv4(const std::string& s) {
  in_addr a{};
  if (inet_pton(AF_INET, s.c_str(), &a) != 1) fail("bad IPv4 address: " + s);
  return ntohl(a.s_addr);
}

sockaddr_in parse_endpoint(const std::string& s) {
  const size_t colon = s.rfind(':');
  if (colon == std::string::npos) fail("endpoint must be IP:PORT: " + s);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(parse_ipv4(s.substr(0, colon)));
  sa.sin_port = htons(static_cast<uint16_t>(parse_number(s.substr(colon + 1), 1, 65535)));
  return sa;
}

std::string to_string(const sockaddr_in& sa) {
  char buf[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &sa.sin_addr, buf, sizeof buf);
  return std::string(buf) + ":" + std::to_string(ntohs(sa.sin_port));
}

std::string ip_to_string(uint32_t ip) {
  in_addr a{};
  a.s_addr = htonl(ip);
  char buf[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &a, buf, sizeof buf);
  return buf;
}

// --- Clocks -------------------------------------------------------------------

int64_t clock_ns(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

Now read_clocks() {
  return Now{Instant::from_ns(clock_ns(CLOCK_BOOTTIME)), WallTime{sitelink::Duration(clock_ns(CLOCK_REALTIME))}};
}

// Milliseconds from `now` until `t`, rounded up, at least 0.
int millis_until(Instant now, Instant t) {
  if (t.is_never()) return 60'000;
  const int64_t ns = (t - now).count();
  if (ns <= 0) return 0;
  const int64_t ms = (ns + 999'999) / 1'000'000;
  return ms > 60'000 ? 60'000 : static_cast<int>(ms);
}

// --- ICMP over IPv4 -------------------------------------------------------------

uint16_t load_be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

void store_be16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}

// The Internet checksum (RFC 1071) of `data`.
uint16_t inet_checksum(Bytes data) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < data.size(); i += 2) sum += load_be16(&data[i]);
  if (data.size() % 2 != 0) sum += uint32_t{data.back()} << 8;
  while (sum >> 16 != 0) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

struct Echo {
  uint8_t type = 0;
  uint32_t src = 0;
  uint32_t dst = 0;
  uint16_t id = 0;
  uint16_t seq = 0;
  std::vector<uint8_t> payload;
};

// Writes an IPv4 packet carrying an ICMP echo message; returns its length.
size_t write_echo(MutableBytes out, const Echo& e) {
  const size_t total = kIpHeaderSize + kIcmpHeaderSize + e.payload.size();
  if (out.size() < total) fail("packet buffer too small");
  std::fill(out.begin(), out.begin() + static_cast<ptrdiff_t>(total), 0);
  uint8_t* ip = out.data();
  ip[0] = 0x45;  // version 4, 5-word header
  store_be16(ip + 2, static_cast<uint16_t>(total));
  store_be16(ip + 4, e.seq);   // identification
  store_be16(ip + 6, 0x4000);  // don't fragment
  ip[8] = 64;                  // ttl
  ip[9] = kProtoIcmp;
  sitelink::store_be32(ip + 12, e.src);
  sitelink::store_be32(ip + 16, e.dst);
  store_be16(ip + 10, inet_checksum(Bytes(ip, kIpHeaderSize)));
  uint8_t* icmp = ip + kIpHeaderSize;
  icmp[0] = e.type;
  store_be16(icmp + 4, e.id);
  store_be16(icmp + 6, e.seq);
  std::copy(e.payload.begin(), e.payload.end(), icmp + kIcmpHeaderSize);
  store_be16(icmp + 2, inet_checksum(Bytes(icmp, total - kIpHeaderSize)));
  return total;
}

// Parses an IPv4 ICMP echo request or reply, checking both checksums; the
// packet may carry WireGuard padding after the IP total length.
std::optional<Echo> parse_echo(Bytes pkt) {
  if (pkt.size() < kIpHeaderSize || pkt[0] >> 4 != 4) return std::nullopt;
  const size_t ihl = size_t{pkt[0] & 0x0fu} * 4;
  const size_t total = load_be16(&pkt[2]);
  if (ihl < kIpHeaderSize || total < ihl + kIcmpHeaderSize || total > pkt.size()) return std::nullopt;
  if (pkt[9] != kProtoIcmp || inet_checksum(pkt.first(ihl)) != 0) return std::nullopt;
  const Bytes icmp = pkt.subspan(ihl, total - ihl);
  if (inet_checksum(icmp) != 0 || icmp[1] != 0) return std::nullopt;
  if (icmp[0] != kIcmpEchoRequest && icmp[0] != kIcmpEchoReply) return std::nullopt;
  Echo e;
  e.type = icmp[0];
  e.src = sitelink::load_be32(&pkt[12]);
  e.dst = sitelink::load_be32(&pkt[16]);
  e.id = load_be16(&icmp[4]);
  e.seq = load_be16(&icmp[6]);
  e.payload.assign(icmp.begin() + kIcmpHeaderSize, icmp.end());
  return e;
}

std::string describe(const Echo& e) {
  return std::string(e.type == kIcmpEchoRequest ? "echo request" : "echo reply") + " " + ip_to_string(e.src) + " -> " +
         ip_to_string(e.dst) + " id " + std::to_string(e.id) + " seq " + std::to_string(e.seq) + ", " +
         std::to_string(e.payload.size()) + " payload bytes";
}

// --- The protocol core's collaborators --------------------------------------------

class RandomIndices final : public hs::IndexAllocator {
 public:
  explicit RandomIndices(hs::Rng& rng) : rng_(rng) {}
  uint32_t allocate() override {
    uint32_t i = 0;
    do {
      std::array<uint8_t, 4> b;
      rng_.fill(b);
      i = sitelink::load_le32(b.data());
    } while (!used_.insert(i).second);
    return i;
  }
  void release(uint32_t index) override { used_.erase(index); }

 private:
  hs::Rng& rng_;
  std::set<uint32_t> used_;
};

const char* event_name(hs::PeerEvent e) {
  switch (e) {
    case hs::PeerEvent::kHandshakeInitiated: return "handshake initiation sent";
    case hs::PeerEvent::kHandshakeResponded: return "handshake response sent";
    case hs::PeerEvent::kSessionEstablished: return "session established";
    case hs::PeerEvent::kHandshakeGaveUp: return "handshake gave up";
    case hs::PeerEvent::kKeysZeroed: return "keys zeroed";
    case hs::PeerEvent::kCookieReceived: return "cookie received";
    case hs::PeerEvent::kStagedPacketDropped: return "staged packet dropped";
  }
  return "unknown event";
}

const char* message_name(Bytes datagram) {
  if (datagram.size() < 4) return "runt";
  switch (datagram[0]) {
    case 1: return "initiation";
    case 2: return "response";
    case 3: return "cookie reply";
    case 4: return datagram.size() == hs::transport::kMinSize ? "keepalive" : "transport";
  }
  return "unknown";
}

// Sends datagrams to the peer's endpoint and keeps decrypted packets.
class UdpTransmit final : public hs::Transmit {
 public:
  UdpTransmit(int fd, sockaddr_in endpoint) : fd_(fd), endpoint_(endpoint) {}

  void send_to_network(Bytes d) override {
    const ssize_t n = sendto(fd_, d.data(), d.size(), 0, reinterpret_cast<const sockaddr*>(&endpoint_),
                             sizeof endpoint_);
    if (n < 0) fail("sendto " + to_string(endpoint_) + ": " + std::strerror(errno));
    log(std::string("sent ") + message_name(d) + " (" + std::to_string(d.size()) + " bytes) to " +
        to_string(endpoint_));
  }
  void deliver_to_tun(MutableBytes packet) override { delivered.emplace_back(packet.begin(), packet.end()); }
  void on_event(hs::PeerEvent e) override { log(std::string("event: ") + event_name(e)); }

  void set_endpoint(const sockaddr_in& sa) { endpoint_ = sa; }
  std::vector<std::vector<uint8_t>> delivered;

 private:
  int fd_;
  sockaddr_in endpoint_;
};

int open_socket(uint16_t port) {
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) fail(std::string("socket: ") + std::strerror(errno));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  if (bind(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0) {
    fail("bind port " + std::to_string(port) + ": " + std::strerror(errno));
  }
  return fd;
}

// --- The peer -------------------------------------------------------------------

class InteropPeer {
 public:
  InteropPeer(const Options& o, hs::PrivateKey key, const hs::PublicKey& remote, const hs::PresharedKey& psk, int fd)
      : opts_(o),
        local_(std::move(key)),
        remote_(remote),
        checker_(local_.public_key()),
        indices_(rng_),
        machine_(local_, remote, psk, hs::TimerSettings{}, rng_, indices_),
        fd_(fd),
        out_(fd, parse_endpoint(o.endpoint)),
        src_(parse_ipv4(o.tunnel_src)),
        dst_(parse_ipv4(o.tunnel_dst)),
        echo_id_(static_cast<uint16_t>(getpid())) {}

  int run();

 private:
  void send_probe(const Now& now);
  void poll_once(const Now& now, Instant deadline);
  void receive_all();
  void handle_datagram(const Now& now, MutableBytes d, const sockaddr_in& from);
  void handle_delivered(const Now& now);
  void handle_packet(const Now& now, Bytes pkt);
  void answer(const Now& now, const Echo& request);
  void send_ip(const Now& now, const Echo& e);
  void note(const char* what, sitelink::Result<void, hs::ProtoError> r);

  const Options& opts_;
  hs::SodiumRng rng_;
  hs::LocalIdentity local_;
  hs::PublicKey remote_;
  hs::CookieChecker checker_;
  RandomIndices indices_;
  hs::PeerMachine machine_;
  int fd_;
  UdpTransmit out_;
  uint32_t src_;
  uint32_t dst_;
  uint16_t echo_id_;
  bool done_ = false;
};

int InteropPeer::run() {
  const Now start = read_clocks();
  const Instant deadline = start.mono + std::chrono::milliseconds(opts_.timeout_ms);
  log(std::string(opts_.respond ? "responder" : "initiator") + ", local public key " + local_.public_key().to_base64());
  if (!opts_.respond) send_probe(start);
  while (!done_) {
    const Now now = read_clocks();
    if (now.mono >= deadline) {
      fail("timed out after " + std::to_string(opts_.timeout_ms) + " ms" +
           (machine_.has_session(now.mono) ? " (a session was established)" : " (no session)"));
    }
    poll_once(now, deadline);
  }
  const hs::PeerStats& st = machine_.stats();
  log("stats: tx " + std::to_string(st.tx_packets) + " datagrams / " + std::to_string(st.tx_bytes) + " bytes, rx " +
      std::to_string(st.rx_packets) + " datagrams / " + std::to_string(st.rx_bytes) + " bytes");
  return 0;
}

// Waits for a datagram or the machine's next timer, then handles both.
void InteropPeer::poll_once(const Now& now, Instant deadline) {
  const Instant next = std::min(deadline, machine_.next_deadline());
  pollfd p{fd_, POLLIN, 0};
  const int n = poll(&p, 1, millis_until(now.mono, next));
  if (n < 0 && errno != EINTR) fail(std::string("poll: ") + std::strerror(errno));
  if (n > 0) receive_all();
  const Now after = read_clocks();
  machine_.on_timer(after, out_);
  handle_delivered(after);
}

void InteropPeer::receive_all() {
  std::vector<uint8_t> buf(65536);
  for (;;) {
    sockaddr_in from{};
    socklen_t len = sizeof from;
    const ssize_t n = recvfrom(fd_, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &len);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      if (errno == EINTR) continue;
      fail(std::string("recvfrom: ") + std::strerror(errno));
    }
    const Now now = read_clocks();
    const MutableBytes d(buf.data(), static_cast<size_t>(n));
    log(std::string("received ") + message_name(d) + " (" + std::to_string(n) + " bytes) from " + to_string(from));
    handle_datagram(now, d, from);
    handle_delivered(now);
  }
}

void InteropPeer::note(const char* what, sitelink::Result<void, hs::ProtoError> r) {
  if (!r) log(std::string(what) + " refused: " + std::string(hs::to_string(r.error())));
}

void InteropPeer::handle_datagram(const Now& now, MutableBytes d, const sockaddr_in& from) {
  auto msg = hs::classify(d);
  if (!msg) {
    log("classify refused: " + std::string(hs::to_string(msg.error())));
    return;
  }
  if (auto* init = std::get_if<hs::InitiationMsg>(&*msg)) {
    if (!checker_.check_mac1(init->bytes)) return log("initiation refused: bad mac1");
    auto consumed = hs::consume_initiation(local_, *init);
    if (!consumed) return note("initiation", sitelink::Err(consumed.error()));
    if (consumed->initiator_static != remote_) return log("initiation refused: unknown peer");
    out_.set_endpoint(from);  // roaming: answer where it came from
    note("initiation", machine_.receive_initiation(now, std::move(*consumed), out_));
  } else if (auto* resp = std::get_if<hs::ResponseMsg>(&*msg)) {
    if (!checker_.check_mac1(resp->bytes)) return log("response refused: bad mac1");
    note("response", machine_.receive_response(now, *resp, out_));
  } else if (auto* cookie = std::get_if<hs::CookieReplyMsg>(&*msg)) {
    note("cookie reply", machine_.receive_cookie_reply(now, *cookie, out_));
  } else if (auto* data = std::get_if<hs::TransportMsg>(&*msg)) {
    note("transport", machine_.receive_transport(now, *data, out_));
  }
}

// --- Tunnel traffic -------------------------------------------------------------

std::vector<uint8_t> probe_payload() { return {kPayload.begin(), kPayload.end()}; }

void InteropPeer::send_ip(const Now& now, const Echo& e) {
  std::vector<uint8_t> buf(hs::kHeadroom + kMtu + hs::kTailroom);
  const size_t len = write_echo(MutableBytes(buf).subspan(hs::kHeadroom, kMtu), e);
  log("tunnel: sending " + describe(e));
  machine_.send(now, buf, len, kMtu, out_);
}

void InteropPeer::send_probe(const Now& now) {
  send_ip(now, Echo{kIcmpEchoRequest, src_, dst_, echo_id_, kIcmpSequence, probe_payload()});
}

void InteropPeer::handle_delivered(const Now& now) {
  std::vector<std::vector<uint8_t>> packets;
  packets.swap(out_.delivered);
  for (const auto& p : packets) handle_packet(now, p);
}

void InteropPeer::handle_packet(const Now& now, Bytes pkt) {
  const std::optional<Echo> e = parse_echo(pkt);
  if (!e) return log("tunnel: ignored a " + std::to_string(pkt.size()) + "-byte packet (not ICMP echo)");
  log("tunnel: received " + describe(*e));
  if (e->src != dst_ || e->dst != src_) return log("tunnel: addresses do not match, ignored");
  if (opts_.respond && e->type == kIcmpEchoRequest) return answer(now, *e);
  if (!opts_.respond && e->type == kIcmpEchoReply && e->id == echo_id_ && e->seq == kIcmpSequence &&
      e->payload == probe_payload()) {
    log("PASS: echo reply matches our request");
    done_ = true;
  }
}

void InteropPeer::answer(const Now& now, const Echo& request) {
  send_ip(now, Echo{kIcmpEchoReply, src_, dst_, request.id, request.seq, request.payload});
  log("PASS: answered the echo request");
  done_ = true;
}

}  // namespace

int main(int argc, char** argv) {
  hs::crypto_init();
  const Options opts = parse_options(argc, argv);
  auto key = hs::PrivateKey::from_base64(read_key_file(opts.private_key_file));
  if (!key) fail("bad private key in " + opts.private_key_file);
  auto remote = hs::PublicKey::from_base64(opts.peer_public_key);
  if (!remote) fail("bad peer public key");
  hs::PresharedKey psk;
  if (!opts.psk_file.empty()) {
    auto p = hs::PresharedKey::from_base64(read_key_file(opts.psk_file));
    if (!p) fail("bad preshared key in " + opts.psk_file);
    psk = *p;
  }
  const int fd = open_socket(opts.listen_port);
  InteropPeer peer(opts, std::move(*key), *remote, psk, fd);
  const int rc = peer.run();
  close(fd);
  return rc;
}
