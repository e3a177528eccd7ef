// "A debug log never prints a key": two in-process gateways (the fakes of
// device_test.cc) with their loggers at debug level go through handshakes,
// traffic, rekeys, a cookie exchange under load, every kind of drop, a
// preshared-key change, a peer removal, a private-key change, an outage
// long enough to give up and wipe the keys, and a key cleared as
// `wg set private-key /dev/null` does. Every log line is kept, and none may
// contain, in hex, base64 or raw bytes, any secret in play:
//
//   - every 32-byte random draw (private keys, ephemerals, cookie secrets),
//     raw and clamped, and the preshared keys;
//   - every X25519 shared secret between those and every public key seen
//     (static and ephemeral: es, ss, ee, se);
//   - the mac1 and cookie keys derived from each public key;
//   - the chaining keys and handshake keys after each message and the
//     transport keys of every session, recomputed from the captured
//     handshake messages (checked by opening captured data packets);
//   - the cookies, recovered from the captured cookie replies.
//
// Public keys may appear (they name peers without a name).
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "fakes/fake_clock.h"
#include "fakes/fake_network.h"
#include "fakes/fake_tun.h"
#include "fakes/packets.h"
#include "fakes/pump.h"
#include "handshake/constants.h"
#include "handshake/noise_ik.h"
#include "support/test_support.h"
#include "tunnel/device.h"

namespace sitelink::tunnel {
namespace {

using namespace std::chrono_literals;
namespace hs = handshake;
using Blob = std::vector<uint8_t>;

config::IpPrefix prefix(const char* s) { return *config::IpPrefix::parse(s); }
SockAddr addr(const char* s) { return *SockAddr::parse(s); }
Blob blob(Bytes b) { return Blob(b.begin(), b.end()); }
std::span<const uint8_t, hs::kKeySize> key_span(const Blob& b) {
  return std::span<const uint8_t, hs::kKeySize>(b.data(), hs::kKeySize);
}

class RecordingRng final : public hs::Rng {
 public:
  explicit RecordingRng(uint64_t seed) : inner_(seed) {}
  void fill(MutableBytes out) override {
    inner_.fill(out);
    if (out.size() == hs::kKeySize) draws.push_back(blob(out));
  }
  std::vector<Blob> draws;

 private:
  test::SeededRng inner_;
};

// --- Encodings a careless log line could use ------------------------------------

std::string base64(const Blob& b, bool url) {
  const char* abc = url ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                        : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < b.size(); i += 3) {
    uint32_t v = uint32_t{b[i]} << 16;
    if (i + 1 < b.size()) v |= uint32_t{b[i + 1]} << 8;
    if (i + 2 < b.size()) v |= b[i + 2];
    const size_t chars = std::min<size_t>(4, b.size() - i + 1);
    for (size_t c = 0; c < chars; ++c) out += abc[(v >> (18 - 6 * c)) & 63];
  }
  return out;  // unpadded: a padded or truncated-at-the-end form contains it
}

std::vector<std::string> encodings(const Blob& secret) {
  std::string upper = test::hex(secret);
  std::transform(upper.begin(), upper.end(), upper.begin(), [](char c) { return static_cast<char>(std::toupper(c)); });
  return {test::hex(secret), upper, base64(secret, false), base64(secret, true),
          std::string(secret.begin(), secret.end())};
}

// --- The two gateways --------------------------------------------------------------

struct Gateway {
  Gateway(test::FakeNetwork& net, test::FakeClock& clock, RecordingRng& rng, const char* address,
          std::vector<std::string>& lines)
      : key(hs::PrivateKey::generate(rng)), udp(net.socket(addr(address))), endpoint(address) {
    log.set_level(LogLevel::kDebug);
    log.set_sink([&lines](LogLevel, std::string_view line) { lines.emplace_back(line); });
    dev = std::make_unique<Device>(key, Device::Settings{1420, 10s}, clock, rng, tun, udp, log);
  }
  hs::PrivateKey key;
  test::FakeTun tun;
  test::FakeUdp& udp;
  std::string endpoint;
  Logger log;
  std::unique_ptr<Device> dev;
};

class KeyHygiene : public ::testing::Test {
 protected:
  void SetUp() override {
    net.fault = [this](const test::Datagram& d) -> std::vector<test::Datagram> {
      captured.push_back(d);
      if (outage) return {};
      return {d};
    };
    psks.push_back(hs::PresharedKey::generate(rng));
    connect(psks.back());
  }

