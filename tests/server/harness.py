"""Shared by the server tests: start the real `closeloop serve` on a free loopback port, talk
to it over HTTP (standard library only), count checks. Run the tests with /usr/bin/python3."""
import http.client, json, os, re, signal, socket, subprocess, sys, time

KEY = "test-admin-key-0123456789abcdef"


class Checks:
    def __init__(self, name):
        self.name, self.passed, self.failed = name, 0, 0

    def check(self, what, ok, detail=""):
        if ok:
            self.passed += 1
            print(f"  ok   {what}")
        else:
            self.failed += 1
            print(f"  FAIL {what} {detail}"[:2000])
        return ok

    def finish(self):
        print(f"{self.name}: {self.passed} passed, {self.failed} failed")
        sys.exit(1 if self.failed else 0)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`closeloop serve` on a data folder; `start` waits for /healthz. A port given here is
    kept across restarts (links the server wrote, such as --public-url's, stay valid)."""

    def __init__(self, binary, data, key=KEY, extra=(), rfm_interval=0, port=None):
        self.binary, self.data, self.key, self.extra = binary, data, key, list(extra)
        self.rfm_interval = rfm_interval
        self.fixed_port, self.port, self.proc = port, None, None
        self.out = self.err = ""

    def start(self, env_key=True):
        self.port = self.fixed_port or free_port()
        env = dict(os.environ)
        if env_key:
            env["CLOSELOOP_BOOTSTRAP_KEY"] = self.key
        else:
            env.pop("CLOSELOOP_BOOTSTRAP_KEY", None)
        self.proc = subprocess.Popen([self.binary, "serve", "--data", self.data, "--port", str(self.port),
                                      "--rfm-interval", str(self.rfm_interval)] + self.extra,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        deadline = time.time() + 15
        while time.time() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                if self.request("GET", "/healthz", key=None)[0] == 200:
                    return True
            except OSError:
                pass
            time.sleep(0.05)
        return False

    def request(self, method, path, body=None, key="default", headers=None, timeout=30):
        """(status, headers, parsed JSON or text). body: dict/list (sent as JSON), str or bytes."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        h = dict(headers or {})
        if key == "default":
            key = self.key
        if key is not None:
            h["Authorization"] = f"Bearer {key}"
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
            h.setdefault("Content-Type", "application/json")
        if isinstance(body, str):
            body = body.encode()
        try:
            conn.request(method, path, body=body, headers=h)
            r = conn.getresponse()
            raw = r.read()
            ctype = r.getheader("Content-Type", "")
            data = raw.decode("utf-8", "replace")
            if ctype.startswith("application/json"):
                try:
                    data = json.loads(data)
                except ValueError:
                    pass
            return r.status, dict(r.getheaders()), data
        finally:
            conn.close()

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if not self.proc or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            self.out, self.err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.out, self.err = self.proc.communicate()
        return self.proc.returncode

    def kill(self):
        return self.stop(signal.SIGKILL)


def raw_exchange(port, request, timeout=10):
    """Sends raw bytes, returns the raw reply: headers and Content-Length bytes of body."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as raw:
        raw.sendall(request)
        reply = b""
        while True:
            part = raw.recv(65536)
            if not part:
                break
            reply += part
            head, sep, rest = reply.partition(b"\r\n\r\n")
            m = re.search(rb"Content-Length: (\d+)", head)
            if sep and m and len(rest) >= int(m.group(1)):
                break
    return reply


def is_error_json(body, status):
    """The documented error format: { "error": { "code", "message", "field" } }."""
    if not isinstance(body, dict) or set(body) != {"error"}:
        return False
    e = body["error"]
    return (isinstance(e, dict) and isinstance(e.get("code"), str) and e["code"] and
            isinstance(e.get("message"), str) and e["message"] and "field" in e and
            (e["field"] is None or isinstance(e["field"], str)))
