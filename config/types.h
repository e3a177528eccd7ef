// The configuration of one sitelink interface as validated, typed values
// (SPEC.md, "Configuration: YAML"). Nothing here is raw YAML: keys are
// decoded, prefixes parsed and canonicalised, endpoints split, durations
// are std::chrono. Defaults are SPEC.md's. Produced by load.h, compared by
// diff.h for reloads.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/endpoint.h"
#include "config/ip_prefix.h"
#include "handshake/keys.h"

namespace sitelink::config {

// Limits (see validate.cc for the reasons).
inline constexpr uint32_t kMinMtuIpv4 = 576;   // RFC 791: every IPv4 host accepts 576
inline constexpr uint32_t kMinMtuIpv6 = 1280;  // RFC 8200: IPv6's minimum link MTU
// The largest inner packet whose transport message (+32) still fits one UDP
// datagram (+8) in an IPv4 packet (+20) of at most 65535 bytes.
inline constexpr uint32_t kMaxMtu = 65535 - 20 - 8 - 32;
inline constexpr size_t kMaxInterfaceName = 15;  // IFNAMSIZ - 1
inline constexpr std::chrono::seconds kMaxRekeyAfterTime{3600};
inline constexpr std::chrono::seconds kWireGuardRekeyAfterTime{120};
inline constexpr std::chrono::seconds kMaxPersistentKeepalive{65535};
inline constexpr size_t kMaxEndpoints = 16;  // entries of a peer's `endpoints:`
// Per interface, whether configured by file or by the UAPI (`wg set`): far
// beyond real use (the kernel module accepts about as many peers and has no
// allowed-ips limit but memory), and a bound on what one request can cost.
// Each allowed IP costs about 300 bytes of memory (the lookup trie, the
// configuration in effect), each peer a few KiB.
inline constexpr size_t kMaxPeers = 1u << 16;
inline constexpr size_t kMaxAllowedIps = 1u << 20;  // all peers' together
// `failover-after` and `failback-interval` (InterfaceConfig): bounds and defaults.
inline constexpr std::chrono::seconds kMinFailoverAfter{1};
inline constexpr std::chrono::seconds kMaxFailoverAfter{60};
inline constexpr std::chrono::seconds kDefaultFailoverAfter{3};
inline constexpr std::chrono::seconds kMinFailbackInterval{5};
inline constexpr std::chrono::seconds kMaxFailbackInterval{3600};
inline constexpr std::chrono::seconds kDefaultFailbackInterval{20};

// How the data path talks to the kernel (each technique can be switched off,
// e.g. to measure it or to work around a kernel that misbehaves; each also
// falls back on its own when the kernel lacks it). Applied at start-up.
struct DataPathConfig {
  bool batch_io = true;               // recvmmsg/sendmmsg
  bool udp_gso = true;                // UDP_SEGMENT: trains of datagrams in one send
  bool udp_gro = true;                // UDP_GRO: trains of datagrams in one receive
  bool tun_offload = true;            // IFF_VNET_HDR: TCP segmentation/merging at the TUN
  uint32_t socket_buffer = 4u << 20;  // SO_RCVBUF/SO_SNDBUF bytes; 0 = kernel default
  // Threads that share big batches' crypto with the packet loop; nullopt =
  // auto (see auto_crypto_threads), 0 = all on the packet loop's thread.
  std::optional<uint32_t> crypto_threads;

  friend bool operator==(const DataPathConfig&, const DataPathConfig&) = default;
};
inline constexpr uint32_t kMaxSocketBuffer = 1u << 30;

// How much the daemon logs (interface `log-level`, sitelinkd --log-level).
enum class LogLevel : uint8_t { kError, kWarn, kInfo, kDebug };
// "error", "warn", "info" or "debug"; nullopt for anything else.
std::optional<LogLevel> parse_log_level(std::string_view s);
std::string_view to_string(LogLevel l);
inline constexpr uint32_t kMaxCryptoThreads = 64;

// `mss-clamp` (SPEC.md "Real office networks"): the largest TCP MSS that
// SYNs crossing the tunnel may announce. auto: tunnel MTU - 40 for IPv4,
// - 60 for IPv6 (the segment plus IP and TCP headers fits the tunnel). N is
// the IPv4 MSS, 536 (RFC 879's default) to 65535; IPv6 SYNs get N - 20, so
// that segments of either family make packets of the same size.
struct MssClamp {
  enum class Mode : uint8_t { kAuto, kOff, kFixed };
  Mode mode = Mode::kAuto;
  uint16_t mss = 0;  // kFixed only

