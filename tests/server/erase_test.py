#!/usr/bin/python3
"""GDPR erasure means gone: the real `closeloop serve` on a real SQLite file.

A contact with a distinctive e-mail, name and phone gets events, survey answers, a purchase,
a scenario run (nps-recovery: a voucher and an e-mail in the outbox), a task; its export must
carry every kind the erasure removes. Then it is erased, and, while the server is still
running, right after the answer, the raw bytes of every file in the data folder (the database,
its -wal and -shm) must hold none of its e-mail, name or phone; again after the server stops.
A second contact's erasure lists the mentions it cannot remove: a hand-made task naming its
e-mail (in other letter case) and another contact's event naming its phone.
Usage: erase_test.py PATH/TO/closeloop"""
import json, os, sys, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from harness import Checks, Server

closeloop = sys.argv[1]
ASSETS = os.path.join(HERE, "..", "..", "assets")
t = Checks("erase test")

EMAIL = "zdenka.zapomenuta.7731@erase-test.example"
FIRST, LAST = "Zdeňka", "Zapomenutá-Qx"
PHONE = "+420 606 481 937"
OTHER_EMAIL = "radim.mentioned.4410@erase-test.example"
OTHER_PHONE = "+420 733 905 218"


def load(*parts):
    with open(os.path.join(ASSETS, *parts), encoding="utf-8") as f:
        return json.load(f)


def needles(*texts):
    """Each text as UTF-8 bytes, and as JSON would escape it (\\u0148 for ň)."""
    out = {}
    for text in texts:
        out[text] = text.encode()
        escaped = json.dumps(text, ensure_ascii=True)[1:-1].encode()
        if escaped != out[text]:
            out[text + " (JSON-escaped)"] = escaped
    return out


def copies_on_disk(data, patterns):
    """{pattern: {file: count}} of every file under the data folder, read raw."""
    found = {}
    for root, _, files in os.walk(data):
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                raw = f.read()
            for what, needle in patterns.items():
                n = raw.count(needle)
                if n:
                    found.setdefault(what, {})[name] = n
    return found


def files_of(data):
    return sorted(name for _, _, files in os.walk(data) for name in files)


def main():
    with tempfile.TemporaryDirectory() as data:
        s = Server(closeloop, data)
        if not t.check("server starts", s.start(), s.err):
            return
        try:
            run(s, data)
        finally:
            s.stop()
        # Stopped: nothing came back from a log replayed at close either.
        left = copies_on_disk(data, needles(EMAIL, FIRST, LAST, PHONE, f"{FIRST} {LAST}"))
        t.check("after the server stopped: no copy in any file", not left, (left, files_of(data)))


