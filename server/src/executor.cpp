// Sections: history inside the transaction, effects, runs as records, the executor (catalog,
// events, due runs, the loop).
#include "executor.h"

#include <pthread.h>

#include <algorithm>
#include <iostream>

#include "closeloop/engine.h"
#include "keys.h"

namespace closeloop::server {

using nlohmann::json;

namespace {

// ---- history inside the transaction --------------------------------------------------------

// What expressions and `voucher.*` read, answered by SQL on the writer's transaction, so a
// run sees everything committed before it and what its own unit wrote so far.
class TxHistory final : public History, public VoucherBook {
public:
    TxHistory(WriteTx& tx, WorkspaceId ws) : tx_(tx), ws_(ws) {}

    bool voucher_assigned_between(const std::string& contact, const std::string& campaign, Time since,
                                  Time until) const override {
        return tx_.voucher_assigned_between(ws_, contact, campaign, since, until);
    }
    std::int64_t count_events_between(const std::string& contact, const std::string& type, Time since,
                                      Time until) const override {
        return tx_.count_events_between(ws_, contact, type, since, until);
    }
    std::optional<int> previous_nps(const std::string& contact, Time before,
                                    const std::string& current_event_id) const override {
        return tx_.previous_nps(ws_, contact, before, current_event_id);
    }
    std::optional<VoucherView> latest(const std::string& contact, const std::vector<std::string>& campaigns,
                                      Time now) const override {
        for (const Voucher& v : tx_.contact_vouchers(ws_, contact, now))
            if (std::find(campaigns.begin(), campaigns.end(), v.campaign) != campaigns.end()) return view(v, now);
        return std::nullopt;
    }
    bool redeemed(const std::string&, const std::string& code, Time now) const override {
        const auto v = tx_.find_voucher(ws_, code);
        return v && v->redeemed_at && *v->redeemed_at <= now;
    }

private:
    static VoucherView view(const Voucher& v, Time now) {
        VoucherView out;
        out.code = v.code;
        out.campaign = v.campaign;
        out.currency = v.currency;
        out.value = v.percent > 0 ? v.percent : v.value;
        out.assigned_at = v.assigned_at;
        // Campaigns always have a validity; a voucher without one never expires.
        out.expires_at = v.expires_at.value_or(Time{253402300799000});  // 9999-12-31T23:59:59Z
        out.redeemed = v.redeemed_at && *v.redeemed_at <= now;
        return out;
    }

