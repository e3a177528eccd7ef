// flood_tool: a test program (not product code) that blasts WireGuard
// handshake traffic at a gateway's UDP port for a bounded time, at a target
// rate or as fast as it can, and prints what it sent. tests/stress/flood.sh
// runs it from a flooder network namespace against a sitelinkd hub.
//
// Modes (--mode):
//   garbage  random bytes: 148-byte "initiations" and 92-byte "responses"
//            with the right type but no valid mac1, transport-typed packets
//            of random size, and datagrams of random size and content.
//   mac1     well-formed initiations from unknown static keys, with a VALID
//            mac1 for --gateway-public-key: they pass the cheap check and
//            cost the gateway two DH unless it is under load and demands a
//            cookie. A pool of --keys initiations is built at start; every
//            datagram gets a fresh sender index and its mac1 recomputed.
//   replay   one genuine initiation (--replay-file: a pcap written by
//            tcpdump, or hex text) sent again and again, unchanged.
//   mix      the three above in turn, one datagram each.
//
// --spoof CIDR sends from random addresses and ports in CIDR through a raw
// socket (IP_HDRINCL, our own IPv4 and UDP headers); without it an ordinary
// UDP socket is used. IPv4 targets only.
//
// The run ends after --duration seconds (or at SIGINT/SIGTERM); the last
// line on stdout is
//   flood_tool: mode=M sent=N garbage=N mac1=N replay=N errors=N seconds=S rate=R pps
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "handshake/cookie.h"
#include "handshake/crypto.h"
#include "handshake/keys.h"
#include "handshake/messages.h"
#include "handshake/noise.h"

namespace hs = sitelink::handshake;

namespace {

constexpr size_t kBatch = 64;         // datagrams per sendmmsg
constexpr size_t kMaxGarbage = 1400;  // largest random datagram
constexpr size_t kIpHeader = 20;
constexpr size_t kUdpHeader = 8;
constexpr size_t kMaxPacket = kIpHeader + kUdpHeader + kMaxGarbage;
constexpr uint8_t kProtoUdp = 17;

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

[[noreturn]] void fail(const std::string& s) {
  std::fprintf(stderr, "flood_tool: %s\n", s.c_str());
  std::exit(1);
}

// --- Options ------------------------------------------------------------------

enum class Mode { kGarbage, kMac1, kReplay, kMix };

struct Options {
  Mode mode = Mode::kMix;
  std::string mode_name = "mix";
  sockaddr_in target{};
  double duration_s = 5;
  double rate = 0;                                     // datagrams per second; 0 = as fast as possible
  std::optional<std::pair<uint32_t, uint32_t>> spoof;  // first address, count
  std::optional<hs::PublicKey> gateway;
  size_t keys = 256;
  std::string replay_file;
  uint64_t seed = 0;
};

[[noreturn]] void usage() {
  std::fprintf(stderr,
               "usage: flood_tool --target IPV4:PORT --mode garbage|mac1|replay|mix --duration SECONDS\n"
               "         [--rate PPS (0 = as fast as possible)] [--spoof CIDR]\n"
               "         [--gateway-public-key B64] [--keys N] [--replay-file PCAP_OR_HEX] [--seed N]\n");
  std::exit(2);
}

double parse_double(const std::string& s, double lo, double hi) {
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(s.c_str(), &end);
  if (errno != 0 || end == s.c_str() || *end != '\0' || !(v >= lo && v <= hi)) fail("bad number: " + s);
  return v;
}

uint32_t parse_ipv4(const std::string& s) {
  in_addr a{};
  if (inet_pton(AF_INET, s.c_str(), &a) != 1) fail("bad IPv4 address: " + s);
  return ntohl(a.s_addr);
}

sockaddr_in parse_target(const std::string& s) {
  const size_t colon = s.rfind(':');
  if (colon == std::string::npos) fail("target must be IPV4:PORT: " + s);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(parse_ipv4(s.substr(0, colon)));
  sa.sin_port = htons(static_cast<uint16_t>(parse_double(s.substr(colon + 1), 1, 65535)));
  return sa;
}

// CIDR -> (first usable address, number of usable addresses): the network
// and broadcast addresses are left out of anything wider than a /31.
std::pair<uint32_t, uint32_t> parse_cidr(const std::string& s) {
  const size_t slash = s.find('/');
  if (slash == std::string::npos) fail("spoof range must be CIDR: " + s);
  const auto bits = static_cast<uint32_t>(parse_double(s.substr(slash + 1), 8, 32));
  const uint32_t size = bits == 32 ? 1 : 1u << (32 - bits);
  const uint32_t net = parse_ipv4(s.substr(0, slash)) & ~(size - 1);
  if (size <= 2) return {net, size};
  return {net + 1, size - 2};
}

Mode parse_mode(const std::string& s) {
  if (s == "garbage") return Mode::kGarbage;
  if (s == "mac1") return Mode::kMac1;
  if (s == "replay") return Mode::kReplay;
  if (s == "mix") return Mode::kMix;
  fail("unknown mode: " + s);
}

Options parse_options(int argc, char** argv) {
  Options o;
  bool have_target = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (i + 1 >= argc) usage();
    const std::string value = argv[++i];
    if (flag == "--target") {
      o.target = parse_target(value);
      have_target = true;
    } else if (flag == "--mode") {
      o.mode = parse_mode(value);
      o.mode_name = value;
    } else if (flag == "--duration") {
      o.duration_s = parse_double(value, 0.01, 3600);
    } else if (flag == "--rate") {
      o.rate = parse_double(value, 0, 1e8);
    } else if (flag == "--spoof") {
      o.spoof = parse_cidr(value);
    } else if (flag == "--gateway-public-key") {
      o.gateway = hs::PublicKey::from_base64(value);
      if (!o.gateway) fail("bad gateway public key");
    } else if (flag == "--keys") {
      o.keys = static_cast<size_t>(parse_double(value, 1, 65536));
    } else if (flag == "--replay-file") {
      o.replay_file = value;
    } else if (flag == "--seed") {
      o.seed = static_cast<uint64_t>(parse_double(value, 0, 1e15));
    } else {
      usage();
    }
  }
  if (!have_target) usage();
  if ((o.mode == Mode::kMac1 || o.mode == Mode::kMix) && !o.gateway) fail("mode needs --gateway-public-key");
  if ((o.mode == Mode::kReplay || o.mode == Mode::kMix) && o.replay_file.empty()) fail("mode needs --replay-file");
  return o;
}

