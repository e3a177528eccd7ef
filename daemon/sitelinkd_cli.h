// sitelinkd's command line (SPEC.md, "sitelinkd"), parsed with
// Boost.Program_options; its exceptions are caught here and become exit
// code 64 with the reason and a hint to --help.
//
//   sitelinkd --config FILE [--log-level error|warn|info|debug] [--check]
//   sitelinkd [-f|--foreground] IFACE
//   sitelinkd --help | --version
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "config/types.h"
#include "daemon/io.h"
#include "handshake/base/result.h"

namespace sitelink::daemon {

using LogLevel = config::LogLevel;

struct DaemonOptions {
  enum class Mode { kHelp, kVersion, kConfig, kInterface };
  Mode mode = Mode::kHelp;
  std::string config_file;            // kConfig
  std::string interface;              // kInterface
  std::optional<LogLevel> log_level;  // absent: the config's log-level, or info
  bool check = false;                 // kConfig only
  bool foreground = false;            // meaningful in kInterface; --config never forks
};

// `args` excludes argv[0]. On a usage error the reason and a hint are
// written to io.err and the error is the exit code (kExitUsage).
[[nodiscard]] Result<DaemonOptions, int> parse_sitelinkd_args(const std::vector<std::string>& args, Io& io);

// The whole program, short of the process boundary: returns the exit code.
int sitelinkd_main(const std::vector<std::string>& args, Io& io);

}  // namespace sitelink::daemon
