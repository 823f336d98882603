// closeloop builder — the simulator panel's calls into core (simulator_panel_core.h): core's
// simulate_documents (the test hook's and `closeloop simulate`'s one function) and its
// sample set; here only the panel's documents are put together and the answer read.
#include "simulator_panel_core.h"

#include "closeloop/render.h"
#include "closeloop/sample_set.h"
#include "closeloop/simulator.h"
#include "closeloop/time.h"
#include "closeloop/voucher.h"

namespace closeloop::web {

using nlohmann::json;

namespace {

// The panel's vouchers as the `voucher_assigned` events core writes for an assignment.
json voucher_history(const SimulationRequest& request, std::string& error) {
    json history = json::array();
    std::string contact = request.contact.value("id", "");
    int n = 0;
    for (const auto& [campaign_id, time] : request.voucher_history) {
        const json* doc = nullptr;
        if (request.campaigns.is_array())
            for (const auto& c : request.campaigns)
                if (c.is_object() && c.contains("id") && c["id"] == campaign_id) doc = &c;
        if (!doc) {
            error = "voucher history: no campaign '" + campaign_id + "' in this workspace";
            return history;
        }
        auto campaign = voucher_campaign_from_json(*doc);
        auto at = parse_time(time);
        if (!campaign || !at) {
            error = "voucher history: '" + time + "' is not a date (YYYY-MM-DD)";
            return history;
        }
        VoucherView v = assign_voucher(*campaign, "EARLIER-" + std::to_string(++n), *at);
        history.push_back(voucher_assigned_event(*campaign, v, contact));
    }
    return history;
}

// The API's template items as template documents: without what the server adds when it
// lists them, and without any that would not load (one bad template must not stop a run).
json usable_templates(const json& items) {
    if (!items.is_array()) return nullptr;
    json out = json::array();
    for (json t : items) {
        if (!t.is_object()) continue;
        t.erase("created_at");
        t.erase("updated_at");
        if (template_from_json(t)) out.push_back(std::move(t));
    }
    return out;
}

// The scenario's errors come as one JSON line each: the first, in words.
std::string readable(const Error& e) {
    if (e.code != "invalid_scenario") return e.what();
    std::string first = e.message.substr(0, e.message.find('\n'));
    json j = json::parse(first, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return "The scenario cannot run yet: " + e.message;
    std::string where = j.value("node", "");
    std::string field = j.value("field", "");
    if (!field.empty()) where += (where.empty() ? "" : ".") + field;
    return "Fix the scenario first: " + where + (where.empty() ? "" : ": ") + j.value("message", "");
}

}  // namespace

SimulationOutcome simulate_request(const SimulationRequest& request) {
    SimulationOutcome out;
    SimulationDocuments docs;
    docs.scenario = request.scenario;
    docs.contacts = json::array({request.contact});
    docs.history = voucher_history(request, out.error);
    if (!out.error.empty()) return out;
    docs.events = json::array({request.event});
    docs.campaigns = request.campaigns;
    docs.templates = usable_templates(request.templates);
    docs.fast_forward = request.fast_forward;
    docs.trace = true;
    auto runs = simulate_documents(docs);
    if (!runs) {
        out.error = readable(runs.error());
        return out;
    }
    out.runs = *runs;
    for (const auto& line : out.runs) {
        if (!line.contains("emails") || !line["emails"].is_array()) continue;
        for (const auto& m : line["emails"]) {
            RenderedEmail e;
            e.effect = m.value("effect", "");
            e.template_id = m.value("template", "");
            e.locale = m.value("locale", "");
            e.rtl = m.value("dir", "ltr") == "rtl";
            e.subject = m.value("subject", "");
            e.html = m.value("html", "");
            e.error = m.value("error", "");
            for (const auto& effect : line.value("effects", json::array())) {
                if (effect.value("key", "") != e.effect) continue;
                e.node = effect.value("node", "");
                if (effect.contains("params") && effect["params"].is_object()) e.to = effect["params"].value("to", "");
            }
            out.emails.push_back(std::move(e));
        }
    }
    return out;
}

SampleSetOutcome simulate_sample_set(const SimulationRequest& request) {
    SampleSetOutcome out;
    auto at = parse_time(request.event.value("time", ""));
    if (!at) {
        out.error = "event time: must be an RFC 3339 time";
        return out;
    }
    json set = sample_set(*at);
    SimulationDocuments docs;
    docs.scenario = request.scenario;
    docs.contacts = set["contacts"];
    docs.events = set["events"];
    docs.campaigns = request.campaigns;
    docs.fast_forward = request.fast_forward;
    auto runs = simulate_documents(docs);
    if (!runs) {
        out.error = readable(runs.error());
        return out;
    }
    out.contacts = static_cast<long>(docs.events.size());
    for (const auto& line : *runs)
        if (line.value("entered", false) && !line.value("resumed", false)) ++out.entered;
    for (const auto& [node, count] : passes_by_node(*runs)) out.pass_counts[node] = count;
    return out;
}

}  // namespace closeloop::web
