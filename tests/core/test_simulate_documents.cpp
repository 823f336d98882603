// simulator.h, documents: JSON in, the lines of `closeloop simulate` out (the browser's one
// call); e-mails rendered in the contact's locale; render.h's text_direction.
#include <doctest/doctest.h>

#include "embedded_assets.h"
#include "scenario_fixtures.h"

using namespace closeloop;
using nlohmann::json;

namespace {

json asset(const std::string& path) {
    for (const auto& a : embedded_assets())
        if (a.path == path) return *detail::parse_json(a.text);
    FAIL("no asset " << path);
    return json();
}

json shipped_templates() {
    json out = json::array();
    for (const auto& a : embedded_assets())
        if (a.path.find("assets/templates/") == 0) out.push_back(*detail::parse_json(a.text));
    return out;
}

// A Hebrew locale beside English, for the right-to-left direction.
json hebrew_apology() {
    return json::parse(R"({ "id": "nps-apology", "name": "Apology", "fallback_locale": "en",
      "from": "Wylde <care@wylde.example>",
      "locales": {
        "en": { "subject": "Sorry, {{contact.first_name}}", "html": "<p>{{contact.first_name}}: {{event.score}}</p>", "text": "Score {{event.score}}" },
        "he": { "subject": "סליחה, {{contact.first_name}}", "html": "<p>ציון {{event.score}}</p>", "text": "ציון {{event.score}}" } } })");
}

SimulationDocuments recovery_documents() {
    SimulationDocuments d;
    d.scenario = asset("assets/scenarios/nps-recovery.json");
    d.campaigns = asset("assets/campaigns.json");
    d.contacts = json::parse(R"([
      { "id": "jana", "email": "jana@example.cz", "first_name": "Jana", "locale": "cs",
        "rfm": { "r": 1, "f": 1, "m": 1, "segment": "Lost" } },
      { "id": "noa", "email": "noa@example.com", "first_name": "Noa", "locale": "he-IL",
        "rfm": { "r": 3, "f": 3, "m": 3, "segment": "Need Attention" } },
      { "id": "emma", "email": "emma@example.com", "first_name": "Emma <b>", "locale": "en",
        "rfm": { "r": 5, "f": 5, "m": 5, "segment": "Champions" } } ])");
    d.history = json::parse(R"([{ "id": "old", "type": "purchase", "time": "2026-10-01T10:00:00Z",
        "contact": "jana", "data": { "order_id": "o-1", "amount": 20, "currency": "EUR" } }])");
    d.events = json::parse(R"([
      { "id": "e1", "type": "nps_response", "time": "2026-11-20T10:00:00Z", "contact": "jana", "data": { "score": 3 } },
      { "id": "e2", "type": "nps_response", "time": "2026-11-20T11:00:00Z", "contact": "noa", "data": { "score": 5 } },
      { "id": "e3", "type": "nps_response", "time": "2026-11-20T12:00:00Z", "contact": "emma", "data": { "score": 9 } },
      { "id": "e4", "type": "nps_response", "time": "2026-11-20T13:00:00Z", "contact": "emma", "data": { "score": 2 } } ])");
    return d;
}

// The same input through the typed simulate() and the one line conversion.
json typed_lines(const SimulationDocuments& d) {
    auto loaded = load_scenario(d.scenario);
    REQUIRE(loaded.errors.empty());
    SimulationInput in;
    in.scenario = &loaded.scenario;
    in.fast_forward = d.fast_forward;
    in.links = simulated_links();
    for (const auto& c : d.contacts) in.contacts.push_back(*contact_from_json(c));
    for (const auto& e : d.history) in.history.push_back(*event_from_json(e));
    for (const auto& e : d.events) in.events.push_back(*event_from_json(e));
    for (const auto& c : d.campaigns) {
        auto campaign = *voucher_campaign_from_json(c);
        in.campaigns.emplace(campaign.id, campaign);
    }
    json out = json::array();
    auto n = simulate(std::move(in), [&](SimulatedRun& r) { out.push_back(simulated_run_json(r, d.trace)); });
    REQUIRE(n.ok());
    return out;
}

}  // namespace

TEST_CASE("simulate_documents gives the lines of closeloop simulate") {
    for (const bool fast : {false, true})
        for (const bool trace : {false, true}) {
            CAPTURE(fast);
            CAPTURE(trace);
            SimulationDocuments d = recovery_documents();
            d.fast_forward = fast;
            d.trace = trace;
            auto out = simulate_documents(d);
            REQUIRE(out.ok());
            CHECK(*out == typed_lines(d));
            CHECK(out->size() >= 4);
            for (const auto& line : *out) {
                CHECK(line.contains("trace") == trace);
                CHECK_FALSE(line.contains("emails"));  // no templates given
            }
        }
    SimulationDocuments d = recovery_documents();
    d.fast_forward = true;
    const json out = *simulate_documents(d);
    CHECK(out[0]["path"] == json::parse(R"(["had_voucher", "segment", "mail_plain"])"));
    CHECK(out[2]["entered"] == false);  // a score of 9
    CHECK(out[3]["path"].back() == "call");

    SUBCASE("inputs not given are empty") {
        SimulationDocuments bare;
        bare.scenario = d.scenario;
        bare.events = d.events;
        auto lines = simulate_documents(bare);
        REQUIRE(lines.ok());
        CHECK(lines->size() == 4);
    }
}

