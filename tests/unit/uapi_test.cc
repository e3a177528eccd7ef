// The UAPI text protocol (daemon/uapi.h) and the pure half of `sitelink
// show` (daemon/show.h): parse_set on every key and on malformed requests
// with the errno wireguard-go answers; format_set/parse_set and
// format_get/parse_get round trips; request framing; wg's time and byte
// formats; peer states; the text and JSON renderings.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstdio>

#include "config/types.h"
#include "daemon/show.h"
#include "daemon/uapi.h"

namespace sitelink::daemon {
namespace {

// Fixed keys (made with `wg genkey`/`wg pubkey`), in base64 and hex.
constexpr const char* kPrivA = "6Obb2KbPsezaGhceqapNiX1U6hwRqVTbQMFGD8/XFnI=";
constexpr const char* kPubA = "vJBN6b2YiMW9jZ/UlWes/rkPo+rCxWUE21IrQDgVFFE=";
constexpr const char* kPubB = "SNlPs3/lNaEKa1ddQQgVqeDRgf1fsxJFkkOjE+tPkQ4=";
constexpr const char* kPubC = "CetCp7Os4WOLBLaPeQJMkusJDvPALSezyTvxbFQ5lxg=";
constexpr const char* kPsk = "DlXfUSOWYbnCIkMdGSxJQJUAZzWePaqcNrNmj5g+Hqg=";

handshake::PublicKey pub(const char* b64) { return *handshake::PublicKey::from_base64(b64); }
std::string hex_pub(const char* b64) { return key_to_hex(pub(b64).bytes()); }
std::string hex_priv() { return key_to_hex(handshake::PrivateKey::from_base64(kPrivA)->bytes()); }
std::string hex_psk() { return key_to_hex(handshake::PresharedKey::from_base64(kPsk)->bytes()); }
config::IpPrefix prefix(const char* s) { return *config::IpPrefix::parse(s); }
tunnel::SockAddr addr(const char* s) { return *tunnel::SockAddr::parse(s); }

TEST(UapiHex, RoundTripsAndRejectsBadInput) {
  const std::string h = hex_pub(kPubA);
  EXPECT_EQ(h.size(), 64u);
  EXPECT_EQ(h.find_first_not_of("0123456789abcdef"), std::string::npos);
  std::array<uint8_t, 32> b{};
  ASSERT_TRUE(key_from_hex(h, b));
  EXPECT_EQ(handshake::PublicKey(b), pub(kPubA));
  std::string upper = h;
  for (char& c : upper) c = static_cast<char>(std::toupper(c));
  EXPECT_TRUE(key_from_hex(upper, b));
  EXPECT_FALSE(key_from_hex(h.substr(1), b));
  EXPECT_FALSE(key_from_hex(h + "0", b));
  EXPECT_FALSE(key_from_hex("g" + h.substr(1), b));
  EXPECT_FALSE(key_from_hex(h.substr(0, 62) + " 0", b));
  EXPECT_FALSE(key_from_hex("", b));
}

TEST(UapiParseSet, EveryInterfaceKey) {
  const auto r = parse_set("private_key=" + hex_priv() +
                           "\nlisten_port=51820\nfwmark=4294967295\nreplace_peers=true\n");
  ASSERT_TRUE(r) << r.error();
  ASSERT_TRUE(r->private_key);
  EXPECT_EQ(r->private_key->public_key(), pub(kPubA));
  EXPECT_EQ(r->listen_port, 51820);
  EXPECT_EQ(r->fwmark, 4294967295u);
  EXPECT_TRUE(r->replace_peers);
  EXPECT_TRUE(r->peers.empty());
}

TEST(UapiParseSet, NothingSetIsEmpty) {
  const auto r = parse_set("");
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->private_key || r->listen_port || r->fwmark || r->replace_peers);
  EXPECT_TRUE(r->peers.empty());
}

TEST(UapiParseSet, ZeroPrivateKeyMeansRemoveIt) {
  const auto r = parse_set("private_key=" + std::string(64, '0') + "\n");
  ASSERT_TRUE(r);
  ASSERT_TRUE(r->private_key);
  EXPECT_TRUE(r->private_key->is_zero());
}

TEST(UapiParseSet, EveryPeerKey) {
  const auto r = parse_set("public_key=" + hex_pub(kPubB) + "\nupdate_only=true\npreshared_key=" + hex_psk() +
                           "\nendpoint=203.0.113.2:51820\npersistent_keepalive_interval=25\n"
                           "replace_allowed_ips=true\nallowed_ip=198.18.1.0/24\nallowed_ip=2001:db8:b::/48\n"
                           "protocol_version=1\n");
  ASSERT_TRUE(r) << r.error();
  ASSERT_EQ(r->peers.size(), 1u);
  const UapiPeerSet& p = r->peers[0];
  EXPECT_EQ(p.public_key, pub(kPubB));
  EXPECT_TRUE(p.update_only);
  EXPECT_FALSE(p.remove);
  EXPECT_TRUE(p.replace_allowed_ips);
  ASSERT_TRUE(p.preshared_key);
  EXPECT_EQ(*p.preshared_key, *handshake::PresharedKey::from_base64(kPsk));
  EXPECT_EQ(p.endpoint, addr("203.0.113.2:51820"));
  EXPECT_EQ(p.persistent_keepalive, 25);
  EXPECT_EQ(p.allowed_ips, (std::vector{prefix("198.18.1.0/24"), prefix("2001:db8:b::/48")}));
}

TEST(UapiParseSet, RemoveAndSeveralPeersInOrder) {
  const auto r = parse_set("replace_peers=true\npublic_key=" + hex_pub(kPubB) + "\nremove=true\npublic_key=" +
                           hex_pub(kPubC) + "\nendpoint=[2001:db8::1]:51820\npublic_key=" + hex_pub(kPubB) + "\n");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->peers.size(), 3u);
  EXPECT_TRUE(r->peers[0].remove);
  EXPECT_EQ(r->peers[1].public_key, pub(kPubC));
  EXPECT_EQ(r->peers[1].endpoint, addr("[2001:db8::1]:51820"));
  EXPECT_EQ(r->peers[2].public_key, pub(kPubB));
  EXPECT_FALSE(r->peers[2].remove);
}

