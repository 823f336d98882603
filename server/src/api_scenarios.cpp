// Scenarios, runs and templates:
//   GET/POST /api/v1/scenarios, GET/PUT/DELETE /api/v1/scenarios/{id},
//   POST /api/v1/scenarios/validate, POST /api/v1/scenarios/{id}/simulate,
//   POST /api/v1/scenarios/{id}/activate, POST /api/v1/scenarios/{id}/pause,
//   GET /api/v1/scenarios/{id}/versions, GET /api/v1/scenarios/{id}/versions/{n},
//   GET /api/v1/scenarios/{id}/diff?from=&to=,
//   GET /api/v1/runs?scenario=&contact=&status=, GET /api/v1/runs/{id},
//   GET/POST /api/v1/templates, GET /api/v1/templates/{id}.
// Loading, validation and simulation are core's (scenario.h, render.h, simulator.h); the
// executor (executor.h) runs what is active.
#include <set>

#include "api.h"
#include "api_json.h"
#include "closeloop/detail/json_read.h"
#include "closeloop/render.h"
#include "closeloop/scenario.h"
#include "closeloop/scenario_edit.h"
#include "closeloop/simulator.h"

namespace closeloop::server {

using nlohmann::json;

namespace {

// ---- the workspace's catalog (what validation checks existence against) ---------------------

struct WorkspaceCatalog {
    std::map<std::string, MessageTemplate> templates;
    std::map<std::string, VoucherCampaign> campaigns;
    std::set<std::string> endpoints;  // webhook endpoints' ids
    Catalog catalog() const { return {&templates, &campaigns, &endpoints}; }
};

WorkspaceCatalog workspace_catalog(Api& api, WorkspaceId ws) {
    WorkspaceCatalog out;
    for (const auto& t : api.store.templates(ws))
        if (auto loaded = template_from_json(t.document)) out.templates.emplace(t.id, std::move(*loaded));
    for (auto& c : api.store.voucher_campaigns(ws)) out.campaigns.emplace(c.campaign.id, std::move(c.campaign));
    for (const auto& e : api.store.endpoints(ws)) out.endpoints.insert(e.id);
    return out;
}

json errors_json(const std::vector<ScenarioError>& errors) {
    json out = json::array();
    for (const auto& e : errors) out.push_back(e);
    return out;
}

// Where an error sits, as one field name: `nodes[give_voucher].params.campaign`, or the
// scenario's own field (`trigger.when`).
std::string error_field(const ScenarioError& e) {
    if (e.node.empty()) return e.field;
    return "nodes[" + e.node + "]" + (e.field.empty() ? "" : "." + e.field);
}

// 422 with the first error in the error JSON (node and field named) and all of them listed.
void send_invalid(httplib::Response& res, const std::vector<ScenarioError>& errors) {
    const ScenarioError& first = errors.front();
    std::string message =
        (first.node.empty() ? "" : first.node + ": ") + (first.field.empty() ? "" : first.field + ": ") + first.message;
    if (errors.size() > 1) message += " (and " + std::to_string(errors.size() - 1) + " more)";
    json err = {{"code", "invalid_scenario"},
                {"message", message},
                {"field", error_field(first)},
                {"node", first.node.empty() ? json() : json(first.node)},
                {"errors", errors_json(errors)}};
    send_json(res, 422, json{{"error", std::move(err)}});
}

// ---- scenarios -----------------------------------------------------------------------------

json scenario_json(const StoredScenario& s, const std::vector<ScenarioError>* errors = nullptr) {
    json j = s.document;
    j["created_at"] = format_time(s.created_at);
    j["updated_at"] = format_time(s.updated_at);
    if (errors) j["errors"] = errors_json(*errors);
    return j;
}

// Optimistic concurrency: GET sends the version as the ETag; a PUT with If-Match saves only
// over that version.
std::string version_etag(int version) {
    return "\"" + std::to_string(version) + "\"";
}

void send_scenario(Call& call, int status, const StoredScenario& s,
                   const std::vector<ScenarioError>* errors = nullptr) {
    call.res.set_header("ETag", version_etag(s.version));
    send_json(call.res, status, scenario_json(s, errors));
}

// If-Match: "3" (or W/"3", or 3); "*" or none = no condition. nullopt in `out` for none.
bool if_match_version(Call& call, std::optional<int>& out) {
    std::string v = call.req.get_header_value("If-Match");
    while (!v.empty() && v.back() == ' ') v.pop_back();
    if (v.empty() || v == "*") return true;
    if (v.rfind("W/", 0) == 0) v.erase(0, 2);
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    int n = 0;
    bool digits = !v.empty() && v.size() <= 9;
    for (char c : v) {
        if (c < '0' || c > '9') digits = false;
        if (digits) n = n * 10 + (c - '0');
    }
    if (!digits || n < 1) {
        send_error(call.res, 400, "invalid_parameter",
                   "must be the scenario's version as its ETag gives it, e.g. If-Match: \"3\"", "If-Match");
        return false;
    }
    out = n;
    return true;
}

void send_version_conflict(Call& call, int current, int given) {
    call.res.set_header("ETag", version_etag(current));
    json err = {{"code", "version_conflict"},
                {"message", "the scenario was saved by someone else meanwhile: version " + std::to_string(current) +
                                " is current, and this save was based on version " + std::to_string(given) +
                                "; reload it (and apply your changes again)"},
                {"field", nullptr},
                {"current_version", current}};
    send_json(call.res, 412, json{{"error", std::move(err)}});
}

void scenario_not_found(Call& call) {
    send_error(call.res, 404, "not_found", "no scenario with this id", "id");
}

// The body as a scenario document: an object with a valid id (`path_id` when the URL names
// it). Anything else about it may be unfinished: drafts are saved with their errors listed.
Result<json> scenario_document(const std::string& body, const std::string* path_id) {
    auto doc = parse_body(body);
    if (!doc) return doc.error();
    if (!doc->is_object()) return invalid_field("", "a scenario must be a JSON object");
    // What GET adds is the server's: a document read and posted back saves as it was.
    for (const char* read_only : {"created_at", "updated_at", "errors"}) doc->erase(read_only);
    const auto id = doc->find("id");
    if (path_id) {
        if (id == doc->end() || id->is_null())
            (*doc)["id"] = *path_id;
        else if (!id->is_string() || id->get<std::string>() != *path_id)
            return invalid_field("id", "must be the id in the URL (" + *path_id + ")");
    } else if (id == doc->end() || id->is_null()) {
        return missing_field("id");
    }
    const auto& given = (*doc)["id"];
    if (!given.is_string() || !is_valid_resource_id(given.get<std::string>()))
        return invalid_field("id", "must be 1-64 lower-case letters, digits, '_', '-' or '.'");
    return doc;
}

std::vector<ScenarioError> check(Api& api, WorkspaceId ws, const json& document) {
    const WorkspaceCatalog catalog = workspace_catalog(api, ws);
    return validate_document(document, catalog.catalog());
}

void list_scenarios(Api& api, Call& call) {
    std::size_t limit = 0;
    std::optional<std::string> cursor;
    if (!take_param(call.res, query_limit(call.req, default_catalog_page_size, max_page_size), limit) ||
        !take_param(call.res, query_text(call.req, "cursor", 128), cursor))
        return;
    const auto all = api.store.scenarios(call.caller.workspace);
    json next, out = json::array();
    for (const auto* item : id_page(
             all, [](const auto& x) -> const std::string& { return x.id; }, cursor, limit, next))
        out.push_back(scenario_json(*item));
    send_json(call.res, 200, {{"scenarios", std::move(out)}, {"next_cursor", std::move(next)}});
}

void create_scenario(Api& api, Call& call) {
    auto doc = scenario_document(call.body, nullptr);
    if (!doc) return send_error(call.res, doc.error());
    const WorkspaceId ws = call.caller.workspace;
    if (api.store.create_scenario(ws, *doc, api.now()) == ScenarioSave::exists)
        return send_error(call.res, 409, "exists", "a scenario with this id exists: save it with PUT", "id");
    const auto stored = api.store.find_scenario(ws, (*doc)["id"].get<std::string>());
    if (!stored) return scenario_not_found(call);  // deleted at once by another request
    const auto errors = check(api, ws, stored->document);
    send_scenario(call, 201, *stored, &errors);
}

void get_scenario(Api& api, Call& call) {
    const auto s = api.store.find_scenario(call.caller.workspace, call.param(1));
    if (!s) return scenario_not_found(call);
    send_scenario(call, 200, *s);
}

void save_scenario(Api& api, Call& call) {
    const std::string id = call.param(1);
    auto doc = scenario_document(call.body, &id);
    if (!doc) return send_error(call.res, doc.error());
    const WorkspaceId ws = call.caller.workspace;
    std::optional<int> if_version;
    if (!if_match_version(call, if_version)) return;
    const auto current = api.store.find_scenario(ws, id);
    if (!current) return scenario_not_found(call);
    if (if_version && *if_version != current->version)
        return send_version_conflict(call, current->version, *if_version);
    // An active scenario's new version runs at once: it must validate, as at activation.
    if (current->status == ScenarioStatus::active) {
        json candidate = *doc;
        candidate["status"] = "active";
        if (const auto errors = check(api, ws, candidate); !errors.empty()) return send_invalid(call.res, errors);
    }
    StoredScenario stored;
    // The store checks the version again in the transaction that saves (a save in between).
    const auto saved = api.store.update_scenario(ws, id, *doc, api.now(), &stored, if_version);
    if (saved == ScenarioSave::conflict) return send_version_conflict(call, stored.version, *if_version);
    if (saved != ScenarioSave::saved) return scenario_not_found(call);
    const auto errors = check(api, ws, stored.document);
    send_scenario(call, 200, stored, &errors);
}

// ---- versions ------------------------------------------------------------------------------

json version_info_json(const ScenarioVersionInfo& v) {
    return {{"version", v.version},
            {"saved_at", format_time(v.saved_at)},
            {"status", v.status ? json(to_string(*v.status)) : json()}};
}

void list_versions(Api& api, Call& call) {
    const WorkspaceId ws = call.caller.workspace;
    const auto current = api.store.find_scenario(ws, call.param(1));
    if (!current) return scenario_not_found(call);
    json out = json::array();
    for (const auto& v : api.store.scenario_versions(ws, current->id)) out.push_back(version_info_json(v));
    send_json(call.res, 200, {{"scenario", current->id}, {"current_version", current->version}, {"versions", out}});
}

// A version number from the path or the query: 1 or more.
std::optional<int> version_number(const std::string& text) {
    if (text.empty() || text.size() > 9) return std::nullopt;
    int n = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return std::nullopt;
        n = n * 10 + (c - '0');
    }
    if (n < 1) return std::nullopt;
    return n;
}

// The document of one version, with the status it had and when it was saved.
std::optional<json> version_document(Api& api, WorkspaceId ws, const std::string& id, int version) {
    const auto s = api.store.find_scenario_version(ws, id, version);
    if (!s) return std::nullopt;
    json doc = s->document;
    for (const auto& v : api.store.scenario_versions(ws, id)) {
        if (v.version != version) continue;
        doc["status"] = v.status ? json(to_string(*v.status)) : json();
        doc["saved_at"] = format_time(v.saved_at);
    }
    return doc;
}

void get_version(Api& api, Call& call) {
    const WorkspaceId ws = call.caller.workspace;
    const auto n = version_number(call.param(2));
    if (!n)
        return send_error(call.res, 404, "not_found", "no such version: versions are numbered 1, 2, ...", "version");
    if (!api.store.find_scenario(ws, call.param(1))) return scenario_not_found(call);
    const auto doc = version_document(api, ws, call.param(1), *n);
    if (!doc) return send_error(call.res, 404, "not_found", "this scenario has no version " + call.param(2), "version");
    send_json(call.res, 200, *doc);
}

// What changed between two versions (core's edit::diff): nodes added, removed and changed, and
// the scenario's own fields. `to` defaults to the current version, `from` to the one before.
void diff_versions(Api& api, Call& call) {
    const WorkspaceId ws = call.caller.workspace;
    const auto current = api.store.find_scenario(ws, call.param(1));
    if (!current) return scenario_not_found(call);
    std::optional<std::string> from_text, to_text;
    if (!take_param(call.res, query_text(call.req, "from", 16), from_text) ||
        !take_param(call.res, query_text(call.req, "to", 16), to_text))
        return;
    const auto to = to_text ? version_number(*to_text) : std::optional<int>(current->version);
    if (!to) return send_error(call.res, 400, "invalid_parameter", "must be a version number (1 or more)", "to");
    const auto from = from_text ? version_number(*from_text) : std::optional<int>(std::max(1, *to - 1));
    if (!from) return send_error(call.res, 400, "invalid_parameter", "must be a version number (1 or more)", "from");
    const auto before = version_document(api, ws, current->id, *from);
    if (!before)
        return send_error(call.res, 404, "not_found", "this scenario has no version " + std::to_string(*from), "from");
    const auto after = version_document(api, ws, current->id, *to);
    if (!after)
        return send_error(call.res, 404, "not_found", "this scenario has no version " + std::to_string(*to), "to");
    json a = *before, b = *after;
    a.erase("saved_at");
    b.erase("saved_at");
    json out = edit::diff(a, b);
    out["scenario"] = current->id;
    out["from"] = *from;
    out["to"] = *to;
    send_json(call.res, 200, out);
}

void delete_scenario(Api& api, Call& call) {
    if (!api.store.delete_scenario(call.caller.workspace, call.param(1), api.now())) return scenario_not_found(call);
    call.res.status = 204;
}

void validate_scenario(Api& api, Call& call) {
    auto doc = parse_body(call.body);
    if (!doc) return send_error(call.res, doc.error());
    const auto errors = check(api, call.caller.workspace, *doc);
    send_json(call.res, 200, {{"valid", errors.empty()}, {"errors", errors_json(errors)}});
}

void activate(Api& api, Call& call) {
    const WorkspaceId ws = call.caller.workspace;
    const auto current = api.store.find_scenario(ws, call.param(1));
    if (!current) return scenario_not_found(call);
    json candidate = current->document;
    candidate["status"] = "active";
    if (const auto errors = check(api, ws, candidate); !errors.empty()) return send_invalid(call.res, errors);
    const auto s = api.store.set_scenario_status(ws, call.param(1), ScenarioStatus::active, api.now());
    if (!s) return scenario_not_found(call);
    send_scenario(call, 200, *s);
}

void pause(Api& api, Call& call) {
    const auto s =
        api.store.set_scenario_status(call.caller.workspace, call.param(1), ScenarioStatus::paused, api.now());
    if (!s) return scenario_not_found(call);
    send_scenario(call, 200, *s);
}

// {contact?, event, history?, fast_forward?} -> what the engine would do; nothing is stored
// or performed. Without `contact`, the stored contact of the event is used (with its RFM);
// with it, the event's contact may be left out.
void simulate_scenario(Api& api, Call& call) {
    const WorkspaceId ws = call.caller.workspace;
    const auto stored = api.store.find_scenario(ws, call.param(1));
    if (!stored) return scenario_not_found(call);
    auto body = parse_body(call.body);
    if (!body) return send_error(call.res, body.error());
    if (!body->is_object()) return send_error(call.res, 422, "invalid_field", "must be a JSON object", "");
    detail::Fields f(*body, "");
    f.reject_unknown({"contact", "event", "history", "fast_forward"});
    const auto fast_forward = f.boolean("fast_forward", false);
    if (!f.ok()) return send_error(call.res, f.error());
    const auto event_it = body->find("event");
    if (event_it == body->end() || event_it->is_null()) return send_error(call.res, missing_field("event"));

    SimulationInput in;
    in.fast_forward = fast_forward.value_or(false);
    const Time now = api.now();
    std::optional<Contact> given;
    if (const auto c = body->find("contact"); c != body->end() && !c->is_null()) {
        auto contact = contact_from_json(*c, "contact");
        if (!contact) return send_error(call.res, contact.error());
        given = std::move(*contact);
    }
    // The event's contact defaults to the given contact.
    json event_doc = *event_it;
    if (given && event_doc.is_object() && (!event_doc.contains("contact") || event_doc["contact"].is_null()))
        event_doc["contact"] = given->id;
    auto event = event_from_json(event_doc, "event");
    if (!event) return send_error(call.res, event.error());
    if (!event->time) event->time = now;
    if (event->id.empty()) event->id = "simulated";
    if (given) {
        if (given->id != event->contact.id)
            return send_error(call.res, 422, "invalid_field", "must be the event's contact (" + event->contact.id + ")",
                              "contact.id");
        in.contacts.push_back(std::move(*given));
    } else if (auto card = api.store.contact_card(ws, event->contact.id, 0)) {
        in.contacts.push_back(card->contact.contact);
    }
    if (const auto h = body->find("history"); h != body->end() && !h->is_null()) {
        if (!h->is_array()) return send_error(call.res, 422, "invalid_field", "must be an array of events", "history");
        for (std::size_t i = 0; i < h->size(); ++i) {
            const std::string path = "history[" + std::to_string(i) + "]";
            auto past = event_from_json((*h)[i], path);
            if (!past) return send_error(call.res, past.error());
            if (!past->time) return send_error(call.res, missing_field(path + ".time"));
            in.history.push_back(std::move(*past));
        }
    }
    in.events.push_back(std::move(*event));

    auto loaded = load_scenario(stored->document);
    if (!loaded.errors.empty()) return send_invalid(call.res, loaded.errors);
    // As `closeloop simulate`: templates are not needed to see the path (a draft may name
    // templates not written yet); campaigns are, for the vouchers it would assign.
    const WorkspaceCatalog catalog = workspace_catalog(api, ws);
    if (const auto errors = validate(loaded.scenario, Catalog{nullptr, &catalog.campaigns}); !errors.empty())
        return send_invalid(call.res, errors);
    in.scenario = &loaded.scenario;
    in.campaigns = catalog.campaigns;
    auto runs = simulate(in);
    if (!runs) return send_error(call.res, runs.error());
    json out = json::array();
    for (const auto& r : *runs) out.push_back(r);
    // The first line is the event's; later ones are the same run waking (fast_forward).
    json result = out.empty() ? json::object() : out.front();
    result["runs"] = std::move(out);
    send_json(call.res, 200, result);
}

// ---- runs ----------------------------------------------------------------------------------

void list_runs(Api& api, Call& call) {
    RunQuery q;
    std::optional<std::string> status, cursor;
    std::size_t limit = 0;
    if (!take_param(call.res, query_text(call.req, "scenario", 64), q.scenario) ||
        !take_param(call.res, query_text(call.req, "contact", 128), q.contact) ||
        !take_param(call.res, query_choice(call.req, "status", {"waiting", "done", "failed"}), status) ||
        !take_param(call.res, query_limit(call.req, default_page_size, max_page_size), limit) ||
        !take_param(call.res, query_text(call.req, "cursor", 32), cursor))
        return;
    if (status) q.status = run_status_of(*status);
    if (cursor && !(q.before_seq = parse_seq_cursor(*cursor)))
        return send_error(call.res, 400, "invalid_parameter", "is not a cursor this API gave (next_cursor)", "cursor");
    q.limit = limit + 1;  // one more says whether a next page exists
    send_json(call.res, 200, seq_page("runs", api.store.runs(call.caller.workspace, q), limit, [&](const auto& r) {
                  return run_json(r);
              }));
}

// One run with its state and trace, and each effect's delivery: the outbox entry of an
// external effect, "done" for an internal one (performed in the run's own transaction).
void get_run(Api& api, Call& call) {
    const WorkspaceId ws = call.caller.workspace;
    const auto r = api.store.find_run(ws, call.param(1));
    if (!r) return send_error(call.res, 404, "not_found", "no run with this id", "id");
    std::map<std::string, OutboxEntry> delivery;
    for (auto& o : api.store.run_outbox(ws, r->id)) delivery.emplace(o.key, std::move(o));
    json j = run_json(*r);
    for (auto& e : j["effects"]) {
        const auto it = delivery.find(e.value("key", ""));
        if (it == delivery.end()) {
            e["status"] = "done";
            continue;
        }
        json d = outbox_json(it->second, api.sends_email);
        e["status"] = d["status"];
        e["delivery"] = std::move(d);
    }
    j["state"] = r->state;
    j["trace"] = r->trace;
    send_json(call.res, 200, j);
}

// ---- templates -----------------------------------------------------------------------------

json template_json(const StoredTemplate& t) {
    json j = t.document;
    j["created_at"] = format_time(t.created_at);
    j["updated_at"] = format_time(t.updated_at);
    return j;
}

void list_templates(Api& api, Call& call) {
    std::size_t limit = 0;
    std::optional<std::string> cursor;
    if (!take_param(call.res, query_limit(call.req, default_catalog_page_size, max_page_size), limit) ||
        !take_param(call.res, query_text(call.req, "cursor", 128), cursor))
        return;
    const auto all = api.store.templates(call.caller.workspace);
    json next, out = json::array();
    for (const auto* item : id_page(
             all, [](const auto& x) -> const std::string& { return x.id; }, cursor, limit, next))
        out.push_back(template_json(*item));
    send_json(call.res, 200, {{"templates", std::move(out)}, {"next_cursor", std::move(next)}});
}

// Validated by core: the document's shape, and every text against any event's paths (an
// unknown path fails here, not at delivery).
void save_template(Api& api, Call& call) {
    auto body = parse_body(call.body);
    if (!body) return send_error(call.res, body.error());
    if (!body->is_object()) return send_error(call.res, 422, "invalid_field", "a template must be a JSON object", "");
    for (const char* read_only : {"created_at", "updated_at"}) body->erase(read_only);
    auto t = template_from_json(*body, "");
    if (!t) return send_error(call.res, t.error());
    if (!is_valid_resource_id(t->id))
        return send_error(call.res, 422, "invalid_field", "must be 1-64 lower-case letters, digits, '_', '-' or '.'",
                          "id");
    if (auto error = validate_template(*t, TypeEnv{})) return send_error(call.res, 422, *error);
    const WorkspaceId ws = call.caller.workspace;
    const bool created = api.store.save_template(ws, t->id, *body, api.now());
    const auto stored = api.store.find_template(ws, t->id);
    send_json(call.res, created ? 201 : 200, stored ? template_json(*stored) : *body);
}

void get_template(Api& api, Call& call) {
    const auto t = api.store.find_template(call.caller.workspace, call.param(1));
    if (!t) return send_error(call.res, 404, "not_found", "no template with this id", "id");
    send_json(call.res, 200, template_json(*t));
}

}  // namespace

