// LinuxUdp's UDP GSO fallback (tunnel/udp_socket.cc LinuxUdp::flush): a
// train the kernel refuses (any error but EAGAIN/ENOBUFS) is sent again one
// datagram at a time, and those sends alone count as failures. A train
// refused because its segments exceed the route's MTU (EMSGSIZE) says
// nothing about GSO: the socket keeps making trains (for other peers, and
// for this one once its MTU allows). Other refusals (the kernel or device
// cannot do GSO) turn trains off after kMaxGsoErrors (8); this kernel
// offers no way to provoke one, so that branch is not tested here.
//
// The refusal is a real one. Linux refuses a UDP_SEGMENT send whose segment
// does not fit the route's MTU (EMSGSIZE), while a single datagram of the
// same size is fragmented and goes through. (Turning tx checksumming off,
// which made older kernels refuse trains with EIO, no longer does on this
// kernel: loopback's checksum offload is fixed on, and a veth without it
// sends trains all the same.) So each case runs in a forked child that
// enters a network namespace of its own (the test process's namespace is
// untouched), brings its loopback up and sets its MTU, and sends from a
// LinuxUdp with GSO to a LinuxUdp with GRO on 127.0.0.1. The child reports
// key/value lines through a pipe; the parent asserts on them. Needs root
// (CAP_SYS_ADMIN and CAP_NET_ADMIN), else skipped.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "tunnel/udp_socket.h"

namespace sitelink::tunnel {
namespace {

using Clock = std::chrono::steady_clock;

// 64 datagrams of 1000 bytes make one train (UDP_MAX_SEGMENTS; 64000 bytes
// is within LinuxUdp's 65000-byte train).
constexpr size_t kSegment = 1000;
constexpr size_t kPerTrain = 64;
constexpr size_t kRefusalsBeforeFallback = 8;  // kMaxGsoErrors in tunnel/udp_socket.cc: more than that
// Below kSegment + 28 (IPv4 and UDP headers): trains are refused.
constexpr int kSmallMtu = 576;
constexpr int kLoopbackMtu = 65536;
constexpr auto kChildTimeout = std::chrono::seconds(60);
constexpr auto kReceiveTimeout = std::chrono::seconds(5);

// One flush: the loopback MTU for it and how many full trains' worth of
// datagrams are queued.
struct Phase {
  int mtu;
  size_t trains;
};

using Report = std::map<std::string, std::string>;

// --- The child (in its own network namespace) -------------------------------------

class Reporter {
 public:
  explicit Reporter(int fd) : fd_(fd) {}
  void put(const std::string& key, const std::string& value) {
    const std::string line = key + " " + value + "\n";
    for (size_t done = 0; done < line.size();) {
      const ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;
      done += static_cast<size_t>(n);
    }
  }
  void put(const std::string& key, size_t value) { put(key, std::to_string(value)); }

 private:
  int fd_;
};

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

// Brings loopback up with the given MTU; an error message, or "".
std::string set_loopback(int mtu) {
  const UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!s.valid()) return errno_text("socket");
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (::ioctl(s.get(), SIOCGIFFLAGS, &ifr) < 0) return errno_text("SIOCGIFFLAGS lo");
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
  if (::ioctl(s.get(), SIOCSIFFLAGS, &ifr) < 0) return errno_text("SIOCSIFFLAGS lo up");
  ifr.ifr_mtu = mtu;
  if (::ioctl(s.get(), SIOCSIFMTU, &ifr) < 0) return errno_text("SIOCSIFMTU lo " + std::to_string(mtu));
  return "";
}

// Does the kernel refuse a two-segment train now? errno, or 0 if it took it
// (sent to the discard port: nobody listens in this namespace).
int train_refusal() {
  const UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!s.valid()) return errno;
  const int seg = static_cast<int>(kSegment);
  if (::setsockopt(s.get(), IPPROTO_UDP, UDP_SEGMENT, &seg, sizeof seg) < 0) return errno;
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(9);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const std::vector<uint8_t> payload(2 * kSegment, 0);
  const ssize_t n = ::sendto(s.get(), payload.data(), payload.size(), 0, reinterpret_cast<const sockaddr*>(&to),
                             sizeof to);
  return n < 0 ? errno : 0;
}

// Datagram number `seq`: its number, then a pattern made from it.
std::vector<uint8_t> numbered(uint32_t seq) {
  std::vector<uint8_t> d(kSegment);
  for (size_t i = 0; i < d.size(); ++i) d[i] = static_cast<uint8_t>(seq * 131 + i * 7);
  std::memcpy(d.data(), &seq, sizeof seq);
  return d;
}

struct Arrivals {
  size_t datagrams = 0;
  size_t reads = 0;     // buffers filled: fewer than datagrams when trains came in whole
  long first_bad = -1;  // the first datagram out of order, damaged or from elsewhere
  bool extra = false;   // more arrived than was sent
};

