// impair_relay: a test tool (not product code) that stands in for `tc netem`
// on the underlay between two gateways when the kernel has no netem.
//
// It sits in a middle network namespace with one UDP port facing each side.
// Gateway A's configured endpoint is the A-facing port, gateway B's the
// B-facing port; every datagram that arrives on one port is sent on to the
// other side's peer from the other port, after the impairments:
//
//   loss=PCT        drop each datagram with this probability
//   delay=MS        hold each datagram this long ...
//   jitter=MS       ... plus or minus a uniform random amount up to this
//                   (the link stays first-in first-out: jitter alone never
//                   reorders, a datagram is never released before the one
//                   ahead of it in the same direction)
//   reorder=PCT     hold this share of datagrams reorder-ms longer, outside
//                   the FIFO order, so later ones overtake them
//   reorder-ms=MS   the extra hold for reordered datagrams (default 10)
//   dup=PCT         send this share of datagrams twice
//   outage          drop everything while an outage is on
//
// Held datagrams wait in a heap ordered by release time on the monotonic
// clock; the loop sleeps in ppoll until the next release, a datagram, a
// control command or a signal. The queue is capped (--max-queue-bytes);
// datagrams beyond it are dropped and counted as overflow.
//
// Usage:
//   impair_relay --a-listen ADDR:PORT --a-peer ADDR:PORT
//                --b-listen ADDR:PORT --b-peer ADDR:PORT
//                [--control FIFO] [--seed N] [--duration SECS]
//                [--outage START+LEN]... [--max-queue-bytes N] [KEY=VALUE]...
//
// ADDR is IPv4 or a bracketed IPv6 address. KEY=VALUE pairs set the initial
// impairments. --outage START+LEN (seconds after start) schedules an outage.
// --duration bounds the run (default 600 s); SIGTERM/SIGINT end it early.
// With --seed the random decisions repeat for the same sequence of datagrams.
//
// Control: lines written to FIFO (opened read-write, so writers come and go):
//   set KEY=VALUE...   replace the whole impairment profile (unnamed keys 0)
//   outage on|off      start or end an outage
//   stats              print the counters
//   quit               exit
// Each command is answered on stdout with "ack N COMMAND" or
// "nack N COMMAND: REASON", N counting commands from 1, so a script can wait
// until its command took effect. Counters are printed as one "stats" line
// per direction (a2b, b2a) on `stats` and at exit: in, out, lost, outage
// (dropped by an outage), dup, reordered (held longer), overflow,
// send-errors, overtaken (sent after a datagram that arrived later).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using Millis = std::chrono::duration<double, std::milli>;

constexpr size_t kMaxDatagram = 65535;
constexpr int kBurst = 256;  // datagrams read per wake-up and side, so timers stay on time
constexpr int kSocketBuffer = 4 << 20;

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int /*sig*/) { g_stop = 1; }

void say(const std::string& line) {
  std::fputs(line.c_str(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "impair_relay: %s\n", what.c_str());
  std::exit(1);
}

[[noreturn]] void usage(const std::string& what) {
  std::fprintf(stderr,
               "impair_relay: %s\nusage: impair_relay --a-listen ADDR:PORT --a-peer ADDR:PORT "
               "--b-listen ADDR:PORT --b-peer ADDR:PORT [--control FIFO] [--seed N] "
               "[--duration SECS] [--outage START+LEN]... [--max-queue-bytes N] [KEY=VALUE]...\n",
               what.c_str());
  std::exit(64);
}

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  [[nodiscard]] int get() const { return fd_; }

 private:
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int fd_ = -1;
};

struct Endpoint {
  sockaddr_storage addr{};
  socklen_t len = 0;
};

// "192.0.2.1:5" or "[2001:db8::1]:5".
std::optional<Endpoint> parse_endpoint(std::string_view text) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::string host(text.substr(0, colon));
  const std::string port_text(text.substr(colon + 1));
  char* end = nullptr;
  const unsigned long port = std::strtoul(port_text.c_str(), &end, 10);
  if (port_text.empty() || *end != '\0' || port > 65535) return std::nullopt;
  Endpoint ep;
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&ep.addr);
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), &v6->sin6_addr) != 1) return std::nullopt;
    ep.len = sizeof(sockaddr_in6);
    return ep;
  }
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ep.addr);
  v4->sin_family = AF_INET;
  v4->sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) != 1) return std::nullopt;
  ep.len = sizeof(sockaddr_in);
  return ep;
}