TEST(UapiParseSet, ReplaceAllowedIpsDropsTheLinesBeforeIt) {
  const auto r = parse_set("public_key=" + hex_pub(kPubB) +
                           "\nallowed_ip=198.18.1.0/24\nreplace_allowed_ips=true\nallowed_ip=198.18.2.0/24\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->peers[0].allowed_ips, std::vector{prefix("198.18.2.0/24")});
}

TEST(UapiParseSet, AllowedIpsAreCanonicalAndValuesLenient) {
  // Host bits cleared (as wireguard-go inserts them); upper-case hex, leading
  // zeros, a final line without '\n' and a zero preshared key are accepted.
  std::string key = hex_pub(kPubB);
  for (char& c : key) c = static_cast<char>(std::toupper(c));
  const auto r = parse_set("listen_port=0051820\npublic_key=" + key + "\npreshared_key=" + std::string(64, '0') +
                           "\nallowed_ip=198.18.1.7/24\nallowed_ip=2001:db8:b::1/48");
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->listen_port, 51820);
  EXPECT_EQ(r->peers[0].public_key, pub(kPubB));
  EXPECT_TRUE(r->peers[0].preshared_key->is_zero());
  EXPECT_EQ(r->peers[0].allowed_ips, (std::vector{prefix("198.18.1.0/24"), prefix("2001:db8:b::/48")}));
}

