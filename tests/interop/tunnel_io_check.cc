// tunnel_io_check: a test program (not product code) for the real-kernel
// I/O classes of tunnel/: LinuxTun, Netlink and LinuxUdp. It runs as root in
// a fresh network namespace, driven by tests/netns/tunnel-io.sh, which checks
// from outside (with `ip`) what the program did.
//
//   tunnel_io_check TUN_NAME DUMMY_NAME
//
// Protocol: the program prints one line per finished step on stdout and,
// where the script must look or act first, waits for one line on stdin
// (each wait bounded by kStepTimeoutMs). Steps in order:
//   -> "configured NAME IFINDEX"   TUN with mtu 1380, addresses, up, routes
//   <- "mtu"                       (after the script set mtu 1300)
//   -> "mtu N"                     Netlink::mtu() read back
//   -> "tun-ready"                 script starts pinging 198.18.6.7
//   -> "tun-read-ok"               echo request read from the TUN
//   -> "tun-reply-ok"              our echo request answered by the kernel
//   -> "udp-ok PORT"               datagrams to ourselves over 127.0.0.1 and ::1
//   -> "dummy-deleted"             delete_link(DUMMY_NAME); absent name is ENODEV
//   -> "removed"                   routes and addresses deleted
//   <- "down"                      -> "down"   link set down
//   <- "exit"                      program exits 0 (the TUN goes with it)
// Any failed check prints "FAIL <what>" on stdout and exits 1; details go to
// stderr. alarm() bounds the whole run.
#include <arpa/inet.h>
#include <poll.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/ip_prefix.h"
#include "tunnel/netlink.h"
#include "tunnel/sock_addr.h"
#include "tunnel/tun_device.h"
#include "tunnel/udp_socket.h"

namespace tn = sitelink::tunnel;
using sitelink::Bytes;
using sitelink::config::IpAddress;
using sitelink::config::IpPrefix;

