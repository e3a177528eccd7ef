// The `sitelink` tool's command line (SPEC.md, "sitelink"), parsed with
// Boost.Program_options per command; its exceptions are caught here and
// become exit code 64 with the reason and a hint to --help.
//
//   sitelink genkey | pubkey | genpsk | show [IFACE] [--json] | check FILE
//   sitelink --help | --version
#pragma once

#include <string>
#include <vector>

#include "daemon/io.h"

namespace sitelink::daemon {

// `args` excludes argv[0]. Returns the exit code.
int sitelink_main(const std::vector<std::string>& args, Io& io);

}  // namespace sitelink::daemon
