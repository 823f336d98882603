#!/usr/bin/python3
"""Makes tests/data/schema/v<N>.sql: a database written by the closeloop that released schema N,
dumped with the sqlite3 CLI. test_schema_dumps.cpp loads each dump, opens it with today's store
(which migrates it) and reads the data back.

    make_dump.py CLOSELOOP_BINARY OUT.sql

Build the binary from the commit that released the schema, in a scratch worktree:
    v1: 57de511 (the foundation: meta only)   v2: b7318a7   v3: 64cd49d   v4: 4f9b7dc
    v5: the server-builder branch's commit that added it (sessions, key ids, version statuses)
    v6: the delivery branch's commit that added it (outbox claims, endpoints, suppressions)
The data (fixed event times, so the test can name them): workspace "demo", contact "jana"
(with e-mail and tags), an NPS answer of 3, a purchase, a custom event, a voucher campaign
and a voucher, a task, RFM scores; from schema 3 on also a template, a scenario and the run
that the NPS answer started (waiting 90 days), with its task and outbox entry; from schema 5 on
also a draft saved twice ("drafty", versions 1 and 2), a browser session, and a second admin
key that is revoked; from schema 6 on also a webhook endpoint ("hooks").
"""
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

KEY = "cl_admin_schema_dump_key_000000000000"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    binary, out = sys.argv[1], sys.argv[2]
    data = tempfile.mkdtemp(prefix="closeloop-dump-")
    port = free_port()
    env = dict(os.environ, CLOSELOOP_BOOTSTRAP_KEY=KEY)
    # --allow-private-endpoints: schema 6's endpoint is on loopback (older binaries do not know it).
    flags = ["--allow-private-endpoints"] if "allow-private-endpoints" in subprocess.run(
        [binary, "serve", "--help"], capture_output=True, text=True).stdout else []
    server = subprocess.Popen([binary, "serve", "--data", data, "--port", str(port)] + flags, env=env)
    base = f"http://127.0.0.1:{port}"

    def call(method, path, body=None, ok=(200, 201, 202)):
        req = urllib.request.Request(base + path, method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                status, text = r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            status, text = e.code, e.read().decode()
        if status not in ok:
            raise SystemExit(f"{method} {path}: {status} {text}")
        return json.loads(text) if text else None

    for _ in range(100):
        try:
            urllib.request.urlopen(base + "/healthz", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    try:
        if schema_of(data) >= 2:  # schema 1 had no tables for data yet
            populate(call, with_runs=schema_of(data) >= 3)
        if schema_of(data) >= 5:
            populate_builder(call, binary, data)
        if schema_of(data) >= 6:
            call("POST", "/api/v1/endpoints", {"id": "hooks", "name": "Helpdesk", "kind": "generic",
                                               "url": "http://127.0.0.1:9/hook"})
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    db = os.path.join(data, "closeloop.db")
    version = schema_of(data)
    dump = subprocess.run(["sqlite3", db, ".dump"], check=True, capture_output=True, text=True).stdout
    with open(out, "w") as f:
        f.write(f"-- closeloop schema {version}, written by the closeloop that released it "
                "(tests/data/schema/make_dump.py)\n")
        f.write(dump)
        f.write(f"PRAGMA user_version = {version};\n")
    print(f"{out}: schema {version}")


def schema_of(data):
    db = os.path.join(data, "closeloop.db")
    return int(subprocess.run(["sqlite3", db, "PRAGMA user_version"], check=True, capture_output=True,
                              text=True).stdout.strip() or 0)


def populate(call, with_runs):
    call("POST", "/api/v1/voucher-campaigns", {"id": "sorry-10", "name": "Sorry, 10 EUR", "value": 10,
                                               "currency": "EUR", "valid_for": "P2M"})
    if with_runs:
        call("POST", "/api/v1/templates", {
            "id": "sorry", "name": "Sorry", "fallback_locale": "en", "from": "Care <care@example.com>",
            "locales": {"en": {"subject": "Sorry, {{contact.first_name}}", "html": "<p>We are sorry.</p>",
                                       "text": "We are sorry."}}})
        scenario = {
            "id": "detractors", "name": "Detractors get a call",
            "trigger": {"event": "nps_response", "when": "event.score < 7"},
            "start": "call",
            "nodes": [
                {"id": "call", "type": "action", "action": "create_task",
                 "params": {"assignee": "care_manager", "title": "Call {{contact.first_name}}"}, "next": "mail"},
                {"id": "mail", "type": "action", "action": "send_email", "params": {"template": "sorry"},
                 "next": "later"},
                {"id": "later", "type": "wait", "for": "P90D", "next": "check"},
                {"id": "check", "type": "action", "action": "create_task",
                 "params": {"assignee": "care_manager", "title": "Check on {{contact.first_name}}"}, "next": None},
            ],
        }
        call("POST", "/api/v1/scenarios", scenario)
        call("POST", "/api/v1/scenarios/detractors/activate")
    call("POST", "/api/v1/contacts", {"id": "jana", "email": "jana@example.com", "first_name": "Jana",
                                      "last_name": "Novak", "tags": ["vip-club"], "attributes": {"city": "Brno"}})
    call("POST", "/api/v1/events", {"events": [
        {"id": "buy-1", "type": "purchase", "contact": "jana", "time": "2026-11-02T09:00:00Z",
         "data": {"order_id": "o-1", "amount": 120.5, "currency": "EUR"}},
        {"id": "visit-1", "type": "page_visit", "contact": "jana", "time": "2026-11-03T09:00:00Z",
         "data": {"page": "/pricing"}},
        {"id": "nps-1", "type": "nps_response", "contact": "jana", "time": "2026-11-04T09:00:00Z",
         "data": {"score": 3, "comment": "slow delivery"}},
    ]})
    call("POST", "/api/v1/vouchers", {"campaign": "sorry-10", "contact": "jana"})
    call("POST", "/api/v1/tasks", {"role": "call_center_agent", "title": "Ring Jana", "contact": "jana"})
    call("POST", "/api/v1/rfm/recompute")
    if with_runs:
        for _ in range(100):  # the executor starts the run after the 202
            if call("GET", "/api/v1/runs?contact=jana")["runs"]:
                break
            time.sleep(0.1)


def populate_builder(call, binary, data):
    draft = {"id": "drafty", "name": "Drafty", "trigger": {"event": "nps_response"}, "start": "t",
             "nodes": [{"id": "t", "type": "action", "action": "add_tag", "params": {"tag": "x"}, "next": None}]}
    call("POST", "/api/v1/scenarios", draft)
    call("PUT", "/api/v1/scenarios/drafty", dict(draft, name="Drafty 2"))
    call("POST", "/api/v1/session", {"key": KEY})
    extra = "revoked-dump-key-0000000000000"
    subprocess.run([binary, "keys", "create", "--workspace", "demo", "--key", extra, "--data", data], check=True)
    listed = subprocess.run([binary, "keys", "list", "--workspace", "demo", "--data", data], check=True,
                            capture_output=True, text=True).stdout
    key_id = next(line.split()[0] for line in listed.splitlines()[1:] if line.split()[2] == extra[:14] + "...")
    subprocess.run([binary, "keys", "revoke", "--workspace", "demo", key_id, "--data", data], check=True)


if __name__ == "__main__":
    main()