// --- Randomness: not secret, only fast ------------------------------------------

class FastRandom {
 public:
  explicit FastRandom(uint64_t seed) : s_(seed != 0 ? seed : 0x9e3779b97f4a7c15ull) {}
  uint64_t next() {  // splitmix64
    uint64_t z = (s_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  uint32_t below(uint32_t n) { return static_cast<uint32_t>(next() % n); }
  void fill(uint8_t* p, size_t n) {
    for (size_t i = 0; i < n; i += 8) {
      const uint64_t v = next();
      std::memcpy(p + i, &v, std::min<size_t>(8, n - i));
    }
  }

 private:
  uint64_t s_;
};

// --- The genuine initiation to replay ------------------------------------------------

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot read " + path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

bool is_initiation(const uint8_t* p, size_t n) {
  return n == hs::initiation::kSize && p[0] == 1 && p[1] == 0 && p[2] == 0 && p[3] == 0;
}

// The UDP payload of one captured frame, or empty. Link types: Ethernet (1),
// raw IP (101) and Linux cooked capture (113, what `tcpdump -i any` writes).
std::vector<uint8_t> udp_payload(const uint8_t* f, size_t n, uint32_t linktype) {
  size_t off = 0;
  if (linktype == 1) off = 14;
  else if (linktype == 113) off = 16;
  else if (linktype != 101) fail("unsupported pcap link type " + std::to_string(linktype));
  if (n < off + 1) return {};
  const uint8_t version = f[off] >> 4;
  size_t udp = 0;
  if (version == 4 && n >= off + kIpHeader && f[off + 9] == kProtoUdp) udp = off + size_t{f[off] & 0x0fu} * 4;
  else if (version == 6 && n >= off + 40 && f[off + 6] == kProtoUdp) udp = off + 40;
  else return {};
  if (n < udp + kUdpHeader) return {};
  return {f + udp + kUdpHeader, f + n};
}

// The first handshake initiation in a classic pcap file (either byte order).
std::vector<uint8_t> initiation_from_pcap(const std::vector<uint8_t>& d) {
  const uint32_t magic = sitelink::load_le32(d.data());
  const bool swapped = magic == 0xd4c3b2a1 || magic == 0x4d3cb2a1;
  const auto u32 = [&](size_t at) {
    const uint32_t v = sitelink::load_le32(&d[at]);
    return swapped ? __builtin_bswap32(v) : v;
  };
  if (d.size() < 24) fail("pcap file too short");
  const uint32_t linktype = u32(20);
  for (size_t at = 24; at + 16 <= d.size();) {
    const size_t caplen = u32(at + 8);
    if (at + 16 + caplen > d.size()) break;
    const auto payload = udp_payload(&d[at + 16], caplen, linktype);
    if (is_initiation(payload.data(), payload.size())) return payload;
    at += 16 + caplen;
  }
  fail("no 148-byte handshake initiation in the pcap file");
}

std::vector<uint8_t> initiation_from_hex(const std::vector<uint8_t>& d) {
  std::string hex;
  for (const uint8_t c : d) {
    if (std::isxdigit(c) != 0) hex += static_cast<char>(c);
    else if (std::isspace(c) == 0) fail("replay file is neither a pcap nor hex text");
  }
  std::vector<uint8_t> out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<uint8_t>(std::stoul(hex.substr(i, 2), nullptr, 16)));
  }
  if (!is_initiation(out.data(), out.size())) fail("the hex in the replay file is not a 148-byte initiation");
  return out;
}

