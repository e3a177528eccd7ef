// The Noise IKpsk2 pattern; see noise_ik.h. Each token is marked with its
// name from the pattern.
#include "handshake/noise_ik.h"

namespace sitelink::handshake::noise_ik {

void initialize(SymmetricState& st, Bytes protocol_name, Bytes prologue, Key responder_static) {
  // A name longer than HASHLEN is hashed; WireGuard's (37 bytes) always is.
  if (protocol_name.size() <= kHashSize) {
    st.hash.fill(0);
    std::copy(protocol_name.begin(), protocol_name.end(), st.hash.begin());
  } else {
    st.hash = hash({protocol_name});
  }
  std::copy(st.hash.begin(), st.hash.end(), st.chaining_key.data());
  st.key.clear();
  mix_hash(st, prologue);
  mix_hash(st, responder_static);  // <- s
}

void mix_hash(SymmetricState& st, Bytes data) { st.hash = hash({st.hash, data}); }

void mix_key(SymmetricState& st, Bytes input) {
  kdf2(st.chaining_key.span(), st.key.span(), st.chaining_key.span(), input);
}

bool mix_dh(SymmetricState& st, Key secret, Key peer_public) {
  Secret<kKeySize> shared;
  if (!x25519(shared.span(), secret, peer_public)) return false;
  mix_key(st, shared.span());
  return true;
}

void encrypt_and_hash(SymmetricState& st, MutableBytes out, Bytes plain) {
  aead_seal(out, st.key.span(), 0, plain, st.hash);
  mix_hash(st, out);
}

bool decrypt_and_hash(SymmetricState& st, MutableBytes out, Bytes sealed) {
  if (!aead_open(out, st.key.span(), 0, sealed, st.hash)) return false;
  mix_hash(st, sealed);
  return true;
}

namespace {

// "e" in a PSK handshake: MixHash(e.pub) and MixKey(e.pub).
void mix_ephemeral(SymmetricState& st, Key e_pub) {
  mix_hash(st, e_pub);
  mix_key(st, e_pub);
}

}  // namespace

bool write_msg1(SymmetricState& st, Key e_priv, Key s_priv, Key rs, Bytes payload, const Msg1Out& out) {
  std::array<uint8_t, kKeySize> s_pub;
  x25519_base(s_pub, s_priv);
  Secret<kKeySize> ss;
  if (!x25519(ss.span(), s_priv, rs)) return false;
  return write_msg1_precomputed(st, e_priv, s_pub, ss.span(), rs, payload, out);
}

bool write_msg1_precomputed(SymmetricState& st, Key e_priv, Key s_pub, Key ss, Key rs, Bytes payload,
                            const Msg1Out& out) {
  x25519_base(out.ephemeral, e_priv);
  mix_ephemeral(st, out.ephemeral);                // e
  if (!mix_dh(st, e_priv, rs)) return false;       // es
  encrypt_and_hash(st, out.sealed_static, s_pub);  // s
  mix_key(st, ss);                                 // ss
  encrypt_and_hash(st, out.sealed_payload, payload);
  return true;
}

bool read_msg1(SymmetricState& st, Key s_priv, const Msg1In& in, KeyOut initiator_static, MutableBytes payload) {
  if (!read_msg1_static(st, s_priv, in, initiator_static)) return false;
  Secret<kKeySize> ss;
  if (!x25519(ss.span(), s_priv, initiator_static)) return false;
  return read_msg1_payload(st, ss.span(), in.sealed_payload, payload);
}

bool read_msg1_static(SymmetricState& st, Key s_priv, const Msg1In& in, KeyOut initiator_static) {
  mix_ephemeral(st, in.ephemeral);                                  // e
  if (!mix_dh(st, s_priv, in.ephemeral)) return false;              // es
  return decrypt_and_hash(st, initiator_static, in.sealed_static);  // s
}

bool read_msg1_payload(SymmetricState& st, Key ss, Bytes sealed_payload, MutableBytes payload) {
  mix_key(st, ss);                                       // ss
  return decrypt_and_hash(st, payload, sealed_payload);  // {t}
}

namespace {

// "psk": MixKeyAndHash(psk), i.e. the paper's C, T, k = KDF3(C, Q); H = HASH(H || T).
void mix_key_and_hash(SymmetricState& st, Key psk) {
  Secret<kHashSize> temp_h;
  kdf3(st.chaining_key.span(), temp_h.span(), st.key.span(), st.chaining_key.span(), psk);
  mix_hash(st, temp_h.span());
}

}  // namespace

bool write_msg2(SymmetricState& st, Key e_priv, Key re, Key rs, Key psk, Bytes payload, KeyOut ephemeral,
                MutableBytes sealed_payload) {
  x25519_base(ephemeral, e_priv);
  mix_ephemeral(st, ephemeral);               // e
  if (!mix_dh(st, e_priv, re)) return false;  // ee
  if (!mix_dh(st, e_priv, rs)) return false;  // se
  mix_key_and_hash(st, psk);                  // psk
  encrypt_and_hash(st, sealed_payload, payload);
  return true;
}

bool read_msg2(SymmetricState& st, Key e_priv, Key s_priv, Key re, Key psk, Bytes sealed_payload,
               MutableBytes payload) {
  mix_ephemeral(st, re);                      // e
  if (!mix_dh(st, e_priv, re)) return false;  // ee
  if (!mix_dh(st, s_priv, re)) return false;  // se
  mix_key_and_hash(st, psk);                  // psk
  return decrypt_and_hash(st, payload, sealed_payload);
}

void split(const SymmetricState& st, KeyOut first, KeyOut second) {
  kdf2(first, second, st.chaining_key.span(), Bytes{});
}

}  // namespace sitelink::handshake::noise_ik
