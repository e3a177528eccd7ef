// The one change path (daemon/reconfigure.h) that start-up, reload and UAPI
// `set` share: a real Device over the in-memory network and TUN, a fake of
// the kernel's side (MTU, fwmark, port, addresses, routes) that can be told
// to fail, and a second gateway to hold sessions with. Checks that what is
// reported as applied is what runs, that failures leave the old value in
// effect, that unchanged peers keep their sessions, and, over random
// sequences of reloads and `wg set`s, that the configuration in effect always
// matches the device's peers and the routes.
#include "daemon/reconfigure.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "config/diff.h"
#include "fakes/fake_clock.h"
#include "fakes/fake_network.h"
#include "fakes/fake_tun.h"
#include "support/tcp_syn.h"
#include "support/test_support.h"

namespace sitelink::daemon {
namespace {

using namespace std::chrono_literals;
namespace hs = handshake;
using config::IpPrefix;

IpPrefix prefix(const char* s) { return *IpPrefix::parse(s); }
tunnel::SockAddr addr(const char* s) { return *tunnel::SockAddr::parse(s); }

class FakeControl final : public GatewayControl {
 public:
  tunnel::SysResult<void> set_mtu(uint32_t mtu) override {
    if (mtu_errno != 0) return tunnel::sys_error(mtu_errno, "set MTU");
    mtus.push_back(mtu);
    return {};
  }
  tunnel::SysResult<void> set_fwmark(uint32_t mark) override {
    if (fwmark_errno != 0) return tunnel::sys_error(fwmark_errno, "set fwmark");
    fwmark = mark;
    return {};
  }
  tunnel::SysResult<void> set_listen_port(uint16_t p) override {
    if (port_errno != 0) return tunnel::sys_error(port_errno, "bind port " + std::to_string(p));
    port = p;
    return {};
  }
  std::vector<std::string> sync_addresses(const std::vector<IpPrefix>& wanted) override {
    addresses = {wanted.begin(), wanted.end()};
    ++address_syncs;
    return address_failures;
  }
  std::vector<std::string> sync_routes(const std::vector<IpPrefix>& wanted) override {
    routes = {wanted.begin(), wanted.end()};
    return {};
  }
  std::optional<tunnel::SockAddr> resolve(const config::EndpointSpec& e) override {
    if (!e.address) return std::nullopt;  // no DNS here
    return tunnel::SockAddr(*e.address, e.port);
  }
  size_t set_crypto(const config::DataPathConfig& d) override {
    ++crypto_calls;
    return d.crypto_threads.value_or(0);
  }
  std::optional<bool> forwarding(config::Family f) override {
    return f == config::Family::kV4 ? forward_v4 : forward_v6;
  }
  bool set_log_level(std::optional<config::LogLevel> l) override {
    if (level_pinned) return false;
    level = l;
    return true;
  }

  int mtu_errno = 0, fwmark_errno = 0, port_errno = 0;
  std::vector<uint32_t> mtus;
  uint32_t fwmark = 0;
  uint16_t port = 0;
  std::set<IpPrefix> addresses, routes;
  std::vector<std::string> address_failures;
  int address_syncs = 0;
  int crypto_calls = 0;
  std::optional<config::LogLevel> level;
  bool level_pinned = false;
  std::optional<bool> forward_v4 = true, forward_v6 = true;
};

// Office A runs the change path; office B is a plain device to hold a
// session with. C and D are peers that never answer.
class Reconfigure : public ::testing::Test {
 protected:
  Reconfigure()
      : key_a(hs::PrivateKey::generate(rng)),
        key_b(hs::PrivateKey::generate(rng)),
        key_c(hs::PrivateKey::generate(rng)),
        key_d(hs::PrivateKey::generate(rng)),
        udp_a(net.socket(addr("203.0.113.1:51820"))),
        udp_b(net.socket(addr("198.51.100.2:51820"))) {
    log.set_sink([this](tunnel::LogLevel, std::string_view line) { lines.emplace_back(line); });
    a = std::make_unique<tunnel::Device>(key_a, tunnel::Device::Settings{}, clock, rng, tun_a, udp_a, log);
    b = std::make_unique<tunnel::Device>(key_b, tunnel::Device::Settings{}, clock, rng, tun_b, udp_b, log);
    b->upsert_peer({key_a.public_key(), {}, addr("203.0.113.1:51820"), {prefix("198.18.1.0/24")}, 0s, "office-a"});
    running.interface.private_key = key_a;
    running.interface.addresses = {prefix("198.18.0.1/24")};
  }

