// README.md's configuration reference is checked against the loader: the
// block loads without errors, and it names every key the loader accepts
// (and no other), so documentation and code cannot drift apart.
#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <string>

#include "config/load.h"
#include "config/load_internal.h"
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

TEST(ConfigReadme, ReferenceNamesEveryKeyTheLoaderKnows) {
  const std::string block = reference_block();
  std::set<std::string> documented;
  const std::regex key_line(R"(^\s*(?:#\s*)?(?:-\s+)?([a-z][a-z-]*):)");
  std::istringstream in(block);
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (std::regex_search(line, m, key_line)) documented.insert(m[1]);
  }
  std::set<std::string> known;
  for (auto k : detail::kTopKeys) known.emplace(k);
  for (auto k : detail::kInterfaceKeys) known.emplace(k);
  for (auto k : detail::kPeerKeys) known.emplace(k);
  EXPECT_EQ(documented, known);
}

}  // namespace
}  // namespace sitelink::config
