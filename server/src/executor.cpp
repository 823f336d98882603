// Sections: effects, runs as records, the executor (catalog, events, due runs, the loop); the
// history runs read is tx_history.h.
#include "executor.h"

#include <pthread.h>

#include <algorithm>
#include <iostream>

#include "closeloop/engine.h"
#include "keys.h"
#include "tx_history.h"
#include "unsubscribe.h"

namespace closeloop::server {

using nlohmann::json;

namespace {

// The `now` an event is reacted to (CONTRACT.md, part 2, Runs): its own time, never later than when
// it was received or handled, so the same answers give the same decisions live, late, after a
// restart and in the simulator (a future-dated event is reacted to as of its receipt).
Time reaction_time(const Event& e, Time received_or_handled) {
    return e.time ? std::min(*e.time, received_or_handled) : received_or_handled;
}

// Voucher codes from OpenSSL's CSPRNG: unique and unguessable (keys.h).
class SecureCodes final : public CodeSource {
public:
    std::string voucher_code(const VoucherCampaign&, const std::string&) override { return new_voucher_code(); }
};

// ---- effects -------------------------------------------------------------------------------

// Performs the internal effects of one step inside the unit and puts the external ones in the
// outbox. Every write is keyed by the effect key, so the same effect can never happen twice.
// Returns the effects as the run record keeps them.
json apply_effects(WriteTx& tx, WorkspaceId ws, const std::string& run_id, const std::vector<Effect>& effects,
                   const Contact& contact_after, const std::map<std::string, VoucherCampaign>& campaigns,
                   const StepFacts& step, const WorkspaceDelivery& delivery, const OutboxPolicy& policy) {
    const Time now = step.now;
    json out = json::array();
    ContactPatch patch;
    patch.id = contact_after.id;
    for (const Effect& effect : effects) {
        const auto task = [&] {
            const TaskDraft draft = *task_of(effect);
            Task t;
            t.id = new_id("task_");
            t.role = draft.role;
            t.assignee = draft.assignee;
            t.title = draft.title;
            t.message = draft.message;
            t.contact = effect.contact;
            t.run_id = run_id;
            t.key = effect.key;
            t.created_at = now;
            t.due_at = draft.due;
            tx.create_task(ws, t);
        };
        const auto deliver = [&] {  // delivery workers perform it
            OutboxEntry o;
            o.key = effect.key;
            o.kind = to_string(effect.kind);
            o.contact = effect.contact;
            o.run_id = run_id;
            o.params = params_json(effect);
            o.created_at = now;
            prepare_entry(tx, ws, effect, step, delivery, policy, o);
            tx.enqueue_effect(ws, o);
        };
        std::visit(
            [&](const auto& p) {
                using P = std::decay_t<decltype(p)>;
                if constexpr (std::is_same_v<P, AssignVoucher>) {
                    const auto c = campaigns.find(p.voucher.campaign);
                    if (c != campaigns.end())
                        tx.assign_voucher(ws, c->second, effect.contact, p.voucher.code, effect.key, now);
                } else if constexpr (std::is_same_v<P, TagChange>) {
                    patch.tags = contact_after.tags;  // the engine's view after this step's tag effects
                } else if constexpr (std::is_same_v<P, SetAttribute>) {
                    if (!patch.attributes) patch.attributes = json::object();
                    (*patch.attributes)[p.name] = p.value;
                } else if constexpr (std::is_same_v<P, Notify> || std::is_same_v<P, CreateTask>) {
                    task();
                } else {  // send_email, webhook, send_survey and kinds added later
                    deliver();
                }
            },
            effect.params);
        out.push_back(effect);
    }
    if (patch.tags || patch.attributes) tx.upsert_contact(ws, patch, now);
    return out;
}

// ---- runs as records -----------------------------------------------------------------------

// The record after a step: its state as the engine left it, trace and effects appended.
void record_step(RunRecord& rec, const StepResult& step, json effects, Time now) {
    const RunState& state = step.state;
    rec.state = state;
    rec.status = state.status;
    rec.error = state.error;
    rec.wake_at = state.wake_at;  // set exactly when waiting (engine.h)
    if (!rec.trace.is_array()) rec.trace = json::array();
    for (const TraceStep& s : step.trace) rec.trace.push_back(s);
    if (!rec.effects.is_array()) rec.effects = json::array();
    for (auto& e : effects) rec.effects.push_back(std::move(e));
    rec.updated_at = now;
}

// Ends a run that cannot go on, with the reason in its record and (core's fail_run) its state.
// A stored state that does not load is kept as it is, for diagnosis.
void fail_record(RunRecord& rec, const std::string& why, Time now) {
    if (auto state = run_state_from_json(rec.state)) {
        fail_run(*state, why);
        rec.state = *state;
    }
    rec.status = RunStatus::failed;
    rec.error = why;
    rec.wake_at.reset();
    rec.updated_at = now;
}

}  // namespace

// ---- the executor --------------------------------------------------------------------------

Executor::Executor(Store& store, std::function<Time()> clock, ExecutorOptions options)
    : store_(store), clock_(std::move(clock)), options_(options) {}

Executor::~Executor() {
    stop();
}

void Executor::start() {
    if (thread_.joinable()) return;
    thread_ = std::thread([this] {
        pthread_setname_np(pthread_self(), "closeloop-exec");
        loop();
    });
}

void Executor::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void Executor::wake() {
    {
        std::lock_guard lock(mutex_);
        signalled_ = true;
    }
    cv_.notify_all();
}

ExecutorStats Executor::stats() {
    std::lock_guard lock(mutex_);
    return stats_;
}

const std::map<std::string, VoucherCampaign>& Executor::Catalog::campaigns_of(WorkspaceId ws) const {
    static const std::map<std::string, VoucherCampaign> none;
    const auto it = campaigns.find(ws);
    return it != campaigns.end() ? it->second : none;
}

WorkspaceDelivery Executor::Catalog::delivery_of(WorkspaceId ws) const {
    WorkspaceDelivery d;
    if (const auto t = templates.find(ws); t != templates.end()) d.templates = &t->second;
    if (const auto s = link_secrets.find(ws); s != link_secrets.end()) d.link_secret = s->second;
    return d;
}

std::shared_ptr<const Executor::Catalog> Executor::catalog() {
    std::lock_guard lock(catalog_mutex_);
    const std::uint64_t generation = store_.catalog_generation();
    if (catalog_ && catalog_->generation == generation) return catalog_;
    auto built = std::make_shared<Catalog>();
    built->generation = generation;
    for (const StoredScenario& stored : store_.active_scenarios()) {
        auto loaded = load_scenario(stored.document);
        if (!loaded.errors.empty()) {
            // Validated when activated; a document that no longer loads is reported, not run.
            std::cerr << "closeloop: scenario " << stored.id << " v" << stored.version
                      << " does not load: " << json(loaded.errors.front()).dump() << std::endl;
            continue;
        }
        auto scenario = std::make_shared<const Scenario>(std::move(loaded.scenario));
        const std::string trigger = scenario->trigger.event;
        built->active[{stored.workspace, trigger}].push_back(std::move(scenario));
    }
    for (const Workspace& ws : store_.workspaces()) {
        auto& campaigns = built->campaigns[ws.id];
        for (auto& c : store_.voucher_campaigns(ws.id)) campaigns.emplace(c.campaign.id, std::move(c.campaign));
        auto& templates = built->templates[ws.id];
        for (const auto& t : store_.templates(ws.id))
            if (auto loaded = template_from_json(t.document)) templates.emplace(t.id, std::move(*loaded));
        built->link_secrets[ws.id] = link_secret(store_, ws.id);
    }
    catalog_ = std::move(built);
    return catalog_;
}

std::shared_ptr<const Scenario> Executor::scenario_version(const Catalog& catalog, WorkspaceId ws,
                                                           const std::string& id, int version) {
    if (versions_generation_ != catalog.generation) {
        versions_generation_ = catalog.generation;
        versions_.clear();
        for (const auto& [key, scenarios] : catalog.active)
            for (const auto& s : scenarios) versions_[{key.first, s->id, s->version}] = s;
    }
    const VersionKey key{ws, id, version};
    if (auto it = versions_.find(key); it != versions_.end()) return it->second;
    std::shared_ptr<const Scenario> scenario;
    if (auto stored = store_.find_scenario_version(ws, id, version)) {
        auto loaded = load_scenario(stored->document);
        if (loaded.errors.empty()) scenario = std::make_shared<const Scenario>(std::move(loaded.scenario));
    }
    versions_[key] = scenario;
    return scenario;
}

void Executor::count(const ExecutorStats& done) {
    std::lock_guard lock(mutex_);
    stats_.events += done.events;
    stats_.runs_started += done.runs_started;
    stats_.runs_resumed += done.runs_resumed;
    stats_.runs_failed += done.runs_failed;
    stats_.set_aside += done.set_aside;
}

void Executor::handle_event(WriteTx& tx, const Catalog& cat, WorkspaceId ws, const Event& event, const Contact* contact,
                            Time now, ExecutorStats& done) {
    const auto matching = cat.active.find({ws, event.type});
    if (matching == cat.active.end()) return;
    std::optional<Contact> changed;  // the contact after a run that changed it, for the next scenario
    if (!contact) {
        auto stored = tx.find_contact(ws, event.contact.id);
        if (!stored) return;  // erased since the event arrived
        changed = std::move(stored->contact);
        contact = &*changed;
    }
    for (const auto& active : matching->second) {
        const Scenario& scenario = *active;
        TxHistory history(tx, ws);
        // The re-entry facts (a query) only when the trigger matches and the rule needs them.
        const auto facts = [&] {
            const RunHistory earlier = tx.run_history(ws, scenario.id, contact->id);
            return EntryFacts{earlier.live_run, earlier.last_started_at};
        };
        const EntryDecision entry = decide_entry_lazy(scenario, event, *contact, facts, history, now);
        if (!entry.enter) continue;

        SecureCodes codes;
        const auto& catalog = cat.campaigns_of(ws);
        const StepContext ctx{scenario, history, history, codes, catalog, nullptr, now};
        RunRecord rec;
        rec.workspace = ws;
        rec.id = new_id("run_");
        rec.scenario = scenario.id;
        rec.version = scenario.version;
        rec.contact = contact->id;
        rec.event_id = event.id;
        rec.created_at = now;
        StepResult step = start_run(ctx, rec.id, event, *contact);
        // A step that changed no tag or attribute leaves the contact as it was.
        const Contact& after = step.contact ? *step.contact : *contact;
        const StepFacts facts_now{scenario, step.state, after, history, now};
        json effects = apply_effects(tx, ws, rec.id, step.effects, after, catalog, facts_now, cat.delivery_of(ws),
                                     options_.outbox);
        record_step(rec, step, std::move(effects), now);
        tx.save_run(rec);
        ++done.runs_started;
        if (rec.status == RunStatus::failed) ++done.runs_failed;
        if (step.contact) {
            changed = std::move(*step.contact);
            contact = &*changed;
        }
    }
}

void Executor::resume(WriteTx& tx, const Catalog& cat, const RunRecord& due, Time handled_at, ExecutorStats& done) {
    auto rec = tx.find_run(due.workspace, due.id);
    if (!rec || rec->status != RunStatus::waiting) return;  // ended meanwhile (its scenario was deleted)
    // A run goes on as of its wake time, however late this is (the `now` rule, CONTRACT.md, part 2).
    const Time now = rec->wake_at ? std::min(*rec->wake_at, handled_at) : handled_at;
    // Loaded before the unit (resume_due_runs): found in the cache, no store call here.
    const auto scenario = scenario_version(cat, rec->workspace, rec->scenario, rec->version);
    const auto contact = tx.find_contact(rec->workspace, rec->contact);
    auto state = run_state_from_json(rec->state);
    std::string why;
    if (!scenario)
        why = "version " + std::to_string(rec->version) + " of scenario " + rec->scenario + " is gone";
    else if (!contact)
        why = "the contact " + rec->contact + " no longer exists";
    else if (!state)
        why = "the stored run state does not load: " + state.error().what();
    if (!why.empty()) {
        fail_record(*rec, why, handled_at);
        tx.save_run(*rec);
    } else {
        TxHistory history(tx, rec->workspace);
        SecureCodes codes;
        const auto& catalog = cat.campaigns_of(rec->workspace);
        const StepContext ctx{*scenario, history, history, codes, catalog, nullptr, now};
        const StepResult step = resume_run(ctx, std::move(*state), contact->contact);
        const Contact& after = step.contact ? *step.contact : contact->contact;
        const StepFacts facts_now{*scenario, step.state, after, history, now};
        json effects = apply_effects(tx, rec->workspace, rec->id, step.effects, after, catalog, facts_now,
                                     cat.delivery_of(rec->workspace), options_.outbox);
        record_step(*rec, step, std::move(effects), handled_at);  // the record: when it was written
        tx.save_run(*rec);
    }
    ++done.runs_resumed;
    if (rec->status == RunStatus::failed) ++done.runs_failed;
}

namespace {

// Runs each new event that an active scenario starts on through handle_event, inside the unit
// that stores it; counts what it started.
class IngestHandler final : public EventHandler {
public:
    using Handle = std::function<void(WriteTx&, WorkspaceId, const Event&, const Contact&, ExecutorStats&)>;
    IngestHandler(std::function<bool(WorkspaceId, const Event&)> wants, Handle handle)
        : wants_(std::move(wants)), handle_(std::move(handle)) {}