  config::PeerConfig peer(const hs::PrivateKey& k, const char* name, std::vector<IpPrefix> ips,
                          const char* endpoint = nullptr) {
    config::PeerConfig p;
    p.name = name;
    p.public_key = k.public_key();
    p.allowed_ips = std::move(ips);
    if (endpoint != nullptr) p.endpoint = endpoint_of(addr(endpoint));
    return p;
  }
  config::PeerConfig office_b() { return peer(key_b, "office-b", {prefix("198.18.2.0/24")}, "198.51.100.2:51820"); }

  ChangeReport apply(const config::Config& next) {
    ChangeReport r;
    running = apply_change(running, next, *a, control, rng, r);
    return r;
  }
  int wg_set(const UapiSet& request) {
    const UapiChange c = uapi_change(running, request, *a);
    ChangeReport r;
    running = apply_change(c.before, c.after, *a, control, rng, r);
    return r.first_errno;
  }
  void pump() {
    for (int rounds = 0; rounds < 100 && net.flush() > 0; ++rounds) {
      while (a->handle_udp_readable()) {
      }
      while (b->handle_udp_readable()) {
      }
    }
  }
  // The configuration in effect is what the device runs: the same peers
  // with the same allowed-ips, keys and keepalives, and routes for exactly
  // their allowed-ips.
  void expect_in_effect() {
    std::set<IpPrefix> all;
    ASSERT_EQ(a->peer_count(), running.peers.size());
    for (const auto& p : running.peers) {
      const auto st = a->peer(p.public_key);
      ASSERT_TRUE(st) << p.label();
      EXPECT_EQ(std::set<IpPrefix>(st->allowed_ips.begin(), st->allowed_ips.end()),
                std::set<IpPrefix>(p.allowed_ips.begin(), p.allowed_ips.end()))
          << p.label();
      EXPECT_TRUE(st->preshared_key == p.preshared_key) << p.label();
      EXPECT_EQ(st->persistent_keepalive, p.persistent_keepalive) << p.label();
      all.insert(p.allowed_ips.begin(), p.allowed_ips.end());
    }
    EXPECT_EQ(control.routes, running.interface.routes ? all : std::set<IpPrefix>{});
  }
  static bool mentions(const std::vector<std::string>& v, const std::string& text) {
    return std::any_of(v.begin(), v.end(), [&](const std::string& s) { return s.find(text) != std::string::npos; });
  }

