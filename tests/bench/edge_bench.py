"""Figures for the public edge (README, "The public edge"): a fresh client's latency (p50, p99)
under each attack, the server's memory, and the accepted-answer rate under a rate-limited flood,
beside the same with no attack. Loopback only; about a minute and a half.
Usage: /usr/bin/python3 tests/bench/edge_bench.py build/native/server/closeloop [--seconds 8]"""
import argparse, http.client, json, os, subprocess, sys, tempfile, threading, time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "server"))
from attacks import Slowloris, KeepAlive, HeaderFlood, fresh_latencies, percentile, memory_kb  # noqa: E402
from harness import Server  # noqa: E402


def flood(port, key, seconds, threads=4, source="127.0.0.8"):
    """Widget answers as fast as `threads` keep-alive senders can; returns (sent, accepted)."""
    stop = threading.Event()
    sent = [0] * threads
    ok = [0] * threads

    def run(t):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
        while not stop.is_set():
            try:
                conn.request("POST", "/api/v1/events", body=json.dumps({"type": "nps_response", "data": {"score": 7}}),
                             headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
                r = conn.getresponse()
                r.read()
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
                continue
            sent[t] += 1
            ok[t] += r.status == 202
        conn.close()

    ts = [threading.Thread(target=run, args=(t,), daemon=True) for t in range(threads)]
    for t in ts:
        t.start()
    return stop, ts, sent, ok


def legit(port, key, seconds):
    """One integrator posting answers one after another over a keep-alive connection: accepted/s."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    ok, i, t0 = 0, 0, time.time()
    while time.time() - t0 < seconds:
        i += 1
        conn.request("POST", "/api/v1/events",
                     body=json.dumps({"type": "nps_response", "contact": {"id": f"legit-{i % 500}"},
                                      "data": {"score": 8}}),
                     headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()
        ok += r.status == 202
    conn.close()
    return ok / (time.time() - t0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--seconds", type=float, default=8.0, help="measuring time per attack")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        # --rate-api off: the integrator's rows measure what the server can take, not the API limit.
        server = Server(args.binary, os.path.join(tmp, "data"), extra=["--rate-api", "off"])
        assert server.start(), server.err
        port, pid = server.port, server.proc.pid
        pub = subprocess.run([args.binary, "keys", "create", "--workspace", "demo", "--kind", "publishable", "--data",
                              server.data], capture_output=True, text=True, check=True).stdout.split()[-1]

        def measure(name, extra=""):
            lat, st = fresh_latencies(port, seconds=args.seconds, interval=0.02)
            rss, hwm = memory_kb(pid)
            rows.append((name, len(lat), percentile(lat, 50) * 1000, percentile(lat, 99) * 1000, max(lat) * 1000,
                         sum(v for k, v in st.items() if k != 200), rss // 1024, hwm // 1024, extra))

        measure("no attack")
        slow = Slowloris(port, n=200, source="127.0.0.2", every=2.0)
        measure("slowloris: 200 connections, a header line every 2 s")
        keep = KeepAlive(port, n=100, active=50, source="127.0.0.3", every=3.0)
        measure("+ 100 keep-alive (50 asking every 3 s, 50 idle)")
        hf = HeaderFlood(port, source="127.0.0.4")
        measure("+ one connection flooding header lines")
        hf.stop()
        slow.stop()
        keep.stop()
        time.sleep(1)
        stop, ts, sent, ok = flood(port, pub, args.seconds)
        t0 = time.time()
        measure("widget-key flood, 4 senders (rate-limited)")
        stop.set()
        for t in ts:
            t.join(10)
        el = time.time() - t0
        rows[-1] = rows[-1][:-1] + (f"{sum(sent) / el:,.0f} req/s sent, {sum(ok) / el:.1f}/s accepted",)
        rate = legit(port, server.key, args.seconds)
        rows.append(("an integrator alone (admin key, one connection)", 0, 0, 0, 0, 0, 0, 0,
                     f"{rate:,.0f} answers/s accepted"))
        stop, ts, sent, ok = flood(port, pub, args.seconds)
        rate = legit(port, server.key, args.seconds)
        stop.set()
        for t in ts:
            t.join(10)
        rows.append(("the integrator during the widget-key flood", 0, 0, 0, 0, 0, 0, 0,
                     f"{rate:,.0f} answers/s accepted"))
        server.stop()

    print(f"{'situation':52} {'n':>5} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'fail':>4} {'RSS MiB':>7} "
          f"{'peak MiB':>8}  note")
    for r in rows:
        print(f"{r[0]:52} {r[1]:5d} {r[2]:7.1f} {r[3]:7.1f} {r[4]:7.1f} {r[5]:4d} {r[6]:7d} {r[7]:8d}  {r[8]}")


if __name__ == "__main__":
    main()
