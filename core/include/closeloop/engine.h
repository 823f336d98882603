// closeloop — the engine: a pure, deterministic stepper.
//
//   (scenario, run state, event, contact view, history, now)
//       -> (effects with unique keys, next state: done / waiting until T / failed with reason)
//
// It never performs an effect: the server stores the new run state and the effects in one
// transaction (transactional outbox) and performs them afterwards; the browser simulator
// shows them. Every node visited is traced with the values that decided its branch. An
// expression that fails at run time fails that run with a reason; nothing throws.
//
// The run state, as JSON (what the server stores and the API shows; to_json / run_state_from_json):
//
//   { "id": "run_...", "scenario": "nps-recovery", "scenario_version": 3, "contact": "c-1",
//     "event": { the event that started the run, its "time" set },
//     "started_at": "2026-11-20T10:00:00Z",
//     "status": "waiting" | "done" | "failed",
//     "path": ["had_voucher", "segment", ...],         node ids visited, in order
//     "resume_at": "still_unused",                      only while waiting
//     "wake_at": "2026-12-10T10:00:00Z" | null,
//     "error": "give_voucher: params.campaign: ...",    only when failed
//     "voucher": { "code", "campaign", "value", "currency", "assigned_at", "expires_at",
//                  "redeemed" } | null }               the voucher this run assigned
//
// Invariants, asserted where every step ends (and kept by fail_run):
//   - waiting <=> wake_at is set <=> resume_at is a node id (the node after the wait);
//     a run that is not waiting has neither (it never wakes).
//   - failed <=> error is non-empty ("<node>: <field>: <why>" for a failure inside a node).
//   - path only grows: a step appends the nodes it visits and never removes one.
//   - effect keys are unique: "<run id>/<node id>", "#n" added for the n-th visit (n >= 2).
//
// Sections: run state and trace, effects, inputs (vouchers and codes), entry, stepping.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "closeloop/actions.h"
#include "closeloop/contact.h"
#include "closeloop/event.h"
#include "closeloop/expr.h"
#include "closeloop/scenario.h"
#include "closeloop/voucher.h"

namespace closeloop {

// ---- run state and trace -------------------------------------------------------------------

enum class RunStatus { waiting, done, failed };
std::string_view to_string(RunStatus s);
std::optional<RunStatus> run_status_of(std::string_view name);  // nullopt for an unknown name

// A value that decided a step: the expression (or a fixed label such as "percent", "for",
// "reason", "error") and what it gave. The expression is held by a shared handle,
// so recording it copies no text.
struct TraceValue {
    Expression source;       // when it came from an expression
    std::string_view label;  // otherwise: a label with static storage
    Value value;

    std::string_view name() const { return label.empty() ? std::string_view(source.text()) : label; }
};

// The values of one step, in the order evaluated. Most steps record one or two, kept inline
// (a run makes no allocation for them); more spill to the heap.
class TraceValues {
public:
    TraceValues() = default;
    TraceValues(const TraceValues& other);
    TraceValues& operator=(const TraceValues& other);
    TraceValues(TraceValues&&) noexcept = default;
    TraceValues& operator=(TraceValues&&) noexcept = default;

