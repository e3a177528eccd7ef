// Loading a configuration file: YAML text -> a validated Config, or every
// problem in the file as diagnostics (diagnostic.h). The only entry points
// to config/; yaml-cpp's exceptions are caught inside and never leave.
//
// Key-file paths that are relative are taken relative to the directory of
// the configuration file (or LoadOptions::base_dir).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "config/diagnostic.h"
#include "config/types.h"
#include "handshake/base/result.h"

namespace sitelink::config {

// The largest configuration file read: room for kMaxPeers peers and
// kMaxAllowedIps allowed-ips written one per line (about 30 bytes each),
// and a bound on what a file can make the daemon read and keep.
inline constexpr size_t kMaxConfigSize = size_t{64} << 20;

// What a load read from the file system: the configuration's text and the
// (trimmed) contents of each key file by the path it was read from. The
// privileged side of sitelinkd reads them (privsep.h) and the unprivileged
// side loads the same configuration from them, reading no file itself.
// Secret: wipe() before it is dropped.
struct FileSet {
  std::string config_path;
  std::string config_text;
  std::map<std::string, std::string> key_files;
  void wipe();
};

struct LoadOptions {
  // Read private-key-file and preshared-key-file (checking their modes). When
  // false (the fuzzer), the paths are only checked for being non-empty and
  // the keys are left all zero.
  bool read_key_files = true;
  // Directory for relative key-file paths; default: the config file's directory.
  std::optional<std::string> base_dir;
  // load_file: record what was read here (the text and every key file).
  FileSet* record = nullptr;
  // Key files come from here, by the path they would be read from, and the
  // file system is not touched; a path that is missing is an error.
  const std::map<std::string, std::string>* key_files = nullptr;
};

// A loaded configuration and the warnings it produced (host bits cleared,
// redundant prefixes, ...), which callers should show.
struct Loaded {
  Config config;
  Diagnostics warnings;
};

// On failure: all diagnostics (errors and warnings), in file order.
[[nodiscard]] Result<Loaded, Diagnostics> load_file(const std::string& path, const LoadOptions& options = {});

// The same from text in memory; `display_name` stands for the file name in
// diagnostics and, unless options.base_dir is set, gives the base directory.
[[nodiscard]] Result<Loaded, Diagnostics> load_text(std::string_view text, const std::string& display_name,
                                                    const LoadOptions& options = {});

// The configuration a FileSet holds, loaded as load_file loaded it (the
// checks on the files themselves, such as their modes, were made when they
// were read).
[[nodiscard]] Result<Loaded, Diagnostics> load_files(const FileSet& files);

}  // namespace sitelink::config
