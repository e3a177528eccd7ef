// TUN offload packet surgery; see offload.h. Header fields are read and
// written byte by byte (network order), never through casts.
#include "tunnel/offload.h"

#include <algorithm>
#include <bit>
#include <cstring>

namespace sitelink::tunnel {

namespace {

constexpr uint8_t kProtoTcp = 6;
constexpr size_t kIpv4Header = 20;
constexpr size_t kIpv6Header = 40;
constexpr size_t kTcpMinHeader = 20;
constexpr size_t kTcpChecksumOffset = 16;
constexpr uint8_t kTcpFin = 0x01, kTcpSyn = 0x02, kTcpRst = 0x04, kTcpPsh = 0x08, kTcpAck = 0x10, kTcpUrg = 0x20,
                  kTcpCwr = 0x80;

uint16_t load_host16(const uint8_t* p) {
  uint16_t v = 0;
  std::memcpy(&v, p, 2);
  return v;
}
void store_host16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); }

void set_ipv4_checksum(uint8_t* ip, size_t ihl) {
  store_be16(ip + 10, 0);
  store_be16(ip + 10, static_cast<uint16_t>(~checksum_fold(checksum_add(Bytes(ip, ihl)))));
}

// IP header length and TCP header offset for a TCP packet, or 0 if it is not
// a TCP packet we can handle (IPv6 extension headers, IPv4 fragments).
size_t tcp_offset(Bytes p) {
  if (p.empty()) return 0;
  const int version = p[0] >> 4;
  if (version == 4) {
    if (p.size() < kIpv4Header) return 0;
    const size_t ihl = size_t{p[0] & 0x0fu} * 4;
    const bool fragment = (load_be16(&p[6]) & 0x3fff) != 0;  // MF or an offset
    if (ihl < kIpv4Header || p[9] != kProtoTcp || fragment) return 0;
    return ihl;
  }
  if (version == 6) {
    if (p.size() < kIpv6Header || p[6] != kProtoTcp) return 0;
    return kIpv6Header;
  }
  return 0;
}

}  // namespace

VnetHdr VnetHdr::load(const uint8_t* p) {
  VnetHdr h;
  h.flags = p[0];
  h.gso_type = p[1];
  h.hdr_len = load_host16(p + 2);
  h.gso_size = load_host16(p + 4);
  h.csum_start = load_host16(p + 6);
  h.csum_offset = load_host16(p + 8);
  return h;
}

void VnetHdr::store(uint8_t* p) const {
  p[0] = flags;
  p[1] = gso_type;
  store_host16(p + 2, hdr_len);
  store_host16(p + 4, gso_size);
  store_host16(p + 6, csum_start);
  store_host16(p + 8, csum_offset);
}

// RFC 1071 section 2(B): the one's-complement sum does not depend on byte
// order, so words are added as the machine loads them (32 bits at a time
// into a 64-bit accumulator, which the compiler can vectorise) and the
// folded result is swapped to network order once at the end.
uint32_t checksum_add(Bytes data, uint32_t sum) {
  constexpr bool kLittle = std::endian::native == std::endian::little;
  const auto swap16 = [](uint64_t v) { return ((v & 0xffu) << 8) | (v >> 8); };
  uint64_t acc = kLittle ? swap16(checksum_fold(sum)) : checksum_fold(sum);
  const uint8_t* p = data.data();
  size_t n = data.size();
  for (; n >= 4; n -= 4, p += 4) {
    uint32_t w = 0;
    std::memcpy(&w, p, 4);
    acc += w;
  }
  if (n >= 2) {
    uint16_t w = 0;
    std::memcpy(&w, p, 2);
    acc += w;
    n -= 2;
    p += 2;
  }
  if (n == 1) acc += kLittle ? uint64_t{p[0]} : uint64_t{p[0]} << 8;  // the high byte of a zero-padded word
  while (acc >> 16) acc = (acc & 0xffffu) + (acc >> 16);
  return static_cast<uint32_t>(kLittle ? swap16(acc) : acc);
}

