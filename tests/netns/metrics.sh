#!/usr/bin/env bash
# Monitoring without root (issue 18): two gateways; `sitelink metrics` runs
# as nobody in group sitelink (setpriv) and a real Prometheus (Debian's
# prometheus package, its own config and storage in WORK_DIR) scrapes it
# every second; values are read back through Prometheus's HTTP query API.
#
# Usage: metrics.sh [SITELINKD [SITELINK]]
#
#   a. the status socket /run/sitelink/TUN.sock is 0660, group sitelink;
#      `sitelink show` as nobody in group sitelink reads it (exit 0, the
#      interface's public key, no private key), and nobody outside the
#      group cannot
#   b. `promtool check metrics` accepts the page
#   c. through Prometheus: sitelink_peer_up 1, the handshake recent, received
#      bytes grow with traffic, a tun-no-route drop counted
#   d. bad HTTP input from another address (slow clients, garbage, an
#      endless header, many connections) while a scrape from 127.0.0.1 still
#      answers; the exporter's memory stays under MAX_RSS_KB
#   e. gw-b's underlay blackholed (nftables in its namespace, links up) while
#      host-a keeps sending: Prometheus sees the peer dead, then down
#
# The group sitelink is made (and removed at exit) if the machine has none.
# Needs root, ip, ping, nft, setpriv, prometheus, promtool, python3.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/netns/lib.sh
source "$SCRIPT_DIR/lib.sh"
lib_init metrics slm
# shellcheck source=tests/netns/topology.sh
source "$SCRIPT_DIR/topology.sh"

START_BOUND=10     # s: daemons up, tunnel established
PROM_BOUND=30      # s: Prometheus ready, and a value to show up in it
DEAD_BOUND=60      # s: blackholed path seen as dead (15 s without answers, then a scrape)
DOWN_BOUND=90      # s: then as down (two unanswered initiations)
MAX_RSS_KB=65536   # the exporter under abuse (sitelink-metrics.service's MemoryMax= is 64M)
ABUSERS=120        # connections the abuser opens (the exporter takes 64, 16 per address)
PROBE="$SCRIPT_DIR/metrics_probe.py"

require_root
require_tools ip ping nft setpriv prometheus promtool python3 getent groupadd
require_tun
sitelink_binaries "$@"

if ! getent group sitelink >/dev/null; then
  groupadd --system sitelink
  on_cleanup groupdel sitelink
fi
SL_GID=$(getent group sitelink | cut -d: -f3)
as_member() { setpriv --reuid=65534 --regid=65534 --groups="$SL_GID" --inh-caps=-all --bounding-set=-all --no-new-privs "$@"; }
as_outsider() { setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all --no-new-privs "$@"; }

two_offices ipv4
gw_keys a b
office_config a "203.0.113.2:$PORT"
office_config b "203.0.113.1:$PORT"
if ! { start_gw a && start_gw b && wait_until "the tunnel" "$START_BOUND" tunnel_up a b; }; then
  fail "tunnel did not come up"
  exit 1
fi

# --- a. the status socket, and show without root --------------------------------------------
SOCK="/run/sitelink/$TUN_A.sock"
st=$(stat -c '%a %G %F' "$SOCK" 2>&1 || true)
if [[ $st == "660 sitelink socket" ]]; then pass "a: $SOCK is 0660, group sitelink"; else fail "a: $SOCK: $st"; fi
PUB_A=$(<"$WORK_DIR/gw-a.pub")
PRIV_A=$(<"$WORK_DIR/gw-a.key")
if out=$(as_member "$SITELINK" show "$TUN_A" 2>&1) && grep -qF "public key: $PUB_A" <<<"$out" &&
  grep -q "peer: " <<<"$out" && ! grep -qF "$PRIV_A" <<<"$out" && ! grep -q "private key" <<<"$out"; then
  pass "a: sitelink show as nobody in group sitelink: $(grep -m1 'state:' <<<"$out" | tr -s ' ')"
else
  fail "a: sitelink show as nobody in group sitelink: $out"
