#include "closeloop/engine.h"

#include <algorithm>

#include "closeloop/detail/json_read.h"

namespace closeloop {

using nlohmann::json;

namespace {

// A run never visits more nodes than this in one step: validation forbids loops without a
// wait, and this guard keeps a scenario that skipped validation from spinning.
constexpr int max_nodes_per_step = 1000;

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

json voucher_json(const VoucherView& v) {
    return {{"code", v.code},
            {"campaign", v.campaign},
            {"value", v.value},
            {"currency", v.currency},
            {"assigned_at", format_time(v.assigned_at)},
            {"expires_at", format_time(v.expires_at)},
            {"redeemed", v.redeemed}};
}

std::string param(const Node& n, const char* key) {
    const auto it = n.params.find(key);
    return it != n.params.end() && it->is_string() ? it->get<std::string>() : "";
}

// Resolves "contact" / "owner" / an address to an e-mail address ("" when unknown).
std::string address(const std::string& who, const Contact& c) {
    if (who.empty() || who == "contact") return c.email;
    if (who == "owner") return c.owner;
    return who;
}

class Stepper {
public:
    Stepper(const StepContext& ctx, RunState state, Contact contact)
        : ctx_(ctx), state_(std::move(state)), contact_(std::move(contact)) {
        run_view_ = {state_.id, state_.started_at};
        if (!state_.voucher) fallback_voucher_ = ctx_.vouchers.latest(contact_.id, ctx_.scenario.campaigns(), ctx_.now);
    }

    StepResult run(NodeRef current) {
        int budget = max_nodes_per_step;
        while (current) {
            if (--budget < 0) return fail(*current, "", "visited more than 1000 nodes in one step (a loop with no wait?)");
            const Node* node = ctx_.scenario.find(*current);
            if (!node) return fail(*current, "", "the scenario has no node " + *current);
            state_.path.push_back(node->id);
            const int visit = ++state_.visits[node->id];
            TraceStep step;
            step.node = node->id;
            step.at = ctx_.now;
            std::optional<NodeRef> next = visit_node(*node, visit, step);
            if (!next) return finish_failed(std::move(step));
            step.next = *next;
            if (state_.status == RunStatus::waiting) {
                trace_.push_back(std::move(step));
                return result();
            }
            trace_.push_back(std::move(step));
            current = *next;
        }
        state_.status = RunStatus::done;
        state_.wake_at.reset();
        state_.resume_at.clear();
        return result();
    }

private:
    EvalContext eval_context() const {
        EvalContext e;
        e.event = &state_.event;
        e.contact = &contact_;
        e.voucher = state_.voucher ? &*state_.voucher : (fallback_voucher_ ? &*fallback_voucher_ : nullptr);
        e.run = &run_view_;
        e.links = ctx_.links;
        e.history = &ctx_.history;
        e.now = ctx_.now;
        return e;
    }

    // Evaluates for a decision; records the value in the trace. nullopt on error (failed_ set).
    std::optional<Value> decide(const Expression& e, const std::string& field, TraceStep& step) {
        auto v = e.evaluate(eval_context());
        if (!v) {
            failure_ = field + ": " + v.error().message;
            return std::nullopt;
        }
        step.values[e.text()] = *v;
        return *v;
    }

    std::optional<std::string> render(const Node& n, const std::string& key) {
        const auto it = n.text_params.find(key);
        if (it == n.text_params.end()) return std::string();
        auto text = it->second.render(eval_context(), Escape::none, contact_.locale.empty() ? "en" : contact_.locale);
        if (!text) {
            failure_ = "params." + key + ": " + text.error().message;
            return std::nullopt;
        }
        return *text;
    }

    // Runs one node. Returns where to go next, or nullopt when the run fails.
    std::optional<NodeRef> visit_node(const Node& n, int visit, TraceStep& step) {
        switch (n.kind) {
            case NodeKind::condition: {
                const auto v = decide(n.if_expr, "if", step);
                if (!v) return std::nullopt;
                step.outcome = v->truthy() ? "then" : "else";
                return v->truthy() ? n.then_next : n.else_next;
            }
            case NodeKind::switch_: {
                for (std::size_t i = 0; i < n.cases.size(); ++i) {
                    const auto v = decide(n.cases[i].when, "cases[" + std::to_string(i) + "].when", step);
                    if (!v) return std::nullopt;
                    if (v->truthy()) {
                        step.outcome = "case " + std::to_string(i + 1);
                        return n.cases[i].next;
                    }
                }
                step.outcome = "default";
                return n.default_next;
            }
            case NodeKind::split: {
                const auto b = split_branch(n, state_.id);
                step.outcome = "branch " + std::to_string(b + 1);
                step.values["percent"] = n.branches[b].percent;
                return n.branches[b].next;
            }
            case NodeKind::wait: return wait(n, step);
            case NodeKind::action: {
                if (!act(n, visit, step)) return std::nullopt;
                return n.next;
            }
        }
        return NodeRef{};
    }

