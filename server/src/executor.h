// closeloop server — the scenario executor: the imperative shell around core's engine.
//
// Events posted to the API are handled as they are stored: ingest() stores them and, in the
// same unit of work, runs each through the active scenarios (below, 1), so an event, the runs
// it starts and their effects commit together, and an event is written once.
//
// One thread does the rest. It wakes when events commit unprocessed (the store's commit
// listener: events written by effects such as voucher_assigned, events imported or stored
// while a handler failed), when a waiting run comes due, or on its own every few seconds:
//   1. takes unprocessed events oldest first; for each event and each active scenario of its
//      workspace whose trigger type matches: decide_entry (re-entry facts from the runs table,
//      history read inside the transaction), start_run, the run written with its state, trace
//      and wake time, internal effects applied (vouchers, tags and attributes, tasks) and
//      external ones (e-mail, webhooks, surveys) put in the outbox; then the event is marked
//      processed — all in ONE unit of work, so a crash leaves either all of it or none (the
//      event is then taken again). Many events share a unit for throughput;
//   2. resumes waiting runs whose wake time has come (resume_run), the same way.
// A unit that throws (a bug, a broken disk) is retried one event or run at a time; one that
// still throws is set aside (the event marked processed, the run failed with the reason) so
// nothing waits forever. Expression errors never throw: the engine fails that run.
//
// Effects, trace steps and run states are read only through their JSON (to_json), the form
// the contract fixes.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <tuple>

#include "closeloop/render.h"
#include "closeloop/scenario.h"
#include "outbox_prep.h"
#include "store/store.h"

namespace closeloop::server {

struct ExecutorOptions {
    std::size_t events_per_unit = 1000;         // events handled in one unit of work
    std::size_t runs_per_unit = 200;            // runs started or resumed in one unit of work at most
    std::chrono::milliseconds idle_poll{5000};  // longest sleep without a signal
    OutboxPolicy outbox;                        // how e-mails and posts are prepared (outbox_prep.h)
};

struct ExecutorStats {
    std::uint64_t events = 0;        // processed
    std::uint64_t runs_started = 0;  // entries
    std::uint64_t runs_resumed = 0;
    std::uint64_t runs_failed = 0;  // ended failed (expression errors and the like)
    std::uint64_t set_aside = 0;    // events or runs whose unit threw even alone
};

class Executor {
public:
    Executor(Store& store, std::function<Time()> clock, ExecutorOptions options = {});
    ~Executor();  // stops
    Executor(const Executor&) = delete;
    Executor& operator=(const Executor&) = delete;

    // Stores the events (Store::insert_events) and handles each inside the same unit of work:
    // durable, with the runs it started, on return. What POST /api/v1/events does.
    IngestResult ingest(WorkspaceId ws, std::span<const Event> events, Time received_at);

    void start();
    // Finishes the unit in progress, then returns.
    void stop();
    // Something may be waiting (new events committed): cheap, callable from any thread.
    void wake();
    ExecutorStats stats();

    // One pass over what is pending now (the thread's loop body); true when it did something.
    // For tests that drive the executor without its thread.
    bool run_once();

private:
    using VersionKey = std::tuple<WorkspaceId, std::string, int>;

    // What the active scenarios need, as of one catalog generation; shared, never changed.
    struct Catalog {
        std::uint64_t generation = 0;
        // Active scenarios by workspace and trigger event type: most events match none.
        std::map<std::pair<WorkspaceId, std::string>, std::vector<std::shared_ptr<const Scenario>>> active;
        std::map<WorkspaceId, std::map<std::string, VoucherCampaign>> campaigns;
        // Templates (rendered into e-mails as they are enqueued) and each workspace's link secret.
        std::map<WorkspaceId, std::map<std::string, MessageTemplate>> templates;
        std::map<WorkspaceId, std::string> link_secrets;
        const std::map<std::string, VoucherCampaign>& campaigns_of(WorkspaceId ws) const;
        WorkspaceDelivery delivery_of(WorkspaceId ws) const;
    };

    void loop();
    // The catalog as of the store's current generation (built again when it changed); any thread.
    std::shared_ptr<const Catalog> catalog();
    std::shared_ptr<const Scenario> scenario_version(const Catalog& catalog, WorkspaceId ws, const std::string& id,
                                                     int version);

    bool process_events();
    bool resume_due_runs();
    // Each adds what it did to `done`, counted once the unit has committed.
    // `contact`: the event's contact as stored, or nullptr to read it here.
    void handle_event(WriteTx& tx, const Catalog& catalog, WorkspaceId ws, const Event& event, const Contact* contact,
                      Time now, ExecutorStats& done);
    void resume(WriteTx& tx, const Catalog& catalog, const RunRecord& due, Time now, ExecutorStats& done);
    void count(const ExecutorStats& done);

    Store& store_;
    std::function<Time()> clock_;
    ExecutorOptions options_;

    std::mutex catalog_mutex_;
    std::shared_ptr<const Catalog> catalog_;  // under catalog_mutex_
    // Versions runs were started on (the executor's thread only), for the catalog's generation.
    std::uint64_t versions_generation_ = ~std::uint64_t{0};
    std::map<VersionKey, std::shared_ptr<const Scenario>> versions_;  // nullptr: gone or unreadable

    std::mutex mutex_;
    std::condition_variable cv_;
    bool stopping_ = false;
    bool signalled_ = false;
    ExecutorStats stats_;  // under mutex_
    std::thread thread_;
};

}  // namespace closeloop::server
