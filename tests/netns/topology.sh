# shellcheck shell=bash
# shellcheck disable=SC2034,SC2153  # variables shared with lib.sh and the sourcing script
# The sites most tests build, their gateways' sitelinkd configs and daemons.
# Source it after lib.sh and lib_init:
#
#   source "$SCRIPT_DIR/lib.sh"
#   lib_init two-offices slo
#   source "$SCRIPT_DIR/topology.sh"
#   two_offices ipv4+ipv6            # the picture below, with its waits
#   gw_keys a b
#   office_config a "203.0.113.2:$PORT"
#   office_config b "203.0.113.1:$PORT"
#   start_gw a && start_gw b && wait_until "the tunnel" "$START_BOUND" tunnel_up a b
#
# two_offices ipv4+ipv6|ipv4 [--internet]: two offices, each a host behind a
# gateway (P is PREFIX; the names are set in the variables in brackets):
#
#   host-a [NS_HA]     gw-a [NS_GA]                           gw-b [NS_GB]       host-b [NS_HB]
#   ${P}ah ---------- ${P}al  ${P}au [UL_A] ------------ [UL_B] ${P}bu  ${P}bl ---------- ${P}bh
#   198.18.1.2/24   198.18.1.1/24  203.0.113.1/24      203.0.113.2/24  198.18.2.1/24   198.18.2.2/24
#   2001:db8:a::2/64 2001:db8:a::1/64 2001:db8:ffff::1/64 ::2/64   2001:db8:b::1/64 2001:db8:b::2/64
#   default via gw-a   TUN ${P}at [TUN_A]                     TUN ${P}bt [TUN_B]  default via gw-b
#                      198.18.0.1/24, 2001:db8::1/64          198.18.0.2/24, 2001:db8::2/64
#
#   ipv4        no IPv6 addresses or routes anywhere (ipv4+ipv6: as drawn)
#   --internet  the gateways' underlay runs through a fifth namespace [NS_NET]:
#               gw-a ${P}au 203.0.113.1/24 -- ${P}na 203.0.113.254/24 [NS_NET]
#               ${P}nb 198.51.100.254/24 -- ${P}bu 198.51.100.1/24 gw-b,
#               with no IPv6 on it; NS_NET neither forwards nor routes, and
#               the gateways have no route to each other: that is the
#               caller's to set up (tc netem, a relay, routes).
#   The namespace names can be chosen by setting NS_HA ... NS_HB (and NS_NET)
#   first; by default they are ${P}ha, ${P}ga, ${P}nt, ${P}gb, ${P}hb. The
#   gateways forward (IPv4, and IPv6 unless ipv4), GW_NS maps a and b to
#   NS_GA and NS_GB, and the control sockets /run/wireguard/TUN_A.sock and
#   TUN_B.sock are removed at exit (sitelinkd removes them itself unless it
#   crashes).
#   Before it returns, every IPv6 address has finished DAD and every link
#   answers a ping (10 s each at most; the script exits if one does not).
#
# underlay_pair NS_A IF_A NS_B IF_B: two new namespaces joined by a veth,
#   203.0.113.1/24 on IF_A and 203.0.113.2/24 on IF_B; waits (10 s at most)
#   until NS_A pings 203.0.113.2.
#
# Configs (WORK_DIR/gw-GW.key, .pub and .yaml for gateway GW; every gateway
# listens on PORT, 51820 unless the script sets another):
#   gw_keys GW...               keys made with `$SITELINK genkey` / `pubkey`
#   yaml_interface TUN KEYFILE [LINE...]   an `interface:` section: name,
#                               private-key-file, listen-port PORT, then
#                               each LINE ("key: value") as it is
#   yaml_peer NAME PUBFILE [LINE...]   one entry of `peers:`, its public key
#                               read from PUBFILE, then each LINE
#   office_config SIDE ENDPOINT [LINE...]   gw-SIDE.yaml (SIDE a or b) of
#                               two_offices: TUN_A or TUN_B, tunnel address
#                               198.18.0.1 or .2/24 (and 2001:db8::1 or ::2/64),
#                               the interface LINEs, then one peer, office-b
#                               or office-a, at ENDPOINT, whose allowed-ips
#                               are its LAN and tunnel addresses
#   pair_config SIDE [LINE...]  gw-SIDE.yaml (SIDE a or b) of underlay_pair:
#                               TUN ${P}at or ${P}bt, tunnel address
#                               198.18.0.1 or .2/32, then one peer, office-b
#                               or office-a, at 203.0.113.2 or .1:PORT, with
#                               the peer LINEs (its allowed-ips, say)
#
# start_wireguard_go NS IFACE LOG [LEVEL]: wireguard-go -f IFACE in NS
#   (LOG_LEVEL=LEVEL, default error), its PID in WG_PID, output in LOG; waits
#   (10 s at most) for its UAPI socket; false if it does not come or
#   wireguard-go exits.
#
# Daemons (GW_PID[GW], GW_LOG[GW]; GW_NS[GW] is the namespace to run in):
#   launch_gw GW [LEVEL [VAR=VALUE...]]   sitelinkd --config gw-GW.yaml
#                               --log-level LEVEL (default debug) in the
#                               background, in its namespace, with the
#                               environment VAR=VALUE...; its log is
#                               gw-GW.log, gw-GW.N.log for its N-th start
#   start_gw GW [LEVEL [VAR=VALUE...]]   launch_gw, then wait START_BOUND s
#                               (default 10) until it listens; false if it
#                               does not or exits
#   gw_alive GW                 its sitelinkd is running
#   tunnel_up GW...             each one's log says "tunnel up"
#   stop_gw GW [SECS]           stop_pid with SECS (default STOP_BOUND, or 5)
#   stop_gw_check LABEL GW      PASS if its sitelinkd still runs, exits 0 on
#                               SIGTERM within STOP_BOUND s (default 5);
#                               FAIL if not, or if none was started