namespace {

constexpr int kStepTimeoutMs = 30'000;
constexpr int kPacketTimeoutMs = 10'000;
constexpr unsigned kWholeRunSeconds = 100;
constexpr uint32_t kMtu = 1380;
constexpr uint16_t kIcmpId = 0x5e1f;
constexpr uint8_t kIcmpEchoReply = 0;
constexpr uint8_t kIcmpEchoRequest = 8;
constexpr const char* kAbsentLink = "sl-absent-0";

void log(const std::string& s) { std::fprintf(stderr, "tunnel_io_check: %s\n", s.c_str()); }

[[noreturn]] void fail(const std::string& what) {
  log("FAIL " + what);
  std::printf("FAIL %s\n", what.c_str());
  std::fflush(stdout);
  std::exit(1);
}

void say(const std::string& line) {
  log("-> " + line);
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

void check(bool ok, const std::string& what) {
  if (!ok) fail(what);
  log("ok: " + what);
}

// The value of a SysResult, or FAIL with its error.
template <typename T>
T must(tn::SysResult<T> r, const std::string& what) {
  if (!r) fail(what + ": " + r.error().message());
  log("ok: " + what);
  return std::move(*r);
}

void must(const tn::SysResult<void>& r, const std::string& what) {
  if (!r) fail(what + ": " + r.error().message());
  log("ok: " + what);
}

// The call must fail with errno `expected`.
template <typename T>
void must_fail(const tn::SysResult<T>& r, int expected, const std::string& what) {
  if (r) fail(what + ": succeeded, expected " + std::strerror(expected));
  if (r.error().error != expected)
    fail(what + ": got '" + r.error().message() + "', expected " + std::strerror(expected));
  log("ok: " + what + " failed as expected: " + r.error().message());
}

IpPrefix prefix(const char* text) {
  auto p = IpPrefix::parse(text);
  if (!p) fail(std::string("parse ") + text);
  return *p;
}

IpAddress address(const char* text) {
  auto a = IpAddress::parse(text);
  if (!a) fail(std::string("parse ") + text);
  return *a;
}

bool wait_readable(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  int n;
  do {
    n = ::poll(&p, 1, timeout_ms);
  } while (n < 0 && errno == EINTR);
  return n > 0;
}

// Lines from the script on stdin, each wait bounded.
class Commands {
 public:
  void expect(const std::string& word) {
    const std::string line = next();
    log("<- " + line);
    if (line != word) fail("expected command '" + word + "', got '" + line + "'");
  }

 private:
  std::string next() {
    for (;;) {
      if (const auto nl = buf_.find('\n'); nl != std::string::npos) {
        std::string line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return line;
      }
      if (!wait_readable(STDIN_FILENO, kStepTimeoutMs)) fail("timed out waiting for the script");
      std::array<char, 256> chunk;
      const ssize_t n = ::read(STDIN_FILENO, chunk.data(), chunk.size());
      if (n <= 0) fail("stdin closed");
      buf_.append(chunk.data(), static_cast<size_t>(n));
    }
  }
  std::string buf_;
};

// --- IPv4 / ICMP packets --------------------------------------------------------------

uint16_t checksum(const uint8_t* p, size_t len) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < len; i += 2) sum += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
  if (len % 2) sum += static_cast<uint32_t>(p[len - 1] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

void put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}

uint16_t get16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

std::vector<uint8_t> icmp_echo_request(const IpAddress& src, const IpAddress& dst, uint16_t seq) {
  constexpr std::string_view payload = "sitelink tunnel_io_check";
  std::vector<uint8_t> pkt(20 + 8 + payload.size(), 0);
  pkt[0] = 0x45;
  put16(&pkt[2], static_cast<uint16_t>(pkt.size()));
  pkt[8] = 64;  // TTL
  pkt[9] = 1;   // ICMP
  std::memcpy(&pkt[12], src.raw().data(), 4);
  std::memcpy(&pkt[16], dst.raw().data(), 4);
  put16(&pkt[10], checksum(pkt.data(), 20));
  uint8_t* icmp = &pkt[20];
  icmp[0] = kIcmpEchoRequest;
  put16(&icmp[4], kIcmpId);
  put16(&icmp[6], seq);
  std::memcpy(&icmp[8], payload.data(), payload.size());
  put16(&icmp[2], checksum(icmp, pkt.size() - 20));
  return pkt;
}

struct Icmp {
  IpAddress src;
  IpAddress dst;
  uint8_t type;
  uint16_t id;
  uint16_t seq;
};

// An IPv4 ICMP packet with valid header checksums, else nullopt.
std::optional<Icmp> parse_icmp(Bytes pkt) {
  if (pkt.size() < 28 || pkt[0] >> 4 != 4 || pkt[9] != 1) return std::nullopt;
  const size_t ihl = size_t{pkt[0] & 0x0fu} * 4;
  if (ihl < 20 || get16(&pkt[2]) != pkt.size() || pkt.size() < ihl + 8) return std::nullopt;
  if (checksum(pkt.data(), ihl) != 0 || checksum(pkt.data() + ihl, pkt.size() - ihl) != 0) return std::nullopt;
  const uint8_t* icmp = pkt.data() + ihl;
  return Icmp{IpAddress::v4({pkt[12], pkt[13], pkt[14], pkt[15]}), IpAddress::v4({pkt[16], pkt[17], pkt[18], pkt[19]}),
              icmp[0], get16(&icmp[4]), get16(&icmp[6])};
}

std::string describe(const Icmp& m) {
  return "ICMP type " + std::to_string(m.type) + " " + m.src.to_string() + " -> " + m.dst.to_string() + " id " +
         std::to_string(m.id) + " seq " + std::to_string(m.seq);
}

// Reads packets from the TUN until `match` accepts one or the time is up;
// other traffic (IPv6 router solicitations and the like) is skipped.
template <typename Match>
bool read_until(tn::LinuxTun& tun, Match match, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::array<uint8_t, 2048> buf;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                                            std::chrono::steady_clock::now());
    if (left.count() <= 0 || !wait_readable(tun.fd(), static_cast<int>(left.count()))) return false;
    while (const auto n = tun.read(buf)) {
      const auto icmp = parse_icmp(Bytes(buf.data(), *n));
      log("tun read " + std::to_string(*n) + " bytes" + (icmp ? ": " + describe(*icmp) : ""));
      if (icmp && match(*icmp)) return true;
    }
  }
}

// --- steps ----------------------------------------------------------------------------

void configure(tn::Netlink& nl, const tn::LinuxTun& tun) {
  const int idx = tun.ifindex();
  check(must(nl.ifindex(tun.name()), "ifindex " + tun.name()) == idx, "ifindex matches the TUN's");
  must_fail(nl.ifindex(kAbsentLink), ENODEV, "ifindex of an absent link");
  must(nl.set_mtu(idx, kMtu), "set_mtu 1380");
  check(must(nl.mtu(idx), "mtu()") == kMtu, "mtu() reads back 1380");
  must(nl.add_address(idx, prefix("198.18.5.1/24")), "add_address 198.18.5.1/24");
  must(nl.add_address(idx, prefix("2001:db8:5::1/64")), "add_address 2001:db8:5::1/64");
  must(nl.add_address(idx, prefix("198.18.5.1/24")), "add_address again (replace)");
  must_fail(nl.add_address(999999, prefix("198.18.9.1/24")), ENODEV, "add_address on an absent link");
  must(nl.set_up(idx, true), "set_up");
  must(nl.add_route(idx, prefix("198.18.6.0/24")), "add_route 198.18.6.0/24");
  must(nl.add_route(idx, prefix("2001:db8:6::/48")), "add_route 2001:db8:6::/48");
  must(nl.add_route(idx, prefix("198.18.6.0/24")), "add_route again (replace)");
  say("configured " + tun.name() + " " + std::to_string(idx));
}

