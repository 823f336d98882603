"""The public edge under hostile traffic (issue 13), against the real `closeloop serve` on
loopback: slowloris, keep-alive floods, header floods, all three at once, oversized and deeply
nested bodies, framing attacks, ids holding "/". Each attack asserts that a fresh client is
still answered within 1 s, that memory stays bounded, and that what was acknowledged is kept.
Bounded: about a minute, a few hundred connections. Usage: edge_test.py path/to/closeloop"""
import http.client, json, os, re, socket, subprocess, sys, tempfile, threading, time, urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from attacks import (Slowloris, KeepAlive, HeaderFlood, fresh_latencies, percentile, memory_kb, post_json,
                     connect)
from harness import Checks, Server, free_port, raw_exchange, is_error_json

FRESH_LIMIT = 1.0  # seconds: the bound for a fresh client under attack
MEMORY_GROWTH_LIMIT_KB = 64 * 1024  # the process may grow this much under an attack, no more


def fresh_ok(c, port, what, seconds=3.0):
    lat, statuses = fresh_latencies(port, seconds=seconds)
    worst = max(lat) if lat else float("inf")
    c.check(f"{what}: a fresh client is answered within {FRESH_LIMIT} s "
            f"(p50 {percentile(lat, 50) * 1000:.0f} ms, max {worst * 1000:.0f} ms, {len(lat)} requests)",
            worst < FRESH_LIMIT and statuses.get(200, 0) == len(lat), f"statuses {statuses}")
    return lat


def answer(i, score=9):
    return {"id": f"edge-ans-{i}", "type": "nps_response", "contact": {"id": f"edge-{i % 7}"},
            "data": {"score": score}}


def raw_reply(port, payload, timeout=5, source="127.0.0.1"):
    """Sends raw bytes; returns (status code or None, whether the server closed the connection)."""
    s = connect(port, source, timeout=timeout)
    with s:
        s.sendall(payload)
        data = b""
        closed = False
        try:
            while True:
                part = s.recv(65536)
                if not part:
                    closed = True
                    break
                data += part
                head, sep, rest = data.partition(b"\r\n\r\n")
                if sep:
                    length = 0
                    for line in head.split(b"\r\n"):
                        if line.lower().startswith(b"content-length:"):
                            length = int(line.split(b":")[1])
                    if len(rest) >= length:
                        # the answer is whole: does the server close the connection now?
                        s.settimeout(1.0)
                        try:
                            closed = s.recv(1) == b""
                        except socket.timeout:
                            closed = False
                        break
        except (socket.timeout, ConnectionResetError):
            closed = True
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.") else None
    return status, closed, data


def publishable_key(server):
    """A new publishable key of workspace demo, made with the CLI while the server runs."""
    out = subprocess.run([server.binary, "keys", "create", "--workspace", "demo", "--kind", "publishable", "--data",
                          server.data], capture_output=True, text=True, check=True).stdout
    return out.split()[-1] if out.strip() else ""


