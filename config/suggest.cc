// Edit distance and key suggestions (see suggest.h).
#include "config/suggest.h"

#include <algorithm>
#include <string>
#include <vector>

namespace sitelink::config {
namespace {

// Lower case, without '-' and '_': "Allowed_IPs" -> "allowedips".
std::string fold(std::string_view s) {
  std::string out;
  for (const char c : s) {
    if (c == '-' || c == '_') continue;
    out += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  return out;
}

}  // namespace

size_t edit_distance(std::string_view a, std::string_view b) {
  // Three rows of the dynamic-programming table: i-2, i-1 and i.
  std::vector<size_t> before(b.size() + 1);
  std::vector<size_t> prev(b.size() + 1);
  std::vector<size_t> cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) cur[j] = std::min(cur[j], before[j - 2] + 1);
    }
    std::swap(before, prev);
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::optional<std::string_view> closest_key(std::string_view key, std::span<const std::string_view> known) {
  // Long inputs are not typos of our short keys; this also bounds the work.
  if (key.empty() || key.size() > 64) return std::nullopt;
  const std::string k = fold(key);
  std::optional<std::string_view> best;
  size_t best_distance = SIZE_MAX;
  for (const std::string_view candidate : known) {
    const std::string c = fold(candidate);
    size_t d = edit_distance(k, c);
    const size_t allowed = c.size() <= 4 ? 1 : 2;
    if (d > allowed && k.size() >= 4 && c.find(k) != std::string::npos) d = allowed;  // a piece of it
    if (d <= allowed && d < best_distance) {
      best = candidate;
      best_distance = d;
    }
  }
  return best;
}

}  // namespace sitelink::config
