#!/usr/bin/python3
"""Delivery end to end: the real `closeloop serve` sends e-mail to a real SMTP server on
loopback (tests/server/smtp_peer.py, aiosmtpd) and webhooks to a real HTTP receiver
(tests/server/http_peer.py); every message is parsed by what a receiver would use (Python's
`email` package, npm's `standardwebhooks` for the signatures) and counted by its idempotency
key (X-Closeloop-Effect / webhook-id).

Parts, each on its own server and data folder:
  mail      seed 000 (recovery) and seed 004 (score bands) e-mails: MIME, RFC 2047 headers,
            Czech/Polish/Hebrew text, voucher code and expiry, the countdown, owner in Cc,
            the CEO as sender; the Slack posts of seed 004; unsubscribe (a GET does nothing,
            a one-click POST does, the next marketing mail is suppressed); a 550 bounce
  cap       the frequency cap across scenarios (one apology, not two); SMTP 451 then accept
  webhooks  the endpoint API and its address checks; Teams and generic payloads and their
            signatures; a receiver that fails, answers 429 + Retry-After, answers too late,
            answers 410, is down (dead letters, then replayed one by one and all at once);
            secret rotation (two signatures); /metrics
  private   loopback endpoints refused without --allow-private-endpoints; no --smtp: pending
  dkim      --dkim-key: the e-mail's signature (covering the unsubscribe headers) verified by
            python3-dkim, a tampered copy refused; a key that cannot sign stops the start
  kill      ~200 webhooks to a slowish receiver, SIGKILL in the middle, restart, SIGTERM in
            the middle, restart: every key delivered, repeats only of what was in flight

The retry schedule is short ("0s,1s,1s,2s": four attempts) and the delivery timeout 2 s, so
the whole test takes about a minute or two. Usage: delivery_test.py PATH/TO/closeloop"""
import datetime, email, email.policy, email.utils, glob, html, json, os, re, signal, subprocess, sys, tempfile, threading
import time, traceback, urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from harness import Checks, Server, free_port, is_error_json
from http_peer import HttpPeer, json_body

closeloop = sys.argv[1]
ASSETS = os.path.join(HERE, "..", "..", "assets")
t = Checks("delivery test")

SCHEDULE = "0s,1s,1s,2s"  # attempts at once, +1 s, +1 s, +2 s; then dead
ATTEMPTS = 4
TIMEOUT_MS = 2000
OWNER = "petra.svobodova@wylde.example"
CEO = ("Dana Novak, CEO", "ceo@wylde.example")
CARE = ("Wylde", "care@wylde.example")
TERMINAL = {"sent", "dead", "suppressed"}


# ---- helpers -------------------------------------------------------------------------------------

def load(*parts):
    with open(os.path.join(ASSETS, *parts), encoding="utf-8") as f:
        return json.load(f)


def wait_for(what, timeout, interval=0.1):
    """Polls what() until it gives something true; returns the last value."""
    deadline, value = time.time() + timeout, None
    while True:
        value = what()
        if value or time.time() >= deadline:
            return value
        time.sleep(interval)


class DrainedServer(Server):
    """The harness's Server, its output read as it comes: a server that logs every delivery
    attempt would otherwise fill the pipe and block."""

    def start(self, env_key=True):
        ok = super().start(env_key)
        self.bufs = {"out": [], "err": []}
        self.drains = [threading.Thread(target=self._drain, args=(f, name), daemon=True)
                       for f, name in ((self.proc.stdout, "out"), (self.proc.stderr, "err"))]
        for d in self.drains:
            d.start()
        return ok

    def _drain(self, f, name):
        for line in f:
            self.bufs[name].append(line)

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if not self.proc:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for d in self.drains:
            d.join(5)
        self.out, self.err = "".join(self.bufs["out"]), "".join(self.bufs["err"])
        return self.proc.returncode


def serve(tmp, name, smtp=None, extra=(), private=True):
    """`closeloop serve` with the delivery settings of this test; started, or a failed check."""
    port = free_port()
    flags = ["--public-url", f"http://127.0.0.1:{port}", "--retry-schedule", SCHEDULE,
             "--delivery-timeout-ms", str(TIMEOUT_MS)] + list(extra)
    if private:
        flags.append("--allow-private-endpoints")
    if smtp:
        flags += ["--smtp", f"smtp://127.0.0.1:{smtp.port}"]
    s = DrainedServer(closeloop, os.path.join(tmp, name), extra=flags, port=port)
    s.public_url = f"http://127.0.0.1:{port}"
    ok = s.start()
    if not ok:
        s.stop()
    t.check(f"{name}: the server starts ({' '.join(flags)})", ok, s.err[-2000:])
    return s


def stop(s, name):
    rc = s.stop()
    t.check(f"{name}: SIGTERM stops the server (exit 0), no internal error logged",
            rc == 0 and "internal error" not in s.err, (rc, s.err[-2000:]))


def get(s, path):
    """The JSON of a GET, or {} when it failed (the failing check says more)."""
    try:
        st, _, body = s.request("GET", path)
    except OSError:
        return {}
    return body if st == 200 and isinstance(body, (dict, list)) else {}


def outbox(s, **query):
    query.setdefault("limit", 1000)
    return get(s, "/api/v1/outbox?" + urllib.parse.urlencode(query)).get("outbox", [])


def entries_of(s, contacts=None, kind=None):
    return [o for o in outbox(s, **({"kind": kind} if kind else {}))
            if contacts is None or o.get("contact") in contacts]


def settled(s, contacts, kind, count):
    """The outbox entries of these contacts once there are `count` and all are final."""
    def probe():
        es = entries_of(s, contacts, kind)
        return es if len(es) >= count and all(e.get("status") in TERMINAL for e in es) else None
    return probe


def post_events(s, events, what):
    st, _, body = s.request("POST", "/api/v1/events", {"events": events})
    t.check(f"{what}: {len(events)} events accepted", st == 202 and body.get("accepted") == len(events), body)


def put_contact(s, cid, **fields):
    st, _, body = s.request("POST", "/api/v1/contacts", dict(id=cid, **fields))
    t.check(f"contact {cid} saved", st == 200, body)


def create_endpoint(s, eid, kind, url, name=None):
    st, _, body = s.request("POST", "/api/v1/endpoints", {"id": eid, "name": name or eid, "kind": kind, "url": url})
    ok = (st == 201 and isinstance(body, dict) and body.get("id") == eid and body.get("kind") == kind
          and body.get("url") == url and str(body.get("secret", "")).startswith("whsec_"))
    t.check(f"endpoint {eid} ({kind}) created: 201 with its whsec_ secret", ok, (st, body))
    return body.get("secret", "") if isinstance(body, dict) else ""


def activate(s, scenario):
    st, _, body = s.request("POST", "/api/v1/scenarios", scenario)
    st2, _, body2 = s.request("POST", f"/api/v1/scenarios/{scenario['id']}/activate")
    t.check(f"scenario {scenario['id']} created and activated", st == 201 and st2 == 200
            and body2.get("status") == "active", (st, body, st2, body2))


def install_assets(s, campaign_valid_for=None):
    for path in sorted(glob.glob(os.path.join(ASSETS, "templates", "*.json"))):
        doc = load("templates", os.path.basename(path))
        st, _, body = s.request("POST", "/api/v1/templates", doc)
        if st != 201:
            t.check(f"template {doc['id']} saved", False, body)
    for campaign in load("campaigns.json"):
        if campaign_valid_for and campaign["id"] == "nps-apology-20":
            campaign = dict(campaign, valid_for=campaign_valid_for)
        st, _, body = s.request("POST", "/api/v1/voucher-campaigns", campaign)
        if st != 201:
            t.check(f"campaign {campaign['id']} saved", False, body)


def hook_scenario(sid, event_type, nodes):
    """A scenario of webhook actions in a row on a custom event."""
    ns = []
    for i, (node, endpoint, message) in enumerate(nodes):
        ns.append({"id": node, "type": "action", "action": "webhook", "params": {"endpoint": endpoint, "message": message},
                   "next": nodes[i + 1][0] if i + 1 < len(nodes) else None})
    return {"id": sid, "name": sid, "trigger": {"event": event_type}, "reentry": {"policy": "always"},
            "start": nodes[0][0], "nodes": ns}


def run_effect(s, entry):
    """The run's view of one outbox entry: (effect status, its delivery) from GET /runs/{id}."""
    run = get(s, f"/api/v1/runs/{entry.get('run_id')}")
    for e in run.get("effects", []) if isinstance(run, dict) else []:
        if e.get("key") == entry.get("key"):
            return e.get("status"), e.get("delivery") or {}
    return None, {}


