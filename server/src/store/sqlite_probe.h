// closeloop server — raw SQL on a database file, for tests that look at what is on disk (the
// WAL-buffering VFS, databases of older schemas, erased bytes). The server never uses it:
// everything it keeps goes through Store. It lives in the store library because that is the
// only one that links SQLite.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

struct sqlite3;

namespace closeloop::server::sqlite {

class Probe {
public:
    // Opens (creating if needed) `file`: with `buffered_wal`, through the store's WAL-buffering
    // VFS (sqlite_vfs.h), as the store does; otherwise with SQLite's default VFS.
    explicit Probe(const std::filesystem::path& file, bool buffered_wal = false);
    ~Probe();
    Probe(const Probe&) = delete;
    Probe& operator=(const Probe&) = delete;

    // Runs one or more statements; throws DbError (sqlite_db.h) with SQLite's message.
    void exec(const std::string& sql);
    // The first column of the first row: -1 (number) or "" (text) when there is no row or NULL.
    std::int64_t number(const std::string& sql);
    std::string text(const std::string& sql);

private:
    sqlite3* db_ = nullptr;
};

}  // namespace closeloop::server::sqlite
