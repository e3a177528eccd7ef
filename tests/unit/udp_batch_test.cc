// Batched UDP I/O (tunnel/udp_socket.h): LinuxUdp's recvmmsg + UDP_GRO
// receive and sendmmsg + UDP_SEGMENT send over loopback, with every
// combination of the switches on the sending and the receiving side, and the
// base class's one-at-a-time defaults through a tiny fake.
//
// Loopback needs no privileges; the tests are skipped where no UDP socket
// can be made (a sandbox without networking).
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tunnel/udp_socket.h"

namespace sitelink::tunnel {
namespace {

using Buf = std::vector<uint8_t>;

// A datagram that says who it is: its number and destination, then a
// pattern made from both, `size` bytes in all (at least 5).
Buf datagram(uint32_t n, uint8_t dest, size_t size) {
  Buf d(size);
  for (size_t i = 0; i < size; ++i) d[i] = static_cast<uint8_t>(n * 31 + dest * 7 + i);
  std::memcpy(d.data(), &n, 4);
  d[4] = dest;
  return d;
}

SockAddr loopback(uint16_t port) { return *SockAddr::parse("127.0.0.1:" + std::to_string(port)); }

// Waits (at most `ms`) until `fd` is readable.
bool readable(int fd, int ms) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, ms) > 0;
}

struct Received2 {
  std::vector<Buf> datagrams;
  std::vector<SockAddr> from;
  size_t buffers_filled = 0;  // summed over recv_batch calls
  size_t calls = 0;
};

// Receives until `want` datagrams arrived or nothing came for a while.
Received2 receive(UdpSocket& s, size_t want) {
  Received2 r;
  std::vector<uint8_t> mem(16 * 65536);
  std::vector<MutableBytes> buffers;
  for (size_t i = 0; i < 16; ++i) buffers.emplace_back(mem.data() + i * 65536, 65536);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (r.datagrams.size() < want && std::chrono::steady_clock::now() < deadline) {
    if (!readable(s.fd(), 200)) continue;
    std::vector<Datagram> out;
    const size_t filled = s.recv_batch(buffers, out);
    ++r.calls;
    r.buffers_filled += filled;
    for (const Datagram& d : out) {
      // Each datagram lies inside one of the buffers.
      bool inside = false;
      for (const MutableBytes& b : buffers) {
        inside |= d.data.data() >= b.data() && d.data.data() + d.data.size() <= b.data() + b.size();
      }
      EXPECT_TRUE(inside);
      r.datagrams.emplace_back(d.data.begin(), d.data.end());
      r.from.push_back(d.from);
    }
  }
  return r;
}

// How many trains the queue makes for `dest` under the documented rule: a
// run of datagrams to one address, all of one size but the last (which may
// be shorter), at most 64 datagrams and 65000 bytes.
size_t expected_trains(const std::vector<Buf>& queued, uint8_t dest) {
  size_t trains = 0;
  for (size_t i = 0; i < queued.size();) {
    const size_t seg = queued[i].size();
    size_t count = 1, bytes = seg;
    while (i + count < queued.size() && count < 64) {
      const Buf& d = queued[i + count];
      if (d[4] != queued[i][4] || d.size() > seg || bytes + d.size() > 65000) break;
      bytes += d.size();
      ++count;
      if (d.size() < seg) break;
    }
    trains += queued[i][4] == dest ? 1 : 0;
    i += count;
  }
  return trains;
}

struct Sides {
  LinuxUdp::Options send, recv;
  const char* name;
};

class UdpBatch : public ::testing::TestWithParam<Sides> {};

