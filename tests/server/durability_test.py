#!/usr/bin/python3
"""Durability of acknowledged events and of scenario runs. Streams 20,000 events in batches of
100 from 4 clients while a scenario with a real 2-second wait is active, kills the server with
SIGKILL at a random moment, keeps it down past the wake times, restarts it on the same data and
checks that every event answered 202 is stored exactly once, that each batch is all or nothing,
and that re-sending the unanswered batches completes the set with no duplicates; then that
every entering event has exactly one run, every timer due while the server was down fired after
the restart, no effect happened twice and no run is left waiting past its wake time. Then the
same stream with SIGTERM: requests in flight are answered, the server exits 0, and nothing
answered is lost. Usage: durability_test.py PATH/TO/closeloop [seed]"""
import http.client, json, os, random, shutil, signal, sqlite3, subprocess, sys, tempfile, threading, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import KEY, Checks, Server

closeloop = sys.argv[1]
seed = int(sys.argv[2]) if len(sys.argv) > 2 else random.randrange(1 << 30)
rng = random.Random(seed)
print(f"seed {seed}")
t = Checks("durability test")

EVENTS, BATCH, CLIENTS = 20000, 100, 4


def batch_body(run, b):
    return json.dumps({"events": [
        {"id": f"{run}-{b}-{k}", "type": "nps_response", "contact": {"id": f"c-{(b * BATCH + k) * 7919 % 5000}"},
         "data": {"score": (b + k) % 11, "comment": f"batch {b}"}} for k in range(BATCH)]})


