#!/usr/bin/env bash
# Makes the seed corpus of the ip_header fuzzer from real packets: two
# network namespaces joined by a veth pair (MTU 1280, so large pings are
# fragmented) exchange ICMP echoes (plain, with the record-route option,
# fragmented), TCP connections, UDP datagrams to a closed port (ICMP
# unreachables quoting the datagram), IGMP/MLD reports (router-alert option,
# hop-by-hop header) and neighbour discovery, over IPv4 and IPv6, while
# tcpdump captures them. One packet of each kind is written as a file, plus
# variants made from them: truncated, padded (as a decrypted WireGuard
# packet is), a bad IPv4 header length, another version.
#
#   sudo tests/fuzz/make-ip-header-corpus.sh [OUT_DIR]
#                                  (default tests/fuzz/corpus/ip_header)
#
# Needs root, iproute2, tcpdump, ping and python3. Addresses are from the
# test ranges (198.18.0.0/15, 2001:db8::/32) and never leave the namespaces.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:-$here/corpus/ip_header}"
# shellcheck source=tests/netns/lib.sh
source "$here/../netns/lib.sh"
lib_init ip-corpus fzc
require_root
require_tools ip tcpdump ping python3

a="${PREFIX}a" b="${PREFIX}b"
ns_add "$a" "$b"
veth_add "$a" va "$b" vb
for side in "$a va 1" "$b vb 2"; do
  read -r ns dev n <<<"$side"
  ip -n "$ns" link set "$dev" mtu 1280
  ip -n "$ns" addr add "198.18.0.$n/24" dev "$dev"
  ip -n "$ns" addr add "2001:db8::$n/64" dev "$dev" nodad
done

pcap="$WORK_DIR/capture.pcap"
start_bg "$WORK_DIR/tcpdump.log" ip netns exec "$a" tcpdump -i va -U -s 0 -w "$pcap"
capture=$BG_PID
wait_until "tcpdump to listen" 10 grep -qs "listening on" "$WORK_DIR/tcpdump.log"

# A TCP server in b: answers each connection with a line and closes.
cat >"$WORK_DIR/server.py" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", 5001)); s.listen(4); s.settimeout(20)
print("ready", flush=True)
for _ in range(2):
    c, _ = s.accept(); c.recv(100); c.sendall(b"welcome\n"); c.close()
EOF
start_bg "$WORK_DIR/server.log" ip netns exec "$b" python3 "$WORK_DIR/server.py"
server=$BG_PID
wait_until "the TCP server" 10 grep -qs ready "$WORK_DIR/server.log"

# Clients in a: TCP, UDP to a closed port, multicast joins (IGMP, MLD).
cat >"$WORK_DIR/client.py" <<'EOF'
import socket, struct, time
for fam, host in ((socket.AF_INET, "198.18.0.2"), (socket.AF_INET6, "2001:db8::2")):
    c = socket.create_connection((host, 5001), timeout=5)
    c.sendall(b"hello over tcp\n"); c.recv(100); c.close()
    u = socket.socket(fam, socket.SOCK_DGRAM)
    u.sendto(b"hello over udp", (host, 5002))
g4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
g4.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
              socket.inet_aton("239.1.2.3") + socket.inet_aton("198.18.0.1"))
g6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
g6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP,
              socket.inet_pton(socket.AF_INET6, "ff15::1:2") + struct.pack("@I", socket.if_nametoindex("va")))
time.sleep(1)  # the reports go out at once; give them time to be captured
EOF
ip netns exec "$a" ping -c 1 -W 2 198.18.0.2 >/dev/null
ip netns exec "$a" ping -c 1 -W 2 -R 198.18.0.2 >/dev/null
ip netns exec "$a" ping -c 1 -W 2 -M dont -s 3000 198.18.0.2 >/dev/null
ip netns exec "$a" ping -6 -c 1 -W 2 2001:db8::2 >/dev/null
ip netns exec "$a" ping -6 -c 1 -W 2 -s 3000 2001:db8::2 >/dev/null
ip netns exec "$a" timeout 20 python3 "$WORK_DIR/client.py"
stop_pid "$server"
stop_pid "$capture"

