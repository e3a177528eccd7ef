// The `interface:` section: name, private key (inline or from a file),
// listen-port, address, mtu, routes, fwmark, rekey-after-time, log-level,
// mss-clamp, copy-dscp, the endpoint failover timing (failover-after, failback-interval)
// and the data path switches, each turned into a typed value or a diagnostic.
#include <algorithm>

#include "config/load_internal.h"
#include "config/names.h"
#include "handshake/base/secret.h"

namespace sitelink::config::detail {
namespace {

void parse_name(const Entry& e, Reporter& r, InterfaceConfig& i) {
  const auto v = scalar_value(e, "an interface name of 1..15 characters", r);
  if (!v) return;
  const std::string why = interface_name_problem(*v);
  if (why.empty()) {
    i.name = *v;
    return;
  }
  r.error(location_of(e.value), e.path,
          "'" + *v + "' is not a valid interface name: " + why +
              "; expected 1..15 characters without '/', ':', '%' or spaces");
}

void parse_addresses(const Entry& e, Reporter& r, Draft& d) {
  const auto items = list_items(e, "addresses with prefix length, e.g. [198.18.0.1/24]", r);
  if (!items) return;
  for (size_t n = 0; n < items->size(); ++n) {
    const YAML::Node& item = (*items)[n];
    const std::string path = e.value.IsSequence() ? item_path(e.path, n) : e.path;
    const auto text = item_scalar(item, path, "an address with prefix length, e.g. 198.18.0.1/24", r);
    if (!text) continue;
    auto p = IpPrefix::parse(*text);
    if (!p) {
      r.error(location_of(item), path, p.error());
      continue;
    }
    d.where[path] = location_of(item);
    d.config.interface.addresses.push_back(*p);
  }
}

void parse_rekey(const Entry& e, Reporter& r, InterfaceConfig& i) {
  const auto v = uint_value(e, 1, static_cast<uint64_t>(kMaxRekeyAfterTime.count()),
                            "seconds, 1..3600 (WireGuard's is 120)", r);
  if (!v) return;
  i.rekey_after_time = std::chrono::seconds(*v);
  if (i.rekey_after_time > kWireGuardRekeyAfterTime) {
    r.warning(location_of(e.value), e.path,
              "keys are renewed less often than WireGuard's 120 seconds, which weakens forward secrecy");
  }
}

void parse_level(const Entry& e, Reporter& r, InterfaceConfig& i) {
  constexpr const char* kExpected = "error, warn, info or debug";
  const auto v = scalar_value(e, kExpected, r);
  if (!v) return;
  if (auto level = parse_log_level(*v)) {
    i.log_level = *level;
    return;
  }
  r.error(location_of(e.value), e.path, "'" + *v + "' is not a log level; expected " + kExpected);
}

void parse_mss_clamp(const Entry& e, Reporter& r, InterfaceConfig& i) {
  if (e.value.IsScalar() && (e.value.Scalar() == "auto" || e.value.Scalar() == "off")) {
    i.mss_clamp = MssClamp{e.value.Scalar() == "auto" ? MssClamp::Mode::kAuto : MssClamp::Mode::kOff, 0};
    return;
  }
  if (auto v = uint_value(e, kMinMssClamp, kMaxMssClamp,
                          "auto, off, or the largest IPv4 TCP MSS, 536..65535 (IPv6 gets 20 less)", r)) {
    i.mss_clamp = MssClamp{MssClamp::Mode::kFixed, static_cast<uint16_t>(*v)};
  }
}

// failover-after and failback-interval: whole seconds within their bounds.
void parse_failover(const Entry& e, Reporter& r, InterfaceConfig& i) {
  const bool after = e.key == "failover-after";
  const auto lo = after ? kMinFailoverAfter : kMinFailbackInterval;
  const auto hi = after ? kMaxFailoverAfter : kMaxFailbackInterval;
  const auto def = after ? kDefaultFailoverAfter : kDefaultFailbackInterval;
  const std::string expected = "seconds, " + std::to_string(lo.count()) + ".." + std::to_string(hi.count()) +
                               " (default " + std::to_string(def.count()) + ")";
  const auto v = uint_value(e, static_cast<uint64_t>(lo.count()), static_cast<uint64_t>(hi.count()), expected, r);
  if (!v) return;
  (after ? i.failover_after : i.failback_interval) = std::chrono::seconds(*v);
}

void parse_data_path_switch(const Entry& e, Reporter& r, DataPathConfig& dp) {
  bool* target = e.key == "batch-io"      ? &dp.batch_io
                 : e.key == "udp-gso"     ? &dp.udp_gso
                 : e.key == "udp-gro"     ? &dp.udp_gro
                 : e.key == "tun-offload" ? &dp.tun_offload
                                          : nullptr;
  if (target == nullptr) return;
  if (auto v = bool_value(e, r)) *target = *v;
}

void parse_crypto_threads(const Entry& e, Reporter& r, DataPathConfig& dp) {
  if (e.value.IsScalar() && e.value.Scalar() == "auto") {
    dp.crypto_threads.reset();
    return;
  }
  if (auto v = uint_value(e, 0, kMaxCryptoThreads, "auto, or a number of threads 0..64 (0 = none)", r)) {
    dp.crypto_threads = static_cast<uint32_t>(*v);
  }
}

void parse_field(const Entry& e, Reporter& r, Draft& d) {
  InterfaceConfig& i = d.config.interface;
  if (e.key == "name") {
    parse_name(e, r, i);
  } else if (e.key == "listen-port") {
    if (auto v = uint_value(e, 0, 65535, "a UDP port number, 0..65535 (0 = any free port)", r)) {
      i.listen_port = static_cast<uint16_t>(*v);
    }
  } else if (e.key == "address") {
    parse_addresses(e, r, d);
  } else if (e.key == "mtu") {
    if (auto v = uint_value(e, kMinMtuIpv4, kMaxMtu, "an MTU in bytes, 576..65475 (1280 or more with IPv6)", r)) {
      i.mtu = static_cast<uint32_t>(*v);
    }
  } else if (e.key == "routes") {
    if (auto v = bool_value(e, r)) i.routes = *v;
  } else if (e.key == "fwmark") {
    if (auto v = uint_value(e, 0, UINT32_MAX, "a 32-bit mark, 0..4294967295 or 0x0..0xffffffff (0 = none)", r, true)) {
      i.fwmark = static_cast<uint32_t>(*v);
    }
  } else if (e.key == "rekey-after-time") {
    parse_rekey(e, r, i);
  } else if (e.key == "log-level") {
    parse_level(e, r, i);
  } else if (e.key == "mss-clamp") {
    parse_mss_clamp(e, r, i);
  } else if (e.key == "copy-dscp") {
    if (auto v = bool_value(e, r)) i.copy_dscp = *v;
  } else if (e.key == "failover-after" || e.key == "failback-interval") {
    parse_failover(e, r, i);
  } else if (e.key == "crypto-threads") {
    parse_crypto_threads(e, r, i.data_path);
  } else if (e.key == "socket-buffer") {
    if (auto v = uint_value(e, 0, kMaxSocketBuffer, "bytes, 0..1073741824 (0 = the kernel's default)", r)) {
      i.data_path.socket_buffer = static_cast<uint32_t>(*v);
    }
  } else {
    parse_data_path_switch(e, r, i.data_path);
  }
}

// Exactly one of private-key and private-key-file.
void parse_private_key(const Entry* inline_key, const Entry* file, const Entry& section, Context& ctx, Draft& d) {
  if (inline_key != nullptr && file != nullptr) {
    const Entry* later = location_of(inline_key->key_node) < location_of(file->key_node) ? file : inline_key;
    ctx.report.error(location_of(later->key_node), later->path, "set either private-key or private-key-file, not both");
    return;
  }
  if (inline_key == nullptr && file == nullptr) {
    ctx.report.error(location_of(section.key_node), section.path,
                     "missing 'private-key-file' (or 'private-key'); create a key with 'sitelink genkey'");
    return;
  }
  const Entry& e = file != nullptr ? *file : *inline_key;
  Secret<32> raw;
  if (read_key(e, file != nullptr, "private key", ctx, raw.span())) {
    d.config.interface.private_key = handshake::PrivateKey(raw.span());
    d.private_key_known = true;
  }
  if (file != nullptr && file->value.IsScalar()) d.config.interface.private_key_file = file->value.Scalar();
}

}  // namespace

void parse_interface(const Entry& section, Context& ctx, Draft& d) {
  d.where[section.path] = location_of(section.key_node);
  const auto entries = map_entries(section.value, section.path, Section::kInterface, ctx.report,
                                   location_of(section.key_node));
  if (!entries) return;
  const Entry* inline_key = nullptr;
  const Entry* key_file = nullptr;
  for (const Entry& e : *entries) {
    d.where[e.path] = location_of(e.value.IsNull() ? e.key_node : e.value);
    if (e.key == "private-key") {
      inline_key = &e;
    } else if (e.key == "private-key-file") {
      key_file = &e;
    } else {
      parse_field(e, ctx.report, d);
    }
  }
  parse_private_key(inline_key, key_file, section, ctx, d);
}

}  // namespace sitelink::config::detail
