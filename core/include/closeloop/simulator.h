// closeloop — the simulator: the engine over in-memory sample data.
//
// `closeloop simulate` and the builder's preview both use it, so what they show is what the
// server does: the same decide_entry / start_run / resume_run, with history answered from
// memory and deterministic voucher codes. No I/O: callers read files and print lines.
//
// Sections: MemoryHistory (History + VoucherBook over a list of events), codes, simulate,
// documents (JSON in, the output lines as JSON out: the browser's one call).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "closeloop/engine.h"

namespace closeloop {

// Past and simulated events of every contact: purchases, answers, voucher_assigned and
// voucher_redeemed. Only events at or before the asked time count.
class MemoryHistory final : public History, public VoucherBook {
public:
    void add(const Event& e);                   // e.time must be set
    void add(std::shared_ptr<const Event> e);   // the same, shared rather than copied
    void erase(const std::string& contact_id);  // GDPR erasure: nothing about it remains

    bool voucher_assigned_between(const std::string& contact_id, const std::string& campaign, Time since,
                                  Time until) const override;
    std::int64_t count_events_between(const std::string& contact_id, const std::string& type, Time since,
                                      Time until) const override;
    std::optional<int> previous_nps(const std::string& contact_id, Time before,
                                    const std::string& current_event_id) const override;
    std::optional<VoucherView> latest(const std::string& contact_id, const std::vector<std::string>& campaigns,
                                      Time now) const override;
    bool redeemed(const std::string& contact_id, const std::string& code, Time now) const override;

private:
    // Each list in time order; events are shared (the simulator's runs hold the same ones).
    std::unordered_map<std::string, std::vector<std::shared_ptr<const Event>>> by_contact_;
};

// Codes like `SIM-3F9A1C2B`: a function of the effect key, so runs repeat exactly.
class DeterministicCodes final : public CodeSource {
public:
    std::string voucher_code(const VoucherCampaign& campaign, const std::string& effect_key) override;
};

// A send_email effect's message as the customer would see it, rendered with the run's context
// (the contact after the step, the event, the voucher) in the contact's locale.
struct SimulatedEmail {
    std::string effect;  // the effect's key
    std::string template_id, locale, dir, from, subject, html, text;
    std::string error;  // why it could not be rendered (no such template, a failed expression)
};
void to_json(nlohmann::json& j, const SimulatedEmail& e);

// One line of `closeloop simulate` output: one event and scenario (or a run that woke up).
struct SimulatedRun {
    std::string event, scenario, contact;
    bool entered = false;
    bool resumed = false;  // a waiting run that woke before a later event
    std::string reason;    // why not entered
    std::vector<std::string> path;
    std::vector<Effect> effects;
    RunStatus state = RunStatus::done;
    std::optional<Time> wake_at;
    std::string error;
    std::vector<TraceStep> trace;
    // The step's send_email messages, when the simulation was given templates.
    std::optional<std::vector<SimulatedEmail>> emails;
};
void to_json(nlohmann::json& j, const SimulatedRun& r);
// The output line for a run, with its trace or without it: the one conversion for
// `closeloop simulate`'s lines and simulate_documents' items.
nlohmann::json simulated_run_json(const SimulatedRun& r, bool with_trace);
// The links.* templates see in a simulation (placeholders: nothing is sent).
std::map<std::string, std::string> simulated_links();

struct SimulationInput {
    const Scenario* scenario = nullptr;
    std::vector<Contact> contacts;  // known contacts (events upsert more)
    std::vector<Event> history;     // past events (each with a time)
    std::vector<Event> events;      // to run, each with a time
    std::map<std::string, VoucherCampaign> campaigns;
    std::map<std::string, std::string> links;  // links.* for templates
    bool fast_forward = false;                 // waits end at once; `now` becomes the wake time
    // With templates each line gets `emails`, its send_email effects rendered; null = none.
    const std::map<std::string, MessageTemplate>* templates = nullptr;
};

// Runs the events in time order (stable for equal times), handing each output line to `line`
// as soon as it is complete, in output order, and keeping none; returns how many there were.
// The input is taken by value: a caller done with it moves it in, and nothing is copied.
// Errors, before any line: an event without a time.
Result<std::size_t> simulate(SimulationInput input, const std::function<void(SimulatedRun&)>& line);
// The same, every line in a list.
Result<std::vector<SimulatedRun>> simulate(SimulationInput input);

// ---- documents -----------------------------------------------------------------------------

// The input of `closeloop simulate` as JSON documents (what the builder holds). Null stands
// for an input not given: contacts, history and campaigns are then empty (and campaigns not
// checked by validation, as the command line without --campaigns), templates absent (no
// `emails` in the output).
struct SimulationDocuments {
    nlohmann::json scenario;   // the scenario document
    nlohmann::json contacts;   // [Contact]
    nlohmann::json history;    // [Event], each with a time
    nlohmann::json events;     // [Event] to run, each with a time
    nlohmann::json campaigns;  // [VoucherCampaign]
    nlohmann::json templates;  // [template document]
    bool fast_forward = false;
    bool trace = false;
};
// The runs as a JSON array whose items are exactly the lines `closeloop simulate` prints for
// the same input. Errors name the field: "events[2].time: is required to simulate",
// "contacts[0].email: ...". A scenario that does not load or validate: code
// "invalid_scenario", path "scenario", message = its errors, one JSON line each, as
// `closeloop simulate` prints them.
Result<nlohmann::json> simulate_documents(const SimulationDocuments& documents);

}  // namespace closeloop
