// Help texts (see help.h). Keep them in step with SPEC.md and config/.
#include "daemon/help.h"

#ifndef SITELINK_VERSION
#error "SITELINK_VERSION must be defined by the build"
#endif

namespace sitelink::daemon {

std::string_view version() { return SITELINK_VERSION; }

const std::string_view kSitelinkdUsage = R"(Usage: sitelinkd --config FILE [--log-level LEVEL] [--check]
       sitelinkd [-f|--foreground] IFACE
       sitelinkd --help | --version

sitelinkd is the sitelink gateway daemon. It owns one TUN interface and one
UDP socket and connects this site's network to its peers with the WireGuard
protocol (Noise_IKpsk2, X25519, ChaCha20-Poly1305), byte for byte, so any
standard WireGuard peer can be on the other end. Run one process per
interface; systemd's sitelink@NAME.service runs
`sitelinkd --config /etc/sitelink/NAME.yaml`.

With --config, sitelinkd reads FILE, creates the interface it describes and
stays in the foreground (systemd Type=notify); it never forks. With --check
it only validates FILE, key files included, and exits; nothing is created.

Given IFACE instead, it follows WireGuard's cross-platform userspace
interface, as `wireguard-go IFACE` does: it creates the TUN IFACE,
daemonizes unless -f is given, and takes all configuration from `wg` over
/run/wireguard/IFACE.sock. This makes it a drop-in for wg-quick
(WG_QUICK_USERSPACE_IMPLEMENTATION=sitelinkd).

In IFACE mode the daemon exits when the interface is deleted (in whatever
namespace it was moved to) or when its socket file is removed. The interface
may be moved to another network namespace and its MTU changed with ip link;
the UDP socket stays in the namespace it was opened in.
)";

