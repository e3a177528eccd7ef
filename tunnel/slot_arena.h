// SlotArena: one allocation cut into equal slots, each holding one packet
// with the protocol core's headroom in front and tailroom behind, so a batch
// of packets read from the TUN can be sealed in place and handed to the UDP
// socket together. Slots are taken in order and all given back at once
// (reset) after the batch has been sent; nothing is allocated per packet.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include "handshake/base/bytes.h"
#include "handshake/peer.h"

namespace sitelink::tunnel {

class SlotArena {
 public:
  // `slots` slots with room for packets of up to `packet_room` bytes.
  SlotArena(size_t slots, size_t packet_room) { resize(slots, packet_room); }

  void resize(size_t slots, size_t packet_room) {
    room_ = packet_room;
    stride_ = (handshake::kHeadroom + packet_room + handshake::kTailroom + 63) & ~size_t{63};
    slots_ = slots;
    used_ = 0;
    size_ = slots_ * stride_;
    // Not zeroed: untouched slots cost address space, not memory.
    mem_ = std::make_unique_for_overwrite<uint8_t[]>(size_);
  }

  size_t packet_room() const { return room_; }
  size_t slots() const { return slots_; }
  bool full() const { return used_ == slots_; }
  bool empty() const { return used_ == 0; }

  // The next free slot: headroom + packet_room() + tailroom bytes. Only
  // valid when !full().
  MutableBytes take() {
    uint8_t* p = mem_.get() + used_++ * stride_;
    return {p, handshake::kHeadroom + room_ + handshake::kTailroom};
  }
  // Gives back the slot take() just returned (nothing was read into it).
  void untake() { --used_; }
  void reset() { used_ = 0; }

  bool contains(const uint8_t* p) const {
    const std::less<> less;
    return !less(p, mem_.get()) && less(p, mem_.get() + size_);
  }

 private:
  std::unique_ptr<uint8_t[]> mem_;
  size_t size_ = 0;
  size_t room_ = 0;
  size_t stride_ = 0;
  size_t slots_ = 0;
  size_t used_ = 0;
};

}  // namespace sitelink::tunnel