def flood_publishable(c, server, port, pub, seconds=3.0, threads=4):
    """Four senders from one address post answers with the widget key as fast as they can;
    meanwhile an admin sender and a second widget address post at a human pace."""
    stop = threading.Event()
    counts = {"flood_202": 0, "flood_429": 0, "flood_other": 0}
    lock = threading.Lock()
    ids = []

    def flooder(t):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=("127.0.0.8", 0))
        i = 0
        while not stop.is_set():
            i += 1
            ident = f"flood-{t}-{i}"
            try:
                conn.request("POST", "/api/v1/events",
                             body=json.dumps({"id": ident, "type": "nps_response", "data": {"score": 4}}),
                             headers={"Authorization": f"Bearer {pub}", "Content-Type": "application/json"})
                r = conn.getresponse()
                r.read()
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=("127.0.0.8", 0))
                continue
            with lock:
                key = {202: "flood_202", 429: "flood_429"}.get(r.status, "flood_other")
                counts[key] += 1
                if r.status == 202:
                    ids.append(ident)
                if r.status == 429:
                    counts.setdefault("retry_after", r.getheader("Retry-After"))
        conn.close()

    workers = [threading.Thread(target=flooder, args=(t,), daemon=True) for t in range(threads)]
    for w in workers:
        w.start()
    t0 = time.time()
    admin_ok = widget_ok = 0
    lat = []
    for i in range(int(seconds / 0.25)):
        st, _, _ = post_json(port, "/api/v1/events", answer(100 + i), server.key)
        admin_ok += st == 202
        st, _, _ = post_json(port, "/api/v1/events", {"type": "nps_response", "data": {"score": 9}}, pub,
                             source="127.0.0.9")
        widget_ok += st == 202
        l, _ = fresh_latencies(port, seconds=0.01, interval=0)
        lat += l
        time.sleep(0.2)
    stop.set()
    for w in workers:
        w.join(10)
    elapsed = time.time() - t0
    total = counts["flood_202"] + counts["flood_429"]
    n = int(seconds / 0.25)
    c.check(f"rate limit: the flood got 429s with Retry-After ({counts}, {total / elapsed:.0f} requests/s, "
            f"{counts['flood_202'] / elapsed:.1f} accepted/s)",
            counts["flood_429"] > 0 and counts.get("retry_after") and counts["flood_other"] == 0 and
            counts["flood_202"] <= 60 + 10 * elapsed + 10, counts)
    c.check(f"rate limit: the admin key and another widget address kept being accepted ({admin_ok}/{n}, "
            f"{widget_ok}/{n})", admin_ok == n and widget_ok == n, (admin_ok, widget_ok))
    c.check(f"rate limit: a fresh client is answered within {FRESH_LIMIT} s during the flood "
            f"(max {max(lat) * 1000:.0f} ms)", max(lat) < FRESH_LIMIT, lat)
    stored = set()
    cursor = ""
    while True:
        st, _, page = server.request("GET", "/api/v1/events?type=nps_response&limit=1000" +
                                     (f"&cursor={cursor}" if cursor else ""))
        if st != 200:
            break
        stored |= {e["id"] for e in page["events"]}
        cursor = page.get("next_cursor")
        if not cursor:
            break
    flood_stored = {i for i in stored if i.startswith("pub_flood-")}
    c.check(f"rate limit: exactly the accepted flood answers are stored ({len(flood_stored)} of {total} sent)",
            flood_stored == {"pub_" + i for i in ids}, (len(flood_stored), len(ids)))
    st, _, text = server.request("GET", "/metrics", key=None)
    c.check("rate limit: /metrics counts the refusals",
            f'closeloop_rate_limited_total{{class="answers"}} {counts["flood_429"]}' in text, str(text)[-600:])
    return counts


