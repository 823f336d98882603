#!/usr/bin/python3
"""The server side of the browser builder, on the real binary: `closeloop keys create / list /
revoke` while the server runs (the new key works at once, revoking it ends its sessions), a
publishable key cannot sign in, the README's walk-through in either order (a bootstrap key given
on a later start is added), and the builder app served at / (MIME types, gzip, ETag / 304,
security headers; or the page saying it is not built).
Usage: builder_test.py PATH/TO/closeloop"""
import gzip, json, os, re, subprocess, sys, tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import KEY, Checks, Server

closeloop = sys.argv[1]
t = Checks("builder test")


def keys(*args, data):
    return subprocess.run([closeloop, "keys", *args, "--data", data], capture_output=True, text=True, timeout=60)


def sign_in(s, key):
    st, headers, body = s.request("POST", "/api/v1/session", {"key": key}, key=None)
    cookie = headers.get("Set-Cookie", "").split(";")[0]
    return st, cookie, body.get("csrf_token") if isinstance(body, dict) else None, body


with tempfile.TemporaryDirectory() as tmp:
    data = os.path.join(tmp, "data")
    s = Server(closeloop, data)
    t.check("server starts", s.start())

    # ---- keys, while the server runs --------------------------------------------------------
    r = keys("create", "--workspace", "demo", data=data)
    new_key = r.stdout.strip()
    t.check("keys create prints one new admin key on stdout (and says it is shown once on stderr)",
            r.returncode == 0 and re.fullmatch(r"cl_admin_[0-9a-f]{64}", new_key) and "shown once" in r.stderr,
            (r.returncode, r.stdout, r.stderr))
    st, _, _ = s.request("GET", "/api/v1/scenarios", key=new_key)
    t.check("... and the running server takes it at once", st == 200, st)
    r = keys("list", "--workspace", "demo", data=data)
    rows = [line.split() for line in r.stdout.splitlines()[1:]]
    new_id = next((row[0] for row in rows if row[2].startswith(new_key[:14])), None)
    t.check("keys list shows id, kind, prefix, created, revoked (never a key)",
            r.returncode == 0 and r.stdout.splitlines()[0].split() == ["id", "kind", "prefix", "created", "revoked"]
            and len(rows) == 3 and new_id and new_key not in r.stdout and KEY not in r.stdout, r.stdout)
    st, cookie, csrf, body = sign_in(s, new_key)
    t.check("sign in with the new key: a session cookie", st == 200 and cookie.startswith("closeloop_session=") and csrf, body)
    st, _, body = s.request("GET", "/api/v1/session", key=None, headers={"Cookie": cookie})
    t.check("... GET /api/v1/session says who", st == 200 and body["workspace"] == "demo", body)
    st, _, body = s.request("POST", "/api/v1/scenarios", {"id": "from-browser", "name": "B"}, key=None,
                            headers={"Cookie": cookie, "X-CSRF-Token": csrf})
    t.check("... a change with the cookie and its CSRF token", st == 201, body)
    st, _, body = s.request("POST", "/api/v1/scenarios", {"id": "forged", "name": "B"}, key=None, headers={"Cookie": cookie})
    t.check("... without the token: 403 csrf", st == 403 and body["error"]["code"] == "csrf", body)

    r = keys("revoke", "--workspace", "demo", new_id, data=data)
    t.check("keys revoke, while the server runs", r.returncode == 0 and "revoked" in r.stderr, (r.returncode, r.stderr))
    st, _, body = s.request("GET", "/api/v1/scenarios", key=None, headers={"Cookie": cookie})
    t.check("... its session has ended", st == 401, (st, body))
    st, _, _ = s.request("GET", "/api/v1/scenarios", key=new_key)
    t.check("... and the key no longer works", st == 401, st)
    r = keys("list", "--workspace", "demo", data=data)
    t.check("... list shows when it was revoked",
            any(line.startswith(new_id) and line.split()[-1] != "-" for line in r.stdout.splitlines()), r.stdout)
    r = keys("revoke", "--workspace", "demo", new_id, data=data)
    t.check("revoking it again: exit 1, said why", r.returncode == 1 and "no key" in r.stderr, r.stderr)
    st, _, _ = s.request("GET", "/api/v1/scenarios")
    t.check("the other admin key still works", st == 200, st)

    r = keys("create", "--workspace", "demo", "--kind", "publishable", data=data)
    pub = r.stdout.strip()
    t.check("keys create --kind publishable", r.returncode == 0 and pub.startswith("cl_pub_"), r.stdout)
    st, cookie, _, body = sign_in(s, pub)
    t.check("a publishable key cannot sign in: 403, no cookie", st == 403 and not cookie, body)
    st, cookie, _, body = sign_in(s, "cl_admin_" + "0" * 64)
    t.check("a wrong key: 401 saying how to get a new one", st == 401 and not cookie and "keys create" in body["error"]["message"], body)

    given = "operator-chosen-key-0123456789"
    r = keys("create", "--workspace", "demo", "--key", given, data=data)
    t.check("keys create --key adds the given key", r.returncode == 0 and r.stdout == "", (r.stdout, r.stderr))
    st, _, _ = s.request("GET", "/api/v1/scenarios", key=given)
    t.check("... which works", st == 200, st)
    r = keys("create", "--workspace", "demo", "--key", "too-short", data=data)
    t.check("... a short one is refused", r.returncode == 1 and "at least 24" in r.stderr, r.stderr)
    r = keys("create", "--workspace", "demo", "--key", given, data=data)
    t.check("... so is one that exists", r.returncode == 1 and "exists" in r.stderr, r.stderr)
    r = keys("create", "--workspace", "nope", data=data)
    t.check("an unknown workspace is named", r.returncode == 1 and '"nope"' in r.stderr, r.stderr)

    # ---- the builder app at / ----------------------------------------------------------------
    st, headers, page = s.request("GET", "/", key=None)
    csp = headers.get("Content-Security-Policy", "")
    t.check("/ is a page with a Content-Security-Policy (self, wasm-unsafe-eval, no framing) and nosniff",
            st == 200 and headers.get("Content-Type", "").startswith("text/html") and "'wasm-unsafe-eval'" in csp
            and "frame-ancestors 'none'" in csp and headers.get("X-Content-Type-Options") == "nosniff", (st, headers))
    if "not built" in page:
        t.check("(built without the wasm preset) the page says how to build the builder",
                "cmake --build --preset wasm" in page, page[:300])
    else:
        names = re.findall(r'src="([^"/]+)"', page) or ["builder.js"]
        st, headers, _ = s.request("GET", "/builder.wasm", key=None, headers={"Accept-Encoding": "identity"})
        raw_wasm = None
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
        conn.request("GET", "/builder.wasm", headers={"Accept-Encoding": "identity"})
        resp = conn.getresponse()
        raw_wasm, wasm_type = resp.read(), resp.getheader("Content-Type")
        conn.request("GET", "/builder.wasm", headers={"Accept-Encoding": "gzip, deflate, br"})
        resp = conn.getresponse()
        gz_wasm, enc, etag = resp.read(), resp.getheader("Content-Encoding"), resp.getheader("ETag")
        conn.request("GET", "/builder.wasm", headers={"If-None-Match": etag or "x"})
        resp = conn.getresponse()
        not_modified = resp.status
        resp.read()
        conn.close()
        t.check("builder.wasm is application/wasm, starting with the wasm magic",
                wasm_type == "application/wasm" and raw_wasm[:4] == b"\0asm", (wasm_type, raw_wasm[:8]))
        t.check("... gzipped when accepted (once: it unzips to the same bytes)",
                enc == "gzip" and gzip.decompress(gz_wasm) == raw_wasm and len(gz_wasm) < len(raw_wasm), enc)
        t.check("... 304 for its ETag", not_modified == 304, not_modified)
        st, headers, _ = s.request("GET", "/builder.js", key=None)
        t.check("builder.js is text/javascript", st == 200 and headers.get("Content-Type", "").startswith("text/javascript"), headers)
    st, _, body = s.request("GET", "/no-such-file.js", key=None)
    t.check("an unknown file: 404 in the error format", st == 404 and body["error"]["code"] == "not_found", body)
    s.stop()

    # ---- the README in either order ----------------------------------------------------------
    data2 = os.path.join(tmp, "data2")
    first = Server(closeloop, data2, key="readme-walkthrough-key-0123456789")
    t.check("a first start without CLOSELOOP_BOOTSTRAP_KEY", first.start(env_key=False))
    first.stop()
    t.check("... prints a new admin key once", "cl_admin_" in first.out, first.out)
    again = Server(closeloop, data2, key="readme-walkthrough-key-0123456789")
    t.check("a later start with CLOSELOOP_BOOTSTRAP_KEY", again.start())
    st, _, _ = again.request("GET", "/api/v1/scenarios")
    again.stop()
    t.check("... adds it as an admin key of demo and says so on stderr",
            st == 200 and "CLOSELOOP_BOOTSTRAP_KEY added" in again.err, (st, again.err))
    third = Server(closeloop, data2, key="readme-walkthrough-key-0123456789")
    t.check("a third start with the same key", third.start())
    third.stop()
    t.check("... adds nothing and says nothing", "CLOSELOOP_BOOTSTRAP_KEY" not in third.err, third.err)

t.finish()
