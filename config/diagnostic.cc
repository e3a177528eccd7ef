// Rendering and counting of diagnostics (format documented in diagnostic.h).
#include "config/diagnostic.h"

#include <algorithm>

namespace sitelink::config {

std::string Diagnostic::to_string() const {
  std::string s = file;
  if (where.line > 0) {
    s += ':' + std::to_string(where.line);
    if (where.column > 0) s += ':' + std::to_string(where.column);
  }
  s += ": ";
  if (severity == Severity::kWarning) s += "warning: ";
  if (severity == Severity::kNote) s += "note: ";
  if (!path.empty()) s += path + ": ";
  s += message;
  return s;
}

std::string quoted(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out.push_back('\'');
  out.append(text);
  out.push_back('\'');
  return out;
}

size_t count_errors(const Diagnostics& d) {
  return static_cast<size_t>(std::count_if(d.begin(), d.end(), [](const Diagnostic& x) { return x.is_error(); }));
}

size_t count_warnings(const Diagnostics& d) { return d.size() - count_errors(d); }

}  // namespace sitelink::config