    WriteTx& tx_;
    WorkspaceId ws_;
};

// Voucher codes from OpenSSL's CSPRNG: unique and unguessable (keys.h).
class SecureCodes final : public CodeSource {
public:
    std::string voucher_code(const VoucherCampaign&, const std::string&) override { return new_voucher_code(); }
};

// ---- effects -------------------------------------------------------------------------------

std::string text_of(const json& params, const char* name) {
    const auto it = params.find(name);
    return it != params.end() && it->is_string() ? it->get<std::string>() : "";
}

// A task's title: the first line of its message, at most 200 characters (UTF-8 kept whole).
std::string title_of(const std::string& message) {
    std::string line = message.substr(0, message.find('\n'));
    if (line.size() <= 200) return line.empty() ? "Scenario notification" : line;
    std::size_t cut = 197;
    while (cut > 0 && (static_cast<unsigned char>(line[cut]) & 0xC0) == 0x80) --cut;
    return line.substr(0, cut) + "...";
}

// Performs the internal effects of one step inside the unit and puts the external ones in the
// outbox. Every write is keyed by the effect key, so the same effect can never happen twice.
// Returns the effects as the run record keeps them.
json apply_effects(WriteTx& tx, WorkspaceId ws, const std::string& run_id, const std::vector<Effect>& effects,
                   const Contact& contact_after, const std::map<std::string, VoucherCampaign>& campaigns, Time now) {
    json out = json::array();
    ContactPatch patch;
    patch.id = contact_after.id;
    for (const Effect& effect : effects) {
        json e = effect;
        const std::string kind = e.value("kind", "");
        const std::string key = e.value("key", "");
        const std::string contact = e.value("contact", contact_after.id);
        const json params = e.contains("params") && e["params"].is_object() ? e["params"] : json::object();
        if (kind == "assign_voucher") {
            const auto c = campaigns.find(text_of(params, "campaign"));
            if (c != campaigns.end()) tx.assign_voucher(ws, c->second, contact, text_of(params, "code"), key, now);
        } else if (kind == "add_tag" || kind == "remove_tag") {
            patch.tags = contact_after.tags;  // the engine's view after this step's tag effects
        } else if (kind == "set_attribute") {
            if (!patch.attributes) patch.attributes = json::object();
            (*patch.attributes)[text_of(params, "name")] = params.contains("value") ? params["value"] : json();
        } else if (kind == "notify" || kind == "create_task") {
            Task t;
            t.id = new_id("task_");
            t.contact = contact;
            t.run_id = run_id;
            t.key = key;
            t.created_at = now;
            if (kind == "notify") {
                t.role = text_of(params, "role");
                t.message = text_of(params, "message");
                t.title = title_of(t.message);
            } else {
                // assignee: a person's address (the owner resolved by the engine) or a role's inbox.
                const std::string who = text_of(params, "assignee");
                (who.find('@') != std::string::npos ? t.assignee : t.role) = who;
                t.title = title_of(text_of(params, "title"));
                t.message = text_of(params, "description");
                if (auto due = parse_time(text_of(params, "due"))) t.due_at = *due;
            }
            tx.create_task(ws, t);
        } else {
            // send_email, webhook, send_survey (and kinds added later): delivery workers perform them.
            OutboxEntry o;
            o.key = key;
            o.kind = kind;
            o.contact = contact;
            o.run_id = run_id;
            o.params = params;
            o.created_at = now;
            tx.enqueue_effect(ws, o);
        }
        out.push_back(std::move(e));
    }
    if (patch.tags || patch.attributes) tx.upsert_contact(ws, patch, now);
    return out;
}

// ---- runs as records -----------------------------------------------------------------------

// The record after a step: state from the engine's JSON, trace and effects appended.
void record_step(RunRecord& rec, const StepResult& step, json effects, Time now) {
    rec.state = step.state;
    rec.status = run_status_of(rec.state.value("status", "")).value_or(RunStatus::failed);
    rec.error = rec.state.value("error", "");
    rec.wake_at.reset();
    if (rec.status == RunStatus::waiting) {
        const auto wake = parse_time(rec.state.value("wake_at", ""));
        if (wake) {
            rec.wake_at = *wake;
        } else {
            rec.status = RunStatus::failed;  // a waiting state without a wake time could never continue
            rec.error = "the engine gave no wake time for a waiting run";
        }
    }
    if (!rec.trace.is_array()) rec.trace = json::array();
    for (const TraceStep& s : step.trace) rec.trace.push_back(s);
    if (!rec.effects.is_array()) rec.effects = json::array();
    for (auto& e : effects) rec.effects.push_back(std::move(e));
    rec.updated_at = now;
}

// Ends a run that cannot go on, with the reason in its record and its state.
void fail_record(RunRecord& rec, const std::string& why, Time now) {
    rec.status = RunStatus::failed;
    rec.error = why;
    rec.wake_at.reset();
    if (!rec.state.is_object()) rec.state = json::object();
    rec.state["status"] = "failed";
    rec.state["error"] = why;
    rec.state["wake_at"] = nullptr;
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
        json effects = apply_effects(tx, ws, rec.id, step.effects, after, catalog, now);
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

void Executor::resume(WriteTx& tx, const Catalog& cat, const RunRecord& due, Time now, ExecutorStats& done) {
    auto rec = tx.find_run(due.workspace, due.id);
    if (!rec || rec->status != RunStatus::waiting) return;  // ended meanwhile (its scenario was deleted)
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
        fail_record(*rec, why, now);
        tx.save_run(*rec);
    } else {
        TxHistory history(tx, rec->workspace);
        SecureCodes codes;
        const auto& catalog = cat.campaigns_of(rec->workspace);
        const StepContext ctx{*scenario, history, history, codes, catalog, nullptr, now};
        const StepResult step = resume_run(ctx, std::move(*state), contact->contact);
        const Contact& after = step.contact ? *step.contact : contact->contact;
        json effects = apply_effects(tx, rec->workspace, rec->id, step.effects, after, catalog, now);
        record_step(*rec, step, std::move(effects), now);
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
            handle_event(tx, *cat, w, e, &contact, received_at, done);
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
                handle_event(tx, *cat, e.workspace, e.event, nullptr, now, done);
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
