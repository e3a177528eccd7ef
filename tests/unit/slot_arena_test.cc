// SlotArena (tunnel/slot_arena.h): slots taken in order, each with the
// protocol core's headroom and tailroom around the packet room; untake,
// reset, contains and resize.
#include "tunnel/slot_arena.h"

#include <gtest/gtest.h>

#include <vector>

namespace sitelink::tunnel {
namespace {

namespace hs = handshake;

TEST(SlotArena, SlotsHaveHeadroomRoomAndTailroom) {
  SlotArena a(4, 1500);
  EXPECT_EQ(a.slots(), 4u);
  EXPECT_EQ(a.packet_room(), 1500u);
  EXPECT_TRUE(a.empty());
  EXPECT_FALSE(a.full());
  const MutableBytes s = a.take();
  EXPECT_EQ(s.size(), hs::kHeadroom + 1500 + hs::kTailroom);
  EXPECT_FALSE(a.empty());
  // The core seals in place: a packet of packet_room() bytes at kHeadroom,
  // with kTailroom behind it, fits in the slot.
  EXPECT_GE(s.size() - hs::kHeadroom - a.packet_room(), hs::kTailroom);
}

TEST(SlotArena, TakenSlotsAreDistinctAndEveryByteIsUsable) {
  SlotArena a(16, 1420);
  std::vector<MutableBytes> taken;
  while (!a.full()) taken.push_back(a.take());
  ASSERT_EQ(taken.size(), 16u);
  for (size_t i = 0; i < taken.size(); ++i) {
    std::fill(taken[i].begin(), taken[i].end(), static_cast<uint8_t>(i + 1));
    // Slots start on 64-byte strides from the first.
    EXPECT_EQ(static_cast<size_t>(taken[i].data() - taken[0].data()) % 64, 0u);
    if (i > 0) {
      EXPECT_GE(taken[i].data(), taken[i - 1].data() + taken[i - 1].size()) << "slots overlap";
    }
  }
  for (size_t i = 0; i < taken.size(); ++i) {
    for (uint8_t b : taken[i]) ASSERT_EQ(b, i + 1) << "slot " << i << " was overwritten";
  }
}

TEST(SlotArena, UntakeGivesBackTheLastSlotAndResetAll) {
  SlotArena a(3, 100);
  const uint8_t* first = a.take().data();
  const uint8_t* second = a.take().data();
  a.untake();
  EXPECT_EQ(a.take().data(), second);
  a.take();
  EXPECT_TRUE(a.full());
  a.untake();
  EXPECT_FALSE(a.full());
  a.reset();
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(a.take().data(), first);
  a.untake();
  EXPECT_TRUE(a.empty());
}

TEST(SlotArena, ContainsExactlyItsOwnBytes) {
  SlotArena a(8, 1500);
  std::vector<MutableBytes> taken;
  while (!a.full()) taken.push_back(a.take());
  for (const MutableBytes& s : taken) {
    EXPECT_TRUE(a.contains(s.data()));
    EXPECT_TRUE(a.contains(s.data() + hs::kHeadroom));
    EXPECT_TRUE(a.contains(&s.back()));
  }
  // Not yet taken slots are still the arena's memory.
  a.reset();
  EXPECT_TRUE(a.contains(taken.back().data()));
  std::vector<uint8_t> elsewhere(64);
  EXPECT_FALSE(a.contains(elsewhere.data()));
  EXPECT_FALSE(a.contains(nullptr));
  const uint8_t on_stack = 0;
  EXPECT_FALSE(a.contains(&on_stack));
  // Another arena's slot is not this arena's.
  SlotArena other(1, 64);
  EXPECT_FALSE(a.contains(other.take().data()));
}

TEST(SlotArena, ResizeStartsEmptyWithTheNewGeometry) {
  SlotArena a(2, 1280);
  a.take();
  a.take();
  ASSERT_TRUE(a.full());
  a.resize(5, 9000);
  EXPECT_EQ(a.slots(), 5u);
  EXPECT_EQ(a.packet_room(), 9000u);
  EXPECT_TRUE(a.empty());
  std::vector<MutableBytes> taken;
  while (!a.full()) taken.push_back(a.take());
  ASSERT_EQ(taken.size(), 5u);
  for (const MutableBytes& s : taken) {
    EXPECT_EQ(s.size(), hs::kHeadroom + 9000 + hs::kTailroom);
    EXPECT_TRUE(a.contains(s.data()) && a.contains(&s.back()));
    std::fill(s.begin(), s.end(), 0x77);  // all of it writable (ASan builds check)
  }
  a.resize(1, 1);
  EXPECT_EQ(a.take().size(), hs::kHeadroom + 1 + hs::kTailroom);
  EXPECT_TRUE(a.full());
}

}  // namespace
}  // namespace sitelink::tunnel
