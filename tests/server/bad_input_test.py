#!/usr/bin/python3
"""Bad input never breaks the server: a table of malformed requests (broken JSON, wrong types,
missing fields, out-of-range values, oversized bodies, unknown ids, missing or wrong keys,
another workspace's ids, malformed HTTP). Each must get the documented error JSON
{ "error": { "code", "message", "field" } } with the expected 4xx (and field, where one is at
fault), never a 5xx; afterwards the server still answers. Usage: bad_input_test.py PATH/TO/closeloop"""
import json, os, re, socket, subprocess, sys, tempfile, time, urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Checks, Server, is_error_json, raw_exchange

closeloop = sys.argv[1]
t = Checks("bad input test")

ANY = object()  # any field (or none)


def nps(score, **extra):
    return dict({"type": "nps_response", "contact": "c1", "data": {"score": score}}, **extra)


def deep(levels):
    return "[" * levels + "]" * levels


def deep_event(eid, levels):
    """An event whose data.a nests `levels` arrays: the body is levels + 2 deep."""
    return '{"id": "%s", "type": "nps_response", "contact": "c1", "data": {"score": 3, "a": %s}}' % (eid, deep(levels))


def purchase(**data):
    d = {"order_id": "o1", "amount": 10, "currency": "EUR"}
    d.update(data)
    return {"type": "purchase", "contact": "c1", "data": {k: v for k, v in d.items() if v is not None}}