def run(s, data):
    for path in ["nps-apology-voucher.json", "nps-apology.json", "voucher-reminder.json"]:
        doc = load("templates", path)
        st, _, body = s.request("POST", "/api/v1/templates", doc)
        t.check(f"template {doc['id']} saved", st == 201, body)
    for campaign in load("campaigns.json"):
        st, _, body = s.request("POST", "/api/v1/voucher-campaigns", campaign)
        t.check(f"campaign {campaign['id']} saved", st == 201, body)
    st, _, body = s.request("POST", "/api/v1/scenarios", load("scenarios", "nps-recovery.json"))
    st2, _, body2 = s.request("POST", "/api/v1/scenarios/nps-recovery/activate")
    t.check("nps-recovery active", st == 201 and st2 == 200, (body, body2))

    # ---- the contact, with something in every table --------------------------------------------
    contact = {"id": "erase-me", "email": EMAIL, "first_name": FIRST, "last_name": LAST, "locale": "cs",
               "attributes": {"phone": PHONE, "branch": "Brno"}, "tags": ["newsletter"]}
    st, _, body = s.request("POST", "/api/v1/contacts", contact)
    t.check("contact saved", st == 200, body)
    events = [
        {"id": "er-1", "type": "purchase", "contact": "erase-me",
         "data": {"order_id": "o-1", "amount": 1250, "currency": "CZK"}},
        {"id": "er-2", "type": "csat_response", "contact": "erase-me",
         "data": {"score": 2, "comment": f"Volejte na {PHONE}, {FIRST}", "ticket_id": "T-1"}},
        {"id": "er-3", "type": "nps_response", "contact": "erase-me",
         "data": {"score": 3, "comment": f"Píše {FIRST} {LAST} ({EMAIL})", "survey": "nps-main"}},
    ]
    st, _, body = s.request("POST", "/api/v1/events", {"events": events})
    t.check("events accepted", st == 202 and body.get("accepted") == 3, body)
    st, _, task = s.request("POST", "/api/v1/tasks", {"title": f"Call {FIRST} {LAST}", "role": "call_center_agent",
                                                      "contact": "erase-me", "message": f"{PHONE} / {EMAIL}"})
    t.check("a task about the contact", st == 201, task)
    st, _, runs = s.request("GET", "/api/v1/runs?contact=erase-me")
    t.check("the detractor's answer started a run", st == 200 and len(runs.get("runs", [])) == 1, runs)
    st, _, outbox = s.request("GET", "/api/v1/outbox?kind=send_email")
    mails = [o for o in outbox.get("outbox", []) if o.get("contact") == "erase-me"]
    t.check("an e-mail to the contact is in the outbox", len(mails) == 1 and EMAIL in json.dumps(mails[0]), outbox)

    before = copies_on_disk(data, needles(EMAIL))
    t.check("before the erasure the e-mail is on disk (the check can see it)", EMAIL in before, before)

    # ---- the export carries every kind the erasure removes --------------------------------------
    st, _, x = s.request("GET", "/api/v1/contacts/erase-me/export")
    t.check("export: 200", st == 200 and isinstance(x, dict), x)
    counts = {k: len(v) for k, v in x.items() if isinstance(v, list)}
    for kind in ["events", "responses", "purchases", "vouchers", "tasks", "outbox", "runs"]:
        t.check(f"export carries {kind}", counts.get(kind, 0) >= 1, counts)
    t.check("export: the run with its state and trace", x["runs"] and "state" in x["runs"][0]
            and "trace" in x["runs"][0], x.get("runs"))
    t.check("export: suppressions listed (none here)", x.get("suppressions") == [], x.get("suppressions"))

    # ---- erase, and look at the files at once -----------------------------------------------------
    st, _, erased = s.request("DELETE", "/api/v1/contacts/erase-me")
    on_disk = copies_on_disk(data, needles(EMAIL, FIRST, LAST, PHONE, f"{FIRST} {LAST}"))
    t.check("erase: 200", st == 200, erased)
    e = erased.get("erased", {})
    for kind in ["events", "responses", "purchases", "vouchers", "tasks", "outbox", "runs"]:
        t.check(f"erase counts {kind} as the export did", e.get(kind, -1) >= 1 and
                (kind == "events" or e.get(kind) == counts[kind]), (kind, e, counts))
    t.check("erase: purged", erased.get("purged") is True, erased)
    t.check("erase: no mentions", erased.get("mentions") == [] and erased.get("mentions_total") == 0, erased)
    t.check("right after the answer, server running: no copy of e-mail, name or phone in any file",
            not on_disk, (on_disk, files_of(data)))
    wal = os.path.join(data, "closeloop.db-wal")
    t.check("the WAL was cut back to nothing", not os.path.exists(wal) or os.path.getsize(wal) == 0,
            os.path.getsize(wal) if os.path.exists(wal) else None)
    for path in ["/api/v1/contacts/erase-me", "/api/v1/contacts/erase-me/export"]:
        st, _, body = s.request("GET", path)
        t.check(f"after the erasure GET {path}: 404", st == 404, body)

    # ---- mentions the erasure cannot remove --------------------------------------------------------
    st, _, body = s.request("POST", "/api/v1/contacts", {"id": "mentioned", "email": OTHER_EMAIL, "first_name": "Radim",
                                                         "last_name": "Zmíněný", "attributes": {"mobile": OTHER_PHONE}})
    t.check("a second contact", st == 200, body)
    st, _, body = s.request("POST", "/api/v1/events", {"events": [
        {"id": "m-1", "type": "nps_response", "contact": "mentioned", "data": {"score": 9}},
        {"id": "m-2", "type": "referral", "contact": "someone-else",
         "data": {"note": f"referred by phone {OTHER_PHONE}", "channel": "web"}},
        {"id": "m-3", "type": "referral", "contact": "someone-else", "data": {"note": "nobody in particular"}}]})
    t.check("its events and another contact's referral", st == 202, body)
    st, _, hand = s.request("POST", "/api/v1/tasks", {"title": f"Write to {OTHER_EMAIL.upper()}",
                                                      "role": "call_center_agent"})
    t.check("a hand-made task naming the e-mail in capitals", st == 201, hand)
    st, _, erased = s.request("DELETE", "/api/v1/contacts/mentioned")
    t.check("erase the second contact: 200, purged", st == 200 and erased.get("purged") is True, erased)
    mentions = erased.get("mentions", [])
    t.check("the hand-made task is listed", {"kind": "task", "id": hand.get("id"), "field": "title"} in mentions,
            mentions)
    t.check("the other contact's event is listed", {"kind": "event", "id": "m-2", "contact": "someone-else",
                                                    "field": "data.note"} in mentions, mentions)
    t.check("nothing else is listed", len(mentions) == 2 and erased.get("mentions_total") == 2, erased)
    st, _, body = s.request("GET", "/api/v1/events?contact=someone-else")
    t.check("the mentions are left as they were", st == 200 and len(body.get("events", [])) == 2, body)


main()
t.finish()