declare -A GW_NS=() GW_PID=() GW_LOG=() _GW_STARTS=()
: "${PORT:=51820}"

no_tentative() { [[ -z $(ip -n "$1" -6 addr show tentative) ]]; }

two_offices() {
  local v6=1 internet=0 opt p=$PREFIX
  for opt in "$@"; do
    case $opt in
      ipv4+ipv6) v6=1 ;;
      ipv4) v6=0 ;;
      --internet) internet=1 ;;
      *) log "two_offices: unknown option $opt"; exit 64 ;;
    esac
  done
  _OFFICES_V6=$v6
  NS_HA=${NS_HA:-${p}ha} NS_GA=${NS_GA:-${p}ga} NS_GB=${NS_GB:-${p}gb} NS_HB=${NS_HB:-${p}hb}
  NS_NET=${NS_NET:-${p}nt}
  UL_A=${p}au UL_B=${p}bu TUN_A=${p}at TUN_B=${p}bt
  GW_NS=([a]=$NS_GA [b]=$NS_GB)

  on_cleanup rm -f "/run/wireguard/$TUN_A.sock" "/run/wireguard/$TUN_B.sock" "/run/sitelink/$TUN_A.sock" \
    "/run/sitelink/$TUN_B.sock"
  if ((internet)); then
    ns_add "$NS_HA" "$NS_GA" "$NS_NET" "$NS_GB" "$NS_HB"
  else
    ns_add "$NS_HA" "$NS_GA" "$NS_GB" "$NS_HB"
  fi
  # One veth per link: NS IFACE IPv4 IPv6 for each end ("-": no IPv6).
  local links="\
$NS_HA ${p}ah 198.18.1.2/24 2001:db8:a::2/64 $NS_GA ${p}al 198.18.1.1/24 2001:db8:a::1/64
$NS_GB ${p}bl 198.18.2.1/24 2001:db8:b::1/64 $NS_HB ${p}bh 198.18.2.2/24 2001:db8:b::2/64"
  if ((internet)); then
    links+="
$NS_GA $UL_A 203.0.113.1/24 - $NS_NET ${p}na 203.0.113.254/24 -
$NS_NET ${p}nb 198.51.100.254/24 - $NS_GB $UL_B 198.51.100.1/24 -"
  else
    links+="
