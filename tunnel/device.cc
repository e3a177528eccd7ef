// The device: routing packets between the TUN, the peers' state machines and
// the UDP socket; see device.h. Mirrors the kernel's send.c/receive.c
// dispatch (wg_packet_receive, wg_receive_handshake_packet,
// wg_packet_consume_data_done) around our sans-I/O PeerMachine.
#include "tunnel/device.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>
#include <variant>

#include "tunnel/ecn.h"
#include "tunnel/ip_header.h"

namespace sitelink::tunnel {

namespace hs = handshake;
using namespace std::chrono_literals;

namespace {
// Handshake messages per second beyond which we are "under load" and demand
// cookies (the kernel's threshold is an eighth of its 4096-entry queue).
constexpr uint32_t kUnderLoadPerSecond = 512;
constexpr Duration kUnderLoadLinger = 1s;
// Outbound: slots per batch (a 64 KiB TCP super-packet is ~45 segments).
constexpr size_t kTxSlots = 128;
// Inbound: buffers per receive call, each big enough for a GRO train.
constexpr size_t kRxBuffers = 16;
constexpr size_t kRxBufferBytes = 65536;
// Initiations without an answer before the log says so (about 10 s).
constexpr int kUnansweredWarning = 3;
// Cookie replies queued per batch (then sent together).
constexpr size_t kReplySlots = 64;

// A slot holds one packet the size of the MTU (at least a classic 1500).
size_t slot_room(size_t mtu) { return std::max<size_t>(mtu, 1500); }
}  // namespace

std::string_view to_string(Drop d) {
  static constexpr std::array<std::string_view, static_cast<size_t>(Drop::kCount)> kNames{
      "tun-no-route",      "tun-bad-packet",   "no-endpoint",    "send-failed",     "malformed",
      "invalid-mac1",      "cookie-sent",      "rate-limited",   "unknown-peer",    "unknown-index",
      "handshake-refused", "decrypt-failed",   "replay",         "expired-keypair", "source-not-allowed",
      "bad-inner-packet",  "tun-write-failed", "no-private-key", "over-budget",     "tun-ipv6-local",
      "ecn-ce-not-ect"};
  return kNames[static_cast<size_t>(d)];
}

struct Device::Peer {
  Peer(IndexTable& table, PeerId id_, PeerSpec s) : id(id_), spec(std::move(s)), alloc(table, id_) {}
  std::string label() const { return spec.name.empty() ? spec.public_key.to_base64() : spec.name; }

  PeerId id;
  PeerSpec spec;
  IndexTable::ForPeer alloc;  // declared before machine: outlives it
  std::unique_ptr<hs::PeerMachine> machine;
  Instant scheduled = Instant::never();
  bool up = false;
  // What the peer's state line says (PeerStatus): initiations without an
  // answer since the last session, when the first of them went out, when
  // the peer last sent us data, and the last send the kernel refused.
  int unanswered = 0;
  std::optional<WallTime> unanswered_since;
  std::optional<WallTime> last_receive;
  int send_errno = 0;
  std::optional<WallTime> send_error_at;
  // Sticky source: the local address its authenticated packets arrive on,
  // and what sends name (unset where the kernel would choose it anyway).
  LocalAddr source;
  LocalAddr send_source;
  // Health: the first data sent since it was last heard from, and when that was.
  std::optional<Instant> unanswered_data_since;
  std::optional<Instant> last_receive_mono;
  // With `endpoints:`: the list's state, and the last initiation sent (not
  // secret: it went out in the clear), which failover sends again to the
  // next entry.
  std::unique_ptr<EndpointFailover> failover;
  std::vector<uint8_t> last_initiation;
  uint64_t initiations = 0;
  bool announce_up = false;         // a session began; the log says so with its address
  bool announce_handshake = false;  // a handshake completed: its audit event, with its address
};

namespace {
bool is_initiation(Bytes d) { return d.size() == hs::initiation::kSize && d[0] == 1; }
bool is_response(Bytes d) { return !d.empty() && d[0] == static_cast<uint8_t>(hs::MessageType::kResponse); }

// An audit event of `kind` at info level; Device::audit adds the peer.
AuditEvent audit_event(AuditKind kind, std::string message) {
  AuditEvent e;
  e.kind = kind;
  e.message = std::move(message);
  return e;
}
}  // namespace

// The Transmit a peer's machine talks to. Replies to an inbound message go
// to where it came from, from the address it came to; everything else to
// the peer's endpoint, from its sticky source (initiations of a peer with
// an endpoint list where failover says).
class Device::PeerIo final : public hs::Transmit {
 public:
  PeerIo(Device& d, Peer& p, const Datagram* reply_to = nullptr) : d_(d), p_(p), reply_to_(reply_to) {}
  void send_to_network(Bytes datagram) override {
    // A transport packet leaves with the TOS its seal set; anything else
    // (handshake messages, cookie replies) with 0.
    const uint8_t tos = std::exchange(d_.seal_tos_, 0);
    if (reply_to_ == nullptr && p_.failover && is_initiation(datagram)) return d_.send_initiation(p_, datagram);
    const SockAddr* to = reply_to_ != nullptr ? &reply_to_->from : (p_.spec.endpoint ? &*p_.spec.endpoint : nullptr);
    if (to == nullptr) return d_.drop(Drop::kNoEndpoint);
    const LocalAddr& from = reply_to_ != nullptr ? reply_to_->local : p_.send_source;
    // Sealed in a batch slot: leaves with the batch. Anything else (a
    // handshake message, a staged packet) lives only as long as this call:
    // it goes now, after what is queued, so that order is kept.
    if (d_.tx_.contains(datagram.data())) return d_.udp_->queue(datagram, *to, from, tos);
    d_.flush_udp();
    if (!d_.udp_->send(datagram, *to, from, tos)) {
      d_.drop(Drop::kSendFailed);
      d_.report_send_error(&p_);
    }
  }
  // Packets sealed in a batch slot are sealed together, just before the
  // batch is sent (flush_udp). Every packet sealed is sent next
  // (send_to_network): its outer TOS is read here, from the plaintext
  // (RFC 6040 normal mode, copy-dscp); a keepalive's empty plaintext reads
  // as 0.
  bool defer_seal(const hs::SealJob& job) override {
    d_.seal_tos_ = outer_tos(ip_tos(job.data), d_.settings_.copy_dscp);
    if (!d_.tx_.contains(job.data.data())) return false;
    d_.seals_.push_back({job.data, job.counter, Secret<hs::kKeySize>(job.key)});
    return true;
  }
  void deliver_to_tun(MutableBytes packet) override {
    d_.deliver(p_, packet, reply_to_ != nullptr ? reply_to_->tos : uint8_t{0});
  }
  void on_event(hs::PeerEvent e) override { d_.on_peer_event(p_, e); }