TEST(UapiParseSet, StopsAtABlankLine) {
  const auto r = parse_set("listen_port=1\n\nnot a line\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->listen_port, 1);
}

struct BadSet {
  const char* name;
  std::string body;
  int err;
};

class UapiParseSetRefuses : public testing::TestWithParam<BadSet> {};

TEST_P(UapiParseSetRefuses, WithWireguardGosErrno) {
  std::string why;
  const auto r = parse_set(GetParam().body, &why);
  ASSERT_FALSE(r) << GetParam().body;
  EXPECT_EQ(r.error(), GetParam().err) << why;
  EXPECT_EQ(why.rfind("line ", 0), 0u) << why;
  EXPECT_EQ(why.find(hex_priv()), std::string::npos) << "a key value in the message: " << why;
  EXPECT_EQ(why.find(hex_psk()), std::string::npos) << "a key value in the message: " << why;
}

const std::string kPeer = "public_key=" + hex_pub(kPubB) + "\n";

INSTANTIATE_TEST_SUITE_P(
    Uapi, UapiParseSetRefuses,
    testing::Values(
        BadSet{"NoEquals", "listen_port\n", EPROTO}, BadSet{"NoEqualsInPeer", kPeer + "remove\n", EPROTO},
        BadSet{"UnknownKey", "bogus=1\n", EINVAL}, BadSet{"KeysAreCaseSensitive", "Listen_Port=1\n", EINVAL},
        BadSet{"PeerKeyBeforePublicKey", "endpoint=203.0.113.2:51820\n", EINVAL},
        BadSet{"AllowedIpBeforePublicKey", "allowed_ip=198.18.1.0/24\n", EINVAL},
        BadSet{"InterfaceKeyInPeer", kPeer + "listen_port=1\n", EINVAL},
        BadSet{"UnknownPeerKey", kPeer + "name=office-b\n", EINVAL},
        BadSet{"PrivateKeyBadHex", "private_key=" + std::string(63, 'a') + "g\n", EINVAL},
        BadSet{"PrivateKeyShort", "private_key=" + hex_priv().substr(2) + "\n", EINVAL},
        BadSet{"PrivateKeyLong", "private_key=" + hex_priv() + "00\n", EINVAL},
        BadSet{"PrivateKeyBase64", std::string("private_key=") + kPrivA + "\n", EINVAL},
        BadSet{"PublicKeyBadHex", "public_key=xyz\n", EINVAL},
        BadSet{"PresharedKeyBadHex", kPeer + "preshared_key=" + hex_psk().substr(1) + "x\n", EINVAL},
        BadSet{"PortTooBig", "listen_port=65536\n", EINVAL}, BadSet{"PortNegative", "listen_port=-1\n", EINVAL},
        BadSet{"PortPlus", "listen_port=+1\n", EINVAL}, BadSet{"PortEmpty", "listen_port=\n", EINVAL},
        BadSet{"PortHuge", "listen_port=99999999999999999999999999\n", EINVAL},
        BadSet{"PortSpace", "listen_port= 1\n", EINVAL}, BadSet{"PortCarriageReturn", "listen_port=1\r\n", EINVAL},
        BadSet{"FwmarkTooBig", "fwmark=4294967296\n", EINVAL}, BadSet{"FwmarkHex", "fwmark=0x10\n", EINVAL},
        BadSet{"KeepaliveTooBig", kPeer + "persistent_keepalive_interval=65536\n", EINVAL},
        BadSet{"EndpointDnsName", kPeer + "endpoint=gw.example:51820\n", EINVAL},
        BadSet{"EndpointNoPort", kPeer + "endpoint=203.0.113.2\n", EINVAL},
        BadSet{"EndpointPortTooBig", kPeer + "endpoint=203.0.113.2:65536\n", EINVAL},
        BadSet{"EndpointV6Unbracketed", kPeer + "endpoint=2001:db8::1:51820\n", EINVAL},
        BadSet{"EndpointV6Unclosed", kPeer + "endpoint=[2001:db8::1:51820\n", EINVAL},
        BadSet{"AllowedIpNoLength", kPeer + "allowed_ip=198.18.1.1\n", EINVAL},
        BadSet{"AllowedIpBadAddress", kPeer + "allowed_ip=198.18.300.0/24\n", EINVAL},
        BadSet{"AllowedIpV4TooLong", kPeer + "allowed_ip=198.18.0.0/33\n", EINVAL},
        BadSet{"AllowedIpV6TooLong", kPeer + "allowed_ip=2001:db8::/129\n", EINVAL},
        BadSet{"ReplacePeersFalse", "replace_peers=false\n", EINVAL},
        BadSet{"RemoveYes", kPeer + "remove=yes\n", EINVAL}, BadSet{"UpdateOnlyOne", kPeer + "update_only=1\n", EINVAL},
        BadSet{"ReplaceAllowedIpsTrueCase", kPeer + "replace_allowed_ips=True\n", EINVAL},
        BadSet{"ProtocolVersion2", kPeer + "protocol_version=2\n", EINVAL},
        BadSet{"ErrorAfterGoodLines", "listen_port=1\n" + kPeer + "allowed_ip=198.18.1.0/24\nallowed_ip=x\n", EINVAL}),
    [](const testing::TestParamInfo<BadSet>& i) { return std::string(i.param.name); });

TEST(UapiParseSet, MessageNamesTheLine) {
  std::string why;
  ASSERT_FALSE(parse_set("listen_port=1\n" + kPeer + "endpoint=nowhere\n", &why));
  EXPECT_EQ(why, "line 3: endpoint is not IP:PORT or [IPv6]:PORT");
}

TEST(UapiFormatSet, RoundTripsThroughParseSet) {
  const std::string body = "private_key=" + hex_priv() + "\nlisten_port=51820\nfwmark=7\nreplace_peers=true\n" + kPeer +
                           "remove=true\npublic_key=" + hex_pub(kPubC) +
                           "\nupdate_only=true\npreshared_key=" + hex_psk() +
                           "\nendpoint=[2001:db8::1]:51820\npersistent_keepalive_interval=0\n"
                           "replace_allowed_ips=true\nallowed_ip=198.18.2.0/24\nallowed_ip=2001:db8:c::/48\n";
  const auto r = parse_set(body);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(format_set(*r), body);
}

UapiState sample_state() {
  UapiState s;
  s.private_key = handshake::PrivateKey::from_base64(kPrivA);
  s.listen_port = 51820;
  s.fwmark = 0x1234;
  UapiPeerState b;
  b.public_key = pub(kPubB);
  b.preshared_key = *handshake::PresharedKey::from_base64(kPsk);
  b.endpoint = addr("203.0.113.2:51820");
  b.last_handshake = WallTime{std::chrono::seconds(1'700'000'000) + std::chrono::nanoseconds(123'456'789)};
  b.tx_bytes = 1536;
  b.rx_bytes = 3 * 1024 * 1024;
  b.persistent_keepalive = 25;
  b.allowed_ips = {prefix("198.18.1.0/24"), prefix("2001:db8:b::/48")};
  UapiPeerState c;
  c.public_key = pub(kPubC);
  s.peers = {b, c};
  return s;
}

TEST(UapiFormatGet, WritesWireguardGosLines) {
  const std::string expected = "private_key=" + hex_priv() + "\nlisten_port=51820\nfwmark=4660\n" + kPeer +
                               "preshared_key=" + hex_psk() +
                               "\nprotocol_version=1\nendpoint=203.0.113.2:51820\n"
                               "last_handshake_time_sec=1700000000\nlast_handshake_time_nsec=123456789\n"
                               "tx_bytes=1536\nrx_bytes=3145728\npersistent_keepalive_interval=25\n"
                               "allowed_ip=198.18.1.0/24\nallowed_ip=2001:db8:b::/48\n"
                               "public_key=" +
                               hex_pub(kPubC) + "\npreshared_key=" + std::string(64, '0') +
                               "\nprotocol_version=1\nlast_handshake_time_sec=0\nlast_handshake_time_nsec=0\n"
                               "tx_bytes=0\nrx_bytes=0\npersistent_keepalive_interval=0\n";
  EXPECT_EQ(format_get(sample_state()), expected);
}

TEST(UapiFormatGet, OmitsUnsetInterfaceValues) {
  EXPECT_EQ(format_get(UapiState{}), "");
  UapiState s;
  s.private_key = handshake::PrivateKey();  // zero: no key
  EXPECT_EQ(format_get(s), "");
}

TEST(UapiParseGet, RoundTripsFormatGet) {
  const UapiState s = sample_state();
  const auto r = parse_get(format_get(s) + format_errno(0));
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->private_key->public_key(), pub(kPubA));
  EXPECT_EQ(r->listen_port, 51820);
  EXPECT_EQ(r->fwmark, 0x1234u);
  ASSERT_EQ(r->peers.size(), 2u);
  const UapiPeerState& b = r->peers[0];
  EXPECT_EQ(b.public_key, pub(kPubB));
  EXPECT_EQ(b.preshared_key, s.peers[0].preshared_key);
  EXPECT_EQ(b.endpoint, s.peers[0].endpoint);
  EXPECT_EQ(b.last_handshake, s.peers[0].last_handshake);
  EXPECT_EQ(b.tx_bytes, 1536u);
  EXPECT_EQ(b.rx_bytes, 3u * 1024 * 1024);
  EXPECT_EQ(b.persistent_keepalive, 25);
  EXPECT_EQ(b.allowed_ips, s.peers[0].allowed_ips);
  EXPECT_FALSE(r->peers[1].last_handshake);
  EXPECT_FALSE(r->peers[1].endpoint);
  EXPECT_TRUE(r->peers[1].preshared_key.is_zero());
  EXPECT_EQ(format_get(*r), format_get(s));
}

TEST(UapiParseGet, SkipsUnknownKeysAndStopsAtTheBlankLine) {
  const auto r = parse_get("jc=4\nlisten_port=1\n" + kPeer + "future_key=x\n\nlisten_port=2\n");
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->listen_port, 1);
  EXPECT_EQ(r->peers.size(), 1u);
}

TEST(UapiParseGet, RefusesErrorsAndNonsense) {
  const auto e = parse_get("errno=-22\n\n");
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().find("errno=-22 (Invalid argument)"), std::string::npos) << e.error();
  for (const std::string& bad : std::vector<std::string>{
           "listen_port=65536\n", "nonsense\n", kPeer + "endpoint=x\n", kPeer + "allowed_ip=198.18.0.0/40\n",
           kPeer + "last_handshake_time_nsec=1000000000\n", kPeer + "last_handshake_time_sec=99999999999999\n",
           kPeer + "rx_bytes=18446744073709551616\n", "public_key=abc\n", "errno=x\n"}) {
    EXPECT_FALSE(parse_get(bad)) << bad;
  }
}

