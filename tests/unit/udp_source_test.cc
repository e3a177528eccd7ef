// Sticky source addresses on the real socket, over loopback (every address
// of 127.0.0.0/8 is local): a received datagram says which local address it
// came to, a send leaves from the address asked for (single, batched and as
// a GSO train), and a source the host does not have costs nothing but the
// stickiness: the datagram leaves from the kernel's choice and the address
// is reported lost.
#include <poll.h>

#include <gtest/gtest.h>

#include <chrono>
#include <vector>

#include "tunnel/udp_socket.h"

namespace sitelink::tunnel {
namespace {

SockAddr at(const char* ip, uint16_t port) { return SockAddr(*config::IpAddress::parse(ip), port); }
LocalAddr local(const char* ip) { return LocalAddr{config::IpAddress::parse(ip), 0}; }

LinuxUdp bound(LinuxUdp::Options o = {}) {
  auto s = LinuxUdp::bind(0, 0, o);
  EXPECT_TRUE(s) << s.error().message();
  return std::move(*s);
}

// Every datagram that arrives within a short bound.
std::vector<std::pair<SockAddr, LocalAddr>> receive(LinuxUdp& s, size_t want) {
  std::vector<std::pair<SockAddr, LocalAddr>> got;
  std::vector<uint8_t> mem(4 * 65536);
  std::vector<MutableBytes> buffers;
  for (size_t i = 0; i < 4; ++i) buffers.emplace_back(mem.data() + i * 65536, 65536);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (got.size() < want && std::chrono::steady_clock::now() < deadline) {
    pollfd p{s.fd(), POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    std::vector<Datagram> out;
    s.recv_batch(buffers, out);
    for (const Datagram& d : out) got.emplace_back(d.from, d.local);
  }
  return got;
}

const std::vector<uint8_t> kPayload(200, 0x5a);

TEST(UdpSource, ReceivedDatagramsSayWhichLocalAddressTheyCameTo) {
  LinuxUdp rx = bound();
  LinuxUdp tx = bound();
  ASSERT_TRUE(tx.send(kPayload, at("127.0.0.1", rx.port())));
  ASSERT_TRUE(tx.send(kPayload, at("127.0.0.2", rx.port())));
  const auto got = receive(rx, 2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].second.ip, config::IpAddress::parse("127.0.0.1"));
  EXPECT_EQ(got[1].second.ip, config::IpAddress::parse("127.0.0.2"));
  EXPECT_TRUE(got[1].second.ip->is_v4());  // not ::ffff:127.0.0.2
  EXPECT_NE(got[1].second.ifindex, 0);
}

class UdpSourceModes : public ::testing::TestWithParam<LinuxUdp::Options> {};

TEST_P(UdpSourceModes, SendsLeaveFromTheAddressAskedFor) {
  LinuxUdp rx = bound();
  LinuxUdp tx = bound(GetParam());
  const SockAddr to = at("127.0.0.1", rx.port());
  ASSERT_TRUE(tx.send(kPayload, to, local("127.0.0.3")));
  for (int i = 0; i < 5; ++i) tx.queue(kPayload, to, local("127.0.0.4"));  // a train where GSO is on
  tx.queue(kPayload, to, local("127.0.0.5"));
  EXPECT_EQ(tx.flush(), 0u);
  const auto got = receive(rx, 7);
  ASSERT_EQ(got.size(), 7u);
  EXPECT_EQ(got[0].first.ip(), config::IpAddress::parse("127.0.0.3"));
  for (int i = 1; i <= 5; ++i) EXPECT_EQ(got[i].first.ip(), config::IpAddress::parse("127.0.0.4")) << i;
  EXPECT_EQ(got[6].first.ip(), config::IpAddress::parse("127.0.0.5"));
  EXPECT_EQ(got[0].first.port(), tx.port());
  EXPECT_TRUE(tx.take_lost_sources().empty());
}

TEST_P(UdpSourceModes, ASourceTheHostDoesNotHaveIsReportedAndTheDatagramStillLeaves) {
  LinuxUdp rx = bound();
  LinuxUdp tx = bound(GetParam());
  const SockAddr to = at("127.0.0.1", rx.port());
  const LocalAddr gone = local("198.51.100.77");
  ASSERT_TRUE(tx.send(kPayload, to, gone));
  for (int i = 0; i < 3; ++i) tx.queue(kPayload, to, gone);
  EXPECT_EQ(tx.flush(), 0u);
  const auto got = receive(rx, 4);
  ASSERT_EQ(got.size(), 4u);
  for (const auto& [from, unused] : got) EXPECT_EQ(from.ip(), config::IpAddress::parse("127.0.0.1"));
  const auto lost = tx.take_lost_sources();
  ASSERT_EQ(lost.size(), 1u);  // named once, however many sends it cost
  EXPECT_EQ(lost[0], gone);
  EXPECT_FALSE(tx.take_send_error());
}

TEST_P(UdpSourceModes, ASourceOfTheOtherFamilyIsIgnored) {
  LinuxUdp rx = bound();
  LinuxUdp tx = bound(GetParam());
  ASSERT_TRUE(tx.send(kPayload, at("127.0.0.1", rx.port()), local("::1")));
  const auto got = receive(rx, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].first.ip(), config::IpAddress::parse("127.0.0.1"));
  EXPECT_TRUE(tx.take_lost_sources().empty());
}

INSTANTIATE_TEST_SUITE_P(Switches, UdpSourceModes,
                         ::testing::Values(LinuxUdp::Options{}, LinuxUdp::Options{.batch = false, .gso = false},
                                           LinuxUdp::Options{.batch = true, .gso = false}));

}  // namespace
}  // namespace sitelink::tunnel
