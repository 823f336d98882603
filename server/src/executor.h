// closeloop server — the scenario executor: the imperative shell around core's engine.
//
// One thread. It wakes when new events commit (the store's commit listener), when a waiting
// run comes due, or on its own every few seconds, and then:
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

#include "closeloop/scenario.h"
#include "store.h"

namespace closeloop::server {

struct ExecutorOptions {
    std::size_t events_per_unit = 1000;         // events handled in one unit of work
    std::size_t runs_per_unit = 200;            // runs started or resumed in one unit of work at most
    std::chrono::milliseconds idle_poll{5000};  // longest sleep without a signal
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

    void loop();
    void refresh_catalog();
    const std::map<std::string, VoucherCampaign>& campaigns(WorkspaceId ws);
    std::shared_ptr<const Scenario> scenario_version(WorkspaceId ws, const std::string& id, int version);

    bool process_events();
    bool resume_due_runs();
    // Each adds what it did to `done`, counted once the unit has committed.
    void handle_event(WriteTx& tx, const StoredEvent& e, Time now, ExecutorStats& done);
    void resume(WriteTx& tx, const RunRecord& due, Time now, ExecutorStats& done);
    void count(const ExecutorStats& done);

    Store& store_;
    std::function<Time()> clock_;
    ExecutorOptions options_;

    // The catalog as of catalog_generation_ (only the executor's thread touches it).
    std::uint64_t catalog_generation_ = ~std::uint64_t{0};
    // Active scenarios by workspace and trigger event type: most events match none.
    std::map<std::pair<WorkspaceId, std::string>, std::vector<std::shared_ptr<const Scenario>>> active_;
    std::map<WorkspaceId, std::map<std::string, VoucherCampaign>> campaigns_;
    std::map<VersionKey, std::shared_ptr<const Scenario>> versions_;  // nullptr: gone or unreadable

    std::mutex mutex_;
    std::condition_variable cv_;
    bool stopping_ = false;
    bool signalled_ = false;
    ExecutorStats stats_;  // under mutex_
    std::thread thread_;
};

}  // namespace closeloop::server