def caps(c, binary, tmp):
    """A server with a cap of 4 connections per address: at the cap, a newcomer first costs the
    address its oldest idle keep-alive connection, then its slowest head older than 1 s, and
    only when neither exists is it answered 503 with Retry-After."""
    server = Server(binary, os.path.join(tmp, "caps"), extra=["--max-connections-per-address", "4"])
    if not c.check("caps: a server with 4 connections per address starts", server.start(), server.err):
        return
    port = server.port
    try:
        slow = []
        for _ in range(4):
            s = connect(port, "127.0.0.10")
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            slow.append(s)
        time.sleep(0.2)
        status, closed, data = raw_reply(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", source="127.0.0.10")
        c.check("caps: at the cap with only young heads, a newcomer gets 503 with Retry-After and is closed",
                status == 503 and b"Retry-After: 1" in data and closed, (status, data[:200]))
        st, _, _ = server.request("GET", "/healthz", key=None)
        c.check("caps: another address is not affected", st == 200, st)
        time.sleep(1.2)
        status, _, _ = raw_reply(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                                 source="127.0.0.10")
        ended = 0
        for s in slow:
            s.settimeout(0.5)
            try:
                ended += s.recv(100) == b""
            except socket.timeout:
                pass
            except OSError:
                ended += 1
            s.close()
        c.check("caps: after 1 s the slowest head makes room: the newcomer is served, one slow connection closed",
                status == 200 and ended == 1, (status, ended))
        idle = []
        for _ in range(4):
            s = connect(port, "127.0.0.11")
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            s.recv(4096)
            idle.append(s)
            time.sleep(0.05)
        status, _, _ = raw_reply(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                                 source="127.0.0.11")
        idle[0].settimeout(1)
        try:
            first_closed = idle[0].recv(100) == b""
        except OSError:
            first_closed = False
        c.check("caps: an idle keep-alive connection makes room first, the oldest one", status == 200 and first_closed,
                (status, first_closed))
        for s in idle:
            s.close()
        st, _, text = server.request("GET", "/metrics", key=None)
        c.check("caps: /metrics counts the evictions and the 503",
                'closeloop_http_connections_total{outcome="evicted"} 2' in text and
                'closeloop_http_connections_total{outcome="busy"} 1' in text, str(text)[-700:])
    finally:
        server.stop()


def few_files(c, binary, tmp):
    """Under a hard open-file limit of 400 the connection cap shrinks to fit (and says so), so
    300 idle connections end in evictions, not in a server that cannot accept."""
    import resource
    port = free_port()
    env = dict(os.environ, CLOSELOOP_BOOTSTRAP_KEY="test-admin-key-0123456789abcdef")
    proc = subprocess.Popen([binary, "serve", "--data", os.path.join(tmp, "few"), "--port", str(port),
                             "--rfm-interval", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (400, 400)))
    try:
        up = False
        for _ in range(200):
            try:
                up = fresh_latencies(port, seconds=0.01, interval=0)[1].get(200, 0) > 0
            except OSError:
                pass
            if up:
                break
            time.sleep(0.05)
        socks = []
        for i in range(300):
            try:
                s = connect(port, f"127.0.1.{i % 50 + 1}")
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                socks.append(s)
            except OSError:
                pass
        time.sleep(0.5)
        lat, st = fresh_latencies(port, seconds=1.0)
        c.check("few files: with 300 keep-alive connections over a 400-file limit a fresh client is served",
                up and st.get(200, 0) == len(lat) and max(lat) < FRESH_LIMIT, st)
        for s in socks:
            s.close()
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=20)
    c.check("few files: the server says how many connections the file limit allows",
            "the open-file limit is 400: at most 144 connections" in err, err[-300:])


def main():
    binary = sys.argv[1]
    c = Checks("edge_test")
    with tempfile.TemporaryDirectory() as tmp:
        caps(c, binary, tmp)
        few_files(c, binary, tmp)
        server = Server(binary, os.path.join(tmp, "data"))
        if not c.check("server starts", server.start(), server.err):
            c.finish()
        port, pid = server.port, server.proc.pid
        try:
            run(c, server, port, pid)
        finally:
            server.stop()
    c.finish()


