// WireGuard's cross-platform userspace API (UAPI), the text protocol that
// `wg` speaks to /run/wireguard/IFACE.sock (wireguard.com/xplatform; the role
// of wireguard-go's device/uapi.go and wireguard-tools' ipc-uapi.h). Pure:
// no I/O; the socket is control_socket.{h,cc}, the client `sitelink show`.
//
//   get:  "get=1\n\n"  ->  device lines, then per peer "public_key=..." and
//         its lines, then "errno=0\n\n".
//   set:  "set=1\n" KEY=VALUE lines "\n"  ->  "errno=N\n\n".
//
// Keys are 64 lowercase hex digits (upper case is accepted on input, as Go's
// hex does). On the wire a failure is a NEGATIVE errno ("errno=-22"), as
// wireguard-go writes it and as `wg` expects (it negates the number it reads;
// a positive one would look like success). Everywhere in this API errnos are
// positive (EINVAL); format_errno() does the negation.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/diagnostic.h"
#include "config/ip_prefix.h"
#include "handshake/base/result.h"
#include "handshake/base/time.h"
#include "handshake/keys.h"
#include "tunnel/sock_addr.h"

namespace sitelink::daemon {

// ---- get -------------------------------------------------------------------

struct UapiPeerState {
  handshake::PublicKey public_key;
  handshake::PresharedKey preshared_key;  // all zeros: none
  std::optional<tunnel::SockAddr> endpoint;
  std::optional<WallTime> last_handshake;  // none: written as 0 / 0
  uint64_t tx_bytes = 0;
  uint64_t rx_bytes = 0;
  uint16_t persistent_keepalive = 0;  // seconds; 0 = off
  std::vector<config::IpPrefix> allowed_ips;
};

struct UapiState {
  std::optional<handshake::PrivateKey> private_key;  // absent or zero: not written
  uint16_t listen_port = 0;                          // 0: not written (as wireguard-go)
  uint32_t fwmark = 0;                               // 0: not written
  std::vector<UapiPeerState> peers;
};

// The body of a get answer: one "key=value\n" line each, in wireguard-go's
// order. WITHOUT the trailing "errno=0\n\n" (append format_errno(0)). It
// holds the keys: its capacity leaves room for that line, so appending it
// does not leave an unwiped copy behind; wipe it after use.
std::string format_get(const UapiState& state);

// format_get without the private_key= and preshared_key= lines, whatever
// `state` holds: the status socket's answer (control_socket.h). parse_get
// reads it back (no private key, every preshared key zero).
std::string format_public_get(const UapiState& state);
// `state` without its secrets: no private key, every preshared key zero.
UapiState without_secrets(UapiState state);

// Parses a get answer (what format_get writes, optionally followed by
// "errno=N" and a blank line; parsing stops at the blank line). Unknown keys
// are skipped, as `wg` skips them. A non-zero errno or a malformed line is an
// error with a message ("line 3: bad endpoint").
[[nodiscard]] Result<UapiState, std::string> parse_get(std::string_view text);

// ---- set -------------------------------------------------------------------

// One peer section of a set request, starting at its "public_key=" line.
// Applying it (UapiBackend::set) follows wireguard-go:
//   - remove: remove the peer; ignore everything else in the section.
//   - a peer whose key is the interface's own public key is ignored.
//   - update_only: if the peer does not exist, skip the section.
//   - otherwise create the peer if needed, then set what is present.
//   - replace_allowed_ips: drop the peer's allowed IPs before adding
//     allowed_ips. (Allowed IPs listed BEFORE replace_allowed_ips=true in the
//     section are already discarded by the parser, so order is preserved.)
//   - an allowed IP that belongs to another peer moves to this one.
//   - persistent_keepalive turning from 0 to non-zero sends a keepalive now.
struct UapiPeerSet {
  handshake::PublicKey public_key;
  bool remove = false;
  bool update_only = false;
  bool replace_allowed_ips = false;
  std::optional<handshake::PresharedKey> preshared_key;  // all zeros: remove the psk
  std::optional<tunnel::SockAddr> endpoint;
  std::optional<uint16_t> persistent_keepalive;
  std::vector<config::IpPrefix> allowed_ips;  // canonical (host bits cleared), in request order
};

struct UapiSet {
  // A zero key (PrivateKey{}, is_zero()) means "remove the private key", as
  // `wg set IFACE private-key /dev/null` sends 64 zeros. A non-zero key is
  // clamped.
  std::optional<handshake::PrivateKey> private_key;
  std::optional<uint16_t> listen_port;  // 0: any free port
  std::optional<uint32_t> fwmark;       // 0: no mark
  bool replace_peers = false;           // remove every peer before the sections below
  std::vector<UapiPeerSet> peers;       // in request order; a key may appear twice
};

// Limits on what one request may hold (beyond them: a positive errno, and
// the request is refused whole). A line (wg writes none longer than about
// 100 bytes) and, per interface, peers and allowed IPs (config/types.h;
// also checked against the configuration a request would lead to).
inline constexpr size_t kUapiMaxLine = 4096;

// A set request's body parsed as it arrives, line by line: memory is bounded
// by the longest line and the request built so far, however the bytes are
// cut. Errors are positive errnos, as wireguard-go chooses them: EPROTO for
// a line without '=', EINVAL for anything else (unknown key, peer key before
// public_key, bad hex, number out of range, bad endpoint or allowed IP,
// "remove=yes"...); and beyond the limits EMSGSIZE (a line longer than
// kUapiMaxLine) or E2BIG (more than config::kMaxPeers peer sections or
// config::kMaxAllowedIps allowed IPs). After the first error the rest of the
// request is read to its end (nothing parsed, nothing kept), so that the
// client, which writes its whole request before it reads, gets its answer.
// Lines may hold keys: whatever is kept of them is wiped.
class UapiSetStream {
 public:
  // parse = false: only find the request's end (a request refused unread).
  explicit UapiSetStream(bool parse = true);
  ~UapiSetStream();
  UapiSetStream(const UapiSetStream&) = delete;
  UapiSetStream& operator=(const UapiSetStream&) = delete;