  test::FakeNetwork net;
  test::FakeClock clock;
  test::SeededRng rng{42};
  hs::PrivateKey key_a, key_b, key_c, key_d;
  test::FakeTun tun_a, tun_b;
  test::FakeUdp& udp_a;
  test::FakeUdp& udp_b;
  tunnel::Logger log;
  std::vector<std::string> lines;
  std::unique_ptr<tunnel::Device> a, b;
  FakeControl control;
  config::Config running;  // office A's configuration in effect
};

TEST_F(Reconfigure, StartUpAddsPeersSyncsRoutesAndInitiates) {
  config::Config next = running;
  next.peers = {office_b(), peer(key_c, "office-c", {prefix("198.18.3.0/24")})};
  const ChangeReport r = apply(next);
  EXPECT_TRUE(r.ok());
  EXPECT_TRUE(mentions(r.applied, "peer office-b added"));
  EXPECT_TRUE(mentions(r.applied, "peer office-c added"));
  EXPECT_EQ(control.addresses, std::set<IpPrefix>{prefix("198.18.0.1/24")});
  expect_in_effect();
  pump();  // the initiation to office-b went out at once, without traffic
  EXPECT_TRUE(a->peer(key_b.public_key())->has_session);
}

TEST_F(Reconfigure, UnchangedPeerKeepsItsSessionAndRoamedEndpoint) {
  config::Config next = running;
  next.peers = {office_b()};
  apply(next);
  pump();
  ASSERT_TRUE(a->peer(key_b.public_key())->has_session);
  const auto handshake_at = a->peer(key_b.public_key())->stats.last_handshake;
  a->set_endpoint(key_b.public_key(), addr("198.51.100.99:4000"));  // as if it roamed
  const size_t sent = udp_a.sent;

  next.peers.push_back(peer(key_c, "office-c", {prefix("198.18.3.0/24")}));
  next.interface.rekey_after_time = 100s;
  const ChangeReport r = apply(next);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.unchanged_peers, std::vector<std::string>{"office-b"});
  EXPECT_FALSE(mentions(r.applied, "office-b"));
  const auto st = a->peer(key_b.public_key());
  EXPECT_TRUE(st->has_session);
  EXPECT_EQ(st->stats.last_handshake, handshake_at);
  EXPECT_EQ(st->endpoint, addr("198.51.100.99:4000"));
  EXPECT_EQ(udp_a.sent, sent) << "office-c has no endpoint: nothing to send, and office-b needs no new handshake";
  expect_in_effect();
}

TEST_F(Reconfigure, ChangedEndpointMovesThePeerAndNewPresharedKeyStartsAHandshake) {
  config::Config next = running;
  next.peers = {office_b()};
  apply(next);
  pump();
  clock.advance(10s);  // past REKEY_TIMEOUT: a new initiation may go out
  next.peers[0].endpoint = endpoint_of(addr("198.51.100.7:51820"));
  next.peers[0].preshared_key = hs::PresharedKey::generate(rng);
  const size_t sent = udp_a.sent;
  const ChangeReport r = apply(next);
  EXPECT_TRUE(mentions(r.applied, "peer office-b: preshared key changed") &&
              mentions(r.applied, "peer office-b: endpoint 198.51.100.2:51820 -> 198.51.100.7:51820"));
  EXPECT_EQ(a->peer(key_b.public_key())->endpoint, addr("198.51.100.7:51820"));
  EXPECT_EQ(udp_a.sent, sent + 1) << "an initiation with the new preshared key";
  expect_in_effect();
}

TEST_F(Reconfigure, RemovedPeerTakesItsRoutes) {
  config::Config next = running;
  next.peers = {office_b(), peer(key_c, "office-c", {prefix("198.18.3.0/24")})};
  apply(next);
  next.peers.pop_back();
  const ChangeReport r = apply(next);
  EXPECT_TRUE(mentions(r.applied, "peer office-c removed"));
  EXPECT_FALSE(a->peer(key_c.public_key()));
  EXPECT_EQ(control.routes, std::set<IpPrefix>{prefix("198.18.2.0/24")});
  expect_in_effect();
}

TEST_F(Reconfigure, FailedStepIsReportedAndTheOldValueStaysInEffect) {
  control.mtu_errno = EPERM;
  config::Config next = running;
  next.interface.mtu = 1380;
  next.peers = {office_b()};
  ChangeReport r = apply(next);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.first_errno, EPERM);
  EXPECT_TRUE(mentions(r.failed, "mtu 1380: set MTU: Operation not permitted; still 1420"));
  EXPECT_TRUE(mentions(r.applied, "peer office-b added")) << "the rest of the change still applies";
  EXPECT_EQ(running.interface.mtu, 1420u);
  EXPECT_TRUE(control.mtus.empty());
  // The next attempt compares with the truth, so it tries again.
  control.mtu_errno = 0;
  r = apply(next);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(control.mtus, std::vector<uint32_t>{1380});
  EXPECT_EQ(running.interface.mtu, 1380u);
}

// mss-clamp is applied by the device and a reload changes it; under auto an
// MTU change moves the limit.
TEST_F(Reconfigure, MssClampFollowsReloads) {
  b->set_settings(tunnel::Device::Settings{1420, 120s, tunnel::MssLimits{}});  // only A clamps
  const auto syn = test::tcp_syn("198.18.1.5", "198.18.2.7", 1460);
  const auto send_syn = [&] {
    tun_a.inbound.push_back(syn);
    while (a->handle_tun_readable()) {
    }
    pump();
    return tun_b.outbound.empty() ? 0 : test::mss_of(tun_b.outbound.back());
  };
  config::Config next = running;
  next.peers = {office_b()};
  apply(next);
  pump();
  EXPECT_EQ(send_syn(), 1380);  // auto, MTU 1420
  next.interface.mss_clamp = config::MssClamp{config::MssClamp::Mode::kOff, 0};
  ChangeReport r = apply(next);
  EXPECT_TRUE(mentions(r.applied, "mss-clamp auto -> off"));
  EXPECT_EQ(send_syn(), 1460);
  next.interface.mss_clamp = config::MssClamp{config::MssClamp::Mode::kFixed, 1300};
  r = apply(next);
  EXPECT_TRUE(mentions(r.applied, "mss-clamp off -> 1300"));
  EXPECT_EQ(send_syn(), 1300);
  next.interface.mss_clamp = config::MssClamp{};
  next.interface.mtu = 1400;
  apply(next);
  EXPECT_EQ(send_syn(), 1360);  // auto, MTU 1400
  EXPECT_TRUE(test::tcp_checksum_ok(tun_b.outbound.back()));
  EXPECT_EQ(a->mss_clamped(), 3u);
}

