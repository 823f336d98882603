#include <doctest/doctest.h>

#include <set>

#include "closeloop/actions.h"
#include "closeloop/metrics.h"
#include "scenario_fixtures.h"

using namespace closeloop;
using nlohmann::json;

namespace {

const std::vector<ActionKind> all_kinds = {
    ActionKind::send_email,    ActionKind::assign_voucher, ActionKind::notify,
    ActionKind::webhook,       ActionKind::add_tag,        ActionKind::remove_tag,
    ActionKind::set_attribute, ActionKind::create_task,    ActionKind::send_survey,
};

// A value that fits the param's kind (and names what the test catalog has).
std::string sample(const ParamSpec& p) {
    switch (p.kind) {
        case ParamKind::template_:
            return "Hello {{ contact.first_name }}";
        case ParamKind::expression:
            return "event.score";
        case ParamKind::duration:
            return "P2D";
        case ParamKind::address:
            return "owner";
        case ParamKind::url:
            return "https://hooks.example.com/x";
        case ParamKind::enum_:
            return std::string(p.values.front());
        case ParamKind::text:
            break;
    }
    if (p.picker == "voucher_campaign_id") return "nps-apology-20";
    if (p.picker == "endpoint_id") return "slack-nps";
    return "x";
}

// A one-node scenario on nps_response with the given action and params.
json scenario_with(ActionKind kind, const json& params) {
    return {{"id", "s"},
            {"name", "S"},
            {"trigger", {{"event", "nps_response"}}},
            {"start", "a"},
            {"nodes", json::array({{{"id", "a"},
                                    {"type", "action"},
                                    {"action", std::string(to_string(kind))},
                                    {"params", params},
                                    {"next", nullptr}}})}};
}

json required_params(const ActionSpec& spec) {
    json params = json::object();
    for (const auto& p : spec.params)
        if (p.required) params[std::string(p.name)] = sample(p);
    return params;
}

std::set<std::string> fields_of(const std::vector<ScenarioError>& errors) {
    std::set<std::string> out;
    for (const auto& e : errors) out.insert(e.node + "|" + e.field);
    return out;
}

// Runs the action's one-node scenario for a contact with an owner and an e-mail address.
StepResult run_action(ActionKind kind, const json& params) {
    auto loaded = load_scenario(scenario_with(kind, params));
    REQUIRE(loaded.errors.empty());
    const auto campaigns = fixtures::campaigns();
    MemoryHistory history;
    DeterministicCodes codes;
    const auto event = fixtures::nps("e1", "c1", 4, "2026-11-20T10:00:00Z");
    const StepContext ctx{loaded.scenario, history, history, codes, campaigns, nullptr, *event.time};
    return start_run(ctx, "run-1", event, fixtures::contact("c1", "Lost"));
}

}  // namespace

TEST_CASE("actions: one entry per kind, in the enum's order, names read both ways") {
    CHECK(all_kinds.size() == action_specs_json().size());
    for (const ActionKind kind : all_kinds) {
        const ActionSpec& spec = action_spec(kind);
        CHECK(spec.kind == kind);
        CHECK(action_kind_of(spec.name) == kind);
        CHECK(to_string(kind) == spec.name);
    }
    CHECK_FALSE(action_kind_of("send_sms"));
    CHECK(
        action_kind_names() ==
        "send_email, assign_voucher, notify, webhook, add_tag, remove_tag, set_attribute, create_task or send_survey");
}

TEST_CASE("actions: the spec and loading agree: every required param missing is named params.<name>") {
    for (const ActionKind kind : all_kinds) {
        const ActionSpec& spec = action_spec(kind);
        CAPTURE(spec.name);
        const json full = required_params(spec);
        CHECK(load_scenario(scenario_with(kind, full)).errors.empty());
        for (const auto& p : spec.params) {
            if (!p.required) continue;
            json missing = full;
            missing.erase(std::string(p.name));
            const auto errors = load_scenario(scenario_with(kind, missing)).errors;
            REQUIRE(errors.size() == 1);
            CHECK(errors[0].node == "a");
            CHECK(errors[0].field == "params." + std::string(p.name));
            CHECK(errors[0].message == "is required for " + std::string(spec.name));
        }
        json unknown = full;
        unknown["colour"] = "red";
        CHECK(fields_of(load_scenario(scenario_with(kind, unknown)).errors) ==
              std::set<std::string>{"a|params.colour"});
    }
}

TEST_CASE("actions: a value of each param's kind validates; a wrong one is named") {
    const auto campaigns = fixtures::campaigns();
    const Catalog catalog{nullptr, &campaigns};
    for (const ActionKind kind : all_kinds) {
        const ActionSpec& spec = action_spec(kind);
        CAPTURE(spec.name);
        json all = json::object();
        for (const auto& p : spec.params) all[std::string(p.name)] = sample(p);
        CHECK(validate_document(scenario_with(kind, all), catalog).empty());
        for (const auto& p : spec.params) {
            if (p.kind == ParamKind::text || p.kind == ParamKind::template_) continue;
            CAPTURE(p.name);
            json wrong = all;
            wrong[std::string(p.name)] = p.kind == ParamKind::expression ? "event.nope" : "nope nope";
            const auto errors = validate_document(scenario_with(kind, wrong), catalog);
            CHECK(fields_of(errors).count("a|params." + std::string(p.name)) == 1);
        }
    }
}

