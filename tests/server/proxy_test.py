"""closeloop behind a reverse proxy (Debian's nginx, the set-up the README documents): the
client address comes from X-Forwarded-For only when the connection is from a trusted proxy
(--trusted-proxy), so per-address limits see each client behind the proxy, and a client that
writes its own X-Forwarded-For, directly or through the proxy, gains nothing.
The observable is the sign-in rate limit, which is per client address.
Usage: proxy_test.py path/to/closeloop"""
import http.client, json, os, shutil, signal, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Checks, Server, free_port

# The configuration the README shows, with test paths: the proxy replaces X-Forwarded-For with
# the address it sees, so nothing a client sends survives it.
NGINX_CONF = """
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
{user}
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    client_max_body_size 1m;
    client_header_timeout 10s;
    client_body_timeout 30s;
    keepalive_timeout 30s;
    upstream closeloop {{
        server 127.0.0.1:{upstream};
        keepalive 16;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://closeloop;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto $scheme;
        }}
    }}
}}
"""


def sign_in(port, key, source, forwarded=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
    headers = {"Content-Type": "application/json"}
    if forwarded:
        headers["X-Forwarded-For"] = forwarded
    try:
        conn.request("POST", "/api/v1/session", body=json.dumps({"key": key}), headers=headers)
        r = conn.getresponse()
        r.read()
        return r.status, r.getheader("Retry-After")
    finally:
        conn.close()


def get(port, path, source="127.0.0.1"):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def main():
    binary = sys.argv[1]
    c = Checks("proxy_test")
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not c.check("nginx is installed (ci/setup.sh installs nginx-light)", os.path.exists(nginx)):
        c.finish()
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(binary, os.path.join(tmp, "data"),
                        extra=["--trusted-proxy", "127.0.0.1", "--rate-signin", "3/m,3"])
        if not c.check("closeloop starts with --trusted-proxy", server.start(), server.err):
            c.finish()
        port = free_port()
        conf = os.path.join(tmp, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(tmp=tmp, port=port, upstream=server.port,
                                      user="user root;" if os.geteuid() == 0 else ""))
        proxy = subprocess.Popen([nginx, "-c", conf, "-p", tmp], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            up = False
            for _ in range(100):
                try:
                    up = get(port, "/healthz")[0] == 200
                    if up:
                        break
                except OSError:
                    time.sleep(0.05)
            if not c.check("nginx answers /healthz from closeloop", up,
                           proxy.stderr.read1().decode() if proxy.poll() is not None else ""):
                return
            run(c, server, port)
        finally:
            proxy.send_signal(signal.SIGQUIT)
            try:
                proxy.wait(10)
            except subprocess.TimeoutExpired:
                proxy.kill()
            server.stop()
    c.finish()


def run(c, server, port):
    wrong = "not-a-key-" + "x" * 20
    # Through the proxy, client A (127.0.0.5) uses up its 3 sign-in attempts.
    got = [sign_in(port, wrong, "127.0.0.5")[0] for _ in range(3)]
    c.check("through nginx: client A's first 3 wrong sign-ins are 401", got == [401] * 3, got)
    st, retry = sign_in(port, wrong, "127.0.0.5")
    c.check("through nginx: client A's 4th is 429 with Retry-After", st == 429 and retry and int(retry) >= 1,
            (st, retry))
    # Client B behind the same proxy is its own address: not limited by A.
    st, _ = sign_in(port, wrong, "127.0.0.6")
    c.check("through nginx: client B (another address behind the proxy) is not limited by A", st == 401, st)
    # A forged X-Forwarded-For through the proxy is replaced by the proxy: A stays limited.
    st, _ = sign_in(port, wrong, "127.0.0.5", forwarded="203.0.113.9")
    c.check("through nginx: client A's own X-Forwarded-For does not free it", st == 429, st)
    # Directly (not a trusted proxy), X-Forwarded-For is ignored: one address, one bucket.
    got = [sign_in(server.port, wrong, "127.0.0.7", forwarded=f"198.51.100.{i}")[0] for i in range(5)]
    c.check("directly: X-Forwarded-For from an untrusted client is ignored (the 4th is 429)",
            got[:3] == [401] * 3 and got[3:] == [429, 429], got)
    # Ordinary traffic passes through: an answer, and the builder's page.
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("POST", "/api/v1/events",
                 body=json.dumps({"id": "via-proxy", "type": "nps_response", "contact": {"id": "p-1"},
                                  "data": {"score": 8}}),
                 headers={"Authorization": f"Bearer {server.key}", "Content-Type": "application/json"})
    r = conn.getresponse()
    r.read()
    conn.close()
    c.check("through nginx: an answer posted with the admin key is 202", r.status == 202, r.status)
    st, body = get(port, "/")
    c.check("through nginx: the builder page is served", st == 200 and b"<" in body, st)


if __name__ == "__main__":
    main()