    bool wants(WorkspaceId ws, const Event& event) const override { return wants_(ws, event); }
    void handle(WriteTx& tx, WorkspaceId ws, std::int64_t, const Event& event, const Contact& contact) override {
        try {
            handle_(tx, ws, event, contact, done);
        } catch (const std::exception& error) {
            // The store undoes the unit and stores the events unprocessed: the executor's pass
            // takes them up one at a time, and sets aside one that fails again.
            std::cerr << "closeloop: event " << event.id << " failed in the scenario executor (" << error.what()
                      << "); its batch is stored for a second try" << std::endl;
            throw;
        }
    }

    ExecutorStats done;  // runs started by the attempt that committed (or by a failed one)

private:
    std::function<bool(WorkspaceId, const Event&)> wants_;
    Handle handle_;
};

}  // namespace

IngestResult Executor::ingest(WorkspaceId ws, std::span<const Event> events, Time received_at) {
    // The catalog as of now: an event posted after an activation was answered sees the scenario
    // (the generation changes before that answer). One concurrent with it may or may not.
    const auto cat = catalog();
    IngestHandler handler(
        [&cat](WorkspaceId w, const Event& e) {
            return cat->active.count({w, e.type}) > 0;
        },
        [&](WriteTx& tx, WorkspaceId w, const Event& e, const Contact& contact, ExecutorStats& done) {
            handle_event(tx, *cat, w, e, &contact, reaction_time(e, received_at), done);
        });
    // Throws when the unit failed: nothing committed, nothing counted.
    const IngestResult result = store_.insert_events(ws, events, received_at, &handler);
    // A handler that threw undid the unit, and the events were stored for the executor's pass:
    // what it counted did not happen.
    if (result.handled == 0) return result;
    ExecutorStats done = handler.done;
    done.events = result.handled;
    count(done);
    return result;
}

bool Executor::process_events() {
    std::vector<StoredEvent> events;
    std::shared_ptr<const Catalog> cat;
    // A scenario activated while the events were read: read again with it, so an event posted
    // after an activation was answered is never handled without that scenario. (Bounded, so a
    // stream of catalog changes cannot hold the executor; the last read is then used.)
    for (int attempt = 0; attempt < 10; ++attempt) {
        cat = catalog();
        events = store_.unprocessed_events(options_.events_per_unit);
        if (store_.catalog_generation() == cat->generation) break;
    }
    if (events.empty()) return false;

    // One unit takes events until it has started runs_per_unit runs (a run writes a dozen rows;
    // events that start none cost little), so ingestion waiting behind it is not held long.
    // Returns how many of `part` it handled.
    const auto handle = [&](std::span<const StoredEvent> part) {
        const Time now = clock_();
        std::vector<std::int64_t> seqs;
        seqs.reserve(part.size());
        ExecutorStats done;
        store_.write([&](WriteTx& tx) {
            seqs.clear();
            done = {};
            for (const StoredEvent& e : part) {
                handle_event(tx, *cat, e.workspace, e.event, nullptr, reaction_time(e.event, now), done);
                seqs.push_back(e.seq);
                if (done.runs_started >= options_.runs_per_unit) break;
            }
            tx.mark_events_processed(seqs, now);
        });
        done.events = seqs.size();
        count(done);
        return seqs.size();
    };
    std::span<const StoredEvent> rest(events);
    while (!rest.empty()) {
        try {
            rest = rest.subspan(handle(rest));
        } catch (const std::exception&) {
            // One event may be the cause: each alone, and one that still fails is set aside.
            for (const StoredEvent& e : rest) {
                try {
                    handle(std::span<const StoredEvent>(&e, 1));
                } catch (const std::exception& error) {
                    std::cerr << "closeloop: event " << e.event.id << " (seq " << e.seq
                              << ") set aside by the scenario executor: " << error.what() << std::endl;
                    const Time now = clock_();
                    const std::int64_t seq = e.seq;
                    store_.write(
                        [&](WriteTx& tx) { tx.mark_events_processed(std::span<const std::int64_t>(&seq, 1), now); });
                    count(ExecutorStats{.events = 1, .set_aside = 1});
                }
            }
            break;
        }
    }
    return true;
}

bool Executor::resume_due_runs() {
    const auto cat = catalog();
    const auto due = store_.due_runs(clock_(), options_.runs_per_unit);
    if (due.empty()) return false;
    for (const auto& r : due) scenario_version(*cat, r.workspace, r.scenario, r.version);
    const auto handle = [&](std::span<const RunRecord> part) {
        const Time now = clock_();
        ExecutorStats done;
        store_.write([&](WriteTx& tx) {
            for (const RunRecord& r : part) resume(tx, *cat, r, now, done);
        });
        count(done);
    };
    try {
        handle(due);
    } catch (const std::exception&) {
        for (const RunRecord& r : due) {
            try {
                handle(std::span<const RunRecord>(&r, 1));
            } catch (const std::exception& error) {
                // Failed with the reason rather than retried for ever.
                std::cerr << "closeloop: run " << r.id << " failed in the scenario executor: " << error.what()
                          << std::endl;
                RunRecord failed = r;
                fail_record(failed, std::string("internal error: ") + error.what(), clock_());
                store_.write([&](WriteTx& tx) {
                    if (auto current = tx.find_run(r.workspace, r.id); current && current->status == RunStatus::waiting)
                        tx.save_run(failed);
                });
                count(ExecutorStats{.runs_failed = 1, .set_aside = 1});
            }
        }
    }
    return true;
}

bool Executor::run_once() {
    const bool events = process_events();
    const bool runs = resume_due_runs();
    return events || runs;
}

void Executor::loop() {
    for (;;) {
        {
            std::lock_guard lock(mutex_);
            if (stopping_) return;
            signalled_ = false;  // whatever was signalled before this pass is seen by it
        }
        bool worked = false;
        try {
            worked = run_once();
        } catch (const std::exception& e) {
            // The store is closing or the disk is failing: wait, then try again.
            std::cerr << "closeloop: scenario executor: " << e.what() << std::endl;
        }
        if (worked) continue;
        // Idle: sleep until new events, the next wake time, or the poll interval.
        auto timeout = options_.idle_poll;
        try {
            if (const auto next = store_.next_wake_at()) {
                const auto until = std::chrono::milliseconds(std::max<std::int64_t>(0, next->ms - clock_().ms));
                timeout = std::min(timeout, until + std::chrono::milliseconds(1));
            }
        } catch (const std::exception&) {
        }
        std::unique_lock lock(mutex_);
        cv_.wait_for(lock, timeout, [&] { return stopping_ || signalled_; });
    }
}

}  // namespace closeloop::server
