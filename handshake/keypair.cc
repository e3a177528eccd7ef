// Keypair rotation; see keypair.h.
#include "handshake/keypair.h"

namespace sitelink::handshake {

namespace {
void drop(std::unique_ptr<Keypair>& slot, std::vector<uint32_t>& released) {
  if (slot) released.push_back(slot->local_index);
  slot.reset();
}
}  // namespace

std::vector<uint32_t> KeypairSet::add(std::unique_ptr<Keypair> kp) {
  std::vector<uint32_t> released;
  if (kp->initiator) {
    if (next_) {
      // The remote may be using the unconfirmed next; keep it as previous
      // and drop current instead.
      drop(previous_, released);
      previous_ = std::move(next_);
      drop(current_, released);
    } else {
      drop(previous_, released);
      previous_ = std::move(current_);
    }
    current_ = std::move(kp);
  } else {
    // As responder we cannot know the initiator has the keys until it uses
    // them, so the new keypair waits in next. previous is dropped: once next
    // is confirmed, current becomes previous.
    drop(next_, released);
    next_ = std::move(kp);
    drop(previous_, released);
  }
  return released;
}

bool KeypairSet::confirm(const Keypair* kp, std::vector<uint32_t>& released) {
  if (kp == nullptr || kp != next_.get()) return false;
  drop(previous_, released);
  previous_ = std::move(current_);
  current_ = std::move(next_);
  return true;
}

Keypair* KeypairSet::find(uint32_t local_index) {
  for (auto* slot : {&current_, &previous_, &next_}) {
    if (*slot && (*slot)->local_index == local_index) return slot->get();
  }
  return nullptr;
}

std::vector<uint32_t> KeypairSet::clear() {
  std::vector<uint32_t> released;
  drop(previous_, released);
  drop(current_, released);
  drop(next_, released);
  return released;
}

}  // namespace sitelink::handshake
