// mac1/mac2 validation and cookie replies; see cookie.h.
#include "handshake/cookie.h"

#include <algorithm>

#include "handshake/constants.h"

namespace sitelink::handshake {

namespace {

void derive_key(SymmetricKey& out, const char* label, const PublicKey& pub) {
  const Hash h = hash({Bytes(reinterpret_cast<const uint8_t*>(label), 8), pub.bytes()});
  std::copy(h.begin(), h.end(), out.data());
}

// mac1 and mac2 are the last 32 bytes of both handshake messages.
size_t mac1_offset(Bytes msg) { return msg.size() - 2 * kMacSize; }
size_t mac2_offset(Bytes msg) { return msg.size() - kMacSize; }

}  // namespace

CookieChecker::CookieChecker(const PublicKey& local_public) {
  derive_key(mac1_key_, kLabelMac1, local_public);
  derive_key(cookie_key_, kLabelCookie, local_public);
}

Mac CookieChecker::cookie_for(Bytes source, Instant now, Rng& rng) {
  if (!secret_birth_ || now - *secret_birth_ >= kCookieSecretMaxAge) {
    rng.fill(secret_.span());
    secret_birth_ = now;
  }
  return mac(secret_.span(), source);
}

bool CookieChecker::check_mac1(Bytes msg) const {
  const size_t m1 = mac1_offset(msg);
  const Mac want = mac(mac1_key_.span(), msg.first(m1));
  return ct_equal(want, msg.subspan(m1, kMacSize));
}

bool CookieChecker::check_mac2(Bytes msg, Bytes source, Instant now, Rng& rng) {
  Mac cookie = cookie_for(source, now, rng);
  const size_t m2 = mac2_offset(msg);
  const Mac want = mac(cookie, msg.first(m2));
  secure_zero(cookie.data(), cookie.size());
  return ct_equal(want, msg.subspan(m2, kMacSize));
}

void CookieChecker::create_reply(std::span<uint8_t, cookie_reply::kSize> out, Bytes msg, Bytes source, Instant now,
                                 Rng& rng) {
  // The reply goes to the sender's index; the sender index sits at offset 4
  // in both the initiation and the response.
  store_le32(out.data(), static_cast<uint32_t>(MessageType::kCookieReply));
  std::copy_n(&msg[4], 4, &out[cookie_reply::kReceiver]);
  auto nonce = out.subspan<cookie_reply::kNonce, kXNonceSize>();
  rng.fill(nonce);
  Mac cookie = cookie_for(source, now, rng);
  xaead_seal(out.subspan<cookie_reply::kCookie>(), cookie_key_.span(), nonce, cookie,
             msg.subspan(mac1_offset(msg), kMacSize));
  secure_zero(cookie.data(), cookie.size());
}

CookieGenerator::CookieGenerator(const PublicKey& remote_public) {
  derive_key(mac1_key_, kLabelMac1, remote_public);
  derive_key(cookie_key_, kLabelCookie, remote_public);
}

bool CookieGenerator::has_fresh_cookie(Instant now) const {
  return cookie_birth_ && now - *cookie_birth_ < kCookieSecretMaxAge - kCookieSecretLatency;
}

void CookieGenerator::add_macs(MutableBytes msg, Instant now) {
  const size_t m1 = mac1_offset(msg);
  last_mac1_sent_ = mac(mac1_key_.span(), msg.first(m1));
  std::copy(last_mac1_sent_.begin(), last_mac1_sent_.end(), &msg[m1]);
  have_sent_mac1_ = true;
  const size_t m2 = mac2_offset(msg);
  Mac mac2{};
  if (has_fresh_cookie(now)) mac2 = mac(cookie_.span(), msg.first(m2));
  std::copy(mac2.begin(), mac2.end(), &msg[m2]);
}

bool CookieGenerator::consume_reply(const CookieReplyMsg& reply, Instant now) {
  if (!have_sent_mac1_) return false;
  const auto nonce = reply.bytes.subspan<cookie_reply::kNonce, kXNonceSize>();
  Secret<kMacSize> cookie;
  if (!xaead_open(cookie.span(), cookie_key_.span(), nonce, reply.bytes.subspan(cookie_reply::kCookie),
                  last_mac1_sent_)) {
    return false;
  }
  cookie_ = cookie;
  cookie_birth_ = now;
  have_sent_mac1_ = false;
  return true;
}

}  // namespace sitelink::handshake
