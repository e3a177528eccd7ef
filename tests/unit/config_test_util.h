// Helpers for the config and CLI tests: fixed keys (made with `wg genkey`),
// YAML templates with key placeholders, temporary directories and files
// with a chosen mode.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "config/diagnostic.h"
#include "config/load.h"

namespace sitelink::test {

inline constexpr const char* kPrivA = "6Obb2KbPsezaGhceqapNiX1U6hwRqVTbQMFGD8/XFnI=";
inline constexpr const char* kPubA = "vJBN6b2YiMW9jZ/UlWes/rkPo+rCxWUE21IrQDgVFFE=";
inline constexpr const char* kPubB = "SNlPs3/lNaEKa1ddQQgVqeDRgf1fsxJFkkOjE+tPkQ4=";
inline constexpr const char* kPubC = "CetCp7Os4WOLBLaPeQJMkusJDvPALSezyTvxbFQ5lxg=";
inline constexpr const char* kPubD = "s6cgWlewpP/yWUsGQ1GBzoetunBwHThVZi/oKzj5ZTY=";
inline constexpr const char* kPsk = "DlXfUSOWYbnCIkMdGSxJQJUAZzWePaqcNrNmj5g+Hqg=";

// Replaces PRIV_A, PUB_A, PUB_B, PUB_C, PUB_D and PSK with the keys above. The
// placeholders are short so columns after them are easy to count: a key is
// 44 characters, so whatever follows a placeholder moves right.
inline std::string with_keys(std::string text) {
  const std::pair<const char*, const char*> subs[] = {{"PRIV_A", kPrivA}, {"PUB_A", kPubA}, {"PUB_B", kPubB},
                                                      {"PUB_C", kPubC},   {"PUB_D", kPubD}, {"PSK", kPsk}};
  for (const auto& [from, to] : subs) {
    for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at)) {
      text.replace(at, std::strlen(from), to);
      at += std::strlen(to);
    }
  }
  return text;
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "sitelink-test-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

  // Writes `content` to NAME with exactly `mode` (whatever the umask).
  std::string write(const std::string& name, const std::string& content, mode_t mode = 0600) const {
    const std::string p = file(name);
    {
      std::ofstream f(p, std::ios::binary | std::ios::trunc);
      f << content;
    }
    if (::chmod(p.c_str(), mode) != 0) throw std::runtime_error("chmod failed");
    return p;
  }

 private:
  std::string path_;
};

inline std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Every diagnostic of a load, whether it succeeded or not.
inline config::Diagnostics diagnostics_of(const Result<config::Loaded, config::Diagnostics>& r) {
  return r ? r->warnings : r.error();
}

inline std::string dump(const config::Diagnostics& ds) {
  std::string s;
  for (const auto& d : ds) s += "  " + d.to_string() + "\n";
  return s;
}

// One case of the table-driven rule tests (the TEST_P is in
// config_rules_test.cc; other files add INSTANTIATE_TEST_SUITE_P tables):
// a complete file and the single diagnostic it must produce.
struct RuleCase {
  const char* name;
  const char* yaml;  // placeholders as in with_keys()
  config::Severity severity;
  int line;
  int column;
  const char* path;
  const char* message;
};

inline void PrintTo(const RuleCase& c, std::ostream* os) { *os << c.name; }

class ConfigRule : public testing::TestWithParam<RuleCase> {};

inline std::string case_name(const testing::TestParamInfo<RuleCase>& info) { return info.param.name; }

}  // namespace sitelink::test
