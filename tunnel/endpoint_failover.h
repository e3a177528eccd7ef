// EndpointFailover: a peer's endpoints in order of preference (`endpoints:`,
// SPEC.md "Real office networks"), which one is in use, and the rules that
// move between them. Pure logic on a clock the caller passes in; the device
// sends what it asks for. The rules (README, "Two internet lines"):
//
//   suspect   data has gone to the peer for `failover_after` and nothing
//             authenticated came back: the device starts a handshake (which
//             goes to the endpoint in use). If the entry in use answers it,
//             the traffic was one-way (the far end's passive keepalive comes
//             only every 10 s): until answers come within failover_after of
//             each other again, the wait is KEEPALIVE + REKEY_TIMEOUT (15 s,
//             WireGuard's own new-handshake rule), not one handshake per
//             failover_after.
//   move on   an initiation unanswered for `probe_timeout` is sent again, the
//             same bytes, to the next entry not yet tried, one per
//             probe_timeout, round the list once. The far end answers the
//             first copy that reaches it and ignores the rest as replays,
//             so this costs it one handshake.
//   all dead  once every entry was tried without an answer, no more copies:
//             each new initiation (WireGuard's retries: every 5 s for 90 s,
//             then only when there is traffic) goes to the next entry in
//             turn, one each.
//   answer    any authenticated packet from an entry (its address, and its
//             source address where one is configured; if none matches both,
//             its address alone: a configured source the host lacks is sent
//             around by the kernel) makes it the one in use. From an address in no entry: the peer roamed, as in
//             WireGuard; it is followed, and no entry is in use until one
//             answers again.
//   failback  while an entry other than the first is in use, every
//             `failback_interval` an initiation goes to each entry before it
//             (and not to the one in use, whose session carries on: make
//             before break), followed by a keepalive on the entry in use, so
//             that a far end which moved its reply address to the probed
//             line (WireGuard roams on an initiation) moves back at once even
//             if that line works one way only. If none answers, WireGuard's
//             retry of that initiation goes to the entry in use.
//   unclear   a stock far end answers a handshake wherever its endpoint for
//             us points when the answer leaves; that keepalive (or our data)
//             can get there first, and the answer to the probe then comes
//             over the entry in use. That proves the probed line carries
//             our packets but says nothing of the way back: the probe is
//             sent again as soon as WireGuard lets a new handshake go
//             (REKEY_TIMEOUT after the last), up to kUnclearProbes times,
//             and these probes hold the keepalive back until they have gone
//             unanswered for probe_timeout.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "handshake/base/time.h"
#include "tunnel/sock_addr.h"

namespace sitelink::tunnel {

// One entry of a peer's list, resolved: where to send, and from where.
struct EndpointChoice {
  SockAddr address;
  LocalAddr source;   // configured `source` (unset: the kernel's choice, or the sticky one)
  std::string label;  // as written ("gw.example:51820 from 203.0.113.130"), for logs
  friend bool operator==(const EndpointChoice&, const EndpointChoice&) = default;
};

class EndpointFailover {
 public:
  struct Settings {
    Duration failover_after = std::chrono::seconds(3);
    Duration probe_timeout = std::chrono::seconds(1);
    Duration failback_interval = std::chrono::seconds(20);
  };
  enum class State : uint8_t { kUntried, kAnswering, kNotAnswering };
  struct Entry {
    EndpointChoice choice;
    State state = State::kUntried;
    std::optional<WallTime> last_tried;
    std::optional<WallTime> last_answered;
  };
  // What the device should do now (on_timer).
  struct Action {
    // kKeepalive: one on the entry in use (a held-back probe keepalive).
    enum class Kind : uint8_t { kNone, kInitiate, kResend, kKeepalive } kind = Kind::kNone;
    size_t entry = 0;  // kResend: send the last initiation again, to this entry
  };
  // A change of the entry in use, for the log (on_authenticated).
  struct Switch {
    std::optional<size_t> from;  // nullopt: from an address in no entry
    size_t to;
  };

  static constexpr size_t kMaxEntries = 16;
  // Probes sent again at once after one answered over the entry in use.
  static constexpr uint8_t kUnclearProbes = 3;

  EndpointFailover(std::vector<EndpointChoice> entries, Settings settings);

