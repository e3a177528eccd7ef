// A peer's `endpoint:` and `endpoints:` (SPEC.md "Real office networks"):
// 1..16 entries in order of preference, each "HOST:PORT" or a map with
// `endpoint: HOST:PORT` and an optional `source: ADDRESS` to send from. The
// rules within one list are checked here, each at the entry it concerns: a
// list that is empty or too long, a source that is not an IP address or
// not of the endpoint's family, and an entry listed twice (same endpoint and
// same source; the same endpoint from two sources is two paths).
#include <algorithm>
#include <map>
#include <tuple>

#include "config/load_internal.h"

namespace sitelink::config::detail {
namespace {

constexpr const char* kListExpected =
    "1..16 endpoints in order of preference, each HOST:PORT or a map with 'endpoint: HOST:PORT' and an optional "
    "'source: ADDRESS'";
constexpr const char* kItemExpected = "HOST:PORT or a map with 'endpoint: HOST:PORT' and an optional 'source: ADDRESS'";
constexpr const char* kSourceExpected = "a local IP address to send from, e.g. 203.0.113.130 or 2001:db8::1";
constexpr const char* kIpv6IsAList =
    "is a list; an IPv6 endpoint must be quoted, since YAML reads '[' as a list: \"[2001:db8::1]:51820\"";

// The same endpoint however it was written: DNS names without case or a
// trailing dot, IP literals by their address.
using EntryKey = std::tuple<std::string, uint16_t, std::optional<IpAddress>>;

EntryKey key_of(const EndpointEntry& e) {
  std::string host = e.endpoint.address ? e.endpoint.address->to_string() : e.endpoint.host;
  if (!e.endpoint.address) {
    if (!host.empty() && host.back() == '.') host.pop_back();
    std::transform(host.begin(), host.end(), host.begin(),
                   [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; });
  }
  return {host, e.endpoint.port, e.source};
}

std::string family_name(const IpAddress& a) { return a.is_v4() ? "IPv4" : "IPv6"; }

std::optional<IpAddress> source_value(const Entry& e, const std::optional<EndpointSpec>& endpoint, Reporter& r) {
  const auto text = scalar_value(e, kSourceExpected, r);
  if (!text) return std::nullopt;
  const auto a = IpAddress::parse(*text);
  if (!a) {
    r.error(location_of(e.value), e.path, quoted(*text) + " is not an IP address; expected " + kSourceExpected);
    return std::nullopt;
  }
  if (endpoint && endpoint->address && endpoint->address->family() != a->family()) {
    r.error(location_of(e.value), e.path,
            *text + " is an " + family_name(*a) + " address but the endpoint " + endpoint->to_string() + " is " +
                family_name(*endpoint->address) + "; a source must be of the endpoint's family");
    return std::nullopt;
  }
  return a;
}

// An entry written as a map: `endpoint:` (required) and `source:`.
std::optional<EndpointEntry> map_entry(const YAML::Node& item, const std::string& path, Reporter& r, Draft& d) {
  const auto entries = map_entries(item, path, Section::kEndpoint, r);
  if (!entries) return std::nullopt;
  const auto find = [&](std::string_view key) {
    const auto it = std::find_if(entries->begin(), entries->end(), [&](const Entry& e) { return e.key == key; });
    return it == entries->end() ? nullptr : &*it;
  };
  for (const Entry& e : *entries) d.where[e.path] = location_of(e.value.IsNull() ? e.key_node : e.value);
  const Entry* endpoint = find("endpoint");
  const Entry* source = find("source");
  if (endpoint == nullptr) {
    r.error(location_of(item), path,
            "missing 'endpoint'; expected 'endpoint: HOST:PORT' (and optionally 'source: ADDRESS')");
  }
  const std::optional<EndpointSpec> spec = endpoint != nullptr ? endpoint_value(*endpoint, r) : std::nullopt;
  std::optional<IpAddress> from;
  if (source != nullptr) {
    from = source_value(*source, spec, r);
    if (!from) return std::nullopt;
  }
  if (!spec) return std::nullopt;
  return EndpointEntry{*spec, from};
}

// An entry of `list`, either form.
std::optional<EndpointEntry> list_entry(const Entry& list, const YAML::Node& item, const std::string& path, Reporter& r,
                                        Draft& d) {
  if (item.IsMap()) return map_entry(item, path, r, d);
  if (item.IsNull()) {  // a bare '-': its mark points past it, so name the list's line
    r.error(location_of(list.key_node), path, std::string("is empty; expected ") + kItemExpected);
    return std::nullopt;
  }
  if (item.IsSequence()) {
    r.error(location_of(item), path, kIpv6IsAList);
    return std::nullopt;
  }
  const auto text = item_scalar(item, path, kItemExpected, r);
  if (!text) return std::nullopt;
  auto ep = parse_endpoint(*text);
  if (!ep) {
    r.error(location_of(item), path, ep.error());
    return std::nullopt;
  }
  return EndpointEntry{*ep, std::nullopt};
}

}  // namespace

std::optional<EndpointSpec> endpoint_value(const Entry& e, Reporter& r) {
  if (e.value.IsSequence()) {
    r.error(location_of(e.value), e.path, kIpv6IsAList);
    return std::nullopt;
  }
  const auto v = scalar_value(e, "HOST:PORT", r);
  if (!v) return std::nullopt;
  auto ep = parse_endpoint(*v);
  if (!ep) {
    r.error(location_of(e.value), e.path, ep.error());
    return std::nullopt;
  }
  return *ep;
}

std::vector<EndpointEntry> parse_endpoints(const Entry& e, Reporter& r, Draft& d) {
  const auto items = list_items(e, kListExpected, r);
  if (!items) return {};
  if (items->empty()) {
    r.error(location_of(e.value.IsNull() ? e.key_node : e.value), e.path,
            std::string("is empty; expected ") + kListExpected);
    return {};
  }
  std::vector<EndpointEntry> out;
  std::map<EntryKey, std::string> first;  // where each entry was first listed
  for (size_t n = 0; n < items->size(); ++n) {
    const YAML::Node& item = (*items)[n];
    const std::string path = e.value.IsSequence() ? item_path(e.path, n) : e.path;
    d.where[path] = location_of(item.IsNull() ? e.key_node : item);
    if (n == kMaxEndpoints) {
      r.error(location_of(item), path,
              "a peer has at most " + std::to_string(kMaxEndpoints) + " endpoints; this list has " +
                  std::to_string(items->size()));
      break;
    }
    auto entry = list_entry(e, item, path, r, d);
    if (!entry) continue;
    const auto [it, fresh] = first.emplace(key_of(*entry), path);
    if (!fresh) {
      r.error(location_of(item), path,
              "same endpoint as " + it->second + " (" + entry->to_string() + "); list each endpoint once");
      continue;
    }
    out.push_back(std::move(*entry));
  }
  return out;
}

}  // namespace sitelink::config::detail