$NS_GA $UL_A 203.0.113.1/24 2001:db8:ffff::1/64 $NS_GB $UL_B 203.0.113.2/24 2001:db8:ffff::2/64"
  fi
  local ns1 if1 v4_1 v6_1 ns2 if2 v4_2 v6_2
  while read -r ns1 if1 v4_1 v6_1 ns2 if2 v4_2 v6_2; do
    veth_add "$ns1" "$if1" "$ns2" "$if2"
    ip -n "$ns1" addr add "$v4_1" dev "$if1"
    ip -n "$ns2" addr add "$v4_2" dev "$if2"
    if ((v6)) && [[ $v6_1 != - ]]; then
      ip -n "$ns1" addr add "$v6_1" dev "$if1" nodad
      ip -n "$ns2" addr add "$v6_2" dev "$if2" nodad
    fi
  done <<<"$links"
  ip -n "$NS_HA" route add default via 198.18.1.1
  ip -n "$NS_HB" route add default via 198.18.2.1
  if ((v6)); then
    ip -n "$NS_HA" -6 route add default via 2001:db8:a::1
    ip -n "$NS_HB" -6 route add default via 2001:db8:b::1
  fi
  local ns
  for ns in "$NS_GA" "$NS_GB"; do
    ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1
    if ((v6)); then ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.forwarding=1; fi
  done

  # Link-local addresses finish DAD (about a second) and every link answers,
  # so that no check pays for neighbour discovery or DAD on the veths.
  if ((v6)); then
    for ns in "$NS_HA" "$NS_GA" "$NS_GB" "$NS_HB"; do
      wait_until "IPv6 DAD in $ns" 10 no_tentative "$ns"
    done
  fi
  if ((internet)); then
    wait_until "underlay A" 10 ping_once "$NS_GA" 203.0.113.254
    wait_until "underlay B" 10 ping_once "$NS_GB" 198.51.100.254
  else
    wait_until "underlay IPv4" 10 ping_once "$NS_GA" 203.0.113.2
    if ((v6)); then wait_until "underlay IPv6" 10 ping_once "$NS_GA" 2001:db8:ffff::2; fi
  fi
  wait_until "LAN A IPv4" 10 ping_once "$NS_HA" 198.18.1.1
  wait_until "LAN B IPv4" 10 ping_once "$NS_HB" 198.18.2.1
  if ((v6)); then
    wait_until "LAN A IPv6" 10 ping_once "$NS_HA" 2001:db8:a::1
    wait_until "LAN B IPv6" 10 ping_once "$NS_HB" 2001:db8:b::1
  fi
}

underlay_pair() {
  ns_add "$1" "$3"
  veth_add "$1" "$2" "$3" "$4"
  ip -n "$1" addr add 203.0.113.1/24 dev "$2"
  ip -n "$3" addr add 203.0.113.2/24 dev "$4"
  wait_until "underlay" 10 ping_once "$1" 203.0.113.2
}

start_wireguard_go() {
  local ns=$1 ifc=$2 logf=$3 level=${4:-error}
  start_bg "$logf" ip netns exec "$ns" env WG_PROCESS_FOREGROUND=1 LOG_LEVEL="$level" wireguard-go -f "$ifc"
  WG_PID=$BG_PID
  wait_until "wireguard-go's UAPI socket" 10 _wg_socket_or_gone "$ifc" || return 1
  kill -0 "$WG_PID" 2>/dev/null || { log "wireguard-go exited early"; return 1; }
}

_wg_socket_or_gone() { [[ -S /var/run/wireguard/$1.sock ]] || ! kill -0 "$WG_PID" 2>/dev/null; }

gw_keys() {
  local gw
  for gw in "$@"; do gen_key "$SITELINK" "$WORK_DIR" "gw-$gw"; done
}

yaml_interface() {
  local tun=$1 key=$2 line
  shift 2
  echo "interface:"
  echo "  name: $tun"
  echo "  private-key-file: $key"
  echo "  listen-port: $PORT"
  for line in "$@"; do echo "  $line"; done
}

