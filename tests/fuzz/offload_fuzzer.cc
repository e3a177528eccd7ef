// libFuzzer target: the TUN offload packet surgery (tunnel/offload.h) on
// arbitrary headers and packets.
//
// OFFLOAD_FUZZ_VERBOSE=1 prints what each input did (segments, merges), to
// check that seeds reach what they are meant to.
//
// Input: a selector byte, a 10-byte virtio_net_hdr, then packets, each with
// a 2-byte big-endian length in front (the last one takes what is left).
// The first packet is the "super-packet" for split_tcp_gso; the selector can
// make the header's gso_type fit the packet's IP version and its gso_size
// sensible, so that most inputs get past the first checks.
//
// Checked:
//   - split_tcp_gso: no crash; every segment is written inside the buffer it
//     was given (an exact-size heap buffer each, so ASan sees any overrun);
//     the count returned is the number emitted (nothing at all when it
//     refuses); each segment has valid IPv4 header and TCP checksums, the
//     right lengths and sequence number, and the segments' payloads put
//     together are the super-packet's payload; only the last may be shorter
//     than gso_size.
//   - TcpCoalescer, fed the segments with the other packets mixed in at
//     places the selector chooses: every packet it is given comes out once,
//     in its flow's order; a packet written alone is unchanged; a merged one
//     is made of consecutive in-order segments of one flow with the same
//     headers (but for the fields that differ per segment), at most 64 of
//     them and 64 KiB, with a virtio_net_hdr that describes it and a partial
//     checksum that completes to a valid one.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <tuple>
#include <vector>

#include "fuzz/fuzz_check.h"
#include "support/naive_offload.h"
#include "tunnel/offload.h"

