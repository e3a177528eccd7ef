// Interface name rules (see names.h), log level names and the mss-clamp
// limits (types.h).
#include "config/names.h"

#include "config/types.h"

#include <algorithm>

namespace sitelink::config {

std::string interface_name_problem(std::string_view n) {
  if (n.empty()) return "it is empty";
  if (n.size() > kMaxInterfaceName) return "it is longer than 15 characters";
  if (n == "." || n == "..") return "'.' and '..' are reserved";
  for (const char c : n) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '/' || c == ':' || c == '%') return std::string("it contains '") + c + "'";
    if (u <= 0x20 || u == 0x7f) return "it contains a space or a control character";
  }
  return {};
}

std::optional<LogLevel> parse_log_level(std::string_view s) {
  for (const LogLevel l : {LogLevel::kError, LogLevel::kWarn, LogLevel::kInfo, LogLevel::kDebug}) {
    if (s == to_string(l)) return l;
  }
  return std::nullopt;
}

std::string_view to_string(LogLevel l) {
  switch (l) {
    case LogLevel::kError: return "error";
    case LogLevel::kWarn: return "warn";
    case LogLevel::kInfo: return "info";
    case LogLevel::kDebug: return "debug";
  }
  return "info";
}

uint16_t MssClamp::ipv4_limit(uint32_t mtu) const {
  switch (mode) {
    case Mode::kOff: return 0;
    case Mode::kFixed: return mss;
    case Mode::kAuto: break;
  }
  return mtu > 40 ? static_cast<uint16_t>(std::min<uint32_t>(mtu - 40, kMaxMssClamp)) : 0;
}

uint16_t MssClamp::ipv6_limit(uint32_t mtu) const {
  switch (mode) {
    case Mode::kOff: return 0;
    case Mode::kFixed: return mss > 20 ? static_cast<uint16_t>(mss - 20) : 0;
    case Mode::kAuto: break;
  }
  return mtu > 60 ? static_cast<uint16_t>(std::min<uint32_t>(mtu - 60, kMaxMssClamp)) : 0;
}

std::string MssClamp::to_string() const {
  switch (mode) {
    case Mode::kOff: return "off";
    case Mode::kFixed: return std::to_string(mss);
    case Mode::kAuto: break;
  }
  return "auto";
}

}  // namespace sitelink::config
