// scale_spokes: a test program (not product code) that plays many spokes
// against one hub sitelinkd from a single process (issue 7, scale). Each
// spoke is a PeerMachine from the protocol core (driven over real UDP as
// tests/interop/wg_peer.cc drives one) with its own static key, derived
// from a seed so that the hub's configuration can be written beforehand, its
// own UDP socket and its own inner IPv4 address.
//
//   scale_spokes peers --spokes N [--seed S] [--inner-base IP]
//     prints the hub's `peers:` YAML: every spoke's public key, with its
//     inner address as a /32 in allowed-ips.
//
//   scale_spokes run --hub-public-key B64 --hub-endpoint IP:PORT --spokes N
//       [--seed S] [--inner-base IP] [--hub-inner IP] [--source-base IP]
//       [--sources K] [--rate R] [--echoes E] [--window W] [--hub-pid PID]
//       [--timeout-s T]
//     1. handshakes: spoke i initiates at i/R seconds (R = 0: all at once)
//        and is done when its session is established (the hub's response
//        consumed; a keepalive then confirms the session to the hub). Cookie
//        replies (the hub under load) are followed as WireGuard does.
//     2. echoes: E ICMP echo requests per spoke through the tunnel, from
//        the spoke's inner address to the hub's (the hub's kernel answers),
//        round robin over the spokes, at most W outstanding; a request with
//        no reply within 1 s counts as lost.
//     With --hub-pid, the hub's CPU time (all threads, from /proc) is read
//     around each phase. Results go to stdout as `name=value` lines (see
//     print_results); progress to stderr. Exit 0 if every spoke completed
//     its handshake and got at least one echo reply, 1 if not, 2 on a usage
//     error.
//
// Spoke i binds --source-base + (i mod K) (port chosen by the kernel), so
// the hub sees up to K source addresses; its inner address is --inner-base
// + i.
#include <dirent.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/ip_prefix.h"
#include "handshake/cookie.h"
#include "handshake/crypto.h"
#include "handshake/keys.h"
#include "handshake/messages.h"
#include "handshake/noise.h"
#include "handshake/peer.h"
#include "tunnel/clock.h"
#include "tunnel/index_table.h"
#include "tunnel/ip_header.h"
#include "tunnel/sock_addr.h"
#include "tunnel/unique_fd.h"

namespace hs = sitelink::handshake;
namespace tn = sitelink::tunnel;
using sitelink::Bytes;
using sitelink::Duration;
using sitelink::Instant;
using sitelink::MutableBytes;
using sitelink::Now;
using namespace std::chrono_literals;