const std::string_view kSitelinkdDetails = R"(
Configuration file (YAML, keys in kebab-case; unknown keys are errors):
  interface:
    name: sl0                     TUN name, 1..15 characters (default sl0)
    private-key-file: FILE        file holding the base64 private key, mode 0600
                                  (a relative FILE is relative to the config file)
    private-key: BASE64           ... or the key inline: exactly one of the two
    listen-port: 51820            UDP port 0..65535, 0 = any free port (default 51820)
    address: [198.18.0.1/24, 2001:db8:a::1/64]
                                  optional addresses assigned to the TUN
    mtu: 1420                     576..65475, at least 1280 with IPv6 (default 1420)
    routes: true                  route each peer's allowed-ips via the TUN (default true)
    fwmark: 0                     mark on outgoing UDP packets, 32 bits (0 = none)
    rekey-after-time: 120         seconds, 1..3600 (default 120, WireGuard's)
    log-level: info               error, warn, info or debug; a reload applies it;
                                  --log-level on the command line wins
    mss-clamp: auto               lower the MSS of TCP SYNs crossing the tunnel so
                                  segments fit: auto = MTU - 40 (IPv4), MTU - 60
                                  (IPv6); off; or N = the IPv4 MSS, 536..65535
                                  (IPv6: N - 20); default auto, a reload applies it
    copy-dscp: false              copy the inner packets' DSCP to the outer header
                                  (default false; ECN is always copied, RFC 6040);
                                  a reload applies it
    failover-after: 3             seconds 1..60 (default 3): data sent to a peer for
                                  this long with nothing authenticated back makes
                                  its endpoint suspect; the next one is tried
    failback-interval: 20         seconds 5..3600 (default 20): how often a peer not
                                  on its first endpoint probes the preferred ones
    batch-io: true                many datagrams per system call (default true)
    udp-gso: true                 send trains of datagrams in one call (default true)
    udp-gro: true                 receive trains of datagrams in one call (default true)
    tun-offload: true             TCP segmentation at the TUN (default true)
    socket-buffer: 4194304        UDP socket buffer bytes, 0 = kernel default
    crypto-threads: auto          threads sharing big batches' encryption with the
                                  packet loop: 0..64, or auto = one per CPU beyond
                                  the first two, up to 7 (default auto)
                                  (the data-path keys but crypto-threads apply at
                                  start-up; each falls back by itself where the
                                  kernel lacks it)
  peers:
    - name: office-b              optional label shown in logs and status
      public-key: BASE64          the peer's public key (required; unique)
      preshared-key-file: FILE    optional, mode 0600
      preshared-key: BASE64       ... or the key inline (at most one of the two)
      endpoint: HOST:PORT         optional: IPv4 address or DNS name and port, or
                                  "[IPv6]:PORT" in quotes (YAML reads [ as a list)
      endpoints:                  ... or 1..16 endpoints tried in order, the first
                                  preferred (never with endpoint); each HOST:PORT
        - endpoint: HOST:PORT     or a map of endpoint and, optionally,
          source: ADDRESS         the local address to send from (an IP address
                                  of the endpoint's family)
      allowed-ips: [198.18.1.0/24, 2001:db8:b::/48]
                                  addresses routed to and accepted from this peer;
                                  never the same prefix as another peer's; one
                                  inside another's is allowed: the most specific wins
      persistent-keepalive: 25    seconds 0..65535; 0 or absent = off
      netmap:                     optional 1:1 prefix mappings, same length each side
        - peer: 198.18.2.0/24     the peer's prefix as on the wire (in allowed-ips)
          seen-as: 198.19.202.0/24  is reached here through this one (routes go here)
        - local: 198.18.1.0/24    our prefix is shown to this peer
          seen-as: 198.19.201.0/24  as this one

  Keys are WireGuard's: 32 bytes in base64, 44 characters (`sitelink genkey`,
  `wg genkey`). A key file that group or others can access, or that belongs
  to anyone but root, the sitelink user or the reader, is refused (fix:
  chmod 600 FILE; chown root: FILE). A prefix with host bits set is fixed,
  with a warning.
  Problems are printed one per line as
    FILE:LINE:COLUMN: FIELD: MESSAGE
    FILE:LINE:COLUMN: warning: FIELD: MESSAGE
  e.g. office.yaml:14:7: peers[1].allowed-ips[0]: '198.18.300.0/24' is not an IP prefix

Exit status:
  0    success, or clean shutdown
  1    runtime failure (cannot create the interface, bind the port, ...)
  64   usage error (unknown option, missing or conflicting arguments)
  78   invalid configuration, including a missing or unreadable config or key
       file (the systemd unit sets RestartPreventExitStatus=78)

Signals:
  SIGTERM, SIGINT   shut down cleanly; the interface and control socket are removed
  SIGHUP            re-read FILE and apply the difference: unchanged peers keep
                    their sessions; an invalid file is reported and the running
                    configuration stays

Privileges:
  sitelinkd runs as two processes. The network process (TUN, UDP, control
  socket, handshakes) runs as the sitelink user (nobody where it does not
  exist) with CAP_NET_ADMIN only and no_new_privs; the monitor, the process
  started, keeps at most CAP_DAC_READ_SEARCH, reads the config and key files
  on SIGHUP (sent to either process) and never touches the network. Started
  as root, sitelinkd drops to this by itself.

Files:
  /etc/sitelink/NAME.yaml       configuration of interface NAME
  /run/wireguard/IFACE.sock     control socket (WireGuard UAPI, mode 0600), read by
                                `wg show IFACE` and `sitelink show IFACE`
  /run/sitelink/IFACE.sock      status socket (read-only, no keys; mode 0660, group
                                sitelink), read by `sitelink metrics` and by
                                `sitelink show` without root

Environment:
  NOTIFY_SOCKET, WATCHDOG_USEC  set by systemd: readiness, reload and stop
                                notifications, watchdog pings
  JOURNAL_STREAM                set by systemd: log lines get a <N> priority prefix;
                                if it names standard error, audit events go to the
                                journal as entries with SITELINK_* fields

Logs go to standard error, one event per line. Keys are never logged.
Under the unit: journalctl -u sitelink@NAME; its audit events (handshake,
handshake-failed, endpoint-changed, peer-up, peer-down, with the peer's key,
endpoint and role): journalctl -u sitelink@NAME SITELINK_EVENT=handshake.
For more detail (handshakes,
dropped packets with their source), set log-level: debug under interface:
and reload; --log-level on the command line wins over the file. What each
drop reason in `sitelink show` means: sitelink --help.

See also: sitelink --help, wg(8), wg-quick(8), wireguard-go(8).
)";

const std::string_view kSitelinkUsage = R"(Usage: sitelink COMMAND [ARGS]
       sitelink COMMAND --help
       sitelink --help | --version

Keys, status and configuration checks for sitelink gateways (sitelinkd).

Commands:
  genkey                  print a new private key (base64) on standard output
  pubkey                  read a private key on standard input, print its public key
  genpsk                  print a new preshared key
  show [IFACE] [--json]   status of IFACE (default: all): peers, endpoints, last
                          handshake, bytes; read from /run/wireguard/IFACE.sock
  check FILE              validate a configuration file (key files included), the
                          same check as `sitelinkd --check --config FILE`
  metrics [--listen ADDR:PORT] [IFACE...]
                          serve Prometheus metrics at http://ADDR:PORT/metrics
                          (default 127.0.0.1:19586) from the status sockets
)";

const std::string_view kSitelinkDetails = R"(
Keys use WireGuard's format (32 bytes, base64, 44 characters), so keys from
`wg genkey` work here and the other way round. To make a key pair:
  umask 077
  sitelink genkey > /etc/sitelink/office-a.key
  sitelink pubkey < /etc/sitelink/office-a.key
genkey and genpsk warn when standard output is a file that group or others
can access.