void add_scenario_routes(Router& router, Api& api) {
    router.get("/api/v1/scenarios", Access::admin, [&api](Call& c) { list_scenarios(api, c); });
    router.post("/api/v1/scenarios", Access::admin, [&api](Call& c) { create_scenario(api, c); });
    // Before /scenarios/{id}: "validate" is not an id (the patterns would both match a POST).
    router.post("/api/v1/scenarios/validate", Access::admin, [&api](Call& c) { validate_scenario(api, c); });
    router.get("/api/v1/scenarios/{id}", Access::admin, [&api](Call& c) { get_scenario(api, c); });
    router.put("/api/v1/scenarios/{id}", Access::admin, [&api](Call& c) { save_scenario(api, c); });
    router.del("/api/v1/scenarios/{id}", Access::admin, [&api](Call& c) { delete_scenario(api, c); });
    router.post("/api/v1/scenarios/{id}/simulate", Access::admin, [&api](Call& c) { simulate_scenario(api, c); });
    router.post("/api/v1/scenarios/{id}/activate", Access::admin, [&api](Call& c) { activate(api, c); });
    router.post("/api/v1/scenarios/{id}/pause", Access::admin, [&api](Call& c) { pause(api, c); });
    router.get("/api/v1/scenarios/{id}/versions", Access::admin, [&api](Call& c) { list_versions(api, c); });
    router.get("/api/v1/scenarios/{id}/versions/{n}", Access::admin, [&api](Call& c) { get_version(api, c); });
    router.get("/api/v1/scenarios/{id}/diff", Access::admin, [&api](Call& c) { diff_versions(api, c); });
    router.get("/api/v1/runs", Access::admin, [&api](Call& c) { list_runs(api, c); });
    router.get("/api/v1/runs/{id}", Access::admin, [&api](Call& c) { get_run(api, c); });
    router.get("/api/v1/templates", Access::admin, [&api](Call& c) { list_templates(api, c); });
    router.post("/api/v1/templates", Access::admin, [&api](Call& c) { save_template(api, c); });
    router.get("/api/v1/templates/{id}", Access::admin, [&api](Call& c) { get_template(api, c); });
}

}  // namespace closeloop::server