fi
if out=$(as_outsider "$SITELINK" show "$TUN_A" 2>&1); then
  fail "a: nobody outside group sitelink could read the status: $out"
else
  pass "a: nobody outside group sitelink is refused: $(head -1 <<<"$out")"
fi

# --- the exporter and Prometheus, in gw-a's namespace -----------------------------------------
MPORT=$((20000 + $$ % 10000))
PPORT=$((MPORT + 1))
start_bg "$WORK_DIR/metrics.log" ip netns exec "$NS_GA" setpriv --reuid=65534 --regid=65534 --groups="$SL_GID" \
  --inh-caps=-all --bounding-set=-all --no-new-privs "$SITELINK" metrics --listen "127.0.0.1:$MPORT" "$TUN_A"
METRICS_PID=$BG_PID
URL="http://127.0.0.1:$MPORT/metrics"
scrape() { ip netns exec "$NS_GA" timeout 10 python3 "$PROBE" get "$URL"; }
wait_until "the exporter to answer" "$START_BOUND" scrape >/dev/null || { fail "exporter does not answer"; exit 1; }
# ip netns exec and setpriv exec: the PID is sitelink's own.
if [[ $(awk '/^Uid:/ {print $2}' "/proc/$METRICS_PID/status" 2>/dev/null) == 65534 ]]; then
  pass "the exporter runs as nobody"
else
  fail "the exporter does not run as nobody"
fi

# --- b. promtool ------------------------------------------------------------------------------
scrape >"$WORK_DIR/page.txt"
if promtool check metrics <"$WORK_DIR/page.txt" >"$WORK_DIR/promtool.out" 2>&1; then
  pass "b: promtool check metrics accepts the page ($(wc -l <"$WORK_DIR/page.txt") lines)"
else
  fail "b: promtool check metrics: $(cat "$WORK_DIR/promtool.out")"
fi
if grep -qF "$PRIV_A" "$WORK_DIR/page.txt"; then fail "b: the private key is on the page"; else pass "b: no key on the page"; fi

cat >"$WORK_DIR/prometheus.yml" <<PROM
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: sitelink
    static_configs:
      - targets: ['127.0.0.1:$MPORT']
PROM
start_bg "$WORK_DIR/prometheus.log" ip netns exec "$NS_GA" prometheus --config.file="$WORK_DIR/prometheus.yml" \
  --storage.tsdb.path="$WORK_DIR/tsdb" --web.listen-address="127.0.0.1:$PPORT" --log.level=warn
PROM="http://127.0.0.1:$PPORT"
q() { ip netns exec "$NS_GA" timeout 10 python3 "$PROBE" query "$PROM" "$1" 2>/dev/null; }
is() { [[ $(q "$1") == "$2" ]]; }
L="interface=\"$TUN_A\",name=\"office-b\""

# --- c. values through Prometheus ---------------------------------------------------------------
if wait_until "Prometheus to have sitelink_peer_up" "$PROM_BOUND" is "sitelink_peer_up{$L}" 1; then
  pass "c: sitelink_peer_up{$L} is 1 in Prometheus"
else
  fail "c: sitelink_peer_up{$L} is '$(q "sitelink_peer_up{$L}")'"
fi
# A comparison without `bool` returns the series only where it holds.
if [[ -n $(q "time() - sitelink_peer_last_handshake_seconds{$L} < 180") ]]; then
  pass "c: the latest handshake is recent ($(q "time() - sitelink_peer_last_handshake_seconds{$L}") s ago)"
else
  fail "c: no recent handshake in Prometheus"
fi
rx0=$(q "sitelink_peer_receive_bytes_total{$L}")
ip netns exec "$NS_HA" timeout 20 ping -n -q -c 50 -i 0.02 -s 1000 198.18.2.2 >/dev/null 2>&1 || true
# shellcheck disable=SC2317  # called through wait_until
grown() { [[ -n $rx0 && -n $(q "sitelink_peer_receive_bytes_total{$L} >= $rx0 + 50 * 1000") ]]; }
if wait_until "received bytes to grow in Prometheus" "$PROM_BOUND" grown; then
  pass "c: received bytes grew with 50 kB of pings: $rx0 -> $(q "sitelink_peer_receive_bytes_total{$L}")"
