// `sitelink metrics [--listen ADDR:PORT] [IFACE...]` (SPEC.md, "Monitoring"):
// serves GET /metrics (metrics.h) over HTTP with libmicrohttpd, reading the
// status sockets /run/sitelink/IFACE.sock at each scrape (nothing cached:
// a peer removed by a reload is gone from the next page). Without IFACE,
// every *.sock there. Needs no root and no key: only membership of group
// `sitelink` (the status sockets are 0660).
//
// Default listen address: 127.0.0.1:19586. The Prometheus exporter port
// range 9100-9999 is fully allocated (9586 is wireguard_exporter's), so a
// port outside it, below Linux's ephemeral range (32768-60999) and in no
// /etc/services entry: 19586, "1" before WireGuard exporter's number.
//
// Bounds, so that a slow or hostile client cannot block scrapes or grow
// memory: one thread per connection (a client that sends slowly holds only
// its own), at most kMaxConnections at once and kMaxPerAddress from one
// address, each cut off after kIdleTimeout without progress, at most
// kConnectionMemory bytes of request per connection (more: 431/413 and
// closed), a small thread stack; each status socket gets kStatusTimeout.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "daemon/control_socket.h"
#include "daemon/io.h"

namespace sitelink::daemon {

inline constexpr const char* kMetricsListen = "127.0.0.1:19586";
inline constexpr unsigned kMaxConnections = 64;
inline constexpr unsigned kMaxPerAddress = 16;
inline constexpr unsigned kIdleTimeoutSeconds = 10;
inline constexpr size_t kConnectionMemory = size_t{32} * 1024;
inline constexpr size_t kThreadStack = size_t{256} * 1024;
inline constexpr std::chrono::milliseconds kStatusTimeout{2000};

struct MetricsOptions {
  std::string listen = kMetricsListen;  // ADDR:PORT, [V6ADDR]:PORT
  std::vector<std::string> interfaces;  // empty: every socket in status_dir
  std::string status_dir = kStatusDirectory;
};

// The page served for GET /metrics now.
std::string scrape(const MetricsOptions& options);

// Serves until SIGTERM or SIGINT; exit code 0, or 1 (with a message on
// io.err) if it cannot listen.
int metrics_command(const MetricsOptions& options, Io& io);

}  // namespace sitelink::daemon