#define BIND_OR_SKIP(var, options)                                                   \
  auto var##_r = LinuxUdp::bind(0, 0, options);                                      \
  if (!var##_r) GTEST_SKIP() << "no UDP socket here: " << var##_r.error().message(); \
  LinuxUdp& var = *var##_r

// One flush: runs of equal datagrams (longer than a train may be, and more
// bytes than a train may carry), a shorter last one, and datagrams to a
// second address between them; all arrive intact and in order per
// destination.
TEST_P(UdpBatch, QueuedDatagramsArriveIntactAndInOrder) {
  const Sides sides = GetParam();
  BIND_OR_SKIP(sender, sides.send);
  BIND_OR_SKIP(a, sides.recv);
  BIND_OR_SKIP(b, sides.recv);
  EXPECT_EQ(sender.gso(), sides.send.gso) << "UDP_SEGMENT on this kernel (5.0+)";
  EXPECT_EQ(a.gro(), sides.recv.gro) << "UDP_GRO on this kernel (5.0+)";

  std::map<uint8_t, std::vector<Buf>> want;
  std::vector<Buf> queued;  // alive until flush() returns
  uint32_t n = 0;
  const auto q = [&](uint8_t dest, size_t size, size_t count) {
    for (size_t i = 0; i < count; ++i) {
      queued.push_back(datagram(n++, dest, size));
      want[dest].push_back(queued.back());
    }
  };
  // Phase 1: a mix; phase 2: long runs.
  for (int phase = 1; phase <= 2; ++phase) {
    SCOPED_TRACE("phase " + std::to_string(phase));
    queued.clear();
    queued.reserve(512);
    want.clear();
    if (phase == 1) {
      q('a', 1200, 20);
      q('a', 300, 1);  // a shorter last one ends the train
      q('b', 800, 10);
      q('a', 1200, 5);
      q('b', 100, 3);
      q('a', 64, 1);
      q('a', 1300, 2);  // a longer one starts a new train
      q('b', 1420, 1);
      q('a', 5, 3);
    } else {
      q('a', 1000, 100);  // more than 64 segments
      q('b', 1400, 60);   // more than 65000 bytes
      q('b', 1399, 1);
      q('a', 9000, 10);  // jumbo datagrams (loopback's MTU is 64 KiB)
    }
    for (const Buf& d : queued) sender.queue(d, loopback(d[4] == 'a' ? a.port() : b.port()), LocalAddr{});
    EXPECT_EQ(sender.flush(), 0u);
    for (auto [dest, sock] : {std::pair<uint8_t, LinuxUdp*>{'a', &a}, {'b', &b}}) {
      SCOPED_TRACE(std::string("to ") + static_cast<char>(dest));
      const Received2 r = receive(*sock, want[dest].size());
      ASSERT_EQ(r.datagrams.size(), want[dest].size());
      for (size_t i = 0; i < r.datagrams.size(); ++i) {
        EXPECT_EQ(r.datagrams[i], want[dest][i]) << "datagram " << i;
        EXPECT_EQ(r.from[i], loopback(sender.port()));
      }
      // Trains went out and came in whole, and were cut here.
      if (sides.send.gso && sides.recv.gro && sender.gso() && sock->gro()) {
        EXPECT_EQ(r.buffers_filled, expected_trains(queued, dest));
      } else {
        EXPECT_EQ(r.buffers_filled, r.datagrams.size());
      }
      if (!sides.recv.batch) {
        EXPECT_EQ(r.calls, r.buffers_filled) << "one datagram or train per call";
      }
      EXPECT_FALSE(readable(sock->fd(), 0)) << "nothing more";
    }
  }
}

LinuxUdp::Options options(bool batch, bool gso, bool gro) {
  LinuxUdp::Options o;
  o.batch = batch;
  o.gso = gso;
  o.gro = gro;
  return o;
}

INSTANTIATE_TEST_SUITE_P(
    Switches, UdpBatch,
    ::testing::Values(Sides{options(true, true, true), options(true, true, true), "AllOn"},
                      Sides{options(false, false, false), options(false, false, false), "AllOff"},
                      Sides{options(true, true, false), options(true, false, false), "GsoToPlainReceiver"},
                      Sides{options(true, false, true), options(true, true, true), "PlainToGroReceiver"},
                      Sides{options(false, true, true), options(false, true, true), "OffloadsWithoutBatching"}),
    [](const ::testing::TestParamInfo<Sides>& i) { return std::string(i.param.name); });

// Sends one UDP_SEGMENT train from a plain socket: `payload` cut every
// `segment` bytes by the kernel.
bool send_train(uint16_t to_port, const Buf& payload, uint16_t segment) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(to_port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  iovec iov{const_cast<uint8_t*>(payload.data()), payload.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(uint16_t))] = {};
  msghdr h{};
  h.msg_name = &to;
  h.msg_namelen = sizeof to;
  h.msg_iov = &iov;
  h.msg_iovlen = 1;
  h.msg_control = control;
  h.msg_controllen = sizeof control;
  cmsghdr* c = CMSG_FIRSTHDR(&h);
  c->cmsg_level = IPPROTO_UDP;
  c->cmsg_type = UDP_SEGMENT;
  c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
  std::memcpy(CMSG_DATA(c), &segment, sizeof segment);
  const bool ok = ::sendmsg(fd, &h, 0) == static_cast<ssize_t>(payload.size());
  ::close(fd);
  return ok;
}

