// The limits of one interface's configuration file: its size
// (kMaxConfigSize), the number of peers (kMaxPeers) and of allowed-ips in
// all peers together (kMaxAllowedIps). One past a limit is one located
// error at the first peer or allowed-ip beyond it, and nothing else.
//
// The files over a count limit repeat a peer or a list with YAML aliases:
// yaml-cpp then parses a few thousand nodes rather than a million (a file
// spelling out 1,048,577 allowed-ips takes it about 15 s), while the loader
// still reads every repetition, as it would a file written out in full.
#include <gtest/gtest.h>

#include <string>

#include "config/load.h"
#include "config_test_util.h"

namespace sitelink::config {
namespace {

using test::dump;
using test::with_keys;

constexpr const char* kHeader = "interface:\n  private-key: PRIV_A\npeers:\n";

// The only diagnostic of a failed load.
Diagnostic only_error(const Result<Loaded, Diagnostics>& r) {
  EXPECT_FALSE(r.ok());
  const Diagnostics ds = test::diagnostics_of(r);
  EXPECT_EQ(ds.size(), 1u) << dump(ds);
  return ds.empty() ? Diagnostic{} : ds[0];
}

TEST(ConfigLimits, OnePeerBeyondTheLimitIsOneLocatedError) {
  // peers[0] is written out, peers[1..65535] repeat it, peers[65536] is new.
  std::string yaml = std::string(kHeader) + "  - &p {public-key: PUB_B}\n";
  for (size_t k = 1; k < kMaxPeers; ++k) yaml += "  - *p\n";
  yaml += "  - public-key: PUB_C\n";
  const auto r = load_text(with_keys(yaml), "office.yaml");
  const Diagnostic d = only_error(r);
  EXPECT_EQ(d.severity, Severity::kError);
  EXPECT_EQ(d.where.line, static_cast<int>(3 + kMaxPeers + 1)) << d.to_string();
  EXPECT_EQ(d.where.column, 5) << d.to_string();
  EXPECT_EQ(d.path, "peers[65536]");
  EXPECT_EQ(d.message, "beyond the limit of 65536 peers per interface");
}

// 1024 peers of 1024 allowed-ips each make kMaxAllowedIps exactly; one more
// allowed-ip in a further peer passes the limit.
TEST(ConfigLimits, OneAllowedIpBeyondTheLimitIsOneLocatedError) {
  static_assert(kMaxAllowedIps == 1024 * 1024);
  std::string list;
  for (int n = 0; n < 1024; ++n)
    list += (n == 0 ? "" : ", ") + std::string("198.18.") + std::to_string(n / 256) + "." + std::to_string(n % 256) +
            "/32";
  std::string yaml = std::string(kHeader) + "  - public-key: PUB_B\n    allowed-ips: &ips [" + list + "]\n";
  for (int k = 1; k < 1024; ++k) yaml += "  - {public-key: PUB_C, allowed-ips: *ips}\n";
  yaml += "  - public-key: PUB_D\n    allowed-ips: [2001:db8::/32, 198.19.0.0/16]\n";
  const auto r = load_text(with_keys(yaml), "office.yaml");
  const Diagnostic d = only_error(r);
  EXPECT_EQ(d.severity, Severity::kError);
  EXPECT_EQ(d.where.line, 3 + 2 + 1023 + 2) << d.to_string();
  EXPECT_EQ(d.where.column, 19) << d.to_string();
  EXPECT_EQ(d.path, "peers[1024].allowed-ips[0]");
  EXPECT_EQ(d.message, "beyond the limit of 1048576 allowed-ips per interface (all peers' together)");
}

class ConfigSize : public testing::Test {
 protected:
  test::TempDir dir_;
};

// The old bound (1 MiB) no longer applies: a 2 MiB file loads.
TEST_F(ConfigSize, AFileOfSomeMegabytesLoads) {
  const std::string yaml = with_keys(std::string(kHeader) +
                                     "  - public-key: PUB_B\n    allowed-ips: [198.18.1.0/24]\n") +
                           "# " + std::string(2u << 20, 'x') + "\n";
  const auto r = load_file(dir_.write("big.yaml", yaml));
  ASSERT_TRUE(r.ok()) << dump(r.error());
  EXPECT_EQ(r->config.peers.size(), 1u);
}

TEST_F(ConfigSize, AFileBeyondTheLimitIsRefusedUnread) {
  static_assert(kMaxConfigSize == 64u << 20);
  const std::string path = dir_.write("huge.yaml", std::string(kMaxConfigSize + 1, '#'));
  const Diagnostic d = only_error(load_file(path));
  EXPECT_EQ(d.file, path);
  EXPECT_EQ(d.message, "is larger than 64 MiB; this is not a sitelink configuration");
}

}  // namespace
}  // namespace sitelink::config
