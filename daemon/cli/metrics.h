// `sitelink metrics`'s page: the status of each interface (as `sitelink
// show` fetches it from the status sockets, show.h) in the Prometheus text
// exposition format, version 0.0.4 (prometheus.io, "Exposition formats").
// Pure: no I/O; the HTTP side is metrics_server.h.
//
// Metrics (labels: interface; per peer also peer = its public key in
// base64, and name where the configuration gives one):
//   sitelink_interface_up                     1 if its status socket answered
//   sitelink_interface_peers                  peers configured
//   sitelink_drops_total{reason}              packets dropped, by reason
//   sitelink_mss_clamped_total                TCP SYNs whose MSS was lowered
//   sitelink_data_path_enabled{technique}     1 if batch_io/udp_gso/udp_gro/
//                                             tun_offload is in effect
//   sitelink_crypto_threads
//   sitelink_peer_up                          1 while a session is current
//   sitelink_peer_state{state}                1 for the peer's one state of
//                                             up, dead, connecting, down
//   sitelink_peer_state_reason{state,reason}  1, the state with its reason
//                                             (a fixed word, show.h)
//   sitelink_peer_last_handshake_seconds      Unix time; 0: never
//   sitelink_peer_last_receive_seconds        Unix time of the last data; 0: never
//   sitelink_peer_receive_bytes_total, sitelink_peer_transmit_bytes_total
//   sitelink_peer_receive_packets_total, sitelink_peer_transmit_packets_total
//   sitelink_peer_handshakes_total            sessions established
//   sitelink_peer_unanswered_initiations      since its last session
//   sitelink_peer_path_alive                  1 while answers come back
//   sitelink_peer_endpoint_switches_total     moves along an `endpoints:` list
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/show.h"

namespace sitelink::daemon {

// A label value as the text format wants it: backslash, double quote and
// newline escaped; bytes that are not UTF-8 replaced by U+FFFD.
std::string escape_label_value(std::string_view value);
// HELP text: backslash and newline escaped (and not UTF-8 replaced).
std::string escape_help(std::string_view text);
// [a-zA-Z_:][a-zA-Z0-9_:]*
bool valid_metric_name(std::string_view name);
// [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__" (reserved).
bool valid_label_name(std::string_view name);

struct MetricLabel {
  std::string_view name;
  std::string value;
};

// A page of metric families: each family's HELP and TYPE lines once, then
// all its samples together, families in the order declared.
class Exposition {
 public:
  enum class Type { kCounter, kGauge };
  // False (and nothing declared) for an invalid or repeated name.
  bool declare(std::string_view name, Type type, std::string_view help);
  // False (nothing added) for an undeclared family or an invalid label name.
  bool add(std::string_view name, const std::vector<MetricLabel>& labels, uint64_t value);
  std::string text() const;

 private:
  struct Family {
    std::string name;
    Type type;
    std::string help;
    std::string samples;
  };
  std::vector<Family> families_;
};

// The page for every interface that answered and, with
// sitelink_interface_up 0, each of `unreachable` (names).
std::string render_metrics(const std::vector<InterfaceStatus>& ifaces, const std::vector<std::string>& unreachable,
                           WallTime now);

}  // namespace sitelink::daemon
