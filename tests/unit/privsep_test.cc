// Privilege separation's pieces that need no second process (privsep.h):
// the monitor's frames (file sets, stop) round-trip and every damaged or
// partial frame is told apart; the network process's messages survive any
// split into reads and junk between them is dropped and counted; only the
// allowed sd_notify lines pass; a configuration loaded from the file set the
// monitor recorded equals the one loaded from the files; key files must
// belong to root, the reader or the daemon's user.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <random>

#include "config/key_file.h"
#include "config/load.h"
#include "config_test_util.h"
#include "daemon/privsep.h"

namespace sitelink::daemon {
namespace {

using Status = MonitorFrame::Status;

std::span<const uint8_t> bytes(const std::string& s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

std::string random_text(std::mt19937& rng, size_t max) {
  std::string s(std::uniform_int_distribution<size_t>(0, max)(rng), '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

config::FileSet random_file_set(std::mt19937& rng) {
  config::FileSet f;
  f.config_path = "/etc/sitelink/" + std::to_string(rng() % 1000) + ".yaml";
  f.config_text = random_text(rng, 3000);
  const int keys = static_cast<int>(rng() % 5);
  for (int i = 0; i < keys; ++i) f.key_files["/etc/sitelink/k" + std::to_string(i)] = random_text(rng, 60);
  return f;
}

void expect_same(const config::FileSet& a, const config::FileSet& b) {
  EXPECT_EQ(a.config_path, b.config_path);
  EXPECT_EQ(a.config_text, b.config_text);
  EXPECT_EQ(a.key_files, b.key_files);
}

TEST(PrivsepFrames, FileSetsRoundTripAndEveryPrefixIsIncomplete) {
  std::mt19937 rng(7);
  for (int round = 0; round < 50; ++round) {
    const auto files = random_file_set(rng);
    const std::string frame = encode_file_set(files);
    const auto d = decode_monitor_frame(bytes(frame));
    ASSERT_EQ(d.status, Status::kFileSet) << d.error;
    EXPECT_EQ(d.used, frame.size());
    expect_same(d.files, files);
    for (size_t cut = 0; cut < frame.size(); cut += 1 + rng() % 97) {
      EXPECT_EQ(decode_monitor_frame(bytes(frame.substr(0, cut))).status, Status::kIncomplete) << cut;
    }
  }
}

TEST(PrivsepFrames, FramesFollowOneAnother) {
  std::mt19937 rng(8);
  const auto a = random_file_set(rng);
  const auto b = random_file_set(rng);
  const std::string stream = encode_file_set(a) + encode_stop(15) + encode_file_set(b);
  std::span<const uint8_t> rest = bytes(stream);
  auto first = decode_monitor_frame(rest);
  ASSERT_EQ(first.status, Status::kFileSet);
  expect_same(first.files, a);
  rest = rest.subspan(first.used);
  auto stop = decode_monitor_frame(rest);
  ASSERT_EQ(stop.status, Status::kStop);
  EXPECT_EQ(stop.signal, 15);
  rest = rest.subspan(stop.used);
  auto second = decode_monitor_frame(rest);
  ASSERT_EQ(second.status, Status::kFileSet);
  expect_same(second.files, b);
  EXPECT_EQ(second.used, rest.size());
}

TEST(PrivsepFrames, DamagedFramesAreRefused) {
  config::FileSet files;
  files.config_path = "/c.yaml";
  files.config_text = "interface: {}\n";
  files.key_files["/k"] = "key";
  const std::string good = encode_file_set(files);

  EXPECT_EQ(decode_monitor_frame(bytes("XLF1")).status, Status::kBad);
  EXPECT_EQ(decode_monitor_frame(bytes("S")).status, Status::kIncomplete);  // could be either magic yet
  std::string too_large = good;
  too_large[4] = '\x7f';
  EXPECT_EQ(decode_monitor_frame(bytes(too_large)).status, Status::kBad);
  // A record count beyond the records there are.
  std::string more_records = good;
  more_records[11] = 3;
  EXPECT_EQ(decode_monitor_frame(bytes(more_records)).status, Status::kBad);
  // Zero records: no configuration.
  std::string none = good;
  none[11] = 0;
  EXPECT_EQ(decode_monitor_frame(bytes(none)).status, Status::kBad);
  // Bytes after the records, inside the stated length.
  std::string trailing = good + "x";
  trailing[7] = static_cast<char>(trailing[7] + 1);
  EXPECT_EQ(decode_monitor_frame(bytes(trailing)).status, Status::kBad);
  // The same key file twice.
  config::FileSet twice = files;
  const std::string one = encode_file_set(twice);
  const std::string record = one.substr(one.size() - (4 + 2 + 4 + 3));  // "/k" and "key"
  std::string dup = one + record;
  dup[11] = 3;
  const size_t len = dup.size() - 8;
  dup[4] = static_cast<char>(len >> 24), dup[5] = static_cast<char>(len >> 16);
  dup[6] = static_cast<char>(len >> 8), dup[7] = static_cast<char>(len);
  const auto d = decode_monitor_frame(bytes(dup));
  EXPECT_EQ(d.status, Status::kBad);
  EXPECT_NE(d.error.find("twice"), std::string::npos) << d.error;
}

// The frame bound fits the largest configuration with a key file for every
// peer and the interface (records of two lengths, a path of up to 900
// bytes and a 44-byte key): a header announcing kMaxFileSetFrame bytes waits for them, one more
// is refused before any of it is read.
TEST(PrivsepFrames, TheLargestConfigurationFitsAFrame) {
  static_assert(kMaxFileSetFrame >= config::kMaxConfigSize + (config::kMaxPeers + 1) * (4 + 900 + 4 + 44));
  const auto header = [](size_t length) {
    std::string h = "SLF1";
    for (int shift = 24; shift >= 0; shift -= 8) h += static_cast<char>((length >> shift) & 0xff);
    return h + std::string(16, '\0');
  };
  EXPECT_EQ(decode_monitor_frame(bytes(header(kMaxFileSetFrame))).status, Status::kIncomplete);
  const auto over = decode_monitor_frame(bytes(header(kMaxFileSetFrame + 1)));
  EXPECT_EQ(over.status, Status::kBad);
  EXPECT_NE(over.error.find("too large"), std::string::npos) << over.error;
}

// A reference model: the messages in order, however the stream is cut.
TEST(PrivsepChildMessages, AnySplitGivesTheSameMessagesAndJunkIsCounted) {
  std::mt19937 rng(9);
  for (int round = 0; round < 200; ++round) {
    std::string stream;
    std::vector<ChildMessage> want;
    size_t want_junk = 0;
    const int n = static_cast<int>(rng() % 12);
    for (int i = 0; i < n; ++i) {
      switch (rng() % 4) {
        case 0: want.push_back({kAskReload, {}}), stream += kAskReload; break;
        case 1: want.push_back({kSocketUp, {}}), stream += kSocketUp; break;
        case 2: {
          std::string t = random_text(rng, 200);
          want.push_back({kNotify, t});
          stream += encode_notify(t);
          break;
        }
        default: stream += 'x', ++want_junk; break;
      }
    }
    std::string buffer;
    std::vector<ChildMessage> got;
    size_t junk = 0;
    for (size_t i = 0; i < stream.size();) {
      const size_t take = std::min<size_t>(1 + rng() % 40, stream.size() - i);
      buffer += stream.substr(i, take);
      i += take;
      for (auto& m : take_child_messages(buffer, junk)) got.push_back(std::move(m));
    }
    EXPECT_TRUE(buffer.empty());
    EXPECT_EQ(junk, want_junk);
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].kind, want[i].kind);
      EXPECT_EQ(got[i].text, want[i].text);
    }
  }
}

TEST(PrivsepChildMessages, AnOverlongNotifyIsJunk) {
  std::string buffer = std::string(1, kNotify) + "\xff\xff" + "R";
  size_t junk = 0;
  const auto got = take_child_messages(buffer, junk);
  // 'N' and its two length bytes are not a message; 0xff is junk too; then 'R'.
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got.back().kind, kAskReload);
  EXPECT_EQ(junk, 3u);
}

TEST(PrivsepNotify, OnlyTheAllowedLinesPass) {
  EXPECT_EQ(allowed_notify("READY=1\nSTATUS=1/1 peers up"), "READY=1\nSTATUS=1/1 peers up");
  EXPECT_EQ(allowed_notify("RELOADING=1\nMONOTONIC_USEC=123"), "RELOADING=1\nMONOTONIC_USEC=123");
  EXPECT_EQ(allowed_notify("WATCHDOG=1"), "WATCHDOG=1");
  EXPECT_EQ(allowed_notify("MAINPID=1\nREADY=1\nFDSTORE=1\nREADY=2\nERRNO=5"), "READY=1");
  EXPECT_EQ(allowed_notify("EXTEND_TIMEOUT_USEC=99999999"), "");
  EXPECT_EQ(allowed_notify(std::string("STATUS=a\0b", 10)), "");
}

class PrivsepFileSet : public testing::Test {
 protected:
  test::TempDir dir_;
};

TEST_F(PrivsepFileSet, LoadingTheRecordedFilesGivesTheSameConfiguration) {
  dir_.write("a.key", std::string(test::kPrivA) + "\n");
  dir_.write("ab.psk", std::string(test::kPsk) + "\n");
  const std::string path = dir_.write(
      "office.yaml",
      "interface:\n  private-key-file: a.key\npeers:\n  - public-key: " + std::string(test::kPubB) +
          "\n    preshared-key-file: ab.psk\n    allowed-ips: [198.18.1.0/24]\n",
      0600);
  config::FileSet files;
  config::LoadOptions o;
  o.record = &files;
  const auto direct = config::load_file(path, o);
  ASSERT_TRUE(direct.ok()) << test::dump(test::diagnostics_of(direct));
  EXPECT_EQ(files.config_path, path);
  EXPECT_EQ(files.key_files.size(), 2u);

  // Through the wire, as the network process gets it.
  const std::string frame = encode_file_set(files);
  auto decoded = decode_monitor_frame(bytes(frame));
  ASSERT_EQ(decoded.status, Status::kFileSet);
  // The files are gone or changed by now: the set alone counts.
  ::unlink(dir_.file("a.key").c_str());
  dir_.write("ab.psk", "garbage\n");
  const auto relayed = config::load_files(decoded.files);
  ASSERT_TRUE(relayed.ok()) << test::dump(test::diagnostics_of(relayed));
  EXPECT_EQ(relayed->config.interface.private_key.to_base64(), direct->config.interface.private_key.to_base64());
  ASSERT_EQ(relayed->config.peers.size(), 1u);
  EXPECT_TRUE(relayed->config.peers[0].preshared_key == direct->config.peers[0].preshared_key);

  // A key file the monitor did not read is an error, never a file access.
  decoded.files.key_files.erase(decoded.files.key_files.begin());
  const auto missing = config::load_files(decoded.files);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(test::dump(missing.error()).find("was not read by the privileged process"), std::string::npos);
  decoded.files.wipe();
  EXPECT_TRUE(decoded.files.config_text.empty());
  EXPECT_TRUE(decoded.files.key_files.empty());
}

TEST(KeyFileOwner, RootTheReaderOrTheDaemonUser) {
  EXPECT_TRUE(config::key_file_owner_allowed(0, 1000, std::nullopt));
  EXPECT_TRUE(config::key_file_owner_allowed(1000, 1000, std::nullopt));
  EXPECT_TRUE(config::key_file_owner_allowed(998, 0, 998));
  EXPECT_FALSE(config::key_file_owner_allowed(4242, 0, 998));
  EXPECT_FALSE(config::key_file_owner_allowed(4242, 1000, std::nullopt));
}

// The check on a real file (chown needs root; the rule itself is above).
TEST(KeyFileOwner, AForeignOwnedKeyFileIsRefusedNamingTheOwner) {
  test::TempDir dir;
  const std::string p = dir.write("k", std::string(test::kPsk) + "\n");
  ASSERT_TRUE(config::read_key_file(p).ok());
  if (::geteuid() != 0) return;  // cannot give a file away
  ASSERT_EQ(::chown(p.c_str(), 4242, 4242), 0);
  const auto r = config::read_key_file(p);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("belongs to uid 4242"), std::string::npos) << r.error();
  EXPECT_NE(r.error().find("chown root: " + p), std::string::npos) << r.error();
}

}  // namespace
}  // namespace sitelink::daemon
