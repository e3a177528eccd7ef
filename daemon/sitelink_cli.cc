// Dispatch of the `sitelink` tool's commands (see sitelink_cli.h). Each
// command has its own options (at least --help) and positional arguments;
// the work is done in key_commands.cc, check_command.cc and show.cc.
#include "daemon/sitelink_cli.h"

#include <array>
#include <boost/program_options.hpp>
#include <ostream>

#include "config/names.h"
#include "config/suggest.h"
#include "daemon/check_command.h"
#include "daemon/cli/metrics_server.h"
#include "daemon/exit_codes.h"
#include "daemon/help.h"
#include "daemon/key_commands.h"
#include "daemon/show.h"

namespace po = boost::program_options;

namespace sitelink::daemon {
namespace {

struct Command {
  std::string_view name;
  std::string_view synopsis;
  std::string_view summary;
};

constexpr std::array<Command, 6> kCommands{{
    {"genkey", "sitelink genkey", "Print a new private key (base64, 44 characters) on standard output."},
    {"pubkey", "sitelink pubkey < PRIVATE-KEY-FILE", "Read a private key on standard input and print its public key."},
    {"genpsk", "sitelink genpsk", "Print a new preshared key on standard output."},
    {"show", "sitelink show [IFACE] [--json]",
     "Show the status of IFACE (default: every interface): peers, endpoints, last handshake, bytes."},
    {"check", "sitelink check FILE",
     "Validate the configuration FILE and its key files, as `sitelinkd --check --config FILE` does."},
    {"metrics", "sitelink metrics [--listen ADDR:PORT] [IFACE...]",
     "Serve Prometheus metrics for IFACE (default: every interface) at http://ADDR:PORT/metrics, read from the "
     "status sockets in /run/sitelink (group sitelink; no root needed). Runs until SIGTERM or SIGINT."},
}};

int usage_error(std::string_view who, const std::string& message, Io& io) {
  io.err << who << ": " << message << "\nTry '" << who << " --help' for more information.\n";
  return kExitUsage;
}

struct Parsed {
  po::variables_map vm;
  std::vector<std::string> positional;
};

// Parses one command's arguments; nullopt after reporting a usage error.
std::optional<Parsed> parse(const Command& c, const std::vector<std::string>& args, po::options_description& opts,
                            int max_positional, Io& io) {
  const std::string who = "sitelink " + std::string(c.name);
  po::options_description all;
  all.add(opts);
  all.add_options()("positional", po::value<std::vector<std::string>>());
  po::positional_options_description pos;
  pos.add("positional", -1);
  Parsed p;
  try {
    po::store(po::command_line_parser(args).options(all).positional(pos).run(), p.vm);
    po::notify(p.vm);
  } catch (const po::error& e) {
    usage_error(who, e.what(), io);
    return std::nullopt;
  }
  if (p.vm.count("positional") != 0) p.positional = p.vm["positional"].as<std::vector<std::string>>();
  if (p.positional.size() > static_cast<size_t>(max_positional)) {
    usage_error(who, "unexpected argument '" + p.positional[static_cast<size_t>(max_positional)] + "'", io);
    return std::nullopt;
  }
  return p;
}

int command_help(const Command& c, const po::options_description& opts, Io& io) {
  io.out << "Usage: " << c.synopsis << "\n\n" << c.summary << "\n\n" << opts;
  return kExitOk;
}

int show(const Parsed& p, Io& io) {
  ShowOptions options;
  options.json = p.vm["json"].as<bool>();
  if (!p.positional.empty()) {
    const std::string& iface = p.positional[0];
    const std::string why = config::interface_name_problem(iface);
    if (!why.empty()) return usage_error("sitelink show", "'" + iface + "' is not a valid interface name: " + why, io);
    options.iface = iface;
  }
  return show_command(options, io);
}

int metrics(const Parsed& p, Io& io) {
  MetricsOptions options;
  options.listen = p.vm["listen"].as<std::string>();
  for (const std::string& iface : p.positional) {
    const std::string why = config::interface_name_problem(iface);
    if (!why.empty()) {
      std::string message = "'";
      message.append(iface).append("' is not a valid interface name: ").append(why);
      return usage_error("sitelink metrics", message, io);
    }
    options.interfaces.push_back(iface);
  }
  return metrics_command(options, io);
}

int run_command(const Command& c, const std::vector<std::string>& args, Io& io) {
  po::options_description opts("Options");
  opts.add_options()("help,h", "print this help and exit");
  if (c.name == "show") opts.add_options()("json", po::bool_switch(), "print JSON instead of text");
  if (c.name == "metrics") {
    opts.add_options()("listen", po::value<std::string>()->default_value(kMetricsListen)->value_name("ADDR:PORT"),
                       "address and port to serve HTTP on (loopback only by default)");
  }
  const int max_positional = c.name == "metrics" ? 1 << 16 : c.name == "show" || c.name == "check" ? 1 : 0;
  const auto p = parse(c, args, opts, max_positional, io);
  if (!p) return kExitUsage;
  if (p->vm.count("help") != 0) return command_help(c, opts, io);
  if (c.name == "genkey") return genkey(io);
  if (c.name == "genpsk") return genpsk(io);
  if (c.name == "pubkey") return pubkey(io);
  if (c.name == "show") return show(*p, io);
  if (c.name == "metrics") return metrics(*p, io);
  if (p->positional.empty()) return usage_error("sitelink check", "missing FILE (usage: sitelink check FILE)", io);
  return check_config(p->positional[0], io);
}

po::options_description global_options() {
  po::options_description o("Options");
  o.add_options()("help,h", "print this help and exit")("version", "print the version and exit");
  return o;
}

int run_global(const std::vector<std::string>& args, Io& io) {
  const auto opts = global_options();
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(opts).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return usage_error("sitelink", e.what(), io);
  }
  if (vm.count("help") != 0) {
    io.out << kSitelinkUsage << '\n' << opts << kSitelinkDetails;
    return kExitOk;
  }
  if (vm.count("version") != 0) {
    io.out << "sitelink " << version() << '\n';
    return kExitOk;
  }
  return usage_error("sitelink", "missing COMMAND", io);
}

int unknown_command(const std::string& name, Io& io) {
  std::array<std::string_view, kCommands.size()> names;
  for (size_t i = 0; i < kCommands.size(); ++i) names[i] = kCommands[i].name;
  const auto near = config::closest_key(name, names);
  const std::string hint = near ? "; did you mean '" + std::string(*near) + "'?"
                                : "; expected genkey, pubkey, genpsk, show, check or metrics";
  return usage_error("sitelink", "unknown command '" + name + "'" + hint, io);
}

}  // namespace

int sitelink_main(const std::vector<std::string>& args, Io& io) {
  if (args.empty())
    return usage_error("sitelink", "missing COMMAND (genkey, pubkey, genpsk, show, check or metrics)", io);
  if (args[0] == "help") return run_global({"--help"}, io);
  if (!args[0].empty() && args[0][0] == '-') return run_global(args, io);
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  for (const Command& c : kCommands) {
    if (c.name == args[0]) return run_command(c, rest, io);
  }
  return unknown_command(args[0], io);
}

}  // namespace sitelink::daemon
