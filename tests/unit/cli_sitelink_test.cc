// The `sitelink` tool, run as a built binary: keys agree with `wg` (genkey
// -> pubkey against wg pubkey, in both directions), genpsk gives 32 bytes,
// genkey warns about files others can read, check shares sitelinkd --check's
// code path (same output, exit 0 or 78), show cannot reach the daemon yet
// (exit 1), and every usage error is exit 64 with a hint to --help.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "cli_test_util.h"
#include "daemon/check_command.h"
#include "handshake/keys.h"

namespace sitelink::test {
namespace {

constexpr const char* kWg = "/usr/bin/wg";
const std::regex kKeyLine("[A-Za-z0-9+/]{43}=\n");

bool have_wg() { return ::access(kWg, X_OK) == 0; }

TEST(CliSitelink, GenkeyPrintsADecodableKey) {
  const auto a = run(sitelink({"genkey"}));
  const auto b = run(sitelink({"genkey"}));
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(a.err, "");
  EXPECT_TRUE(std::regex_match(a.out, kKeyLine)) << a.out;
  EXPECT_NE(a.out, b.out);
  EXPECT_TRUE(handshake::PrivateKey::from_base64(a.out.substr(0, 44)).has_value());
}

TEST(CliSitelink, GenpskDecodesTo32Bytes) {
  const auto r = run(sitelink({"genpsk"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(std::regex_match(r.out, kKeyLine)) << r.out;
  std::array<uint8_t, 32> bytes{};
  EXPECT_TRUE(handshake::key_from_base64(r.out.substr(0, 44), bytes));
  EXPECT_NE(bytes, (std::array<uint8_t, 32>{}));
}

TEST(CliSitelink, GenkeyThenPubkeyAgreesWithWg) {
  if (!have_wg()) GTEST_SKIP() << kWg << " not installed";
  for (int i = 0; i < 3; ++i) {
    const std::string priv = run(sitelink({"genkey"})).out;
    const auto ours = run(sitelink({"pubkey"}), priv);
    const auto theirs = run({kWg, "pubkey"}, priv);
    ASSERT_EQ(ours.exit_code, 0) << ours.err;
    ASSERT_EQ(theirs.exit_code, 0) << theirs.err;
    EXPECT_EQ(ours.out, theirs.out);
  }
}

TEST(CliSitelink, WgGenkeyWorksWithOurPubkey) {
  if (!have_wg()) GTEST_SKIP() << kWg << " not installed";
  const std::string priv = run({kWg, "genkey"}).out;
  EXPECT_EQ(run(sitelink({"pubkey"}), priv).out, run({kWg, "pubkey"}, priv).out);
  EXPECT_EQ(run(sitelink({"pubkey"}), std::string(kPrivA)).out, std::string(kPubA) + "\n");
}

TEST(CliSitelink, PubkeyIgnoresSurroundingWhitespace) {
  const auto r = run(sitelink({"pubkey"}), "\n  " + std::string(kPrivA) + "  \r\n\n");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, std::string(kPubA) + "\n");
}

TEST(CliSitelink, PubkeyRefusesInputThatIsNotAKeyWith64) {
  for (const std::string& bad :
       std::vector<std::string>{"", "not a key\n", std::string(kPrivA).substr(0, 43) + "\n",
                                std::string(kPrivA) + std::string(kPrivA), std::string(kPrivA) + " x"}) {
    const auto r = run(sitelink({"pubkey"}), bad);
    EXPECT_EQ(r.exit_code, 64) << bad;
    EXPECT_EQ(r.out, "");
    EXPECT_NE(r.err.find("not a private key"), std::string::npos) << r.err;
  }
}

TEST(CliSitelink, GenkeyWarnsWhenTheFileIsReadableByOthers) {
  TempDir dir;
  const std::string open = dir.write("open.key", "", 0644);
  auto r = run(sitelink({"genkey"}), "", open);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.err.find("umask to 077"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("(mode 0644)"), std::string::npos) << r.err;
  EXPECT_TRUE(std::regex_match(read_file(open), kKeyLine));
  const std::string group = dir.write("group.psk", "", 0640);
  EXPECT_NE(run(sitelink({"genpsk"}), "", group).err.find("umask to 077"), std::string::npos);
  const std::string closed = dir.write("closed.key", "", 0600);
  r = run(sitelink({"genkey"}), "", closed);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.err, "");
  EXPECT_TRUE(std::regex_match(read_file(closed), kKeyLine));
}

TEST(CliSitelink, GenkeyToAFullDeviceIs1) {
  if (::access("/dev/full", W_OK) != 0) GTEST_SKIP() << "no /dev/full";
  const auto r = run(sitelink({"genkey"}), "", "/dev/full");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("cannot write"), std::string::npos) << r.err;
}

class CliSitelinkCheck : public testing::Test {
 protected:
  void SetUp() override {
    dir_.write("a.key", kPrivA);
    good_ = dir_.write("good.yaml",
                       std::string("interface:\n  private-key-file: a.key\npeers:\n  - public-key: ") + kPubB +
                           "\n    allowed-ips: [198.18.1.1/24]\n  - public-key: " + kPubC +
                           "\n    allowed-ips: [198.18.2.0/24]\n",
                       0644);
    bad_ = dir_.write("bad.yaml",
                      std::string("interface:\n  private-key-file: a.key\npeers:\n  - public-key: ") + kPubB +
                          "\n    allowed-ips: [198.18.300.0/24]\n    endpont: 198.51.100.1:51820\n",
                      0644);
  }
  TempDir dir_;
  std::string good_;
  std::string bad_;
};

TEST_F(CliSitelinkCheck, ValidFileWithWarningsIs0) {
  const auto r = run(sitelink({"check", good_}));
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, good_ + ": OK (interface sl0, 2 peers)\n");
  EXPECT_EQ(
      r.err,
      good_ + ":5:19: warning: peers[0].allowed-ips[0]: '198.18.1.1/24' has host bits set; using 198.18.1.0/24\n");
}

TEST_F(CliSitelinkCheck, InvalidFileIs78WithEveryProblemInSpecFormat) {
  const auto r = run(sitelink({"check", bad_}));
  EXPECT_EQ(r.exit_code, 78);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, bad_ + ":5:19: peers[0].allowed-ips[0]: '198.18.300.0/24' is not an IP prefix\n" + bad_ +
                       ":6:5: peers[0].endpont: unknown key 'endpont'; did you mean 'endpoint'?\n" + bad_ +
                       ": 2 errors, configuration not usable\n");
}

