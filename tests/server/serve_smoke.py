#!/usr/bin/python3
"""`closeloop serve` as a newcomer runs it: starts on a fresh data folder, creates the
SQLite database, answers /healthz and the placeholder page, refuses a busy port with a
clear message, and stops cleanly on SIGTERM. Usage: serve_smoke.py PATH/TO/closeloop"""
import json, os, re, signal, socket, subprocess, sys, tempfile, time, urllib.request

closeloop = sys.argv[1]
passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"  ok   {name}")
    else:
        failed += 1
        print(f"  FAIL {name} {detail}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
        return r.status, r.headers.get("Content-Type"), r.read().decode()


def start(data, port):
    p = subprocess.Popen([closeloop, "serve", "--data", data, "--port", str(port)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for _ in range(100):
        try:
            get(port, "/healthz")
            return p
        except OSError:
            if p.poll() is not None:
                return p
            time.sleep(0.05)
    return p


with tempfile.TemporaryDirectory() as tmp:
    data = os.path.join(tmp, "data")
    port = free_port()
    server = start(data, port)
    check("server starts", server.poll() is None)

    status, ctype, body = get(port, "/healthz")
    health = json.loads(body)
    check("/healthz is 200 ok", status == 200 and health["status"] == "ok", body)
    check("/healthz is JSON", ctype.startswith("application/json"), ctype)
    check("the database exists in the data folder", os.path.exists(os.path.join(data, "closeloop.db")))
    check("migrations ran", health["schema_version"] >= 1, body)

    status, ctype, body = get(port, "/")
    check("/ serves a page", status == 200 and "closeloop" in body and ctype.startswith("text/html"))

    busy = subprocess.run([closeloop, "serve", "--data", os.path.join(tmp, "other"), "--port", str(port)],
                          capture_output=True, text=True, timeout=10)
    check("a busy port is a clear error", busy.returncode != 0 and "cannot listen" in busy.stderr,
          busy.stderr)
    check("... found before anything is created: no data folder, no key shown",
          not os.path.exists(os.path.join(tmp, "other")) and "cl_admin_" not in busy.stdout, busy.stdout)
    twice = subprocess.run([closeloop, "serve", "--data", data, "--port", str(free_port())],
                           capture_output=True, text=True, timeout=10)
    check("a second server on the same data folder is refused",
          twice.returncode != 0 and "in use by another closeloop" in twice.stderr, twice.stderr)

    # A burst of clients connecting at the same moment, each keeping its connection for a few
    # requests: every one is answered (more clients than worker threads wait, not fail).
    import threading
    burst, results = 300, []
    gate = threading.Barrier(burst)

    def burst_client():
        # Like a fleet of integrations: each keeps its connection and sends several requests.
        sock = socket.socket()
        sock.settimeout(10)
        ok = True
        try:
            gate.wait()
            sock.connect(("127.0.0.1", port))
            for _ in range(5):
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                reply = b""
                while b"\r\n\r\n" not in reply:
                    chunk = sock.recv(4096)
                    if not chunk:
                        raise OSError("closed")
                    reply += chunk
                head, _, rest = reply.partition(b"\r\n\r\n")
                length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
                while len(rest) < length:
                    chunk = sock.recv(4096)
                    if not chunk:
                        raise OSError("closed")
                    rest += chunk
                ok = ok and head.startswith(b"HTTP/1.1 200")
        except OSError:
            ok = False
        finally:
            sock.close()
        results.append(ok)

    threads = [threading.Thread(target=burst_client) for _ in range(burst)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check(f"{burst} clients connecting at once are all answered", results.count(True) == burst,
          f"{results.count(True)} of {burst}")

    bad = subprocess.run([closeloop, "serve", "--port", "0"], capture_output=True, text=True, timeout=10)
    check("a bad option is refused", bad.returncode != 0 and "--port" in bad.stderr, bad.stderr)

    server.send_signal(signal.SIGTERM)
    try:
        out, err = server.communicate(timeout=10)
        check("SIGTERM stops it with exit code 0", server.returncode == 0, err)
        check("it says it stopped", "stopped" in out, out)
    except subprocess.TimeoutExpired:
        server.kill()
        check("SIGTERM stops it", False, "still running after 10 s")

    # A second start on the same data folder finds the database already migrated.
    port2 = free_port()
    again = start(data, port2)
    status, _, body = get(port2, "/healthz")
    check("restart on the same data", status == 200 and json.loads(body)["status"] == "ok", body)
    again.send_signal(signal.SIGTERM)
    again.wait(timeout=10)

print(f"serve smoke: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
