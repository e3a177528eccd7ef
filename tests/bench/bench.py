#!/usr/bin/env python3
"""Helpers for tests/bench/bench.sh (the side-by-side benchmark, issue 8).

bench.sh does the namespaces, daemons and traffic; this file does what is
awkward in shell:

  launch      start a gateway daemon and time its start in three phases,
              each ended by the same in-process poll of /proc (no fork, no
              shell): process start (exec until --ready: a bound UDP port or
              a socket file), configuration (an optional UAPI set written to
              the daemon's socket and the interface's address, MTU, up and
              route over rtnetlink, both from this process, until the route
              to --route-to is in) and, with --dest, handshake + first echo
              (ICMP echo requests every millisecond until the first reply).
              The phases go to --result as JSON. The launcher stays the
              daemon's parent, forwards SIGTERM to it and exits with it;
              bench.sh also stops the daemon by its pid.
  sockbuf     read (and with --set, first set with SO_*BUFFORCE) the
              SO_RCVBUF/SO_SNDBUF of every UDP socket of the given daemons,
              through a duplicate of the socket itself (pidfd_getfd).
  peers-conf  a sitelinkd YAML file or a `wg setconf` file with N peers
              (random public keys, one /32 each, no endpoint).
  report      turn the raw outputs in OUT/raw (iperf3 -J, ping, samples.tsv,
              start phases, socket buffers, the AEAD floor, the load) into
              OUT/bench.json, OUT/bench.md and OUT/bench.png (gnuplot; not
              for --switches); exit 1 if any expected figure is missing or
              not a number.
  micro-table print Google Benchmark JSON output as a Markdown table.
"""

import argparse
import base64
import json
import math
import os
import re
import select
import signal
import socket
import statistics
import struct
import subprocess
import sys
import time

# ---------------------------------------------------------------- launch


def _icmp_checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return (~s) & 0xFFFF


def _echo_request(ident, seq):
    payload = b"sitelink-bench" + bytes(18)
    hdr = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
    csum = _icmp_checksum(hdr + payload)
    return struct.pack("!BBHHH", 8, 0, csum, ident, seq) + payload


def _is_reply(packet, ident):
    """A raw IPv4 ICMP socket hands us the IP header too."""
    if len(packet) < 20:
        return False
    ihl = (packet[0] & 0x0F) * 4
    if len(packet) < ihl + 8:
        return False
    icmp_type, _code, _csum, rid, _seq = struct.unpack("!BBHHH", packet[ihl : ihl + 8])
    return icmp_type == 0 and rid == ident


# The one polling helper every implementation's start is timed with: it
# reads files in /proc (no fork, no shell) every POLL_S until the condition
# holds. The launcher runs inside gateway A's namespace, so /proc/net/* are
# that namespace's.
POLL_S = 0.0002
_stop = {"requested": False}


def _udp_bound(port):
    """A UDP socket (IPv4 or IPv6) is bound to `port` in this namespace."""
    want = ":%04X" % port
    for path in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            with open(path) as f:
                for line in f.read().splitlines()[1:]:
                    fields = line.split(None, 2)
                    if len(fields) > 1 and fields[1].endswith(want):
                        return True
        except OSError:
            pass
    return False


def _route_to(iface, dest):
    """The main table holds a /32 route to `dest` through `iface` (an IPv4
    route through an interface exists only while the interface is up)."""
    want = "%08X" % struct.unpack("<I", socket.inet_aton(dest))[0]
    try:
        with open("/proc/net/route") as f:
            for line in f.read().splitlines()[1:]:
                p = line.split()
                if len(p) > 7 and p[0] == iface and p[1] == want and p[7] == "FFFFFFFF":
                    return True
    except OSError:
        pass
    return False


def _ready_cond(spec):
    """--ready udp:PORT (a bound UDP socket) or unix:PATH (a socket file)."""
    kind, _, arg = spec.partition(":")
    if kind == "udp":
        port = int(arg)
        return lambda: _udp_bound(port)
    if kind == "unix":
        return lambda: os.path.exists(arg)
    raise SystemExit("bench.py launch: bad --ready %r" % spec)


def _poll(cond, deadline_ns, child):
    """monotonic ns when cond() first holds; None past the deadline, if the
    daemon exits or the launcher is told to stop."""
    while True:
        if cond():
            return time.monotonic_ns()
        if time.monotonic_ns() >= deadline_ns or child.poll() is not None or _stop["requested"]:
            return None
        time.sleep(POLL_S)


def _uapi_set(path, text, deadline_ns):
    """Writes a UAPI set request (the text `wg set` would send) to the
    daemon's socket, in this process: True on errno=0."""
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
            break
        except (FileNotFoundError, ConnectionRefusedError):
            s.close()
            if time.monotonic_ns() >= deadline_ns:
                return False
            time.sleep(POLL_S)
    with s:
        s.settimeout(max(0.1, (deadline_ns - time.monotonic_ns()) / 1e9))
        s.sendall(text.encode())
        reply = b""
        try:
            while not reply.endswith(b"\n\n"):
                chunk = s.recv(4096)
                if not chunk:
                    break
                reply += chunk
        except OSError:
            return False
    return b"errno=0\n" in reply


