// Ratelimiter: the kernel's ratelimiter.c token bucket for handshake
// messages, with time as a parameter.
//
// Each source (a whole IPv4 address, or the /64 of an IPv6 address) holds
// credit in nanoseconds. Credit grows one nanosecond per nanosecond elapsed,
// capped at kPacketsBurstable packets' worth; a packet costs
// 1/kPacketsPerSecond seconds of it. A new source starts full and pays for
// its first packet. The table is bounded: when it holds kMaxEntries sources,
// new ones are refused, as the kernel does, while known sources go on as
// before. Entries idle for more than a second are full again and carry no
// state worth keeping, so gc() drops them, at most once a second.
#include "tunnel/ratelimiter.h"

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


bool Ratelimiter::allow(const config::IpAddress& source, Instant now) {
  gc(now);
  const Key key = key_of(source);
  const auto it = table_.find(key);
  if (it != table_.end()) return refill_and_take(it->second, now);
  if (table_.size() >= kMaxEntries) return false;
  table_.emplace(key, Bucket{now, kTokenMax - kPacketCost});
  return true;
}

void Ratelimiter::gc(Instant now) {
  if (now - last_gc_ < kGcInterval) return;
  last_gc_ = now;
  std::erase_if(table_, [now](const auto& entry) { return now - entry.second.last > kIdleLimit; });
}

}  // namespace sitelink::tunnel
