// The Prometheus exposition (daemon/cli/metrics.h): label values escaped
// (backslash, quote, newline) and made UTF-8, names checked, families
// grouped under one HELP/TYPE, the page for a served status with the
// four peer states; and `sitelink metrics` over HTTP against a status socket.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <sstream>
#include <thread>

#include "cli_test_util.h"
#include "control_socket_util.h"
#include "daemon/cli/metrics.h"
#include "daemon/cli/metrics_server.h"

namespace sitelink::daemon {
namespace {

using namespace test_socket;
using test::TempDir;

TEST(MetricsExposition, LabelValuesAreEscaped) {
  EXPECT_EQ(escape_label_value("office-a"), "office-a");
  EXPECT_EQ(escape_label_value(R"(a"b\c)"), R"(a\"b\\c)");
  EXPECT_EQ(escape_label_value("line\nbreak"), "line\\nbreak");
  EXPECT_EQ(escape_label_value("Zürich 東京"), "Zürich 東京");  // UTF-8 passes
  EXPECT_EQ(escape_label_value(std::string("a\xff"
                                           "b",
                                           3)),
            "a\xEF\xBF\xBD"
            "b");                                                                                 // not UTF-8: U+FFFD
  EXPECT_EQ(escape_label_value(std::string("\xC0\xAF", 2)), "\xEF\xBF\xBD\xEF\xBF\xBD");          // overlong
  EXPECT_EQ(escape_label_value(std::string("\xED\xA0\x80", 3)).find("\xED"), std::string::npos);  // surrogate
  EXPECT_EQ(escape_label_value(std::string("\xE2\x82", 2)), "\xEF\xBF\xBD\xEF\xBF\xBD");          // cut short
  EXPECT_EQ(escape_help("a\\b\nc\"d"), "a\\\\b\\nc\"d");
}

TEST(MetricsExposition, NamesAreChecked) {
  EXPECT_TRUE(valid_metric_name("sitelink_peer_up"));
  EXPECT_TRUE(valid_metric_name("a:b_c9"));
  EXPECT_FALSE(valid_metric_name(""));
  EXPECT_FALSE(valid_metric_name("9abc"));
  EXPECT_FALSE(valid_metric_name("a-b"));
  EXPECT_FALSE(valid_metric_name("a b"));
  EXPECT_TRUE(valid_label_name("interface"));
  EXPECT_FALSE(valid_label_name("a:b"));
  EXPECT_FALSE(valid_label_name("__name__"));
  EXPECT_FALSE(valid_label_name("1x"));
  Exposition e;
  EXPECT_FALSE(e.declare("bad-name", Exposition::Type::kGauge, "x"));
  EXPECT_TRUE(e.declare("ok_total", Exposition::Type::kCounter, "x"));
  EXPECT_FALSE(e.declare("ok_total", Exposition::Type::kGauge, "again"));
  EXPECT_FALSE(e.add("undeclared", {}, 1));
  EXPECT_FALSE(e.add("ok_total", {{"bad-label", "v"}}, 1));
  EXPECT_EQ(e.text(), "");  // nothing added, nothing said
}

TEST(MetricsExposition, FamiliesAreGroupedInDeclarationOrder) {
  Exposition e;
  ASSERT_TRUE(e.declare("b_total", Exposition::Type::kCounter, "B\nhelp"));
  ASSERT_TRUE(e.declare("a", Exposition::Type::kGauge, "A"));
  ASSERT_TRUE(e.add("a", {{"x", "1"}}, 5));
  ASSERT_TRUE(e.add("b_total", {{"x", "q\""}, {"y", "2"}}, 7));
  ASSERT_TRUE(e.add("a", {}, 6));
  EXPECT_EQ(e.text(),
            "# HELP b_total B\\nhelp\n# TYPE b_total counter\nb_total{x=\"q\\\"\",y=\"2\"} 7\n"
            "# HELP a A\n# TYPE a gauge\na{x=\"1\"} 5\na 6\n");
}

// A status like Gateway's: one peer up, one dead, one connecting, one down.
InterfaceStatus four_peers(WallTime now) {
  InterfaceStatus i;
  i.name = "slm0";
  const std::pair<const char*, const char*> keys[] = {{kPubA, "up \"quoted\""}, {kPubB, "dead"}, {kPubC, ""}};
  for (const auto& [key, name] : keys) {
    UapiPeerState p;
    p.public_key = pub(key);
    p.endpoint = tunnel::SockAddr::parse("203.0.113.2:51820");
    p.last_handshake = now;
    p.rx_bytes = 100;
    p.tx_bytes = 200;
    i.state.peers.push_back(p);
    SitelinkPeerStatus x;
    x.name = name;
    x.handshakes = 3;
    x.path_alive = std::string_view(name) != "dead";
    i.extra.peers.emplace_back(p.public_key, x);
  }
  i.state.peers[2].last_handshake.reset();  // connecting: never had a session
  UapiPeerState down;
  down.public_key = *handshake::PublicKey::from_base64("HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=");
  i.state.peers.push_back(down);  // no endpoint, no extra: down
  i.extra.drops = {{"no-route", 4}};
  i.extra.data_path.batch_io = true;
  i.extra.data_path.udp_gso = false;
  return i;
}

TEST(MetricsExposition, PageNamesEachPeersState) {
  const WallTime now{std::chrono::seconds(1'800'000'000)};
  const std::string page = render_metrics({four_peers(now)}, {"gone0"}, now);
  const std::string a = "interface=\"slm0\",peer=\"" + std::string(kPubA) + "\",name=\"up \\\"quoted\\\"\"";
  EXPECT_NE(page.find("sitelink_peer_up{" + a + "} 1\n"), std::string::npos) << page;
  EXPECT_NE(page.find("sitelink_peer_state{" + a + ",state=\"up\"} 1\n"), std::string::npos) << page;
  EXPECT_NE(page.find("sitelink_peer_state{" + a + ",state=\"dead\"} 0\n"), std::string::npos) << page;
  EXPECT_NE(page.find("sitelink_peer_last_handshake_seconds{" + a + "} 1800000000\n"), std::string::npos);
  EXPECT_NE(page.find("sitelink_peer_receive_bytes_total{" + a + "} 100\n"), std::string::npos);
  EXPECT_NE(page.find("sitelink_peer_transmit_bytes_total{" + a + "} 200\n"), std::string::npos);
  EXPECT_NE(page.find("sitelink_peer_handshakes_total{" + a + "} 3\n"), std::string::npos);
  const std::string b = "interface=\"slm0\",peer=\"" + std::string(kPubB) + "\",name=\"dead\"";
  EXPECT_NE(page.find("sitelink_peer_state{" + b + ",state=\"dead\"} 1\n"), std::string::npos) << page;
  EXPECT_NE(page.find("sitelink_peer_state_reason{" + b + ",state=\"dead\",reason=\"nothing-received\"} 1\n"),
            std::string::npos);
  const std::string c = "interface=\"slm0\",peer=\"" + std::string(kPubC) + "\"";  // no name: no label
  EXPECT_NE(page.find("sitelink_peer_state{" + c + ",state=\"connecting\"} 1\n"), std::string::npos) << page;
  EXPECT_NE(page.find("sitelink_peer_up{" + c + "} 0\n"), std::string::npos);
  EXPECT_NE(page.find(",state=\"down\"} 1\n"), std::string::npos);
  EXPECT_NE(page.find("reason=\"no-endpoint\"} 1\n"), std::string::npos);
  EXPECT_NE(page.find("sitelink_drops_total{interface=\"slm0\",reason=\"no-route\"} 4\n"), std::string::npos);
  EXPECT_NE(page.find("sitelink_data_path_enabled{interface=\"slm0\",technique=\"batch_io\"} 1\n"), std::string::npos);
  EXPECT_NE(page.find("sitelink_data_path_enabled{interface=\"slm0\",technique=\"udp_gso\"} 0\n"), std::string::npos);
  EXPECT_NE(page.find("sitelink_interface_up{interface=\"gone0\"} 0\n"), std::string::npos);
  EXPECT_NE(page.find("sitelink_interface_up{interface=\"slm0\"} 1\n"), std::string::npos);
  // Exactly one HELP and one TYPE per family.
  size_t helps = 0;
  for (size_t at = page.find("# HELP sitelink_peer_state "); at != std::string::npos;
       at = page.find("# HELP sitelink_peer_state ", at + 1)) {
    ++helps;
  }
  EXPECT_EQ(helps, 1u);
  EXPECT_EQ(page.find("private"), std::string::npos);
}

TEST(MetricsExposition, ScrapeReadsTheStatusSocketsEachTime) {
  TempDir dir;
  FakeBackend backend;
  backend.put(make_state());
  Served s(backend);
  ASSERT_TRUE(s.listen_status_at(dir.file("slm1.sock")));
  s.start();
  MetricsOptions o;
  o.status_dir = dir.path();
  const std::string first = scrape(o);
  EXPECT_NE(
      first.find("sitelink_peer_receive_bytes_total{interface=\"slm1\",peer=\"" + std::string(kPubB) + "\"} 2048\n"),
      std::string::npos)
      << first;
  UapiState none = make_state();
  none.peers.clear();  // a reload removed the peer: it is gone from the next page
  backend.put(none);
  const std::string second = scrape(o);
  EXPECT_EQ(second.find(kPubB), std::string::npos) << second;
  EXPECT_NE(second.find("sitelink_interface_peers{interface=\"slm1\"} 0\n"), std::string::npos) << second;
}

}  // namespace
}  // namespace sitelink::daemon
