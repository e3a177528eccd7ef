// WorkerThread: one thread that runs blocking jobs (DNS lookups, parsing a
// reloaded configuration) off the event loop, in the order they were
// queued. Results come back through an eventfd the loop watches, so that
// the packet path never waits on them.
//
// The thread starts only once start() allows it (capabilities are per
// thread: one started before the privilege drop would keep them all) and a
// job is waiting (most gateways never need it, and a thread costs start-up
// time). Destruction stops it after the job in hand; jobs still waiting
// are dropped unrun.
#pragma once

#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "tunnel/unique_fd.h"

namespace sitelink::daemon {

template <typename Job, typename Result>
class WorkerThread {
 public:
  // Runs on the worker thread, one job at a time.
  using Run = std::function<Result(Job&)>;

  // `name` (at most 15 characters) is the thread's name in ps, top -H and
  // /proc/PID/task/*/comm.
  WorkerThread(const char* name, Run run)
      : name_(name), run_(std::move(run)), event_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}
  ~WorkerThread() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (worker_.joinable()) worker_.join();
  }
  WorkerThread(const WorkerThread&) = delete;
  WorkerThread& operator=(const WorkerThread&) = delete;
  WorkerThread(WorkerThread&&) = delete;
  WorkerThread& operator=(WorkerThread&&) = delete;

  // Lets the thread start: now if jobs are waiting, else with the first.
  // Called on the caller's thread only, as are request() and take().
  void start() {
    started_ = true;
    bool waiting = false;
    {
      std::lock_guard lock(mu_);
      waiting = !jobs_.empty();
    }
    if (waiting) (void)run_worker();
  }
  int fd() const { return event_.get(); }
  // Queues `job`, unless `same(j)` holds for a job still waiting. False if
  // the thread could not be started; the job stays queued and the next
  // request (or start) tries again.
  template <typename Same>
  bool request(Job job, Same same) {
    {
      std::lock_guard lock(mu_);
      if (std::none_of(jobs_.begin(), jobs_.end(), same)) jobs_.push_back(std::move(job));
    }
    cv_.notify_one();
    return run_worker();
  }
  bool request(Job job) {
    return request(std::move(job), [](const Job&) { return false; });
  }
  // Results that arrived since the last call, in the order of their jobs
  // (drains the eventfd).
  // The eventfd is read and written under the lock, so that it is readable
  // exactly while results wait: no wake-up ever finds nothing to take.
  std::vector<Result> take() {
    std::lock_guard lock(mu_);
    uint64_t n = 0;
    (void)::read(event_.get(), &n, sizeof n);
    return std::exchange(done_, {});
  }

 private:
  bool run_worker() {
    if (!started_ || worker_.joinable()) return true;
    try {
      worker_ = std::thread([this] { work(); });
      (void)pthread_setname_np(worker_.native_handle(), name_);
    } catch (const std::system_error&) {
      return false;
    }
    return true;
  }
  void work() {
    for (;;) {
      Job job;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
        if (stopping_) return;
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      Result r = run_(job);
      std::lock_guard lock(mu_);
      done_.push_back(std::move(r));
      const uint64_t one = 1;
      (void)::write(event_.get(), &one, sizeof one);
    }
  }

  const char* name_;
  Run run_;
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
