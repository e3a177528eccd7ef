// DNS lookups for endpoints; see resolver.h.
#include "daemon/resolver.h"

#include <netdb.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <system_error>

namespace sitelink::daemon {

std::vector<tunnel::SockAddr> resolve_all_now(const std::string& host, uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &res) != 0 || res == nullptr) return {};
  std::vector<tunnel::SockAddr> v4;
  std::vector<tunnel::SockAddr> v6;
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    auto a = tunnel::SockAddr::from_raw(ai->ai_addr, ai->ai_addrlen);
    if (!a) continue;
    auto& list = a->is_v4() ? v4 : v6;
    const tunnel::SockAddr s(a->ip(), port);
    if (std::find(list.begin(), list.end(), s) == list.end()) list.push_back(s);
  }
  freeaddrinfo(res);
  v4.insert(v4.end(), v6.begin(), v6.end());
  return v4;
}

std::optional<tunnel::SockAddr> resolve_now(const std::string& host, uint16_t port) {
  auto all = resolve_all_now(host, port);
  return all.empty() ? std::nullopt : std::optional(all.front());
}

Resolver::Resolver() : event_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}

void Resolver::start() {
  started_ = true;
  bool waiting = false;
  {
    std::lock_guard lock(mu_);
    waiting = !jobs_.empty();
  }
  if (waiting) (void)run_worker();
}

bool Resolver::run_worker() {
  if (!started_ || worker_.joinable()) return true;
  try {
    worker_ = std::thread([this] { work(); });
  } catch (const std::system_error&) {
    return false;
  }
  return true;
}

Resolver::~Resolver() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

bool Resolver::request(const handshake::PublicKey& peer, const std::string& host, uint16_t port) {
  {
    std::lock_guard lock(mu_);
    const bool queued = std::any_of(jobs_.begin(), jobs_.end(),
                                    [&](const Job& j) { return j.peer == peer && j.host == host; });
    if (!queued) jobs_.push_back(Job{peer, host, port});
  }
  cv_.notify_one();
  return run_worker();
}

std::vector<Resolver::Result> Resolver::take() {
  uint64_t n = 0;
  (void)::read(event_.get(), &n, sizeof n);
  std::lock_guard lock(mu_);
  return std::exchange(done_, {});
}

void Resolver::work() {
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (stopping_) return;
      job = jobs_.front();
      jobs_.pop_front();
    }
    Result r{job.peer, job.host, std::nullopt, resolve_all_now(job.host, job.port)};
    if (!r.addresses.empty()) r.address = r.addresses.front();
    {
      std::lock_guard lock(mu_);
      done_.push_back(std::move(r));
    }
    const uint64_t one = 1;
    (void)::write(event_.get(), &one, sizeof one);
  }
}

}  // namespace sitelink::daemon
