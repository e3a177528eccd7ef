// Logger; see log.h.
#include "tunnel/log.h"

#include <syslog.h>
#include <time.h>

#include <cstdio>
#include <cstdlib>

namespace sitelink::tunnel {

std::optional<LogLevel> parse_log_level(std::string_view s) {
  if (s == "error") return LogLevel::kError;
  if (s == "warn") return LogLevel::kWarn;
  if (s == "info") return LogLevel::kInfo;
  if (s == "debug") return LogLevel::kDebug;
  return std::nullopt;
}

namespace {

// "2026-12-04T01:52:07.123Z ": the wall clock, for logs read off the journal.
std::string rfc3339_now() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  tm utc{};
  gmtime_r(&ts.tv_sec, &utc);
  char buf[40];
  const size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(buf + n, sizeof buf - n, ".%03ldZ ", ts.tv_nsec / 1'000'000);
  return buf;
}

}  // namespace

Logger::Logger() : journal_(std::getenv("JOURNAL_STREAM") != nullptr) {
  sink_ = [this](LogLevel l, std::string_view line) {
    std::string out;
    if (journal_) {
      out.push_back('<');
      out.append(std::to_string(static_cast<int>(l)));
      out.push_back('>');
    } else {
      out = rfc3339_now();
    }
    out.append(line);
    out.push_back('\n');
    std::fwrite(out.data(), 1, out.size(), stderr);
    std::fflush(stderr);
  };
}

void Logger::to_syslog(const char* ident) {
  openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
  // LogLevel's values are syslog's priorities.
  sink_ = [](LogLevel l, std::string_view line) {
    syslog(static_cast<int>(l), "%.*s", static_cast<int>(line.size()), line.data());
  };
}

void Logger::log(LogLevel l, std::string_view msg) {
  if (!enabled(l)) return;
  // One event, one line: a newline inside a message would split it.
  std::string line(msg);
  for (char& c : line) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  sink_(l, line);
}

void Logger::log_limited(LogLevel l, std::string_view key, Instant now, std::string_view msg, Duration interval) {
  if (!enabled(l)) return;
  Limit& lim = limits_[std::string(key)];
  if (now < lim.next) {
    ++lim.suppressed;
    return;
  }
  lim.next = now + interval;
  if (lim.suppressed == 0) {
    log(l, msg);
  } else {
    log(l, std::string(msg) + " (" + std::to_string(lim.suppressed) + " similar suppressed)");
    lim.suppressed = 0;
  }
}

}  // namespace sitelink::tunnel