TEST_CASE("actions: a picker's value must exist in the catalog") {
    const auto campaigns = fixtures::campaigns();
    const std::map<std::string, MessageTemplate> templates;
    const Catalog catalog{&templates, &campaigns};
    const auto voucher = validate_document(scenario_with(ActionKind::assign_voucher, {{"campaign", "gone"}}), catalog);
    REQUIRE(voucher.size() == 1);
    CHECK(voucher[0].message == "names no voucher campaign: gone");
    const auto mail = validate_document(scenario_with(ActionKind::send_email, {{"template", "gone"}}), catalog);
    REQUIRE(mail.size() == 1);
    CHECK(json(mail[0]) == json{{"node", "a"}, {"field", "params.template"}, {"message", "names no template: gone"}});
}

TEST_CASE("actions: a webhook names an endpoint, checked when the endpoints are known") {
    const json hook = {{"endpoint", "slack-nps"}, {"message", "NPS {{event.score}}"}};
    SUBCASE("unknown endpoints are not checked") {
        CHECK(validate_document(scenario_with(ActionKind::webhook, hook), Catalog{}).empty());
    }
    SUBCASE("a known endpoint passes, another is named") {
        const std::set<std::string> endpoints = {"slack-nps", "teams-cx"};
        Catalog catalog;
        catalog.endpoints = &endpoints;
        CHECK(validate_document(scenario_with(ActionKind::webhook, hook), catalog).empty());
        json other = hook;
        other["endpoint"] = "slack-gone";
        const auto errors = validate_document(scenario_with(ActionKind::webhook, other), catalog);
        REQUIRE(errors.size() == 1);
        CHECK(json(errors[0]) ==
              json{{"node", "a"}, {"field", "params.endpoint"}, {"message", "there is no endpoint slack-gone"}});
    }
    SUBCASE("the first contract's channel / url / url_secret are refused with what to write instead") {
        for (const char* old : {"channel", "url", "url_secret"}) {
            CAPTURE(old);
            json params = hook;
            params[old] = "slack";
            const auto errors = load_scenario(scenario_with(ActionKind::webhook, params)).errors;
            REQUIRE(errors.size() == 1);
            CHECK(errors[0].field == std::string("params.") + old);
            CHECK(errors[0].message.find("params.endpoint") != std::string::npos);
            CHECK(errors[0].message.find("no URL or secret") != std::string::npos);
        }
    }
    SUBCASE("the effect carries the endpoint and the rendered message, nothing else") {
        const StepResult r = run_action(ActionKind::webhook, hook);
        REQUIRE(r.effects.size() == 1);
        CHECK(params_json(r.effects[0]) == json{{"endpoint", "slack-nps"}, {"message", "NPS 4"}});
    }
}

TEST_CASE("actions: the specs JSON is what the builder's inspector reads") {
    const json specs = action_specs_json();
    REQUIRE(specs.is_array());
    const std::set<std::string> kinds = {"text", "template", "expression", "duration", "address", "url", "enum"};
    for (const json& a : specs) {
        CAPTURE(a.dump());
        REQUIRE(a["action"].is_string());
        REQUIRE(a["params"].is_array());
        for (const json& p : a["params"]) {
            CHECK(p["name"].is_string());
            CHECK(kinds.count(p["kind"].get<std::string>()) == 1);
            CHECK(p["required"].is_boolean());
            CHECK(p.contains("values") == (p["kind"] == "enum"));
            if (p.contains("picker")) CHECK(p["picker"].is_string());
        }
    }
    CHECK(specs[0] == json::parse(R"({"action": "send_email", "params": [
        {"name": "template", "kind": "text", "required": true, "picker": "template_id"},
        {"name": "to", "kind": "address", "required": false, "fallback": "contact"},
        {"name": "from", "kind": "text", "required": false},
        {"name": "cc", "kind": "address", "required": false}]})"));
    CHECK(specs[3] == json::parse(R"({"action": "webhook", "params": [
        {"name": "endpoint", "kind": "text", "required": true, "picker": "endpoint_id"},
        {"name": "message", "kind": "template", "required": true}]})"));
}

