// Key files and the configuration file itself on disk: whitespace around a
// key is ignored; a key file that group or others can access is refused,
// naming the file and the chmod that fixes it; missing files, directories
// and files without a key are errors at the field that names them;
// relative names are taken from the configuration file's directory.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "config/key_file.h"
#include "config/load.h"
#include "config_test_util.h"

namespace sitelink::config {
namespace {

using test::dump;

// A config whose private key is in FILE (line 2, value at column 21).
std::string config_with_key_file(const std::string& file) {
  return "interface:\n  private-key-file: " + file + "\npeers:\n  - public-key: " + test::kPubB +
         "\n    preshared-key-file: ab.psk\n    allowed-ips: [198.18.1.0/24]\n";
}

class ConfigKeyFile : public testing::Test {
 protected:
  void SetUp() override { dir_.write("ab.psk", std::string(test::kPsk) + "\n"); }

  // Loads a config naming `key_file` and returns its diagnostics.
  Diagnostics load_with(const std::string& key_file, Result<Loaded, Diagnostics>* out = nullptr) {
    const std::string path = dir_.write("office.yaml", config_with_key_file(key_file), 0644);
    auto r = load_file(path);
    Diagnostics ds = test::diagnostics_of(r);
    if (out != nullptr) *out = std::move(r);
    return ds;
  }

  test::TempDir dir_;
};

TEST_F(ConfigKeyFile, KeyWithSurroundingWhitespaceIsRead) {
  dir_.write("a.key", "\n  " + std::string(test::kPrivA) + " \r\n\n", 0600);
  Result<Loaded, Diagnostics> r = Err(Diagnostics{});
  EXPECT_TRUE(load_with(dir_.file("a.key"), &r).empty());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->config.interface.public_key().to_base64(), test::kPubA);
  EXPECT_EQ(r->config.interface.private_key_file, dir_.file("a.key"));
  EXPECT_EQ(r->config.peers[0].preshared_key.to_base64(), test::kPsk);
  EXPECT_EQ(r->config.peers[0].preshared_key_file, "ab.psk");
}

TEST_F(ConfigKeyFile, ReadOnlyForOwnerIsAccepted) {
  dir_.write("a.key", test::kPrivA, 0400);
  EXPECT_TRUE(load_with(dir_.file("a.key")).empty());
}

TEST_F(ConfigKeyFile, RelativeNameIsTakenFromTheConfigDirectory) {
  dir_.write("a.key", test::kPrivA, 0600);
  EXPECT_TRUE(load_with("a.key").empty());
}

struct ModeCase {
  mode_t mode;
  const char* shown;
};

class ConfigKeyFileMode : public ConfigKeyFile, public testing::WithParamInterface<ModeCase> {};

TEST_P(ConfigKeyFileMode, AccessibleByGroupOrOthersIsRefused) {
  const std::string key = dir_.write("a.key", test::kPrivA, GetParam().mode);
  const Diagnostics ds = load_with(key);
  ASSERT_EQ(ds.size(), 1u) << dump(ds);
  EXPECT_EQ(ds[0].to_string(), dir_.file("office.yaml") + ":2:21: interface.private-key-file: key file '" + key +
                                   "' is accessible by group or others (mode " + GetParam().shown +
                                   "); run 'chmod 600 " + key + "'");
}

INSTANTIATE_TEST_SUITE_P(ConfigKeyFileModes, ConfigKeyFileMode,
                         testing::Values(ModeCase{0644, "0644"}, ModeCase{0640, "0640"}, ModeCase{0604, "0604"},
                                         ModeCase{0602, "0602"}, ModeCase{0660, "0660"}));

TEST_F(ConfigKeyFile, PresharedKeyFileModeIsCheckedToo) {
  dir_.write("a.key", test::kPrivA, 0600);
  dir_.write("ab.psk", test::kPsk, 0644);
  const Diagnostics ds = load_with("a.key");
  ASSERT_EQ(ds.size(), 1u) << dump(ds);
  EXPECT_EQ(ds[0].path, "peers[0].preshared-key-file");
  EXPECT_EQ(ds[0].where.line, 5);
  EXPECT_EQ(ds[0].where.column, 25);
  EXPECT_NE(ds[0].message.find("run 'chmod 600 " + dir_.file("ab.psk") + "'"), std::string::npos) << ds[0].message;
}

TEST_F(ConfigKeyFile, MissingFileIsAnError) {
  const Diagnostics ds = load_with(dir_.file("nope.key"));
  ASSERT_EQ(ds.size(), 1u) << dump(ds);
  EXPECT_EQ(ds[0].message, "cannot read key file '" + dir_.file("nope.key") + "': No such file or directory");
  EXPECT_EQ(ds[0].where.line, 2);
}

TEST_F(ConfigKeyFile, DirectoryIsAnError) {
  const Diagnostics ds = load_with(dir_.path());
  ASSERT_EQ(ds.size(), 1u) << dump(ds);
  EXPECT_EQ(ds[0].message, "key file '" + dir_.path() + "' is not a regular file");
}

TEST_F(ConfigKeyFile, FileWithoutAKeyIsAnError) {
  dir_.write("a.key", "not a key\n", 0600);
  const Diagnostics ds = load_with("a.key");
  ASSERT_EQ(ds.size(), 1u) << dump(ds);
  EXPECT_EQ(ds[0].message,
            "key file '" + dir_.file("a.key") +
                "' does not hold a valid private key; expected 44 characters of base64 (from 'sitelink genkey')");
}

TEST_F(ConfigKeyFile, HugeFileIsRefused) {
  dir_.write("a.key", std::string(5000, 'A'), 0600);
  auto r = read_key_file(dir_.file("a.key"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), "key file '" + dir_.file("a.key") + "' is too large to hold a key");
}

TEST_F(ConfigKeyFile, NotReadWhenTheOptionSaysSo) {
  LoadOptions o;
  o.read_key_files = false;
  const auto r = load_text(config_with_key_file("/nonexistent/a.key"), "t.yaml", o);
  ASSERT_TRUE(r.ok()) << dump(test::diagnostics_of(r));
  EXPECT_TRUE(r->config.interface.private_key.is_zero());
  EXPECT_TRUE(r->config.peers[0].preshared_key.is_zero());
  EXPECT_EQ(r->config.interface.private_key_file, "/nonexistent/a.key");
}

TEST_F(ConfigKeyFile, BaseDirectoryOptionOverridesTheConfigDirectory) {
  test::TempDir other;
  other.write("a.key", test::kPrivA, 0600);
  other.write("ab.psk", test::kPsk, 0600);
  LoadOptions o;
  o.base_dir = other.path();
  const auto r = load_text(config_with_key_file("a.key"), dir_.file("office.yaml"), o);
  EXPECT_TRUE(r.ok()) << dump(test::diagnostics_of(r));
}

TEST_F(ConfigKeyFile, MissingConfigFileIsAnErrorWithoutLocation) {
  const auto r = load_file(dir_.file("absent.yaml"));
  ASSERT_FALSE(r.ok());
  ASSERT_EQ(r.error().size(), 1u);
  EXPECT_EQ(r.error()[0].to_string(),
            dir_.file("absent.yaml") + ": cannot read the configuration: No such file or directory");
}

TEST_F(ConfigKeyFile, ConfigThatIsADirectoryIsAnError) {
  const auto r = load_file(dir_.path());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error()[0].to_string(), dir_.path() + ": is a directory; expected a configuration file");
}