uint16_t checksum_fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffffu) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

uint32_t pseudo_header_sum(int version, const uint8_t* src, const uint8_t* dst, uint8_t proto, size_t l4_len) {
  const size_t alen = version == 4 ? 4 : 16;
  uint32_t sum = checksum_add(Bytes(src, alen));
  sum = checksum_add(Bytes(dst, alen), sum);
  return checksum_fold(sum + proto + static_cast<uint32_t>(l4_len >> 16) + static_cast<uint32_t>(l4_len & 0xffffu));
}

bool complete_checksum(MutableBytes packet, size_t csum_start, size_t csum_offset) {
  if (csum_start > packet.size() || csum_offset + 2 > packet.size() - csum_start) return false;
  uint16_t c = static_cast<uint16_t>(~checksum_fold(checksum_add(packet.subspan(csum_start))));
  if (c == 0 && csum_offset == 6) c = 0xffff;  // UDP: 0 would mean "no checksum"
  store_be16(&packet[csum_start + csum_offset], c);
  return true;
}

size_t tcp_headers_length(Bytes p) {
  const size_t l4 = tcp_offset(p);
  if (l4 == 0 || p.size() < l4 + kTcpMinHeader) return 0;
  const size_t headers = l4 + static_cast<size_t>(p[l4 + 12] >> 4) * 4;
  return headers >= l4 + kTcpMinHeader && headers <= p.size() ? headers : 0;
}

std::optional<size_t> split_tcp_gso(const VnetHdr& hdr, Bytes p, const SegmentRoom& next_buffer,
                                    const SegmentDone& emit) {
  const uint8_t type = hdr.gso_type & static_cast<uint8_t>(~VnetHdr::kGsoEcn);
  const size_t l4 = tcp_offset(p);
  if (l4 == 0) return std::nullopt;
  const int version = p[0] >> 4;
  if ((version == 4) != (type == VnetHdr::kGsoTcpV4) || (version == 6) != (type == VnetHdr::kGsoTcpV6)) {
    return std::nullopt;
  }
  if (p.size() < l4 + kTcpMinHeader) return std::nullopt;
  const size_t thlen = static_cast<size_t>(p[l4 + 12] >> 4) * 4;
  const size_t headers = l4 + thlen;
  const size_t gso = hdr.gso_size;
  if (thlen < kTcpMinHeader || headers > p.size() || gso == 0) return std::nullopt;

  const size_t payload = p.size() - headers;
  const size_t count = payload == 0 ? 1 : (payload + gso - 1) / gso;
  const uint32_t seq0 = load_be32(&p[l4 + 4]);
  const uint16_t id0 = version == 4 ? load_be16(&p[4]) : 0;
  const uint8_t flags0 = p[l4 + 13];
  for (size_t i = 0; i < count; ++i) {
    const size_t off = i * gso;
    const size_t chunk = std::min(gso, payload - off);
    const size_t size = headers + chunk;
    MutableBytes out = next_buffer(size);
    if (out.size() < size) return std::nullopt;
    uint8_t* s = out.data();
    std::memcpy(s, p.data(), headers);
    std::memcpy(s + headers, p.data() + headers + off, chunk);
    if (version == 4) {
      store_be16(s + 2, static_cast<uint16_t>(size));
      store_be16(s + 4, static_cast<uint16_t>(id0 + i));
      set_ipv4_checksum(s, l4);
    } else {
      store_be16(s + 4, static_cast<uint16_t>(size - kIpv6Header));
    }
    uint8_t* tcp = s + l4;
    store_be32(tcp + 4, seq0 + static_cast<uint32_t>(off));
    uint8_t flags = flags0;
    if (i + 1 < count) flags &= static_cast<uint8_t>(~(kTcpFin | kTcpPsh));
    if (i > 0) flags &= static_cast<uint8_t>(~kTcpCwr);
    tcp[13] = flags;
    store_be16(tcp + kTcpChecksumOffset, 0);
    const uint32_t sum = pseudo_header_sum(version, s + (version == 4 ? 12 : 8), s + (version == 4 ? 16 : 24),
                                           kProtoTcp, size - l4);
    store_be16(tcp + kTcpChecksumOffset,
               static_cast<uint16_t>(~checksum_fold(checksum_add(Bytes(tcp, size - l4), sum))));
    emit(size);
  }
  return count;
}

