// The loader's building blocks: collecting diagnostics, walking YAML maps
// with unknown-key detection, and reading scalars, lists, numbers, booleans
// and keys with messages that say what was expected.
#include <algorithm>
#include <filesystem>

#include "config/key_file.h"
#include "config/load_internal.h"
#include "config/suggest.h"
#include "handshake/base/secret.h"
#include "handshake/keys.h"

namespace sitelink::config::detail {
namespace {

std::span<const std::string_view> keys_of(Section s) {
  switch (s) {
    case Section::kTop: return kTopKeys;
    case Section::kInterface: return kInterfaceKeys;
    case Section::kPeer: return kPeerKeys;
    case Section::kEndpoint: return kEndpointKeys;
    case Section::kNetmap: return kNetmapKeys;
  }
  return {};
}

std::string join(std::span<const std::string_view> keys) {
  std::string s;
  for (const auto k : keys) s += (s.empty() ? "" : ", ") + std::string(k);
  return s;
}

bool contains(std::span<const std::string_view> keys, std::string_view k) {
  return std::find(keys.begin(), keys.end(), k) != keys.end();
}

// Where a key of another section belongs, if it is one.
std::optional<std::string> misplaced(std::string_view key, Section section) {
  const std::string k(key);
  const bool in_interface = contains(kInterfaceKeys, key);
  const bool in_peer = contains(kPeerKeys, key);
  if (section == Section::kTop && in_interface) return "'" + k + "' belongs under 'interface:'";
  if (section == Section::kTop && in_peer) return "'" + k + "' belongs in an entry of 'peers:'";
  if (section == Section::kPeer && in_interface) return "'" + k + "' belongs under 'interface:', not in a peer";
  if (section == Section::kInterface && in_peer)
    return "'" + k + "' belongs in an entry of 'peers:', not under 'interface:'";
  if (section == Section::kEndpoint && in_peer)
    return "'" + k + "' belongs to the peer, not to an entry of 'endpoints:' (indented too far?)";
  return std::nullopt;
}

std::string kind_of(const YAML::Node& n) {
  if (n.IsSequence()) return "a list";
  if (n.IsMap()) return "a map";
  return "a single value";
}

int digit_value(char c, unsigned base) {
  if (c >= '0' && c <= '9') return c - '0';
  if (base == 16 && c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (base == 16 && c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string_view tool_for(std::string_view what) {
  if (what == "private key") return "sitelink genkey";
  if (what == "public key") return "sitelink pubkey";
  return "sitelink genpsk";
}

}  // namespace

void Reporter::error(Location at, std::string path, std::string message) {
  list_.push_back({Severity::kError, file_, at, std::move(path), std::move(message)});
}

void Reporter::warning(Location at, std::string path, std::string message) {
  list_.push_back({Severity::kWarning, file_, at, std::move(path), std::move(message)});
}

void Reporter::note(Location at, std::string path, std::string message) {
  list_.push_back({Severity::kNote, file_, at, std::move(path), std::move(message)});
}

bool Reporter::has_errors() const { return count_errors(list_) > 0; }

Diagnostics Reporter::take() {
  std::stable_sort(list_.begin(), list_.end(),
                   [](const Diagnostic& a, const Diagnostic& b) { return a.where < b.where; });
  return std::move(list_);
}

Location Draft::at(const std::string& path) const {
  const auto it = where.find(path);
  return it == where.end() ? Location{} : it->second;
}

Location location_of(const YAML::Node& n) {
  const YAML::Mark m = n.Mark();
  if (m.is_null() || m.line < 0 || m.column < 0) return {};
  return {m.line + 1, m.column + 1};
}

std::string field_path(const std::string& parent, std::string_view key) {
  return parent.empty() ? std::string(key) : parent + "." + std::string(key);
}

std::string item_path(const std::string& parent, size_t index) { return parent + "[" + std::to_string(index) + "]"; }

std::string unknown_key_message(std::string_view key, Section section) {
  const std::string k(key);
  if (key == "<<") return "YAML merge keys ('<<') are not supported; write the settings out";
  if (const auto near = closest_key(key, keys_of(section))) {
    return "unknown key '" + k + "'; did you mean '" + std::string(*near) + "'?";
  }
  if (auto where = misplaced(key, section)) return *where;
  return "unknown key '" + k + "'; expected one of: " + join(keys_of(section));
}

std::optional<std::vector<Entry>> map_entries(const YAML::Node& node, const std::string& path, Section section,
                                              Reporter& r, std::optional<Location> at) {
  if (!node.IsMap()) {
    const std::string expected = section == Section::kTop ? "'interface:' and 'peers:'" : "a map of settings";
    r.error(at.value_or(location_of(node)), path,
            (node.IsNull() ? "is empty" : "is " + kind_of(node)) + "; expected " + expected);
    return std::nullopt;
  }
  std::vector<Entry> out;
  std::map<std::string, Location> seen;
  for (auto it = node.begin(); it != node.end(); ++it) {
    const YAML::Node k = it->first;  // a copy: the iterator hands out a temporary
    const Location at = location_of(k);
    if (!k.IsScalar()) {
      r.error(at, path, "a key must be a plain name, not " + kind_of(k));
      continue;
    }
    const std::string& name = k.Scalar();
    const std::string p = field_path(path, name);
    if (!contains(keys_of(section), name)) {
      r.error(at, p, unknown_key_message(name, section));
      continue;
    }
    if (const auto [prev, fresh] = seen.emplace(name, at); !fresh) {
      r.error(at, p, "set twice (first on line " + std::to_string(prev->second.line) + ")");
      continue;
    }
    out.push_back({name, p, k, it->second});
  }
  return out;
}

std::optional<std::string> scalar_value(const Entry& e, std::string_view expected, Reporter& r) {
  if (e.value.IsScalar()) return e.value.Scalar();
  if (e.value.IsNull()) {
    r.error(location_of(e.key_node), e.path, "has no value; expected " + std::string(expected));
  } else {
    r.error(location_of(e.value), e.path, "expected " + std::string(expected) + ", not " + kind_of(e.value));
  }
  return std::nullopt;
}

std::optional<std::vector<YAML::Node>> list_items(const Entry& e, std::string_view expected, Reporter& r) {
  if (e.value.IsNull()) return std::vector<YAML::Node>{};
  if (e.value.IsScalar()) return std::vector<YAML::Node>{e.value};
  if (!e.value.IsSequence()) {
    r.error(location_of(e.value), e.path, "expected a list of " + std::string(expected) + ", not " + kind_of(e.value));
    return std::nullopt;
  }
  return std::vector<YAML::Node>(e.value.begin(), e.value.end());
}

std::optional<std::string> item_scalar(const YAML::Node& n, const std::string& path, std::string_view expected,
                                       Reporter& r) {
  if (n.IsScalar()) return n.Scalar();
  r.error(location_of(n), path,
          (n.IsNull() ? std::string("is empty") : "is " + kind_of(n)) + "; expected " + std::string(expected));
  return std::nullopt;
}

std::optional<uint64_t> uint_value(const Entry& e, uint64_t min, uint64_t max, std::string_view expected, Reporter& r,
                                   bool allow_hex) {
  const auto text = scalar_value(e, expected, r);
  if (!text) return std::nullopt;
  std::string_view s = *text;
  unsigned base = 10;
  if (allow_hex && s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    s.remove_prefix(2);
    base = 16;
  }
  uint64_t v = 0;
  bool ok = !s.empty() && s.size() <= 20;
  for (const char c : s) {
    const int digit = digit_value(c, base);
    if (digit < 0 || v > (UINT64_MAX - static_cast<uint64_t>(digit)) / base) {
      ok = false;
      break;
    }
    v = v * base + static_cast<uint64_t>(digit);
  }
  if (!ok) {
    r.error(location_of(e.value), e.path, "'" + *text + "' is not a number; expected " + std::string(expected));
    return std::nullopt;
  }
  if (v < min || v > max) {
    r.error(location_of(e.value), e.path, *text + " is out of range; expected " + std::string(expected));
    return std::nullopt;
  }
  return v;
}

std::optional<bool> bool_value(const Entry& e, Reporter& r) {
  const auto text = scalar_value(e, "true or false", r);
  if (!text) return std::nullopt;
  if (*text == "true" || *text == "True" || *text == "TRUE") return true;
  if (*text == "false" || *text == "False" || *text == "FALSE") return false;
  r.error(location_of(e.value), e.path, "'" + *text + "' is not a boolean; expected true or false");
  return std::nullopt;
}

namespace {

// A key file's trimmed text: from the file system, or from the contents the
// privileged side read (LoadOptions::key_files).
Result<std::string, std::string> key_file_contents(const std::string& path, const LoadOptions& options) {
  if (options.key_files == nullptr) return read_key_file(path);
  const auto it = options.key_files->find(path);
  if (it == options.key_files->end()) return Err("key file '" + path + "' was not read by the privileged process");
  return it->second;
}

}  // namespace

bool read_key(const Entry& e, bool from_file, std::string_view what, Context& ctx, std::span<uint8_t, 32> out) {
  const std::string w(what);
  const std::string expected = "44 characters of base64 (from '" + std::string(tool_for(what)) + "')";
  const auto text = scalar_value(e, from_file ? "the name of a file holding the " + w : "a " + w + ": " + expected,
                                 ctx.report);
  if (!text) return false;
  const Location at = location_of(e.value);
  if (!from_file) {
    if (handshake::key_from_base64(*text, out)) return true;
    // Private and preshared keys are secret: never repeat them in a message.
    const std::string shown = what == "public key" ? "'" + *text + "' is not" : "not";
    ctx.report.error(at, e.path, shown + " a valid " + w + "; expected " + expected);
    return false;
  }
  if (text->empty()) {
    ctx.report.error(at, e.path, "expected the name of a file holding the " + w);
    return false;
  }
  if (!ctx.options.read_key_files) return false;
  std::filesystem::path p(*text);
  if (p.is_relative()) p = std::filesystem::path(ctx.base_dir) / p;
  auto contents = key_file_contents(p.string(), ctx.options);
  if (!contents) {
    ctx.report.error(at, e.path, contents.error());
    return false;
  }
  const bool ok = handshake::key_from_base64(*contents, out);
  if (ctx.options.record != nullptr) {
    ctx.options.record->key_files[p.string()] = *contents;
  }
  secure_zero(contents->data(), contents->size());
  if (!ok)
    ctx.report.error(at, e.path, "key file '" + p.string() + "' does not hold a valid " + w + "; expected " + expected);
  return ok;
}

}  // namespace sitelink::config::detail
