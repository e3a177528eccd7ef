// Entry points of the loader: reading the file, parsing YAML (yaml-cpp's
// exceptions are caught here and become diagnostics with file:line:col),
// dispatching the top-level sections, then the cross-field rules.
#include "config/load.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <sstream>

#include <yaml-cpp/eventhandler.h>

#include "config/key_file.h"
#include "config/load_internal.h"
#include "handshake/base/secret.h"

namespace sitelink::config {
namespace {

using namespace detail;

std::string line_at(std::string_view text, int line) {
  size_t start = 0;
  for (int n = 1; n < line && start != std::string_view::npos; ++n) {
    start = text.find('\n', start);
    if (start != std::string_view::npos) ++start;
  }
  if (start == std::string_view::npos || start > text.size()) return {};
  return std::string(text.substr(start, text.find('\n', start) - start));
}

// yaml-cpp's messages are terse; add what usually causes them.
std::string syntax_hint(std::string_view source_line) {
  if (source_line.find("endpoint:") != std::string_view::npos && source_line.find('[') != std::string_view::npos) {
    return " (an IPv6 endpoint must be quoted: endpoint: \"[2001:db8::1]:51820\")";
  }
  if (source_line.find("- [") != std::string_view::npos && source_line.find("]:") != std::string_view::npos) {
    return " (an IPv6 endpoint must be quoted: - \"[2001:db8::1]:51820\")";  // an entry of endpoints:
  }
  if (source_line.find('\t') != std::string_view::npos) return " (YAML does not allow tabs for indentation)";
  return {};
}

void parse_document(const YAML::Node& root, Context& ctx, Draft& d) {
  if (!root.IsMap()) {
    const std::string kind = root.IsNull() ? "empty" : root.IsSequence() ? "a list" : "a single value";
    ctx.report.error(Location{1, 1}, "", "the file is " + kind + "; expected a map with 'interface:' and 'peers:'");
    return;
  }
  const auto entries = map_entries(root, "", Section::kTop, ctx.report);
  bool has_interface = false;
  for (const Entry& e : *entries) {
    if (e.key == "interface") {
      has_interface = true;
      parse_interface(e, ctx, d);
    } else if (e.key == "peers") {
      parse_peers(e, ctx, d);
    }
  }
  if (!has_interface) {
    ctx.report.error(location_of(root), "interface",
                     "missing; every configuration needs an 'interface:' section with its private key");
  }
}

// Records where documents start. Only the marks matter, not the content.
class DocumentStarts final : public YAML::EventHandler {
 public:
  std::vector<YAML::Mark> starts;
  void OnDocumentStart(const YAML::Mark& m) override { starts.push_back(m); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

Location mark_location(const YAML::Mark& m) { return m.is_null() ? Location{} : Location{m.line + 1, m.column + 1}; }

// A file holds one document. yaml-cpp 0.7's LoadAll() can loop forever on a
// stray token such as a leading ',' (fixed upstream in yaml-cpp PR #1319):
// the parser then returns empty "documents" without moving on. So documents
// are counted here with the event parser, reading at most two; a second one
// that starts where the first did means the parser is stuck.
bool check_single_document(std::string_view text, Reporter& r) {
  std::istringstream in{std::string(text)};
  YAML::Parser parser(in);
  DocumentStarts docs;
  if (!parser.HandleNextDocument(docs) || !parser.HandleNextDocument(docs) || docs.starts.size() < 2) return true;
  const YAML::Mark second = docs.starts[1];
  const auto pos = std::min(static_cast<size_t>(std::max(second.pos, 0)), text.size());
  if (second.pos != docs.starts[0].pos && text.substr(pos, 3) == "---") {
    r.error(mark_location(second), "", "only one YAML document is allowed (remove the '---' separator)");
  } else {
    const std::string what = pos < text.size() ? quoted(text.substr(pos, 1)) : "end of file";
    r.error(mark_location(second), "", "YAML syntax error: unexpected " + what);
  }
  return false;
}

void parse_and_validate(std::string_view text, Context& ctx, Draft& d) {
  try {
    if (!check_single_document(text, ctx.report)) return;
    std::string copy(text);  // yaml-cpp keeps its own copies, which cannot be wiped
    const YAML::Node root = YAML::Load(copy);
    secure_zero(copy.data(), copy.size());
    if (root.IsNull()) {
      ctx.report.error(Location{1, 1}, "", "the file is empty; expected a map with 'interface:' and 'peers:'");
      return;
    }
    parse_document(root, ctx, d);
    validate(d, ctx.report);
  } catch (const YAML::Exception& e) {
    const Location at = mark_location(e.mark);
    ctx.report.error(at, "", "YAML syntax error: " + e.msg + syntax_hint(line_at(text, at.line)));
  }
}

// A file with a key inline is as secret as a key file, and refused as one
// is when group or others can access it (as ssh refuses such keys).
void check_inline_keys(const Draft& d, mode_t mode, const std::string& name, Reporter& report) {
  if ((mode & 077) == 0) return;
  const auto refuse = [&](const std::string& path, const char* what, const char* key_file_field) {
    report.error(d.at(path), path,
                 std::string("this file holds ") + what + " inline but group or others can access it (mode " +
                     mode_text(mode) + "); run 'chmod 600 " + name + "', or move the key to a file and name it with " +
                     key_file_field);
  };
  if (d.private_key_known && d.config.interface.private_key_file.empty()) {
    refuse("interface.private-key", "a private key", "private-key-file");
  }
  for (size_t k = 0; k < d.config.peers.size(); ++k) {
    const auto& p = d.config.peers[k];
    if (p.preshared_key.is_zero() || !p.preshared_key_file.empty()) continue;
    refuse(field_path(item_path("peers", d.sources[k].index), "preshared-key"), "a preshared key",
           "preshared-key-file");
  }
}

Result<Loaded, Diagnostics> load_impl(std::string_view text, const std::string& name, const LoadOptions& options,
                                      std::optional<mode_t> file_mode) {
  Reporter report(name);
  Context ctx{report, options, options.base_dir.value_or(std::filesystem::path(name).parent_path().string())};
  Draft d;
  d.config.source = name;
  parse_and_validate(text, ctx, d);
  if (file_mode) check_inline_keys(d, *file_mode, name, report);
  Diagnostics diags = report.take();
  if (count_errors(diags) > 0) return Err(std::move(diags));
  return Loaded{std::move(d.config), std::move(diags)};
}

Diagnostics file_error(const std::string& path, const std::string& message) {
  return {Diagnostic{Severity::kError, path, {}, "", message}};
}

}  // namespace

Result<Loaded, Diagnostics> load_text(std::string_view text, const std::string& display_name,
                                      const LoadOptions& options) {
  return load_impl(text, display_name, options, std::nullopt);
}

Result<Loaded, Diagnostics> load_file(const std::string& path, const LoadOptions& options) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return Err(file_error(path, std::string("cannot read the configuration: ") + std::strerror(errno)));
  struct stat st {};
  std::string text;
  std::string problem;
  if (::fstat(fd, &st) != 0) {
    problem = std::string("cannot read the configuration: ") + std::strerror(errno);
  } else if (S_ISDIR(st.st_mode)) {
    problem = "is a directory; expected a configuration file";
  } else {
    char buf[8192];
    ssize_t n = 0;
    while (text.size() <= kMaxConfigSize && ((n = ::read(fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))) {
      if (n > 0) append_wiping(text, std::string_view(buf, static_cast<size_t>(n)));
    }
    secure_zero(buf, sizeof buf);
    if (n < 0) problem = std::string("cannot read the configuration: ") + std::strerror(errno);
    if (text.size() > kMaxConfigSize)
      problem = "is larger than " + std::to_string(kMaxConfigSize >> 20) + " MiB; this is not a sitelink configuration";
  }
  ::close(fd);
  if (!problem.empty()) return Err(file_error(path, problem));
  auto loaded = load_impl(text, path, options, st.st_mode);
  if (options.record != nullptr) {
    options.record->config_path = path;
    options.record->config_text.swap(text);
  }
  secure_zero(text.data(), text.size());  // inline keys
  return loaded;
}

Result<Loaded, Diagnostics> load_files(const FileSet& files) {
  LoadOptions options;
  options.key_files = &files.key_files;
  return load_text(files.config_text, files.config_path, options);
}

void FileSet::wipe() {
  secure_zero(config_text.data(), config_text.size());
  config_text.clear();
  for (auto& [path, contents] : key_files) secure_zero(contents.data(), contents.size());
  key_files.clear();
}

}  // namespace sitelink::config