  // Takes the next bytes of the body (what follows "set=1\n"); returns how
  // many it used: all of them, or fewer once the blank line that ends the
  // request is taken (the rest is the next request).
  size_t feed(std::string_view data);
  // End of input: a body without its blank line is complete as it stands
  // (its last line may lack the '\n'), as wireguard-go's line scanner takes it.
  void finish();
  bool complete() const { return complete_; }
  // Bytes of the body taken so far.
  size_t size() const { return size_; }
  // Once complete(): the request, or the positive errno of its first error
  // (why() describes it, never with a value: "line 3: endpoint is not ...").
  [[nodiscard]] Result<UapiSet, int> take();
  const std::string& why() const { return why_; }

 private:
  class Parser;
  void end_of_line();

  std::unique_ptr<Parser> parser_;  // null once an error is found, or if not parsing
  std::string line_;                // the line being received (wiped)
  bool line_too_long_ = false;
  bool line_empty_ = true;  // no byte of the current line yet
  bool complete_ = false;
  int err_ = 0;
  int line_number_ = 0;
  size_t size_ = 0;
  std::string why_;
};

// A whole set request body at once (UapiSetStream fed in one piece, then
// finished): the lines after "set=1\n", each ending in '\n' (the last one
// may lack it); parsing stops at an empty line. `why`, when given, receives
// the error's description.
[[nodiscard]] Result<UapiSet, int> parse_set(std::string_view body, std::string* why = nullptr);

// Formats a request back into UAPI text (without "set=1\n" and the final
// blank line). For tests and tools; parse_set(format_set(s)) == s.
std::string format_set(const UapiSet& set);

// "errno=0\n\n", "errno=-22\n\n": the last lines of every answer.
std::string format_errno(int err);

// ---- framing (used by the control socket) ------------------------------------

enum class UapiOp {
  kGet,      // "get=1\n\n"
  kSet,      // "set=1\n", its body follows (UapiSetStream)
  kBadGet,   // "get=1\n" then a byte other than '\n': answer EINVAL, go on
  kStatus,   // "get=sitelink\n\n": sitelink's own status extension (names, packets, drops)
  kUnknown,  // any other first line: close the connection without an answer
};

struct UapiFrame {
  UapiOp op;
  size_t consumed;  // bytes of the buffer the operation's first line(s) used
};

// The operation at the front of `buffer`: a get request whole (its blank
// line included), a set request's "set=1\n" only; nullopt if more bytes are
// needed. An unfinished get at `eof`, or a first line longer than any
// operation's, is kUnknown.
std::optional<UapiFrame> next_frame(std::string_view buffer, bool eof);

// ---- the daemon side -------------------------------------------------------

// The interface's part of a get answer and its peers' keys, in order.
struct UapiDeviceState {
  std::optional<handshake::PrivateKey> private_key;  // absent or zero: not written
  uint16_t listen_port = 0;
  uint32_t fwmark = 0;
  std::vector<handshake::PublicKey> peers;
};

// What a control socket serves. Called on the event loop's thread, one
// request at a time; must not block.
class UapiBackend {
 public:
  UapiBackend() = default;
  virtual ~UapiBackend();
  UapiBackend(const UapiBackend&) = delete;
  UapiBackend& operator=(const UapiBackend&) = delete;
  // A get answer is written piece by piece as the client reads it
  // (UapiGetStream): the interface and the list of peers first, then each
  // peer as its turn comes (nullopt: it is gone since; it is left out).
  virtual UapiDeviceState get_device() = 0;
  virtual std::optional<UapiPeerState> get_peer(const handshake::PublicKey& key) = 0;
  // The whole state at once (get_device, then get_peer for each).
  UapiState get();
  // Applies a parsed request (see UapiPeerSet for the semantics). Returns 0
  // or a positive errno (EADDRINUSE if listen_port cannot be bound, E2BIG if
  // the configuration would hold more peers or allowed IPs than the
  // limits, ...). Ideally all or nothing; wireguard-go leaves earlier lines
  // applied.
  virtual int set(const UapiSet& request) = 0;
  // "get=sitelink": what `wg` has no words for, in the same key=value form
  // (stock `wg` refuses unknown keys, so these never go into get=1):
  //   drop=REASON:COUNT                     (interface-wide, repeated)
  //   batch_io= udp_gso= udp_gro= tun_offload= 1|0: each data-path technique
  //                    as actually in effect now (a kernel that lacks one,
  //                    or refuses it at run time, turns it off)
  //   socket_rcvbuf= socket_sndbuf= bytes the kernel granted; crypto_threads=
  //   mss_clamped=N    TCP SYNs whose MSS option was lowered (mss-clamp)
  //   interface_public_key=HEX  the interface's own public key (first;
  //                    absent while it has no private key), so that a
  //                    client without the private key can name it
  //   warning=TEXT     what the host does not do that the configuration
  //                    needs (forwarding off), repeated
  //   public_key=HEX   starts a peer; then name=, rx_packets=, tx_packets=,
  //                    handshakes= (sessions established), handshake_attempts=, unanswered_initiations= (sent
  //                    since its last session) and unanswered_since= (the
  //                    first of them), last_receive= (its last data),
  //                    send_error= (errno of the last refused send) and
  //                    send_error_time=; source= (the local address its
  //                    packets arrive on and replies leave from),
  //                    since_last_receive= (seconds since anything
  //                    authenticated came), path_alive=1|0, and with an
  //                    endpoint list endpoint_entry=STATE,LAST_TRIED,IN_USE,LABEL
  //                    per entry and endpoint_switches=; with `netmap:`
  //                    netmap=SIDE PREFIX seen-as PREFIX per entry and
  //                    netmap_packets=OUT,IN (packets translated); times in
  //                    seconds since the epoch
  virtual std::string status() { return {}; }
};

// A get answer (format_get's text, then "errno=0\n\n") produced piece by
// piece as the client takes it, so that neither memory nor the time spent
// at once grows with the size of the configuration: the interface's lines
// and the list of peers are taken at the start, each peer when its turn
// comes, and its allowed IPs are written a piece at a time. A peer removed
// meanwhile is left out; one added meanwhile is not listed; each peer's own
// lines are as they were at its turn. Pieces may hold keys (secrets: true):
// the caller wipes what it was given.
class UapiGetStream {
 public:
  // secrets = false: without private_key= and preshared_key= lines (the
  // status socket's answer, format_public_get).
  UapiGetStream(UapiBackend& backend, bool secrets);
  // Appends the next piece, about `budget` bytes (at least one line) to
  // `out`; the last piece ends with the errno line.
  void next(std::string& out, size_t budget);
  bool done() const { return done_; }

