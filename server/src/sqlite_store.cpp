// closeloop server — the SQLite store. Sections:
//   1. Schema        — forward-only migrations
//   2. Row mapping   — records to and from columns
//   3. SqliteWriteTx — the units of work, on the writer connection
//   4. Impl          — the writer thread (group commit) and the reader pool
//   5. SqliteStore   — reads, and writes as units of work
#include "sqlite_store.h"

#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <limits>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "sqlite_db.h"

namespace closeloop::server {

using nlohmann::json;
using sqlite::Db;
using sqlite::Stmt;

namespace {

// ---- 1. Schema -----------------------------------------------------------------------------
//
// Entry i takes the schema from version i to i + 1. Never edit a released entry; append.
// Every table has workspace_id and every query filters on it; every history query has an
// index (named after what it serves).
constexpr std::array<const char*, 4> migrations = {
    R"sql(
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    INSERT INTO meta (key, value) VALUES ('created_by', 'closeloop');
    )sql",

    R"sql(
    CREATE TABLE workspaces (
      id INTEGER PRIMARY KEY,
      slug TEXT NOT NULL UNIQUE,
      name TEXT NOT NULL,
      created_at INTEGER NOT NULL
    );
    -- Keys are stored as their SHA-256 only; prefix tells keys apart in lists.
    CREATE TABLE api_keys (
      key_hash TEXT PRIMARY KEY,
      workspace_id INTEGER NOT NULL,
      kind TEXT NOT NULL CHECK (kind IN ('admin', 'publishable')),
      prefix TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      revoked_at INTEGER
    ) WITHOUT ROWID;
    CREATE INDEX api_keys_workspace ON api_keys (workspace_id);
    CREATE TABLE settings (
      workspace_id INTEGER NOT NULL,
      name TEXT NOT NULL,
      value TEXT NOT NULL,
      updated_at INTEGER NOT NULL,
      PRIMARY KEY (workspace_id, name)
    ) WITHOUT ROWID;

    CREATE TABLE contacts (
      workspace_id INTEGER NOT NULL,
      id TEXT NOT NULL,
      email TEXT, first_name TEXT, last_name TEXT, locale TEXT, owner TEXT,
      vip INTEGER NOT NULL DEFAULT 0,
      tags TEXT NOT NULL DEFAULT '[]',
      attributes TEXT NOT NULL DEFAULT '{}',
      rfm_r INTEGER, rfm_f INTEGER, rfm_m INTEGER, rfm_segment TEXT,
      rfm_recency_days INTEGER, rfm_frequency INTEGER, rfm_monetary_cents INTEGER,
      created_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL,
      PRIMARY KEY (workspace_id, id)
    ) WITHOUT ROWID;
    CREATE INDEX contacts_segment ON contacts (workspace_id, rfm_segment) WHERE rfm_segment IS NOT NULL;

    -- seq is the order of arrival. processed_at is NULL until the scenario executor has
    -- handled the event. (Since schema 4's executor, posted events are handled in the unit that
    -- stores them and arrive processed; events written by effects are handled after.)
    CREATE TABLE events (
      seq INTEGER PRIMARY KEY,
      workspace_id INTEGER NOT NULL,
      id TEXT NOT NULL,
      type TEXT NOT NULL,
      contact_id TEXT NOT NULL,
      time INTEGER NOT NULL,
      received_at INTEGER NOT NULL,
      contact TEXT,
      data TEXT NOT NULL,
      processed_at INTEGER
    );
    CREATE UNIQUE INDEX events_id ON events (workspace_id, id);
    CREATE INDEX events_time ON events (workspace_id, time, seq);
    CREATE INDEX events_contact ON events (workspace_id, contact_id, time, seq);
    CREATE INDEX events_type ON events (workspace_id, type, time, seq);
    CREATE INDEX events_unprocessed ON events (seq) WHERE processed_at IS NULL;

    -- Survey answers and purchases, for reports and RFM: each clustered by time (one b-tree,
    -- appended to). A contact's rows are found through its events (events_contact).
    CREATE TABLE responses (
      workspace_id INTEGER NOT NULL,
      kind TEXT NOT NULL CHECK (kind IN ('nps', 'csat')),
      time INTEGER NOT NULL,
      event_seq INTEGER NOT NULL,
      event_id TEXT NOT NULL,
      contact_id TEXT NOT NULL,
      score INTEGER NOT NULL,
      survey TEXT, channel TEXT, comment TEXT, agent TEXT, ticket_id TEXT, topic TEXT,
      PRIMARY KEY (workspace_id, kind, time, event_seq)
    ) WITHOUT ROWID;

    CREATE TABLE purchases (
      workspace_id INTEGER NOT NULL,
      time INTEGER NOT NULL,
      event_seq INTEGER NOT NULL,
      contact_id TEXT NOT NULL,
      amount REAL NOT NULL,
      currency TEXT NOT NULL,
      PRIMARY KEY (workspace_id, time, event_seq)
    ) WITHOUT ROWID;

    CREATE TABLE voucher_campaigns (
      workspace_id INTEGER NOT NULL,
      id TEXT NOT NULL,
      doc TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL,
      PRIMARY KEY (workspace_id, id)
    ) WITHOUT ROWID;
    CREATE TABLE vouchers (
      workspace_id INTEGER NOT NULL,
      code TEXT NOT NULL,
      campaign_id TEXT NOT NULL,
      contact_id TEXT NOT NULL,
      value REAL NOT NULL,
      currency TEXT NOT NULL,
      percent REAL NOT NULL,
      assigned_at INTEGER NOT NULL,
      expires_at INTEGER,
      redeemed_at INTEGER,
      assign_key TEXT,
      PRIMARY KEY (workspace_id, code)
    ) WITHOUT ROWID;
    CREATE INDEX vouchers_assigned ON vouchers (workspace_id, assigned_at);
    CREATE INDEX vouchers_contact ON vouchers (workspace_id, contact_id, assigned_at);
    CREATE INDEX vouchers_campaign_contact ON vouchers (workspace_id, campaign_id, contact_id, assigned_at);
    CREATE UNIQUE INDEX vouchers_key ON vouchers (workspace_id, assign_key) WHERE assign_key IS NOT NULL;

    CREATE TABLE tasks (
      seq INTEGER PRIMARY KEY,
      workspace_id INTEGER NOT NULL,
      id TEXT NOT NULL,
      role TEXT, assignee TEXT,
      title TEXT NOT NULL,
      message TEXT NOT NULL DEFAULT '',
      contact_id TEXT, run_id TEXT, effect_key TEXT,
      status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done')),
      created_at INTEGER NOT NULL,
      due_at INTEGER,
      done_at INTEGER
    );
    CREATE UNIQUE INDEX tasks_id ON tasks (workspace_id, id);
    CREATE UNIQUE INDEX tasks_key ON tasks (workspace_id, effect_key) WHERE effect_key IS NOT NULL;
    CREATE INDEX tasks_workspace ON tasks (workspace_id, seq);
    CREATE INDEX tasks_role ON tasks (workspace_id, role, seq);
    CREATE INDEX tasks_role_status ON tasks (workspace_id, role, status, seq);
    CREATE INDEX tasks_status ON tasks (workspace_id, status, seq);
    CREATE INDEX tasks_contact ON tasks (workspace_id, contact_id, status);

    -- The transactional outbox: effects recorded in the same transaction as the state that
    -- caused them, performed later by delivery workers; one entry per idempotency key.
    CREATE TABLE outbox (
      seq INTEGER PRIMARY KEY,
      workspace_id INTEGER NOT NULL,
      key TEXT NOT NULL,
      kind TEXT NOT NULL,
      contact_id TEXT, run_id TEXT,
      params TEXT NOT NULL,
      status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed', 'dead')),
      attempts INTEGER NOT NULL DEFAULT 0,
      next_attempt_at INTEGER,
      last_error TEXT,
      created_at INTEGER NOT NULL,
      sent_at INTEGER
    );
    CREATE UNIQUE INDEX outbox_key ON outbox (workspace_id, key);
    CREATE INDEX outbox_workspace ON outbox (workspace_id, seq);
    CREATE INDEX outbox_status ON outbox (workspace_id, status, seq);
    CREATE INDEX outbox_status_kind ON outbox (workspace_id, status, kind, seq);
    CREATE INDEX outbox_kind ON outbox (workspace_id, kind, seq);
    CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE status IN ('pending', 'failed');
    CREATE INDEX outbox_contact ON outbox (workspace_id, contact_id);
    CREATE TABLE outbox_attempts (
      seq INTEGER PRIMARY KEY,
      outbox_seq INTEGER NOT NULL,
      workspace_id INTEGER NOT NULL,
      at INTEGER NOT NULL,
      ok INTEGER NOT NULL,
      detail TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX outbox_attempts_entry ON outbox_attempts (outbox_seq, seq);
    )sql",

    // Scenarios with versions, templates and runs (the scenario executor).
    R"sql(
    -- version is the current one; activated says it was ever active, after which a save
    -- makes a new version (live runs finish on the version they started on).
    CREATE TABLE scenarios (
      workspace_id INTEGER NOT NULL,
      id TEXT NOT NULL,
      version INTEGER NOT NULL,
      status TEXT NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'active', 'paused')),
      activated INTEGER NOT NULL DEFAULT 0,
      created_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL,
      PRIMARY KEY (workspace_id, id)
    ) WITHOUT ROWID;
    CREATE INDEX scenarios_active ON scenarios (status, workspace_id, id) WHERE status = 'active';
    CREATE TABLE scenario_versions (
      workspace_id INTEGER NOT NULL,
      scenario_id TEXT NOT NULL,
      version INTEGER NOT NULL,
      doc TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      PRIMARY KEY (workspace_id, scenario_id, version)
    ) WITHOUT ROWID;

    CREATE TABLE templates (
      workspace_id INTEGER NOT NULL,
      id TEXT NOT NULL,
      doc TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL,
      PRIMARY KEY (workspace_id, id)
    ) WITHOUT ROWID;

    -- One row per run; state is the engine's run state (JSON), trace and effects accumulate.
    CREATE TABLE runs (
      seq INTEGER PRIMARY KEY,
      workspace_id INTEGER NOT NULL,
      id TEXT NOT NULL,
      scenario_id TEXT NOT NULL,
      version INTEGER NOT NULL,
      contact_id TEXT NOT NULL,
      event_id TEXT NOT NULL,
      status TEXT NOT NULL CHECK (status IN ('waiting', 'done', 'failed')),
      wake_at INTEGER,
      error TEXT,
      state TEXT NOT NULL,
      trace TEXT NOT NULL,
      effects TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL
    );
    CREATE UNIQUE INDEX runs_id ON runs (workspace_id, id);
    CREATE INDEX runs_due ON runs (wake_at) WHERE status = 'waiting';
    CREATE INDEX runs_scenario_contact ON runs (workspace_id, scenario_id, contact_id, created_at);
    CREATE INDEX runs_workspace ON runs (workspace_id, seq);
    CREATE INDEX runs_scenario ON runs (workspace_id, scenario_id, seq);
    CREATE INDEX runs_contact ON runs (workspace_id, contact_id, seq);
    CREATE INDEX runs_status ON runs (workspace_id, status, seq);
    -- No scenario could exist before this version, so nothing is left to react to the events
    -- stored until now: the executor starts with an empty backlog rather than a history.
    UPDATE events SET processed_at = received_at WHERE processed_at IS NULL;
    )sql",

    // 4: the re-entry facts of every event a scenario's trigger matches (run_history) come
    // from the index alone: without the status in it each lookup read the run's row, large
    // with its state and trace, and mostly not in the cache.
    R"sql(
    DROP INDEX runs_scenario_contact;
    CREATE INDEX runs_scenario_contact ON runs (workspace_id, scenario_id, contact_id, created_at, status);
    )sql",
};

constexpr std::int64_t int64_max = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t int64_min = std::numeric_limits<std::int64_t>::min();

// ---- 2. Row mapping ------------------------------------------------------------------------

