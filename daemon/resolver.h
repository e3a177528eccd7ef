// Resolver: DNS names of peer endpoints, looked up off the packet path. A
// worker thread runs getaddrinfo; results come back through an eventfd the
// event loop watches, so a slow DNS server never stalls packets.
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "handshake/keys.h"
#include "tunnel/sock_addr.h"
#include "tunnel/unique_fd.h"

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
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;
  // Lets the worker thread start: now if requests are waiting, else with
  // the first request (most configurations name no host and never need
  // it, and a thread start costs start-up time). Called once privileges are
  // dropped: capabilities are per thread, and a thread started earlier
  // would keep them all.
  void start();
  int fd() const { return event_.get(); }
  // Queues a lookup (one per peer and name at a time). False if the worker thread could not be started; the
  // job stays queued and the next request (or start) tries again.
  bool request(const handshake::PublicKey& peer, const std::string& host, uint16_t port);
  // Results that arrived since the last call (drains the eventfd).
  std::vector<Result> take();

 private:
  struct Job {
    handshake::PublicKey peer;
    std::string host;
    uint16_t port;
  };
  void work();
  // Starts the worker if start() allowed it and it is not running; false
  // if the thread could not be made.
  bool run_worker();

  tunnel::UniqueFd event_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  std::vector<Result> done_;
  bool stopping_ = false;
  bool started_ = false;  // start() was called (set and read on the caller's thread)
  std::thread worker_;
};

}  // namespace sitelink::daemon
