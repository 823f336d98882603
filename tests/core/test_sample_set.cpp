// sample_set.h: contacts of every RFM segment with every NPS score, and passes per node.
#include <doctest/doctest.h>

#include <set>

#include "closeloop/sample_set.h"
#include "embedded_assets.h"
#include "scenario_fixtures.h"

using namespace closeloop;
using nlohmann::json;

namespace {

const Time at = fixtures::at("2026-11-20T10:00:00Z");

json asset(const std::string& path) {
    for (const auto& a : embedded_assets())
        if (a.path == path) return *detail::parse_json(a.text);
    FAIL("no asset " << path);
    return json();
}

}  // namespace

TEST_CASE("sample_set: every segment, three variations, every score") {
    const SampleSet s = sample_set(at);
    const SegmentGrid grid = default_segment_grid();
    const std::size_t segments = grid.names().size() + 1;  // and no segment
    CHECK(segments == 12);
    CHECK(s.contacts.size() == segments * 3 * 11);
    CHECK(s.events.size() == s.contacts.size());

    std::map<std::string, std::set<int>> scores_by_segment_and_locale;
    std::set<std::string> ids, event_ids;
    for (std::size_t i = 0; i < s.contacts.size(); ++i) {
        const Contact& c = s.contacts[i];
        const Event& e = s.events[i];
        CHECK(ids.insert(c.id).second);
        CHECK(event_ids.insert(e.id).second);
        CHECK(e.contact.id == c.id);
        CHECK(e.type == "nps_response");
        CHECK(e.time == at);
        const std::string segment = c.rfm ? c.rfm->segment : "";
        if (c.rfm) CHECK(grid.at(c.rfm->r, fm_score(c.rfm->f, c.rfm->m)) == segment);
        REQUIRE(e.score());
        scores_by_segment_and_locale[segment + "/" + c.locale].insert(*e.score());
        // each document reads back as it is (the builder passes them as JSON)
        const json cj = c, ej = e;
        CHECK(contact_from_json(cj).ok());
        CHECK(event_from_json(ej).ok());
    }
    CHECK(scores_by_segment_and_locale.size() == segments * 3);
    for (const auto& entry : scores_by_segment_and_locale) {
        CAPTURE(entry.first);  // (a structured binding cannot be captured with clang 14)
        CHECK(entry.second.size() == 11);
    }
    for (const auto& name : grid.names()) CHECK(scores_by_segment_and_locale.count(name + "/cs"));
    // variations
    std::set<std::string> locales;
    bool vip = false, plain = false, attributes = false;
    for (const auto& c : s.contacts) {
        locales.insert(c.locale);
        vip = vip || c.vip;
        plain = plain || (!c.vip && c.tags.empty() && c.attributes.empty());
        attributes = attributes || c.attributes.contains("plan");
    }
    CHECK(locales == std::set<std::string>{"cs", "en", "he"});
    CHECK(vip);
    CHECK(plain);
    CHECK(attributes);

    // deterministic
    const json a = s, b = sample_set(at);
    CHECK(a == b);
    CHECK(a["contacts"].size() == s.contacts.size());
    CHECK(a != json(sample_set(fixtures::at("2026-11-21T10:00:00Z"))));
    // another grid: its names
    SegmentGrid two = grid;
    for (int r = 1; r <= 5; ++r)
        for (int fm = 1; fm <= 5; ++fm) two.at(r, fm) = r >= 3 ? "High" : "Low";
    CHECK(sample_set(at, two).contacts.size() == 3 * 3 * 11);
}

TEST_CASE("sample set through the recovery scenario: passes per node") {
    SimulationDocuments d;
    d.scenario = asset("assets/scenarios/nps-recovery.json");
    d.campaigns = asset("assets/campaigns.json");
    const json set = sample_set(at);
    d.contacts = set["contacts"];
    d.events = set["events"];
    d.fast_forward = true;
    auto out = simulate_documents(d);
    REQUIRE(out.ok());
    CHECK(out->size() == 396);
    const auto passes = passes_by_node(*out);
    // scores 0-6 enter (event.score < 7): 7 of 11, for 12 segments x 3 variations
    CHECK(passes.at("had_voucher") == 7 * 36);
    CHECK(passes.at("segment") == 7 * 36);                 // no voucher in anyone's history
    CHECK(passes.at("mail_plain") == 7 * 3 * 2);           // Lost, Hibernating
    CHECK(passes.at("call") == 7 * 3 * 3);                 // Champions, Loyal, Cannot Lose
    CHECK(passes.at("give_voucher") == 7 * 3 * (12 - 5));  // the rest, and no segment
    CHECK(passes.at("mail_voucher") == passes.at("give_voucher"));
    CHECK(passes.at("still_unused") == passes.at("give_voucher"));
    CHECK(passes.at("mail_reminder") == passes.at("give_voucher"));
    CHECK(passes.size() == 9);

    // The typed runs count the same.
    auto loaded = load_scenario(d.scenario);
    SimulationInput in;
    in.scenario = &loaded.scenario;
    const SampleSet typed = sample_set(at);
    in.contacts = typed.contacts;
    in.events = typed.events;
    for (const auto& c : d.campaigns) {
        auto campaign = *voucher_campaign_from_json(c);
        in.campaigns.emplace(campaign.id, campaign);
    }
    in.fast_forward = true;
    auto runs = simulate(in);
    REQUIRE(runs.ok());
    CHECK(passes_by_node(*runs) == passes);
}

TEST_CASE("passes_by_node: a run counts once per node, a resumed line continues its run") {
    SimulatedRun first;
    first.event = "e1";
    first.contact = "c1";
    first.entered = true;
    first.path = {"a", "w"};
    SimulatedRun resumed = first;
    resumed.resumed = true;
    resumed.path = {"a", "w", "b", "w", "b"};  // a loop through the wait
    SimulatedRun other;
    other.event = "e2";
    other.contact = "c2";
    other.entered = true;
    other.path = {"a"};
    SimulatedRun skipped;
    skipped.event = "e3";
    skipped.contact = "c3";
    skipped.path = {};
    const std::vector<SimulatedRun> runs = {first, other, resumed, skipped};
    const std::map<std::string, int> expected = {{"a", 2}, {"w", 1}, {"b", 1}};
    CHECK(passes_by_node(runs) == expected);
    json lines = json::array();
    for (const auto& r : runs) lines.push_back(simulated_run_json(r, false));
    CHECK(passes_by_node(lines) == expected);
    CHECK(passes_by_node(json::object()).empty());
    CHECK(passes_by_node(json::array({1, "x", json::object(), json{{"entered", "yes"}, {"path", {"a"}}}})).empty());
}