 private:
  Device& d_;
  Peer& p_;
  const Datagram* reply_to_;
};

Device::Device(hs::PrivateKey key, Settings settings, Clock& clock, hs::Rng& rng, TunDevice& tun, UdpSocket& udp,
               Logger& log)
    : settings_(settings),
      clock_(&clock),
      rng_(&rng),
      tun_(&tun),
      udp_(&udp),
      log_(&log),
      audit_(log),
      identity_(std::make_unique<hs::LocalIdentity>(std::move(key))),
      cookies_(std::make_unique<hs::CookieChecker>(identity_->public_key())),
      indices_(rng),
      tx_(kTxSlots, slot_room(settings.mtu)),
      replies_(kReplySlots, hs::cookie_reply::kSize),
      rx_mem_(std::make_unique_for_overwrite<uint8_t[]>(kRxBuffers * kRxBufferBytes)) {
  for (size_t i = 0; i < kRxBuffers; ++i) rx_buffers_.emplace_back(rx_mem_.get() + i * kRxBufferBytes, kRxBufferBytes);
  seals_.reserve(kTxSlots);
  opens_.reserve(kRxBuffers * 64);
  set_crypto({});
}

Device::~Device() = default;

void Device::set_crypto(CryptoPool::Options options) {
  pool_.reset();  // its threads stop before new ones start
  pool_ = std::make_unique<CryptoPool>(options);
}

// --- Configuration ---------------------------------------------------------------

hs::TimerSettings Device::timer_settings(const PeerSpec& spec) const {
  hs::TimerSettings t;
  t.rekey_after_time = settings_.rekey_after_time;
  t.persistent_keepalive = spec.persistent_keepalive;
  return t;
}

std::unique_ptr<Device::Peer> Device::make_peer(const PeerSpec& spec, PeerId id) {
  auto p = std::make_unique<Peer>(indices_, id, spec);
  p->machine = std::make_unique<hs::PeerMachine>(*identity_, spec.public_key, spec.preshared_key, timer_settings(spec),
                                                 *rng_, p->alloc);
  return p;
}

void Device::set_private_key(hs::PrivateKey key) {
  // Every handshake and session depended on the old key: start afresh
  // (the kernel expires all keypairs too). Peers keep their configuration
  // and their replay history, or an initiation recorded before a key change
  // would be accepted again once the key is changed back.
  std::unordered_map<PeerId, hs::ReplayHistory> history;
  for (auto& [id, p] : peers_) {
    if (!p->scheduled.is_never()) deadlines_.erase({p->scheduled, id});
    p->scheduled = Instant::never();
    history[id] = p->machine->handshake().replay_history();
    p->machine.reset();
    if (p->up) {
      AuditEvent e = audit_event(AuditKind::kPeerDown, "peer " + p->label() + ": tunnel down: our private key changed");
      e.endpoint = p->spec.endpoint;
      e.reason = "private-key-changed";
      audit(*p, std::move(e));
    }
  }
  identity_ = std::make_unique<hs::LocalIdentity>(std::move(key));
  cookies_ = std::make_unique<hs::CookieChecker>(identity_->public_key());
  has_key_ = true;
  // A peer with our own public key cannot exist (wg removes it too).
  remove_peer(identity_->public_key());
  for (auto& [id, p] : peers_) {
    p->machine = std::make_unique<hs::PeerMachine>(*identity_, p->spec.public_key, p->spec.preshared_key,
                                                   timer_settings(p->spec), *rng_, p->alloc);
    p->machine->restore_replay_history(history[id]);
    p->up = false;
  }
}

void Device::clear_private_key(hs::Rng& rng) {
  set_private_key(hs::PrivateKey::generate(rng));  // wipes every session
  has_key_ = false;
}

void Device::set_settings(const Settings& s) {
  settings_ = s;
  if (slot_room(s.mtu) > tx_.packet_room()) tx_.resize(kTxSlots, slot_room(s.mtu));
  for (auto& [id, p] : peers_) {
    p->machine->set_timer_settings(timer_settings(p->spec));
    if (p->failover) p->failover->set_settings(s.failover);
  }
}

void Device::upsert_peer(const PeerSpec& spec) {
  if (spec.public_key == identity_->public_key()) return;
  Peer* p = find(spec.public_key);
  if (p == nullptr) {
    const PeerId id = next_id_++;
    auto fresh = make_peer(spec, id);
    p = fresh.get();
    peers_.emplace(id, std::move(fresh));
    by_key_.emplace(spec.public_key, id);
    if (spec.endpoint) by_endpoint_.emplace(*spec.endpoint, id);
    if (!spec.endpoints.empty()) {
      p->failover = std::make_unique<EndpointFailover>(spec.endpoints, settings_.failover);
      use_first_endpoint(*p);
    }
  } else {
    const bool keepalive_turned_on = spec.persistent_keepalive.count() > 0 &&
                                     spec.persistent_keepalive != p->spec.persistent_keepalive;
    const std::optional<SockAddr> old = p->spec.endpoint;  // what by_endpoint_ holds
    const std::optional<SockAddr> endpoint = spec.endpoint ? spec.endpoint : old;
    p->spec = spec;
    p->spec.endpoint = old;
    set_peer_endpoint(*p, endpoint);
    if (spec.endpoints.empty()) {
      p->failover.reset();
    } else if (!p->failover || !p->failover->same_list(spec.endpoints)) {
      // A new list starts from its first entry; an unchanged one keeps the
      // entry in use and the session (reload).
      p->failover = std::make_unique<EndpointFailover>(spec.endpoints, settings_.failover);
      use_first_endpoint(*p);
    }
    if (spec.endpoint || !spec.endpoints.empty()) audit_moved(*p, old, "configured", "(configured)");
    p->machine->set_preshared_key(spec.preshared_key);
    p->machine->set_timer_settings(timer_settings(spec));
    if (keepalive_turned_on && has_key_) {  // as the kernel does when the interval is set
      PeerIo io(*this, *p);
      p->machine->send_keepalive(clock_->now(), io);
    }
  }
  routes_.remove_peer(p->id);
  for (const auto& prefix : spec.allowed_ips) routes_.insert(prefix, p->id);
  netmaps_.set(p->id, spec.netmap);
  reschedule(*p);
}

bool Device::remove_peer(const hs::PublicKey& key) {
  Peer* p = find(key);
  if (p == nullptr) return false;
  const PeerId id = p->id;
  if (p->up) {
    AuditEvent e = audit_event(AuditKind::kPeerDown,
                               "peer " + p->label() + ": tunnel down: removed from the configuration");
    e.endpoint = p->spec.endpoint;
    e.reason = "removed";
    audit(*p, std::move(e));
  }
  audit_.forget(key);
  routes_.remove_peer(id);
  netmaps_.erase(id);
  if (!p->scheduled.is_never()) deadlines_.erase({p->scheduled, id});
  set_peer_endpoint(*p, std::nullopt);
  by_key_.erase(key);
  peers_.erase(id);  // wipes its keys and releases its indices
  return true;
}

// An endpoint set from outside the protocol (a DNS name resolved again)
// replaces the list, until the next reload gives it back.
void Device::set_endpoint(const hs::PublicKey& key, const SockAddr& endpoint, std::string_view why) {
  Peer* p = find(key);
  if (p == nullptr) return;
  p->failover.reset();
  const std::optional<SockAddr> old = p->spec.endpoint;
  set_peer_endpoint(*p, endpoint);
  if (old != endpoint) set_source(*p, {});
  audit_moved(*p, old, "resolved", why);
}

void Device::set_endpoint_list(const hs::PublicKey& key, const std::vector<EndpointChoice>& list,
                               std::string_view why) {
  Peer* p = find(key);
  if (p == nullptr || list.empty() || (p->failover && p->failover->same_list(list))) return;
  const std::optional<SockAddr> old = p->spec.endpoint;
  p->failover = std::make_unique<EndpointFailover>(list, settings_.failover);
  p->spec.endpoints = list;
  use_first_endpoint(*p);
  audit_moved(*p, old, "resolved", why);
}

// An endpoint-changed event when an admin's change (a reload, `wg set`, a
// DNS name answering anew) moved the peer off `old`. A first endpoint is
// no change: there was nowhere to move from.
void Device::audit_moved(const Peer& p, const std::optional<SockAddr>& old, std::string_view reason,
                         std::string_view why) {
  if (!old || !p.spec.endpoint || old == p.spec.endpoint) return;
  std::string line = "peer " + p.label() + ": endpoint changed from " + old->to_string() + " to " +
                     p.spec.endpoint->to_string();
  if (!why.empty()) line += " " + std::string(why);
  AuditEvent e = audit_event(AuditKind::kEndpointChanged, std::move(line));
  e.endpoint = p.spec.endpoint;
  e.previous = old;
  e.reason = reason;
  audit(p, std::move(e));
}

void Device::use_first_endpoint(Peer& p) {
  const EndpointChoice& first = p.failover->initial();
  set_peer_endpoint(p, first.address);
  set_source(p, first.source);
}

// The address replies leave from. Naming it costs every send a control
// message and the kernel a source check in its route lookup (about a tenth
// more CPU per GB sealed, measured), so it is only named where the kernel
// would choose another: asked once per change, not per packet. Should the
// routes change later, the peer sees our packets from the kernel's new
// choice and roams to it, and its next packet makes that the source.
void Device::set_source(Peer& p, const LocalAddr& source) {
  p.source = source;
  p.send_source = source;
  if (source.valid() && p.spec.endpoint && udp_->route_source(*p.spec.endpoint) == source.ip) p.send_source = {};
}

void Device::initiate(const hs::PublicKey& key) {
  Peer* p = find(key);
  if (p == nullptr || !p->spec.endpoint || !has_key_) return;
  PeerIo io(*this, *p);
  p->machine->initiate(clock_->now(), io);
  reschedule(*p);
}

void Device::initiate_all() {
  for (auto& [key, id] : by_key_) initiate(key);
}

// --- Lookups and bookkeeping -----------------------------------------------------

Device::Peer* Device::find(const hs::PublicKey& key) {
  auto it = by_key_.find(key);
  return it == by_key_.end() ? nullptr : peers_.at(it->second).get();
}

const Device::Peer* Device::find(const hs::PublicKey& key) const {
  auto it = by_key_.find(key);
  return it == by_key_.end() ? nullptr : peers_.at(it->second).get();
}

Device::Peer* Device::by_index(uint32_t index) {
  auto id = indices_.lookup(index);
  if (!id) return nullptr;
  auto it = peers_.find(*id);
  return it == peers_.end() ? nullptr : it->second.get();
}

void Device::drop(Drop d) { ++drops_[static_cast<size_t>(d)]; }

void Device::drop(Drop d, const SockAddr& from) {
  drop(d);
  if (log_->enabled(LogLevel::kDebug)) {
    log_->log_limited(LogLevel::kDebug, to_string(d), clock_->now().mono,
                      "dropped packet from " + from.to_string() + ": " + std::string(to_string(d)));
  }
}

void Device::reschedule(Peer& p) {
  const Instant d = peer_deadline(p);
  if (d == p.scheduled) return;
  if (!p.scheduled.is_never()) deadlines_.erase({p.scheduled, p.id});
  p.scheduled = d;
  if (!d.is_never()) deadlines_.insert({d, p.id});
}

Instant Device::next_deadline() const { return deadlines_.empty() ? Instant::never() : deadlines_.begin()->first; }

void Device::handle_timers() {
  const Now now = clock_->now();
  while (!deadlines_.empty() && deadlines_.begin()->first <= now.mono) {
    const PeerId id = deadlines_.begin()->second;
    deadlines_.erase(deadlines_.begin());
    Peer& p = *peers_.at(id);
    p.scheduled = Instant::never();
    if (p.machine->next_deadline() <= now.mono) {
      PeerIo io(*this, p);
      p.machine->on_timer(now, io);
    }
    if (p.failover && p.failover->next_deadline() <= now.mono) run_failover(now, p);
    reschedule(p);
  }
  flush_udp();
}

Instant Device::peer_deadline(const Peer& p) const {
  const Instant d = p.machine->next_deadline();
  return p.failover ? std::min(d, p.failover->next_deadline()) : d;
}

// --- Endpoint lists (issue 15) ------------------------------------------------------

void Device::send_to_entry(Peer& p, size_t entry, Bytes msg) {
  const EndpointChoice& c = p.failover->entries()[entry].choice;
  // From the entry's configured source; else from the sticky one where the
  // entry is where the peer is; else the kernel's choice.
  const LocalAddr from = c.source.valid() ? c.source : (p.spec.endpoint == c.address ? p.send_source : LocalAddr{});
  flush_udp();
  if (!udp_->send(msg, c.address, from)) {
    drop(Drop::kSendFailed);
    report_send_error(&p);
  }
}

void Device::send_initiation(Peer& p, Bytes msg) {
  const Now now = clock_->now();
  p.last_initiation.assign(msg.begin(), msg.end());
  const std::vector<size_t> targets = p.failover->on_initiation(now.mono, now.wall);
  if (targets.empty()) {  // following a roamed peer: where it is
    if (!p.spec.endpoint) return drop(Drop::kNoEndpoint);
    flush_udp();
    if (!udp_->send(msg, *p.spec.endpoint, p.send_source)) {
      drop(Drop::kSendFailed);
      report_send_error(&p);
    }
    return;
  }
  for (size_t i : targets) send_to_entry(p, i, msg);
}

void Device::run_failover(const Now& now, Peer& p) {
  EndpointFailover& f = *p.failover;
  const bool was_exhausted = f.exhausted();
  const EndpointFailover::Action a = f.on_timer(now.mono);
  if (a.kind == EndpointFailover::Action::Kind::kInitiate) {
    const uint64_t before = p.initiations;
    if (has_key_) {
      PeerIo io(*this, p);
      p.machine->initiate(now, io);
    }
    if (p.initiations == before) {
      f.on_initiate_refused(now.mono);
    } else if (f.keepalive_with_probe() && has_key_) {
      // A far end that moved its replies to the probed line (it roams on
      // an initiation) moves them back: the line may work one way only.
      PeerIo io(*this, p);
      p.machine->send_keepalive(now, io);
    }
  } else if (a.kind == EndpointFailover::Action::Kind::kKeepalive && has_key_) {
    PeerIo io(*this, p);
    p.machine->send_keepalive(now, io);
  } else if (a.kind == EndpointFailover::Action::Kind::kResend) {
    const std::string& next = f.entries()[a.entry].choice.label;
    const std::string current = f.active() ? f.entries()[*f.active()].choice.label
                                           : (p.spec.endpoint ? p.spec.endpoint->to_string() : "(none)");
    LogLine(*log_, f.first_move_of_outage() ? LogLevel::kWarn : LogLevel::kDebug)
        << "peer " << p.label() << ": endpoint " << current << " not answering, trying " << next;
    f.told_outage();
    if (!p.last_initiation.empty()) send_to_entry(p, a.entry, p.last_initiation);
    f.on_resent(now.mono, now.wall, a.entry);
  }
  if (f.exhausted() && !was_exhausted) {
    LogLine(*log_, LogLevel::kWarn) << "peer " << p.label() << ": none of its " << f.entries().size()
                                    << " endpoints answers; trying them one at a time, as WireGuard retries";
  }
}

// A change of the entry in use: an endpoint-changed event when the peer
// was elsewhere before (not the first entry to answer at start).
void Device::log_switch(Peer& p, const EndpointFailover::Switch& s, const SockAddr& from) {
  const auto& entries = p.failover->entries();
  std::string line;
  if (s.to == 0 && s.from && *s.from > 0) {
    line = "peer " + p.label() + ": back on preferred endpoint " + entries[0].choice.label;
  } else {
    line = "peer " + p.label() + ": endpoint " + entries[s.to].choice.label + " answers; using it (entry " +
           std::to_string(s.to + 1) + " of " + std::to_string(entries.size()) + ")";
  }
  if (s.from || (p.spec.endpoint && *p.spec.endpoint != from)) {
    AuditEvent e = audit_event(AuditKind::kEndpointChanged, line);
    e.endpoint = from;
    e.previous = p.spec.endpoint;
    e.reason = "failover";
    audit(p, std::move(e));
  } else {
    log_->log(LogLevel::kInfo, line);
  }
}

void Device::forget_lost_sources() {
  for (const LocalAddr& lost : udp_->take_lost_sources()) {
    for (auto& [id, p] : peers_) {
      if (p->source != lost && p->send_source != lost) continue;
      p->source = {};
      p->send_source = {};
      LogLine(*log_, LogLevel::kInfo) << "peer " << p->label() << ": local address " << lost.to_string()
                                      << " is gone; sending from the kernel's choice until the peer is heard from";
    }
  }
}

// Handshakes given up (no answer for REKEY_ATTEMPT_TIME): the peer is down
// if it was up; both are audit events.
void Device::gave_up(Peer& p) {
  const std::string where = p.spec.endpoint ? p.spec.endpoint->to_string() : "(no endpoint)";
  if (p.up) {
    AuditEvent e = audit_event(AuditKind::kPeerDown,
                               "peer " + p.label() + ": tunnel down: handshakes with " + where + " given up");
    e.endpoint = p.spec.endpoint;
    e.reason = "handshake-failed";
    audit(p, std::move(e));
  }
  AuditEvent failed = audit_event(AuditKind::kHandshakeFailed,
                                  "peer " + p.label() + ": tunnel down: no handshake response from " + where +
                                      " for 90 s; will retry when there is traffic");
  failed.endpoint = p.spec.endpoint;
  failed.level = LogLevel::kWarn;
  audit(p, std::move(failed));
  p.up = false;
}

void Device::audit(const Peer& p, AuditEvent e) {
  e.peer = p.spec.public_key;
  e.peer_name = p.spec.name;
  audit_.emit(clock_->now().mono, std::move(e));
}

void Device::on_peer_event(Peer& p, hs::PeerEvent e) {
  switch (e) {
    case hs::PeerEvent::kSessionEstablished:
      // Said by update_endpoint, which runs next and knows where from.
      if (!p.up) p.announce_up = true;
      p.announce_handshake = true;
      p.up = true;
      p.unanswered = 0;
      p.unanswered_since.reset();
      break;
    case hs::PeerEvent::kHandshakeGaveUp:
      if (p.failover) {
        p.failover->on_gave_up();
        use_first_endpoint(p);
      }
      gave_up(p);
      break;
    case hs::PeerEvent::kKeysZeroed:
      if (p.up) {
        AuditEvent e = audit_event(AuditKind::kPeerDown, "peer " + p.label() + ": tunnel down: idle, keys wiped");
        e.endpoint = p.spec.endpoint;
        e.reason = "idle";
        audit(p, std::move(e));
      }
      p.up = false;
      break;
    case hs::PeerEvent::kCookieReceived:
      LogLine(*log_, LogLevel::kInfo) << "peer " << p.label() << " is under load and sent a cookie";
      break;
    case hs::PeerEvent::kHandshakeInitiated:
      ++p.initiations;
      if (p.unanswered++ == 0) p.unanswered_since = clock_->now().wall;
      if (p.unanswered == kUnansweredWarning + 1 && p.spec.endpoint) {
        LogLine(*log_, LogLevel::kWarn) << "peer " << p.label() << ": no answer to " << kUnansweredWarning
                                        << " handshake initiations to " << p.spec.endpoint->to_string()
                                        << ": the far end is down, UDP port " << p.spec.endpoint->port()
                                        << " is blocked on the way, or it does not know our key (then it counts "
                                           "invalid-mac1)";
      }
      LogLine(*log_, LogLevel::kDebug) << "peer " << p.label() << ": handshake initiation to "
                                       << (p.spec.endpoint ? p.spec.endpoint->to_string() : "(no endpoint)");
      break;
    case hs::PeerEvent::kHandshakeResponded:
      LogLine(*log_, LogLevel::kDebug) << "peer " << p.label() << ": answered its handshake initiation";
      break;
    case hs::PeerEvent::kStagedPacketDropped: break;
  }
}

void Device::count_refusal(hs::ProtoError e, const Peer& p, const SockAddr& from) {
  Drop d = Drop::kHandshakeRefused;
  switch (e) {
    case hs::ProtoError::kDecryptFailed: d = Drop::kDecryptFailed; break;
    case hs::ProtoError::kReplayedCounter: d = Drop::kReplay; break;
    case hs::ProtoError::kExpiredKeypair: d = Drop::kExpiredKeypair; break;
    case hs::ProtoError::kWrongIndex:
    case hs::ProtoError::kNoSession: d = Drop::kUnknownIndex; break;
    default: break;
  }
  drop(d);
  if (log_->enabled(LogLevel::kDebug)) {
    log_->log_limited(
        LogLevel::kDebug, to_string(d), clock_->now().mono,
        "peer " + p.label() + ": dropped a packet from " + from.to_string() + ": " + std::string(to_string(d)));
  }
}

// A send the kernel refused: counted as send-failed by the caller; the
// first of each errno is logged (then once a minute), with what it most
// likely means.
void Device::report_send_error(Peer* to) {
  const auto e = udp_->take_send_error();
  if (!e) return;
  if (to == nullptr) to = peer_at(e->to);
  if (to != nullptr) {
    to->send_errno = e->error;
    to->send_error_at = clock_->now().wall;
  }
  log_->log_limited(LogLevel::kWarn, std::string("send-error-") + std::to_string(e->error), clock_->now().mono,
                    "sendmsg to " + e->to.to_string() + ": " + std::strerror(e->error) + send_error_hint(e->error),
                    std::chrono::seconds(60));
}

// --- TUN -> UDP -------------------------------------------------------------------

bool Device::handle_tun_readable(size_t budget) {
  const Now now = clock_->now();
  tx_.reset();
  const TunReadResult r = tun_->read_batch(tx_, budget, [&](MutableBytes frame, size_t len) {
    route_outbound(now, frame, len);
    // A packet outside the arena sits in the device's buffer, which the
    // next read reuses; a full arena must be emptied before the next one.
    if (!tx_.contains(frame.data()) || tx_.full()) {
      flush_udp();
      tx_.reset();
    }
  });
  flush_udp();
  tx_.reset();
  for (size_t i = 0; i < r.malformed; ++i) drop(Drop::kTunBadPacket);
  if (r.want_room > tx_.packet_room()) tx_.resize(kTxSlots, r.want_room);
  return r.more;
}

namespace {

// An address of a parsed header as text ("198.18.1.2", "2001:db8::1").
std::string address_text(const IpHeader& h, const uint8_t* a) {
  return (h.version == 4 ? config::IpAddress::v4({a[0], a[1], a[2], a[3]}) : config::IpAddress::v6(take<16>(a)))
      .to_string();
}

// fe80::/10 or ff00::/8: traffic the kernel sends on every IPv6 link by
// itself (router solicitations to ff02::2, MLD reports to ff02::16, ...).
bool is_ipv6_link_scope(const IpHeader& h) {
  const auto link_local = [](const uint8_t* a) { return a[0] == 0xfe && (a[1] & 0xc0) == 0x80; };
  return h.version == 6 && (h.dst[0] == 0xff || link_local(h.dst) || link_local(h.src));
}

}  // namespace

void Device::route_outbound(const Now& now, MutableBytes frame, size_t len) {
  if (!has_key_) return drop(Drop::kNoPrivateKey);
  const MutableBytes packet = frame.subspan(hs::kHeadroom, len);
  const auto h = parse_ip_header(packet);
  if (!h) return drop(Drop::kTunBadPacket);
  const auto id = netmaps_.route_outbound(packet, *h, routes_);  // a netmap: rewritten for its peer
  if (!id) {
    const Drop d = is_ipv6_link_scope(*h) ? Drop::kTunIpv6Local : Drop::kTunNoRoute;
    drop(d);
    if (d == Drop::kTunNoRoute && log_->enabled(LogLevel::kDebug)) {
      log_->log_limited(LogLevel::kDebug, to_string(d), now.mono,
                        "dropped a packet from " + address_text(*h, h->src) + " to " + address_text(*h, h->dst) +
                            ": no peer's allowed-ips holds " + address_text(*h, h->dst));
    }
    return;
  }
  // A packet from the TUN has a full checksum: the reader completed any
  // partial one (tun_device.cc).
  if (clamp_mss(packet, settings_.mss_clamp)) ++mss_clamped_;
  Peer& p = *peers_.at(*id);
  if (!p.unanswered_data_since) p.unanswered_data_since = now.mono;
  if (p.failover) p.failover->on_data_sent(now.mono);
  PeerIo io(*this, p);
  p.machine->send(now, frame, len, settings_.mtu, io);
  reschedule(p);
}

void Device::seal_queued() {
  if (seals_.empty()) return;
  auto seal = [this](size_t i) {
    const QueuedSeal& q = seals_[i];
    hs::run_seal({q.data, q.key.span(), q.counter});
  };
  pool_->run(seals_.size(), seal);
  seals_.clear();  // wipes the key copies
}

void Device::flush_udp() {
  seal_queued();
  const size_t failed = udp_->flush();
  for (size_t i = 0; i < failed; ++i) drop(Drop::kSendFailed);
  if (failed > 0) report_send_error(nullptr);
  forget_lost_sources();
}

void Device::flush_tun() {
  if (tun_out_.empty()) return;
  for (size_t failed = tun_->write_batch(tun_out_); failed > 0; --failed) drop(Drop::kTunWriteFailed);
  tun_out_.clear();
}

// --- UDP -> TUN -------------------------------------------------------------------

bool Device::handle_udp_readable(size_t budget) {
  const Now now = clock_->now();
  for (size_t i = 0; i < budget; ++i) {
    rx_datagrams_.clear();
    const size_t filled = udp_->recv_batch(rx_buffers_, rx_datagrams_);
    for (const Datagram& d : rx_datagrams_) receive_datagram(now, d);
    open_queued(now);
    flush_tun();  // before the buffers are reused
    flush_udp();  // cookie replies
    replies_.reset();
    if (filled < rx_buffers_.size()) return false;
  }
  return true;
}

void Device::receive_datagram(const Now& now, const Datagram& dg) {
  if (!has_key_) return drop(Drop::kNoPrivateKey);
  auto m = hs::classify(dg.data);
  if (!m) return drop(Drop::kMalformed, dg.from);
  if (auto* data = std::get_if<hs::TransportMsg>(&*m)) return queue_open(now, *data, dg);
  open_queued(now);  // a handshake message may change keypairs: finish what came before it
  if (auto* init = std::get_if<hs::InitiationMsg>(&*m)) {
    if (admit_handshake(now, init->bytes, dg)) receive_initiation(now, *init, dg);
  } else if (auto* resp = std::get_if<hs::ResponseMsg>(&*m)) {
    if (admit_handshake(now, resp->bytes, dg)) receive_indexed(now, *m, resp->receiver(), dg);
  } else {
    receive_indexed(now, *m, std::get<hs::CookieReplyMsg>(*m).receiver(), dg);
  }
}

bool Device::under_load(Instant now) {
  if (forced_under_load_) return true;
  if (now - load_window_start_ >= 1s) {
    load_window_start_ = now;
    load_window_count_ = 0;
  }
  if (++load_window_count_ > kUnderLoadPerSecond) under_load_until_ = now + kUnderLoadLinger;
  return now < under_load_until_;
}

// mac1 always; under load, mac2 (else a cookie reply), the per-source
// rate limit (wg_receive_handshake_packet) and the device-wide budget,
// which a peer's known endpoint does not need: it has just proved its
// address with mac2, and the per-source limit still holds it.
bool Device::admit_handshake(const Now& now, Bytes msg, const Datagram& dg) {
  const SockAddr& from = dg.from;
  const bool load = under_load(now.mono);
  if (!cookies_->check_mac1(msg)) {
    drop(Drop::kInvalidMac1, from);
    if (const Peer* p = peer_at(from)) {
      log_->log_limited(LogLevel::kWarn, "mac1-from-peer", now.mono,
                        "peer " + p->label() + " (" + from.to_string() +
                            ") sends handshakes for a public key that is not ours (invalid-mac1): its configuration "
                            "lists the wrong key for this gateway; compare `sitelink pubkey` of our private key with "
                            "the public key it has for us",
                        std::chrono::seconds(60));
    }
    return false;
  }
  if (!load) return true;
  std::array<uint8_t, 18> id;
  const Bytes source(id.data(), from.identity(id));
  if (!cookies_->check_mac2(msg, source, now.mono, *rng_)) {
    if (replies_.full()) {
      flush_udp();
      replies_.reset();
    }
    const auto reply = replies_.take().subspan(hs::kHeadroom).first<hs::cookie_reply::kSize>();
    cookies_->create_reply(reply, msg, source, now.mono, *rng_);
    udp_->queue(reply, from, dg.local);  // sent with the rest of the batch, from where it came
    drop(Drop::kCookieSent);
    return false;
  }
  if (!ratelimiter_.allow(from.ip(), now.mono)) {
    drop(Drop::kRateLimited, from);
    return false;
  }
  if (!budget_.take(now.mono) && !is_peer_endpoint(from)) {
    drop(Drop::kOverBudget, from);
    return false;
  }
  return true;
}

size_t Device::EndpointHash::operator()(const SockAddr& a) const {
  std::array<uint8_t, 18> id;
  const size_t n = a.identity(id);
  return std::hash<std::string_view>()(std::string_view(reinterpret_cast<const char*>(id.data()), n));
}

Device::Peer* Device::peer_at(const SockAddr& from) const {
  const auto it = by_endpoint_.find(from);
  return it == by_endpoint_.end() ? nullptr : peers_.at(it->second).get();
}

bool Device::is_peer_endpoint(const SockAddr& from) const { return peer_at(from) != nullptr; }

void Device::receive_initiation(const Now& now, const hs::InitiationMsg& m, const Datagram& dg) {
  const SockAddr& from = dg.from;
  auto consumed = hs::consume_initiation(*identity_, m);
  if (!consumed) return drop(Drop::kHandshakeRefused, from);
  Peer* p = find(consumed->initiator_static);
  if (p == nullptr) {
    drop(Drop::kUnknownPeer, from);
    if (const Peer* q = peer_at(from)) {
      log_->log_limited(LogLevel::kWarn, "unknown-key-from-peer", now.mono,
                        "a handshake from " + from.to_string() + ", the endpoint of peer " + q->label() +
                            ", by a public key we do not list (unknown-peer): our configuration has the wrong public "
                            "key for " +
                            q->label() + ", or it changed its key; its key is " +
                            consumed->initiator_static.to_base64(),
                        std::chrono::seconds(60));
    }
    return;
  }
  PeerIo io(*this, *p, &dg);
  if (auto r = p->machine->receive_initiation(now, std::move(*consumed), io); !r) {
    count_refusal(r.error(), *p, from);
  } else {
    update_endpoint(now, *p, dg);
  }
  reschedule(*p);
}

// A session began (PeerEvent::kSessionEstablished): its audit events, now
// that the datagram that completed it says where from. We initiated if it
// was a response; else the peer's first data under the new keys confirmed
// the handshake we answered.
void Device::announce_session(Peer& p, const Datagram& dg) {
  if (!p.announce_handshake) return;
  p.announce_handshake = false;
  const HandshakeRole role = is_response(dg.data) ? HandshakeRole::kInitiator : HandshakeRole::kResponder;
  AuditEvent handshake = audit_event(
      AuditKind::kHandshake,
      "peer " + p.label() + ": handshake completed as " + std::string(to_string(role)) + " via " + dg.from.to_string());
  handshake.endpoint = dg.from;
  handshake.role = role;
  handshake.level = LogLevel::kDebug;  // every two minutes: the journal keeps it, the console need not show it
  audit(p, std::move(handshake));
  if (p.announce_up) {
    p.announce_up = false;
    AuditEvent up = audit_event(AuditKind::kPeerUp, "peer " + p.label() + ": tunnel up via " + dg.from.to_string());
    up.endpoint = dg.from;
    up.role = role;
    audit(p, std::move(up));
  }
}

// Roaming: the endpoint follows the latest authenticated source, and our
// replies leave from the address it came to (sticky source). With an
// endpoint list, the entry it came from is the one in use.
void Device::update_endpoint(const Now& now, Peer& p, const Datagram& dg) {
  const SockAddr& from = dg.from;
  const bool new_path = p.source != dg.local || p.spec.endpoint != from;
  p.unanswered_data_since.reset();
  p.last_receive_mono = now.mono;
  announce_session(p, dg);
  bool told = false;
  if (p.failover) {
    if (const auto s = p.failover->on_authenticated(now.mono, now.wall, from, dg.local, is_response(dg.data))) {
      log_switch(p, *s, from);
      told = true;
    }
    if (p.failover->holds_endpoint(from, dg.local)) return;  // a straggler from the entry we left
  }
  if (!new_path) return;
  if (p.spec.endpoint != from) {
    if (p.spec.endpoint && !told) {
      AuditEvent e = audit_event(
          AuditKind::kEndpointChanged,
          "peer " + p.label() + ": endpoint changed from " + p.spec.endpoint->to_string() + " to " + from.to_string());
      e.endpoint = from;
      e.previous = p.spec.endpoint;
      e.reason = "roamed";
      audit(p, std::move(e));
    }
    set_peer_endpoint(p, from);
  }
  set_source(p, dg.local);
}

// Every change of a peer's endpoint goes through here, keeping by_endpoint_
// (the per-packet checks of a source against the peers' endpoints) true.
void Device::set_peer_endpoint(Peer& p, const std::optional<SockAddr>& endpoint) {
  if (p.spec.endpoint) {
    auto [first, last] = by_endpoint_.equal_range(*p.spec.endpoint);
    for (auto it = first; it != last; ++it) {
      if (it->second == p.id) {
        by_endpoint_.erase(it);
        break;
      }
    }
  }
  p.spec.endpoint = endpoint;
  if (endpoint) by_endpoint_.emplace(*endpoint, p.id);
}

void Device::receive_indexed(const Now& now, const hs::Message& m, uint32_t index, const Datagram& dg) {
  const SockAddr& from = dg.from;
  Peer* p = by_index(index);
  if (p == nullptr) return drop(Drop::kUnknownIndex, from);
  PeerIo io(*this, *p, &dg);
  Result<void, hs::ProtoError> r;
  bool roam = true;
  if (const auto* resp = std::get_if<hs::ResponseMsg>(&m)) {
    r = p->machine->receive_response(now, *resp, io);
  } else {
    r = p->machine->receive_cookie_reply(now, std::get<hs::CookieReplyMsg>(m), io);
    roam = false;  // a cookie reply proves nothing about the peer's address
  }
  if (!r) {
    count_refusal(r.error(), *p, from);
  } else if (roam) {
    update_endpoint(now, *p, dg);
  }
  reschedule(*p);
}

// Transport messages are opened together, then finished in arrival order
// (PeerMachine::prepare_transport / finish_transport).
void Device::queue_open(const Now& now, const hs::TransportMsg& m, const Datagram& dg) {
  Peer* p = by_index(m.receiver());
  if (p == nullptr) return drop(Drop::kUnknownIndex, dg.from);
  auto job = p->machine->prepare_transport(now, m);
  if (!job) return count_refusal(job.error(), *p, dg.from);
  opens_.push_back({p, m, *job, &dg, false});
}

void Device::open_queued(const Now& now) {
  if (opens_.empty()) return;
  auto open = [this](size_t i) { opens_[i].opened = hs::run_open(opens_[i].job); };
  pool_->run(opens_.size(), open);
  for (const QueuedOpen& q : opens_) {
    if (!q.opened) {
      count_refusal(hs::ProtoError::kDecryptFailed, *q.peer, q.dg->from);
      continue;
    }
    PeerIo io(*this, *q.peer, q.dg);
    if (auto r = q.peer->machine->finish_transport(now, q.msg, io); !r) {
      count_refusal(r.error(), *q.peer, q.dg->from);
    } else {
      q.peer->last_receive = now.wall;
      update_endpoint(now, *q.peer, *q.dg);
    }
    reschedule(*q.peer);
  }
  opens_.clear();
}

// Cryptokey routing on ingress: only a source address this peer may use gets
// through (wg_packet_consume_data_done). Padding is trimmed by the IP length.
void Device::deliver(Peer& p, MutableBytes packet, uint8_t outer_tos) {
  auto h = parse_ip_header(packet);
  if (!h) return drop(Drop::kBadInnerPacket);
  auto owner = h->version == 4 ? routes_.lookup_v4(h->src) : routes_.lookup_v6(h->src);
  if (!owner || *owner != p.id) {
    drop(Drop::kSourceNotAllowed);
    if (log_->enabled(LogLevel::kDebug)) {
      log_->log_limited(LogLevel::kDebug, "source-not-allowed", clock_->now().mono,
                        "peer " + p.label() + ": dropped a packet from " + address_text(*h, h->src) + " to " +
                            address_text(*h, h->dst) + ", whose source is not in its allowed-ips");
    }
    return;
  }
  const MutableBytes inner = packet.first(h->total_length);
  // RFC 6040 decapsulation: CE met on the way reaches the inner packet.
  if (apply_outer_ecn(inner, outer_tos) == EcnResult::kDrop) {
    drop(Drop::kEcnCeNotEct);
    if (log_->enabled(LogLevel::kDebug)) {
      log_->log_limited(LogLevel::kDebug, "ecn-ce-not-ect", clock_->now().mono,
                        "peer " + p.label() + ": dropped a packet from " + address_text(*h, h->src) + " to " +
                            address_text(*h, h->dst) +
                            ": marked CE (congestion) on the way, but its sender does not use ECN (RFC 6040)");
    }
    return;
  }
  netmaps_.inbound(p.id, inner);
  if (clamp_mss(inner, settings_.mss_clamp)) ++mss_clamped_;
  tun_out_.push_back(inner);  // written by flush_tun
}

// --- Status -----------------------------------------------------------------------

std::vector<PeerStatus> Device::peers(AllowedIpsDetail detail) const {
  std::vector<PeerStatus> out;
  out.reserve(by_key_.size());
  for (const auto& [key, id] : by_key_) out.push_back(*peer(key, detail));
  return out;
}

std::vector<hs::PublicKey> Device::peer_keys() const {
  std::vector<hs::PublicKey> out;
  out.reserve(by_key_.size());
  for (const auto& [key, id] : by_key_) out.push_back(key);
  return out;
}

size_t Device::sessions_up() const {
  const Instant now = clock_->now().mono;
  return static_cast<size_t>(
      std::count_if(peers_.begin(), peers_.end(), [&](const auto& e) { return e.second->machine->has_session(now); }));
}

std::optional<PeerStatus> Device::peer(const hs::PublicKey& key, AllowedIpsDetail detail) const {
  const Peer* p = find(key);
  if (p == nullptr) return std::nullopt;
  PeerStatus s;
  s.public_key = key;
  s.preshared_key = p->spec.preshared_key;
  s.label = p->label();
  s.endpoint = p->spec.endpoint;
  if (detail == kWithAllowedIps) s.allowed_ips = routes_.prefixes_of(p->id);
  s.netmap = p->spec.netmap;
  s.netmap_out = netmaps_.translated_out(p->id);
  s.netmap_in = netmaps_.translated_in(p->id);
  s.persistent_keepalive = p->spec.persistent_keepalive;
  s.stats = p->machine->stats();
  s.has_session = p->machine->has_session(clock_->now().mono);
  s.handshake_attempts = p->machine->timers().handshake_attempts;
  s.unanswered_initiations = p->unanswered;
  s.unanswered_since = p->unanswered_since;
  s.last_receive = p->last_receive;
  s.send_errno = p->send_errno;
  s.send_error_at = p->send_error_at;
  s.source = p->source;
  s.last_receive_mono = p->last_receive_mono;
  const Instant now = clock_->now().mono;
  // Without a list, WireGuard's own rule: data sent for KEEPALIVE +
  // REKEY_TIMEOUT (15 s) with nothing back, as the far end answers one-way
  // traffic only with a keepalive every 10 s.
  s.path_alive = p->failover ? p->failover->path_alive(now)
                             : !p->unanswered_data_since ||
                                   now - *p->unanswered_data_since < hs::kKeepaliveTimeout + hs::kRekeyTimeout;
  if (p->failover) {
    s.endpoints = p->failover->entries();
    s.active_endpoint = p->failover->active();
    s.endpoint_switches = p->failover->switches();
  }
  return s;
}

}  // namespace sitelink::tunnel
