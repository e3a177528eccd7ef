// ControlSocket (daemon/control_socket.h) over real unix sockets in a temp
// directory, served by a real EventLoop on a thread, with a fake backend:
// get/set round trips (also pipelined and byte by byte), errno answers, mode
// 0600 under any umask, stale-socket replacement, a second listener refused,
// oversized, stalled and idle clients cut off, a client that does not read
// blocking nobody, the connection cap, removal of the socket file noticed;
// `sitelink show` against it; and interop with the stock `wg` tool on
// /run/wireguard (skipped unless root and /usr/bin/wg exist).
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <atomic>
#include <mutex>
#include <sstream>
#include <thread>

#include "cli_test_util.h"
#include "control_socket_util.h"
#include "daemon/control_socket.h"
#include "daemon/show.h"

namespace sitelink::daemon {
namespace {

using namespace std::chrono_literals;
using test::TempDir;

using namespace test_socket;

class ControlSocketTest : public testing::Test {
 protected:
  void SetUp() override { backend_.put(state_); }
  const UapiState& one_peer_state() const { return state_; }
  std::string path() const { return dir_.file("slt0.sock"); }

  TempDir dir_;
  FakeBackend backend_;
  UapiState state_ = make_state();
};

TEST_F(ControlSocketTest, GetAnswersTheBackendsState) {
  Served s(backend_);
  ASSERT_TRUE(s.listen_at(path()));
  s.start();
  const auto answer = uapi_request(path(), "get=1\n\n");
  ASSERT_TRUE(answer) << answer.error().message();
  EXPECT_EQ(*answer, format_get(one_peer_state()) + "errno=0\n\n");
}

TEST_F(ControlSocketTest, SetReachesTheBackend) {
  Served s(backend_);
  ASSERT_TRUE(s.listen_at(path()));
  s.start();
  const std::string body = "listen_port=1234\npublic_key=" + key_to_hex(pub(kPubC).bytes()) +
                           "\nallowed_ip=198.18.3.0/24\n";
  const auto answer = uapi_request(path(), "set=1\n" + body + "\n");
  ASSERT_TRUE(answer) << answer.error().message();
  EXPECT_EQ(*answer, "errno=0\n\n");
  s.stop();
  ASSERT_EQ(backend_.sets().size(), 1u);
  EXPECT_EQ(format_set(backend_.sets()[0]), body);
}

TEST_F(ControlSocketTest, ErrorsAreNegativeErrnos) {
  Served s(backend_);
  ASSERT_TRUE(s.listen_at(path()));
  s.start();
  EXPECT_EQ(*uapi_request(path(), "set=1\nbogus=1\n\n"), "errno=-22\n\n");
  EXPECT_EQ(*uapi_request(path(), "set=1\nlisten_port\n\n"), "errno=-71\n\n");  // EPROTO
  backend_.fail_sets_with(EADDRINUSE);
  EXPECT_EQ(*uapi_request(path(), "set=1\nlisten_port=1\n\n"), "errno=-98\n\n");
  s.stop();
  EXPECT_EQ(backend_.sets().size(), 1u);  // refused requests never reach the backend
}

TEST_F(ControlSocketTest, SeveralRequestsOnOneConnectionInOrder) {
  Served s(backend_);
  ASSERT_TRUE(s.listen_at(path()));
  s.start();
  const auto fd = connect_unix(path());
  ASSERT_TRUE(fd.valid());
  send_all(fd.get(), "get=1\n\nset=1\nfwmark=7\n\nset=1\nfwmark=x\n\nget=1\nXget=1\n\n");
  const std::string get = format_get(one_peer_state()) + "errno=0\n\n";
  EXPECT_EQ(read_answers(fd.get(), 5), get + "errno=0\n\nerrno=-22\n\nerrno=-22\n\n" + get);
}

TEST_F(ControlSocketTest, RequestsArrivingByteByByte) {
  Served s(backend_);
  ASSERT_TRUE(s.listen_at(path()));
  s.start();
  const auto fd = connect_unix(path());
  for (const char c : std::string("set=1\nlisten_port=9\n\n")) {
    send_all(fd.get(), std::string_view(&c, 1));
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_EQ(read_answers(fd.get(), 1), "errno=0\n\n");
  s.stop();
  ASSERT_EQ(backend_.sets().size(), 1u);
  EXPECT_EQ(backend_.sets()[0].listen_port, 9);
}

TEST_F(ControlSocketTest, UnknownOperationIsClosedWithoutAnAnswer) {
  Served s(backend_);
  ASSERT_TRUE(s.listen_at(path()));
  s.start();
  const auto fd = connect_unix(path());
  send_all(fd.get(), "hello=1\n\n");
  bool eof = false;
  EXPECT_EQ(read_answers(fd.get(), 1, &eof), "");
  EXPECT_TRUE(eof);
}

TEST_F(ControlSocketTest, SetWithoutBlankLineIsAppliedAtEndOfInput) {
  Served s(backend_);
  ASSERT_TRUE(s.listen_at(path()));
  s.start();
  const auto fd = connect_unix(path());
  send_all(fd.get(), "set=1\nfwmark=5\n");
  ::shutdown(fd.get(), SHUT_WR);
  bool eof = false;
  EXPECT_EQ(read_answers(fd.get(), 1, &eof), "errno=0\n\n");
  s.stop();
  ASSERT_EQ(backend_.sets().size(), 1u);
  EXPECT_EQ(backend_.sets()[0].fwmark, 5u);
}

TEST_F(ControlSocketTest, SocketIsMode0600WhateverTheUmask) {
  Served s(backend_);
  const mode_t old = ::umask(0);
  const auto r = s.listen_at(path());
  ::umask(old);
  ASSERT_TRUE(r) << r.error().message();
  struct stat st {};
  ASSERT_EQ(::lstat(path().c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_TRUE(s.socket().file_still_there());
  EXPECT_EQ(s.socket().path(), path());
}

TEST_F(ControlSocketTest, DestructorRemovesTheFile) {
  {
    Served s(backend_);
    ASSERT_TRUE(s.listen_at(path()));
  }
  EXPECT_NE(::access(path().c_str(), F_OK), 0);
}

TEST_F(ControlSocketTest, StaleSocketFromACrashedRunIsReplaced) {
  {  // bound, then closed without unlinking: what a crash leaves behind
    tunnel::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM, 0));
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    path().copy(a.sun_path, sizeof a.sun_path - 1);
    ASSERT_EQ(::bind(fd.get(), reinterpret_cast<const sockaddr*>(&a), sizeof a), 0);
  }
  Served s(backend_);
  const auto r = s.listen_at(path());
  ASSERT_TRUE(r) << r.error().message();
  s.start();
  EXPECT_TRUE(uapi_request(path(), "get=1\n\n"));
}

TEST_F(ControlSocketTest, ASecondListenerIsRefused) {
  Served first(backend_);
  ASSERT_TRUE(first.listen_at(path()));
  first.start();
  Served second(backend_);
  const auto r = second.listen_at(path());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().what, "interface slt0 is already served by another process (" + path() + ")");
  EXPECT_TRUE(first.socket().file_still_there());
  EXPECT_TRUE(uapi_request(path(), "get=1\n\n"));
}

TEST_F(ControlSocketTest, AFileThatIsNoSocketIsLeftAlone) {
  dir_.write("slt0.sock", "precious");
  Served s(backend_);
  const auto r = s.listen_at(path());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().what.find("exists and is not a socket"), std::string::npos) << r.error().message();
  EXPECT_EQ(test::read_file(path()), "precious");
}

// A set request far larger than any socket buffer (and than the 1 MiB the
// socket once refused) is read as it comes and reaches the backend whole.
TEST_F(ControlSocketTest, AHugeSetIsTakenWhole) {
  Served s(backend_);
  ASSERT_TRUE(s.listen_at(path()));
  s.start();
  std::string body = "public_key=" + key_to_hex(pub(kPubC).bytes()) + "\n";
  constexpr size_t kPrefixes = 65536;  // about 1.8 MB
  for (size_t i = 0; i < kPrefixes; ++i) {
    body += "allowed_ip=10." + std::to_string(i >> 8) + "." + std::to_string(i & 255) + ".0/24\n";
  }
  const auto answer = uapi_request(path(), "set=1\n" + body + "\n", 20000ms);
  ASSERT_TRUE(answer) << answer.error().message();
  EXPECT_EQ(*answer, "errno=0\n\n");
  s.stop();
  ASSERT_EQ(backend_.sets().size(), 1u);
  ASSERT_EQ(backend_.sets()[0].peers.size(), 1u);
  EXPECT_EQ(backend_.sets()[0].peers[0].allowed_ips.size(), kPrefixes);
  EXPECT_EQ(format_set(backend_.sets()[0]), body);
}

// Beyond a limit the client still gets to write its whole request (it
// reads only then: wg would die of SIGPIPE otherwise) and is answered with
// the errno; nothing reaches the backend, the connection stays usable.
TEST_F(ControlSocketTest, ARequestBeyondALimitIsReadToItsEndAndRefused) {
  Served s(backend_);
  ASSERT_TRUE(s.listen_at(path()));
  s.start();
  const auto fd = connect_unix(path());
  std::string big = "set=1\npublic_key=" + key_to_hex(pub(kPubC).bytes()) +
                    "\nendpoint=" + std::string(2 * kUapiMaxLine, '1') + "\n";
  while (big.size() < (4u << 20)) big += "allowed_ip=198.18.0.0/15\n";  // far more than the socket buffers
  big += "\nget=1\n\n";
  send_all(fd.get(), big);  // fails (EPIPE) if the server stops reading
  const std::string get = format_get(one_peer_state()) + "errno=0\n\n";
  EXPECT_EQ(read_answers(fd.get(), 2), "errno=-90\n\n" + get);  // EMSGSIZE, then the get
  s.stop();
  EXPECT_TRUE(backend_.sets().empty());
}

// A client in the middle of a huge set that it writes slowly holds up
// nobody: another client's get is answered meanwhile (and, being applied
// only at its end, the set is not in that answer).
TEST_F(ControlSocketTest, ASlowHugeSetBlocksNoOtherClient) {
  Served s(backend_);
  ASSERT_TRUE(s.listen_at(path()));
  s.start();
  const auto slow = connect_unix(path());
  send_all(slow.get(), "set=1\npublic_key=" + key_to_hex(pub(kPubC).bytes()) + "\n");
  for (int i = 0; i < 20000; ++i) send_all(slow.get(), "allowed_ip=198.18.0.0/15\n");
  const auto answer = uapi_request(path(), "get=1\n\n", 5000ms);
  ASSERT_TRUE(answer) << answer.error().message();
  EXPECT_EQ(*answer, format_get(one_peer_state()) + "errno=0\n\n");
  EXPECT_TRUE(backend_.sets().empty());
  send_all(slow.get(), "allowed_ip=198.18.0.0/15\n\n");
  EXPECT_EQ(read_answers(slow.get(), 1), "errno=0\n\n");
  s.stop();
  ASSERT_EQ(backend_.sets().size(), 1u);
  EXPECT_EQ(backend_.sets()[0].peers[0].allowed_ips.size(), 20001u);
}

// The answer is made as the client reads it, one peer at a time: a peer
// removed before its turn is left out, and the answer stays well formed.
TEST_F(ControlSocketTest, AGetAnswerIsMadePeerByPeerAsItIsRead) {
  UapiState big = make_state();
  for (uint32_t i = 0; i < 40000; ++i) {  // about 1.3 MB of allowed_ip lines
    big.peers[0].allowed_ips.push_back(
        *config::IpPrefix::parse("10." + std::to_string(i >> 8) + "." + std::to_string(i & 255) + ".0/24"));
  }
  UapiPeerState second = make_state().peers[0];
  second.public_key = pub(kPubC);
  big.peers.push_back(second);
  backend_.put(big);
  Served s(backend_);
  ASSERT_TRUE(s.listen_at(path()));
  s.start();
  const auto fd = connect_unix(path());
  send_all(fd.get(), "get=1\n\n");
  ASSERT_TRUE(wait_for(fd.get(), POLLIN, 5000ms));
  // Only the first peer has been asked for: the socket buffers cannot hold
  // its allowed IPs, so the server waits for the client before the second.
  EXPECT_EQ(backend_.peer_gets(), 1);
  UapiState without_second = big;
  without_second.peers.pop_back();
  backend_.put(without_second);
  bool eof = false;
  const std::string got = read_answers(fd.get(), 1, &eof);
  EXPECT_EQ(got, format_get(without_second) + "errno=0\n\n");
  EXPECT_EQ(backend_.peer_gets(), 2);
}

TEST_F(ControlSocketTest, StalledAndIdleClientsAreCutOff) {
  Served s(backend_);
  ControlSocket::Limits limits;
  limits.stall_timeout = 200ms;
  limits.idle_timeout = 400ms;
  ASSERT_TRUE(s.listen_at(path(), limits));
  s.start();
  const auto stalled = connect_unix(path());
  send_all(stalled.get(), "set=1\nlisten_po");
  const auto idle = connect_unix(path());
  EXPECT_TRUE(closed_within(stalled.get(), 3000ms));
  EXPECT_TRUE(closed_within(idle.get(), 3000ms));
  s.stop();
  EXPECT_EQ(s.socket().connection_count(), 0u);
  EXPECT_TRUE(backend_.sets().empty());
}

// Answers far larger than a socket buffer, to a client that never reads.
UapiState big_state(const UapiState& one) {
  UapiState big = one;
  for (int i = 0; i < 6000; ++i) {  // about 2.5 MB per get answer: far more than a socket buffer
    UapiPeerState p = big.peers[0];
    std::array<uint8_t, 32> k{};
    k[0] = static_cast<uint8_t>(i);
    k[1] = static_cast<uint8_t>(i >> 8);
    p.public_key = handshake::PublicKey(k);
    big.peers.push_back(p);
  }
  return big;
}

// The server never waits on a client: with the stall limit an hour away, a
// client that does not read its answers would hold every other client
// until the test's deadline if the server blocked on it. No clock is read:
// the other client's whole answer must simply arrive within the bound.
TEST_F(ControlSocketTest, AClientThatDoesNotReadBlocksNobody) {
  const UapiState big = big_state(one_peer_state());
  backend_.put(big);
  Served s(backend_);
  ControlSocket::Limits limits;
  limits.stall_timeout = std::chrono::hours(1);
  ASSERT_TRUE(s.listen_at(path(), limits));
  s.start();
  const auto sluggish = connect_unix(path());
  send_all(sluggish.get(), "get=1\n\nget=1\n\nget=1\n\n");
  ASSERT_TRUE(wait_for(sluggish.get(), POLLIN, 5000ms)) << "the server never started answering";
  const auto answer = uapi_request(path(), "get=1\n\n", 5000ms);
  ASSERT_TRUE(answer) << answer.error().message();
  EXPECT_EQ(answer->size(), format_get(big).size() + 9);
  EXPECT_FALSE(wait_for(sluggish.get(), POLLRDHUP, 0ms)) << "the sluggish client is still connected";
}

// A client that stalls (reads nothing for stall_timeout) is cut off: the
// server closes it (seen, without reading, as the peer hanging up), and
// what it finds is part of the first answer, then the end.
TEST_F(ControlSocketTest, AClientThatStallsIsCutOff) {
  const UapiState big = big_state(one_peer_state());
  backend_.put(big);
  Served s(backend_);
  ControlSocket::Limits limits;
  limits.stall_timeout = 300ms;
  ASSERT_TRUE(s.listen_at(path(), limits));
  s.start();
  const auto sluggish = connect_unix(path());
  send_all(sluggish.get(), "get=1\n\nget=1\n\nget=1\n\n");
  ASSERT_TRUE(wait_for(sluggish.get(), POLLRDHUP, 5000ms)) << "the stalled client was not cut off";
  bool eof = false;
  const std::string got = read_answers(sluggish.get(), 3, &eof);
  EXPECT_TRUE(eof);
  EXPECT_LT(got.size(), format_get(big).size());
}

// A socket that serves at most two connections.
class ControlSocketCap : public ControlSocketTest {
 protected:
  void SetUp() override {
    ControlSocketTest::SetUp();
    ControlSocket::Limits limits;
    limits.max_connections = 2;
    ASSERT_TRUE(served_.listen_at(path(), limits));
    served_.start();
  }
  // A get=1 on `fd` is answered in full.
  void expect_get_answered(int fd) {
    send_all(fd, "get=1\n\n");
    EXPECT_EQ(read_answers(fd, 1), format_get(one_peer_state()) + "errno=0\n\n");
  }
  Served served_{backend_};
};

// Full, a new client takes the place of the one idle the longest: clients
// that connect and wait cannot lock `wg` out (issue 14.5).
TEST_F(ControlSocketCap, TheLongestIdleConnectionMakesRoom) {
  const auto a = connect_unix(path());
  const auto b = connect_unix(path());
  expect_get_answered(b.get());  // both are in, b idle since before a
  expect_get_answered(a.get());
  const auto c = connect_unix(path());
  expect_get_answered(c.get());
  EXPECT_TRUE(closed_within(b.get(), 2000ms)) << "b, idle the longest, was not closed";
  expect_get_answered(a.get());
}

TEST_F(ControlSocketCap, WithEveryConnectionBusyTheNewOneIsClosed) {
  const auto a = connect_unix(path());
  const auto b = connect_unix(path());
  // Each is in (answered), then holds half a request: busy, not idle. The
  // halves become readable before c connects, and the socket's epoll set
  // reports readiness in that order, so they are read before c is accepted.
  for (const auto* x : {&a, &b}) {
    expect_get_answered(x->get());
    send_all(x->get(), "get=1\n");
  }
  const auto c = connect_unix(path());
  EXPECT_TRUE(closed_within(c.get(), 2000ms));
  send_all(a.get(), "\n");
  EXPECT_EQ(read_answers(a.get(), 1), format_get(one_peer_state()) + "errno=0\n\n");
}

TEST_F(ControlSocketTest, ClientsThatOnlyConnectAreHarmless) {
  Served s(backend_);
  ASSERT_TRUE(s.listen_at(path()));
  s.start();
  for (int i = 0; i < 200; ++i) connect_unix(path());  // as `wg` probes: connect, close
  const auto answer = uapi_request(path(), "get=1\n\n");
  EXPECT_TRUE(answer) << answer.error().message();
  std::this_thread::sleep_for(100ms);
  s.stop();
  EXPECT_EQ(s.socket().connection_count(), 0u);
}

TEST_F(ControlSocketTest, RemovingTheFileIsNoticedAndAReplacementKept) {
  Served s(backend_);
  ASSERT_TRUE(s.listen_at(path()));
  std::atomic<int> removed{0};
  s.socket().set_on_removed([&] { ++removed; });
  s.start();
  ASSERT_EQ(::unlink(path().c_str()), 0);
  for (int i = 0; i < 200 && removed == 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(removed, 1);
  s.stop();
  EXPECT_FALSE(s.socket().file_still_there());
  dir_.write("slt0.sock", "someone else's");
  s.close_socket();
  EXPECT_EQ(test::read_file(path()), "someone else's");
}

TEST_F(ControlSocketTest, BadPathsAndNamesAreErrors) {
  Served s(backend_);
  EXPECT_EQ(s.listen_at(dir_.path() + "/" + std::string(120, 'x')).error().error, ENAMETOOLONG);
  EXPECT_EQ(s.listen_at(dir_.file("missing/slt0.sock")).error().error, ENOENT);
  EXPECT_EQ(s.listen("../etc").error().error, EINVAL);
}

// ---- `sitelink show` against a served socket -----------------------------------

struct ShowRun {
  int code;
  std::string out;
  std::string err;
};

ShowRun show(const ShowOptions& o) {
  std::istringstream in;
  std::ostringstream out;
  std::ostringstream err;
  Io io{in, out, err};
  const int code = show_command(o, io);
  return {code, out.str(), err.str()};
}

TEST_F(ControlSocketTest, ShowPrintsTheServedState) {
  Served s(backend_);
  ASSERT_TRUE(s.listen_at(path()));
  s.start();
  const auto text = show({"slt0", false, dir_.path(), dir_.file("status")});
  EXPECT_EQ(text.code, 0) << text.err;
  EXPECT_EQ(text.out.rfind("interface: slt0\n  public key: " + std::string(kPubA) + "\n", 0), 0u) << text.out;
  EXPECT_NE(text.out.find("\npeer: " + std::string(kPubB) + "\n  state: up\n"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("  transfer: 2.00 KiB received, 1.00 KiB sent\n"), std::string::npos) << text.out;
  const auto json = show({std::nullopt, true, dir_.path(), dir_.file("status")});
  EXPECT_EQ(json.code, 0) << json.err;
  EXPECT_EQ(json.out.rfind("{\"interfaces\":[{\"name\":\"slt0\",\"public_key\":\"" + std::string(kPubA), 0), 0u)
      << json.out;
}

TEST_F(ControlSocketTest, ShowExplainsWhatItCannotReach) {
  const auto none = show({std::nullopt, false, dir_.path(), dir_.file("status")});
  EXPECT_EQ(none.code, 1);
  EXPECT_EQ(none.err, "sitelink show: cannot reach any sitelinkd: no control sockets in " + dir_.path() + "/\n");
  const auto one = show({"slt9", false, dir_.path(), dir_.file("status")});
  EXPECT_EQ(one.code, 1);
  EXPECT_EQ(one.err, "sitelink show: cannot reach the daemon at " + dir_.file("slt9.sock") +
                         ": No such file or directory (is sitelinkd running for slt9?)\n");
  // A served interface is shown even when another one is dead.
  Served s(backend_);
  ASSERT_TRUE(s.listen_at(path()));
  s.start();
  dir_.write("dead.sock", "");
  const auto mixed = show({std::nullopt, false, dir_.path(), dir_.file("status")});
  EXPECT_EQ(mixed.code, 1);
  EXPECT_NE(mixed.err.find("cannot reach the daemon at " + dir_.file("dead.sock")), std::string::npos) << mixed.err;
  EXPECT_NE(mixed.out.find("interface: slt0\n"), std::string::npos);
}

// ---- the stock `wg` tool against a ControlSocket ----------------------------------

constexpr const char* kWg = "/usr/bin/wg";

class ControlSocketWgInterop : public ControlSocketTest {
 protected:
  void SetUp() override {
    if (::geteuid() != 0 || ::access(kWg, X_OK) != 0) GTEST_SKIP() << "needs root and " << kWg;
    ControlSocketTest::SetUp();
    static std::atomic<int> counter{0};
    iface_ = "slt" + std::to_string(::getpid() % 100000) + "x" + std::to_string(counter++);
  }
  std::string iface_;
};

TEST_F(ControlSocketWgInterop, WgShowDump) {
  Served s(backend_);
  const auto r = s.listen(iface_);
  ASSERT_TRUE(r) << r.error().message();
  s.start();
  const auto dump = test::run({kWg, "show", iface_, "dump"});
  ASSERT_EQ(dump.exit_code, 0) << dump.err;
  std::istringstream lines(dump.out);
  std::string iface_line;
  std::string peer_line;
  std::getline(lines, iface_line);
  std::getline(lines, peer_line);
  EXPECT_EQ(iface_line, std::string(kPrivA) + "\t" + kPubA + "\t51820\toff");
  const auto& p = one_peer_state().peers[0];
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(p.last_handshake->since_epoch).count();
  EXPECT_EQ(peer_line, std::string(kPubB) + "\t(none)\t203.0.113.2:51820\t198.18.1.0/24\t" + std::to_string(secs) +
                           "\t2048\t1024\t25");
  EXPECT_FALSE(lines.good() && lines.peek() != EOF);
}

TEST_F(ControlSocketWgInterop, WgSetSendsTheRightRequest) {
  Served s(backend_);
  ASSERT_TRUE(s.listen(iface_));
  s.start();
  const auto set = test::run({kWg, "set", iface_, "peer", kPubC, "allowed-ips", "198.18.9.0/24", "persistent-keepalive",
                              "25", "endpoint", "[2001:db8::9]:51821"});
  ASSERT_EQ(set.exit_code, 0) << set.err;
  backend_.fail_sets_with(EADDRINUSE);
  const auto refused = test::run({kWg, "set", iface_, "listen-port", "51999"});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("Address already in use"), std::string::npos) << refused.err;
  s.stop();
  const auto sets = backend_.sets();
  ASSERT_EQ(sets.size(), 2u);
  ASSERT_EQ(sets[0].peers.size(), 1u);
  const UapiPeerSet& p = sets[0].peers[0];
  EXPECT_EQ(p.public_key, pub(kPubC));
  EXPECT_EQ(p.allowed_ips, std::vector{*config::IpPrefix::parse("198.18.9.0/24")});
  EXPECT_EQ(p.persistent_keepalive, 25);
  EXPECT_EQ(p.endpoint, tunnel::SockAddr::parse("[2001:db8::9]:51821"));
  EXPECT_FALSE(p.remove || p.update_only || p.preshared_key) << format_set(sets[0]);
  EXPECT_TRUE(p.replace_allowed_ips) << "wg set's allowed-ips replace the list";
  EXPECT_FALSE(sets[0].private_key || sets[0].listen_port || sets[0].replace_peers);
  EXPECT_EQ(sets[1].listen_port, 51999);
}

TEST_F(ControlSocketWgInterop, WgSyncconfRemovesAndAddsPeers) {
  Served s(backend_);
  ASSERT_TRUE(s.listen(iface_));
  s.start();
  const std::string conf = dir_.write("wg.conf", std::string("[Interface]\nPrivateKey = ") + kPrivA +
                                                     "\nListenPort = 51820\n\n[Peer]\nPublicKey = " + kPubC +
                                                     "\nAllowedIPs = 198.18.3.0/24\nEndpoint = 203.0.113.3:51820\n");
  const auto sync = test::run({kWg, "syncconf", iface_, conf});
  ASSERT_EQ(sync.exit_code, 0) << sync.err;
  s.stop();
  const auto sets = backend_.sets();
  ASSERT_EQ(sets.size(), 1u);
  bool removed_b = false;
  bool added_c = false;
  for (const UapiPeerSet& p : sets[0].peers) {
    removed_b = removed_b || (p.public_key == pub(kPubB) && p.remove);
    added_c = added_c || (p.public_key == pub(kPubC) && !p.remove && p.replace_allowed_ips &&
                          p.allowed_ips == std::vector{*config::IpPrefix::parse("198.18.3.0/24")} &&
                          p.endpoint == tunnel::SockAddr::parse("203.0.113.3:51820"));
  }
  EXPECT_TRUE(removed_b) << format_set(sets[0]);
  EXPECT_TRUE(added_c) << format_set(sets[0]);
  EXPECT_FALSE(sets[0].replace_peers);
}

TEST_F(ControlSocketWgInterop, WgShowconfAndSitelinkShow) {
  Served s(backend_);
  ASSERT_TRUE(s.listen(iface_));
  s.start();
  const auto conf = test::run({kWg, "showconf", iface_});
  ASSERT_EQ(conf.exit_code, 0) << conf.err;
  EXPECT_NE(conf.out.find("PrivateKey = " + std::string(kPrivA)), std::string::npos) << conf.out;
  EXPECT_NE(conf.out.find("AllowedIPs = 198.18.1.0/24"), std::string::npos) << conf.out;
  const auto shown = test::run(test::sitelink({"show", iface_}));
  EXPECT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_NE(shown.out.find("interface: " + iface_ + "\n"), std::string::npos) << shown.out;
  s.stop();
  s.close_socket();
  EXPECT_NE(::access(socket_path(iface_).c_str(), F_OK), 0);
}

}  // namespace
}  // namespace sitelink::daemon
