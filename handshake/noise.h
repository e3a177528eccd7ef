// WireGuard's handshake (paper 5.4.2-5.4.5): Noise IKpsk2 with WireGuard's
// prologue and payloads, message framing, sender/receiver indices and the
// replay and flood checks on initiations. Pure computation: time, randomness
// and indices come in as parameters.
//
// Flow, initiator I and responder R:
//   I: create_initiation            -> 148-byte initiation (macs added by CookieGenerator)
//   R: consume_initiation (anonymous: e, es, s decrypt the initiator's static
//      key so the caller can find the peer: one X25519), then that peer's
//      Handshake::accept_initiation (ss with the peer's precomputed
//      static-static secret, {t}, replay and flood checks)
//   R: create_response              -> 92-byte response, SessionKeys
//   I: consume_response             -> SessionKeys
//
// A refused message leaves the handshake exactly as it was.
#pragma once

#include <array>
#include <optional>
#include <variant>

#include "handshake/base/result.h"
#include "handshake/base/secret.h"
#include "handshake/base/time.h"
#include "handshake/crypto.h"
#include "handshake/errors.h"
#include "handshake/keys.h"
#include "handshake/messages.h"
#include "handshake/noise_ik.h"
#include "handshake/tai64n.h"

namespace sitelink::handshake {

// The interface's static key pair, with the handshake state that depends only
// on it precomputed (the "<- s" pre-message with our own key).
class LocalIdentity {
 public:
  explicit LocalIdentity(PrivateKey key);

  const PrivateKey& private_key() const { return private_; }
  const PublicKey& public_key() const { return public_; }
  // Symmetric state at the start of a handshake in which we respond.
  const noise_ik::SymmetricState& responder_start() const { return responder_start_; }

 private:
  PrivateKey private_;
  PublicKey public_;
  noise_ik::SymmetricState responder_start_;
};

// Transport keys from a completed handshake.
struct SessionKeys {
  SymmetricKey send;
  SymmetricKey receive;
  uint32_t local_index = 0;   // receivers put this in messages to us
  uint32_t remote_index = 0;  // we put this in messages to them
  bool initiator = false;
  Hash handshake_hash{};  // the final h: identical on both sides
};

// What the responder learns from an initiation before it knows the peer:
// the claimed static key, and the state after e, es, s. The timestamp is
// still sealed (under a key that needs the static-static secret).
struct ConsumedInitiation {
  PublicKey initiator_static;
  uint32_t sender_index = 0;
  std::array<uint8_t, kKeySize> remote_ephemeral{};
  std::array<uint8_t, kTimestampSize + kAeadTagSize> sealed_timestamp{};
  noise_ik::SymmetricState state;
};

// Decrypts the initiator's static key (e, es, s). The caller must already
// have checked mac1.
[[nodiscard]] Result<ConsumedInitiation, ProtoError> consume_initiation(const LocalIdentity& local,
                                                                        const InitiationMsg& msg);

// What refuses a replayed or flooded initiation from one peer: the latest
// accepted timestamp and when it was accepted. It belongs to the peer, not
// to our key: the kernel keeps latest_timestamp when the interface's private
// key changes, so a recorded initiation is not accepted again after the key
// is changed and changed back.
struct ReplayHistory {
  std::optional<Tai64n> latest_timestamp;
  std::optional<Instant> last_initiation_consumed;
};

class Handshake {
 public:
  enum class State { kZeroed, kCreatedInitiation, kConsumedInitiation };

  // `local` must outlive the handshake.
  Handshake(const LocalIdentity& local, const PublicKey& remote, const PresharedKey& psk);

  // Initiator: writes an initiation from `local_index` (mac fields zero).
  // Any earlier handshake state is discarded.
  [[nodiscard]] Result<void, ProtoError> create_initiation(std::span<uint8_t, initiation::kSize> out,
                                                           uint32_t local_index, WallTime now, Rng& rng);
  // Initiator: the response to our outstanding initiation.
  [[nodiscard]] Result<SessionKeys, ProtoError> consume_response(const ResponseMsg& msg);

  // Responder: takes an initiation that consume_initiation() attributed to
  // this peer (ss, {t}), unless its timestamp does not decrypt, it is
  // replayed (timestamp not newer than the last accepted) or it arrives
  // faster than kInitiationsPerSecond.
  [[nodiscard]] Result<void, ProtoError> accept_initiation(ConsumedInitiation&& init, Instant now);
  // Responder: writes the response from `local_index` (mac fields zero).
  [[nodiscard]] Result<SessionKeys, ProtoError> create_response(std::span<uint8_t, response::kSize> out,
                                                                uint32_t local_index, Rng& rng);

  State state() const;
  // The index a response to our initiation is addressed to, if one is
  // pending (also while we answer a crossing initiation).
  std::optional<uint32_t> initiation_index() const;
  const PublicKey& remote_static() const { return remote_; }
  // The timestamp of the latest accepted initiation (replay protection).
  const std::optional<Tai64n>& latest_timestamp() const { return latest_timestamp_; }
  ReplayHistory replay_history() const { return {latest_timestamp_, last_initiation_consumed_}; }
  void restore_replay_history(const ReplayHistory& h) {
    latest_timestamp_ = h.latest_timestamp;
    last_initiation_consumed_ = h.last_initiation_consumed;
  }
  void set_preshared_key(const PresharedKey& psk) { psk_ = psk; }
  const PresharedKey& preshared_key() const { return psk_; }
  // Forgets the handshake in progress (secrets are wiped); keeps the replay
  // and flood history.
  void clear() {
    state_ = Zeroed{};
    crossed_.reset();
  }
  // The running symmetric state, for tests that compare both sides' chaining
  // key and hash; null when no handshake is in progress.
  const noise_ik::SymmetricState* transcript() const;

 private:
  struct Zeroed {};
  struct InitiationCreated {
    uint32_t local_index;
    Secret<kKeySize> ephemeral_private;
    noise_ik::SymmetricState st;
  };
  struct InitiationConsumed {
    uint32_t remote_index;
    std::array<uint8_t, kKeySize> remote_ephemeral;
    noise_ik::SymmetricState st;
  };

  const LocalIdentity* local_;
  PublicKey remote_;
  PresharedKey psk_;
  noise_ik::SymmetricState initiator_start_;  // "<- s" with the remote's key
  // DH(local static, remote static): the same in every handshake with this
  // peer (the kernel's precomputed_static_static). Not valid when the
  // remote key is a low-order point: no handshake with it can succeed.
  Secret<kKeySize> static_static_;
  bool static_static_valid_ = false;
  std::variant<Zeroed, InitiationCreated, InitiationConsumed> state_;
  // Our initiation, kept when the peer's own initiation crossed it and we
  // answered that one, if our public key is the greater: its response is
  // still accepted, so two peers that initiate at the same moment complete
  // one handshake at once instead of each dropping the other's response and
  // retrying 5 s later (the kernel drops both). The peer with the smaller
  // key drops its own initiation, so the two never both complete.
  std::optional<InitiationCreated> crossed_;
  std::optional<Tai64n> latest_timestamp_;
  std::optional<Instant> last_initiation_consumed_;
};

}  // namespace sitelink::handshake
