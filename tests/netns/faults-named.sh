#!/usr/bin/env bash
# Each fault an admin meets, made for real, is named by sitelink itself
# (issue 21): `sitelink show`, its JSON and the log say the cause, not just
# a counter.
#
#   ns A (sitelinkd, office-a) --veth 203.0.113.0/24-- ns B (sitelinkd, office-b)
#
# Cases:
#   forwarding  A routes B's LAN (198.18.2.0/24) with net.ipv4.ip_forward=0:
#               the log, show's warning line and the JSON's warnings say so;
#               set to 1, show's warning goes
#   port        B's UDP port dropped by nftables in B: A's state reason
#               (text and JSON) says no answer to N initiations, UDP port
#               51820 blocked on the way; A's log says the same after three
#   key         A lists a wrong public key for B: B's log names office-a as
#               holding the wrong key for it (invalid-mac1), B's show counts
#               invalid-mac1; A's state reason says it gets no answer
#   output      a local nftables rule in A drops its output to B's port: the
#               log says sendmsg ... Operation not permitted, a local
#               firewall; A's state reason (text and JSON) the same
#
# Usage: faults-named.sh SITELINKD SITELINK      (as root)
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/netns/lib.sh
source "$SCRIPT_DIR/lib.sh"
lib_init faults-named slf
# shellcheck source=tests/netns/topology.sh
source "$SCRIPT_DIR/topology.sh"

require_root
require_tools ip ping timeout nft python3
require_tun
sitelink_binaries "${1:?usage: $0 SITELINKD SITELINK}" "${2:?usage: $0 SITELINKD SITELINK}"

BOUND=30 # s: three unanswered initiations take about 15 s
P=$PREFIX
NS_A="${P}a" NS_B="${P}b"
TUN_A="${P}at" TUN_B="${P}bt"
GW_NS=([a]=$NS_A [b]=$NS_B)
for i in "$TUN_A" "$TUN_B"; do on_cleanup rm -f "/run/wireguard/$i.sock"; done
underlay_pair "$NS_A" "${P}va" "$NS_B" "${P}vb"
gw_keys a b x

write_a() { # [PUBKEY FILE of the peer]
  pair_config a "allowed-ips: [198.18.0.2/32, 198.18.2.0/24]"
  if [[ -n ${1:-} ]]; then
    sed -i "s#public-key: .*#public-key: $(<"$1")#" "$WORK_DIR/gw-a.yaml"
  fi
}
write_a
pair_config b "allowed-ips: [198.18.0.1/32]"

show_a() { ip netns exec "$NS_A" timeout 10 "$SITELINK" show "$TUN_A" 2>&1 || true; }
show_b() { ip netns exec "$NS_B" timeout 10 "$SITELINK" show "$TUN_B" 2>&1 || true; }
json_a() { ip netns exec "$NS_A" timeout 10 "$SITELINK" show "$TUN_A" --json 2>/dev/null || true; }
json_b() { ip netns exec "$NS_B" timeout 10 "$SITELINK" show "$TUN_B" --json 2>/dev/null || true; }
# json_field FIELD: from A's JSON: "warnings" (one per line) or the first peer's FIELD.
json_field() {
  json_a | python3 -c 'import json, sys
i = json.load(sys.stdin)["interfaces"][0]
if sys.argv[1] == "warnings": print("\n".join(i["warnings"]))
else: print(i["peers"][0][sys.argv[1]])' "$1" 2>/dev/null || true
}
a_has() { show_a | grep -qF -- "$1"; }
a_json_has() { json_field "$2" | grep -qF -- "$1"; }
log_has() { grep -qF -- "$2" "${GW_LOG[$1]}"; }
restart_a() {
  stop_gw a
  start_gw a info
}
nft_in() { ip netns exec "$1" nft "${@:2}"; }

# --- forwarding off ----------------------------------------------------------------------
ip netns exec "$NS_A" sysctl -qw net.ipv4.ip_forward=0
start_gw b info
start_gw a info
WARN="allowed-ips such as 198.18.2.0/24 (peer office-b) route a network through the tunnel, but net.ipv4.ip_forward is 0"
if log_has a "$WARN" && a_has "warning: $WARN" && a_json_has "$WARN" warnings; then
  pass "forwarding: the log, show and the JSON's warnings say net.ipv4.ip_forward is 0 and how to set it"
else
  fail "forwarding: not named everywhere: $(show_a | grep warning || echo 'no warning in show')"