    std::optional<NodeRef> wait(const Node& n, TraceStep& step) {
        Time wake = ctx_.now;
        if (n.wait_for) {
            wake = add(ctx_.now, *n.wait_for);
            step.values["for"] = format_duration(*n.wait_for);
        } else if (n.wait_until) {
            const auto v = decide(*n.wait_until, "until", step);
            if (!v) return std::nullopt;
            if (v->type() != ValueType::time) {
                failure_ = "until: " + n.wait_until->text() + " gives " + std::string(value_type_name(v->type())) +
                           ", not a time";
                return std::nullopt;
            }
            wake = std::get<Time>(v->v);
        }
        if (wake <= ctx_.now || !n.next) {
            // A time in the past continues at once; a wait with nothing after it ends the run.
            step.outcome = "continued";
            return n.next;
        }
        step.outcome = "waiting";
        state_.status = RunStatus::waiting;
        state_.wake_at = wake;
        state_.resume_at = *n.next;
        return n.next;
    }

    bool act(const Node& n, int visit, TraceStep& step) {
        Effect e;
        e.key = state_.id + "/" + n.id + (visit > 1 ? "#" + std::to_string(visit) : "");
        e.kind = n.action;
        e.contact = contact_.id;
        e.node = n.id;
        json& p = e.params;
        step.outcome = "effect";
        switch (n.action) {
            case ActionKind::send_email: {
                p["template"] = param(n, "template");
                const std::string to = address(param(n, "to"), contact_);
                if (to.empty()) {
                    // Nothing to send to: the run goes on, and the trace says why nothing was sent.
                    step.outcome = "skipped";
                    step.values["reason"] = param(n, "to") == "owner" ? "the contact has no owner"
                                                                      : "the contact has no e-mail address";
                    return true;
                }
                p["to"] = to;
                if (const std::string cc = address(param(n, "cc"), contact_); !param(n, "cc").empty() && !cc.empty())
                    p["cc"] = cc;
                if (const std::string from = param(n, "from"); !from.empty())
                    p["from"] = from == "owner" ? address("owner", contact_) : from;
                p["locale"] = contact_.locale;
                break;
            }
            case ActionKind::assign_voucher: {
                const std::string id = param(n, "campaign");
                const auto it = ctx_.campaigns.find(id);
                if (it == ctx_.campaigns.end()) {
                    failure_ = "params.campaign: there is no voucher campaign " + id;
                    return false;
                }
                const VoucherCampaign& c = it->second;
                VoucherView v;
                v.code = ctx_.codes.voucher_code(c, e.key);
                v.campaign = c.id;
                v.currency = c.currency;
                v.value = c.value;
                v.assigned_at = ctx_.now;
                v.expires_at = voucher_expiry(c, ctx_.now);
                state_.voucher = v;
                p = voucher_json(v);
                p.erase("redeemed");
                break;
            }
            case ActionKind::notify: {
                p["role"] = param(n, "role");
                const auto message = render(n, "message");
                if (!message) return false;
                p["message"] = *message;
                break;
            }
            case ActionKind::webhook: {
                p["channel"] = param(n, "channel");
                if (const auto url = param(n, "url"); !url.empty()) p["url"] = url;
                if (const auto secret = param(n, "url_secret"); !secret.empty()) p["url_secret"] = secret;
                const auto message = render(n, "message");
                if (!message) return false;
                p["message"] = *message;
                break;
            }
            case ActionKind::add_tag:
            case ActionKind::remove_tag: {
                const auto tag = render(n, "tag");
                if (!tag) return false;
                p["tag"] = *tag;
                auto& tags = contact_.tags;
                const auto it = std::find(tags.begin(), tags.end(), *tag);
                if (n.action == ActionKind::add_tag && it == tags.end()) tags.push_back(*tag);
                if (n.action == ActionKind::remove_tag && it != tags.end()) tags.erase(it);
                break;
            }
            case ActionKind::set_attribute: {
                const std::string name = param(n, "name");
                if (!n.value_expr) {
                    failure_ = "params.value: missing";
                    return false;
                }
                auto v = n.value_expr->evaluate(eval_context());
                if (!v) {
                    failure_ = "params.value: " + v.error().message;
                    return false;
                }
                p["name"] = name;
                p["value"] = *v;
                if (!contact_.attributes.is_object()) contact_.attributes = json::object();
                if (v->is_null())
                    contact_.attributes.erase(name);
                else
                    contact_.attributes[name] = p["value"];
                break;
            }
            case ActionKind::create_task: {
                const std::string who = param(n, "assignee");
                p["assignee"] = who == "owner" && !contact_.owner.empty() ? contact_.owner : who;
                const auto title = render(n, "title");
                if (!title) return false;
                p["title"] = *title;
                if (n.text_params.count("description")) {
                    const auto description = render(n, "description");
                    if (!description) return false;
                    p["description"] = *description;
                }
                if (const auto due = param(n, "due"); !due.empty()) {
                    if (auto d = parse_duration(due)) p["due"] = format_time(add(ctx_.now, *d));
                }
                break;
            }
            case ActionKind::send_survey: {
                p["survey"] = param(n, "survey");
                p["channel"] = param(n, "channel").empty() ? "email" : param(n, "channel");
                const std::string to = address(param(n, "to"), contact_);
                if (to.empty()) {
                    step.outcome = "skipped";
                    step.values["reason"] = "the contact has no e-mail address";
                    return true;
                }
                p["to"] = to;
                p["locale"] = contact_.locale;
                break;
            }
        }
        step.values["effect"] = e.key;
        effects_.push_back(std::move(e));
        return true;
    }

