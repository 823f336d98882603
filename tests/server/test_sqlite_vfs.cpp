// The WAL-buffering VFS: what a commit leaves in the files is complete at the moment the commit
// returns (a copy of the files taken then, as a crash would leave them, opens with every
// committed row), other connections see each commit at once, and nothing is lost across
// spills of the page cache, pages written twice in a transaction and log restarts.
#include <doctest/doctest.h>

#include <filesystem>
#include <memory>
#include <string>

#include "store/sqlite_probe.h"
#include "temp_dir.h"

namespace {

using closeloop::server::sqlite::Probe;

void exec(Probe& db, const std::string& sql) {
    CAPTURE(sql);
    REQUIRE_NOTHROW(db.exec(sql));
}

// The database and its WAL as they are on disk now (what a SIGKILL leaves), opened elsewhere
// with the default VFS: SQLite recovers from the WAL what was committed.
std::unique_ptr<Probe> crash_copy(const std::filesystem::path& from, const std::filesystem::path& to) {
    std::filesystem::create_directories(to);
    for (const char* suffix : {"", "-wal"}) {
        const auto src = from.string() + suffix;
        if (std::filesystem::exists(src))
            std::filesystem::copy_file(src, to / ("c.db" + std::string(suffix)),
                                       std::filesystem::copy_options::overwrite_existing);
    }
    std::filesystem::remove(to / "c.db-shm");
    return std::make_unique<Probe>(to / "c.db");
}

}  // namespace

TEST_CASE("the WAL-buffering VFS: every commit is whole in the files when it returns, and visible at once") {
    TempDir dir;
    const auto file = dir.path / "t.db";
    auto w = std::make_unique<Probe>(file, true);
    exec(*w,
         "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 0;"
         "CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL); CREATE INDEX t_v ON t (v)");
    Probe reader(file, true);

    std::int64_t expected_rows = 0;
    for (int round = 0; round < 6; ++round) {
        CAPTURE(round);
        // A small cache in some rounds: the transaction spills pages to the WAL before its
        // commit and then writes some of them again (in place, then checksums rewritten).
        exec(*w, round % 2 ? "PRAGMA cache_size = 8" : "PRAGMA cache_size = 2000");
        exec(*w, "BEGIN");
        for (int i = 0; i < 3000; ++i) {
            const auto k = std::to_string(round * 3000 + i);
            exec(*w, "INSERT INTO t VALUES (" + k + ", printf('%0200d', " + k + "))");
        }
        exec(*w, "UPDATE t SET v = v || 'x' WHERE k % 7 = 0");  // pages written again
        exec(*w, "COMMIT");
        expected_rows += 3000;
        // Rows k % 7 == 0 were marked once per round since they were inserted.
        std::int64_t marks = 0;
        for (std::int64_t k = 0; k < expected_rows; ++k)
            if (k % 7 == 0) marks += round - k / 3000 + 1;

        // The files as a crash would leave them hold all of it: copied before the writer does
        // anything else (a read on it would flush what a bug left in the buffer).
        auto copy = crash_copy(file, dir.path / ("crash" + std::to_string(round)));
        CHECK(copy->number("SELECT count(*) FROM t") == expected_rows);
        CHECK(copy->number("SELECT sum(length(v) - 200) FROM t") == marks);
        CHECK(copy->text("PRAGMA integrity_check") == "ok");

        // Another connection sees the commit at once.
        CHECK(reader.number("SELECT count(*) FROM t") == expected_rows);
        CHECK(reader.number("SELECT sum(length(v) - 200) FROM t") == marks);

        // Every other round the log is checkpointed and restarts from its beginning.
        if (round % 2) exec(*w, "PRAGMA wal_checkpoint(RESTART)");
    }
    // A transaction rolled back after spilling leaves nothing behind.
    exec(*w, "PRAGMA cache_size = 8");
    exec(*w, "BEGIN");
    for (int i = 0; i < 2000; ++i) exec(*w, "INSERT INTO t VALUES (" + std::to_string(100000 + i) + ", 'gone')");
    exec(*w, "ROLLBACK");
    exec(*w, "INSERT INTO t VALUES (200000, 'after')");
    auto copy = crash_copy(file, dir.path / "crash-rollback");
    CHECK(copy->number("SELECT count(*) FROM t") == expected_rows + 1);
    CHECK(copy->number("SELECT count(*) FROM t WHERE v = 'gone'") == 0);
    CHECK(copy->text("PRAGMA integrity_check") == "ok");

    w.reset();
    Probe again(file, true);
    CHECK(again.number("SELECT count(*) FROM t") == expected_rows + 1);
    CHECK(again.text("PRAGMA integrity_check") == "ok");
}
