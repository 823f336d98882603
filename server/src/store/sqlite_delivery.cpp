// closeloop server — the SQLite store's delivery: claims on the outbox, attempts, webhook
// endpoints and suppressed addresses.
//
// A claim is a lease (claimed_until): an entry claimed by a worker that died is claimed again
// once the lease is over, or at the next start (release_claims: one server owns a SQLite file).
#include <algorithm>
#include <cctype>

#include "sqlite_store_impl.h"

namespace closeloop::server {

namespace {

#define CL_ENDPOINT_COLUMNS                                                                                         \
    "id, name, kind, url, secret, previous_secret, previous_until, rate_per_second, disabled_at, disabled_reason, " \
    "created_at, updated_at"

Endpoint read_endpoint(const Stmt& st) {
    Endpoint e;
    e.id = st.text(0);
    e.name = st.text(1);
    e.kind = st.text(2);
    e.url = st.text(3);
    e.secret = st.text(4);
    e.previous_secret = st.text(5);
    e.previous_until = opt_time(st, 6);
    e.rate_per_second = st.real(7);
    e.disabled_at = opt_time(st, 8);
    e.disabled_reason = st.text(9);
    e.created_at = time_at(st, 10);
    e.updated_at = time_at(st, 11);
    return e;
}

Suppression read_suppression(const Stmt& st) {
    return {st.text(0), st.text(1), st.text(2), st.text(3), time_at(st, 4)};
}

std::string lower(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
    return out;
}

std::optional<Endpoint> select_endpoint(Db& db, WorkspaceId ws, std::string_view id) {
    auto st = db.prepare("SELECT " CL_ENDPOINT_COLUMNS " FROM endpoints WHERE workspace_id = ?1 AND id = ?2");
    st.bind(1, ws).bind(2, id);
    if (!st.step()) return std::nullopt;
    return read_endpoint(st);
}

std::optional<Suppression> select_suppression(Db& db, WorkspaceId ws, std::string_view address) {
    auto st = db.prepare(
        "SELECT address, reason, contact_id, detail, created_at FROM suppressions WHERE workspace_id = ?1 AND "
        "address = ?2");
    st.bind(1, ws).bind(2, lower(address));
    if (!st.step()) return std::nullopt;
    return read_suppression(st);
}

}  // namespace

// ---- inside units of work ------------------------------------------------------------------

std::vector<Time> SqliteWriteTx::marketing_sends(WorkspaceId ws, std::string_view contact, Time since) {
    auto st = db_.prepare(
        "SELECT created_at FROM outbox INDEXED BY outbox_marketing WHERE workspace_id = ?1 AND contact_id = ?2 "
        "AND created_at >= ?3 AND marketing = 1 AND status <> 'suppressed' ORDER BY created_at");
    st.bind(1, ws).bind(2, contact).bind(3, since.ms);
    std::vector<Time> out;
    while (st.step()) out.push_back(time_at(st, 0));
    return out;
}

std::optional<Suppression> SqliteWriteTx::find_suppression(WorkspaceId ws, std::string_view address) {
    return select_suppression(db_, ws, address);
}

std::optional<Endpoint> SqliteWriteTx::find_endpoint(WorkspaceId ws, std::string_view id) {
    return select_endpoint(db_, ws, id);
}

void SqliteWriteTx::add_suppression(WorkspaceId ws, const Suppression& s) {
    db_.prepare(
           "INSERT INTO suppressions (workspace_id, address, reason, contact_id, detail, created_at) "
           "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (workspace_id, address) DO NOTHING")
        .bind(1, ws)
        .bind(2, lower(s.address))
        .bind(3, s.reason)
        .bind_text_or_null(4, s.contact)
        .bind(5, s.detail)
        .bind(6, s.created_at.ms)
        .run();
}

// ---- claims and attempts -------------------------------------------------------------------

std::vector<OutboxEntry> SqliteStore::claim_effects(std::span<const std::string> kinds, Time now, Time lease_until,
                                                    std::size_t limit) {
    std::vector<OutboxEntry> out;
    if (kinds.empty() || limit == 0) return out;
    std::string in;
    for (std::size_t i = 0; i < kinds.size(); ++i) in += (i ? ", ?" : "?") + std::to_string(i + 4);
    write([&](WriteTx& tx) {
        out.clear();
        Db& db = sqlite_tx(tx).db();
        const std::string sql =
            "UPDATE outbox SET claimed_until = ?1 WHERE seq IN (SELECT seq FROM outbox INDEXED BY outbox_due WHERE "
            "status IN ('pending', 'failed') AND next_attempt_at <= ?2 AND (claimed_until IS NULL OR claimed_until "
            "<= ?2) AND kind IN (" +
            in + ") ORDER BY next_attempt_at, seq LIMIT ?3) RETURNING " CL_OUTBOX_COLUMNS;
        auto st = db.prepare(sql.c_str());
        st.bind(1, lease_until.ms).bind(2, now.ms).bind(3, limit_of(limit));
        for (std::size_t i = 0; i < kinds.size(); ++i) st.bind(static_cast<int>(i) + 4, kinds[i]);
        while (st.step()) out.push_back(read_outbox(st));
    });
    std::sort(out.begin(), out.end(), [](const OutboxEntry& a, const OutboxEntry& b) {
        return std::tie(a.next_attempt_at, a.seq) < std::tie(b.next_attempt_at, b.seq);
    });
    return out;
}

void SqliteStore::finish_attempts(std::span<const AttemptOutcome> outcomes, Time now) {
    if (outcomes.empty()) return;
    write([&](WriteTx& tx) {
        auto& wtx = sqlite_tx(tx);
        Db& db = wtx.db();
        for (const AttemptOutcome& o : outcomes) {
            if (o.tried) {
                db.prepare(
                      "INSERT INTO outbox_attempts (outbox_seq, workspace_id, at, ok, detail, status_code, "
                      "duration_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")
                    .bind(1, o.seq)
                    .bind(2, o.workspace)
                    .bind(3, o.attempt.at.ms)
                    .bind(4, o.attempt.ok ? 1 : 0)
                    .bind(5, o.attempt.detail)
                    .bind(6, o.attempt.status_code)
                    .bind(7, o.attempt.duration_ms)
                    .run();
            }
            auto up = db.prepare(
                "UPDATE outbox SET status = ?3, attempts = attempts + ?4, next_attempt_at = ?5, last_error = ?6, "
                "sent_at = CASE WHEN ?3 = 'sent' THEN ?7 ELSE sent_at END, claimed_until = NULL "
                "WHERE workspace_id = ?1 AND seq = ?2");
            up.bind(1, o.workspace)
                .bind(2, o.seq)
                .bind(3, to_string(o.status))
                .bind(4, o.tried ? 1 : 0)
                .bind_text_or_null(6, o.error)
                .bind(7, o.attempt.at.ms);
            bind_time(up, 5, o.next_attempt_at);
            up.run();
            for (const Suppression& s : o.suppress) wtx.add_suppression(o.workspace, s);
            if (!o.disable_endpoint.empty())
                db.prepare(
                      "UPDATE endpoints SET disabled_at = ?3, disabled_reason = ?4, updated_at = ?3 WHERE "
                      "workspace_id = ?1 AND id = ?2 AND disabled_at IS NULL")
                    .bind(1, o.workspace)
                    .bind(2, o.disable_endpoint)
                    .bind(3, now.ms)
                    .bind(4, o.disable_reason)
                    .run();
        }
    });
}

std::size_t SqliteStore::release_claims() {
    std::size_t n = 0;
    write([&](WriteTx& tx) {
        n = static_cast<std::size_t>(
            sqlite_tx(tx).db().prepare("UPDATE outbox SET claimed_until = NULL WHERE claimed_until IS NOT NULL").run());
    });
    return n;
}

std::optional<OutboxEntry> SqliteStore::find_effect(WorkspaceId ws, std::int64_t seq) {
    Impl::Reader r(*impl_);
    sqlite::ReadTx snapshot(*r);
    auto st = r->prepare("SELECT " CL_OUTBOX_COLUMNS " FROM outbox WHERE workspace_id = ?1 AND seq = ?2");
    st.bind(1, ws).bind(2, seq);
    if (!st.step()) return std::nullopt;
    OutboxEntry o = read_outbox(st);
    load_attempts(*r, o);
    return o;
}

RetryEffect SqliteStore::retry_effect(WorkspaceId ws, std::int64_t seq, Time now) {
    RetryEffect result = RetryEffect::not_found;
    write([&](WriteTx& tx) {
        Db& db = sqlite_tx(tx).db();
        auto st = db.prepare("SELECT status FROM outbox WHERE workspace_id = ?1 AND seq = ?2");
        st.bind(1, ws).bind(2, seq);
        if (!st.step()) {
            result = RetryEffect::not_found;
            return;
        }
        const auto status = outbox_status_of(st.text(0));
        if (status != OutboxStatus::dead && status != OutboxStatus::failed) {
            result = RetryEffect::not_retryable;
            return;
        }
        db.prepare(
              "UPDATE outbox SET status = 'pending', next_attempt_at = ?3, claimed_until = NULL WHERE "
              "workspace_id = ?1 AND seq = ?2")
            .bind(1, ws)
            .bind(2, seq)
            .bind(3, now.ms)
            .run();
        result = RetryEffect::retried;
    });
    return result;
}

std::size_t SqliteStore::retry_endpoint_effects(WorkspaceId ws, std::string_view endpoint, Time now) {
    std::size_t n = 0;
    write([&](WriteTx& tx) {
        n = static_cast<std::size_t>(sqlite_tx(tx)
                                         .db()
                                         .prepare("UPDATE outbox SET status = 'pending', next_attempt_at = ?3, "
                                                  "claimed_until = NULL WHERE workspace_id = ?1 AND endpoint_id = ?2 "
                                                  "AND status = 'dead'")
                                         .bind(1, ws)
                                         .bind(2, endpoint)
                                         .bind(3, now.ms)
                                         .run());
    });
    return n;
}

std::vector<OutboxCount> SqliteStore::outbox_counts() {
    Impl::Reader r(*impl_);
    auto st = r->prepare("SELECT kind, status, count(*) FROM outbox GROUP BY kind, status ORDER BY kind, status");
    std::vector<OutboxCount> out;
    while (st.step())
        out.push_back({st.text(0), outbox_status_of(st.text(1)).value_or(OutboxStatus::pending),
                       static_cast<std::uint64_t>(st.int64(2))});
    return out;
}

// ---- endpoints -----------------------------------------------------------------------------

std::vector<Endpoint> SqliteStore::endpoints(WorkspaceId ws) {
    Impl::Reader r(*impl_);
    auto st = r->prepare("SELECT " CL_ENDPOINT_COLUMNS " FROM endpoints WHERE workspace_id = ?1 ORDER BY id");
    st.bind(1, ws);
    std::vector<Endpoint> out;
    while (st.step()) out.push_back(read_endpoint(st));
    return out;
}

std::optional<Endpoint> SqliteStore::find_endpoint(WorkspaceId ws, std::string_view id) {
    Impl::Reader r(*impl_);
    return select_endpoint(*r, ws, id);
}

namespace {

void bind_endpoint(Stmt& st, WorkspaceId ws, const Endpoint& e) {
    st.bind(1, ws)
        .bind(2, e.id)
        .bind(3, e.name)
        .bind(4, e.kind)
        .bind(5, e.url)
        .bind(6, e.secret)
        .bind_text_or_null(7, e.previous_secret)
        .bind(9, e.rate_per_second)
        .bind_text_or_null(11, e.disabled_reason)
        .bind(12, e.created_at.ms)
        .bind(13, e.updated_at.ms);
    bind_time(st, 8, e.previous_until);
    bind_time(st, 10, e.disabled_at);
}

}  // namespace

// Runs one statement over an endpoint's columns (bind_endpoint); true when it changed a row.
bool SqliteStore::write_endpoint(const char* sql, WorkspaceId ws, const Endpoint& e) {
    bool changed = false;
    write([&](WriteTx& tx) {
        auto st = sqlite_tx(tx).db().prepare(sql);
        bind_endpoint(st, ws, e);
        changed = st.run() > 0;
    });
    return changed;
}

bool SqliteStore::create_endpoint(WorkspaceId ws, const Endpoint& e) {
    return write_endpoint(
        "INSERT INTO endpoints (workspace_id, id, name, kind, url, secret, previous_secret, previous_until, "
        "rate_per_second, disabled_at, disabled_reason, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
        "?8, ?9, ?10, ?11, ?12, ?13) ON CONFLICT (workspace_id, id) DO NOTHING",
        ws, e);
}

bool SqliteStore::update_endpoint(WorkspaceId ws, const Endpoint& e) {
    return write_endpoint(
        "UPDATE endpoints SET name = ?3, kind = ?4, url = ?5, secret = ?6, previous_secret = ?7, previous_until = "
        "?8, rate_per_second = ?9, disabled_at = ?10, disabled_reason = ?11, updated_at = ?13 WHERE workspace_id = "
        "?1 AND id = ?2",
        ws, e);
}

bool SqliteStore::delete_endpoint(WorkspaceId ws, std::string_view id) {
    bool deleted = false;
    write([&](WriteTx& tx) {
        deleted = sqlite_tx(tx)
                      .db()
                      .prepare("DELETE FROM endpoints WHERE workspace_id = ?1 AND id = ?2")
                      .bind(1, ws)
                      .bind(2, id)
                      .run() > 0;
    });
    return deleted;
}

// ---- suppressions --------------------------------------------------------------------------

// A contact's suppressions (export and erasure): those recorded for it, and those of its
// address. The workspace's suppressions are few (one per address), so walking them by key is
// cheap; there is no index on contact_id.
std::vector<Suppression> sqlite::rows::contact_suppressions(Db& db, WorkspaceId ws, std::string_view contact,
                                                            std::string_view email) {
    auto st = db.prepare(
        "SELECT address, reason, contact_id, detail, created_at FROM suppressions WHERE workspace_id = ?1 "
        "AND (contact_id = ?2 OR address = ?3) ORDER BY created_at DESC");
    st.bind(1, ws).bind(2, contact).bind_text_or_null(3, lower(email));
    std::vector<Suppression> out;
    while (st.step()) out.push_back(read_suppression(st));
    return out;
}

std::size_t sqlite::rows::erase_suppressions(Db& db, WorkspaceId ws, std::string_view contact, std::string_view email,
                                             bool address_shared) {
    // With the address still another contact's, its suppression stays (that contact asked not
    // to be mailed, or the address bounces) and only forgets who it came from.
    auto del = db.prepare(
        "DELETE FROM suppressions WHERE workspace_id = ?1 AND ((contact_id = ?2 AND address IS NOT ?4) OR address = "
        "?3)");
    del.bind(1, ws).bind(2, contact).bind_text_or_null(4, lower(email));
    if (address_shared)
        del.bind_null(3);
    else
        del.bind_text_or_null(3, lower(email));
    const auto erased = static_cast<std::size_t>(del.run());
    db.prepare("UPDATE suppressions SET contact_id = NULL WHERE workspace_id = ?1 AND contact_id = ?2")
        .bind(1, ws)
        .bind(2, contact)
        .run();
    return erased;
}

void SqliteStore::add_suppression(WorkspaceId ws, const Suppression& s) {
    write([&](WriteTx& tx) { sqlite_tx(tx).add_suppression(ws, s); });
}

std::optional<Suppression> SqliteStore::find_suppression(WorkspaceId ws, std::string_view address) {
    Impl::Reader r(*impl_);
    return select_suppression(*r, ws, address);
}

std::vector<Suppression> SqliteStore::suppressions(WorkspaceId ws, std::size_t limit) {
    Impl::Reader r(*impl_);
    auto st = r->prepare(
        "SELECT address, reason, contact_id, detail, created_at FROM suppressions WHERE workspace_id = ?1 "
        "ORDER BY created_at DESC LIMIT ?2");
    st.bind(1, ws).bind(2, limit_of(limit));
    std::vector<Suppression> out;
    while (st.step()) out.push_back(read_suppression(st));
    return out;
}

}  // namespace closeloop::server