TEST_F(CliSitelinkCheck, SameOutputAsSitelinkdCheck) {
  for (const std::string& file : {good_, bad_, dir_.file("absent.yaml")}) {
    const auto a = run(sitelink({"check", file}));
    const auto b = run(sitelinkd({"--check", "--config", file}));
    EXPECT_EQ(a.exit_code, b.exit_code) << file;
    EXPECT_EQ(a.out, b.out) << file;
    EXPECT_EQ(a.err, b.err) << file;
  }
}

// A source that is not an address of this host is a warning, not an
// error (addresses come and go): loopback is local, 198.51.100.77 is not.
TEST_F(CliSitelinkCheck, SourceThatIsNotLocalIsAWarning) {
  const std::string yaml = dir_.write(
      "two-lines.yaml",
      std::string("interface:\n  private-key-file: a.key\npeers:\n  - name: office-b\n    public-key: ") + kPubB +
          "\n    allowed-ips: [198.18.1.0/24]\n    endpoints:\n      - endpoint: 127.0.0.1:51820\n"
          "        source: 127.0.0.1\n      - endpoint: 198.51.100.1:51820\n        source: 198.51.100.77\n",
      0600);
  const auto r = run(sitelink({"check", yaml}));
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, yaml + ": OK (interface sl0, 1 peer)\n");
  EXPECT_EQ(r.err,
            "warning: peer office-b: source 198.51.100.77 is not an address of this host (yet): the kernel will "
            "choose the source until it is\n");
  EXPECT_EQ(run(sitelinkd({"--check", "--config", yaml})).err, r.err);
}