namespace sitelink::tunnel {
namespace {

using test::be16;
using test::be32;
using test::Buf;

constexpr size_t kMaxPacket = 65535;

// The coalescer's notion of a TCP flow packet, written out: IPv4 (not a
// fragment, IHL >= 5) or IPv6 with next header TCP, and room for the ports.
// Anything else is passed on at once and is keyed here by its bytes' class.
using FlowKey = std::tuple<int, Buf, uint32_t>;
FlowKey flow_of(const Buf& b) {
  if (b.empty()) return {0, {}, 0};
  const int v = b[0] >> 4;
  size_t l4 = 0;
  if (v == 4 && b.size() >= 20 && (b[0] & 0x0f) >= 5 && b[9] == 6 && (be16(&b[6]) & 0x3fff) == 0) {
    l4 = size_t{b[0] & 0x0fu} * 4;
  } else if (v == 6 && b.size() >= 40 && b[6] == 6) {
    l4 = 40;
  }
  if (l4 == 0 || b.size() < l4 + 4) return {0, {}, 0};  // not of any flow: written in arrival order
  const size_t aoff = v == 4 ? 12 : 8, alen = v == 4 ? 8 : 32;
  return {v, Buf(b.begin() + static_cast<ptrdiff_t>(aoff), b.begin() + static_cast<ptrdiff_t>(aoff + alen)),
          be32(&b[l4])};
}

size_t tcp_header_len(const uint8_t* p, size_t l4) { return size_t{p[l4 + 12]} / 16 * 4; }

// --- split_tcp_gso -----------------------------------------------------------------

std::vector<Buf> check_split(const VnetHdr& h, const Buf& super) {
  std::vector<std::unique_ptr<uint8_t[]>> buffers;
  std::vector<size_t> asked;
  std::vector<Buf> segments;
  bool pending = false;
  const auto next = [&](size_t size) {
    FUZZ_CHECK(!pending);
    FUZZ_CHECK(size <= kMaxPacket + 120);
    pending = true;
    asked.push_back(size);
    buffers.push_back(std::make_unique<uint8_t[]>(size == 0 ? 1 : size));
    return MutableBytes(buffers.back().get(), size);
  };
  const auto emit = [&](size_t size) {
    FUZZ_CHECK(pending);
    pending = false;
    FUZZ_CHECK(size == asked.back());
    segments.emplace_back(buffers.back().get(), buffers.back().get() + size);
  };
  const auto count = split_tcp_gso(h, super, next, emit);
  // What the TUN sizes its slots by: the headers of every segment, or 0
  // for a packet split refuses.
  const size_t told = tcp_headers_length(super);
  if (!count) {
    FUZZ_CHECK(segments.empty());  // buffers were ample: only a refusal
    // Refused with a usable header (the type for its version, a size):
    // the packet itself was unusable, and tcp_headers_length says so.
    const bool usable_header = !super.empty() && h.gso_size != 0 &&
                               (h.gso_type & ~VnetHdr::kGsoEcn) ==
                                   ((super[0] >> 4) == 4 ? VnetHdr::kGsoTcpV4 : VnetHdr::kGsoTcpV6);
    if (usable_header) FUZZ_CHECK(told == 0);
    return {};
  }
  FUZZ_CHECK(*count == segments.size() && *count >= 1);

  const int v = super[0] >> 4;
  FUZZ_CHECK(v == 4 || v == 6);
  const size_t l4 = test::l4_offset_of(super.data());
  const size_t headers = l4 + tcp_header_len(super.data(), l4);
  const size_t gso = h.gso_size;
  FUZZ_CHECK(gso > 0 && headers <= super.size());
  FUZZ_CHECK(told == headers);
  Buf payload;
  for (size_t i = 0; i < segments.size(); ++i) {
    const Buf& s = segments[i];
    FUZZ_CHECK(s.size() >= headers && s.size() - headers <= gso);
    if (i + 1 < segments.size()) FUZZ_CHECK(s.size() - headers == gso);
    FUZZ_CHECK(test::tcp_checksum_ok(s));
    if (v == 4) {
      FUZZ_CHECK(test::ipv4_header_ok(s.data()));
      FUZZ_CHECK(be16(&s[2]) == s.size());
      FUZZ_CHECK(be16(&s[4]) == static_cast<uint16_t>(be16(&super[4]) + i));
    } else {
      FUZZ_CHECK(be16(&s[4]) + size_t{40} == s.size());
    }
    FUZZ_CHECK(be32(&s[l4 + 4]) == be32(&super[l4 + 4]) + static_cast<uint32_t>(payload.size()));
    // The headers are the super-packet's but for lengths, ids, seq, flags
    // and checksums; FIN and PSH only on the last, CWR only on the first.
    if (v == 4) {
      FUZZ_CHECK(std::memcmp(&s[0], &super[0], 2) == 0);
      FUZZ_CHECK(std::memcmp(&s[6], &super[6], 4) == 0);
      FUZZ_CHECK(std::memcmp(&s[12], &super[12], l4 - 12) == 0);
    } else {
      FUZZ_CHECK(std::memcmp(&s[0], &super[0], 4) == 0);
      FUZZ_CHECK(std::memcmp(&s[6], &super[6], 34) == 0);
    }
    FUZZ_CHECK(std::memcmp(&s[l4], &super[l4], 4) == 0);
    FUZZ_CHECK(std::memcmp(&s[l4 + 8], &super[l4 + 8], 5) == 0);
    uint8_t flags = super[l4 + 13];
    if (i + 1 < segments.size()) flags &= static_cast<uint8_t>(~0x09);
    if (i > 0) flags &= static_cast<uint8_t>(~0x80);
    FUZZ_CHECK(s[l4 + 13] == flags);
    FUZZ_CHECK(std::memcmp(&s[l4 + 14], &super[l4 + 14], 2) == 0);
    FUZZ_CHECK(std::memcmp(&s[l4 + 18], &super[l4 + 18], headers - l4 - 18) == 0);
    payload.insert(payload.end(), s.begin() + static_cast<ptrdiff_t>(headers), s.end());
  }
  FUZZ_CHECK(payload.size() == super.size() - headers);
  FUZZ_CHECK(std::equal(payload.begin(), payload.end(), super.begin() + static_cast<ptrdiff_t>(headers)));
  return segments;
}

// --- TcpCoalescer ------------------------------------------------------------------------

struct Output {
  VnetHdr hdr;
  Buf bytes;
};

// Header bytes every segment of a merged packet must share with the first:
// all but IPv4 total length, id and checksum (and the reserved flag bit),
// IPv6 payload length, TCP seq, PSH, window and checksum, urgent pointer.
// Returns the offset of the first header byte that differs, or headers
// when they all agree (and reports the difference, for the crash log).
size_t header_difference(const Buf& a, const Buf& b, size_t l4, size_t headers) {
  if (b.size() < headers || (b[0] >> 4) != (a[0] >> 4) || test::l4_offset_of(b.data()) != l4 ||
      tcp_header_len(b.data(), l4) != headers - l4) {
    std::fprintf(stderr, "header layout differs\n");
    return 0;
  }
  const bool v4 = (a[0] >> 4) == 4;
  for (size_t i = 0; i < headers; ++i) {
    if (v4 && (i == 2 || i == 3 || i == 4 || i == 5 || i == 10 || i == 11)) continue;
    if (v4 && i == 6 && ((a[i] ^ b[i]) & 0x7f) == 0) continue;
    if (!v4 && (i == 4 || i == 5)) continue;
    const size_t t = i - l4;
    if (i >= l4 && ((t >= 4 && t < 8) || (t >= 14 && t < 20))) continue;
    if (i >= l4 && t == 13 && ((a[i] ^ b[i]) & ~0x08) == 0) continue;
    if (a[i] != b[i]) {
      std::fprintf(stderr, "header byte %zu differs (IP header %zu bytes, TCP at %zu): %02x vs %02x\n", i, l4, l4, a[i],
                   b[i]);
      return i;
    }
  }
  return headers;
}

void check_merged(const Output& o, std::deque<Buf>& flow) {
  const Buf& m = o.bytes;
  const int v = m[0] >> 4;
  const size_t l4 = test::l4_offset_of(m.data());
  const size_t headers = l4 + tcp_header_len(m.data(), l4);
  FUZZ_CHECK(o.hdr.gso_type == (v == 4 ? VnetHdr::kGsoTcpV4 : VnetHdr::kGsoTcpV6));
  FUZZ_CHECK(o.hdr.flags == VnetHdr::kNeedsCsum);
  FUZZ_CHECK(o.hdr.csum_start == l4 && o.hdr.csum_offset == 16 && o.hdr.hdr_len == headers);
  FUZZ_CHECK(o.hdr.gso_size > 0 && m.size() <= TcpCoalescer::kMaxMerged);
  if (v == 4) {
    FUZZ_CHECK(be16(&m[2]) == m.size() && test::ipv4_header_ok(m.data()));
  } else {
    FUZZ_CHECK(be16(&m[4]) + size_t{40} == m.size());
  }
  Buf done = m;
  test::naive_complete(done, l4, 16);
  FUZZ_CHECK(test::tcp_checksum_ok(done));

  // Consume the flow's next inputs until the payload is accounted for.
  size_t off = headers, n = 0;
  uint32_t seq = be32(&m[l4 + 4]);
  uint8_t psh = 0;
  std::array<uint8_t, 2> last_window{};
  while (off < m.size()) {
    FUZZ_CHECK(!flow.empty());
    const Buf in = flow.front();
    flow.pop_front();
    FUZZ_CHECK(header_difference(m, in, l4, headers) == headers);
    FUZZ_CHECK(be32(&in[l4 + 4]) == seq);
    const size_t len = in.size() - headers;
    FUZZ_CHECK(len > 0 && len <= o.hdr.gso_size && off + len <= m.size());
    if (n == 0) FUZZ_CHECK(len == o.hdr.gso_size);
    FUZZ_CHECK(std::memcmp(&m[off], &in[headers], len) == 0);
    if (v == 4) FUZZ_CHECK(be16(&in[2]) == in.size());  // padded packets are not merged
    psh |= in[l4 + 13] & 0x08;
    last_window = {in[l4 + 14], in[l4 + 15]};
    if (off + len < m.size()) FUZZ_CHECK(len == o.hdr.gso_size && (in[l4 + 13] & 0x08) == 0);
    off += len;
    seq += static_cast<uint32_t>(len);
    ++n;
  }
  FUZZ_CHECK(n >= 2 && n <= TcpCoalescer::kMaxSegments);
  FUZZ_CHECK(std::memcmp(&m[l4 + 14], &last_window[0], 2) == 0);  // the newest window
  FUZZ_CHECK((m[l4 + 13] & 0x08) == psh);
}

void check_coalescer(const std::vector<Buf>& inputs) {
  std::vector<Buf> owned = inputs;  // the coalescer may change them
  std::vector<Output> outputs;
  TcpCoalescer c([&](const iovec* iov, size_t count) {
    FUZZ_CHECK(count >= 2 && iov[0].iov_len == VnetHdr::kSize);
    Output o{VnetHdr::load(static_cast<const uint8_t*>(iov[0].iov_base)), {}};
    for (size_t i = 1; i < count; ++i) {
      const auto* p = static_cast<const uint8_t*>(iov[i].iov_base);
      o.bytes.insert(o.bytes.end(), p, p + iov[i].iov_len);
    }
    outputs.push_back(std::move(o));
  });
  for (Buf& b : owned) c.add(b);
  c.flush();

  std::map<FlowKey, std::deque<Buf>> flows;
  for (const Buf& b : inputs) flows[flow_of(b)].push_back(b);
  for (const Output& o : outputs) {
    if (o.hdr.gso_type == VnetHdr::kGsoNone) {
      FUZZ_CHECK(o.hdr.flags == 0 && o.hdr.gso_size == 0 && o.hdr.hdr_len == 0);
      auto& q = flows[flow_of(o.bytes)];
      FUZZ_CHECK(!q.empty() && q.front() == o.bytes);  // unchanged, and the flow's next
      q.pop_front();
    } else {
      FUZZ_CHECK(o.bytes.size() >= 40);
      check_merged(o, flows[flow_of(o.bytes)]);
    }
  }
  for (const auto& [key, q] : flows) FUZZ_CHECK(q.empty());  // every packet came out
  if (std::getenv("OFFLOAD_FUZZ_VERBOSE") != nullptr) {
    size_t merged = 0;
    for (const Output& o : outputs) merged += o.hdr.gso_type != VnetHdr::kGsoNone ? 1 : 0;
    std::fprintf(stderr, "coalescer: %zu packets in, %zu written, %zu merged\n", inputs.size(), outputs.size(), merged);
  }
}

}  // namespace
}  // namespace sitelink::tunnel

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sitelink::tunnel;
  if (size < 1 + VnetHdr::kSize) return 0;
  const uint8_t sel = data[0];
  VnetHdr h = VnetHdr::load(data + 1);
  data += 1 + VnetHdr::kSize;
  size -= 1 + VnetHdr::kSize;

  std::vector<Buf> packets;
  while (size > 0 && packets.size() < 200) {
    size_t len = size;
    if (size >= 2) {
      len = std::min<size_t>(size - 2, size_t{data[0]} << 8 | data[1]);
      data += 2;
      size -= 2;
    }
    const size_t keep = std::min(len, kMaxPacket);
    packets.emplace_back(data, data + keep);
    data += len;
    size -= len;
  }
  if (packets.empty()) return 0;

  const Buf& super = packets[0];
  if ((sel & 1) && !super.empty()) {
    const int v = super[0] >> 4;
    h.gso_type = static_cast<uint8_t>((v == 4 ? VnetHdr::kGsoTcpV4 : VnetHdr::kGsoTcpV6) |
                                      (h.gso_type & VnetHdr::kGsoEcn));
  }
  if (sel & 2) h.gso_size = static_cast<uint16_t>(1 + h.gso_size % 1500);
  // At most ~256 segments: tiny segments of a large packet only make runs
  // slow (the unit tests cover them).
  if (h.gso_size != 0 && super.size() / h.gso_size > 256) h.gso_size = static_cast<uint16_t>(super.size() / 256 + 1);
  const std::vector<Buf> segments = check_split(h, super);
  if (std::getenv("OFFLOAD_FUZZ_VERBOSE") != nullptr) std::fprintf(stderr, "split: %zu segments\n", segments.size());

  // Segments and the other packets, mixed as the selector says.
  std::vector<Buf> inputs;
  size_t other = 1;
  const size_t every = 1 + (sel >> 4);
  for (size_t i = 0; i < segments.size(); ++i) {
    if ((sel & 4) && i % every == 0 && other < packets.size()) inputs.push_back(packets[other++]);
    inputs.push_back(segments[i]);
  }
  while (other < packets.size()) inputs.push_back(packets[other++]);
  if (sel & 8) inputs.push_back(super);  // the raw super-packet too
  check_coalescer(inputs);
  return 0;
}