// A train the kernel delivers whole through UDP_GRO is cut back into its
// datagrams by recv_batch, in one buffer, in order.
TEST(UdpBatchGro, TrainIsCutBackIntoItsDatagrams) {
  BIND_OR_SKIP(rx, options(true, true, true));
  if (!rx.gro()) GTEST_SKIP() << "no UDP_GRO on this kernel";
  for (const size_t last : {size_t{1000}, size_t{1}, size_t{999}}) {
    SCOPED_TRACE("last datagram " + std::to_string(last) + " bytes");
    Buf payload;
    std::vector<Buf> want;
    for (uint32_t i = 0; i < 7; ++i) {
      want.push_back(datagram(i, 'g', i == 6 ? std::max<size_t>(last, 5) : 1000));
      payload.insert(payload.end(), want.back().begin(), want.back().end());
    }
    ASSERT_TRUE(send_train(rx.port(), payload, 1000));
    const Received2 r = receive(rx, want.size());
    ASSERT_EQ(r.datagrams.size(), want.size());
    EXPECT_EQ(r.buffers_filled, 1u) << "the train arrived whole";
    for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(r.datagrams[i], want[i]) << "datagram " << i;
  }
  // A single datagram no longer than the segment size: one datagram.
  const Buf one = datagram(99, 'g', 700);
  ASSERT_TRUE(send_train(rx.port(), one, 1000));
  const Received2 r = receive(rx, 1);
  ASSERT_EQ(r.datagrams.size(), 1u);
  EXPECT_EQ(r.datagrams[0], one);
}

// Without GRO the kernel cuts the train itself: each datagram in its own
// buffer.
TEST(UdpBatchGro, WithoutGroEachDatagramHasItsBuffer) {
  BIND_OR_SKIP(rx, options(true, true, false));
  Buf payload;
  std::vector<Buf> want;
  for (uint32_t i = 0; i < 5; ++i) {
    want.push_back(datagram(i, 'p', i == 4 ? 300 : 1200));
    payload.insert(payload.end(), want.back().begin(), want.back().end());
  }
  ASSERT_TRUE(send_train(rx.port(), payload, 1200));
  const Received2 r = receive(rx, want.size());
  ASSERT_EQ(r.datagrams.size(), want.size());
  EXPECT_EQ(r.buffers_filled, want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(r.datagrams[i], want[i]);
}

TEST(UdpBatchSend, UnusableDestinationsCountAsFailures) {
  BIND_OR_SKIP(tx, options(true, true, true));
  BIND_OR_SKIP(rx, options(true, true, true));
  const Buf d = datagram(1, 'x', 100);
  tx.queue(d, SockAddr{}, LocalAddr{});  // no address
  tx.queue(d, loopback(rx.port()), LocalAddr{});
  tx.queue(d, SockAddr{}, LocalAddr{});
  EXPECT_EQ(tx.flush(), 2u);
  EXPECT_EQ(tx.flush(), 0u) << "failures are counted once";
  const Received2 r = receive(rx, 1);
  ASSERT_EQ(r.datagrams.size(), 1u);
  EXPECT_EQ(r.datagrams[0], d);
}

// What the kernel refused is kept for the log: a broadcast without
// SO_BROADCAST is refused with EACCES, by send and by a batch alike.
TEST(UdpBatchSend, TheKernelsRefusalKeepsItsErrnoAndDestination) {
  BIND_OR_SKIP(tx, options(true, true, true));
  const Buf d = datagram(1, 'x', 100);
  const SockAddr broadcast = *SockAddr::parse("255.255.255.255:9");
  EXPECT_FALSE(tx.take_send_error());
  EXPECT_FALSE(tx.send(d, broadcast));
  auto e = tx.take_send_error();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->error, EACCES);
  EXPECT_EQ(e->to, broadcast);
  EXPECT_FALSE(tx.take_send_error()) << "taken once";
  tx.queue(d, broadcast, LocalAddr{});
  tx.queue(d, broadcast, LocalAddr{});
  EXPECT_EQ(tx.flush(), 2u);
  e = tx.take_send_error();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->error, EACCES);
}

// --- The base class's defaults, on a socket that has only recv and send ---------------

class TinyUdp final : public UdpSocket {
 public:
  std::deque<std::pair<Buf, SockAddr>> inbox;
  std::vector<std::pair<Buf, SockAddr>> sent;
  bool refuse = false;

