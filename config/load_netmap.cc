// A peer's `netmap:` (SPEC.md "Real office networks"): a list of 1:1
// prefix mappings, each a map with exactly one of `peer: P` (the peer's
// prefix as on the wire) and `local: L` (ours), and `seen-as:` (the prefix
// it is mapped to). The rules within one entry are checked here, at the
// entry: both prefixes valid, of one family and one length; host bits are
// fixed with a warning, as for allowed-ips. Rules across entries and peers
// are in validate_netmap.cc.
#include <algorithm>

#include "config/load_internal.h"

namespace sitelink::config::detail {
namespace {

constexpr const char* kListExpected =
    "a list of mappings, each '- peer: PREFIX' or '- local: PREFIX' with 'seen-as: PREFIX' of the same length";
constexpr const char* kPrefixExpected = "an IP prefix, e.g. 198.18.1.0/24";

std::optional<IpPrefix> prefix_value(const Entry& e, Reporter& r) {
  const auto text = scalar_value(e, kPrefixExpected, r);
  if (!text) return std::nullopt;
  auto p = IpPrefix::parse(*text);
  if (!p) {
    r.error(location_of(e.value), e.path, p.error());
    return std::nullopt;
  }
  if (!p->is_canonical()) {
    r.warning(location_of(e.value), e.path, "'" + *text + "' has host bits set; using " + p->canonical().to_string());
  }
  return p->canonical();
}

std::optional<NetmapEntry> netmap_entry(const YAML::Node& item, const std::string& path, Reporter& r, Draft& d) {
  const auto entries = map_entries(item, path, Section::kNetmap, r);
  if (!entries) return std::nullopt;
  const auto find = [&](std::string_view key) {
    const auto it = std::find_if(entries->begin(), entries->end(), [&](const Entry& e) { return e.key == key; });
    return it == entries->end() ? nullptr : &*it;
  };
  for (const Entry& e : *entries) d.where[e.path] = location_of(e.value.IsNull() ? e.key_node : e.value);
  const Entry* peer = find("peer");
  const Entry* local = find("local");
  const Entry* seen_as = find("seen-as");
  if (peer != nullptr && local != nullptr) {
    r.error(location_of(local->key_node), local->path,
            "set either peer: (the peer's prefix) or local: (ours) in one mapping, not both; write two entries");
    return std::nullopt;
  }
  if (peer == nullptr && local == nullptr) {
    r.error(location_of(item), path, "missing 'peer:' or 'local:'; expected " + std::string(kListExpected));
    return std::nullopt;
  }
  if (seen_as == nullptr) {
    r.error(location_of(item), path, "missing 'seen-as:'; expected the prefix it is mapped to, of the same length");
    return std::nullopt;
  }
  const Entry& side = peer != nullptr ? *peer : *local;
  const auto from = prefix_value(side, r);
  const auto to = prefix_value(*seen_as, r);
  if (!from || !to) return std::nullopt;
  if (from->family() != to->family()) {
    r.error(
        location_of(seen_as->value), seen_as->path,
        to->to_string() + " and " + from->to_string() + " are of different IP families; a mapping keeps the family");
    return std::nullopt;
  }
  if (from->length() != to->length()) {
    r.error(location_of(seen_as->value), seen_as->path,
            to->to_string() + " is a /" + std::to_string(to->length()) + " but " + from->to_string() + " is a /" +
                std::to_string(from->length()) + "; both sides of a mapping have the same length (host bits are kept)");
    return std::nullopt;
  }
  if (*from == *to) {
    r.warning(location_of(seen_as->value), seen_as->path,
              "maps " + from->to_string() + " to itself; this mapping does nothing");
  }
  return NetmapEntry{peer != nullptr ? NetmapEntry::Side::kPeer : NetmapEntry::Side::kLocal, *from, *to};
}

}  // namespace

std::vector<NetmapEntry> parse_netmap(const Entry& e, Reporter& r, Draft& d, std::vector<std::string>& paths) {
  std::vector<NetmapEntry> out;
  if (e.value.IsNull()) return out;  // "netmap:" with nothing yet
  if (!e.value.IsSequence()) {
    r.error(location_of(e.value), e.path, std::string("expected ") + kListExpected);
    return out;
  }
  for (size_t n = 0; n < e.value.size(); ++n) {
    const YAML::Node item = e.value[n];
    const std::string path = item_path(e.path, n);
    d.where[path] = location_of(item.IsNull() ? e.key_node : item);
    if (item.IsNull()) {
      r.error(location_of(e.key_node), path, std::string("is empty; expected ") + kListExpected);
      continue;
    }
    auto entry = netmap_entry(item, path, r, d);
    if (!entry) continue;
    out.push_back(*entry);
    paths.push_back(path);
  }
  return out;
}

}  // namespace sitelink::config::detail