std::vector<uint8_t> load_replay(const std::string& path) {
  const auto d = read_file(path);
  if (d.size() >= 4) {
    const uint32_t m = sitelink::load_le32(d.data());
    if (m == 0xa1b2c3d4 || m == 0xd4c3b2a1 || m == 0xa1b23c4d || m == 0x4d3cb2a1) return initiation_from_pcap(d);
  }
  return initiation_from_hex(d);
}

// --- Payloads ----------------------------------------------------------------------

enum Kind { kGarbage, kMac1, kReplay, kKinds };

class PayloadMaker {
 public:
  PayloadMaker(const Options& o, FastRandom& rnd) : opts_(o), rnd_(rnd) {
    if (o.mode == Mode::kMac1 || o.mode == Mode::kMix) build_pool();
    if (o.mode == Mode::kReplay || o.mode == Mode::kMix) replay_ = load_replay(o.replay_file);
  }

  // Writes the next datagram's payload into `out`; returns its length and
  // what kind it was.
  size_t next(uint8_t* out, Kind& kind) {
    switch (opts_.mode) {
      case Mode::kGarbage: kind = kGarbage; break;
      case Mode::kMac1: kind = kMac1; break;
      case Mode::kReplay: kind = kReplay; break;
      case Mode::kMix: kind = static_cast<Kind>(turn_++ % kKinds); break;
    }
    if (kind == kGarbage) return garbage(out);
    if (kind == kMac1) return mac1(out);
    std::memcpy(out, replay_.data(), replay_.size());
    return replay_.size();
  }

 private:
  // One initiation per unknown key, each encrypted to the gateway's key.
  void build_pool() {
    hs::SodiumRng rng;
    const auto now = sitelink::WallTime{
        std::chrono::duration_cast<sitelink::Duration>(std::chrono::system_clock::now().time_since_epoch())};
    generator_.emplace(*opts_.gateway);
    for (size_t i = 0; i < opts_.keys; ++i) {
      hs::LocalIdentity stranger(hs::PrivateKey::generate(rng));
      hs::Handshake h(stranger, *opts_.gateway, hs::PresharedKey{});
      std::array<uint8_t, hs::initiation::kSize> msg{};
      if (!h.create_initiation(msg, static_cast<uint32_t>(rnd_.next()), now, rng)) fail("create_initiation failed");
      pool_.push_back(msg);
    }
  }

  size_t mac1(uint8_t* out) {
    auto& msg = pool_[next_pool_++ % pool_.size()];
    sitelink::store_le32(&msg[hs::initiation::kSender], static_cast<uint32_t>(rnd_.next()));
    generator_->add_macs(msg, sitelink::Instant{});
    std::memcpy(out, msg.data(), msg.size());
    return msg.size();
  }

