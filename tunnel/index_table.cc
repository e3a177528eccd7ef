// IndexTable: hands out the 32-bit receiver indices of our handshakes and
// sessions (the kernel's peerlookup.c index hashtable). An index is drawn
// from the injected Rng and redrawn while it is 0 or already live, so live
// indices are unique and never 0 (0 is kept free to mean "no index").
#include "tunnel/index_table.h"

#include <array>

namespace sitelink::tunnel {
namespace {

uint32_t random_u32(handshake::Rng& rng) {
  std::array<uint8_t, 4> b{};
  rng.fill(b);
  return static_cast<uint32_t>(b[0]) | static_cast<uint32_t>(b[1]) << 8 | static_cast<uint32_t>(b[2]) << 16 |
         static_cast<uint32_t>(b[3]) << 24;
}

}  // namespace

uint32_t IndexTable::allocate(PeerId peer) {
  // With at most a few live indices per peer the table is nearly empty, so
  // a collision is rare and the loop ends almost at once (as the kernel's
  // wg_index_hashtable_insert retries).
  for (;;) {
    const uint32_t index = random_u32(*rng_);
    if (index != 0 && map_.try_emplace(index, peer).second) return index;
  }
}

void IndexTable::release(uint32_t index) { map_.erase(index); }

std::optional<PeerId> IndexTable::lookup(uint32_t index) const {
  const auto it = map_.find(index);
  if (it == map_.end()) return std::nullopt;
  return it->second;
}

}  // namespace sitelink::tunnel