  PeerSpec spec_of(const Gateway& g, const hs::PresharedKey& psk, const char* lan6, const char* lan4,
                   const char* name) {
    return PeerSpec{g.key.public_key(), psk, addr(g.endpoint.c_str()), {prefix(lan4), prefix(lan6)}, 0s, name};
  }
  // b is named in a's log; a appears in b's log by its public key.
  void connect(const hs::PresharedKey& psk) {
    a.dev->upsert_peer(spec_of(b, psk, "2001:db8:b::/48", "198.18.2.0/24", "office-b"));
    b.dev->upsert_peer(spec_of(a, psk, "2001:db8:a::/48", "198.18.1.0/24", ""));
  }

  void pump() { test::pump_until_settled(net, a, b); }
  void advance(Duration d, Duration step = 100ms) {
    for (Duration done{0}; done < d; done += step) {
      clock.advance(step);
      a.dev->handle_timers();
      b.dev->handle_timers();
      pump();
    }
  }
  void traffic(uint8_t tag) {
    a.tun.inbound.push_back(test::ip_packet("198.18.1.5", "198.18.2.7", 40, tag));
    b.tun.inbound.push_back(test::ip_packet("2001:db8:b::7", "2001:db8:a::5", 40, tag));
    pump();
  }
  void send_from(const char* src, const Blob& bytes) { net.socket(addr(src)).send(bytes, addr(b.endpoint.c_str())); }

