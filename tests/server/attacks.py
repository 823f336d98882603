"""Hostile clients for the public-edge tests (edge_test.py) and figures (tests/bench/edge_bench.py):
slowloris, keep-alive floods, header floods, request floods; and a fresh client that measures
how long the server takes to answer it meanwhile. Loopback only; each attacker binds its own
source address in 127.0.0.0/8, so "one address" is one address to the server as well."""
import http.client, json, os, socket, threading, time


def connect(port, source, timeout=5):
    return socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(source, 0))


class Attack:
    """Runs `body(stop)` on threads until stop(); counts what happened."""

    def __init__(self):
        self.stop_event = threading.Event()
        self.threads = []
        self.lock = threading.Lock()
        self.counts = {}

    def count(self, what, n=1):
        with self.lock:
            self.counts[what] = self.counts.get(what, 0) + n

    def spawn(self, fn, *args):
        t = threading.Thread(target=fn, args=args, daemon=True)
        t.start()
        self.threads.append(t)

    def stop(self, join_timeout=5):
        self.stop_event.set()
        deadline = time.time() + join_timeout
        for t in self.threads:
            t.join(max(0.01, deadline - time.time()))


class Slowloris(Attack):
    """`n` connections from `source`, each sending one header line every `every` seconds and
    never finishing its head. Records how each connection ended (408 answer, closed)."""

    def __init__(self, port, n=200, source="127.0.0.2", every=2.0):
        super().__init__()
        self.port, self.n, self.source, self.every = port, n, source, every
        self.socks = []
        for _ in range(n):
            try:
                s = connect(port, source)
                s.sendall(b"POST /api/v1/events HTTP/1.1\r\nHost: closeloop\r\nContent-Type: application/json\r\n")
                self.socks.append(s)
                self.count("opened")
            except OSError:
                self.count("refused")
        self.spawn(self.drip)

    def drip(self):
        i = 0
        while not self.stop_event.wait(self.every):
            i += 1
            for s in list(self.socks):
                try:
                    s.sendall(b"X-Slow-%d: %s\r\n" % (i, b"a" * 20))
                except OSError:
                    self.socks.remove(s)
                    self.count("closed_by_server")

    def stop(self, join_timeout=5):
        super().stop(join_timeout)
        for s in self.socks:
            s.close()

    def answers(self):
        """What the still-listed connections received (status codes), non-blocking."""
        got = {}
        for s in self.socks:
            try:
                s.setblocking(False)
                data = s.recv(4096)
                key = data.split(b" ", 2)[1].decode() if data.startswith(b"HTTP/1.1 ") else ("eof" if not data else "other")
            except BlockingIOError:
                key = "open"
            except OSError:
                key = "reset"
            got[key] = got.get(key, 0) + 1
        return got


class KeepAlive(Attack):
    """`n` keep-alive connections from `source`: the first `active` ask GET /healthz every
    `every` seconds, the rest stay idle. Counts answers and reconnections."""

    def __init__(self, port, n=100, active=50, source="127.0.0.3", every=3.0):
        super().__init__()
        self.port, self.source, self.every = port, source, every
        self.idle_socks = []
        for i in range(n):
            if i < active:
                self.spawn(self.poll, i)
            else:
                try:
                    s = connect(port, source)
                    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: closeloop\r\n\r\n")
                    s.recv(4096)
                    self.idle_socks.append(s)
                    self.count("idle_opened")
                except OSError:
                    self.count("idle_refused")

    def poll(self, i):
        conn = None
        time.sleep((i % 10) * self.every / 10)  # spread over the period
        while not self.stop_event.is_set():
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10,
                                                      source_address=(self.source, 0))
                conn.request("GET", "/healthz")
                r = conn.getresponse()
                r.read()
                self.count(f"status_{r.status}")
            except (OSError, http.client.HTTPException):
                self.count("reconnect")
                if conn:
                    conn.close()
                conn = None
            self.stop_event.wait(self.every)
        if conn:
            conn.close()

    def stop(self, join_timeout=5):
        super().stop(join_timeout)
        for s in self.idle_socks:
            s.close()


class HeaderFlood(Attack):
    """One connection after another from `source`, each sending header lines as fast as the
    server reads them. Records the server's answers (431 expected) and bytes sent."""

    def __init__(self, port, source="127.0.0.4", connections=1):
        super().__init__()
        self.port, self.source = port, source
        for _ in range(connections):
            self.spawn(self.flood)

    def flood(self):
        line = b"X-Flood: " + b"f" * 100 + b"\r\n"
        chunk = line * 600  # ~66 KB per send
        while not self.stop_event.is_set():
            try:
                s = connect(self.port, self.source)
            except OSError:
                self.count("refused")
                self.stop_event.wait(0.05)
                continue
            with s:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: closeloop\r\n")
                sent = 0
                try:
                    while not self.stop_event.is_set() and sent < 1 << 30:
                        s.sendall(chunk)
                        sent += len(chunk)
                except OSError:
                    pass
                self.count("bytes", sent)
                try:
                    s.settimeout(1)
                    data = s.recv(4096)
                    if data.startswith(b"HTTP/1.1 "):
                        self.count("answer_" + data.split(b" ", 2)[1].decode())
                    else:
                        self.count("closed")
                except OSError:
                    self.count("reset")


def fresh_latencies(port, seconds=5.0, interval=0.1, path="/healthz", source="127.0.0.1", timeout=5.0):
    """A new connection per request (a fresh client each time) for `seconds`: latencies in
    seconds (timeout counts as `timeout`), and the statuses seen."""
    lat, statuses = [], {}
    end = time.time() + seconds
    while time.time() < end:
        t0 = time.perf_counter()
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout, source_address=(source, 0))
            conn.request("GET", path)
            r = conn.getresponse()
            r.read()
            conn.close()
            statuses[r.status] = statuses.get(r.status, 0) + 1
        except (OSError, http.client.HTTPException) as e:
            statuses[type(e).__name__] = statuses.get(type(e).__name__, 0) + 1
        lat.append(time.perf_counter() - t0)
        time.sleep(interval)
    return lat, statuses


def percentile(values, p):
    if not values:
        return float("nan")
    v = sorted(values)
    k = min(len(v) - 1, max(0, int(round(p / 100 * (len(v) - 1)))))
    return v[k]


def memory_kb(pid):
    """(VmRSS, VmHWM) of a process in KiB."""
    rss = hwm = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
    return rss, hwm


def post_json(port, path, body, key, source="127.0.0.1", timeout=10):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout, source_address=(source, 0))
    try:
        conn.request("POST", path, body=json.dumps(body),
                     headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
        r = conn.getresponse()
        raw = r.read()
        try:
            data = json.loads(raw)
        except ValueError:
            data = raw
        return r.status, dict(r.getheaders()), data
    finally:
        conn.close()
