#include "closeloop/engine.h"

#include <algorithm>
#include <cassert>

#include "closeloop/detail/enum_table.h"
#include "closeloop/detail/json_read.h"

namespace closeloop {

using nlohmann::json;

namespace {

// A run never visits more nodes than this in one step: validation forbids loops without a
// wait, and this guard keeps a scenario that skipped validation from spinning.
constexpr int max_nodes_per_step = 1000;

const NodeRef end_of_run;

std::uint64_t fnv1a(std::string_view a, std::string_view b) {
    std::uint64_t h = 1469598103934665603ULL;
    const auto mix = [&](std::string_view s) {
        for (unsigned char c : s) {
            h ^= c;
            h *= 1099511628211ULL;
        }
    };
    mix(a);
    mix("/");
    mix(b);
    return h;
}

class Stepper final : public ActionContext {
public:
    Stepper(const StepContext& ctx, RunState state, const Contact& contact)
        : ctx_(ctx), state_(std::move(state)), base_contact_(contact) {
        run_view_ = {state_.id, state_.started_at};
        path_at_start_ = state_.path.size();
        trace_.reserve(3);
        effects_.reserve(2);
        state_.path.reserve(state_.path.size() + 8);
    }

    StepResult run(const NodeRef& start) {
        int budget = max_nodes_per_step;
        const NodeRef* current = &start;
        while (*current) {
            const std::string& id = **current;
            if (--budget < 0) return fail(id, "", "visited more than 1000 nodes in one step (a loop with no wait?)");
            const Node* node = ctx_.scenario.find(id);
            if (!node) return fail(id, "", "the scenario has no node " + id);
            const int visit = 1 + static_cast<int>(std::count(state_.path.begin(), state_.path.end(), node->id));
            state_.path.push_back(node->id);
            TraceStep& step = trace_.emplace_back();
            step.node = node->id;
            step.at = ctx_.now;
            const NodeRef* next = visit_node(*node, visit, step);
            if (!next) return finish_failed();
            step.next = *next;
            if (state_.status == RunStatus::waiting) return result();
            current = next;
        }
        state_.status = RunStatus::done;
        state_.wake_at.reset();
        state_.resume_at.clear();
        return result();
    }

private:
    // `voucher.*`: the run's own voucher, else the contact's latest of the scenario's
    // campaigns, looked up only when something reads it (the server asks its database).
    const VoucherView* voucher(bool needed) {
        if (state_.voucher) return &*state_.voucher;
        if (needed && !fallback_looked_up_) {
            fallback_looked_up_ = true;
            fallback_voucher_ = ctx_.vouchers.latest(base_contact_.id, ctx_.scenario.campaigns(), ctx_.now);
        }
        return fallback_voucher_ ? &*fallback_voucher_ : nullptr;
    }

    EvalContext eval_context(bool reads_voucher) {
        EvalContext e;
        e.event = state_.event.get();
        e.contact = &contact();
        e.voucher = voucher(reads_voucher);
        e.run = &run_view_;
        e.links = ctx_.links;
        e.history = &ctx_.history;
        e.now = ctx_.now;
        return e;
    }

    // Evaluates for a decision and records the value in the trace; returns the recorded
    // value, or nullptr on error (failure_ set).
    template <class Field>
    const Value* decide(const Expression& e, Field&& field, TraceStep& step) {
        auto v = e.evaluate(eval_context(e.reads_voucher()));
        if (!v) {
            failure_ = std::string(field()) + ": " + v.error().message;
            return nullptr;
        }
        step.values.push_back({e, {}, std::move(*v)});
        return &step.values[step.values.size() - 1].value;
    }
    const Value* decide(const Expression& e, const char* field, TraceStep& step) {
        return decide(
            e, [field] { return field; }, step);
    }

    // ---- ActionContext: what an action's builder reads and changes ----

