// The loader as a whole: typed values and defaults of a valid file, a file
// with many errors reporting all of them in file order, diagnostic
// formatting, and the example configuration shipped in packaging/ (and the
// sample in SPEC.md) loading cleanly.
#include <gtest/gtest.h>

#include "config/load.h"
#include "config_test_util.h"

namespace sitelink::config {
namespace {

using test::dump;
using test::with_keys;

Config load_ok(const std::string& yaml) {
  auto r = load_text(with_keys(yaml), "t.yaml");
  EXPECT_TRUE(r.ok()) << dump(test::diagnostics_of(r));
  if (!r) return {};
  EXPECT_TRUE(r->warnings.empty()) << dump(r->warnings);
  return std::move(r->config);
}

TEST(ConfigLoad, MinimalFileGetsSpecDefaults) {
  const Config c = load_ok("interface:\n  private-key: PRIV_A\n");
  EXPECT_EQ(c.source, "t.yaml");
  EXPECT_EQ(c.interface.name, "sl0");
  EXPECT_EQ(c.interface.listen_port, 51820);
  EXPECT_EQ(c.interface.mtu, 1420u);
  EXPECT_TRUE(c.interface.routes);
  EXPECT_EQ(c.interface.fwmark, 0u);
  EXPECT_EQ(c.interface.rekey_after_time, std::chrono::seconds(120));
  EXPECT_TRUE(c.interface.addresses.empty());
  EXPECT_TRUE(c.interface.private_key_file.empty());
  EXPECT_EQ(c.interface.public_key().to_base64(), test::kPubA);
  EXPECT_TRUE(c.peers.empty());
}

TEST(ConfigLoad, EveryFieldBecomesATypedValue) {
  const Config c = load_ok(R"(interface:
  name: office-a-gw0123
  private-key: PRIV_A
  listen-port: 0
  address: [198.18.0.1/24, "2001:db8:a::1/64"]
  mtu: 1280
  routes: false
  fwmark: 0xca6c
  rekey-after-time: 3
peers:
  - name: office-b
    public-key: PUB_B
    preshared-key: PSK
    endpoint: gw.office-b.example:51820
    allowed-ips: [198.18.1.0/24, 2001:db8:b::/48]
    persistent-keepalive: 25
  - public-key: PUB_C
    endpoint: "[2001:db8::c]:443"
    allowed-ips: 198.18.2.7
)");
  EXPECT_EQ(c.interface.name, "office-a-gw0123");  // 15 characters: the longest allowed
  EXPECT_EQ(c.interface.listen_port, 0);
  ASSERT_EQ(c.interface.addresses.size(), 2u);
  EXPECT_EQ(c.interface.addresses[0].to_string(), "198.18.0.1/24");  // host bits kept
  EXPECT_EQ(c.interface.addresses[1].to_string(), "2001:db8:a::1/64");
  EXPECT_EQ(c.interface.mtu, 1280u);
  EXPECT_FALSE(c.interface.routes);
  EXPECT_EQ(c.interface.fwmark, 0xca6cu);
  EXPECT_EQ(c.interface.rekey_after_time, std::chrono::seconds(3));
  ASSERT_EQ(c.peers.size(), 2u);
  const PeerConfig& b = c.peers[0];
  EXPECT_EQ(b.name, "office-b");
  EXPECT_EQ(b.label(), "office-b");
  EXPECT_EQ(b.public_key.to_base64(), test::kPubB);
  EXPECT_EQ(b.preshared_key.to_base64(), test::kPsk);
  ASSERT_TRUE(b.endpoint.has_value());
  EXPECT_TRUE(b.endpoint->is_dns_name);
  EXPECT_EQ(b.endpoint->host, "gw.office-b.example");
  EXPECT_EQ(b.endpoint->port, 51820);
  ASSERT_EQ(b.allowed_ips.size(), 2u);
  EXPECT_EQ(b.allowed_ips[1].to_string(), "2001:db8:b::/48");
  EXPECT_EQ(b.persistent_keepalive, std::chrono::seconds(25));
  const PeerConfig& cc = c.peers[1];
  EXPECT_EQ(cc.label(), test::kPubC);
  EXPECT_TRUE(cc.preshared_key.is_zero());
  ASSERT_TRUE(cc.endpoint.has_value());
  EXPECT_FALSE(cc.endpoint->is_dns_name);
  EXPECT_EQ(cc.endpoint->to_string(), "[2001:db8::c]:443");
  ASSERT_EQ(cc.allowed_ips.size(), 1u);  // a single value counts as a one-item list
  EXPECT_EQ(cc.allowed_ips[0].to_string(), "198.18.2.7/32");
  EXPECT_EQ(cc.persistent_keepalive, std::chrono::seconds(0));
}

TEST(ConfigLoad, DataPathDefaultsAndSwitches) {
  const DataPathConfig defaults = load_ok("interface:\n  private-key: PRIV_A\n").interface.data_path;
  EXPECT_TRUE(defaults.batch_io && defaults.udp_gso && defaults.udp_gro && defaults.tun_offload);
  EXPECT_EQ(defaults.socket_buffer, 4u << 20);
  EXPECT_FALSE(defaults.crypto_threads.has_value());  // auto
  const DataPathConfig off = load_ok(R"(interface:
  private-key: PRIV_A
  batch-io: false
  udp-gso: false
  udp-gro: false
  tun-offload: false
  socket-buffer: 0
  crypto-threads: 0
)")
                                 .interface.data_path;
  EXPECT_FALSE(off.batch_io || off.udp_gso || off.udp_gro || off.tun_offload);
  EXPECT_EQ(off.socket_buffer, 0u);
  EXPECT_EQ(off.crypto_threads, 0u);
  EXPECT_EQ(load_ok("interface:\n  private-key: PRIV_A\n  crypto-threads: 64\n").interface.data_path.crypto_threads,
            64u);
  EXPECT_FALSE(
      load_ok("interface:\n  private-key: PRIV_A\n  crypto-threads: auto\n").interface.data_path.crypto_threads);
}

TEST(ConfigLoad, LogLevelIsOptionalAndTakesTheFourNames) {
  EXPECT_FALSE(load_ok("interface:\n  private-key: PRIV_A\n").interface.log_level);
  for (const LogLevel l : {LogLevel::kError, LogLevel::kWarn, LogLevel::kInfo, LogLevel::kDebug}) {
    const std::string text = "interface:\n  private-key: PRIV_A\n  log-level: " + std::string(to_string(l)) + "\n";
    EXPECT_EQ(load_ok(text.c_str()).interface.log_level, l) << to_string(l);
  }
}

TEST(ConfigLoad, MssClampIsAutoByDefaultAndTakesOffOrANumber) {
  const MssClamp def = load_ok("interface:\n  private-key: PRIV_A\n").interface.mss_clamp;
  EXPECT_EQ(def.mode, MssClamp::Mode::kAuto);
  EXPECT_EQ(def.ipv4_limit(1420), 1380);
  EXPECT_EQ(def.ipv6_limit(1420), 1360);
  EXPECT_EQ(def.ipv4_limit(1280), 1240);
  EXPECT_EQ(def.to_string(), "auto");
  const MssClamp autos = load_ok("interface:\n  private-key: PRIV_A\n  mss-clamp: auto\n").interface.mss_clamp;
  EXPECT_EQ(autos, def);
  const MssClamp off = load_ok("interface:\n  private-key: PRIV_A\n  mss-clamp: off\n").interface.mss_clamp;
  EXPECT_EQ(off.mode, MssClamp::Mode::kOff);
  EXPECT_EQ(off.ipv4_limit(1420), 0);
  EXPECT_EQ(off.ipv6_limit(1420), 0);
  EXPECT_EQ(off.to_string(), "off");
  for (const uint32_t n : {536u, 1300u, 65535u}) {
    const std::string text = "interface:\n  private-key: PRIV_A\n  mss-clamp: " + std::to_string(n) + "\n";
    const MssClamp c = load_ok(text.c_str()).interface.mss_clamp;
    EXPECT_EQ(c.mode, MssClamp::Mode::kFixed);
    EXPECT_EQ(c.ipv4_limit(1420), n);  // N, whatever the MTU
    EXPECT_EQ(c.ipv6_limit(1420), n - 20);
    EXPECT_EQ(c.to_string(), std::to_string(n));
  }
}

TEST(ConfigLoad, BadMssClampValuesAreLocated) {
  for (const char* bad : {"535", "65536", "0", "sometimes", "[1300]", "-1", "true"}) {
    const std::string text = std::string("interface:\n  private-key: PRIV_A\n  mss-clamp: ") + bad + "\n";
    const auto r = load_text(with_keys(text), "mss.yaml");
    ASSERT_FALSE(r.ok()) << bad;
    ASSERT_EQ(r.error().size(), 1u) << dump(r.error());
    const auto& d = r.error()[0];
    EXPECT_EQ(d.path, "interface.mss-clamp") << bad;
    EXPECT_EQ(d.where.line, 3) << bad;
    EXPECT_EQ(d.where.column, 14) << bad;
    EXPECT_NE(d.message.find("auto, off, or the largest IPv4 TCP MSS, 536..65535"), std::string::npos) << d.message;
  }
}

TEST(ConfigLoad, CopyDscpIsOffByDefaultAndABoolean) {
  EXPECT_FALSE(load_ok("interface:\n  private-key: PRIV_A\n").interface.copy_dscp);
  EXPECT_TRUE(load_ok("interface:\n  private-key: PRIV_A\n  copy-dscp: true\n").interface.copy_dscp);
  EXPECT_FALSE(load_ok("interface:\n  private-key: PRIV_A\n  copy-dscp: false\n").interface.copy_dscp);
  for (const char* bad : {"yes", "1", "[true]", "ef"}) {
    const std::string text = std::string("interface:\n  private-key: PRIV_A\n  copy-dscp: ") + bad + "\n";
    const auto r = load_text(with_keys(text), "dscp.yaml");
    ASSERT_FALSE(r.ok()) << bad;
    ASSERT_EQ(r.error().size(), 1u) << dump(r.error());
    EXPECT_EQ(r.error()[0].path, "interface.copy-dscp") << bad;
    EXPECT_EQ(r.error()[0].where.line, 3) << bad;
  }
}

TEST(ConfigLoad, BadDataPathValuesNameTheirField) {
  const auto r = load_text(with_keys(R"(interface:
  private-key: PRIV_A
  crypto-threads: 65
  socket-buffer: 1073741825
  udp-gso: sometimes
)"),
                           "dp.yaml");
  ASSERT_FALSE(r.ok());
  std::vector<std::string> got;
  for (const auto& d : r.error())
    got.push_back(std::to_string(d.where.line) + ":" + std::to_string(d.where.column) + " " + d.path);
  EXPECT_EQ(got, (std::vector<std::string>{"3:19 interface.crypto-threads", "4:18 interface.socket-buffer",
                                           "5:12 interface.udp-gso"}))
      << dump(r.error());
  EXPECT_NE(r.error()[0].message.find("auto, or a number of threads 0..64"), std::string::npos) << r.error()[0].message;
}

TEST(ConfigLoad, EmptyPeersAndQuotedNumbersAreAccepted) {
  const Config c = load_ok("interface:\n  private-key: PRIV_A\n  mtu: \"1400\"\n  routes: True\npeers:\n");
  EXPECT_EQ(c.interface.mtu, 1400u);
  EXPECT_TRUE(c.peers.empty());
}

TEST(ConfigLoad, HostBitsAreClearedInTheResult) {
  auto r = load_text(
      with_keys(
          "interface:\n  private-key: PRIV_A\npeers:\n  - public-key: PUB_B\n    allowed-ips: [198.18.1.77/24]\n"),
      "t.yaml");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_EQ(r->config.peers[0].allowed_ips[0].to_string(), "198.18.1.0/24");
}

// Every error in the file is reported, each at its own place, in file order.
TEST(ConfigLoad, ReportsEveryErrorInTheFile) {
  const std::string yaml = with_keys(R"(interface:
  name: this-name-is-too-long
  private-key: PRIV_A
  listen-port: 70000
  adress: [198.18.0.1/24]
peers:
  - name: office-b
    public-key: PUB_B
    endpoint: gw.example
    allowed-ips: [198.18.1.0/24, 198.18.300.0/24]
  - public-key: PUB_B
    allowed-ips: [198.18.1.0/24]
    persistent-keepalive: -5
)");
  const auto r = load_text(yaml, "office.yaml");
  ASSERT_FALSE(r.ok());
  std::vector<std::string> got;
  for (const auto& d : r.error())
    got.push_back(std::to_string(d.where.line) + ":" + std::to_string(d.where.column) + " " + d.path);
  const std::vector<std::string> want = {
      "2:9 interface.name",
      "4:16 interface.listen-port",
      "5:3 interface.adress",
      "9:15 peers[0].endpoint",
      "10:34 peers[0].allowed-ips[1]",
      "11:17 peers[1].public-key",
      "12:19 peers[1].allowed-ips[0]",
      "13:27 peers[1].persistent-keepalive",
  };
  EXPECT_EQ(got, want) << dump(r.error());
  EXPECT_EQ(count_errors(r.error()), want.size());
  EXPECT_EQ(r.error()[2].message, "unknown key 'adress'; did you mean 'address'?");
  EXPECT_EQ(r.error()[6].message,
            "198.18.1.0/24 is also an allowed-ip of peers[0] (office-b); each prefix routes to exactly one peer");
}

TEST(ConfigLoad, DiagnosticFormatMatchesSpec) {
  Diagnostic d{
      Severity::kError, "office.yaml", {14, 7}, "peers[1].allowed-ips[0]", "'198.18.300.0/24' is not an IP prefix"};
  EXPECT_EQ(d.to_string(), "office.yaml:14:7: peers[1].allowed-ips[0]: '198.18.300.0/24' is not an IP prefix");
  d.severity = Severity::kWarning;
  EXPECT_EQ(d.to_string(), "office.yaml:14:7: warning: peers[1].allowed-ips[0]: '198.18.300.0/24' is not an IP prefix");
  d.severity = Severity::kNote;
  EXPECT_EQ(d.to_string(), "office.yaml:14:7: note: peers[1].allowed-ips[0]: '198.18.300.0/24' is not an IP prefix");
  const Diagnostic syntax{Severity::kError, "a.yaml", {3, 1}, "", "YAML syntax error: x"};
  EXPECT_EQ(syntax.to_string(), "a.yaml:3:1: YAML syntax error: x");
  const Diagnostic file{
      Severity::kError, "/etc/sitelink/x.yaml", {}, "", "cannot read the configuration: No such file or directory"};
  EXPECT_EQ(file.to_string(), "/etc/sitelink/x.yaml: cannot read the configuration: No such file or directory");
}

// The shipped example names /etc/sitelink/office-a.key and ab.psk; the test
// points those paths into a temporary directory holding mode-0600 keys, so
// the real file (comments and all) is what gets loaded.
TEST(ConfigLoad, ShippedExampleLoadsCleanly) {
  const std::string original = test::read_file(std::string(SITELINK_SOURCE_DIR) + "/packaging/examples/office-a.yaml");
  ASSERT_NE(original.find("private-key-file: /etc/sitelink/office-a.key"), std::string::npos);
  test::TempDir dir;
  dir.write("office-a.key", std::string(test::kPrivA) + "\n");
  dir.write("ab.psk", std::string(test::kPsk) + "\n");
  std::string text = original;
  for (size_t at = text.find("/etc/sitelink/"); at != std::string::npos; at = text.find("/etc/sitelink/", at + 1)) {
    text.replace(at, 14, dir.path() + "/");
  }
  const std::string path = dir.write("office-a.yaml", text, 0644);
  const auto r = load_file(path);
  ASSERT_TRUE(r.ok()) << dump(test::diagnostics_of(r));
  EXPECT_TRUE(r->warnings.empty()) << dump(r->warnings);
  EXPECT_EQ(r->config.interface.name, "sl0");
  EXPECT_EQ(r->config.peers.size(), 2u);
  EXPECT_EQ(r->config.peers[0].preshared_key.to_base64(), test::kPsk);
  // Without reading key files (as the fuzzer loads) the original loads too.
  LoadOptions no_keys;
  no_keys.read_key_files = false;
  const auto unread = load_text(original, "office-a.yaml", no_keys);
  EXPECT_TRUE(unread.ok()) << dump(test::diagnostics_of(unread));
}

// SPEC.md's own sample, with its BASE64 placeholders filled in.
TEST(ConfigLoad, SpecSampleLoadsCleanly) {
  test::TempDir dir;
  dir.write("office-a.key", test::kPrivA);
  dir.write("ab.psk", test::kPsk);
  const std::string yaml = with_keys(R"(interface:
  name: sl0                       # TUN name, <= 15 chars; default sl0
  private-key-file: DIR/office-a.key   # or private-key: BASE64 (exactly one)
  listen-port: 51820              # default 51820; 0 = any free port
  address: [198.18.0.1/24, 2001:db8:a::1/64]     # optional, assigned to the TUN
  mtu: 1420                       # default 1420
  routes: true                    # default true: route each peer's allowed-ips via the TUN
  fwmark: 0                       # optional mark on outgoing UDP packets
  rekey-after-time: 120           # seconds; default 120 (WireGuard's); advanced, for tests
peers:
  - name: office-b                # optional label shown in logs and status
    public-key: PUB_B
    preshared-key-file: DIR/ab.psk     # optional; or preshared-key: BASE64
    endpoint: gw.office-b.example:51820          # optional; host:port, DNS names allowed;
                                                 # IPv6 as "[2001:db8::1]:51820" (quoted: YAML reads [ as a list)
    allowed-ips: [198.18.1.0/24, 2001:db8:b::/48]
    persistent-keepalive: 25      # seconds; 0 or absent = off
)");
  std::string text = yaml;
  for (size_t at = text.find("DIR"); at != std::string::npos; at = text.find("DIR", at))
    text.replace(at, 3, dir.path());
  const auto r = load_text(text, "spec.yaml");
  ASSERT_TRUE(r.ok()) << dump(test::diagnostics_of(r));
  EXPECT_TRUE(r->warnings.empty()) << dump(r->warnings);
  EXPECT_EQ(r->config.interface.public_key().to_base64(), test::kPubA);
}

}  // namespace
}  // namespace sitelink::config
