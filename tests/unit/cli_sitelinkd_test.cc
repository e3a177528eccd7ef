// sitelinkd's command line: option parsing in-process (every usage error is
// exit 64 with the reason and a hint to --help), then the built binary's
// exit codes: 0 for --help, --version and a valid --check; 78 for invalid or
// missing files. No test here starts a gateway.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <algorithm>
#include <regex>
#include <sstream>

#include "cli_test_util.h"
#include "daemon/exit_codes.h"
#include "daemon/sitelinkd_cli.h"

namespace sitelink::daemon {
namespace {

using test::run;
using test::sitelinkd;

struct Parse {
  Result<DaemonOptions, int> result = Err(0);
  std::string err;
};

Parse parse(std::vector<std::string> args) {
  std::istringstream in;
  std::ostringstream out;
  std::ostringstream err;
  Io io{in, out, err};
  Parse p;
  p.result = parse_sitelinkd_args(args, io);
  p.err = err.str();
  return p;
}

TEST(CliSitelinkdArgs, ConfigMode) {
  const auto p = parse({"--config", "/etc/sitelink/a.yaml", "--log-level", "debug", "--check"});
  ASSERT_TRUE(p.result.ok()) << p.err;
  EXPECT_EQ(p.result->mode, DaemonOptions::Mode::kConfig);
  EXPECT_EQ(p.result->config_file, "/etc/sitelink/a.yaml");
  EXPECT_EQ(p.result->log_level, LogLevel::kDebug);
  EXPECT_TRUE(p.result->check);
  const auto short_form = parse({"-c", "a.yaml"});
  ASSERT_TRUE(short_form.result.ok());
  EXPECT_EQ(short_form.result->config_file, "a.yaml");
  EXPECT_FALSE(short_form.result->log_level) << "no --log-level: the file's log-level applies";
  EXPECT_FALSE(short_form.result->check);
  EXPECT_TRUE(parse({"--config=a.yaml", "--log-level=warn"}).result.ok());
}

TEST(CliSitelinkdArgs, InterfaceMode) {
  const auto p = parse({"-f", "wg0"});
  ASSERT_TRUE(p.result.ok()) << p.err;
  EXPECT_EQ(p.result->mode, DaemonOptions::Mode::kInterface);
  EXPECT_EQ(p.result->interface, "wg0");
  EXPECT_TRUE(p.result->foreground);
  EXPECT_FALSE(parse({"wg0"}).result->foreground);
  EXPECT_TRUE(parse({"wg0", "--foreground"}).result->foreground);
}

TEST(CliSitelinkdArgs, HelpAndVersion) {
  EXPECT_EQ(parse({"--help"}).result->mode, DaemonOptions::Mode::kHelp);
  EXPECT_EQ(parse({"-h"}).result->mode, DaemonOptions::Mode::kHelp);
  EXPECT_EQ(parse({"--version"}).result->mode, DaemonOptions::Mode::kVersion);
}

struct UsageCase {
  std::vector<std::string> args;
  std::string reason;
};

class CliSitelinkdUsage : public testing::TestWithParam<UsageCase> {};

TEST_P(CliSitelinkdUsage, IsExit64WithReasonAndHint) {
  const auto p = parse(GetParam().args);
  ASSERT_FALSE(p.result.ok());
  EXPECT_EQ(p.result.error(), kExitUsage);
  EXPECT_EQ(p.err, "sitelinkd: " + GetParam().reason + "\nTry 'sitelinkd --help' for more information.\n");
}

INSTANTIATE_TEST_SUITE_P(
    CliSitelinkd, CliSitelinkdUsage,
    testing::Values(UsageCase{{"--bogus"}, "unrecognised option '--bogus'"},
                    UsageCase{{"--config"}, "the required argument for option '--config' is missing"},
                    UsageCase{{"--config", "a.yaml", "--config", "b.yaml"},
                              "option '--config' cannot be specified more than once"},
                    UsageCase{{}, "missing --config FILE or IFACE"},
                    UsageCase{{"--check"}, "--check needs --config FILE"},
                    UsageCase{{"--check", "wg0"}, "--check needs --config FILE"},
                    UsageCase{{"--config", "a.yaml", "wg0"}, "give either --config FILE or IFACE, not both"},
                    UsageCase{{"wg0", "wg1"}, "expected one IFACE, got 2 arguments"},
                    UsageCase{{"--config", "a.yaml", "--log-level", "loud"},
                              "invalid --log-level 'loud'; expected error, warn, info or debug"},
                    UsageCase{{"a/b"}, "'a/b' is not a valid interface name: it contains '/'"},
                    UsageCase{{"this-is-far-too-long"},
                              "'this-is-far-too-long' is not a valid interface name: it is longer than 15 characters"},
                    UsageCase{{"--config", ""}, "--config needs a file name"}));

// --- the binary -------------------------------------------------------------

class CliSitelinkdBinary : public testing::Test {
 protected:
  void SetUp() override {
    dir_.write("a.key", test::kPrivA);
    good_ = dir_.write("good.yaml",
                       std::string("interface:\n  private-key-file: a.key\npeers:\n  - public-key: ") + test::kPubB +
                           "\n    allowed-ips: [198.18.1.0/24]\n",
                       0644);
    bad_ = dir_.write("bad.yaml", "interface:\n  private-key-file: a.key\n  mtu: 10\n  colour: blue\n", 0644);
  }
  test::TempDir dir_;
  std::string good_;
  std::string bad_;
};

TEST_F(CliSitelinkdBinary, HelpDocumentsEveryOptionAndTheManPageSections) {
  const auto r = run(sitelinkd({"--help"}));
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.err, "");
  for (const char* s : {"--config",
                        "--log-level",
                        "--check",
                        "--foreground",
                        "-f",
                        "--help",
                        "--version",
                        "IFACE",
                        "Exit status",
                        "64",
                        "78",
                        "Signals",
                        "SIGHUP",
                        "SIGTERM",
                        "Files",
                        "/run/wireguard/IFACE.sock",
                        "/etc/sitelink/NAME.yaml",
                        "Environment",
                        "NOTIFY_SOCKET",
                        "JOURNAL_STREAM",
                        "private-key-file",
                        "allowed-ips",
                        "persistent-keepalive",
                        "rekey-after-time",
                        "fwmark",
                        "routes",
                        "endpoint",
                        "preshared-key",
                        "listen-port",
                        "address",
                        "mtu"}) {
    EXPECT_NE(r.out.find(s), std::string::npos) << s;
  }
}

TEST_F(CliSitelinkdBinary, Version) {
  const auto r = run(sitelinkd({"--version"}));
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(std::regex_match(r.out, std::regex("sitelinkd [0-9]+\\.[0-9]+\\.[0-9]+\n"))) << r.out;
}

TEST_F(CliSitelinkdBinary, UnknownFlagIs64) {
  const auto r = run(sitelinkd({"--bogus"}));
  EXPECT_EQ(r.exit_code, 64);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("--help"), std::string::npos);
}