def verify(items):
    """[(secret, headers, body)] -> ["ok" | "fail ..."], by npm's standardwebhooks."""
    lines = "".join(json.dumps({"secret": sec, "headers": h, "body": b}) + "\n" for sec, h, b in items)
    try:
        out = subprocess.run(["node", os.path.join(HERE, "verify_webhook.mjs")], input=lines, capture_output=True,
                             text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        return [f"fail verifier did not run: {e}"] * len(items)
    got = out.stdout.splitlines()
    return got if len(got) == len(items) else [f"fail verifier: {out.stderr[-500:]}"] * len(items)


def signed(rec):
    h = rec["headers"]
    return {k: h.get(k, "") for k in ("webhook-id", "webhook-timestamp", "webhook-signature")}


def metrics(s):
    """{(name, ((label, value), ...)): number} from /metrics."""
    try:
        st, _, text = s.request("GET", "/metrics", key=None)
    except OSError:
        return {}
    out = {}
    for line in (text if isinstance(text, str) else "").splitlines():
        m = re.match(r"^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)", line)
        if not m or line.startswith("#"):
            continue
        labels = tuple(sorted(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or "")))
        try:
            out[(m.group(1), labels)] = float(m.group(3))
        except ValueError:
            pass
    return out


def metric(ms, name, **labels):
    return ms.get((name, tuple(sorted(labels.items()))))


def attempts_of(entry):
    return entry.get("attempt_log") or []


def mentions(text, *words):
    text = (text or "").lower()
    return any(w.lower() in text for w in words)


class SmtpPeer:
    """tests/server/smtp_peer.py in a child process."""

    def __init__(self, folder, fail_first=0, reject=()):
        self.dir, self.port = folder, free_port()
        cmd = ["/usr/bin/python3", os.path.join(HERE, "smtp_peer.py"), "--port", str(self.port), "--dir", folder]
        if fail_first:
            cmd += ["--fail-first", str(fail_first)]
        for address in reject:
            cmd += ["--reject", address]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.ready = self.proc.stdout.readline().strip() == "ready"
        t.check(f"SMTP peer listens on {self.port}", self.ready, self.proc.poll() is not None and self.proc.stderr.read())

    def messages(self):
        out = []
        for path in sorted(glob.glob(os.path.join(self.dir, "*.eml"))):
            with open(path, "rb") as f:
                raw = f.read()
            with open(path[:-4] + ".json", encoding="utf-8") as f:
                envelope = json.load(f)
            msg = email.message_from_bytes(raw, policy=email.policy.default)
            out.append({"raw": raw, "msg": msg, "envelope": envelope, "key": str(msg.get("X-Closeloop-Effect", ""))})
        return out

    def refused(self):
        out = []
        for path in sorted(glob.glob(os.path.join(self.dir, "failed", "*.eml"))):
            with open(path, "rb") as f:
                out.append(email.message_from_bytes(f.read(), policy=email.policy.default))
        return out

    def log(self):
        try:
            with open(os.path.join(self.dir, "log.jsonl"), encoding="utf-8") as f:
                return [json.loads(line) for line in f if line.strip()]
        except OSError:
            return []

    def connections(self):
        try:
            with open(os.path.join(self.dir, "connections")) as f:
                return int(f.read().strip() or 0)
        except (OSError, ValueError):
            return 0

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def parts_of(msg):
    """(text/plain part, text/html part) of a multipart/alternative message."""
    text = html_part = None
    for part in msg.iter_parts() if msg.is_multipart() else []:
        if part.get_content_type() == "text/plain" and text is None:
            text = part
        elif part.get_content_type() == "text/html" and html_part is None:
            html_part = part
    return text, html_part


def date_cs(iso):
    d = datetime.date.fromisoformat(iso[:10])
    return f"{d.day}. {d.month}. {d.year}"


def date_en(iso):
    d = datetime.date.fromisoformat(iso[:10])
    return f"{d.day} {d.strftime('%B')} {d.year}"


def date_any(iso):
    """The date as the en, cs, pl or ISO rendering (a pl or he contact reads the en template:
    which locale's date format it gets is the renderer's choice)."""
    d = datetime.date.fromisoformat(iso[:10])
    return [date_en(iso), date_cs(iso), f"{d.day:02}.{d.month:02}.{d.year}", iso[:10]]


def check_mime(what, m, public_url):
    """What every marketing e-mail must be, whatever its content."""
    raw, msg = m["raw"], m["msg"]
    head = raw.split(b"\r\n\r\n", 1)[0] if b"\r\n\r\n" in raw else raw.split(b"\n\n", 1)[0]
    text, html_part = parts_of(msg)
    ok_lines = all(len(line) <= 998 for line in raw.split(b"\r\n"))
    t.check(f"{what}: multipart/alternative with a text and an HTML part, UTF-8, quoted-printable or base64",
            msg.get_content_type() == "multipart/alternative" and text is not None and html_part is not None
            and all(p.get_content_charset() == "utf-8" and p.get("Content-Transfer-Encoding", "").lower()
                    in ("quoted-printable", "base64") for p in (text, html_part)),
            [(p.get_content_type(), p.get_content_charset(), p.get("Content-Transfer-Encoding")) for p in msg.walk()])
    t.check(f"{what}: headers are 7-bit (RFC 2047 words), no line over 998 octets", all(b < 128 for b in head) and ok_lines,
            head[:600])
    date = msg.get("Date")
    try:
        when = email.utils.parsedate_to_datetime(str(date))
        if when.tzinfo is None:  # "-0000": UTC, of unknown local time
            when = when.replace(tzinfo=datetime.timezone.utc)
        recent = abs((datetime.datetime.now(datetime.timezone.utc) - when).total_seconds()) < 600
    except (TypeError, ValueError):
        recent = False
    t.check(f"{what}: Date is now, MIME-Version 1.0, a Message-ID",
            recent and str(msg.get("MIME-Version", "")).strip() == "1.0"
            and re.fullmatch(r"<[^<>@\s]+@[^<>@\s]+>", str(msg.get("Message-ID", "")).strip()) is not None,
            (date, msg.get("MIME-Version"), msg.get("Message-ID")))
    lu = str(msg.get("List-Unsubscribe", ""))
    links = re.findall(r"<([^>]+)>", lu)
    http_links = [x for x in links if x.startswith(public_url + "/unsubscribe/")]
    t.check(f"{what}: List-Unsubscribe has an https link under --public-url and a mailto; List-Unsubscribe-Post one-click",
            len(http_links) == 1 and any(x.startswith("mailto:") for x in links)
            and str(msg.get("List-Unsubscribe-Post", "")).strip() == "List-Unsubscribe=One-Click", (lu, msg.get("List-Unsubscribe-Post")))
    body_text = text.get_content() if text is not None else ""
    t.check(f"{what}: the footer's unsubscribe link is a working one (under --public-url)",
            (public_url + "/unsubscribe/") in body_text, body_text[-600:])
    return http_links[0] if http_links else None


# ---- part 1: seed 000 and seed 004 e-mails, Slack posts, unsubscribe, bounce ------------------

PEOPLE = {
    "cz-jiri": {"contact": {"email": "jiri.cermak@example.cz", "first_name": "Jiří", "last_name": "Čermák", "locale": "cs",
                            "owner": OWNER, "attributes": {"slack_user_id": "U024BE7LH"}},
                "score": 3, "comment": "Doprava trvala tři týdny a krabice byla rozbitá. Příliš žluťoučký kůň úpěl ďábelské ódy."},
    "pl-lukasz": {"contact": {"email": "lukasz.zolkiewski@example.pl", "first_name": "Łukasz", "last_name": "Żółkiewski",
                              "locale": "pl", "owner": OWNER, "vip": True, "attributes": {"slack_user_id": "U07QWERTY1"}},
                  "score": 0, "comment": "Zażółć gęślą jaźń – przesyłka dotarła uszkodzona, nikt nie odpisał."},
    "he-sara": {"contact": {"email": "sara.cohen@example.co.il", "first_name": "שרה", "last_name": "כהן", "locale": "he"},
                "score": 5, "comment": "המשלוח הגיע באיחור של שבועיים"},
    "en-emma": {"contact": {"email": "emma.brown@example.com", "first_name": "Emma", "last_name": "Brown", "locale": "en",
                            "owner": OWNER}, "score": 10, "comment": "Great tent. " * 400},  # 4,800 characters
    "en-paul": {"contact": {"email": "paul.green@example.com", "first_name": "Paul", "last_name": "Green", "locale": "en"},
                "score": 8, "comment": None},
}
# (contact, node) -> template, for every e-mail the two scenarios send these five answers.
EXPECTED_MAIL = {
    ("cz-jiri", "mail_voucher"): "nps-apology-voucher", ("cz-jiri", "mail_reminder"): "voucher-reminder",
    ("cz-jiri", "mail_detractor"): "nps-detractor-meeting",
    ("pl-lukasz", "mail_voucher"): "nps-apology-voucher", ("pl-lukasz", "mail_reminder"): "voucher-reminder",
    ("pl-lukasz", "mail_exec"): "nps-detractor-meeting-exec",
    ("he-sara", "mail_voucher"): "nps-apology-voucher", ("he-sara", "mail_reminder"): "voucher-reminder",
    ("he-sara", "mail_detractor"): "nps-detractor-meeting",
    ("en-emma", "mail_promoter"): "nps-promoter-review", ("en-paul", "mail_passive"): "nps-passive-thanks",
}
BANDS = {0: "detractor", 3: "detractor", 5: "detractor", 8: "passive", 10: "promoter"}


