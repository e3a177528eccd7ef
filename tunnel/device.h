// Device: where the protocol core meets I/O. It owns the peers (one
// PeerMachine each), the cryptokey routing table, the index table, the
// cookie checker and the handshake rate limiter, and moves packets:
//
//   TUN -> route by destination (AllowedIps) -> PeerMachine::send -> UDP
//   UDP -> classify -> mac1 (+ mac2 / rate limit under load) -> peer by
//          static key or receiver index -> PeerMachine::receive_* -> TUN,
//          only if the inner source is one of that peer's allowed-ips
//
// It never blocks and never reads a clock except through Clock; the event
// loop calls the handle_* functions when the TUN or UDP fd is readable or
// the deadline has passed. Every dropped packet is counted by reason.
#pragma once

#include <array>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "handshake/base/secret.h"
#include "handshake/cookie.h"
#include "handshake/peer.h"
#include "tunnel/allowed_ips.h"
#include "tunnel/audit_events.h"
#include "tunnel/clock.h"
#include "tunnel/crypto_pool.h"
#include "tunnel/endpoint_failover.h"
#include "tunnel/index_table.h"
#include "tunnel/log.h"
#include "tunnel/mss_clamp.h"
#include "tunnel/netmap_table.h"
#include "tunnel/ratelimiter.h"
#include "tunnel/slot_arena.h"
#include "tunnel/sock_addr.h"
#include "tunnel/tun_device.h"
#include "tunnel/udp_socket.h"

namespace sitelink::tunnel {

enum class Drop : uint8_t {
  kTunNoRoute,    // no peer's allowed-ips contains the destination
  kTunBadPacket,  // not an IPv4/IPv6 packet
  kNoEndpoint,    // the peer has no known endpoint yet
  kSendFailed,    // the UDP send failed
  kMalformed,     // wrong type or length (messages::classify)
  kInvalidMac1,
  kCookieSent,        // under load without a valid mac2: answered with a cookie
  kRateLimited,       // under load and over the per-source handshake rate
  kUnknownPeer,       // initiation from a static key we do not know
  kUnknownIndex,      // receiver index matches nothing of ours
  kHandshakeRefused,  // replayed/flooded initiation, bad response, ...
  kDecryptFailed,     // a transport packet did not authenticate
  kReplay,            // counter already seen or too old
  kExpiredKeypair,
  kSourceNotAllowed,  // decrypted, but the inner source is not the peer's
  kBadInnerPacket,    // decrypted, but not a valid IP packet
  kTunWriteFailed,
  kNoPrivateKey,  // the interface has no private key yet (cross-platform mode)
  kOverBudget,    // under load, beyond the device-wide handshake budget
  kTunIpv6Local,  // the host's own IPv6 link-local or multicast (router solicitations, MLD)
                  // with no route: normal on any new interface, not a fault
  kEcnCeNotEct,   // arrived marked CE (congestion) outside, but the inner packet is Not-ECT:
                  // RFC 6040 says drop, as the congested router would have
  kCount,
};
std::string_view to_string(Drop d);

struct PeerSpec {
  handshake::PublicKey public_key;
  handshake::PresharedKey preshared_key;
  std::optional<SockAddr> endpoint;
  std::vector<config::IpPrefix> allowed_ips;
  std::chrono::seconds persistent_keepalive{0};
  std::string name;  // label for logs; may be empty
  // `endpoints:` resolved, in order of preference (then `endpoint` is not
  // used): the peer fails over down the list and back (EndpointFailover).
  std::vector<EndpointChoice> endpoints{};
  // `netmap:`: 1:1 prefix mappings (NetmapTable); allowed-ips stay as on the wire.
  Netmap netmap{};
};

struct PeerStatus {
  handshake::PublicKey public_key;
  handshake::PresharedKey preshared_key;  // for UAPI get, which reports it
  std::string label;
  std::optional<SockAddr> endpoint;
  std::vector<config::IpPrefix> allowed_ips;
  std::chrono::seconds persistent_keepalive{0};
  handshake::PeerStats stats;
  bool has_session = false;
  int handshake_attempts = 0;  // retransmissions of an unanswered initiation
  // Why a peer is not up (sitelink show's state reason): initiations sent
  // since the last session and when the first went out; when data last
  // came from it; the errno of the last send the kernel refused, and when.
  int unanswered_initiations = 0;
  std::optional<WallTime> unanswered_since;
  std::optional<WallTime> last_receive;
  int send_errno = 0;
  std::optional<WallTime> send_error_at;
  // The local address its packets arrive on, which replies leave from.
  LocalAddr source;
  // Health: when data last came, and whether the path counts as alive
  // (not: data sent for failover-after with nothing back).
  std::optional<Instant> last_receive_mono;
  bool path_alive = true;
  // With `endpoints:`: the list and each entry's state, which is in use
  // (none: the peer roamed elsewhere), and how often that changed.
  std::vector<EndpointFailover::Entry> endpoints;
  std::optional<size_t> active_endpoint;
  uint64_t endpoint_switches = 0;
  // `netmap:` and the packets translated each way.
  Netmap netmap;
  uint64_t netmap_out = 0;
  uint64_t netmap_in = 0;
};

class Device {
 public:
  struct Settings {
    size_t mtu = 1420;
    std::chrono::seconds rekey_after_time = std::chrono::seconds(120);
    // TCP SYNs crossing the tunnel, both ways, announce at most this MSS
    // (mss-clamp; the default is auto for the default MTU).
    MssLimits mss_clamp{1380, 1360};
    // Peers with `endpoints:` (failover-after, failback-interval).
    EndpointFailover::Settings failover{};
    // copy-dscp: sealed packets carry the inner DSCP outside too (the ECN
    // field is always copied, RFC 6040).
    bool copy_dscp = false;
  };

