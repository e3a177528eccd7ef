// CryptoPool: every job of a batch runs exactly once, small batches stay on
// the caller's thread, big ones are shared, and the threads' own path (the
// caller leaving every job to them) does the whole batch.
#include "tunnel/crypto_pool.h"

#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <random>
#include <set>
#include <vector>

namespace sitelink::tunnel {
namespace {

using Clock = std::chrono::steady_clock;

// Runs batches of random sizes and checks each index ran once.
void expect_each_job_once(CryptoPool& pool, uint32_t seed) {
  std::mt19937 gen(seed);
  std::vector<std::atomic<int>> calls(400);
  for (int batch = 0; batch < 300; ++batch) {
    const size_t n = std::uniform_int_distribution<size_t>(0, calls.size())(gen);
    for (auto& c : calls) c.store(0);
    auto fn = [&](size_t i) { calls[i].fetch_add(1); };
    pool.run(n, fn);
    for (size_t i = 0; i < calls.size(); ++i) {
      ASSERT_EQ(calls[i].load(), i < n ? 1 : 0) << "batch " << batch << " of " << n << ", job " << i;
    }
  }
}

TEST(CryptoPool, EveryJobRunsExactlyOnce) {
  for (size_t threads : {0, 1, 3}) {
    CryptoPool pool({.threads = threads, .min_parallel = 2});
    EXPECT_EQ(pool.threads(), threads);
    expect_each_job_once(pool, static_cast<uint32_t>(threads + 1));
  }
  CryptoPool leave_to_threads({.threads = 2, .min_parallel = 1, .caller_shares = false});
  expect_each_job_once(leave_to_threads, 7);
}

TEST(CryptoPool, SmallBatchesStayOnTheCallingThread) {
  CryptoPool pool({.threads = 2, .min_parallel = 16});
  std::set<std::thread::id> seen;
  auto fn = [&](size_t) { seen.insert(std::this_thread::get_id()); };  // one thread: no lock needed
  for (int i = 0; i < 50; ++i) pool.run(15, fn);
  EXPECT_EQ(seen, std::set<std::thread::id>{std::this_thread::get_id()});
  EXPECT_EQ(pool.parallel_batches(), 0u);
}

// Each job waits (up to a bound) until two threads have taken part, so the
// caller cannot finish the batch alone: a pool thread must join in.
TEST(CryptoPool, BigBatchesAreSharedWithThePoolThreads) {
  CryptoPool pool({.threads = 1, .min_parallel = 4});
  std::mutex mu;
  std::set<std::thread::id> seen;
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  auto fn = [&](size_t) {
    {
      std::lock_guard lock(mu);
      seen.insert(std::this_thread::get_id());
    }
    for (;;) {
      {
        std::lock_guard lock(mu);
        if (seen.size() >= 2) return;
      }
      if (Clock::now() > deadline) return;
      std::this_thread::yield();
    }
  };
  pool.run(8, fn);
  EXPECT_EQ(seen.size(), 2u);
  EXPECT_TRUE(seen.count(std::this_thread::get_id()));
  EXPECT_EQ(pool.parallel_batches(), 1u);
}

TEST(CryptoPool, WithoutTheCallerEveryJobRunsOnThePoolThreads) {
  CryptoPool pool({.threads = 2, .min_parallel = 1, .caller_shares = false});
  std::mutex mu;
  std::set<std::thread::id> seen;
  auto fn = [&](size_t) {
    std::lock_guard lock(mu);
    seen.insert(std::this_thread::get_id());
  };
  for (int i = 0; i < 100; ++i) pool.run(10, fn);
  EXPECT_FALSE(seen.empty());
  EXPECT_FALSE(seen.count(std::this_thread::get_id()));
  EXPECT_LE(seen.size(), 2u);
  EXPECT_EQ(pool.parallel_batches(), 100u);
}

}  // namespace
}  // namespace sitelink::tunnel
