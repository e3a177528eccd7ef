// Resolver: its worker thread starts only once start() allowed it and a
// lookup is wanted (most configurations name no host), and a lookup made
// before start() waits for it. "localhost" comes from /etc/hosts: no DNS.
#include "daemon/resolver.h"

#include <dirent.h>
#include <gtest/gtest.h>
#include <poll.h>

#include <fstream>
#include <string>
#include <vector>

namespace sitelink::daemon {
namespace {

// Threads of this process named as the resolver names its worker (not all
// threads: a sanitizer's own background thread comes and goes).
size_t thread_count() {
  size_t n = 0;
  DIR* d = opendir("/proc/self/task");
  if (d == nullptr) return 0;
  while (const dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::ifstream comm(std::string("/proc/self/task/") + e->d_name + "/comm");
    std::string name;
    if (std::getline(comm, name) && name == "sitelink-dns") ++n;
  }
  closedir(d);
  return n;
}

handshake::PublicKey key(uint8_t b) {
  std::array<uint8_t, 32> raw{};
  raw.fill(b);
  return handshake::PublicKey(raw);
}

// The results of the next signal on the eventfd (at most 5 s away).
std::vector<Resolver::Result> wait_for_results(Resolver& r) {
  pollfd p{r.fd(), POLLIN, 0};
  if (poll(&p, 1, 5000) != 1) return {};
  return r.take();
}

TEST(Resolver, NoThreadUntilALookupIsWanted) {
  ASSERT_EQ(thread_count(), 0u);
  Resolver r;
  r.start();
  EXPECT_EQ(thread_count(), 0u);
  EXPECT_TRUE(r.request(key(1), "localhost", 51820));
  EXPECT_EQ(thread_count(), 1u);
  const auto results = wait_for_results(r);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].peer, key(1));
  EXPECT_EQ(results[0].host, "localhost");
  ASSERT_TRUE(results[0].address.has_value());
  EXPECT_EQ(results[0].address->port(), 51820);
}

TEST(Resolver, ALookupBeforeStartWaitsForIt) {
  ASSERT_EQ(thread_count(), 0u);
  Resolver r;
  EXPECT_TRUE(r.request(key(2), "localhost", 4000));
  EXPECT_EQ(thread_count(), 0u);
  pollfd p{r.fd(), POLLIN, 0};
  EXPECT_EQ(poll(&p, 1, 0), 0);  // nothing resolved yet
  r.start();
  EXPECT_EQ(thread_count(), 1u);
  const auto results = wait_for_results(r);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].peer, key(2));
  ASSERT_TRUE(results[0].address.has_value());
}

TEST(Resolver, StoppedWithoutEverStarting) {
  ASSERT_EQ(thread_count(), 0u);
  {
    Resolver r;
    r.request(key(3), "localhost", 1);
  }
  EXPECT_EQ(thread_count(), 0u);
}

}  // namespace
}  // namespace sitelink::daemon