Fd bind_udp(const Endpoint& ep, const std::string& text) {
  Fd fd(::socket(ep.addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) die("socket: " + std::string(std::strerror(errno)));
  for (const auto& [force, plain] : {std::pair{SO_RCVBUFFORCE, SO_RCVBUF}, {SO_SNDBUFFORCE, SO_SNDBUF}}) {
    if (::setsockopt(fd.get(), SOL_SOCKET, force, &kSocketBuffer, sizeof kSocketBuffer) != 0)
      (void)::setsockopt(fd.get(), SOL_SOCKET, plain, &kSocketBuffer, sizeof kSocketBuffer);
  }
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&ep.addr), ep.len) != 0)
    die("bind " + text + ": " + std::strerror(errno));
  return fd;
}

struct Profile {
  double loss = 0;  // all shares in percent
  double dup = 0;
  double reorder = 0;
  double delay_ms = 0;
  double jitter_ms = 0;
  double reorder_ms = 10;
};

// apply_setting: "KEY=VALUE" into p; an error text, or empty on success.
std::string apply_setting(Profile& p, std::string_view kv) {
  const auto eq = kv.find('=');
  if (eq == std::string_view::npos) return "expected KEY=VALUE, got '" + std::string(kv) + "'";
  const std::string key(kv.substr(0, eq));
  const std::string value(kv.substr(eq + 1));
  char* end = nullptr;
  const double v = std::strtod(value.c_str(), &end);
  if (value.empty() || *end != '\0' || !(v >= 0)) return "bad value in '" + std::string(kv) + "'";
  const bool percent = key == "loss" || key == "dup" || key == "reorder";
  if (percent && v > 100) return "a percentage above 100 in '" + std::string(kv) + "'";
  if (key == "loss") p.loss = v;
  else if (key == "dup") p.dup = v;
  else if (key == "reorder") p.reorder = v;
  else if (key == "delay") p.delay_ms = v;
  else if (key == "jitter") p.jitter_ms = v;
  else if (key == "reorder-ms") p.reorder_ms = v;
  else return "unknown key '" + key + "'";
  return {};
}

std::string describe(const Profile& p) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "loss=%g delay=%g jitter=%g reorder=%g reorder-ms=%g dup=%g", p.loss, p.delay_ms,
                p.jitter_ms, p.reorder, p.reorder_ms, p.dup);
  return buf;
}

struct Counters {
  uint64_t in = 0, out = 0, lost = 0, outage = 0, dup = 0, reordered = 0, overflow = 0, send_errors = 0;
  // Sent after a datagram that arrived later (in this direction): what the
  // receiver sees out of order. `reordered` counts the datagrams held longer.
  uint64_t overtaken = 0;
};

struct Held {
  Clock::time_point release;
  uint64_t seq;  // ties keep arrival order
  int dir;       // 0: A to B, 1: B to A
  std::vector<uint8_t> data;
};

bool later(const Held& x, const Held& y) { return x.release != y.release ? x.release > y.release : x.seq > y.seq; }

struct OutageWindow {
  Clock::time_point start, end;
};

struct Options {
  std::array<std::string, 2> listen_text, peer_text;
  std::string control;
  std::optional<uint64_t> seed;
  double duration_s = 600;
  size_t max_queue_bytes = 64 << 20;
  std::vector<std::pair<double, double>> outages;  // start, length in seconds
  Profile profile;
};

class Relay {
 public:
  explicit Relay(const Options& opt);
  void run();

 private:
  void drain(int side);
  void impair(int dir, const uint8_t* data, size_t len, Clock::time_point now);
  void hold(int dir, std::vector<uint8_t> data, Clock::time_point now);
  void release_due(Clock::time_point now);
  [[nodiscard]] bool outage_on(Clock::time_point now) const;
  [[nodiscard]] bool chance(double percent) { return percent > 0 && pct_(rng_) < percent; }
  void read_control();
  void command(const std::string& line);
  void print_stats() const;
  [[nodiscard]] Clock::time_point next_wakeup() const;

