#!/usr/bin/python3
"""The command line as a newcomer meets it: an unknown command is named with the real ones
listed, --version, `validate` saying a scenario is valid, JSON nested too deep in a file, and
`serve --config FILE` (TOML or INI; the command line wins over the file).
Usage: cli_test.py PATH/TO/closeloop"""
import json, os, re, signal, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import KEY, Checks, free_port

closeloop = sys.argv[1]
root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
t = Checks("cli test")


def run(*args):
    return subprocess.run([closeloop, *args], capture_output=True, text=True, timeout=30)


# ---- commands and --version ------------------------------------------------------------------
r = run("import", "customers.csv")
t.check("an unknown command is named, with the real ones listed",
        r.returncode != 0 and "unknown command 'import'" in r.stderr
        and "serve, workspace, keys, simulate, validate" in r.stderr and "subcommand is required" not in r.stderr, r.stderr)
r = run("workspace", "list")
t.check("an unknown command under workspace too", r.returncode != 0 and "unknown command 'list'" in r.stderr
        and "create" in r.stderr, r.stderr)
r = run()
t.check("no command at all still asks for one", r.returncode != 0 and "subcommand" in r.stderr, r.stderr)
version = re.search(r"project\(closeloop VERSION ([0-9.]+)", open(os.path.join(root, "CMakeLists.txt")).read()).group(1)
r = run("--version")
t.check(f"--version prints closeloop {version}", r.returncode == 0 and r.stdout.strip() == f"closeloop {version}",
        (r.returncode, r.stdout, r.stderr))
r = run("validate", "--help")
t.check("a subcommand's --help still works", r.returncode == 0 and "scenario" in r.stdout, r.stdout)

