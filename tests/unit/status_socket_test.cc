// The read-only status socket (daemon/control_socket.h, listen_status): it
// is asked everything a client can think of (every get and set form of the
// UAPI, garbage, binary, huge lines, requests cut short) and no byte of any
// answer holds a configured key (private or preshared, base64 or hex in
// either case), nothing reaches the backend's set, the get answer carries
// the public state, and the file is 0660 in the given group whatever the
// umask. `sitelink show` reads it when it is all there is (no root needed).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <sstream>

#include "cli_test_util.h"
#include "control_socket_util.h"
#include "daemon/show.h"

namespace sitelink::daemon {
namespace {

using namespace test_socket;
using test::TempDir;

constexpr const char* kPsk = "FpCyhws9cxwWoV4xELtfJvjJN+zQVRPISllRWgeopVE=";

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return s;
}

// Every way a configured secret could be written.
std::vector<std::string> secret_forms() {
  const auto priv = *handshake::PrivateKey::from_base64(kPrivA);
  const auto psk = *handshake::PresharedKey::from_base64(kPsk);
  const std::string priv_hex = key_to_hex(priv.bytes());
  const std::string psk_hex = key_to_hex(psk.bytes());
  return {kPrivA, kPsk, priv_hex, psk_hex, upper(priv_hex), upper(psk_hex)};
}

// Sends `request` on a fresh connection, then half-closes, and returns
// every byte the server sends until it closes or 2 s pass.
std::string exchange(const std::string& path, const std::string& request) {
  const auto fd = connect_unix(path);
  EXPECT_TRUE(fd.valid());
  if (!fd.valid()) return {};
  for (std::string_view rest = request; !rest.empty();) {
    const ssize_t n = ::send(fd.get(), rest.data(), rest.size(), MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may close on an oversized request
    rest.remove_prefix(static_cast<size_t>(n));
  }
  ::shutdown(fd.get(), SHUT_WR);
  bool eof = false;
  return read_answers(fd.get(), 1 << 30, &eof, 2000ms);
}

std::vector<std::string> hostile_requests() {
  const std::string psk_hex = key_to_hex(handshake::PresharedKey::from_base64(kPsk)->bytes());
  const std::string priv_hex = key_to_hex(handshake::PrivateKey::from_base64(kPrivA)->bytes());
  const std::string peer = "public_key=" + key_to_hex(pub(kPubB).bytes()) + "\n";
  std::vector<std::string> r = {
      "get=1\n\n",
      "get=sitelink\n\n",
      "get=1\n\nget=sitelink\n\nget=1\n\n",
      "get=1\n",
      "get=1\nX",
      "get=2\n\n",
      "get=private_key\n\n",
      "get=sitelink\nprivate_key=1\n\n",
      "set=1\n\n",
      "set=1\nprivate_key=" + priv_hex + "\n\n",
      "set=1\nprivate_key=" + std::string(64, '0') + "\n\n",
      "set=1\nlisten_port=1\n\n",
      "set=1\nfwmark=7\n\n",
      "set=1\nreplace_peers=true\n\n",
      "set=1\n" + peer + "remove=true\n\n",
      "set=1\n" + peer + "update_only=true\npreshared_key=" + psk_hex + "\n\n",
      "set=1\n" + peer + "preshared_key=" + std::string(64, '0') + "\n\n",
      "set=1\n" + peer + "endpoint=203.0.113.9:1\n\n",
      "set=1\n" + peer + "persistent_keepalive_interval=1\n\n",
      "set=1\n" + peer + "replace_allowed_ips=true\nallowed_ip=0.0.0.0/0\n\n",
      "set=1\n" + peer + "protocol_version=1\n\n",
      "set=1\nlisten_port=2\n",  // cut short: taken as complete at end of input
      "set=1\nbogus\n\n",
      "hello\n\n",
      "\n\n",
      std::string("\0\xff\x01get=1\n\n", 10),
      "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
      "get=1\n" + std::string(100000, 'A'),
      "set=1\n" + std::string(1 << 20, 'x') + "\n\n",
      "set=1\nprivate_key=" + std::string(200000, 'f') + "\n\n",
      std::string(1 << 20, '\n'),
  };
  return r;
}

class StatusSocketTest : public testing::Test {
 protected:
  void SetUp() override {
    state_.peers[0].preshared_key = *handshake::PresharedKey::from_base64(kPsk);
    state_.fwmark = 0x42;
    backend_.put(state_);
    // What Gateway::status() says (no secret in it by construction).
    backend_.put_status("interface_public_key=" + key_to_hex(pub(kPubA).bytes()) +
                        "\nbatch_io=1\nudp_gso=0\nudp_gro=1\ntun_offload=0\ndrop=no-route:3\npublic_key=" +
                        key_to_hex(pub(kPubB).bytes()) + "\nname=office-b\nrx_packets=5\ntx_packets=6\n");
  }
  std::string path() const { return dir_.file("slt0.sock"); }

  TempDir dir_;
  FakeBackend backend_;
  UapiState state_ = make_state();
};

TEST_F(StatusSocketTest, NoRequestEverYieldsAKeyOrAChange) {
  Served s(backend_);
  ASSERT_TRUE(s.listen_status_at(path()));
  s.start();
  const auto secrets = secret_forms();
  size_t answered = 0;
  for (const auto& request : hostile_requests()) {
    const std::string got = exchange(path(), request);
    answered += got.empty() ? 0 : 1;
    for (const auto& secret : secrets) {
      EXPECT_EQ(got.find(secret), std::string::npos)
          << "a key in the answer to " << testing::PrintToString(request.substr(0, 80));
    }
    EXPECT_EQ(got.find("private_key="), std::string::npos);
    EXPECT_EQ(got.find("preshared_key="), std::string::npos);
  }
  EXPECT_GE(answered, 20u);  // the test asked for real: most requests got an answer
  s.stop();
  EXPECT_TRUE(backend_.sets().empty()) << "a request reached set()";
  // The positive control: the control socket's own answer does hold them.
  Served control(backend_);
  ASSERT_TRUE(control.listen_at(dir_.file("ctl.sock")));
  control.start();
  const std::string full = exchange(dir_.file("ctl.sock"), "get=1\n\n");
  EXPECT_NE(full.find(secrets[2]), std::string::npos);
  EXPECT_NE(full.find(secrets[3]), std::string::npos);
}

TEST_F(StatusSocketTest, AnswersGetsAndRefusesSets) {
  Served s(backend_);
  ASSERT_TRUE(s.listen_status_at(path()));
  s.start();
  const std::string get = exchange(path(), "get=1\n\n");
  EXPECT_EQ(get, format_public_get(state_) + "errno=0\n\n");
  const auto parsed = parse_get(get);
  ASSERT_TRUE(parsed) << parsed.error() << "\n" << get;
  EXPECT_FALSE(parsed->private_key);
  ASSERT_EQ(parsed->peers.size(), 1u);
  EXPECT_EQ(parsed->peers[0].public_key, pub(kPubB));
  EXPECT_TRUE(parsed->peers[0].preshared_key.is_zero());
  EXPECT_EQ(parsed->peers[0].rx_bytes, 2048u);
  EXPECT_EQ(parsed->fwmark, 0x42u);
  const std::string status = exchange(path(), "get=sitelink\n\n");
  const auto st = parse_status(status);
  ASSERT_TRUE(st.public_key);
  EXPECT_EQ(*st.public_key, pub(kPubA));
  ASSERT_EQ(st.drops.size(), 1u);
  EXPECT_EQ(exchange(path(), "set=1\nfwmark=7\n\n"), "errno=-1\n\n");                         // EPERM
  EXPECT_EQ(exchange(path(), "set=1\n" + std::string(8192, 'x') + "\n\n"), "errno=-90\n\n");  // EMSGSIZE
  s.stop();
  EXPECT_TRUE(backend_.sets().empty());
}

TEST_F(StatusSocketTest, Mode0660InTheGivenGroupWhateverTheUmask) {
  for (const mode_t mask : {mode_t{0}, mode_t{077}}) {
    Served s(backend_);
    const gid_t group = ::geteuid() == 0 ? 65534 : ::getegid();  // nogroup when we may chown to it
    const mode_t old = ::umask(mask);
    const auto r = s.listen_status_at(path(), group);
    ::umask(old);
    ASSERT_TRUE(r) << r.error().message();
    struct stat st {};
    ASSERT_EQ(::lstat(path().c_str(), &st), 0);
    EXPECT_TRUE(S_ISSOCK(st.st_mode));
    EXPECT_EQ(st.st_mode & 07777, 0660u) << "umask " << mask;
    EXPECT_EQ(st.st_gid, group);
    EXPECT_TRUE(s.socket().read_only());
  }
}

TEST_F(StatusSocketTest, ShowReadsTheStatusSocketWhenItIsAllThereIs) {
  Served s(backend_);
  ASSERT_TRUE(s.listen_status_at(path()));
  s.start();
  std::istringstream in;
  std::ostringstream out;
  std::ostringstream err;
  Io io{in, out, err};
  ShowOptions o;
  o.socket_dir = dir_.file("no-control-sockets");
  o.status_dir = dir_.path();
  EXPECT_EQ(show_command(o, io), 0) << err.str();
  EXPECT_EQ(out.str().rfind("interface: slt0\n  public key: " + std::string(kPubA) + "\n", 0), 0u) << out.str();
  EXPECT_EQ(out.str().find("private key"), std::string::npos);
  EXPECT_NE(out.str().find("  name: office-b\n"), std::string::npos) << out.str();
}

}  // namespace
}  // namespace sitelink::daemon
