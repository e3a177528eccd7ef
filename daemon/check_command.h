// The one code path behind `sitelink check FILE`, `sitelinkd --check
// --config FILE` and sitelinkd's start-up: load FILE (key files included),
// print every diagnostic to err, one per line, and say whether it is usable.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "config/load.h"
#include "config/types.h"
#include "daemon/io.h"

namespace sitelink::daemon {

// The configuration, or nullopt when it has errors. Warnings and errors go
// to io.err either way.
// `files`, if given, receives what was read (config/load.h's FileSet).
std::optional<config::Config> load_and_report(const std::string& path, Io& io, config::FileSet* files = nullptr);

// Files that the sitelink@ unit's sandbox hides: one warning per path that
// names the unit setting (ProtectHome=, PrivateTmp=) and the fix. Paths are
// taken as they resolve (symbolic links followed).
std::vector<std::string> unit_visibility_warnings(const std::vector<std::string>& paths);

// load_and_report() and, for a file the unit could read, the
// unit_visibility_warnings() of its key files, then the nonlocal_sources()
// (local_addresses.h) of its endpoints, plus a one-line summary on io.out
// when the file is usable. Returns kExitOk (warnings allowed) or kExitConfig.
int check_config(const std::string& path, Io& io);

}  // namespace sitelink::daemon