namespace {

constexpr size_t kMtu = 1420;
constexpr size_t kEchoPayload = 56;  // ping's default
constexpr Duration kEchoTimeout = 1s;
constexpr uint8_t kProtoIcmp = 1;
constexpr uint8_t kEchoRequest = 8;
constexpr uint8_t kEchoReply = 0;

[[noreturn]] void die(const std::string& s, int code = 1) {
  std::fprintf(stderr, "scale_spokes: %s\n", s.c_str());
  std::exit(code);
}

void note(const std::string& s) { std::fprintf(stderr, "scale_spokes: %s\n", s.c_str()); }

// --- Options ------------------------------------------------------------------

struct Options {
  bool print_peers = false;
  uint32_t spokes = 0;
  std::string seed = "sitelink-scale";
  uint32_t inner_base = 0xc6130001;  // 198.19.0.1
  uint32_t hub_inner = 0xc6120001;   // 198.18.0.1
  uint32_t source_base = 0;          // 0.0.0.0: any
  uint32_t sources = 1;
  std::string hub_public_key;
  std::string hub_endpoint;
  double rate = 0;
  uint32_t echoes = 5;
  uint32_t window = 32;
  int hub_pid = 0;
  long timeout_s = 120;
};

[[noreturn]] void usage() {
  die("usage: scale_spokes peers --spokes N [--seed S] [--inner-base IP]\n"
      "       scale_spokes run --hub-public-key B64 --hub-endpoint IP:PORT --spokes N [--seed S]\n"
      "         [--inner-base IP] [--hub-inner IP] [--source-base IP] [--sources K] [--rate R]\n"
      "         [--echoes E] [--window W] [--hub-pid PID] [--timeout-s T]",
      2);
}

long number(const std::string& s, long lo, long hi) {
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(s.c_str(), &end, 10);
  if (errno != 0 || end == s.c_str() || *end != '\0' || v < lo || v > hi) die("bad number: " + s, 2);
  return v;
}

uint32_t ipv4(const std::string& s) {
  const auto a = sitelink::config::IpAddress::parse(s);
  if (!a || !a->is_v4()) die("bad IPv4 address: " + s, 2);
  return sitelink::load_be32(a->raw().data());
}

std::string ipv4_text(uint32_t ip) {
  std::array<uint8_t, 4> b;
  sitelink::store_be32(b.data(), ip);
  return sitelink::config::IpAddress::v4(b).to_string();
}

Options parse_options(int argc, char** argv) {
  if (argc < 2) usage();
  Options o;
  const std::string_view cmd = argv[1];
  if (cmd != "peers" && cmd != "run") usage();
  o.print_peers = cmd == "peers";
  for (int i = 2; i < argc; i += 2) {
    if (i + 1 >= argc) usage();
    const std::string_view flag = argv[i];
    const std::string v = argv[i + 1];
    if (flag == "--spokes") o.spokes = static_cast<uint32_t>(number(v, 1, 65000));
    else if (flag == "--seed") o.seed = v;
    else if (flag == "--inner-base") o.inner_base = ipv4(v);
    else if (flag == "--hub-inner") o.hub_inner = ipv4(v);
    else if (flag == "--source-base") o.source_base = ipv4(v);
    else if (flag == "--sources") o.sources = static_cast<uint32_t>(number(v, 1, 65000));
    else if (flag == "--hub-public-key") o.hub_public_key = v;
    else if (flag == "--hub-endpoint") o.hub_endpoint = v;
    else if (flag == "--rate") o.rate = static_cast<double>(number(v, 0, 1'000'000));
    else if (flag == "--echoes") o.echoes = static_cast<uint32_t>(number(v, 0, 100'000));
    else if (flag == "--window") o.window = static_cast<uint32_t>(number(v, 1, 100'000));
    else if (flag == "--hub-pid") o.hub_pid = static_cast<int>(number(v, 1, 1 << 22));
    else if (flag == "--timeout-s") o.timeout_s = number(v, 1, 86'400);
    else usage();
  }
  if (o.spokes == 0) usage();
  if (!o.print_peers && (o.hub_public_key.empty() || o.hub_endpoint.empty())) usage();
  return o;
}

// --- Keys and /proc -----------------------------------------------------------

// Spoke i's static key: BLAKE2s(seed || "scale spoke" || i), clamped.
hs::PrivateKey spoke_key(const std::string& seed, uint32_t i) {
  static constexpr std::string_view kLabel = "scale spoke";
  std::array<uint8_t, 4> n;
  sitelink::store_le32(n.data(), i);
  const hs::Hash h = hs::hash({Bytes(reinterpret_cast<const uint8_t*>(seed.data()), seed.size()),
                               Bytes(reinterpret_cast<const uint8_t*>(kLabel.data()), kLabel.size()), n});
  return hs::PrivateKey(std::span<const uint8_t, hs::kKeySize>(h));
}

void print_peers(const Options& o) {
  std::printf("peers:\n");
  for (uint32_t i = 0; i < o.spokes; ++i) {
    std::printf("  - name: spoke%u\n    public-key: %s\n    allowed-ips: [%s/32]\n", i,
                spoke_key(o.seed, i).public_key().to_base64().c_str(), ipv4_text(o.inner_base + i).c_str());
  }
}

// CPU time of every thread of `pid` in nanoseconds (schedstat's first field),
// or -1 if it cannot be read.
int64_t threads_cpu_ns(int pid) {
  const std::string dir = "/proc/" + std::to_string(pid) + "/task";
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return -1;
  int64_t total = 0;
  while (const dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::ifstream f(dir + "/" + e->d_name + "/schedstat");
    int64_t run = 0;
    if (f >> run) total += run;
  }
  closedir(d);
  return total;
}

// The CPU time of `pid` and its child processes (a sitelinkd is two: the
// monitor, whose PID the test knows, and the network process that does the
// packet work; privilege separation), or -1 if `pid`'s cannot be read.
int64_t process_cpu_ns(int pid) {
  if (pid <= 0) return -1;
  int64_t total = threads_cpu_ns(pid);
  if (total < 0) return -1;
  const std::string dir = "/proc/" + std::to_string(pid) + "/task";
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return total;
  while (const dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::ifstream f(dir + "/" + e->d_name + "/children");
    int child = 0;
    while (f >> child) total += std::max<int64_t>(threads_cpu_ns(child), 0);
  }
  closedir(d);
  return total;
}

// Minor page faults of `pid` and its child processes (/proc/PID/stat's
// tenth field, all threads), or -1 if `pid`'s cannot be read.
int64_t minor_faults(int pid) {
  const auto one = [](int p) -> int64_t {
    std::ifstream f("/proc/" + std::to_string(p) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    const size_t close = stat.rfind(')');  // the command name may hold spaces
    if (close == std::string::npos) return -1;
    std::istringstream rest(stat.substr(close + 1));
    std::string field;
    for (int i = 3; i <= 10; ++i) rest >> field;  // state is the third field, minflt the tenth
    return rest ? std::stoll(field) : -1;
  };
  if (pid <= 0) return -1;
  int64_t total = one(pid);
  if (total < 0) return -1;
  std::ifstream f("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children");
  int child = 0;
  while (f >> child) total += std::max<int64_t>(one(child), 0);
  return total;
}

// --- ICMP echo in IPv4 -----------------------------------------------------------

// The Internet checksum (RFC 1071), folded; 0 over a packet that carries a
// correct one.
uint16_t ones_sum(Bytes b) {
  uint32_t s = 0;
  for (size_t i = 0; i < b.size(); i += 2) {
    s += static_cast<uint32_t>(b[i] << 8) + (i + 1 < b.size() ? b[i + 1] : 0u);
  }
  while (s > 0xffff) s = (s >> 16) + (s & 0xffff);
  return static_cast<uint16_t>(~s);
}

void put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}

uint16_t get16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

// An echo request `src` -> `dst` with identifier `id` and sequence `seq`,
// written at `out`; returns its length.
size_t echo_request(uint8_t* out, uint32_t src, uint32_t dst, uint16_t id, uint16_t seq) {
  constexpr size_t kIcmpLen = 8 + kEchoPayload;
  constexpr size_t kLen = 20 + kIcmpLen;
  std::memset(out, 0, kLen);
  out[0] = 0x45;
  put16(out + 2, kLen);
  put16(out + 4, seq);
  out[8] = 64;
  out[9] = kProtoIcmp;
  sitelink::store_be32(out + 12, src);
  sitelink::store_be32(out + 16, dst);
  put16(out + 10, ones_sum(Bytes(out, 20)));
  uint8_t* icmp = out + 20;
  icmp[0] = kEchoRequest;
  put16(icmp + 4, id);
  put16(icmp + 6, seq);
  for (size_t i = 0; i < kEchoPayload; ++i) icmp[8 + i] = static_cast<uint8_t>(seq + i);
  put16(icmp + 2, ones_sum(Bytes(icmp, kIcmpLen)));
  return kLen;
}

struct EchoReply {
  uint32_t src, dst;
  uint16_t id, seq;
};

// An intact echo reply (both checksums, the payload echo_request wrote), or
// nothing.
std::optional<EchoReply> parse_reply(Bytes pkt) {
  const auto h = tn::parse_ip_header(pkt);
  if (!h || h->version != 4 || pkt[9] != kProtoIcmp) return std::nullopt;
  const size_t ihl = size_t{pkt[0] & 0x0fu} * 4;
  const Bytes icmp = pkt.subspan(ihl, h->total_length - ihl);
  if (icmp.size() != 8 + kEchoPayload || icmp[0] != kEchoReply || ones_sum(icmp) != 0) return std::nullopt;
  const uint16_t seq = get16(&icmp[6]);
  for (size_t i = 0; i < kEchoPayload; ++i) {
    if (icmp[8 + i] != static_cast<uint8_t>(seq + i)) return std::nullopt;
  }
  return EchoReply{sitelink::load_be32(&pkt[12]), sitelink::load_be32(&pkt[16]), get16(&icmp[4]), seq};
}

// --- Spokes -------------------------------------------------------------------------

struct Counters {
  uint64_t initiations = 0;
  uint64_t established = 0;
  uint64_t cookies = 0;
  uint64_t send_failed = 0;
  uint64_t refused = 0;  // datagrams the protocol core refused
  uint64_t echo_sent = 0;
  uint64_t echo_replies = 0;
  uint64_t echo_lost = 0;
  uint64_t echo_late = 0;  // a reply after its request was counted lost
  std::vector<int64_t> rtt_ns;
};

class Spoke final : public hs::Transmit {
 public:
  Spoke(uint32_t i, const Options& o, const hs::PublicKey& hub, const sockaddr_in& hub_addr, tn::IndexTable& indices,
        hs::Rng& rng, Counters& c)
      : index(i),
        inner(o.inner_base + i),
        hub_inner(o.hub_inner),
        identity_(spoke_key(o.seed, i)),
        checker_(identity_.public_key()),
        alloc_(indices, i),
        machine_(identity_, hub, hs::PresharedKey{}, hs::TimerSettings{}, rng, alloc_),
        hub_(hub),
        hub_addr_(hub_addr),
        c_(c) {
    fd_ = tn::UniqueFd(socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (fd_.get() < 0) die(std::string("socket: ") + std::strerror(errno));
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(o.source_base == 0 ? INADDR_ANY : o.source_base + i % o.sources);
    if (bind(fd_.get(), reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0) {
      die("bind " + ipv4_text(ntohl(sa.sin_addr.s_addr)) + ": " + std::strerror(errno));
    }
  }

  int fd() const { return fd_.get(); }
  hs::PeerMachine& machine() { return machine_; }
  void receive(const Now& now, MutableBytes datagram);
  void send_echo(const Now& now, uint16_t seq);

  // hs::Transmit
  void send_to_network(Bytes d) override {
    if (sendto(fd_.get(), d.data(), d.size(), 0, reinterpret_cast<const sockaddr*>(&hub_addr_), sizeof hub_addr_) < 0) {
      ++c_.send_failed;
    }
  }
  void deliver_to_tun(MutableBytes packet) override;
  void on_event(hs::PeerEvent e) override;

  const uint32_t index;
  const uint32_t inner;
  const uint32_t hub_inner;
  bool established = false;
  Instant established_at;
  uint32_t answered = 0;
  std::unordered_map<uint16_t, Instant> outstanding;  // echo seq -> sent at
  Instant now_mono;                                   // of the event being handled, for RTTs

 private:
  hs::LocalIdentity identity_;
  hs::CookieChecker checker_;
  tn::IndexTable::ForPeer alloc_;  // outlives machine_
  hs::PeerMachine machine_;
  hs::PublicKey hub_;
  sockaddr_in hub_addr_;
  tn::UniqueFd fd_;
  Counters& c_;
};

void Spoke::on_event(hs::PeerEvent e) {
  switch (e) {
    case hs::PeerEvent::kHandshakeInitiated: ++c_.initiations; break;
    case hs::PeerEvent::kCookieReceived: ++c_.cookies; break;
    case hs::PeerEvent::kSessionEstablished:
      if (!established) {
        established = true;
        established_at = now_mono;
        ++c_.established;
      }
      break;
    default: break;
  }
}

void Spoke::receive(const Now& now, MutableBytes datagram) {
  now_mono = now.mono;
  auto m = hs::classify(datagram);
  if (!m) {
    ++c_.refused;
    return;
  }
  sitelink::Result<void, hs::ProtoError> r;
  if (auto* resp = std::get_if<hs::ResponseMsg>(&*m)) {
    if (!checker_.check_mac1(resp->bytes)) return void(++c_.refused);
    r = machine_.receive_response(now, *resp, *this);
  } else if (auto* cookie = std::get_if<hs::CookieReplyMsg>(&*m)) {
    r = machine_.receive_cookie_reply(now, *cookie, *this);
  } else if (auto* data = std::get_if<hs::TransportMsg>(&*m)) {
    r = machine_.receive_transport(now, *data, *this);
  } else {
    // The hub initiating (it rekeys on its own only after minutes).
    auto& init = std::get<hs::InitiationMsg>(*m);
    if (!checker_.check_mac1(init.bytes)) return void(++c_.refused);
    auto consumed = hs::consume_initiation(identity_, init);
    if (!consumed || consumed->initiator_static != hub_) return void(++c_.refused);
    r = machine_.receive_initiation(now, std::move(*consumed), *this);
  }
  if (!r) ++c_.refused;
}

void Spoke::send_echo(const Now& now, uint16_t seq) {
  std::array<uint8_t, hs::kHeadroom + kMtu + hs::kTailroom> buf;
  const size_t len = echo_request(buf.data() + hs::kHeadroom, inner, hub_inner, static_cast<uint16_t>(index), seq);
  outstanding[seq] = now.mono;
  ++c_.echo_sent;
  machine_.send(now, buf, len, kMtu, *this);
}

void Spoke::deliver_to_tun(MutableBytes packet) {
  const auto r = parse_reply(packet);
  if (!r || r->src != hub_inner || r->dst != inner || r->id != static_cast<uint16_t>(index)) return;
  auto it = outstanding.find(r->seq);
  if (it == outstanding.end()) {
    ++c_.echo_late;
    return;
  }
  c_.rtt_ns.push_back((now_mono - it->second).count());
  outstanding.erase(it);
  ++answered;
  ++c_.echo_replies;
}

// --- The fleet and its loop ----------------------------------------------------------

class Fleet {
 public:
  Fleet(const Options& o, const hs::PublicKey& hub, const sockaddr_in& hub_addr);
  bool handshakes(Instant deadline);
  void echoes(Instant deadline);
  // Prints the figures; true if every spoke got an echo reply.
  bool print_results() const;

 private:
  void turn(int timeout_ms);
  void run_timers(const Now& now);
  double seconds_since(Instant t) { return std::chrono::duration<double>(clock_.now().mono - t).count(); }

  const Options& o_;
  tn::SystemClock clock_;
  hs::SodiumRng rng_;
  tn::IndexTable indices_{rng_};
  Counters c_;
  std::vector<std::unique_ptr<Spoke>> spokes_;
  tn::UniqueFd epoll_;
  std::vector<uint8_t> buf_ = std::vector<uint8_t>(65536);
  // Figures of the two phases.
  double hs_seconds_ = 0, echo_seconds_ = 0;
  int64_t hs_cpu_ns_ = -1, echo_cpu_ns_ = -1, hs_faults_ = -1;
};

Fleet::Fleet(const Options& o, const hs::PublicKey& hub, const sockaddr_in& hub_addr)
    : o_(o), epoll_(epoll_create1(EPOLL_CLOEXEC)) {
  if (epoll_.get() < 0) die(std::string("epoll_create1: ") + std::strerror(errno));
  spokes_.reserve(o.spokes);
  for (uint32_t i = 0; i < o.spokes; ++i) {
    spokes_.push_back(std::make_unique<Spoke>(i, o, hub, hub_addr, indices_, rng_, c_));
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = i;
    if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, spokes_.back()->fd(), &ev) != 0) {
      die(std::string("epoll_ctl: ") + std::strerror(errno));
    }
  }
}

void Fleet::run_timers(const Now& now) {
  for (auto& s : spokes_) {
    if (s->machine().next_deadline() <= now.mono) {
      s->now_mono = now.mono;
      s->machine().on_timer(now, *s);
    }
  }
}

// Waits up to `timeout_ms` for datagrams, handles every one waiting, then
// the spokes' timers.
void Fleet::turn(int timeout_ms) {
  std::array<epoll_event, 256> ev;
  const int n = epoll_wait(epoll_.get(), ev.data(), static_cast<int>(ev.size()), timeout_ms);
  if (n < 0 && errno != EINTR) die(std::string("epoll_wait: ") + std::strerror(errno));
  for (int k = 0; k < n; ++k) {
    Spoke& s = *spokes_[ev[static_cast<size_t>(k)].data.u32];
    for (;;) {
      const ssize_t len = recv(s.fd(), buf_.data(), buf_.size(), 0);
      if (len < 0) break;  // EAGAIN: drained
      s.receive(clock_.now(), MutableBytes(buf_.data(), static_cast<size_t>(len)));
    }
  }
  run_timers(clock_.now());
}

bool Fleet::handshakes(Instant deadline) {
  const Instant start = clock_.now().mono;
  const int64_t cpu0 = process_cpu_ns(o_.hub_pid);
  const int64_t faults0 = minor_faults(o_.hub_pid);
  uint32_t started = 0;
  while (c_.established < spokes_.size() && clock_.now().mono < deadline) {
    const Now now = clock_.now();
    const double due = o_.rate <= 0 ? static_cast<double>(spokes_.size()) : seconds_since(start) * o_.rate + 1;
    for (; started < spokes_.size() && started < due; ++started) {
      Spoke& s = *spokes_[started];
      s.now_mono = now.mono;
      s.machine().initiate(now, s);
    }
    turn(1);
  }
  Instant last = start;
  for (const auto& s : spokes_) last = s->established ? std::max(last, s->established_at) : last;
  hs_seconds_ = std::chrono::duration<double>(last - start).count();
  const int64_t cpu1 = process_cpu_ns(o_.hub_pid);
  if (cpu0 >= 0 && cpu1 >= 0) hs_cpu_ns_ = cpu1 - cpu0;
  const int64_t faults1 = minor_faults(o_.hub_pid);
  if (faults0 >= 0 && faults1 >= 0) hs_faults_ = faults1 - faults0;
  note(std::to_string(c_.established) + " of " + std::to_string(spokes_.size()) + " handshakes in " +
       std::to_string(hs_seconds_) + " s");
  return c_.established == spokes_.size();
}

void Fleet::echoes(Instant deadline) {
  const uint64_t total = uint64_t{o_.echoes} * spokes_.size();
  std::deque<std::pair<Instant, std::pair<uint32_t, uint16_t>>> expiry;  // sent at, (spoke, seq)
  uint64_t next = 0;
  uint64_t inflight = 0;
  const Instant start = clock_.now().mono;
  const int64_t cpu0 = process_cpu_ns(o_.hub_pid);
  while ((next < total || inflight > 0) && clock_.now().mono < deadline) {
    const Now now = clock_.now();
    for (; next < total && inflight < o_.window; ++next, ++inflight) {
      Spoke& s = *spokes_[next % spokes_.size()];
      const auto seq = static_cast<uint16_t>(next / spokes_.size() + 1);
      s.send_echo(now, seq);
      expiry.push_back({now.mono, {s.index, seq}});
    }
    const uint64_t before = c_.echo_replies;
    turn(1);
    inflight -= c_.echo_replies - before;
    const Instant now2 = clock_.now().mono;
    while (!expiry.empty() && expiry.front().first + kEchoTimeout <= now2) {
      auto [spoke, seq] = expiry.front().second;
      expiry.pop_front();
      if (spokes_[spoke]->outstanding.erase(seq) != 0) {
        ++c_.echo_lost;
        --inflight;
      }
    }
  }
  echo_seconds_ = seconds_since(start);
  const int64_t cpu1 = process_cpu_ns(o_.hub_pid);
  if (cpu0 >= 0 && cpu1 >= 0) echo_cpu_ns_ = cpu1 - cpu0;
}

double percentile(std::vector<int64_t> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto k = static_cast<size_t>(p * static_cast<double>(v.size() - 1));
  return static_cast<double>(v[k]) / 1000.0;
}

bool Fleet::print_results() const {
  uint32_t answered = 0;
  for (const auto& s : spokes_) answered += s->answered > 0 ? 1u : 0u;
  const auto u = [](const char* k, uint64_t v) { std::printf("%s=%llu\n", k, static_cast<unsigned long long>(v)); };
  const auto f = [](const char* k, double v) { std::printf("%s=%.3f\n", k, v); };
  u("spokes", spokes_.size());
  u("handshakes_completed", c_.established);
  u("initiations_sent", c_.initiations);
  u("cookie_replies", c_.cookies);
  f("handshake_seconds", hs_seconds_);
  f("handshakes_per_second", hs_seconds_ > 0 ? static_cast<double>(c_.established) / hs_seconds_ : 0);
  if (hs_cpu_ns_ >= 0) {
    const double cpu = static_cast<double>(hs_cpu_ns_) / 1e9;
    f("hub_cpu_handshake_seconds", cpu);
    f("handshakes_per_hub_cpu_second", cpu > 0 ? static_cast<double>(c_.established) / cpu : 0);
  }
  if (hs_faults_ >= 0) {
    f("hub_minor_faults_handshake", static_cast<double>(hs_faults_));
  }
  u("echo_sent", c_.echo_sent);
  u("echo_replies", c_.echo_replies);
  u("echo_lost", c_.echo_lost);
  u("echo_late", c_.echo_late);
  u("spokes_answered", answered);
  f("echo_seconds", echo_seconds_);
  f("rtt_median_us", percentile(c_.rtt_ns, 0.5));
  f("rtt_p99_us", percentile(c_.rtt_ns, 0.99));
  if (echo_cpu_ns_ >= 0 && c_.echo_replies > 0) {
    f("hub_cpu_echo_seconds", static_cast<double>(echo_cpu_ns_) / 1e9);
    // Per echo answered: the hub decrypts the request and encrypts the reply.
    f("hub_cpu_per_echo_us", static_cast<double>(echo_cpu_ns_) / 1e3 / static_cast<double>(c_.echo_replies));
  }
  u("send_failed", c_.send_failed);
  u("refused", c_.refused);
  std::fflush(stdout);
  return answered == spokes_.size();
}

sockaddr_in parse_endpoint(const std::string& s) {
  const auto ep = tn::SockAddr::parse(s);
  if (!ep || !ep->is_v4()) die("endpoint must be IPv4:PORT: " + s, 2);
  sockaddr_storage raw;
  ep->to_raw(raw, AF_INET);
  sockaddr_in sa;
  std::memcpy(&sa, &raw, sizeof sa);
  return sa;
}

// One descriptor per spoke: raise the soft limit as far as needed.
void allow_descriptors(uint32_t spokes) {
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) != 0) return;
  const rlim_t want = rlim_t{spokes} + 64;
  if (r.rlim_cur >= want) return;
  r.rlim_cur = std::min(want, r.rlim_max);
  if (setrlimit(RLIMIT_NOFILE, &r) != 0 || r.rlim_cur < want) die("cannot open a socket per spoke: RLIMIT_NOFILE");
}

}  // namespace

int main(int argc, char** argv) {
  hs::crypto_init();
  const Options o = parse_options(argc, argv);
  if (o.print_peers) {
    print_peers(o);
    return 0;
  }
  const auto hub = hs::PublicKey::from_base64(o.hub_public_key);
  if (!hub) die("bad hub public key", 2);
  allow_descriptors(o.spokes);
  Fleet fleet(o, *hub, parse_endpoint(o.hub_endpoint));
  tn::SystemClock clock;
  const Instant deadline = clock.now().mono + std::chrono::seconds(o.timeout_s);
  const bool all_up = fleet.handshakes(deadline);
  fleet.echoes(deadline);
  const bool all_answered = fleet.print_results();
  return all_up && all_answered ? 0 : 1;
}