// copy-dscp is applied by the device and a reload turns it on and off; the
// ECN field is copied either way.
TEST_F(Reconfigure, CopyDscpFollowsReloads) {
  std::vector<uint8_t> outer;  // the TOS of each data packet A seals
  net.fault = [&](const test::Datagram& d) {
    if (d.from.port() == 51820 && d.bytes.size() > 32 && d.bytes[0] == 4 && d.to == addr("198.51.100.2:51820")) {
      outer.push_back(d.tos);
    }
    return std::vector<test::Datagram>{d};
  };
  auto packet = test::ip_packet("198.18.1.5", "198.18.2.7", 100, 0);
  packet[1] = 0xb8 | 0x02;  // DSCP EF, ECT(0)
  const auto send = [&] {
    outer.clear();
    tun_a.inbound.push_back(packet);
    while (a->handle_tun_readable()) {
    }
    pump();
    return outer.empty() ? -1 : int{outer.back()};
  };
  config::Config next = running;
  next.peers = {office_b()};
  apply(next);
  pump();
  EXPECT_EQ(send(), 0x02);  // default: the ECN field alone
  next.interface.copy_dscp = true;
  ChangeReport r = apply(next);
  EXPECT_TRUE(mentions(r.applied, "copy-dscp false -> true"));
  EXPECT_EQ(send(), 0xba);
  next.interface.copy_dscp = false;
  r = apply(next);
  EXPECT_TRUE(mentions(r.applied, "copy-dscp true -> false"));
  EXPECT_EQ(send(), 0x02);
}

TEST_F(Reconfigure, AddressFailuresAreReportedAndRetried) {
  control.address_failures = {"cannot add address 198.18.0.9/24: File exists"};
  config::Config next = running;
  next.interface.addresses.push_back(prefix("198.18.0.9/24"));
  const ChangeReport r = apply(next);
  EXPECT_TRUE(mentions(r.failed, "cannot add address 198.18.0.9/24"));
  EXPECT_EQ(r.first_errno, 0) << "a sync failure carries no errno of its own";
  const int syncs = control.address_syncs;
  apply(next);  // no change asked, the sync still runs
  EXPECT_EQ(control.address_syncs, syncs + 1);
}

TEST_F(Reconfigure, RestartOnlyChangesAreDeferredAndNotInEffect) {
  config::Config next = running;
  next.interface.name = "sl9";
  next.interface.data_path.udp_gso = false;
  next.interface.data_path.crypto_threads = 2;
  const ChangeReport r = apply(next);
  EXPECT_TRUE(mentions(r.deferred, "name sl0 -> sl9"));
  EXPECT_TRUE(mentions(r.deferred, "udp-gso"));
  EXPECT_TRUE(mentions(r.applied, "crypto-threads: 2 running"));
  EXPECT_EQ(control.crypto_calls, 1);
  EXPECT_EQ(running.interface.name, "sl0");
  EXPECT_TRUE(running.interface.data_path.udp_gso);
  EXPECT_EQ(running.interface.data_path.crypto_threads, std::optional<uint32_t>(2));
  // Deferred again next time, not "applied" by having been asked once.
  EXPECT_TRUE(mentions(apply(next).deferred, "name sl0 -> sl9"));
}

TEST_F(Reconfigure, LogLevelFollowsTheFileUnlessTheCommandLineWins) {
  config::Config next = running;
  next.interface.log_level = config::LogLevel::kDebug;
  EXPECT_TRUE(mentions(apply(next).applied, "log-level debug"));
  EXPECT_EQ(control.level, std::optional(config::LogLevel::kDebug));
  next.interface.log_level.reset();
  EXPECT_TRUE(mentions(apply(next).applied, "log-level info"));
  EXPECT_EQ(control.level, std::nullopt);
  control.level_pinned = true;
  next.interface.log_level = config::LogLevel::kWarn;
  EXPECT_TRUE(mentions(apply(next).applied, "log-level warn in the file; --log-level on the command line wins"));
  EXPECT_EQ(control.level, std::nullopt);
}