// --- Coalescing -------------------------------------------------------------------

struct TcpCoalescer::TcpView {
  MutableBytes packet;
  int version;
  size_t l4;
  size_t headers;
  size_t payload;
  uint32_t seq;
  uint8_t flags;
};

// A packet that may start or join a run: TCP with payload, ACK set, and no
// SYN/FIN/RST/URG/CWR (those end merging, as in the kernel's tcp_gro_receive).
std::optional<TcpCoalescer::TcpView> TcpCoalescer::parse(MutableBytes p) {
  const size_t l4 = tcp_offset(p);
  if (l4 == 0 || p.size() < l4 + kTcpMinHeader) return std::nullopt;
  const int version = p[0] >> 4;
  const size_t total = version == 4 ? load_be16(&p[2]) : kIpv6Header + load_be16(&p[4]);
  const size_t thlen = static_cast<size_t>(p[l4 + 12] >> 4) * 4;
  if (total != p.size() || thlen < kTcpMinHeader || l4 + thlen >= total) return std::nullopt;
  if (version == 4 && l4 != kIpv4Header) return std::nullopt;  // IPv4 options: never merged (as the kernel's GRO)
  const uint8_t flags = p[l4 + 13];
  if ((flags & kTcpAck) == 0 || (flags & (kTcpSyn | kTcpFin | kTcpRst | kTcpUrg | kTcpCwr)) != 0) {
    return std::nullopt;
  }
  return TcpView{p, version, l4, l4 + thlen, total - l4 - thlen, load_be32(&p[l4 + 4]), flags};
}

bool TcpCoalescer::try_append(Run& run, const TcpView& t) {
  const uint8_t* a = run.segments[0].data;
  const uint8_t* b = t.packet.data();
  if (run.closed || t.version != run.version || t.headers != run.headers || t.seq != run.next_seq ||
      t.payload > run.gso_size || run.total + t.payload > kMaxMerged || run.segments.size() >= kMaxSegments) {
    return false;
  }
  if (t.version == 4) {
    // Same TOS, DF and TTL (the ID may differ: we rewrite none of it).
    if (a[1] != b[1] || (a[6] & 0x40) != (b[6] & 0x40) || a[8] != b[8]) return false;
  } else if (std::memcmp(a, b, 4) != 0 || a[7] != b[7]) {  // traffic class, flow label, hop limit
    return false;
  }
  const uint8_t* ta = a + run.l4_offset;
  const uint8_t* tb = b + t.l4;
  // Same flow is checked by the caller; same ACK, flags (but PSH) and options.
  if (std::memcmp(ta + 8, tb + 8, 4) != 0 || ta[12] != tb[12] || ((ta[13] ^ tb[13]) & ~kTcpPsh) != 0 ||
      std::memcmp(ta + kTcpMinHeader, tb + kTcpMinHeader, t.headers - t.l4 - kTcpMinHeader) != 0) {
    return false;
  }
  run.segments.push_back({t.packet.data() + t.headers, t.payload});
  run.total += t.payload;
  run.next_seq = t.seq + static_cast<uint32_t>(t.payload);
  uint8_t* first_tcp = run.segments[0].data + run.l4_offset;
  std::memcpy(first_tcp + 14, tb + 14, 2);  // the newest window
  if (tb[13] & kTcpPsh) first_tcp[13] |= kTcpPsh;
  if (t.payload < run.gso_size || (tb[13] & kTcpPsh)) run.closed = true;
  return true;
}

