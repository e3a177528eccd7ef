// PeerMachine: everything WireGuard does for one peer, without I/O. It owns
// the handshake, the keypairs, the timers, the cookie state for messages we
// send, and a bounded queue of packets waiting for a session. Callers feed it
// events with the current time (an outbound IP packet, an inbound message
// already classified and routed to this peer, a timer tick) and it answers
// through a Transmit: datagrams to send to the peer's endpoint, decrypted
// packets for the TUN device, and events worth logging. Modelled on
// boringtun's Tunn, with the kernel's send.c/receive.c rules.
//
// Buffers: an outbound packet sits in a caller buffer with kHeadroom bytes in
// front (for the transport header) and kTailroom behind (padding and tag),
// and is sealed where it lies. Inbound transport messages are opened in place.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "handshake/base/result.h"
#include "handshake/base/time.h"
#include "handshake/cookie.h"
#include "handshake/errors.h"
#include "handshake/keypair.h"
#include "handshake/messages.h"
#include "handshake/noise.h"
#include "handshake/timers.h"

namespace sitelink::handshake {

inline constexpr size_t kHeadroom = transport::kHeaderSize;
inline constexpr size_t kTailroom = kMessagePaddingMultiple - 1 + kAeadTagSize;

// Local session indices are unique per interface; the owner of the index
// table hands them out and maps them back to this peer.
class IndexAllocator {
 public:
  virtual ~IndexAllocator() = default;
  virtual uint32_t allocate() = 0;
  virtual void release(uint32_t index) = 0;
};

enum class PeerEvent {
  kHandshakeInitiated,   // an initiation went out
  kHandshakeResponded,   // we answered an initiation
  kSessionEstablished,   // keys confirmed; data can flow
  kHandshakeGaveUp,      // no response for REKEY_ATTEMPT_TIME; staged packets dropped
  kKeysZeroed,           // all key material wiped after 3 x REJECT_AFTER_TIME
  kCookieReceived,       // the peer is under load and sent us a cookie
  kStagedPacketDropped,  // the waiting queue was full
};

// Transport crypto, split from the state machine so that an owner may run
// it for a batch of packets on other threads: the machine's state is only
// touched by the steps before and after, on the owner's thread, in order.
struct SealJob {
  MutableBytes data;  // the padded plaintext, sealed in place; the tag follows it
  std::span<const uint8_t, kKeySize> key;
  uint64_t counter;
};
struct OpenJob {
  MutableBytes sealed;  // ciphertext and tag, opened in place
  std::span<const uint8_t, kKeySize> key;
  uint64_t counter;
};
void run_seal(const SealJob& job);
// False if the packet does not authenticate (the plaintext is then zeroed).
[[nodiscard]] bool run_open(const OpenJob& job);

// What the machine asks its owner to do.
class Transmit {
 public:
  virtual ~Transmit() = default;
  // A transport packet is about to go: its header is written and its
  // counter taken. The owner may take the sealing over (true): it must then
  // copy the key (valid during this call only) and seal the packet before
  // the datagram, which send_to_network receives next, leaves. Otherwise
  // (false) the machine seals it at once.
  virtual bool defer_seal(const SealJob&) { return false; }
  virtual void send_to_network(Bytes datagram) = 0;
  // A decrypted IP packet (may still carry padding; the owner trims it by the
  // IP header's length and checks its source against allowed-ips).
  virtual void deliver_to_tun(MutableBytes packet) = 0;
  virtual void on_event(PeerEvent) {}
};

struct PeerStats {
  uint64_t tx_bytes = 0;  // datagram bytes sent to this peer
  uint64_t rx_bytes = 0;  // authenticated datagram bytes received from it
  uint64_t tx_packets = 0;
  uint64_t rx_packets = 0;
  std::optional<WallTime> last_handshake;  // when the current session began
  uint64_t handshakes = 0;                 // sessions established, as initiator or responder
};

class PeerMachine {
 public:
  PeerMachine(const LocalIdentity& local, const PublicKey& remote, const PresharedKey& psk, TimerSettings timers,
              Rng& rng, IndexAllocator& indices);
  ~PeerMachine();
  PeerMachine(const PeerMachine&) = delete;
  PeerMachine& operator=(const PeerMachine&) = delete;

