// Resolver: its worker thread starts only once start() allowed it and a
// lookup is wanted (most configurations name no host), and a lookup made
// before start() waits for it. "localhost" comes from /etc/hosts: no DNS.
#include "daemon/resolver.h"

#include <dirent.h>
#include <gtest/gtest.h>
#include <poll.h>

#include <vector>

namespace sitelink::daemon {
namespace {

size_t thread_count() {
  size_t n = 0;
  DIR* d = opendir("/proc/self/task");
  if (d == nullptr) return 0;
  while (const dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') ++n;
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
  const size_t before = thread_count();
  ASSERT_GT(before, 0u);
  Resolver r;
  r.start();
  EXPECT_EQ(thread_count(), before);
  EXPECT_TRUE(r.request(key(1), "localhost", 51820));
  EXPECT_EQ(thread_count(), before + 1);
  const auto results = wait_for_results(r);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].peer, key(1));
  EXPECT_EQ(results[0].host, "localhost");
  ASSERT_TRUE(results[0].address.has_value());
  EXPECT_EQ(results[0].address->port(), 51820);
}

TEST(Resolver, ALookupBeforeStartWaitsForIt) {
  const size_t before = thread_count();
  Resolver r;
  EXPECT_TRUE(r.request(key(2), "localhost", 4000));
  EXPECT_EQ(thread_count(), before);
  pollfd p{r.fd(), POLLIN, 0};
  EXPECT_EQ(poll(&p, 1, 0), 0);  // nothing resolved yet
  r.start();
  EXPECT_EQ(thread_count(), before + 1);
  const auto results = wait_for_results(r);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].peer, key(2));
  ASSERT_TRUE(results[0].address.has_value());
}

TEST(Resolver, StoppedWithoutEverStarting) {
  const size_t before = thread_count();
  {
    Resolver r;
    r.request(key(3), "localhost", 1);
  }
  EXPECT_EQ(thread_count(), before);
}

}  // namespace
}  // namespace sitelink::daemon