TEST(UapiFormatErrno, IsNegativeOnTheWire) {
  EXPECT_EQ(format_errno(0), "errno=0\n\n");
  EXPECT_EQ(format_errno(EINVAL), "errno=-22\n\n");
  EXPECT_EQ(format_errno(-EINVAL), "errno=-22\n\n");
}

TEST(UapiNextFrame, SplitsRequests) {
  EXPECT_FALSE(next_frame("", false));
  EXPECT_FALSE(next_frame("", true));
  EXPECT_FALSE(next_frame("get=1", false));
  EXPECT_FALSE(next_frame("get=1\n", false));
  EXPECT_FALSE(next_frame("set=1", false));

  auto f = next_frame("get=1\n\nget=1\n\n", false);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->op, UapiOp::kGet);
  EXPECT_EQ(f->consumed, 7u);

  // A set request's first line only: its body is streamed (UapiSetStream).
  f = next_frame("set=1\nlisten_port=1\n", false);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->op, UapiOp::kSet);
  EXPECT_EQ(f->consumed, 6u);

  f = next_frame("get=sitelink\n\n", false);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->op, UapiOp::kStatus);
  EXPECT_EQ(f->consumed, 14u);

  f = next_frame("get=1\nx", false);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->op, UapiOp::kBadGet);
  EXPECT_EQ(f->consumed, 7u);

  EXPECT_EQ(next_frame("hello\n", false)->op, UapiOp::kUnknown);
  EXPECT_EQ(next_frame("get=2\n\n", false)->op, UapiOp::kUnknown);
  // No operation's first line is this long: not worth waiting for its end.
  EXPECT_EQ(next_frame(std::string(100, 'g'), false)->op, UapiOp::kUnknown);
}

TEST(UapiNextFrame, AtEndOfInput) {
  EXPECT_EQ(next_frame("set=1\n", true)->op, UapiOp::kSet);
  EXPECT_EQ(next_frame("get=1\n", true)->op, UapiOp::kUnknown);
  EXPECT_EQ(next_frame("get=1", true)->op, UapiOp::kUnknown);
}

// ---- set requests as a stream -------------------------------------------------

// Every kind of line, several peers, keys, a request that ends with its
// blank line and the start of the next request after it.
std::string sample_set_body() {
  const std::string k1(64, 'a'), k2(64, 'b');
  return "private_key=" + std::string(64, 'c') + "\nlisten_port=51820\nfwmark=7\nreplace_peers=true\n" +
         "public_key=" + k1 + "\npreshared_key=" + std::string(64, 'd') +
         "\nendpoint=[2001:db8::1]:51820\npersistent_keepalive_interval=25\nreplace_allowed_ips=true\n" +
         "allowed_ip=198.18.1.0/24\nallowed_ip=2001:db8:1::/64\nprotocol_version=1\n" + "public_key=" + k2 +
         "\nupdate_only=true\nallowed_ip=198.18.2.7/32\npublic_key=" + k1 + "\nremove=true\n";
}

