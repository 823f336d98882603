// closeloop server — the embedded SQLite store: opening it, workspaces, keys and settings. The
// rest is in one file per part of the domain (sqlite_events.cpp, sqlite_vouchers.cpp,
// sqlite_scenarios.cpp); the schema is in sqlite_schema.cpp, the writer, the syncer and the
// readers in sqlite_connections.cpp, row mapping in sqlite_rows.cpp.
#include <sqlite3.h>

#include <filesystem>

#include "sqlite_schema.h"
#include "sqlite_store_impl.h"

namespace closeloop::server {

SqliteStore::SqliteStore(const std::filesystem::path& dir, SqliteOptions options) {
    try {
        impl_ =
            std::make_unique<Impl>(dir, std::move(options), [&](Db& db) { sqlite::migrate(db, dir / "closeloop.db"); });
    } catch (const sqlite::DbError& e) {
        throw std::runtime_error(e.what());
    }
}

SqliteStore::~SqliteStore() = default;

Workspace SqliteWriteTx::create_workspace(const std::string& slug, const std::string& name, Time now) {
    db_.prepare("INSERT INTO workspaces (slug, name, created_at) VALUES (?1, ?2, ?3)")
        .bind(1, slug)
        .bind(2, name)
        .bind(3, now.ms)
        .run();
    const WorkspaceId id = db_.last_insert_rowid();
    // The secret that signs its unsubscribe links (unsubscribe.h), made with the workspace so it
    // never changes under links already sent; SQLite's randomness is a CSPRNG seeded by the OS.
    db_.prepare(
           "INSERT INTO settings (workspace_id, name, value, updated_at) VALUES (?1, 'link_secret', "
           "'\"' || lower(hex(randomblob(32))) || '\"', ?2) ON CONFLICT DO NOTHING")
        .bind(1, id)
        .bind(2, now.ms)
        .run();
    return {id, slug, name, now};
}

void SqliteWriteTx::add_key(WorkspaceId ws, KeyKind kind, const std::string& key_hash, const std::string& prefix,
                            Time now) {
    db_.prepare(
           "INSERT INTO api_keys (key_hash, workspace_id, kind, prefix, created_at, id) VALUES (?1, ?2, ?3, ?4, ?5, "
           "?6)")
        .bind(1, key_hash)
        .bind(2, ws)
        .bind(3, key_kind_name(kind))
        .bind(4, prefix)
        .bind(5, now.ms)
        .bind(6, key_id_of(key_hash))
        .run();
}

void SqliteWriteTx::put_setting(WorkspaceId ws, const std::string& name, const json& value, Time now) {
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

// Creates or replaces a document row (workspace_id, id, doc, created_at, updated_at) of a
// table named in the two statements; true when created.
bool SqliteWriteTx::save_document(const char* insert_sql, const char* update_sql, WorkspaceId ws, const std::string& id,
                                  const json& document, Time now) {
    const std::string doc = document.dump();
    auto ins = db_.prepare(insert_sql);
    ins.bind(1, ws).bind(2, id).bind(3, doc).bind(4, now.ms);
    if (ins.run() > 0) return true;
    db_.prepare(update_sql).bind(1, ws).bind(2, id).bind(3, doc).bind(4, now.ms).run();
    return false;
}

const std::filesystem::path& SqliteStore::file() const {
    return impl_->file;
}

int SqliteStore::latest_schema_version() {
    return sqlite::latest_schema_version();
}

int SqliteStore::schema_version() {
    Impl::Reader r(*impl_);
    return sqlite::user_version(*r);
}

std::vector<std::pair<std::string, std::vector<std::string>>> SqliteStore::query_plans() {
    std::vector<std::string> sql = impl_->prepared_sql();
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
    return impl_->stats();
}

void SqliteStore::write(const std::function<void(WriteTx&)>& work) {
    impl_->run([&](Db& db) {
        SqliteWriteTx tx(db);
        work(tx);
        return tx.unprocessed_events();
    });
}

void SqliteStore::set_commit_listener(std::function<void()> listener) {
    impl_->set_commit_listener(std::move(listener));
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

// ---- keys and sessions -------------------------------------------------------------------

namespace {

ApiKeyInfo read_key_info(const Stmt& st) {
    ApiKeyInfo k;
    k.id = st.text(0);
    k.workspace = st.int64(1);
    k.kind = st.text(2) == "admin" ? KeyKind::admin : KeyKind::publishable;
    k.prefix = st.text(3);
    k.created_at = time_at(st, 4);
    k.revoked_at = opt_time(st, 5);
    return k;
}

#define CL_KEY_COLUMNS "id, workspace_id, kind, prefix, created_at, revoked_at"

}  // namespace

std::vector<ApiKeyInfo> SqliteStore::api_keys(WorkspaceId ws) {
    Impl::Reader r(*impl_);
    auto st =
        r->prepare("SELECT " CL_KEY_COLUMNS
                   " FROM api_keys INDEXED BY api_keys_workspace WHERE workspace_id = ?1 ORDER BY created_at, id");
    st.bind(1, ws);
    std::vector<ApiKeyInfo> out;
    while (st.step()) out.push_back(read_key_info(st));
    return out;
}

std::optional<ApiKeyInfo> SqliteStore::find_key_info(std::string_view key_hash) {
    Impl::Reader r(*impl_);
    auto st = r->prepare("SELECT " CL_KEY_COLUMNS " FROM api_keys WHERE key_hash = ?1");
    st.bind(1, key_hash);
    if (!st.step()) return std::nullopt;
    return read_key_info(st);
}

bool SqliteStore::revoke_key(WorkspaceId ws, std::string_view key_id, Time now) {
    bool revoked = false;
    write([&](WriteTx& tx) {
        Db& db = sqlite_tx(tx).db();
        auto st = db.prepare(
            "UPDATE api_keys SET revoked_at = ?3 WHERE workspace_id = ?1 AND id = ?2 AND revoked_at IS NULL");
        st.bind(1, ws).bind(2, key_id).bind(3, now.ms);
        revoked = st.run() > 0;
        if (!revoked) return;
        db.prepare("DELETE FROM sessions WHERE workspace_id = ?1 AND key_id = ?2").bind(1, ws).bind(2, key_id).run();
    });
    return revoked;
}

void SqliteStore::create_session(const Session& s, Time purge_before) {
    write([&](WriteTx& tx) {
        Db& db = sqlite_tx(tx).db();
        db.prepare("DELETE FROM sessions WHERE expires_at < ?1").bind(1, purge_before.ms).run();
        db.prepare(
              "INSERT INTO sessions (token_hash, workspace_id, key_id, csrf_token, created_at, last_seen_at, "
              "expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")
            .bind(1, s.token_hash)
            .bind(2, s.workspace)
            .bind(3, s.key_id)
            .bind(4, s.csrf_token)
            .bind(5, s.created_at.ms)
            .bind(6, s.last_seen_at.ms)
            .bind(7, s.expires_at.ms)
            .run();
    });
}

std::optional<Session> SqliteStore::find_session(std::string_view token_hash) {
    Impl::Reader r(*impl_);
    auto st = r->prepare(
        "SELECT s.token_hash, s.workspace_id, w.slug, s.key_id, s.csrf_token, s.created_at, s.last_seen_at, "
        "s.expires_at FROM sessions s JOIN workspaces w ON w.id = s.workspace_id WHERE s.token_hash = ?1");
    st.bind(1, token_hash);
    if (!st.step()) return std::nullopt;
    Session s;
    s.token_hash = st.text(0);
    s.workspace = st.int64(1);
    s.workspace_slug = st.text(2);
    s.key_id = st.text(3);
    s.csrf_token = st.text(4);
    s.created_at = time_at(st, 5);
    s.last_seen_at = time_at(st, 6);
    s.expires_at = time_at(st, 7);
    return s;
}

void SqliteStore::touch_session(std::string_view token_hash, Time now) {
    write([&](WriteTx& tx) {
        sqlite_tx(tx)
            .db()
            .prepare("UPDATE sessions SET last_seen_at = max(last_seen_at, ?2) WHERE token_hash = ?1")
            .bind(1, token_hash)
            .bind(2, now.ms)
            .run();
    });
}

bool SqliteStore::delete_session(std::string_view token_hash) {
    bool deleted = false;
    write([&](WriteTx& tx) {
        deleted =
            sqlite_tx(tx).db().prepare("DELETE FROM sessions WHERE token_hash = ?1").bind(1, token_hash).run() > 0;
    });
    return deleted;
}

}  // namespace closeloop::server
