// `sitelink metrics`; see metrics_server.h. libmicrohttpd parses HTTP and
// enforces the bounds; this file answers requests and waits for a signal.
#include "daemon/cli/metrics_server.h"

#include <microhttpd.h>
#include <signal.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <ostream>

#include "daemon/cli/metrics.h"
#include "daemon/exit_codes.h"
#include "daemon/show.h"
#include "tunnel/sock_addr.h"

namespace sitelink::daemon {
namespace {

constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";
constexpr const char* kIndex = "sitelink metrics exporter: the metrics are at /metrics (Prometheus text format).\n";

WallTime wall_now() {
  return WallTime{std::chrono::duration_cast<Duration>(std::chrono::system_clock::now().time_since_epoch())};
}

MHD_Result respond(MHD_Connection* c, unsigned status, const std::string& body, const char* type,
                   const char* allow = nullptr) {
  MHD_Response* r = MHD_create_response_from_buffer(body.size(), const_cast<char*>(body.data()), MHD_RESPMEM_MUST_COPY);
  if (r == nullptr) return MHD_NO;
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
  if (allow != nullptr) MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
  const MHD_Result ok = MHD_queue_response(c, status, r);
  MHD_destroy_response(r);
  return ok;
}

// libmicrohttpd calls this once when the headers are in (*state null), then
// once per piece of body, then once more: the answer goes out on the second
// call; a body (none is expected) is read and ignored.
MHD_Result on_request(void* cls, MHD_Connection* c, const char* url, const char* method, const char* /*version*/,
                      const char* /*upload_data*/, size_t* upload_size, void** state) {
  static int headers_seen;
  if (*state == nullptr) {
    *state = &headers_seen;
    return MHD_YES;
  }
  if (*upload_size != 0) {
    *upload_size = 0;
    return MHD_YES;
  }
  const auto& options = *static_cast<const MetricsOptions*>(cls);
  const bool get = std::strcmp(method, MHD_HTTP_METHOD_GET) == 0;
  if (!get && std::strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
    return respond(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n", "text/plain", "GET, HEAD");
  }
  if (std::strcmp(url, "/metrics") == 0) return respond(c, MHD_HTTP_OK, scrape(options), kContentType);
  if (std::strcmp(url, "/") == 0) return respond(c, MHD_HTTP_OK, kIndex, "text/plain; charset=utf-8");
  return respond(c, MHD_HTTP_NOT_FOUND, "not found; the metrics are at /metrics\n", "text/plain; charset=utf-8");
}

struct DaemonDeleter {
  void operator()(MHD_Daemon* d) const { MHD_stop_daemon(d); }
};

}  // namespace

std::string scrape(const MetricsOptions& o) {
  const std::vector<std::string> names = o.interfaces.empty() ? socket_names(o.status_dir) : o.interfaces;
  std::vector<InterfaceStatus> found;
  std::vector<std::string> unreachable;
  for (const std::string& n : names) {
    auto st = fetch_status(n, socket_path(n, o.status_dir), kStatusTimeout);
    if (st) {
      found.push_back(std::move(*st));
    } else {
      unreachable.push_back(n);
    }
  }
  return render_metrics(found, unreachable, wall_now());
}

int metrics_command(const MetricsOptions& o, Io& io) {
  const auto addr = tunnel::SockAddr::parse(o.listen);
  if (!addr) {
    io.err << "sitelink metrics: --listen " << o.listen << " is not ADDR:PORT (127.0.0.1:19586, [::1]:19586)\n";
    return kExitUsage;
  }
  // The signals this command waits for are blocked before libmicrohttpd's
  // threads exist, so that they inherit the mask and sigwait gets them.
  sigset_t set;
  sigemptyset(&set);
  for (const int s : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&set, s);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  sockaddr_storage raw{};
  (void)addr->to_raw(raw, addr->family());
  unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD;
  if (!addr->is_v4()) flags |= MHD_USE_IPv6;
  std::unique_ptr<MHD_Daemon, DaemonDeleter> d(
      MHD_start_daemon(flags, addr->port(), nullptr, nullptr, &on_request, const_cast<MetricsOptions*>(&o),
                       MHD_OPTION_SOCK_ADDR, reinterpret_cast<sockaddr*>(&raw),  //
                       MHD_OPTION_CONNECTION_LIMIT, kMaxConnections,             //
                       MHD_OPTION_PER_IP_CONNECTION_LIMIT, kMaxPerAddress,       //
                       MHD_OPTION_CONNECTION_TIMEOUT, kIdleTimeoutSeconds,       //
                       MHD_OPTION_CONNECTION_MEMORY_LIMIT, kConnectionMemory,    //
                       MHD_OPTION_THREAD_STACK_SIZE, kThreadStack,               //
                       MHD_OPTION_END));
  if (!d) {
    io.err << "sitelink metrics: cannot listen on " << o.listen << ": " << std::strerror(errno) << '\n';
    return kExitFailure;
  }
  const MHD_DaemonInfo* info = MHD_get_daemon_info(d.get(), MHD_DAEMON_INFO_BIND_PORT);
  const unsigned port = info != nullptr ? info->port : addr->port();
  // Streamed piece by piece: GCC 12 at -O3 reports a false -Wrestrict on
  // string concatenations such as "[" + text + "]".
  io.err << "sitelink metrics: serving http://";
  if (addr->is_v4()) {
    io.err << addr->ip().to_string();
  } else {
    io.err << '[' << addr->ip().to_string() << ']';
  }
  io.err << ':' << port << "/metrics for ";
  if (o.interfaces.empty()) {
    io.err << "every interface in " << o.status_dir;
  } else {
    io.err << o.interfaces.size() << " interface(s)";
  }
  io.err << '\n';
  io.err.flush();
  int sig = 0;
  while (sigwait(&set, &sig) == 0 && sig == SIGHUP) {
    // Nothing to re-read: the status sockets are read at every scrape.
  }
  return kExitOk;
}

}  // namespace sitelink::daemon
