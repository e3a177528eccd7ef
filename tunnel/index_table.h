// IndexTable: our 32-bit session indices (the receiver index in every
// message to us) mapped to the peer that owns them. Indices are random, so
// they reveal nothing and cannot be guessed, and unique among live ones.
#pragma once

#include <cstdint>
#include <optional>
#include <unordered_map>

#include "handshake/crypto.h"
#include "handshake/peer.h"
#include "tunnel/allowed_ips.h"

namespace sitelink::tunnel {

class IndexTable {
 public:
  explicit IndexTable(handshake::Rng& rng) : rng_(&rng) {}

  uint32_t allocate(PeerId peer);
  void release(uint32_t index);
  std::optional<PeerId> lookup(uint32_t index) const;
  size_t size() const { return map_.size(); }

  // The per-peer view a PeerMachine takes.
  class ForPeer final : public handshake::IndexAllocator {
   public:
    ForPeer(IndexTable& table, PeerId peer) : table_(&table), peer_(peer) {}
    uint32_t allocate() override { return table_->allocate(peer_); }
    void release(uint32_t index) override { table_->release(index); }

   private:
    IndexTable* table_;
    PeerId peer_;
  };

 private:
  handshake::Rng* rng_;
  std::unordered_map<uint32_t, PeerId> map_;
};

}  // namespace sitelink::tunnel