def _rtattr(kind, payload):
    n = 4 + len(payload)
    return struct.pack("=HH", n, kind) + payload + bytes((4 - n % 4) % 4)


def _netlink_configure(iface, addr, mtu, route):
    """What `ip addr add ADDR/32 dev IFACE; ip link set IFACE mtu MTU up; ip
    route add ROUTE/32 dev IFACE` do, in this process over rtnetlink (as
    sitelinkd configures its own interface), so that configuring a daemon
    from outside costs no fork. Raises OSError on a refusal."""
    ifindex = socket.if_nametoindex(iface)
    nl_request, nl_ack, nl_excl, nl_create = 0x1, 0x4, 0x200, 0x400
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0) as s:  # NETLINK_ROUTE
        s.bind((0, 0))
        for seq, (kind, flags, body) in enumerate((
            # RTM_NEWADDR: ifaddrmsg, IFA_LOCAL and IFA_ADDRESS
            (20, nl_create | nl_excl, struct.pack("=BBBBI", socket.AF_INET, 32, 0, 0, ifindex)
             + _rtattr(2, socket.inet_aton(addr)) + _rtattr(1, socket.inet_aton(addr))),
            # RTM_NEWLINK: ifinfomsg with IFF_UP set and changed, IFLA_MTU
            (16, 0, struct.pack("=BBHiII", socket.AF_UNSPEC, 0, 0, ifindex, 1, 1) + _rtattr(4, struct.pack("=I", mtu))),
            # RTM_NEWROUTE: rtmsg (main table, boot protocol, link scope, unicast), RTA_DST, RTA_OIF
            (24, nl_create | nl_excl, struct.pack("=BBBBBBBBI", socket.AF_INET, 32, 0, 0, 254, 3, 253, 1, 0)
             + _rtattr(1, socket.inet_aton(route)) + _rtattr(4, struct.pack("=i", ifindex))),
        ), start=1):
            s.send(struct.pack("=IHHII", 16 + len(body), kind, nl_request | nl_ack | flags, seq, 0) + body)
            reply = s.recv(65536)
            _length, rtype = struct.unpack("=IH", reply[:6])
            if rtype == 2:  # NLMSG_ERROR: 0 is the ack
                err = struct.unpack("=i", reply[16:20])[0]
                if err:
                    raise OSError(-err, "rtnetlink message %d: %s" % (kind, os.strerror(-err)))


def _first_reply(dest, deadline_ns, child):
    """Pings `dest` every millisecond from now on; monotonic ns of the first
    echo reply, or None past the deadline (or if the daemon exits)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    sock.setblocking(False)
    ident = os.getpid() & 0xFFFF
    seq = 0
    next_send = time.monotonic_ns()
    try:
        while True:
            now = time.monotonic_ns()
            if now >= deadline_ns or child.poll() is not None or _stop["requested"]:
                return None
            if now >= next_send:
                seq = (seq + 1) & 0xFFFF
                try:
                    sock.sendto(_echo_request(ident, seq), (dest, 0))
                except OSError:
                    pass  # no route or interface yet
                next_send = now + 1_000_000
            wait = max(0.0, (min(next_send, deadline_ns) - time.monotonic_ns()) / 1e9)
            ready, _, _ = select.select([sock], [], [], wait)
            if not ready:
                continue
            while True:
                try:
                    packet = sock.recv(2048)
                except BlockingIOError:
                    break
                if _is_reply(packet, ident):
                    return time.monotonic_ns()
    finally:
        sock.close()


def _write_atomic(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.rename(path + ".tmp", path)


def _start(a, child, t0):
    """The three phases, each timed by the same clock and the same polls:
    process start (exec until the daemon is ready to be configured: --ready),
    configuration (until the route to the peer's tunnel address is in: the
    daemon's own configuration, or --uapi and --netlink for a daemon that
    is configured from outside), handshake + first echo (until the first
    reply from --dest through the tunnel; not with --no-ping)."""
    deadline = t0 + int(a.bound * 1e9)
    r = {"ok": False}
    t1 = _poll(_ready_cond(a.ready), deadline, child)
    if t1 is None:
        r["failed"] = "process start (--ready %s)" % a.ready
        return r
    r["process_ms"] = (t1 - t0) / 1e6
    if a.uapi and not _uapi_set("/run/wireguard/%s.sock" % a.iface, open(a.uapi).read(), deadline):
        r["failed"] = "configuration (UAPI set)"
        return r
    if a.netlink:
        addr, mtu, route = a.netlink.split(",")
        try:
            _netlink_configure(a.iface, addr, int(mtu), route)
        except OSError as e:
            r["failed"] = "configuration (rtnetlink: %s)" % e
            return r
    t2 = _poll(lambda: _route_to(a.iface, a.route_to), deadline, child)
    if t2 is None:
        r["failed"] = "configuration (route to %s via %s)" % (a.route_to, a.iface)
        return r
    r["config_ms"] = (t2 - t1) / 1e6
    if a.dest:
        t3 = _first_reply(a.dest, deadline, child)
        if t3 is None:
            r["failed"] = "handshake + first echo (%s)" % a.dest
            return r
        r["handshake_ms"] = (t3 - t2) / 1e6
        r["total_ms"] = (t3 - t0) / 1e6
    r["ok"] = True
    return r


def cmd_launch(a):
    def on_term(_signum, _frame):
        _stop["requested"] = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    t0 = time.monotonic_ns()
    # No preexec_fn: it makes Python fork the whole interpreter (about 2 ms
    # here, counted into every daemon's figure) instead of vfork + exec.
    # bench.sh stops the daemon by its pidfile if the launcher is killed.
    child = subprocess.Popen(a.command)
    _write_atomic(a.pidfile, "%d\n" % child.pid)
    result = _start(a, child, t0)
    _write_atomic(a.result, json.dumps(result) + "\n")
    while child.poll() is None and not _stop["requested"]:
        time.sleep(0.05)
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    rc = child.returncode
    sys.exit(rc if rc is not None and rc >= 0 else 128 - (rc or 0))


# --------------------------------------------------------------- sockbuf

SO_SNDBUFFORCE, SO_RCVBUFFORCE = 32, 33
SYS_PIDFD_GETFD = 438  # the same number on every architecture


def _udp_sockets(pid):
    """{inode: (family, port)} of the UDP sockets in pid's namespace."""
    out = {}
    for fam in ("udp", "udp6"):
        try:
            with open("/proc/%d/net/%s" % (pid, fam)) as f:
                for line in f.read().splitlines()[1:]:
                    p = line.split()
                    if len(p) > 9:
                        out[p[9]] = (fam, int(p[1].rsplit(":", 1)[1], 16))
        except OSError:
            pass
    return out


