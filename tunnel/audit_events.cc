// Audit events and their limit; see audit_events.h.
#include "tunnel/audit_events.h"

#include <algorithm>
#include <array>

namespace sitelink::tunnel {

std::string_view to_string(AuditKind k) {
  static constexpr std::array<std::string_view, 5> kNames{"handshake", "handshake-failed", "endpoint-changed",
                                                          "peer-up", "peer-down"};
  return kNames[static_cast<size_t>(k)];
}

std::string_view to_string(HandshakeRole r) { return r == HandshakeRole::kInitiator ? "initiator" : "responder"; }

std::string audit_line(const AuditEvent& e) {
  if (e.suppressed == 0) return e.message;
  return e.message + " (" + std::to_string(e.suppressed) + " similar suppressed)";
}

AuditLog::AuditLog(Logger& log) : log_(&log) {
  sink_ = [this](const AuditEvent& e) { log_->log(e.level, audit_line(e)); };
}

void AuditLog::emit(Instant now, AuditEvent e) {
  const auto [it, added] = buckets_.try_emplace({e.peer, e.kind});
  Bucket& b = it->second;
  if (added) {
    b.tokens = limit_.burst;
    b.refilled = now;
  } else if (b.tokens < limit_.burst && limit_.refill.count() > 0) {
    const auto earned = (now - b.refilled) / limit_.refill;
    if (earned > 0) {
      b.tokens = static_cast<uint32_t>(std::min<int64_t>(limit_.burst, b.tokens + earned));
      b.refilled = b.tokens == limit_.burst ? now : b.refilled + earned * limit_.refill;
    }
  }
  if (b.tokens == 0) {
    ++b.suppressed;
    ++suppressed_total_;
    return;
  }
  if (b.tokens-- == limit_.burst) b.refilled = now;  // a full bucket starts earning now
  e.suppressed = std::exchange(b.suppressed, 0);
  sink_(e);
}

void AuditLog::forget(const handshake::PublicKey& peer) {
  for (auto it = buckets_.lower_bound({peer, AuditKind{}}); it != buckets_.end() && it->first.first == peer;) {
    it = buckets_.erase(it);
  }
}

}  // namespace sitelink::tunnel
