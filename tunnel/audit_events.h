// Audit events (issue 18): the moments an admin or an auditor asks about,
// as records with fields rather than free text. The Device emits one per
//   handshake         a session was established (every rekey too): role
//                     initiator or responder, the endpoint it came over
//   handshake-failed  initiations went unanswered for REKEY_ATTEMPT_TIME
//                     (90 s) and were given up
//   endpoint-changed  the peer is now at another address; `reason` says
//                     why: roamed (its packets came from there: roaming,
//                     NAT rebinding), failover (another `endpoints:`
//                     entry), configured (a reload or `wg set`), resolved
//                     (its DNS name answered anew)
//   peer-up           the first session after none
//   peer-down         the session is gone (handshakes given up, or idle
//                     and its keys wiped); `reason` says which
// through AuditLog, which limits them per peer and kind (a token bucket):
// a peer that flaps, roams or handshakes in a storm cannot fill the disk.
// The next event let through carries the count of those suppressed.
//
// Where they go is the owner's choice (set_sink): the daemon writes them
// to the journal with SITELINK_* fields (daemon/journal_events.h); by
// default each is the readable line it always was, through the Logger.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "handshake/base/time.h"
#include "handshake/keys.h"
#include "tunnel/log.h"
#include "tunnel/sock_addr.h"

namespace sitelink::tunnel {

enum class AuditKind : uint8_t { kHandshake, kHandshakeFailed, kEndpointChanged, kPeerUp, kPeerDown };
// "handshake", "handshake-failed", "endpoint-changed", "peer-up", "peer-down".
std::string_view to_string(AuditKind k);

enum class HandshakeRole : uint8_t { kInitiator, kResponder };
std::string_view to_string(HandshakeRole r);  // "initiator", "responder"

struct AuditEvent {
  AuditKind kind = AuditKind::kHandshake;
  handshake::PublicKey peer;
  std::string peer_name;              // may be empty
  std::optional<SockAddr> endpoint;   // where the peer is (endpoint-changed: the new address)
  std::optional<SockAddr> previous;   // endpoint-changed: the address before
  std::optional<HandshakeRole> role;  // handshake, peer-up
  std::string reason;                 // peer-down, endpoint-changed: why (above)
  LogLevel level = LogLevel::kInfo;   // its priority
  std::string message;                // the readable line ("peer office-b: tunnel up via ...")
  uint64_t suppressed = 0;            // events of this peer and kind dropped by the limit before it
};

// The event's readable line: its message, and the suppressed count if any.
std::string audit_line(const AuditEvent& e);

class AuditLog {
 public:
  using Sink = std::function<void(const AuditEvent&)>;
  // Per peer and kind: `burst` events at once, then one per `refill`.
  // A handshake every two minutes (rekey) and the occasional roam never
  // meet the limit.
  struct Limit {
    uint32_t burst = 10;
    Duration refill = std::chrono::seconds(10);
  };

  explicit AuditLog(Logger& log);  // sink: audit_line through `log` at the event's level
  void set_sink(Sink sink) { sink_ = std::move(sink); }
  void set_limit(Limit l) { limit_ = l; }
  // Call at each transition; the sink sees it unless over the limit.
  void emit(Instant now, AuditEvent e);
  // A peer removed: its buckets go too (the map stays as big as the peers).
  void forget(const handshake::PublicKey& peer);
  // Events dropped by the limit, all peers and kinds, since start.
  uint64_t suppressed_total() const { return suppressed_total_; }

 private:
  struct Bucket {
    uint32_t tokens = 0;
    Instant refilled{};  // when the last token was added
    uint64_t suppressed = 0;
  };
  Logger* log_;
  Sink sink_;
  Limit limit_;
  std::map<std::pair<handshake::PublicKey, AuditKind>, Bucket> buckets_;
  uint64_t suppressed_total_ = 0;
};

}  // namespace sitelink::tunnel