  const std::vector<Entry>& entries() const { return entries_; }
  std::optional<size_t> active() const { return active_; }
  uint64_t switches() const { return switches_; }
  const Settings& settings() const { return settings_; }
  void set_settings(const Settings& s) { settings_ = s; }
  // The entry handshakes start from (the first, until one answers).
  const EndpointChoice& initial() const { return entries_.front().choice; }
  bool same_list(const std::vector<EndpointChoice>& entries) const;

  // A transport packet carrying data went to the peer.
  void on_data_sent(Instant now) {
    if (!unanswered_since_) unanswered_since_ = now;
  }
  // An authenticated packet came from `from` to our `local`. Returns the
  // switch, if the entry in use changed to a listed one. A packet from
  // the less preferred entry we moved away from, within probe_timeout of
  // the move, changes nothing: it was sent before the far end followed us.
  // `handshake_response`: the packet answered our latest initiation.
  std::optional<Switch> on_authenticated(Instant now, WallTime wall, const SockAddr& from, const LocalAddr& local,
                                         bool handshake_response = false);
  // Whether the peer's endpoint and source must stay as they are although
  // an authenticated packet came from `from` to `local`: it matches another
  // listed entry than the one in use (after on_authenticated: a straggler
  // above). An address in no entry resets the entry in use, so roaming to
  // it is followed.
  bool holds_endpoint(const SockAddr& from, const LocalAddr& local) const;
  // The machine sent a new handshake initiation: the entries it goes to.
  std::vector<size_t> on_initiation(Instant now, WallTime wall);
  // The device asked for a handshake (kInitiate) but the machine may not
  // start one yet (REKEY_TIMEOUT): ask again later.
  void on_initiate_refused(Instant now);
  // The initiation just sent was a failback probe that the device follows
  // with a keepalive on the entry in use at once (not when held back: unclear).
  bool keepalive_with_probe() const { return attempt_ && attempt_->probe && !attempt_->keepalive_held; }
  // The machine gave up (no answer for 90 s): start again from the first.
  void on_gave_up();
  // The entry a resend went to was tried (kResend done).
  void on_resent(Instant now, WallTime wall, size_t entry);

  Action on_timer(Instant now);
  Instant next_deadline() const;

  // "Up but dead": data went out for as long as makes the entry in use
  // suspect (failover_after; 15 s for one-way traffic) with nothing back.
  bool path_alive(Instant now) const { return !unanswered_since_ || now - *unanswered_since_ < suspect_after(); }
  // The log says "trying B" once per outage (bounded log lines).
  bool first_move_of_outage() const { return !told_outage_; }
  void told_outage() { told_outage_ = true; }
  bool exhausted() const { return exhausted_; }

 private:
  struct Attempt {
    Instant last_copy;
    uint32_t tried = 0;           // bit i: this initiation went to entry i
    size_t cursor = 0;            // the entry tried last
    bool probe = false;           // a failback probe: no copies down the list
    bool keepalive_held = false;  // a probe whose keepalive waits for probe_timeout
  };
  bool in_use(const SockAddr& from, const LocalAddr& local) const;
  std::optional<size_t> match(const SockAddr& from, const LocalAddr& local) const;
  std::optional<size_t> next_untried(const Attempt& a) const;
  void mark_tried(size_t i, WallTime wall);

  std::vector<Entry> entries_;
  Settings settings_;
  std::optional<size_t> active_ = 0;
  uint64_t switches_ = 0;
  // The last change of active_ to a listed entry: when, and from which.
  Instant switched_at_ = Instant::never();
  std::optional<size_t> left_;
  std::optional<Instant> unanswered_since_;  // first data sent since the last answer
  std::optional<Instant> last_answer_;
  bool one_way_ = false;    // a suspect handshake was answered by the entry in use
  bool suspected_ = false;  // the attempt in flight began as a suspicion
  Duration suspect_after() const;
  std::optional<Attempt> attempt_;         // an initiation in flight
  bool exhausted_ = false;                 // every entry tried in this outage
  size_t rotate_ = 0;                      // when exhausted: the next entry in turn
  Instant next_probe_ = Instant::never();  // failback
  bool probe_due_ = false;                 // the next initiation is a failback probe
  uint8_t unclear_ = 0;                    // probes answered over the entry in use, in a row
  Instant retry_initiate_ = Instant::never();
  bool told_outage_ = false;
};

// "untried", "answering" or "not answering".
std::string_view to_string(EndpointFailover::State s);

}  // namespace sitelink::tunnel