    const Contact& contact() const override { return changed_contact_ ? *changed_contact_ : base_contact_; }
    Contact& change_contact() override {
        if (!changed_contact_) changed_contact_ = base_contact_;
        return *changed_contact_;
    }
    Time now() const override { return ctx_.now; }
    const VoucherCampaign* campaign(const std::string& id) const override {
        const auto it = ctx_.campaigns.find(id);
        return it != ctx_.campaigns.end() ? &it->second : nullptr;
    }
    std::string voucher_code(const VoucherCampaign& campaign, const std::string& effect_key) override {
        return ctx_.codes.voucher_code(campaign, effect_key);
    }
    void assigned(const VoucherView& voucher) override { state_.voucher = voucher; }

    std::optional<std::string> render(const Node& n, std::string_view param) override {
        const auto it = n.text_params.find(param);
        if (it == n.text_params.end()) return std::string();
        const std::string& locale = contact().locale;
        auto text =
            it->second.render(eval_context(it->second.reads_voucher()), Escape::none, locale.empty() ? "en" : locale);
        if (!text) {
            fail("params." + std::string(param) + ": " + text.error().message);
            return std::nullopt;
        }
        return std::move(*text);
    }

    std::optional<Value> evaluate(const Node& n, std::string_view param) override {
        const auto it = n.expr_params.find(param);
        if (it == n.expr_params.end()) {
            fail("params." + std::string(param) + ": missing");
            return std::nullopt;
        }
        auto v = it->second.evaluate(eval_context(it->second.reads_voucher()));
        if (!v) {
            fail("params." + std::string(param) + ": " + v.error().message);
            return std::nullopt;
        }
        return std::move(*v);
    }

    ActionOutcome fail(std::string why) override {
        failure_ = std::move(why);
        return ActionOutcome::failed;
    }

    ActionOutcome skip(const char* reason) override {
        skip_reason_ = reason;
        return ActionOutcome::skipped;
    }

    // Runs one node. Returns where to go next (a field of the node), or nullptr when the run fails.
    const NodeRef* visit_node(const Node& n, int visit, TraceStep& step) {
        switch (n.kind) {
            case NodeKind::condition: {
                const auto v = decide(n.if_expr, "if", step);
                if (!v) return nullptr;
                step.outcome = v->truthy() ? "then" : "else";
                return v->truthy() ? &n.then_next : &n.else_next;
            }
            case NodeKind::switch_: {
                for (std::size_t i = 0; i < n.cases.size(); ++i) {
                    const auto v = decide(
                        n.cases[i].when, [i] { return "cases[" + std::to_string(i) + "].when"; }, step);
                    if (!v) return nullptr;
                    if (v->truthy()) {
                        step.outcome = "case " + std::to_string(i + 1);
                        return &n.cases[i].next;
                    }
                }
                step.outcome = "default";
                return &n.default_next;
            }
            case NodeKind::split: {
                // By scenario and contact, not by run: the server's run ids are random, so only this
                // key lets the simulator show the branch the server takes (and a contact stays in
                // its group when it enters again: a held-out group stays held out).
                const auto b = split_branch(n, state_.scenario_id + "/" + state_.contact_id);
                step.outcome = "branch " + std::to_string(b + 1);
                step.values.push_back({{}, "percent", Value::number(n.branches[b].percent)});
                return &n.branches[b].next;
            }
            case NodeKind::wait:
                return wait(n, step);
            case NodeKind::action: {
                if (!act(n, visit, step)) return nullptr;
                return &n.next;
            }
        }
        return &end_of_run;
    }

    const NodeRef* wait(const Node& n, TraceStep& step) {
        Time wake = ctx_.now;
        if (n.wait_for) {
            wake = add(ctx_.now, *n.wait_for);
            step.values.push_back({{}, "for", Value::duration(*n.wait_for)});
        } else if (n.wait_until) {
            const auto v = decide(*n.wait_until, "until", step);
            if (!v) return nullptr;
            if (v->type() != ValueType::time) {
                failure_ = "until: " + n.wait_until->text() + " gives " + std::string(value_type_name(v->type())) +
                           ", not a time";
                return nullptr;
            }
            wake = std::get<Time>(v->v);
        }
        if (wake <= ctx_.now || !n.next) {
            // A time in the past continues at once; a wait with nothing after it ends the run.
            step.outcome = "continued";
            return &n.next;
        }
        step.outcome = "waiting";
        state_.status = RunStatus::waiting;
        state_.wake_at = wake;
        state_.resume_at = *n.next;
        return &n.next;
    }

