// Key types and their base64 text form (handshake/keys.h), checked against
// RFC 7748 and against the real `wg` tool.
#include "handshake/keys.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <string>
#include <vector>

#include "support/test_support.h"

namespace sitelink::handshake {
namespace {

using test::hex;
using test::unhex;

std::array<uint8_t, 32> raw32(const std::string& h) {
  const auto v = unhex(h);
  if (v.size() != 32) throw std::invalid_argument("not 32 bytes: " + h);
  std::array<uint8_t, 32> out;
  std::copy(v.begin(), v.end(), out.begin());
  return out;
}

std::array<uint8_t, 32> pattern(uint8_t start, uint8_t step) {
  std::array<uint8_t, 32> b;
  for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<uint8_t>(start + i * step);
  return b;
}

// Every way a 44-character key text can be wrong, derived from a valid one.
std::vector<std::pair<std::string, std::string>> invalid_texts(const std::string& good) {
  std::vector<std::pair<std::string, std::string>> bad;
  bad.emplace_back("empty", "");
  bad.emplace_back("43 chars (padding dropped)", good.substr(0, 43));
  bad.emplace_back("45 chars (extra '=')", good + "=");
  bad.emplace_back("45 chars (extra 'A')", good + "A");
  bad.emplace_back("42 chars", good.substr(0, 42));
  bad.emplace_back("88 chars (two keys)", good + good);
  // 44 characters that are valid base64 but not of exactly 32 bytes.
  bad.emplace_back("44 chars, no padding (33 bytes)", good.substr(0, 43) + "A");
  bad.emplace_back("44 chars, '==' padding (31 bytes)", good.substr(0, 42) + "==");
  bad.emplace_back("44 chars, all padding", std::string(44, '='));
  // Invalid characters.
  for (char c : {'!', '*', '.', '-', '_', '\0', '\n', ' ', '\t', '~', '\x7f'}) {
    std::string s = good;
    s[10] = c;
    bad.emplace_back("invalid char " + std::to_string(static_cast<int>(static_cast<unsigned char>(c))), s);
  }
  std::string first = good;
  first[0] = '#';
  bad.emplace_back("invalid first char", first);
  // '=' in the middle.
  std::string mid_pad = good;
  mid_pad[20] = '=';
  bad.emplace_back("'=' inside", mid_pad);
  // Embedded whitespace (still 44 characters).
  bad.emplace_back("leading space", " " + good.substr(0, 43));
  bad.emplace_back("trailing newline", good.substr(0, 43) + "\n");
  bad.emplace_back("space inside", good.substr(0, 20) + " " + good.substr(21));
  // Whitespace around an otherwise valid key (45+ characters).
  bad.emplace_back("valid key + newline", good + "\n");
  bad.emplace_back("space + valid key", " " + good);
  return bad;
}

TEST(KeysBase64, PublicKeyRoundTrip) {
  test::SeededRng rng(3);
  for (int i = 0; i < 20; ++i) {
    std::array<uint8_t, 32> b;
    rng.fill(b);
    const PublicKey k(b);
    const std::string text = k.to_base64();
    ASSERT_EQ(text.size(), kKeyBase64Length);
    EXPECT_EQ(text.back(), '=');
    const auto back = PublicKey::from_base64(text);
    ASSERT_TRUE(back.has_value()) << text;
    EXPECT_EQ(*back, k);
    EXPECT_EQ(hex(back->bytes()), hex(b));
  }
}

TEST(KeysBase64, KnownEncodings) {
  // Hand-checkable encodings: 32 zero bytes and 32 0xff bytes.
  const std::array<uint8_t, 32> zero{};
  std::array<uint8_t, 32> ones;
  ones.fill(0xff);
  EXPECT_EQ(PublicKey(zero).to_base64(), std::string(43, 'A') + "=");
  EXPECT_EQ(PublicKey(ones).to_base64(), std::string(42, '/') + "8=");
  EXPECT_EQ(key_to_base64(ones), std::string(42, '/') + "8=");
  std::array<uint8_t, 32> out{};
  ASSERT_TRUE(key_from_base64(std::string(42, '/') + "8=", out));
  EXPECT_EQ(hex(out), hex(ones));
}

TEST(KeysBase64, PresharedKeyRoundTripIsUnclamped) {
  test::SeededRng rng(4);
  for (int i = 0; i < 20; ++i) {
    const PresharedKey k = PresharedKey::generate(rng);
    EXPECT_FALSE(k.is_zero());
    const auto back = PresharedKey::from_base64(k.to_base64());
    ASSERT_TRUE(back.has_value());
    EXPECT_TRUE(*back == k);
  }
  // A pre-shared key is not an X25519 scalar: bytes come back exactly.
  std::array<uint8_t, 32> ones;
  ones.fill(0xff);
  const auto psk = PresharedKey::from_base64(PresharedKey(ones).to_base64());
  ASSERT_TRUE(psk.has_value());
  EXPECT_EQ(hex(psk->bytes()), hex(ones));
  EXPECT_TRUE(PresharedKey().is_zero());
  EXPECT_FALSE(*psk == PresharedKey());
}

TEST(KeysBase64, PrivateKeyClampsAndRoundTrips) {
  std::array<uint8_t, 32> ones;
  ones.fill(0xff);
  const PrivateKey k(ones);
  EXPECT_EQ(k.bytes()[0] & 0x07, 0);
  EXPECT_EQ(k.bytes()[31] & 0x80, 0);
  EXPECT_EQ(k.bytes()[31] & 0x40, 0x40);
  for (size_t i = 1; i < 31; ++i) EXPECT_EQ(k.bytes()[i], 0xff) << i;
  EXPECT_EQ(k.bytes()[0], 0xf8);
  EXPECT_EQ(k.bytes()[31], 0x7f);

  const std::array<uint8_t, 32> zero{};
  const PrivateKey z(zero);
  EXPECT_EQ(z.bytes()[31], 0x40);  // bit 6 is set even from all zeros
  EXPECT_FALSE(z.is_zero());
  EXPECT_TRUE(PrivateKey().is_zero());

  // Parsing clamps too: the text of unclamped bytes parses to the clamped key.
  const auto parsed = PrivateKey::from_base64(key_to_base64(ones));
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(hex(parsed->bytes()), hex(k.bytes()));

  // Clamped keys are stable through base64.
  test::SeededRng rng(5);
  for (int i = 0; i < 20; ++i) {
    const PrivateKey g = PrivateKey::generate(rng);
    EXPECT_EQ(g.bytes()[0] & 0x07, 0);
    EXPECT_EQ(g.bytes()[31] & 0xc0, 0x40);
    const std::string text = g.to_base64();
    const auto back = PrivateKey::from_base64(text);
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(hex(back->bytes()), hex(g.bytes()));
    EXPECT_EQ(back->to_base64(), text);
    EXPECT_EQ(back->public_key(), g.public_key());
  }
}

TEST(KeysBase64, GenerateUsesTheRng) {
  test::SeededRng a(6), b(6), c(7);
  const PrivateKey ka = PrivateKey::generate(a);
  const PrivateKey kb = PrivateKey::generate(b);
  const PrivateKey kc = PrivateKey::generate(c);
  EXPECT_EQ(hex(ka.bytes()), hex(kb.bytes()));
  EXPECT_NE(hex(ka.bytes()), hex(kc.bytes()));
}

TEST(KeysBase64, RejectsMalformedText) {
  std::array<uint8_t, 32> b = pattern(0x11, 37);
  const std::string good = key_to_base64(b);
  ASSERT_EQ(good.size(), 44u);
  ASSERT_TRUE(PublicKey::from_base64(good).has_value());
  for (const auto& [what, text] : invalid_texts(good)) {
    SCOPED_TRACE(what);
    std::array<uint8_t, 32> out{};
    EXPECT_FALSE(key_from_base64(text, out));
    EXPECT_FALSE(PublicKey::from_base64(text).has_value());
    EXPECT_FALSE(PrivateKey::from_base64(text).has_value());
    EXPECT_FALSE(PresharedKey::from_base64(text).has_value());
  }
}

TEST(KeysBase64, RejectsNonAsciiBytes) {
  // No byte >= 0x80 is a base64 character, wherever it appears. (libsodium
  // 1.0.18's decoder, used with a signed `char`, maps all of them to a digit.)
  const std::string good = key_to_base64(pattern(0x11, 37));
  int accepted = 0;
  std::string first;
  for (size_t pos : {size_t{0}, size_t{10}, size_t{41}, size_t{42}}) {
    for (int c = 0x80; c <= 0xff; ++c) {
      std::string text = good;
      text[pos] = static_cast<char>(c);
      std::array<uint8_t, 32> out{};
      if (key_from_base64(text, out) || PublicKey::from_base64(text) || PrivateKey::from_base64(text) ||
          PresharedKey::from_base64(text)) {
        if (accepted++ == 0) first = "byte " + std::to_string(c) + " at " + std::to_string(pos);
      }
    }
  }
  EXPECT_EQ(accepted, 0) << "first accepted: " << first;
}

TEST(KeysBase64, RejectsUrlSafeAlphabet) {
  // 32 bytes of 0xff encode as "///...8=" and 0xfb 0xef 0xbe as "++++": the
  // URL-safe forms ('_' and '-') are a different alphabet, which wg rejects.
  std::array<uint8_t, 32> ones;
  ones.fill(0xff);
  std::array<uint8_t, 32> pluses;
  for (size_t i = 0; i < pluses.size(); ++i) pluses[i] = std::array<uint8_t, 3>{0xfb, 0xef, 0xbe}[i % 3];
  for (const auto& key : {ones, pluses}) {
    std::string text = key_to_base64(key);
    ASSERT_NE(text.find_first_of("+/"), std::string::npos) << text;
    ASSERT_TRUE(PublicKey::from_base64(text).has_value());
    for (char& ch : text) {
      if (ch == '+') ch = '-';
      if (ch == '/') ch = '_';
    }
    SCOPED_TRACE(text);
    EXPECT_FALSE(PublicKey::from_base64(text).has_value());
    EXPECT_FALSE(PrivateKey::from_base64(text).has_value());
    EXPECT_FALSE(PresharedKey::from_base64(text).has_value());
  }
}

TEST(KeysBase64, RejectsNonCanonicalTrailingBits) {
  // The 43rd character carries 4 data bits and 2 padding bits; like wg, only
  // the canonical form (padding bits zero) is a key. 'A' + 1 = 'B' sets the
  // lowest padding bit.
  const std::array<uint8_t, 32> zero{};
  std::string text = key_to_base64(zero);
  ASSERT_EQ(text[42], 'A');
  text[42] = 'B';
  EXPECT_FALSE(PublicKey::from_base64(text).has_value()) << text;
}

TEST(KeysX25519, PublicKeyOfRfc7748Alice) {
  const auto cases = test::read_vectors("vectors/x25519.txt");
  const auto& c = cases.at(2);
  const PrivateKey alice(raw32(c.at("alice_private")));
  EXPECT_EQ(hex(alice.public_key().bytes()), c.at("alice_public"));
  const PrivateKey bob(raw32(c.at("bob_private")));
  EXPECT_EQ(hex(bob.public_key().bytes()), c.at("bob_public"));
  // Through the text form as well.
  const auto parsed = PrivateKey::from_base64(key_to_base64(raw32(c.at("alice_private"))));
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->public_key().to_base64(), key_to_base64(raw32(c.at("alice_public"))));
}

// --- Interop with wireguard-tools ------------------------------------------------

constexpr const char* kWg = "/usr/bin/wg";

// Runs a shell command, returning its stdout without the trailing newline;
// fails the test if it exits non-zero.
std::string run(const std::string& cmd) {
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) {
    ADD_FAILURE() << "popen failed: " << cmd;
    return {};
  }
  std::string out;
  char buf[256];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int status = pclose(p);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << cmd << " -> status " << status;
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

// Key texts are base64 (no quotes or shell metacharacters), so single quotes
// are safe.
std::string wg_pubkey(const std::string& private_text) {
  return run("printf '%s\\n' '" + private_text + "' | " + kWg + " pubkey");
}

#define SKIP_WITHOUT_WG() \
  if (access(kWg, X_OK) != 0) GTEST_SKIP() << kWg << " not installed; skipping interop test"

TEST(KeysWgInterop, OurPublicKeyOfWgGenkey) {
  SKIP_WITHOUT_WG();
  for (int i = 0; i < 5; ++i) {
    const std::string priv = run(std::string(kWg) + " genkey");
    ASSERT_EQ(priv.size(), kKeyBase64Length) << priv;
    const std::string pub = wg_pubkey(priv);
    ASSERT_EQ(pub.size(), kKeyBase64Length) << pub;
    const auto ours = PrivateKey::from_base64(priv);
    ASSERT_TRUE(ours.has_value()) << priv;
    // wg genkey writes clamped keys, so the text round-trips exactly.
    EXPECT_EQ(ours->to_base64(), priv);
    EXPECT_EQ(ours->public_key().to_base64(), pub) << priv;
    const auto parsed_pub = PublicKey::from_base64(pub);
    ASSERT_TRUE(parsed_pub.has_value());
    EXPECT_EQ(*parsed_pub, ours->public_key());
  }
}

TEST(KeysWgInterop, WgPubkeyOfOurGeneratedKey) {
  SKIP_WITHOUT_WG();
  SodiumRng rng;
  for (int i = 0; i < 5; ++i) {
    const PrivateKey k = PrivateKey::generate(rng);
    EXPECT_EQ(wg_pubkey(k.to_base64()), k.public_key().to_base64());
  }
}

TEST(KeysWgInterop, UnclampedKeyTextAgreesWithWg) {
  // wg also accepts a key whose bits are not clamped and clamps it itself;
  // so do we, and the public keys agree.
  SKIP_WITHOUT_WG();
  test::SeededRng rng(8);
  for (int i = 0; i < 3; ++i) {
    std::array<uint8_t, 32> raw;
    rng.fill(raw);
    raw[0] |= 0x07;
    raw[31] = static_cast<uint8_t>((raw[31] | 0x80) & ~0x40);
    const std::string text = key_to_base64(raw);
    const auto ours = PrivateKey::from_base64(text);
    ASSERT_TRUE(ours.has_value());
    EXPECT_EQ(wg_pubkey(text), ours->public_key().to_base64()) << text;
  }
}

TEST(KeysWgInterop, WgGenpskParses) {
  SKIP_WITHOUT_WG();
  const std::string text = run(std::string(kWg) + " genpsk");
  const auto psk = PresharedKey::from_base64(text);
  ASSERT_TRUE(psk.has_value()) << text;
  EXPECT_EQ(psk->to_base64(), text);
  EXPECT_FALSE(psk->is_zero());
}

TEST(KeysWgInterop, WgRejectsWhatWeReject) {
  // Our parser and wg's agree on malformed text: wg pubkey must fail on each
  // input we reject (checked for a few representative ones).
  SKIP_WITHOUT_WG();
  const std::string good = key_to_base64(pattern(0x21, 11));
  const std::vector<std::string> bad = {
      good.substr(0, 42) + "==",                                     // 31 bytes
      good.substr(0, 43) + "A",                                      // no padding, 33 bytes
      std::string(42, '_') + "8=",                                   // URL-safe alphabet
      key_to_base64(std::array<uint8_t, 32>{}).replace(42, 1, "B"),  // non-canonical
  };
  for (const auto& text : bad) {
    SCOPED_TRACE(text);
    EXPECT_FALSE(PrivateKey::from_base64(text).has_value());
    FILE* p = popen(("printf '%s\\n' '" + text + "' | " + kWg + " pubkey 2>/dev/null").c_str(), "r");
    ASSERT_NE(p, nullptr);
    char buf[128];
    while (fread(buf, 1, sizeof buf, p) > 0) {
    }
    const int status = pclose(p);
    EXPECT_FALSE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "wg accepted it";
  }
}

}  // namespace
}  // namespace sitelink::handshake
