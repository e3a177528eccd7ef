// "Did you mean" for unknown configuration keys: the closest known key by
// edit distance, after folding case and '_' (so wg-quick's "AllowedIPs" and
// "allowed_ips" both lead to "allowed-ips").
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string_view>

namespace sitelink::config {

// Edit distance counting insertions, deletions, substitutions and swaps of
// two adjacent characters as one edit each (Damerau-Levenshtein, optimal
// string alignment): "nmae" is one edit from "name".
size_t edit_distance(std::string_view a, std::string_view b);

// The known key closest to `key`, if it is close enough to be a likely typo:
// equal after folding case, '_' and '-'; at most 2 edits (1 for short keys);
// or a piece of a longer key ("keepalive" -> "persistent-keepalive").
std::optional<std::string_view> closest_key(std::string_view key, std::span<const std::string_view> known);

}  // namespace sitelink::config