else
  fail "c: received bytes did not grow by 50 kB: $rx0 -> $(q "sitelink_peer_receive_bytes_total{$L}")"
fi
ping_once "$NS_GA" 198.18.0.77 || true  # in the TUN's /24, in no peer's allowed-ips: tun-no-route
# shellcheck disable=SC2317  # called through wait_until
dropped() { [[ -n $(q "sitelink_drops_total{interface=\"$TUN_A\",reason=\"tun-no-route\"} >= 1") ]]; }
if wait_until "the drop in Prometheus" "$PROM_BOUND" dropped; then
  pass "c: sitelink_drops_total{reason=\"tun-no-route\"} counted: $(q "sitelink_drops_total{interface=\"$TUN_A\",reason=\"tun-no-route\"}")"
else
  fail "c: no tun-no-route drop in Prometheus"
fi

# --- d. bad HTTP input ----------------------------------------------------------------------------
start_bg "$WORK_DIR/abuse.log" ip netns exec "$NS_GA" python3 "$PROBE" abuse 127.0.0.1 "$MPORT" 127.0.0.2 "$ABUSERS"
ABUSE_PID=$BG_PID
wait_until "the abuser's connections" "$PROM_BOUND" grep -q '^held' "$WORK_DIR/abuse.log" || true
if out=$(scrape) && grep -q '^sitelink_peer_up' <<<"$out"; then
  pass "d: a scrape answers while $(grep -o 'held.*' "$WORK_DIR/abuse.log" || echo '?') hostile connections are open"
else
  fail "d: no scrape while the abuser holds connections"
fi
rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$METRICS_PID/status" 2>/dev/null || echo 0)
if ((rss > 0 && rss < MAX_RSS_KB)); then pass "d: exporter RSS $rss kB under abuse (< $MAX_RSS_KB)"; else fail "d: exporter RSS '$rss' kB"; fi
stop_pid "$ABUSE_PID"
if wait_until "a scrape after the abuse" "$START_BOUND" scrape >/dev/null; then pass "d: still serving after the abuse"; else fail "d: not serving after the abuse"; fi

# --- e. blackhole: dead, then down --------------------------------------------------------------
ip netns exec "$NS_GB" nft -f - <<NFT
table inet ${PREFIX}bh {
  chain in { type filter hook input priority 0; udp dport $PORT drop; }
  chain out { type filter hook output priority 0; udp sport $PORT drop; }
}
NFT
start_bg "$WORK_DIR/ping.log" ip netns exec "$NS_HA" timeout 200 ping -n -i 0.2 198.18.2.2
if wait_until "the peer seen dead" "$DEAD_BOUND" is "max_over_time(sitelink_peer_state{$L,state=\"dead\"}[5m])" 1; then
  pass "e: blackholed: Prometheus saw the peer dead"
else
  fail "e: the peer was never dead in Prometheus"
fi
if wait_until "the peer seen down" "$DOWN_BOUND" is "sitelink_peer_state{$L,state=\"down\"}" 1; then
  pass "e: then down (reasons: $(q "count by (reason) (sitelink_peer_state_reason{$L,state=\"down\"})" >/dev/null && ip netns exec "$NS_GA" timeout 10 python3 "$PROBE" get "$URL" | grep -o 'state="down",reason="[a-z-]*"' | head -1))"
else
  fail "e: the peer did not go down: $(scrape | grep '^sitelink_peer_state_reason' || true)"
fi
if is "sitelink_peer_up{$L}" 0; then pass "e: sitelink_peer_up is 0"; else fail "e: sitelink_peer_up is '$(q "sitelink_peer_up{$L}")'"; fi

log "done: $PASSED passed, $FAILED failed"
exit $((FAILED > 0))
