// DNS lookups for endpoints; see resolver.h.
#include "daemon/resolver.h"

#include <netdb.h>

#include <algorithm>

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

Resolver::Resolver()
    : worker_("sitelink-dns", [](Job& job) {
        Result r{job.peer, job.host, std::nullopt, resolve_all_now(job.host, job.port)};
        if (!r.addresses.empty()) r.address = r.addresses.front();
        return r;
      }) {}

bool Resolver::request(const handshake::PublicKey& peer, const std::string& host, uint16_t port) {
  return worker_.request(Job{peer, host, port}, [&](const Job& j) { return j.peer == peer && j.host == host; });
}

}  // namespace sitelink::daemon