    StepResult fail(const std::string& node, const std::string& field, const std::string& why) {
        TraceStep step;
        step.node = node;
        step.at = ctx_.now;
        failure_ = field.empty() ? why : field + ": " + why;
        return finish_failed(std::move(step));
    }

    StepResult finish_failed(TraceStep step) {
        step.outcome = "failed";
        step.values["error"] = failure_;
        trace_.push_back(std::move(step));
        state_.status = RunStatus::failed;
        state_.error = trace_.back().node + ": " + failure_;
        state_.wake_at.reset();
        state_.resume_at.clear();
        return result();
    }

    StepResult result() { return {std::move(state_), std::move(effects_), std::move(trace_), std::move(contact_)}; }

    const StepContext& ctx_;
    RunState state_;
    Contact contact_;
    RunView run_view_;
    std::optional<VoucherView> fallback_voucher_;
    std::vector<Effect> effects_;
    std::vector<TraceStep> trace_;
    std::string failure_;
};

}  // namespace

std::string_view to_string(RunStatus s) {
    switch (s) {
        case RunStatus::waiting: return "waiting";
        case RunStatus::done: return "done";
        case RunStatus::failed: return "failed";
    }
    return "done";
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
        d.values[s.trigger.when->text()] = *v;
        if (!v->truthy()) {
            d.reason = "trigger.when is false: " + s.trigger.when->text();
            return d;
        }
    }
    switch (s.reentry.policy) {
        case ReentryPolicy::always: break;
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

StepResult start_run(const StepContext& ctx, const std::string& run_id, const Event& event, const Contact& contact) {
    RunState state;
    state.id = run_id;
    state.scenario_id = ctx.scenario.id;
    state.scenario_version = ctx.scenario.version;
    state.contact_id = contact.id;
    state.event = event;
    if (!state.event.time) state.event.time = ctx.now;
    state.started_at = ctx.now;
    Stepper stepper(ctx, std::move(state), contact);
    return stepper.run(ctx.scenario.start);
}

StepResult resume_run(const StepContext& ctx, RunState state, const Contact& contact) {
    if (state.status != RunStatus::waiting) {
        StepResult r;
        r.state = std::move(state);
        r.contact = contact;
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

void to_json(json& j, const TraceStep& s) {
    j = {{"node", s.node}, {"at", format_time(s.at)}, {"outcome", s.outcome}, {"values", s.values}};
    j["next"] = s.next ? json(*s.next) : json(nullptr);
}

void to_json(json& j, const Effect& e) {
    j = {{"key", e.key}, {"kind", to_string(e.kind)}, {"contact", e.contact}, {"node", e.node}, {"params", e.params}};
}

void to_json(json& j, const RunState& r) {
    j = {{"id", r.id},
         {"scenario", r.scenario_id},
         {"scenario_version", r.scenario_version},
         {"contact", r.contact_id},
         {"event", r.event},
         {"started_at", format_time(r.started_at)},
         {"status", to_string(r.status)},
         {"path", r.path},
         {"visits", r.visits}};
    if (!r.resume_at.empty()) j["resume_at"] = r.resume_at;
    j["wake_at"] = r.wake_at ? json(format_time(*r.wake_at)) : json(nullptr);
    if (!r.error.empty()) j["error"] = r.error;
    j["voucher"] = r.voucher ? voucher_json(*r.voucher) : json(nullptr);
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
    if (status == "waiting")
        r.status = RunStatus::waiting;
    else if (status == "failed")
        r.status = RunStatus::failed;
    else if (status == "done")
        r.status = RunStatus::done;
    else if (f.ok())
        f.fail("status", "must be waiting, done or failed");
    r.resume_at = f.string("resume_at", false, 64).value_or("");
    r.wake_at = f.time("wake_at", false);
    r.error = f.string("error", false, 4096).value_or("");
    r.path = f.strings("path", false, 100000, 64).value_or(std::vector<std::string>{});
    if (const json* visits = f.object("visits", false))
        for (const auto& [k, v] : visits->items())
            if (v.is_number_integer()) r.visits[k] = v.get<int>();
    if (const json* ev = f.find("event")) {
        auto e = event_from_json(*ev, "event");
        if (e)
            r.event = std::move(*e);
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