def run(c, server, port, pid):
    key = server.key
    # ---- no attack: the reference ----
    base = fresh_ok(c, port, "no attack")
    rss0, _ = memory_kb(pid)
    acknowledged = 0
    for i in range(20):
        st, _, _ = post_json(port, "/api/v1/events", answer(i), key)
        acknowledged += st == 202

    # ---- slowloris: 200 connections from one address, a header line every 2 s ----
    slow = Slowloris(port, n=200, source="127.0.0.2", every=2.0)
    c.check("slowloris: 200 slow connections are open", slow.counts.get("opened", 0) == 200, slow.counts)
    fresh_ok(c, port, "slowloris (200 connections from 127.0.0.2)")
    # The same address may still be served: the slowest unfinished heads make room for it.
    lat, st = fresh_latencies(port, seconds=1.0, source="127.0.0.2")
    c.check("slowloris: a fresh client from the attacker's own address is answered too",
            max(lat) < FRESH_LIMIT and st.get(200, 0) == len(lat), st)

    # ---- plus 100 keep-alive connections (50 asking every 3 s, 50 idle) ----
    keep = KeepAlive(port, n=100, active=50, source="127.0.0.3", every=3.0)
    c.check("keep-alive: 50 idle keep-alive connections are open", keep.counts.get("idle_opened", 0) == 50,
            keep.counts)
    fresh_ok(c, port, "slowloris + 100 keep-alive connections")

    # ---- plus one connection flooding header lines ----
    flood = HeaderFlood(port, source="127.0.0.4")
    lat = fresh_ok(c, port, "slowloris + keep-alive + header flood", seconds=4.0)
    for i in range(20, 40):  # answers posted under attack are kept
        st, _, _ = post_json(port, "/api/v1/events", answer(i), key)
        acknowledged += st == 202
    rss1, hwm1 = memory_kb(pid)
    flood.stop()
    c.check(f"header flood: refused with 431 ({flood.counts})", flood.counts.get("answer_431", 0) >= 1, flood.counts)
    c.check(f"memory stays bounded under all three (RSS {rss0 // 1024} -> {rss1 // 1024} MiB, peak {hwm1 // 1024} MiB)",
            rss1 - rss0 < MEMORY_GROWTH_LIMIT_KB, f"{rss0} -> {rss1} KiB")
    c.check("keep-alive clients kept being answered",
            keep.counts.get("status_200", 0) >= 50 and keep.counts.get("reconnect", 0) <= 5, keep.counts)

    # The head deadline (10 s) ends the slowloris connections with a 408.
    deadline = time.time() + 15
    while time.time() < deadline and slow.counts.get("closed_by_server", 0) < 200:
        time.sleep(0.5)
    c.check("slowloris: every slow connection is ended by the head deadline",
            slow.counts.get("closed_by_server", 0) == 200, slow.counts)
    slow.stop()
    keep.stop()
    fresh_ok(c, port, "after the attacks", seconds=1.0)

    # ---- nothing acknowledged is lost ----
    st, _, page = server.request("GET", "/api/v1/events?type=nps_response&limit=1000")
    stored = {e["id"] for e in page.get("events", [])} if st == 200 else set()
    c.check(f"all {acknowledged} acknowledged answers are stored",
            acknowledged == 40 and all(f"edge-ans-{i}" in stored for i in range(40)), f"{acknowledged} {len(stored)}")

    # ---- framing: one way to find the body's end, or 400 and the connection closed ----
    body = b'{"type":"nps_response","contact":{"id":"frame-1"},"data":{"score":5}}'
    auth = f"Authorization: Bearer {key}\r\n".encode()
    both = (b"POST /api/v1/events HTTP/1.1\r\nHost: x\r\n" + auth + b"Content-Type: application/json\r\n"
            b"Content-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n" % (len(body), len(body), body))
    status, closed, _ = raw_reply(port, both)
    c.check("framing: Content-Length with Transfer-Encoding is 400 and the connection closed",
            status == 400 and closed, f"{status} closed={closed}")
    two = (b"POST /api/v1/events HTTP/1.1\r\nHost: x\r\n" + auth + b"Content-Type: application/json\r\n"
           b"Content-Length: %d\r\nContent-Length: %d\r\n\r\n%s" % (len(body), len(body) + 5, body))
    status, closed, _ = raw_reply(port, two)
    c.check("framing: two different Content-Length values are 400 and the connection closed",
            status == 400 and closed, f"{status} closed={closed}")
    same = (b"POST /api/v1/events HTTP/1.1\r\nHost: x\r\n" + auth + b"Content-Type: application/json\r\n"
            b"Content-Length: %d\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), len(body), body))
    status, _, _ = raw_reply(port, same)
    c.check("framing: the same Content-Length twice is one length (202)", status == 202, status)
    chunked = (b"POST /api/v1/events HTTP/1.1\r\nHost: x\r\n" + auth + b"Content-Type: application/json\r\n"
               b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
    status, _, _ = raw_reply(port, chunked)
    c.check("framing: a chunked body alone is read (202)", status == 202, status)
    for name, payload in [
        ("a folded header line", b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n  continued\r\n\r\n"),
        ("a space before the colon", b"GET /healthz HTTP/1.1\r\nHost : x\r\n\r\n"),
        ("a bare LF inside a header value", b"GET /healthz HTTP/1.1\r\nHost: x\nX-B: 2\r\n\r\n"),
        ("a Transfer-Encoding other than chunked",
         b"POST /api/v1/events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
    ]:
        status, closed, _ = raw_reply(port, payload)
        c.check(f"framing: {name} is 400 and the connection closed", status == 400 and closed,
                f"{status} closed={closed}")

    # ---- clients that ask for the builder's files and never read them ----
    rss0, _ = memory_kb(pid)
    readers = []
    for _ in range(200):
        r = socket.socket()
        r.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # the kernel holds little for them
        r.bind(("127.0.0.12", 0))
        r.connect(("127.0.0.1", port))
        r.sendall(b"GET /builder.wasm HTTP/1.1\r\nHost: x\r\n\r\n")
        readers.append(r)
    time.sleep(1.0)
    rss1, _ = memory_kb(pid)
    st, _, wasm = server.request("GET", "/builder.wasm", key=None)
    size = len(wasm.encode()) if isinstance(wasm, str) else 0
    fresh_ok(c, port, "200 clients not reading a 1 MB answer", seconds=1.0)
    c.check(f"slow readers: 200 unread copies of builder.wasm ({size // 1024} KiB) cost {(rss1 - rss0) // 1024} MiB, "
            f"not one copy each", st == 200 and size > 500_000 and rss1 - rss0 < 40 * 1024, (st, size, rss0, rss1))
    for r in readers:
        r.close()

    # ---- HTTP/1.1 as clients use it ----
    s = connect(port, "127.0.0.1")
    with s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"HEAD /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        s.settimeout(5)
        while True:
            part = s.recv(65536)
            if not part:
                break
            data += part
    statuses = [int(m) for m in re.findall(rb"HTTP/1\.1 (\d{3}) ", data)]
    head_part = data[data.rfind(b"HTTP/1.1 "):]
    c.check("pipelining: three requests in one packet get three answers in order (HEAD without a body)",
            statuses == [200, 404, 200] and head_part.endswith(b"\r\n\r\n") and b"Content-Length: " in head_part,
            data[-400:])
    s = connect(port, "127.0.0.1")
    with s:
        s.settimeout(5)
        s.sendall(b"POST /api/v1/events HTTP/1.1\r\nHost: x\r\n" + auth + b"Content-Type: application/json\r\n"
                  b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(body))
        interim = s.recv(100)
        s.sendall(body)
        final = s.recv(4096)
    c.check("Expect: 100-continue gets 100 Continue, then the answer",
            interim == b"HTTP/1.1 100 Continue\r\n\r\n" and final.startswith(b"HTTP/1.1 202"), (interim, final[:100]))
    s = connect(port, "127.0.0.1")
    with s:
        s.settimeout(5)
        s.sendall(b"GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        first = s.recv(4096)
        s.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
        second = s.recv(4096)
        after = s.recv(10)
    c.check("HTTP/1.0: keep-alive when asked (then closed after a request without it)",
            b"Connection: keep-alive" in first and second.startswith(b"HTTP/1.1 200") and after == b"",
            (first[:200], second[:100], after))

    # ---- limits the transport keeps ----
    status, closed, data = raw_reply(port, b"GET /healthz HTTP/1.1\r\n" + b"X-Many: 1\r\n" * 101 + b"\r\n")
    c.check("limits: 101 header lines are 431 naming max_header_count",
            status == 431 and b"max_header_count" in data and closed, f"{status} {data[:200]}")
    status, _, data = raw_reply(port, b"GET /healthz HTTP/1.1\r\nX-Big: " + b"b" * 40000 + b"\r\n\r\n")
    c.check("limits: a 40 KB head is 431 naming max_header_bytes", status == 431 and b"max_header_bytes" in data,
            f"{status} {data[:200]}")
    status, _, data = raw_reply(port, b"GET /" + b"u" * 9000 + b" HTTP/1.1\r\n\r\n")
    c.check("limits: a 9 KB request line is 414 naming max_request_line", status == 414 and b"max_request_line" in data,
            f"{status} {data[:200]}")
    big = b"POST /api/v1/events HTTP/1.1\r\nHost: x\r\n" + auth + b"Content-Length: 2000000\r\n\r\n"
    status, closed, data = raw_reply(port, big)
    c.check("limits: a 2 MB body is 413 before it is sent (max_body)", status == 413 and b"max_body" in data,
            f"{status} {data[:200]}")
    chunk = b"%x\r\n%s\r\n" % (65536, b"[" * 65536)
    status, _, _ = raw_reply(port, b"POST /api/v1/events HTTP/1.1\r\nHost: x\r\n" + auth +
                             b"Transfer-Encoding: chunked\r\n\r\n" + chunk * 17)
    c.check("limits: a chunked body over 1 MiB is 413", status == 413, status)
    st, _, err = server.request("POST", "/api/v1/events", "[" * 100000 + "]" * 100000)
    c.check("limits: JSON nested 100,000 deep is a 4xx naming the depth (64), not a crash",
            st in (400, 422) and is_error_json(err, st) and "nested deeper than 64" in err["error"]["message"],
            f"{st} {err}")
    st, _, _ = server.request("GET", "/healthz", key=None)
    c.check("the server is still up after the bad bodies", st == 200, st)

    # ---- ids holding "/" are reachable (routes match the path as sent) ----
    for cid in ["shop/42", "a b", "ž%", "x?y#z"]:
        st, _, _ = server.request("POST", "/api/v1/contacts", {"id": cid, "email": "slash@example.com"})
        enc = urllib.parse.quote(cid, safe="")
        st_get, _, card = server.request("GET", f"/api/v1/contacts/{enc}")
        st_exp, _, _ = server.request("GET", f"/api/v1/contacts/{enc}/export")
        st_del, _, _ = server.request("DELETE", f"/api/v1/contacts/{enc}")
        st_gone, _, _ = server.request("GET", f"/api/v1/contacts/{enc}")
        c.check(f"ids: contact {cid!r} can be created, read, exported and erased",
                (st, st_get, st_exp, st_del, st_gone) == (200, 200, 200, 200, 404), (st, st_get, st_exp, st_del, st_gone))

    # ---- template amplification: a message repeating a 1 KB attribute 38,000 times ----
    amp = {"id": "amp", "name": "Amplifier", "trigger": {"event": "nps_response"}, "start": "n",
           "nodes": [{"id": "n", "type": "action", "action": "notify",
                      "params": {"role": "call_center_agent", "message": "{{contact.attributes.big}}" * 38000},
                      "next": None}]}
    st, _, saved = server.request("POST", "/api/v1/scenarios", amp)
    st_act, _, act = server.request("POST", "/api/v1/scenarios/amp/activate", {})
    c.check("template amplification: the scenario cannot be activated (its message can render over 100 KB)",
            (st == 422 or st_act in (409, 422)) and "max_rendered_text_bytes" in json.dumps([saved, act]),
            (st, st_act, str(saved)[:300], str(act)[:300]))

    # ---- what a publishable key may not do ----
    pub = publishable_key(server)
    st, _, err = post_json(port, "/api/v1/events",
                           {"type": "nps_response", "contact": {"id": "edge-1", "email": "attacker@evil.example",
                                                                "vip": True}, "data": {"score": 10}}, pub)
    c.check("publishable key: changing a contact's e-mail is refused naming contact.email",
            st == 403 and err["error"]["field"] == "contact.email", (st, err))
    st, _, err = post_json(port, "/api/v1/events", {"type": "purchase", "contact": {"id": "edge-1"},
                                                    "data": {"amount": 1, "currency": "EUR"}}, pub)
    c.check("publishable key: another event type is refused naming type", st == 403 and err["error"]["field"] == "type",
            (st, err))
    st, _, err = post_json(port, "/api/v1/events", {"type": "nps_response", "contact": {"id": "edge-1"},
                                                    "data": {"score": 1}}, pub)
    c.check("publishable key: naming a contact without its identity hash is refused",
            st == 403 and err["error"]["field"] == "contact.id", (st, err))
    st, _, err = post_json(port, "/api/v1/contacts", {"id": "edge-9"}, pub)
    c.check("publishable key: an admin route is refused", st == 403, (st, err))

    # ---- a rate-limited flood: refused requests are counted, not stored ----
    flood_ok = flood_publishable(c, server, port, pub)

    # ---- the transport's counters ----
    st, _, text = server.request("GET", "/metrics", key=None)
    c.check("/metrics shows the transport's counters",
            st == 200 and 'closeloop_http_connections_total{outcome="timed_out"}' in text and
            "closeloop_http_connections " in text, str(text)[:300])


if __name__ == "__main__":
    main()
