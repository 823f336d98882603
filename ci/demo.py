#!/usr/bin/python3
"""The low-NPS recovery scenario on a running `closeloop serve`, as a newcomer tries it.

Creates the e-mail templates, voucher campaigns and the recovery scenario from assets/ through
the HTTP API and activates it; posts purchases that spread ten contacts over the RFM tiers and
recomputes RFM; gives one contact the apology voucher three months ago; posts a low NPS answer
for each contact and for one with no purchases; then prints, per contact, what the scenario
did: the path of its run, the voucher, the call-centre task and the e-mails waiting in the
outbox for delivery.

    CLOSELOOP_BOOTSTRAP_KEY=demo-admin-key-change-me-now bash ci/start.sh       # terminal 1 (first start)
    /usr/bin/python3 ci/demo.py --key demo-admin-key-change-me-now                # terminal 2

Run it again and it finds what the first run made (ids are fixed; repeated events are
duplicates). Standard library only."""
import argparse, datetime, glob, http.client, json, os, sys, time, urllib.parse

ASSETS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "assets")


class Api:
    def __init__(self, url, key):
        u = urllib.parse.urlparse(url)
        self.host, self.port, self.key = u.hostname or "127.0.0.1", u.port or 8080, key

    def __call__(self, method, path, body=None):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        headers = {"Authorization": f"Bearer {self.key}"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            conn.request(method, path, body=data, headers=headers)
            r = conn.getresponse()
            text = r.read().decode("utf-8", "replace")
        except OSError as e:
            sys.exit(f"demo: cannot reach closeloop at {self.host}:{self.port} ({e}); is `bash ci/start.sh` running?")
        finally:
            conn.close()
        try:
            return r.status, json.loads(text)
        except ValueError:
            return r.status, text

    def ok(self, what, method, path, body=None, accept=(200, 201, 202)):
        status, reply = self(method, path, body)
        if status == 401:
            sys.exit("demo: the key was refused (401): pass the admin key with --key, or issue a new one with "
                     "`./build/native/server/closeloop keys create --workspace demo`")
        if status not in accept:
            sys.exit(f"demo: {what} failed with {status}: {json.dumps(reply)[:600]}")
        return status, reply


def load(*parts):
    with open(os.path.join(ASSETS, *parts), encoding="utf-8") as f:
        return json.load(f)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", default="http://127.0.0.1:8080")
    ap.add_argument("--key", default=os.environ.get("CLOSELOOP_BOOTSTRAP_KEY", ""),
                    help="the workspace admin key (default: $CLOSELOOP_BOOTSTRAP_KEY)")
    args = ap.parse_args()
    if not args.key:
        sys.exit("demo: give the admin key with --key (closeloop printed it at its first start)")
    api = Api(args.url, args.key)
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    ago = lambda days: (now - datetime.timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")

    print("1. templates, voucher campaigns and the recovery scenario from assets/")
    for path in sorted(glob.glob(os.path.join(ASSETS, "templates", "*.json"))):
        api.ok("saving a template", "POST", "/api/v1/templates", load("templates", os.path.basename(path)))
    for campaign in load("campaigns.json"):
        api.ok("saving a voucher campaign", "POST", "/api/v1/voucher-campaigns", campaign)
    scenario = load("scenarios", "nps-recovery.json")
    api.ok("creating the scenario", "POST", "/api/v1/scenarios", scenario, accept=(201, 409))
    _, active = api.ok("activating the scenario", "POST", f"/api/v1/scenarios/{scenario['id']}/activate")
    print(f"   scenario {active['id']} version {active['version']}: {active['status']}")

    print("2. purchases for ten contacts, then RFM")
    purchases = []
    for k in range(10):  # contact k: k+1 purchases of 10(k+1) EUR, the last 300-30k days ago
        for j in range(k + 1):
            purchases.append({"id": f"demo-buy-{k}-{j}", "type": "purchase", "time": ago(300 - 30 * k + j),
                              "contact": {"id": f"demo-{k}", "email": f"demo{k}@example.cz", "first_name": f"Jana {k}",
                                          "locale": "cs"},
                              "data": {"order_id": f"demo-o-{k}-{j}", "amount": 10 * (k + 1), "currency": "EUR"}})
    api.ok("posting purchases", "POST", "/api/v1/events", {"events": purchases})
    api.ok("recomputing RFM", "POST", "/api/v1/rfm/recompute")
    print("3. demo-5 had the apology voucher 91 days ago")
    api.ok("posting the old voucher", "POST", "/api/v1/events",
           {"id": "demo-old-voucher", "type": "voucher_assigned", "time": ago(91), "contact": "demo-5",
            "data": {"campaign": "nps-apology-20", "code": "DEMO-OLD-1", "value": 20, "currency": "EUR",
                     "expires_at": ago(30)}})

    print("4. low NPS answers (and demo-new, who never bought anything)")
    contacts = [f"demo-{k}" for k in range(10)] + ["demo-new"]
    answers = [{"id": f"demo-nps-{c}", "type": "nps_response", "contact": {"id": c, "email": f"{c.replace('-', '')}@example.cz"},
                "data": {"score": 2 + i % 5, "comment": "Doprava trvala 3 týdny."}} for i, c in enumerate(contacts)]
    api.ok("posting the answers", "POST", "/api/v1/events", {"events": answers})

    runs = {}
    deadline = time.time() + 15
    while time.time() < deadline and len(runs) < len(contacts):
        for c in contacts:
            _, body = api("GET", f"/api/v1/runs?scenario={scenario['id']}&contact={c}")
            if isinstance(body, dict) and body.get("runs"):
                runs[c] = body["runs"][0]
        time.sleep(0.2)

    _, outbox = api("GET", "/api/v1/outbox?kind=send_email&limit=1000")
    _, tasks = api("GET", "/api/v1/tasks?role=call_center_agent&limit=1000")
    print("\n5. what the scenario did")
    print(f"   {'contact':<10} {'segment':<15} {'run':<8} {'path':<62} what")
    for c in contacts:
        _, card = api("GET", f"/api/v1/contacts/{c}")
        segment = ((card.get("rfm") or {}).get("segment") if isinstance(card, dict) else None) or "(none)"
        run = runs.get(c)
        did = []
        for v in card.get("vouchers", []) if isinstance(card, dict) else []:
            if v.get("campaign") == "nps-apology-20" and v.get("code") != "DEMO-OLD-1":
                did.append(f"voucher {v['code']} until {v['expires_at'][:10]}")
        for o in outbox.get("outbox", []):
            if o["contact"] == c:
                did.append(f"e-mail {o['params']['template']} ({o['status']})")
        for t in tasks.get("tasks", []):
            if t["contact"] == c:
                did.append(f"task for the call centre: {t['message'][:48]}...")
        if run and run["status"] == "waiting":
            did.append(f"waits until {run['wake_at'][:10]} for the reminder")
        path = " > ".join(run["path"]) if run else "(no run yet)"
        print(f"   {c:<10} {segment:<15} {run['status'] if run else '-':<8} {path:<62} {'; '.join(did)}")
    print("\nRuns in full: GET /api/v1/runs/{id} (path, state, trace, effects and their delivery).")


if __name__ == "__main__":
    main()
