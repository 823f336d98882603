// What the builder needs besides scenarios: GET /api/v1/roles (for the role pickers),
// GET /api/v1/examples (the shipped scenarios, compiled in) and
// POST /api/v1/examples/{id}/install (a draft from one, with the templates and voucher
// campaigns it names that the workspace lacks).
#include <algorithm>
#include <set>

#include "api.h"
#include "api_json.h"
#include "closeloop/detail/json_read.h"
#include "closeloop/render.h"
#include "closeloop/voucher.h"
#include "embedded_files.h"

namespace closeloop::server {

using nlohmann::json;

namespace {

// Roles every workspace starts with (DOMAIN.md's call centre, care manager and VIP care);
// `owner` is not a role but the contact's owner, which create_task also takes.
const std::vector<std::string> default_roles = {"call_center_agent", "care_manager", "vip_care"};

bool is_address(const std::string& s) {
    return s.find('@') != std::string::npos;
}

// Roles a scenario names: notify's role, create_task's assignee when it is neither the owner
// nor an address.
void collect_roles(const json& scenario, std::set<std::string>& out) {
    const auto nodes = scenario.find("nodes");
    if (nodes == scenario.end() || !nodes->is_array()) return;
    for (const auto& n : *nodes) {
        if (!n.is_object()) continue;
        const auto params = n.find("params");
        if (params == n.end() || !params->is_object()) continue;
        const std::string action = n.value("action", "");
        const char* field = action == "notify" ? "role" : action == "create_task" ? "assignee" : nullptr;
        if (!field) continue;
        const auto v = params->find(field);
        if (v == params->end() || !v->is_string()) continue;
        const std::string role = v->get<std::string>();
        if (!role.empty() && role != "owner" && !is_address(role) && role.size() <= 64) out.insert(role);
    }
}

void list_roles(Api& api, Call& call) {
    const WorkspaceId ws = call.caller.workspace;
    std::set<std::string> roles(default_roles.begin(), default_roles.end());
    for (const auto& s : api.store.scenarios(ws)) collect_roles(s.document, roles);
    TaskQuery q;
    q.limit = 1000;
    for (const auto& t : api.store.tasks(ws, q))
        if (!t.role.empty()) roles.insert(t.role);
    send_json(call.res, 200, {{"roles", json(std::vector<std::string>(roles.begin(), roles.end()))}});
}

// ---- examples ------------------------------------------------------------------------------

struct Example {
    std::string id;
    json scenario;
    std::vector<std::string> templates, campaigns;  // of the shipped ones, those it names
};

struct Examples {
    std::vector<Example> scenarios;
    std::map<std::string, json> templates, campaigns;
};

bool names(const std::string& text, const std::string& id) {
    return text.find("\"" + id + "\"") != std::string::npos || text.find("'" + id + "'") != std::string::npos;
}

// Read once from the files compiled in (assets/); what does not parse is left out (the core
// tests check the shipped files).
const Examples& examples() {
    static const Examples all = [] {
        Examples out;
        std::vector<std::pair<std::string, json>> scenarios;
        for (const auto& f : example_assets()) {
            auto doc = detail::parse_json(f.data);
            if (!doc) continue;
            const std::string name(f.name);
            if (name == "campaigns.json" && doc->is_array()) {
                for (const auto& c : *doc)
                    if (c.is_object() && c.contains("id") && c["id"].is_string()) out.campaigns[c["id"]] = c;
            } else if (name.rfind("templates/", 0) == 0 && doc->is_object() && doc->contains("id")) {
                out.templates[doc->value("id", "")] = *doc;
            } else if (name.rfind("scenarios/", 0) == 0 && doc->is_object() && doc->contains("id")) {
                scenarios.emplace_back(doc->value("id", ""), *doc);
            }
        }
        for (auto& [id, doc] : scenarios) {
            Example e{id, std::move(doc), {}, {}};
            const std::string text = e.scenario.dump();
            for (const auto& [tid, t] : out.templates)
                if (names(text, tid)) e.templates.push_back(tid);
            for (const auto& [cid, c] : out.campaigns)
                if (names(text, cid)) e.campaigns.push_back(cid);
            out.scenarios.push_back(std::move(e));
        }
        std::sort(out.scenarios.begin(), out.scenarios.end(),
                  [](const Example& a, const Example& b) { return a.id < b.id; });
        return out;
    }();
    return all;
}

json example_json(const Example& e) {
    const json& s = e.scenario;
    return {{"id", e.id},
            {"name", s.value("name", e.id)},
            {"description", s.contains("description") && s["description"].is_string() ? s["description"] : json("")},
            {"trigger", s.contains("trigger") ? s["trigger"] : json()},
            {"nodes", s.contains("nodes") && s["nodes"].is_array() ? s["nodes"].size() : 0},
            {"templates", e.templates},
            {"campaigns", e.campaigns}};
}

void list_examples(Api&, Call& call) {
    json out = json::array();
    for (const auto& e : examples().scenarios) out.push_back(example_json(e));
    send_json(call.res, 200, {{"examples", std::move(out)}});
}

void install_example(Api& api, Call& call) {
    const Examples& all = examples();
    const auto it = std::find_if(all.scenarios.begin(), all.scenarios.end(),
                                 [&](const Example& e) { return e.id == call.param(1); });
    if (it == all.scenarios.end()) return send_error(call.res, 404, "not_found", "no example with this id", "id");
    std::string new_id = it->id;
    if (!call.body.empty()) {
        auto body = parse_body(call.body);
        if (!body) return send_error(call.res, body.error());
        if (!body->is_object()) return send_error(call.res, 422, "invalid_field", "send {\"id\": \"<new id>\"}", "");
        detail::Fields f(*body, "");
        f.reject_unknown({"id"});
        const auto given = f.string("id", false, 64);
        if (!f.ok()) return send_error(call.res, f.error());
        if (given) new_id = *given;
    }
    if (!is_valid_resource_id(new_id))
        return send_error(call.res, 422, "invalid_field", "must be 1-64 lower-case letters, digits, '_', '-' or '.'",
                          "id");
    const WorkspaceId ws = call.caller.workspace;
    const Time now = api.now();
    json doc = it->scenario;
    doc["id"] = new_id;
    for (const char* server_owned : {"status", "version", "created_at", "updated_at"}) doc.erase(server_owned);
    if (api.store.find_scenario(ws, new_id))
        return send_error(call.res, 409, "exists", "a scenario with this id exists: choose another id", "id");

    // What it needs first, so the draft's errors do not list them as missing.
    json installed_templates = json::array(), installed_campaigns = json::array();
    for (const auto& cid : it->campaigns) {
        if (api.store.find_voucher_campaign(ws, cid)) continue;
        auto campaign = voucher_campaign_from_json(all.campaigns.at(cid), "");
        if (!campaign) continue;
        api.store.save_voucher_campaign(ws, *campaign, now);
        installed_campaigns.push_back(cid);
    }
    for (const auto& tid : it->templates) {
        if (api.store.find_template(ws, tid)) continue;
        api.store.save_template(ws, tid, all.templates.at(tid), now);
        installed_templates.push_back(tid);
    }
    if (api.store.create_scenario(ws, doc, now) == ScenarioSave::exists)
        return send_error(call.res, 409, "exists", "a scenario with this id exists: choose another id", "id");
    const auto stored = api.store.find_scenario(ws, new_id);
    if (!stored) return send_error(call.res, 404, "not_found", "the scenario was deleted meanwhile", "id");
    json out = stored->document;
    out["created_at"] = format_time(stored->created_at);
    out["updated_at"] = format_time(stored->updated_at);
    out["installed"] = {{"templates", installed_templates}, {"campaigns", installed_campaigns}};
    call.res.set_header("ETag", "\"" + std::to_string(stored->version) + "\"");
    send_json(call.res, 201, out);
}

}  // namespace

void add_builder_routes(Router& router, Api& api) {
    router.get("/api/v1/roles", Access::admin, [&api](Call& c) { list_roles(api, c); });
    router.get("/api/v1/examples", Access::admin, [&api](Call& c) { list_examples(api, c); });
    router.post("/api/v1/examples/{id}/install", Access::admin, [&api](Call& c) { install_example(api, c); });
}

}  // namespace closeloop::server
