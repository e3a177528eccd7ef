// TAI64N encoding; see tai64n.h.
#include "handshake/tai64n.h"

#include <algorithm>

#include "handshake/base/bytes.h"

namespace sitelink::handshake {

namespace {
constexpr uint64_t kTai64Base = (uint64_t{1} << 62) + 10;
constexpr uint32_t kWhitenerMask = (uint32_t{1} << 24) - 1;
}  // namespace

Tai64n tai64n(WallTime now) {
  const int64_t ns = now.since_epoch.count();
  const int64_t secs = ns >= 0 ? ns / 1'000'000'000 : 0;
  const auto nanos = static_cast<uint32_t>(ns >= 0 ? ns % 1'000'000'000 : 0);
  Tai64n out;
  store_be64(out.data(), kTai64Base + static_cast<uint64_t>(secs));
  store_be32(out.data() + 8, nanos & ~kWhitenerMask);
  return out;
}

bool tai64n_after(const Tai64n& a, const Tai64n& b) {
  return std::lexicographical_compare(b.begin(), b.end(), a.begin(), a.end());
}

}  // namespace sitelink::handshake
