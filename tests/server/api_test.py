#!/usr/bin/python3
"""The HTTP API v1 of the real binary, end to end: keys, events, contacts (card, export,
erasure), voucher campaigns and vouchers, tasks, outbox, RFM, health, metrics, OpenAPI, and
workspace isolation. Usage: api_test.py PATH/TO/closeloop"""
import json, os, re, socket, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Checks, Server, is_error_json, raw_exchange

closeloop = sys.argv[1]
t = Checks("api test")


def nps(eid, contact, score, time_=None, **data):
    e = {"id": eid, "type": "nps_response", "contact": contact, "data": {"score": score, **data}}
    if time_:
        e["time"] = time_
    return e


with tempfile.TemporaryDirectory() as tmp:
    # ---- keys: shown once, stored hashed ---------------------------------------------------
    plain = Server(closeloop, os.path.join(tmp, "plain"))
    t.check("a fresh data folder starts", plain.start(env_key=False))
    plain.stop()
    keys = re.findall(r"cl_admin_[0-9a-f]{64}", plain.out)
    pub = re.findall(r"cl_pub_[0-9a-f]{64}", plain.out)
    t.check("first start prints an admin key and a publishable key", len(keys) == 1 and len(pub) == 1, plain.out)
    if keys:
        plain.key = keys[0]
        plain.start(env_key=False)
        status, _, _ = plain.request("GET", "/api/v1/events")
        t.check("the printed key works after a restart", status == 200)
        plain.stop()
        t.check("the key is not printed again", "cl_admin_" not in plain.out, plain.out)
        db = open(os.path.join(tmp, "plain", "closeloop.db"), "rb").read()
        wal = os.path.join(tmp, "plain", "closeloop.db-wal")
        if os.path.exists(wal):
            db += open(wal, "rb").read()
        t.check("the key is not in the database, only its hash", keys[0].encode() not in db)

    s = Server(closeloop, os.path.join(tmp, "data"))
    t.check("server starts with CLOSELOOP_BOOTSTRAP_KEY", s.start())

    # ---- events ----------------------------------------------------------------------------
    st, _, body = s.request("POST", "/api/v1/events", nps("e1", {"id": "c-42", "email": "jana@example.cz", "first_name": "Jana"},
                                                          4, "2026-11-01T10:00:00Z", comment="Doprava trvala 3 týdny."))
    t.check("one event: 202 {accepted: 1, duplicates: 0}", st == 202 and body == {"accepted": 1, "duplicates": 0}, body)
    st, _, body = s.request("POST", "/api/v1/events", nps("e1", "c-42", 4))
    t.check("the same id again: a duplicate", st == 202 and body == {"accepted": 0, "duplicates": 1}, body)
    batch = {"events": [nps("e2", "c-42", 9, "2026-11-10T10:00:00Z"),
                        {"id": "p1", "type": "purchase", "time": "2026-11-05T10:00:00Z", "contact": "c-42",
                         "data": {"order_id": "o-1", "amount": 1299.5, "currency": "CZK"}},
                        {"type": "page_view", "time": "2026-11-06T10:00:00Z", "contact": "c-7", "data": {"url": "/"}},
                        nps("e2", "c-42", 9)]}
    st, _, body = s.request("POST", "/api/v1/events", batch)
    t.check("a batch: 202 with duplicates inside it counted", st == 202 and body == {"accepted": 3, "duplicates": 1}, body)
    st, _, body = s.request("POST", "/api/v1/events", {"events": [nps(f"bulk-{i}", f"b-{i % 13}", i % 11,
                                                                      f"2026-10-{1 + i % 28:02d}T08:00:00Z") for i in range(1000)]})
    t.check("a batch of 1000", st == 202 and body["accepted"] == 1000, body)

    st, _, body = s.request("GET", "/api/v1/events?contact=c-42")
    ids = [e["id"] for e in body.get("events", [])] if isinstance(body, dict) else []
    t.check("GET events?contact=: newest first", st == 200 and ids == ["e2", "p1", "e1"], body)
    e1 = body["events"][-1] if ids else {}
    t.check("a stored event keeps its fields and gets received_at, processed_at",
            e1.get("data", {}).get("comment") == "Doprava trvala 3 týdny." and e1.get("time") == "2026-11-01T10:00:00Z"
            and "received_at" in e1 and "processed_at" in e1 and e1["contact"].get("email") == "jana@example.cz", e1)
    st, _, body = s.request("GET", "/api/v1/events?type=page_view")
    t.check("an event without id got one", st == 200 and len(body["events"]) == 1 and body["events"][0]["id"].startswith("ev_"), body)
    seen, cursor, pages = [], None, 0
    while pages < 20:
        st, _, body = s.request("GET", "/api/v1/events?limit=300" + (f"&cursor={cursor}" if cursor else ""))
        if st != 200:
            break
        seen += [e["id"] for e in body["events"]]
        pages += 1
        cursor = body["next_cursor"]
        if not cursor:
            break
    t.check("paging with next_cursor returns every event once", len(seen) == 1004 and len(set(seen)) == 1004, (len(seen), pages))
    st, _, body = s.request("GET", "/api/v1/events?from=2026-11-01T00:00:00Z&to=2026-11-06T00:00:00Z")
    t.check("from (inclusive) and to (exclusive)", st == 200 and [e["id"] for e in body["events"]] == ["p1", "e1"], body)

    # ---- contacts: upsert, card, export, erasure --------------------------------------------
    st, _, body = s.request("POST", "/api/v1/contacts", {"id": "c-42", "owner": "petr@brand.cz", "vip": True,
                                                         "tags": ["newsletter"], "attributes": {"branch": "Brno"}})
    t.check("upsert a contact", st == 200 and body.get("email") == "jana@example.cz" and body.get("vip") is True, body)
    st, _, card = s.request("GET", "/api/v1/contacts/c-42")
    t.check("the card: contact, NPS last and previous, timeline",
            st == 200 and card["first_name"] == "Jana" and card["nps"]["last"] == 9 and card["nps"]["previous"] == 4
            and card["nps"]["change"] == 5 and card["csat"] is None and len(card["timeline"]) == 3
            and card["attributes"] == {"branch": "Brno"}, card)

    # ---- RFM ---------------------------------------------------------------------------------
    purchases = [{"id": f"buy-{i}", "type": "purchase", "contact": f"r-{i % 20}", "time": f"2026-03-{1 + i % 28:02d}T12:00:00Z",
                  "data": {"order_id": f"o{i}", "amount": 10 + i, "currency": "EUR"}} for i in range(100)]
    s.request("POST", "/api/v1/events", {"events": purchases})
    st, _, body = s.request("POST", "/api/v1/rfm/recompute")
    t.check("RFM recompute as of now (POST without a body)", st == 200 and body["window_days"] == 365, body)
    st, _, body = s.request("POST", "/api/v1/rfm/recompute", {"as_of": "2026-12-01T00:00:00Z"})
    t.check("RFM recompute as of a given time", st == 200 and body["scored"] == 21 and sum(body["segments"].values()) == 21, body)
    st, _, card = s.request("GET", "/api/v1/contacts/r-19")
    t.check("the card shows r, f, m and the segment", st == 200 and isinstance(card.get("rfm"), dict)
            and {"r", "f", "m", "segment"} <= set(card["rfm"]), card.get("rfm"))
    st, _, body = s.request("POST", "/api/v1/rfm/recompute", {"as_of": "2026-04-01T00:00:00Z", "window_days": 10})
    t.check("RFM with a window from the body", st == 200 and body["window_days"] == 10 and 0 < body["scored"] < 20, body)
    st, _, body = s.request("POST", "/api/v1/rfm/recompute", {"as_of": "2026-04-01T00:00:00Z"})
    t.check("the window is kept for later computations", st == 200 and body["window_days"] == 10, body)
    st, _, body = s.request("POST", "/api/v1/rfm/recompute", {"as_of": "2026-12-01T00:00:00Z", "window_days": 365})
    t.check("... until changed again", st == 200 and body["scored"] == 21, body)

    # ---- voucher campaigns and vouchers -------------------------------------------------------
    camp = {"id": "nps-apology-20", "name": "NPS apology, 20 EUR", "value": 20, "currency": "EUR", "valid_for": "P2M",
            "scope": {"brands": [], "product_groups": [], "products": []}}
    st, _, body = s.request("POST", "/api/v1/voucher-campaigns", camp)
    t.check("create a voucher campaign: 201", st == 201 and body["id"] == "nps-apology-20", body)
    st, _, body = s.request("POST", "/api/v1/voucher-campaigns", dict(camp, name="NPS apology"))
    t.check("save it again: 200, replaced", st == 200 and body["name"] == "NPS apology", body)
    st, _, body = s.request("GET", "/api/v1/voucher-campaigns")
    t.check("list campaigns", st == 200 and [c["id"] for c in body["campaigns"]] == ["nps-apology-20"], body)
    st, _, body = s.request("GET", "/api/v1/voucher-campaigns/nps-apology-20")
    t.check("read one campaign", st == 200 and body["valid_for"] == "P2M", body)
    st, _, v = s.request("POST", "/api/v1/vouchers", {"campaign": "nps-apology-20", "contact": "c-42", "key": "manual-1"})
    t.check("assign a voucher: 201 with code and expiry", st == 201 and re.fullmatch(r"[0-9A-Z]{4}(-[0-9A-Z]{4}){3}", v.get("code", ""))
            and v["status"] == "active" and v["expires_at"], v)
    st, _, again = s.request("POST", "/api/v1/vouchers", {"campaign": "nps-apology-20", "contact": "c-42", "key": "manual-1"})
    t.check("the same key again: 200, the same voucher", st == 200 and again.get("code") == v.get("code"), again)
    st, _, body = s.request("GET", "/api/v1/vouchers?contact=c-42")
    t.check("GET vouchers?contact=", st == 200 and [x["code"] for x in body["vouchers"]] == [v["code"]], body)
    st, _, body = s.request("POST", f"/api/v1/vouchers/{v['code']}/redeem")
    t.check("redeem: 200", st == 200 and body["redeemed"] is True and body["status"] == "redeemed", body)
    st, _, body = s.request("POST", f"/api/v1/vouchers/{v['code']}/redeem")
    t.check("redeem again: 409 already_redeemed", st == 409 and is_error_json(body, st) and body["error"]["code"] == "already_redeemed", body)
    st, _, card = s.request("GET", "/api/v1/contacts/c-42")
    types = [e["type"] for e in card["timeline"]]
    t.check("voucher_assigned and voucher_redeemed are on the timeline", "voucher_assigned" in types and "voucher_redeemed" in types, types)
    t.check("the card lists the voucher", [x["code"] for x in card["vouchers"]] == [v["code"]], card["vouchers"])

    # ---- tasks and outbox ------------------------------------------------------------------
    st, _, task = s.request("POST", "/api/v1/tasks", {"title": "Call Jana", "role": "call_center_agent", "contact": "c-42",
                                                      "message": "NPS 4", "due": "P1D"})
    t.check("create a task: 201", st == 201 and task["status"] == "open" and task["due_at"], task)
    st, _, body = s.request("GET", "/api/v1/tasks?role=call_center_agent&status=open")
    t.check("the role's inbox", st == 200 and [x["id"] for x in body["tasks"]] == [task["id"]], body)
    # curl -X POST sends no Content-Length: the answer must not wait for the connection to close.
    started = time.time()
    reply = raw_exchange(s.port, f"POST /api/v1/tasks/{task['id']}/done HTTP/1.1\r\nHost: x\r\n"
                                 f"Authorization: Bearer {s.key}\r\n\r\n".encode()).decode()
    t.check("POST .../done without a body or Content-Length: answered at once",
            reply.startswith("HTTP/1.1 200") and time.time() - started < 2 and '"status":"done"' in reply, reply[:300])
    st, _, body = s.request("POST", f"/api/v1/tasks/{task['id']}/done")
    t.check("done again: 200, unchanged", st == 200 and body["status"] == "done", body)
    st, _, body = s.request("GET", "/api/v1/tasks?status=done")
    t.check("GET tasks?status=done", st == 200 and len(body["tasks"]) == 1, body)
    st, _, body = s.request("GET", "/api/v1/outbox?status=pending&kind=send_email")
    t.check("GET outbox (empty until scenarios run)", st == 200 and body == {"outbox": [], "next_cursor": None}, body)

    # ---- export and erasure -------------------------------------------------------------------
    st, headers, x = s.request("GET", "/api/v1/contacts/c-42/export")
    t.check("export: contact, events, responses, vouchers, tasks",
            st == 200 and x["contact"]["id"] == "c-42" and len(x["events"]) == 5 and len(x["responses"]) == 2
            and len(x["vouchers"]) == 1 and len(x["tasks"]) == 1 and "outbox" in x, {k: len(v) if isinstance(v, list) else v for k, v in x.items()})
    st, _, body = s.request("DELETE", "/api/v1/contacts/c-42")
    t.check("erase: 200 with what went", st == 200 and body["erased"]["events"] == 5 and body["erased"]["responses"] == 2
            and body["erased"]["vouchers"] == 1 and body["erased"]["tasks"] == 1 and body["erased"]["purchases"] == 1, body)
    for path in ["/api/v1/contacts/c-42", "/api/v1/contacts/c-42/export"]:
        st, _, body = s.request("GET", path)
        t.check(f"after erasure GET {path}: 404", st == 404 and is_error_json(body, st), body)
    st, _, body = s.request("GET", "/api/v1/events?contact=c-42")
    t.check("after erasure the contact's events are gone", st == 200 and body["events"] == [], body)
    st, _, body = s.request("GET", "/api/v1/vouchers?contact=c-42")
    t.check("after erasure the contact's vouchers are gone", st == 200 and body["vouchers"] == [], body)
    st, _, body = s.request("DELETE", "/api/v1/contacts/c-42")
    t.check("erase again: 404", st == 404, body)

    # ---- a second workspace: fully isolated ---------------------------------------------------
    made = subprocess.run([closeloop, "workspace", "create", "acme", "--name", "ACME", "--data", s.data],
                          capture_output=True, text=True, timeout=30)
    other = re.findall(r"cl_admin_[0-9a-f]{64}", made.stdout)
    other_pub = re.findall(r"cl_pub_[0-9a-f]{64}", made.stdout)
    t.check("closeloop workspace create (while serving) prints its keys", made.returncode == 0 and len(other) == 1, made.stdout + made.stderr)
    dup = subprocess.run([closeloop, "workspace", "create", "acme", "--data", s.data], capture_output=True, text=True, timeout=30)
    t.check("a taken slug is refused", dup.returncode != 0 and "exists" in dup.stderr, dup.stderr)
    if other:
        B = other[0]
        s.request("POST", "/api/v1/events", nps("shared-id", "c-1", 2))
        st, _, body = s.request("POST", "/api/v1/events", nps("shared-id", "c-1", 10), key=B)
        t.check("the same event id in another workspace is not a duplicate", st == 202 and body["accepted"] == 1, body)
        st, _, body = s.request("GET", "/api/v1/events", key=B)
        t.check("each workspace sees only its events", st == 200 and [e["id"] for e in body["events"]] == ["shared-id"]
                and body["events"][0]["data"]["score"] == 10, body)
        s.request("POST", "/api/v1/tasks", {"title": "A's task", "role": "x"})
        st, _, tasks_a = s.request("GET", "/api/v1/tasks")
        s.request("POST", "/api/v1/voucher-campaigns", dict(camp, id="a-only"))
        st, _, va = s.request("POST", "/api/v1/vouchers", {"campaign": "a-only", "contact": "c-1"})
        foreign = [("GET", "/api/v1/contacts/b-1"), ("GET", "/api/v1/contacts/b-1/export"), ("DELETE", "/api/v1/contacts/b-1"),
                   ("GET", "/api/v1/voucher-campaigns/a-only"), ("POST", f"/api/v1/vouchers/{va.get('code')}/redeem"),
                   ("POST", f"/api/v1/tasks/{tasks_a['tasks'][0]['id']}/done")]
        for method, path in foreign:
            st, _, body = s.request(method, path, key=B)
            t.check(f"another workspace's resource is 404: {method} {path.split('/api/v1/')[1]}", st == 404 and is_error_json(body, st), (st, body))
        st, _, body = s.request("POST", "/api/v1/vouchers", {"campaign": "a-only", "contact": "c-1"}, key=B)
        t.check("assigning from another workspace's campaign is 404", st == 404 and body["error"]["field"] == "campaign", body)
        st, _, body = s.request("GET", "/api/v1/tasks", key=B)
        t.check("tasks are per workspace", st == 200 and body["tasks"] == [], body)
        st, _, body = s.request("GET", "/api/v1/vouchers", key=B)
        t.check("vouchers are per workspace", st == 200 and body["vouchers"] == [], body)
        st, _, card = s.request("GET", "/api/v1/contacts/c-1", key=B)
        t.check("a contact id in both workspaces is two contacts", st == 200 and card["nps"]["last"] == 10 and card["vouchers"] == [], card)
    if other_pub:
        P = other_pub[0]
        st, _, body = s.request("POST", "/api/v1/events", nps("w1", {"visitor": "web-1"}, 8, channel="widget"), key=P)
        t.check("a publishable key may post an answer", st == 202 and body["accepted"] == 1, body)
        st, _, body = s.request("POST", "/api/v1/events", nps("w2", "web-1", 8, channel="widget"), key=P)
        t.check("... naming a contact only with proof: 403 naming it", st == 403 and body["error"]["field"] == "contact", body)
        st, _, body = s.request("POST", "/api/v1/events", {"type": "purchase", "contact": "x",
                                                           "data": {"order_id": "1", "amount": 1, "currency": "EUR"}}, key=P)
        t.check("... but no other event: 403 naming the type", st == 403 and body["error"]["field"] == "type", body)
        st, _, body = s.request("GET", "/api/v1/events", key=P)
        t.check("... and no reads: 403", st == 403 and is_error_json(body, st), body)

    # ---- health, metrics, OpenAPI --------------------------------------------------------------
    st, _, body = s.request("GET", "/healthz", key=None)
    t.check("/healthz without a key", st == 200 and body["status"] == "ok", body)
    st, headers, text = s.request("GET", "/metrics", key=None)
    t.check("/metrics is Prometheus text", st == 200 and headers.get("Content-Type", "").startswith("text/plain"), headers)
    for name in ["closeloop_http_requests_total{method=\"POST\",route=\"/api/v1/events\",status=\"202\"}",
                 "closeloop_http_request_duration_seconds_bucket{method=\"POST\",route=\"/api/v1/events\",le=\"0.005\"}",
                 "closeloop_http_request_duration_seconds_count", "closeloop_events_accepted_total",
                 "closeloop_events_duplicates_total 2", "closeloop_db_size_bytes", "closeloop_db_commits_total",
                 "route=\"/api/v1/contacts/{id}\""]:
        t.check(f"/metrics has {name[:70]}", name in text, "")
    m = re.search(r"^closeloop_events_accepted_total (\d+)$", text, re.M)
    t.check("events accepted counted", m and int(m.group(1)) == 3 + 1 + 1000 + 100 + 1 + 1 + 1, m and m.group(0))
    t.check("no raw ids as route labels", "c-42" not in text)
    st, _, doc = s.request("GET", "/api/openapi.json", key=None)
    t.check("/api/openapi.json is OpenAPI 3", st == 200 and doc["openapi"].startswith("3.") and "/api/v1/events" in doc["paths"]
            and "/api/v1/scenarios" in doc["paths"], str(doc)[:200])
    st, headers, body = s.request("PUT", "/api/v1/events")
    t.check("a known path with another method: 405 with Allow", st == 405 and "POST" in headers.get("Allow", "") and is_error_json(body, st), (st, headers, body))

    t.check("SIGTERM: exit 0", s.stop() == 0, s.err)
    t.check("the bootstrap key is never printed", s.key not in s.out + s.err)

    # ---- RFM on a schedule: at start, then every --rfm-interval minutes -------------------------
    r = Server(closeloop, os.path.join(tmp, "rfm"), rfm_interval=60)
    r.start()
    r.request("POST", "/api/v1/events", {"events": [{"type": "purchase", "contact": f"s-{i % 5}",
                                                     "data": {"order_id": f"{i}", "amount": i, "currency": "EUR"}} for i in range(20)]})
    r.stop()
    r.start()  # the purchases are there at start: the schedule's first run scores them
    deadline, rfm = time.time() + 10, None
    while time.time() < deadline and not rfm:
        rfm = r.request("GET", "/api/v1/contacts/s-4")[2].get("rfm")
        time.sleep(0.05)
    t.check("RFM is computed at start without being asked", isinstance(rfm, dict) and rfm.get("segment"), rfm)
    t.check("and stops with the server", r.stop() == 0, r.err)

t.finish()