// An office LAN routed through the tunnel with forwarding off: the tunnel
// works and the LANs cannot reach each other. Warned about, per family, at
// every change; host routes and our own subnet need no forwarding.
TEST_F(Reconfigure, WarnsWhenTheHostWillNotForwardWhatTheTunnelRoutes) {
  control.forward_v4 = false;
  control.forward_v6 = false;
  config::Config next = running;
  next.peers = {
      peer(key_b, "office-b", {prefix("198.18.0.2/32"), prefix("198.18.0.0/24"), prefix("2001:db8:b::2/128")})};
  EXPECT_TRUE(apply(next).warnings.empty()) << "a host route and our own subnet need no forwarding";
  next.peers[0].allowed_ips.push_back(prefix("198.18.2.0/24"));
  next.peers[0].allowed_ips.push_back(prefix("2001:db8:b::/48"));
  ChangeReport r = apply(next);
  ASSERT_EQ(r.warnings.size(), 2u);
  EXPECT_TRUE(mentions(r.warnings,
                       "198.18.2.0/24 (peer office-b) route a network through the tunnel, but "
                       "net.ipv4.ip_forward is 0"));
  EXPECT_TRUE(mentions(r.warnings, "net.ipv6.conf.all.forwarding is 0"));
  EXPECT_TRUE(r.ok()) << "a warning, not a failure";
  control.forward_v4 = true;
  control.forward_v6 = std::nullopt;  // unknown: no warning
  EXPECT_TRUE(apply(next).warnings.empty());
}

TEST_F(Reconfigure, ReportIsLoggedOneLinePerOutcome) {
  control.fwmark_errno = EPERM;
  config::Config next = running;
  next.interface.fwmark = 7;
  next.interface.name = "sl9";
  next.peers = {office_b()};
  ChangeReport r;
  running = apply_change(running, next, *a, control, rng, r);
  log_report(log, "reload", "t.yaml", r);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "reload: applied t.yaml: peer office-b added");
  EXPECT_EQ(lines[1], "reload: takes effect after a restart: name sl0 -> sl9");
  EXPECT_EQ(lines[2], "reload: not applied: fwmark 7: set fwmark: Operation not permitted; still 0");
  lines.clear();
  r = {};
  running = apply_change(running, running, *a, control, rng, r);
  log_report(log, "wg set", "", r);
  EXPECT_EQ(lines, std::vector<std::string>{"wg set: applied: no change (1 peer(s) unchanged)"});
}

// Each kind of change is its own line, by peer name, never with a key.
TEST_F(Reconfigure, EachChangeOfAReloadIsOneLine) {
  config::Config next = running;
  next.peers = {office_b(), peer(key_c, "office-c", {prefix("198.18.3.0/24")})};
  apply(next);
  config::Config later = running;
  later.peers = {office_b()};
  later.peers[0].endpoint = endpoint_of(addr("198.51.100.7:51820"));
  later.peers[0].allowed_ips.push_back(prefix("198.18.22.0/24"));
  later.peers[0].persistent_keepalive = std::chrono::seconds(25);
  later.peers[0].preshared_key = hs::PresharedKey::generate(rng);
  ChangeReport r;
  running = apply_change(running, later, *a, control, rng, r);
  lines.clear();
  log_report(log, "reload", "t.yaml", r);
  const std::vector<std::string> want{
      "reload: applied t.yaml: peer office-c removed",
      "reload: applied t.yaml: peer office-b: preshared key changed",
      "reload: applied t.yaml: peer office-b: endpoint 198.51.100.2:51820 -> 198.51.100.7:51820",
      "reload: applied t.yaml: peer office-b: allowed-ips +198.18.22.0/24",
      "reload: applied t.yaml: peer office-b: persistent-keepalive 0 -> 25 s",
  };
  auto sorted = [](std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
  };
  EXPECT_EQ(sorted(lines), sorted(want));
  for (const auto& l : lines) EXPECT_EQ(l.find(later.peers[0].preshared_key.to_base64()), std::string::npos) << l;
}

