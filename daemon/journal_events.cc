// Audit events to the journal; see journal_events.h.
#include "daemon/journal_events.h"

#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>

#include <cstdio>
#include <cstdlib>

namespace sitelink::daemon {

bool stderr_is_journal() {
  const char* stream = std::getenv("JOURNAL_STREAM");
  if (stream == nullptr) return false;
  unsigned long long dev = 0;
  unsigned long long ino = 0;
  if (std::sscanf(stream, "%llu:%llu", &dev, &ino) != 2) return false;
  struct stat st {};
  if (::fstat(2, &st) != 0) return false;
  return st.st_dev == dev && st.st_ino == ino;
}

std::vector<std::string> journal_fields(const tunnel::AuditEvent& e, std::string_view interface) {
  std::vector<std::string> f;
  f.push_back("MESSAGE=" + tunnel::audit_line(e));
  f.push_back("PRIORITY=" + std::to_string(static_cast<int>(e.level)));
  f.emplace_back("SYSLOG_IDENTIFIER=sitelinkd");
  f.push_back("SITELINK_EVENT=" + std::string(to_string(e.kind)));
  f.push_back("SITELINK_INTERFACE=" + std::string(interface));
  f.push_back("SITELINK_PEER=" + e.peer.to_base64());
  if (!e.peer_name.empty()) f.push_back("SITELINK_PEER_NAME=" + e.peer_name);
  if (e.endpoint) f.push_back("SITELINK_ENDPOINT=" + e.endpoint->to_string());
  if (e.previous) f.push_back("SITELINK_PREVIOUS_ENDPOINT=" + e.previous->to_string());
  if (e.role) f.push_back("SITELINK_ROLE=" + std::string(to_string(*e.role)));
  if (!e.reason.empty()) f.push_back("SITELINK_REASON=" + e.reason);
  if (e.suppressed > 0) f.push_back("SITELINK_SUPPRESSED=" + std::to_string(e.suppressed));
  return f;
}

namespace {

bool send_to_journal(const std::vector<std::string>& fields) {
  std::vector<iovec> iov;
  iov.reserve(fields.size());
  for (const std::string& f : fields) iov.push_back({const_cast<char*>(f.data()), f.size()});
  return sd_journal_sendv(iov.data(), static_cast<int>(iov.size())) >= 0;
}

}  // namespace

void send_audit_events_to_journal(tunnel::AuditLog& audit, tunnel::Logger& log, std::string interface) {
  if (!stderr_is_journal()) return;
  audit.set_sink([&log, iface = std::move(interface)](const tunnel::AuditEvent& e) {
    if (!send_to_journal(journal_fields(e, iface))) log.log(e.level, tunnel::audit_line(e));
  });
}

}  // namespace sitelink::daemon
