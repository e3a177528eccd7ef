// Logger; see log.h.
#include "tunnel/log.h"

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

Logger::Logger() : journal_(std::getenv("JOURNAL_STREAM") != nullptr) {
  sink_ = [this](LogLevel l, std::string_view line) {
    std::string out;
    if (journal_) out = "<" + std::to_string(static_cast<int>(l)) + ">";
    out.append(line);
    out.push_back('\n');
    std::fwrite(out.data(), 1, out.size(), stderr);
    std::fflush(stderr);
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

void Logger::log_limited(LogLevel l, std::string_view key, Instant now, std::string_view msg,
                         Duration interval) {
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