// Core dumps are off before the configuration (which may hold a key inline)
// is read. The configuration is a FIFO, so sitelinkd is caught between
// opening it and reading it; the core size limit it inherited (raised here)
// must already be 0 then. Before, only the running daemon turned them off.
TEST_F(CliSitelinkdBinary, CoreDumpsAreOffBeforeTheConfigurationIsRead) {
  const std::string fifo = dir_.file("config.fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_CORE, &saved), 0);
  const rlimit raised{1 << 20, std::max<rlim_t>(saved.rlim_max, 1 << 20)};
  ASSERT_EQ(::setrlimit(RLIMIT_CORE, &raised), 0) << "needs root to raise the hard core limit";
  const std::string bin = SITELINKD_BIN;
  std::vector<char*> args{const_cast<char*>(bin.c_str()), const_cast<char*>("--check"), const_cast<char*>("--config"),
                          const_cast<char*>(fifo.c_str()), nullptr};
  pid_t pid = -1;
  const int spawned = posix_spawn(&pid, args[0], nullptr, nullptr, args.data(), environ);
  ::setrlimit(RLIMIT_CORE, &saved);
  ASSERT_EQ(spawned, 0);
  // Opening the write end succeeds once sitelinkd has opened the read end.
  int w = -1;
  for (int tries = 0; tries < 10000 && w < 0; ++tries) {
    w = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (w < 0 && errno == ENXIO) ::usleep(1000);  // no reader yet: poll, bounded at 10 s
  }
  ASSERT_GE(w, 0) << "sitelinkd never opened its configuration";
  std::string core_line;
  std::istringstream limits(test::read_file("/proc/" + std::to_string(pid) + "/limits"));
  for (std::string line; std::getline(limits, line);) {
    if (line.rfind("Max core file size", 0) == 0) core_line = line;
  }
  const std::string config = test::read_file(good_);
  EXPECT_EQ(::write(w, config.data(), config.size()), static_cast<ssize_t>(config.size()));
  ::close(w);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_TRUE(std::regex_search(core_line, std::regex("^Max core file size +0 +0 "))) << core_line;
}

TEST_F(CliSitelinkdBinary, CheckValidFileIs0) {
  const auto r = run(sitelinkd({"--check", "--config", good_}));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, good_ + ": OK (interface sl0, 1 peer)\n");
  EXPECT_EQ(r.err, "");
}