json parse_stored(const std::string& text, json fallback) {
    // Most contacts have no tags and no attributes: their defaults need no parser.
    if (text == "[]") return json::array();
    if (text == "{}") return json::object();
    // Our own JSON, written by this store; a damaged value reads as the fallback.
    json j = json::parse(text, nullptr, false);
    return j.is_discarded() ? fallback : j;
}

std::optional<Time> opt_time(const Stmt& st, int col) {
    if (st.is_null(col)) return std::nullopt;
    return Time{st.int64(col)};
}

Time time_at(const Stmt& st, int col) {
    return Time{st.int64(col)};
}

void bind_time(Stmt& st, int i, const std::optional<Time>& t) {
    if (t)
        st.bind(i, t->ms);
    else
        st.bind_null(i);
}

// What an event row needs, computed before the writer sees it (JSON is written on the
// caller's thread, not on the writer's).
struct EventRow {
    const Event* event = nullptr;
    std::string contact_json;  // "" when the event names only the contact id
    std::string data_json;
    std::optional<Time> time;  // the event's own time; the receive time otherwise
    std::optional<Response> response;
    bool only_contact_id = true;
};

bool patch_has_fields(const ContactPatch& p) {
    return p.email || p.first_name || p.last_name || p.locale || p.owner || p.vip || p.tags || p.attributes;
}

std::vector<EventRow> event_rows(std::span<const Event> events, Time received_at) {
    std::vector<EventRow> rows;
    rows.reserve(events.size());
    for (const Event& e : events) {
        EventRow row;
        row.event = &e;
        row.only_contact_id = !patch_has_fields(e.contact);
        if (!row.only_contact_id) {
            ContactPatch stored = e.contact;
            stored.rfm.reset();  // computed, never taken from input
            row.contact_json = json(stored).dump();
        }
        row.data_json = e.data.dump();
        row.time = e.time;
        row.response = response_from_event(e, received_at);
        rows.push_back(std::move(row));
    }
    return rows;
}

// Columns 0-5: email, first_name, last_name, locale, owner, vip.
void read_contact_fields(const Stmt& st, Contact& c) {
    c.email = st.text(0);
    c.first_name = st.text(1);
    c.last_name = st.text(2);
    c.locale = st.text(3);
    c.owner = st.text(4);
    c.vip = st.int64(5) != 0;
}

StoredContact read_contact(const Stmt& st, std::string id) {
    StoredContact out;
    Contact& c = out.contact;
    c.id = std::move(id);
    read_contact_fields(st, c);
    const json tags = parse_stored(st.text(6), json::array());
    for (const auto& t : tags)
        if (t.is_string()) c.tags.push_back(t.get<std::string>());
    c.attributes = parse_stored(st.text(7), json::object());
    if (!st.is_null(8) && !st.is_null(11)) {
        ContactRfm rfm;
        rfm.r = st.int32(8);
        rfm.f = st.int32(9);
        rfm.m = st.int32(10);
        rfm.segment = st.text(11);
        rfm.recency_days = st.int64(12);
        rfm.frequency = st.int64(13);
        rfm.monetary_cents = st.int64(14);
        c.rfm = std::move(rfm);
    }
    out.created_at = time_at(st, 15);
    out.updated_at = time_at(st, 16);
    return out;
}

// Columns: seq, workspace_id, id, type, contact_id, time, received_at, contact, data, processed_at
#define CL_EVENT_COLUMNS "seq, workspace_id, id, type, contact_id, time, received_at, contact, data, processed_at"

StoredEvent read_event(const Stmt& st) {
    StoredEvent out;
    out.seq = st.int64(0);
    out.workspace = st.int64(1);
    Event& e = out.event;
    e.id = st.text(2);
    e.type = st.text(3);
    e.kind = event_type_of(e.type);
    e.contact.id = st.text(4);
    e.time = time_at(st, 5);
    out.received_at = time_at(st, 6);
    if (!st.is_null(7)) {
        auto patch = contact_patch_from_json(parse_stored(st.text(7), json::object()));
        if (patch) {
            e.contact = std::move(*patch);
            e.contact.id = st.text(4);
        }
    }
    e.data = parse_stored(st.text(8), json::object());
    out.processed_at = opt_time(st, 9);
    return out;
}

// A contact's responses, through its events (responses are clustered by time, not contact).
#define CL_RESPONSE_COLUMNS                                                                                     \
    "r.event_id, r.contact_id, r.kind, r.score, r.time, r.survey, r.channel, r.comment, r.agent, r.ticket_id, " \
    "r.topic"
#define CL_CONTACT_RESPONSES                                                                                     \
    " FROM events e INDEXED BY events_contact JOIN responses r ON r.workspace_id = e.workspace_id AND r.time = " \
    "e.time AND "                                                                                                \
    "r.event_seq = e.seq AND r.kind = CASE e.type WHEN 'nps_response' THEN 'nps' ELSE 'csat' END "               \
    "WHERE e.workspace_id = ?1 AND e.contact_id = ?2 "

Response read_response(const Stmt& st) {
    Response r;
    r.event_id = st.text(0);
    r.contact_id = st.text(1);
    r.kind = st.text(2) == "csat" ? ResponseKind::csat : ResponseKind::nps;
    r.score = st.int32(3);
    r.time = time_at(st, 4);
    r.survey = st.text(5);
    r.channel = st.text(6);
    r.comment = st.text(7);
    r.agent = st.text(8);
    r.ticket_id = st.text(9);
    r.topic = st.text(10);
    return r;
}

#define CL_VOUCHER_COLUMNS \
    "code, campaign_id, contact_id, value, currency, percent, assigned_at, expires_at, redeemed_at, assign_key"

// Of vouchers assigned at the same instant, the one assigned last first (its voucher_assigned
// event's seq), as the simulator's history orders them; codes are random, so not by code.
#define CL_VOUCHER_ASSIGNED_LAST                                                 \
    "(SELECT seq FROM events WHERE events.workspace_id = vouchers.workspace_id " \
    "AND events.id = 'voucher_assigned:' || vouchers.code) DESC"

Voucher read_voucher(const Stmt& st) {
    Voucher v;
    v.code = st.text(0);
    v.campaign = st.text(1);
    v.contact = st.text(2);
    v.value = st.real(3);
    v.currency = st.text(4);
    v.percent = st.real(5);
    v.assigned_at = time_at(st, 6);
    v.expires_at = opt_time(st, 7);
    v.redeemed_at = opt_time(st, 8);
    v.key = st.text(9);
    return v;
}

#define CL_TASK_COLUMNS \
    "id, role, assignee, title, message, contact_id, run_id, effect_key, status, created_at, due_at, done_at"

Task read_task(const Stmt& st) {
    Task t;
    t.id = st.text(0);
    t.role = st.text(1);
    t.assignee = st.text(2);
    t.title = st.text(3);
    t.message = st.text(4);
    t.contact = st.text(5);
    t.run_id = st.text(6);
    t.key = st.text(7);
    t.status = st.text(8);
    t.created_at = time_at(st, 9);
    t.due_at = opt_time(st, 10);
    t.done_at = opt_time(st, 11);
    return t;
}

#define CL_OUTBOX_COLUMNS \
    "seq, key, kind, contact_id, run_id, params, status, attempts, next_attempt_at, last_error, created_at, sent_at"

OutboxEntry read_outbox(const Stmt& st) {
    OutboxEntry o;
    o.seq = st.int64(0);
    o.key = st.text(1);
    o.kind = st.text(2);
    o.contact = st.text(3);
    o.run_id = st.text(4);
    o.params = parse_stored(st.text(5), json::object());
    o.status = st.text(6);
    o.attempts = st.int32(7);
    o.next_attempt_at = opt_time(st, 8);
    o.last_error = st.text(9);
    o.created_at = time_at(st, 10);
    o.sent_at = opt_time(st, 11);
    return o;
}

#define CL_RUN_COLUMNS                                                                                              \
    "workspace_id, id, scenario_id, version, contact_id, event_id, status, wake_at, error, state, trace, effects, " \
    "created_at, updated_at"

RunRecord read_run(const Stmt& st) {
    RunRecord r;
    r.workspace = st.int64(0);
    r.id = st.text(1);
    r.scenario = st.text(2);
    r.version = st.int32(3);
    r.contact = st.text(4);
    r.event_id = st.text(5);
    r.status = st.text(6);
    r.wake_at = opt_time(st, 7);
    r.error = st.text(8);
    r.state = parse_stored(st.text(9), json::object());
    r.trace = parse_stored(st.text(10), json::array());
    r.effects = parse_stored(st.text(11), json::array());
    r.created_at = time_at(st, 12);
    r.updated_at = time_at(st, 13);
    return r;
}

// The current version of scenarios: s = scenarios, v = scenario_versions.
#define CL_SCENARIO_COLUMNS "s.workspace_id, s.id, s.version, s.status, v.doc, s.created_at, s.updated_at"
#define CL_SCENARIO_CURRENT                                                                                   \
    " FROM scenarios s JOIN scenario_versions v ON v.workspace_id = s.workspace_id AND v.scenario_id = s.id " \
    "AND v.version = s.version "

// The document as stored, with the store's id, version and status (never taken from input).
StoredScenario read_scenario(const Stmt& st) {
    StoredScenario s;
    s.workspace = st.int64(0);
    s.id = st.text(1);
    s.version = st.int32(2);
    s.status = st.text(3);
    s.document = parse_stored(st.text(4), json::object());
    if (!s.document.is_object()) s.document = json::object();
    s.document["id"] = s.id;
    s.document["version"] = s.version;
    s.document["status"] = s.status;
    s.created_at = time_at(st, 5);
    s.updated_at = time_at(st, 6);
    return s;
}

std::string scenario_doc_text(const json& document) {
    json doc = document.is_object() ? document : json::object();
    doc.erase("version");
    doc.erase("status");
    return doc.dump();
}

void load_attempts(Db& db, OutboxEntry& o) {
    auto st = db.prepare("SELECT at, ok, detail FROM outbox_attempts WHERE outbox_seq = ?1 ORDER BY seq");
    st.bind(1, o.seq);
    while (st.step()) o.attempt_log.push_back({time_at(st, 0), st.int64(1) != 0, st.text(2)});
}

std::optional<StoredContact> select_contact(Db& db, WorkspaceId ws, std::string_view id) {
    auto st = db.prepare(
        "SELECT email, first_name, last_name, locale, owner, vip, tags, attributes, rfm_r, rfm_f, rfm_m, "
        "rfm_segment, rfm_recency_days, rfm_frequency, rfm_monetary_cents, created_at, updated_at "
        "FROM contacts WHERE workspace_id = ?1 AND id = ?2");
    st.bind(1, ws).bind(2, id);
    if (!st.step()) return std::nullopt;
    return read_contact(st, std::string(id));
}

std::optional<RunRecord> select_run(Db& db, WorkspaceId ws, std::string_view id) {
    auto st = db.prepare("SELECT " CL_RUN_COLUMNS " FROM runs WHERE workspace_id = ?1 AND id = ?2");
    st.bind(1, ws).bind(2, id);
    if (!st.step()) return std::nullopt;
    return read_run(st);
}

std::vector<Voucher> contact_vouchers(Db& db, WorkspaceId ws, std::string_view contact) {
    auto st = db.prepare("SELECT " CL_VOUCHER_COLUMNS
                         " FROM vouchers WHERE workspace_id = ?1 AND contact_id = ?2 ORDER BY assigned_at DESC, code");
    st.bind(1, ws).bind(2, contact);
    std::vector<Voucher> out;
    while (st.step()) out.push_back(read_voucher(st));
    return out;
}

// ---- 3. SqliteWriteTx ----------------------------------------------------------------------

class SqliteWriteTx final : public WriteTx {
public:
    explicit SqliteWriteTx(Db& db) : db_(db) {}

    // Whether this transaction stored events the executor has yet to handle.
    bool unprocessed_events() const { return unprocessed_events_; }