  std::optional<Received> recv(MutableBytes buf) override {
    if (inbox.empty()) return std::nullopt;
    auto [d, from] = inbox.front();
    inbox.pop_front();
    std::memcpy(buf.data(), d.data(), std::min(d.size(), buf.size()));
    return Received{d.size(), from};  // the full length, as recvfrom reports a truncated one
  }
  int fd() const override { return -1; }
  uint16_t port() const override { return 0; }

 protected:
  bool send_one(Bytes datagram, const SockAddr& to, const LocalAddr&, uint8_t /*tos*/) override {
    if (refuse) return false;
    sent.emplace_back(Buf(datagram.begin(), datagram.end()), to);
    return true;
  }
};

TEST(UdpBatchDefaults, RecvBatchFillsBuffersInOrderUntilNothingWaits) {
  TinyUdp u;
  const SockAddr from = *SockAddr::parse("203.0.113.9:51820");
  for (uint32_t i = 0; i < 5; ++i) u.inbox.emplace_back(datagram(i, 'd', 50 + i), from);
  std::vector<Buf> mem(3, Buf(100));
  std::vector<MutableBytes> buffers(mem.begin(), mem.end());
  std::vector<Datagram> out;
  out.push_back({MutableBytes(), from});  // recv_batch appends
  EXPECT_EQ(u.recv_batch(buffers, out), 3u);
  ASSERT_EQ(out.size(), 4u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(out[i + 1].data.data(), mem[i].data());
    EXPECT_EQ(Buf(out[i + 1].data.begin(), out[i + 1].data.end()), datagram(static_cast<uint32_t>(i), 'd', 50 + i));
    EXPECT_EQ(out[i + 1].from, from);
  }
  out.clear();
  EXPECT_EQ(u.recv_batch(buffers, out), 2u) << "fewer than the buffers: nothing more waits";
  EXPECT_EQ(out.size(), 2u);
  out.clear();
  EXPECT_EQ(u.recv_batch(buffers, out), 0u);
  EXPECT_TRUE(out.empty());
}

TEST(UdpBatchDefaults, RecvBatchCutsAnOversizedDatagramToItsBuffer) {
  TinyUdp u;
  u.inbox.emplace_back(datagram(1, 'o', 300), SockAddr{});
  Buf mem(100);
  const std::vector<MutableBytes> buffers{MutableBytes(mem)};
  std::vector<Datagram> out;
  EXPECT_EQ(u.recv_batch(buffers, out), 1u);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].data.size(), 100u);
}

// The contract the device relies on when it seals queued packets just
// before the flush: nothing leaves at queue(), and the bytes are read then.
TEST(UdpBatchDefaults, QueueSendsAtFlushInOrderAndCountsFailures) {
  TinyUdp u;
  const SockAddr to = *SockAddr::parse("198.51.100.7:1");
  Buf a = datagram(1, 'q', 10);
  const Buf b = datagram(2, 'q', 20);
  u.queue(a, to, LocalAddr{});
  u.queue(b, to, LocalAddr{});
  EXPECT_TRUE(u.sent.empty());
  a[0] = 'z';  // written after queue(): what leaves is this
  EXPECT_EQ(u.flush(), 0u);
  ASSERT_EQ(u.sent.size(), 2u);
  EXPECT_EQ(u.sent[0].first, a);
  EXPECT_EQ(u.sent[1].first, b);
  EXPECT_EQ(u.sent[1].second, to);
  EXPECT_EQ(u.flush(), 0u);
  EXPECT_EQ(u.sent.size(), 2u);
  u.refuse = true;
  u.queue(a, to, LocalAddr{});
  u.queue(b, to, LocalAddr{});
  u.queue(a, to, LocalAddr{});
  EXPECT_EQ(u.flush(), 3u);
  EXPECT_EQ(u.flush(), 0u);
}

// IPv4 datagrams leave without DF (issue 16.2): routers on a smaller path
// fragment them instead of dropping them (netns.underlay_mtu shows it). The
// dual-stack socket carries IPv4 on its IPv4 side, where the option lives.
TEST(UdpBatchSend, Ipv4DatagramsMayBeFragmentedOnTheWay) {
  BIND_OR_SKIP(tx, options(true, true, true));
  int mode = -1;
  socklen_t len = sizeof mode;
  ASSERT_EQ(::getsockopt(tx.fd(), IPPROTO_IP, IP_MTU_DISCOVER, &mode, &len), 0) << std::strerror(errno);
  EXPECT_EQ(mode, IP_PMTUDISC_DONT);
}

}  // namespace
}  // namespace sitelink::tunnel
