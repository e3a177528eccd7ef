// The Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s test vector (cacophony) run
// through handshake/noise_ik.h: both sides of the two handshake messages,
// the final handshake hash, Split() and four transport messages. See the
// header of tests/data/vectors/noise_ikpsk2.txt for the conventions.
#include "handshake/noise_ik.h"

#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <string>
#include <vector>

#include "handshake/constants.h"
#include "handshake/noise.h"
#include "support/test_support.h"

namespace sitelink::handshake {
namespace {

using test::hex;
using test::unhex;

using Key32 = std::array<uint8_t, kKeySize>;

Key32 key32(const std::vector<uint8_t>& v) {
  if (v.size() != kKeySize) throw std::invalid_argument("not a 32-byte key");
  Key32 k;
  std::copy(v.begin(), v.end(), k.begin());
  return k;
}

Bytes as_bytes(const char* s) { return Bytes(reinterpret_cast<const uint8_t*>(s), std::strlen(s)); }

// The vector, parsed once.
struct Vector {
  test::VectorCase c;
  std::vector<uint8_t> get(const std::string& key) const { return unhex(c.at(key)); }
  Key32 key(const std::string& name) const { return key32(get(name)); }
  std::string want(const std::string& key) const { return hex(unhex(c.at(key))); }

  static Vector load() {
    const auto cases = test::read_vectors("vectors/noise_ikpsk2.txt");
    if (cases.size() != 1) throw std::runtime_error("noise_ikpsk2.txt must hold exactly one case");
    return Vector{cases[0]};
  }
};

// Both parties' state through a full handshake, with every intermediate
// output kept so individual tests can check it.
struct VectorRun {
  noise_ik::SymmetricState init, resp;
  Key32 resp_static_pub{};
  std::vector<uint8_t> msg1;         // e.pub || sealed static || sealed payload
  std::vector<uint8_t> msg2;         // e.pub || sealed payload
  Key32 learned_initiator_static{};  // what the responder decrypted
  std::vector<uint8_t> msg1_payload_read, msg2_payload_read;
  Hash init_h_after_msg1{}, resp_h_after_msg1{};
  bool wrote1 = false, read1 = false, wrote2 = false, read2 = false;