    Workspace create_workspace(const std::string& slug, const std::string& name, Time now) override {
        db_.prepare("INSERT INTO workspaces (slug, name, created_at) VALUES (?1, ?2, ?3)")
            .bind(1, slug)
            .bind(2, name)
            .bind(3, now.ms)
            .run();
        return {db_.last_insert_rowid(), slug, name, now};
    }

    void add_key(WorkspaceId ws, KeyKind kind, const std::string& key_hash, const std::string& prefix,
                 Time now) override {
        db_.prepare(
               "INSERT INTO api_keys (key_hash, workspace_id, kind, prefix, created_at) VALUES (?1, ?2, ?3, ?4, ?5)")
            .bind(1, key_hash)
            .bind(2, ws)
            .bind(3, key_kind_name(kind))
            .bind(4, prefix)
            .bind(5, now.ms)
            .run();
    }

    void put_setting(WorkspaceId ws, const std::string& name, const json& value, Time now) override {
        db_.prepare(
               "INSERT INTO settings (workspace_id, name, value, updated_at) VALUES (?1, ?2, ?3, ?4) "
               "ON CONFLICT (workspace_id, name) DO UPDATE SET value = excluded.value, updated_at = "
               "excluded.updated_at")
            .bind(1, ws)
            .bind(2, name)
            .bind(3, value.dump())
            .bind(4, now.ms)
            .run();
    }

    IngestResult insert_events(WorkspaceId ws, std::span<const Event> events, Time received_at) override {
        const auto rows = event_rows(events, received_at);
        return insert_rows(ws, rows, received_at);
    }

    // `handler`: see Store::insert_events. Without one, events are stored unprocessed.
    IngestResult insert_rows(WorkspaceId ws, const std::vector<EventRow>& rows, Time received_at,
                             EventHandler* handler = nullptr) {
        IngestResult result;
        for (const EventRow& row : rows) {
            const Event& e = *row.event;
            const Time time = row.time.value_or(received_at);
            auto ins = db_.prepare(
                "INSERT INTO events (workspace_id, id, type, contact_id, time, received_at, contact, data, "
                "processed_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (workspace_id, id) DO NOTHING");
            ins.bind(1, ws)
                .bind(2, e.id)
                .bind(3, e.type)
                .bind(4, e.contact.id)
                .bind(5, time.ms)
                .bind(6, received_at.ms)
                .bind_text_or_null(7, row.contact_json)
                .bind(8, row.data_json);
            if (handler)
                ins.bind(9, received_at.ms);
            else
                ins.bind_null(9);
            if (ins.run() == 0) {
                ++result.duplicates;
                continue;
            }
            ++result.accepted;
            const std::int64_t seq = db_.last_insert_rowid();

            // The handler needs the contact whole: read once, written if the event changed it.
            const bool wanted = handler && handler->wants(ws, e);
            std::optional<StoredContact> contact;
            if (wanted)
                contact = upsert_contact(ws, e.contact, time);
            else if (row.only_contact_id)
                ensure_contact(ws, e.contact.id, time);
            else
                upsert_event_contact(ws, e.contact, time);
            if (row.response) insert_response(ws, seq, *row.response);
            if (e.kind == EventType::purchase) insert_purchase(ws, seq, e, time);
            if (e.kind == EventType::voucher_redeemed) mark_redeemed(ws, e, time);

            if (!handler) {
                unprocessed_events_ = true;
                continue;
            }
            ++result.handled;
            if (!wanted) continue;
            if (e.time) {
                handler->handle(*this, ws, seq, e, contact->contact);
            } else {
                Event timed = e;
                timed.time = time;
                handler->handle(*this, ws, seq, timed, contact->contact);
            }
        }
        return result;
    }

    void mark_events_processed(std::span<const std::int64_t> seqs, Time now) override {
        // The executor hands over runs of consecutive seqs (it takes events oldest first): one
        // range UPDATE per run instead of one statement per event.
        for (std::size_t i = 0; i < seqs.size();) {
            std::size_t j = i + 1;
            while (j < seqs.size() && seqs[j] == seqs[j - 1] + 1) ++j;
            db_.prepare("UPDATE events SET processed_at = ?3 WHERE seq BETWEEN ?1 AND ?2 AND processed_at IS NULL")
                .bind(1, seqs[i])
                .bind(2, seqs[j - 1])
                .bind(3, now.ms)
                .run();
            i = j;
        }
    }

    StoredContact upsert_contact(WorkspaceId ws, const ContactPatch& patch, Time now) override {
        auto existing = select_contact(db_, ws, patch.id);
        // RFM scores are computed by RFM, never taken from input.
        if (!existing) {
            StoredContact created{{}, now, now};
            created.contact.id = patch.id;
            apply(created.contact, patch, PatchRfm::ignore);
            write_contact(ws, created, true);
            return created;
        }
        if (!apply(existing->contact, patch, PatchRfm::ignore)) return std::move(*existing);
        existing->updated_at = now;
        write_contact(ws, *existing, false);
        return std::move(*existing);
    }

    // The contact of an event. Most events repeat what is stored (a stream names the same
    // contacts again and again): when the patch touches no tags or attributes, only the other
    // fields are read and compared (core's apply decides what changes), without reading and
    // parsing the stored JSON; anything else goes through upsert_contact.
    void upsert_event_contact(WorkspaceId ws, const ContactPatch& patch, Time now) {
        if (!patch.tags && !patch.attributes) {
            auto st = db_.prepare(
                "SELECT email, first_name, last_name, locale, owner, vip FROM contacts WHERE workspace_id = ?1 AND "
                "id = ?2");
            st.bind(1, ws).bind(2, patch.id);
            if (st.step()) {
                Contact stored;
                stored.id = patch.id;
                read_contact_fields(st, stored);
                if (!apply(stored, patch, PatchRfm::ignore)) return;
            }
        }
        upsert_contact(ws, patch, now);
    }

    std::optional<StoredContact> find_contact(WorkspaceId ws, std::string_view id) override {
        return select_contact(db_, ws, id);
    }

    std::size_t count_events(WorkspaceId ws, std::string_view contact, std::string_view type, Time since) override {
        auto st = db_.prepare(
            "SELECT count(*) FROM events INDEXED BY events_contact WHERE workspace_id = ?1 AND contact_id = ?2 "
            "AND time >= ?4 AND type = ?3");
        st.bind(1, ws).bind(2, contact).bind(3, type).bind(4, since.ms);
        st.step();
        return static_cast<std::size_t>(st.int64(0));
    }

    std::optional<Voucher> latest_voucher(WorkspaceId ws, std::string_view contact, std::string_view campaign,
                                          Time since) override {
        auto st = db_.prepare("SELECT " CL_VOUCHER_COLUMNS
                              " FROM vouchers WHERE workspace_id = ?1 AND campaign_id = ?2 AND contact_id = ?3 "
                              "AND assigned_at >= ?4 ORDER BY assigned_at DESC LIMIT 1");
        st.bind(1, ws).bind(2, campaign).bind(3, contact).bind(4, since.ms);
        if (!st.step()) return std::nullopt;
        return read_voucher(st);
    }

