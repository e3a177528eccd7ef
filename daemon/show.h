// `sitelink show [IFACE] [--json]` (SPEC.md, "sitelink"): asks each daemon
// for its state over the UAPI socket (get=1, as `wg show` does) and prints
// it the way `wg show` does, plus a state per peer. Without IFACE, every
// *.sock in /run/wireguard is asked (wireguard-go's are shown too, as `wg
// show` would). Where the UAPI socket may not be opened (not root), the
// read-only status socket /run/sitelink/IFACE.sock is asked instead
// (control_socket.h; group `sitelink`): everything but the keys.
//
// Peer state, from what UAPI tells (a heuristic until the daemon reports it):
//   up           a handshake within the last 180 s (REJECT_AFTER_TIME): a
//                session may be in use
//   handshaking  no recent handshake, but an endpoint is known, so the
//                daemon initiates (on traffic or persistent keepalive)
//   down         no recent handshake and no endpoint: only the peer can
//                bring the tunnel up
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/control_socket.h"
#include "daemon/io.h"
#include "daemon/uapi.h"
#include "tunnel/sys_error.h"

namespace sitelink::daemon {

// Connects to the UAPI socket at `path`, sends `request` and reads the answer
// up to its blank line. The whole exchange is bounded by `timeout`.
[[nodiscard]] tunnel::SysResult<std::string> uapi_request(const std::string& path, std::string_view request,
                                                          std::chrono::milliseconds timeout = std::chrono::seconds(5));

// The interface names with a *.sock in `dir`, sorted; empty if none or unreadable.
std::vector<std::string> socket_names(const std::string& dir);

enum class PeerState { kUp, kHandshaking, kDown };
std::string_view to_string(PeerState s);

struct PeerHealth {
  PeerState state;
  std::string why;    // "last handshake 5 minutes, 3 seconds ago", "no endpoint: ..."; may be empty
  bool dead = false;  // kUp, but nothing received while data goes out ("up but dead")
  // `why` as a fixed word for machines (metrics labels): "" (up and well),
  // "nothing-received", "send-failed", "no-answer", "no-endpoint",
  // "no-recent-handshake".
  std::string_view reason;
};
// The four states monitoring tells apart (SPEC.md "Monitoring", issue 18):
//   up          a current session, and answers come
//   dead        a current session, data going out, nothing coming back
//   connecting  no current session; initiating, no sign of failure yet
//   down        no current session, and no endpoint, or initiations go
//               unanswered, or sends fail
std::string_view monitoring_state(const PeerHealth& h);
inline constexpr std::string_view kMonitoringStates[] = {"up", "dead", "connecting", "down"};
// The peer's state and, when it is not simply up, why, in words that name
// the likely cause: no answer to N initiations since T (the far end down, or
// its UDP port blocked on the way), answered before but nothing received
// since, or sends that fail with their errno. `extra` (sitelink's get=sitelink)
// may be null: another daemon tells less.
PeerHealth peer_health(const UapiPeerState& peer, const SitelinkPeerStatus* extra, WallTime now);

struct InterfaceStatus {
  std::string name;
  UapiState state;
  SitelinkStatus extra;  // from get=sitelink; empty for other daemons (wireguard-go)
};

// get=1 and get=sitelink from the daemon at `path` (a control or status
// socket), as interface `name`. An answer that is not UAPI is EPROTO.
// Each of the two requests is bounded by `timeout`.
[[nodiscard]] tunnel::SysResult<InterfaceStatus> fetch_status(
    const std::string& name, const std::string& path, std::chrono::milliseconds timeout = std::chrono::seconds(5));

// `wg show` text for one interface (ends with a newline), peers with the
// most recent handshake first.
std::string render_text(const InterfaceStatus& iface, WallTime now);
// {"interfaces":[{"name":...,"public_key":...,"peers":[...]}]} plus a newline;
// the same shape with or without IFACE. Keys are base64; secrets never appear.
std::string render_json(const std::vector<InterfaceStatus>& ifaces, WallTime now);

// wg's formats: "1 minute, 5 seconds"; "1.50 KiB".
std::string pretty_duration(uint64_t left);
std::string pretty_bytes(uint64_t bytes);

struct ShowOptions {
  std::optional<std::string> iface;  // validated by the caller
  bool json = false;
  std::string socket_dir = kSocketDirectory;
  std::string status_dir = kStatusDirectory;  // asked where socket_dir's socket is not ours to open
};

// Prints the status; exit code 0, or 1 if a daemon could not be reached or
// answered nonsense (with a message on io.err naming the socket).
int show_command(const ShowOptions& options, Io& io);

}  // namespace sitelink::daemon