// Receives `want` datagrams numbered from `first` (waiting at most
// kReceiveTimeout), checking each.
Arrivals receive(LinuxUdp& rx, uint32_t first, size_t want, const SockAddr& from) {
  Arrivals a;
  std::vector<uint8_t> mem(16 * 65536);
  std::vector<MutableBytes> buffers;
  for (size_t i = 0; i < 16; ++i) buffers.emplace_back(mem.data() + i * 65536, 65536);
  const auto deadline = Clock::now() + kReceiveTimeout;
  while (a.datagrams < want && Clock::now() < deadline) {
    pollfd p{rx.fd(), POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    std::vector<Datagram> out;
    a.reads += rx.recv_batch(buffers, out);
    for (const Datagram& d : out) {
      const auto expected = numbered(first + static_cast<uint32_t>(a.datagrams));
      const bool good = d.from == from && std::equal(d.data.begin(), d.data.end(), expected.begin(), expected.end());
      if (!good && a.first_bad < 0) a.first_bad = static_cast<long>(a.datagrams);
      ++a.datagrams;
    }
  }
  pollfd p{rx.fd(), POLLIN, 0};
  a.extra = a.datagrams > want || ::poll(&p, 1, 50) > 0;
  return a;
}

void run_phases(const std::vector<Phase>& phases, Reporter& out) {
  LinuxUdp::Options rx_options;
  rx_options.gro = true;
  LinuxUdp::Options tx_options;
  tx_options.gso = true;
  tx_options.gro = false;
  auto rx = LinuxUdp::bind(0, 0, rx_options);
  auto tx = LinuxUdp::bind(0, 0, tx_options);
  if (!rx || !tx) return out.put("error", "bind: " + (rx ? tx.error() : rx.error()).message());
  if (!tx->gso()) return out.put("skip", "no UDP_SEGMENT on this kernel");
  if (!rx->gro()) return out.put("skip", "no UDP_GRO on this kernel");
  const SockAddr to = *SockAddr::parse("127.0.0.1:" + std::to_string(rx->port()));
  const SockAddr from = *SockAddr::parse("127.0.0.1:" + std::to_string(tx->port()));
  uint32_t seq = 0;
  for (size_t i = 0; i < phases.size(); ++i) {
    const std::string p = "p" + std::to_string(i) + ".";
    if (auto err = set_loopback(phases[i].mtu); !err.empty()) return out.put("error", err);
    out.put(p + "refusal", std::to_string(train_refusal()));
    std::vector<std::vector<uint8_t>> queued;  // alive until flush() returns
    for (size_t n = 0; n < phases[i].trains * kPerTrain; ++n)
      queued.push_back(numbered(seq + static_cast<uint32_t>(n)));
    for (const auto& d : queued) tx->queue(d, to, LocalAddr{});
    out.put(p + "failures", tx->flush());
    out.put(p + "gso", tx->gso() ? "on" : "off");
    const Arrivals a = receive(*rx, seq, queued.size(), from);
    out.put(p + "sent", queued.size());
    out.put(p + "received", a.datagrams);
    out.put(p + "reads", a.reads);
    out.put(p + "first_bad", std::to_string(a.first_bad));
    out.put(p + "extra", a.extra ? "yes" : "no");
    seq += static_cast<uint32_t>(queued.size());
  }
  out.put("done", "yes");
}

[[noreturn]] void child_main(const std::vector<Phase>& phases, int fd) {
  Reporter out(fd);
  if (::unshare(CLONE_NEWNET) < 0) {
    out.put("skip", errno_text("unshare(CLONE_NEWNET)"));
  } else {
    run_phases(phases, out);
  }
  ::close(fd);
  ::_exit(0);
}

// --- The parent ----------------------------------------------------------------------

// Runs the phases in a child in a new network namespace; its report, plus
// "exit" (the child's status) or "timeout".
Report run_isolated(const std::vector<Phase>& phases) {
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) < 0) return {{"error", errno_text("pipe2")}};
  const pid_t pid = ::fork();
  if (pid < 0) return {{"error", errno_text("fork")}};
  if (pid == 0) {
    ::close(pipefd[0]);
    child_main(phases, pipefd[1]);
  }
  ::close(pipefd[1]);
  std::string text;
  bool timed_out = false;
  const auto deadline = Clock::now() + kChildTimeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{pipefd[0], POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
    char buf[4096];
    const ssize_t n = ::read(pipefd[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // the child closed its end: done
    text.append(buf, static_cast<size_t>(n));
  }
  ::close(pipefd[0]);
  if (timed_out) ::kill(pid, SIGKILL);  // our own child, by its pid
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  Report r;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    const auto sp = line.find(' ');
    if (sp != std::string::npos) r[line.substr(0, sp)] = line.substr(sp + 1);
  }
  if (timed_out) r["timeout"] = "child did not finish within " + std::to_string(kChildTimeout.count()) + " s";
  r["exit"] = WIFEXITED(status) ? std::to_string(WEXITSTATUS(status)) : "signal " + std::to_string(WTERMSIG(status));
  return r;
}

