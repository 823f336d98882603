#include <doctest/doctest.h>

#include <algorithm>

#include "scenario_fixtures.h"

using namespace closeloop;
using nlohmann::json;

namespace {

// Loads and validates; returns "node|field" of every error, for compact checks.
std::vector<std::string> problems(const json& doc, const Catalog& catalog = {}) {
    std::vector<std::string> out;
    for (const auto& e : validate_document(doc, catalog)) out.push_back(e.node + "|" + e.field);
    return out;
}

bool has(const std::vector<std::string>& list, const std::string& item) {
    return std::find(list.begin(), list.end(), item) != list.end();
}

json node_by_id(json& doc, const std::string& id) {
    for (auto& n : doc["nodes"])
        if (n["id"] == id) return n;
    return nullptr;
}

void set_node(json& doc, const std::string& id, const json& node) {
    for (auto& n : doc["nodes"])
        if (n["id"] == id) n = node;
}

}  // namespace

TEST_CASE("the contract's recovery scenario loads, validates and round-trips") {
    const json doc = fixtures::parse(fixtures::recovery_json);
    auto loaded = load_scenario(doc);
    REQUIRE(loaded.errors.empty());
    const Scenario& s = loaded.scenario;
    CHECK(s.nodes.size() == 9);
    CHECK(s.start == "had_voucher");
    CHECK(s.reentry.policy == ReentryPolicy::cooldown);
    CHECK(s.reentry.days == 30);
    CHECK(s.find("segment")->cases.size() == 2);
    CHECK(s.campaigns() == std::vector<std::string>{"nps-apology-20"});

    const auto campaigns = fixtures::campaigns();
    CHECK(validate(s, Catalog{nullptr, &campaigns}).empty());

    SUBCASE("JSON out keeps every node and the ui block untouched") {
        json back = s;
        CHECK(back["ui"] == doc["ui"]);
        CHECK(back["nodes"] == doc["nodes"]);
        CHECK(back["trigger"] == doc["trigger"]);
        CHECK(back["reentry"] == doc["reentry"]);
        auto again = load_scenario(back);
        CHECK(again.errors.empty());
        CHECK(json(again.scenario) == back);
    }
}

TEST_CASE("validation names the node and the field of each error") {
    json doc = fixtures::parse(fixtures::recovery_json);

    SUBCASE("a reference to a missing node") {
        auto n = node_by_id(doc, "mail_voucher");
        n["next"] = "wait_expiri";
        set_node(doc, "mail_voucher", n);
        const auto p = problems(doc);
        CHECK(has(p, "mail_voucher|next"));
        CHECK(has(p, "wait_expiry|id"));  // now unreachable
    }
    SUBCASE("the start must exist") {
        doc["start"] = "nowhere";
        CHECK(has(problems(doc), "|start"));
    }
    SUBCASE("duplicate ids") {
        doc["nodes"].push_back({{"id", "call"}, {"type", "action"}, {"action", "add_tag"}, {"params", {{"tag", "x"}}}});
        CHECK(has(problems(doc), "call|id"));
    }
    SUBCASE("a loop without a wait is an error; through a wait it is fine") {
        auto n = node_by_id(doc, "mail_reminder");
        n["next"] = "still_unused";
        set_node(doc, "mail_reminder", n);
        // still_unused -> mail_reminder -> still_unused passes no wait
        const auto errors = validate_document(doc, {});
        REQUIRE(errors.size() == 1);
        CHECK(errors[0].node == "mail_reminder");
        CHECK(errors[0].message.find("no wait") != std::string::npos);
    }
    SUBCASE("expressions: syntax errors give the column") {
        auto n = node_by_id(doc, "had_voucher");
        n["if"] = "voucher_assigned_within('nps-apology-20', days(183)";
        set_node(doc, "had_voucher", n);
        const auto errors = validate_document(doc, {});
        REQUIRE(errors.size() == 1);
        CHECK(errors[0].node == "had_voucher");
        CHECK(errors[0].field == "if");
        CHECK(errors[0].column > 0);
    }
    SUBCASE("expressions: an unknown field of a built-in event type") {
        auto n = node_by_id(doc, "had_voucher");
        n["if"] = "event.data.scroe < 3";
        set_node(doc, "had_voucher", n);
        const auto errors = validate_document(doc, {});
        REQUIRE(errors.size() == 1);
        CHECK(errors[0].node == "had_voucher");
        CHECK(errors[0].message.find("scroe") != std::string::npos);
    }
    SUBCASE("a condition must give a boolean, a wait a time") {
        auto n = node_by_id(doc, "had_voucher");
        n["if"] = "event.score";
        set_node(doc, "had_voucher", n);
        auto w = node_by_id(doc, "wait_expiry");
        w["until"] = "voucher.code";
        set_node(doc, "wait_expiry", w);
        const auto p = problems(doc);
        CHECK(has(p, "had_voucher|if"));
        CHECK(has(p, "wait_expiry|until"));
    }
    SUBCASE("custom event types have free data") {
        doc["trigger"] = {{"event", "webinar_attended"}, {"when", "event.data.minutes > 30"}};
        auto n = node_by_id(doc, "had_voucher");
        n["if"] = "event.data.anything == 'x'";
        set_node(doc, "had_voucher", n);
        json call = node_by_id(doc, "call");
        call["params"]["message"] = "Call {{contact.first_name}}";  // event.score does not exist here
        set_node(doc, "call", call);
        CHECK(problems(doc).empty());
    }
    SUBCASE("action params must be complete and known") {
        auto n = node_by_id(doc, "give_voucher");
        n["params"] = {{"campagin", "nps-apology-20"}};
        set_node(doc, "give_voucher", n);
        const auto p = problems(doc);
        CHECK(has(p, "give_voucher|params.campaign"));
        CHECK(has(p, "give_voucher|params.campagin"));
    }
    SUBCASE("templates in text params are checked") {
        json call = node_by_id(doc, "call");
        call["params"]["message"] = "Call {{contact.frist_name}}";
        set_node(doc, "call", call);
        const auto errors = validate_document(doc, {});
        REQUIRE(errors.size() == 1);
        CHECK(errors[0].node == "call");
        CHECK(errors[0].field == "params.message");
        CHECK(errors[0].column > 0);
    }
    SUBCASE("campaigns and templates must exist when the catalog is known") {
        const std::map<std::string, VoucherCampaign> none;
        const std::map<std::string, MessageTemplate> no_templates;
        const auto p = problems(doc, Catalog{&no_templates, &none});
        CHECK(has(p, "give_voucher|params.campaign"));
        CHECK(has(p, "mail_voucher|params.template"));
        CHECK(has(p, "mail_plain|params.template"));
    }
    SUBCASE("wait needs for or until") {
        auto w = node_by_id(doc, "wait_expiry");
        w.erase("until");
        set_node(doc, "wait_expiry", w);
        CHECK(has(problems(doc), "wait_expiry|for"));
    }
    SUBCASE("a split's percents add up to 100") {
        auto n = node_by_id(doc, "mail_plain");
        doc["nodes"].push_back(
            {{"id", "ab"},
             {"type", "split"},
             {"branches", {{{"percent", 50}, {"next", "mail_plain"}}, {{"percent", 40}, {"next", nullptr}}}}});
        auto hv = node_by_id(doc, "had_voucher");
        hv["then"] = "ab";
        set_node(doc, "had_voucher", hv);
        CHECK(has(problems(doc), "ab|branches"));
    }
    SUBCASE("shape errors are all reported, not only the first") {
        json broken = {{"id", "Bad Id"},
                       {"name", "x"},
                       {"trigger", {{"event", "NPS"}}},
                       {"start", "a"},
                       {"nodes", {{{"id", "a"}, {"type", "teleport"}}}},
                       {"colour", "red"}};
        const auto p = problems(broken);
        CHECK(has(p, "|id"));
        CHECK(has(p, "|trigger.event"));
        CHECK(has(p, "a|type"));
        CHECK(has(p, "|colour"));
    }
}

