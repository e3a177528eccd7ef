// libFuzzer target: the metrics page (daemon/cli/metrics.h) built from
// arbitrary bytes read as a status socket's answers (parse_get and
// parse_status; the interface name and a label value from the input too).
// Whatever the input: the page is valid UTF-8, every line is a HELP or TYPE
// line or one sample `name{labels} value` whose label values hold no raw
// quote, backslash or newline, and escape_label_value undoes exactly
// (unescaping gives the input back wherever the input is UTF-8).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "daemon/cli/metrics.h"
#include "fuzz/fuzz_check.h"

namespace sitelink::daemon {
namespace {

// True if escaping replaced nothing (each U+FFFD out was one in).
bool valid_utf8(std::string_view s) {
  const auto count = [](std::string_view t) {
    size_t n = 0;
    for (size_t at = t.find("\xEF\xBF\xBD"); at != std::string_view::npos; at = t.find("\xEF\xBF\xBD", at + 3)) ++n;
    return n;
  };
  return count(escape_label_value(s)) == count(s);
}

std::string unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\') {
      out += s[i];
      continue;
    }
    FUZZ_CHECK(i + 1 < s.size());
    const char c = s[++i];
    FUZZ_CHECK(c == '\\' || c == '"' || c == 'n');
    out += c == 'n' ? '\n' : c;
  }
  return out;
}

// One sample line: NAME, optionally {k="v",...}, a space, digits.
void check_sample(std::string_view line) {
  size_t i = 0;
  while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
  FUZZ_CHECK(valid_metric_name(line.substr(0, i)));
  if (i < line.size() && line[i] == '{') {
    ++i;
    for (;;) {
      const size_t eq = line.find('=', i);
      FUZZ_CHECK(eq != std::string_view::npos);
      FUZZ_CHECK(valid_label_name(line.substr(i, eq - i)));
      FUZZ_CHECK(eq + 1 < line.size() && line[eq + 1] == '"');
      size_t j = eq + 2;
      while (j < line.size() && line[j] != '"') j += line[j] == '\\' ? 2 : 1;
      FUZZ_CHECK(j < line.size());
      unescape(line.substr(eq + 2, j - eq - 2));
      i = j + 1;
      FUZZ_CHECK(i < line.size());
      if (line[i] == '}') break;
      FUZZ_CHECK(line[i] == ',');
      ++i;
    }
    ++i;
  }
  FUZZ_CHECK(i < line.size() && line[i] == ' ');
  FUZZ_CHECK(i + 1 < line.size());
  for (size_t k = i + 1; k < line.size(); ++k) FUZZ_CHECK(line[k] >= '0' && line[k] <= '9');
}

}  // namespace
}  // namespace sitelink::daemon

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sitelink::daemon;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const std::string escaped = escape_label_value(in);
  if (valid_utf8(in)) FUZZ_CHECK(unescape(escaped) == in);
  InterfaceStatus iface;
  iface.name = std::string(in.substr(0, in.find('\n')));
  if (auto st = parse_get(in)) iface.state = std::move(*st);
  iface.extra = parse_status(in);
  const sitelink::WallTime now{std::chrono::seconds(1'800'000'000)};
  const std::string page = render_metrics({iface}, {std::string(in.substr(0, 16))}, now);
  FUZZ_CHECK(valid_utf8(page));
  size_t start = 0;
  while (start < page.size()) {
    const size_t nl = page.find('\n', start);
    FUZZ_CHECK(nl != std::string::npos);  // every line ends in a newline
    const std::string_view line(page.data() + start, nl - start);
    if (!line.starts_with("# HELP ") && !line.starts_with("# TYPE ")) check_sample(line);
    start = nl + 1;
  }
  return 0;
}