    Voucher assign_voucher(WorkspaceId ws, const VoucherCampaign& campaign, const std::string& contact,
                           const std::string& code, const std::string& key, Time now) override {
        if (!key.empty()) {
            auto st =
                db_.prepare("SELECT " CL_VOUCHER_COLUMNS " FROM vouchers WHERE workspace_id = ?1 AND assign_key = ?2");
            st.bind(1, ws).bind(2, key);
            if (st.step()) return read_voucher(st);
        }
        Voucher v;
        v.code = code;
        v.campaign = campaign.id;
        v.contact = contact;
        v.value = campaign.percent ? 0 : campaign.value;
        v.currency = campaign.currency;
        v.percent = campaign.percent ? campaign.value : 0;
        v.assigned_at = now;
        v.expires_at = voucher_expiry(campaign, now);
        v.key = key;
        auto ins = db_.prepare(
            "INSERT INTO vouchers (workspace_id, code, campaign_id, contact_id, value, currency, percent, "
            "assigned_at, expires_at, assign_key) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
        ins.bind(1, ws)
            .bind(2, v.code)
            .bind(3, v.campaign)
            .bind(4, v.contact)
            .bind(5, v.value)
            .bind(6, v.currency)
            .bind(7, v.percent)
            .bind(8, v.assigned_at.ms)
            .bind_text_or_null(10, v.key);
        bind_time(ins, 9, v.expires_at);
        ins.run();

        // On the timeline and in the history expressions read: core's one definition (voucher.h).
        const Event assigned =
            voucher_assigned_event(campaign, closeloop::assign_voucher(campaign, code, now), contact);
        insert_events(ws, std::span<const Event>(&assigned, 1), now);
        return v;
    }

    Task create_task(WorkspaceId ws, const Task& task) override {
        if (!task.key.empty()) {
            auto st = db_.prepare("SELECT " CL_TASK_COLUMNS " FROM tasks WHERE workspace_id = ?1 AND effect_key = ?2");
            st.bind(1, ws).bind(2, task.key);
            if (st.step()) return read_task(st);
        }
        auto ins = db_.prepare(
            "INSERT INTO tasks (workspace_id, id, role, assignee, title, message, contact_id, run_id, effect_key, "
            "status, created_at, due_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'open', ?10, ?11)");
        ins.bind(1, ws)
            .bind(2, task.id)
            .bind_text_or_null(3, task.role)
            .bind_text_or_null(4, task.assignee)
            .bind(5, task.title)
            .bind(6, task.message)
            .bind_text_or_null(7, task.contact)
            .bind_text_or_null(8, task.run_id)
            .bind_text_or_null(9, task.key)
            .bind(10, task.created_at.ms);
        bind_time(ins, 11, task.due_at);
        ins.run();
        Task out = task;
        out.status = "open";
        out.done_at.reset();
        return out;
    }

    bool enqueue_effect(WorkspaceId ws, const OutboxEntry& effect) override {
        auto ins = db_.prepare(
            "INSERT INTO outbox (workspace_id, key, kind, contact_id, run_id, params, status, created_at, "
            "next_attempt_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7, ?8) "
            "ON CONFLICT (workspace_id, key) DO NOTHING");
        ins.bind(1, ws)
            .bind(2, effect.key)
            .bind(3, effect.kind)
            .bind_text_or_null(4, effect.contact)
            .bind_text_or_null(5, effect.run_id)
            .bind(6, effect.params.dump())
            .bind(7, effect.created_at.ms)
            .bind(8, effect.next_attempt_at.value_or(effect.created_at).ms);
        return ins.run() > 0;
    }

    bool voucher_assigned_between(WorkspaceId ws, std::string_view contact, std::string_view campaign, Time since,
                                  Time until) override {
        auto st = db_.prepare(
            "SELECT 1 FROM events INDEXED BY events_contact WHERE workspace_id = ?1 AND contact_id = ?2 "
            "AND time >= ?4 AND time <= ?5 AND type = 'voucher_assigned' AND json_extract(data, '$.campaign') = ?3 "
            "LIMIT 1");
        st.bind(1, ws).bind(2, contact).bind(3, campaign).bind(4, since.ms).bind(5, until.ms);
        return st.step();
    }

    std::int64_t count_events_between(WorkspaceId ws, std::string_view contact, std::string_view type, Time since,
                                      Time until) override {
        auto st = db_.prepare(
            "SELECT count(*) FROM events INDEXED BY events_contact WHERE workspace_id = ?1 AND contact_id = ?2 "
            "AND time >= ?4 AND time <= ?5 AND type = ?3");
        st.bind(1, ws).bind(2, contact).bind(3, type).bind(4, since.ms).bind(5, until.ms);
        st.step();
        return st.int64(0);
    }

    std::optional<int> previous_nps(WorkspaceId ws, std::string_view contact, Time before,
                                    std::string_view current_event_id) override {
        auto st = db_.prepare(
            "SELECT json_extract(data, '$.score') FROM events INDEXED BY events_contact WHERE workspace_id = ?1 "
            "AND contact_id = ?2 AND time < ?3 AND type = 'nps_response' AND id != ?4 "
            "ORDER BY time DESC, seq DESC LIMIT 1");
        st.bind(1, ws).bind(2, contact).bind(3, before.ms).bind(4, current_event_id);
        if (!st.step() || st.is_null(0)) return std::nullopt;
        return st.int32(0);
    }

    std::vector<Voucher> contact_vouchers(WorkspaceId ws, std::string_view contact, Time until) override {
        auto st = db_.prepare("SELECT " CL_VOUCHER_COLUMNS
                              " FROM vouchers INDEXED BY vouchers_contact WHERE workspace_id = ?1 AND contact_id = ?2 "
                              "AND assigned_at <= ?3 ORDER BY assigned_at DESC, " CL_VOUCHER_ASSIGNED_LAST);
        st.bind(1, ws).bind(2, contact).bind(3, until.ms);
        std::vector<Voucher> out;
        while (st.step()) out.push_back(read_voucher(st));
        return out;
    }

    std::optional<Voucher> find_voucher(WorkspaceId ws, std::string_view code) override {
        auto st = db_.prepare("SELECT " CL_VOUCHER_COLUMNS " FROM vouchers WHERE workspace_id = ?1 AND code = ?2");
        st.bind(1, ws).bind(2, code);
        if (!st.step()) return std::nullopt;
        return read_voucher(st);
    }

    RunHistory run_history(WorkspaceId ws, std::string_view scenario, std::string_view contact) override {
        auto st = db_.prepare(
            "SELECT max(created_at), max(status = 'waiting') FROM runs INDEXED BY runs_scenario_contact "
            "WHERE workspace_id = ?1 AND scenario_id = ?2 AND contact_id = ?3");
        st.bind(1, ws).bind(2, scenario).bind(3, contact);
        RunHistory h;
        if (st.step() && !st.is_null(0)) {
            h.last_started_at = time_at(st, 0);
            h.live_run = st.int64(1) != 0;
        }
        return h;
    }

    std::optional<RunRecord> find_run(WorkspaceId ws, std::string_view id) override { return select_run(db_, ws, id); }

    void save_run(const RunRecord& r) override {
        auto st = db_.prepare(
            "INSERT INTO runs (workspace_id, id, scenario_id, version, contact_id, event_id, status, wake_at, error, "
            "state, trace, effects, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "
            "?12, ?13, ?14) ON CONFLICT (workspace_id, id) DO UPDATE SET status = excluded.status, wake_at = "
            "excluded.wake_at, error = excluded.error, state = excluded.state, trace = excluded.trace, effects = "
            "excluded.effects, updated_at = excluded.updated_at");
        st.bind(1, r.workspace)
            .bind(2, r.id)
            .bind(3, r.scenario)
            .bind(4, r.version)
            .bind(5, r.contact)
            .bind(6, r.event_id)
            .bind(7, r.status)
            .bind_text_or_null(9, r.error)
            .bind(10, r.state.dump(-1, ' ', false, json::error_handler_t::replace))
            .bind(11, r.trace.dump(-1, ' ', false, json::error_handler_t::replace))
            .bind(12, r.effects.dump(-1, ' ', false, json::error_handler_t::replace))
            .bind(13, r.created_at.ms)
            .bind(14, r.updated_at.ms);
        bind_time(st, 8, r.wake_at);
        st.run();
    }

    // ---- units used by SqliteStore's own writes --------------------------------------------

    ScenarioSave create_scenario(WorkspaceId ws, const json& document, Time now) {
        const std::string id = document.value("id", "");
        auto ins = db_.prepare(
            "INSERT INTO scenarios (workspace_id, id, version, status, created_at, updated_at) "
            "VALUES (?1, ?2, 1, 'draft', ?3, ?3) ON CONFLICT (workspace_id, id) DO NOTHING");
        ins.bind(1, ws).bind(2, id).bind(3, now.ms);
        if (ins.run() == 0) return ScenarioSave::exists;
        // A deleted scenario's versions are gone, so version 1 is free.
        insert_scenario_version(ws, id, 1, document, now);
        return ScenarioSave::saved;
    }

    ScenarioSave update_scenario(WorkspaceId ws, std::string_view id, const json& document, Time now) {
        auto st = db_.prepare("SELECT version, activated FROM scenarios WHERE workspace_id = ?1 AND id = ?2");
        st.bind(1, ws).bind(2, id);
        if (!st.step()) return ScenarioSave::not_found;
        const int version = st.int32(0);
        const bool activated = st.int64(1) != 0;
        if (!activated) {
            db_.prepare(
                   "UPDATE scenario_versions SET doc = ?4, created_at = ?5 "
                   "WHERE workspace_id = ?1 AND scenario_id = ?2 AND version = ?3")
                .bind(1, ws)
                .bind(2, id)
                .bind(3, version)
                .bind(4, scenario_doc_text(document))
                .bind(5, now.ms)
                .run();
        } else {
            insert_scenario_version(ws, std::string(id), version + 1, document, now);
        }
        db_.prepare("UPDATE scenarios SET version = ?3, updated_at = ?4 WHERE workspace_id = ?1 AND id = ?2")
            .bind(1, ws)
            .bind(2, id)
            .bind(3, activated ? version + 1 : version)
            .bind(4, now.ms)
            .run();
        return ScenarioSave::saved;
    }

    bool set_scenario_status(WorkspaceId ws, std::string_view id, std::string_view status, Time now) {
        auto st = db_.prepare(
            "UPDATE scenarios SET status = ?3, activated = activated OR ?3 = 'active', updated_at = ?4 "
            "WHERE workspace_id = ?1 AND id = ?2");
        st.bind(1, ws).bind(2, id).bind(3, status).bind(4, now.ms);
        return st.run() > 0;
    }

    bool delete_scenario(WorkspaceId ws, std::string_view id, Time now) {
        auto del = db_.prepare("DELETE FROM scenarios WHERE workspace_id = ?1 AND id = ?2");
        del.bind(1, ws).bind(2, id);
        if (del.run() == 0) return false;
        db_.prepare("DELETE FROM scenario_versions WHERE workspace_id = ?1 AND scenario_id = ?2")
            .bind(1, ws)
            .bind(2, id)
            .run();
        // Its timers must not fire later: waiting runs end here, with the reason in their state.
        db_.prepare(
               "UPDATE runs INDEXED BY runs_scenario SET status = 'failed', wake_at = NULL, error = ?3, "
               "state = json_set(state, '$.status', 'failed', '$.wake_at', NULL, '$.error', ?3), updated_at = ?4 "
               "WHERE workspace_id = ?1 AND scenario_id = ?2 AND status = 'waiting'")
            .bind(1, ws)
            .bind(2, id)
            .bind(3, "the scenario was deleted")
            .bind(4, now.ms)
            .run();
        return true;
    }

    bool save_template(WorkspaceId ws, const std::string& id, const json& document, Time now) {
        return save_document(
            "INSERT INTO templates (workspace_id, id, doc, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4) "
            "ON CONFLICT (workspace_id, id) DO NOTHING",
            "UPDATE templates SET doc = ?3, updated_at = ?4 WHERE workspace_id = ?1 AND id = ?2", ws, id, document,
            now);
    }

    std::optional<ContactErasure> erase_contact(WorkspaceId ws, std::string_view id) {
        auto gone = db_.prepare("DELETE FROM contacts WHERE workspace_id = ?1 AND id = ?2");
        gone.bind(1, ws).bind(2, id);
        if (gone.run() == 0) return std::nullopt;
        ContactErasure erased;
        const auto erase = [&](const char* sql) {
            auto st = db_.prepare(sql);
            st.bind(1, ws).bind(2, id);
            return static_cast<std::size_t>(st.run());
        };
        // Responses and purchases are found through the contact's events, so they go first.
        {
            auto st = db_.prepare(
                "SELECT type, time, seq FROM events INDEXED BY events_contact "
                "WHERE workspace_id = ?1 AND contact_id = ?2 "
                "AND type IN ('nps_response', 'csat_response', 'purchase')");
            st.bind(1, ws).bind(2, id);
            while (st.step()) {
                const std::string type = st.text(0);
                if (type == "purchase") {
                    auto del =
                        db_.prepare("DELETE FROM purchases WHERE workspace_id = ?1 AND time = ?2 AND event_seq = ?3");
                    del.bind(1, ws).bind(2, st.int64(1)).bind(3, st.int64(2));
                    erased.purchases += static_cast<std::size_t>(del.run());
                } else {
                    auto del = db_.prepare(
                        "DELETE FROM responses WHERE workspace_id = ?1 AND kind = ?2 AND time = ?3 AND event_seq = ?4");
                    del.bind(1, ws)
                        .bind(2, type == "nps_response" ? "nps" : "csat")
                        .bind(3, st.int64(1))
                        .bind(4, st.int64(2));
                    erased.responses += static_cast<std::size_t>(del.run());
                }
            }
        }
        erased.events = erase("DELETE FROM events WHERE workspace_id = ?1 AND contact_id = ?2");
        erased.vouchers = erase("DELETE FROM vouchers WHERE workspace_id = ?1 AND contact_id = ?2");
        erased.tasks = erase("DELETE FROM tasks WHERE workspace_id = ?1 AND contact_id = ?2");
        erase(
            "DELETE FROM outbox_attempts WHERE outbox_seq IN "
            "(SELECT seq FROM outbox WHERE workspace_id = ?1 AND contact_id = ?2)");
        erased.outbox = erase("DELETE FROM outbox WHERE workspace_id = ?1 AND contact_id = ?2");
        erased.runs = erase("DELETE FROM runs INDEXED BY runs_contact WHERE workspace_id = ?1 AND contact_id = ?2");
        return erased;
    }

    bool save_voucher_campaign(WorkspaceId ws, const VoucherCampaign& campaign, Time now) {
        return save_document(
            "INSERT INTO voucher_campaigns (workspace_id, id, doc, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4) "
            "ON CONFLICT (workspace_id, id) DO NOTHING",
            "UPDATE voucher_campaigns SET doc = ?3, updated_at = ?4 WHERE workspace_id = ?1 AND id = ?2", ws,
            campaign.id, json(campaign), now);
    }

    RedeemResult redeem_voucher(WorkspaceId ws, std::string_view code, Time now) {
        auto st = db_.prepare("SELECT " CL_VOUCHER_COLUMNS " FROM vouchers WHERE workspace_id = ?1 AND code = ?2");
        st.bind(1, ws).bind(2, code);
        if (!st.step()) return {RedeemOutcome::not_found, std::nullopt};
        Voucher v = read_voucher(st);
        if (v.redeemed_at) return {RedeemOutcome::already_redeemed, v};
        if (v.expires_at && *v.expires_at <= now) return {RedeemOutcome::expired, v};
        db_.prepare("UPDATE vouchers SET redeemed_at = ?3 WHERE workspace_id = ?1 AND code = ?2")
            .bind(1, ws)
            .bind(2, code)
            .bind(3, now.ms)
            .run();
        v.redeemed_at = now;

        Event redeemed;
        redeemed.id = "voucher_redeemed:" + v.code;
        redeemed.type = "voucher_redeemed";
        redeemed.kind = EventType::voucher_redeemed;
        redeemed.time = now;
        redeemed.contact.id = v.contact;
        redeemed.data = {{"code", v.code}, {"campaign", v.campaign}};
        insert_events(ws, std::span<const Event>(&redeemed, 1), now);
        return {RedeemOutcome::redeemed, v};
    }

    std::optional<Task> complete_task(WorkspaceId ws, std::string_view id, Time now) {
        db_.prepare(
               "UPDATE tasks SET status = 'done', done_at = ?3 WHERE workspace_id = ?1 AND id = ?2 "
               "AND status = 'open'")
            .bind(1, ws)
            .bind(2, id)
            .bind(3, now.ms)
            .run();
        auto st = db_.prepare("SELECT " CL_TASK_COLUMNS " FROM tasks WHERE workspace_id = ?1 AND id = ?2");
        st.bind(1, ws).bind(2, id);
        if (!st.step()) return std::nullopt;
        return read_task(st);
    }

    std::size_t save_rfm(WorkspaceId ws, const std::vector<std::string>& contact_ids, const RfmResult& result) {
        db_.prepare(
               "UPDATE contacts SET rfm_r = NULL, rfm_f = NULL, rfm_m = NULL, rfm_segment = NULL, "
               "rfm_recency_days = NULL, rfm_frequency = NULL, rfm_monetary_cents = NULL "
               "WHERE workspace_id = ?1 AND rfm_segment IS NOT NULL")
            .bind(1, ws)
            .run();
        std::size_t saved = 0;
        for (std::uint32_t i = 0; i < contact_ids.size() && i < result.contacts.size(); ++i) {
            const RfmScore& s = result.contacts[i];
            const std::string* segment = result.segment_name(i);
            if (!segment) continue;
            auto st = db_.prepare(
                "UPDATE contacts SET rfm_r = ?3, rfm_f = ?4, rfm_m = ?5, rfm_segment = ?6, rfm_recency_days = ?7, "
                "rfm_frequency = ?8, rfm_monetary_cents = ?9 WHERE workspace_id = ?1 AND id = ?2");
            st.bind(1, ws)
                .bind(2, contact_ids[i])
                .bind(3, int{s.r})
                .bind(4, int{s.f})
                .bind(5, int{s.m})
                .bind(6, *segment)
                .bind(7, std::int64_t{s.recency_days})
                .bind(8, std::int64_t{s.frequency})
                .bind(9, s.monetary_cents);
            saved += static_cast<std::size_t>(st.run());
        }
        return saved;
    }

private:
    // Creates or replaces a document row (workspace_id, id, doc, created_at, updated_at) of a
    // table named in the two statements; true when created.
    bool save_document(const char* insert_sql, const char* update_sql, WorkspaceId ws, const std::string& id,
                       const json& document, Time now) {
        const std::string doc = document.dump();
        auto ins = db_.prepare(insert_sql);
        ins.bind(1, ws).bind(2, id).bind(3, doc).bind(4, now.ms);
        if (ins.run() > 0) return true;
        db_.prepare(update_sql).bind(1, ws).bind(2, id).bind(3, doc).bind(4, now.ms).run();
        return false;
    }

    void insert_scenario_version(WorkspaceId ws, const std::string& id, int version, const json& document, Time now) {
        db_.prepare(
               "INSERT INTO scenario_versions (workspace_id, scenario_id, version, doc, created_at) "
               "VALUES (?1, ?2, ?3, ?4, ?5)")
            .bind(1, ws)
            .bind(2, id)
            .bind(3, version)
            .bind(4, scenario_doc_text(document))
            .bind(5, now.ms)
            .run();
    }

    void ensure_contact(WorkspaceId ws, const std::string& id, Time now) {
        db_.prepare(
               "INSERT INTO contacts (workspace_id, id, created_at, updated_at) VALUES (?1, ?2, ?3, ?3) "
               "ON CONFLICT (workspace_id, id) DO NOTHING")
            .bind(1, ws)
            .bind(2, id)
            .bind(3, now.ms)
            .run();
    }

    void write_contact(WorkspaceId ws, const StoredContact& sc, bool insert) {
        const Contact& c = sc.contact;
        auto st = insert ? db_.prepare(
                               "INSERT INTO contacts (workspace_id, id, email, first_name, last_name, locale, owner, "
                               "vip, tags, attributes, created_at, updated_at) "
                               "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)")
                         : db_.prepare(
                               "UPDATE contacts SET email = ?3, first_name = ?4, last_name = ?5, locale = ?6, "
                               "owner = ?7, vip = ?8, tags = ?9, attributes = ?10, updated_at = ?12 "
                               "WHERE workspace_id = ?1 AND id = ?2");
        st.bind(1, ws)
            .bind(2, c.id)
            .bind_text_or_null(3, c.email)
            .bind_text_or_null(4, c.first_name)
            .bind_text_or_null(5, c.last_name)
            .bind_text_or_null(6, c.locale)
            .bind_text_or_null(7, c.owner)
            .bind(8, c.vip ? 1 : 0)
            .bind(9, json(c.tags).dump())
            .bind(10, (c.attributes.is_object() ? c.attributes : json::object()).dump())
            .bind(12, sc.updated_at.ms);
        if (insert) st.bind(11, sc.created_at.ms);
        st.run();
    }

    void insert_response(WorkspaceId ws, std::int64_t seq, const Response& r) {
        db_.prepare(
               "INSERT INTO responses (event_seq, workspace_id, event_id, contact_id, kind, score, time, survey, "
               "channel, comment, agent, ticket_id, topic) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, "
               "?13)")
            .bind(1, seq)
            .bind(2, ws)
            .bind(3, r.event_id)
            .bind(4, r.contact_id)
            .bind(5, response_kind_name(r.kind))
            .bind(6, r.score)
            .bind(7, r.time.ms)
            .bind_text_or_null(8, r.survey)
            .bind_text_or_null(9, r.channel)
            .bind_text_or_null(10, r.comment)
            .bind_text_or_null(11, r.agent)
            .bind_text_or_null(12, r.ticket_id)
            .bind_text_or_null(13, r.topic)
            .run();
    }

    void insert_purchase(WorkspaceId ws, std::int64_t seq, const Event& e, Time time) {
        const auto amount = e.data.find("amount");
        if (amount == e.data.end() || !amount->is_number()) return;  // validated on input; not a purchase otherwise
        db_.prepare(
               "INSERT INTO purchases (event_seq, workspace_id, contact_id, time, amount, currency) "
               "VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
            .bind(1, seq)
            .bind(2, ws)
            .bind(3, e.contact.id)
            .bind(4, time.ms)
            .bind(5, amount->get<double>())
            .bind(6, e.text("currency"))
            .run();
    }

    // A voucher_redeemed event marks the voucher used: by its code, or the contact's latest
    // unused voucher of the campaign (CONTRACT.md, Event). Already used: nothing changes.
    void mark_redeemed(WorkspaceId ws, const Event& e, Time time) {
        const std::string code = e.text("code");
        if (!code.empty()) {
            db_.prepare(
                   "UPDATE vouchers SET redeemed_at = ?3 WHERE workspace_id = ?1 AND code = ?2 "
                   "AND redeemed_at IS NULL")
                .bind(1, ws)
                .bind(2, code)
                .bind(3, time.ms)
                .run();
            return;
        }
        const std::string campaign = e.text("campaign");
        if (campaign.empty()) return;
        db_.prepare(
               "UPDATE vouchers SET redeemed_at = ?4 WHERE workspace_id = ?1 AND code = ("
               "SELECT code FROM vouchers WHERE workspace_id = ?1 AND campaign_id = ?2 AND contact_id = ?3 "
               "AND redeemed_at IS NULL ORDER BY assigned_at DESC, " CL_VOUCHER_ASSIGNED_LAST " LIMIT 1)")
            .bind(1, ws)
            .bind(2, campaign)
            .bind(3, e.contact.id)
            .bind(4, time.ms)
            .run();
    }

    Db& db_;
    bool unprocessed_events_ = false;
};

}  // namespace

// ---- 4. Impl -------------------------------------------------------------------------------

struct SqliteStore::Impl {
    struct Unit {
        const std::function<void(WriteTx&)>* work = nullptr;
        std::exception_ptr error;
        bool done = false;
    };