  Device(handshake::PrivateKey key, Settings settings, Clock& clock, handshake::Rng& rng, TunDevice& tun,
         UdpSocket& udp, Logger& log);
  ~Device();
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;

  // Configuration (from the config file, a reload, or UAPI).
  void set_private_key(handshake::PrivateKey key);
  // No key (as `wg set IFACE private-key /dev/null`): nothing is sent or
  // accepted until one is set; sessions are wiped.
  void clear_private_key(handshake::Rng& rng);
  bool has_private_key() const { return has_key_; }
  void set_settings(const Settings& s);
  // Adds the peer, or updates it in place keeping its sessions.
  void upsert_peer(const PeerSpec& spec);
  bool remove_peer(const handshake::PublicKey& key);
  // The peer's endpoint is now `endpoint`, from outside the protocol (a DNS
  // name answered anew): an endpoint-changed event when it moved, `why`
  // (if given) ending its line. Replaces an endpoint list until a reload.
  void set_endpoint(const handshake::PublicKey& key, const SockAddr& endpoint, std::string_view why = {});
  // A peer's endpoint list anew (a DNS name in it resolves differently):
  // unchanged, nothing happens; else it starts again from the first entry.
  void set_endpoint_list(const handshake::PublicKey& key, const std::vector<EndpointChoice>& list,
                         std::string_view why);
  // A handshake now with every peer that has an endpoint (start-up).
  void initiate_all();
  void initiate(const handshake::PublicKey& key);

  // Event-loop entry points. Each does at most `budget` reads (a TUN read
  // may bring a TCP super-packet; a UDP read a batch of datagrams) so
  // neither direction can starve the other; true if more may be waiting.
  bool handle_tun_readable(size_t budget = 64);
  bool handle_udp_readable(size_t budget = 4);
  void handle_timers();
  Instant next_deadline() const;

