// sitelinkd's command line and what each mode does in this version (see
// sitelinkd_cli.h). The tunnel itself is not built yet: --config without
// --check validates and then fails with exit 1 rather than pretend to run.
#include "daemon/sitelinkd_cli.h"

#include <boost/program_options.hpp>
#include <ostream>

#include "config/names.h"
#include "daemon/check_command.h"
#include "daemon/exit_codes.h"
#include "daemon/gateway.h"
#include "daemon/help.h"

namespace po = boost::program_options;

namespace sitelink::daemon {
namespace {

po::options_description visible_options() {
  po::options_description o("Options");
  o.add_options()("config,c", po::value<std::string>()->value_name("FILE"),
                  "run the interface described by the YAML file FILE, in the foreground")(
      "check", po::bool_switch(),
      "with --config: validate FILE and its key files, print every problem, and exit "
      "with 0 (usable, warnings allowed) or 78; nothing is created")(
      "log-level", po::value<std::string>()->value_name("LEVEL"),
      "least severe messages to log: error, warn, info (default) or debug")(
      "foreground,f", po::bool_switch(), "IFACE mode: do not daemonize (with --config sitelinkd never forks anyway)")(
      "help,h", "print this help and exit")("version", "print the version and exit");
  return o;
}

Err<int> usage_error(const std::string& message, Io& io) {
  io.err << "sitelinkd: " << message << "\nTry 'sitelinkd --help' for more information.\n";
  return Err(kExitUsage);
}

Result<po::variables_map, int> parse_raw(const std::vector<std::string>& args, Io& io) {
  po::options_description all;
  all.add(visible_options());
  all.add_options()("interface", po::value<std::vector<std::string>>());
  po::positional_options_description positional;
  positional.add("interface", -1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(all).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return usage_error(e.what(), io);
  }
  return vm;
}

// The rules between options that Program_options cannot express.
Result<DaemonOptions, int> interpret(const po::variables_map& vm, Io& io) {
  DaemonOptions o;
  o.check = vm["check"].as<bool>();
  o.foreground = vm["foreground"].as<bool>();
  if (vm.count("log-level") != 0) {
    const auto level = config::parse_log_level(vm["log-level"].as<std::string>());
    if (!level)
      return usage_error(
          "invalid --log-level '" + vm["log-level"].as<std::string>() + "'; expected error, warn, info or debug", io);
    o.log_level = *level;
  }
  const auto ifaces = vm.count("interface") != 0 ? vm["interface"].as<std::vector<std::string>>()
                                                 : std::vector<std::string>{};
  if (ifaces.size() > 1)
    return usage_error("expected one IFACE, got " + std::to_string(ifaces.size()) + " arguments", io);
  if (vm.count("config") != 0) {
    if (!ifaces.empty()) return usage_error("give either --config FILE or IFACE, not both", io);
    o.mode = DaemonOptions::Mode::kConfig;
    o.config_file = vm["config"].as<std::string>();
    if (o.config_file.empty()) return usage_error("--config needs a file name", io);
    return o;
  }
  if (o.check) return usage_error("--check needs --config FILE", io);
  if (ifaces.empty()) return usage_error("missing --config FILE or IFACE", io);
  const std::string why = config::interface_name_problem(ifaces[0]);
  if (!why.empty()) return usage_error("'" + ifaces[0] + "' is not a valid interface name: " + why, io);
  o.mode = DaemonOptions::Mode::kInterface;
  o.interface = ifaces[0];
  return o;
}

int run_config(const DaemonOptions& o, Io& io) {
  if (o.check) return check_config(o.config_file, io);
  auto cfg = load_and_report(o.config_file, io);
  if (!cfg) return kExitConfig;
  return run_gateway(o.config_file, std::move(*cfg), o.log_level);
}

}  // namespace

Result<DaemonOptions, int> parse_sitelinkd_args(const std::vector<std::string>& args, Io& io) {
  auto vm = parse_raw(args, io);
  if (!vm) return Err(vm.error());
  DaemonOptions o;
  if (vm->count("help") != 0) return o;  // Mode::kHelp
  if (vm->count("version") != 0) {
    o.mode = DaemonOptions::Mode::kVersion;
    return o;
  }
  return interpret(*vm, io);
}

int sitelinkd_main(const std::vector<std::string>& args, Io& io) {
  const auto parsed = parse_sitelinkd_args(args, io);
  if (!parsed) return parsed.error();
  switch (parsed->mode) {
    case DaemonOptions::Mode::kHelp:
      io.out << kSitelinkdUsage << '\n' << visible_options() << kSitelinkdDetails;
      return kExitOk;
    case DaemonOptions::Mode::kVersion: io.out << "sitelinkd " << version() << '\n'; return kExitOk;
    case DaemonOptions::Mode::kConfig: return run_config(*parsed, io);
    case DaemonOptions::Mode::kInterface:
      return run_interface(parsed->interface, parsed->foreground, parsed->log_level.value_or(LogLevel::kInfo));
  }
  return kExitFailure;
}

}  // namespace sitelink::daemon