  // An IP packet of `len` bytes at buffer[kHeadroom..] to send to this peer.
  // `buffer` must have kTailroom spare bytes after the packet. The packet is
  // padded to 16 bytes, but not beyond `mtu`.
  void send(const Now& now, MutableBytes buffer, size_t len, size_t mtu, Transmit& out);

  // Inbound messages for this peer, already classified and mac1-checked.
  Result<void, ProtoError> receive_initiation(const Now& now, ConsumedInitiation&& init, Transmit& out);
  Result<void, ProtoError> receive_response(const Now& now, const ResponseMsg& msg, Transmit& out);
  Result<void, ProtoError> receive_cookie_reply(const Now& now, const CookieReplyMsg& msg, Transmit& out);
  Result<void, ProtoError> receive_transport(const Now& now, const TransportMsg& msg, Transmit& out);
  // receive_transport in three steps, for owners that open a batch of
  // packets at once (on other threads): prepare_transport finds the key
  // and checks expiry and replay (changing nothing); run_open opens; then
  // finish_transport, called in arrival order for each packet that opened
  // (and only for those), checks the replay window again and does the
  // rest. A job's key lives in its keypair, which any finish_transport or
  // other event may retire: run every open of a batch before its first
  // finish. Keypairs are only made by handshake messages, so a batch of
  // transport messages opens under the keypairs its finish steps find.
  Result<OpenJob, ProtoError> prepare_transport(const Now& now, const TransportMsg& msg);
  Result<void, ProtoError> finish_transport(const Now& now, const TransportMsg& msg, Transmit& out);

  // Acts on every timer due at `now`.
  void on_timer(const Now& now, Transmit& out);
  Instant next_deadline() const { return timers_.next_deadline(); }

  // Starts a handshake unless one was sent within REKEY_TIMEOUT (start-up,
  // endpoint change).
  void initiate(const Now& now, Transmit& out) { send_initiation(now, false, out); }
  // Sends an empty packet (a keepalive), or queued packets if there are any.
  void send_keepalive(const Now& now, Transmit& out);

  // Configuration changes that keep the session.
  void set_preshared_key(const PresharedKey& psk) { handshake_.set_preshared_key(psk); }
  void set_timer_settings(const TimerSettings& s);
  // Wipes all sessions and the handshake (e.g. when our private key changes).
  void reset_sessions();
  // A machine made for a new local key takes the old one's replay history.
  void restore_replay_history(const ReplayHistory& h) { handshake_.restore_replay_history(h); }

  const PublicKey& remote_static() const { return handshake_.remote_static(); }
  const PeerStats& stats() const { return stats_; }
  const PeerTimers& timers() const { return timers_; }
  const KeypairSet& keypairs() const { return keypairs_; }
  const Handshake& handshake() const { return handshake_; }
  size_t staged_packets() const { return staged_.size(); }
  bool has_session(Instant now) const;

 private:
  void send_initiation(const Now& now, bool is_retry, Transmit& out);
  void send_response(const Now& now, Transmit& out);
  void mark_handshake_sent(const Now& now);
  void stage(Bytes packet, Transmit& out);
  void flush_staged(const Now& now, size_t mtu, Transmit& out);
  bool keypair_can_send(const Keypair* kp, Instant now) const;
  void seal_and_send(const Now& now, Keypair& kp, MutableBytes buffer, size_t len, size_t mtu, Transmit& out);
  void keep_key_fresh_after_send(const Now& now, Transmit& out);
  void keep_key_fresh_after_receive(const Now& now, Transmit& out);
  void add_keypair(const Now& now, SessionKeys&& keys);
  void release(const std::vector<uint32_t>& indices);
  void release_handshake_index();
  void expire(Timer t, const Now& now, Transmit& out);
  void send_datagram(Bytes datagram, Transmit& out);
  void handshake_complete(const Now& now, Transmit& out);

  Handshake handshake_;
  CookieGenerator cookies_;
  KeypairSet keypairs_;
  PeerTimers timers_;
  Rng* rng_;
  IndexAllocator* indices_;
  std::optional<uint32_t> handshake_index_;
  std::optional<Instant> last_sent_handshake_;
  Duration handshake_jitter_{0};
  bool sent_lastminute_handshake_ = false;
  std::deque<std::vector<uint8_t>> staged_;
  size_t last_mtu_ = 0;
  PeerStats stats_;
};

}  // namespace sitelink::handshake