TEST_CASE("cycles: only through a wait") {
    const json looping = fixtures::parse(R"json({ "id": "loop", "name": "loop", "trigger": { "event": "purchase" },
        "start": "a", "nodes": [
          { "id": "a", "type": "action", "action": "add_tag", "params": { "tag": "x" }, "next": "b" },
          { "id": "b", "type": "condition", "if": "has_tag('y')", "then": "a", "else": null } ] })json");
    const auto errors = validate_document(looping, {});
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].message.find("no wait") != std::string::npos);

    const json reminding =
        fixtures::parse(R"json({ "id": "remind", "name": "remind", "trigger": { "event": "purchase" },
        "start": "a", "nodes": [
          { "id": "a", "type": "action", "action": "add_tag", "params": { "tag": "x" }, "next": "w" },
          { "id": "w", "type": "wait", "for": "P7D", "next": "b" },
          { "id": "b", "type": "condition", "if": "count_events('purchase', days(7)) == 0", "then": "a", "else": null } ] })json");
    CHECK(validate_document(reminding, {}).empty());
}

TEST_CASE("waits and due dates are at most max_wait (P2Y), checked by validation, not loading") {
    const auto doc = [](const char* wait, const char* due) {
        json d = fixtures::parse(R"json({ "id": "w", "name": "w", "trigger": { "event": "purchase" },
        "start": "a", "nodes": [
          { "id": "a", "type": "wait", "for": "P1D", "next": "t" },
          { "id": "t", "type": "action", "action": "create_task",
            "params": { "title": "Call", "assignee": "owner", "due": "P1D" }, "next": null } ] })json");
        d["nodes"][0]["for"] = wait;
        d["nodes"][1]["params"]["due"] = due;
        return d;
    };
    CHECK(validate_document(doc("P2Y", "P24M"), {}).empty());
    CHECK(validate_document(doc("P730D", "PT17520H"), {}).empty());

    const auto errors = validate_document(doc("P2YT1S", "P25M"), {});
    REQUIRE(errors.size() == 2);
    CHECK(errors[0].node == "a");
    CHECK(errors[0].field == "for");
    CHECK(errors[0].message.find("max_wait") != std::string::npos);
    CHECK(errors[1].node == "t");
    CHECK(errors[1].field == "params.due");
    CHECK(errors[1].message.find("max_wait") != std::string::npos);

    // A scenario stored with a longer wait still loads (the executor runs what was activated).
    const auto loaded = load_scenario(doc("P5Y", "P1D"));
    CHECK(loaded.errors.empty());
    REQUIRE(loaded.scenario.nodes[0].wait_for);
    CHECK(*loaded.scenario.nodes[0].wait_for == Duration{60, 0, 0});
}
