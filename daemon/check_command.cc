// Configuration checking shared by both binaries (see check_command.h).
#include "daemon/check_command.h"

#include <cstdlib>
#include <ostream>

#include "config/load.h"
#include "daemon/exit_codes.h"

namespace sitelink::daemon {
namespace {

std::string plural(size_t n, const char* word) { return std::to_string(n) + " " + word + (n == 1 ? "" : "s"); }

}  // namespace

std::optional<config::Config> load_and_report(const std::string& path, Io& io) {
  auto loaded = config::load_file(path);
  const config::Diagnostics& diags = loaded ? loaded->warnings : loaded.error();
  // Under systemd (JOURNAL_STREAM set) each line carries its syslog
  // priority, as tunnel::Logger's lines do: <3> error, <4> warning, <6> note.
  const bool journal = std::getenv("JOURNAL_STREAM") != nullptr;
  const auto prio = [journal](config::Severity s) {
    if (!journal) return "";
    return s == config::Severity::kError ? "<3>" : s == config::Severity::kWarning ? "<4>" : "<6>";
  };
  for (const auto& d : diags) io.err << prio(d.severity) << d.to_string() << '\n';
  if (!loaded) {
    io.err << prio(config::Severity::kError) << path << ": " << plural(config::count_errors(diags), "error")
           << ", configuration not usable\n";
    io.err.flush();
    return std::nullopt;
  }
  io.err.flush();
  return std::move(loaded->config);
}

int check_config(const std::string& path, Io& io) {
  const auto cfg = load_and_report(path, io);
  if (!cfg) return kExitConfig;
  io.out << path << ": OK (interface " << cfg->interface.name << ", " << plural(cfg->peers.size(), "peer") << ")\n";
  io.out.flush();
  return kExitOk;
}

}  // namespace sitelink::daemon
