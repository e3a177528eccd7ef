// SystemClock; see clock.h.
#include "tunnel/clock.h"

#include <time.h>

namespace sitelink::tunnel {

namespace {
std::chrono::nanoseconds read(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}
}  // namespace

Now SystemClock::now() { return Now{Instant{read(CLOCK_BOOTTIME)}, WallTime{read(CLOCK_REALTIME)}}; }

}  // namespace sitelink::tunnel
