// The --help texts of both binaries, written to stand in for man pages
// (synopsis, description, configuration schema, exit status, signals, files,
// environment). The option lists themselves come from Boost.Program_options,
// so every option is always listed.
#pragma once

#include <string_view>

namespace sitelink::daemon {

std::string_view version();  // the project version from CMake, e.g. "0.1.0"

extern const std::string_view kSitelinkdUsage;    // synopsis and description
extern const std::string_view kSitelinkdDetails;  // after the options
extern const std::string_view kSitelinkUsage;     // synopsis, commands
extern const std::string_view kSitelinkDetails;   // after the options

}  // namespace sitelink::daemon