`check` prints every problem in FILE as FILE:LINE:COLUMN: FIELD: MESSAGE (and
warnings as FILE:LINE:COLUMN: warning: FIELD: MESSAGE), then FILE: OK if the
file is usable. See `sitelinkd --help` for the configuration schema.

`show` reads /run/wireguard/IFACE.sock (the same socket `wg show` uses);
where that socket is not yours to open (not root), it reads the status
socket /run/sitelink/IFACE.sock instead, open to group sitelink: the same
status without the keys. It exits with status 1 if no daemon answers.

`metrics` serves GET /metrics in the Prometheus text format, reading
/run/sitelink/IFACE.sock for each IFACE (default: every one there) at each
scrape. It needs no root, only membership of group sitelink; the package's
sitelink-metrics.service runs it so (systemctl enable --now
sitelink-metrics). Default address 127.0.0.1:19586 (loopback only); give
--listen 0.0.0.0:19586 or [::]:19586 to let another host scrape it.
Metrics, each labelled interface= and, per peer, peer= (its public key) and
name= (where configured): sitelink_interface_up, sitelink_peer_up,
sitelink_peer_state{state=up|dead|connecting|down} (dead: a session, data
sent, nothing received), sitelink_peer_state_reason{state,reason},
sitelink_peer_last_handshake_seconds and sitelink_peer_last_receive_seconds
(Unix time, 0: never), sitelink_peer_receive_bytes_total,
sitelink_peer_transmit_bytes_total, the same in _packets_total,
sitelink_peer_handshakes_total, sitelink_peer_unanswered_initiations,
sitelink_peer_path_alive, sitelink_peer_endpoint_switches_total,
sitelink_drops_total{reason}, sitelink_mss_clamped_total,
sitelink_data_path_enabled{technique}, sitelink_crypto_threads. Example alert
rules: /usr/share/doc/sitelink/examples/sitelink-alerts.yml.

Peer states in `show`: up (a handshake in the last 3 minutes), handshaking
(it has an endpoint and is trying; the reason says since when), down (no
endpoint: waiting for the peer to connect). A peer that stays handshaking:
UDP blocked on the way (the far end counts nothing), or a key mismatch (the
far end counts invalid-mac1 or unknown-peer, below).

Drop reasons (counted per interface by show, and in its --json):
  tun-ipv6-local      the host's own IPv6 link-local and multicast (router
                      solicitations, MLD) on the interface: normal, not a fault
  tun-no-route        a packet into the tunnel for an address in no peer's
                      allowed-ips: add the prefix to a peer, or fix the route
  tun-bad-packet      not IPv4 or IPv6 from the interface: should not happen
  no-endpoint         for a peer with no known address: normal until it
                      connects; give it an endpoint on one end at least
  send-failed         the kernel refused a UDP send: a local firewall's output
                      rule, no route to the endpoint, or full buffers
  malformed           not a WireGuard message on the port: a scanner or another
                      program; harmless
  invalid-mac1        a handshake not addressed to our public key: the sender
                      lists a wrong key for us; compare `sitelink pubkey <
                      OUR.key` with the public-key it lists for us
  unknown-peer        an initiation from a key none of our peers has: we list a
                      wrong key for the sender (typo, or it rotated); compare
                      its `sitelink pubkey` with our public-key for it
  cookie-sent         under load: answered with a cookie; real peers retry
  rate-limited        under load: one source over its handshake rate
  over-budget         under load: beyond 2,000 handshakes/s from unknown
                      addresses; known peers still get through
  unknown-index       for a session we no longer have (after a restart, key
                      change or idle time): normal in small numbers
  handshake-refused   a replayed, too early or unexpected handshake: harmless,
                      unless the sender's clock went back (fix its NTP)
  decrypt-failed      did not authenticate: preshared keys differ (counted by
                      the end that starts the handshake), or corruption
  replay              a data packet seen before or too old: duplication or
                      heavy reordering on the path
  expired-keypair     for a session older than 3 minutes: a new handshake follows
  source-not-allowed  decrypted, but its source is not in the peer's
                      allowed-ips: add the far LAN's prefix to that peer
  bad-inner-packet    decrypted, but not an IP packet: a bug at the far end
  tun-write-failed    the interface did not take a packet: is it down?
  ecn-ce-not-ect      marked CE (congestion) between the gateways, but its sender
                      does not use ECN: dropped, as RFC 6040 says; a congested
                      underlay, counted instead of lost silently
  no-private-key      sitelinkd IFACE before wg gave it a private key

Exit status:
  0    success (check: the file is usable; warnings are allowed)
  1    runtime failure (cannot reach the daemon, cannot write the output)
  64   usage error (unknown command or option, missing argument, or standard
       input to pubkey that is not a private key)
  78   invalid configuration (check), including missing or unreadable files
)";

}  // namespace sitelink::daemon
