#include "closeloop/simulator.h"

#include <algorithm>
#include <cstdio>

namespace closeloop {

using nlohmann::json;

// ---- MemoryHistory -------------------------------------------------------------------------

void MemoryHistory::add(const Event& e) {
    auto& list = by_contact_[e.contact.id];
    const Time t = e.time.value_or(Time{});
    const auto at = std::upper_bound(list.begin(), list.end(), t,
                                     [](Time value, const Event& x) { return value < x.time.value_or(Time{}); });
    list.insert(at, e);
}

void MemoryHistory::erase(const std::string& contact_id) {
    by_contact_.erase(contact_id);
}

namespace {

std::string data_text(const Event& e, const char* key) {
    const auto it = e.data.find(key);
    return it != e.data.end() && it->is_string() ? it->get<std::string>() : "";
}

// The contact's vouchers as of `now` (assigned and redeemed at or before it), in assignment
// order. A voucher_redeemed event marks the voucher it names by code, or, naming only a
// campaign, the contact's latest unused voucher of it; a used voucher stays as it was
// (the store's rule: CONTRACT.md, Event).
std::vector<VoucherView> vouchers_as_of(const std::vector<Event>& events, Time now) {
    std::vector<VoucherView> out;
    for (const Event& e : events) {
        if (*e.time > now) break;
        if (auto v = voucher_of_event(e)) {
            out.push_back(std::move(*v));
            continue;
        }
        if (e.kind != EventType::voucher_redeemed) continue;
        const std::string code = data_text(e, "code"), campaign = data_text(e, "campaign");
        for (auto v = out.rbegin(); v != out.rend(); ++v) {
            if (v->redeemed || (code.empty() ? v->campaign != campaign : v->code != code)) continue;
            v->redeemed = true;
            break;
        }
    }
    return out;
}

}  // namespace

bool MemoryHistory::voucher_assigned_between(const std::string& contact_id, const std::string& campaign, Time since,
                                             Time until) const {
    const auto it = by_contact_.find(contact_id);
    if (it == by_contact_.end()) return false;
    return std::any_of(it->second.begin(), it->second.end(), [&](const Event& e) {
        return e.kind == EventType::voucher_assigned && *e.time >= since && *e.time <= until &&
               data_text(e, "campaign") == campaign;
    });
}

std::int64_t MemoryHistory::count_events_between(const std::string& contact_id, const std::string& type, Time since,
                                                 Time until) const {
    const auto it = by_contact_.find(contact_id);
    if (it == by_contact_.end()) return 0;
    return std::count_if(it->second.begin(), it->second.end(),
                         [&](const Event& e) { return e.type == type && *e.time >= since && *e.time <= until; });
}

std::optional<int> MemoryHistory::previous_nps(const std::string& contact_id, Time before,
                                               const std::string& current_event_id) const {
    const auto it = by_contact_.find(contact_id);
    if (it == by_contact_.end()) return std::nullopt;
    // Strictly before (History): a second answer at the same instant has no previous one there.
    for (auto e = it->second.rbegin(); e != it->second.rend(); ++e) {
        if (e->kind != EventType::nps_response || *e->time >= before) continue;
        if (!current_event_id.empty() && e->id == current_event_id) continue;
        return e->score();
    }
    return std::nullopt;
}

std::optional<VoucherView> MemoryHistory::latest(const std::string& contact_id,
                                                 const std::vector<std::string>& campaigns, Time now) const {
    const auto it = by_contact_.find(contact_id);
    if (it == by_contact_.end()) return std::nullopt;
    auto held = vouchers_as_of(it->second, now);
    for (auto v = held.rbegin(); v != held.rend(); ++v)
        if (std::find(campaigns.begin(), campaigns.end(), v->campaign) != campaigns.end()) return std::move(*v);
    return std::nullopt;
}

bool MemoryHistory::redeemed(const std::string& contact_id, const std::string& code, Time now) const {
    const auto it = by_contact_.find(contact_id);
    if (it == by_contact_.end()) return false;
    const auto held = vouchers_as_of(it->second, now);
    return std::any_of(held.begin(), held.end(), [&](const VoucherView& v) { return v.code == code && v.redeemed; });
}

// ---- codes ---------------------------------------------------------------------------------

std::string DeterministicCodes::voucher_code(const VoucherCampaign&, const std::string& effect_key) {
    std::uint32_t h = 2166136261u;
    for (unsigned char c : effect_key) {
        h ^= c;
        h *= 16777619u;
    }
    char buf[16];
    std::snprintf(buf, sizeof buf, "SIM-%08X", h);
    return buf;
}

// ---- simulate ------------------------------------------------------------------------------

void to_json(json& j, const SimulatedRun& r) {
    j = {{"event", r.event},
         {"scenario", r.scenario},
         {"contact", r.contact},
         {"entered", r.entered},
         {"path", r.path},
         {"effects", r.effects},
         {"state", r.entered ? json(to_string(r.state)) : json(nullptr)}};
    if (!r.entered) j["reason"] = r.reason;
    if (r.resumed) j["resumed"] = true;
    j["wake_at"] = r.wake_at ? json(format_time(*r.wake_at)) : json(nullptr);
    if (!r.error.empty()) j["error"] = r.error;
    j["trace"] = r.trace;
}

namespace {

struct LiveRun {
    RunState state;
};

class Simulation {
public:
    explicit Simulation(const SimulationInput& in) : in_(in) {
        for (const auto& c : in.contacts) contacts_[c.id] = c;
        for (const auto& e : in.history) history_.add(e);
        // Fast-forward: the events to run are history at once, each from its own time on
        // (every query is bounded by `now`), so a fast-forwarded wait sees the events up to its
        // wake time (a redemption a few days after the answer, say) and nothing later.
        // Otherwise each joins the history when it is run, as on the server, where an event
        // posted after another at the same instant is not yet stored when the first is decided.
        if (in.fast_forward)
            for (const auto& e : in.events) history_.add(e);
    }

