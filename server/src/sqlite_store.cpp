#include "sqlite_store.h"

#include <sqlite3.h>

#include <array>
#include <stdexcept>

namespace closeloop::server {

namespace {

// Forward-only migrations: entry i takes the schema from version i to i + 1. Never edit a
// released entry; append a new one.
constexpr std::array<const char*, 1> migrations = {
    R"sql(
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    INSERT INTO meta (key, value) VALUES ('created_by', 'closeloop');
    )sql",
};

}  // namespace

SqliteStore::SqliteStore(const std::filesystem::path& dir) : file_(dir / "closeloop.db") {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) throw std::runtime_error("cannot create data folder " + dir.string() + ": " + ec.message());
    if (sqlite3_open_v2(file_.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                        nullptr) != SQLITE_OK) {
        const std::string why = db_ ? sqlite3_errmsg(db_) : "out of memory";
        sqlite3_close(db_);
        db_ = nullptr;
        throw std::runtime_error("cannot open " + file_.string() + ": " + why);
    }
    sqlite3_busy_timeout(db_, 5000);
    exec("PRAGMA journal_mode = WAL");
    exec("PRAGMA synchronous = FULL");
    exec("PRAGMA foreign_keys = ON");
    migrate();
}

SqliteStore::~SqliteStore() {
    sqlite3_close(db_);
}

void SqliteStore::exec(const char* sql) const {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
        std::string why = err ? err : sqlite3_errmsg(db_);
        sqlite3_free(err);
        throw std::runtime_error("database " + file_.string() + ": " + why);
    }
}

int SqliteStore::schema_version() const {
    sqlite3_stmt* st = nullptr;
    int version = -1;
    if (sqlite3_prepare_v2(db_, "PRAGMA user_version", -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return version;
}

bool SqliteStore::healthy() const {
    return schema_version() == static_cast<int>(migrations.size());
}

void SqliteStore::migrate() {
    const int from = schema_version();
    if (from > static_cast<int>(migrations.size()))
        throw std::runtime_error(file_.string() + " has schema version " + std::to_string(from) +
                                 ", newer than this closeloop (" + std::to_string(migrations.size()) +
                                 "): upgrade closeloop");
    for (int v = from; v < static_cast<int>(migrations.size()); ++v) {
        exec("BEGIN IMMEDIATE");
        try {
            exec(migrations[static_cast<std::size_t>(v)]);
            exec(("PRAGMA user_version = " + std::to_string(v + 1)).c_str());
            exec("COMMIT");
        } catch (...) {
            sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
            throw;
        }
    }
}

}  // namespace closeloop::server
