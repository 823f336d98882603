#include "sqlite_connections.h"

#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace closeloop::server::sqlite {

Connections::Connections(const std::filesystem::path& dir, SqliteOptions opts, const std::function<void(Db&)>& prepare)
    : file(dir / "closeloop.db"), options(std::move(opts)) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) throw std::runtime_error("cannot create data folder " + dir.string() + ": " + ec.message());
    writer_db = std::make_unique<Db>(file);
    Db& w = *writer_db;
    w.exec("PRAGMA journal_mode = WAL");
    // FULL: SQLite's NORMAL (no fsync in COMMIT; the WAL is fsynced before each checkpoint
    // and the database after it) plus our own fsync of the WAL before any caller is told
    // its work is done. FULL-INLINE: SQLite's FULL (fsync inside COMMIT). NORMAL: no fsync
    // before the answer (survives a process kill, not a power loss).
    const std::string sync = options.synchronous;
    if (sync == "FULL" || sync == "NORMAL")
        w.exec("PRAGMA synchronous = NORMAL");
    else if (sync == "FULL-INLINE")
        w.exec("PRAGMA synchronous = FULL");
    else
        throw std::runtime_error("synchronous must be FULL, FULL-INLINE or NORMAL, not " + sync);
    w.exec("PRAGMA foreign_keys = OFF");
    w.exec("PRAGMA temp_store = MEMORY");
    // Checkpoint every 10,000 WAL pages (40 MB) rather than SQLite's 1,000: a page written
    // by many commits between two checkpoints is copied to the database once (measured:
    // about 20 % more events/s), and the WAL is cut back to 64 MB after each.
    w.exec("PRAGMA wal_autocheckpoint = 10000");
    w.exec("PRAGMA journal_size_limit = 67108864");
    w.exec("PRAGMA cache_size = -32768");  // 32 MiB
    // Deleted content is overwritten with zeros, on b-tree pages and on pages going to the
    // freelist too (FAST leaves those): after a GDPR erasure and truncate_wal, the erased bytes
    // are nowhere in the files. Costs writes of freed pages; deletes are rare here.
    w.exec("PRAGMA secure_delete = ON");
    prepare(w);
    writer = std::thread([this] {
        pthread_setname_np(pthread_self(), "closeloop-write");
        writer_loop();
    });
    syncer = std::thread([this] {
        pthread_setname_np(pthread_self(), "closeloop-sync");
        syncer_loop();
    });
}

Connections::~Connections() {
    {
        std::lock_guard lock(queue_mutex);
        stopping = true;
    }
    queue_cv.notify_all();
    if (writer.joinable()) writer.join();
    {
        std::lock_guard lock(queue_mutex);
        writer_done = true;
    }
    sync_cv.notify_all();
    if (syncer.joinable()) syncer.join();
    if (wal_fd >= 0) ::close(wal_fd);
}

// Queues a unit of work and waits until the transaction holding it has committed.
void Connections::run(const Unit& work) {
    Queued unit;
    unit.work = &work;
    std::unique_lock lock(queue_mutex);
    if (stopping) throw std::runtime_error("the store is closing");
    queue.push_back(&unit);
    queue_cv.notify_one();
    done_cv.wait(lock, [&] { return unit.done; });
    if (unit.error) std::rethrow_exception(unit.error);
}

bool Connections::truncate_wal(int wait_ms) {
    Queued request;
    request.wait_ms = wait_ms;
    std::unique_lock lock(queue_mutex);
    if (stopping) throw std::runtime_error("the store is closing");
    queue.push_back(&request);
    queue_cv.notify_one();
    done_cv.wait(lock, [&] { return request.done; });
    return request.truncated;
}

