"""A webhook receiver on loopback for the delivery tests (standard library only; import it).

    peer = HttpPeer().start()
    peer.script("/flaky", [500, 500])                           # fail twice, then 200
    peer.script("/busy", [{"status": 429, "headers": {"Retry-After": "3"}}])
    peer.script("/slow", [{"delay": 3.0}])                     # the first answer comes late
    peer.script("/gone", [], then=410)                          # 410 from now on
    peer.script("/cut", [{"reset": True}] * 3)                  # close the socket, no answer
    peer.stop(); ...; peer.start()                              # down: connection refused
    peer.requests("/flaky")  # [{path, headers (lower-case names), body (str), at, status}]

Every request is recorded when it arrives, before any scripted delay, so a request the sender
gave up on still counts as seen (a receiver that drops repeats by webhook-id is what makes
that safe). A step is a status code or a dict {status, headers, delay (seconds), reset};
steps apply to the first requests of a path after script() and `then` to the rest (200
unless given)."""
import http.server, json, socket, sys, threading, time

from harness import free_port


def _step(s):
    if s is None:
        return {"status": 200}
    if isinstance(s, int):
        return {"status": s}
    return dict({"status": 200}, **s)


class HttpPeer:
    def __init__(self, port=None):
        self.port = port or free_port()
        self.records = []
        self.scripts = {}  # path -> {"steps": [...], "then": step, "seen": n since script()}
        self.cond = threading.Condition()
        self.server = self.thread = None
        self.open_sockets = set()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    # ---- scripting and reading -----------------------------------------------------------

    def script(self, path, steps=(), then=None):
        with self.cond:
            self.scripts[path] = {"steps": [_step(s) for s in steps], "then": _step(then), "seen": 0}

    def requests(self, path=None):
        with self.cond:
            return [r for r in self.records if path is None or r["path"] == path]

    def wait_for(self, predicate, timeout):
        """Waits until predicate(records) is true; returns its last value."""
        deadline = time.time() + timeout
        with self.cond:
            while True:
                value = predicate(list(self.records))
                left = deadline - time.time()
                if value or left <= 0:
                    return value
                self.cond.wait(min(left, 0.2))

    def _next_step(self, path):
        with self.cond:
            sc = self.scripts.get(path)
            if not sc:
                return _step(None)
            sc["seen"] += 1
            n = sc["seen"]
            return sc["steps"][n - 1] if n <= len(sc["steps"]) else sc["then"]

    def _record(self, rec):
        with self.cond:
            self.records.append(rec)
            self.cond.notify_all()

    # ---- up and down -----------------------------------------------------------------------

    def start(self):
        peer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real receiver: the sender may reuse it

            def setup(self):
                super().setup()
                with peer.cond:
                    peer.open_sockets.add(self.connection)

            def finish(self):
                with peer.cond:
                    peer.open_sockets.discard(self.connection)
                try:
                    super().finish()
                except OSError:
                    pass

            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8", "replace")
                step = peer._next_step(self.path)
                rec = {"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body,
                       "at": time.time(), "status": None if step.get("reset") else step["status"]}
                peer._record(rec)
                if step.get("reset"):
                    # No answer at all: the connection is cut (RST), as by a crashed receiver.
                    self.close_connection = True
                    try:
                        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
                        self.connection.close()
                    except OSError:
                        pass
                    return
                if step.get("delay"):
                    time.sleep(step["delay"])
                reply = b"ok"
                try:
                    self.send_response(step["status"])
                    for k, v in (step.get("headers") or {}).items():
                        self.send_header(k, v)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(reply)))
                    self.end_headers()
                    self.wfile.write(reply)
                except OSError:
                    self.close_connection = True  # the sender gave up waiting

            do_PUT = do_POST

        class Server(http.server.ThreadingHTTPServer):
            allow_reuse_address = True
            daemon_threads = True
            block_on_close = False

            def handle_error(self, request, client_address):
                # A sender that hangs up (timeout, crash) is part of the tests, not an error.
                if not isinstance(sys.exc_info()[1], OSError):
                    super().handle_error(request, client_address)

        self.server = Server(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        """Down: stops listening (connection refused) and cuts the connections kept open."""
        if not self.server:
            return
        self.server.shutdown()
        self.server.server_close()
        with self.cond:
            conns = list(self.open_sockets)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.server = None


def json_body(rec):
    try:
        return json.loads(rec["body"])
    except ValueError:
        return None
