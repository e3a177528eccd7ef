// The failover and failback rules; see endpoint_failover.h.
#include "tunnel/endpoint_failover.h"

#include <algorithm>

#include "handshake/constants.h"

namespace sitelink::tunnel {

namespace {
uint32_t bit(size_t i) { return uint32_t{1} << i; }
}  // namespace

std::string_view to_string(EndpointFailover::State s) {
  switch (s) {
    case EndpointFailover::State::kAnswering: return "answering";
    case EndpointFailover::State::kNotAnswering: return "not answering";
    case EndpointFailover::State::kUntried: break;
  }
  return "untried";
}

EndpointFailover::EndpointFailover(std::vector<EndpointChoice> entries, Settings settings) : settings_(settings) {
  if (entries.size() > kMaxEntries) entries.resize(kMaxEntries);
  for (auto& c : entries) entries_.push_back(Entry{std::move(c), State::kUntried, std::nullopt, std::nullopt});
  if (entries_.empty()) active_.reset();
}

bool EndpointFailover::same_list(const std::vector<EndpointChoice>& entries) const {
  return entries.size() == entries_.size() &&
         std::equal(entries.begin(), entries.end(), entries_.begin(),
                    [](const EndpointChoice& a, const Entry& b) { return a == b.choice; });
}

std::optional<size_t> EndpointFailover::match(const SockAddr& from, const LocalAddr& local) const {
  std::optional<size_t> by_address;
  for (size_t i = 0; i < entries_.size(); ++i) {
    const EndpointChoice& c = entries_[i].choice;
    if (c.address != from) continue;
    if (!by_address) by_address = i;
    if (c.source.valid() && local.valid() && c.source.ip != local.ip) continue;
    return i;
  }
  return by_address;
}

Duration EndpointFailover::suspect_after() const {
  return one_way_
             ? std::max<Duration>(settings_.failover_after, handshake::kKeepaliveTimeout + handshake::kRekeyTimeout)
             : settings_.failover_after;
}

std::optional<EndpointFailover::Switch> EndpointFailover::on_authenticated(Instant now, WallTime wall,
                                                                           const SockAddr& from, const LocalAddr& local,
                                                                           bool handshake_response) {
  unanswered_since_.reset();
  retry_initiate_ = Instant::never();
  // Answers closer together than failover_after: the traffic is two-way.
  if (last_answer_ && now - *last_answer_ < settings_.failover_after) one_way_ = false;
  last_answer_ = now;
  const std::optional<size_t> k = in_use(from, local) ? active_ : match(from, local);
  if (!k) {
    // Roamed to an address in no entry: followed, as WireGuard does.
    active_.reset();
    left_.reset();
    attempt_.reset();
    exhausted_ = false;
    told_outage_ = false;
    probe_due_ = false;
    unclear_ = 0;
    next_probe_ = Instant::never();
    return std::nullopt;
  }
  Entry& e = entries_[*k];
  e.state = State::kAnswering;
  e.last_answered = wall;
  if (active_ && k == left_ && *k > *active_ && now - switched_at_ < settings_.probe_timeout) {
    // The less preferred entry we just moved away from (a failback): a
    // packet the far end sent before it followed us, in flight or its
    // reply to our keepalive on that entry. Moving back would undo a
    // failback that works; the entry in use stays, and so does the
    // endpoint (holds_endpoint).
    return std::nullopt;
  }
  if (k == active_) {
    if (attempt_ && attempt_->probe && handshake_response) {
      // The probe answered over the entry in use: unclear (see the header).
      const Instant sent = attempt_->last_copy;
      attempt_.reset();
      if (unclear_ < kUnclearProbes) {
        ++unclear_;
        next_probe_ = sent + handshake::kRekeyTimeout;
      } else {
        unclear_ = 0;  // the next probe comes failback_interval after this one
      }
    } else if (attempt_ && !attempt_->probe) {
      // The entry in use answered the handshake: it was alive; data went one way.
      if (suspected_) one_way_ = true;
      attempt_.reset();
    }
    suspected_ = false;
    exhausted_ = false;
    told_outage_ = false;
    return std::nullopt;
  }
  const Switch s{active_, *k};
  left_ = active_;
  active_ = k;
  switched_at_ = now;
  suspected_ = false;
  one_way_ = false;
  ++switches_;
  attempt_.reset();
  exhausted_ = false;
  told_outage_ = false;
  probe_due_ = false;
  unclear_ = 0;
  next_probe_ = *k > 0 ? now + settings_.failback_interval : Instant::never();
  return s;
}

bool EndpointFailover::in_use(const SockAddr& from, const LocalAddr& local) const {
  if (!active_) return false;
  const EndpointChoice& c = entries_[*active_].choice;
  return c.address == from && (!c.source.valid() || !local.valid() || c.source.ip == local.ip);
}

bool EndpointFailover::holds_endpoint(const SockAddr& from, const LocalAddr& local) const {
  if (!active_ || in_use(from, local)) return false;
  const std::optional<size_t> k = match(from, local);
  return k && *k != *active_;
}

void EndpointFailover::mark_tried(size_t i, WallTime wall) { entries_[i].last_tried = wall; }

std::vector<size_t> EndpointFailover::on_initiation(Instant now, WallTime wall) {
  retry_initiate_ = Instant::never();
  if (entries_.empty()) return {};
  std::vector<size_t> targets;
  if (std::exchange(probe_due_, false) && active_ && *active_ > 0) {
    // Failback: the preferred entries only; the session on the one in use
    // carries on until one of them answers.
    Attempt a{now, 0, *active_ - 1, true, unclear_ > 0};
    for (size_t i = 0; i < *active_; ++i) {
      targets.push_back(i);
      a.tried |= bit(i);
      mark_tried(i, wall);
    }
    attempt_ = a;
    next_probe_ = now + settings_.failback_interval;
    return targets;
  }
  if (exhausted_) {
    // Every entry failed in this outage: one each, in turn.
    const size_t i = rotate_ % entries_.size();
    rotate_ = i + 1;
    attempt_ = Attempt{now, bit(i), i, false};
    mark_tried(i, wall);
    return {i};
  }
  if (attempt_ && !attempt_->probe) {
    // WireGuard's retry during an outage: it goes where the copies got to,
    // and they carry on down the list.
    attempt_->last_copy = now;
    mark_tried(attempt_->cursor, wall);
    return {attempt_->cursor};
  }
  if (!active_) {
    // Following a roamed peer: this goes to where it is; if that does not
    // answer, the copies go down the list from the first entry.
    attempt_ = Attempt{now, 0, entries_.size() - 1, false};
    return {};
  }
  attempt_ = Attempt{now, bit(*active_), *active_, false};
  mark_tried(*active_, wall);
  return {*active_};
}

void EndpointFailover::on_resent(Instant now, WallTime wall, size_t entry) {
  if (!attempt_ || entry >= entries_.size()) return;
  attempt_->cursor = entry;
  attempt_->tried |= bit(entry);
  attempt_->last_copy = now;
  mark_tried(entry, wall);
}

void EndpointFailover::on_initiate_refused(Instant now) { retry_initiate_ = now + settings_.probe_timeout; }

void EndpointFailover::on_gave_up() {
  attempt_.reset();
  suspected_ = false;
  one_way_ = false;
  exhausted_ = false;
  told_outage_ = false;
  unanswered_since_.reset();
  probe_due_ = false;
  unclear_ = 0;
  next_probe_ = Instant::never();
  retry_initiate_ = Instant::never();
  rotate_ = 0;
  left_.reset();
  if (!entries_.empty()) active_ = 0;
}

std::optional<size_t> EndpointFailover::next_untried(const Attempt& a) const {
  const size_t n = entries_.size();
  for (size_t step = 1; step <= n; ++step) {
    const size_t i = (a.cursor + step) % n;
    if ((a.tried & bit(i)) == 0) return i;
  }
  return std::nullopt;
}

EndpointFailover::Action EndpointFailover::on_timer(Instant now) {
  if (attempt_ && attempt_->probe) {
    if (now < attempt_->last_copy + handshake::kRekeyTimeout) {
      if (!attempt_->keepalive_held || now < attempt_->last_copy + settings_.probe_timeout) return {};
      attempt_->keepalive_held = false;
      return {Action::Kind::kKeepalive};
    }
    // No preferred entry answered the probe.
    for (size_t i = 0; i < entries_.size(); ++i) {
      if ((attempt_->tried & bit(i)) != 0) entries_[i].state = State::kNotAnswering;
    }
    attempt_.reset();
    unclear_ = 0;
  }
  if (attempt_) {
    if (exhausted_ || now < attempt_->last_copy + settings_.probe_timeout) return {};
    if ((attempt_->tried & bit(attempt_->cursor)) != 0) entries_[attempt_->cursor].state = State::kNotAnswering;
    if (const auto next = next_untried(*attempt_)) return {Action::Kind::kResend, *next};
    exhausted_ = true;
    rotate_ = attempt_->cursor + 1;
    return {};
  }
  if (exhausted_ || (!retry_initiate_.is_never() && now < retry_initiate_)) return {};
  if (unanswered_since_ && now >= *unanswered_since_ + suspect_after()) {
    suspected_ = true;
    return {Action::Kind::kInitiate};
  }
  if (active_ && *active_ > 0 && now >= next_probe_) {
    probe_due_ = true;
    return {Action::Kind::kInitiate};
  }
  return {};
}

Instant EndpointFailover::next_deadline() const {
  if (attempt_) {
    if (attempt_->probe) {
      const Duration wait = attempt_->keepalive_held
                                ? std::min<Duration>(settings_.probe_timeout, handshake::kRekeyTimeout)
                                : handshake::kRekeyTimeout;
      return attempt_->last_copy + wait;
    }
    return exhausted_ ? Instant::never() : attempt_->last_copy + settings_.probe_timeout;
  }
  if (exhausted_) return Instant::never();
  Instant d = Instant::never();
  if (unanswered_since_) d = *unanswered_since_ + suspect_after();
  if (active_ && *active_ > 0) d = std::min(d, next_probe_);
  if (d.is_never() || retry_initiate_.is_never()) return d;
  return std::max(d, retry_initiate_);
}

}  // namespace sitelink::tunnel