def node_of(key):
    return key.rsplit("/", 1)[-1]


def part_mail(tmp):
    smtp = SmtpPeer(os.path.join(tmp, "smtp-mail"), reject=["bounce@example.cz"])
    hooks = HttpPeer().start()
    # The caps are raised here: this part checks content, unsubscribes and bounces, and each
    # contact gets several marketing e-mails at once; the cap has its own part.
    s = serve(tmp, "mail", smtp=smtp, extra=["--cap-per-day", "100", "--cap-per-week", "100"])
    try:
        secrets = {"slack-nps": create_endpoint(s, "slack-nps", "slack", hooks.url + "/slack/nps"),
                   "slack-vip": create_endpoint(s, "slack-vip", "slack", hooks.url + "/slack/vip")}
        # A voucher valid 10 days: the recovery run's wait (expiry - 10 days) ends at once, so
        # the reminder with its countdown is sent now too.
        install_assets(s, campaign_valid_for="P10D")
        bands = load("scenarios", "nps-score-bands.json")
        by_id = {n["id"]: n for n in bands["nodes"]}
        t.check("the shipped score-band scenario names its endpoints (slack-nps, slack-vip), no URL or secret",
                by_id["post_team"]["params"].get("endpoint") == "slack-nps" and by_id["post_vip"]["params"].get("endpoint") == "slack-vip"
                and not any("url_secret" in n.get("params", {}) for n in bands["nodes"]), [by_id["post_team"]["params"]])
        activate(s, load("scenarios", "nps-recovery.json"))
        activate(s, bands)
        for cid, p in PEOPLE.items():
            put_contact(s, cid, **p["contact"])
        answers = [{"id": f"nps-{cid}", "type": "nps_response", "contact": cid,
                    "data": dict({"score": p["score"]}, **({"comment": p["comment"]} if p["comment"] else {}))}
                   for cid, p in PEOPLE.items()]
        post_events(s, answers, "five NPS answers")

        es = wait_for(settled(s, set(PEOPLE), "send_email", len(EXPECTED_MAIL)), 40) or entries_of(s, set(PEOPLE), "send_email")
        by_key = {e["key"]: e for e in es}
        got = {(e.get("contact"), node_of(e["key"])): e for e in es}
        t.check("the outbox: one e-mail per branch taken (voucher, reminder, band mail...), all sent",
                set(got) == set(EXPECTED_MAIL) and all(e.get("status") == "sent" for e in es)
                and all(got[k]["params"].get("template") == v for k, v in EXPECTED_MAIL.items() if k in got),
                sorted((c, n, e.get("status"), e.get("last_error")) for (c, n), e in got.items()))
        msgs = wait_for(lambda: (lambda ms: ms if len(ms) >= len(EXPECTED_MAIL) else None)(smtp.messages()), 10) or smtp.messages()
        keys = [m["key"] for m in msgs]
        t.check("the SMTP server received each of them once (counted by X-Closeloop-Effect = the effect key)",
                sorted(keys) == sorted(by_key) and len(set(keys)) == len(keys), (sorted(keys), sorted(by_key)))
        t.check("Message-IDs are distinct", msgs and len({str(m["msg"].get("Message-ID")) for m in msgs}) == len(msgs))
        vouchers = {}
        for v in get(s, "/api/v1/vouchers?limit=1000").get("vouchers", []):
            vouchers[v["contact"]] = v

        for m in msgs:
            e = by_key.get(m["key"])
            if not e:
                continue
            cid, node = e["contact"], node_of(e["key"])
            p, c = PEOPLE[cid], PEOPLE[cid]["contact"]
            what = f"{cid} {node}"
            msg = m["msg"]
            check_mime(what, m, s.public_url)
            text, html_part = parts_of(msg)
            body, page = (text.get_content() if text else ""), (html_part.get_content() if html_part else "")
            to = msg.get_all("To", [])
            to_addrs = email.utils.getaddresses([str(x) for x in to])
            names_ok = all(name in ("", f"{c['first_name']} {c['last_name']}") for name, _ in to_addrs)
            t.check(f"{what}: To is the contact ({c['email']}), its display name (if any) decoded intact",
                    [a for _, a in to_addrs] == [c["email"]] and names_ok, to)
            cc = [a for _, a in email.utils.getaddresses([str(x) for x in msg.get_all("Cc", [])])]
            wants_cc = node in ("mail_detractor", "mail_exec") and c.get("owner")
            t.check(f"{what}: Cc {'the owner' if wants_cc else 'nobody'}; the envelope has every recipient",
                    cc == ([OWNER] if wants_cc else []) and sorted(m["envelope"]["rcpt_tos"]) == sorted([c["email"]] + cc),
                    (cc, m["envelope"]))
            sender = msg["From"].addresses[0] if msg["From"] is not None and msg["From"].addresses else None
            want_from = CEO if node == "mail_exec" else CARE
            t.check(f"{what}: From {want_from[0]} <{want_from[1]}>",
                    sender is not None and (sender.display_name, sender.addr_spec) == want_from, str(msg["From"]))
            t.check(f"{what}: the first name in both parts; the comment too (diacritics intact)",
                    c["first_name"] in body and c["first_name"] in page
                    and (not p["comment"] or node not in ("mail_voucher",) or (p["comment"] in body and html.escape(p["comment"], quote=False) in page)),
                    body[:800])
            subject = str(msg.get("Subject", ""))
            v = vouchers.get(cid, {})
            fn = c["first_name"]
            if node == "mail_voucher":
                want = f"Omlouváme se, {fn} – posíláme Vám 20 EUR" if c["locale"] == "cs" else f"We are sorry, {fn} - here is 20 EUR from us"
                t.check(f"{what}: subject {want!r} (RFC 2047, decoded intact)", subject == want, subject)
                dates = [date_cs(v["expires_at"])] if c["locale"] == "cs" and v else (date_any(v["expires_at"]) if v else ["?"])
                t.check(f"{what}: the voucher code and its expiry in both parts",
                        v and v["code"] in body and v["code"] in page and any(d in body for d in dates) and any(d in page for d in dates),
                        (v, body[:1500]))
            elif node == "mail_reminder":
                if c["locale"] == "cs":
                    want_subject = f"Váš voucher na 20 EUR platí jen do {date_cs(v['expires_at'])}" if v else "?"
                    countdown = "Zbývá už jen 10 dní" in body and "Počet zbývajících dní: 10" in body
                else:
                    want_subject = f"Your 20 EUR voucher expires on {date_en(v['expires_at'])}" if v else "?"
                    countdown = "There are only 10 days left" in body and "Days left: 10" in body
                t.check(f"{what}: subject {want_subject!r}", subject == want_subject or (c["locale"] != "cs" and v and any(
                    subject == f"Your 20 EUR voucher expires on {d}" for d in date_any(v["expires_at"]))), subject)
                t.check(f"{what}: the countdown (10 days left), the code in both parts",
                        countdown and re.search(r">\s*10\s*<", page) is not None and v and v["code"] in body and v["code"] in page,
                        body[:1200])
            elif node == "mail_detractor":
                want = f"{fn}, omlouváme se – můžeme se sejít?" if c["locale"] == "cs" else f"{fn}, we are sorry - can we meet?"
                t.check(f"{what}: subject {want!r}", subject == want, subject)
            elif node == "mail_exec":
                want = f"{fn}, I would like to hear from you personally"
                t.check(f"{what}: subject {want!r}", subject == want, subject)
            elif node == "mail_promoter":
                t.check(f"{what}: subject", subject == f"Thank you, {fn}! Would you tell others?", subject)
            elif node == "mail_passive":
                t.check(f"{what}: subject", subject == "Thank you for your rating - may we ask you something?", subject)
        # A subject with letters beyond ASCII (the name) must travel as UTF-8 encoded words; an
        # all-ASCII one (the reminder, in the fallback locale) needs none.
        subjects = [(re.search(rb"^Subject:(.*(?:\r?\n[ \t].*)*)", m["raw"], re.M | re.I), str(m["msg"].get("Subject", "")))
                    for m in msgs if by_key.get(m["key"], {}).get("contact") in ("he-sara", "pl-lukasz")]
        non_ascii = [(raw, decoded) for raw, decoded in subjects if not decoded.isascii()]
        t.check("RFC 2047: the raw Subject of the Hebrew and Polish mails is UTF-8 encoded words where it is not ASCII",
                len(subjects) == 6 and len(non_ascii) >= 4
                and all(raw and b"=?utf-8?" in raw.group(1).lower() for raw, _ in non_ascii),
                [(raw and raw.group(1)[:120], decoded) for raw, decoded in subjects])

        # ---- Slack (seed 004): every answer to #nps, the VIP's also to #nps-vip ---------------
        posts = hooks.wait_for(lambda rs: [r for r in rs if r["path"] == "/slack/nps"] if
                               len({r["headers"].get("webhook-id") for r in rs if r["path"] == "/slack/nps"}) >= len(PEOPLE) else None, 30) or hooks.requests("/slack/nps")
        hook_entries = {e["key"]: e for e in entries_of(s, set(PEOPLE), "webhook")}
        ids = [r["headers"].get("webhook-id") for r in posts]
        t.check("Slack #nps: one post per answer, each webhook-id an effect key",
                len(set(ids)) == len(PEOPLE) and set(ids) <= set(hook_entries), (ids, sorted(hook_entries)))
        results = verify([(secrets["slack-nps"], signed(r), r["body"]) for r in posts])
        t.check("Slack posts: Content-Type JSON; signatures verified by standardwebhooks",
                all(r["headers"].get("content-type", "").startswith("application/json") for r in posts)
                and results and all(x == "ok" for x in results), results)
        for r in posts:
            e = hook_entries.get(r["headers"].get("webhook-id"), {})
            cid = e.get("contact")
            if cid not in PEOPLE:
                continue
            p, c = PEOPLE[cid], PEOPLE[cid]["contact"]
            b = json_body(r) or {}
            blocks = b.get("blocks") if isinstance(b.get("blocks"), list) else []
            every = (b.get("text") or "") + json.dumps(blocks, ensure_ascii=False)
            sections = [x for x in blocks if isinstance(x, dict) and x.get("type") == "section"]
            texts = [x.get("text", {}).get("text", "") for x in sections if isinstance(x.get("text"), dict)]
            texts += [f.get("text", "") for x in sections for f in x.get("fields", []) if isinstance(f, dict)]
            t.check(f"Slack post for {cid}: text and Block Kit blocks (<= 50, sections <= 3,000 characters)",
                    isinstance(b.get("text"), str) and b["text"] and 0 < len(blocks) <= 50 and sections
                    and all(len(x) <= 3000 for x in texts), [len(x) for x in texts])
            comment_ok = (p["comment"] or "(no comment)")[:200] in every
            t.check(f"Slack post for {cid}: the message, score, band {BANDS[p['score']]!r}, comment",
                    f"NPS {p['score']} from {c['first_name']} {c['last_name']}" in every
                    and BANDS[p["score"]] in every.lower() and comment_ok, every[:1500])
            slack_id = c.get("attributes", {}).get("slack_user_id")
            t.check(f"Slack post for {cid}: " + (f"mentions the owner <@{slack_id}>" if slack_id else "mentions nobody"),
                    (f"<@{slack_id}>" in every) if slack_id else "<@" not in every, every[:1500])
            t.check(f"Slack post for {cid}: a link to the contact (under --public-url)", s.public_url in every, every[:1500])
        vip = hooks.wait_for(lambda rs: [r for r in rs if r["path"] == "/slack/vip"], 15) or []
        vip_text = json.dumps(json_body(vip[0]) if vip else {}, ensure_ascii=False)
        t.check("Slack #nps-vip: one post, the VIP's (Łukasz), signed with its own endpoint's secret",
                len(vip) == 1 and "Łukasz" in vip_text and "VIP" in vip_text
                and verify([(secrets["slack-vip"], signed(vip[0]), vip[0]["body"])]) == ["ok"], vip_text[:600])

        # ---- unsubscribe: a GET shows a page, a one-click POST unsubscribes -----------------------
        put_contact(s, "unsub", email="eva.novakova@example.cz", first_name="Eva", last_name="Nováková", locale="cs")

        def answer_and_settle(event_id, cid, score, count):
            post_events(s, [{"id": event_id, "type": "nps_response", "contact": cid, "data": {"score": score}}], f"answer {event_id}")
            return wait_for(settled(s, {cid}, "send_email", count), 20) or entries_of(s, {cid}, "send_email")

        def received(key):
            return wait_for(lambda: [m for m in smtp.messages() if m["key"] == key], 10) or []

        first = answer_and_settle("nps-unsub-1", "unsub", 9, 1)
        m1 = received(first[0]["key"]) if first else []
        link = check_mime("unsub's promoter mail", m1[0], s.public_url) if m1 else None
        t.check("unsub: the first marketing e-mail arrives with its unsubscribe link", bool(m1 and link), first)
        if link:
            path = urllib.parse.urlparse(link).path
            st, hdrs, page = s.request("GET", path, key=None)
            t.check("GET of the unsubscribe link (a link scanner): 200, an HTML page with a confirm button that POSTs",
                    st == 200 and hdrs.get("Content-Type", "").startswith("text/html") and isinstance(page, str)
                    and re.search(r"<form[^>]*method=[\"']?post", page, re.I) is not None
                    and re.search(r"<button|type=[\"']?submit", page, re.I) is not None, (st, str(page)[:600]))
            second = answer_and_settle("nps-unsub-2", "unsub", 10, 2)
            new = [e for e in second if e["key"] != first[0]["key"]]
            t.check("... and it did not unsubscribe: the next marketing e-mail is sent and arrives",
                    len(new) == 1 and new[0]["status"] == "sent" and received(new[0]["key"]), second)
            forged = path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB")
            st, _, _ = s.request("POST", forged, body="List-Unsubscribe=One-Click", key=None,
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
            t.check("a POST with a tampered token unsubscribes nobody (4xx)", 400 <= st < 500, st)
            st, _, reply = s.request("POST", path, body="List-Unsubscribe=One-Click", key=None,
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
            t.check("one-click POST (RFC 8058): 200 at once", st == 200, (st, str(reply)[:300]))
            third = answer_and_settle("nps-unsub-3", "unsub", 9, 3)
            new = [e for e in third if e["key"] not in {x["key"] for x in second}]
            e = new[0] if new else {}
            t.check("after the unsubscribe the next marketing e-mail is suppressed, the reason says unsubscribed",
                    e.get("status") == "suppressed" and mentions(e.get("last_error"), "unsubscrib"), new)
            status, delivery = run_effect(s, e) if e else (None, {})
            t.check("... visible on the run (GET /runs/{id}: the effect's delivery)",
                    status == "suppressed" and delivery.get("status") == "suppressed" and mentions(delivery.get("last_error"), "unsubscrib"),
                    (status, delivery))
            listed = [x["key"] for x in outbox(s, status="suppressed", kind="send_email")]
            t.check("... and in GET /outbox?status=suppressed", e.get("key") in listed, listed)
            t.check("... and nothing reached the SMTP server for it", not [m for m in smtp.messages() if m["key"] == e.get("key")])
            # The mail that was written before the unsubscribe still counted: nothing else went to Eva.
            t.check("Eva got exactly the two e-mails sent before she unsubscribed",
                    len([m for m in smtp.messages() if "eva.novakova@example.cz" in m["envelope"]["rcpt_tos"]]) == 2)

        # ---- a permanent SMTP rejection: bounced, then suppressed -------------------------------------
        put_contact(s, "bouncer", email="bounce@example.cz", first_name="Bohdana", locale="cs")
        first = answer_and_settle("nps-bounce-1", "bouncer", 9, 1)
        e = first[0] if first else {}
        t.check("550 at RCPT: the e-mail is not retried (one attempt), it is dead or suppressed with the reason",
                e.get("status") in ("dead", "suppressed") and len(attempts_of(e)) == 1
                and mentions(e.get("last_error"), "550", "no such user", "bounce"), e)
        second = answer_and_settle("nps-bounce-2", "bouncer", 10, 2)
        new = [x for x in second if x["key"] != e.get("key")]
        n = new[0] if new else {}
        t.check("the next e-mail to the bounced address is suppressed (reason: bounced), never tried",
                n.get("status") == "suppressed" and mentions(n.get("last_error"), "bounce") and not attempts_of(n), new)
        rejected = [x for x in smtp.log() if x["event"] == "rcpt_rejected"]
        t.check("the SMTP server saw the bounced address once", len(rejected) == 1, rejected)

        total = len(smtp.messages())
        t.check(f"SMTP connections are reused ({smtp.connections()} connections for {total} messages)",
                0 < smtp.connections() < total, (smtp.connections(), total))
        ms = metrics(s)
        t.check("/metrics: no e-mail pending, e-mail attempts counted",
                any(k[0] == "closeloop_outbox_depth" for k in ms)
                and (metric(ms, "closeloop_outbox_depth", kind="send_email", status="pending") or 0) == 0
                and total > 0 and (metric(ms, "closeloop_delivery_attempts_total", kind="send_email") or 0) >= total,
                {k: v for k, v in ms.items() if "outbox" in k[0] or "delivery" in k[0]})
    finally:
        stop(s, "mail")
        smtp.stop()
        hooks.stop()


# ---- part 2: the frequency cap across scenarios; SMTP 451 then accept -------------------------

def part_cap(tmp):
    smtp = SmtpPeer(os.path.join(tmp, "smtp-cap"), fail_first=1)
    hooks = HttpPeer().start()
    s = serve(tmp, "cap", smtp=smtp, extra=["--cap-per-day", "1", "--cap-per-week", "3"])
    try:
        create_endpoint(s, "slack-nps", "slack", hooks.url + "/slack/nps")
        create_endpoint(s, "slack-vip", "slack", hooks.url + "/slack/vip")
        install_assets(s)
        activate(s, load("scenarios", "nps-recovery.json"))
        activate(s, load("scenarios", "nps-score-bands.json"))
        put_contact(s, "cap-1", email="karolina.dvorakova@example.cz", first_name="Karolína", last_name="Dvořáková",
                    locale="cs", owner=OWNER)
        post_events(s, [{"id": "nps-cap-1", "type": "nps_response", "contact": "cap-1", "data": {"score": 4, "comment": "Pomalé."}}],
                    "a detractor's answer, with both scenarios active")
        es = wait_for(settled(s, {"cap-1"}, "send_email", 2), 20) or entries_of(s, {"cap-1"}, "send_email")
        sent = [e for e in es if e.get("status") == "sent"]
        capped = [e for e in es if e.get("status") == "suppressed"]
        t.check("two apology e-mails written (recovery's voucher mail, score band's meeting mail)",
                sorted(e["params"].get("template") for e in es) == ["nps-apology-voucher", "nps-detractor-meeting"], es)
        t.check("the cap (1 a day): one is sent, the other suppressed with a reason starting 'frequency cap'",
                len(sent) == 1 and len(capped) == 1 and str(capped[0].get("last_error", "")).lower().startswith("frequency cap"),
                [(e["params"].get("template"), e.get("status"), e.get("last_error")) for e in es])
        if capped:
            status, delivery = run_effect(s, capped[0])
            t.check("... the suppressed one is visible on its run with the reason", status == "suppressed"
                    and str(delivery.get("last_error", "")).lower().startswith("frequency cap"), (status, delivery))
        got = wait_for(lambda: smtp.messages() or None, 10) or []
        t.check("the detractor received ONE e-mail", len(got) == 1 and "karolina.dvorakova@example.cz" in got[0]["envelope"]["rcpt_tos"],
                [m["envelope"] for m in got])
        # The one sent met a 451 first (--fail-first 1) and went through on the retry.
        if sent and got:
            e = sent[0]
            log = attempts_of(e)
            refused = smtp.refused()
            t.check("SMTP 451: the e-mail was retried and sent; two attempts recorded, the first failed with 451",
                    len(log) == 2 and log[0].get("ok") is False and log[1].get("ok") is True
                    and (log[0].get("status_code") == 451 or "451" in json.dumps(log[0])), log)
            times = {x["event"]: x["at"] for x in smtp.log() if x["event"] in ("data_failed", "data_ok")}
            t.check("... not at once: the retry came after the schedule's 1 s",
                    "data_failed" in times and "data_ok" in times and times["data_ok"] - times["data_failed"] >= 0.8, times)
            t.check("... with the same Message-ID and effect key as the refused try (a receiver can drop a repeat)",
                    len(refused) == 1 and str(refused[0].get("Message-ID")) == str(got[0]["msg"].get("Message-ID"))
                    and str(refused[0].get("X-Closeloop-Effect")) == got[0]["key"] == e["key"],
                    [(str(x.get("Message-ID")), str(x.get("X-Closeloop-Effect"))) for x in refused] + [got[0]["key"]])
    finally:
        stop(s, "cap")
        smtp.stop()
        hooks.stop()


# ---- part 3: webhooks: the endpoint API, Teams and generic payloads, faults, rotation -----------

def part_webhooks(tmp):
    hooks = HttpPeer().start()
    down = HttpPeer()  # not started: connection refused until it is
    s = serve(tmp, "webhooks")
    try:
        # ---- the endpoint API ----
        st, _, body = s.request("POST", "/api/v1/endpoints", {"id": "teams", "name": "Care team (Teams)", "kind": "teams",
                                                             "url": hooks.url + "/teams"})
        t.check("POST /endpoints: 201 with id, name, kind, url, enabled, created_at and the secret (whsec_)",
                st == 201 and isinstance(body, dict) and body.get("enabled") is True and body.get("created_at")
                and str(body.get("secret", "")).startswith("whsec_") and body.get("name") == "Care team (Teams)", body)
        secrets = {"teams": body.get("secret", "") if isinstance(body, dict) else ""}
        for eid in ("generic", "flaky", "busy", "slow", "gone", "rot", "tmp"):
            secrets[eid] = create_endpoint(s, eid, "generic", hooks.url + "/" + eid)
        secrets["down"] = create_endpoint(s, "down", "generic", down.url + "/down")
        st, _, body = s.request("POST", "/api/v1/endpoints", {"id": "generic", "name": "again", "kind": "generic", "url": hooks.url + "/x"})
        t.check("the same id again: 409", st == 409 and is_error_json(body, st), body)
        st, _, body = s.request("POST", "/api/v1/endpoints", {"id": "bad", "name": "bad", "kind": "discord", "url": hooks.url + "/x"})
        t.check("an unknown kind: 422 naming kind", st == 422 and is_error_json(body, st) and body["error"]["field"] == "kind", body)
        for url in ("http://169.254.169.254/latest/meta-data/", "http://169.254.170.2/v2/credentials",
                    "http://[::ffff:169.254.169.254]/", "ftp://127.0.0.1/x", "not a url"):
            st, _, body = s.request("POST", "/api/v1/endpoints", {"id": "meta", "name": "m", "kind": "generic", "url": url})
            t.check(f"refused even with --allow-private-endpoints: {url} (422 naming url)",
                    st == 422 and is_error_json(body, st) and body["error"]["field"] == "url", (st, body))
        st, _, listing = s.request("GET", "/api/v1/endpoints")
        eps = listing.get("endpoints", []) if isinstance(listing, dict) else []
        t.check("GET /endpoints: all nine, none with its secret",
                st == 200 and len(eps) == 9 and not any("secret" in e for e in eps)
                and all({"id", "name", "kind", "url", "enabled", "disabled_reason", "created_at"} <= set(e) for e in eps), listing)
        st, _, one = s.request("GET", "/api/v1/endpoints/teams")
        t.check("GET /endpoints/{id}: the endpoint without its secret", st == 200 and one.get("kind") == "teams"
                and "secret" not in one and one.get("disabled_reason") is None, one)
        st, _, one = s.request("PUT", "/api/v1/endpoints/generic", {"name": "Helpdesk"})
        st2, _, again = s.request("GET", "/api/v1/endpoints/generic")
        t.check("PUT /endpoints/{id} {name}: renamed, the rest kept", st == 200 and st2 == 200 and again.get("name") == "Helpdesk"
                and again.get("url") == hooks.url + "/generic" and "secret" not in again, (one, again))
        st, _, _ = s.request("DELETE", "/api/v1/endpoints/tmp")
        st2, _, body = s.request("GET", "/api/v1/endpoints/tmp")
        t.check("DELETE /endpoints/{id}: 204, then 404", st == 204 and st2 == 404 and is_error_json(body, st2), (st, st2, body))

        activate(s, hook_scenario("channels", "complaint", [
            ("to_teams", "teams", "Complaint from {{contact.first_name}} {{contact.last_name}}: {{event.data.comment}}"),
            ("to_generic", "generic", "Complaint from {{contact.first_name}} {{contact.last_name}}: {{event.data.comment}}")]))
        for eid in ("flaky", "busy", "slow", "gone", "down", "rot"):
            activate(s, hook_scenario(f"hook-{eid}", f"ping_{eid}", [("post", eid, "ping {{contact.id}}")]))

        hooks.script("/flaky", [500, 500])
        hooks.script("/busy", [{"status": 429, "headers": {"Retry-After": "3"}}])  # longer than the schedule's 1 s
        hooks.script("/slow", [{"delay": TIMEOUT_MS / 1000 + 1.5}])
        hooks.script("/gone", [], then=410)
        comment = "Lžíce byla ohnutá, vidlička chyběla"
        events = [{"id": "complaint-1", "type": "complaint", "contact": {"id": "w-zdenek", "email": "zdenek@example.cz",
                                                                           "first_name": "Zdeněk", "last_name": "Šťastný"},
                   "data": {"comment": comment}}]
        for eid in ("flaky", "busy", "slow", "gone"):
            events.append({"id": f"ping-{eid}", "type": f"ping_{eid}", "contact": {"id": f"w-{eid}"}, "data": {}})
        for i in range(3):
            events.append({"id": f"ping-down-{i}", "type": "ping_down", "contact": {"id": f"w-down-{i}"}, "data": {}})
        post_events(s, events, "events for the webhook scenarios")
        es = wait_for(lambda: (lambda xs: xs if len(xs) >= 9 and all(x.get("status") in TERMINAL for x in xs) else None)(
            entries_of(s, kind="webhook")), 40) or entries_of(s, kind="webhook")
        by_contact = {}
        for e in es:
            by_contact.setdefault(e.get("contact"), []).append(e)

        # ---- Teams and generic payloads ----
        teams, generic = hooks.requests("/teams"), hooks.requests("/generic")
        tb = json_body(teams[0]) if teams else {}
        att = (tb or {}).get("attachments") or [{}]
        t.check("Teams: the Workflows payload (message, one Adaptive Card attachment)",
                len(teams) == 1 and tb.get("type") == "message" and len(att) == 1
                and att[0].get("contentType") == "application/vnd.microsoft.card.adaptive"
                and isinstance(att[0].get("content"), dict) and att[0]["content"].get("type") == "AdaptiveCard"
                and isinstance(att[0]["content"].get("body"), list) and att[0]["content"].get("version"), tb)
        t.check("Teams: the card carries the rendered message", f"Complaint from Zdeněk Šťastný: {comment}"
                in json.dumps(tb, ensure_ascii=False), tb)
        gb = json_body(generic[0]) if generic else {}
        ge = next((e for e in by_contact.get("w-zdenek", []) if node_of(e["key"]) == "to_generic"), {})
        t.check("generic: type closeloop.webhook, key = webhook-id = the effect key, scenario, run, message, contact, event",
                len(generic) == 1 and gb.get("type") == "closeloop.webhook" and gb.get("key") == generic[0]["headers"].get("webhook-id") == ge.get("key")
                and gb.get("scenario") == "channels" and gb.get("run") == ge.get("run_id")
                and gb.get("message") == f"Complaint from Zdeněk Šťastný: {comment}"
                and (gb.get("contact") or {}).get("id") == "w-zdenek" and (gb.get("contact") or {}).get("email") == "zdenek@example.cz"
                and (gb.get("event") or {}).get("type") == "complaint" and ((gb.get("event") or {}).get("data") or {}).get("comment") == comment,
                gb)
        everything = hooks.requests()
        now = time.time()
        t.check("every webhook POST: JSON, webhook-id, a current webhook-timestamp, v1 signatures",
                everything and all(r["headers"].get("content-type", "").startswith("application/json") and r["headers"].get("webhook-id")
                                   and re.fullmatch(r"\d{10}", r["headers"].get("webhook-timestamp", ""))
                                   and abs(int(r["headers"]["webhook-timestamp"]) - now) < 300
                                   and re.fullmatch(r"v1,\S+( v1,\S+)*", r["headers"].get("webhook-signature", "")) for r in everything),
                [r["headers"] for r in everything][:3])
        ep_of_path = lambda path: path.strip("/").split("/")[0]
        results = verify([(secrets.get(ep_of_path(r["path"]), ""), signed(r), r["body"]) for r in everything])
        t.check(f"all {len(everything)} signatures verified by standardwebhooks (Teams, generic, retries)",
                everything and all(x == "ok" for x in results), results)
        if generic:
            r = generic[0]
            bad = verify([(secrets["generic"], signed(r), r["body"].replace("Zdeněk", "Zdenek")),
                          (secrets["teams"], signed(r), r["body"]),
                          (secrets["generic"], dict(signed(r), **{"webhook-id": "forged"}), r["body"])])
            t.check("a changed body, another endpoint's secret or another webhook-id fail verification",
                    all(x.startswith("fail") for x in bad), bad)

        def one(eid):
            xs = by_contact.get(f"w-{eid}", [])
            return xs[0] if xs else {}

        # ---- the receiver fails the first two ----
        flaky, e = hooks.requests("/flaky"), one("flaky")
        log = attempts_of(e)
        t.check("fails twice with 500, then 200: sent after 3 attempts, each recorded with its status code",
                e.get("status") == "sent" and e.get("attempts") == 3 and [x.get("ok") for x in log] == [False, False, True]
                and [x.get("status_code") for x in log] == [500, 500, 200]
                and all(isinstance(x.get("duration_ms"), (int, float)) and x.get("at") for x in log), e)
        t.check("... the receiver saw the same webhook-id three times, retries spaced by the schedule (~1 s)",
                len(flaky) == 3 and len({r["headers"].get("webhook-id") for r in flaky}) == 1
                and all(b["at"] - a["at"] >= 0.8 for a, b in zip(flaky, flaky[1:])), [r["at"] for r in flaky])
        # ---- 429 with Retry-After ----
        busy, e = hooks.requests("/busy"), one("busy")
        t.check("429 + Retry-After: 3: the next attempt not before 3 s (the schedule alone says 1 s)",
                e.get("status") == "sent" and len(busy) == 2 and busy[1]["at"] - busy[0]["at"] >= 2.9
                and attempts_of(e)[0].get("status_code") == 429, ([r["at"] for r in busy], e))
        # ---- slower than the timeout ----
        slow, e = hooks.requests("/slow"), one("slow")
        log = attempts_of(e)
        t.check(f"an answer slower than {TIMEOUT_MS} ms: the attempt times out (about {TIMEOUT_MS} ms, error says so), the retry is sent",
                e.get("status") == "sent" and len(log) == 2 and log[0].get("ok") is False
                and mentions(json.dumps(log[0]), "timeout", "timed out")
                and TIMEOUT_MS * 0.9 <= (log[0].get("duration_ms") or 0) <= TIMEOUT_MS + 1200 and len(slow) == 2
                and slow[0]["headers"].get("webhook-id") == slow[1]["headers"].get("webhook-id"), e)
        # ---- 410: the endpoint is disabled ----
        e = one("gone")
        st, _, ep = s.request("GET", "/api/v1/endpoints/gone")
        t.check("410: one attempt, dead with the reason, the endpoint disabled with the reason",
                e.get("status") == "dead" and len(attempts_of(e)) == 1 and mentions(e.get("last_error"), "410")
                and ep.get("enabled") is False and mentions(ep.get("disabled_reason"), "410"), (e, ep))
        # ---- the receiver is down: every attempt refused, dead after the schedule ----
        dead = [x for x in es if x.get("contact", "").startswith("w-down-")]
        t.check(f"receiver down: the 3 effects are dead after {ATTEMPTS} attempts, each attempt's error recorded",
                len(dead) == 3 and all(x.get("status") == "dead" and len(attempts_of(x)) == ATTEMPTS
                                       and all(a.get("ok") is False and (a.get("error") or a.get("detail")) for a in attempts_of(x))
                                       for x in dead), dead)
        listed = {x["key"] for x in outbox(s, status="dead", kind="webhook")}
        t.check("GET /outbox?status=dead lists the dead letters (down x3, gone)",
                listed == {x["key"] for x in dead} | {one("gone").get("key")}, listed)
        ms = metrics(s)
        t.check("/metrics: closeloop_outbox_dead{kind=webhook} = 4, failures counted",
                metric(ms, "closeloop_outbox_dead", kind="webhook") == 4
                and (metric(ms, "closeloop_delivery_failures_total", kind="webhook") or 0) >= 3 * ATTEMPTS + 2 + 1 + 1 + 1,
                {k: v for k, v in ms.items() if "outbox" in k[0] or "delivery" in k[0]})

        # ---- while disabled, a new effect for the 410 endpoint is held dead, not sent ----
        post_events(s, [{"id": "ping-gone-2", "type": "ping_gone", "contact": {"id": "w-gone"}, "data": {}}], "another ping to the disabled endpoint")
        gone = wait_for(lambda: (lambda xs: xs if len(xs) == 2 and all(x.get("status") in TERMINAL for x in xs) else None)(
            entries_of(s, {"w-gone"}, "webhook")), 15) or []
        t.check("a disabled endpoint's new effect is dead with the reason, the receiver not called",
                len(gone) == 2 and all(x.get("status") == "dead" for x in gone) and len(hooks.requests("/gone")) == 1, gone)
        hooks.script("/gone", [])
        st, _, ep = s.request("PUT", "/api/v1/endpoints/gone", {"enabled": True})
        t.check("PUT {enabled: true}: enabled again, no disabled_reason", st == 200 and ep.get("enabled") is True
                and ep.get("disabled_reason") is None, ep)
        st, _, body = s.request("POST", "/api/v1/endpoints/gone/retry")
        t.check("POST /endpoints/gone/retry: {retried: 2}", st == 200 and body == {"retried": 2}, body)
        ok = wait_for(lambda: (lambda xs: xs if len(xs) == 2 and all(x.get("status") == "sent" for x in xs) else None)(
            entries_of(s, {"w-gone"}, "webhook")), 15)
        t.check("... both delivered, each once", ok and len({r["headers"].get("webhook-id") for r in hooks.requests("/gone")}) == 2
                and len(hooks.requests("/gone")) == 3, hooks.requests("/gone"))

        # ---- the receiver comes back: one replayed by hand, then all the endpoint's at once ----
        down.start()
        d0 = next((x for x in dead if x.get("contact") == "w-down-0"), {})
        st, _, body = s.request("POST", f"/api/v1/outbox/{d0.get('id')}/retry")
        t.check("POST /outbox/{id}/retry of one dead letter (its numeric id): 200",
                st == 200 and isinstance(d0.get("id"), int), (d0.get("id"), st, body))
        one_sent = wait_for(lambda: [x for x in entries_of(s, {"w-down-0"}, "webhook") if x.get("status") == "sent"], 15)
        others = entries_of(s, {"w-down-1", "w-down-2"}, "webhook")
        t.check("... it is delivered; the other two stay dead until asked",
                one_sent and all(x.get("status") == "dead" for x in others) and len(down.requests("/down")) == 1, others)
        if one_sent:
            t.check("... its attempt log keeps the failed attempts (nothing dropped)",
                    len(attempts_of(one_sent[0])) == ATTEMPTS + 1 and attempts_of(one_sent[0])[-1].get("ok") is True, one_sent)
            st, _, body = s.request("POST", f"/api/v1/outbox/{one_sent[0].get('id')}/retry")
            t.check("retrying an entry that is not dead is refused (4xx)", 400 <= st < 500 and is_error_json(body, st), (st, body))
        st, _, body = s.request("POST", "/api/v1/endpoints/down/retry")
        t.check("POST /endpoints/down/retry: {retried: 2}", st == 200 and body == {"retried": 2}, body)
        ok = wait_for(lambda: (lambda xs: xs if len(xs) == 3 and all(x.get("status") == "sent" for x in xs) else None)(
            entries_of(s, {f"w-down-{i}" for i in range(3)}, "webhook")), 15)
        got = [r["headers"].get("webhook-id") for r in down.requests("/down")]
        t.check("... all three delivered, each exactly once by webhook-id",
                ok and sorted(got) == sorted(x["key"] for x in dead), (got, ok))

        # ---- rotation: the old secret still verifies for a day ----
        st, _, body = s.request("POST", "/api/v1/endpoints/rot/rotate")
        new_secret = body.get("secret", "") if isinstance(body, dict) else ""
        t.check("POST /endpoints/rot/rotate: a new whsec_ secret", st == 200 and new_secret.startswith("whsec_")
                and new_secret != secrets["rot"], body)
        post_events(s, [{"id": "ping-rot", "type": "ping_rot", "contact": {"id": "w-rot"}, "data": {}}], "a ping after the rotation")
        rot = hooks.wait_for(lambda rs: [r for r in rs if r["path"] == "/rot"], 15) or []
        if rot:
            sig = rot[0]["headers"].get("webhook-signature", "")
            res = verify([(secrets["rot"], signed(rot[0]), rot[0]["body"]), (new_secret, signed(rot[0]), rot[0]["body"]),
                          (secrets["generic"], signed(rot[0]), rot[0]["body"])])
            t.check("after a rotation: two signatures; the old and the new secret verify, another does not",
                    len(sig.split()) == 2 and res[:2] == ["ok", "ok"] and res[2].startswith("fail"), (sig, res))
        else:
            t.check("after a rotation: the ping is delivered", False)

        # ---- the figures add up ----
        time.sleep(0.3)
        es = entries_of(s, kind="webhook")
        ms = metrics(s)
        logs = [a for e in es for a in attempts_of(e)]
        t.check("/metrics: nothing pending or dead; attempts and failures = the attempt logs",
                any(k[0] == "closeloop_outbox_depth" for k in ms)
                and (metric(ms, "closeloop_outbox_depth", kind="webhook", status="pending") or 0) == 0
                and metric(ms, "closeloop_outbox_dead", kind="webhook") == 0
                and metric(ms, "closeloop_delivery_attempts_total", kind="webhook") == len(logs)
                and metric(ms, "closeloop_delivery_failures_total", kind="webhook") == len([a for a in logs if not a.get("ok")]),
                (len(logs), {k: v for k, v in ms.items() if "outbox" in k[0] or "delivery" in k[0]}))
        keys = [r["headers"].get("webhook-id") for r in hooks.requests() + down.requests()]
        t.check("every effect reached its receiver (distinct webhook-ids = the outbox's webhook entries, all sent)",
                es and set(keys) == {e["key"] for e in es} and all(e.get("status") == "sent" for e in es),
                sorted((e["key"], e.get("status")) for e in es))
    finally:
        stop(s, "webhooks")
        hooks.stop()
        down.stop()


# ---- part 4: without --allow-private-endpoints, without --smtp ----------------------------------

def part_private(tmp):
    s = serve(tmp, "private", private=False)
    try:
        for url in ("http://127.0.0.1:9/hook", "http://localhost:9/hook", "http://10.1.2.3/hook", "http://192.168.1.10/hook",
                    "http://[::1]:9/hook", "http://169.254.169.254/"):
            st, _, body = s.request("POST", "/api/v1/endpoints", {"id": "p", "name": "p", "kind": "generic", "url": url})
            t.check(f"without --allow-private-endpoints: {url} refused (422 naming url)",
                    st == 422 and is_error_json(body, st) and body["error"]["field"] == "url", (st, body))
        st, _, body = s.request("POST", "/api/v1/endpoints", {"id": "pub", "name": "p", "kind": "slack", "url": "https://93.184.215.14/services/T0/B0/x"})
        t.check("a public address is accepted", st == 201, (st, body))
        install_assets(s)
        activate(s, load("scenarios", "nps-recovery.json"))
        post_events(s, [{"id": "nps-nosmtp", "type": "nps_response", "contact": {"id": "n1", "email": "n1@example.cz"}, "data": {"score": 2}}],
                    "an answer on a server without --smtp")
        es = wait_for(lambda: [e for e in entries_of(s, {"n1"}, "send_email") if e.get("last_error")], 10) or entries_of(s, {"n1"}, "send_email")
        t.check("without --smtp the e-mail stays pending, the reason says no SMTP server is configured",
                len(es) == 1 and es[0].get("status") == "pending" and mentions(es[0].get("last_error"), "smtp"), es)
    finally:
        stop(s, "private")


# ---- part 6: DKIM signatures, checked by python3-dkim --------------------------------------------

def part_dkim(tmp):
    import dkim  # python3-dkim: a verifier that is not libopendkim, which signs
    folder = os.path.join(tmp, "dkim-keys")
    os.makedirs(folder)
    key, pub = os.path.join(folder, "dkim.pem"), os.path.join(folder, "dkim.pub")
    made = subprocess.run(f"openssl genrsa -out '{key}' 2048 && openssl rsa -in '{key}' -pubout -out '{pub}'",
                          shell=True, capture_output=True).returncode == 0
    t.check("a 2048-bit RSA key pair made with openssl", made)
    with open(pub) as f:
        p = "".join(line.strip() for line in f if not line.startswith("-----"))
    record = f"v=DKIM1; k=rsa; p={p}".encode()
    asked = []

    def dns(name, timeout=5):  # the TXT record of <selector>._domainkey.<domain>, without DNS
        asked.append(name)
        return record if name in (b"mail2025._domainkey.wylde.example.", "mail2025._domainkey.wylde.example.") else None

    # A key that cannot sign, given in a --config file (the same keys as the flags): exit 2 at
    # start, naming the file; a key without a selector and domain: exit 2.
    bad = os.path.join(folder, "bad.pem")
    with open(bad, "w") as f:
        f.write("-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n")
    config = os.path.join(folder, "bad.toml")
    with open(config, "w") as f:
        f.write(f'dkim-key = "{bad}"\ndkim-selector = "mail2025"\ndkim-domain = "wylde.example"\n')
    data = os.path.join(tmp, "dkim-bad")
    r = subprocess.run([closeloop, "--config", config, "serve", "--data", data, "--port", str(free_port())],
                       capture_output=True, text=True, timeout=20)
    t.check("a DKIM key that cannot sign (from --config): exit 2 at start, the message names the key file",
            r.returncode == 2 and "bad.pem" in r.stderr and "dkim" in r.stderr.lower(), (r.returncode, r.stderr))
    r = subprocess.run([closeloop, "serve", "--data", data, "--port", str(free_port()), "--dkim-key", key],
                       capture_output=True, text=True, timeout=20)
    t.check("--dkim-key without --dkim-selector / --dkim-domain: exit 2 naming them",
            r.returncode == 2 and "--dkim-selector" in r.stderr and "--dkim-domain" in r.stderr, (r.returncode, r.stderr))

    smtp = SmtpPeer(os.path.join(tmp, "smtp-dkim"))
    s = serve(tmp, "dkim", smtp=smtp, extra=["--dkim-key", key, "--dkim-selector", "mail2025", "--dkim-domain", "wylde.example"])
    try:
        install_assets(s)
        activate(s, load("scenarios", "nps-recovery.json"))
        put_contact(s, "dk-1", email="vojtech.rehak@example.cz", first_name="Vojtěch", last_name="Řehák", locale="cs", owner=OWNER)
        post_events(s, [{"id": "nps-dk-1", "type": "nps_response", "contact": "dk-1", "data": {"score": 2}}],
                    "a detractor's answer (recovery: the apology e-mail with a voucher)")
        got = wait_for(lambda: smtp.messages() or None, 20) or []
        t.check("one e-mail received", len(got) == 1, [m["envelope"] for m in got])
        if not got:
            return
        raw = got[0]["raw"]
        sig = str(got[0]["msg"].get("DKIM-Signature", ""))
        tags = {k.strip(): re.sub(r"\s+", "", v) for k, v in (x.split("=", 1) for x in sig.split(";") if "=" in x)}
        t.check("it carries a DKIM-Signature: rsa-sha256, relaxed/relaxed, d=wylde.example, s=mail2025",
                tags.get("a") == "rsa-sha256" and tags.get("c") == "relaxed/relaxed" and tags.get("d") == "wylde.example"
                and tags.get("s") == "mail2025", sig)
        signed_headers = tags.get("h", "").lower().split(":")
        t.check("h= covers From, To, Subject, Date, Message-ID, List-Unsubscribe and List-Unsubscribe-Post",
                all(h in signed_headers for h in ("from", "to", "subject", "date", "message-id", "list-unsubscribe",
                                                  "list-unsubscribe-post")), tags.get("h"))
        t.check("... and the message has those unsubscribe headers", got[0]["msg"].get("List-Unsubscribe")
                and str(got[0]["msg"].get("List-Unsubscribe-Post")) == "List-Unsubscribe=One-Click")
        ok = dkim.verify(raw, dnsfunc=dns)
        t.check("python3-dkim verifies the received message against the published key", ok and asked, asked)
        tampered = re.sub(rb"(?m)^Subject: ", b"Subject: Re: ", raw, count=1)
        t.check("... and refuses a copy with a changed Subject", tampered != raw and not dkim.verify(tampered, dnsfunc=dns))
        head, _, body = raw.partition(b"\r\n\r\n")  # the header's link, not the body's
        link = re.search(rb"(?m)^List-Unsubscribe: <(https?://[^>]+)>", head)
        tampered = head.replace(link.group(1), b"https://evil.example/u", 1) + b"\r\n\r\n" + body if link else raw
        t.check("... and a copy with a changed List-Unsubscribe link", link and not dkim.verify(tampered, dnsfunc=dns),
                link and link.group(0))
    finally:
        stop(s, "dkim")
        smtp.stop()


# ---- part 5: SIGKILL and SIGTERM in the middle of ~200 deliveries --------------------------------

def part_kill(tmp):
    n = 200
    hooks = HttpPeer().start()
    hooks.script("/bulk", [], then={"delay": 0.05})
    s = serve(tmp, "kill")
    try:
        secret = create_endpoint(s, "bulk", "generic", hooks.url + "/bulk")
        activate(s, hook_scenario("bulk", "bulk_ping", [("post", "bulk", "ping {{contact.id}}")]))
        post_events(s, [{"id": f"bulk-{i:03}", "type": "bulk_ping", "contact": {"id": f"k{i:03}"}, "data": {}} for i in range(n)],
                    f"{n} events, one webhook each")

        def distinct(rs):
            return {r["headers"].get("webhook-id") for r in rs if r["path"] == "/bulk"}

        hooks.wait_for(lambda rs: len(distinct(rs)) >= 40, 60)
        rc = s.kill()
        killed_at = time.time()
        seen_at_kill = distinct(hooks.requests())
        t.check(f"SIGKILL in the middle of delivery ({len(seen_at_kill)} of {n} seen)", rc == -signal.SIGKILL
                and 0 < len(seen_at_kill) < n, (rc, len(seen_at_kill)))
        time.sleep(0.2)  # a request the dying process had written may still be arriving
        t.check("restart after SIGKILL", s.start(), s.err[-1500:])
        hooks.wait_for(lambda rs: len(distinct(rs)) >= min(n, len(seen_at_kill) + 60), 60)
        rc = s.stop()
        termed_at = time.time()
        seen_at_term = distinct(hooks.requests())
        t.check(f"SIGTERM in the middle of delivery: exit 0 ({len(seen_at_term)} of {n} seen)", rc == 0, (rc, s.err[-1500:]))
        t.check("restart after SIGTERM", s.start(), s.err[-1500:])
        done = wait_for(lambda: (lambda xs: xs if len(xs) == n and all(x.get("status") == "sent" for x in xs) else None)(
            entries_of(s, kind="webhook")), 90, interval=0.3)
        recs = [r for r in hooks.requests() if r["path"] == "/bulk"]
        ids = [r["headers"].get("webhook-id") for r in recs]
        keys = {e["key"] for e in (done or entries_of(s, kind="webhook"))}
        t.check(f"all {n} effects sent; the receiver has every key, none missing and none foreign",
                done and len(keys) == n and set(ids) == keys, (len(set(ids)), len(keys)))
        first_seen = {}
        for r in recs:
            first_seen.setdefault(r["headers"].get("webhook-id"), r["at"])
        repeats = [i for i in set(ids) if ids.count(i) > 1]
        print(f"  ..   raw requests {len(ids)}, distinct keys {len(set(ids))}, repeated keys {len(repeats)} "
              f"(raw repeats {len(ids) - len(set(ids))})")
        t.check("repeats only of what was in flight at the SIGKILL (first seen before it), a handful at most",
                recs and all(first_seen[i] <= killed_at for i in repeats) and len(repeats) <= 16, sorted(repeats))
        t.check("a SIGTERM sends nothing twice: no key first seen between the restart and the SIGTERM repeats",
                recs and not [i for i in repeats if killed_at < first_seen[i] <= termed_at], sorted(repeats))
        sample = recs[:: max(1, len(recs) // 5)][:5]
        res = verify([(secret, signed(r), r["body"]) for r in sample])
        t.check("signed, before and after the restarts (5 checked by standardwebhooks)", sample and res == ["ok"] * len(sample), res)
    finally:
        stop(s, "kill")
        hooks.stop()


def run_part(name, fn, tmp):
    print(f"-- {name}")
    started = time.time()
    try:
        fn(tmp)
    except Exception:  # a crash in one part is a failure, and the other parts still run
        t.check(f"{name}: the part ran to its end", False, traceback.format_exc())
    print(f"   ({name}: {time.time() - started:.1f} s)")


with tempfile.TemporaryDirectory() as tmp:
    for name, fn in (("mail", part_mail), ("cap", part_cap), ("webhooks", part_webhooks), ("private", part_private),
                     ("dkim", part_dkim), ("kill", part_kill)):
        run_part(name, fn, tmp)
t.finish()