// A config holding a key inline is refused, as a key file would be, when
// group or others can access it (it was only a warning, while a 0644 key
// file was refused).
TEST_F(ConfigKeyFile, InlineKeysInAReadableConfigAreRefused) {
  const std::string yaml = std::string("interface:\n  private-key: ") + test::kPrivA +
                           "\npeers:\n  - public-key: " + test::kPubB + "\n    preshared-key: " + test::kPsk +
                           "\n    allowed-ips: [198.18.1.0/24]\n";
  const std::string open = dir_.write("open.yaml", yaml, 0640);
  const auto r = load_file(open);
  ASSERT_FALSE(r.ok());
  ASSERT_EQ(r.error().size(), 2u);
  EXPECT_EQ(r.error()[0].to_string(),
            open +
                ":2:16: interface.private-key: this file holds a private key inline but group or others can access "
                "it (mode 0640); run 'chmod 600 " +
                open +
                "', or move the key to a file and name it with "
                "private-key-file");
  EXPECT_EQ(r.error()[1].to_string(),
            open +
                ":5:20: peers[0].preshared-key: this file holds a preshared key inline but group or others can "
                "access it (mode 0640); run 'chmod 600 " +
                open +
                "', or move the key to a file and name it with "
                "preshared-key-file");
  const auto closed = load_file(dir_.write("closed.yaml", yaml, 0600));
  ASSERT_TRUE(closed.ok());
  EXPECT_TRUE(closed->warnings.empty());
  // Keys in files: the config itself may be world-readable.
  dir_.write("a.key", test::kPrivA, 0600);
  const auto by_file = load_file(dir_.write("files.yaml", "interface:\n  private-key-file: a.key\n", 0644));
  EXPECT_TRUE(by_file.ok());
}

}  // namespace
}  // namespace sitelink::config
