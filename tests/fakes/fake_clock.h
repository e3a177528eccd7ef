// A clock the test moves by hand.
#pragma once

#include "tunnel/clock.h"

namespace sitelink::test {

class FakeClock final : public tunnel::Clock {
 public:
  Now now() override { return Now{Instant{mono_}, WallTime{std::chrono::seconds(1'700'000'000) + mono_}}; }
  void advance(Duration d) { mono_ += d; }

 private:
  Duration mono_ = std::chrono::seconds(1000);
};

}  // namespace sitelink::test