mkdir -p "$out"
python3 - "$pcap" "$out" <<'EOF'
import struct, sys
pcap, out = sys.argv[1], sys.argv[2]
data = open(pcap, "rb").read()
magic = struct.unpack("<I", data[:4])[0]
end = "<" if magic in (0xa1b2c3d4, 0xa1b23c4d) else ">"
linktype = struct.unpack(end + "I", data[20:24])[0]
assert linktype == 1, "expected an Ethernet capture"

def packets():
    off = 24
    while off + 16 <= len(data):
        incl = struct.unpack(end + "I", data[off + 8:off + 12])[0]
        frame = data[off + 16:off + 16 + incl]
        off += 16 + incl
        if struct.unpack(">H", frame[12:14])[0] in (0x0800, 0x86dd):
            yield frame[14:]

def kind4(p):
    ihl = (p[0] & 15) * 4
    proto, frag = p[9], struct.unpack(">H", p[6:8])[0]
    mf, offset = frag & 0x2000, frag & 0x1fff
    name = "v4"
    if ihl > 20: name += "-options"
    if mf or offset:
        return name + ("-frag-first" if not offset else "-frag-mid" if mf else "-frag-last")
    return name + "-" + kind_l4(proto, p[ihl:])

def kind6(p):
    nh, off, name = p[6], 40, "v6"
    while nh in (0, 43, 60, 44):
        if nh == 44:
            offset = struct.unpack(">H", p[off + 2:off + 4])[0]
            return name + ("-frag-first" if offset >> 3 == 0 else "-frag-last" if not offset & 1 else "-frag-mid")
        name += "-hbh" if nh == 0 else "-ext"
        nh, off = p[off], off + (p[off + 1] + 1) * 8
    return name + "-" + kind_l4(nh, p[off:])

def kind_l4(proto, l4):
    if proto in (1, 58):
        names = {0: "echo-reply", 8: "echo", 3: "unreachable", 128: "echo", 129: "echo-reply",
                 1: "unreachable", 133: "router-solicit", 135: "neighbour-solicit",
                 136: "neighbour-advert", 143: "mld-report"}
        return "icmp-" + names.get(l4[0], str(l4[0]))
    if proto == 6:
        flags = l4[13]
        return "tcp-" + ("syn-ack" if flags & 0x12 == 0x12 else "syn" if flags & 2 else
                         "fin" if flags & 1 else "data" if flags & 8 else "ack")
    return {17: "udp", 2: "igmp"}.get(proto, "proto%d" % proto)

seen = {}
for p in packets():
    name = kind4(p) if p[0] >> 4 == 4 else kind6(p)
    seen.setdefault(name, p)

def write(name, p):
    open("%s/%s" % (out, name), "wb").write(p)

for name, p in sorted(seen.items()):
    write(name, p)
# Variants of real packets: what a decrypted WireGuard packet looks like
# (zero padding to a multiple of 16), and what the parser must refuse.
e4, e6 = seen["v4-icmp-echo"], seen["v6-icmp-echo"]
for name, p in (("v4", e4), ("v6", e6)):
    write(name + "-padded", p + bytes(16 - len(p) % 16 + 16))
    write(name + "-truncated-payload", p[:len(p) - 1])
    write(name + "-truncated-header", p[:(20 if name == "v4" else 40) - 1])
write("v4-bad-ihl", bytes([0x44]) + e4[1:])
write("v4-ihl-past-total", bytes([0x4f]) + e4[1:2] + struct.pack(">H", 40) + e4[4:])
write("v5-version", bytes([0x54]) + e6[1:])
write("v6-tcp-in-v4-buffer", bytes([0x45]) + seen["v6-tcp-syn"][1:])
print("wrote", len(seen), "captured packets and their variants to", out)
EOF
pass "corpus in $out ($(find "$out" -type f | wc -l) files)"