yaml_peer() {
  local name=$1 pub=$2 line
  shift 2
  echo "  - name: $name"
  echo "    public-key: $(<"$pub")"
  for line in "$@"; do echo "    $line"; done
}

office_config() {
  local side=$1 endpoint=$2 me=1 peer=b tun=$TUN_A
  shift 2
  [[ $side == b ]] && me=2 peer=a tun=$TUN_B
  local them=$((3 - me))
  local address="198.18.0.$me/24" allowed="198.18.$them.0/24, 198.18.0.$them/32"
  if ((_OFFICES_V6)); then
    address+=", \"2001:db8::$me/64\""
    allowed="198.18.$them.0/24, 2001:db8:$peer::/64, 198.18.0.$them/32, \"2001:db8::$them/128\""
  fi
  {
    yaml_interface "$tun" "$WORK_DIR/gw-$side.key" "address: [$address]" "$@"
    echo "peers:"
    yaml_peer "office-$peer" "$WORK_DIR/gw-$peer.pub" "endpoint: \"$endpoint\"" "allowed-ips: [$allowed]"
  } >"$WORK_DIR/gw-$side.yaml"
}

pair_config() {
  local side=$1 me=1 peer=b
  shift
  [[ $side == b ]] && me=2 peer=a
  {
    yaml_interface "$PREFIX${side}t" "$WORK_DIR/gw-$side.key" "address: [198.18.0.$me/32]"
    echo "peers:"
    yaml_peer "office-$peer" "$WORK_DIR/gw-$peer.pub" "endpoint: 203.0.113.$((3 - me)):$PORT" "$@"
  } >"$WORK_DIR/gw-$side.yaml"
}

launch_gw() {
  local gw=$1 level=${2:-debug}
  shift $(($# < 2 ? $# : 2))
  local n=$((${_GW_STARTS[$gw]:-0} + 1)) logf="$WORK_DIR/gw-$gw.log"
  _GW_STARTS[$gw]=$n
  ((n == 1)) || logf="$WORK_DIR/gw-$gw.$n.log"
  start_bg "$logf" ip netns exec "${GW_NS[$gw]}" env "$@" \
    "$SITELINKD" --config "$WORK_DIR/gw-$gw.yaml" --log-level "$level"
  GW_PID[$gw]=$BG_PID
  GW_LOG[$gw]=$logf
}

gw_alive() { kill -0 "${GW_PID[$1]}" 2>/dev/null; }

_gw_listening_or_gone() { grep -qs 'listening on port' "${GW_LOG[$1]}" || ! gw_alive "$1"; }

start_gw() {
  launch_gw "$@"
  wait_until "sitelinkd gw-$1 to listen" "${START_BOUND:-10}" _gw_listening_or_gone "$1" || return 1
  gw_alive "$1" || { log "sitelinkd gw-$1 exited early"; return 1; }
}

tunnel_up() {
  local gw
  for gw in "$@"; do grep -qs 'tunnel up' "${GW_LOG[$gw]}" || return 1; done
}

stop_gw() {
  stop_pid "${GW_PID[$1]}" "${2:-${STOP_BOUND:-5}}"
  GW_PID[$1]=""
}

stop_gw_check() {
  local label=$1 gw=$2 t0
  if [[ -z ${GW_PID[$gw]:-} ]]; then
    fail "$label: gw-$gw has no sitelinkd to stop"
    return
  fi
  if ! gw_alive "$gw"; then
    stop_gw "$gw"
    fail "$label: gw-$gw's sitelinkd died before SIGTERM (exit status $STOP_RC)"
    return
  fi
  t0=$(now_ms)
  stop_gw "$gw"
  if ((STOP_KILLED)); then
    fail "$label: gw-$gw's sitelinkd did not exit within ${STOP_BOUND:-5}s of SIGTERM"
  elif ((STOP_RC == 0)); then
    pass "$label: gw-$gw's sitelinkd exited 0 $(($(now_ms) - t0)) ms after SIGTERM"
  else
    fail "$label: gw-$gw's sitelinkd exited $STOP_RC after SIGTERM"
  fi
}
