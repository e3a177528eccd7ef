// mac1, mac2 and cookie replies (paper 5.4.4 and 5.4.7): WireGuard's defence
// against handshake floods.
//
// Every handshake message carries mac1 = MAC(HASH("mac1----" || S_receiver),
// msg[..mac1]), which proves the sender knows the receiver's public key. When
// the responder is under load it also demands mac2 = MAC(cookie,
// msg[..mac2]), where the cookie is MAC(R, source address) for a secret R
// rotated every two minutes; a sender without a valid cookie gets a cookie
// reply (the cookie sealed with XChaCha20-Poly1305 under a key derived from
// the responder's public key, with the message's mac1 as associated data)
// instead of a handshake. Proving address ownership this way costs the
// responder no DH.
//
// CookieChecker is the receiving side, one per interface. CookieGenerator is
// the sending side, one per peer (keyed by that peer's public key).
#pragma once

#include <array>
#include <optional>

#include "handshake/base/bytes.h"
#include "handshake/base/secret.h"
#include "handshake/base/time.h"
#include "handshake/crypto.h"
#include "handshake/keys.h"
#include "handshake/messages.h"

namespace sitelink::handshake {

class CookieChecker {
 public:
  explicit CookieChecker(const PublicKey& local_public);

  // `msg` is a whole initiation or response. mac1 is checked on every
  // handshake message; mac2 only when under load.
  [[nodiscard]] bool check_mac1(Bytes msg) const;
  // `source` identifies the sender's address and port (any stable byte
  // encoding of them); a valid mac2 proves the sender receives at it.
  [[nodiscard]] bool check_mac2(Bytes msg, Bytes source, Instant now, Rng& rng);

  // Writes the cookie reply (64 bytes) for `msg`, to be sent back to `source`.
  void create_reply(std::span<uint8_t, cookie_reply::kSize> out, Bytes msg, Bytes source, Instant now, Rng& rng);

 private:
  Mac cookie_for(Bytes source, Instant now, Rng& rng);

  SymmetricKey mac1_key_;
  SymmetricKey cookie_key_;
  Secret<kKeySize> secret_;
  std::optional<Instant> secret_birth_;
};

class CookieGenerator {
 public:
  explicit CookieGenerator(const PublicKey& remote_public);

  // Fills mac1, and mac2 if a fresh cookie from the remote is held, in a
  // whole initiation or response about to be sent.
  void add_macs(MutableBytes msg, Instant now);

  // Takes the cookie from a reply to the last message we sent. Refused if we
  // have sent nothing it could answer, or if it does not decrypt.
  [[nodiscard]] bool consume_reply(const CookieReplyMsg& reply, Instant now);

  bool has_fresh_cookie(Instant now) const;

 private:
  SymmetricKey mac1_key_;
  SymmetricKey cookie_key_;
  Secret<kMacSize> cookie_;
  std::optional<Instant> cookie_birth_;
  Mac last_mac1_sent_{};
  bool have_sent_mac1_ = false;
};

}  // namespace sitelink::handshake
