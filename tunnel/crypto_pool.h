// CryptoPool: runs the transport crypto of one batch of packets on several
// cores (fork-join). The packet loop stays the only thread that touches
// protocol state: it prepares a batch of seal or open jobs in order, calls
// run(), which shares the jobs out between itself and the pool's threads
// and returns once every job is done, then finishes the batch in order. So
// each peer's packets keep their order, and nothing but the jobs' own
// buffers is shared.
//
// Waking a thread costs more than sealing a few packets, so small batches
// (a ping, a handshake, an interactive session) run on the calling thread
// alone: the pool adds no latency where there is no bulk to share.
// A thread that has not started its share by the time the caller has done
// all the jobs is called off, so a busy core never holds the batch up.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

namespace sitelink::tunnel {

struct CryptoPoolOptions {
  size_t threads = 0;        // extra threads (0: everything on the calling thread)
  size_t min_parallel = 16;  // batches below this many jobs run on the calling thread
  // false (tests): the caller leaves every job of a shared batch to the
  // threads and waits for them, so that the threads' path is what runs.
  bool caller_shares = true;
};

class CryptoPool {
 public:
  using Options = CryptoPoolOptions;

  explicit CryptoPool(Options options = {});
  ~CryptoPool();
  CryptoPool(const CryptoPool&) = delete;
  CryptoPool& operator=(const CryptoPool&) = delete;

  size_t threads() const { return workers_.size(); }
  const Options& options() const { return options_; }

  // Calls fn(i) once for every i in [0, n), on this thread and the pool's,
  // and returns when all calls have returned. fn must not throw, and calls
  // for different i must touch disjoint data.
  template <class Fn>
  void run(size_t n, Fn& fn) {
    run_erased(
        n, [](void* f, size_t i) { (*static_cast<Fn*>(f))(i); }, &fn);
  }

  // Batches in which another thread than the caller's did a share.
  uint64_t parallel_batches() const { return parallel_batches_.load(std::memory_order_relaxed); }

 private:
  using Erased = void (*)(void*, size_t);
  // A worker's state word: the caller posts a batch (kIdle -> kPosted); the
  // worker claims it (kPosted -> kRunning) and ends it (-> kIdle), or the
  // caller calls it off before it started (kPosted -> kIdle).
  enum State : uint32_t { kIdle, kPosted, kRunning, kStop };
  struct alignas(64) Worker {
    std::atomic<uint32_t> state{kIdle};
    std::thread thread;
  };

  void run_erased(size_t n, Erased fn, void* ctx);
  void work_share();
  void worker_main(Worker& w);

  Options options_;
  std::vector<std::unique_ptr<Worker>> workers_;
  // The batch in progress, written before the workers are posted.
  Erased fn_ = nullptr;
  void* ctx_ = nullptr;
  size_t count_ = 0;
  alignas(64) std::atomic<size_t> next_{0};
  std::atomic<uint64_t> parallel_batches_{0};
};

}  // namespace sitelink::tunnel