  std::array<Fd, 2> sock_;
  std::vector<uint8_t> rx_buf_ = std::vector<uint8_t>(kMaxDatagram);
  std::array<Endpoint, 2> peer_;
  Fd control_;
  std::string control_buf_;
  uint64_t commands_ = 0;
  bool quit_ = false;
  bool manual_outage_ = false;
  std::vector<OutageWindow> windows_;
  Profile profile_;
  std::mt19937_64 rng_;
  std::uniform_real_distribution<double> pct_{0.0, 100.0};
  std::vector<Held> heap_;
  size_t held_bytes_ = 0;
  size_t max_queue_bytes_;
  uint64_t seq_ = 0;
  std::array<Clock::time_point, 2> last_release_{};
  std::array<uint64_t, 2> newest_sent_{};  // the latest arrival (seq + 1) sent, per direction
  std::array<Counters, 2> count_{};
  Clock::time_point deadline_;
};

Relay::Relay(const Options& opt) : profile_(opt.profile), max_queue_bytes_(opt.max_queue_bytes) {
  for (int side = 0; side < 2; ++side) {
    const auto listen = parse_endpoint(opt.listen_text[side]);
    const auto peer = parse_endpoint(opt.peer_text[side]);
    if (!listen || !peer) usage("bad address in side " + std::string(1, "ab"[side]));
    sock_[side] = bind_udp(*listen, opt.listen_text[side]);
    peer_[side] = *peer;
  }
  if (!opt.control.empty()) {
    control_ = Fd(::open(opt.control.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC));
    if (control_.get() < 0) die("open " + opt.control + ": " + std::strerror(errno));
  }
  const uint64_t seed = opt.seed ? *opt.seed : std::random_device{}();
  rng_.seed(seed);
  const auto start = Clock::now();
  deadline_ = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(opt.duration_s));
  for (const auto& [at, len] : opt.outages) {
    const auto s = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(at));
    windows_.push_back({s, s + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(len))});
  }
  say("impair_relay: seed=" + std::to_string(seed) + " a=" + opt.listen_text[0] + "->" + opt.peer_text[0] +
      " b=" + opt.listen_text[1] + "->" + opt.peer_text[1] + " " + describe(profile_) + " ready");
}

bool Relay::outage_on(Clock::time_point now) const {
  if (manual_outage_) return true;
  return std::any_of(windows_.begin(), windows_.end(),
                     [now](const OutageWindow& w) { return now >= w.start && now < w.end; });
}

void Relay::impair(int dir, const uint8_t* data, size_t len, Clock::time_point now) {
  Counters& c = count_[dir];
  ++c.in;
  if (outage_on(now)) {
    ++c.outage;
    return;
  }
  if (chance(profile_.loss)) {
    ++c.lost;
    return;
  }
  const bool twice = chance(profile_.dup);
  if (twice) {
    ++c.dup;
    hold(dir, std::vector<uint8_t>(data, data + len), now);
  }
  hold(dir, std::vector<uint8_t>(data, data + len), now);
}

void Relay::hold(int dir, std::vector<uint8_t> data, Clock::time_point now) {
  if (held_bytes_ + data.size() > max_queue_bytes_) {
    ++count_[dir].overflow;
    return;
  }
  double ms = profile_.delay_ms;
  if (profile_.jitter_ms > 0)
    ms += std::uniform_real_distribution<double>(-profile_.jitter_ms, profile_.jitter_ms)(rng_);
  auto release = now + std::chrono::duration_cast<Clock::duration>(Millis(std::max(ms, 0.0)));
  if (chance(profile_.reorder)) {
    ++count_[dir].reordered;
    release += std::chrono::duration_cast<Clock::duration>(Millis(profile_.reorder_ms));
  } else {
    release = std::max(release, last_release_[dir]);
    last_release_[dir] = release;
  }
  held_bytes_ += data.size();
  heap_.push_back(Held{release, seq_++, dir, std::move(data)});
  std::push_heap(heap_.begin(), heap_.end(), later);
}

