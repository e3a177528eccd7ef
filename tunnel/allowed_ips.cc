// AllowedIps: the cryptokey-routing table as a path-compressed binary trie
// per address family, after the kernel's allowedips.c.
//
// Every node holds a canonical prefix (key, cidr). A node's children extend
// its prefix, child[b] taking bit `cidr` of the address equal to b. Nodes
// with an owner are the inserted prefixes; nodes without one are branch
// points that always have two children (remove() restores this after every
// change), so a trie of n prefixes has fewer than 2n nodes and at most 129
// levels. A lookup walks one path from the root, remembering the last owned
// node whose prefix matches, so it costs at most 33 or 129 steps whatever the
// number of prefixes or peers.
//
// Addresses are held as a 128-bit key of two host-order words (an IPv4
// address sits in the top 32 bits), so matching a prefix is two masked XORs.
// Each peer's owned nodes are chained in an intrusive list, as the kernel's
// peer->allowedips_list, which makes remove_peer proportional to that peer's
// prefixes only.
#include "tunnel/allowed_ips.h"

#include <algorithm>
#include <bit>
#include <utility>

namespace sitelink::tunnel {
namespace {

constexpr uint8_t kBits4 = 32;
constexpr uint8_t kBits6 = 128;

// A left-aligned address: bit 0 is the most significant bit of hi.
struct Key {
  uint64_t hi = 0;
  uint64_t lo = 0;
};

uint64_t load_be(const uint8_t* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | p[i];
  return v;
}

Key key_v4(const uint8_t* addr4) { return Key{load_be(addr4, 4) << 32, 0}; }
Key key_v6(const uint8_t* addr16) { return Key{load_be(addr16, 8), load_be(addr16 + 8, 8)}; }

Key key_of(const config::IpAddress& a) { return a.is_v4() ? key_v4(a.raw().data()) : key_v6(a.raw().data()); }

// The first `cidr` bits set.
Key mask_of(uint8_t cidr) {
  const auto word = [](unsigned n) { return n == 0 ? 0 : ~uint64_t{0} << (64 - n); };
  return Key{word(std::min<unsigned>(cidr, 64)), word(cidr > 64 ? cidr - 64u : 0u)};
}

Key masked(Key k, uint8_t cidr) {
  const Key m = mask_of(cidr);
  return Key{k.hi & m.hi, k.lo & m.lo};
}

// Bit `i` of the key (0 = most significant); i < 128.
unsigned bit_at(Key k, unsigned i) {
  return i < 64 ? static_cast<unsigned>(k.hi >> (63 - i)) & 1u : static_cast<unsigned>(k.lo >> (127 - i)) & 1u;
}

// How many leading bits a and b share (128 if equal).
uint8_t common_bits(Key a, Key b) {
  const uint64_t hi = a.hi ^ b.hi;
  if (hi != 0) return static_cast<uint8_t>(std::countl_zero(hi));
  return static_cast<uint8_t>(64 + std::countl_zero(a.lo ^ b.lo));
}

void store_be(uint64_t v, uint8_t* out, int n) {
  for (int i = n - 1; i >= 0; --i, v >>= 8) out[i] = static_cast<uint8_t>(v);
}

config::IpAddress address_of(Key k, uint8_t bits) {
  if (bits == kBits4) {
    std::array<uint8_t, 4> b{};
    store_be(k.hi >> 32, b.data(), 4);
    return config::IpAddress::v4(b);
  }
  std::array<uint8_t, 16> b{};
  store_be(k.hi, b.data(), 8);
  store_be(k.lo, b.data() + 8, 8);
  return config::IpAddress::v6(b);
}

}  // namespace

struct AllowedIps::Node {
  using Slot = std::unique_ptr<Node>;
  using PeerLists = std::unordered_map<PeerId, Node*>;

  Node(Key k, uint8_t c, uint8_t b) : key(masked(k, c)), mask(mask_of(c)), cidr(c), bits(b) {}

