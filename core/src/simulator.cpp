#include "closeloop/simulator.h"

#include <algorithm>
#include <cstdio>

#include "closeloop/delivery.h"

namespace closeloop {

using nlohmann::json;

// ---- MemoryHistory -------------------------------------------------------------------------

void MemoryHistory::add(const Event& e) {
    add(std::make_shared<const Event>(e));
}

void MemoryHistory::add(std::shared_ptr<const Event> e) {
    auto& list = by_contact_[e->contact.id];
    const Time t = e->time.value_or(Time{});
    const auto at = std::upper_bound(list.begin(), list.end(), t,
                                     [](Time value, const auto& x) { return value < x->time.value_or(Time{}); });
    list.insert(at, std::move(e));
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
std::vector<VoucherView> vouchers_as_of(const std::vector<std::shared_ptr<const Event>>& events, Time now) {
    std::vector<VoucherView> out;
    for (const auto& held : events) {
        const Event& e = *held;
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
    return std::any_of(it->second.begin(), it->second.end(), [&](const auto& held) {
        const Event& e = *held;
        return e.kind == EventType::voucher_assigned && *e.time >= since && *e.time <= until &&
               data_text(e, "campaign") == campaign;
    });
}

std::int64_t MemoryHistory::count_events_between(const std::string& contact_id, const std::string& type, Time since,
                                                 Time until) const {
    const auto it = by_contact_.find(contact_id);
    if (it == by_contact_.end()) return 0;
    return std::count_if(it->second.begin(), it->second.end(),
                         [&](const auto& e) { return e->type == type && *e->time >= since && *e->time <= until; });
}

std::optional<int> MemoryHistory::previous_nps(const std::string& contact_id, Time before,
                                               const std::string& current_event_id) const {
    const auto it = by_contact_.find(contact_id);
    if (it == by_contact_.end()) return std::nullopt;
    // Strictly before (History): a second answer at the same instant has no previous one there.
    for (auto held = it->second.rbegin(); held != it->second.rend(); ++held) {
        const Event* e = held->get();
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

void to_json(json& j, const SimulatedEmail& e) {
    j = {{"effect", e.effect}, {"template", e.template_id}};
    if (!e.error.empty()) {
        j["error"] = e.error;
        return;
    }
    j["locale"] = e.locale;
    j["dir"] = e.dir;
    j["from"] = e.from;
    j["subject"] = e.subject;
    j["html"] = e.html;
    j["text"] = e.text;
}

json simulated_run_json(const SimulatedRun& r, bool with_trace) {
    json j = {{"event", r.event},
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
    if (with_trace) j["trace"] = r.trace;
    if (r.emails) j["emails"] = *r.emails;
    return j;
}

void to_json(json& j, const SimulatedRun& r) {
    j = simulated_run_json(r, true);
}

std::map<std::string, std::string> simulated_links() {
    return {{"unsubscribe", "https://closeloop.example/u/SIMULATED"},
            {"redeem", "https://closeloop.example/r/SIMULATED"},
            {"survey", "https://closeloop.example/s/SIMULATED"},
            {"preferences", "https://closeloop.example/p/SIMULATED"},
            {"answer_token", "SIMULATED-ANSWER-TOKEN"}};
}

namespace {

// A waiting run, ordered by wake time, then by when it began waiting (so runs due at the same
// instant wake in the order they went to sleep).
struct LiveRun {
    Time wake_at;
    std::uint64_t seq = 0;
    RunState state;
};
// For the heap functions (a max-heap): `a` wakes after `b`.
bool wakes_later(const LiveRun& a, const LiveRun& b) {
    return a.wake_at != b.wake_at ? a.wake_at > b.wake_at : a.seq > b.seq;
}

// Every lookup is by contact id in a hash map and the waiting runs are a heap, so an event
// costs the same however many contacts and waiting runs there are. Nothing is copied per
// event: the contact is passed by reference (a step that changes it returns a new one), and
// the history and the runs share each event.
class Simulation {
public:
    Simulation(SimulationInput&& in, const std::function<void(SimulatedRun&)>& emit) : in_(std::move(in)), emit_(emit) {
        contacts_.reserve(in_.contacts.size());
        for (auto& c : in_.contacts) {
            std::string id = c.id;
            contacts_[std::move(id)].contact = std::move(c);
        }
        for (auto& e : in_.history) history_.add(std::make_shared<const Event>(std::move(e)));
        // Fast-forward: the events to run are history at once, each from its own time on
        // (every query is bounded by `now`), so a fast-forwarded wait sees the events up to its
        // wake time (a redemption a few days after the answer, say) and nothing later.
        // Otherwise each joins the history when it is run, as on the server, where an event
        // posted after another at the same instant is not yet stored when the first is decided.
        events_.reserve(in_.events.size());
        for (auto& e : in_.events) {
            events_.push_back(std::make_shared<const Event>(std::move(e)));
            if (in_.fast_forward) history_.add(events_.back());
        }
    }

    std::size_t run() {
        std::stable_sort(events_.begin(), events_.end(),
                         [](const auto& a, const auto& b) { return *a->time < *b->time; });
        for (const auto& e : events_) {
            wake_until(*e->time);
            process(e);
        }
        return lines_;
    }

private:
    void emit(SimulatedRun& line) {
        if (in_.templates && !line.emails) line.emails.emplace();  // every line says it has none
        ++lines_;
        emit_(line);
    }

    StepContext context(Time now) const {
        return StepContext{*in_.scenario, history_, history_, codes_, in_.campaigns, &in_.links, now};
    }

    // The step's send_email messages as the customer sees them: the contact after the step,
    // the run's event and voucher (or the contact's latest of the scenario's campaigns).
    void render_emails(const StepResult& r, Time now, SimulatedRun& line) {
        if (!in_.templates) return;
        if (!line.emails) line.emails.emplace();
        const Contact& contact = r.contact ? *r.contact : contacts_[r.state.contact_id].contact;
        std::optional<VoucherView> fallback;
        if (!r.state.voucher) fallback = history_.latest(contact.id, in_.scenario->campaigns(), now);
        const RunView run{r.state.id, r.state.started_at};
        EvalContext ctx;
        ctx.event = r.state.event.get();
        ctx.contact = &contact;
        ctx.voucher = r.state.voucher ? &*r.state.voucher : (fallback ? &*fallback : nullptr);
        ctx.run = &run;
        ctx.links = &in_.links;
        ctx.history = &history_;
        ctx.now = now;
        for (const auto& eff : r.effects) {
            const auto* mail = std::get_if<SendEmail>(&eff.params);
            if (!mail) continue;
            EmailRender m = render_email(*mail, eff.key, *in_.templates, ctx);
            SimulatedEmail out{std::move(m.effect), std::move(m.template_id), std::move(m.locale),
                               std::move(m.dir),    std::move(m.from),        std::move(m.subject),
                               std::move(m.html),   std::move(m.text),        std::move(m.error)};
            line.emails->push_back(std::move(out));
        }
    }

    // Performs the internal effects the server would perform, so later events see them.
    void absorb(StepResult& r, SimulatedRun& line, Time now) {
        render_emails(r, now, line);
        if (r.contact) contacts_[r.contact->id].contact = std::move(*r.contact);
        for (const auto& eff : r.effects) {
            // The event the server's store writes for the assignment (voucher.h).
            const auto* assign = std::get_if<AssignVoucher>(&eff.params);
            const auto campaign = assign ? in_.campaigns.find(assign->voucher.campaign) : in_.campaigns.end();
            if (campaign != in_.campaigns.end())
                history_.add(voucher_assigned_event(campaign->second, assign->voucher, eff.contact));
        }
        line.path.insert(line.path.end(), r.state.path.begin() + static_cast<std::ptrdiff_t>(line.path.size()),
                         r.state.path.end());
        line.effects.insert(line.effects.end(), std::make_move_iterator(r.effects.begin()),
                            std::make_move_iterator(r.effects.end()));
        line.trace.insert(line.trace.end(), std::make_move_iterator(r.trace.begin()),
                          std::make_move_iterator(r.trace.end()));
        line.state = r.state.status;
        line.wake_at = r.state.wake_at;
        line.error = r.state.error;
    }

    // Fast-forward: a waiting run goes on at once, with `now` = its wake time.
    void fast_forward(StepResult& r, SimulatedRun& line) {
        while (r.state.status == RunStatus::waiting) {
            const Time now = *r.state.wake_at;
            const Contact& contact = contacts_[r.state.contact_id].contact;
            r = resume_run(context(now), std::move(r.state), contact);
            absorb(r, line, now);
        }
    }

    void sleep(RunState state) {
        ++contacts_[state.contact_id].waiting;
        live_.push_back({*state.wake_at, ++slept_, std::move(state)});
        std::push_heap(live_.begin(), live_.end(), wakes_later);
    }

    // Wakes, in time order, every waiting run due at or before `t`.
    void wake_until(Time t) {
        while (!live_.empty() && live_.front().wake_at <= t) {
            std::pop_heap(live_.begin(), live_.end(), wakes_later);
            RunState state = std::move(live_.back().state);
            live_.pop_back();
            Known& known = contacts_[state.contact_id];
            --known.waiting;
            const Time now = *state.wake_at;
            SimulatedRun line;
            line.event = state.event ? state.event->id : std::string();
            line.scenario = state.scenario_id;
            line.contact = state.contact_id;
            line.entered = true;
            line.resumed = true;
            line.path = state.path;  // absorb appends only what this step adds
            const Contact& contact = known.contact;
            StepResult r = resume_run(context(now), std::move(state), contact);
            absorb(r, line, now);
            if (r.state.status == RunStatus::waiting) sleep(std::move(r.state));
            emit(line);
        }
    }

    void process(const std::shared_ptr<const Event>& event) {
        const Event& e = *event;
        if (!in_.fast_forward) history_.add(event);
        Known& known = contacts_[e.contact.id];
        Contact& contact = known.contact;
        if (contact.id.empty()) contact.id = e.contact.id;
        apply(contact, e.contact);

        const Scenario& s = *in_.scenario;
        SimulatedRun line;
        line.event = e.id;
        line.scenario = s.id;
        line.contact = contact.id;

        EntryFacts facts;
        facts.live_run = known.waiting > 0;
        facts.last_started_at = known.last_start;
        const EntryDecision d = decide_entry(s, e, contact, facts, history_, *e.time);
        if (!d.enter) {
            line.reason = d.reason;
            emit(line);
            return;
        }
        line.entered = true;
        known.last_start = *e.time;
        const std::string run_id = "run-" + (e.id.empty() ? std::to_string(++anonymous_) : e.id);
        StepResult r = start_run(context(*e.time), run_id, event, contact);
        absorb(r, line, *e.time);
        if (in_.fast_forward) fast_forward(r, line);
        if (r.state.status == RunStatus::waiting) sleep(std::move(r.state));
        emit(line);
    }

    SimulationInput in_;  // its contacts and events are moved out (into contacts_ and events_)
    const std::function<void(SimulatedRun&)>& emit_;
    std::vector<std::shared_ptr<const Event>> events_;
    MemoryHistory history_;
    mutable DeterministicCodes codes_;
    // What the simulation knows of each contact, in one place: one lookup per event.
    struct Known {
        Contact contact;
        std::optional<Time> last_start;  // of its latest run
        int waiting = 0;                 // its runs in live_
    };
    std::unordered_map<std::string, Known> contacts_;
    std::vector<LiveRun> live_;  // a heap: the next to wake in front
    std::uint64_t slept_ = 0;
    std::size_t lines_ = 0;
    int anonymous_ = 0;
};

}  // namespace

Result<std::size_t> simulate(SimulationInput input, const std::function<void(SimulatedRun&)>& line) {
    if (!input.scenario) return Error{"invalid_input", "no scenario to simulate", "scenario"};
    for (std::size_t i = 0; i < input.events.size(); ++i)
        if (!input.events[i].time)
            return invalid_field("events[" + std::to_string(i) + "].time", "is required to simulate");
    for (std::size_t i = 0; i < input.history.size(); ++i)
        if (!input.history[i].time)
            return invalid_field("history[" + std::to_string(i) + "].time", "is required to simulate");
    Simulation sim(std::move(input), line);
    return sim.run();
}

Result<std::vector<SimulatedRun>> simulate(SimulationInput input) {
    std::vector<SimulatedRun> out;
    out.reserve(input.events.size());
    auto done = simulate(std::move(input), [&](SimulatedRun& line) { out.push_back(std::move(line)); });
    if (!done) return done.error();
    return out;
}

// ---- documents -----------------------------------------------------------------------------

namespace {

// A list given as a document: null = not given (empty); anything else must be an array.
Result<const json*> list_of(const json& j, const char* field) {
    static const json empty = json::array();
    if (j.is_null()) return &empty;
    if (!j.is_array()) return invalid_field(field, "must be a JSON array");
    return &j;
}

std::string item_path(const char* field, std::size_t i) {
    return std::string(field) + "[" + std::to_string(i) + "]";
}

Result<std::vector<Event>> events_of(const json& j, const char* field) {
    auto list = list_of(j, field);
    if (!list) return list.error();
    std::vector<Event> out;
    out.reserve((*list)->size());
    for (std::size_t i = 0; i < (*list)->size(); ++i) {
        auto e = event_from_json((**list)[i], item_path(field, i));
        if (!e) return e.error();
        if (!e->time) return invalid_field(item_path(field, i) + ".time", "is required to simulate");
        out.push_back(std::move(*e));
    }
    return out;
}

}  // namespace

Result<json> simulate_documents(const SimulationDocuments& d) {
    auto loaded = load_scenario(d.scenario);
    const auto scenario_errors = [](const std::vector<ScenarioError>& errors) {
        std::string text;
        for (const auto& e : errors) {
            if (!text.empty()) text += '\n';
            text += json(e).dump(-1, ' ', false, json::error_handler_t::replace);
        }
        return Error{"invalid_scenario", std::move(text), "scenario"};
    };
    if (!loaded.errors.empty()) return scenario_errors(loaded.errors);

    SimulationInput in;
    in.scenario = &loaded.scenario;
    in.fast_forward = d.fast_forward;
    in.links = simulated_links();
    auto contacts = list_of(d.contacts, "contacts");
    if (!contacts) return contacts.error();
    for (std::size_t i = 0; i < (*contacts)->size(); ++i) {
        auto c = contact_from_json((**contacts)[i], item_path("contacts", i));
        if (!c) return c.error();
        in.contacts.push_back(std::move(*c));
    }
    auto history = events_of(d.history, "history");
    if (!history) return history.error();
    in.history = std::move(*history);
    auto events = events_of(d.events, "events");
    if (!events) return events.error();
    in.events = std::move(*events);
    auto campaigns = list_of(d.campaigns, "campaigns");
    if (!campaigns) return campaigns.error();
    for (std::size_t i = 0; i < (*campaigns)->size(); ++i) {
        auto c = voucher_campaign_from_json((**campaigns)[i], item_path("campaigns", i));
        if (!c) return c.error();
        in.campaigns.emplace(c->id, std::move(*c));
    }
    std::map<std::string, MessageTemplate> templates;
    if (!d.templates.is_null()) {
        auto list = list_of(d.templates, "templates");
        if (!list) return list.error();
        for (std::size_t i = 0; i < (*list)->size(); ++i) {
            auto t = template_from_json((**list)[i], item_path("templates", i));
            if (!t) return t.error();
            templates.emplace(t->id, std::move(*t));
        }
        in.templates = &templates;
    }
    const Catalog catalog{nullptr, d.campaigns.is_null() ? nullptr : &in.campaigns};
    if (const auto errors = validate(loaded.scenario, catalog); !errors.empty()) return scenario_errors(errors);

    json out = json::array();
    auto done = simulate(std::move(in), [&](SimulatedRun& r) { out.push_back(simulated_run_json(r, d.trace)); });
    if (!done) return done.error();
    return out;
}

}  // namespace closeloop
