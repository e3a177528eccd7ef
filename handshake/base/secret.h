// Secret<N>: a fixed-size array of key material that is wiped with
// sodium_memzero when it is destroyed, moved from or reassigned. It has no
// stream operator, so it cannot end up in a log line by accident.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace sitelink {

// Wipes memory in a way the compiler may not elide (sodium_memzero).
void secure_zero(void* p, size_t n);

// Appends to a string that may hold key material (a config file, a UAPI
// request) without leaving a copy behind: when it must grow, the old buffer
// is wiped before it is freed.
template <class String = std::string>
void append_wiping(String& s, std::string_view more) {
  if (s.size() + more.size() > s.capacity()) {
    String bigger(s.get_allocator());
    bigger.reserve(std::max(2 * s.capacity(), s.size() + more.size()));
    bigger.append(s);
    s.resize(s.capacity());  // all of the old buffer, not just the part in use
    secure_zero(s.data(), s.size());
    s.swap(bigger);
  }
  s.append(more);
}

// Wipes what a string holds and empties it (its buffer is kept, wiped).
inline void secure_clear(std::string& s) {
  secure_zero(s.data(), s.size());
  s.clear();
}

template <size_t N>
class Secret {
 public:
  Secret() { bytes_.fill(0); }
  explicit Secret(std::span<const uint8_t, N> b) { std::copy(b.begin(), b.end(), bytes_.begin()); }
  Secret(const Secret& o) : bytes_(o.bytes_) {}
  Secret(Secret&& o) noexcept : bytes_(o.bytes_) { o.clear(); }
  Secret& operator=(const Secret& o) {
    if (this != &o) bytes_ = o.bytes_;
    return *this;
  }
  Secret& operator=(Secret&& o) noexcept {
    if (this != &o) {
      bytes_ = o.bytes_;
      o.clear();
    }
    return *this;
  }
  ~Secret() { clear(); }

  void clear() { secure_zero(bytes_.data(), N); }
  uint8_t* data() { return bytes_.data(); }
  const uint8_t* data() const { return bytes_.data(); }
  static constexpr size_t size() { return N; }
  std::span<uint8_t, N> span() { return bytes_; }
  std::span<const uint8_t, N> span() const { return bytes_; }

 private:
  std::array<uint8_t, N> bytes_;
};

}  // namespace sitelink
