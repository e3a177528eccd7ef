#!/usr/bin/env python3
"""Helpers for tests/bench/bench.sh (the side-by-side benchmark, issue 8).

bench.sh does the namespaces, daemons and traffic; this file does what is
awkward in shell:

  launch      start a gateway daemon and time start-to-first-packet: the
              monotonic clock is read, the daemon started, an optional setup
              command run (wg set, ip ...), then ICMP echo requests go to the
              tunnel address every millisecond until the first reply. The
              launcher stays the daemon's parent, forwards SIGTERM to it and
              exits with it; bench.sh also stops the daemon by its pid.
  peers-conf  a sitelinkd YAML file or a `wg setconf` file with N peers
              (random public keys, one /32 each, no endpoint).
  report      turn the raw outputs in OUT/raw (iperf3 -J, ping, samples.tsv)
              into OUT/bench.json, OUT/bench.md and OUT/bench.png (gnuplot);
              exit 1 if any expected figure is missing or not a number.
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


def _first_reply_ms(t0_ns, dest, bound_s, child):
    """Pings `dest` every millisecond from now on; ms from t0 to the first
    echo reply, or None within the bound (or if the daemon exits)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    sock.setblocking(False)
    ident = os.getpid() & 0xFFFF
    deadline = t0_ns + int(bound_s * 1e9)
    seq = 0
    next_send = time.monotonic_ns()
    try:
        while True:
            now = time.monotonic_ns()
            if now >= deadline or child.poll() is not None:
                return None
            if now >= next_send:
                seq = (seq + 1) & 0xFFFF
                try:
                    sock.sendto(_echo_request(ident, seq), (dest, 0))
                except OSError:
                    pass  # no route or interface yet
                next_send = now + 1_000_000
            wait = max(0.0, (min(next_send, deadline) - time.monotonic_ns()) / 1e9)
            ready, _, _ = select.select([sock], [], [], wait)
            if not ready:
                continue
            while True:
                try:
                    packet = sock.recv(2048)
                except BlockingIOError:
                    break
                if _is_reply(packet, ident):
                    return (time.monotonic_ns() - t0_ns) / 1e6
    finally:
        sock.close()


def cmd_launch(a):
    stop = {"requested": False}

    def on_term(_signum, _frame):
        stop["requested"] = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    t0 = time.monotonic_ns()
    # No preexec_fn: it makes Python fork the whole interpreter (about 2 ms
    # here, counted into every daemon's figure) instead of vfork + exec.
    # bench.sh stops the daemon by its pidfile if the launcher is killed.
    child = subprocess.Popen(a.command)
    tmp = a.pidfile + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % child.pid)
    os.rename(tmp, a.pidfile)
    result = None
    ok = True
    if a.setup:
        try:
            ok = subprocess.run(["bash", "-c", a.setup], timeout=a.bound).returncode == 0
        except subprocess.TimeoutExpired:
            ok = False
    if ok and not stop["requested"]:
        result = _first_reply_ms(t0, a.dest, a.bound, child)
    with open(a.result + ".tmp", "w") as f:
        f.write("%.3f\n" % result if result is not None else "fail\n")
    os.rename(a.result + ".tmp", a.result)
    while child.poll() is None and not stop["requested"]:
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


