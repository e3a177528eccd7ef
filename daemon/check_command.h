// The one code path behind `sitelink check FILE`, `sitelinkd --check
// --config FILE` and sitelinkd's start-up: load FILE (key files included),
// print every diagnostic to err, one per line, and say whether it is usable.
#pragma once

#include <optional>
#include <string>

#include "config/types.h"
#include "daemon/io.h"

namespace sitelink::daemon {

// The configuration, or nullopt when it has errors. Warnings and errors go
// to io.err either way.
std::optional<config::Config> load_and_report(const std::string& path, Io& io);

// load_and_report(), plus a one-line summary on io.out when the file is
// usable. Returns kExitOk (warnings allowed) or kExitConfig.
int check_config(const std::string& path, Io& io);

}  // namespace sitelink::daemon
