// IndexTable: indices from a seeded Rng are unique, non-zero and map back to
// their peer; a scripted Rng that repeats values (and yields 0) proves the
// collision retry; release forgets an index and frees it for reuse; the
// ForPeer adapter allocates for its peer through the IndexAllocator
// interface the PeerMachine uses.
#include "tunnel/index_table.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <unordered_set>
#include <vector>

#include "tests/support/test_support.h"

namespace sitelink::tunnel {
namespace {

// Yields the given 32-bit values in order, little-endian, four bytes a call.
class ScriptedRng final : public handshake::Rng {
 public:
  explicit ScriptedRng(std::vector<uint32_t> values) : values_(std::move(values)) {}
  void fill(MutableBytes out) override {
    if (out.size() != 4) throw std::logic_error("IndexTable should draw 4 bytes at a time");
    if (next_ == values_.size()) throw std::logic_error("script exhausted");
    const uint32_t v = values_[next_++];
    for (size_t i = 0; i < 4; ++i) out[i] = static_cast<uint8_t>(v >> (8 * i));
  }
  size_t used() const { return next_; }

 private:
  std::vector<uint32_t> values_;
  size_t next_ = 0;
};

TEST(IndexTableTest, SeededIndicesAreUniqueNonZeroAndMapBack) {
  test::SeededRng rng(7);
  IndexTable table(rng);
  std::unordered_set<uint32_t> seen;
  bool high_bit = false;
  for (uint32_t i = 0; i < 20000; ++i) {
    const uint32_t index = table.allocate(i % 100);
    ASSERT_NE(index, 0u);
    ASSERT_TRUE(seen.insert(index).second) << "index " << index << " handed out twice";
    high_bit |= (index & 0x80000000u) != 0;
  }
  EXPECT_TRUE(high_bit);  // random over 32 bits, not a small counter
  EXPECT_EQ(table.size(), 20000u);
  for (const uint32_t index : seen) ASSERT_TRUE(table.lookup(index).has_value());
}

TEST(IndexTableTest, LookupReturnsTheOwningPeer) {
  test::SeededRng rng(8);
  IndexTable table(rng);
  const uint32_t a = table.allocate(11);
  const uint32_t b = table.allocate(22);
  EXPECT_EQ(table.lookup(a), 11u);
  EXPECT_EQ(table.lookup(b), 22u);
}

TEST(IndexTableTest, CollisionsAndZeroAreRedrawn) {
  ScriptedRng rng({5, 5, 0, 7, 5, 7, 0, 9});
  IndexTable table(rng);
  EXPECT_EQ(table.allocate(1), 5u);
  EXPECT_EQ(table.allocate(2), 7u);  // 5 is live and 0 is never used
  EXPECT_EQ(table.allocate(3), 9u);  // 5 and 7 are live
  EXPECT_EQ(rng.used(), 8u);
  EXPECT_EQ(table.lookup(5), 1u);
  EXPECT_EQ(table.lookup(7), 2u);
  EXPECT_EQ(table.lookup(9), 3u);
  EXPECT_EQ(table.lookup(0), std::nullopt);
}

TEST(IndexTableTest, ReleaseForgetsTheIndexAndFreesItForReuse) {
  ScriptedRng rng({5, 6, 5});
  IndexTable table(rng);
  const uint32_t a = table.allocate(1);
  const uint32_t b = table.allocate(1);
  table.release(a);
  EXPECT_EQ(table.lookup(a), std::nullopt);
  EXPECT_EQ(table.lookup(b), 1u);
  EXPECT_EQ(table.size(), 1u);
  EXPECT_EQ(table.allocate(2), 5u);  // no longer live, so no retry
  EXPECT_EQ(table.lookup(5), 2u);
}

TEST(IndexTableTest, ReleasingAnUnknownIndexChangesNothing) {
  test::SeededRng rng(9);
  IndexTable table(rng);
  const uint32_t a = table.allocate(1);
  table.release(a ^ 1u);
  table.release(a);
  table.release(a);  // twice is harmless
  EXPECT_EQ(table.size(), 0u);
}

TEST(IndexTableTest, ForPeerAllocatesAndReleasesForItsPeer) {
  test::SeededRng rng(10);
  IndexTable table(rng);
  IndexTable::ForPeer for_a(table, 3);
  IndexTable::ForPeer for_b(table, 4);
  handshake::IndexAllocator& alloc_a = for_a;  // as a PeerMachine sees it
  const uint32_t i = alloc_a.allocate();
  const uint32_t j = for_b.allocate();
  EXPECT_NE(i, j);
  EXPECT_EQ(table.lookup(i), 3u);
  EXPECT_EQ(table.lookup(j), 4u);
  alloc_a.release(i);
  EXPECT_EQ(table.lookup(i), std::nullopt);
  EXPECT_EQ(table.lookup(j), 4u);
}

}  // namespace
}  // namespace sitelink::tunnel
