// WireGuard's handshake messages over the IKpsk2 pattern; see noise.h.
#include "handshake/noise.h"

#include <algorithm>

#include "handshake/constants.h"

namespace sitelink::handshake {

namespace {

Bytes as_bytes(const char* s, size_t n) { return {reinterpret_cast<const uint8_t*>(s), n}; }
const Bytes kConstructionBytes = as_bytes(kConstruction, sizeof kConstruction - 1);
const Bytes kIdentifierBytes = as_bytes(kIdentifier, sizeof kIdentifier - 1);

noise_ik::SymmetricState start_state(const PublicKey& responder) {
  noise_ik::SymmetricState st;
  noise_ik::initialize(st, kConstructionBytes, kIdentifierBytes, responder.bytes());
  return st;
}

SessionKeys split_keys(const noise_ik::SymmetricState& st, bool initiator, uint32_t local, uint32_t remote) {
  SessionKeys keys;
  if (initiator) {
    noise_ik::split(st, keys.send.span(), keys.receive.span());
  } else {
    noise_ik::split(st, keys.receive.span(), keys.send.span());
  }
  keys.local_index = local;
  keys.remote_index = remote;
  keys.initiator = initiator;
  keys.handshake_hash = st.hash;
  return keys;
}

void write_header(uint8_t* out, MessageType type, uint32_t sender) {
  store_le32(out, static_cast<uint32_t>(type));
  store_le32(out + 4, sender);
}

}  // namespace

LocalIdentity::LocalIdentity(PrivateKey key)
    : private_(std::move(key)), public_(private_.public_key()), responder_start_(start_state(public_)) {}

Result<ConsumedInitiation, ProtoError> consume_initiation(const LocalIdentity& local, const InitiationMsg& msg) {
  ConsumedInitiation out;
  out.state = local.responder_start();
  const uint8_t* p = msg.bytes.data();
  std::copy_n(p + initiation::kEphemeral, kKeySize, out.remote_ephemeral.begin());
  const noise_ik::Msg1In in{
      std::span<const uint8_t, kKeySize>(p + initiation::kEphemeral, kKeySize),
      std::span<const uint8_t, kKeySize + kAeadTagSize>(p + initiation::kStatic, kKeySize + kAeadTagSize),
      Bytes(p + initiation::kTimestamp, kTimestampSize + kAeadTagSize)};
  std::array<uint8_t, kKeySize> initiator_static;
  if (!noise_ik::read_msg1_static(out.state, local.private_key().bytes(), in, initiator_static)) {
    return Err(ProtoError::kDecryptFailed);
  }
  std::copy(in.sealed_payload.begin(), in.sealed_payload.end(), out.sealed_timestamp.begin());
  out.initiator_static = PublicKey(initiator_static);
  out.sender_index = msg.sender();
  return out;
}

Handshake::Handshake(const LocalIdentity& local, const PublicKey& remote, const PresharedKey& psk)
    : local_(&local),
      remote_(remote),
      psk_(psk),
      initiator_start_(start_state(remote)),
      static_static_valid_(x25519(static_static_.span(), local.private_key().bytes(), remote.bytes())) {}

Result<void, ProtoError> Handshake::create_initiation(std::span<uint8_t, initiation::kSize> out, uint32_t local_index,
                                                      WallTime now, Rng& rng) {
  InitiationCreated next{local_index, {}, initiator_start_};
  rng.fill(next.ephemeral_private.span());
  x25519_clamp(next.ephemeral_private.span());
  std::fill(out.begin(), out.end(), 0);
  write_header(out.data(), MessageType::kInitiation, local_index);
  const Tai64n ts = tai64n(now);
  const noise_ik::Msg1Out dst{out.subspan<initiation::kEphemeral, kKeySize>(),
                              out.subspan<initiation::kStatic, kKeySize + kAeadTagSize>(),
                              out.subspan(initiation::kTimestamp, kTimestampSize + kAeadTagSize)};
  if (!static_static_valid_ ||
      !noise_ik::write_msg1_precomputed(next.st, next.ephemeral_private.span(), local_->public_key().bytes(),
                                        static_static_.span(), remote_.bytes(), ts, dst)) {
    return Err(ProtoError::kBadPublicKey);
  }
  state_ = std::move(next);
  crossed_.reset();
  return {};
}

Result<SessionKeys, ProtoError> Handshake::consume_response(const ResponseMsg& msg) {
  auto* created = std::get_if<InitiationCreated>(&state_);
  if (created == nullptr && crossed_) created = &*crossed_;
  if (created == nullptr) return Err(ProtoError::kUnexpectedMessage);
  if (msg.receiver() != created->local_index) return Err(ProtoError::kWrongIndex);
  noise_ik::SymmetricState st = created->st;  // commit only on success
  const uint8_t* p = msg.bytes.data();
  std::array<uint8_t, 0> empty;
  if (!noise_ik::read_msg2(st, created->ephemeral_private.span(), local_->private_key().bytes(),
                           std::span<const uint8_t, kKeySize>(p + response::kEphemeral, kKeySize), psk_.bytes(),
                           Bytes(p + response::kEmpty, kAeadTagSize), empty)) {
    return Err(ProtoError::kDecryptFailed);
  }
  SessionKeys keys = split_keys(st, true, created->local_index, msg.sender());
  if (crossed_ && created == &*crossed_) {
    crossed_.reset();
  } else {
    state_ = Zeroed{};
  }
  return keys;
}

Result<void, ProtoError> Handshake::accept_initiation(ConsumedInitiation&& init, Instant now) {
  if (!(init.initiator_static == remote_)) return Err(ProtoError::kUnknownPeer);
  if (!static_static_valid_) return Err(ProtoError::kBadPublicKey);
  Tai64n timestamp{};
  if (!noise_ik::read_msg1_payload(init.state, static_static_.span(), init.sealed_timestamp, timestamp)) {
    return Err(ProtoError::kDecryptFailed);
  }
  if (latest_timestamp_ && !tai64n_after(timestamp, *latest_timestamp_)) {
    return Err(ProtoError::kReplayedTimestamp);
  }
  if (last_initiation_consumed_ &&
      now - *last_initiation_consumed_ < std::chrono::nanoseconds(1s) / kInitiationsPerSecond) {
    return Err(ProtoError::kFloodedInitiation);
  }
  latest_timestamp_ = timestamp;
  last_initiation_consumed_ = now;
  // Crossed initiations: exactly one of the two handshakes may complete,
  // or each side would go on receiving on a session the other drops at the
  // next rekey. Both sides agree which: the one from the greater public key.
  // That side keeps its initiation pending (and answers too, in case the
  // peer never saw it); the other drops its own, as the kernel always does.
  if (auto* created = std::get_if<InitiationCreated>(&state_)) {
    if (remote_ < local_->public_key()) crossed_ = std::move(*created);
  }
  state_ = InitiationConsumed{init.sender_index, init.remote_ephemeral, std::move(init.state)};
  return {};
}

Result<SessionKeys, ProtoError> Handshake::create_response(std::span<uint8_t, response::kSize> out,
                                                           uint32_t local_index, Rng& rng) {
  auto* consumed = std::get_if<InitiationConsumed>(&state_);
  if (consumed == nullptr) return Err(ProtoError::kUnexpectedMessage);
  Secret<kKeySize> ephemeral;
  rng.fill(ephemeral.span());
  x25519_clamp(ephemeral.span());
  std::fill(out.begin(), out.end(), 0);
  write_header(out.data(), MessageType::kResponse, local_index);
  store_le32(&out[response::kReceiver], consumed->remote_index);
  noise_ik::SymmetricState st = consumed->st;
  if (!noise_ik::write_msg2(st, ephemeral.span(), consumed->remote_ephemeral, remote_.bytes(), psk_.bytes(), Bytes{},
                            out.subspan<response::kEphemeral, kKeySize>(),
                            out.subspan(response::kEmpty, kAeadTagSize))) {
    return Err(ProtoError::kBadPublicKey);
  }
  SessionKeys keys = split_keys(st, false, local_index, consumed->remote_index);
  state_ = Zeroed{};
  return keys;
}

Handshake::State Handshake::state() const {
  if (std::holds_alternative<InitiationCreated>(state_)) return State::kCreatedInitiation;
  if (std::holds_alternative<InitiationConsumed>(state_)) return State::kConsumedInitiation;
  return State::kZeroed;
}

std::optional<uint32_t> Handshake::initiation_index() const {
  if (const auto* c = std::get_if<InitiationCreated>(&state_)) return c->local_index;
  if (crossed_) return crossed_->local_index;
  return std::nullopt;
}

const noise_ik::SymmetricState* Handshake::transcript() const {
  if (const auto* c = std::get_if<InitiationCreated>(&state_)) return &c->st;
  if (const auto* c = std::get_if<InitiationConsumed>(&state_)) return &c->st;
  return nullptr;
}

}  // namespace sitelink::handshake
