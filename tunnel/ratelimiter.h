// Ratelimiter: per-source token buckets for handshake messages (the kernel's
// ratelimiter.c: 20 packets a second with a burst of 5, per IPv4 address or
// IPv6 /64), with a bounded table sized by memory as the kernel sizes its
// own. Time is a parameter.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <unordered_map>

#include "config/ip_prefix.h"
#include "handshake/base/time.h"

namespace sitelink::tunnel {

class Ratelimiter {
 public:
  static constexpr uint64_t kPacketsPerSecond = 20;
  static constexpr uint64_t kPacketsBurstable = 5;

  // The kernel's table size for a machine with `ram_bytes` of memory: 65,536
  // sources above 1 GiB, less on small machines (ratelimiter.c's
  // table_size * 8), at least 128.
  static size_t capacity_for_memory(uint64_t ram_bytes);
  // This machine's (sysconf's physical pages).
  static size_t default_capacity();

  explicit Ratelimiter(size_t capacity = default_capacity()) : capacity_(capacity) {}

  // True if a handshake message from `source` may be processed now. A full
  // table makes room by forgetting the source heard from least recently
  // (a forgotten source starts again with a full bucket, which only ever
  // errs towards letting it through): a new source is never refused for
  // want of room, so filling the table locks nobody out.
  bool allow(const config::IpAddress& source, Instant now);
  size_t size() const { return table_.size(); }
  size_t capacity() const { return capacity_; }
  void set_capacity(size_t capacity);  // tests
  uint64_t evictions() const { return evictions_; }

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
  struct Entry {
    Bucket bucket;
    std::list<Key>::iterator lru;  // its place in lru_
  };
  static Key key_of(const config::IpAddress& source);
  static bool refill_and_take(Bucket& b, Instant now);
  void gc(Instant now);
  void evict_oldest();

  size_t capacity_;
  std::unordered_map<Key, Entry, KeyHash> table_;
  std::list<Key> lru_;  // least recently heard from first
  Instant last_gc_{};
  uint64_t evictions_ = 0;
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