    std::filesystem::path file;
    SqliteOptions options;

    // The writer.
    std::unique_ptr<Db> writer_db;
    std::thread writer;
    std::mutex queue_mutex;
    std::condition_variable queue_cv;  // work arrived, or stop
    std::condition_variable done_cv;   // a batch finished
    std::deque<Unit*> queue;
    bool stopping = false;
    std::function<void()> commit_listener;
    StoreStats counters;                               // under queue_mutex
    std::atomic<std::uint64_t> catalog_generation{0};  // bumped after each committed catalog change

    // The syncer (synchronous FULL): commits are made without fsync, and this thread fsyncs the
    // WAL and then wakes the callers, so the writer goes on with the next transaction while
    // the disk works. Under queue_mutex.
    struct Committed {
        std::vector<Unit*> units;
        bool unprocessed_events = false;
    };
    std::thread syncer;
    std::condition_variable sync_cv;
    std::deque<Committed> to_sync;
    bool writer_done = false;
    int wal_fd = -1;
    dev_t wal_dev = 0;
    ino_t wal_ino = 0;

    // The readers.
    std::mutex reader_mutex;
    std::vector<std::unique_ptr<Db>> idle_readers;

    Impl(const std::filesystem::path& dir, SqliteOptions opts) : file(dir / "closeloop.db"), options(std::move(opts)) {
        std::error_code ec;
        std::filesystem::create_directories(dir, ec);
        if (ec) throw std::runtime_error("cannot create data folder " + dir.string() + ": " + ec.message());
        writer_db = std::make_unique<Db>(file);
        Db& w = *writer_db;
        w.exec("PRAGMA journal_mode = WAL");
        // FULL: SQLite's NORMAL (no fsync in COMMIT; the WAL is fsynced before each checkpoint
        // and the database after it) plus our own fsync of the WAL before any caller is told
        // its work is done. FULL-INLINE: SQLite's FULL (fsync inside COMMIT). NORMAL: no fsync
        // before the answer (survives a process kill, not a power loss).
        const std::string sync = options.synchronous;
        if (sync == "FULL" || sync == "NORMAL")
            w.exec("PRAGMA synchronous = NORMAL");
        else if (sync == "FULL-INLINE")
            w.exec("PRAGMA synchronous = FULL");
        else
            throw std::runtime_error("synchronous must be FULL, FULL-INLINE or NORMAL, not " + sync);
        w.exec("PRAGMA foreign_keys = OFF");
        w.exec("PRAGMA temp_store = MEMORY");
        // Checkpoint every 10,000 WAL pages (40 MB) rather than SQLite's 1,000: a page written
        // by many commits between two checkpoints is copied to the database once (measured:
        // about 20 % more events/s), and the WAL is cut back to 64 MB after each.
        w.exec("PRAGMA wal_autocheckpoint = 10000");
        w.exec("PRAGMA journal_size_limit = 67108864");
        w.exec("PRAGMA cache_size = -32768");  // 32 MiB
        // Deleted content (GDPR erasure) is overwritten where that costs no extra I/O.
        w.exec("PRAGMA secure_delete = FAST");
        migrate(w);
        writer = std::thread([this] {
            pthread_setname_np(pthread_self(), "closeloop-write");
            writer_loop();
        });
        syncer = std::thread([this] {
            pthread_setname_np(pthread_self(), "closeloop-sync");
            syncer_loop();
        });
    }

    ~Impl() {
        {
            std::lock_guard lock(queue_mutex);
            stopping = true;
        }
        queue_cv.notify_all();
        if (writer.joinable()) writer.join();
        {
            std::lock_guard lock(queue_mutex);
            writer_done = true;
        }
        sync_cv.notify_all();
        if (syncer.joinable()) syncer.join();
        if (wal_fd >= 0) ::close(wal_fd);
    }

    static int user_version(Db& db) {
        auto st = db.prepare("PRAGMA user_version");
        return st.step() ? st.int32(0) : -1;
    }

