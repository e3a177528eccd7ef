// TUN offloads without the kernel's help on our side of the device: the
// pure packet surgery behind IFF_VNET_HDR (see tun_device.h).
//
//   Outbound: with TSO on, the kernel hands the TUN one TCP "super-packet" of
//   up to 64 KiB plus a virtio_net_hdr saying how to cut it (gso_size). We
//   cut it into MTU-sized segments, each with its own IP and TCP header and a
//   full checksum, before they are encrypted one by one (split_tcp_gso).
//   Packets handed to us with a partial checksum (VIRTIO_NET_HDR_F_NEEDS_CSUM)
//   are completed (complete_checksum).
//
//   Inbound: consecutive decrypted segments of one TCP flow are merged back
//   into one super-packet (TcpCoalescer) and written with a virtio_net_hdr,
//   so the kernel's TCP stack handles one large packet instead of forty. As
//   the kernel does for WireGuard's decrypted packets (CHECKSUM_UNNECESSARY),
//   the segments' own checksums are not verified: the AEAD already
//   authenticated every byte.
//
// Everything here works on caller buffers and has no system calls, so it is
// unit-tested and fuzzed directly.
#pragma once

#include <sys/uio.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "handshake/base/bytes.h"

namespace sitelink::tunnel {

// struct virtio_net_hdr, in host byte order (TUN's default on little-endian
// hosts; we never set TUNSETVNETBE).
struct VnetHdr {
  uint8_t flags = 0;
  uint8_t gso_type = 0;
  uint16_t hdr_len = 0;
  uint16_t gso_size = 0;
  uint16_t csum_start = 0;
  uint16_t csum_offset = 0;

  static constexpr size_t kSize = 10;
  static constexpr uint8_t kNeedsCsum = 1;  // VIRTIO_NET_HDR_F_NEEDS_CSUM
  static constexpr uint8_t kGsoNone = 0;    // VIRTIO_NET_HDR_GSO_NONE
  static constexpr uint8_t kGsoTcpV4 = 1;   // VIRTIO_NET_HDR_GSO_TCPV4
  static constexpr uint8_t kGsoTcpV6 = 4;   // VIRTIO_NET_HDR_GSO_TCPV6
  static constexpr uint8_t kGsoEcn = 0x80;  // VIRTIO_NET_HDR_GSO_ECN

  static VnetHdr load(const uint8_t* p);
  void store(uint8_t* p) const;
};

// RFC 1071 one's-complement sum helpers.
uint32_t checksum_add(Bytes data, uint32_t sum = 0);
uint16_t checksum_fold(uint32_t sum);
// The TCP/UDP pseudo-header sum (not folded) for a packet of IP version 4
// or 6 whose addresses start at `src`/`dst`.
uint32_t pseudo_header_sum(int version, const uint8_t* src, const uint8_t* dst, uint8_t proto, size_t l4_len);

// Completes a partial checksum: the one's complement of the sum from
// csum_start to the end is stored at csum_start + csum_offset. False if the
// offsets do not fit the packet.
bool complete_checksum(MutableBytes packet, size_t csum_start, size_t csum_offset);

// Cuts a TCP super-packet (hdr.gso_type TCPV4/TCPV6) into segments of at
// most hdr.gso_size payload bytes. For each segment `next_buffer(size)`
// returns room for it (at least `size` bytes), the segment is written there
// and `emit(size)` is called; both are called once per segment, in order.
// Returns the number of segments, or nullopt if the packet or header is
// malformed (nothing emitted) or a buffer was too small (emitting stops).
// The IP + TCP header length of a super-packet split_tcp_gso would cut
// (each segment is that plus up to gso_size bytes), or 0 if it would refuse
// it. The kernel's hdr_len is only a hint: for super-packets merged by GRO
// on a forwarding path it covers the whole first packet.
size_t tcp_headers_length(Bytes packet);

using SegmentRoom = std::function<MutableBytes(size_t size)>;
using SegmentDone = std::function<void(size_t size)>;
std::optional<size_t> split_tcp_gso(const VnetHdr& hdr, Bytes packet, const SegmentRoom& next_buffer,
                                    const SegmentDone& emit);

// Merges runs of in-order TCP segments of the same flow. Feed it complete,
// checksummed IP packets in arrival order with add(); it calls `write`
// with a gather list (virtio_net_hdr first, then the packet bytes) for each
// packet or merged super-packet, keeping the order of every flow. Packets
// must stay valid (and may be modified in place: the first packet of a run
// gets the merged header) until flush() returns.
class TcpCoalescer {
 public:
  using Writer = std::function<void(const struct iovec* iov, size_t count)>;
  explicit TcpCoalescer(Writer write = {}) : write_(std::move(write)) {}
  void set_writer(Writer write) { write_ = std::move(write); }

  void add(MutableBytes packet);
  void flush();

  // Limits: a merged packet stays within 64 KiB and at most kMaxSegments.
  static constexpr size_t kMaxSegments = 64;
  static constexpr size_t kMaxMerged = 65535;
  static constexpr size_t kMaxRuns = 8;

 private:
  struct Segment {
    uint8_t* data;
    size_t len;
  };
  struct Run {
    std::vector<Segment> segments;  // [0] is the whole first packet; the rest payload only
    int version = 0;
    size_t l4_offset = 0;  // IP header length
    size_t headers = 0;    // IP + TCP header length
    size_t gso_size = 0;   // payload of the first segment
    size_t total = 0;      // bytes of the merged packet
    uint32_t next_seq = 0;
    bool closed = false;  // a short or PSH segment ended it
  };
  struct TcpView;

  static std::optional<TcpView> parse(MutableBytes packet);
  bool try_append(Run& run, const TcpView& t);
  void start_run(Run& run, const TcpView& t);
  void write_run(Run& run);
  void write_single(MutableBytes packet);

  Writer write_;
  std::array<Run, kMaxRuns> runs_{};
  size_t open_ = 0;  // runs_[0..open_) are in use, oldest first
  std::vector<struct iovec> iov_;
  std::array<uint8_t, VnetHdr::kSize> hdr_buf_{};
};

}  // namespace sitelink::tunnel