TEST_F(Reconfigure, WgSetEndpointMovesARoamedPeerBack) {
  config::Config next = running;
  next.peers = {office_b()};
  apply(next);
  a->set_endpoint(key_b.public_key(), addr("198.51.100.99:4000"));
  UapiSet set;
  UapiPeerSet ps;
  ps.public_key = key_b.public_key();
  ps.endpoint = addr("198.51.100.2:51820");  // the configured one
  set.peers.push_back(ps);
  EXPECT_EQ(wg_set(set), 0);
  EXPECT_EQ(a->peer(key_b.public_key())->endpoint, addr("198.51.100.2:51820"));
}

TEST_F(Reconfigure, WgSetMovesAnAllowedIpFromOnePeerToAnother) {
  config::Config next = running;
  next.peers = {office_b(), peer(key_c, "office-c", {prefix("198.18.3.0/24")})};
  apply(next);
  UapiSet set;
  UapiPeerSet ps;
  ps.public_key = key_c.public_key();
  ps.allowed_ips = {prefix("198.18.2.0/24")};
  set.peers.push_back(ps);
  ChangeReport r;
  const UapiChange c = uapi_change(running, set, *a);
  running = apply_change(c.before, c.after, *a, control, rng, r);
  EXPECT_EQ(r.first_errno, 0);
  EXPECT_TRUE(mentions(r.applied, "peer office-b: allowed-ips -198.18.2.0/24"));
  EXPECT_TRUE(mentions(r.applied, "peer office-c: allowed-ips +198.18.2.0/24"));
  EXPECT_TRUE(running.peers[0].allowed_ips.empty());
  EXPECT_EQ(running.peers[1].allowed_ips, (std::vector<IpPrefix>{prefix("198.18.3.0/24"), prefix("198.18.2.0/24")}));
  expect_in_effect();
}

TEST_F(Reconfigure, WgSetFailureIsAnErrnoAndTheRestStillApplies) {
  control.port_errno = EADDRINUSE;
  UapiSet set;
  set.listen_port = 1;
  UapiPeerSet ps;
  ps.public_key = key_d.public_key();
  ps.allowed_ips = {prefix("198.18.4.0/24")};
  set.peers.push_back(ps);
  EXPECT_EQ(wg_set(set), EADDRINUSE);
  EXPECT_EQ(running.interface.listen_port, 51820);
  EXPECT_TRUE(a->peer(key_d.public_key()));
  expect_in_effect();
}

TEST_F(Reconfigure, WgSetIgnoresOwnKeyHonoursUpdateOnlyRemoveAndReplacePeers) {
  config::Config next = running;
  next.peers = {office_b()};
  apply(next);
  UapiSet set;
  UapiPeerSet own;
  own.public_key = key_a.public_key();
  UapiPeerSet update_only;
  update_only.public_key = key_c.public_key();
  update_only.update_only = true;
  UapiPeerSet remove;
  remove.public_key = key_b.public_key();
  remove.remove = true;
  set.peers = {own, update_only, remove};
  EXPECT_EQ(wg_set(set), 0);
  EXPECT_EQ(a->peer_count(), 0u);
  EXPECT_TRUE(running.peers.empty());

  UapiSet replace;
  replace.replace_peers = true;
  UapiPeerSet d;
  d.public_key = key_d.public_key();
  replace.peers = {d};
  next.peers = {office_b(), peer(key_c, "office-c", {})};
  apply(next);
  EXPECT_EQ(wg_set(replace), 0);
  ASSERT_EQ(running.peers.size(), 1u);
  EXPECT_TRUE(running.peers[0].public_key == key_d.public_key());
  expect_in_effect();
}

TEST_F(Reconfigure, WgSetZeroPrivateKeyRemovesIt) {
  UapiSet set;
  set.private_key = hs::PrivateKey();
  EXPECT_EQ(wg_set(set), 0);
  EXPECT_FALSE(a->has_private_key());
  EXPECT_TRUE(running.interface.private_key.is_zero());
  set.private_key = key_a;
  EXPECT_EQ(wg_set(set), 0);
  EXPECT_TRUE(a->has_private_key());
  EXPECT_TRUE(a->public_key() == key_a.public_key());
}