with tempfile.TemporaryDirectory() as tmp:
    # ---- validate --------------------------------------------------------------------------
    good = os.path.join(root, "assets", "scenarios", "crm-detractor-care.json")
    r = run("validate", good)
    t.check("validate says a valid scenario is valid (stderr), stdout stays empty, exit 0",
            r.returncode == 0 and r.stdout == "" and "is valid" in r.stderr, (r.returncode, r.stdout, r.stderr))
    bad = json.load(open(good))
    bad["start"] = "nowhere"
    bad_path = os.path.join(tmp, "bad.json")
    json.dump(bad, open(bad_path, "w"))
    r = run("validate", bad_path)
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    t.check("an invalid one: exit 1, the errors as JSON lines on stdout, their count on stderr",
            r.returncode == 1 and lines and all("message" in e for e in lines)
            and f"has {len(lines)} error" in r.stderr, (r.returncode, r.stdout, r.stderr))
    deep = os.path.join(tmp, "deep.json")
    open(deep, "w").write('{"id": "d", "ui": {"layout": ' + "[" * 60000 + "]" * 60000 + "}}")
    r = run("validate", deep)
    t.check("a file nested 60,000 levels: refused naming the field, no crash",
            r.returncode == 2 and "ui.layout: is nested deeper than 64 levels" in r.stderr, (r.returncode, r.stderr))

    # ---- simulate --templates ----------------------------------------------------------------
    a = lambda *p: os.path.join(root, "assets", *p)
    base = ["simulate", "--scenario", a("scenarios", "nps-recovery.json"), "--events", a("samples", "events.jsonl"),
            "--contacts", a("samples", "contacts.jsonl"), "--history", a("samples", "history.jsonl"),
            "--campaigns", a("campaigns.json"), "--fast-forward"]
    plain = run(*base)
    with_mail = run(*base, "--templates", a("templates"))
    lines = [json.loads(line) for line in with_mail.stdout.splitlines()]
    emails = [m for line in lines for m in line.get("emails", [])]
    sends = [e for line in lines for e in line["effects"] if e["kind"] == "send_email"]
    t.check("simulate --templates: one rendered e-mail per send_email effect, subject and HTML filled",
            with_mail.returncode == 0 and sends and len(emails) == len(sends)
            and all(m.get("subject") and "<" in m.get("html", "") and m["dir"] == "ltr" for m in emails),
            (with_mail.returncode, with_mail.stderr, emails[:1]))
    t.check("simulate --templates: a Czech contact's e-mail is rendered in Czech",
            any(m["locale"] == "cs" for m in emails), [m.get("locale") for m in emails])
    stripped = [{k: v for k, v in line.items() if k != "emails"} for line in lines]
    t.check("simulate --templates changes nothing else in the lines",
            plain.returncode == 0 and stripped == [json.loads(x) for x in plain.stdout.splitlines()], plain.stderr)

    # ---- serve --config ----------------------------------------------------------------------
    def serve(args, data):
        env = dict(os.environ, CLOSELOOP_BOOTSTRAP_KEY=KEY)
        return subprocess.Popen([closeloop, "serve", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=env)

    def serving(proc, port):
        """Waits for the 'serving' line; returns (serving on port?, output)."""
        import http.client
        for _ in range(200):
            if proc.poll() is not None:
                break
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/healthz")
                ok = conn.getresponse().status == 200
                conn.close()
                if ok:
                    break
            except OSError:
                time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
        return f"serving http://127.0.0.1:{port}/" in out and proc.returncode == 0, out + err

    port = free_port()
    data = os.path.join(tmp, "from-config")
    toml = os.path.join(tmp, "closeloop.toml")
    open(toml, "w").write(f'# closeloop serve settings\ndata = "{data}"\nport = {port}\nrfm-interval = 0\n')
    ok, out = serving(serve(["--config", toml], data), port)
    t.check("--config FILE (TOML): port and data folder from the file", ok and os.path.exists(os.path.join(data, "closeloop.db")), out)

    other = free_port()
    ok, out = serving(serve(["--config", toml, "--port", str(other)], data), other)
    t.check("a value on the command line wins over the file's", ok, out)

    ini = os.path.join(tmp, "closeloop.ini")
    port = free_port()
    open(ini, "w").write(f"; INI works too, and a [serve] section\n[serve]\ndata={data}\nport={port}\nrfm-interval=0\n")
    ok, out = serving(serve(["--config", ini], data), port)
    t.check("--config FILE (INI, with a [serve] section)", ok, out)

    typo = os.path.join(tmp, "typo.toml")
    open(typo, "w").write(f'data = "{data}"\nport = {free_port()}\nprot = 8080\n')
    r = run("serve", "--config", typo)
    t.check("an unknown setting in the file is refused, named", r.returncode != 0 and "prot" in r.stderr, r.stderr)
    r = run("serve", "--config", os.path.join(tmp, "missing.toml"))
    t.check("a missing config file is refused", r.returncode != 0 and "missing.toml" in r.stderr, r.stderr)

    # ---- rate limits: flags and config keys ----------------------------------------------------
    r = run("serve", "--data", os.path.join(tmp, "rate"), "--port", str(free_port()), "--rate-answers", "10/d")
    t.check("a rate that is not N/s, N/m or N/h is refused at start, naming the flag",
            r.returncode == 2 and "--rate-answers" in r.stderr and "10/d" in r.stderr, r.stderr)
    limited = os.path.join(tmp, "rate.toml")
    port = free_port()
    open(limited, "w").write(f'data = "{data}"\nport = {port}\nrfm-interval = 0\nrate-api = "2/m,2"\n')
    proc = serve(["--config", limited], data)
    import http.client
    statuses, retry = [], None
    for _ in range(200):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                break
        except OSError:
            time.sleep(0.05)
    for _ in range(3):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/api/v1/tasks", headers={"Authorization": f"Bearer {KEY}"})
        resp = conn.getresponse()
        resp.read()
        statuses.append(resp.status)
        retry = resp.getheader("Retry-After")
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=20)
    t.check("rate-api from the config file: the third request in a minute is a 429 with Retry-After",
            statuses == [200, 200, 429] and retry is not None and 1 <= int(retry) <= 30, (statuses, retry))

t.finish()
