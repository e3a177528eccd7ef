// Interface name rules (see names.h).
#include "config/names.h"

#include "config/types.h"

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

}  // namespace sitelink::config