def _collect(a, meta):
    raw_dir = os.path.join(a.out, "raw")
    samples = _read_samples(os.path.join(raw_dir, "samples.tsv"))
    clk_tck = float(meta.get("clk_tck", 100))
    rates = meta["udp_rates_mbps"]
    results = {}
    for impl in meta["implementations"]:
        per_rep = []
        s = samples.get(impl, {})
        for rep in range(1, meta["repetitions"] + 1):
            f = lambda name: os.path.join(raw_dir, "%s.%d.%s" % (impl, rep, name))
            r = {"rep": rep}
            r["tcp1_mbps"], b1, _ = _iperf(f("tcp1.json"), False)
            r["tcp4_mbps"], b4, _ = _iperf(f("tcp4.json"), False)
            for rate in rates:
                mbps, _, loss = _iperf(f("udp%d.json" % rate), True)
                r["udp%d_mbps" % rate] = mbps
                r["udp%d_loss_pct" % rate] = loss
            r["rtt_median_ms"], r["rtt_avg_ms"], r["ping_replies"] = _ping(f("ping.txt"))
            if impl != "raw":
                ticks = s.get("cpu_ticks", {}).get(rep)
                carried = (b1 or 0) + (b4 or 0)
                r["cpu_s_per_gb"] = (ticks / clk_tck) / (carried / 1e9) if _num(ticks) and b1 and b4 else None
                rss = s.get("rss_kib", {}).get(rep)
                hwm = s.get("hwm_kib", {}).get(rep)
                r["rss_mib"] = rss / 1024 if _num(rss) else None
                r["rss_peak_mib"] = hwm / 1024 if _num(hwm) else None
                r["start_to_first_packet_ms"] = s.get("start_ms", {}).get(rep)
            per_rep.append(r)
        med = {}
        for k in per_rep[0]:
            if k in ("rep", "ping_replies"):
                continue
            med[k] = _median([r[k] for r in per_rep])
        mem = s.get("mem_rss_kib", {})
        if impl != "raw" and mem:
            few, many = mem.get(meta["mem_peers_few"]), mem.get(meta["mem_peers_many"])
            med["rss_idle_%d_peers_kib" % meta["mem_peers_few"]] = few
            med["rss_idle_%d_peers_kib" % meta["mem_peers_many"]] = many
            med["kib_per_extra_peer"] = (
                (many - few) / (meta["mem_peers_many"] - meta["mem_peers_few"]) if _num(few) and _num(many) else None
            )
        results[impl] = {"label": IMPL_LABELS.get(impl, impl), "median": med, "runs": per_rep}
    return results


def _fmt(x, digits=0):
    if not _num(x):
        return "-"
    return "{:,.{d}f}".format(x, d=digits)