 private:
  UapiBackend& backend_;
  bool secrets_;
  std::optional<UapiDeviceState> device_;  // until its lines are written
  std::vector<handshake::PublicKey> keys_;
  size_t next_peer_ = 0;
  std::optional<UapiPeerState> peer_;  // the peer being written
  size_t next_allowed_ip_ = 0;
  bool done_ = false;
};

// Extra per-peer facts from get=sitelink, keyed by the peer's hex key.
struct SitelinkPeerStatus {
  std::string name;
  uint64_t rx_packets = 0;
  uint64_t tx_packets = 0;
  uint64_t handshake_attempts = 0;
  uint64_t handshakes = 0;  // sessions established since the peer was added
  // Seconds since the epoch; 0: never / none.
  uint64_t unanswered_initiations = 0;
  uint64_t unanswered_since = 0;
  uint64_t last_receive = 0;
  int send_errno = 0;
  uint64_t send_error_time = 0;
  std::string source;                          // empty: the kernel's choice
  std::optional<uint64_t> since_last_receive;  // seconds
  std::optional<bool> path_alive;              // nullopt: not reported
  struct Entry {
    std::string state;  // "untried", "answering", "not answering"
    uint64_t last_tried = 0;
    bool in_use = false;
    std::string label;
  };
  std::vector<Entry> endpoints;  // `endpoints:` only
  uint64_t endpoint_switches = 0;
  struct Mapping {
    std::string side;  // "peer" or "local"
    std::string prefix;
    std::string seen_as;
  };
  std::vector<Mapping> netmap;  // `netmap:` only
  uint64_t netmap_out = 0;      // packets translated to the peer
  uint64_t netmap_in = 0;       // and from it
};
// The data path as in effect (get=sitelink), nullopt where not reported
// (another daemon, or an older sitelinkd).
struct DataPathStatus {
  std::optional<bool> batch_io, udp_gso, udp_gro, tun_offload;
  std::optional<uint64_t> socket_rcvbuf, socket_sndbuf, crypto_threads;
};
struct SitelinkStatus {
  std::optional<handshake::PublicKey> public_key;       // the interface's own (interface_public_key=)
  std::vector<std::pair<std::string, uint64_t>> drops;  // reason, count
  std::vector<std::string> warnings;
  DataPathStatus data_path;
  std::optional<uint64_t> mss_clamped;
  std::vector<std::pair<handshake::PublicKey, SitelinkPeerStatus>> peers;
};
// Lenient: unknown keys and malformed lines are skipped (it is informational).
SitelinkStatus parse_status(std::string_view text);

// ---- hex keys ----------------------------------------------------------------

std::string key_to_hex(std::span<const uint8_t, handshake::kKeySize> key);
// Exactly 64 hex digits (either case) into `out`; false otherwise.
[[nodiscard]] bool key_from_hex(std::string_view hex, std::span<uint8_t, handshake::kKeySize> out);

}  // namespace sitelink::daemon