  Key key;   // canonical: bits past cidr are zero
  Key mask;  // mask_of(cidr), cached for lookups
  uint8_t cidr;
  uint8_t bits;  // 32 or 128: which trie this node lives in
  bool owned = false;
  PeerId peer = 0;
  Slot child[2];
  Node* parent = nullptr;
  Node* peer_prev = nullptr;  // the owner's list of nodes
  Node* peer_next = nullptr;

  bool matches(Key k) const { return ((k.hi ^ key.hi) & mask.hi) == 0 && ((k.lo ^ key.lo) & mask.lo) == 0; }
  config::IpPrefix prefix() const { return {address_of(key, bits), cidr}; }

  // Longest match for `k` in the trie under `root`.
  static std::optional<PeerId> lookup(const Node* root, Key k) {
    std::optional<PeerId> found;
    for (const Node* n = root; n != nullptr && n->matches(k);) {
      if (n->owned) found = n->peer;
      if (n->cidr == n->bits) break;
      n = n->child[bit_at(k, n->cidr)].get();
    }
    return found;
  }

  // The deepest node whose prefix contains (k, cidr); it is that exact
  // prefix if its cidr equals `cidr`.
  static Node* placement(Node* root, Key k, uint8_t cidr) {
    Node* parent = nullptr;
    for (Node* n = root; n != nullptr && n->cidr <= cidr && n->matches(k);) {
      parent = n;
      if (n->cidr == cidr) break;
      n = n->child[bit_at(k, n->cidr)].get();
    }
    return parent;
  }

  static Node* find_exact(Node* root, Key k, uint8_t cidr) {
    Node* n = placement(root, k, cidr);
    return n != nullptr && n->cidr == cidr ? n : nullptr;
  }

  static void attach(Slot& slot, Node* parent, Slot node) {
    slot = std::move(node);
    if (slot) slot->parent = parent;
  }

  // The owning pointer of this node: its parent's child slot, or the root.
  Slot& slot_in(Slot& root) { return parent == nullptr ? root : parent->child[parent->child[1].get() == this]; }

  // Returns the node for exactly (k, cidr), creating it (and a branch point
  // if needed) when absent. The kernel's add().
  static Node* find_or_insert(Slot& root, Key k, uint8_t cidr, uint8_t bits) {
    Node* parent = placement(root.get(), k, cidr);
    if (parent != nullptr && parent->cidr == cidr) return parent;
    auto fresh = std::make_unique<Node>(k, cidr, bits);
    Node* result = fresh.get();
    Slot& slot = parent == nullptr ? root : parent->child[bit_at(k, parent->cidr)];
    if (!slot) {
      attach(slot, parent, std::move(fresh));
    } else {
      attach(slot, parent, join(std::move(slot), std::move(fresh)));
    }
    return result;
  }

  // `down` and `fresh` would share a slot: `fresh` either contains `down`
  // or the two diverge, in which case a branch point takes the slot.
  static Slot join(Slot down, Slot fresh) {
    const uint8_t common = std::min(fresh->cidr, common_bits(down->key, fresh->key));
    Slot top = common == fresh->cidr ? std::move(fresh) : std::make_unique<Node>(fresh->key, common, fresh->bits);
    adopt(top.get(), std::move(down));
    if (fresh) adopt(top.get(), std::move(fresh));
    return top;
  }

  // Hangs `n` below `t` on the side its bit after t's prefix selects.
  static void adopt(Node* t, Slot n) {
    const unsigned side = bit_at(n->key, t->cidr);  // before `n` is moved from
    attach(t->child[side], t, std::move(n));
  }

  // Replaces an unowned node with at most one child by that child.
  static void splice(Slot& root, Node* n) {
    Slot& slot = n->slot_in(root);
    Slot only = std::move(n->child[n->child[0] ? 0 : 1]);
    Node* parent = n->parent;
    Slot dead = std::move(slot);
    attach(slot, parent, std::move(only));
  }

  bool is_redundant() const { return !owned && !(child[0] && child[1]); }

  // Drops the (already disowned) node `n` from the trie if it is no longer
  // needed, and then its parent if that became a redundant branch point.
  // The kernel's remove_node().
  static void prune(Slot& root, Node* n) {
    if (!n->is_redundant()) return;
    Node* parent = n->parent;
    splice(root, n);
    if (parent != nullptr && parent->is_redundant()) splice(root, parent);
  }

