#!/usr/bin/python3
"""The newcomer's walk-through of the low-NPS recovery scenario on the real binary: templates
and the voucher campaign from assets/, the scenario created, refused activation while its
templates are missing (422 naming node and field), activated; purchases spread ten contacts
over the RFM tiers; low NPS answers then give each tier what DOMAIN.md says (Lost/Hibernating:
plain apology; Champions/Loyal/Cannot Lose: a call-center task; the middle: voucher, voucher
e-mail and a run waiting until expiry - 10 days; a voucher within 183 days: plain apology).
Also: runs and their effects' delivery, re-entry cooldown, a new version while runs live,
pause, simulate, templates. Usage: scenario_test.py PATH/TO/closeloop"""
import datetime, glob, json, os, re, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Checks, Server, is_error_json

closeloop = sys.argv[1]
ASSETS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "assets")
t = Checks("scenario test")

NOW = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def ago(days):
    return (NOW - datetime.timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse(ts):
    return datetime.datetime.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def wait_for(what, timeout=15):
    """Polls what() until it gives something true; returns the last value."""
    deadline, value = time.time() + timeout, None
    while time.time() < deadline:
        value = what()
        if value:
            return value
        time.sleep(0.05)
    return value


with tempfile.TemporaryDirectory() as tmp:
    s = Server(closeloop, os.path.join(tmp, "data"))
    t.check("server starts", s.start())

    scenario = load(os.path.join(ASSETS, "scenarios", "nps-recovery.json"))
    st, _, body = s.request("POST", "/api/v1/scenarios", scenario)
    t.check("create the recovery scenario: 201, a draft at version 1", st == 201 and body.get("status") == "draft"
            and body.get("version") == 1, body)
    t.check("... with what activation would reject listed (templates and campaign missing)",
            any(e["field"] == "params.template" for e in body.get("errors", [])), body.get("errors"))
    st, _, body = s.request("POST", "/api/v1/scenarios", scenario)
    t.check("create it again: 409", st == 409 and is_error_json(body, st) and body["error"]["field"] == "id", body)
    st, _, body = s.request("POST", "/api/v1/scenarios/nps-recovery/activate")
    t.check("activate without its templates: 422 naming node and field",
            st == 422 and is_error_json(body, st) and body["error"]["node"] in ("mail_plain", "mail_voucher", "mail_reminder", "give_voucher")
            and body["error"]["field"].startswith("nodes[") and len(body["error"]["errors"]) >= 4, body)

    draft = {"id": "draft-mail", "name": "D", "trigger": {"event": "nps_response"}, "start": "mail",
             "nodes": [{"id": "mail", "type": "action", "action": "send_email", "params": {"template": "not-yet"}, "next": None}]}
    s.request("POST", "/api/v1/scenarios", draft)
    st, _, sim = s.request("POST", "/api/v1/scenarios/draft-mail/simulate",
                           {"contact": {"id": "d1", "email": "d1@example.cz"}, "event": {"type": "nps_response", "contact": "d1", "data": {"score": 5}}})
    t.check("simulate a draft whose template is not written yet", st == 200 and sim.get("path") == ["mail"]
            and sim["effects"][0]["params"]["template"] == "not-yet", sim)
    s.request("DELETE", "/api/v1/scenarios/draft-mail")

    for path in sorted(glob.glob(os.path.join(ASSETS, "templates", "*.json"))):
        doc = load(path)
        st, _, body = s.request("POST", "/api/v1/templates", doc)
        t.check(f"create template {doc['id']}: 201", st == 201 and body.get("id") == doc["id"], body)
    st, _, body = s.request("POST", "/api/v1/templates", load(os.path.join(ASSETS, "templates", "nps-apology.json")))
    t.check("save a template again: 200", st == 200, body)
    st, _, body = s.request("GET", "/api/v1/templates")
    t.check("list templates", st == 200 and len(body["templates"]) == len(glob.glob(os.path.join(ASSETS, "templates", "*.json"))), body)
    st, _, body = s.request("GET", "/api/v1/templates/nps-apology")
    t.check("read one template", st == 200 and body["locales"]["cs"]["subject"], body)
    for campaign in load(os.path.join(ASSETS, "campaigns.json")):
        st, _, body = s.request("POST", "/api/v1/voucher-campaigns", campaign)
        t.check(f"create campaign {campaign['id']}", st == 201, body)
    st, _, body = s.request("POST", "/api/v1/scenarios/validate", scenario)
    t.check("validate: no errors now", st == 200 and body == {"valid": True, "errors": []}, body)
    st, _, body = s.request("POST", "/api/v1/scenarios/nps-recovery/activate")
    t.check("activate: 200, active", st == 200 and body.get("status") == "active", body)
    st, _, body = s.request("GET", "/api/v1/scenarios")
    t.check("list scenarios", st == 200 and [x["id"] for x in body["scenarios"]] == ["nps-recovery"]
            and body["scenarios"][0]["status"] == "active", body)

    # ---- ten buyers over the RFM grid: contact k has k+1 purchases of 10(k+1) EUR, the last
    # 300-30k days ago, so R, F and M all rank k: scores 1,1,2,2,3,3,4,4,5,5 -----------------
    purchases = []
    for k in range(10):
        for j in range(k + 1):
            purchases.append({"id": f"buy-{k}-{j}", "type": "purchase", "time": ago(300 - 30 * k + j),
                              "contact": {"id": f"c{k}", "email": f"c{k}@example.cz", "first_name": f"Jana{k}"},
                              "data": {"order_id": f"o-{k}-{j}", "amount": 10 * (k + 1), "currency": "EUR"}})
    st, _, body = s.request("POST", "/api/v1/events", {"events": purchases})
    t.check("purchases posted", st == 202 and body["accepted"] == len(purchases), body)
    st, _, body = s.request("POST", "/api/v1/rfm/recompute")
    t.check("RFM recompute", st == 200 and body["scored"] == 10, body)
    segment = {}
    for k in range(10):
        segment[f"c{k}"] = s.request("GET", f"/api/v1/contacts/c{k}")[2]["rfm"]["segment"]
    t.check("the tiers: Lost, Hibernating, Need Attention, Loyal, Champions (two each)",
            [segment[f"c{k}"] for k in range(10)] == ["Lost", "Lost", "Hibernating", "Hibernating", "Need Attention",
                                                      "Need Attention", "Loyal", "Loyal", "Champions", "Champions"], segment)
    # c5 had the apology voucher three months ago (history imported as a voucher_assigned event).
    st, _, body = s.request("POST", "/api/v1/events", {"id": "old-voucher", "type": "voucher_assigned", "time": ago(91), "contact": "c5",
                                                       "data": {"campaign": "nps-apology-20", "code": "OLD-1", "value": 20,
                                                                "currency": "EUR", "expires_at": ago(30)}})
    t.check("an old voucher_assigned event posted", st == 202, body)
    # A buyer-less contact has no segment: the middle tier (default).
    answers = [{"id": f"nps-c{k}", "type": "nps_response", "contact": f"c{k}", "data": {"score": 3 + k % 3, "comment": "slow"}}
               for k in range(10)]
    answers.append({"id": "nps-new", "type": "nps_response", "contact": {"id": "new", "email": "new@example.cz"}, "data": {"score": 0}})
    answers.append({"id": "nps-happy", "type": "nps_response", "contact": "c9", "data": {"score": 9}})
    st, _, body = s.request("POST", "/api/v1/events", {"events": answers})
    t.check("NPS answers posted", st == 202 and body["accepted"] == 12, body)
    # Posted events are run through the scenarios in the transaction that stores them: the
    # runs are there when the 202 comes, and the answers are stored processed.
    st, _, now_runs = s.request("GET", "/api/v1/runs?scenario=nps-recovery")
    st2, _, ev = s.request("GET", "/api/v1/events?contact=new&type=nps_response")
    t.check("the runs exist when the 202 comes; the answer is stored processed",
            st == 200 and len(now_runs["runs"]) == 11 and st2 == 200
            and ev["events"][0]["processed_at"] == ev["events"][0]["received_at"], (len(now_runs["runs"]), ev))

    runs = wait_for(lambda: (lambda r: r if len(r) >= 11 else None)(s.request("GET", "/api/v1/runs?scenario=nps-recovery")[2]["runs"]))
    runs = runs or []
    by_contact = {}
    for r in runs:
        by_contact.setdefault(r["contact"], []).append(r)
    t.check("one run per low answer (the 9 does not enter)", len(runs) == 11 and all(len(v) == 1 for v in by_contact.values()),
            [(r["contact"], r["status"]) for r in runs])
    st, _, body = s.request("GET", "/api/v1/events?type=nps_response&limit=100")
    t.check("every answer is marked processed", st == 200 and all(e["processed_at"] for e in body["events"]), body)

    outbox = s.request("GET", "/api/v1/outbox?kind=send_email&limit=1000")[2]["outbox"]
    mails = {}
    for o in outbox:
        mails.setdefault(o["contact"], []).append(o)
    tasks = s.request("GET", "/api/v1/tasks?role=call_center_agent")[2]["tasks"]
    task_of = {x["contact"]: x for x in tasks}
    vouchers = {}
    for v in s.request("GET", "/api/v1/vouchers?limit=1000")[2]["vouchers"]:
        vouchers.setdefault(v["contact"], []).append(v)

    def only(c):
        return (by_contact.get(c) or [{}])[0]

    for c in ["c0", "c1", "c2", "c3", "c5"]:
        r = only(c)
        why = "voucher within 183 days" if c == "c5" else segment[c]
        m = mails.get(c, [])
        t.check(f"{c} ({why}): plain apology e-mail, pending, no voucher, no task",
                r.get("status") == "done" and r["path"][-1] == "mail_plain" and len(m) == 1
                and m[0]["params"]["template"] == "nps-apology" and m[0]["params"]["to"] == f"{c}@example.cz"
                and m[0]["status"] == "pending" and c not in vouchers and c not in task_of, (r, m))
    for c in ["c6", "c7", "c8", "c9"]:
        r = only(c)
        task = task_of.get(c, {})
        t.check(f"{c} ({segment[c]}): a call-center task with the message, no e-mail, no voucher",
                r.get("status") == "done" and r["path"][-1] == "call" and c not in mails and c not in vouchers
                and task.get("message", "").startswith(f"Call Jana{c[1:]} ({c}@example.cz): NPS ")
                and task.get("status") == "open" and task.get("run_id") == r["id"], (r, task))
    for c in ["c4", "new"]:
        r = only(c)
        v = vouchers.get(c, [])
        m = mails.get(c, [])
        expected_wake = parse(v[0]["expires_at"]) - datetime.timedelta(days=10) if v else None
        t.check(f"{c} ({segment.get(c) or 'no segment'}): voucher, voucher e-mail, waiting until expiry - 10 days",
                r.get("status") == "waiting" and len(v) == 1 and v[0]["campaign"] == "nps-apology-20"
                and len(m) == 1 and m[0]["params"]["template"] == "nps-apology-voucher"
                and r["path"] == ["had_voucher", "segment", "give_voucher", "mail_voucher", "wait_expiry"]
                and r["wake_at"] and parse(r["wake_at"]) == expected_wake, (r, v, m))
        if v:
            assigned = parse(v[0]["assigned_at"])
            t.check(f"{c}: the voucher is valid two months", 58 <= (parse(v[0]["expires_at"]) - assigned).days <= 62, v)
    codes = [v["code"] for vs in vouchers.values() for v in vs]
    t.check("voucher codes are distinct and not derived from the contact", len(set(codes)) == len(codes)
            and all("c4" not in x and "new" not in x for x in codes), codes)

    # ---- one run in full: path, state, wake time, trace, effects and their delivery -----------
    r4 = only("c4")
    st, _, run = s.request("GET", f"/api/v1/runs/{r4.get('id')}")
    kinds = {e["kind"]: e for e in run.get("effects", [])} if st == 200 else {}
    t.check("GET /runs/{id}: state, trace and effects", st == 200 and run["state"]["status"] == "waiting"
            and run["state"]["voucher"]["code"] == vouchers["c4"][0]["code"]
            and [x["node"] for x in run["trace"]] == run["path"], run)
    t.check("... the voucher effect is done, the e-mail pending in the outbox",
            kinds.get("assign_voucher", {}).get("status") == "done" and kinds.get("send_email", {}).get("status") == "pending"
            and kinds["send_email"]["delivery"]["key"] == kinds["send_email"]["key"], kinds)
    st, _, body = s.request("GET", "/api/v1/runs?status=waiting")
    t.check("GET runs?status=waiting", st == 200 and sorted(x["contact"] for x in body["runs"]) == ["c4", "new"], body)
    st, _, body = s.request("GET", "/api/v1/runs?contact=c6&scenario=nps-recovery")
    t.check("GET runs?contact=&scenario=", st == 200 and [x["contact"] for x in body["runs"]] == ["c6"], body)
    st, _, card = s.request("GET", "/api/v1/contacts/c4")
    t.check("the card shows the voucher and its voucher_assigned event", st == 200 and len(card["vouchers"]) == 1
            and any(e["type"] == "voucher_assigned" for e in card["timeline"]), card)

    # ---- re-entry: a second low answer within 30 days starts nothing ---------------------------
    s.request("POST", "/api/v1/events", {"id": "nps-c0-again", "type": "nps_response", "contact": "c0", "data": {"score": 1}})
    processed = wait_for(lambda: s.request("GET", "/api/v1/events?contact=c0&type=nps_response")[2]["events"][0]["processed_at"])
    st, _, body = s.request("GET", "/api/v1/runs?contact=c0")
    t.check("cooldown: the second answer is processed and starts no run", processed and len(body["runs"]) == 1, body)

    # ---- a new version while runs live ---------------------------------------------------------
    changed = dict(scenario, name="NPS recovery v2")
    st, _, body = s.request("PUT", "/api/v1/scenarios/nps-recovery", changed)
    t.check("PUT an active scenario: version 2, still active", st == 200 and body["version"] == 2 and body["status"] == "active"
            and body["name"] == "NPS recovery v2", body)
    broken = json.loads(json.dumps(scenario))
    broken["nodes"][0]["then"] = "nowhere"
    st, _, body = s.request("PUT", "/api/v1/scenarios/nps-recovery", broken)
    t.check("PUT an active scenario that does not validate: 422 naming the node", st == 422 and body["error"]["node"] == "had_voucher", body)
    st, _, body = s.request("GET", "/api/v1/scenarios/nps-recovery")
    t.check("... and nothing saved", st == 200 and body["version"] == 2, body)
    st, _, again = s.request("PUT", "/api/v1/scenarios/nps-recovery", body)
    t.check("a scenario read with GET saves back as it is (version 3)", st == 200 and again["version"] == 3
            and again["errors"] == [] and again["nodes"] == body["nodes"], again)
    st, _, tpl = s.request("GET", "/api/v1/templates/voucher-reminder")
    st, _, body = s.request("POST", "/api/v1/templates", tpl)
    t.check("a template read with GET saves back as it is", st == 200 and body["locales"] == tpl["locales"], body)
    s.request("POST", "/api/v1/events", {"id": "nps-v2", "type": "nps_response", "contact": {"id": "v2", "email": "v2@example.cz"},
                                         "data": {"score": 2}})
    r = wait_for(lambda: s.request("GET", "/api/v1/runs?contact=v2")[2]["runs"])
    t.check("a new run starts on the current version (3); the live ones stay on version 1",
            r and r[0]["version"] == 3 and s.request("GET", f"/api/v1/runs/{r4.get('id')}")[2]["version"] == 1, r)

    # ---- simulate: the path and effects, nothing performed -------------------------------------
    before = len(s.request("GET", "/api/v1/outbox?limit=1000")[2]["outbox"])
    st, _, sim = s.request("POST", "/api/v1/scenarios/nps-recovery/simulate",
                           {"contact": {"id": "sim", "email": "sim@example.cz", "rfm": {"r": 5, "f": 5, "m": 5, "segment": "Champions"}},
                            "event": {"type": "nps_response", "contact": "sim", "data": {"score": 4}}})
    t.check("simulate a Champion: the call path and a notify effect", st == 200 and sim.get("entered") is True
            and sim["path"] == ["had_voucher", "segment", "call"] and [e["kind"] for e in sim["effects"]] == ["notify"], sim)
    st, _, sim = s.request("POST", "/api/v1/scenarios/nps-recovery/simulate",
                           {"event": {"type": "nps_response", "contact": "c4", "data": {"score": 4}},
                            "history": [{"type": "voucher_assigned", "time": ago(10), "contact": "c4",
                                         "data": {"campaign": "nps-apology-20", "code": "H", "value": 20, "expires_at": ago(-50)}}],
                            "fast_forward": True})
    t.check("simulate with history: the stored contact, plain apology after a recent voucher", st == 200
            and sim.get("path") == ["had_voucher", "mail_plain"], sim)
    t.check("simulate performs nothing", len(s.request("GET", "/api/v1/outbox?limit=1000")[2]["outbox"]) == before
            and not s.request("GET", "/api/v1/runs?contact=sim")[2]["runs"])

    # ---- pause: no new runs ----------------------------------------------------------------------
    st, _, body = s.request("POST", "/api/v1/scenarios/nps-recovery/pause")
    t.check("pause: 200, paused", st == 200 and body["status"] == "paused", body)
    s.request("POST", "/api/v1/events", {"id": "nps-paused", "type": "nps_response", "contact": {"id": "p1", "email": "p1@example.cz"},
                                         "data": {"score": 2}})
    processed = wait_for(lambda: s.request("GET", "/api/v1/events?contact=p1")[2]["events"][0]["processed_at"])
    t.check("an answer while paused starts no run", processed and not s.request("GET", "/api/v1/runs?contact=p1")[2]["runs"])

    # ---- delete: gone, its waiting runs ended --------------------------------------------------
    st, _, _ = s.request("DELETE", "/api/v1/scenarios/nps-recovery")
    t.check("delete: 204", st == 204)
    st, _, body = s.request("GET", "/api/v1/scenarios/nps-recovery")
    t.check("then GET: 404", st == 404 and is_error_json(body, st), body)
    st, _, body = s.request("GET", "/api/v1/runs?status=waiting")
    t.check("no run of it waits any more", st == 200 and body["runs"] == [], body)
    st, _, body = s.request("GET", f"/api/v1/runs/{r4.get('id')}")
    t.check("its runs stay readable, failed with the reason", st == 200 and body["status"] == "failed"
            and body["error"] == "the scenario was deleted", body)

    st, _, text = s.request("GET", "/metrics", key=None)
    m = re.search(r"^closeloop_executor_runs_started_total (\d+)$", text, re.M)
    t.check("/metrics counts the runs started", st == 200 and m and int(m.group(1)) == 12
            and "closeloop_executor_events_total" in text and "closeloop_executor_runs_failed_total 0" in text
            and "closeloop_executor_unprocessed_events 0" in text and "closeloop_runs_due 0" in text, m and m.group(0))

    t.check("SIGTERM: exit 0", s.stop() == 0, s.err)
    t.check("no internal error logged", "internal error" not in s.err, s.err)

t.finish()
