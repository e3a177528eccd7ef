// Configuration checking shared by both binaries (see check_command.h).
#include "daemon/check_command.h"

#include <cstdlib>
#include <filesystem>
#include <ostream>

#include "config/load.h"
#include "daemon/exit_codes.h"
#include "daemon/local_addresses.h"

namespace sitelink::daemon {
namespace {

std::string plural(size_t n, const char* word) { return std::to_string(n) + " " + word + (n == 1 ? "" : "s"); }

}  // namespace

std::optional<config::Config> load_and_report(const std::string& path, Io& io, config::FileSet* files) {
  config::LoadOptions options;
  options.record = files;
  auto loaded = config::load_file(path, options);
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

std::vector<std::string> unit_visibility_warnings(const std::vector<std::string>& paths) {
  struct Hidden {
    std::string_view dir;
    std::string_view why;
  };
  static constexpr Hidden kHidden[] = {
      {"/home/", "ProtectHome=yes hides /home, /root and /run/user"},
      {"/root/", "ProtectHome=yes hides /home, /root and /run/user"},
      {"/run/user/", "ProtectHome=yes hides /home, /root and /run/user"},
      {"/tmp/", "PrivateTmp=yes gives the unit a /tmp of its own"},
      {"/var/tmp/", "PrivateTmp=yes gives the unit a /var/tmp of its own"},
      {"/dev/shm/", "PrivateDevices=yes gives the unit a /dev of its own"},
  };
  std::vector<std::string> out;
  for (const auto& p : paths) {
    std::error_code ec;
    std::string real = std::filesystem::weakly_canonical(std::filesystem::absolute(p, ec), ec).string();
    if (ec) real = p;
    for (const auto& h : kHidden) {
      if (!real.starts_with(h.dir)) continue;
      std::string w = p;
      if (real != p) w += " (" + real + ")";
      w += ": the sitelink@ unit cannot read it: ";
      w += h.why;
      w += " (systemd/sitelink@.service); move it to /etc/sitelink";
      out.push_back(std::move(w));
      break;
    }
  }
  return out;
}

int check_config(const std::string& path, Io& io) {
  config::FileSet files;
  const auto cfg = load_and_report(path, io, &files);
  std::vector<std::string> key_paths;
  for (const auto& [key_path, contents] : files.key_files) key_paths.push_back(key_path);
  files.wipe();
  if (!cfg) return kExitConfig;
  const char* warn = std::getenv("JOURNAL_STREAM") != nullptr ? "<4>warning: " : "warning: ";
  // The unit reads /etc/sitelink/NAME.yaml: a file that the unit could never
  // read itself (a draft in /tmp) is not meant for it, and its key files
  // need no warning either.
  if (unit_visibility_warnings({path}).empty()) {
    for (const auto& w : unit_visibility_warnings(key_paths)) io.err << warn << w << '\n';
  }
  // Checked on this host: a config checked elsewhere before it is copied
  // here gets these warnings too, which say "(yet)" for that reason.
  for (const auto& w : nonlocal_sources(*cfg)) io.err << warn << w << '\n';
  io.out << path << ": OK (interface " << cfg->interface.name << ", " << plural(cfg->peers.size(), "peer") << ")\n";
  io.out.flush();
  return kExitOk;
}

}  // namespace sitelink::daemon
