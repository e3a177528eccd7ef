// The fork-join crypto pool; see crypto_pool.h.
#include "tunnel/crypto_pool.h"

#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>

#include <algorithm>
#include <system_error>

namespace sitelink::tunnel {

CryptoPool::CryptoPool(Options options) : options_(options) {
  options_.min_parallel = std::max<size_t>(options_.min_parallel, 1);
  for (size_t i = 0; i < options_.threads; ++i) {
    auto w = std::make_unique<Worker>();
    try {
      w->thread = std::thread([this, p = w.get()] { worker_main(*p); });
    } catch (const std::system_error&) {
      break;  // fewer threads than asked for; threads() tells the owner
    }
    workers_.push_back(std::move(w));
  }
}

CryptoPool::~CryptoPool() {
  for (auto& w : workers_) {
    w->state.store(kStop, std::memory_order_release);
    w->state.notify_one();
  }
  for (auto& w : workers_) w->thread.join();
}

void CryptoPool::worker_main(Worker& w) {
  // Named by itself (prctl): naming it from outside opens a /proc file,
  // which costs start-up ~25 us a thread.
  prctl(PR_SET_NAME, "sitelink-crypto", 0, 0, 0);
  // Signals are the packet loop's business (it reads them from a signalfd).
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);
  for (;;) {
    w.state.wait(kIdle, std::memory_order_acquire);
    uint32_t s = w.state.load(std::memory_order_acquire);
    if (s == kStop) return;
    if (s == kPosted && w.state.compare_exchange_strong(s, kRunning, std::memory_order_acq_rel)) {
      work_share();
      w.state.store(kIdle, std::memory_order_release);
      w.state.notify_one();
    }
    // Otherwise the caller called this batch off before we got to it.
  }
}

void CryptoPool::work_share() {
  for (size_t i = next_.fetch_add(1, std::memory_order_relaxed); i < count_;
       i = next_.fetch_add(1, std::memory_order_relaxed)) {
    fn_(ctx_, i);
  }
}

void CryptoPool::run_erased(size_t n, Erased fn, void* ctx) {
  if (workers_.empty() || n < options_.min_parallel) {
    for (size_t i = 0; i < n; ++i) fn(ctx, i);
    return;
  }
  fn_ = fn;
  ctx_ = ctx;
  count_ = n;
  next_.store(0, std::memory_order_relaxed);
  for (auto& w : workers_) {
    w->state.store(kPosted, std::memory_order_release);  // publishes the batch
    w->state.notify_one();
  }
  if (options_.caller_shares) work_share();
  bool shared = false;
  for (auto& w : workers_) {
    uint32_t s = kPosted;
    if (options_.caller_shares && w->state.compare_exchange_strong(s, kIdle, std::memory_order_acq_rel)) {
      continue;  // called off: the caller has done every job
    }
    while ((s = w->state.load(std::memory_order_acquire)) == kPosted) w->state.wait(kPosted, std::memory_order_acquire);
    shared = true;
    while ((s = w->state.load(std::memory_order_acquire)) == kRunning)
      w->state.wait(kRunning, std::memory_order_acquire);
  }
  if (shared) parallel_batches_.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace sitelink::tunnel
