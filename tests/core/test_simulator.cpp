#include <doctest/doctest.h>

#include "scenario_fixtures.h"

using namespace closeloop;
using nlohmann::json;

namespace {

SimulationInput recovery_input(const Scenario& s) {
    SimulationInput in;
    in.scenario = &s;
    in.campaigns = fixtures::campaigns();
    in.contacts = {fixtures::contact("lost", "Lost"), fixtures::contact("risk", "At Risk"),
                   fixtures::contact("champ", "Champions", true), fixtures::contact("used", "Promising")};
    in.history = {fixtures::voucher_assigned("used", "2026-08-20T10:00:00Z", "2026-10-20T10:00:00Z")};
    in.events = {fixtures::nps("e-lost", "lost", 3, "2026-11-20T10:00:00Z"),
                 fixtures::nps("e-risk", "risk", 5, "2026-11-20T11:00:00Z"),
                 fixtures::nps("e-champ", "champ", 1, "2026-11-20T12:00:00Z"),
                 fixtures::nps("e-used", "used", 4, "2026-11-20T13:00:00Z"),
                 fixtures::nps("e-happy", "risk", 10, "2026-11-20T14:00:00Z")};
    return in;
}

}  // namespace

TEST_CASE("simulate: each tier with fast-forward") {
    const Scenario s = fixtures::recovery();
    SimulationInput in = recovery_input(s);
    in.fast_forward = true;
    auto out = simulate(in);
    REQUIRE(out.ok());
    REQUIRE(out->size() == 5);
    const auto& lost = (*out)[0];
    CHECK(lost.path == std::vector<std::string>{"had_voucher", "segment", "mail_plain"});
    const auto& risk = (*out)[1];
    CHECK(risk.path == std::vector<std::string>{"had_voucher", "segment", "give_voucher", "mail_voucher", "wait_expiry",
                                                "still_unused", "mail_reminder"});
    CHECK(risk.state == RunStatus::done);
    REQUIRE(risk.effects.size() == 3);
    CHECK(params_json(risk.effects[2])["template"] == "voucher-reminder");
    const auto& champ = (*out)[2];
    CHECK(champ.path.back() == "call");
    const auto& used = (*out)[3];  // the apology voucher 3 months ago: plain apology
    CHECK(used.path == std::vector<std::string>{"had_voucher", "mail_plain"});
    const auto& happy = (*out)[4];
    CHECK_FALSE(happy.entered);
    CHECK(happy.reason.find("trigger.when is false") != std::string::npos);

    const json line = risk;
    CHECK(line["state"] == "done");
    CHECK(line["wake_at"].is_null());
    CHECK(line["event"] == "e-risk");
}

TEST_CASE("simulate: without fast-forward a run waits, and wakes when a later event passes its time") {
    const Scenario s = fixtures::recovery();
    SimulationInput in = recovery_input(s);
    auto waiting = simulate(in);
    REQUIRE(waiting.ok());
    CHECK((*waiting)[1].state == RunStatus::waiting);
    CHECK(json((*waiting)[1])["wake_at"] == "2027-01-10T11:00:00Z");

    // A later event (a redemption before the wake time, then anything after it) wakes the run.
    Event redeem;
    redeem.id = "r1";
    redeem.type = "voucher_redeemed";
    redeem.kind = EventType::voucher_redeemed;
    redeem.contact.id = "risk";
    redeem.time = fixtures::at("2026-12-24T09:00:00Z");
    redeem.data = {{"campaign", "nps-apology-20"}};
    in.events.push_back(redeem);
    in.events.push_back(fixtures::nps("e-late", "lost", 9, "2027-02-01T00:00:00Z"));
    auto out = simulate(in);
    REQUIRE(out.ok());
    const auto woke = std::find_if(out->begin(), out->end(), [](const SimulatedRun& r) { return r.resumed; });
    REQUIRE(woke != out->end());
    CHECK(woke->event == "e-risk");
    CHECK(woke->path.back() == "still_unused");  // redeemed: no reminder
    CHECK(woke->effects.empty());
}

TEST_CASE("simulate: a contact whose run waits does not enter again until the run has woken") {
    const Scenario s = fixtures::recovery();
    SimulationInput in = recovery_input(s);
    // "risk" waits until 2027-01-10T11:00:00Z; past the 30-day cooldown it answers low twice,
    // once while that run waits and once after it has woken and ended.
    in.events.push_back(fixtures::nps("e-risk-waiting", "risk", 2, "2026-12-25T10:00:00Z"));
    in.events.push_back(fixtures::nps("e-risk-after", "risk", 2, "2027-02-01T10:00:00Z"));
    auto out = simulate(in);
    REQUIRE(out.ok());
    const auto line = [&](const std::string& event, bool resumed) {
        const auto it = std::find_if(out->begin(), out->end(),
                                     [&](const SimulatedRun& r) { return r.event == event && r.resumed == resumed; });
        REQUIRE(it != out->end());
        return *it;
    };
    const SimulatedRun refused = line("e-risk-waiting", false);
    CHECK_FALSE(refused.entered);
    CHECK(refused.reason == "the contact already has a live run of this scenario");
    CHECK(line("e-risk", true).state == RunStatus::done);
    const SimulatedRun again = line("e-risk-after", false);
    CHECK(again.entered);
    CHECK(again.path == std::vector<std::string>{"had_voucher", "mail_plain"});
}

TEST_CASE("simulate: an assigned voucher is in the history of later answers (anti-abuse)") {
    const Scenario s = fixtures::recovery();
    SimulationInput in = recovery_input(s);
    in.fast_forward = true;
    // The same contact answers low again after the 30-day cooldown, within 183 days.
    in.events.push_back(fixtures::nps("e-risk-2", "risk", 2, "2027-03-01T10:00:00Z"));
    auto out = simulate(in);
    REQUIRE(out.ok());
    const auto& again = out->back();
    CHECK(again.entered);
    CHECK(again.path == std::vector<std::string>{"had_voucher", "mail_plain"});
}

TEST_CASE("simulate: a fast-forwarded wait sees the events up to its wake time, and none after") {
    const Scenario s = fixtures::recovery();
    SimulationInput in = recovery_input(s);
    in.fast_forward = true;
    Event redeem;
    redeem.id = "r1";
    redeem.type = "voucher_redeemed";
    redeem.kind = EventType::voucher_redeemed;
    redeem.contact.id = "risk";
    redeem.data = {{"campaign", "nps-apology-20"}};
    SUBCASE("redeemed four days after the answer: no reminder") {
        redeem.time = fixtures::at("2026-11-24T09:00:00Z");
        in.events.push_back(redeem);
        auto out = simulate(in);
        REQUIRE(out.ok());
        CHECK((*out)[1].path.back() == "still_unused");
        CHECK((*out)[1].effects.size() == 2);
    }
    SUBCASE("redeemed after the wake time: the reminder went before") {
        redeem.time = fixtures::at("2027-01-15T09:00:00Z");
        in.events.push_back(redeem);
        auto out = simulate(in);
        REQUIRE(out.ok());
        CHECK((*out)[1].path.back() == "mail_reminder");
    }
}

TEST_CASE("simulate: events need a time") {
    const Scenario s = fixtures::recovery();
    SimulationInput in = recovery_input(s);
    in.events[2].time.reset();
    auto out = simulate(in);
    REQUIRE_FALSE(out.ok());
    CHECK(out.error().path == "events[2].time");
}