TEST_CASE("simulate_documents: errors name the field") {
    const auto error_of = [](const SimulationDocuments& d) {
        auto out = simulate_documents(d);
        CHECK_FALSE(out.ok());
        return out.ok() ? Error{} : out.error();
    };
    SimulationDocuments d = recovery_documents();
    d.events[2].erase("time");
    CHECK(error_of(d).what() == "events[2].time: is required to simulate");
    d = recovery_documents();
    d.history[0].erase("time");
    CHECK(error_of(d).what() == "history[0].time: is required to simulate");
    d = recovery_documents();
    d.events[1]["data"]["score"] = 11;
    CHECK(error_of(d).path == "events[1].data.score");
    d = recovery_documents();
    d.contacts[1]["emial"] = "x";
    CHECK(error_of(d).path == "contacts[1].emial");
    d = recovery_documents();
    d.campaigns = json::object();
    CHECK(error_of(d).what() == "campaigns: must be a JSON array");
    d = recovery_documents();
    d.campaigns[0].erase("value");
    CHECK(error_of(d).path.find("campaigns[0]") == 0);
    d = recovery_documents();
    d.templates = json::array({json{{"id", "x"}}});
    CHECK(error_of(d).path.find("templates[0]") == 0);

    SUBCASE("scenario errors as closeloop simulate prints them") {
        d = recovery_documents();
        d.scenario["nodes"][0]["if"] = "event.score <";
        const Error e = error_of(d);
        CHECK(e.code == "invalid_scenario");
        CHECK(e.path == "scenario");
        const json first = json::parse(e.message.substr(0, e.message.find('\n')));
        CHECK(first["node"] == "had_voucher");
        CHECK(first["field"] == "if");
        // validation too: the campaign must exist when campaigns are given
        d = recovery_documents();
        d.campaigns = json::array();
        CHECK(error_of(d).message.find("nps-apology-20") != std::string::npos);
        // ... and is not checked when they are not
        d.campaigns = nullptr;
        CHECK(simulate_documents(d).ok());
    }
}

TEST_CASE("e-mails rendered in the contact's locale, with the run's context") {
    SimulationDocuments d = recovery_documents();
    d.fast_forward = true;
    d.templates = shipped_templates();
    auto out = simulate_documents(d);
    REQUIRE(out.ok());
    REQUIRE(out->size() == 4);
    // Jana (cs, Lost): the plain apology, in Czech
    const json& jana = (*out)[0];
    REQUIRE(jana["emails"].size() == 1);
    const json& mail = jana["emails"][0];
    CHECK(mail["effect"] == jana["effects"][0]["key"]);
    CHECK(mail["template"] == "nps-apology");
    CHECK(mail["locale"] == "cs");
    CHECK(mail["dir"] == "ltr");
    CHECK(mail["from"] == "Wylde <care@wylde.example>");
    CHECK(mail["subject"].get<std::string>().find("Jana") != std::string::npos);
    CHECK(mail["html"].get<std::string>().find("<div") == 0);
    CHECK_FALSE(mail["text"].get<std::string>().empty());
    CHECK_FALSE(mail.contains("error"));
    // Noa (Need Attention): a voucher and its e-mail, then the reminder after the wait; the
    // voucher's code is in the message
    const json& noa = (*out)[1];
    CHECK(noa["emails"].size() == 2);
    const std::string code = noa["effects"][0]["params"]["code"];
    CHECK(noa["emails"][0]["html"].get<std::string>().find(code) != std::string::npos);
    CHECK(noa["emails"][0]["locale"] == "en");  // no Hebrew in the shipped template: the fallback
    // a line with no e-mail says so
    CHECK((*out)[2]["emails"] == json::array());
    const json& emma = (*out)[3];
    CHECK(emma["path"].back() == "call");
    CHECK(emma["emails"] == json::array());

    SUBCASE("right to left for Hebrew") {
        SimulationDocuments h = recovery_documents();
        h.fast_forward = true;
        h.templates = json::array({hebrew_apology()});
        h.contacts[1]["rfm"]["segment"] = "Lost";
        auto lines = simulate_documents(h);
        REQUIRE(lines.ok());
        const json& hebrew = (*lines)[1]["emails"][0];
        CHECK(hebrew["locale"] == "he");
        CHECK(hebrew["dir"] == "rtl");
        CHECK(hebrew["subject"] == "סליחה, Noa");
        CHECK(hebrew["text"] == "ציון 5");
    }
    SUBCASE("a template that is not given is named") {
        SimulationDocuments h = recovery_documents();
        h.templates = json::array();
        auto lines = simulate_documents(h);
        REQUIRE(lines.ok());
        CHECK((*lines)[0]["emails"][0]["error"] == "there is no template nps-apology");
        CHECK_FALSE((*lines)[0]["emails"][0].contains("html"));
    }
    SUBCASE("values are HTML-escaped in the HTML only") {
        SimulationDocuments h = recovery_documents();
        h.templates = json::array({hebrew_apology()});
        h.contacts[2]["rfm"]["segment"] = "Lost";
        auto lines = simulate_documents(h);
        REQUIRE(lines.ok());
        const json& m = (*lines)[3]["emails"][0];
        CHECK(m["subject"] == "Sorry, Emma <b>");
        CHECK(m["html"] == "<p>Emma &lt;b&gt;: 2</p>");
        CHECK(m["text"] == "Score 2");
    }
}

TEST_CASE("text_direction") {
    CHECK(text_direction("he") == "rtl");
    CHECK(text_direction("he-IL") == "rtl");
    CHECK(text_direction("AR") == "rtl");
    CHECK(text_direction("fa") == "rtl");
    CHECK(text_direction("ur_PK") == "rtl");
    CHECK(text_direction("cs") == "ltr");
    CHECK(text_direction("en") == "ltr");
    CHECK(text_direction("") == "ltr");
    CHECK(text_direction("hr") == "ltr");
}