  // A quarter each: bad-mac1 initiation, bad-mac1 response, transport with
  // a random receiver index, and a random datagram (any size, any type).
  size_t garbage(uint8_t* out) {
    const uint32_t pick = rnd_.below(4);
    size_t n = 0;
    if (pick == 0) n = hs::initiation::kSize;
    else if (pick == 1) n = hs::response::kSize;
    else if (pick == 2) n = hs::transport::kMinSize + rnd_.below(kMaxGarbage - hs::transport::kMinSize + 1);
    else n = rnd_.below(kMaxGarbage + 1);
    rnd_.fill(out, n);
    if (pick < 3) sitelink::store_le32(out, pick == 2 ? 4 : pick + 1);
    return n;
  }

  const Options& opts_;
  FastRandom& rnd_;
  std::optional<hs::CookieGenerator> generator_;
  std::vector<std::array<uint8_t, hs::initiation::kSize>> pool_;
  size_t next_pool_ = 0;
  std::vector<uint8_t> replay_;
  uint64_t turn_ = 0;
};

// --- Sending ------------------------------------------------------------------------

void store_be16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}

uint32_t sum16(const uint8_t* p, size_t n, uint32_t sum = 0) {
  for (size_t i = 0; i + 1 < n; i += 2) sum += uint32_t{p[i]} << 8 | p[i + 1];
  if (n % 2 != 0) sum += uint32_t{p[n - 1]} << 8;
  return sum;
}

uint16_t fold(uint32_t sum) {
  while (sum >> 16 != 0) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

// Puts IPv4 and UDP headers (checksums included) in front of the payload at
// p + 28; returns the whole packet's length.
size_t wrap_ipv4_udp(uint8_t* p, size_t payload, uint32_t src, uint16_t sport, const sockaddr_in& to, uint16_t ip_id) {
  const size_t total = kIpHeader + kUdpHeader + payload;
  uint8_t* ip = p;
  std::memset(ip, 0, kIpHeader);
  ip[0] = 0x45;
  store_be16(ip + 2, static_cast<uint16_t>(total));
  store_be16(ip + 4, ip_id);
  ip[8] = 64;
  ip[9] = kProtoUdp;
  sitelink::store_be32(ip + 12, src);
  std::memcpy(ip + 16, &to.sin_addr.s_addr, 4);
  store_be16(ip + 10, fold(sum16(ip, kIpHeader)));
  uint8_t* udp = p + kIpHeader;
  store_be16(udp, sport);
  std::memcpy(udp + 2, &to.sin_port, 2);
  store_be16(udp + 4, static_cast<uint16_t>(kUdpHeader + payload));
  store_be16(udp + 6, 0);
  // Pseudo-header: addresses, protocol, UDP length.
  uint32_t sum = sum16(ip + 12, 8, kProtoUdp + static_cast<uint32_t>(kUdpHeader + payload));
  uint16_t c = fold(sum16(udp, kUdpHeader + payload, sum));
  store_be16(udp + 6, c == 0 ? 0xffff : c);
  return total;
}

int open_sender(const Options& o) {
  if (!o.spoof) {
    const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) fail(std::string("socket: ") + std::strerror(errno));
    if (connect(fd, reinterpret_cast<const sockaddr*>(&o.target), sizeof o.target) != 0) {
      fail(std::string("connect: ") + std::strerror(errno));
    }
    return fd;
  }
  // IPPROTO_RAW implies IP_HDRINCL: we write the IPv4 header ourselves.
  const int fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
  if (fd < 0) fail(std::string("raw socket (needs CAP_NET_RAW): ") + std::strerror(errno));
  const int on = 1;
  if (setsockopt(fd, IPPROTO_IP, IP_HDRINCL, &on, sizeof on) != 0)
    fail("IP_HDRINCL: " + std::string(std::strerror(errno)));
  return fd;
}

int64_t mono_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

struct Totals {
  uint64_t sent = 0;
  uint64_t errors = 0;
  std::array<uint64_t, kKinds> by_kind{};
};

class Flooder {
 public:
  Flooder(const Options& o, FastRandom& rnd, PayloadMaker& maker, int fd)
      : opts_(o), rnd_(rnd), maker_(maker), fd_(fd), bufs_(kBatch, std::vector<uint8_t>(kMaxPacket)) {}

