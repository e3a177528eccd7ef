// Exit codes of both binaries (SPEC.md, "Exit codes"); sysexits.h's
// EX_USAGE and EX_CONFIG for 64 and 78.
#pragma once

namespace sitelink::daemon {

inline constexpr int kExitOk = 0;       // success, or clean shutdown
inline constexpr int kExitFailure = 1;  // runtime failure
inline constexpr int kExitUsage = 64;   // unknown flag, missing argument, unusable input
inline constexpr int kExitConfig = 78;  // invalid configuration, missing or unreadable config/key file

}  // namespace sitelink::daemon
