// The Noise IKpsk2 pattern itself (Noise spec rev. 34, sections 5 and 9),
// with prologue and payloads as parameters. WireGuard's handshake (noise.h)
// is this pattern with prologue "WireGuard v1 zx2c4 Jason@zx2c4.com", a
// TAI64N timestamp as the first payload and an empty second payload; keeping
// the pattern separate lets the published Noise test vectors check it.
//
//   IKpsk2:
//     <- s
//     ...
//     -> e, es, s, ss          (payload: timestamp)
//     <- e, ee, se, psk        (payload: empty)
//
// Every key the pattern derives is used for exactly one encryption, so the
// cipher nonce is always 0 and is not stored.
#pragma once

#include "handshake/base/bytes.h"
#include "handshake/base/secret.h"
#include "handshake/crypto.h"

namespace sitelink::handshake::noise_ik {

using Key = std::span<const uint8_t, kKeySize>;
using KeyOut = std::span<uint8_t, kKeySize>;

struct SymmetricState {
  Secret<kHashSize> chaining_key;  // ck
  Hash hash{};                     // h
  SymmetricKey key;                // k (always used with nonce 0)
};

// InitializeSymmetric(protocol_name), MixHash(prologue), MixHash(rs) for the
// "<- s" pre-message.
void initialize(SymmetricState& st, Bytes protocol_name, Bytes prologue, Key responder_static);

// The state after initialize() depends only on the responder's static key;
// WireGuard precomputes it.
void mix_hash(SymmetricState& st, Bytes data);
void mix_key(SymmetricState& st, Bytes input);
[[nodiscard]] bool mix_dh(SymmetricState& st, Key secret, Key peer_public);
void encrypt_and_hash(SymmetricState& st, MutableBytes out, Bytes plain);
[[nodiscard]] bool decrypt_and_hash(SymmetricState& st, MutableBytes out, Bytes sealed);

// Message 1, initiator side. Writes e.pub (32), the sealed static key (48)
// and the sealed payload (|payload| + 16). False only if a DH is all-zero.
struct Msg1Out {
  KeyOut ephemeral;
  std::span<uint8_t, kKeySize + kAeadTagSize> sealed_static;
  MutableBytes sealed_payload;
};
[[nodiscard]] bool write_msg1(SymmetricState& st, Key e_priv, Key s_priv, Key rs, Bytes payload, const Msg1Out& out);
// The same with the initiator's public key and the static-static secret
// DH(s_priv, rs) already computed (they do not change between handshakes
// with one peer, so a peer computes them once, as the kernel does).
[[nodiscard]] bool write_msg1_precomputed(SymmetricState& st, Key e_priv, Key s_pub, Key ss, Key rs, Bytes payload,
                                          const Msg1Out& out);

// Message 1, responder side: learns the initiator's static key and payload.
struct Msg1In {
  Key ephemeral;
  std::span<const uint8_t, kKeySize + kAeadTagSize> sealed_static;
  Bytes sealed_payload;
};
[[nodiscard]] bool read_msg1(SymmetricState& st, Key s_priv, const Msg1In& in, KeyOut initiator_static,
                             MutableBytes payload);
// read_msg1 in two halves, so that the responder learns who the initiator
// claims to be (e, es, s: one DH) before it spends the static-static DH on
// it: a stranger's initiation then costs one X25519, and a known peer's
// static-static secret is computed once and kept.
[[nodiscard]] bool read_msg1_static(SymmetricState& st, Key s_priv, const Msg1In& in, KeyOut initiator_static);
[[nodiscard]] bool read_msg1_payload(SymmetricState& st, Key ss, Bytes sealed_payload, MutableBytes payload);

// Message 2, responder side.
[[nodiscard]] bool write_msg2(SymmetricState& st, Key e_priv, Key re, Key rs, Key psk, Bytes payload, KeyOut ephemeral,
                              MutableBytes sealed_payload);
// Message 2, initiator side.
[[nodiscard]] bool read_msg2(SymmetricState& st, Key e_priv, Key s_priv, Key re, Key psk, Bytes sealed_payload,
                             MutableBytes payload);

// Split(): the two transport keys; the initiator sends with `first`.
void split(const SymmetricState& st, KeyOut first, KeyOut second);

}  // namespace sitelink::handshake::noise_ik
