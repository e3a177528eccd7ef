// libFuzzer target: what crosses privilege separation's channel (privsep.h),
// from either side. The network process decodes the monitor's frames; the
// monitor, which trusts nothing from the network process, takes its
// messages and filters its sd_notify text. Whatever the bytes: no crash; a
// decoded file set re-encodes to exactly the bytes it came from; message
// taking always consumes what it returns and never grows the buffer; only
// allowed notify lines pass (each one whole, never MAINPID= or FDSTORE=),
// and passing them again changes nothing.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "daemon/privsep.h"
#include "fuzz/fuzz_check.h"

namespace sitelink::daemon {
namespace {

void check_frames(std::span<const uint8_t> in) {
  while (!in.empty()) {
    auto f = decode_monitor_frame(in);
    if (f.status == MonitorFrame::Status::kIncomplete || f.status == MonitorFrame::Status::kBad) return;
    FUZZ_CHECK(f.used > 0 && f.used <= in.size());
    if (f.status == MonitorFrame::Status::kFileSet) {
      const std::string again = encode_file_set(f.files);
      // Key files are a map: equal only when the input listed them sorted
      // and unique, which the decoder enforces for duplicates alone.
      const auto back = decode_monitor_frame({reinterpret_cast<const uint8_t*>(again.data()), again.size()});
      FUZZ_CHECK(back.status == MonitorFrame::Status::kFileSet);
      FUZZ_CHECK(back.files.config_path == f.files.config_path && back.files.config_text == f.files.config_text &&
                 back.files.key_files == f.files.key_files);
      f.files.wipe();
    }
    in = in.subspan(f.used);
  }
}

void check_child_messages(std::string_view data) {
  std::string buffer(data);
  const size_t before = buffer.size();
  size_t junk = 0;
  const auto msgs = take_child_messages(buffer, junk);
  FUZZ_CHECK(buffer.size() <= before);
  size_t consumed = junk;
  for (const auto& m : msgs) {
    FUZZ_CHECK(m.kind == kAskReload || m.kind == kSocketUp || m.kind == kNotify);
    consumed += m.kind == kNotify ? 3 + m.text.size() : 1;
    if (m.kind == kNotify) {
      FUZZ_CHECK(m.text.size() <= kMaxNotify);
      const std::string ok = allowed_notify(m.text);
      FUZZ_CHECK(allowed_notify(ok) == ok);
      for (std::string_view rest = ok; !rest.empty();) {
        const size_t end = rest.find('\n');
        const std::string_view line = rest.substr(0, end);
        rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
        FUZZ_CHECK(line == "READY=1" || line == "RELOADING=1" || line == "STOPPING=1" || line == "WATCHDOG=1" ||
                   line.starts_with("STATUS=") || line.starts_with("MONOTONIC_USEC="));
      }
    }
  }
  FUZZ_CHECK(consumed + buffer.size() == before);
  // What is left is the start of a notify message still being received.
  FUZZ_CHECK(buffer.empty() || buffer[0] == kNotify);
}

}  // namespace
}  // namespace sitelink::daemon

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sitelink::daemon::check_frames({data, size});
  sitelink::daemon::check_child_messages({reinterpret_cast<const char*>(data), size});
  return 0;
}