    void migrate(Db& db) {
        const int from = user_version(db);
        constexpr int latest = static_cast<int>(migrations.size());
        if (from > latest)
            throw std::runtime_error(file.string() + " has schema version " + std::to_string(from) +
                                     ", newer than this closeloop (" + std::to_string(latest) + "): upgrade closeloop");
        for (int v = from; v < latest; ++v) {
            db.exec("BEGIN IMMEDIATE");
            try {
                db.exec(migrations[static_cast<std::size_t>(v)]);
                db.exec(("PRAGMA user_version = " + std::to_string(v + 1)).c_str());
                db.exec("COMMIT");
            } catch (...) {
                sqlite3_exec(db.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
                throw;
            }
        }
    }

    // Queues a unit of work and waits until the transaction holding it has committed.
    void run(const std::function<void(WriteTx&)>& work) {
        Unit unit;
        unit.work = &work;
        std::unique_lock lock(queue_mutex);
        if (stopping) throw std::runtime_error("the store is closing");
        queue.push_back(&unit);
        queue_cv.notify_one();
        done_cv.wait(lock, [&] { return unit.done; });
        if (unit.error) std::rethrow_exception(unit.error);
    }

    void writer_loop() {
        std::vector<Unit*> batch;
        for (;;) {
            {
                std::unique_lock lock(queue_mutex);
                queue_cv.wait(lock, [&] { return stopping || !queue.empty(); });
                if (queue.empty()) return;  // stopping, and everything queued is done
                while (!queue.empty() && batch.size() < options.max_units_per_commit) {
                    batch.push_back(queue.front());
                    queue.pop_front();
                }
            }
            const bool unprocessed_events = commit(batch);
            {
                std::lock_guard lock(queue_mutex);
                to_sync.push_back({std::move(batch), unprocessed_events});
            }
            sync_cv.notify_one();
            batch.clear();
        }
    }

    void syncer_loop() {
        for (;;) {
            std::deque<Committed> synced;
            {
                std::unique_lock lock(queue_mutex);
                sync_cv.wait(lock, [&] { return writer_done || !to_sync.empty(); });
                if (to_sync.empty()) return;  // the writer has stopped and all is acknowledged
                synced.swap(to_sync);
            }
            // Everything committed so far is in the WAL file: one fsync makes it all durable.
            std::exception_ptr failure;
            if (options.synchronous == "FULL") {
                try {
                    sync_wal();
                } catch (...) {
                    failure = std::current_exception();
                }
            }
            bool unprocessed_events = false;
            for (const auto& c : synced) unprocessed_events = unprocessed_events || c.unprocessed_events;
            std::function<void()> listener;
            {
                std::lock_guard lock(queue_mutex);
                listener = commit_listener;
            }
            // Before the callers wake: whoever reads after a 202 finds the executor told.
            if (unprocessed_events && listener && !failure) listener();
            {
                std::lock_guard lock(queue_mutex);
                for (auto& c : synced) {
                    for (Unit* u : c.units) {
                        if (failure && !u->error) u->error = failure;
                        if (u->error)
                            ++counters.failed_units;
                        else
                            ++counters.units_of_work;
                        u->done = true;
                    }
                    ++counters.commits;
                }
            }
            done_cv.notify_all();
        }
    }

    // fdatasync of the WAL file. The file is opened once and reopened if SQLite has replaced it
    // (fsync flushes a file's pages whichever descriptor wrote them).
    void sync_wal() {
        const std::string path = file.string() + "-wal";
        struct stat now {};
        if (::stat(path.c_str(), &now) != 0) {
            // No WAL file: nothing committed since the last checkpoint removed it. The database
            // file itself was fsynced by that checkpoint.
            return;
        }
        if (wal_fd < 0 || now.st_dev != wal_dev || now.st_ino != wal_ino) {
            if (wal_fd >= 0) ::close(wal_fd);
            wal_fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
            if (wal_fd < 0) throw std::runtime_error("cannot open " + path + " to fsync it: " + std::strerror(errno));
            wal_dev = now.st_dev;
            wal_ino = now.st_ino;
        }
        if (::fdatasync(wal_fd) != 0) throw std::runtime_error("fsync of " + path + " failed: " + std::strerror(errno));
    }

    // One transaction for the batch, a savepoint per unit. Returns whether events were stored.
    bool commit(std::vector<Unit*>& batch) {
        Db& w = *writer_db;
        sqlite3* h = w.handle();
        const auto fail_all = [&](std::exception_ptr e) {
            for (Unit* u : batch)
                if (!u->error) u->error = e;
        };
        try {
            w.prepare("BEGIN IMMEDIATE").run();
        } catch (...) {
            fail_all(std::current_exception());
            return false;
        }
        SqliteWriteTx tx(w);
        for (Unit* u : batch) {
            try {
                w.prepare("SAVEPOINT unit").run();
                (*u->work)(tx);
                w.prepare("RELEASE unit").run();
            } catch (...) {
                u->error = std::current_exception();
                if (sqlite3_get_autocommit(h)) {
                    // SQLite rolled the whole transaction back (disk full, I/O error): every
                    // unit in it is lost, so every caller must hear so.
                    fail_all(u->error);
                    return false;
                }
                sqlite3_exec(h, "ROLLBACK TO unit; RELEASE unit", nullptr, nullptr, nullptr);
            }
        }
        try {
            w.prepare("COMMIT").run();
        } catch (...) {
            fail_all(std::current_exception());
            if (!sqlite3_get_autocommit(h)) sqlite3_exec(h, "ROLLBACK", nullptr, nullptr, nullptr);
            return false;
        }
        return tx.unprocessed_events();
    }

    // A read connection for the time of one call.
    class Reader {
    public:
        explicit Reader(Impl& impl) : impl_(impl) {
            {
                std::lock_guard lock(impl_.reader_mutex);
                if (!impl_.idle_readers.empty()) {
                    db_ = std::move(impl_.idle_readers.back());
                    impl_.idle_readers.pop_back();
                }
            }
            if (!db_) {
                db_ = std::make_unique<Db>(impl_.file);
                db_->exec("PRAGMA query_only = ON");
                db_->exec("PRAGMA cache_size = -8192");
            }
        }
        ~Reader() {
            std::lock_guard lock(impl_.reader_mutex);
            if (impl_.idle_readers.size() < impl_.options.max_readers) impl_.idle_readers.push_back(std::move(db_));
        }
        Reader(const Reader&) = delete;
        Reader& operator=(const Reader&) = delete;
        Db& operator*() { return *db_; }
        Db* operator->() { return db_.get(); }

    private:
        Impl& impl_;
        std::unique_ptr<Db> db_;
    };
};

// ---- 5. SqliteStore ------------------------------------------------------------------------

namespace {

SqliteWriteTx& sqlite_tx(WriteTx& tx) {
    return static_cast<SqliteWriteTx&>(tx);  // the store only ever hands out its own
}

// The statement for each combination of optional filters (all prepared, none built at run
// time). The index is named: without statistics (no ANALYZE) SQLite may prefer the time
// index and walk a whole workspace's events to find one contact's. Bit 0 = contact, bit 1 =
// type.
constexpr std::array<const char*, 4> list_events_sql = {
    "SELECT " CL_EVENT_COLUMNS
    " FROM events INDEXED BY events_time WHERE workspace_id = ?1 AND time >= ?2 AND time < ?3 "
    "AND (time, seq) < (?4, ?5) ORDER BY time DESC, seq DESC LIMIT ?6",
    "SELECT " CL_EVENT_COLUMNS
    " FROM events INDEXED BY events_contact WHERE workspace_id = ?1 AND contact_id = ?7 AND time >= ?2 "
    "AND time < ?3 AND (time, seq) < (?4, ?5) ORDER BY time DESC, seq DESC LIMIT ?6",
    "SELECT " CL_EVENT_COLUMNS
    " FROM events INDEXED BY events_type WHERE workspace_id = ?1 AND type = ?8 AND time >= ?2 AND time < ?3 "
    "AND (time, seq) < (?4, ?5) ORDER BY time DESC, seq DESC LIMIT ?6",
    "SELECT " CL_EVENT_COLUMNS
    " FROM events INDEXED BY events_contact WHERE workspace_id = ?1 AND contact_id = ?7 AND type = ?8 "
    "AND time >= ?2 AND time < ?3 AND (time, seq) < (?4, ?5) ORDER BY time DESC, seq DESC LIMIT ?6",
};

// Bit 0 = role, bit 1 = status. Each walks an index in seq order: no sort.
constexpr std::array<const char*, 4> list_tasks_sql = {
    "SELECT " CL_TASK_COLUMNS
    " FROM tasks INDEXED BY tasks_workspace WHERE workspace_id = ?1 ORDER BY seq DESC LIMIT ?4",
    "SELECT " CL_TASK_COLUMNS
    " FROM tasks INDEXED BY tasks_role WHERE workspace_id = ?1 AND role = ?2 ORDER BY seq DESC LIMIT ?4",
    "SELECT " CL_TASK_COLUMNS
    " FROM tasks INDEXED BY tasks_status WHERE workspace_id = ?1 AND status = ?3 ORDER BY seq DESC LIMIT ?4",
    "SELECT " CL_TASK_COLUMNS
    " FROM tasks INDEXED BY tasks_role_status WHERE workspace_id = ?1 AND role = ?2 AND status = ?3 "
    "ORDER BY seq DESC LIMIT ?4",
};

// Bit 0 = status, bit 1 = kind.
constexpr std::array<const char*, 4> list_outbox_sql = {
    "SELECT " CL_OUTBOX_COLUMNS
    " FROM outbox INDEXED BY outbox_workspace WHERE workspace_id = ?1 AND seq < ?4 ORDER BY seq DESC LIMIT ?5",
    "SELECT " CL_OUTBOX_COLUMNS
    " FROM outbox INDEXED BY outbox_status WHERE workspace_id = ?1 AND status = ?2 AND seq < ?4 "
    "ORDER BY seq DESC LIMIT ?5",
    "SELECT " CL_OUTBOX_COLUMNS
    " FROM outbox INDEXED BY outbox_kind WHERE workspace_id = ?1 AND kind = ?3 AND seq < ?4 "
    "ORDER BY seq DESC LIMIT ?5",
    "SELECT " CL_OUTBOX_COLUMNS
    " FROM outbox INDEXED BY outbox_status_kind WHERE workspace_id = ?1 AND status = ?2 AND kind = ?3 "
    "AND seq < ?4 ORDER BY seq DESC LIMIT ?5",
};

std::int64_t limit_of(std::size_t n) {
    return static_cast<std::int64_t>(std::min<std::size_t>(n, 1'000'000));
}

}  // namespace

SqliteStore::SqliteStore(const std::filesystem::path& dir, SqliteOptions options) {
    try {
        impl_ = std::make_unique<Impl>(dir, std::move(options));
    } catch (const sqlite::DbError& e) {
        throw std::runtime_error(e.what());
    }
}

SqliteStore::~SqliteStore() = default;

const std::filesystem::path& SqliteStore::file() const {
    return impl_->file;
}

int SqliteStore::latest_schema_version() {
    return static_cast<int>(migrations.size());
}

int SqliteStore::schema_version() {
    Impl::Reader r(*impl_);
    return Impl::user_version(*r);
}

std::vector<std::pair<std::string, std::vector<std::string>>> SqliteStore::query_plans() {
    std::vector<std::string> sql;
    write([&](WriteTx&) {  // on the writer's thread: its connection is in use by no one else
        for (auto& s : impl_->writer_db->prepared_sql()) sql.push_back(std::move(s));
    });
    {
        std::lock_guard lock(impl_->reader_mutex);
        for (const auto& r : impl_->idle_readers)
            for (auto& s : r->prepared_sql()) sql.push_back(std::move(s));
    }
    std::sort(sql.begin(), sql.end());
    sql.erase(std::unique(sql.begin(), sql.end()), sql.end());
    std::vector<std::pair<std::string, std::vector<std::string>>> out;
    Db db(impl_->file);
    for (const auto& text : sql) {
        sqlite3_stmt* st = nullptr;
        const std::string explain = "EXPLAIN QUERY PLAN " + text;
        if (sqlite3_prepare_v2(db.handle(), explain.c_str(), -1, &st, nullptr) != SQLITE_OK) continue;
        std::vector<std::string> steps;
        while (sqlite3_step(st) == SQLITE_ROW) {
            const auto* detail = sqlite3_column_text(st, 3);
            if (detail) steps.emplace_back(reinterpret_cast<const char*>(detail));
        }
        sqlite3_finalize(st);
        out.emplace_back(text, std::move(steps));
    }
    return out;
}

bool SqliteStore::healthy() {
    try {
        return schema_version() == latest_schema_version();
    } catch (const std::exception&) {
        return false;
    }
}

std::uint64_t SqliteStore::size_bytes() {
    std::uint64_t total = 0;
    for (const char* suffix : {"", "-wal"}) {
        std::error_code ec;
        const auto size = std::filesystem::file_size(impl_->file.string() + suffix, ec);
        if (!ec) total += size;
    }
    return total;
}

StoreStats SqliteStore::stats() {
    std::lock_guard lock(impl_->queue_mutex);
    return impl_->counters;
}

void SqliteStore::write(const std::function<void(WriteTx&)>& work) {
    impl_->run(work);
}

void SqliteStore::set_commit_listener(std::function<void()> listener) {
    std::lock_guard lock(impl_->queue_mutex);
    impl_->commit_listener = std::move(listener);
}

std::vector<Workspace> SqliteStore::workspaces() {
    Impl::Reader r(*impl_);
    auto st = r->prepare("SELECT id, slug, name, created_at FROM workspaces ORDER BY id");
    std::vector<Workspace> out;
    while (st.step()) out.push_back({st.int64(0), st.text(1), st.text(2), time_at(st, 3)});
    return out;
}

std::optional<Workspace> SqliteStore::find_workspace(std::string_view slug) {
    Impl::Reader r(*impl_);
    auto st = r->prepare("SELECT id, slug, name, created_at FROM workspaces WHERE slug = ?1");
    st.bind(1, slug);
    if (!st.step()) return std::nullopt;
    return Workspace{st.int64(0), st.text(1), st.text(2), time_at(st, 3)};
}

std::optional<KeyGrant> SqliteStore::find_key(std::string_view key_hash) {
    Impl::Reader r(*impl_);
    auto st = r->prepare("SELECT workspace_id, kind FROM api_keys WHERE key_hash = ?1 AND revoked_at IS NULL");
    st.bind(1, key_hash);
    if (!st.step()) return std::nullopt;
    return KeyGrant{st.int64(0), st.text(1) == "admin" ? KeyKind::admin : KeyKind::publishable};
}

std::optional<json> SqliteStore::setting(WorkspaceId ws, std::string_view name) {
    Impl::Reader r(*impl_);
    auto st = r->prepare("SELECT value FROM settings WHERE workspace_id = ?1 AND name = ?2");
    st.bind(1, ws).bind(2, name);
    if (!st.step()) return std::nullopt;
    json j = json::parse(st.text(0), nullptr, false);
    if (j.is_discarded()) return std::nullopt;
    return j;
}

IngestResult SqliteStore::insert_events(WorkspaceId ws, std::span<const Event> events, Time received_at,
                                        EventHandler* handler) {
    // Rows (JSON text, derived responses) are made here, on the caller's thread, so the
    // writer only runs SQL (and the handler).
    const auto rows = event_rows(events, received_at);
    IngestResult result;
    if (handler) {
        // No savepoint per event (each would copy every page the event touches): a handler
        // that throws undoes the whole unit, and the events are then stored without it,
        // unprocessed, for the executor to take up one at a time.
        try {
            write([&](WriteTx& tx) { result = sqlite_tx(tx).insert_rows(ws, rows, received_at, handler); });
            return result;
        } catch (const std::exception&) {
            // A disk that fails fails again below, and the caller hears of it.
        }
    }
    write([&](WriteTx& tx) { result = sqlite_tx(tx).insert_rows(ws, rows, received_at); });
    return result;
}

EventPage SqliteStore::list_events(WorkspaceId ws, const EventQuery& q) {
    Impl::Reader r(*impl_);
    const std::size_t variant = (q.contact ? 1u : 0u) | (q.type ? 2u : 0u);
    auto st = r->prepare(list_events_sql[variant]);
    const EventCursor after = q.after.value_or(EventCursor{Time{int64_max}, int64_max});
    st.bind(1, ws)
        .bind(2, q.from ? q.from->ms : int64_min)
        .bind(3, q.to ? q.to->ms : int64_max)
        .bind(4, after.time.ms)
        .bind(5, after.seq)
        .bind(6, limit_of(q.limit + 1));
    if (q.contact) st.bind(7, *q.contact);
    if (q.type) st.bind(8, *q.type);
    EventPage page;
    while (st.step()) {
        if (page.events.size() == q.limit) {
            const StoredEvent& last = page.events.back();
            page.next = EventCursor{*last.event.time, last.seq};
            break;
        }
        page.events.push_back(read_event(st));
    }
    return page;
}

std::vector<StoredEvent> SqliteStore::unprocessed_events(std::size_t limit) {
    Impl::Reader r(*impl_);
    auto st = r->prepare("SELECT " CL_EVENT_COLUMNS
                         " FROM events INDEXED BY events_unprocessed WHERE processed_at IS NULL ORDER BY seq LIMIT ?1");
    st.bind(1, limit_of(limit));
    std::vector<StoredEvent> out;
    while (st.step()) out.push_back(read_event(st));
    return out;
}

std::optional<ContactCard> SqliteStore::contact_card(WorkspaceId ws, std::string_view id, std::size_t timeline_limit) {
    Impl::Reader r(*impl_);
    sqlite::ReadTx snapshot(*r);
    auto contact = select_contact(*r, ws, id);
    if (!contact) return std::nullopt;
    ContactCard card;
    card.contact = std::move(*contact);
    {
        auto st = r->prepare("SELECT " CL_RESPONSE_COLUMNS CL_CONTACT_RESPONSES
                             "AND e.type = ?3 ORDER BY e.time DESC, e.seq DESC LIMIT ?4");
        st.bind(1, ws).bind(2, id).bind(3, "nps_response").bind(4, 2);
        while (st.step()) card.nps.push_back(read_response(st));
    }
    {
        auto st = r->prepare("SELECT " CL_RESPONSE_COLUMNS CL_CONTACT_RESPONSES
                             "AND e.type = ?3 ORDER BY e.time DESC, e.seq DESC LIMIT ?4");
        st.bind(1, ws).bind(2, id).bind(3, "csat_response").bind(4, 1);
        if (st.step()) card.csat = read_response(st);
    }
    card.vouchers = contact_vouchers(*r, ws, id);
    {
        auto st = r->prepare("SELECT " CL_TASK_COLUMNS
                             " FROM tasks WHERE workspace_id = ?1 AND contact_id = ?2 AND status = 'open' "
                             "ORDER BY seq DESC");
        st.bind(1, ws).bind(2, id);
        while (st.step()) card.open_tasks.push_back(read_task(st));
    }
    {
        auto st = r->prepare(list_events_sql[1]);
        st.bind(1, ws)
            .bind(2, int64_min)
            .bind(3, int64_max)
            .bind(4, int64_max)
            .bind(5, int64_max)
            .bind(6, limit_of(timeline_limit))
            .bind(7, id);
        while (st.step()) card.timeline.push_back(read_event(st));
    }
    return card;
}

std::optional<ContactExport> SqliteStore::export_contact(WorkspaceId ws, std::string_view id) {
    Impl::Reader r(*impl_);
    sqlite::ReadTx snapshot(*r);
    auto contact = select_contact(*r, ws, id);
    if (!contact) return std::nullopt;
    ContactExport out;
    out.contact = std::move(*contact);
    {
        auto st = r->prepare(list_events_sql[1]);
        st.bind(1, ws)
            .bind(2, int64_min)
            .bind(3, int64_max)
            .bind(4, int64_max)
            .bind(5, int64_max)
            .bind(6, int64_max)
            .bind(7, id);
        while (st.step()) out.events.push_back(read_event(st));
    }
    {
        auto st = r->prepare("SELECT " CL_RESPONSE_COLUMNS CL_CONTACT_RESPONSES
                             "AND e.type IN ('nps_response', 'csat_response') ORDER BY e.time DESC, e.seq DESC");
        st.bind(1, ws).bind(2, id);
        while (st.step()) out.responses.push_back(read_response(st));
    }
    out.vouchers = contact_vouchers(*r, ws, id);
    {
        auto st = r->prepare("SELECT " CL_TASK_COLUMNS
                             " FROM tasks WHERE workspace_id = ?1 AND contact_id = ?2 ORDER BY seq DESC");
        st.bind(1, ws).bind(2, id);
        while (st.step()) out.tasks.push_back(read_task(st));
    }
    {
        auto st = r->prepare("SELECT " CL_OUTBOX_COLUMNS
                             " FROM outbox WHERE workspace_id = ?1 AND contact_id = ?2 ORDER BY seq DESC");
        st.bind(1, ws).bind(2, id);
        while (st.step()) out.outbox.push_back(read_outbox(st));
    }
    for (auto& o : out.outbox) load_attempts(*r, o);
    return out;
}

std::optional<ContactErasure> SqliteStore::erase_contact(WorkspaceId ws, std::string_view id) {
    std::optional<ContactErasure> out;
    write([&](WriteTx& tx) { out = sqlite_tx(tx).erase_contact(ws, id); });
    return out;
}

std::vector<StoredCampaign> SqliteStore::voucher_campaigns(WorkspaceId ws) {
    Impl::Reader r(*impl_);
    auto st =
        r->prepare("SELECT doc, created_at, updated_at FROM voucher_campaigns WHERE workspace_id = ?1 ORDER BY id");
    st.bind(1, ws);
    std::vector<StoredCampaign> out;
    while (st.step()) {
        auto c = voucher_campaign_from_json(parse_stored(st.text(0), json::object()));
        if (c) out.push_back({std::move(*c), time_at(st, 1), time_at(st, 2)});
    }
    return out;
}

std::optional<StoredCampaign> SqliteStore::find_voucher_campaign(WorkspaceId ws, std::string_view id) {
    Impl::Reader r(*impl_);
    auto st =
        r->prepare("SELECT doc, created_at, updated_at FROM voucher_campaigns WHERE workspace_id = ?1 AND id = ?2");
    st.bind(1, ws).bind(2, id);
    if (!st.step()) return std::nullopt;
    auto c = voucher_campaign_from_json(parse_stored(st.text(0), json::object()));
    if (!c) return std::nullopt;
    return StoredCampaign{std::move(*c), time_at(st, 1), time_at(st, 2)};
}

bool SqliteStore::save_voucher_campaign(WorkspaceId ws, const VoucherCampaign& campaign, Time now) {
    bool created = false;
    write([&](WriteTx& tx) { created = sqlite_tx(tx).save_voucher_campaign(ws, campaign, now); });
    ++impl_->catalog_generation;
    return created;
}

std::vector<Voucher> SqliteStore::vouchers(WorkspaceId ws, const std::optional<std::string>& contact,
                                           std::size_t limit) {
    Impl::Reader r(*impl_);
    std::vector<Voucher> out;
    if (contact) {
        auto st = r->prepare("SELECT " CL_VOUCHER_COLUMNS
                             " FROM vouchers WHERE workspace_id = ?1 AND contact_id = ?2 "
                             "ORDER BY assigned_at DESC, code LIMIT ?3");
        st.bind(1, ws).bind(2, *contact).bind(3, limit_of(limit));
        while (st.step()) out.push_back(read_voucher(st));
    } else {
        auto st = r->prepare("SELECT " CL_VOUCHER_COLUMNS
                             " FROM vouchers WHERE workspace_id = ?1 ORDER BY assigned_at DESC, code LIMIT ?2");
        st.bind(1, ws).bind(2, limit_of(limit));
        while (st.step()) out.push_back(read_voucher(st));
    }
    return out;
}

RedeemResult SqliteStore::redeem_voucher(WorkspaceId ws, std::string_view code, Time now) {
    RedeemResult out;
    write([&](WriteTx& tx) { out = sqlite_tx(tx).redeem_voucher(ws, code, now); });
    return out;
}

std::vector<Task> SqliteStore::tasks(WorkspaceId ws, const TaskQuery& q) {
    Impl::Reader r(*impl_);
    const std::size_t variant = (q.role ? 1u : 0u) | (q.status ? 2u : 0u);
    auto st = r->prepare(list_tasks_sql[variant]);
    st.bind(1, ws).bind(4, limit_of(q.limit));
    if (q.role) st.bind(2, *q.role);
    if (q.status) st.bind(3, *q.status);
    std::vector<Task> out;
    while (st.step()) out.push_back(read_task(st));
    return out;
}

std::optional<Task> SqliteStore::complete_task(WorkspaceId ws, std::string_view id, Time now) {
    std::optional<Task> out;
    write([&](WriteTx& tx) { out = sqlite_tx(tx).complete_task(ws, id, now); });
    return out;
}

std::vector<OutboxEntry> SqliteStore::outbox(WorkspaceId ws, const OutboxQuery& q) {
    Impl::Reader r(*impl_);
    sqlite::ReadTx snapshot(*r);
    const std::size_t variant = (q.status ? 1u : 0u) | (q.kind ? 2u : 0u);
    std::vector<OutboxEntry> out;
    {
        auto st = r->prepare(list_outbox_sql[variant]);
        st.bind(1, ws).bind(4, q.before_seq.value_or(int64_max)).bind(5, limit_of(q.limit));
        if (q.status) st.bind(2, *q.status);
        if (q.kind) st.bind(3, *q.kind);
        while (st.step()) out.push_back(read_outbox(st));
    }
    for (auto& o : out) load_attempts(*r, o);
    return out;
}

PurchaseTable SqliteStore::purchases(WorkspaceId ws, Time from, Time to) {
    Impl::Reader r(*impl_);
    auto st = r->prepare(
        "SELECT contact_id, time, amount FROM purchases WHERE workspace_id = ?1 AND time >= ?2 AND time <= ?3");
    st.bind(1, ws).bind(2, from.ms).bind(3, to.ms);
    PurchaseTable table;
    std::unordered_map<std::string, std::uint32_t> index;
    while (st.step()) {
        auto [it, added] = index.try_emplace(st.text(0), static_cast<std::uint32_t>(table.contact_ids.size()));
        if (added) table.contact_ids.push_back(it->first);
        table.purchases.add(it->second, time_at(st, 1), st.real(2));
    }
    return table;
}

std::size_t SqliteStore::save_rfm(WorkspaceId ws, const std::vector<std::string>& contact_ids,
                                  const RfmResult& result) {
    std::size_t saved = 0;
    write([&](WriteTx& tx) { saved = sqlite_tx(tx).save_rfm(ws, contact_ids, result); });
    return saved;
}

// ---- scenarios, templates, runs --------------------------------------------------------------

std::vector<StoredScenario> SqliteStore::scenarios(WorkspaceId ws) {
    Impl::Reader r(*impl_);
    auto st = r->prepare("SELECT " CL_SCENARIO_COLUMNS CL_SCENARIO_CURRENT "WHERE s.workspace_id = ?1 ORDER BY s.id");
    st.bind(1, ws);
    std::vector<StoredScenario> out;
    while (st.step()) out.push_back(read_scenario(st));
    return out;
}

std::optional<StoredScenario> SqliteStore::find_scenario(WorkspaceId ws, std::string_view id) {
    Impl::Reader r(*impl_);
    auto st = r->prepare("SELECT " CL_SCENARIO_COLUMNS CL_SCENARIO_CURRENT "WHERE s.workspace_id = ?1 AND s.id = ?2");
    st.bind(1, ws).bind(2, id);
    if (!st.step()) return std::nullopt;
    return read_scenario(st);
}

std::optional<StoredScenario> SqliteStore::find_scenario_version(WorkspaceId ws, std::string_view id, int version) {
    Impl::Reader r(*impl_);
    auto st = r->prepare(
        "SELECT s.workspace_id, s.id, v.version, s.status, v.doc, s.created_at, s.updated_at FROM scenarios s "
        "JOIN scenario_versions v ON v.workspace_id = s.workspace_id AND v.scenario_id = s.id "
        "WHERE s.workspace_id = ?1 AND s.id = ?2 AND v.version = ?3");
    st.bind(1, ws).bind(2, id).bind(3, version);
    if (!st.step()) return std::nullopt;
    return read_scenario(st);
}

std::vector<StoredScenario> SqliteStore::active_scenarios() {
    Impl::Reader r(*impl_);
    auto st = r->prepare("SELECT " CL_SCENARIO_COLUMNS CL_SCENARIO_CURRENT
                         "WHERE s.status = 'active' ORDER BY s.workspace_id, s.id");
    std::vector<StoredScenario> out;
    while (st.step()) out.push_back(read_scenario(st));
    return out;
}

ScenarioSave SqliteStore::create_scenario(WorkspaceId ws, const json& document, Time now) {
    ScenarioSave out = ScenarioSave::saved;
    write([&](WriteTx& tx) { out = sqlite_tx(tx).create_scenario(ws, document, now); });
    ++impl_->catalog_generation;
    return out;
}

ScenarioSave SqliteStore::update_scenario(WorkspaceId ws, std::string_view id, const json& document, Time now,
                                          StoredScenario* stored) {
    ScenarioSave out = ScenarioSave::saved;
    write([&](WriteTx& tx) { out = sqlite_tx(tx).update_scenario(ws, id, document, now); });
    ++impl_->catalog_generation;
    if (out == ScenarioSave::saved && stored) {
        if (auto s = find_scenario(ws, id)) *stored = std::move(*s);
    }
    return out;
}

std::optional<StoredScenario> SqliteStore::set_scenario_status(WorkspaceId ws, std::string_view id,
                                                               std::string_view status, Time now) {
    bool found = false;
    write([&](WriteTx& tx) { found = sqlite_tx(tx).set_scenario_status(ws, id, status, now); });
    ++impl_->catalog_generation;
    if (!found) return std::nullopt;
    return find_scenario(ws, id);
}

bool SqliteStore::delete_scenario(WorkspaceId ws, std::string_view id, Time now) {
    bool found = false;
    write([&](WriteTx& tx) { found = sqlite_tx(tx).delete_scenario(ws, id, now); });
    ++impl_->catalog_generation;
    return found;
}

std::vector<StoredTemplate> SqliteStore::templates(WorkspaceId ws) {
    Impl::Reader r(*impl_);
    auto st = r->prepare("SELECT id, doc, created_at, updated_at FROM templates WHERE workspace_id = ?1 ORDER BY id");
    st.bind(1, ws);
    std::vector<StoredTemplate> out;
    while (st.step())
        out.push_back({st.text(0), parse_stored(st.text(1), json::object()), time_at(st, 2), time_at(st, 3)});
    return out;
}

std::optional<StoredTemplate> SqliteStore::find_template(WorkspaceId ws, std::string_view id) {
    Impl::Reader r(*impl_);
    auto st = r->prepare("SELECT id, doc, created_at, updated_at FROM templates WHERE workspace_id = ?1 AND id = ?2");
    st.bind(1, ws).bind(2, id);
    if (!st.step()) return std::nullopt;
    return StoredTemplate{st.text(0), parse_stored(st.text(1), json::object()), time_at(st, 2), time_at(st, 3)};
}

bool SqliteStore::save_template(WorkspaceId ws, const std::string& id, const json& document, Time now) {
    bool created = false;
    write([&](WriteTx& tx) { created = sqlite_tx(tx).save_template(ws, id, document, now); });
    ++impl_->catalog_generation;
    return created;
}

std::uint64_t SqliteStore::catalog_generation() {
    return impl_->catalog_generation.load();
}

namespace {

// Bit 0 = contact, bit 1 = scenario (when no contact), bit 2 = status (when neither): the most
// selective filter given picks the index, the others filter its rows; each walks seq backwards.
constexpr std::array<const char*, 4> list_runs_sql = {
    "SELECT " CL_RUN_COLUMNS " FROM runs INDEXED BY runs_workspace WHERE workspace_id = ?1 ORDER BY seq DESC LIMIT ?5",
    "SELECT " CL_RUN_COLUMNS
    " FROM runs INDEXED BY runs_contact WHERE workspace_id = ?1 AND contact_id = ?3 "
    "AND (?2 IS NULL OR scenario_id = ?2) AND (?4 IS NULL OR status = ?4) ORDER BY seq DESC LIMIT ?5",
    "SELECT " CL_RUN_COLUMNS
    " FROM runs INDEXED BY runs_scenario WHERE workspace_id = ?1 AND scenario_id = ?2 "
    "AND (?4 IS NULL OR status = ?4) ORDER BY seq DESC LIMIT ?5",
    "SELECT " CL_RUN_COLUMNS
    " FROM runs INDEXED BY runs_status WHERE workspace_id = ?1 AND status = ?4 ORDER BY seq DESC LIMIT ?5",
};

}  // namespace

std::vector<RunRecord> SqliteStore::runs(WorkspaceId ws, const RunQuery& q) {
    Impl::Reader r(*impl_);
    const std::size_t variant = q.contact ? 1 : q.scenario ? 2 : q.status ? 3 : 0;
    auto st = r->prepare(list_runs_sql[variant]);
    st.bind(1, ws).bind(2, q.scenario).bind(3, q.contact).bind(4, q.status).bind(5, limit_of(q.limit));
    std::vector<RunRecord> out;
    while (st.step()) out.push_back(read_run(st));
    return out;
}

std::optional<RunRecord> SqliteStore::find_run(WorkspaceId ws, std::string_view id) {
    Impl::Reader r(*impl_);
    return select_run(*r, ws, id);
}

std::vector<RunRecord> SqliteStore::due_runs(Time now, std::size_t limit) {
    Impl::Reader r(*impl_);
    auto st = r->prepare("SELECT " CL_RUN_COLUMNS
                         " FROM runs INDEXED BY runs_due WHERE status = 'waiting' AND wake_at <= ?1 "
                         "ORDER BY wake_at LIMIT ?2");
    st.bind(1, now.ms).bind(2, limit_of(limit));
    std::vector<RunRecord> out;
    while (st.step()) out.push_back(read_run(st));
    return out;
}

std::optional<Time> SqliteStore::next_wake_at() {
    Impl::Reader r(*impl_);
    auto st = r->prepare("SELECT min(wake_at) FROM runs INDEXED BY runs_due WHERE status = 'waiting'");
    if (!st.step()) return std::nullopt;
    return opt_time(st, 0);
}

ExecutorBacklog SqliteStore::executor_backlog(Time now) {
    Impl::Reader r(*impl_);
    sqlite::ReadTx snapshot(*r);
    ExecutorBacklog out;
    {
        auto st = r->prepare("SELECT count(*) FROM events INDEXED BY events_unprocessed WHERE processed_at IS NULL");
        if (st.step()) out.unprocessed_events = static_cast<std::uint64_t>(st.int64(0));
    }
    {
        auto st = r->prepare(
            "SELECT count(*), coalesce(sum(wake_at <= ?1), 0) FROM runs INDEXED BY runs_due WHERE status = 'waiting'");
        st.bind(1, now.ms);
        if (st.step()) {
            out.waiting_runs = static_cast<std::uint64_t>(st.int64(0));
            out.due_runs = static_cast<std::uint64_t>(st.int64(1));
        }
    }
    return out;
}

std::vector<OutboxEntry> SqliteStore::run_outbox(WorkspaceId ws, std::string_view run_id) {
    Impl::Reader r(*impl_);
    sqlite::ReadTx snapshot(*r);
    std::vector<OutboxEntry> out;
    {
        // Effect keys are `<run id>/<node id>`: a run's entries are one range of the key index,
        // so the outbox (the most indexed table, written by every run) needs no index of its own.
        auto st = r->prepare("SELECT " CL_OUTBOX_COLUMNS
                             " FROM outbox INDEXED BY outbox_key WHERE workspace_id = ?1 AND key >= ?2 AND key < ?3 "
                             "AND run_id = ?4");
        const std::string run(run_id);
        st.bind(1, ws).bind(2, run + "/").bind(3, run + "0").bind(4, run);  // '0' follows '/'
        while (st.step()) out.push_back(read_outbox(st));
    }
    for (auto& o : out) load_attempts(*r, o);
    return out;
}

}  // namespace closeloop::server