bool Connections::truncate_now(int wait_ms) {
    sqlite3* h = writer_db->handle();
    last_truncate_try = std::chrono::steady_clock::now();
    // The busy handler is what waits for readers: bounded here, as every write waits meanwhile.
    sqlite3_busy_timeout(h, wait_ms);
    int log_frames = -1, checkpointed = -1;
    const int rc = sqlite3_wal_checkpoint_v2(h, nullptr, SQLITE_CHECKPOINT_TRUNCATE, &log_frames, &checkpointed);
    sqlite3_busy_timeout(h, Db::busy_timeout_ms);
    truncate_pending = !(rc == SQLITE_OK && log_frames == 0);
    return !truncate_pending;
}

void Connections::writer_loop() {
    std::vector<Queued*> batch;
    constexpr auto retry_every = std::chrono::seconds(1);
    for (;;) {
        Queued* truncation = nullptr;
        {
            std::unique_lock lock(queue_mutex);
            const auto ready = [&] { return stopping || !queue.empty(); };
            if (truncate_pending)
                queue_cv.wait_until(lock, last_truncate_try + retry_every, ready);
            else
                queue_cv.wait(lock, ready);
            if (queue.empty() && stopping) return;  // everything queued is done
            if (!queue.empty() && queue.front()->work == nullptr) {
                truncation = queue.front();
                queue.pop_front();
            }
            // A batch ends before a truncation request: it runs between transactions.
            while (!truncation && !queue.empty() && queue.front()->work &&
                   batch.size() < options.max_units_per_commit) {
                batch.push_back(queue.front());
                queue.pop_front();
            }
        }
        if (truncation) {
            // Its caller's writes were acknowledged (durable) before it asked.
            const bool truncated = truncate_now(truncation->wait_ms);
            {
                std::lock_guard lock(queue_mutex);
                truncation->truncated = truncated;
                truncation->done = true;
            }
            done_cv.notify_all();
            continue;
        }
        if (batch.empty()) {
            // Idle with a truncation still owed: try again, without keeping writers waiting.
            if (truncate_pending && std::chrono::steady_clock::now() >= last_truncate_try + retry_every)
                truncate_now(0);
            continue;
        }
        const bool notify = commit(batch);
        {
            std::lock_guard lock(queue_mutex);
            to_sync.push_back({std::move(batch), notify});
        }
        sync_cv.notify_one();
        batch.clear();
        if (truncate_pending && std::chrono::steady_clock::now() >= last_truncate_try + retry_every) truncate_now(0);
    }
}

void Connections::syncer_loop() {
    for (;;) {
        std::deque<Committed> synced;
        {
            std::unique_lock lock(queue_mutex);
            sync_cv.wait(lock, [&] { return writer_done || !to_sync.empty(); });
            if (to_sync.empty()) return;  // the writer has stopped and all is acknowledged
            synced.swap(to_sync);
        }
        // Everything committed so far is in the WAL file: one fsync makes it all durable.
        std::exception_ptr failure;
        if (options.synchronous == "FULL") {
            try {
                sync_wal();
            } catch (...) {
                failure = std::current_exception();
            }
        }
        bool notify = false;
        for (const auto& c : synced) notify = notify || c.notify;
        std::function<void()> listener;
        {
            std::lock_guard lock(queue_mutex);
            listener = commit_listener;
        }
        // Before the callers wake: whoever reads after a 202 finds the executor told.
        if (notify && listener && !failure) listener();
        {
            std::lock_guard lock(queue_mutex);
            for (auto& c : synced) {
                for (Queued* u : c.units) {
                    if (failure && !u->error) u->error = failure;
                    if (u->error)
                        ++counters.failed_units;
                    else
                        ++counters.units_of_work;
                    u->done = true;
                }
                ++counters.commits;
            }
        }
        done_cv.notify_all();
    }
}

// fdatasync of the WAL file. The file is opened once and reopened if SQLite has replaced it
// (fsync flushes a file's pages whichever descriptor wrote them).
void Connections::sync_wal() {
    const std::string path = file.string() + "-wal";
    struct stat now {};
    if (::stat(path.c_str(), &now) != 0) {
        // No WAL file: nothing committed since the last checkpoint removed it. The database
        // file itself was fsynced by that checkpoint.
        return;
    }
    if (wal_fd < 0 || now.st_dev != wal_dev || now.st_ino != wal_ino) {
        if (wal_fd >= 0) ::close(wal_fd);
        wal_fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (wal_fd < 0) throw std::runtime_error("cannot open " + path + " to fsync it: " + std::strerror(errno));
        wal_dev = now.st_dev;
        wal_ino = now.st_ino;
    }
    if (::fdatasync(wal_fd) != 0) throw std::runtime_error("fsync of " + path + " failed: " + std::strerror(errno));
}