def _table(meta, results):
    rates = meta["udp_rates_mbps"]
    head = ["path", "TCP 1 stream, Mbit/s", "TCP 4 streams, Mbit/s"]
    head += ["UDP %d Mbit/s: loss %%" % r for r in rates]
    head += ["ping RTT median / avg, ms", "CPU s per GB (both gateways)", "daemon RSS, MiB (2 peers, after load)",
             "KiB per extra peer", "start to first packet, ms"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for impl, res in results.items():
        m = res["median"]
        label = res["label"]
        if impl != "raw" and meta["versions"].get(impl):
            label += " " + meta["versions"][impl]
        row = [label, _fmt(m.get("tcp1_mbps")), _fmt(m.get("tcp4_mbps"))]
        row += [_fmt(m.get("udp%d_loss_pct" % r), 2) for r in rates]
        row.append("%s / %s" % (_fmt(m.get("rtt_median_ms"), 3), _fmt(m.get("rtt_avg_ms"), 3)))
        row += [_fmt(m.get("cpu_s_per_gb"), 2), _fmt(m.get("rss_mib"), 1), _fmt(m.get("kib_per_extra_peer"), 1),
                _fmt(m.get("start_to_first_packet_ms"), 1)]
        lines.append("| " + " | ".join(row) + " |")
    m = meta["machine"]
    notes = [
        "",
        "%s, %s: %s cores (%s), %s, kernel %s; iperf3 %s; sitelink %s (%s)." % (
            meta["date"], "quick run" if meta["quick"] else "full run", m.get("nproc"), m.get("cpu"),
            m.get("memory"), m.get("kernel"), meta["versions"].get("iperf3", "?").replace("iperf ", ""),
            meta["versions"].get("sitelink"), meta["versions"].get("sitelink_commit")),
        "Medians of %d repetitions, paths alternated; TCP: iperf3 -t %d, A -> B; UDP: iperf3 -u -t %d, %s-byte "
        "datagrams, loss at the receiver; ping: %d at 0.01 s. CPU: utime+stime of both gateway daemons over the two "
        "TCP runs per GB (1e9 bytes) received. RSS: VmRSS of the larger gateway after the traffic, each gateway "
        "configured with the other site and one spare peer (fastd and OpenVPN: one peer). KiB per extra peer: "
        "idle daemon with %d vs %d configured peers. Start to first packet: gateway A started (and configured) "
        "until the first echo reply from B through the tunnel, handshake included." % (
            meta["repetitions"], meta["tcp_seconds"], meta["udp_seconds"], meta.get("udp_datagram_bytes", "?"),
            meta["pings"], meta["mem_peers_many"], meta["mem_peers_few"]),
    ]
    if meta["skipped"]:
        notes.append("Not measured: " + ", ".join("%s (%s)" % kv for kv in sorted(meta["skipped"].items())) + ".")
    return "\n".join(lines + notes)


def _missing(meta, results):
    rates = meta["udp_rates_mbps"]
    common = ["tcp1_mbps", "tcp4_mbps", "rtt_median_ms", "rtt_avg_ms"]
    common += ["udp%d_loss_pct" % r for r in rates] + ["udp%d_mbps" % r for r in rates]
    daemon = ["cpu_s_per_gb", "rss_mib", "rss_peak_mib", "start_to_first_packet_ms"]
    missing = []
    for impl, res in results.items():
        want = common + (daemon if impl != "raw" else [])
        if impl in meta.get("mem_implementations", []):
            want.append("kib_per_extra_peer")
        for k in want:
            if not _num(res["median"].get(k)):
                missing.append("%s.%s" % (impl, k))
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
    """meta.tsv: KEY<TAB>VALUE lines; version.X, machine.X and skipped.X
    keys are grouped."""
    meta = {"versions": {}, "machine": {}, "skipped": {}}
    with open(path) as f:
        for line in f.read().splitlines():
            if "\t" not in line:
                continue
            k, v = line.split("\t", 1)
            group, _, name = k.partition(".")
            groups = {"version": "versions", "machine": "machine", "skipped": "skipped"}
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
    results = _collect(a, meta)
    doc = {"meta": meta, "results": results}
    micro_path = os.path.join(a.out, "micro.json")
    if os.path.exists(micro_path):
        doc["micro"] = _load_json(micro_path)
    missing = _missing(meta, results)
    doc["missing"] = missing
    with open(os.path.join(a.out, "bench.json"), "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    table = _table(meta, results)
    with open(os.path.join(a.out, "bench.md"), "w") as f:
        f.write(table + "\n")
    print(table)
    for impl, res in results.items():
        for k, x in sorted(res["median"].items()):
            if _num(x):
                print("FIGURE: %s.%s=%g" % (impl, k, x))
    chart_ok = _chart(a, meta, results)
    png = os.path.join(a.out, "bench.png")
    if not chart_ok or not os.path.exists(png) or os.path.getsize(png) == 0:
        missing.append("chart")
    if meta.get("micro") and not (isinstance(doc.get("micro"), dict) and doc["micro"].get("benchmarks")):
        missing.append("micro")
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
    l.add_argument("--dest", required=True)
    l.add_argument("--setup", default="")
    l.add_argument("--bound", type=float, default=10.0)
    l.add_argument("command", nargs="+")
    c = sub.add_parser("peers-conf")
    c.add_argument("--impl", choices=["sitelink", "wg"], required=True)
    c.add_argument("--n", type=int, required=True)
    c.add_argument("--iface", required=True)
    c.add_argument("--port", type=int, required=True)
    c.add_argument("--keyfile", required=True)
    c.add_argument("--out", required=True)
    r = sub.add_parser("report")
    r.add_argument("--out", required=True)
    m = sub.add_parser("micro-table")
    m.add_argument("file")
    a = p.parse_args()
    {"launch": cmd_launch, "peers-conf": cmd_peers_conf, "report": cmd_report, "micro-table": cmd_micro_table}[a.cmd](a)


if __name__ == "__main__":
    main()
