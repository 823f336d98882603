#include "sqlite_db.h"

#include <sqlite3.h>

#include "sqlite_vfs.h"

namespace closeloop::server::sqlite {

Stmt::~Stmt() {
    sqlite3_reset(st_);
    sqlite3_clear_bindings(st_);
}

// A bind that fails is a bug here (a wrong index, a statement still running): never ignored,
// or the statement would run with the values of its last use.
Stmt& Stmt::bound(int rc, int i) {
    if (rc != SQLITE_OK)
        throw DbError(std::string("sqlite: cannot bind parameter ") + std::to_string(i) + ": " + sqlite3_errstr(rc) +
                          " in: " + sqlite3_sql(st_),
                      rc);
    return *this;
}

Stmt& Stmt::bind(int i, std::int64_t v) {
    return bound(sqlite3_bind_int64(st_, i, v), i);
}

Stmt& Stmt::bind(int i, double v) {
    return bound(sqlite3_bind_double(st_, i, v), i);
}

Stmt& Stmt::bind(int i, std::string_view v) {
    return bound(sqlite3_bind_text64(st_, i, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8), i);
}

Stmt& Stmt::bind_null(int i) {
    return bound(sqlite3_bind_null(st_, i), i);
}

Stmt& Stmt::bind_text_or_null(int i, std::string_view v) {
    return v.empty() ? bind_null(i) : bind(i, v);
}

bool Stmt::step() {
    const int rc = sqlite3_step(st_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw DbError(std::string("sqlite: ") + sqlite3_errmsg(db_) + " in: " + sqlite3_sql(st_), rc);
}

int Stmt::run() {
    while (step()) {
    }
    return sqlite3_changes(db_);
}

bool Stmt::is_null(int col) const {
    return sqlite3_column_type(st_, col) == SQLITE_NULL;
}

std::int64_t Stmt::int64(int col) const {
    return sqlite3_column_int64(st_, col);
}

int Stmt::int32(int col) const {
    return sqlite3_column_int(st_, col);
}

double Stmt::real(int col) const {
    return sqlite3_column_double(st_, col);
}

std::string Stmt::text(int col) const {
    const auto* p = sqlite3_column_text(st_, col);
    if (!p) return {};
    return std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(st_, col)));
}

std::optional<std::int64_t> Stmt::opt_int64(int col) const {
    if (is_null(col)) return std::nullopt;
    return int64(col);
}

Db::Db(const std::filesystem::path& file) : file_(file) {
    // NOMUTEX: each connection is used by one thread at a time (the writer, or a reader
    // leased from the pool), so SQLite's per-connection mutex is not needed.
    // The VFS gathers WAL appends into large writes (sqlite_vfs.h).
    const int rc = sqlite3_open_v2(
        file_.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, buffered_wal_vfs());
    if (rc != SQLITE_OK) {
        const std::string why = db_ ? sqlite3_errmsg(db_) : "out of memory";
        sqlite3_close(db_);
        db_ = nullptr;
        throw DbError("cannot open " + file_.string() + ": " + why, rc);
    }
    sqlite3_extended_result_codes(db_, 1);
    sqlite3_busy_timeout(db_, busy_timeout_ms);
}

Db::~Db() {
    for (auto& [_, st] : cache_) sqlite3_finalize(st);
    sqlite3_close(db_);
}

Stmt Db::prepare(const char* sql) {
    auto it = cache_.find(sql);
    if (it == cache_.end()) {
        sqlite3_stmt* st = nullptr;
        const int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, nullptr);
        if (rc != SQLITE_OK) fail(std::string("cannot prepare: ") + sql, rc);
        it = cache_.emplace(sql, st).first;
    } else {
        // A statement finished but not yet released (its Stmt still in scope, e.g. the caller
        // of a nested write using the same SQL) is reset before its new use.
        sqlite3_reset(it->second);
    }
    return Stmt(db_, it->second);
}

void Db::exec(const char* sql) {
    char* err = nullptr;
    const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
        std::string why = err ? err : sqlite3_errmsg(db_);
        sqlite3_free(err);
        throw DbError("database " + file_.string() + ": " + why, rc);
    }
}

std::vector<std::string> Db::prepared_sql() const {
    std::vector<std::string> out;
    for (const auto& [sql, _] : cache_) out.emplace_back(sql);
    return out;
}

std::int64_t Db::last_insert_rowid() const {
    return sqlite3_last_insert_rowid(db_);
}

void Db::fail(const std::string& context, int code) const {
    throw DbError("database " + file_.string() + ": " + context + ": " + sqlite3_errmsg(db_), code);
}

ReadTx::ReadTx(Db& db) : db_(db) {
    db_.exec("BEGIN");
}

ReadTx::~ReadTx() {
    // A read transaction has nothing to keep; COMMIT and ROLLBACK both just end it.
    sqlite3_exec(db_.handle(), "COMMIT", nullptr, nullptr, nullptr);
}

}  // namespace closeloop::server::sqlite