  // Status.
  const handshake::PublicKey& public_key() const { return identity_->public_key(); }
  const handshake::PrivateKey& private_key() const { return identity_->private_key(); }
  // Each peer's status; its allowed IPs (sorted) unless left out, which
  // saves listing (and sorting) them when they are not wanted.
  enum AllowedIpsDetail { kWithAllowedIps, kWithoutAllowedIps };
  std::vector<PeerStatus> peers(AllowedIpsDetail detail = kWithAllowedIps) const;
  std::optional<PeerStatus> peer(const handshake::PublicKey& key, AllowedIpsDetail detail = kWithAllowedIps) const;
  // The peers' public keys, in the order peers() lists them.
  std::vector<handshake::PublicKey> peer_keys() const;
  uint64_t drops(Drop d) const { return drops_[static_cast<size_t>(d)]; }
  // TCP SYNs whose MSS option was lowered (mss-clamp), both directions.
  uint64_t mss_clamped() const { return mss_clamped_; }
  size_t peer_count() const { return peers_.size(); }
  // Peers with a session that can carry traffic now (no allocation).
  size_t sessions_up() const;
  // Live session indices. Each peer holds at most kMaxIndicesPerPeer (a
  // pending handshake and three keypairs), so the table is bounded by the
  // configured peers, whatever arrives.
  static constexpr size_t kMaxIndicesPerPeer = 4;
  size_t index_count() const { return indices_.size(); }
  // Transport crypto on more threads for big batches (see CryptoPool).
  // Takes effect between batches; fewer threads may start than asked for.
  void set_crypto(CryptoPool::Options options);
  size_t crypto_threads() const { return pool_->threads(); }
  uint64_t parallel_batches() const { return pool_->parallel_batches(); }
  // Under load: handshakes need mac2 (cookies) and are rate-limited. Tests
  // may force it.
  void force_under_load(bool on) { forced_under_load_ = on; }
  // The per-source rate limiter's table (sized by memory); tests shrink it.
  Ratelimiter& ratelimiter() { return ratelimiter_; }
  // Audit events (handshakes, peers up and down, endpoint changes): the
  // owner chooses where they go (audit_events.h).
  AuditLog& audit() { return audit_; }

 private:
  struct Peer;
  class PeerIo;

  Peer* find(const handshake::PublicKey& key);
  const Peer* find(const handshake::PublicKey& key) const;
  Peer* by_index(uint32_t index);
  void drop(Drop d);
  void drop(Drop d, const SockAddr& from);
  void reschedule(Peer& p);
  void route_outbound(const Now& now, MutableBytes frame, size_t len);
  void flush_udp();
  void flush_tun();
  void receive_datagram(const Now& now, const Datagram& dg);
  bool admit_handshake(const Now& now, Bytes msg, const Datagram& dg);
  bool is_peer_endpoint(const SockAddr& from) const;
  // The peer whose endpoint is `from`, if any.
  Peer* peer_at(const SockAddr& from) const;
  void set_peer_endpoint(Peer& p, const std::optional<SockAddr>& endpoint);
  void receive_initiation(const Now& now, const handshake::InitiationMsg& m, const Datagram& dg);
  void receive_indexed(const Now& now, const handshake::Message& m, uint32_t index, const Datagram& dg);
  void queue_open(const Now& now, const handshake::TransportMsg& m, const Datagram& dg);
  void open_queued(const Now& now);
  void seal_queued();
  void deliver(Peer& p, MutableBytes packet, uint8_t outer_tos);
  void update_endpoint(const Now& now, Peer& p, const Datagram& dg);
  // Endpoint lists: where an initiation goes, the timer's actions, and
  // sends to one entry.
  void send_initiation(Peer& p, Bytes msg);
  void send_to_entry(Peer& p, size_t entry, Bytes msg);
  void run_failover(const Now& now, Peer& p);
  void use_first_endpoint(Peer& p);
  void set_source(Peer& p, const LocalAddr& source);
  void log_switch(Peer& p, const EndpointFailover::Switch& s, const SockAddr& from);
  void announce_session(Peer& p, const Datagram& dg);
  void gave_up(Peer& p);
  // An audit event about `p` (its key and name filled in), now.
  void audit(const Peer& p, AuditEvent e);
  void audit_moved(const Peer& p, const std::optional<SockAddr>& old, std::string_view reason, std::string_view why);
  // Sources the socket found gone: their peers send from the kernel's choice.
  void forget_lost_sources();
  Instant peer_deadline(const Peer& p) const;
  void on_peer_event(Peer& p, handshake::PeerEvent e);
  void count_refusal(handshake::ProtoError e, const Peer& p, const SockAddr& from);
  void report_send_error(Peer* to);
  bool under_load(Instant now);
  handshake::TimerSettings timer_settings(const PeerSpec& spec) const;
  std::unique_ptr<Peer> make_peer(const PeerSpec& spec, PeerId id);

