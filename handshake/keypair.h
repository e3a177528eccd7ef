// Transport keypairs and the current/previous/next rotation (paper 5.4.6 and
// the kernel's noise.c add_new_keypair / received_with_keypair).
//
//   current   the keypair we send with.
//   previous  the one before it, kept so packets in flight still decrypt.
//   next      a keypair we derived as responder; we may not send with it
//             until the initiator proves it has it by sending data on it,
//             at which point it becomes current.
//
// As initiator, a new keypair becomes current at once (the response proved
// the responder holds it); the old current becomes previous, or, if a
// never-confirmed next exists, that next becomes previous instead because
// the remote may still be sending with it.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "handshake/base/time.h"
#include "handshake/crypto.h"
#include "handshake/noise.h"
#include "handshake/replay.h"

namespace sitelink::handshake {

struct Keypair {
  explicit Keypair(SessionKeys&& keys, Instant now)
      : send_key(std::move(keys.send)),
        receive_key(std::move(keys.receive)),
        local_index(keys.local_index),
        remote_index(keys.remote_index),
        initiator(keys.initiator),
        birth(now) {}

  SymmetricKey send_key;
  SymmetricKey receive_key;
  uint32_t local_index;
  uint32_t remote_index;
  bool initiator;
  Instant birth;
  uint64_t send_counter = 0;
  ReplayWindow replay;
};

class KeypairSet {
 public:
  // Adds a new keypair; returns the local indices of keypairs it displaced
  // (for the caller to release).
  std::vector<uint32_t> add(std::unique_ptr<Keypair> kp);

  // Called after a packet authenticated under `kp`: if it is `next`, it is
  // promoted to current. True if that happened (the handshake is complete
  // from the responder's side); `released` receives a displaced index.
  bool confirm(const Keypair* kp, std::vector<uint32_t>& released);

  Keypair* find(uint32_t local_index);
  Keypair* current() { return current_.get(); }
  const Keypair* current() const { return current_.get(); }
  const Keypair* next() const { return next_.get(); }
  const Keypair* previous() const { return previous_.get(); }

  // Drops every keypair (keys are wiped); returns their local indices.
  std::vector<uint32_t> clear();

 private:
  std::unique_ptr<Keypair> previous_, current_, next_;
};

}  // namespace sitelink::handshake
