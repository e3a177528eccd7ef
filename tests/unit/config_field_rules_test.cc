// Table-driven tests of the per-field rules (interface, keys, peers,
// endpoints) and of the file's structure: each case is a complete file and
// the one diagnostic it must produce, at an exact line, column and path.
// The TEST_P itself is in config_rules_test.cc.
#include <gtest/gtest.h>

#include "config_test_util.h"

namespace sitelink::config {
namespace {

using test::ConfigRule;
using test::RuleCase;

// Interface cases: line 3 is the field under test; the value of `KEY: v` on
// it starts at column len(KEY) + 5.
#define IFACE(field) \
  "interface:\n  private-key: PRIV_A\n  " field "\npeers:\n  - public-key: PUB_B\n    allowed-ips: [198.18.1.0/24]\n"
#define PEER(field) \
  "interface:\n  private-key: PRIV_A\npeers:\n  - public-key: PUB_B\n    allowed-ips: [198.18.1.0/24]\n    " field "\n"

constexpr const char* kNameExpected = "; expected 1..15 characters without '/', ':', '%' or spaces";
constexpr const char* kMtuExpected = "an MTU in bytes, 576..65475 (1280 or more with IPv6)";
constexpr const char* kEndpointExpected =
    "expected HOST:PORT, e.g. 198.51.100.7:51820, \"[2001:db8::1]:51820\" or gw.example.net:51820";

std::string s(const char* a, const char* b = "", const char* c = "") { return std::string(a) + b + c; }

// Messages are built once and kept alive for the tables below.
const std::string kNameTooLong = s(
    "'this-name-is-too-long' is not a valid interface name: it is longer than 15 characters", kNameExpected);
const std::string kNameSlash = s("'a/b' is not a valid interface name: it contains '/'", kNameExpected);
const std::string kNameDots = s("'..' is not a valid interface name: '.' and '..' are reserved", kNameExpected);
const std::string kNameSpace = s("'a b' is not a valid interface name: it contains a space or a control character",
                                 kNameExpected);
const std::string kNamePercent = s("'sl%d' is not a valid interface name: it contains '%'", kNameExpected);
const std::string kMtuSmall = s("575 is out of range; expected ", kMtuExpected);
const std::string kMtuBig = s("65476 is out of range; expected ", kMtuExpected);
const std::string kMtuFloat = s("'1420.5' is not a number; expected ", kMtuExpected);
const std::string kMtuNull = s("has no value; expected ", kMtuExpected);
const std::string kMtuList = s("expected ", kMtuExpected, ", not a list");
const std::string kEpNoPort = s("'gw.example' is not an endpoint: the port is missing; ", kEndpointExpected);
const std::string kEpBadV4 = s("'198.51.100.300' is neither an IPv4 address nor a DNS name; ", kEndpointExpected);
const std::string kEpBadName = s("'-bad.example' is neither an IPv4 address nor a DNS name; ", kEndpointExpected);
const std::string kEpV4InBrackets = s("'198.51.100.7' is not an IPv6 address; ", kEndpointExpected);

const RuleCase kInterfaceCases[] = {
    {"NameTooLong", IFACE("name: this-name-is-too-long"), Severity::kError, 3, 9, "interface.name",
     kNameTooLong.c_str()},
    {"NameWithSlash", IFACE("name: a/b"), Severity::kError, 3, 9, "interface.name", kNameSlash.c_str()},
    {"NameDotDot", IFACE("name: .."), Severity::kError, 3, 9, "interface.name", kNameDots.c_str()},
    {"NameWithSpace", IFACE("name: \"a b\""), Severity::kError, 3, 9, "interface.name", kNameSpace.c_str()},
    {"NameWithPercent", IFACE("name: \"sl%d\""), Severity::kError, 3, 9, "interface.name", kNamePercent.c_str()},
    {"ListenPortTooBig", IFACE("listen-port: 70000"), Severity::kError, 3, 16, "interface.listen-port",
     "70000 is out of range; expected a UDP port number, 0..65535 (0 = any free port)"},
    {"ListenPortNotANumber", IFACE("listen-port: 51820x"), Severity::kError, 3, 16, "interface.listen-port",
     "'51820x' is not a number; expected a UDP port number, 0..65535 (0 = any free port)"},
    {"ListenPortNegative", IFACE("listen-port: -1"), Severity::kError, 3, 16, "interface.listen-port",
     "'-1' is not a number; expected a UDP port number, 0..65535 (0 = any free port)"},
    {"LogLevelUnknown", IFACE("log-level: loud"), Severity::kError, 3, 14, "interface.log-level",
     "'loud' is not a log level; expected error, warn, info or debug"},
    {"LogLevelList", IFACE("log-level: [info]"), Severity::kError, 3, 14, "interface.log-level",
     "expected error, warn, info or debug, not a list"},
    {"MtuTooSmall", IFACE("mtu: 575"), Severity::kError, 3, 8, "interface.mtu", kMtuSmall.c_str()},
    {"MtuTooBig", IFACE("mtu: 65476"), Severity::kError, 3, 8, "interface.mtu", kMtuBig.c_str()},
    {"MtuNotAnInteger", IFACE("mtu: 1420.5"), Severity::kError, 3, 8, "interface.mtu", kMtuFloat.c_str()},
    {"MtuWithoutValueReportedAtTheKey", IFACE("mtu:"), Severity::kError, 3, 3, "interface.mtu", kMtuNull.c_str()},
    {"MtuIsAList", IFACE("mtu: [1420]"), Severity::kError, 3, 8, "interface.mtu", kMtuList.c_str()},
    {"MtuTooSmallForIpv6AllowedIps",
     "interface:\n  private-key: PRIV_A\n  mtu: 1279\npeers:\n  - public-key: PUB_B\n    allowed-ips: [2001:db8:b::/48]\n",
     Severity::kError, 3, 8, "interface.mtu",
     "1279 is too small for IPv6, which this config uses; expected 1280..65475"},
    {"MtuTooSmallForIpv6Address", "interface:\n  private-key: PRIV_A\n  mtu: 1000\n  address: [2001:db8:a::1/64]\n",
     Severity::kError, 3, 8, "interface.mtu",
     "1000 is too small for IPv6, which this config uses; expected 1280..65475"},
    {"FwmarkTooBig", IFACE("fwmark: 4294967296"), Severity::kError, 3, 11, "interface.fwmark",
     "4294967296 is out of range; expected a 32-bit mark, 0..4294967295 or 0x0..0xffffffff (0 = none)"},
    {"FwmarkHexTooBig", IFACE("fwmark: 0x100000000"), Severity::kError, 3, 11, "interface.fwmark",
     "0x100000000 is out of range; expected a 32-bit mark, 0..4294967295 or 0x0..0xffffffff (0 = none)"},
    {"FwmarkNotANumber", IFACE("fwmark: 0xzz"), Severity::kError, 3, 11, "interface.fwmark",
     "'0xzz' is not a number; expected a 32-bit mark, 0..4294967295 or 0x0..0xffffffff (0 = none)"},
    {"RoutesNotABoolean", IFACE("routes: yes"), Severity::kError, 3, 11, "interface.routes",
     "'yes' is not a boolean; expected true or false"},
    {"RekeyZero", IFACE("rekey-after-time: 0"), Severity::kError, 3, 21, "interface.rekey-after-time",
     "0 is out of range; expected seconds, 1..3600 (WireGuard's is 120)"},
    {"RekeyTooLong", IFACE("rekey-after-time: 3601"), Severity::kError, 3, 21, "interface.rekey-after-time",
     "3601 is out of range; expected seconds, 1..3600 (WireGuard's is 120)"},
    {"RekeyLongerThanWireGuardWarns", IFACE("rekey-after-time: 600"), Severity::kWarning, 3, 21,
     "interface.rekey-after-time",
     "keys are renewed less often than WireGuard's 120 seconds, which weakens forward secrecy"},
};
INSTANTIATE_TEST_SUITE_P(ConfigInterface, ConfigRule, testing::ValuesIn(kInterfaceCases), test::case_name);

const RuleCase kKeyCases[] = {
    {"PrivateKeyNotBase64", "interface:\n  private-key: abc\n", Severity::kError, 2, 16, "interface.private-key",
     "not a valid private key; expected 44 characters of base64 (from 'sitelink genkey')"},
    {"PrivateKeyWithoutPadding", "interface:\n  private-key: 6Obb2KbPsezaGhceqapNiX1U6hwRqVTbQMFGD8/XFnI\n",
     Severity::kError, 2, 16, "interface.private-key",
     "not a valid private key; expected 44 characters of base64 (from 'sitelink genkey')"},
    {"BothPrivateKeyAndFile", IFACE("private-key-file: /etc/sitelink/a.key"), Severity::kError, 3, 3,
     "interface.private-key-file", "set either private-key or private-key-file, not both"},
    {"NoPrivateKey", "interface:\n  mtu: 1420\n", Severity::kError, 1, 1, "interface",
     "missing 'private-key-file' (or 'private-key'); create a key with 'sitelink genkey'"},
    {"PrivateKeyFileEmptyName", "interface:\n  private-key-file: \"\"\n", Severity::kError, 2, 21,
     "interface.private-key-file", "expected the name of a file holding the private key"},
    {"PublicKeyNotBase64",
     "interface:\n  private-key: PRIV_A\npeers:\n  - public-key: abc\n    allowed-ips: [198.18.1.0/24]\n",
     Severity::kError, 4, 17, "peers[0].public-key",
     "'abc' is not a valid public key; expected 44 characters of base64 (from 'sitelink pubkey')"},
    {"PublicKeyMissing", "interface:\n  private-key: PRIV_A\npeers:\n  - allowed-ips: [198.18.1.0/24]\n",
     Severity::kError, 4, 5, "peers[0]",
     "missing 'public-key'; expected the peer's public key (from 'sitelink pubkey' on that gateway)"},
    {"PublicKeyOfTwoPeers",
     "interface:\n  private-key: PRIV_A\npeers:\n  - public-key: PUB_B\n    allowed-ips: [198.18.1.0/24]\n"
     "  - public-key: PUB_B\n    allowed-ips: [198.18.2.0/24]\n",
     Severity::kError, 6, 17, "peers[1].public-key", "same public key as peers[0]; each peer needs its own key"},
    {"OwnPublicKeyAsPeer",
     "interface:\n  private-key: PRIV_A\npeers:\n  - public-key: PUB_A\n    allowed-ips: [198.18.1.0/24]\n",
     Severity::kError, 4, 17, "peers[0].public-key",
     "is this interface's own public key; a gateway cannot be its own peer"},
    {"PresharedKeyNotBase64", PEER("preshared-key: nope"), Severity::kError, 6, 20, "peers[0].preshared-key",
     "not a valid preshared key; expected 44 characters of base64 (from 'sitelink genpsk')"},
    {"BothPresharedKeyAndFile", PEER("preshared-key: PSK\n    preshared-key-file: /etc/sitelink/ab.psk"),
     Severity::kError, 7, 5, "peers[0].preshared-key-file", "set either preshared-key or preshared-key-file, not both"},
};
INSTANTIATE_TEST_SUITE_P(ConfigKeyFields, ConfigRule, testing::ValuesIn(kKeyCases), test::case_name);

const RuleCase kPeerCases[] = {
    {"KeepaliveTooBig", PEER("persistent-keepalive: 65536"), Severity::kError, 6, 27, "peers[0].persistent-keepalive",
     "65536 is out of range; expected seconds, 0..65535 (0 = off)"},
    {"PeerNameTooLong", PEER("name: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
     Severity::kError, 6, 11, "peers[0].name",
     "not a valid peer name; expected a label of 1..64 characters without control characters"},
    {"PeerNamesRepeatedWarns",
     "interface:\n  private-key: PRIV_A\npeers:\n  - public-key: PUB_B\n    name: office-b\n    allowed-ips: [198.18.1.0/24]\n"
     "  - public-key: PUB_C\n    name: office-b\n    allowed-ips: [198.18.2.0/24]\n",
     Severity::kWarning, 8, 11, "peers[1].name", "same name as peers[0]; logs and status will not tell them apart"},
    {"PeerWithoutAllowedIpsWarns", "interface:\n  private-key: PRIV_A\npeers:\n  - public-key: PUB_B\n",
     Severity::kWarning, 4, 5, "peers[0]", "no allowed-ips: no traffic will be sent to or accepted from this peer"},
    {"EndpointWithoutPort", PEER("endpoint: gw.example"), Severity::kError, 6, 15, "peers[0].endpoint",
     kEpNoPort.c_str()},
    {"EndpointPortZero", PEER("endpoint: 198.51.100.7:0"), Severity::kError, 6, 15, "peers[0].endpoint",
     "'0' is not a port in '198.51.100.7:0'; expected a port number 1..65535"},
    {"EndpointPortTooBig", PEER("endpoint: 198.51.100.7:65536"), Severity::kError, 6, 15, "peers[0].endpoint",
     "'65536' is not a port in '198.51.100.7:65536'; expected a port number 1..65535"},
    {"EndpointIpv6WithoutBrackets", PEER("endpoint: 2001:db8::1:51820"), Severity::kError, 6, 15, "peers[0].endpoint",
     "'2001:db8::1:51820' is not an endpoint: write an IPv6 address in brackets, quoted, e.g. \"[2001:db8::1]:51820\""},
    {"EndpointBadIpv4", PEER("endpoint: 198.51.100.300:51820"), Severity::kError, 6, 15, "peers[0].endpoint",
     kEpBadV4.c_str()},
    {"EndpointBadDnsName", PEER("endpoint: -bad.example:1"), Severity::kError, 6, 15, "peers[0].endpoint",
     kEpBadName.c_str()},
    {"EndpointIpv4InBrackets", PEER("endpoint: \"[198.51.100.7]:51820\""), Severity::kError, 6, 15, "peers[0].endpoint",
     kEpV4InBrackets.c_str()},
    {"EndpointIpv6UnquotedIsAList", PEER("endpoint: [2001:db8::1]"), Severity::kError, 6, 15, "peers[0].endpoint",
     "is a list; an IPv6 endpoint must be quoted, since YAML reads '[' as a list: \"[2001:db8::1]:51820\""},
};
INSTANTIATE_TEST_SUITE_P(ConfigPeer, ConfigRule, testing::ValuesIn(kPeerCases), test::case_name);

const RuleCase kStructureCases[] = {
    {"EmptyFile", "", Severity::kError, 1, 1, "", "the file is empty; expected a map with 'interface:' and 'peers:'"},
    {"OnlyComments", "# nothing yet\n", Severity::kError, 1, 1, "",
     "the file is empty; expected a map with 'interface:' and 'peers:'"},
    {"TopLevelList", "- interface\n", Severity::kError, 1, 1, "",
     "the file is a list; expected a map with 'interface:' and 'peers:'"},
    {"NoInterface", "peers: []\n", Severity::kError, 1, 1, "interface",
     "missing; every configuration needs an 'interface:' section with its private key"},
    {"EmptyInterface", "interface:\npeers: []\n", Severity::kError, 1, 1, "interface",
     "is empty; expected a map of settings"},
    {"PeersIsAMap", "interface:\n  private-key: PRIV_A\npeers:\n  public-key: PUB_B\n", Severity::kError, 4, 3, "peers",
     "expected a list of peers, each starting with '- public-key: ...'"},
    {"PeerIsAString", "interface:\n  private-key: PRIV_A\npeers:\n  - office-b\n", Severity::kError, 4, 5, "peers[0]",
     "is a single value; expected a map of settings"},
    {"KeyIsAList", "interface:\n  private-key: PRIV_A\n  ? [a]\n  : 1\n", Severity::kError, 3, 5, "interface",
     "a key must be a plain name, not a list"},
    {"TwoDocuments", "interface:\n  private-key: PRIV_A\n---\ninterface:\n  private-key: PRIV_A\n", Severity::kError, 3,
     1, "", "only one YAML document is allowed (remove the '---' separator)"},
    {"StrayCommaYamlCppCannotParse", ",interface:\n  private-key: PRIV_A\n", Severity::kError, 1, 1, "",
     "YAML syntax error: unexpected ','"},
    {"StrayCommaAfterAMap", "interface:\n  private-key: PRIV_A\n,\n", Severity::kError, 3, 1, "",
     "YAML syntax error: end of map not found"},
    {"SyntaxError", "interface:\n  private-key: PRIV_A\n  mtu: [1420\n", Severity::kError, 4, 1, "",
     "YAML syntax error: end of sequence flow not found"},
    {"SyntaxErrorUnquotedIpv6Endpoint", PEER("endpoint: [2001:db8::1]:51820"), Severity::kError, 6, 28, "",
     "YAML syntax error: end of map not found (an IPv6 endpoint must be quoted: endpoint: \"[2001:db8::1]:51820\")"},
};
INSTANTIATE_TEST_SUITE_P(ConfigStructure, ConfigRule, testing::ValuesIn(kStructureCases), test::case_name);

#undef IFACE
#undef PEER

}  // namespace
}  // namespace sitelink::config
