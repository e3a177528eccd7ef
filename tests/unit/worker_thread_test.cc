// WorkerThread (daemon/worker_thread.h): jobs run on its thread, in the
// order queued, never before start(); the caller is not held up by a job in
// hand; results come back through the eventfd. Also in tsan_tests.
#include "daemon/worker_thread.h"

#include <gtest/gtest.h>
#include <poll.h>

#include <atomic>
#include <future>
#include <string>
#include <thread>
#include <vector>

namespace sitelink::daemon {
namespace {

struct Done {
  int job;
  std::thread::id ran_on;
};

// Results until `n` have come, each wait at most 5 s.
template <typename W>
auto wait_for(W& w, size_t n) {
  decltype(w.take()) all;
  while (all.size() < n) {
    pollfd p{w.fd(), POLLIN, 0};
    if (poll(&p, 1, 5000) != 1) break;
    for (auto& r : w.take()) all.push_back(std::move(r));
  }
  return all;
}

TEST(WorkerThread, RunsJobsInOrderOnItsOwnThread) {
  WorkerThread<int, Done> w("test-worker", [](int& job) { return Done{job, std::this_thread::get_id()}; });
  w.start();
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(w.request(i));
  const auto done = wait_for(w, 50);
  ASSERT_EQ(done.size(), 50u);
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(done[static_cast<size_t>(i)].job, i);
    EXPECT_NE(done[static_cast<size_t>(i)].ran_on, std::this_thread::get_id());
  }
  pollfd p{w.fd(), POLLIN, 0};
  EXPECT_EQ(poll(&p, 1, 0), 0) << "the eventfd is drained by take()";
}

// The eventfd is readable exactly while results wait: a caller that takes
// results as they come, racing the worker, never wakes up to nothing (and
// CI once caught the eventfd still readable after the last result).
TEST(WorkerThread, EveryWakeUpHasResultsToTake) {
  WorkerThread<int, int> w("test-worker", [](int& job) { return job; });
  w.start();
  constexpr int kJobs = 20000;
  for (int i = 0; i < kJobs; ++i) ASSERT_TRUE(w.request(i));
  int taken = 0;
  int empty_wakeups = 0;
  while (taken < kJobs) {
    pollfd p{w.fd(), POLLIN, 0};
    ASSERT_EQ(poll(&p, 1, 5000), 1) << "results stopped coming after " << taken;
    const auto got = w.take();
    if (got.empty()) ++empty_wakeups;
    for (int r : got) ASSERT_EQ(r, taken++);
  }
  EXPECT_EQ(empty_wakeups, 0);
  pollfd p{w.fd(), POLLIN, 0};
  EXPECT_EQ(poll(&p, 1, 0), 0);
}

TEST(WorkerThread, NothingRunsBeforeStartAndWaitingJobsRunAfter) {
  std::atomic<int> ran{0};
  WorkerThread<int, int> w("test-worker", [&](int& job) {
    ++ran;
    return job;
  });
  ASSERT_TRUE(w.request(7));
  ASSERT_TRUE(w.request(8));
  EXPECT_TRUE(w.take().empty());
  EXPECT_EQ(ran.load(), 0) << "no thread exists before start()";
  w.start();
  EXPECT_EQ(wait_for(w, 2), (std::vector<int>{7, 8}));
  EXPECT_EQ(ran.load(), 2);
}

TEST(WorkerThread, ACallerIsNotHeldUpByASlowJob) {
  std::promise<void> gate;
  std::shared_future<void> open = gate.get_future().share();
  WorkerThread<int, int> w("test-worker", [open](int& job) {
    open.wait();
    return job;
  });
  w.start();
  ASSERT_TRUE(w.request(1));  // returns while the job waits at the gate
  ASSERT_TRUE(w.request(2));
  pollfd p{w.fd(), POLLIN, 0};
  EXPECT_EQ(poll(&p, 1, 0), 0);
  EXPECT_TRUE(w.take().empty());
  gate.set_value();
  EXPECT_EQ(wait_for(w, 2), (std::vector<int>{1, 2}));
}

TEST(WorkerThread, SameJobStillWaitingIsNotQueuedTwice) {
  WorkerThread<std::string, std::string> w("test-worker", [](std::string& s) { return s; });
  auto same = [](const std::string& want) { return [want](const std::string& j) { return j == want; }; };
  ASSERT_TRUE(w.request("a", same("a")));
  ASSERT_TRUE(w.request("a", same("a")));
  ASSERT_TRUE(w.request("b", same("b")));
  w.start();
  EXPECT_EQ(wait_for(w, 2), (std::vector<std::string>{"a", "b"}));
}

}  // namespace
}  // namespace sitelink::daemon