def _sockbuf(pid, set_bytes):
    """The daemon's UDP sockets, each duplicated into this process with
    pidfd_getfd(2) (the same socket, not a copy): SO_RCVBUF and SO_SNDBUF as
    the kernel holds them, after setting them with SO_*BUFFORCE when
    set_bytes (for daemons with no option of their own)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    udp = _udp_sockets(pid)
    res = {"pid": pid, "sockets": []}
    try:
        res["comm"] = open("/proc/%d/comm" % pid).read().strip()
        pidfd = os.pidfd_open(pid)
    except OSError as e:
        res["error"] = str(e)
        return res
    try:
        for fd in sorted(os.listdir("/proc/%d/fd" % pid), key=int):
            try:
                link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                continue
            m = re.match(r"socket:\[(\d+)\]$", link)
            if not m or m.group(1) not in udp:
                continue
            fam, port = udp[m.group(1)]
            dup = libc.syscall(SYS_PIDFD_GETFD, pidfd, int(fd), 0)
            if dup < 0:
                res.setdefault("errors", []).append("pidfd_getfd %s: errno %d" % (fd, ctypes.get_errno()))
                continue
            s = socket.socket(fileno=dup)
            try:
                entry = {"fd": int(fd), "family": fam, "port": port}
                if set_bytes:
                    entry["rcvbuf_before"] = s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
                    entry["sndbuf_before"] = s.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
                    s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, set_bytes)
                    s.setsockopt(socket.SOL_SOCKET, SO_SNDBUFFORCE, set_bytes)
                entry["rcvbuf"] = s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
                entry["sndbuf"] = s.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
                res["sockets"].append(entry)
            finally:
                s.close()  # our duplicate only
    finally:
        os.close(pidfd)
    return res


def cmd_sockbuf(a):
    doc = {"how": a.how, "requested_bytes": a.set or a.requested, "gateways": [_sockbuf(p, a.set) for p in a.pid]}
    with open(a.out, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    ok = all(g["sockets"] and not g.get("error") and not g.get("errors") for g in doc["gateways"])
    sys.exit(0 if ok else 1)


# ------------------------------------------------------------ peers-conf


def cmd_peers_conf(a):
    key = open(a.keyfile).read().strip()
    peers = []
    for i in range(a.n):
        pub = base64.b64encode(os.urandom(32)).decode()
        # 198.19.0.0/16 holds 65536 /32s: one each for up to that many peers.
        ip = "198.19.%d.%d/32" % (i // 256, i % 256)
        peers.append((pub, ip))
    with open(a.out, "w") as f:
        if a.impl == "sitelink":
            f.write("interface:\n  name: %s\n  private-key: %s\n  listen-port: %d\n" % (a.iface, key, a.port))
            f.write("peers:\n")
            for pub, ip in peers:
                f.write("  - public-key: %s\n    allowed-ips: [%s]\n" % (pub, ip))
        else:
            f.write("[Interface]\nPrivateKey = %s\nListenPort = %d\n" % (key, a.port))
            for pub, ip in peers:
                f.write("\n[Peer]\nPublicKey = %s\nAllowedIPs = %s\n" % (pub, ip))
    os.chmod(a.out, 0o600)


# ---------------------------------------------------------------- report

IMPL_LABELS = {
    "raw": "raw veth, no tunnel (the ceiling)",
    "sitelink": "sitelink",
    "sitelink-pool": "the same, crypto-threads: 1 (one pool thread)",
    "wireguard-go": "wireguard-go",
    "fastd": "fastd",
    "openvpn": "OpenVPN",
}


def _num(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _median(xs):
    xs = [x for x in xs if _num(x)]
    return statistics.median(xs) if xs else None


def _load_json(path):
    try:
        with open(path) as f:
            d = json.load(f)
    except (OSError, ValueError):
        return None
    return None if "error" in d else d


def _iperf(path, udp):
    """(received Mbit/s, received bytes, loss %) from an iperf3 -J file."""
    d = _load_json(path)
    if d is None:
        return None, None, None
    try:
        r = d["end"]["sum_received"] if udp or "sum_received" in d["end"] else d["end"]["sum"]
        loss = r.get("lost_percent") if udp else None
        return r["bits_per_second"] / 1e6, r["bytes"], loss
    except (KeyError, TypeError):
        return None, None, None


def _ping(path):
    try:
        text = open(path).read()
    except OSError:
        return None, None, 0
    times = [float(m) for m in re.findall(r"time=([0-9.]+) ms", text)]
    if not times:
        return None, None, 0
    return statistics.median(times), statistics.fmean(times), len(times)


def _read_samples(path):
    """samples.tsv: IMPL REP NAME VALUE per line."""
    out = {}
    try:
        lines = open(path).read().splitlines()
    except OSError:
        return out
    for line in lines:
        parts = line.split()
        if len(parts) != 4:
            continue
        impl, rep, name, value = parts
        try:
            v = float(value)
        except ValueError:
            v = None
        out.setdefault(impl, {}).setdefault(name, {})[int(rep)] = v
    return out


def _load_any_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _sockbuf_pairs(doc):
    """[(rcvbuf, sndbuf)] of every socket of every gateway in a sockbuf file."""
    if not doc:
        return []
    return [(s["rcvbuf"], s["sndbuf"]) for g in doc.get("gateways", []) for s in g.get("sockets", [])]


def _sockbuf_before(doc):
    """[(rcvbuf, sndbuf)] the sockets held before the benchmark set them
    (only for daemons that have no option of their own)."""
    if not doc:
        return []
    return [(s["rcvbuf_before"], s["sndbuf_before"]) for g in doc.get("gateways", []) for s in g.get("sockets", [])
            if "rcvbuf_before" in s]


def _kib_pairs(pairs):
    """'8192/8192' when every socket holds the same, else each distinct pair."""
    if not pairs:
        return None
    return ", ".join(sorted({"%d/%d" % (r // 1024, w // 1024) for r, w in pairs}))


def _collect(a, meta):
    raw_dir = os.path.join(a.out, "raw")
    samples = _read_samples(os.path.join(raw_dir, "samples.tsv"))
    clk_tck = float(meta.get("clk_tck", 100))
    rates = meta["udp_rates_mbps"]
    switches = meta.get("mode") == "switches"
    results = {}
    for impl in meta["implementations"]:
        per_rep = []
        s = samples.get(impl, {})
        pairs = []
        before = []
        how = None
        for rep in range(1, meta["repetitions"] + 1):
            f = lambda name: os.path.join(raw_dir, "%s.%d.%s" % (impl, rep, name))
            r = {"rep": rep}
            r["tcp1_mbps"], b1, _ = _iperf(f("tcp1.json"), False)
            r["tcp4_mbps"], b4, _ = _iperf(f("tcp4.json"), False)
            if not switches:
                for rate in rates:
                    mbps, _, loss = _iperf(f("udp%d.json" % rate), True)
                    r["udp%d_mbps" % rate] = mbps
                    r["udp%d_loss_pct" % rate] = loss
                r["rtt_median_ms"], r["rtt_avg_ms"], r["ping_replies"] = _ping(f("ping.txt"))
            if impl != "raw":
                gb = ((b1 or 0) + (b4 or 0)) / 1e9
                for side in ("a", "b"):
                    ticks = s.get("cpu_ticks_" + side, {}).get(rep)
                    r["cpu_s_per_gb_" + side] = (ticks / clk_tck) / gb if _num(ticks) and b1 and b4 else None
                ca, cb = r["cpu_s_per_gb_a"], r["cpu_s_per_gb_b"]
                r["cpu_s_per_gb"] = ca + cb if _num(ca) and _num(cb) else None
                rss = s.get("rss_kib", {}).get(rep)
                hwm = s.get("hwm_kib", {}).get(rep)
                r["rss_mib"] = rss / 1024 if _num(rss) else None
                r["rss_peak_mib"] = hwm / 1024 if _num(hwm) else None
                start = _load_any_json(f("start-a.json")) or {}
                r["start_process_ms"] = start.get("process_ms")
                r["start_config_ms"] = start.get("config_ms")
                r["start_handshake_ms"] = start.get("handshake_ms")
                r["start_to_first_packet_ms"] = start.get("total_ms")
                r["start_b"] = _load_any_json(f("start-b.json"))
                r["sockbuf"] = {}
                for when in ("up", "after"):
                    doc = _load_any_json(f("sockbuf-%s.json" % when))
                    r["sockbuf"][when] = doc
                    pairs += _sockbuf_pairs(doc)
                    before += _sockbuf_before(doc)
                    how = how or (doc or {}).get("how")
                show = _load_any_json(f("show-a-up.json"))
                if show and show.get("interfaces"):
                    r["data_path_a"] = show["interfaces"][0].get("data_path")
            per_rep.append(r)
        med = {}
        for k in per_rep[0]:
            if k in ("rep", "ping_replies"):
                continue
            vals = [r.get(k) for r in per_rep]
            if any(_num(v) for v in vals) or all(v is None for v in vals):
                med[k] = _median(vals)
        if impl != "raw":
            med["sockbuf_granted_kib"] = _kib_pairs(pairs)
            med["sockbuf_how"] = how
            med["sockbuf_own_kib"] = _kib_pairs(before)  # what the daemon held by itself, where the benchmark set it
            # Each gateway's UDP sockets held the same buffers after the
            # traffic as after start (nothing rebound or reset them).
            med["sockbuf_kept"] = all(
                _sockbuf_pairs((r["sockbuf"] or {}).get("up")) == _sockbuf_pairs((r["sockbuf"] or {}).get("after"))
                for r in per_rep)
        mem = s.get("mem_rss_kib", {})
        if impl != "raw" and mem:
            few, many = mem.get(meta["mem_peers_few"]), mem.get(meta["mem_peers_many"])
            med["rss_idle_%d_peers_kib" % meta["mem_peers_few"]] = few
            med["rss_idle_%d_peers_kib" % meta["mem_peers_many"]] = many
            med["kib_per_extra_peer"] = (
                (many - few) / (meta["mem_peers_many"] - meta["mem_peers_few"]) if _num(few) and _num(many) else None
            )
        label = meta.get("labels", {}).get(impl) or IMPL_LABELS.get(impl, impl)
        results[impl] = {"label": label, "median": med, "runs": per_rep}
    return results


def _aead_floor(a):
    """ChaCha20-Poly1305 alone (microbench Transport/AeadSeal/1420 and
    AeadOpen/1420, medians of 3): CPU seconds per GB (1e9 bytes) of 1420-byte
    packets."""
    d = _load_json(os.path.join(a.out, "raw", "aead.json"))
    if not d:
        return None
    out = {"source": "microbench Transport/AeadSeal/1420, Transport/AeadOpen/1420 (median of 3, CPU time)"}
    for b in d.get("benchmarks", []):
        if b.get("aggregate_name", "median") != "median" or "bytes_per_second" not in b:
            continue
        name = b.get("run_name", b["name"])
        key = "seal" if "AeadSeal/1420" in name else "open" if "AeadOpen/1420" in name else None
        if key:
            out[key + "_s_per_gb"] = 1e9 / b["bytes_per_second"]
            out[key + "_ns_per_packet"] = b["cpu_time"] * {"ns": 1, "us": 1e3, "ms": 1e6}.get(b.get("time_unit"), 1)
    return out if "seal_s_per_gb" in out and "open_s_per_gb" in out else None


def _load(a):
    """The load averages sampled over the run (raw/load.tsv)."""
    samples = []
    try:
        for line in open(os.path.join(a.out, "raw", "load.tsv")).read().splitlines():
            p = line.split()
            if len(p) == 4:
                samples.append([int(p[0])] + [float(x) for x in p[1:]])
    except (OSError, ValueError):
        pass
    if not samples:
        return None
    l1 = [x[1] for x in samples]
    return {"load1_min": min(l1), "load1_max": max(l1), "load1_mean": round(statistics.fmean(l1), 2),
            "samples_every_s": 10, "samples": samples}


def _fmt(x, digits=0):
    if not _num(x):
        return "-"
    return "{:,.{d}f}".format(x, d=digits)


def _run_note(meta):
    m = meta["machine"]
    load = meta.get("load") or {}
    return "%s, %s: %s cores (%s), %s, %s, kernel %s; iperf3 %s; sitelink %s (%s%s); load average (1 min) %s-%s, mean %s." % (
        meta["date"], "quick run" if meta["quick"] else "full run", m.get("nproc"), m.get("cpu"), m.get("memory"),
        m.get("os", "?"), m.get("kernel"), meta.get("dpkg", {}).get("iperf3", "?"),
        meta["versions"].get("sitelink"), meta["versions"].get("sitelink_commit", "?")[:12],
        ", dirty" if meta["versions"].get("sitelink_dirty") == "true" else "",
        load.get("load1_min", "?"), load.get("load1_max", "?"), load.get("load1_mean", "?"))


def _start_cell(m):
    parts = [m.get(k) for k in ("start_process_ms", "start_config_ms", "start_handshake_ms")]
    return "%s / %s / %s = %s" % tuple(_fmt(x, 1) for x in parts + [m.get("start_to_first_packet_ms")])


def _table(meta, results, floor):
    if meta.get("mode") == "switches":
        return _switch_table(meta, results, floor)
    rates = meta["udp_rates_mbps"]
    head = ["path", "TCP 1 stream, Mbit/s", "TCP 4 streams, Mbit/s"]
    head += ["UDP %d Mbit/s: loss %%" % r for r in rates]
    head += ["ping RTT median / avg, ms", "CPU s per GB: A (seals) / B (opens)", "UDP socket buffers, KiB rcv/snd",
             "daemon RSS, MiB (2 peers, after load)", "KiB per extra peer",
             "start, ms: process / configuration / handshake + echo = total"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for impl, res in results.items():
        m = res["median"]
        label = res["label"]
        if impl != "raw" and meta["versions"].get(impl):
            label += " " + meta["versions"][impl]
        row = [label, _fmt(m.get("tcp1_mbps")), _fmt(m.get("tcp4_mbps"))]
        row += [_fmt(m.get("udp%d_loss_pct" % r), 2) for r in rates]
        row.append("%s / %s" % (_fmt(m.get("rtt_median_ms"), 3), _fmt(m.get("rtt_avg_ms"), 3)))
        row.append("%s / %s" % (_fmt(m.get("cpu_s_per_gb_a"), 2), _fmt(m.get("cpu_s_per_gb_b"), 2)) if impl != "raw" else "-")
        row.append(m.get("sockbuf_granted_kib") or "-")
        row += [_fmt(m.get("rss_mib"), 1), _fmt(m.get("kib_per_extra_peer"), 1)]
        row.append(_start_cell(m) if impl != "raw" else "-")
        lines.append("| " + " | ".join(row) + " |")
    if floor:
        row = ["ChaCha20-Poly1305 alone, 1420-byte packets (microbench: the floor)", "-", "-"] + ["-"] * len(rates)
        row += ["-", "%s / %s" % (_fmt(floor["seal_s_per_gb"], 2), _fmt(floor["open_s_per_gb"], 2)), "-", "-", "-", "-"]
        lines.append("| " + " | ".join(row) + " |")
    hows = []
    for impl, r in results.items():
        m = r["median"]
        if impl == "raw":
            continue
        own = " (%s KiB by itself)" % m["sockbuf_own_kib"] if m.get("sockbuf_own_kib") else ""
        hows.append("%s: %s%s" % (impl, m.get("sockbuf_how") or "?", own))
    notes = [
        "",
        _run_note(meta),
        "Medians of %d repetitions, paths alternated; TCP: iperf3 -t %d, A -> B; UDP: iperf3 -u -t %d, %s-byte "
        "datagrams, loss at the receiver; ping: %d at 0.01 s. CPU: utime+stime of each gateway daemon alone over the "
        "two TCP runs per GB (1e9 bytes) received; the floor row is ChaCha20-Poly1305 alone per GB of 1420-byte "
        "packets on this CPU. Socket buffers: what each gateway's UDP sockets held (getsockopt on the socket itself), "
        "after start and after the traffic. RSS: VmRSS of the larger gateway after the traffic, each gateway "
        "configured with the other site and one spare peer (fastd and OpenVPN: one peer). KiB per extra peer: "
        "idle daemon with %d vs %d configured peers. Start: gateway A, with B up: exec until ready to be configured, "
        "until the route to B is in, until the first echo reply from B through the tunnel." % (
            meta["repetitions"], meta["tcp_seconds"], meta["udp_seconds"], meta.get("udp_datagram_bytes", "?"),
            meta["pings"], meta["mem_peers_many"], meta["mem_peers_few"]),
        "Socket buffers: " + "; ".join(hows) + ".",
    ]
    if meta["skipped"]:
        notes.append("Not measured: " + ", ".join("%s (%s)" % kv for kv in sorted(meta["skipped"].items())) + ".")
    return "\n".join(lines + notes)


def _in_effect(dp):
    """The data path as sitelink show --json reported it on gateway A."""
    if not dp:
        return "-"
    on = [k.replace("_", "-") for k in ("batch_io", "udp_gro", "udp_gso", "tun_offload") if dp.get(k)]
    return "%s; buffers %s/%s KiB; crypto threads %s" % (
        ", ".join(on) or "none", (dp.get("socket_rcvbuf") or 0) // 1024, (dp.get("socket_sndbuf") or 0) // 1024,
        dp.get("crypto_threads"))


def _switch_table(meta, results, floor):
    head = ["data path (cumulative)", "TCP 1 stream, Mbit/s", "TCP 4 streams, Mbit/s",
            "CPU s per GB: A (seals) / B (opens)", "in effect on A (sitelink show --json)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for impl, res in results.items():
        m = res["median"]
        dps = [r.get("data_path_a") for r in res["runs"] if r.get("data_path_a")]
        row = [res["label"], _fmt(m.get("tcp1_mbps")), _fmt(m.get("tcp4_mbps")),
               "%s / %s" % (_fmt(m.get("cpu_s_per_gb_a"), 2), _fmt(m.get("cpu_s_per_gb_b"), 2)),
               _in_effect(dps[0] if dps else None)]
        lines.append("| " + " | ".join(row) + " |")
    if floor:
        lines.append("| ChaCha20-Poly1305 alone, 1420-byte packets (microbench: the floor) | - | - | %s / %s | - |" % (
            _fmt(floor["seal_s_per_gb"], 2), _fmt(floor["open_s_per_gb"], 2)))
    notes = [
        "",
        _run_note(meta),
        "sitelink alone, each step adding one data-path switch to the one before; medians of %d repetitions, steps "
        "alternated; TCP: iperf3 -t %d, A -> B. CPU: utime+stime of each gateway daemon alone over the two TCP runs "
        "per GB (1e9 bytes) received." % (meta["repetitions"], meta["tcp_seconds"]),
    ]
    return "\n".join(lines + notes)


def _missing(meta, results, floor):
    rates = meta["udp_rates_mbps"]
    switches = meta.get("mode") == "switches"
    common = ["tcp1_mbps", "tcp4_mbps"]
    if not switches:
        common += ["rtt_median_ms", "rtt_avg_ms"]
        common += ["udp%d_loss_pct" % r for r in rates] + ["udp%d_mbps" % r for r in rates]
    daemon = ["cpu_s_per_gb_a", "cpu_s_per_gb_b", "sockbuf_granted_kib", "start_process_ms", "start_config_ms",
              "start_handshake_ms", "start_to_first_packet_ms"]
    if not switches:
        daemon += ["rss_mib", "rss_peak_mib"]
    missing = []
    for impl, res in results.items():
        want = common + (daemon if impl != "raw" else [])
        if impl in meta.get("mem_implementations", []):
            want.append("kib_per_extra_peer")
        for k in want:
            v = res["median"].get(k)
            if not (_num(v) or (isinstance(v, str) and v)):
                missing.append("%s.%s" % (impl, k))
        if impl != "raw" and not res["median"].get("sockbuf_kept"):
            missing.append("%s.sockbuf_kept (a gateway's socket buffers changed during the run)" % impl)
    if meta.get("microbench") and not floor:
        missing.append("aead_floor")
    return missing


def _chart(a, meta, results):
    """bench.png: four panels from bench.json's medians."""
    dat = os.path.join(a.out, "bench.dat")
    rates = meta["udp_rates_mbps"]
    impls = list(results)

    def v(impl, k, floor=None):
        x = results[impl]["median"].get(k)
        if not _num(x):
            return "NaN"
        return "%g" % (max(x, floor) if floor is not None else x)

    with open(dat, "w") as f:
        f.write("# label tcp1 tcp4 rtt_median rtt_avg cpu_s_per_gb " + " ".join("loss%d" % r for r in rates) + "\n")
        for impl in impls:
            cols = [v(impl, "tcp1_mbps"), v(impl, "tcp4_mbps"), v(impl, "rtt_median_ms"), v(impl, "rtt_avg_ms"),
                    v(impl, "cpu_s_per_gb")]
            # Loss is drawn on a log axis: 0 % is shown at 0.001 %.
            cols += [v(impl, "udp%d_loss_pct" % r, 0.001) for r in rates]
            f.write('"%s" %s\n' % (impl, " ".join(cols)))
    loss_cols = ", ".join(
        "'%s' using %d:xtic(1) title '%d Mbit/s'" % (dat if i == 0 else "", 7 + i, r) for i, r in enumerate(rates)
    )
    title = "sitelink benchmark %s - %s, %s cores, kernel %s%s" % (
        meta["date"], meta["machine"]["cpu"], meta["machine"]["nproc"], meta["machine"]["kernel"],
        " (quick)" if meta["quick"] else "")
    script = """
set terminal pngcairo size 1400,900 font ',10'
set output '{png}'
set multiplot layout 2,2 title "{title}"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set grid ytics
set key below horizontal
set xtics nomirror
set yrange [0:*]
set logscale y
set yrange [10:*]
set title 'TCP throughput, Mbit/s (log scale; median of {reps})'
plot '{dat}' using 2:xtic(1) title '1 stream', '' using 3:xtic(1) title '4 streams'
unset logscale y
set yrange [0:*]
set title 'ping RTT through the path, ms'
plot '{dat}' using 4:xtic(1) title 'median', '' using 5:xtic(1) title 'average'
set title 'CPU seconds per GB carried (both gateway daemons)'
plot '{dat}' using 6:xtic(1) notitle
set logscale y
set yrange [0.0003:100]
set title 'UDP loss % at fixed offered rates (log scale; 0 drawn at 0.001)'
plot {loss}
unset multiplot
""".format(png=os.path.join(a.out, "bench.png"), title=title.replace('"', "'"), reps=meta["repetitions"],
           dat=dat, loss=loss_cols)
    gp = os.path.join(a.out, "bench.gp")
    with open(gp, "w") as f:
        f.write(script)
    r = subprocess.run(["gnuplot", gp], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        sys.stderr.write(r.stderr)
    return r.returncode == 0


_META_INTS = ("repetitions", "tcp_seconds", "udp_seconds", "pings", "clk_tck", "mem_peers_few", "mem_peers_many")


def _load_meta(path):
    """meta.tsv: KEY<TAB>VALUE lines; version.X, machine.X, skipped.X, dpkg.X
    and label.X keys are grouped."""
    meta = {"versions": {}, "machine": {}, "skipped": {}, "dpkg": {}, "labels": {}}
    with open(path) as f:
        for line in f.read().splitlines():
            if "\t" not in line:
                continue
            k, v = line.split("\t", 1)
            group, _, name = k.partition(".")
            groups = {"version": "versions", "machine": "machine", "skipped": "skipped", "dpkg": "dpkg",
                      "label": "labels"}
            if name and group in groups:
                meta[groups[group]][name] = int(v) if name == "nproc" else v
            elif k in _META_INTS:
                meta[k] = int(v)
            elif k == "udp_rates_mbps":
                meta[k] = [int(x) for x in v.split()]
            elif k in ("implementations", "mem_implementations"):
                meta[k] = v.split()
            elif k in ("quick", "micro"):
                meta[k] = v == "1"
            else:
                meta[k] = v
    return meta


def cmd_report(a):
    meta = _load_meta(os.path.join(a.out, "raw", "meta.tsv"))
    meta["load"] = _load(a)
    results = _collect(a, meta)
    floor = _aead_floor(a)
    doc = {"meta": meta, "aead_floor": floor, "results": results}
    micro_path = os.path.join(a.out, "micro.json")
    if os.path.exists(micro_path):
        doc["micro"] = _load_json(micro_path)
    missing = _missing(meta, results, floor)
    doc["missing"] = missing
    table = _table(meta, results, floor)
    print(table)
    for impl, res in results.items():
        for k, x in sorted(res["median"].items()):
            if _num(x):
                print("FIGURE: %s.%s=%g" % (impl, k, x))
    if floor:
        for k in ("seal_s_per_gb", "open_s_per_gb"):
            print("FIGURE: aead_floor.%s=%g" % (k, floor[k]))
    if meta.get("mode") != "switches":
        chart_ok = _chart(a, meta, results)
        png = os.path.join(a.out, "bench.png")
        if not chart_ok or not os.path.exists(png) or os.path.getsize(png) == 0:
            missing.append("chart")
    if meta.get("micro") and not (isinstance(doc.get("micro"), dict) and doc["micro"].get("benchmarks")):
        missing.append("micro")
    with open(os.path.join(a.out, "bench.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    with open(os.path.join(a.out, "bench.md"), "w") as f:
        f.write(table + "\n")
    if missing:
        print("bench: MISSING figures: " + ", ".join(missing), file=sys.stderr)
        sys.exit(1)


# ------------------------------------------------------------ micro-table


def cmd_micro_table(a):
    d = _load_json(a.file)
    if d is None or not d.get("benchmarks"):
        print("bench: no microbenchmark results in %s" % a.file, file=sys.stderr)
        sys.exit(1)
    def fmt_ns(ns):
        return "%.1f ns" % ns if ns < 1e4 else "%.1f us" % (ns / 1e3) if ns < 1e7 else "%.1f ms" % (ns / 1e6)

    print("| microbenchmark | CPU time per op | wall time per op | throughput (CPU time) |")
    print("|---|---|---|---|")
    for b in d["benchmarks"]:
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
            continue
        scale = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}.get(b.get("time_unit", "ns"), 1)
        thr = ""
        if "bytes_per_second" in b:
            thr = "%.0f MB/s" % (b["bytes_per_second"] / 1e6)
        elif "items_per_second" in b:
            thr = "%.3g /s" % b["items_per_second"]
        print("| %s | %s | %s | %s |" % (b["name"], fmt_ns(b["cpu_time"] * scale), fmt_ns(b["real_time"] * scale), thr))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    l = sub.add_parser("launch")
    l.add_argument("--pidfile", required=True)
    l.add_argument("--result", required=True)
    l.add_argument("--iface", required=True)
    l.add_argument("--ready", required=True, help="udp:PORT or unix:PATH")
    l.add_argument("--route-to", required=True, help="the peer's tunnel address")
    l.add_argument("--dest", default="", help="ping this until the first reply (none: no ping)")
    l.add_argument("--uapi", default="", help="a UAPI set request to send once ready")
    l.add_argument("--netlink", default="", help="then ADDR,MTU,ROUTE: address, MTU and up, route (rtnetlink)")
    l.add_argument("--bound", type=float, default=10.0)
    l.add_argument("command", nargs="+")
    c = sub.add_parser("peers-conf")
    c.add_argument("--impl", choices=["sitelink", "wg"], required=True)
    c.add_argument("--n", type=int, required=True)
    c.add_argument("--iface", required=True)
    c.add_argument("--port", type=int, required=True)
    c.add_argument("--keyfile", required=True)
    c.add_argument("--out", required=True)
    b = sub.add_parser("sockbuf")
    b.add_argument("--pid", type=int, action="append", required=True)
    b.add_argument("--set", type=int, default=0, help="set SO_RCVBUF/SO_SNDBUF (FORCE) to this many bytes")
    b.add_argument("--requested", type=int, default=0, help="what the daemon's own option asked for")
    b.add_argument("--how", required=True)
    b.add_argument("--out", required=True)
    r = sub.add_parser("report")
    r.add_argument("--out", required=True)
    m = sub.add_parser("micro-table")
    m.add_argument("file")
    a = p.parse_args()
    {"launch": cmd_launch, "peers-conf": cmd_peers_conf, "sockbuf": cmd_sockbuf, "report": cmd_report,
     "micro-table": cmd_micro_table}[a.cmd](a)


if __name__ == "__main__":
    main()