// Feeds `text` cut at `cuts` (positions, ascending); returns the result,
// the bytes used, and why it failed.
struct Streamed {
  Result<UapiSet, int> result;
  size_t used = 0;
  std::string why;
};
Streamed stream_in_pieces(std::string_view text, const std::vector<size_t>& cuts, bool finish) {
  UapiSetStream s;
  size_t at = 0, used = 0;
  for (size_t cut : cuts) {
    used += s.feed(text.substr(at, cut - at));
    at = cut;
  }
  used += s.feed(text.substr(at));
  if (finish) s.finish();
  EXPECT_TRUE(s.complete());
  auto r = s.take();
  return {std::move(r), used, s.why()};
}

TEST(UapiSetStream, EveryCutGivesTheSameRequestAsWhole) {
  const std::string body = sample_set_body();
  const std::string text = body + "\nget=1\n\n";  // the next request must be left alone
  const auto whole = parse_set(body);
  ASSERT_TRUE(whole) << whole.error();
  const std::string expected = format_set(*whole);
  for (size_t cut = 0; cut <= text.size(); ++cut) {
    const auto got = stream_in_pieces(text, {cut}, false);
    ASSERT_TRUE(got.result) << "cut at " << cut << ": " << got.why;
    EXPECT_EQ(format_set(*got.result), expected) << "cut at " << cut;
    EXPECT_EQ(got.used, body.size() + 1) << "cut at " << cut;
  }
  // Byte by byte.
  std::vector<size_t> every(text.size());
  for (size_t i = 0; i < every.size(); ++i) every[i] = i;
  const auto bytewise = stream_in_pieces(text, every, false);
  ASSERT_TRUE(bytewise.result);
  EXPECT_EQ(format_set(*bytewise.result), expected);
  EXPECT_EQ(bytewise.used, body.size() + 1);
}

TEST(UapiSetStream, ErrorsAreTheSameWhereverTheCut) {
  const std::string bad = "listen_port=1\npublic_key=" + std::string(64, 'a') + "\nendpoint=nonsense\nallowed_ip=x\n";
  std::string why_whole;
  const auto whole = parse_set(bad, &why_whole);
  ASSERT_FALSE(whole);
  EXPECT_EQ(whole.error(), EINVAL);
  EXPECT_EQ(why_whole, "line 3: endpoint is not IP:PORT or [IPv6]:PORT");  // the first error
  for (size_t cut = 0; cut <= bad.size(); ++cut) {
    const auto got = stream_in_pieces(bad + "\n", {cut}, false);
    ASSERT_FALSE(got.result);
    EXPECT_EQ(got.result.error(), EINVAL);
    EXPECT_EQ(got.why, why_whole);
    EXPECT_EQ(got.used, bad.size() + 1);  // read to its end all the same
  }
}

TEST(UapiSetStream, WaitsForTheBlankLineOrTheEnd) {
  UapiSetStream s;
  EXPECT_EQ(s.feed("listen_port=1\nfwmark=2"), 22u);
  EXPECT_FALSE(s.complete());
  s.finish();  // the end of input: the last line counts without its '\n'
  ASSERT_TRUE(s.complete());
  const auto r = s.take();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->listen_port, 1);
  EXPECT_EQ(r->fwmark, 2u);

  UapiSetStream empty;
  EXPECT_EQ(empty.feed("\nget=1\n\n"), 1u);  // "set=1\n\n": nothing to change
  ASSERT_TRUE(empty.complete());
  EXPECT_TRUE(empty.take());
}

TEST(UapiSetStream, ALineBeyondTheLimitIsRefusedAndTheRestRead) {
  const std::string line = "endpoint=" + std::string(kUapiMaxLine, '1');
  const std::string body = "public_key=" + std::string(64, 'a') + "\n" + line + "\nlisten_port=1\n\n";
  UapiSetStream s;
  for (size_t at = 0; at < body.size(); at += 1000) s.feed(std::string_view(body).substr(at, 1000));
  ASSERT_TRUE(s.complete());
  EXPECT_EQ(s.size(), body.size());
  const auto r = s.take();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), EMSGSIZE);
  EXPECT_EQ(s.why(), "line 2: longer than 4096 bytes");
  // At the limit it is only a bad endpoint.
  std::string why;
  const auto at_limit = parse_set(
      "public_key=" + std::string(64, 'a') + "\nendpoint=" + std::string(kUapiMaxLine - 9, '1') + "\n", &why);
  ASSERT_FALSE(at_limit);
  EXPECT_EQ(at_limit.error(), EINVAL) << why;
}