    void push_back(TraceValue v);
    std::size_t size() const { return spilled_.empty() ? count_ : spilled_.size(); }
    bool empty() const { return size() == 0; }
    const TraceValue* begin() const { return spilled_.empty() ? inline_.data() : spilled_.data(); }
    const TraceValue* end() const { return begin() + size(); }
    const TraceValue& operator[](std::size_t i) const { return begin()[i]; }

private:
    std::array<TraceValue, 2> inline_;
    std::uint8_t count_ = 0;           // used in inline_ (while nothing spilled)
    std::vector<TraceValue> spilled_;  // all of them, once there are more than fit inline
};
// As JSON: an object, name -> value.
nlohmann::json trace_values_json(const TraceValues& values);
// The value recorded under `name`, or nullptr.
const Value* find_value(const TraceValues& values, std::string_view name);

// One node visited: what it was, what decided it and where the run went.
struct TraceStep {
    std::string node;
    Time at;
    std::string outcome;  // "then", "else", "case 1", "default", "branch 2", "waiting", "continued", "effect", "failed"
    TraceValues values;   // what decided, in the order evaluated
    std::optional<std::string> next;
};
void to_json(nlohmann::json& j, const TraceStep& s);

struct RunState {
    std::string id;  // unique per run; effect keys and splits derive from it
    std::string scenario_id;
    int scenario_version = 1;
    std::string contact_id;
    // The event that started the run (its time is set); shared, so that one event starting
    // runs of several scenarios is not copied for each.
    std::shared_ptr<const Event> event;
    Time started_at;
    RunStatus status = RunStatus::done;
    std::string resume_at;  // waiting: the node to run when it wakes ("" = the run ends then)
    std::optional<Time> wake_at;
    std::string error;                   // failed: why
    std::optional<VoucherView> voucher;  // the voucher assigned in this run
    std::vector<std::string> path;       // node ids visited, in order (repeat visits counted from it)
};
void to_json(nlohmann::json& j, const RunState& r);
Result<RunState> run_state_from_json(const nlohmann::json& j);

// Ends a run that cannot go on: failed with `why` (non-empty), nothing to wake for. The one
// rule for failing a run, used by the engine and by the server for a run it cannot continue.
void fail_run(RunState& state, std::string why);

// ---- effects -------------------------------------------------------------------------------

// The typed effects (SendEmail, AssignVoucher, ..., the Effect itself) and their params JSON
// are in actions.h, with the rest of each action kind.

// ---- inputs --------------------------------------------------------------------------------

// Vouchers as the caller knows them: for `voucher.*` in a run that assigned none (the
// contact's latest voucher of the scenario's campaigns) and to refresh `redeemed` of the
// run's own voucher when it wakes.
class VoucherBook {
public:
    virtual ~VoucherBook() = default;
    virtual std::optional<VoucherView> latest(const std::string& contact_id, const std::vector<std::string>& campaigns,
                                              Time now) const = 0;
    virtual bool redeemed(const std::string& contact_id, const std::string& code, Time now) const = 0;
};

// Where voucher codes come from: core has no randomness, so the caller supplies them (the
// server from secure random bytes, the simulator deterministically from the effect key).
class CodeSource {
public:
    virtual ~CodeSource() = default;
    virtual std::string voucher_code(const VoucherCampaign& campaign, const std::string& effect_key) = 0;
};

struct StepContext {
    const Scenario& scenario;
    const History& history;
    const VoucherBook& vouchers;
    CodeSource& codes;
    const std::map<std::string, VoucherCampaign>& campaigns;
    const std::map<std::string, std::string>* links = nullptr;
    Time now;
};

// ---- entry ---------------------------------------------------------------------------------

// What the caller knows about earlier runs of this scenario for this contact.
struct EntryFacts {
    bool live_run = false;                // a run that is still waiting
    std::optional<Time> last_started_at;  // the latest run's start, if any
};

struct EntryDecision {
    bool enter = false;
    std::string reason;  // why not: "event type", "trigger.when is false", "cooldown until ...", ...
    TraceValues values;  // trigger.when's value
};

// Does `event` start a run? Checks the trigger's type and condition, then re-entry.
EntryDecision decide_entry(const Scenario& s, const Event& event, const Contact& contact, const EntryFacts& facts,
                           const History& history, Time now);
// The same, asking for the facts only when the trigger matches and the re-entry rule needs them
// (for the server they are a query per event).
EntryDecision decide_entry_lazy(const Scenario& s, const Event& event, const Contact& contact,
                                const std::function<EntryFacts()>& facts, const History& history, Time now);

// ---- stepping ------------------------------------------------------------------------------

struct StepResult {
    RunState state;
    std::vector<Effect> effects;
    std::vector<TraceStep> trace;  // the steps of this call
    // The contact after this step's tag and attribute effects; unset when the step changed
    // nothing (the caller's contact is still current).
    std::optional<Contact> contact;
};

// Starts a run at the scenario's start node and goes until it ends, waits or fails.
StepResult start_run(const StepContext& ctx, const std::string& run_id, std::shared_ptr<const Event> event,
                     const Contact& contact);
// The same with a copy of `event`.
StepResult start_run(const StepContext& ctx, const std::string& run_id, const Event& event, const Contact& contact);

// Continues a waiting run whose wake time has come (ctx.now >= wake_at).
StepResult resume_run(const StepContext& ctx, RunState state, const Contact& contact);

// The branch a split takes: a stable function of the node id and `key` (the engine passes
// "<scenario id>/<contact id>", so the simulator and the server agree; CONTRACT.md, part 2).
std::size_t split_branch(const Node& split, const std::string& key);

}  // namespace closeloop