// One transaction for the batch, a savepoint per unit. Returns whether a unit asked for the
// listener.
bool Connections::commit(std::vector<Queued*>& batch) {
    Db& w = *writer_db;
    sqlite3* h = w.handle();
    const auto fail_all = [&](std::exception_ptr e) {
        for (Queued* u : batch)
            if (!u->error) u->error = e;
    };
    try {
        w.prepare("BEGIN IMMEDIATE").run();
    } catch (...) {
        fail_all(std::current_exception());
        return false;
    }
    bool notify = false;
    for (Queued* u : batch) {
        try {
            w.prepare("SAVEPOINT unit").run();
            if ((*u->work)(w)) notify = true;
            w.prepare("RELEASE unit").run();
        } catch (...) {
            u->error = std::current_exception();
            if (sqlite3_get_autocommit(h)) {
                // SQLite rolled the whole transaction back (disk full, I/O error): every
                // unit in it is lost, so every caller must hear so.
                fail_all(u->error);
                return false;
            }
            sqlite3_exec(h, "ROLLBACK TO unit; RELEASE unit", nullptr, nullptr, nullptr);
        }
    }
    try {
        w.prepare("COMMIT").run();
    } catch (...) {
        fail_all(std::current_exception());
        if (!sqlite3_get_autocommit(h)) sqlite3_exec(h, "ROLLBACK", nullptr, nullptr, nullptr);
        return false;
    }
    return notify;
}

Connections::Reader::Reader(Connections& pool) : pool_(pool) {
    {
        std::lock_guard lock(pool_.reader_mutex);
        if (!pool_.idle_readers.empty()) {
            db_ = std::move(pool_.idle_readers.back());
            pool_.idle_readers.pop_back();
        }
    }
    if (!db_) {
        db_ = std::make_unique<Db>(pool_.file);
        db_->exec("PRAGMA query_only = ON");
        db_->exec("PRAGMA cache_size = -8192");
    }
}

Connections::Reader::~Reader() {
    // An idle connection must hold no snapshot: a read transaction left open (a statement not
    // reset, a BEGIN not ended) would keep the WAL from being checkpointed and truncated (GDPR
    // erasure) and from being reused. Statements are reset here; a transaction still open
    // closes the connection rather than pooling it.
    sqlite3* h = db_->handle();
    for (sqlite3_stmt* st = sqlite3_next_stmt(h, nullptr); st; st = sqlite3_next_stmt(h, st))
        if (sqlite3_stmt_busy(st)) sqlite3_reset(st);
    if (!sqlite3_get_autocommit(h)) return;
    std::lock_guard lock(pool_.reader_mutex);
    if (pool_.idle_readers.size() < pool_.options.max_readers) pool_.idle_readers.push_back(std::move(db_));
}

void Connections::set_commit_listener(std::function<void()> listener) {
    std::lock_guard lock(queue_mutex);
    commit_listener = std::move(listener);
}

StoreStats Connections::stats() {
    std::lock_guard lock(queue_mutex);
    return counters;
}

std::vector<std::string> Connections::prepared_sql() {
    std::vector<std::string> sql;
    run([&](Db&) {  // on the writer's thread: its connection is in use by no one else
        for (auto& s : writer_db->prepared_sql()) sql.push_back(std::move(s));
        return false;
    });
    std::lock_guard lock(reader_mutex);
    for (const auto& r : idle_readers)
        for (auto& s : r->prepared_sql()) sql.push_back(std::move(s));
    return sql;
}

}  // namespace closeloop::server::sqlite