// Random reloads and `wg set`s, with random failures of the kernel's side:
// after each, the configuration in effect is what the device runs.
// `wg set` on each peer's allowed IPs, naively (wireguard-go's order: each
// section in turn, a prefix that moves leaves its old peer at once).
using AllowedIpsModel = std::map<hs::PublicKey, std::set<IpPrefix>>;
AllowedIpsModel naive_wg_set(const config::Config& running, const UapiSet& set) {
  AllowedIpsModel peers;
  for (const auto& p : running.peers) peers[p.public_key] = {p.allowed_ips.begin(), p.allowed_ips.end()};
  if (set.replace_peers) peers.clear();
  const hs::PublicKey own = running.interface.private_key.public_key();
  for (const auto& ps : set.peers) {
    if (ps.remove) {
      peers.erase(ps.public_key);
      continue;
    }
    if (ps.public_key == own || (ps.update_only && !peers.contains(ps.public_key))) continue;
    auto& mine = peers[ps.public_key];
    if (ps.replace_allowed_ips) mine.clear();
    for (const auto& a : ps.allowed_ips) {
      for (auto& [key, theirs] : peers) {
        if (!(key == ps.public_key)) theirs.erase(a);
      }
      mine.insert(a);
    }
  }
  return peers;
}

AllowedIpsModel allowed_ips_of(const config::Config& c) {
  AllowedIpsModel out;
  for (const auto& p : c.peers) out[p.public_key] = {p.allowed_ips.begin(), p.allowed_ips.end()};
  return out;
}

TEST_F(Reconfigure, RandomChangesKeepTheConfigurationInEffectTrue) {
  const hs::PrivateKey* keys[] = {&key_b, &key_c, &key_d};
  const char* names[] = {"office-b", "office-c", "office-d"};
  std::vector<IpPrefix> pool;
  for (int i = 0; i < 6; ++i) pool.push_back(*IpPrefix::parse("198.18." + std::to_string(10 + i) + ".0/24"));
  auto pick = [&](uint32_t n) { return rng.uniform(n); };
  for (int step = 0; step < 300; ++step) {
    control.mtu_errno = pick(4) == 0 ? EPERM : 0;
    control.port_errno = pick(4) == 0 ? EADDRINUSE : 0;
    if (pick(2) == 0) {
      // A reload: a whole new file, prefixes unique across peers.
      config::Config next = running;
      next.peers.clear();
      next.interface.mtu = 1280 + pick(3) * 50;
      next.interface.routes = pick(5) != 0;
      std::vector<IpPrefix> free = pool;
      for (int k = 0; k < 3; ++k) {
        if (pick(3) == 0) continue;
        std::vector<IpPrefix> ips;
        for (int n = pick(3); n > 0 && !free.empty(); --n) {
          const size_t at = pick(static_cast<uint32_t>(free.size()));
          ips.push_back(free[at]);
          free.erase(free.begin() + static_cast<long>(at));
        }
        next.peers.push_back(peer(*keys[k], names[k], ips, pick(2) == 0 ? "198.51.100.2:51820" : nullptr));
        next.peers.back().persistent_keepalive = std::chrono::seconds(pick(2) * 25);
      }
      apply(next);
    } else {
      UapiSet set;
      set.replace_peers = pick(8) == 0;
      if (pick(4) == 0) set.listen_port = static_cast<uint16_t>(50000 + pick(100));
      for (int n = pick(3); n > 0; --n) {
        UapiPeerSet ps;
        ps.public_key = keys[pick(3)]->public_key();
        ps.remove = pick(6) == 0;
        ps.update_only = pick(4) == 0;
        ps.replace_allowed_ips = pick(3) == 0;
        for (int m = pick(3); m > 0; --m) ps.allowed_ips.push_back(pool[pick(static_cast<uint32_t>(pool.size()))]);
        if (pick(3) == 0) ps.persistent_keepalive = static_cast<uint16_t>(pick(2) * 10);
        set.peers.push_back(ps);
      }
      const AllowedIpsModel expected = naive_wg_set(running, set);
      wg_set(set);
      EXPECT_EQ(allowed_ips_of(running), expected) << "step " << step;
      for (const auto& p : running.peers) {  // each prefix once
        EXPECT_EQ(std::set<IpPrefix>(p.allowed_ips.begin(), p.allowed_ips.end()).size(), p.allowed_ips.size());
      }
    }
    SCOPED_TRACE("step " + std::to_string(step));
    expect_in_effect();
    if (HasFailure()) return;
  }
}

}  // namespace
}  // namespace sitelink::daemon