TEST_F(CliSitelinkCheck, MissingFileIs78) {
  const auto r = run(sitelink({"check", dir_.file("absent.yaml")}));
  EXPECT_EQ(r.exit_code, 78);
  EXPECT_EQ(r.err, dir_.file("absent.yaml") + ": cannot read the configuration: No such file or directory\n" +
                       dir_.file("absent.yaml") + ": 1 error, configuration not usable\n");
}

TEST(CliSitelink, ShowSaysWhenNoDaemonServesTheInterface) {
  // A name no daemon can be serving (other tests may run real daemons, so
  // "show" without a name is not asserted on here).
  const std::string iface = "slnone" + std::to_string(getpid() % 100000);
  const auto one = run(sitelink({"show", iface}));
  EXPECT_EQ(one.exit_code, 1);
  EXPECT_NE(one.err.find("cannot reach the daemon at /run/wireguard/" + iface + ".sock"), std::string::npos) << one.err;
  EXPECT_EQ(run(sitelink({"show", iface, "--json"})).exit_code, 1);
}

TEST(CliSitelink, HelpAndVersion) {
  const auto help = run(sitelink({"--help"}));
  EXPECT_EQ(help.exit_code, 0);
  for (const char* s : {"genkey", "pubkey", "genpsk", "show", "check", "--json", "Exit status", "64", "78"}) {
    EXPECT_NE(help.out.find(s), std::string::npos) << s;
  }
  EXPECT_EQ(run(sitelink({"help"})).out, help.out);
  const auto check_help = run(sitelink({"check", "--help"}));
  EXPECT_EQ(check_help.exit_code, 0);
  EXPECT_NE(check_help.out.find("Usage: sitelink check FILE"), std::string::npos);
  const auto v = run(sitelink({"--version"}));
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_TRUE(std::regex_match(v.out, std::regex("sitelink [0-9]+\\.[0-9]+\\.[0-9]+\n"))) << v.out;
}

struct UsageCase {
  std::vector<std::string> args;
  std::string err;
};

class CliSitelinkUsage : public testing::TestWithParam<UsageCase> {};

TEST_P(CliSitelinkUsage, IsExit64WithReasonAndHint) {
  const auto r = run(sitelink(GetParam().args));
  EXPECT_EQ(r.exit_code, 64);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, GetParam().err);
}

INSTANTIATE_TEST_SUITE_P(
    CliSitelink, CliSitelinkUsage,
    testing::Values(
        UsageCase{
            {},
            "sitelink: missing COMMAND (genkey, pubkey, genpsk, show, check or metrics)\nTry 'sitelink --help' for more information.\n"},
        UsageCase{{"--bogus"},
                  "sitelink: unrecognised option '--bogus'\nTry 'sitelink --help' for more information.\n"},
        UsageCase{
            {"gneky"},
            "sitelink: unknown command 'gneky'; did you mean 'genkey'?\nTry 'sitelink --help' for more information.\n"},
        UsageCase{{"frobnicate"},
                  "sitelink: unknown command 'frobnicate'; expected genkey, pubkey, genpsk, show, check or metrics\n"
                  "Try 'sitelink --help' for more information.\n"},
        UsageCase{{"genkey", "extra"},
                  "sitelink genkey: unexpected argument 'extra'\nTry 'sitelink genkey --help' for more information.\n"},
        UsageCase{
            {"genpsk", "--bogus"},
            "sitelink genpsk: unrecognised option '--bogus'\nTry 'sitelink genpsk --help' for more information.\n"},
        UsageCase{
            {"check"},
            "sitelink check: missing FILE (usage: sitelink check FILE)\nTry 'sitelink check --help' for more information.\n"},
        UsageCase{{"check", "a.yaml", "b.yaml"},
                  "sitelink check: unexpected argument 'b.yaml'\nTry 'sitelink check --help' for more information.\n"},
        UsageCase{{"show", "a", "b"},
                  "sitelink show: unexpected argument 'b'\nTry 'sitelink show --help' for more information.\n"},
        UsageCase{
            {"show", "a/b"},
            "sitelink show: 'a/b' is not a valid interface name: it contains '/'\nTry 'sitelink show --help' for more information.\n"}));

}  // namespace
}  // namespace sitelink::test

