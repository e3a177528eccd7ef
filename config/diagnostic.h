// Diagnostics: what the configuration loader says about a file. Each one has
// a location (1-based line and column, 0 when unknown), the field's path in
// the schema ("peers[1].allowed-ips[0]") and a message saying what is wrong
// and what was expected. to_string() renders SPEC.md's format:
//
//   FILE:LINE:COLUMN: PATH: MESSAGE             an error
//   FILE:LINE:COLUMN: warning: PATH: MESSAGE    a warning (as compilers mark them)
//   FILE: MESSAGE                               no location (file cannot be read)
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace sitelink::config {

// A note is information ("this is how it will behave"), not a problem.
enum class Severity { kError, kWarning, kNote };

struct Location {
  int line = 0;    // 1-based; 0 = unknown
  int column = 0;  // 1-based; 0 = unknown
  friend auto operator<=>(const Location&, const Location&) = default;
};

struct Diagnostic {
  Severity severity = Severity::kError;
  std::string file;
  Location where;
  std::string path;  // "" for file-level problems (syntax errors, unreadable file)
  std::string message;

  bool is_error() const { return severity == Severity::kError; }
  std::string to_string() const;
};

using Diagnostics = std::vector<Diagnostic>;

size_t count_errors(const Diagnostics& d);
// 'text', as messages quote a value. (Built by appending: GCC 12 at -O3
// warns falsely, -Wrestrict, about "'" + std::string(text) + "'".)
std::string quoted(std::string_view text);
size_t count_warnings(const Diagnostics& d);

}  // namespace sitelink::config
