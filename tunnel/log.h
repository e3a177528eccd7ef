// Logger: one event per line to stderr (or a test sink). When stderr is the
// journal (JOURNAL_STREAM is set), each line starts with its syslog priority
// "<N>" so journald files it at the right level; otherwise with the time in
// RFC 3339 (UTC, milliseconds). A daemon without a terminal logs to syslog
// instead (to_syslog), which the journal serves where there is one. A
// stream that fails (a reader that went away) loses lines, never the
// process: sitelinkd ignores SIGPIPE. Callers never pass keys.
// Repeated events can be rate-limited per key: the count of suppressed lines
// is reported with the next one let through.
#pragma once

#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <unordered_map>

#include "handshake/base/time.h"

namespace sitelink::tunnel {

enum class LogLevel { kError = 3, kWarn = 4, kInfo = 6, kDebug = 7 };

std::optional<LogLevel> parse_log_level(std::string_view s);

class Logger {
 public:
  using Sink = std::function<void(LogLevel, std::string_view line)>;

  Logger();  // stderr, info, journal prefixes if JOURNAL_STREAM is set
  void set_level(LogLevel l) { level_ = l; }
  LogLevel level() const { return level_; }
  void set_sink(Sink s) { sink_ = std::move(s); }
  // From now on to syslog(3) as `ident`, at each line's priority.
  void to_syslog(const char* ident);
  bool enabled(LogLevel l) const { return static_cast<int>(l) <= static_cast<int>(level_); }

  void log(LogLevel l, std::string_view msg);
  // At most one line per `key` per `interval`; the rest are counted.
  void log_limited(LogLevel l, std::string_view key, Instant now, std::string_view msg,
                   Duration interval = std::chrono::seconds(5));

 private:
  struct Limit {
    Instant next;
    uint64_t suppressed = 0;
  };
  LogLevel level_ = LogLevel::kInfo;
  bool journal_ = false;
  Sink sink_;
  std::unordered_map<std::string, Limit> limits_;
};

// Builds a line with operator<< and logs it when it goes out of scope:
//   LogLine(log, LogLevel::kInfo) << "peer " << name << " up";
class LogLine {
 public:
  LogLine(Logger& l, LogLevel level) : logger_(l), level_(level), on_(l.enabled(level)) {}
  LogLine(const LogLine&) = delete;
  LogLine& operator=(const LogLine&) = delete;
  ~LogLine() {
    if (on_) logger_.log(level_, out_.str());
  }
  template <typename T>
  LogLine& operator<<(const T& v) {
    if (on_) out_ << v;
    return *this;
  }

 private:
  Logger& logger_;
  LogLevel level_;
  bool on_;
  std::ostringstream out_;
};

}  // namespace sitelink::tunnel
