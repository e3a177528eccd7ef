// Resolver: DNS names of peer endpoints, looked up off the packet path. A
// worker thread (worker_thread.h) runs getaddrinfo; results come back
// through an eventfd the event loop watches, so a slow DNS server never
// stalls packets.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "daemon/worker_thread.h"
#include "handshake/keys.h"
#include "tunnel/sock_addr.h"

namespace sitelink::daemon {

// Blocking lookup: the first address of `host` (IPv4 preferred when both
// exist, as most office links are IPv4), or nullopt.
std::optional<tunnel::SockAddr> resolve_now(const std::string& host, uint16_t port);
// Blocking lookup: every address of `host`, IPv4 ones first, each once.
std::vector<tunnel::SockAddr> resolve_all_now(const std::string& host, uint16_t port);

class Resolver {
 public:
  struct Result {
    handshake::PublicKey peer;
    std::string host;
    std::optional<tunnel::SockAddr> address;  // the preferred one
    std::vector<tunnel::SockAddr> addresses;  // all of them (an `endpoints:` entry uses every one)
  };

  Resolver();
  // Lets the worker thread start, once privileges are dropped (see
  // worker_thread.h); most configurations name no host and never start it.
  void start() { worker_.start(); }
  int fd() const { return worker_.fd(); }
  // Queues a lookup (one per peer and name at a time). False if the worker thread could not be started; the
  // job stays queued and the next request (or start) tries again.
  bool request(const handshake::PublicKey& peer, const std::string& host, uint16_t port);
  // Results that arrived since the last call (drains the eventfd).
  std::vector<Result> take() { return worker_.take(); }

 private:
  struct Job {
    handshake::PublicKey peer;
    std::string host;
    uint16_t port = 0;
  };
  WorkerThread<Job, Result> worker_;
};

}  // namespace sitelink::daemon
