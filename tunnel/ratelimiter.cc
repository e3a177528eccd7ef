// Ratelimiter: the kernel's ratelimiter.c token bucket for handshake
// messages, with time as a parameter.
//
// Each source (a whole IPv4 address, or the /64 of an IPv6 address) holds
// credit in nanoseconds. Credit grows one nanosecond per nanosecond elapsed,
// capped at kPacketsBurstable packets' worth; a packet costs
// 1/kPacketsPerSecond seconds of it. A new source starts full and pays for
// its first packet. The table is bounded, but unlike the kernel's (which
// refuses new sources when full, so that whoever fills it locks every new
// address out, configured peers included) a full table forgets the source
// heard from least recently. Entries idle for more than a second are full
// again and carry no state worth keeping, so gc() drops them, at most once
// a second; they are the least recently used, so gc walks lru_ from the
// front and stops at the first that is not idle.
#include "tunnel/ratelimiter.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>

namespace sitelink::tunnel {
namespace {

constexpr int64_t kNsPerSecond = 1'000'000'000;
constexpr int64_t kPacketCost = kNsPerSecond / static_cast<int64_t>(Ratelimiter::kPacketsPerSecond);
constexpr int64_t kTokenMax = kPacketCost * static_cast<int64_t>(Ratelimiter::kPacketsBurstable);
constexpr Duration kGcInterval = std::chrono::seconds(1);
constexpr Duration kIdleLimit = std::chrono::seconds(1);

uint64_t load_be64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}

// ::ffff:a.b.c.d, as a dual-stack socket reports an IPv4 sender.
bool is_v4_mapped(const std::array<uint8_t, 16>& b) {
  const bool zeros = std::all_of(b.begin(), b.begin() + 10, [](uint8_t x) { return x == 0; });
  return zeros && b[10] == 0xff && b[11] == 0xff;
}

uint64_t v4_bits(const uint8_t* p) {
  return uint64_t{p[0]} << 24 | uint64_t{p[1]} << 16 | uint64_t{p[2]} << 8 | uint64_t{p[3]};
}

// The token bucket both classes use: credit in nanoseconds, earned one per
// nanosecond up to `max`; a packet costs `cost`.
bool take_token(int64_t& tokens, Instant& last, Instant now, int64_t cost, int64_t max) {
  // A clock that steps back earns nothing (and costs nothing).
  const int64_t elapsed = std::max<int64_t>(0, (now - last).count());
  tokens = elapsed >= max - tokens ? max : tokens + elapsed;
  last = std::max(last, now);
  if (tokens < cost) return false;
  tokens -= cost;
  return true;
}

}  // namespace

size_t Ratelimiter::KeyHash::operator()(const Key& k) const noexcept {
  // splitmix64's finaliser, so nearby sources spread over the buckets.
  uint64_t z = k.bits + (k.v6 ? 0x9e3779b97f4a7c15ULL : 0);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return static_cast<size_t>(z ^ (z >> 31));
}

Ratelimiter::Key Ratelimiter::key_of(const config::IpAddress& source) {
  const auto& b = source.raw();
  if (source.is_v4()) return Key{v4_bits(b.data()), false};
  if (is_v4_mapped(b)) return Key{v4_bits(b.data() + 12), false};
  return Key{load_be64(b.data()), true};
}

bool Ratelimiter::refill_and_take(Bucket& b, Instant now) {
  return take_token(b.tokens, b.last, now, kPacketCost, kTokenMax);
}

bool HandshakeBudget::take(Instant now) {
  constexpr int64_t kCost = kNsPerSecond / static_cast<int64_t>(kPerSecond);
  constexpr int64_t kMax = kCost * static_cast<int64_t>(kBurst);
  if (tokens_ < 0) {
    tokens_ = kMax;
    last_ = now;
  }
  return take_token(tokens_, last_, now, kCost, kMax);
}

size_t Ratelimiter::capacity_for_memory(uint64_t ram_bytes) {
  // ratelimiter.c: table_size = 8192 buckets above 1 GiB, else RAM / 16 KiB
  // / sizeof(hlist_head) rounded up to a power of two (at least 16); at
  // most table_size * 8 entries.
  constexpr uint64_t kGiB = uint64_t{1} << 30;
  constexpr size_t kEntriesPerBucket = 8;
  if (ram_bytes > kGiB) return 8192 * kEntriesPerBucket;
  size_t buckets = 16;
  constexpr uint64_t kBytesPerBucket = uint64_t{16} * 1024 * sizeof(void*);
  while (buckets < ram_bytes / kBytesPerBucket) buckets *= 2;
  return buckets * kEntriesPerBucket;
}

size_t Ratelimiter::default_capacity() {
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page_size = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page_size <= 0) return capacity_for_memory(0);
  return capacity_for_memory(static_cast<uint64_t>(pages) * static_cast<uint64_t>(page_size));
}

void Ratelimiter::set_capacity(size_t capacity) {
  capacity_ = std::max<size_t>(capacity, 1);
  while (table_.size() > capacity_) evict_oldest();
}

bool Ratelimiter::allow(const config::IpAddress& source, Instant now) {
  gc(now);
  const Key key = key_of(source);
  if (const auto it = table_.find(key); it != table_.end()) {
    lru_.splice(lru_.end(), lru_, it->second.lru);  // now the most recent
    return refill_and_take(it->second.bucket, now);
  }
  if (table_.size() >= capacity_) evict_oldest();
  lru_.push_back(key);
  table_.emplace(key, Entry{Bucket{now, kTokenMax - kPacketCost}, std::prev(lru_.end())});
  return true;
}

void Ratelimiter::evict_oldest() {
  if (lru_.empty()) return;
  table_.erase(lru_.front());
  lru_.pop_front();
  ++evictions_;
}

void Ratelimiter::gc(Instant now) {
  if (now - last_gc_ < kGcInterval) return;
  last_gc_ = now;
  while (!lru_.empty()) {
    const auto it = table_.find(lru_.front());
    if (now - it->second.bucket.last <= kIdleLimit) break;
    table_.erase(it);
    lru_.pop_front();
  }
}

}  // namespace sitelink::tunnel