  // The limits for IPv4 and IPv6 SYNs under this setting and `mtu`; 0 = no
  // clamping.
  uint16_t ipv4_limit(uint32_t mtu) const;
  uint16_t ipv6_limit(uint32_t mtu) const;
  // "auto", "off" or the number.
  std::string to_string() const;
  friend bool operator==(const MssClamp&, const MssClamp&) = default;
};
inline constexpr uint32_t kMinMssClamp = 536;
inline constexpr uint32_t kMaxMssClamp = 65535;

struct InterfaceConfig {
  std::string name = "sl0";
  handshake::PrivateKey private_key;
  std::string private_key_file;     // as written (empty when the key is inline)
  uint16_t listen_port = 51820;     // 0 = any free port
  std::vector<IpPrefix> addresses;  // host bits kept: the address and its on-link prefix
  uint32_t mtu = 1420;
  bool routes = true;   // route each peer's allowed-ips via the TUN
  uint32_t fwmark = 0;  // 0 = none
  std::chrono::seconds rekey_after_time = kWireGuardRekeyAfterTime;
  DataPathConfig data_path;
  std::optional<LogLevel> log_level;  // absent: info, unless --log-level says otherwise
  MssClamp mss_clamp;
  // `copy-dscp` (SPEC.md "Real office networks"): the outer header carries
  // the inner packet's DSCP (the ECN field is always copied, RFC 6040).
  bool copy_dscp = false;
  // Endpoint failover (SPEC.md "Real office networks"): data sent to a peer
  // for this long with nothing authenticated back makes its current endpoint
  // suspect, and the next one in its `endpoints:` is tried.
  std::chrono::seconds failover_after = kDefaultFailoverAfter;  // `failover-after`: 1..60
  // How often a peer that is not on its first endpoint probes the preferred ones.
  std::chrono::seconds failback_interval = kDefaultFailbackInterval;  // `failback-interval`: 5..3600

  handshake::PublicKey public_key() const { return private_key.public_key(); }
};

// One entry of a peer's `endpoints:` (SPEC.md "Real office networks"):
// where to send, and optionally the local address to send from (a gateway
// with two lines picks the line by source address, through policy routing).
struct EndpointEntry {
  EndpointSpec endpoint;
  std::optional<IpAddress> source;  // `source:`: send from this local address
  // "198.51.100.1:51820" or "198.51.100.1:51820 from 203.0.113.130".
  std::string to_string() const;
  friend bool operator==(const EndpointEntry&, const EndpointEntry&) = default;
};

// A `netmap:` entry (SPEC.md "Real office networks"): a 1:1 mapping of
// two prefixes of the same family and length, host bits kept.
struct NetmapEntry {
  enum class Side : uint8_t {
    kPeer,   // `peer: P, seen-as: Q`: the peer's P (as on the wire) is reached here through Q
    kLocal,  // `local: L, seen-as: M`: our L is shown to the peer as M
  };
  Side side = Side::kPeer;
  IpPrefix prefix;   // P or L (canonical)
  IpPrefix seen_as;  // Q or M (canonical)
  friend auto operator<=>(const NetmapEntry&, const NetmapEntry&) = default;
  std::string to_string() const;  // "peer 198.18.1.0/24 seen-as 198.19.201.0/24"
};

struct PeerConfig {
  std::string name;  // optional label; empty if absent
  handshake::PublicKey public_key;
  handshake::PresharedKey preshared_key;  // all zeros = none, as in WireGuard
  std::string preshared_key_file;         // as written (empty when inline or absent)
  std::optional<EndpointSpec> endpoint;
  std::vector<EndpointEntry> endpoints;          // `endpoints:` (never together with `endpoint`)
  std::vector<IpPrefix> allowed_ips;             // canonical (host bits cleared)
  std::chrono::seconds persistent_keepalive{0};  // 0 = off
  std::vector<NetmapEntry> netmap;               // `netmap:` (load_netmap.cc)

  // The endpoints in order of preference: `endpoints`, or `endpoint` as a
  // one-entry list, or none.
  std::vector<EndpointEntry> endpoint_list() const;
  // For logs and status: the name, or the base64 public key.
  std::string label() const { return name.empty() ? public_key.to_base64() : name; }
};

struct Config {
  std::string source;  // the file it was loaded from (or the display name)
  InterfaceConfig interface;
  std::vector<PeerConfig> peers;
};

}  // namespace sitelink::config