  void link_to(PeerLists& lists, PeerId p) {
    owned = true;
    peer = p;
    Node*& head = lists[p];
    peer_next = head;
    peer_prev = nullptr;
    if (head != nullptr) head->peer_prev = this;
    head = this;
  }

  void unlink_from(PeerLists& lists) {
    if (peer_prev != nullptr) {
      peer_prev->peer_next = peer_next;
    } else if (peer_next != nullptr) {
      lists[peer] = peer_next;
    } else {
      lists.erase(peer);
    }
    if (peer_next != nullptr) peer_next->peer_prev = peer_prev;
    peer_prev = peer_next = nullptr;
    owned = false;
  }
};

AllowedIps::AllowedIps() = default;
AllowedIps::~AllowedIps() = default;
AllowedIps::AllowedIps(AllowedIps&&) noexcept = default;
AllowedIps& AllowedIps::operator=(AllowedIps&&) noexcept = default;

void AllowedIps::insert(const config::IpPrefix& prefix, PeerId peer) {
  const bool v4 = prefix.address().is_v4();
  const uint8_t bits = v4 ? kBits4 : kBits6;
  const uint8_t cidr = std::min(prefix.length(), bits);
  Node* n = Node::find_or_insert(v4 ? root4_ : root6_, key_of(prefix.address()), cidr, bits);
  if (n->owned && n->peer == peer) return;
  if (n->owned) {
    n->unlink_from(peer_nodes_);
  } else {
    ++size_;
  }
  n->link_to(peer_nodes_, peer);
}

bool AllowedIps::remove(const config::IpPrefix& prefix, PeerId peer) {
  const bool v4 = prefix.address().is_v4();
  const uint8_t cidr = std::min(prefix.length(), v4 ? kBits4 : kBits6);
  std::unique_ptr<Node>& root = v4 ? root4_ : root6_;
  Node* n = Node::find_exact(root.get(), key_of(prefix.address()), cidr);
  if (n == nullptr || !n->owned || n->peer != peer) return false;
  n->unlink_from(peer_nodes_);
  --size_;
  Node::prune(root, n);
  return true;
}

void AllowedIps::remove_peer(PeerId peer) {
  const auto it = peer_nodes_.find(peer);
  if (it == peer_nodes_.end()) return;
  Node* n = it->second;
  peer_nodes_.erase(it);
  while (n != nullptr) {
    Node* next = n->peer_next;
    n->owned = false;
    n->peer_prev = n->peer_next = nullptr;
    --size_;
    // Pruning frees only unowned nodes, so `next` (owned) survives it.
    Node::prune(n->bits == kBits4 ? root4_ : root6_, n);
    n = next;
  }
}

void AllowedIps::clear() {
  root4_.reset();
  root6_.reset();
  peer_nodes_.clear();
  size_ = 0;
}

std::optional<PeerId> AllowedIps::lookup(const config::IpAddress& addr) const {
  return addr.is_v4() ? lookup_v4(addr.raw().data()) : lookup_v6(addr.raw().data());
}

std::optional<PeerId> AllowedIps::lookup_v4(const uint8_t* addr4) const {
  return Node::lookup(root4_.get(), key_v4(addr4));
}

std::optional<PeerId> AllowedIps::lookup_v6(const uint8_t* addr16) const {
  return Node::lookup(root6_.get(), key_v6(addr16));
}

std::vector<config::IpPrefix> AllowedIps::prefixes_of(PeerId peer) const {
  std::vector<config::IpPrefix> out;
  const auto it = peer_nodes_.find(peer);
  if (it == peer_nodes_.end()) return out;
  for (const Node* n = it->second; n != nullptr; n = n->peer_next) out.push_back(n->prefix());
  // IpPrefix orders by family (v4 first), then address, then length.
  std::sort(out.begin(), out.end());
  return out;
}

size_t AllowedIps::size() const { return size_; }

}  // namespace sitelink::tunnel