TEST_CASE("actions: each effect's params JSON holds its typed params under the contract's names") {
    const std::map<ActionKind, std::set<std::string>> keys = {
        {ActionKind::send_email, {"template", "to", "from", "cc", "locale"}},
        {ActionKind::assign_voucher, {"code", "campaign", "value", "currency", "assigned_at", "expires_at"}},
        {ActionKind::notify, {"role", "message"}},
        {ActionKind::webhook, {"endpoint", "message"}},
        {ActionKind::add_tag, {"tag"}},
        {ActionKind::remove_tag, {"tag"}},
        {ActionKind::set_attribute, {"name", "value"}},
        {ActionKind::create_task, {"assignee", "title", "description", "due"}},
        {ActionKind::send_survey, {"survey", "channel", "to", "locale"}},
    };
    for (const ActionKind kind : all_kinds) {
        const ActionSpec& spec = action_spec(kind);
        CAPTURE(spec.name);
        json all = json::object();
        for (const auto& p : spec.params) all[std::string(p.name)] = sample(p);
        const StepResult r = run_action(kind, all);
        REQUIRE(r.effects.size() == 1);
        const Effect& e = r.effects[0];
        CHECK(e.kind == kind);
        const json j = params_json(e);
        std::set<std::string> written;
        for (const auto& [k, _] : j.items()) written.insert(k);
        CHECK(written == keys.at(kind));
        // The JSON says what the typed params say.
        std::visit(
            [&](const auto& p) {
                using P = std::decay_t<decltype(p)>;
                if constexpr (std::is_same_v<P, SendEmail>) {
                    CHECK(j["to"] == p.to);
                    CHECK(p.to == "petr@brand.cz");  // "owner" resolved
                    CHECK(j["template"] == p.template_id);
                } else if constexpr (std::is_same_v<P, AssignVoucher>) {
                    CHECK(j["code"] == p.voucher.code);
                    CHECK(j["expires_at"] == format_time(p.voucher.expires_at));
                } else if constexpr (std::is_same_v<P, Notify>) {
                    CHECK(j["message"] == p.message);
                    CHECK(p.message == "Hello Jana");
                } else if constexpr (std::is_same_v<P, Webhook>) {
                    CHECK(j["endpoint"] == p.endpoint);
                } else if constexpr (std::is_same_v<P, TagChange>) {
                    CHECK(j["tag"] == p.tag);
                } else if constexpr (std::is_same_v<P, SetAttribute>) {
                    CHECK(j["value"] == json(p.value));
                    CHECK(p.value == Value::number(4));
                } else if constexpr (std::is_same_v<P, CreateTask>) {
                    CHECK(j["due"] == "2026-11-22T10:00:00Z");
                    CHECK(j["assignee"] == p.assignee);
                } else if constexpr (std::is_same_v<P, SendSurvey>) {
                    CHECK(j["channel"] == "email");
                    CHECK(j["to"] == p.to);
                }
            },
            e.params);
        const json whole = e;
        CHECK(whole["kind"] == spec.name);
        CHECK(whole["params"] == j);
    }
}

TEST_CASE("actions: a task from notify and create_task, in a person's or a role's inbox") {
    Effect notify;
    notify.kind = ActionKind::notify;
    notify.params = Notify{"call_center_agent", "Call Jana back\nShe scored 3."};
    const auto a = task_of(notify);
    REQUIRE(a);
    CHECK(a->role == "call_center_agent");
    CHECK(a->assignee.empty());
    CHECK(a->title == "Call Jana back");
    CHECK(a->message == "Call Jana back\nShe scored 3.");

    Effect task;
    task.kind = ActionKind::create_task;
    task.params = CreateTask{"petr@brand.cz", std::string(196, 'x') + "\xC3\xA9\xC3\xA9\xC3\xA9", "why", Time{5}};
    const auto b = task_of(task);
    REQUIRE(b);
    CHECK(b->assignee == "petr@brand.cz");
    CHECK(b->role.empty());
    CHECK(b->title == std::string(196, 'x') + "...");  // 200 bytes at most, and the cut never splits é
    CHECK(b->message == "why");
    CHECK(b->due == Time{5});

    task.params = CreateTask{"sales", "", "", std::nullopt};
    CHECK(task_of(task)->role == "sales");
    CHECK(task_of(task)->title == "Scenario notification");

    Effect tag;
    tag.kind = ActionKind::add_tag;
    tag.params = TagChange{"vip"};
    CHECK_FALSE(task_of(tag));
}

TEST_CASE("enum tables: every enum's names read back to the same value, unknown names are refused") {
    for (auto s : {ScenarioStatus::draft, ScenarioStatus::active, ScenarioStatus::paused})
        CHECK(scenario_status_of(to_string(s)) == s);
    for (auto k : {NodeKind::condition, NodeKind::switch_, NodeKind::split, NodeKind::wait, NodeKind::action})
        CHECK(node_kind_of(to_string(k)) == k);
    for (auto p : {ReentryPolicy::always, ReentryPolicy::once, ReentryPolicy::cooldown})
        CHECK(reentry_policy_of(to_string(p)) == p);
    for (auto r : {RunStatus::waiting, RunStatus::done, RunStatus::failed}) CHECK(run_status_of(to_string(r)) == r);
    for (auto i : {Interval::day, Interval::week, Interval::month, Interval::quarter})
        CHECK(parse_interval(interval_name(i)).value() == i);
    CHECK(to_string(NodeKind::switch_) == "switch");
    CHECK_FALSE(node_kind_of("switch_"));
    CHECK_FALSE(scenario_status_of(""));
    CHECK_FALSE(run_status_of("Waiting"));
    CHECK(parse_interval("year").error().message == "must be day, week, month or quarter");
}
