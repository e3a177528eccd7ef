// Ratelimiter: per-source token buckets for handshake messages (the kernel's
// ratelimiter.c: 20 packets a second with a burst of 5, per IPv4 address or
// IPv6 /64), with a bounded table. Time is a parameter.
#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_map>

#include "config/ip_prefix.h"
#include "handshake/base/time.h"

namespace sitelink::tunnel {

class Ratelimiter {
 public:
  static constexpr uint64_t kPacketsPerSecond = 20;
  static constexpr uint64_t kPacketsBurstable = 5;
  static constexpr size_t kMaxEntries = 8192;

  // True if a handshake message from `source` may be processed now.
  bool allow(const config::IpAddress& source, Instant now);
  size_t size() const { return table_.size(); }

 private:
  struct Bucket {
    Instant last;
    int64_t tokens;  // nanoseconds of credit
  };
  // The source: a whole IPv4 address or an IPv6 /64, with the family kept
  // apart so that the two spaces never share a bucket.
  struct Key {
    uint64_t bits;
    bool v6;
    friend bool operator==(const Key&, const Key&) = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const noexcept;
  };
  static Key key_of(const config::IpAddress& source);
  static bool refill_and_take(Bucket& b, Instant now);
  void gc(Instant now);

  std::unordered_map<Key, Bucket, KeyHash> table_;
  Instant last_gc_{};
};

// HandshakeBudget: one device-wide token bucket bounding the expensive
// handshake work (the Curve25519 operations of an initiation or response)
// to kPerSecond messages a second, burst kBurst. The per-source limiter
// stops one source; this stops many sources together from starving the
// data path. The kernel gets the same bound from its fixed-size handshake
// queue.
class HandshakeBudget {
 public:
  static constexpr uint64_t kPerSecond = 2000;
  static constexpr uint64_t kBurst = 200;

  // True if one more handshake message may be processed now.
  bool take(Instant now);

 private:
  Instant last_{};
  int64_t tokens_ = -1;  // nanoseconds of credit; -1 = not started (full)
};

}  // namespace sitelink::tunnel