void tun_io(tn::LinuxTun& tun) {
  std::array<uint8_t, 2048> buf;
  while (tun.read(buf)) {
  }  // drain; read() with nothing waiting is nullopt
  check(!tun.read(buf).has_value(), "read() on an empty TUN is nullopt");
  const IpAddress far = address("198.18.6.7");
  const IpAddress local = address("198.18.5.1");
  say("tun-ready");
  const bool got_ping = read_until(
      tun, [&](const Icmp& m) { return m.type == kIcmpEchoRequest && m.dst == far && m.src == local; },
      kPacketTimeoutMs);
  check(got_ping, "echo request to 198.18.6.7 read from the TUN");
  say("tun-read-ok");

  constexpr uint16_t kSeq = 7;
  check(tun.write(icmp_echo_request(far, local, kSeq)), "write echo request 198.18.6.7 -> 198.18.5.1");
  const bool got_reply = read_until(
      tun,
      [&](const Icmp& m) {
        return m.type == kIcmpEchoReply && m.src == local && m.dst == far && m.id == kIcmpId && m.seq == kSeq;
      },
      kPacketTimeoutMs);
  check(got_reply, "kernel's echo reply read from the TUN");
  say("tun-reply-ok");
}

// Sends a datagram to ourselves at `ip` and checks it arrives from there.
void udp_self(tn::LinuxUdp& udp, const char* ip) {
  const tn::SockAddr to(address(ip), udp.port());
  const std::string msg = std::string("hello via ") + ip;
  check(udp.send(Bytes(reinterpret_cast<const uint8_t*>(msg.data()), msg.size()), to), "send to " + to.to_string());
  check(wait_readable(udp.fd(), kPacketTimeoutMs), "datagram via " + std::string(ip) + " arrives");
  std::array<uint8_t, 256> buf;
  const auto got = udp.recv(buf);
  check(got.has_value(), "recv() returns it");
  check(std::string(buf.begin(), buf.begin() + static_cast<long>(got->length)) == msg, "payload intact");
  check(got->from == to, "source is " + to.to_string() + " (got " + got->from.to_string() + ")");
}

void udp_io() {
  auto udp = must(tn::LinuxUdp::bind(0, 0), "LinuxUdp::bind(0)");
  check(udp.port() != 0, "bound port " + std::to_string(udp.port()));
  std::array<uint8_t, 16> buf;
  check(!udp.recv(buf).has_value(), "recv() with nothing waiting is nullopt");
  udp_self(udp, "127.0.0.1");
  udp_self(udp, "::1");
  must_fail(tn::LinuxUdp::bind(udp.port(), 0), EADDRINUSE, "second bind on the same port");
  must(udp.set_fwmark(0x51), "set_fwmark");
  auto marked = must(tn::LinuxUdp::bind(0, 0x52), "LinuxUdp::bind with fwmark");
  check(!marked.send(Bytes(), tn::SockAddr()), "send to an unset address is refused");
  say("udp-ok " + std::to_string(udp.port()));
}

void links(tn::Netlink& nl, const std::string& dummy) {
  must_fail(nl.delete_link(kAbsentLink), ENODEV, "delete_link of an absent link");
  must(nl.delete_link(dummy), "delete_link " + dummy);
  must_fail(nl.ifindex(dummy), ENODEV, "the dummy link is gone");
  say("dummy-deleted");
}

void remove_all(tn::Netlink& nl, int idx) {
  must(nl.del_route(idx, prefix("198.18.6.0/24")), "del_route 198.18.6.0/24");
  must(nl.del_route(idx, prefix("2001:db8:6::/48")), "del_route 2001:db8:6::/48");
  must_fail(nl.del_route(idx, prefix("198.18.6.0/24")), ESRCH, "del_route of a missing route");
  must(nl.del_address(idx, prefix("198.18.5.1/24")), "del_address 198.18.5.1/24");
  must(nl.del_address(idx, prefix("2001:db8:5::1/64")), "del_address 2001:db8:5::1/64");
  must_fail(nl.del_address(idx, prefix("198.18.5.1/24")), EADDRNOTAVAIL, "del_address of a missing address");
  say("removed");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s TUN_NAME DUMMY_NAME\n", argv[0]);
    return 64;
  }
  ::alarm(kWholeRunSeconds);  // backstop: SIGALRM ends a stuck run
  Commands commands;
  must_fail(tn::LinuxTun::open("a-name-longer-than-15"), EINVAL, "TUN name too long");
  auto tun = must(tn::LinuxTun::open(argv[1]), std::string("LinuxTun::open ") + argv[1]);
  check(tun.name() == argv[1] && tun.ifindex() > 0, "TUN name and ifindex");
  auto nl = must(tn::Netlink::open(), "Netlink::open");
  configure(nl, tun);
  commands.expect("mtu");
  say("mtu " + std::to_string(must(nl.mtu(tun.ifindex()), "mtu() after ip link set")));
  tun_io(tun);
  udp_io();
  links(nl, argv[2]);
  remove_all(nl, tun.ifindex());
  commands.expect("down");
  must(nl.set_up(tun.ifindex(), false), "set_up false");
  say("down");
  commands.expect("exit");
  return 0;
}