  // `clamp` runs the handshake with x25519_clamp()ed copies of the private
  // keys instead of the raw vector bytes.
  explicit VectorRun(const Vector& v, bool clamp = false) {
    Key32 i_s = v.key("init_static"), i_e = v.key("init_ephemeral");
    Key32 r_s = v.key("resp_static"), r_e = v.key("resp_ephemeral");
    if (clamp) {
      for (Key32* k : {&i_s, &i_e, &r_s, &r_e}) x25519_clamp(*k);
    }
    const Key32 psk_i = v.key("init_psks"), psk_r = v.key("resp_psks");
    const auto protocol = v.get("protocol_name");

    // "<- s": both sides start from the responder's static public key. The
    // initiator is given it (init_remote_static); the responder derives it.
    x25519_base(resp_static_pub, r_s);
    noise_ik::initialize(init, protocol, v.get("init_prologue"), v.key("init_remote_static"));
    noise_ik::initialize(resp, protocol, v.get("resp_prologue"), resp_static_pub);

    // -> e, es, s, ss, {payload}
    const auto p1 = v.get("msg1_payload");
    msg1.assign(kKeySize + kKeySize + kAeadTagSize + p1.size() + kAeadTagSize, 0);
    MutableBytes m1(msg1);
    const noise_ik::Msg1Out out1{m1.first<kKeySize>(), m1.subspan<kKeySize, kKeySize + kAeadTagSize>(),
                                 m1.subspan(2 * kKeySize + kAeadTagSize)};
    wrote1 = noise_ik::write_msg1(init, i_e, i_s, v.key("init_remote_static"), p1, out1);
    init_h_after_msg1 = init.hash;

    const Bytes in1(msg1);
    const noise_ik::Msg1In msg1_in{in1.first<kKeySize>(), in1.subspan<kKeySize, kKeySize + kAeadTagSize>(),
                                   in1.subspan(2 * kKeySize + kAeadTagSize)};
    msg1_payload_read.assign(p1.size(), 0xaa);
    read1 = noise_ik::read_msg1(resp, r_s, msg1_in, learned_initiator_static, msg1_payload_read);
    resp_h_after_msg1 = resp.hash;

    // <- e, ee, se, psk, {payload}
    const auto p2 = v.get("msg2_payload");
    msg2.assign(kKeySize + p2.size() + kAeadTagSize, 0);
    MutableBytes m2(msg2);
    wrote2 = noise_ik::write_msg2(resp, r_e, msg1_in.ephemeral, learned_initiator_static, psk_r, p2,
                                  m2.first<kKeySize>(), m2.subspan(kKeySize));
    const Bytes in2(msg2);
    msg2_payload_read.assign(p2.size(), 0xaa);
    read2 = noise_ik::read_msg2(init, i_e, i_s, in2.first<kKeySize>(), psk_i, in2.subspan(kKeySize), msg2_payload_read);
  }
};

TEST(NoiseIkpsk2Vector, ProtocolNameAndDerivedPublicKeys) {
  const Vector v = Vector::load();
  // The vector's protocol is WireGuard's construction.
  EXPECT_EQ(v.want("protocol_name"), hex(as_bytes(kConstruction)));
  for (const auto& [priv, pub] :
       {std::pair{"init_static", "init_static_public"}, std::pair{"init_ephemeral", "init_ephemeral_public"},
        std::pair{"resp_static", "resp_static_public"}, std::pair{"resp_ephemeral", "resp_ephemeral_public"}}) {
    SCOPED_TRACE(priv);
    Key32 out{};
    x25519_base(out, v.key(priv));
    EXPECT_EQ(hex(out), v.want(pub));
  }
  EXPECT_EQ(v.want("init_remote_static"), v.want("resp_static_public"));
}

TEST(NoiseIkpsk2Vector, Message1) {
  const Vector v = Vector::load();
  const VectorRun r(v);
  ASSERT_TRUE(r.wrote1);
  EXPECT_EQ(hex(r.msg1), v.want("msg1_ciphertext"));
  EXPECT_EQ(hex(r.init_h_after_msg1), v.want("h_after_msg1"));

  ASSERT_TRUE(r.read1);
  EXPECT_EQ(hex(r.learned_initiator_static), v.want("init_static_public"));
  EXPECT_EQ(hex(r.msg1_payload_read), v.want("msg1_payload"));
  EXPECT_EQ(hex(r.resp_h_after_msg1), v.want("h_after_msg1"));
}

TEST(NoiseIkpsk2Vector, Message2AndHandshakeHash) {
  const Vector v = Vector::load();
  const VectorRun r(v);
  ASSERT_TRUE(r.wrote1 && r.read1);
  ASSERT_TRUE(r.wrote2);
  EXPECT_EQ(hex(r.msg2), v.want("msg2_ciphertext"));
  ASSERT_TRUE(r.read2);
  EXPECT_EQ(hex(r.msg2_payload_read), v.want("msg2_payload"));

  EXPECT_EQ(hex(r.init.hash), v.want("handshake_hash"));
  EXPECT_EQ(hex(r.resp.hash), v.want("handshake_hash"));
  EXPECT_EQ(hex(r.init.chaining_key.span()), hex(r.resp.chaining_key.span()));
  EXPECT_FALSE(ct_is_zero(r.init.chaining_key.span()));
}

TEST(NoiseIkpsk2Vector, TransportMessages) {
  const Vector v = Vector::load();
  const VectorRun r(v);
  ASSERT_TRUE(r.wrote1 && r.read1 && r.wrote2 && r.read2);

  Key32 i_send{}, i_recv{}, r_recv{}, r_send{};
  noise_ik::split(r.init, i_send, i_recv);
  noise_ik::split(r.resp, r_recv, r_send);  // the initiator sends with `first`
  EXPECT_EQ(hex(i_send), hex(r_recv));
  EXPECT_EQ(hex(i_recv), hex(r_send));
  EXPECT_NE(hex(i_send), hex(i_recv));

  // Messages 3..6 alternate initiator -> responder and back; each direction
  // counts its nonces from 0; the AD is empty.
  uint64_t i_nonce = 0, r_nonce = 0;
  for (int m = 3; m <= 6; ++m) {
    SCOPED_TRACE("message " + std::to_string(m));
    const bool from_initiator = (m % 2) == 1;
    const auto payload = v.get("msg" + std::to_string(m) + "_payload");
    const std::string want = v.want("msg" + std::to_string(m) + "_ciphertext");
    const Key32& send = from_initiator ? i_send : r_send;
    const Key32& recv = from_initiator ? r_recv : i_recv;
    uint64_t& nonce = from_initiator ? i_nonce : r_nonce;

    std::vector<uint8_t> sealed(payload.size() + kAeadTagSize);
    aead_seal(sealed, send, nonce, payload, Bytes{});
    EXPECT_EQ(hex(sealed), want);

    std::vector<uint8_t> opened(payload.size(), 0xaa);
    ASSERT_TRUE(aead_open(opened, recv, nonce, unhex(want), Bytes{}));
    EXPECT_EQ(hex(opened), hex(payload));
    // The wrong direction's key does not open it.
    std::vector<uint8_t> wrong(payload.size());
    EXPECT_FALSE(aead_open(wrong, from_initiator ? r_send : i_send, nonce, unhex(want), Bytes{}));
    ++nonce;
  }
  EXPECT_EQ(i_nonce, 2u);
  EXPECT_EQ(r_nonce, 2u);
}

TEST(NoiseIkpsk2Vector, RawAndClampedPrivateKeysAgree) {
  // The vector's private keys are raw 32-byte strings, not clamped (e.g.
  // init_static starts with 0xe6, whose low three bits are not zero). The
  // Noise DH function is RFC 7748 X25519, which clamps the scalar itself, and
  // libsodium's crypto_scalarmult does so internally; so noise_ik can be fed
  // the raw bytes (as above) and clamping a copy first changes nothing.
  const Vector v = Vector::load();
  ASSERT_NE(v.get("init_static")[0] & 7, 0);  // the raw key really is unclamped
  const VectorRun raw(v, false);
  const VectorRun clamped(v, true);
  ASSERT_TRUE(clamped.wrote1 && clamped.read1 && clamped.wrote2 && clamped.read2);
  EXPECT_EQ(hex(clamped.msg1), v.want("msg1_ciphertext"));
  EXPECT_EQ(hex(clamped.msg2), v.want("msg2_ciphertext"));
  EXPECT_EQ(hex(clamped.init.hash), hex(raw.init.hash));
  EXPECT_EQ(hex(clamped.init.chaining_key.span()), hex(raw.init.chaining_key.span()));
}

TEST(NoiseIkpsk2Vector, WrongPskFailsMessage2) {
  const Vector v = Vector::load();
  const VectorRun r(v);
  ASSERT_TRUE(r.wrote2);
  // Replay message 2 against the initiator's state after message 1, with a
  // psk that differs in one bit: decryption of the payload must fail.
  noise_ik::SymmetricState init;
  noise_ik::initialize(init, v.get("protocol_name"), v.get("init_prologue"), v.key("init_remote_static"));
  std::vector<uint8_t> msg1(r.msg1.size());
  MutableBytes m1(msg1);
  const noise_ik::Msg1Out out1{m1.first<kKeySize>(), m1.subspan<kKeySize, kKeySize + kAeadTagSize>(),
                               m1.subspan(2 * kKeySize + kAeadTagSize)};
  ASSERT_TRUE(noise_ik::write_msg1(init, v.key("init_ephemeral"), v.key("init_static"), v.key("init_remote_static"),
                                   v.get("msg1_payload"), out1));
  Key32 psk = v.key("init_psks");
  psk[31] ^= 0x01;
  const Bytes in2(r.msg2);
  std::vector<uint8_t> payload(v.get("msg2_payload").size(), 0xaa);
  EXPECT_FALSE(noise_ik::read_msg2(init, v.key("init_ephemeral"), v.key("init_static"), in2.first<kKeySize>(), psk,
                                   in2.subspan(kKeySize), payload));
  EXPECT_TRUE(ct_is_zero(payload));
}

TEST(NoiseIkpsk2Vector, TamperedMessage1IsRejected) {
  const Vector v = Vector::load();
  const VectorRun r(v);
  // Flip one bit in each of the three parts of message 1 in turn.
  for (size_t pos : {size_t{0}, size_t{kKeySize + 5}, r.msg1.size() - 1}) {
    SCOPED_TRACE("byte " + std::to_string(pos));
    std::vector<uint8_t> msg1 = r.msg1;
    msg1[pos] ^= 0x01;
    noise_ik::SymmetricState resp;
    noise_ik::initialize(resp, v.get("protocol_name"), v.get("resp_prologue"), r.resp_static_pub);
    const Bytes in1(msg1);
    const noise_ik::Msg1In in{in1.first<kKeySize>(), in1.subspan<kKeySize, kKeySize + kAeadTagSize>(),
                              in1.subspan(2 * kKeySize + kAeadTagSize)};
    Key32 learned{};
    std::vector<uint8_t> payload(v.get("msg1_payload").size());
    EXPECT_FALSE(noise_ik::read_msg1(resp, v.key("resp_static"), in, learned, payload));
  }
}

TEST(NoiseIkpsk2Vector, WireguardInitialStateMatchesConstants) {
  // WireGuard's handshake is this pattern with its own prologue: after
  // initialize(), ck = Ci and h = HASH(Hi || S_pub_r), with Ci and Hi from
  // wireguard_constants.txt. LocalIdentity precomputes exactly that state.
  const auto cc = test::read_vectors("vectors/wireguard_constants.txt").at(0);
  const Vector v = Vector::load();
  const Key32 rs = v.key("resp_static_public");
  noise_ik::SymmetricState st;
  noise_ik::initialize(st, as_bytes(kConstruction), as_bytes(kIdentifier), rs);
  EXPECT_EQ(hex(st.chaining_key.span()), hex(unhex(cc.at("ci"))));
  EXPECT_EQ(hex(st.hash), hex(hash({unhex(cc.at("hi")), rs})));
  EXPECT_TRUE(ct_is_zero(st.key.span()));

  const LocalIdentity id{PrivateKey(v.key("resp_static"))};
  EXPECT_EQ(hex(id.public_key().bytes()), hex(rs));
  EXPECT_EQ(hex(id.responder_start().chaining_key.span()), hex(unhex(cc.at("ci"))));
  EXPECT_EQ(hex(id.responder_start().hash), hex(hash({unhex(cc.at("hi")), rs})));
}

}  // namespace
}  // namespace sitelink::handshake