void Relay::release_due(Clock::time_point now) {
  while (!heap_.empty() && heap_.front().release <= now) {
    std::pop_heap(heap_.begin(), heap_.end(), later);
    Held h = std::move(heap_.back());
    heap_.pop_back();
    held_bytes_ -= h.data.size();
    const int to = 1 - h.dir;
    const auto& dst = peer_[to];
    const ssize_t n = ::sendto(sock_[to].get(), h.data.data(), h.data.size(), 0,
                               reinterpret_cast<const sockaddr*>(&dst.addr), dst.len);
    if (n < 0) {
      ++count_[h.dir].send_errors;
    } else {
      ++count_[h.dir].out;
      uint64_t& newest = newest_sent_[static_cast<size_t>(h.dir)];
      if (h.seq + 1 < newest) ++count_[h.dir].overtaken;
      newest = std::max(newest, h.seq + 1);
    }
  }
}

void Relay::drain(int side) {
  for (int i = 0; i < kBurst; ++i) {
    const ssize_t n = ::recv(sock_[side].get(), rx_buf_.data(), rx_buf_.size(), MSG_DONTWAIT);
    if (n < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        say("impair_relay: recv on side " + std::string(1, "ab"[side]) + ": " + std::strerror(errno));
      return;
    }
    impair(side, rx_buf_.data(), static_cast<size_t>(n), Clock::now());
  }
}

void Relay::command(const std::string& line) {
  ++commands_;
  const std::string n = std::to_string(commands_);
  std::vector<std::string> words;
  for (size_t pos = 0; pos < line.size();) {
    const size_t start = line.find_first_not_of(" \t\r", pos);
    if (start == std::string::npos) break;
    const size_t end = std::min(line.find_first_of(" \t\r", start), line.size());
    words.push_back(line.substr(start, end - start));
    pos = end;
  }
  std::string error;
  if (words.empty()) {
    error = "empty command";
  } else if (words[0] == "set") {
    Profile p;
    for (size_t i = 1; i < words.size() && error.empty(); ++i) error = apply_setting(p, words[i]);
    if (error.empty()) profile_ = p;
  } else if (words[0] == "outage" && words.size() == 2 && (words[1] == "on" || words[1] == "off")) {
    manual_outage_ = words[1] == "on";
  } else if (words[0] == "stats" && words.size() == 1) {
    print_stats();
  } else if (words[0] == "quit" && words.size() == 1) {
    quit_ = true;
  } else {
    error = "unknown command";
  }
  if (error.empty()) say("ack " + n + " " + line + (words[0] == "set" ? " (" + describe(profile_) + ")" : ""));
  else say("nack " + n + " " + line + ": " + error);
}

void Relay::read_control() {
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(control_.get(), buf, sizeof buf);
    if (n <= 0) break;
    control_buf_.append(buf, static_cast<size_t>(n));
  }
  size_t nl;
  while ((nl = control_buf_.find('\n')) != std::string::npos) {
    const std::string line = control_buf_.substr(0, nl);
    control_buf_.erase(0, nl + 1);
    if (!line.empty()) command(line);
  }
}

void Relay::print_stats() const {
  for (int dir = 0; dir < 2; ++dir) {
    const Counters& c = count_[dir];
    char buf[320];
    std::snprintf(buf, sizeof buf,
                  "stats %s in=%llu out=%llu lost=%llu outage=%llu dup=%llu reordered=%llu "
                  "overflow=%llu send-errors=%llu overtaken=%llu",
                  dir == 0 ? "a2b" : "b2a", static_cast<unsigned long long>(c.in),
                  static_cast<unsigned long long>(c.out), static_cast<unsigned long long>(c.lost),
                  static_cast<unsigned long long>(c.outage), static_cast<unsigned long long>(c.dup),
                  static_cast<unsigned long long>(c.reordered), static_cast<unsigned long long>(c.overflow),
                  static_cast<unsigned long long>(c.send_errors), static_cast<unsigned long long>(c.overtaken));
    say(buf);
  }
}

