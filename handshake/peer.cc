// The per-peer state machine; see peer.h. Rules follow the kernel's send.c,
// receive.c and timers.c; the function each block mirrors is named.
#include "handshake/peer.h"

#include <algorithm>

namespace sitelink::handshake {

PeerMachine::PeerMachine(const LocalIdentity& local, const PublicKey& remote, const PresharedKey& psk,
                         TimerSettings timers, Rng& rng, IndexAllocator& indices)
    : handshake_(local, remote, psk), cookies_(remote), timers_(timers), rng_(&rng), indices_(&indices) {}

PeerMachine::~PeerMachine() {
  release(keypairs_.clear());
  release_handshake_index();
}

void PeerMachine::release(const std::vector<uint32_t>& indices) {
  for (uint32_t i : indices) indices_->release(i);
}

void PeerMachine::release_handshake_index() {
  if (handshake_index_) indices_->release(*handshake_index_);
  handshake_index_.reset();
}

void PeerMachine::send_datagram(Bytes datagram, Transmit& out) {
  stats_.tx_bytes += datagram.size();
  ++stats_.tx_packets;
  out.send_to_network(datagram);
}

bool PeerMachine::keypair_can_send(const Keypair* kp, Instant now) const {
  return kp != nullptr && now - kp->birth < timers_.settings().reject_after_time() &&
         kp->send_counter < kRejectAfterMessages;
}

bool PeerMachine::has_session(Instant now) const { return keypair_can_send(keypairs_.current(), now); }

// --- Outbound data (send.c) ---------------------------------------------------

void PeerMachine::send(const Now& now, MutableBytes buffer, size_t len, size_t mtu, Transmit& out) {
  last_mtu_ = mtu;
  if (buffer.size() < kHeadroom + len + kTailroom) return;  // caller bug; never on the wire
  Keypair* kp = keypairs_.current();
  if (staged_.empty() && keypair_can_send(kp, now.mono)) {
    seal_and_send(now, *kp, buffer, len, mtu, out);
    keep_key_fresh_after_send(now, out);
    return;
  }
  stage(buffer.subspan(kHeadroom, len), out);
  flush_staged(now, mtu, out);
}

void PeerMachine::stage(Bytes packet, Transmit& out) {
  if (staged_.size() >= kMaxStagedPackets) {
    staged_.pop_front();  // the oldest is the least useful
    out.on_event(PeerEvent::kStagedPacketDropped);
  }
  staged_.emplace_back(packet.begin(), packet.end());
}

// wg_packet_send_staged_packets: send what waits if a session can carry it,
// otherwise ask for one.
void PeerMachine::flush_staged(const Now& now, size_t mtu, Transmit& out) {
  Keypair* kp = keypairs_.current();
  std::vector<uint8_t> buf;
  while (!staged_.empty()) {
    if (!keypair_can_send(kp, now.mono)) {
      send_initiation(now, false, out);
      return;
    }
    const std::vector<uint8_t>& pkt = staged_.front();
    buf.assign(kHeadroom + pkt.size() + kTailroom, 0);
    std::copy(pkt.begin(), pkt.end(), buf.begin() + kHeadroom);
    const size_t len = pkt.size();
    staged_.pop_front();
    seal_and_send(now, *kp, buf, len, mtu, out);
  }
  keep_key_fresh_after_send(now, out);
}

void PeerMachine::seal_and_send(const Now& now, Keypair& kp, MutableBytes buffer, size_t len, size_t mtu,
                                Transmit& out) {
  const size_t padded = padded_length(len, mtu);
  std::fill(buffer.begin() + static_cast<ptrdiff_t>(kHeadroom + len),
            buffer.begin() + static_cast<ptrdiff_t>(kHeadroom + padded), 0);
  const uint64_t counter = kp.send_counter++;
  write_transport_header(buffer.first<transport::kHeaderSize>(), kp.remote_index, counter);
  const SealJob job{buffer.subspan(kHeadroom, padded + kAeadTagSize), kp.send_key.span(), counter};
  if (!out.defer_seal(job)) run_seal(job);
  send_datagram(buffer.first(kHeadroom + padded + kAeadTagSize), out);
  timers_.any_authenticated_packet_traversal(now.mono);
  timers_.any_authenticated_packet_sent();
  if (len > 0) timers_.data_sent(now.mono, *rng_);
}

// keep_key_fresh (send.c): the initiator rekeys after REKEY_AFTER_TIME, and
// either side after REKEY_AFTER_MESSAGES.
void PeerMachine::keep_key_fresh_after_send(const Now& now, Transmit& out) {
  const Keypair* kp = keypairs_.current();
  if (!keypair_can_send(kp, now.mono)) return;
  if (kp->send_counter > kRekeyAfterMessages ||
      (kp->initiator && now.mono - kp->birth >= timers_.settings().rekey_after_time)) {
    send_initiation(now, false, out);
  }
}

// keep_key_fresh (receive.c): if we initiated the session and it is about to
// be rejected, rekey once now rather than wait for data to send.
void PeerMachine::keep_key_fresh_after_receive(const Now& now, Transmit& out) {
  const Keypair* kp = keypairs_.current();
  if (sent_lastminute_handshake_ || !keypair_can_send(kp, now.mono) || !kp->initiator) return;
  const Duration last_minute = timers_.settings().reject_after_time() - kKeepaliveTimeout - kRekeyTimeout;
  if (now.mono - kp->birth >= last_minute) {
    sent_lastminute_handshake_ = true;
    send_initiation(now, false, out);
  }
}

void PeerMachine::send_keepalive(const Now& now, Transmit& out) {
  if (staged_.empty()) staged_.emplace_back();  // an empty packet is a keepalive
  flush_staged(now, last_mtu_, out);
}

// --- Handshake messages (send.c / receive.c) -------------------------------------

// No new initiation for REKEY_TIMEOUT after any handshake message we send.
// Unlike the kernel we add the retransmit jitter to that pause too: two
// peers whose initiations crossed each answer the other's (superseding their
// own), and with traffic both ways they would otherwise both initiate again
// exactly REKEY_TIMEOUT later and cross again, in lockstep, for as long as
// the traffic lasts.
void PeerMachine::mark_handshake_sent(const Now& now) {
  last_sent_handshake_ = now.mono;
  handshake_jitter_ = PeerTimers::jitter(*rng_);
}

// wg_packet_send_handshake_initiation
void PeerMachine::send_initiation(const Now& now, bool is_retry, Transmit& out) {
  if (!is_retry) timers_.handshake_attempts = 0;
  if (last_sent_handshake_) {
    // Retransmissions carry their own jitter (the retransmit timer's).
    const Instant allowed = *last_sent_handshake_ + kRekeyTimeout + (is_retry ? Duration{0} : handshake_jitter_);
    if (now.mono < allowed) {
      // A retransmission that may not go yet (we just answered the peer's
      // initiation) is postponed, not lost: the kernel would stall here.
      if (is_retry) timers_.arm(Timer::kRetransmitHandshake, allowed);
      return;
    }
  }
  mark_handshake_sent(now);
  release_handshake_index();
  const uint32_t index = indices_->allocate();
  std::array<uint8_t, initiation::kSize> msg;
  if (!handshake_.create_initiation(msg, index, now.wall, *rng_)) {
    indices_->release(index);
    return;
  }
  handshake_index_ = index;
  cookies_.add_macs(msg, now.mono);
  timers_.any_authenticated_packet_traversal(now.mono);
  timers_.any_authenticated_packet_sent();
  send_datagram(msg, out);
  timers_.handshake_initiated(now.mono, *rng_);
  out.on_event(PeerEvent::kHandshakeInitiated);
}

// wg_packet_send_handshake_response
void PeerMachine::send_response(const Now& now, Transmit& out) {
  mark_handshake_sent(now);
  const uint32_t index = indices_->allocate();
  std::array<uint8_t, response::kSize> msg;
  auto keys = handshake_.create_response(msg, index, *rng_);
  if (!keys) {
    indices_->release(index);
    return;
  }
  cookies_.add_macs(msg, now.mono);
  add_keypair(now, std::move(*keys));
  timers_.session_derived(now.mono);
  timers_.any_authenticated_packet_traversal(now.mono);
  timers_.any_authenticated_packet_sent();
  send_datagram(msg, out);
  out.on_event(PeerEvent::kHandshakeResponded);
}

void PeerMachine::add_keypair(const Now& now, SessionKeys&& keys) {
  release(keypairs_.add(std::make_unique<Keypair>(std::move(keys), now.mono)));
  sent_lastminute_handshake_ = false;
}

void PeerMachine::handshake_complete(const Now& now, Transmit& out) {
  timers_.handshake_complete();
  stats_.last_handshake = now.wall;
  ++stats_.handshakes;
  out.on_event(PeerEvent::kSessionEstablished);
}

Result<void, ProtoError> PeerMachine::receive_initiation(const Now& now, ConsumedInitiation&& init, Transmit& out) {
  if (auto r = handshake_.accept_initiation(std::move(init), now.mono); !r) return r;
  stats_.rx_bytes += initiation::kSize;
  ++stats_.rx_packets;
  // An initiation of ours may stay pending (see Handshake::crossed_). Its
  // index is released when it completes into a keypair or is replaced, not
  // when the crossing makes us drop it: a response to it is then refused by
  // the handshake, not mistaken for traffic to an unknown index.
  send_response(now, out);
  timers_.any_authenticated_packet_received();
  timers_.any_authenticated_packet_traversal(now.mono);
  return {};
}

Result<void, ProtoError> PeerMachine::receive_response(const Now& now, const ResponseMsg& msg, Transmit& out) {
  auto keys = handshake_.consume_response(msg);
  if (!keys) return Err(keys.error());
  stats_.rx_bytes += response::kSize;
  ++stats_.rx_packets;
  handshake_index_.reset();  // the index now names the new keypair
  add_keypair(now, std::move(*keys));
  timers_.session_derived(now.mono);
  handshake_complete(now, out);
  // Sends what waited, or a keepalive, so the responder can confirm at once.
  send_keepalive(now, out);
  timers_.any_authenticated_packet_received();
  timers_.any_authenticated_packet_traversal(now.mono);
  return {};
}

Result<void, ProtoError> PeerMachine::receive_cookie_reply(const Now& now, const CookieReplyMsg& msg, Transmit& out) {
  // The cookie is used from the next retransmission on (the kernel does not
  // resend at once either: that would make cookie replies an amplifier).
  if (!cookies_.consume_reply(msg, now.mono)) return Err(ProtoError::kDecryptFailed);
  out.on_event(PeerEvent::kCookieReceived);
  return {};
}

void run_seal(const SealJob& job) {
  const MutableBytes plain = job.data.first(job.data.size() - kAeadTagSize);
  aead_seal(job.data, job.key, job.counter, plain, Bytes{});
}

bool run_open(const OpenJob& job) {
  return aead_open(job.sealed.first(job.sealed.size() - kAeadTagSize), job.key, job.counter, job.sealed, Bytes{});
}

Result<void, ProtoError> PeerMachine::receive_transport(const Now& now, const TransportMsg& msg, Transmit& out) {
  auto job = prepare_transport(now, msg);
  if (!job) return Err(job.error());
  if (!run_open(*job)) return Err(ProtoError::kDecryptFailed);
  return finish_transport(now, msg, out);
}

// wg_packet_decrypt: the key, if the keypair is alive and the counter new.
Result<OpenJob, ProtoError> PeerMachine::prepare_transport(const Now& now, const TransportMsg& msg) {
  Keypair* kp = keypairs_.find(msg.receiver());
  if (kp == nullptr) return Err(ProtoError::kWrongIndex);
  if (now.mono - kp->birth >= timers_.settings().reject_after_time()) {
    return Err(ProtoError::kExpiredKeypair);
  }
  if (!kp->replay.would_accept(msg.counter())) return Err(ProtoError::kReplayedCounter);
  return OpenJob{msg.bytes.subspan(transport::kData), kp->receive_key.span(), msg.counter()};
}

// wg_packet_consume_data_done, for a packet that opened under the keypair
// its index names (keypairs change only between batches; see peer.h).
Result<void, ProtoError> PeerMachine::finish_transport(const Now& now, const TransportMsg& msg, Transmit& out) {
  Keypair* kp = keypairs_.find(msg.receiver());
  if (kp == nullptr) return Err(ProtoError::kWrongIndex);
  if (!kp->replay.accept(msg.counter())) return Err(ProtoError::kReplayedCounter);
  const MutableBytes plain = msg.bytes.subspan(transport::kData, msg.bytes.size() - transport::kData - kAeadTagSize);
  stats_.rx_bytes += msg.bytes.size();
  ++stats_.rx_packets;

  std::vector<uint32_t> released;
  if (keypairs_.confirm(kp, released)) {
    release(released);
    handshake_complete(now, out);
    flush_staged(now, last_mtu_, out);
  }
  keep_key_fresh_after_receive(now, out);
  timers_.any_authenticated_packet_received();
  timers_.any_authenticated_packet_traversal(now.mono);
  if (plain.empty()) return {};  // a keepalive
  timers_.data_received(now.mono);
  out.deliver_to_tun(plain);
  return {};
}

// --- Timers (timers.c wg_expired_*) -----------------------------------------------

void PeerMachine::on_timer(const Now& now, Transmit& out) {
  while (auto t = timers_.take_expired(now.mono)) expire(*t, now, out);
}

void PeerMachine::expire(Timer t, const Now& now, Transmit& out) {
  switch (t) {
    case Timer::kRetransmitHandshake:
      if (timers_.handshake_attempts > kMaxTimerHandshakes) {
        // wg_expired_retransmit_handshake: give up; drop what waited, and
        // wipe the keys later unless that is already scheduled.
        timers_.disarm(Timer::kSendKeepalive);
        staged_.clear();
        if (!timers_.pending(Timer::kZeroKeyMaterial)) {
          timers_.arm(Timer::kZeroKeyMaterial, now.mono + timers_.settings().zero_key_material_after());
        }
        out.on_event(PeerEvent::kHandshakeGaveUp);
      } else {
        ++timers_.handshake_attempts;
        send_initiation(now, true, out);
      }
      break;
    case Timer::kSendKeepalive:
      send_keepalive(now, out);
      if (timers_.need_another_keepalive) {
        timers_.need_another_keepalive = false;
        timers_.arm(Timer::kSendKeepalive, now.mono + kKeepaliveTimeout);
      }
      break;
    case Timer::kNewHandshake: send_initiation(now, false, out); break;
    case Timer::kZeroKeyMaterial:
      reset_sessions();
      out.on_event(PeerEvent::kKeysZeroed);
      break;
    case Timer::kPersistentKeepalive: send_keepalive(now, out); break;
    case Timer::kCount: break;
  }
}

void PeerMachine::set_timer_settings(const TimerSettings& s) { timers_.set_settings(s); }

void PeerMachine::reset_sessions() {
  release(keypairs_.clear());
  handshake_.clear();
  release_handshake_index();
}

}  // namespace sitelink::handshake