def stream(port, run, batches, acked, answers, stop_flag):
    """Clients post batches until done or the server is gone. acked[b] = True on a 202."""
    lock = threading.Lock()
    todo = list(batches)

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while not stop_flag.is_set():
            with lock:
                if not todo:
                    return
                b = todo.pop(0)
            try:
                conn.request("POST", "/api/v1/events", body=batch_body(run, b),
                             headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"})
                r = conn.getresponse()
                body = r.read()
                with lock:
                    answers.append((time.monotonic(), r.status))
                if r.status == 202:
                    acked[b] = json.loads(body)
            except (OSError, http.client.HTTPException):
                return  # the server is gone: this batch is not acknowledged

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for th in threads:
        th.start()
    return threads


def stored_ids(server):
    ids, cursor = [], None
    for _ in range(1000):
        st, _, body = server.request("GET", "/api/v1/events?limit=1000" + (f"&cursor={cursor}" if cursor else ""))
        if st != 200:
            return None
        ids += [e["id"] for e in body["events"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    return ids


# Entered by the answers of score 0 (one in eleven): a webhook, a real wait, a second webhook
# and a task. Each effect is keyed by run and node, so a repeat would show as a second row.
SCENARIO = {
    "id": "wait-and-hook", "name": "Durability", "trigger": {"event": "nps_response", "when": "event.score == 0"},
    "start": "hook1",
    "nodes": [
        {"id": "hook1", "type": "action", "action": "webhook",
         "params": {"endpoint": "hooks-in", "message": "NPS {{event.score}}"}, "next": "pause"},
        {"id": "pause", "type": "wait", "for": "PT2S", "next": "hook2"},
        {"id": "hook2", "type": "action", "action": "webhook",
         "params": {"endpoint": "hooks-in", "message": "again"}, "next": "task"},
        {"id": "task", "type": "action", "action": "notify", "params": {"role": "care", "message": "Call {{contact.id}}"}, "next": None},
    ]}


def query(db, sql, *args):
    """Reads the database directly (standard library sqlite3; WAL lets it read beside the server)."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def now_ms():
    return int(time.time() * 1000)


def sqlite_counts(db):
    if not shutil.which("sqlite3"):
        return None
    out = subprocess.run(["sqlite3", db, "SELECT count(*), count(DISTINCT workspace_id || '/' || id) FROM events"],
                         capture_output=True, text=True, timeout=60)
    return tuple(int(x) for x in out.stdout.strip().split("|")) if out.returncode == 0 else None


with tempfile.TemporaryDirectory() as tmp:
    # ---- SIGKILL at a random moment ---------------------------------------------------------
    data = os.path.join(tmp, "data")
    # Its webhooks go to an endpoint on a closed loopback port: delivery fails and retries
    # while events stream in and the server is killed (more writers, not fewer).
    s = Server(closeloop, data, extra=["--allow-private-endpoints"])
    t.check("server starts", s.start())
    st, _, body = s.request("POST", "/api/v1/endpoints",
                            {"id": "hooks-in", "kind": "generic", "url": "http://127.0.0.1:9/hooks"})
    t.check("the scenario's webhook endpoint is created", st == 201, body)
    st, _, body = s.request("POST", "/api/v1/scenarios", SCENARIO)
    t.check("a scenario with a 2 s wait is created", st == 201 and body["errors"] == [], body)
    st, _, body = s.request("POST", f"/api/v1/scenarios/{SCENARIO['id']}/activate")
    t.check("and activated", st == 200, body)
    nbatches = EVENTS // BATCH
    acked, answers, stop_flag = {}, [], threading.Event()
    started = time.monotonic()
    threads = stream(s.port, "k", range(nbatches), acked, answers, stop_flag)
    # Kill after a random share of the batches has been answered (10 % to 90 %).
    target = rng.randint(nbatches // 10, nbatches * 9 // 10)
    db = os.path.join(data, "closeloop.db")
    while len(acked) < target and any(th.is_alive() for th in threads):
        time.sleep(0.001)
    # ... and once some runs wait (a loaded machine may start the executor late).
    while not query(db, "SELECT 1 FROM runs WHERE status = 'waiting' LIMIT 1") and any(th.is_alive() for th in threads):
        time.sleep(0.001)
    s.proc.send_signal(signal.SIGKILL)
    killed_at = time.monotonic()
    s.proc.wait()
    for th in threads:
        th.join()
    print(f"  killed after {killed_at - started:.2f} s with {len(acked)} of {nbatches} batches answered 202")
    t.check("the kill landed mid-stream", 0 < len(acked) < nbatches, len(acked))
    t.check("every answer before the kill was a 202", all(st == 202 for _, st in answers), set(st for _, st in answers))

    waiting_at_kill = query(db, "SELECT id, wake_at FROM runs WHERE status = 'waiting'")
    print(f"  {len(waiting_at_kill)} runs waiting at the kill, "
          f"{query(db, 'SELECT count(*) FROM events WHERE processed_at IS NULL')[0][0]} events unprocessed")
    t.check("the kill left runs waiting", len(waiting_at_kill) > 0)
    # Down past every wake time.
    latest_wake = max([w for _, w in waiting_at_kill] + [now_ms()])
    time.sleep(max(0, latest_wake - now_ms()) / 1000 + 0.5)

    restarted_at = now_ms()
    t.check("the server comes back on the same data", s.start())
    ids = stored_ids(s)
    t.check("GET events pages through everything", ids is not None)
    ids = ids or []
    stored = set(ids)
    acked_ids = {f"k-{b}-{k}" for b in acked for k in range(BATCH)}
    t.check(f"every event answered 202 is stored ({len(acked_ids)})", acked_ids <= stored, len(acked_ids - stored))
    t.check("each stored exactly once", len(ids) == len(stored), (len(ids), len(stored)))
    counts = sqlite_counts(os.path.join(data, "closeloop.db"))
    if counts:
        t.check("sqlite3 agrees: no duplicate rows", counts[0] == counts[1] == len(stored), counts)
    per_batch = {}
    for i in stored:
        _, b, _ = i.split("-")
        per_batch[int(b)] = per_batch.get(int(b), 0) + 1
    t.check("each batch is all or nothing", all(n == BATCH for n in per_batch.values()),
            {b: n for b, n in per_batch.items() if n != BATCH})
    t.check("at most the batches in flight were stored without an answer",
            len(per_batch) - len(acked) <= CLIENTS, len(per_batch) - len(acked))

    # Re-send what was not acknowledged: the stored ones come back as duplicates.
    rest = [b for b in range(nbatches) if b not in acked]
    resent, answers2 = {}, []
    for th in stream(s.port, "k", rest, resent, answers2, threading.Event()):
        th.join()
    t.check("re-sending the unanswered batches: all 202", len(resent) == len(rest), (len(resent), len(rest)))
    dup = sum(r["duplicates"] for r in resent.values())
    t.check("the ones stored before the kill are counted as duplicates",
            dup == sum(per_batch.get(b, 0) for b in rest), (dup, sum(per_batch.get(b, 0) for b in rest)))
    ids = stored_ids(s) or []
    t.check("now all 20,000 events, each once", len(ids) == EVENTS and len(set(ids)) == EVENTS, len(ids))
    st, _, body = s.request("GET", "/healthz", key=None)
    t.check("healthy after recovery", st == 200 and body["status"] == "ok")

    # Scenario runs: every event processed, every timer fired (within a short grace).
    def settled():
        left = query(db, "SELECT count(*) FROM events WHERE processed_at IS NULL")[0][0]
        late = query(db, "SELECT count(*) FROM runs WHERE status = 'waiting' AND wake_at < ?", now_ms() - 1000)[0][0]
        return left == 0 and late == 0
    deadline = time.time() + 30
    while time.time() < deadline and not settled():
        time.sleep(0.1)
    t.check("every event is processed", query(db, "SELECT count(*) FROM events WHERE processed_at IS NULL")[0][0] == 0)
    late = query(db, "SELECT count(*) FROM runs WHERE status = 'waiting' AND wake_at < ?", now_ms() - 1000)[0][0]
    t.check("no run waits past its wake time (1 s grace)", late == 0, late)
    # The runs started by the re-sent batches wake 2 s after they started.
    deadline = time.time() + 30
    while time.time() < deadline and query(db, "SELECT count(*) FROM runs WHERE status = 'waiting'")[0][0]:
        time.sleep(0.1)
    entering = query(db, "SELECT count(*) FROM events WHERE type = 'nps_response' AND json_extract(data, '$.score') = 0")[0][0]
    runs = query(db, "SELECT count(*), count(DISTINCT event_id) FROM runs")[0]
    t.check(f"every entering event has exactly one run ({entering})", runs == (entering, entering) and entering > 0, (entering, runs))
    fired = dict(query(db, "SELECT id, updated_at FROM runs WHERE status = 'done'"))
    t.check(f"every timer due while down fired after the restart ({len(waiting_at_kill)})",
            all(i in fired and fired[i] >= restarted_at for i, _ in waiting_at_kill),
            [i for i, _ in waiting_at_kill if fired.get(i, 0) < restarted_at][:5])
    t.check("every run is done", query(db, "SELECT status, count(*) FROM runs GROUP BY status") == [("done", entering)],
            query(db, "SELECT status, count(*) FROM runs GROUP BY status"))
    dup = query(db, "SELECT key FROM outbox GROUP BY workspace_id, key HAVING count(*) > 1 LIMIT 5")
    t.check("no effect key twice in the outbox", dup == [], dup)
    per_run = query(db, "SELECT count(*) FROM runs r WHERE (SELECT count(*) FROM outbox o WHERE o.run_id = r.id "
                        "AND o.key IN (r.id || '/hook1', r.id || '/hook2')) != 2 OR "
                        "(SELECT count(*) FROM tasks k WHERE k.run_id = r.id) != 1")[0][0]
    t.check("each run has its two webhooks and one task, once each", per_run == 0, per_run)
    t.check("SIGTERM after recovery: exit 0", s.stop() == 0, s.err)

    # ---- SIGTERM: in-flight requests are answered, then the server exits -----------------------
    data2 = os.path.join(tmp, "data2")
    s2 = Server(closeloop, data2)
    t.check("a second server starts", s2.start())
    acked2, answers3 = {}, []
    threads = stream(s2.port, "t", range(nbatches), acked2, answers3, threading.Event())
    target = rng.randint(nbatches // 10, nbatches // 2)
    while len(acked2) < target and any(th.is_alive() for th in threads):
        time.sleep(0.001)
    term_at = time.monotonic()
    s2.proc.send_signal(signal.SIGTERM)
    code = s2.proc.wait(timeout=30)
    for th in threads:
        th.join()
    s2.out, s2.err = s2.proc.communicate()
    t.check("SIGTERM mid-stream: exit 0", code == 0, s2.err)
    t.check("it said it finished the requests in flight", "finishing requests in flight" in s2.err and "stopped" in s2.out, s2.err)
    t.check("no answer was an error", all(st == 202 for _, st in answers3), set(st for _, st in answers3))
    late = sum(1 for at, _ in answers3 if at >= term_at)
    print(f"  {len(acked2)} batches answered, {late} of them after SIGTERM was sent")
    t.check("the server comes back", s2.start())
    ids = set(stored_ids(s2) or [])
    acked_ids = {f"t-{b}-{k}" for b in acked2 for k in range(BATCH)}
    t.check(f"every event answered 202 is stored ({len(acked_ids)})", acked_ids <= ids, len(acked_ids - ids))
    t.check("and nothing that was not answered (a clean stop commits only what it answers)", ids == acked_ids,
            len(ids - acked_ids))
    t.check("SIGTERM: exit 0", s2.stop() == 0, s2.err)

t.finish()
