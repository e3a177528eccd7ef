// libFuzzer target: the UAPI text protocol (daemon/uapi.h) on arbitrary
// bytes, as a set request body, as a get answer and as a stream of framed
// requests. Whatever the input, nothing may crash, and the answers must be
// consistent: parse_set refuses only with EINVAL, EPROTO, EMSGSIZE or
// E2BIG, and whatever it or parse_get accepts formats back into text that
// parses to the same thing (format . parse . format == format); the set
// stream gives the same result (request or errno and message, and bytes
// used) however the input is cut: at every byte boundary for short inputs,
// at boundaries the input chooses for long ones; framing always makes
// progress and stays inside the buffer.
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/uapi.h"
#include "fuzz/fuzz_check.h"
#include "handshake/crypto.h"

namespace sitelink::daemon {
namespace {

// What a stream made of `text` cut at `cuts`: the request as text (or the
// errno and message) and the bytes it used.
std::string streamed(std::string_view text, std::span<const size_t> cuts) {
  UapiSetStream s;
  size_t at = 0;
  size_t used = 0;
  for (const size_t cut : cuts) {
    if (s.complete()) break;
    used += s.feed(text.substr(at, cut - at));
    at = cut;
  }
  if (!s.complete()) used += s.feed(text.substr(at));
  FUZZ_CHECK(used <= text.size());
  if (!s.complete()) s.finish();
  const auto r = s.take();
  return std::to_string(used) + ":" + (r ? format_set(*r) : std::to_string(r.error()) + " " + s.why());
}

void check_set(std::string_view text) {
  const auto r = parse_set(text);
  if (!r) {
    FUZZ_CHECK(r.error() == EINVAL || r.error() == EPROTO || r.error() == EMSGSIZE || r.error() == E2BIG);
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

void check_set_stream(std::string_view text) {
  const std::string whole = streamed(text, {});
  constexpr size_t kEveryCutUpTo = 256;
  if (text.size() <= kEveryCutUpTo) {
    for (size_t cut = 0; cut <= text.size(); ++cut) {
      const size_t one[] = {cut};
      FUZZ_CHECK(streamed(text, one) == whole);
    }
  }
  // Cuts the input picks (its bytes as steps), many at once.
  std::vector<size_t> cuts;
  for (size_t at = 0, i = 0; i < text.size() && cuts.size() < 64; ++i) {
    at += 1 + static_cast<uint8_t>(text[i]) % 61;
    if (at >= text.size()) break;
    cuts.push_back(at);
  }
  FUZZ_CHECK(streamed(text, cuts) == whole);
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
      if (f->op == UapiOp::kUnknown) break;  // the connection would be closed
      rest.remove_prefix(f->consumed);
      if (f->op == UapiOp::kSet) {  // its body, as the control socket streams it
        UapiSetStream body;
        const size_t used = body.feed(rest);
        FUZZ_CHECK(used <= rest.size());
        if (!body.complete()) {
          FUZZ_CHECK(used == rest.size());
          break;
        }
        rest.remove_prefix(used);
      }
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
  check_set_stream(text);
  check_get(text);
  check_frames(text);
  return 0;
}
