// Helpers shared by the unit tests: hex, known-answer vector files, a
// deterministic Rng and an in-memory index allocator.
#pragma once

#include <cstdint>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "handshake/crypto.h"
#include "handshake/peer.h"

namespace sitelink::test {

inline std::vector<uint8_t> unhex(const std::string& s) {
  if (s.size() % 2 != 0) throw std::invalid_argument("odd hex length: " + s);
  std::vector<uint8_t> out(s.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<uint8_t>(std::stoi(s.substr(2 * i, 2), nullptr, 16));
  return out;
}

inline std::string hex(std::span<const uint8_t> b) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (uint8_t c : b) {
    s += d[c >> 4];
    s += d[c & 15];
  }
  return s;
}

inline std::string data_path(const std::string& rel) { return std::string(SITELINK_TEST_DATA) + "/" + rel; }

inline std::string read_text(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw std::runtime_error("cannot open " + path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// A vector file: `key = value` lines, cases separated by blank lines, `#`
// comments. Values are returned as written (hex unless the file says else).
using VectorCase = std::map<std::string, std::string>;
inline std::vector<VectorCase> read_vectors(const std::string& rel) {
  std::ifstream f(data_path(rel));
  if (!f) throw std::runtime_error("cannot open " + data_path(rel));
  std::vector<VectorCase> cases;
  VectorCase cur;
  std::string line;
  auto trim = [](std::string s) {
    const auto b = s.find_first_not_of(" \t\r");
    const auto e = s.find_last_not_of(" \t\r");
    return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
  };
  while (std::getline(f, line)) {
    line = trim(line);
    if (!line.empty() && line[0] == '#') continue;
    if (line.empty()) {
      if (!cur.empty()) cases.push_back(cur);
      cur.clear();
      continue;
    }
    const auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    cur[trim(line.substr(0, eq))] = trim(line.substr(eq + 1));
  }
  if (!cur.empty()) cases.push_back(cur);
  return cases;
}

// A reproducible Rng (splitmix64): tests get the same keys, indices and
// jitter on every run.
class SeededRng final : public handshake::Rng {
 public:
  explicit SeededRng(uint64_t seed) : state_(seed) {}
  void fill(MutableBytes out) override {
    for (auto& b : out) {
      if (avail_ == 0) {
        word_ = next();
        avail_ = 8;
      }
      b = static_cast<uint8_t>(word_);
      word_ >>= 8;
      --avail_;
    }
  }

 private:
  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  uint64_t state_;
  uint64_t word_ = 0;
  int avail_ = 0;
};

// Hands out unique indices and remembers which are live, so tests can check
// that a peer releases everything it took.
class FakeIndices final : public handshake::IndexAllocator {
 public:
  explicit FakeIndices(uint32_t first = 1) : next_(first) {}
  uint32_t allocate() override {
    live.insert(next_);
    return next_++;
  }
  void release(uint32_t index) override {
    if (live.erase(index) == 0) throw std::logic_error("released an index twice or never allocated");
  }
  std::set<uint32_t> live;

 private:
  uint32_t next_;
};

}  // namespace sitelink::test
