// closeloop builder — what the simulator panel asks of core, in one place: a run of the
// document being edited for one sample contact and event (with the e-mails it sends rendered),
// and the sample set. Plain data in and out; every rule is core's.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace closeloop::web {

struct SimulationRequest {
    nlohmann::json scenario, contact, event;  // documents as the contract writes them
    // Vouchers the contact was given before: (campaign id, RFC 3339 time).
    std::vector<std::pair<std::string, std::string>> voucher_history;
    nlohmann::json templates, campaigns;  // the workspace's, as the API lists them; null = not known
    bool fast_forward = false;
};

struct RenderedEmail {
    std::string effect, node, template_id, to, locale, subject, html;
    std::string error;  // why it could not be rendered
    bool rtl = false;
};

struct SimulationOutcome {
    nlohmann::json runs;  // the JSON array of runs, as `closeloop simulate --trace` prints them
    std::vector<RenderedEmail> emails;
    std::string error;  // why nothing ran ("" = it ran)
};

struct SampleSetOutcome {
    long contacts = 0, entered = 0;
    std::map<std::string, long> pass_counts;  // node id -> runs that passed through it
    std::string error;
};

SimulationOutcome simulate_request(const SimulationRequest& request);
SampleSetOutcome simulate_sample_set(const SimulationRequest& request);

}  // namespace closeloop::web
