// closeloop server — the embedded SQLite store.
//
// The only place with SQL. The schema grows by numbered, forward-only migrations that run
// at start; the database runs in WAL mode so readers never block the writer.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

struct sqlite3;

namespace closeloop::server {

class SqliteStore {
public:
    // Opens (creating if needed) `dir/closeloop.db` and migrates it to the current schema.
    // Throws std::runtime_error with a message for the operator when it cannot.
    explicit SqliteStore(const std::filesystem::path& dir);
    ~SqliteStore();
    SqliteStore(const SqliteStore&) = delete;
    SqliteStore& operator=(const SqliteStore&) = delete;

    int schema_version() const;
    const std::filesystem::path& file() const { return file_; }
    // A cheap query proving the database answers (for /healthz).
    bool healthy() const;

private:
    void exec(const char* sql) const;
    void migrate();

    std::filesystem::path file_;
    sqlite3* db_ = nullptr;
};

}  // namespace closeloop::server