TEST(UapiSetStream, MoreAllowedIpsThanTheLimitIsE2big) {
  std::string body = "public_key=" + std::string(64, 'a') + "\n";
  // Up to the limit is fine (replace_allowed_ips forgets what came before).
  std::string ips;
  for (size_t i = 0; i < config::kMaxAllowedIps; ++i) {
    ips += "allowed_ip=10." + std::to_string(i >> 16) + "." + std::to_string((i >> 8) & 255) + "." +
           std::to_string(i & 255) + "/32\n";
  }
  UapiSetStream ok;
  ok.feed(body + ips + "replace_allowed_ips=true\n" + ips + "\n");
  const auto r = ok.take();
  ASSERT_TRUE(r) << ok.why();
  EXPECT_EQ(r->peers[0].allowed_ips.size(), config::kMaxAllowedIps);
  UapiSetStream over;
  over.feed(body + ips + "allowed_ip=198.18.0.0/15\n\n");
  const auto refused = over.take();
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), E2BIG);
  EXPECT_EQ(over.why(), "line " + std::to_string(config::kMaxAllowedIps + 2) + ": more than " +
                            std::to_string(config::kMaxAllowedIps) + " allowed IPs in one request (the limit)");
}

TEST(UapiSetStream, MorePeersThanTheLimitIsE2big) {
  std::string body;
  for (size_t i = 0; i <= config::kMaxPeers; ++i) {
    char hex[65];
    std::snprintf(hex, sizeof hex, "%064zx", i);
    body += "public_key=" + std::string(hex) + "\n";
  }
  std::string why;
  const auto r = parse_set(body, &why);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), E2BIG);
  EXPECT_EQ(why, "line " + std::to_string(config::kMaxPeers + 1) + ": more than " + std::to_string(config::kMaxPeers) +
                     " peers in one request (the limit)");
}

// ---- the pure half of `sitelink show` ------------------------------------------

