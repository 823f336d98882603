// closeloop server — a thin RAII layer over the SQLite C API, for sqlite_store.cpp only.
//
// Db is one connection with a cache of prepared statements (every query is prepared once
// per connection and reused); Stmt is a statement in use, reset when it goes out of scope.
// Failures throw DbError: for the store they are bugs or a broken disk, never bad input.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace closeloop::server::sqlite {

class DbError : public std::runtime_error {
public:
    DbError(const std::string& what, int code) : std::runtime_error(what), code_(code) {}
    int code() const { return code_; }

private:
    int code_;
};

class Stmt {
public:
    Stmt(sqlite3* db, sqlite3_stmt* st) : db_(db), st_(st) {}
    ~Stmt();
    Stmt(const Stmt&) = delete;
    Stmt& operator=(const Stmt&) = delete;

    // Parameters are 1-based, as in SQL (?1, ?2, ...).
    Stmt& bind(int i, std::int64_t v);
    Stmt& bind(int i, int v) { return bind(i, static_cast<std::int64_t>(v)); }
    Stmt& bind(int i, double v);
    Stmt& bind(int i, std::string_view v);  // copied (SQLITE_TRANSIENT)
    Stmt& bind(int i, const std::string& v) { return bind(i, std::string_view(v)); }
    Stmt& bind(int i, const char* v) { return bind(i, std::string_view(v)); }
    Stmt& bind_null(int i);
    Stmt& bind_text_or_null(int i, std::string_view v);  // "" binds NULL
    template <class T>
    Stmt& bind(int i, const std::optional<T>& v) {
        return v ? bind(i, *v) : bind_null(i);
    }

    // True while there is a row; false when done.
    bool step();
    // Runs to completion; returns sqlite3_changes.
    int run();

    bool is_null(int col) const;
    std::int64_t int64(int col) const;
    int int32(int col) const;
    double real(int col) const;
    std::string text(int col) const;  // "" for NULL
    std::optional<std::int64_t> opt_int64(int col) const;

private:
    Stmt& bound(int rc, int i);  // throws DbError when a bind failed

    sqlite3* db_;
    sqlite3_stmt* st_;
};

class Db {
public:
    // Opens (creating if needed) a connection for use by one thread at a time.
    explicit Db(const std::filesystem::path& file);
    // How long a statement waits for a lock held by another connection.
    static constexpr int busy_timeout_ms = 10000;
    ~Db();
    Db(const Db&) = delete;
    Db& operator=(const Db&) = delete;

    // A statement from the cache (prepared on first use). `sql` must be a string literal:
    // its address is the cache key.
    Stmt prepare(const char* sql);
    // For statements without parameters run once (PRAGMAs, migrations, BEGIN/COMMIT).
    void exec(const char* sql);
    sqlite3* handle() const { return db_; }
    // The text of every statement prepared so far (for query-plan checks).
    std::vector<std::string> prepared_sql() const;
    std::int64_t last_insert_rowid() const;
    [[noreturn]] void fail(const std::string& context, int code) const;

private:
    std::filesystem::path file_;
    sqlite3* db_ = nullptr;
    std::unordered_map<const char*, sqlite3_stmt*> cache_;
};

// BEGIN ... COMMIT on a connection, rolled back when left by an exception.
class ReadTx {
public:
    explicit ReadTx(Db& db);
    ~ReadTx();
    ReadTx(const ReadTx&) = delete;
    ReadTx& operator=(const ReadTx&) = delete;

private:
    Db& db_;
};

}  // namespace closeloop::server::sqlite