  Totals run(int64_t start_ns, int64_t end_ns) {
    while (g_stop == 0) {
      const int64_t now = mono_ns();
      if (now >= end_ns) break;
      size_t n = kBatch;
      if (opts_.rate > 0) {
        const auto due = static_cast<uint64_t>(opts_.rate * static_cast<double>(now - start_ns) / 1e9);
        const uint64_t behind = due > attempted_ ? due - attempted_ : 0;
        if (behind == 0) {
          pause_until_next(now, start_ns);
          continue;
        }
        n = static_cast<size_t>(std::min<uint64_t>(behind, kBatch));
      }
      send_batch(n);
    }
    return totals_;
  }

 private:
  void pause_until_next(int64_t now, int64_t start_ns) {
    const auto next_ns = start_ns + static_cast<int64_t>(static_cast<double>(attempted_ + 1) * 1e9 / opts_.rate);
    const int64_t wait = std::clamp<int64_t>(next_ns - now, 1'000, 1'000'000);
    const timespec ts{0, static_cast<long>(wait)};
    nanosleep(&ts, nullptr);
  }

  void send_batch(size_t n) {
    std::array<mmsghdr, kBatch> msgs{};
    std::array<iovec, kBatch> iovs{};
    std::array<Kind, kBatch> kinds{};
    const size_t head = opts_.spoof ? kIpHeader + kUdpHeader : 0;
    for (size_t i = 0; i < n; ++i) {
      uint8_t* p = bufs_[i].data();
      size_t len = maker_.next(p + head, kinds[i]);
      if (opts_.spoof) {
        const uint32_t src = opts_.spoof->first + rnd_.below(opts_.spoof->second);
        const auto sport = static_cast<uint16_t>(1024 + rnd_.below(65536 - 1024));
        len = wrap_ipv4_udp(p, len, src, sport, opts_.target, static_cast<uint16_t>(rnd_.next()));
      }
      iovs[i] = {p, len};
      msgs[i].msg_hdr.msg_iov = &iovs[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      if (opts_.spoof) {
        msgs[i].msg_hdr.msg_name = const_cast<sockaddr_in*>(&opts_.target);
        msgs[i].msg_hdr.msg_namelen = sizeof opts_.target;
      }
    }
    const int r = sendmmsg(fd_, msgs.data(), static_cast<unsigned>(n), 0);
    if (r < 0) {
      // The first datagram failed (ENOBUFS: a full queue; ECONNREFUSED: an
      // ICMP error from an earlier one): count it, skip it, go on.
      ++totals_.errors;
      ++attempted_;
      if (errno == ENOBUFS) usleep(100);
      return;
    }
    // Datagrams after a partial send are made again in the next batch.
    const auto sent = static_cast<size_t>(r);
    attempted_ += sent;
    totals_.sent += sent;
    for (size_t i = 0; i < sent; ++i) ++totals_.by_kind[kinds[i]];
  }

  const Options& opts_;
  FastRandom& rnd_;
  PayloadMaker& maker_;
  int fd_;
  std::vector<std::vector<uint8_t>> bufs_;
  uint64_t attempted_ = 0;
  Totals totals_;
};

uint64_t random_seed() {
  uint64_t s = 0;
  hs::SodiumRng rng;
  rng.fill(sitelink::MutableBytes(reinterpret_cast<uint8_t*>(&s), sizeof s));
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  hs::crypto_init();
  const Options opts = parse_options(argc, argv);
  FastRandom rnd(opts.seed != 0 ? opts.seed : random_seed());
  PayloadMaker maker(opts, rnd);
  const int fd = open_sender(opts);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);

  Flooder flooder(opts, rnd, maker, fd);
  const int64_t start = mono_ns();
  const Totals t = flooder.run(start, start + static_cast<int64_t>(opts.duration_s * 1e9));
  const double secs = static_cast<double>(mono_ns() - start) / 1e9;
  close(fd);
  std::printf(
      "flood_tool: mode=%s sent=%llu garbage=%llu mac1=%llu replay=%llu errors=%llu seconds=%.3f rate=%.0f pps\n",
      opts.mode_name.c_str(), static_cast<unsigned long long>(t.sent),
      static_cast<unsigned long long>(t.by_kind[kGarbage]), static_cast<unsigned long long>(t.by_kind[kMac1]),
      static_cast<unsigned long long>(t.by_kind[kReplay]), static_cast<unsigned long long>(t.errors), secs,
      static_cast<double>(t.sent) / secs);
  return t.sent > 0 ? 0 : 1;
}