// The earliest of: the run's end, the next release, the next outage edge.
Clock::time_point Relay::next_wakeup() const {
  auto t = deadline_;
  if (!heap_.empty()) t = std::min(t, heap_.front().release);
  const auto now = Clock::now();
  for (const auto& w : windows_) {
    if (w.start > now) t = std::min(t, w.start);
    if (w.end > now) t = std::min(t, w.end);
  }
  return t;
}

void Relay::run() {
  sigset_t blocked, during_poll;
  sigemptyset(&blocked);
  sigaddset(&blocked, SIGINT);
  sigaddset(&blocked, SIGTERM);
  sigprocmask(SIG_BLOCK, &blocked, &during_poll);  // signals arrive only inside ppoll
  sigdelset(&during_poll, SIGINT);
  sigdelset(&during_poll, SIGTERM);
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  std::array<pollfd, 3> fds{{{sock_[0].get(), POLLIN, 0}, {sock_[1].get(), POLLIN, 0}, {control_.get(), POLLIN, 0}}};
  const nfds_t nfds = control_.get() >= 0 ? 3 : 2;
  while (!g_stop && !quit_) {
    auto now = Clock::now();
    release_due(now);
    if (now >= deadline_) {
      say("impair_relay: --duration reached");
      break;
    }
    const auto wait = std::chrono::duration_cast<std::chrono::nanoseconds>(next_wakeup() - now);
    const auto ns = std::max<int64_t>(wait.count(), 0);
    const timespec ts{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
    const int r = ::ppoll(fds.data(), nfds, &ts, &during_poll);
    if (r < 0 && errno != EINTR) die("ppoll: " + std::string(std::strerror(errno)));
    if (r <= 0) continue;
    for (int side = 0; side < 2; ++side)
      if (fds[static_cast<size_t>(side)].revents & POLLIN) drain(side);
    if (nfds == 3 && (fds[2].revents & POLLIN)) read_control();
  }
  print_stats();
  say("impair_relay: exiting");
}

double number_arg(const std::string& flag, const char* text) {
  char* end = nullptr;
  const double v = std::strtod(text, &end);
  if (*text == '\0' || *end != '\0' || !(v >= 0)) usage("bad number for " + flag + ": " + text);
  return v;
}

uint64_t seed_arg(const char* text) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(text, &end, 10);
  if (*text == '\0' || *end != '\0' || errno != 0) usage(std::string("bad --seed: ") + text);
  return v;
}

Options parse_args(int argc, char** argv) {
  Options opt;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.find('=') != std::string::npos && arg.rfind("--", 0) != 0) {
      if (const auto err = apply_setting(opt.profile, arg); !err.empty()) usage(err);
      continue;
    }
    if (i + 1 >= argc) usage("missing value for " + arg);
    const char* value = argv[++i];
    if (arg == "--a-listen") opt.listen_text[0] = value;
    else if (arg == "--a-peer") opt.peer_text[0] = value;
    else if (arg == "--b-listen") opt.listen_text[1] = value;
    else if (arg == "--b-peer") opt.peer_text[1] = value;
    else if (arg == "--control") opt.control = value;
    else if (arg == "--seed") opt.seed = seed_arg(value);
    else if (arg == "--duration") opt.duration_s = number_arg(arg, value);
    else if (arg == "--max-queue-bytes") opt.max_queue_bytes = static_cast<size_t>(number_arg(arg, value));
    else if (arg == "--outage") {
      const std::string w = value;
      const auto plus = w.find('+');
      if (plus == std::string::npos) usage("--outage wants START+LEN, got " + w);
      opt.outages.emplace_back(number_arg(arg, w.substr(0, plus).c_str()), number_arg(arg, w.substr(plus + 1).c_str()));
    } else usage("unknown option " + arg);
  }
  for (int side = 0; side < 2; ++side)
    if (opt.listen_text[side].empty() || opt.peer_text[side].empty())
      usage("--a-listen, --a-peer, --b-listen and --b-peer are required");
  return opt;
}

}  // namespace

int main(int argc, char** argv) {
  Relay relay(parse_args(argc, argv));
  relay.run();
  return 0;
}
