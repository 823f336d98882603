// closeloop server — the SQLite store's connections, free of the domain: ONE writer thread with
// group commit, a syncer thread, and a pool of read connections.
//
// Units of work queued by many HTTP threads are run together in one transaction (each in a
// savepoint, so one failing unit does not undo the others); the transaction commits; the
// syncer fsyncs the WAL, and only then are the callers woken. Many small requests thus share
// one fsync, and the writer builds the next transaction while the disk writes the last one.
// Internal to the store library.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "sqlite_db.h"
#include "sqlite_store.h"

namespace closeloop::server::sqlite {

class Connections {
public:
    // A unit of work on the writer's connection, inside the transaction; returns whether the
    // commit listener must hear of the commit that holds it.
    using Unit = std::function<bool(Db&)>;

    // Opens (creating if needed) `dir/closeloop.db` in WAL mode, runs `prepare` on the writer's
    // connection (the migrations), then starts the writer and the syncer.
    Connections(const std::filesystem::path& dir, SqliteOptions options, const std::function<void(Db&)>& prepare);
    // Finishes the queued units, commits, and stops the threads.
    ~Connections();
    Connections(const Connections&) = delete;
    Connections& operator=(const Connections&) = delete;

    // Queues a unit and waits until the transaction holding it is durable; rethrows what the
    // unit threw (its changes undone).
    void run(const Unit& work);
    // Checkpoints the whole WAL into the database file and truncates it to nothing (on the
    // writer's thread, between two transactions), so that deleted content survives only as the
    // zeros secure_delete wrote. Waits up to `wait_ms` for readers still on an older snapshot;
    // returns whether it completed. When it did not, the writer tries again (at most once a
    // second, without waiting) until it does.
    bool truncate_wal(int wait_ms);
    void set_commit_listener(std::function<void()> listener);
    StoreStats stats();
    // Every statement prepared so far on the writer and the idle readers.
    std::vector<std::string> prepared_sql();

    const std::filesystem::path file;
    const SqliteOptions options;

    // A read connection for the time of one call.
    class Reader {
    public:
        explicit Reader(Connections& pool);
        ~Reader();
        Reader(const Reader&) = delete;
        Reader& operator=(const Reader&) = delete;
        Db& operator*() { return *db_; }
        Db* operator->() { return db_.get(); }

    private:
        Connections& pool_;
        std::unique_ptr<Db> db_;
    };

private:
    // A unit of work, or (work == nullptr) a request to truncate the WAL.
    struct Queued {
        const Unit* work = nullptr;
        std::exception_ptr error;
        bool done = false;
        int wait_ms = 0;         // truncation: how long it may wait for readers
        bool truncated = false;  // truncation: whether it completed
    };

    void writer_loop();
    bool truncate_now(int wait_ms);  // on the writer's thread, outside a transaction
    void syncer_loop();
    void sync_wal();
    bool commit(std::vector<Queued*>& batch);

    // The writer.
    std::unique_ptr<Db> writer_db;
    std::thread writer;
    std::mutex queue_mutex;
    std::condition_variable queue_cv;  // work arrived, or stop
    std::condition_variable done_cv;   // a batch finished
    std::deque<Queued*> queue;
    bool stopping = false;
    std::function<void()> commit_listener;
    StoreStats counters;  // under queue_mutex
    // A truncation did not complete: the writer's own retries (its thread only).
    bool truncate_pending = false;
    std::chrono::steady_clock::time_point last_truncate_try;

    // The syncer (synchronous FULL): commits are made without fsync, and this thread fsyncs the
    // WAL and then wakes the callers, so the writer goes on with the next transaction while
    // the disk works. Under queue_mutex.
    struct Committed {
        std::vector<Queued*> units;
        bool notify = false;
    };
    std::thread syncer;
    std::condition_variable sync_cv;
    std::deque<Committed> to_sync;
    bool writer_done = false;
    int wal_fd = -1;
    dev_t wal_dev = 0;
    ino_t wal_ino = 0;

    // The readers.
    std::mutex reader_mutex;
    std::vector<std::unique_ptr<Db>> idle_readers;
};

}  // namespace closeloop::server::sqlite
