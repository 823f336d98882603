// closeloop server — the SQLite store's schema: numbered, forward-only migrations that run when
// the store opens.
#include "sqlite_schema.h"

#include <sqlite3.h>

#include <array>
#include <stdexcept>
#include <string>

namespace closeloop::server::sqlite {

namespace {

// Entry i takes the schema from version i to i + 1. Never edit a released entry; append.
// Every table has workspace_id and every query filters on it; every history query has an
// index (named after what it serves).
constexpr std::array<const char*, 6> migrations = {
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

    // 5: the builder. Keys get an id to list and revoke them by (`closeloop keys`); browser
    // sessions (sign-in with the admin key, then a cookie); each saved version of a scenario
    // keeps the status it had (null for versions saved before this schema, except the current
    // one, whose status is known).
    R"sql(
    ALTER TABLE api_keys ADD COLUMN id TEXT;
    UPDATE api_keys SET id = 'key_' || substr(key_hash, 1, 12);
    CREATE UNIQUE INDEX api_keys_id ON api_keys (workspace_id, id);
    -- A session is found by its token's SHA-256; key_id is the key it was opened with
    -- (revoking the key ends it). expires_at is the absolute end; the idle end is
    -- last_seen_at plus the server's idle timeout.
    CREATE TABLE sessions (
      token_hash TEXT PRIMARY KEY,
      workspace_id INTEGER NOT NULL,
      key_id TEXT NOT NULL,
      csrf_token TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      last_seen_at INTEGER NOT NULL,
      expires_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX sessions_key ON sessions (workspace_id, key_id);
    CREATE INDEX sessions_expiry ON sessions (expires_at);
    ALTER TABLE scenario_versions ADD COLUMN status TEXT;
    UPDATE scenario_versions SET status = (SELECT s.status FROM scenarios s WHERE s.workspace_id =
      scenario_versions.workspace_id AND s.id = scenario_versions.scenario_id AND s.version = scenario_versions.version);
    )sql",

    // 6: delivery. The outbox is rebuilt (SQLite cannot change a CHECK): a `suppressed` status,
    // a worker's claim (claimed_until: a lease), the endpoint a webhook goes to, whether an
    // e-mail is marketing (the frequency cap counts those) and its recipient; each attempt
    // keeps the peer's status code and its duration. Webhook endpoints and suppressed
    // addresses are new tables.
    R"sql(
    CREATE TABLE outbox_v6 (
      seq INTEGER PRIMARY KEY,
      workspace_id INTEGER NOT NULL,
      key TEXT NOT NULL,
      kind TEXT NOT NULL,
      contact_id TEXT, run_id TEXT,
      params TEXT NOT NULL,
      status TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'sent', 'failed', 'dead', 'suppressed')),
      attempts INTEGER NOT NULL DEFAULT 0,
      next_attempt_at INTEGER,
      last_error TEXT,
      created_at INTEGER NOT NULL,
      sent_at INTEGER,
      claimed_until INTEGER,
      endpoint_id TEXT,
      marketing INTEGER NOT NULL DEFAULT 0,
      address TEXT
    );
    INSERT INTO outbox_v6 (seq, workspace_id, key, kind, contact_id, run_id, params, status, attempts,
      next_attempt_at, last_error, created_at, sent_at)
      SELECT seq, workspace_id, key, kind, contact_id, run_id, params, status, attempts, next_attempt_at,
      last_error, created_at, sent_at FROM outbox;
    DROP TABLE outbox;
    ALTER TABLE outbox_v6 RENAME TO outbox;
    CREATE UNIQUE INDEX outbox_key ON outbox (workspace_id, key);
    CREATE INDEX outbox_workspace ON outbox (workspace_id, seq);
    CREATE INDEX outbox_status ON outbox (workspace_id, status, seq);
    CREATE INDEX outbox_status_kind ON outbox (workspace_id, status, kind, seq);
    CREATE INDEX outbox_kind ON outbox (workspace_id, kind, seq);
    CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE status IN ('pending', 'failed');
    CREATE INDEX outbox_contact ON outbox (workspace_id, contact_id);
    CREATE INDEX outbox_marketing ON outbox (workspace_id, contact_id, created_at)
      WHERE marketing = 1 AND status <> 'suppressed';
    CREATE INDEX outbox_endpoint ON outbox (workspace_id, endpoint_id, status) WHERE endpoint_id IS NOT NULL;
    ALTER TABLE outbox_attempts ADD COLUMN status_code INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE outbox_attempts ADD COLUMN duration_ms INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE endpoints (
      workspace_id INTEGER NOT NULL,
      id TEXT NOT NULL,
      name TEXT NOT NULL,
      kind TEXT NOT NULL CHECK (kind IN ('slack', 'teams', 'generic')),
      url TEXT NOT NULL,
      secret TEXT NOT NULL,
      previous_secret TEXT,
      previous_until INTEGER,
      rate_per_second REAL NOT NULL DEFAULT 0,
      disabled_at INTEGER,
      disabled_reason TEXT,
      created_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL,
      PRIMARY KEY (workspace_id, id)
    ) WITHOUT ROWID;
    CREATE TABLE suppressions (
      workspace_id INTEGER NOT NULL,
      address TEXT NOT NULL,
      reason TEXT NOT NULL CHECK (reason IN ('unsubscribed', 'bounced')),
      contact_id TEXT,
      detail TEXT NOT NULL DEFAULT '',
      created_at INTEGER NOT NULL,
      PRIMARY KEY (workspace_id, address)
    ) WITHOUT ROWID;
    -- Each workspace's secret for its unsubscribe links (new workspaces get one when created).
    INSERT INTO settings (workspace_id, name, value, updated_at)
      SELECT id, 'link_secret', '"' || lower(hex(randomblob(32))) || '"', 0 FROM workspaces WHERE true
      ON CONFLICT DO NOTHING;
    )sql",
};

}  // namespace

int latest_schema_version() {
    return static_cast<int>(migrations.size());
}

int user_version(Db& db) {
    auto st = db.prepare("PRAGMA user_version");
    return st.step() ? st.int32(0) : -1;
}

void migrate(Db& db, const std::filesystem::path& file) {
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

}  // namespace closeloop::server::sqlite