    std::vector<SimulatedRun> run(std::vector<const Event*> events) {
        std::stable_sort(events.begin(), events.end(),
                         [](const Event* a, const Event* b) { return *a->time < *b->time; });
        for (const Event* e : events) {
            wake_until(*e->time);
            process(*e);
        }
        return std::move(out_);
    }

private:
    StepContext context(Time now) const {
        return StepContext{*in_.scenario, history_, history_, codes_, in_.campaigns, &in_.links, now};
    }

    // Performs the internal effects the server would perform, so later events see them.
    void absorb(StepResult& r, SimulatedRun& line) {
        if (r.contact) contacts_[r.contact->id] = *r.contact;
        for (const auto& eff : r.effects) {
            // The event the server's store writes for the assignment (voucher.h).
            const auto* assign = std::get_if<AssignVoucher>(&eff.params);
            const auto campaign = assign ? in_.campaigns.find(assign->voucher.campaign) : in_.campaigns.end();
            if (campaign != in_.campaigns.end())
                history_.add(voucher_assigned_event(campaign->second, assign->voucher, eff.contact));
        }
        line.path.insert(line.path.end(), r.state.path.begin() + static_cast<std::ptrdiff_t>(line.path.size()),
                         r.state.path.end());
        line.effects.insert(line.effects.end(), r.effects.begin(), r.effects.end());
        line.trace.insert(line.trace.end(), r.trace.begin(), r.trace.end());
        line.state = r.state.status;
        line.wake_at = r.state.wake_at;
        line.error = r.state.error;
    }

    // Fast-forward: a waiting run goes on at once, with `now` = its wake time.
    void fast_forward(StepResult& r, SimulatedRun& line) {
        while (r.state.status == RunStatus::waiting) {
            const Time now = *r.state.wake_at;
            const Contact contact = contacts_[r.state.contact_id];
            r = resume_run(context(now), std::move(r.state), contact);
            absorb(r, line);
        }
    }

    // Wakes, in time order, every waiting run due at or before `t`.
    void wake_until(Time t) {
        while (true) {
            auto due = std::min_element(live_.begin(), live_.end(), [](const LiveRun& a, const LiveRun& b) {
                return *a.state.wake_at < *b.state.wake_at;
            });
            if (due == live_.end() || *due->state.wake_at > t) return;
            LiveRun run = std::move(*due);
            live_.erase(due);
            const Time now = *run.state.wake_at;
            SimulatedRun line;
            line.event = run.state.event ? run.state.event->id : std::string();
            line.scenario = run.state.scenario_id;
            line.contact = run.state.contact_id;
            line.entered = true;
            line.resumed = true;
            line.path = run.state.path;  // absorb appends only what this step adds
            const Contact contact = contacts_[run.state.contact_id];
            StepResult r = resume_run(context(now), std::move(run.state), contact);
            absorb(r, line);
            if (r.state.status == RunStatus::waiting) live_.push_back({std::move(r.state)});
            out_.push_back(std::move(line));
        }
    }

    void process(const Event& e) {
        if (!in_.fast_forward) history_.add(e);
        Contact& contact = contacts_[e.contact.id];
        if (contact.id.empty()) contact.id = e.contact.id;
        apply(contact, e.contact);

        const Scenario& s = *in_.scenario;
        SimulatedRun line;
        line.event = e.id;
        line.scenario = s.id;
        line.contact = contact.id;

        EntryFacts facts;
        facts.live_run =
            std::any_of(live_.begin(), live_.end(), [&](const LiveRun& r) { return r.state.contact_id == contact.id; });
        if (const auto it = last_start_.find(contact.id); it != last_start_.end()) facts.last_started_at = it->second;
        const EntryDecision d = decide_entry(s, e, contact, facts, history_, *e.time);
        if (!d.enter) {
            line.reason = d.reason;
            out_.push_back(std::move(line));
            return;
        }
        line.entered = true;
        last_start_[contact.id] = *e.time;
        const std::string run_id = "run-" + (e.id.empty() ? std::to_string(++anonymous_) : e.id);
        StepResult r = start_run(context(*e.time), run_id, e, contact);
        absorb(r, line);
        if (in_.fast_forward) fast_forward(r, line);
        if (r.state.status == RunStatus::waiting) live_.push_back({std::move(r.state)});
        out_.push_back(std::move(line));
    }

    const SimulationInput& in_;
    MemoryHistory history_;
    mutable DeterministicCodes codes_;
    std::map<std::string, Contact> contacts_;
    std::map<std::string, Time> last_start_;
    std::vector<LiveRun> live_;
    std::vector<SimulatedRun> out_;
    int anonymous_ = 0;
};

}  // namespace

Result<std::vector<SimulatedRun>> simulate(const SimulationInput& input) {
    if (!input.scenario) return Error{"invalid_input", "no scenario to simulate", "scenario"};
    std::vector<const Event*> events;
    for (std::size_t i = 0; i < input.events.size(); ++i) {
        if (!input.events[i].time)
            return invalid_field("events[" + std::to_string(i) + "].time", "is required to simulate");
        events.push_back(&input.events[i]);
    }
    for (std::size_t i = 0; i < input.history.size(); ++i)
        if (!input.history[i].time)
            return invalid_field("history[" + std::to_string(i) + "].time", "is required to simulate");
    Simulation sim(input);
    return sim.run(std::move(events));
}

}  // namespace closeloop
