// libFuzzer target: config::load_text() on arbitrary bytes, as YAML from
// memory, without reading key files. Whatever the input, the loader must not
// crash or throw, and its answer must be consistent: it fails exactly when
// there is an error; every diagnostic is in this file, in order, with a
// sane location; and an accepted configuration obeys every rule (so the
// validator cannot be bypassed) and diffs as unchanged against itself.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "config/diff.h"
#include "config/load.h"
#include "config/names.h"
#include "fuzz/fuzz_check.h"
#include "handshake/crypto.h"

namespace sitelink::config {
namespace {

void check_diagnostics(const Diagnostics& ds, std::string_view text) {
  const long lines = static_cast<long>(std::count(text.begin(), text.end(), '\n')) + 1;
  Location previous{};
  for (const Diagnostic& d : ds) {
    FUZZ_CHECK(d.file == "fuzz.yaml");
    FUZZ_CHECK(!d.message.empty());
    FUZZ_CHECK(d.where.line >= 0 && d.where.column >= 0);
    FUZZ_CHECK(d.where.line <= lines + 1);
    FUZZ_CHECK(!(d.where < previous));
    previous = d.where;
    FUZZ_CHECK(d.to_string().rfind("fuzz.yaml", 0) == 0);
  }
}

// `endpoints:` never beside `endpoint`, 1..16 entries (an empty list is an
// error, so absent), none twice, a source of an IP endpoint's family.
void check_endpoints(const PeerConfig& p) {
  FUZZ_CHECK(!p.endpoint || p.endpoints.empty());
  FUZZ_CHECK(p.endpoints.size() <= kMaxEndpoints);
  FUZZ_CHECK(p.endpoint_list().size() == (p.endpoint ? 1 : p.endpoints.size()));
  for (size_t n = 0; n < p.endpoints.size(); ++n) {
    const EndpointEntry& e = p.endpoints[n];
    FUZZ_CHECK(e.endpoint.port >= 1 && e.endpoint.is_dns_name != e.endpoint.address.has_value());
    if (e.source && e.endpoint.address) FUZZ_CHECK(e.source->family() == e.endpoint.address->family());
    for (size_t m = 0; m < n; ++m) FUZZ_CHECK(!(p.endpoints[m] == e));
  }
}

void check_config(const Config& c) {
  const InterfaceConfig& i = c.interface;
  FUZZ_CHECK(interface_name_problem(i.name).empty());
  FUZZ_CHECK(i.mtu >= kMinMtuIpv4 && i.mtu <= kMaxMtu);
  FUZZ_CHECK(i.rekey_after_time.count() >= 1 && i.rekey_after_time <= kMaxRekeyAfterTime);
  FUZZ_CHECK(i.failover_after >= kMinFailoverAfter && i.failover_after <= kMaxFailoverAfter);
  FUZZ_CHECK(i.failback_interval >= kMinFailbackInterval && i.failback_interval <= kMaxFailbackInterval);
  bool v6 = false;
  for (const auto& a : i.addresses) v6 = v6 || !a.address().is_v4();
  for (size_t k = 0; k < c.peers.size(); ++k) {
    const PeerConfig& p = c.peers[k];
    FUZZ_CHECK(!(p.public_key == i.public_key()) || i.private_key.is_zero());
    FUZZ_CHECK(p.persistent_keepalive.count() >= 0 && p.persistent_keepalive <= kMaxPersistentKeepalive);
    if (p.endpoint) FUZZ_CHECK(p.endpoint->port >= 1 && p.endpoint->is_dns_name != p.endpoint->address.has_value());
    check_endpoints(p);
    for (const auto& a : p.allowed_ips) {
      FUZZ_CHECK(a.is_canonical());
      v6 = v6 || !a.address().is_v4();
    }
    for (size_t m = 0; m < k; ++m) {
      FUZZ_CHECK(!(c.peers[m].public_key == p.public_key));
      for (const auto& a : p.allowed_ips) {
        // Nested prefixes are allowed (the most specific wins); the same
        // prefix on two peers is not.
        for (const auto& b : c.peers[m].allowed_ips) FUZZ_CHECK(a != b);
      }
    }
  }
  FUZZ_CHECK(!v6 || i.mtu >= kMinMtuIpv6);
  FUZZ_CHECK(diff(c, c).empty());
}

}  // namespace
}  // namespace sitelink::config

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sitelink::config;
  static const bool initialised = [] {
    sitelink::handshake::crypto_init();
    return true;
  }();
  (void)initialised;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  LoadOptions options;
  options.read_key_files = false;  // never touch the file system
  options.base_dir = "/nonexistent";
  const auto r = load_text(text, "fuzz.yaml", options);
  const Diagnostics& ds = r ? r->warnings : r.error();
  FUZZ_CHECK(r.ok() == (count_errors(ds) == 0));
  check_diagnostics(ds, text);
  if (r) check_config(r->config);
  return 0;
}