const WallTime kNow{std::chrono::seconds(1'700'000'100)};

TEST(UapiShowFormats, PrettyDurationAndBytesAsWg) {
  EXPECT_EQ(pretty_duration(0), "0 seconds");
  EXPECT_EQ(pretty_duration(1), "1 second");
  EXPECT_EQ(pretty_duration(65), "1 minute, 5 seconds");
  EXPECT_EQ(pretty_duration(2 * 86400 + 3600), "2 days, 1 hour");
  EXPECT_EQ(pretty_duration(366 * 86400), "1 year, 1 day");
  EXPECT_EQ(pretty_bytes(0), "0 B");
  EXPECT_EQ(pretty_bytes(1023), "1023 B");
  EXPECT_EQ(pretty_bytes(1536), "1.50 KiB");
  EXPECT_EQ(pretty_bytes(3ull << 20), "3.00 MiB");
  EXPECT_EQ(pretty_bytes(5ull << 30), "5.00 GiB");
  EXPECT_EQ(pretty_bytes(7ull << 40), "7.00 TiB");
  EXPECT_EQ(pretty_bytes(2048ull << 40), "2048.00 TiB");
}

TEST(UapiShowHealth, UpHandshakingDown) {
  UapiPeerState p;
  EXPECT_EQ(peer_health(p, nullptr, kNow).state, PeerState::kDown);
  EXPECT_EQ(peer_health(p, nullptr, kNow).why, "no endpoint, waiting for the peer to connect; no handshake yet");
  p.endpoint = addr("203.0.113.2:51820");
  EXPECT_EQ(peer_health(p, nullptr, kNow).state, PeerState::kHandshaking);
  p.last_handshake = WallTime{kNow.since_epoch - std::chrono::seconds(180)};
  EXPECT_EQ(peer_health(p, nullptr, kNow).state, PeerState::kUp);
  p.last_handshake = WallTime{kNow.since_epoch - std::chrono::seconds(181)};
  EXPECT_EQ(peer_health(p, nullptr, kNow).state, PeerState::kHandshaking);
  EXPECT_EQ(peer_health(p, nullptr, kNow).why, "last handshake 3 minutes, 1 second ago");
  p.endpoint.reset();
  EXPECT_EQ(peer_health(p, nullptr, kNow).state, PeerState::kDown);
}

// The reasons name the cause: unanswered initiations (with the port that may
// be blocked), answered before but silent since, a refused send and its errno.
TEST(UapiShowHealth, ReasonsNameTheCause) {
  const uint64_t now_s = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::seconds>(kNow.since_epoch).count());
  UapiPeerState p;
  p.endpoint = addr("203.0.113.2:51820");
  SitelinkPeerStatus x;
  x.unanswered_initiations = 1;  // one unanswered initiation is just a handshake in progress
  x.unanswered_since = now_s - 3;
  EXPECT_EQ(peer_health(p, &x, kNow).why, "no handshake yet");
  x.unanswered_initiations = 4;
  x.unanswered_since = now_s - 16;
  EXPECT_EQ(peer_health(p, &x, kNow).state, PeerState::kHandshaking);
  EXPECT_EQ(peer_health(p, &x, kNow).why,
            "no answer to 4 handshake initiations in 16 seconds: the far end is down, or UDP port 51820 is blocked on "
            "the way, or it does not know our key; no handshake yet");
  // Up by its last handshake, but the rekey goes unanswered and nothing comes.
  p.last_handshake = WallTime{kNow.since_epoch - std::chrono::seconds(130)};
  x.last_receive = now_s - 25;
  const auto h = peer_health(p, &x, kNow);
  EXPECT_EQ(h.state, PeerState::kHandshaking);
  EXPECT_EQ(h.why.rfind("answered before, but no answer to 4 handshake initiations in 16 seconds", 0), 0u) << h.why;
  EXPECT_NE(h.why.find("; nothing received for 25 seconds; last handshake 2 minutes, 10 seconds ago"),
            std::string::npos)
      << h.why;
  // A refused send is named with its errno while it is fresh.
  x.unanswered_initiations = 0;
  x.send_errno = EPERM;
  x.send_error_time = now_s - 5;
  EXPECT_EQ(peer_health(p, &x, kNow).state, PeerState::kUp);
  EXPECT_EQ(peer_health(p, &x, kNow).why,
            "sends to 203.0.113.2:51820 fail: Operation not permitted; a local firewall rejects it (an nftables or "
            "iptables output rule)");
  p.last_handshake.reset();
  EXPECT_EQ(peer_health(p, &x, kNow).state, PeerState::kHandshaking);
  EXPECT_NE(peer_health(p, &x, kNow).why.find("Operation not permitted"), std::string::npos);
  x.send_error_time = now_s - 61;  // old news
  EXPECT_EQ(peer_health(p, &x, kNow).why, "no handshake yet");
}

TEST(UapiShowText, LooksLikeWgShow) {
  UapiState s = sample_state();
  std::swap(s.peers[0], s.peers[1]);  // sorted back: most recent handshake first
  const std::string expected = std::string("interface: sl0\n  public key: ") + kPubA +
                               "\n  private key: (hidden)\n  listening port: 51820\n  fwmark: 0x1234\n\n"
                               "peer: " +
                               kPubB +
                               "\n  state: up\n  preshared key: (hidden)\n  endpoint: 203.0.113.2:51820\n"
                               "  allowed ips: 198.18.1.0/24, 2001:db8:b::/48\n"
                               "  latest handshake: 1 minute, 40 seconds ago\n"
                               "  transfer: 3.00 MiB received, 1.50 KiB sent\n"
                               "  persistent keepalive: every 25 seconds\n\n"
                               "peer: " +
                               kPubC +
                               "\n  state: down (no endpoint, waiting for the peer to connect; no handshake yet)\n"
                               "  allowed ips: (none)\n";
  EXPECT_EQ(render_text({"sl0", s, {}}, kNow), expected);
}

TEST(UapiShowText, AddsNamesPacketsAndDropsFromTheSitelinkExtension) {
  UapiState s = sample_state();
  s.peers.resize(1);
  const std::string hex_b = key_to_hex(s.peers[0].public_key.bytes());
  const SitelinkStatus extra = parse_status(
      "drop=replay:3\ndrop=invalid-mac1:12\nwarning=forwarding is off\npublic_key=" + hex_b +
      "\nname=office-b\nrx_packets=40\ntx_packets=41\nbogus\n"
      "handshake_attempts=2\nerrno=0\n\n");
  ASSERT_EQ(extra.drops.size(), 2u);
  EXPECT_EQ(extra.drops[1].first, "invalid-mac1");
  EXPECT_EQ(extra.drops[1].second, 12u);
  const std::string text = render_text({"sl0", s, extra}, kNow);
  EXPECT_NE(text.find("  dropped: replay 3; invalid-mac1 12\n"), std::string::npos) << text;
  EXPECT_NE(text.find("  warning: forwarding is off\n"), std::string::npos) << text;
  EXPECT_NE(text.find("  name: office-b\n"), std::string::npos) << text;
  EXPECT_NE(text.find("  packets: 40 received, 41 sent\n"), std::string::npos) << text;
  EXPECT_NE(text.find("  unanswered handshake retries: 2\n"), std::string::npos) << text;
  const std::string json = render_json({{"sl0", s, extra}}, kNow);
  EXPECT_NE(json.find("\"dropped\":{\"replay\":3,\"invalid-mac1\":12}"), std::string::npos) << json;
  EXPECT_NE(json.find("\"warnings\":[\"forwarding is off\"]"), std::string::npos) << json;
  EXPECT_NE(json.find("\"name\":\"office-b\",\"rx_packets\":40,\"tx_packets\":41"), std::string::npos) << json;
}

// `netmap:` (issue 17): the mappings and translated packets from
// get=sitelink, in text and JSON; malformed netmap lines are skipped.
TEST(UapiShowText, ShowsNetmapAndTranslatedPackets) {
  UapiState s = sample_state();
  s.peers.resize(1);
  const std::string hex_b = key_to_hex(s.peers[0].public_key.bytes());
  const SitelinkStatus extra = parse_status("public_key=" + hex_b +
                                            "\nnetmap=peer 198.18.1.0/24 seen-as 198.19.201.0/24\n"
                                            "netmap=local 2001:db8:1::/64 seen-as 2001:db8:202::/64\nnetmap=peer\n"
                                            "netmap_packets=12,34\n\n");
  ASSERT_EQ(extra.peers.size(), 1u);
  ASSERT_EQ(extra.peers[0].second.netmap.size(), 2u);
  const std::string text = render_text({"sl0", s, extra}, kNow);
  EXPECT_NE(text.find("  netmap: peer 198.18.1.0/24 seen-as 198.19.201.0/24\n"
                      "  netmap: local 2001:db8:1::/64 seen-as 2001:db8:202::/64\n"
                      "  translated: 12 packets sent, 34 received\n"),
            std::string::npos)
      << text;
  const std::string json = render_json({{"sl0", s, extra}}, kNow);
  EXPECT_NE(json.find("\"netmap\":[{\"side\":\"peer\",\"prefix\":\"198.18.1.0/24\",\"seen_as\":\"198.19.201.0/24\"},"
                      "{\"side\":\"local\",\"prefix\":\"2001:db8:1::/64\",\"seen_as\":\"2001:db8:202::/64\"}],"
                      "\"netmap_packets_sent\":12,\"netmap_packets_received\":34"),
            std::string::npos)
      << json;
  EXPECT_EQ(render_text({"sl0", s, {}}, kNow).find("netmap"), std::string::npos);
}

// A daemon that does not report its data path (wireguard-go): null, not a guess.
const std::string kNoDataPath =
    "\"data_path\":{\"batch_io\":null,\"udp_gso\":null,\"udp_gro\":null,\"tun_offload\":null,"
    "\"socket_rcvbuf\":null,\"socket_sndbuf\":null,\"crypto_threads\":null}";

// The data path as in effect, from get=sitelink: parsed only from the
// interface's lines (not a peer's), shown in text and JSON.
TEST(UapiShowText, ShowsTheDataPathInEffect) {
  UapiState s = sample_state();
  s.peers.resize(1);
  const std::string hex_b = key_to_hex(s.peers[0].public_key.bytes());
  const SitelinkStatus extra = parse_status(
      "batch_io=1\nudp_gso=0\nudp_gro=1\ntun_offload=1\nsocket_rcvbuf=8388608\n"
      "socket_sndbuf=4194304\ncrypto_threads=2\npublic_key=" +
      hex_b + "\nudp_gso=1\n\n");
  ASSERT_EQ(extra.data_path.udp_gso, std::optional<bool>(false)) << "a peer's line must not count";
  const std::string text = render_text({"sl0", s, extra}, kNow);
  EXPECT_NE(text.find("  data path: batch-io on, udp-gso off, udp-gro on, tun-offload on, socket buffers "
                      "8388608/4194304 bytes, crypto threads 2\n"),
            std::string::npos)
      << text;
  const std::string json = render_json({{"sl0", s, extra}}, kNow);
  EXPECT_NE(json.find("\"data_path\":{\"batch_io\":true,\"udp_gso\":false,\"udp_gro\":true,\"tun_offload\":true,"
                      "\"socket_rcvbuf\":8388608,\"socket_sndbuf\":4194304,\"crypto_threads\":2}"),
            std::string::npos)
      << json;
  EXPECT_EQ(render_text({"sl0", s, {}}, kNow).find("data path"), std::string::npos);
}

TEST(UapiShowText, ShowsClampedSyns) {
  UapiState s = sample_state();
  const SitelinkStatus extra = parse_status("mss_clamped=42\nbatch_io=1\n\n");
  EXPECT_EQ(extra.mss_clamped, std::optional<uint64_t>(42));
  EXPECT_NE(render_text({"sl0", s, extra}, kNow).find("  mss clamped: 42 TCP SYNs\n"), std::string::npos);
  EXPECT_NE(render_json({{"sl0", s, extra}}, kNow).find("\"mss_clamped\":42,"), std::string::npos);
  EXPECT_EQ(render_text({"sl0", s, {}}, kNow).find("mss clamped"), std::string::npos);
}

TEST(UapiShowJson, OneObjectWithEveryInterface) {
  UapiState s = sample_state();
  s.peers.resize(1);
  UapiState empty;
  const std::string expected =
      std::string("{\"interfaces\":[{\"name\":\"sl0\",\"public_key\":\"") + kPubA +
      "\",\"listen_port\":51820,\"fwmark\":4660,\"dropped\":{},\"mss_clamped\":null," + kNoDataPath +
      ",\"warnings\":[],\"peers\":[{\"public_key\":\"" + kPubB +
      "\",\"name\":null,\"rx_packets\":0,\"tx_packets\":0,\"state\":\"up\",\"state_reason\":\"\",\"health\":\"up\",\"health_reason\":\"\",\"preshared_key\":true,\"endpoint\":\"203.0.113.2:51820\","
      "\"allowed_ips\":[\"198.18.1.0/24\",\"2001:db8:b::/48\"],\"latest_handshake\":1700000000,"
      "\"seconds_since_handshake\":100,\"rx_bytes\":3145728,\"tx_bytes\":1536,\"persistent_keepalive\":25,"
      "\"source\":null,\"since_last_receive\":null,\"path_alive\":null,\"endpoints\":[],\"active_endpoint\":null,"
      "\"endpoint_switches\":0,\"netmap\":[],\"netmap_packets_sent\":0,\"netmap_packets_received\":0}]},"
      "{\"name\":\"we\\\"ird\\\\\\u0001\\u00ff\",\"public_key\":null,\"listen_port\":0,\"fwmark\":0,\"dropped\":{},\"mss_clamped\":null," +
      kNoDataPath + ",\"warnings\":[],\"peers\":[]}]}\n";
  EXPECT_EQ(render_json({{"sl0", s, {}}, {"we\"ird\\\x01\xff", empty, {}}}, kNow), expected);
  EXPECT_EQ(render_json({}, kNow), "{\"interfaces\":[]}\n");
}

}  // namespace
}  // namespace sitelink::daemon