with tempfile.TemporaryDirectory() as tmp:
    s = Server(closeloop, os.path.join(tmp, "data"))
    t.check("server starts", s.start())
    made = subprocess.run([closeloop, "workspace", "create", "other", "--data", s.data], capture_output=True, text=True, timeout=30)
    other_key = re.findall(r"cl_admin_[0-9a-f]{64}", made.stdout)[0]
    other_pub = re.findall(r"cl_pub_[0-9a-f]{64}", made.stdout)[0]

    # Resources of the other workspace, to be asked for with this one's key.
    s.request("POST", "/api/v1/events", {"id": "o1", "type": "signup", "contact": "theirs"}, key=other_key)
    s.request("POST", "/api/v1/voucher-campaigns", {"id": "their-camp", "name": "T", "percent": True, "value": 10, "valid_for": "P1M"}, key=other_key)
    _, _, their_voucher = s.request("POST", "/api/v1/vouchers", {"campaign": "their-camp", "contact": "theirs"}, key=other_key)
    _, _, their_task = s.request("POST", "/api/v1/tasks", {"title": "T", "role": "r"}, key=other_key)
    # And of this one.
    s.request("POST", "/api/v1/events", {"id": "mine", "type": "signup", "contact": "c1"})
    s.request("POST", "/api/v1/voucher-campaigns", {"id": "camp", "name": "C", "value": 5, "currency": "EUR", "valid_for": "P1Y"})
    st, _, _ = s.request("POST", "/api/v1/contacts", {"id": "full", "attributes": {f"a{i}": i for i in range(100)}})
    t.check("a contact may hold 100 attributes (max_contact_attributes)", st == 200)

    # Scenarios, templates and runs: theirs (with a run), and two drafts of ours that do not validate.
    tpl = {"id": "tpl", "name": "T", "fallback_locale": "en",
           "locales": {"en": {"subject": "Hi {{contact.first_name}}", "html": "<p>Hi</p>", "text": "Hi"}}}
    s.request("POST", "/api/v1/templates", dict(tpl, id="their-tpl"), key=other_key)
    theirs = {"id": "their-scen", "name": "T", "trigger": {"event": "signup"}, "start": "n",
              "nodes": [{"id": "n", "type": "action", "action": "notify", "params": {"role": "r", "message": "m"}, "next": None}]}
    s.request("POST", "/api/v1/scenarios", theirs, key=other_key)
    s.request("POST", "/api/v1/scenarios/their-scen/activate", key=other_key)
    s.request("POST", "/api/v1/events", {"id": "o2", "type": "signup", "contact": "theirs"}, key=other_key)
    their_run = {}
    for _ in range(200):
        runs = s.request("GET", "/api/v1/runs", key=other_key)[2].get("runs")
        if runs:
            their_run = runs[0]
            break
        time.sleep(0.05)
    mail = {"id": "mine-scen", "name": "M", "trigger": {"event": "nps_response"}, "start": "mail",
            "nodes": [{"id": "mail", "type": "action", "action": "send_email", "params": {"template": "nope"}, "next": None}]}
    s.request("POST", "/api/v1/scenarios", mail)
    broken = {"id": "mine-broken", "name": "B", "trigger": {"event": "nps_response"}, "start": "check",
              "nodes": [{"id": "check", "type": "condition", "if": "event.score <", "then": None, "else": None}]}
    s.request("POST", "/api/v1/scenarios", broken)
    SC = "/api/v1/scenarios"
    sim_event = {"type": "nps_response", "contact": "c1", "data": {"score": 3}}

    big = '{"events":[' + ",".join(['{"type":"signup","contact":"' + "x" * 100 + '"}'] * 9000) + "]}"
    E = "/api/v1/events"
    # (name, method, path, body, options, status, field)
    cases = [
        # -- keys
        ("no Authorization header", "POST", E, nps(5), {"key": None}, 401, None),
        ("a wrong key", "POST", E, nps(5), {"key": "cl_admin_" + "0" * 64}, 401, None),
        ("Basic instead of Bearer", "GET", E, None, {"key": None, "headers": {"Authorization": "Basic YTpi"}}, 401, None),
        ("Bearer with nothing after it", "GET", E, None, {"key": None, "headers": {"Authorization": "Bearer "}}, 401, None),
        ("a 300-character key", "GET", E, None, {"key": "k" * 300}, 401, None),
        ("a publishable key reading events", "GET", E, None, {"key": other_pub}, 403, None),
        ("a publishable key posting a purchase", "POST", E, purchase(), {"key": other_pub}, 403, "type"),
        ("a publishable key upserting a contact", "POST", "/api/v1/contacts", {"id": "x"}, {"key": other_pub}, 403, None),
        # -- not JSON, or not the right JSON
        ("broken JSON", "POST", E, '{"type": "nps_response", "contact":', {}, 400, None),
        ("an empty body", "POST", E, b"", {"headers": {"Content-Length": "0"}}, 400, None),
        ("trailing garbage after the JSON", "POST", E, '{"type":"signup","contact":"c1"} trailing', {}, 400, None),
        ("invalid UTF-8 in a string", "POST", E, b'{"type":"signup","contact":"\xff\xfe"}', {}, 400, None),
        ("a number too large for a double", "POST", E, '{"type":"nps_response","contact":"c1","data":{"score":1e400}}', {}, 400, None),
        ("a JSON array of numbers as the body", "POST", E, [1, 2], {}, 422, ANY),
        ("a JSON string as the body", "POST", E, '"hello"', {}, 422, ANY),
        ("JSON null as the body", "POST", E, "null", {}, 422, ANY),
        ("deeply nested arrays", "POST", E, "[" * 100000 + "]" * 100000, {}, 422, None),
        # -- nesting deeper than 64 levels (60,000 levels, 120 KB, overflowed a request thread's stack)
        ("event data nested 60,000 levels, with the widget's key", "POST", E, deep_event("deep", 60000), {"key": other_pub}, 422, "data.a"),
        ("event data nested 60,000 levels in a batch", "POST", E,
         '{"events": [' + json.dumps(nps(5)) + ", " + deep_event("deep", 60000) + "]}", {}, 422, "events[1].data.a"),
        ("a body nested 65 levels", "POST", E, deep_event("deep-65", 63), {}, 422, "data.a"),
        ("a scenario's ui nested 60,000 levels", "POST", SC,
         '{"id": "deep", "name": "D", "ui": {"layout": ' + deep(60000) + "}}", {}, 422, "ui.layout"),
        ("a contact's attributes nested 60,000 levels", "POST", "/api/v1/contacts",
         '{"id": "c1", "attributes": ' + deep(60000) + "}", {}, 422, "attributes"),
        ("a multipart form instead of JSON", "POST", E, b"--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--b--\r\n",
         {"headers": {"Content-Type": "multipart/form-data; boundary=b"}}, 400, None),
        ("a body over 1 MiB", "POST", E, big, {}, 413, None),
        ("a chunked body over 1 MiB", "POST", E, None, {"chunked": big}, 413, None),
        # -- batches
        ("a batch of 1001 events", "POST", E, {"events": [nps(5)] * 1001}, {}, 413, "events"),
        ("events that is not an array", "POST", E, {"events": {"type": "signup"}}, {}, 422, "events"),
        ("an empty batch", "POST", E, {"events": []}, {}, 422, "events"),
        ("a batch with another key beside events", "POST", E, {"events": [nps(5)], "source": "x"}, {}, 422, "source"),
        ("a batch whose 4th event has score 11", "POST", E, {"events": [nps(1), nps(2), nps(3), nps(11)]}, {}, 422, "events[3].data.score"),
        ("a batch with a number for an event", "POST", E, {"events": [nps(1), 7]}, {}, 422, "events[1]"),
        # -- event fields
        ("no type", "POST", E, {"contact": "c1"}, {}, 422, "type"),
        ("type is a number", "POST", E, {"type": 5, "contact": "c1"}, {}, 422, "type"),
        ("type is not a valid name", "POST", E, {"type": "Bad Type!", "contact": "c1"}, {}, 422, "type"),
        ("no contact", "POST", E, {"type": "signup"}, {}, 422, "contact"),
        ("an empty contact id", "POST", E, {"type": "signup", "contact": ""}, {}, 422, "contact.id"),
        ("a 129-character contact id", "POST", E, {"type": "signup", "contact": "c" * 129}, {}, 422, "contact.id"),
        ("a contact without id", "POST", E, {"type": "signup", "contact": {"email": "a@b.cz"}}, {}, 422, "contact.id"),
        ("a contact id with a NUL", "POST", E, {"type": "signup", "contact": {"id": "a\u0000b"}}, {}, 422, "contact.id"),
        ("a bad contact e-mail", "POST", E, {"type": "signup", "contact": {"id": "c1", "email": "not-an-email"}}, {}, 422, "contact.email"),
        ("contact.vip is a string", "POST", E, {"type": "signup", "contact": {"id": "c1", "vip": "yes"}}, {}, 422, "contact.vip"),
        ("a time that is not RFC 3339", "POST", E, dict(nps(5), time="yesterday"), {}, 422, "time"),
        ("a time as a number", "POST", E, dict(nps(5), time=1732270800), {}, 422, "time"),
        ("February 30th", "POST", E, dict(nps(5), time="2026-02-30T10:00:00Z"), {}, 422, "time"),
        ("data is an array", "POST", E, {"type": "signup", "contact": "c1", "data": [1]}, {}, 422, "data"),
        ("NPS score 11", "POST", E, nps(11), {}, 422, "data.score"),
        ("NPS score -1", "POST", E, nps(-1), {}, 422, "data.score"),
        ("NPS score as a string", "POST", E, nps("5"), {}, 422, "data.score"),
        ("NPS score 4.5", "POST", E, nps(4.5), {}, 422, "data.score"),
        ("NPS without a score", "POST", E, {"type": "nps_response", "contact": "c1", "data": {}}, {}, 422, "data.score"),
        ("CSAT score 0", "POST", E, {"type": "csat_response", "contact": "c1", "data": {"score": 0}}, {}, 422, "data.score"),
        ("a negative purchase amount", "POST", E, purchase(amount=-5), {}, 422, "data.amount"),
        ("a purchase currency that is not ISO 4217", "POST", E, purchase(currency="euro"), {}, 422, "data.currency"),
        ("a purchase without order_id", "POST", E, purchase(order_id=None), {}, 422, "data.order_id"),
        ("a typo in a field name", "POST", E, dict(nps(5), scroe=5), {}, 422, "scroe"),
        ("a 129-character event id", "POST", E, dict(nps(5), id="e" * 129), {}, 422, "id"),
        ("an event id that is a number", "POST", E, dict(nps(5), id=42), {}, 422, "id"),
        # -- sane values (issue 13): ISO 4217, event times around the server's clock
        ("a purchase in XYZ, three capitals but no currency", "POST", E, purchase(currency="XYZ"), {}, 422, "data.currency"),
        ("an answer dated 9999-12-31", "POST", E, dict(nps(5), time="9999-12-31T23:59:59Z"), {}, 422, "time"),
        ("an answer two days ahead", "POST", E, dict(nps(5), time=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 2 * 86400))), {}, 422, "time"),
        ("a batch with one event from 1969", "POST", E, {"events": [nps(5), dict(nps(5), time="1969-12-31T23:59:59Z")]}, {}, 422, "events[1].time"),
        ("an event 31 years old", "POST", E, dict(nps(5), time=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 31 * 366 * 86400))), {}, 422, "time"),
        ("a campaign valid for P99999999Y", "POST", "/api/v1/voucher-campaigns", {"id": "x", "name": "X", "percent": True, "value": 5, "valid_for": "P99999999Y"}, {}, 422, "valid_for"),
        ("a campaign valid for 11 years", "POST", "/api/v1/voucher-campaigns", {"id": "x", "name": "X", "percent": True, "value": 5, "valid_for": "P11Y"}, {}, 422, "valid_for"),
        ("a campaign in XYZ", "POST", "/api/v1/voucher-campaigns", {"id": "x", "name": "X", "value": 5, "currency": "XYZ", "valid_for": "P1M"}, {}, 422, "currency"),
        ("a task due in 10001 years", "POST", "/api/v1/tasks", {"title": "T", "role": "r", "due": "P10001Y"}, {}, 422, "due"),
        # -- limits on what a client controls
        ("an attribute value of 1025 bytes", "POST", "/api/v1/contacts", {"id": "c1", "attributes": {"note": "x" * 1025}}, {}, 422, "attributes.note"),
        ("an event's contact with 101 attributes", "POST", E, {"type": "signup", "contact": {"id": "c1", "attributes": {f"a{i}": i for i in range(101)}}}, {}, 422, "contact.attributes"),
        ("101 tags", "POST", "/api/v1/contacts", {"id": "c1", "tags": [f"t{i}" for i in range(101)]}, {}, 422, "tags"),
        ("a 65-byte tag", "POST", "/api/v1/contacts", {"id": "c1", "tags": ["ok", "t" * 65]}, {}, 422, "tags[1]"),
        ("a contact that would hold 101 attributes", "POST", "/api/v1/contacts", {"id": "full", "attributes": {"one_more": 1}}, {}, 422, "attributes"),
        ("a template repeating a value 38,000 times", "POST", "/api/v1/templates",
         dict(tpl, locales={"en": {"subject": "Hi", "html": "<p>Hi</p>", "text": "{{contact.attributes.note}}" * 38000}}), {}, 422, "locales.en.text"),
        ("tasks?limit=1001", "GET", "/api/v1/tasks?limit=1001", None, {}, 400, "limit"),
        ("a tasks cursor the API never gave", "GET", "/api/v1/tasks?cursor=abc", None, {}, 400, "cursor"),
        ("a runs cursor of 0", "GET", "/api/v1/runs?cursor=0", None, {}, 400, "cursor"),
        ("an outbox cursor with a sign", "GET", "/api/v1/outbox?cursor=-5", None, {}, 400, "cursor"),
        ("a vouchers cursor without a code", "GET", "/api/v1/vouchers?cursor=123", None, {}, 400, "cursor"),
        ("templates?limit=0", "GET", "/api/v1/templates?limit=0", None, {}, 400, "limit"),
        # -- query parameters
        ("limit=0", "GET", E + "?limit=0", None, {}, 400, "limit"),
        ("limit=abc", "GET", E + "?limit=abc", None, {}, 400, "limit"),
        ("limit=1001", "GET", E + "?limit=1001", None, {}, 400, "limit"),
        ("from=yesterday", "GET", E + "?from=yesterday", None, {}, 400, "from"),
        ("a cursor the API never gave", "GET", E + "?cursor=abc", None, {}, 400, "cursor"),
        ("type=Bad!", "GET", E + "?type=Bad%21", None, {}, 400, "type"),
        ("tasks?status=maybe", "GET", "/api/v1/tasks?status=maybe", None, {}, 400, "status"),
        ("outbox?status=lost", "GET", "/api/v1/outbox?status=lost", None, {}, 400, "status"),
        ("vouchers?limit=-1", "GET", "/api/v1/vouchers?limit=-1", None, {}, 400, "limit"),
        # -- contacts
        ("upsert without id", "POST", "/api/v1/contacts", {"email": "a@b.cz"}, {}, 422, "id"),
        ("upsert with tags not a list", "POST", "/api/v1/contacts", {"id": "c1", "tags": "vip"}, {}, 422, "tags"),
        ("upsert with a nested attribute", "POST", "/api/v1/contacts", {"id": "c1", "attributes": {"x": {"y": 1}}}, {}, 422, "attributes.x"),
        ("upsert with a bad locale", "POST", "/api/v1/contacts", {"id": "c1", "locale": "Czech"}, {}, 422, "locale"),
        ("upsert with an array body", "POST", "/api/v1/contacts", [{"id": "c1"}], {}, 422, ANY),
        ("an unknown contact", "GET", "/api/v1/contacts/nobody", None, {}, 404, "id"),
        ("erasing an unknown contact", "DELETE", "/api/v1/contacts/nobody", None, {}, 404, "id"),
        ("exporting an unknown contact", "GET", "/api/v1/contacts/nobody/export", None, {}, 404, "id"),
        # -- vouchers
        ("a campaign without name", "POST", "/api/v1/voucher-campaigns", {"id": "x", "value": 5, "currency": "EUR"}, {}, 422, "name"),
        ("a campaign with value and percent", "POST", "/api/v1/voucher-campaigns", {"id": "x", "name": "X", "value": 5, "currency": "EUR", "percent": 5, "valid_for": "P1M"}, {}, 422, "percent"),
        ("a campaign valid_for that is not ISO 8601", "POST", "/api/v1/voucher-campaigns", {"id": "x", "name": "X", "percent": True, "value": 5, "valid_for": "2 months"}, {}, 422, "valid_for"),
        ("a campaign id with a space", "POST", "/api/v1/voucher-campaigns", {"id": "a b", "name": "X", "percent": True, "value": 5, "valid_for": "P1M"}, {}, 422, "id"),
        ("an unknown campaign", "GET", "/api/v1/voucher-campaigns/nope", None, {}, 404, "id"),
        ("redeeming an unknown code", "POST", "/api/v1/vouchers/NOPE-NOPE/redeem", None, {}, 404, "code"),
        ("assigning from an unknown campaign", "POST", "/api/v1/vouchers", {"campaign": "nope", "contact": "c1"}, {}, 404, "campaign"),
        ("assigning to an unknown contact", "POST", "/api/v1/vouchers", {"campaign": "camp", "contact": "nobody"}, {}, 404, "contact"),
        ("assigning without contact", "POST", "/api/v1/vouchers", {"campaign": "camp"}, {}, 422, "contact"),
        # -- tasks and RFM
        ("done on an unknown task", "POST", "/api/v1/tasks/nope/done", None, {}, 404, "id"),
        ("a task without title", "POST", "/api/v1/tasks", {"role": "r"}, {}, 422, "title"),
        ("a task for no one", "POST", "/api/v1/tasks", {"title": "T"}, {}, 422, "role"),
        ("a task due 'tomorrow'", "POST", "/api/v1/tasks", {"title": "T", "role": "r", "due": "tomorrow"}, {}, 422, "due"),
        ("a task about an unknown contact", "POST", "/api/v1/tasks", {"title": "T", "role": "r", "contact": "nobody"}, {}, 404, "contact"),
        ("RFM with window_days 0", "POST", "/api/v1/rfm/recompute", {"window_days": 0}, {}, 422, "window_days"),
        ("RFM with as_of not a time", "POST", "/api/v1/rfm/recompute", {"as_of": "now"}, {}, 422, "as_of"),
        ("RFM with a string body", "POST", "/api/v1/rfm/recompute", '"go"', {}, 422, ANY),
        # -- scenarios, runs and templates
        ("a scenario without id", "POST", SC, {"name": "x", "nodes": []}, {}, 422, "id"),
        ("a scenario id with a space", "POST", SC, dict(mail, id="a b"), {}, 422, "id"),
        ("a scenario that is an array", "POST", SC, [mail], {}, 422, ANY),
        ("a scenario that is not JSON", "POST", SC, "{nodes:", {}, 400, None),
        ("creating a scenario id that exists", "POST", SC, mail, {}, 409, "id"),
        ("saving with another id in the body", "PUT", SC + "/mine-scen", dict(mail, id="other"), {}, 422, "id"),
        ("activating with an unknown template", "POST", SC + "/mine-scen/activate", None, {}, 422, "nodes[mail].params.template"),
        ("activating with a broken expression", "POST", SC + "/mine-broken/activate", None, {}, 422, "nodes[check].if"),
        ("validating JSON that is broken", "POST", SC + "/validate", "[", {}, 400, None),
        ("an unknown scenario", "GET", SC + "/nope", None, {}, 404, "id"),
        ("saving an unknown scenario", "PUT", SC + "/nope", dict(mail, id="nope"), {}, 404, "id"),
        ("deleting an unknown scenario", "DELETE", SC + "/nope", None, {}, 404, "id"),
        ("activating an unknown scenario", "POST", SC + "/nope/activate", None, {}, 404, "id"),
        ("pausing an unknown scenario", "POST", SC + "/nope/pause", None, {}, 404, "id"),
        ("simulating an unknown scenario", "POST", SC + "/nope/simulate", {"event": sim_event}, {}, 404, "id"),
        ("simulating without event", "POST", SC + "/mine-broken/simulate", {"contact": {"id": "c1"}}, {}, 422, "event"),
        ("simulating an event with score 11", "POST", SC + "/mine-broken/simulate", {"event": nps(11)}, {}, 422, "event.data.score"),
        ("simulating with history not a list", "POST", SC + "/mine-broken/simulate", {"event": sim_event, "history": {}}, {}, 422, "history"),
        ("simulating with an unknown key", "POST", SC + "/mine-broken/simulate", {"event": sim_event, "extra": 1}, {}, 422, "extra"),
        ("simulating with another contact", "POST", SC + "/mine-broken/simulate", {"event": sim_event, "contact": {"id": "c2"}}, {}, 422, "contact.id"),
        ("simulating a scenario that does not validate", "POST", SC + "/mine-broken/simulate", {"event": sim_event}, {}, 422, "nodes[check].if"),
        ("runs?status=maybe", "GET", "/api/v1/runs?status=maybe", None, {}, 400, "status"),
        ("runs?limit=0", "GET", "/api/v1/runs?limit=0", None, {}, 400, "limit"),
        ("an unknown run", "GET", "/api/v1/runs/nope", None, {}, 404, "id"),
        ("a template without id", "POST", "/api/v1/templates", {k: v for k, v in tpl.items() if k != "id"}, {}, 422, "id"),
        ("a template without locales", "POST", "/api/v1/templates", {k: v for k, v in tpl.items() if k != "locales"}, {}, 422, "locales"),
        ("a template naming an unknown path", "POST", "/api/v1/templates",
         dict(tpl, locales={"en": {"subject": "Hi", "html": "<p>{{contact.shoe_size}}</p>", "text": "Hi"}}), {}, 422, "locales.en.html"),
        ("a template with an unclosed {{#if}}", "POST", "/api/v1/templates",
         dict(tpl, locales={"en": {"subject": "{{#if contact.vip}}Hi", "html": "<p>Hi</p>", "text": "Hi"}}), {}, 422, "locales.en.subject"),
        ("a template that is a string", "POST", "/api/v1/templates", '"tpl"', {}, 422, ANY),
        ("an unknown template", "GET", "/api/v1/templates/nope", None, {}, 404, "id"),
        # -- routes
        ("an unknown route", "GET", "/api/v1/nothing", None, {}, 404, None),
        ("an unknown route without a key", "GET", "/nothing", None, {"key": None}, 404, None),
        ("PUT on events", "PUT", E, nps(5), {}, 405, None),
        # -- another workspace's ids
        ("another workspace's contact", "GET", "/api/v1/contacts/theirs", None, {}, 404, "id"),
        ("another workspace's contact export", "GET", "/api/v1/contacts/theirs/export", None, {}, 404, "id"),
        ("erasing another workspace's contact", "DELETE", "/api/v1/contacts/theirs", None, {}, 404, "id"),
        ("another workspace's campaign", "GET", "/api/v1/voucher-campaigns/their-camp", None, {}, 404, "id"),
        ("redeeming another workspace's voucher", "POST", f"/api/v1/vouchers/{their_voucher.get('code')}/redeem", None, {}, 404, "code"),
        ("completing another workspace's task", "POST", f"/api/v1/tasks/{their_task.get('id')}/done", None, {}, 404, "id"),
        ("another workspace's scenario", "GET", SC + "/their-scen", None, {}, 404, "id"),
        ("saving another workspace's scenario", "PUT", SC + "/their-scen", theirs, {}, 404, "id"),
        ("deleting another workspace's scenario", "DELETE", SC + "/their-scen", None, {}, 404, "id"),
        ("pausing another workspace's scenario", "POST", SC + "/their-scen/pause", None, {}, 404, "id"),
        ("simulating another workspace's scenario", "POST", SC + "/their-scen/simulate", {"event": sim_event}, {}, 404, "id"),
        ("another workspace's run", "GET", f"/api/v1/runs/{their_run.get('id', 'none')}", None, {}, 404, "id"),
        ("another workspace's template", "GET", "/api/v1/templates/their-tpl", None, {}, 404, "id"),
    ]

    t.check("the other workspace's scenario ran (its run is asked for below)", bool(their_run.get("id")), their_run)
    t.check(f"the table has at least 40 cases ({len(cases)})", len(cases) >= 40)
    five_hundreds = 0
    for name, method, path, body, opts, status, field in cases:
        if "chunked" in opts:
            # A chunked upload, written by hand (http.client would buffer it).
            with socket.create_connection(("127.0.0.1", s.port), timeout=30) as raw:
                head = f"{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {s.key}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                data = opts["chunked"].encode()
                chunks = b"".join(b"%x\r\n%s\r\n" % (len(data[i:i + 65536]), data[i:i + 65536]) for i in range(0, len(data), 65536))
                try:
                    raw.sendall(head.encode() + chunks + b"0\r\n\r\n")
                except OSError:
                    pass
                reply = b""
                while True:
                    try:
                        part = raw.recv(65536)
                    except OSError:
                        break
                    if not part:
                        break
                    reply += part
            got = int(reply.split(b" ", 2)[1]) if reply.startswith(b"HTTP/1.1") else 0
            try:
                got_body = json.loads(reply.split(b"\r\n\r\n", 1)[1])
            except (ValueError, IndexError):
                got_body = reply[:200]
        else:
            kwargs = {"headers": opts.get("headers")}
            if "key" in opts:
                kwargs["key"] = opts["key"]
            try:
                got, _, got_body = s.request(method, path, body, **kwargs)
            except OSError as e:
                got, got_body = 0, str(e)
        five_hundreds += got >= 500
        ok = got == status and is_error_json(got_body, got)
        if ok and field is not ANY:
            ok = got_body["error"]["field"] == field
        t.check(f"{name}: {status}" + (f" naming {field}" if isinstance(field, str) else ""), ok, (got, got_body))

    # Malformed HTTP, on a raw socket.
    for name, raw_request in [("a malformed request line", b"HELLO\r\n\r\n"),
                              ("an unknown HTTP version", b"GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n"),
                              ("an unknown method", b"FETCH /healthz HTTP/1.1\r\nHost: x\r\n\r\n"),
                              ("both Content-Length and Transfer-Encoding",
                               b"POST /api/v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                               b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")]:
        reply = raw_exchange(s.port, raw_request)
        body = reply.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in reply else b""
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        t.check(f"{name}: 400 with the error JSON", reply.startswith(b"HTTP/1.1 400") and is_error_json(parsed, 400), reply[:300])

    t.check("no request got a 5xx", five_hundreds == 0)

    # A scenario message whose text can render over max_rendered_text_bytes does not validate.
    amp = {"id": "amp", "name": "A", "trigger": {"event": "signup"}, "start": "n",
           "nodes": [{"id": "n", "type": "action", "action": "notify",
                      "params": {"role": "r", "message": "{{contact.first_name}}" * 101}, "next": None}]}
    st, _, body = s.request("POST", SC + "/validate", amp)
    t.check("a notify message that can render over 100 KB does not validate, naming the limit",
            st == 200 and not body["valid"] and body["errors"][0]["node"] == "n"
            and body["errors"][0]["field"] == "params.message" and "max_rendered_text_bytes" in body["errors"][0]["message"], body)
    amp["nodes"][0]["params"]["message"] = "{{contact.first_name}}" * 99
    st, _, body = s.request("POST", SC + "/validate", amp)
    t.check("... 99 values fit", st == 200 and body["valid"], body)
    st, _, body = s.request("POST", E, dict(nps(5), id="old-import", time="2001-03-04T10:00:00Z"))
    t.check("an import of a purchase from 2001 is still accepted", st == 202 and body["accepted"] == 1, body)

    # Every list is paged with a cursor: walking all pages gives each item once.
    def walk(path, key_name, item_id, limit, key="default"):
        seen, cursor, pages = [], None, 0
        while pages < 100:
            sep = "&" if "?" in path else "?"
            url = f"{path}{sep}limit={limit}" + (f"&cursor={urllib.parse.quote(cursor)}" if cursor else "")
            st, _, body = s.request("GET", url, key=key)
            if st != 200 or len(body[key_name]) > limit:
                return None, pages
            seen += [item_id(x) for x in body[key_name]]
            pages += 1
            cursor = body["next_cursor"]
            if cursor is None:
                return seen, pages
        return None, pages

    for i in range(23):
        s.request("POST", "/api/v1/tasks", {"title": f"T{i}", "role": "pager"})
    everything = [x["id"] for x in s.request("GET", "/api/v1/tasks?role=pager")[2]["tasks"]]
    got, pages = walk("/api/v1/tasks?role=pager", "tasks", lambda x: x["id"], 5)
    t.check("tasks: 23 in 5 pages of at most 5, none repeated or missing, newest first",
            got == everything and len(set(got)) == 23 and pages == 5, (pages, got))
    s.request("POST", "/api/v1/contacts", {"id": "pager"})
    for i in range(11):
        s.request("POST", "/api/v1/vouchers", {"campaign": "camp", "contact": "pager"})
    got, pages = walk("/api/v1/vouchers?contact=pager", "vouchers", lambda x: x["code"], 4)
    t.check("vouchers: 11 in 3 pages", got is not None and len(got) == 11 and len(set(got)) == 11 and pages == 3, (pages, got))
    for i in range(5):
        s.request("POST", "/api/v1/templates", dict(tpl, id=f"page-{i}"))
    got, pages = walk("/api/v1/templates", "templates", lambda x: x["id"], 2)
    t.check("templates: 5 in 3 pages, in id order", got == [f"page-{i}" for i in range(5)] and pages == 3, (pages, got))
    st, _, body = s.request("GET", "/api/v1/templates")
    t.check("templates without limit: all of them on one page", st == 200 and len(body["templates"]) == 5 and body["next_cursor"] is None, body)
    got, pages = walk("/api/v1/voucher-campaigns", "campaigns", lambda x: x["id"], 1)
    t.check("campaigns: one per page", got == ["camp"] and pages == 1, (pages, got))
    for i in range(6):
        s.request("POST", E, {"type": "signup", "contact": f"pager-{i}"}, key=other_key)
    everything = [x["id"] for x in s.request("GET", "/api/v1/runs?limit=1000", key=other_key)[2]["runs"]]
    got, pages = walk("/api/v1/runs", "runs", lambda x: x["id"], 2, key=other_key)
    t.check("runs: every run once, in pages of 2", got == everything and len(everything) >= 7 and len(set(got)) == len(got), (pages, got))
    st, _, body = s.request("POST", E, deep_event("deep-64", 62))
    t.check("a body nested 64 levels is accepted", st == 202 and body["accepted"] == 1, body)
    st, _, body = s.request("GET", "/api/v1/events?contact=c1&type=nps_response")
    t.check("... and reads back whole", st == 200 and json.dumps(body["events"][0]["data"]["a"]) == json.dumps(json.loads(deep(62))), body)
    st, _, body = s.request("GET", "/healthz", key=None)
    t.check("the server still answers /healthz", st == 200 and body["status"] == "ok", body)
    st, _, body = s.request("POST", E, {"id": "after", "type": "nps_response", "contact": "c1", "data": {"score": 10}})
    t.check("and still stores events", st == 202 and body["accepted"] == 1, body)
    st, _, text = s.request("GET", "/metrics", key=None)
    t.check("/metrics shows no 5xx", st == 200 and not re.search(r'status="5\d\d"', text))
    st, _, body = s.request("GET", "/api/v1/events?limit=1000&contact=c1")
    t.check("none of the bad events was stored", st == 200 and sorted(e["id"] for e in body["events"]) == ["after", "deep-64", "mine", "old-import"], body)
    st, _, body = s.request("GET", "/api/v1/scenarios/their-scen", key=other_key)
    t.check("their scenario is untouched by our requests", st == 200 and body["status"] == "active" and body["version"] == 1, body)
    st, _, body = s.request("GET", "/api/v1/scenarios")
    t.check("none of the bad scenarios was stored", st == 200 and [x["id"] for x in body["scenarios"]] == ["mine-broken", "mine-scen"]
            and all(x["status"] == "draft" for x in body["scenarios"]), body)
    t.check("SIGTERM: exit 0", s.stop() == 0, s.err)
    t.check("nothing logged as an internal error", "internal error" not in s.err, s.err)

t.finish()