    // Builds the node's effect in place; a skipped or failed action takes it back. A skipped
    // one (nothing to send to) lets the run go on, and the trace says why nothing was sent.
    bool act(const Node& n, int visit, TraceStep& step) {
        Effect& e = effects_.emplace_back();
        e.key.reserve(state_.id.size() + n.id.size() + 4);
        e.key.append(state_.id).append("/").append(n.id);
        if (visit > 1) e.key.append("#").append(std::to_string(visit));
        e.kind = n.action;
        e.contact = base_contact_.id;
        e.node = n.id;
        const ActionOutcome outcome = build_effect(n, *this, e);
        if (outcome == ActionOutcome::effect) {
            step.outcome = "effect";
            return true;
        }
        effects_.pop_back();
        if (outcome == ActionOutcome::failed) return false;
        step.outcome = "skipped";
        step.values.push_back({{}, "reason", Value::text(skip_reason_)});
        return true;
    }

    StepResult fail(const std::string& node, const std::string& field, const std::string& why) {
        TraceStep& step = trace_.emplace_back();
        step.node = node;
        step.at = ctx_.now;
        failure_ = field.empty() ? why : field + ": " + why;
        return finish_failed();
    }

    // The last trace step failed with failure_.
    StepResult finish_failed() {
        TraceStep& step = trace_.back();
        step.outcome = "failed";
        step.values.push_back({{}, "error", Value::text(failure_)});
        fail_run(state_, step.node + ": " + failure_);
        return result();
    }

    StepResult result() {
        assert_invariants();
        return {std::move(state_), std::move(effects_), std::move(trace_), std::move(changed_contact_)};
    }

    // engine.h's invariants of the run state, where every step ends (cheap; gone under NDEBUG).
    void assert_invariants() const {
        assert((state_.status == RunStatus::waiting) == state_.wake_at.has_value());
        assert((state_.status == RunStatus::waiting) == !state_.resume_at.empty());
        assert((state_.status == RunStatus::failed) == !state_.error.empty());
        assert(state_.path.size() >= path_at_start_);
        for (std::size_t i = 0; i < effects_.size(); ++i)
            for (std::size_t j = 0; j < i; ++j) assert(effects_[i].key != effects_[j].key);
    }