// Runs the phases, skipping where namespaces cannot be made; fails on a
// child that broke down.
#define RUN_OR_SKIP(report, ...)                                              \
  if (::geteuid() != 0) GTEST_SKIP() << "needs root for a network namespace"; \
  const Report report = run_isolated(__VA_ARGS__);                            \
  if (report.count("skip") != 0) GTEST_SKIP() << report.at("skip");           \
  ASSERT_EQ(report.count("timeout"), 0u) << report.at("timeout");             \
  ASSERT_EQ(report.count("error"), 0u) << "child: " << report.at("error");    \
  ASSERT_EQ(report.at("exit"), "0") << "the child died";                      \
  ASSERT_EQ(report.count("done"), 1u) << "the child stopped before reporting everything"

std::string field(const Report& r, size_t phase, const std::string& key) {
  const auto it = r.find("p" + std::to_string(phase) + "." + key);
  return it == r.end() ? "(missing)" : it->second;
}

// Every datagram of phase `i` arrived once, intact, in order, from the sender.
void expect_all_arrived(const Report& r, size_t i) {
  SCOPED_TRACE("flush " + std::to_string(i));
  EXPECT_EQ(field(r, i, "received"), field(r, i, "sent")) << "datagrams lost";
  EXPECT_EQ(field(r, i, "first_bad"), "-1") << "this datagram (and maybe later ones) was out of order or damaged";
  EXPECT_EQ(field(r, i, "extra"), "no") << "more datagrams arrived than were sent";
}

// The kernel refused trains in phase `i` (EMSGSIZE here) with an error that
// LinuxUdp treats as a refusal: the premise of the fallback cases.
void expect_refused(const Report& r, size_t i) {
  const std::string refusal = field(r, i, "refusal");
  EXPECT_TRUE(refusal != "0" && refusal != std::to_string(EAGAIN) && refusal != std::to_string(ENOBUFS))
      << "with loopback's MTU at " << kSmallMtu << " the kernel should refuse a " << kSegment
      << "-byte UDP_SEGMENT train; errno " << refusal << " (0 = accepted)";
}

// Control: with loopback's own MTU the kernel takes the trains; nothing falls
// back, and they arrive as trains (the receiver reads fewer buffers than
// datagrams).
TEST(UdpGsoFallback, ControlTrainsAreAcceptedAndGsoStaysOn) {
  RUN_OR_SKIP(r, {{kLoopbackMtu, 2 * kRefusalsBeforeFallback}});
  EXPECT_EQ(field(r, 0, "refusal"), "0") << "the kernel refused a train on plain loopback";
  EXPECT_EQ(field(r, 0, "failures"), "0");
  EXPECT_EQ(field(r, 0, "gso"), "on");
  expect_all_arrived(r, 0);
  EXPECT_EQ(field(r, 0, "reads"), std::to_string(2 * kRefusalsBeforeFallback)) << "one read per train";
}

// One flush of more oversized trains than the threshold for GSO refusals:
// every datagram still arrives (sent one by one), flush counts no failure
// since each single send succeeded, and GSO stays on. A later flush, after
// the MTU is back up, sends trains again.
TEST(UdpGsoFallback, OversizedTrainsAreSentOneByOneAndGsoStaysOn) {
  RUN_OR_SKIP(r, {{kSmallMtu, 2 * kRefusalsBeforeFallback}, {kLoopbackMtu, 2}});
  expect_refused(r, 0);
  EXPECT_EQ(field(r, 0, "refusal"), std::to_string(EMSGSIZE));
  EXPECT_EQ(field(r, 0, "failures"), "0") << "the refused trains' datagrams were all sent singly";
  EXPECT_EQ(field(r, 0, "gso"), "on") << "after " << 2 * kRefusalsBeforeFallback << " oversized trains";
  expect_all_arrived(r, 0);
  EXPECT_EQ(field(r, 0, "reads"), field(r, 0, "sent")) << "singles: one read each";

  EXPECT_EQ(field(r, 1, "refusal"), "0");
  EXPECT_EQ(field(r, 1, "failures"), "0");
  EXPECT_EQ(field(r, 1, "gso"), "on");
  expect_all_arrived(r, 1);
  EXPECT_EQ(field(r, 1, "reads"), "2") << "the later flush should send trains again";
}

}  // namespace
}  // namespace sitelink::tunnel
