// The outer TOS / traffic class on the real socket, over loopback (issue
// 16, ECN and copy-dscp): each datagram leaves with the TOS it was sent or
// queued with (single sends, sendmmsg batches, and GSO trains, which end
// where the TOS changes) and the receiver reads it back on every receive
// path (recvmsg, recvmmsg, a UDP GRO train), for IPv4 destinations on the
// dual-stack socket and for IPv6 ones.
#include <poll.h>

#include <gtest/gtest.h>

#include <chrono>
#include <vector>

#include "tunnel/udp_socket.h"

namespace sitelink::tunnel {
namespace {

SockAddr at(const char* ip, uint16_t port) { return SockAddr(*config::IpAddress::parse(ip), port); }

LinuxUdp bound(LinuxUdp::Options o = {}) {
  auto s = LinuxUdp::bind(0, 0, o);
  EXPECT_TRUE(s) << s.error().message();
  return std::move(*s);
}

struct Got {
  uint8_t tag;
  uint8_t tos;
};

// Every datagram that arrives within a short bound: its first byte and TOS.
std::vector<Got> receive(LinuxUdp& s, size_t want) {
  std::vector<Got> got;
  std::vector<uint8_t> mem(4 * 65536);
  std::vector<MutableBytes> buffers;
  for (size_t i = 0; i < 4; ++i) buffers.emplace_back(mem.data() + i * 65536, 65536);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (got.size() < want && std::chrono::steady_clock::now() < deadline) {
    pollfd p{s.fd(), POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    std::vector<Datagram> out;
    s.recv_batch(buffers, out);
    for (const Datagram& d : out) got.push_back({d.data[0], d.tos});
  }
  return got;
}

std::vector<uint8_t> payload(uint8_t tag) { return std::vector<uint8_t>(300, tag); }

struct Mode {
  LinuxUdp::Options tx, rx;
  const char* to;
};
void PrintTo(const Mode& m, std::ostream* os) {
  *os << m.to << (m.tx.gso ? " gso" : "") << (m.tx.batch ? " batch" : "") << (m.rx.gro ? " gro" : "");
}

class UdpTos : public ::testing::TestWithParam<Mode> {};

TEST_P(UdpTos, EachDatagramLeavesAndArrivesWithItsOwnTos) {
  LinuxUdp rx = bound(GetParam().rx);
  LinuxUdp tx = bound(GetParam().tx);
  const SockAddr to = at(GetParam().to, rx.port());
  // ECT(0), CE, Not-ECT, EF + ECT(0), and ECN-only changes inside what
  // would otherwise be one GSO train (same size, destination and source).
  const std::vector<uint8_t> tos{0x02, 0x02, 0x02, 0x03, 0x03, 0x00, 0x00, 0xba, 0xba, 0x02, 0x01};
  ASSERT_TRUE(tx.send(payload(100), to, {}, 0x03));
  ASSERT_TRUE(tx.send(payload(101), to, {}, 0x00));
  std::vector<std::vector<uint8_t>> queued;  // queue() keeps only a view until flush()
  for (size_t i = 0; i < tos.size(); ++i) queued.push_back(payload(static_cast<uint8_t>(i)));
  for (size_t i = 0; i < tos.size(); ++i) tx.queue(queued[i], to, {}, tos[i]);
  EXPECT_EQ(tx.flush(), 0u);
  const auto got = receive(rx, tos.size() + 2);
  ASSERT_EQ(got.size(), tos.size() + 2);
  EXPECT_EQ(got[0].tag, 100);
  EXPECT_EQ(got[0].tos, 0x03);
  EXPECT_EQ(got[1].tag, 101);
  EXPECT_EQ(got[1].tos, 0x00);
  for (size_t i = 0; i < tos.size(); ++i) {
    EXPECT_EQ(got[i + 2].tag, i);
    EXPECT_EQ(got[i + 2].tos, tos[i]) << "datagram " << i;
  }
}

// Loopback has many IPv4 addresses to name as sources, one IPv6 one.
class UdpTosSource : public ::testing::TestWithParam<Mode> {};

TEST_P(UdpTosSource, ATosTravelsWithANamedSource) {
  LinuxUdp rx = bound(GetParam().rx);
  LinuxUdp tx = bound(GetParam().tx);
  const SockAddr to = at("127.0.0.1", rx.port());
  const LocalAddr from{config::IpAddress::parse("127.0.0.3"), 0};
  ASSERT_TRUE(tx.send(payload(1), to, from, 0xb9));
  const auto train = payload(2);
  for (int i = 0; i < 3; ++i) tx.queue(train, to, from, 0x02);
  EXPECT_EQ(tx.flush(), 0u);
  const auto got = receive(rx, 4);
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[0].tos, 0xb9);
  for (int i = 1; i < 4; ++i) EXPECT_EQ(got[i].tos, 0x02);
}

constexpr LinuxUdp::Options kAll{};
constexpr LinuxUdp::Options kNoGro{.gro = false};
constexpr LinuxUdp::Options kSingles{.batch = false, .gso = false, .gro = false};
constexpr LinuxUdp::Options kBatchNoGso{.batch = true, .gso = false};

INSTANTIATE_TEST_SUITE_P(Switches, UdpTos,
                         ::testing::Values(Mode{kAll, kAll, "127.0.0.1"}, Mode{kAll, kNoGro, "127.0.0.1"},
                                           Mode{kSingles, kSingles, "127.0.0.1"}, Mode{kBatchNoGso, kAll, "127.0.0.1"},
                                           Mode{kAll, kAll, "::1"}, Mode{kAll, kNoGro, "::1"},
                                           Mode{kSingles, kSingles, "::1"}));
INSTANTIATE_TEST_SUITE_P(Switches, UdpTosSource,
                         ::testing::Values(Mode{kAll, kAll, "127.0.0.1"}, Mode{kSingles, kSingles, "127.0.0.1"},
                                           Mode{kBatchNoGso, kNoGro, "127.0.0.1"}));

}  // namespace
}  // namespace sitelink::tunnel
