// Internals of the loader, shared by load.cc, load_interface.cc,
// load_peers.cc, yaml_fields.cc and validate.cc; not part of config/'s
// interface. This is the only header that includes yaml-cpp: raw YAML nodes
// never leave the loader.
//
// The loader works in two passes. The section parsers turn each field into
// a typed value (or a diagnostic) and remember where it was written (Draft).
// validate() then checks the rules that span fields and peers, using those
// locations for its messages.
#pragma once

#include <yaml-cpp/yaml.h>

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/diagnostic.h"
#include "config/load.h"
#include "config/types.h"

namespace sitelink::config::detail {

inline constexpr std::array<std::string_view, 2> kTopKeys{"interface", "peers"};
inline constexpr std::array<std::string_view, 20> kInterfaceKeys{
    "name",
    "private-key",
    "private-key-file",
    "listen-port",
    "address",
    "mtu",
    "routes",
    "fwmark",
    "rekey-after-time",
    "log-level",
    "batch-io",
    "udp-gso",
    "udp-gro",
    "tun-offload",
    "socket-buffer",
    "crypto-threads",
    "mss-clamp",
    "copy-dscp",
    "failover-after",
    "failback-interval",
};
inline constexpr std::array<std::string_view, 9> kPeerKeys{
    "name",        "public-key",           "preshared-key", "preshared-key-file", "endpoint", "endpoints",
    "allowed-ips", "persistent-keepalive", "netmap"};
// The keys of a `netmap:` entry.
inline constexpr std::array<std::string_view, 3> kNetmapKeys{"peer", "local", "seen-as"};
// The keys of an `endpoints:` entry written as a map.
inline constexpr std::array<std::string_view, 2> kEndpointKeys{"endpoint", "source"};

enum class Section { kTop, kInterface, kPeer, kEndpoint, kNetmap };

// Collects diagnostics for one file.
class Reporter {
 public:
  explicit Reporter(std::string file) : file_(std::move(file)) {}
  void error(Location at, std::string path, std::string message);
  void warning(Location at, std::string path, std::string message);
  void note(Location at, std::string path, std::string message);
  const std::string& file() const { return file_; }
  bool has_errors() const;
  Diagnostics take();  // sorted by location, file-level ones first

 private:
  std::string file_;
  Diagnostics list_;
};

// Where each parsed field was written, by path ("peers[1].allowed-ips[0]").
using Locations = std::map<std::string, Location>;

// Where a parsed peer came from: its index in `peers` and, for each of its
// allowed_ips, the path of the list item (invalid items are skipped).
struct PeerSource {
  size_t index = 0;
  std::vector<std::string> allowed_ip_paths;
  bool allowed_ips_written = false;       // at least one item, valid or not
  std::vector<std::string> netmap_paths;  // per netmap entry: "peers[0].netmap[1]"
};

struct Draft {
  Config config;
  Locations where;
  std::vector<PeerSource> sources;  // parallel to config.peers
  bool private_key_known = false;   // false when missing, invalid or not read
  size_t allowed_ips = 0;           // all peers' so far, against kMaxAllowedIps
  bool over_limit = false;          // kMaxPeers or kMaxAllowedIps passed: parsing stopped there
  Location at(const std::string& path) const;
};

struct Context {
  Reporter& report;
  const LoadOptions& options;
  std::string base_dir;  // for relative key-file paths; "" = the working directory
};

// A key/value pair of a YAML map, with its path ("interface.mtu").
struct Entry {
  std::string key;
  std::string path;
  YAML::Node key_node;
  YAML::Node value;
};

Location location_of(const YAML::Node& n);
std::string field_path(const std::string& parent, std::string_view key);
std::string item_path(const std::string& parent, size_t index);

// The entries of a map whose keys all belong to `section`; unknown,
// duplicate and non-scalar keys are reported and left out. nullopt (and a
// diagnostic at `at`, or at the node) if `node` is not a map. A null value's
// own mark points past it, so callers pass the key's location as `at`.
std::optional<std::vector<Entry>> map_entries(const YAML::Node& node, const std::string& path, Section section,
                                              Reporter& r, std::optional<Location> at = std::nullopt);
// The message for an unknown key: a "did you mean", or where the key belongs.
std::string unknown_key_message(std::string_view key, Section section);

// The text of a scalar value; reported (with `expected`) if null or not a scalar.
std::optional<std::string> scalar_value(const Entry& e, std::string_view expected, Reporter& r);
// The items of a list; a single scalar counts as a one-item list and null as
// an empty list. Reported if it is a map.
std::optional<std::vector<YAML::Node>> list_items(const Entry& e, std::string_view expected, Reporter& r);
// A scalar item of a list, reported if it is not one.
std::optional<std::string> item_scalar(const YAML::Node& n, const std::string& path, std::string_view expected,
                                       Reporter& r);
// A decimal integer in [min, max] (0x-hex too when allow_hex).
std::optional<uint64_t> uint_value(const Entry& e, uint64_t min, uint64_t max, std::string_view expected, Reporter& r,
                                   bool allow_hex = false);
std::optional<bool> bool_value(const Entry& e, Reporter& r);

// A key written inline (base64) or in a file (resolved against ctx.base_dir).
// `what` names it in messages ("private key"). On success the 32 bytes are
// in `out`; on failure the problem is reported.
bool read_key(const Entry& e, bool from_file, std::string_view what, Context& ctx, std::span<uint8_t, 32> out);

// A peer's `endpoint:` value (also an `endpoints:` entry's); reported if it
// is not HOST:PORT.
std::optional<EndpointSpec> endpoint_value(const Entry& e, Reporter& r);
// A peer's `endpoints:` list (load_endpoints.cc): the entries that are valid,
// in order. Every problem is reported: an empty or too long list, an entry
// that is not HOST:PORT or a map with `endpoint:` and optional `source:`, a
// source that is not an IP address or not of the endpoint's family, and
// duplicates.
std::vector<EndpointEntry> parse_endpoints(const Entry& e, Reporter& r, Draft& d);
// A peer's `netmap:` list (load_netmap.cc): the valid entries, in order,
// their paths in `paths`. Checked here, each at the entry: exactly one of
// `peer:` and `local:` with a `seen-as:`, prefixes of the same family and
// length (host bits fixed with a warning). The rules across entries and
// peers are validate()'s (check_netmap).
std::vector<NetmapEntry> parse_netmap(const Entry& e, Reporter& r, Draft& d, std::vector<std::string>& paths);

void parse_interface(const Entry& section, Context& ctx, Draft& d);
void parse_peers(const Entry& peers, Context& ctx, Draft& d);
void validate(Draft& d, Reporter& r);
// The cross-entry and cross-peer rules of `netmap:` (validate_netmap.cc).
void check_netmap(const Draft& d, Reporter& r);

}  // namespace sitelink::config::detail
