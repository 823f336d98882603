// closeloop builder — the simulator panel's calls into core (simulator_panel_core.h).
#include "simulator_panel_core.h"

#include "closeloop/contact.h"
#include "closeloop/event.h"
#include "closeloop/scenario.h"
#include "closeloop/simulator.h"
#include "closeloop/voucher.h"

namespace closeloop::web {

using nlohmann::json;

namespace {

std::string first_error(const std::vector<ScenarioError>& errors) {
    if (errors.empty()) return "";
    const ScenarioError& e = errors.front();
    std::string where = e.node.empty() ? "" : e.node + (e.field.empty() ? "" : "." + e.field) + ": ";
    if (e.node.empty() && !e.field.empty()) where = e.field + ": ";
    return "The scenario cannot run yet: " + where + e.message;
}

}  // namespace

SimulationOutcome simulate_request(const SimulationRequest& request) {
    SimulationOutcome out;
    LoadedScenario loaded = load_scenario(request.scenario);
    if (!loaded.errors.empty()) {
        out.error = first_error(loaded.errors);
        return out;
    }
    SimulationInput in;
    in.scenario = &loaded.scenario;
    in.fast_forward = request.fast_forward;
    for (const auto& c : request.campaigns) {
        auto parsed = voucher_campaign_from_json(c);
        if (parsed) in.campaigns.emplace(parsed->id, std::move(*parsed));
    }
    auto contact = contact_from_json(request.contact, "contact");
    if (!contact) {
        out.error = contact.error().what();
        return out;
    }
    in.contacts.push_back(*contact);
    auto event = event_from_json(request.event, "event");
    if (!event) {
        out.error = event.error().what();
        return out;
    }
    in.events.push_back(*event);
    for (const auto& [campaign, time] : request.voucher_history) {
        auto c = in.campaigns.find(campaign);
        auto at = parse_time(time);
        if (c == in.campaigns.end() || !at) continue;
        VoucherView v = assign_voucher(c->second, "HIST-" + std::to_string(in.history.size() + 1), *at);
        in.history.push_back(voucher_assigned_event(c->second, v, contact->id));
    }
    auto runs = simulate(std::move(in));
    if (!runs) {
        out.error = runs.error().what();
        return out;
    }
    out.runs = json::array();
    for (const auto& r : *runs) out.runs.push_back(r);
    return out;
}

SampleSetOutcome simulate_sample_set(const SimulationRequest&) {
    SampleSetOutcome out;
    out.error = "The sample set is not available yet";
    return out;
}

}  // namespace closeloop::web