fi
ip netns exec "$NS_A" sysctl -qw net.ipv4.ip_forward=1
if ! a_has "warning:"; then
  pass "forwarding: with ip_forward=1 show's warning is gone"
else
  fail "forwarding: show still warns after ip_forward=1"
fi
wait_until "the tunnel" "$BOUND" ping_once "$NS_A" 198.18.0.2 || fail "no tunnel to start the other cases from"

# --- the far end's UDP port dropped on the way ------------------------------------------
nft_in "$NS_B" add table inet sltest
nft_in "$NS_B" add chain inet sltest input '{ type filter hook input priority 0; }'
nft_in "$NS_B" add rule inet sltest input udp dport 51820 drop
restart_a
REASON="UDP port 51820 is blocked on the way"
if wait_until "A's state to name the blocked port" "$BOUND" a_has "$REASON"; then
  pass "port: show: $(show_a | grep -o 'state: .*')"
else
  fail "port: show does not name the blocked port: $(show_a | grep 'state:')"
fi
if a_json_has "no answer to" state_reason && a_json_has "$REASON" state_reason; then
  pass "port: the JSON's state_reason names it too"
else
  fail "port: JSON state_reason: $(json_field state_reason)"
fi
if wait_until "A's log to say it" "$BOUND" log_has a "no answer to 3 handshake initiations to 203.0.113.2:51820"; then
  pass "port: the log: $(grep -o 'peer office-b: no answer to 3.*' "${GW_LOG[a]}" | head -1)"
else
  fail "port: the log never said no answer to 3 initiations"
fi
nft_in "$NS_B" delete table inet sltest
if wait_until "the tunnel after the rule went" "$BOUND" ping_once "$NS_A" 198.18.0.2 &&
  wait_until "show to say up" "$BOUND" a_has "state: up"; then
  pass "port: with the rule gone the tunnel is back and show says up"
else
  fail "port: no tunnel after the rule went: $(show_a | grep 'state:')"
fi

# --- a wrong public key on one side ------------------------------------------------------
write_a "$WORK_DIR/gw-x.pub" # A thinks B's key is x's
restart_a
KEYLOG="peer office-a (203.0.113.1:51820) sends handshakes for a public key that is not ours (invalid-mac1)"
if wait_until "B's log to name office-a's wrong key" "$BOUND" log_has b "$KEYLOG"; then
  pass "key: B's log: $KEYLOG"
else
  fail "key: B's log does not name the wrong key"
fi
mac1=$(json_b | python3 -c 'import json,sys; print(json.load(sys.stdin)["interfaces"][0]["dropped"].get("invalid-mac1", 0))' 2>/dev/null || echo 0)
if ((mac1 > 0)) && show_b | grep -q "invalid-mac1"; then
  pass "key: B's show and JSON count invalid-mac1 ($mac1)"
else
  fail "key: B does not count invalid-mac1 (JSON $mac1)"
fi
if wait_until "A's state to say no answer" "$BOUND" a_has "or it does not know our key"; then
  pass "key: A's show: $(show_a | grep -o 'state: .*')"
else
  fail "key: A's state: $(show_a | grep 'state:')"
fi
write_a

# --- a local firewall rejects our output -------------------------------------------------
nft_in "$NS_A" add table inet sltest
nft_in "$NS_A" add chain inet sltest output '{ type filter hook output priority 0; }'
nft_in "$NS_A" add rule inet sltest output udp dport 51820 drop
restart_a
OUT="sendmsg to 203.0.113.2:51820: Operation not permitted; a local firewall rejects it"
if wait_until "A's log to name the refused send" "$BOUND" log_has a "$OUT"; then
  pass "output: the log: $OUT"
else
  fail "output: no refused-send line in A's log"
fi
SREASON="sends to 203.0.113.2:51820 fail: Operation not permitted; a local firewall rejects it"
if a_has "$SREASON" && a_json_has "$SREASON" state_reason; then
  pass "output: show and the JSON: $SREASON"
else
  fail "output: show: $(show_a | grep 'state:'); JSON: $(json_field state_reason)"
fi
send_failed=$(json_a | python3 -c 'import json,sys; print(json.load(sys.stdin)["interfaces"][0]["dropped"].get("send-failed", 0))' 2>/dev/null || echo 0)
if ((send_failed > 0)); then pass "output: send-failed counted ($send_failed)"; else fail "output: send-failed not counted"; fi
nft_in "$NS_A" delete table inet sltest

log "done: $PASSED passed, $FAILED failed"
((FAILED == 0))
