#include "sqlite_probe.h"

#include <sqlite3.h>

#include "sqlite_db.h"
#include "sqlite_vfs.h"

namespace closeloop::server::sqlite {

namespace {

// The statement's first row, handed to `read` (or nothing without a row); finalized after.
template <class Read>
void first_row(sqlite3* db, const std::string& sql, Read read) {
    sqlite3_stmt* st = nullptr;
    const int rc = sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr);
    if (rc != SQLITE_OK) throw DbError(std::string("cannot prepare: ") + sql + ": " + sqlite3_errmsg(db), rc);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) read(st);
    sqlite3_finalize(st);
}

}  // namespace

Probe::Probe(const std::filesystem::path& file, bool buffered_wal) {
    const int rc = sqlite3_open_v2(file.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                                   buffered_wal ? buffered_wal_vfs() : nullptr);
    if (rc != SQLITE_OK) {
        const std::string why = db_ ? sqlite3_errmsg(db_) : "out of memory";
        sqlite3_close(db_);
        throw DbError("cannot open " + file.string() + ": " + why, rc);
    }
}

Probe::~Probe() {
    sqlite3_close(db_);
}

void Probe::exec(const std::string& sql) {
    char* err = nullptr;
    const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
    if (rc == SQLITE_OK) return;
    const std::string why = err ? err : sqlite3_errmsg(db_);
    sqlite3_free(err);
    throw DbError(why + " in: " + sql, rc);
}

std::int64_t Probe::number(const std::string& sql) {
    std::int64_t v = -1;
    first_row(db_, sql, [&](sqlite3_stmt* st) { v = sqlite3_column_int64(st, 0); });
    return v;
}

std::string Probe::text(const std::string& sql) {
    std::string v;
    first_row(db_, sql, [&](sqlite3_stmt* st) { v = reinterpret_cast<const char*>(sqlite3_column_text(st, 0)); });
    return v;
}

}  // namespace closeloop::server::sqlite