    const StepContext& ctx_;
    RunState state_;
    std::size_t path_at_start_ = 0;
    const Contact& base_contact_;
    std::optional<Contact> changed_contact_;  // made on the first tag or attribute change
    RunView run_view_;
    bool fallback_looked_up_ = false;
    std::optional<VoucherView> fallback_voucher_;
    std::vector<Effect> effects_;
    std::vector<TraceStep> trace_;
    std::string failure_;
    const char* skip_reason_ = "";
};

}  // namespace

namespace {

constexpr detail::EnumTable<RunStatus, 3> run_statuses = {{
    {"waiting", RunStatus::waiting},
    {"done", RunStatus::done},
    {"failed", RunStatus::failed},
}};

}  // namespace

std::string_view to_string(RunStatus s) {
    return detail::enum_name(run_statuses, s);
}

std::optional<RunStatus> run_status_of(std::string_view name) {
    return detail::enum_value(run_statuses, name);
}

void fail_run(RunState& state, std::string why) {
    assert(!why.empty());
    state.status = RunStatus::failed;
    state.error = why.empty() ? "failed" : std::move(why);
    state.wake_at.reset();
    state.resume_at.clear();
}

std::size_t split_branch(const Node& split, const std::string& run_id) {
    if (split.branches.empty()) return 0;
    const auto roll = static_cast<int>(fnv1a(run_id, split.id) % 100);
    int cumulative = 0;
    for (std::size_t i = 0; i < split.branches.size(); ++i) {
        cumulative += split.branches[i].percent;
        if (roll < cumulative) return i;
    }
    return split.branches.size() - 1;
}

EntryDecision decide_entry(const Scenario& s, const Event& event, const Contact& contact, const EntryFacts& facts,
                           const History& history, Time now) {
    return decide_entry_lazy(
        s, event, contact, [&facts] { return facts; }, history, now);
}

EntryDecision decide_entry_lazy(const Scenario& s, const Event& event, const Contact& contact,
                                const std::function<EntryFacts()>& ask_facts, const History& history, Time now) {
    EntryDecision d;
    if (event.type != s.trigger.event) {
        d.reason = "the scenario starts on " + s.trigger.event + ", not " + event.type;
        return d;
    }
    if (s.trigger.when) {
        EvalContext e;
        e.event = &event;
        e.contact = &contact;
        e.history = &history;
        e.now = now;
        auto v = s.trigger.when->evaluate(e);
        if (!v) {
            d.reason = "trigger.when failed: " + v.error().message;
            return d;
        }
        d.values.push_back({*s.trigger.when, {}, *v});
        if (!v->truthy()) {
            d.reason = "trigger.when is false: " + s.trigger.when->text();
            return d;
        }
    }
    if (s.reentry.policy == ReentryPolicy::always) {
        d.enter = true;
        return d;
    }
    const EntryFacts facts = ask_facts();
    switch (s.reentry.policy) {
        case ReentryPolicy::always:
            break;
        case ReentryPolicy::once:
            if (facts.last_started_at) {
                d.reason = "re-entry once: the contact entered on " + format_time(*facts.last_started_at);
                return d;
            }
            break;
        case ReentryPolicy::cooldown:
            if (facts.last_started_at) {
                const Time again = add(*facts.last_started_at, days(s.reentry.days));
                if (now < again) {
                    d.reason = "re-entry cooldown of " + std::to_string(s.reentry.days) + " days: entered on " +
                               format_time(*facts.last_started_at) + ", may enter again from " + format_time(again);
                    return d;
                }
            }
            break;
    }
    if (s.reentry.policy != ReentryPolicy::always && facts.live_run) {
        d.reason = "the contact already has a live run of this scenario";
        return d;
    }
    d.enter = true;
    return d;
}

StepResult start_run(const StepContext& ctx, const std::string& run_id, std::shared_ptr<const Event> event,
                     const Contact& contact) {
    RunState state;
    state.id = run_id;
    state.scenario_id = ctx.scenario.id;
    state.scenario_version = ctx.scenario.version;
    state.contact_id = contact.id;
    if (event && !event->time) {
        auto stamped = std::make_shared<Event>(*event);
        stamped->time = ctx.now;
        event = std::move(stamped);
    }
    state.event = event ? std::move(event) : std::make_shared<const Event>();
    state.started_at = ctx.now;
    Stepper stepper(ctx, std::move(state), contact);
    return stepper.run(ctx.scenario.start);
}

StepResult start_run(const StepContext& ctx, const std::string& run_id, const Event& event, const Contact& contact) {
    return start_run(ctx, run_id, std::make_shared<const Event>(event), contact);
}

StepResult resume_run(const StepContext& ctx, RunState state, const Contact& contact) {
    if (state.status != RunStatus::waiting) {
        StepResult r;
        r.state = std::move(state);
        return r;
    }
    if (state.voucher) state.voucher->redeemed = ctx.vouchers.redeemed(contact.id, state.voucher->code, ctx.now);
    const std::string at = state.resume_at;
    state.wake_at.reset();
    state.resume_at.clear();
    state.status = RunStatus::done;
    Stepper stepper(ctx, std::move(state), contact);
    return stepper.run(at.empty() ? NodeRef{} : NodeRef{at});
}

// ---- JSON ----------------------------------------------------------------------------------

TraceValues::TraceValues(const TraceValues& other) {
    for (const auto& v : other) push_back(v);
}

TraceValues& TraceValues::operator=(const TraceValues& other) {
    if (this != &other) {
        TraceValues copy(other);
        *this = std::move(copy);
    }
    return *this;
}

void TraceValues::push_back(TraceValue v) {
    if (spilled_.empty() && count_ < inline_.size()) {
        inline_[count_++] = std::move(v);
        return;
    }
    if (spilled_.empty()) {
        spilled_.reserve(inline_.size() * 2);
        for (std::size_t i = 0; i < count_; ++i) spilled_.push_back(std::move(inline_[i]));
        count_ = 0;
    }
    spilled_.push_back(std::move(v));
}

json trace_values_json(const TraceValues& values) {
    json j = json::object();
    for (const auto& v : values) j[std::string(v.name())] = v.value;
    return j;
}

const Value* find_value(const TraceValues& values, std::string_view name) {
    for (const auto& v : values)
        if (v.name() == name) return &v.value;
    return nullptr;
}

void to_json(json& j, const TraceStep& s) {
    j = {{"node", s.node}, {"at", format_time(s.at)}, {"outcome", s.outcome}, {"values", trace_values_json(s.values)}};
    j["next"] = s.next ? json(*s.next) : json(nullptr);
}

void to_json(json& j, const RunState& r) {
    j = {{"id", r.id},
         {"scenario", r.scenario_id},
         {"scenario_version", r.scenario_version},
         {"contact", r.contact_id},
         {"event", r.event ? json(*r.event) : json(nullptr)},
         {"started_at", format_time(r.started_at)},
         {"status", to_string(r.status)},
         {"path", r.path}};
    if (!r.resume_at.empty()) j["resume_at"] = r.resume_at;
    j["wake_at"] = r.wake_at ? json(format_time(*r.wake_at)) : json(nullptr);
    if (!r.error.empty()) j["error"] = r.error;
    j["voucher"] = r.voucher ? voucher_view_json(*r.voucher) : json(nullptr);
}

Result<RunState> run_state_from_json(const json& j) {
    detail::Fields f(j, "");
    RunState r;
    r.id = f.string("id", true, 128, 1).value_or("");
    r.scenario_id = f.string("scenario", true, 64, 1).value_or("");
    r.scenario_version = static_cast<int>(f.integer("scenario_version", true, 1, 1'000'000).value_or(1));
    r.contact_id = f.string("contact", true, 128, 1).value_or("");
    r.started_at = f.time("started_at", true).value_or(Time{});
    const auto status = f.string("status", true, 16).value_or("");
    if (const auto st = run_status_of(status))
        r.status = *st;
    else if (f.ok())
        f.fail("status", "must be " + detail::enum_names(run_statuses));
    r.resume_at = f.string("resume_at", false, 64).value_or("");
    r.wake_at = f.time("wake_at", false);
    r.error = f.string("error", false, 4096).value_or("");
    r.path = f.strings("path", false, 100000, 64).value_or(std::vector<std::string>{});
    if (const json* ev = f.find("event")) {
        auto e = event_from_json(*ev, "event");
        if (e)
            r.event = std::make_shared<const Event>(std::move(*e));
        else
            f.fail(e.error());
    }
    if (const json* v = f.object("voucher", false)) {
        detail::Fields vf(*v, "voucher");
        VoucherView vv;
        vv.code = vf.string("code", true, 64).value_or("");
        vv.campaign = vf.string("campaign", true, 64).value_or("");
        vv.value = vf.number("value", false, 0, 1e15).value_or(0);
        vv.currency = vf.string("currency", false, 3).value_or("");
        vv.assigned_at = vf.time("assigned_at", true).value_or(Time{});
        vv.expires_at = vf.time("expires_at", true).value_or(Time{});
        vv.redeemed = vf.boolean("redeemed", false).value_or(false);
        if (!vf.ok())
            f.fail(vf.error());
        else
            r.voucher = vv;
    }
    if (!f.ok()) return f.error();
    return r;
}

}  // namespace closeloop