namespace sitelink::test {
namespace {

using daemon::unit_visibility_warnings;

// A directory the unit could see, as /etc/sitelink is: a configuration
// there is one the unit could run. Beside the built binaries, unless the
// tree itself sits where the unit cannot see (a clone in /tmp, as CI's):
// then /var/lib, where root may write.
class UnitVisibleDir {
 public:
  UnitVisibleDir() {
    for (const std::string& base :
         {std::filesystem::path(SITELINK_BIN).parent_path().string(), std::string("/var/lib")}) {
      std::string tmpl = base + "/check-test-XXXXXX";
      if (!unit_visibility_warnings({tmpl}).empty() || ::mkdtemp(tmpl.data()) == nullptr) continue;
      path_ = tmpl;
      return;
    }
    throw std::runtime_error("no writable directory the unit could see (run as root)");
  }
  ~UnitVisibleDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string path_;
};

TEST(UnitVisibility, HiddenPlacesNameTheUnitSetting) {
  const auto w = unit_visibility_warnings({"/home/ann/a.key", "/etc/sitelink/a.key", "/tmp/x.psk", "/run/user/0/k"});
  ASSERT_EQ(w.size(), 3u);
  EXPECT_NE(w[0].find("/home/ann/a.key: the sitelink@ unit cannot read it: ProtectHome=yes"), std::string::npos)
      << w[0];
  EXPECT_NE(w[1].find("/tmp/x.psk: the sitelink@ unit cannot read it: PrivateTmp=yes"), std::string::npos) << w[1];
  EXPECT_NE(w[2].find("ProtectHome=yes"), std::string::npos) << w[2];
  EXPECT_NE(w[0].find("move it to /etc/sitelink"), std::string::npos) << w[0];
}

TEST(UnitVisibility, CheckWarnsForAKeyFileInTmpOrThroughALinkToIt) {
  TempDir tmp;  // under /tmp
  const std::string psk = tmp.write("ab.psk", std::string(test::kPsk) + "\n");
  UnitVisibleDir etc;
  const std::string key = etc.path_ + "/a.key";
  {
    std::ofstream(key) << test::kPrivA << "\n";
    ::chmod(key.c_str(), 0600);
  }
  const std::string link = etc.path_ + "/linked.psk";
  ASSERT_EQ(::symlink(psk.c_str(), link.c_str()), 0);
  const std::string yaml = etc.path_ + "/office.yaml";
  std::ofstream(yaml) << "interface:\n  private-key-file: a.key\npeers:\n  - public-key: " << test::kPubB
                      << "\n    preshared-key-file: " << psk << "\n    allowed-ips: [198.18.1.0/24]\n"
                      << "  - public-key: " << test::kPubC
                      << "\n    preshared-key-file: linked.psk\n    allowed-ips: [198.18.2.0/24]\n";
  ::chmod(yaml.c_str(), 0600);
  const auto r = run(sitelink({"check", yaml}));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("warning: " + psk + ": the sitelink@ unit cannot read it: PrivateTmp=yes"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("warning: " + link + " (" + psk + "): the sitelink@ unit cannot read it"), std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find(key), std::string::npos) << "a.key is where the unit can read it: " << r.err;
}

}  // namespace
}  // namespace sitelink::test