  std::vector<std::string> lines;
  test::FakeNetwork net;
  test::FakeClock clock;
  RecordingRng rng{0x5ec7e7};
  Gateway a{net, clock, rng, "203.0.113.1:51820", lines};
  Gateway b{net, clock, rng, "198.51.100.2:51820", lines};
  std::vector<hs::PresharedKey> psks;
  std::vector<test::Datagram> captured;
  bool outage = false;
};

// --- The secrets in play, recomputed from what the test saw ------------------------

struct Secrets {
  std::set<Blob> all;
  std::vector<Blob> transport_keys;
  size_t sessions = 0;
  size_t cookies = 0;
};

Blob public_of(const Blob& priv) {
  Blob pub(hs::kKeySize);
  hs::x25519_base(std::span<uint8_t, hs::kKeySize>(pub.data(), hs::kKeySize), key_span(priv));
  return pub;
}

// Every random draw as an X25519 secret (clamped; X25519 clamps anyway),
// by its public key.
struct Keyring {
  explicit Keyring(const std::vector<Blob>& draws) {
    for (Blob d : draws) {
      hs::x25519_clamp(std::span<uint8_t, hs::kKeySize>(d.data(), hs::kKeySize));
      privs.push_back(d);
      by_public[public_of(d)] = d;
    }
  }
  const Blob* find(Bytes pub) const {
    auto it = by_public.find(blob(pub));
    return it == by_public.end() ? nullptr : &it->second;
  }
  std::vector<Blob> privs;
  std::map<Blob, Blob> by_public;
};

void add_state(Secrets& s, const hs::noise_ik::SymmetricState& st) {
  s.all.insert(blob(st.chaining_key.span()));
  s.all.insert(blob(st.key.span()));
}

// The handshake of one captured initiation and, if answered, its response.
void add_handshake(Secrets& s, const Keyring& keys, const std::vector<Blob>& psks, const Blob& init,
                   const std::vector<Blob>& responses) {
  const Blob* e_i = keys.find(Bytes(init.data() + hs::initiation::kEphemeral, hs::kKeySize));
  for (const Blob& responder : keys.privs) {
    auto consumed = hs::consume_initiation(hs::LocalIdentity(hs::PrivateKey(key_span(responder))),
                                           hs::InitiationMsg{init});
    if (!consumed) continue;
    // ss and {t}, as the peer's Handshake does with its precomputed
    // static-static secret (itself a secret).
    Blob ss(hs::kKeySize);
    hs::Tai64n timestamp{};
    if (!hs::x25519(std::span<uint8_t, hs::kKeySize>(ss.data(), hs::kKeySize), key_span(responder),
                    consumed->initiator_static.bytes()) ||
        !hs::noise_ik::read_msg1_payload(consumed->state, key_span(ss), consumed->sealed_timestamp, timestamp)) {
      continue;
    }
    s.all.insert(ss);
    add_state(s, consumed->state);
    const Blob* s_i = keys.find(consumed->initiator_static.bytes());
    for (const Blob& r : responses) {
      if (load_le32(r.data() + hs::response::kReceiver) != load_le32(init.data() + hs::initiation::kSender)) continue;
      for (const Blob& psk : psks) {
        auto st = consumed->state;
        std::array<uint8_t, 0> empty;
        if (e_i == nullptr || s_i == nullptr ||
            !hs::noise_ik::read_msg2(st, key_span(*e_i), key_span(*s_i),
                                     key_span(Blob(r.begin() + hs::response::kEphemeral,
                                                   r.begin() + hs::response::kEphemeral + hs::kKeySize)),
                                     key_span(psk), Bytes(r.data() + hs::response::kEmpty, hs::kAeadTagSize), empty)) {
          continue;
        }
        add_state(s, st);
        Blob k1(hs::kKeySize), k2(hs::kKeySize);
        hs::noise_ik::split(st, std::span<uint8_t, hs::kKeySize>(k1.data(), hs::kKeySize),
                            std::span<uint8_t, hs::kKeySize>(k2.data(), hs::kKeySize));
        s.all.insert(k1);
        s.all.insert(k2);
        s.transport_keys.push_back(k1);
        s.transport_keys.push_back(k2);
        ++s.sessions;
      }
    }
    return;
  }
}

Blob derived_key(const char* label, const Blob& pub) {
  const hs::Hash h = hs::hash({Bytes(reinterpret_cast<const uint8_t*>(label), 8), pub});
  return blob(h);
}

void add_cookies(Secrets& s, const std::vector<Blob>& publics, const std::vector<Blob>& sent_macs, const Blob& reply) {
  for (const Blob& pub : publics) {
    const Blob key = derived_key(hs::kLabelCookie, pub);
    for (const Blob& mac1 : sent_macs) {
      Blob cookie(hs::kMacSize);
      if (hs::xaead_open(
              cookie, key_span(key),
              std::span<const uint8_t, hs::kXNonceSize>(reply.data() + hs::cookie_reply::kNonce, hs::kXNonceSize),
              Bytes(reply.data() + hs::cookie_reply::kCookie, hs::kMacSize + hs::kAeadTagSize), mac1)) {
        s.all.insert(cookie);
        ++s.cookies;
      }
    }
  }
}

Secrets secrets_in_play(const std::vector<Blob>& draws, const std::vector<Blob>& psk_list,
                        const std::vector<test::Datagram>& captured) {
  Secrets s;
  const Keyring keys(draws);
  std::vector<Blob> publics;
  for (const auto& [pub, priv] : keys.by_public) publics.push_back(pub);
  std::vector<Blob> inits, responses, replies, mac1s;
  for (const auto& d : captured) {
    const uint32_t type = d.bytes.size() >= 4 ? load_le32(d.bytes.data()) : 0;
    if (type == 1 && d.bytes.size() == hs::initiation::kSize) inits.push_back(d.bytes);
    if (type == 2 && d.bytes.size() == hs::response::kSize) responses.push_back(d.bytes);
    if (type == 3 && d.bytes.size() == hs::cookie_reply::kSize) replies.push_back(d.bytes);
    if ((type == 1 || type == 2) && d.bytes.size() >= 32) {
      mac1s.emplace_back(d.bytes.end() - 32, d.bytes.end() - 16);
    }
    if (type == 1 && d.bytes.size() == hs::initiation::kSize) {
      publics.push_back(Blob(d.bytes.begin() + hs::initiation::kEphemeral,
                             d.bytes.begin() + hs::initiation::kEphemeral + hs::kKeySize));
    }
    if (type == 2 && d.bytes.size() == hs::response::kSize) {
      publics.push_back(
          Blob(d.bytes.begin() + hs::response::kEphemeral, d.bytes.begin() + hs::response::kEphemeral + hs::kKeySize));
    }
  }
  s.all.insert(draws.begin(), draws.end());
  s.all.insert(keys.privs.begin(), keys.privs.end());
  s.all.insert(psk_list.begin(), psk_list.end());
  for (const Blob& priv : keys.privs) {
    for (const Blob& pub : publics) {
      Blob shared(hs::kKeySize);
      if (hs::x25519(std::span<uint8_t, hs::kKeySize>(shared.data(), hs::kKeySize), key_span(priv), key_span(pub))) {
        s.all.insert(shared);
      }
    }
  }
  for (const Blob& pub : publics) {
    s.all.insert(derived_key(hs::kLabelMac1, pub));
    s.all.insert(derived_key(hs::kLabelCookie, pub));
  }
  for (const Blob& init : inits) add_handshake(s, keys, psk_list, init, responses);
  for (const Blob& reply : replies) add_cookies(s, publics, mac1s, reply);
  return s;
}

// True if some captured data packet opens with one of the recomputed keys:
// proof that the recomputation found the real session keys.
bool opens_a_data_packet(const std::vector<test::Datagram>& captured, const std::vector<Blob>& keys) {
  for (const auto& d : captured) {
    if (d.bytes.size() < hs::transport::kMinSize + 16 || load_le32(d.bytes.data()) != 4) continue;
    const uint64_t counter = load_le64(d.bytes.data() + hs::transport::kCounter);
    const Bytes sealed(d.bytes.data() + hs::transport::kData, d.bytes.size() - hs::transport::kData);
    Blob plain(sealed.size() - hs::kAeadTagSize);
    for (const Blob& k : keys) {
      if (hs::aead_open(plain, key_span(k), counter, sealed, {})) return true;
    }
  }
  return false;
}

// The lines holding any encoding of any secret.
std::vector<std::string> leaks(const std::vector<std::string>& lines, const std::set<Blob>& secrets) {
  std::vector<std::string> out;
  for (const Blob& secret : secrets) {
    for (const std::string& enc : encodings(secret)) {
      for (const std::string& line : lines) {
        if (line.find(enc) != std::string::npos) out.push_back(test::hex(secret) + " in: " + line);
      }
    }
  }
  return out;
}

std::vector<Blob> blobs(const std::vector<hs::PresharedKey>& keys) {
  std::vector<Blob> out;
  for (const auto& k : keys) out.push_back(blob(k.bytes()));
  return out;
}

TEST_F(KeyHygiene, DebugLogNeverShowsASecret) {
  // Handshake at start-up, traffic both ways, rekeys every 10 s.
  a.dev->initiate_all();
  pump();
  for (uint8_t i = 0; i < 35; ++i) {
    traffic(i);
    advance(1s);
  }
  // b under load: a's next initiation gets a cookie reply; the retry has mac2.
  b.dev->force_under_load(true);
  for (uint8_t i = 0; i < 20; ++i) {
    traffic(i);
    advance(1s);
  }
  b.dev->force_under_load(false);
  // Drops: bad mac1, unknown index, malformed, replays, spoofed inner
  // source, no route, a bad inner packet.
  Blob junk(148, 0);
  junk[0] = 1;
  send_from("198.51.100.66:666", junk);
  Blob data(64, 0);
  data[0] = 4;
  send_from("198.51.100.66:666", data);
  send_from("198.51.100.66:666", Blob(junk.begin(), junk.begin() + 7));
  const auto fault = net.fault;
  net.fault = [&](const test::Datagram& d) { return std::vector<test::Datagram>{d, d}; };  // duplicates: replays
  a.tun.inbound.push_back(test::ip_packet("198.18.77.1", "198.18.2.7", 20, 1));            // not a's source
  a.tun.inbound.push_back(test::ip_packet("198.18.1.5", "198.18.99.1", 20, 1));            // no route
  a.tun.inbound.push_back({0x45, 0x00});
  pump();
  net.fault = fault;
  // A new preshared key on both sides, then a new private key for a.
  psks.push_back(hs::PresharedKey::generate(rng));
  connect(psks.back());
  advance(12s);
  traffic(1);
  const hs::PublicKey old_a = a.key.public_key();
  a.key = hs::PrivateKey::generate(rng);
  a.dev->set_private_key(a.key);
  b.dev->remove_peer(old_a);
  connect(psks.back());
  traffic(2);
  advance(3s);
  // Peer removal and return.
  a.dev->remove_peer(b.key.public_key());
  traffic(3);
  connect(psks.back());
  traffic(4);
  advance(2s);
  // An outage: handshakes give up, then the keys are wiped.
  outage = true;
  for (int i = 0; i < 10; ++i) {
    traffic(static_cast<uint8_t>(i));
    advance(10s, 1s);
  }
  advance(3 * hs::kRejectAfterTime, 5s);
  outage = false;
  traffic(5);
  // b loses its key (`wg set private-key /dev/null`).
  b.dev->clear_private_key(rng);
  traffic(6);
  advance(1s);

  const Secrets s = secrets_in_play(rng.draws, blobs(psks), captured);
  // The scenario did what it says, and the recomputation found its keys.
  EXPECT_GE(s.sessions, 6u);
  EXPECT_GE(s.cookies, 1u);
  EXPECT_TRUE(opens_a_data_packet(captured, s.transport_keys));
  EXPECT_GT(a.dev->drops(Drop::kSourceNotAllowed) + b.dev->drops(Drop::kSourceNotAllowed), 0u);
  EXPECT_GT(b.dev->drops(Drop::kReplay) + a.dev->drops(Drop::kReplay), 0u);
  EXPECT_GT(b.dev->drops(Drop::kInvalidMac1), 0u);
  auto has = [&](const char* what) {
    return std::any_of(lines.begin(), lines.end(),
                       [&](const std::string& l) { return l.find(what) != std::string::npos; });
  };
  EXPECT_TRUE(has("handshake initiation"));
  EXPECT_TRUE(has("cookie"));
  EXPECT_TRUE(has("dropped"));
  EXPECT_TRUE(has("tunnel down"));
  EXPECT_TRUE(has(old_a.to_base64().c_str()));  // public keys may appear

  const auto found = leaks(lines, s.all);
  EXPECT_TRUE(found.empty()) << found.size() << " leaks, first: " << found.front();
  // The check itself can fail: a line with a secret in it is caught.
  const Blob session_key = s.transport_keys.front();
  EXPECT_FALSE(leaks({"key " + base64(session_key, false) + "="}, s.all).empty());
  EXPECT_FALSE(leaks({"psk " + psks.front().to_base64()}, s.all).empty());
  EXPECT_FALSE(leaks({"ck " + test::hex(*s.all.begin())}, s.all).empty());
}

}  // namespace
}  // namespace sitelink::tunnel