  Settings settings_;
  Clock* clock_;
  handshake::Rng* rng_;
  TunDevice* tun_;
  UdpSocket* udp_;
  Logger* log_;
  AuditLog audit_;
  std::unique_ptr<handshake::LocalIdentity> identity_;
  bool has_key_ = true;
  std::unique_ptr<handshake::CookieChecker> cookies_;
  AllowedIps routes_;
  NetmapTable netmaps_;
  IndexTable indices_;
  Ratelimiter ratelimiter_;
  HandshakeBudget budget_;
  std::unordered_map<PeerId, std::unique_ptr<Peer>> peers_;
  std::map<handshake::PublicKey, PeerId> by_key_;
  // Peers by their endpoint, so that checking a datagram's source against
  // them (a flood of invalid-mac1 or over-budget handshakes) costs no scan
  // of every peer. Kept by set_peer_endpoint.
  struct EndpointHash {
    size_t operator()(const SockAddr& a) const;
  };
  std::unordered_multimap<SockAddr, PeerId, EndpointHash> by_endpoint_;
  std::set<std::pair<Instant, PeerId>> deadlines_;  // one entry per peer with a timer
  PeerId next_id_ = 1;
  std::array<uint64_t, static_cast<size_t>(Drop::kCount)> drops_{};
  uint64_t mss_clamped_ = 0;
  // The outer TOS of the packet being sealed: set from its plaintext when
  // it is sealed (PeerIo::defer_seal), taken by the send that follows.
  uint8_t seal_tos_ = 0;
  // Under-load detection: handshake messages seen in the current second.
  Instant load_window_start_{};
  uint32_t load_window_count_ = 0;
  Instant under_load_until_{};
  bool forced_under_load_ = false;
  // Buffers reused for every batch: no allocation per packet. Outbound
  // packets are sealed in place in tx_ and sent together (flush_udp);
  // inbound datagrams are opened in place in rx_ and the plaintexts written
  // to the TUN together (flush_tun).
  SlotArena tx_;
  SlotArena replies_;  // cookie replies, sent with the batch that caused them
  std::unique_ptr<uint8_t[]> rx_mem_;
  std::vector<MutableBytes> rx_buffers_;
  std::vector<Datagram> rx_datagrams_;
  std::vector<MutableBytes> tun_out_;
  // Transport crypto of the current batch, run together (on the pool's
  // threads too): packets sealed in tx_ before flush_udp sends them, and
  // received packets opened before they are finished in arrival order.
  struct QueuedSeal {
    MutableBytes data;
    uint64_t counter;
    Secret<handshake::kKeySize> key;  // a copy, wiped when the batch is cleared
  };
  struct QueuedOpen {
    Peer* peer;
    handshake::TransportMsg msg;
    handshake::OpenJob job;
    const Datagram* dg;
    bool opened;
  };
  std::vector<QueuedSeal> seals_;
  std::vector<QueuedOpen> opens_;
  std::unique_ptr<CryptoPool> pool_;
};

}  // namespace sitelink::tunnel
