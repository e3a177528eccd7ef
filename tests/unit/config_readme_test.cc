// README.md's configuration reference and `sitelinkd --help` (which the man
// page is rendered from) are checked against the loader: the README block
// loads without errors, and both name every key the loader accepts (and no
// other), so documentation and code cannot drift apart.
#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <string>

#include "config/load.h"
#include "config/load_internal.h"
#include "daemon/help.h"
#include "support/test_support.h"

namespace sitelink::config {
namespace {

std::string reference_block() {
  const std::string readme = test::read_text(test::data_path("../../README.md"));
  const auto begin = readme.find("<!-- config-reference:begin -->");
  const auto end = readme.find("<!-- config-reference:end -->");
  if (begin == std::string::npos || end == std::string::npos) return {};
  std::string block = readme.substr(begin, end - begin);
  const auto open = block.find("```yaml\n");
  const auto close = block.rfind("```");
  return block.substr(open + 8, close - open - 8);
}

TEST(ConfigReadme, ReferenceLoadsWithoutErrors) {
  const std::string block = reference_block();
  ASSERT_FALSE(block.empty()) << "README.md has no config-reference block";
  LoadOptions opts;
  opts.read_key_files = false;  // the paths are examples
  auto loaded = load_text(block, "README.md", opts);
  ASSERT_TRUE(loaded.ok()) << (loaded.ok() ? "" : loaded.error().front().to_string());
  EXPECT_EQ(loaded->config.peers.size(), 1u);
}

// The keys a YAML-shaped text names at the start of its lines.
std::set<std::string> keys_named(const std::string& text) {
  std::set<std::string> named;
  const std::regex key_line(R"(^\s*(?:#\s*)?(?:-\s+)?([a-z][a-z-]*):)");
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (std::regex_search(line, m, key_line)) named.insert(m[1]);
  }
  return named;
}

std::set<std::string> known_keys() {
  std::set<std::string> known;
  for (auto k : detail::kTopKeys) known.emplace(k);
  for (auto k : detail::kInterfaceKeys) known.emplace(k);
  for (auto k : detail::kPeerKeys) known.emplace(k);
  for (auto k : detail::kEndpointKeys) known.emplace(k);
  for (auto k : detail::kNetmapKeys) known.emplace(k);
  return known;
}

TEST(ConfigReadme, ReferenceNamesEveryKeyTheLoaderKnows) { EXPECT_EQ(keys_named(reference_block()), known_keys()); }

TEST(ConfigReadme, SitelinkdHelpNamesEveryKeyTheLoaderKnows) {
  const std::string details(daemon::kSitelinkdDetails);
  const auto begin = details.find("Configuration file");
  const auto end = details.find("Keys are WireGuard's");
  ASSERT_NE(begin, std::string::npos);
  ASSERT_NE(end, std::string::npos);
  EXPECT_EQ(keys_named(details.substr(begin, end - begin)), known_keys());
}

}  // namespace
}  // namespace sitelink::config
