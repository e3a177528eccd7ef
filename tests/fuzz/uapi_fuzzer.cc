// libFuzzer target: the UAPI text protocol (daemon/uapi.h) on arbitrary
// bytes, as a set request body, as a get answer and as a stream of framed
// requests. Whatever the input, nothing may crash, and the answers must be
// consistent: parse_set refuses only with EINVAL or EPROTO, and whatever it
// or parse_get accepts formats back into text that parses to the same thing
// (format . parse . format == format); framing always makes progress and
// stays inside the buffer.
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "daemon/uapi.h"
#include "fuzz/fuzz_check.h"
#include "handshake/crypto.h"

namespace sitelink::daemon {
namespace {

void check_set(std::string_view text) {
  const auto r = parse_set(text);
  if (!r) {
    FUZZ_CHECK(r.error() == EINVAL || r.error() == EPROTO);
    return;
  }
  const std::string once = format_set(*r);
  const auto again = parse_set(once);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(format_set(*again) == once);
  for (const auto& p : r->peers) {
    for (const auto& a : p.allowed_ips) FUZZ_CHECK(a.is_canonical());
  }
}

void check_get(std::string_view text) {
  const auto r = parse_get(text);
  if (!r) {
    FUZZ_CHECK(!r.error().empty());
    return;
  }
  const std::string once = format_get(*r);
  const auto again = parse_get(once + format_errno(0));
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(format_get(*again) == once);
}

void check_frames(std::string_view text) {
  for (const bool eof : {false, true}) {
    std::string_view rest = text;
    while (const auto f = next_frame(rest, eof)) {
      FUZZ_CHECK(f->consumed > 0 && f->consumed <= rest.size());
      if (f->op == UapiOp::kSet) {
        FUZZ_CHECK(f->body.data() >= rest.data());
        FUZZ_CHECK(f->body.data() + f->body.size() <= rest.data() + f->consumed);
        check_set(f->body);
      }
      if (f->op == UapiOp::kUnknown) break;  // the connection would be closed
      rest.remove_prefix(f->consumed);
    }
  }
}

}  // namespace
}  // namespace sitelink::daemon

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sitelink::daemon;
  static const bool initialised = [] {
    sitelink::handshake::crypto_init();
    return true;
  }();
  (void)initialised;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  check_set(text);
  check_get(text);
  check_frames(text);
  return 0;
}
