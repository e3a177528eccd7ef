// Audit events (tunnel/audit_events.h) as journal entries: under systemd,
// sitelinkd writes each one with sd_journal_sendv(3) and these fields, so
// that `journalctl -u sitelink@office SITELINK_EVENT=handshake` finds them:
//   MESSAGE=             the readable line (as on stderr elsewhere)
//   PRIORITY=            its syslog priority (handshake 7, handshake-failed
//                        4, the rest 6)
//   SITELINK_EVENT=      handshake | handshake-failed | endpoint-changed |
//                        peer-up | peer-down
//   SITELINK_INTERFACE=  the interface (sl0)
//   SITELINK_PEER=       the peer's public key (base64)
//   SITELINK_PEER_NAME=  its name in the configuration, when it has one
//   SITELINK_ENDPOINT=   its address (endpoint-changed: the new one)
//   SITELINK_PREVIOUS_ENDPOINT=  endpoint-changed: the address before
//   SITELINK_ROLE=       handshake, peer-up: initiator | responder
//   SITELINK_REASON=     peer-down: handshake-failed | idle | removed |
//                        private-key-changed
//   SITELINK_SUPPRESSED= events of this peer and kind the limit dropped
//                        since the last one (only when not 0)
// and SYSLOG_IDENTIFIER=sitelinkd, as its stderr lines carry. Audit events
// go to the journal whatever the log level; a journal that refuses one
// gets it as a plain line instead. Where stderr is not the journal (run by
// hand, or JOURNAL_STREAM names another stream), events stay plain lines.
// The network process writes them itself: the journal's socket
// (/run/systemd/journal/socket) is reachable under the unit's sandbox.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "tunnel/audit_events.h"
#include "tunnel/log.h"

namespace sitelink::daemon {

// True if fd 2 is the stream that $JOURNAL_STREAM ("DEV:INO") names.
bool stderr_is_journal();

// The "FIELD=value" strings of an event's journal entry.
std::vector<std::string> journal_fields(const tunnel::AuditEvent& e, std::string_view interface);

// Where `dev`'s audit events go: the journal if stderr is the journal,
// else (unchanged) lines through its logger.
void send_audit_events_to_journal(tunnel::AuditLog& audit, tunnel::Logger& log, std::string interface);

}  // namespace sitelink::daemon