TEST_F(CliSitelinkdBinary, CheckInvalidFileIs78WithEveryProblem) {
  const auto r = run(sitelinkd({"--check", "--config", bad_}));
  EXPECT_EQ(r.exit_code, 78);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(
      r.err,
      bad_ +
          ":3:8: interface.mtu: 10 is out of range; expected an MTU in bytes, 576..65475 (1280 or more with IPv6)\n" +
          bad_ +
          ":4:3: interface.colour: unknown key 'colour'; expected one of: name, private-key, "
          "private-key-file, listen-port, address, mtu, routes, fwmark, rekey-after-time, log-level, batch-io, udp-gso, "
          "udp-gro, tun-offload, socket-buffer, crypto-threads, mss-clamp, copy-dscp, failover-after, failback-interval\n" +
          bad_ + ": 2 errors, configuration not usable\n");
}

TEST_F(CliSitelinkdBinary, MissingConfigOrKeyFileIs78) {
  EXPECT_EQ(run(sitelinkd({"--check", "--config", dir_.file("absent.yaml")})).exit_code, 78);
  EXPECT_EQ(run(sitelinkd({"--config", dir_.file("absent.yaml")})).exit_code, 78);
  ASSERT_EQ(::unlink(dir_.file("a.key").c_str()), 0);
  const auto r = run(sitelinkd({"--check", "--config", good_}));
  EXPECT_EQ(r.exit_code, 78);
  EXPECT_NE(r.err.find("cannot read key file"), std::string::npos) << r.err;
}

TEST_F(CliSitelinkdBinary, ReadableKeyFileIs78) {
  ASSERT_EQ(::chmod(dir_.file("a.key").c_str(), 0644), 0);
  const auto r = run(sitelinkd({"--check", "--config", good_}));
  EXPECT_EQ(r.exit_code, 78);
  EXPECT_NE(r.err.find("run 'chmod 600 " + dir_.file("a.key") + "'"), std::string::npos) << r.err;
}

// Running the gateway is tunnel/'s business; what belongs here is that an
// invalid file stops sitelinkd before anything is created.
TEST_F(CliSitelinkdBinary, InvalidConfigStopsBeforeRunning) {
  const auto r = run(sitelinkd({"--config", bad_}));
  EXPECT_EQ(r.exit_code, 78);
  EXPECT_NE(r.err.find(bad_ + ":3:8: interface.mtu:"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace sitelink::daemon