void TcpCoalescer::start_run(Run& run, const TcpView& t) {
  run.segments.clear();
  run.segments.push_back({t.packet.data(), t.packet.size()});
  run.version = t.version;
  run.l4_offset = t.l4;
  run.headers = t.headers;
  run.gso_size = t.payload;
  run.total = t.packet.size();
  run.next_seq = t.seq + static_cast<uint32_t>(t.payload);
  run.closed = (t.flags & kTcpPsh) != 0;
}

void TcpCoalescer::write_single(MutableBytes packet) {
  hdr_buf_.fill(0);
  iov_.assign({{hdr_buf_.data(), hdr_buf_.size()}, {packet.data(), packet.size()}});
  write_(iov_.data(), iov_.size());
}

void TcpCoalescer::write_run(Run& run) {
  if (run.segments.size() == 1) return write_single(MutableBytes(run.segments[0].data, run.segments[0].len));
  uint8_t* s = run.segments[0].data;
  const bool v4 = run.version == 4;
  if (v4) {
    store_be16(s + 2, static_cast<uint16_t>(run.total));
    set_ipv4_checksum(s, run.l4_offset);
  } else {
    store_be16(s + 4, static_cast<uint16_t>(run.total - kIpv6Header));
  }
  // A partial checksum, as CHECKSUM_PARTIAL wants it: the pseudo-header sum,
  // not complemented; the kernel finishes it per segment (or not at all when
  // the packet is for this host).
  const uint32_t pseudo = pseudo_header_sum(run.version, s + (v4 ? 12 : 8), s + (v4 ? 16 : 24), kProtoTcp,
                                            run.total - run.l4_offset);
  store_be16(s + run.l4_offset + kTcpChecksumOffset, checksum_fold(pseudo));
  VnetHdr h;
  h.flags = VnetHdr::kNeedsCsum;
  h.gso_type = v4 ? VnetHdr::kGsoTcpV4 : VnetHdr::kGsoTcpV6;
  h.hdr_len = static_cast<uint16_t>(run.headers);
  h.gso_size = static_cast<uint16_t>(run.gso_size);
  h.csum_start = static_cast<uint16_t>(run.l4_offset);
  h.csum_offset = kTcpChecksumOffset;
  h.store(hdr_buf_.data());
  iov_.clear();
  iov_.push_back({hdr_buf_.data(), hdr_buf_.size()});
  for (const Segment& seg : run.segments) iov_.push_back({seg.data, seg.len});
  write_(iov_.data(), iov_.size());
}

void TcpCoalescer::add(MutableBytes packet) {
  auto t = parse(packet);
  // Which open run is this packet's flow (same addresses and ports)?
  size_t found = open_;
  const size_t l4 = t ? t->l4 : tcp_offset(packet);
  if (l4 != 0 && packet.size() >= l4 + 4) {
    const int version = packet[0] >> 4;
    const size_t alen = version == 4 ? 4 : 16;
    const size_t aoff = version == 4 ? 12 : 8;
    for (size_t i = 0; i < open_; ++i) {
      const uint8_t* r = runs_[i].segments[0].data;
      if (runs_[i].version == version && std::memcmp(r + aoff, &packet[aoff], 2 * alen) == 0 &&
          std::memcmp(r + runs_[i].l4_offset, &packet[l4], 4) == 0) {
        found = i;
        break;
      }
    }
  }
  if (found < open_) {
    if (t && try_append(runs_[found], *t)) return;
    // The flow's earlier segments go first, then this packet on its own terms.
    write_run(runs_[found]);
    std::rotate(runs_.begin() + static_cast<ptrdiff_t>(found), runs_.begin() + static_cast<ptrdiff_t>(found) + 1,
                runs_.begin() + static_cast<ptrdiff_t>(open_));
    --open_;
  }
  if (!t) return write_single(packet);
  if (open_ == kMaxRuns) {
    write_run(runs_[0]);
    std::rotate(runs_.begin(), runs_.begin() + 1, runs_.end());
    --open_;
  }
  start_run(runs_[open_++], *t);
}

void TcpCoalescer::flush() {
  for (size_t i = 0; i < open_; ++i) write_run(runs_[i]);
  open_ = 0;
}

}  // namespace sitelink::tunnel
