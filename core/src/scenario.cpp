#include "closeloop/scenario.h"

#include <algorithm>
#include <array>
#include <functional>
#include <set>
#include <unordered_map>

#include "closeloop/actions.h"
#include "closeloop/detail/enum_table.h"
#include "closeloop/detail/json_read.h"

namespace closeloop {

using nlohmann::json;

// ---- kinds ---------------------------------------------------------------------------------

namespace {

// Each enum's one table for its text in and out (ActionKind's is actions.cpp's entries).
constexpr detail::EnumTable<ScenarioStatus, 3> scenario_statuses = {{
    {"draft", ScenarioStatus::draft},
    {"active", ScenarioStatus::active},
    {"paused", ScenarioStatus::paused},
}};

constexpr detail::EnumTable<NodeKind, 5> node_kinds = {{
    {"condition", NodeKind::condition},
    {"switch", NodeKind::switch_},
    {"split", NodeKind::split},
    {"wait", NodeKind::wait},
    {"action", NodeKind::action},
}};

constexpr detail::EnumTable<ReentryPolicy, 3> reentry_policies = {{
    {"always", ReentryPolicy::always},
    {"once", ReentryPolicy::once},
    {"cooldown", ReentryPolicy::cooldown},
}};

}  // namespace

std::string_view to_string(ScenarioStatus s) {
    return detail::enum_name(scenario_statuses, s);
}
std::string_view to_string(NodeKind k) {
    return detail::enum_name(node_kinds, k);
}
std::string_view to_string(ReentryPolicy p) {
    return detail::enum_name(reentry_policies, p);
}
std::optional<ScenarioStatus> scenario_status_of(std::string_view name) {
    return detail::enum_value(scenario_statuses, name);
}
std::optional<NodeKind> node_kind_of(std::string_view name) {
    return detail::enum_value(node_kinds, name);
}
std::optional<ReentryPolicy> reentry_policy_of(std::string_view name) {
    return detail::enum_value(reentry_policies, name);
}

// ---- Node and Scenario ---------------------------------------------------------------------

std::vector<std::string> Node::successors() const {
    std::vector<std::string> out;
    const auto push = [&](const NodeRef& r) {
        if (r) out.push_back(*r);
    };
    switch (kind) {
        case NodeKind::condition:
            push(then_next);
            push(else_next);
            break;
        case NodeKind::switch_:
            for (const auto& c : cases) push(c.next);
            push(default_next);
            break;
        case NodeKind::split:
            for (const auto& b : branches) push(b.next);
            break;
        case NodeKind::wait:
        case NodeKind::action:
            push(next);
            break;
    }
    return out;
}

const Node* Scenario::find(std::string_view node_id) const {
    for (const auto& n : nodes)
        if (n.id == node_id) return &n;
    return nullptr;
}

std::vector<std::string> Scenario::campaigns() const {
    std::vector<std::string> out;
    const auto add_one = [&](const std::string& c) {
        if (!c.empty() && std::find(out.begin(), out.end(), c) == out.end()) out.push_back(c);
    };
    for (const auto& n : nodes) {
        add_one(action_campaign(n));
    }
    // Campaigns named in history calls: voucher_assigned_within('x', ...).
    const auto scan = [&](const std::string& text) {
        static constexpr std::string_view fn = "voucher_assigned_within(";
        for (auto pos = text.find(fn); pos != std::string::npos; pos = text.find(fn, pos + 1)) {
            auto q = pos + fn.size();
            while (q < text.size() && text[q] == ' ') ++q;
            if (q >= text.size() || (text[q] != '\'' && text[q] != '"')) continue;
            const auto end = text.find(text[q], q + 1);
            if (end != std::string::npos) add_one(text.substr(q + 1, end - q - 1));
        }
    };
    if (trigger.when) scan(trigger.when->text());
    for (const auto& n : nodes) {
        scan(n.if_expr.text());
        for (const auto& c : n.cases) scan(c.when.text());
    }
    return out;
}

void to_json(json& j, const ScenarioError& e) {
    j = {{"node", e.node}, {"field", e.field}, {"message", e.message}};
    if (e.column > 0) j["column"] = e.column;
}

// ---- loading -------------------------------------------------------------------------------

namespace {

class Loader {
public:
    explicit Loader(std::vector<ScenarioError>& errors) : errors_(errors) {}

    void add(const std::string& node, const std::string& field, std::string message, int column = 0) {
        errors_.push_back({node, field, std::move(message), column});
    }

    // A reference to another node: a string id, or null (the run ends). An absent key also
    // ends the run.
    NodeRef ref(const json& obj, const std::string& key, const std::string& node, const std::string& field) {
        const auto it = obj.find(key);
        if (it == obj.end() || it->is_null()) return std::nullopt;
        if (!it->is_string() || it->get_ref<const std::string&>().empty()) {
            add(node, field, "must be a node id or null (null ends the run)");
            return std::nullopt;
        }
        return it->get<std::string>();
    }

    std::optional<Expression> expr(const json& obj, const std::string& key, const std::string& node,
                                   const std::string& field, bool required) {
        const auto it = obj.find(key);
        if (it == obj.end() || it->is_null()) {
            if (required) add(node, field, "is required");
            return std::nullopt;
        }
        if (!it->is_string()) {
            add(node, field, "must be an expression in a string");
            return std::nullopt;
        }
        auto e = Expression::parse(it->get_ref<const std::string&>());
        if (!e) {
            add(node, field, e.error().message, e.error().column);
            return std::nullopt;
        }
        return std::move(*e);
    }

    std::string text(const json& obj, const std::string& key, const std::string& node, const std::string& field,
                     bool required, std::size_t max_len = 200) {
        const auto it = obj.find(key);
        if (it == obj.end() || it->is_null()) {
            if (required) add(node, field, "is required");
            return "";
        }
        if (!it->is_string()) {
            add(node, field, std::string("must be a string, not ") + detail::json_type_name(*it));
            return "";
        }
        const auto& s = it->get_ref<const std::string&>();
        if (s.size() > max_len) add(node, field, "must be at most " + std::to_string(max_len) + " characters long");
        return s;
    }

    void unknown_keys(const json& obj, std::initializer_list<std::string_view> known, const std::string& node,
                      const std::string& prefix) {
        for (const auto& [k, _] : obj.items())
            if (std::find(known.begin(), known.end(), k) == known.end())
                add(node, prefix + k, "is not a known field here");
    }

    Node node(const json& j, std::size_t index) {
        Node n;
        if (!j.is_object()) {
            add("", "nodes[" + std::to_string(index) + "]", "must be an object");
            return n;
        }
        n.id = text(j, "id", "", "nodes[" + std::to_string(index) + "].id", true, 64);
        const std::string& id = n.id;
        n.label = text(j, "label", id, "label", false);
        const std::string kind = text(j, "type", id, "type", true, 32);
        const auto kind_of = node_kind_of(kind);
        if (!kind_of) {
            if (!kind.empty()) add(id, "type", "must be " + detail::enum_names(node_kinds));
            return n;
        }
        n.kind = *kind_of;
        switch (n.kind) {
            case NodeKind::condition:
                if (auto e = expr(j, "if", id, "if", true)) n.if_expr = std::move(*e);
                n.then_next = ref(j, "then", id, "then");
                n.else_next = ref(j, "else", id, "else");
                unknown_keys(j, {"id", "type", "label", "if", "then", "else"}, id, "");
                break;
            case NodeKind::switch_: {
                const auto it = j.find("cases");
                if (it == j.end() || !it->is_array() || it->empty()) {
                    add(id, "cases", "must be a list of { \"when\": expression, \"next\": node id }");
                } else {
                    for (std::size_t i = 0; i < it->size(); ++i) {
                        const json& c = (*it)[i];
                        const std::string at = "cases[" + std::to_string(i) + "]";
                        if (!c.is_object()) {
                            add(id, at, "must be an object");
                            continue;
                        }
                        SwitchCase sc;
                        if (auto e = expr(c, "when", id, at + ".when", true)) sc.when = std::move(*e);
                        sc.next = ref(c, "next", id, at + ".next");
                        unknown_keys(c, {"when", "next"}, id, at + ".");
                        n.cases.push_back(std::move(sc));
                    }
                }
                n.default_next = ref(j, "default", id, "default");
                unknown_keys(j, {"id", "type", "label", "cases", "default"}, id, "");
                break;
            }
            case NodeKind::split: {
                const auto it = j.find("branches");
                if (it == j.end() || !it->is_array() || it->size() < 2) {
                    add(id, "branches", "must be a list of at least two { \"percent\": 1-100, \"next\": node id }");
                } else {
                    for (std::size_t i = 0; i < it->size(); ++i) {
                        const json& b = (*it)[i];
                        const std::string at = "branches[" + std::to_string(i) + "]";
                        if (!b.is_object()) {
                            add(id, at, "must be an object");
                            continue;
                        }
                        detail::Fields f(b, "");
                        SplitBranch br;
                        br.percent = static_cast<int>(f.integer("percent", true, 1, 100).value_or(0));
                        if (!f.ok()) add(id, at + "." + f.error().path, f.error().message);
                        br.next = ref(b, "next", id, at + ".next");
                        unknown_keys(b, {"percent", "next"}, id, at + ".");
                        n.branches.push_back(std::move(br));
                    }
                }
                unknown_keys(j, {"id", "type", "label", "branches"}, id, "");
                break;
            }
            case NodeKind::wait: {
                const bool has_for = j.contains("for") && !j["for"].is_null();
                const bool has_until = j.contains("until") && !j["until"].is_null();
                if (has_for == has_until)
                    add(id, "for", "give either `for` (a duration such as P10D) or `until` (a time)");
                if (has_for) {
                    const std::string d = text(j, "for", id, "for", true, 64);
                    auto parsed = parse_duration(d);
                    if (!parsed && !d.empty())
                        add(id, "for", parsed.error().message);
                    else if (parsed)
                        n.wait_for = *parsed;
                }
                if (has_until) n.wait_until = expr(j, "until", id, "until", true);
                n.next = ref(j, "next", id, "next");
                unknown_keys(j, {"id", "type", "label", "for", "until", "next"}, id, "");
                break;
            }
            case NodeKind::action: {
                const std::string action = text(j, "action", id, "action", true, 32);
                const auto action_of = action_kind_of(action);
                if (!action_of) {
                    if (!action.empty()) add(id, "action", "must be " + action_kind_names());
                } else {
                    n.action = *action_of;
                    action_params(j, n);
                }
                n.next = ref(j, "next", id, "next");
                unknown_keys(j, {"id", "type", "label", "action", "params", "next"}, id, "");
                break;
            }
        }
        return n;
    }

    void action_params(const json& j, Node& n) {
        const auto it = j.find("params");
        if (it == j.end() || it->is_null()) {
            n.params = json::object();
        } else if (!it->is_object()) {
            add(n.id, "params", "must be an object");
            return;
        } else {
            n.params = *it;
        }
        load_action_params(n, errors_);
    }

private:
    std::vector<ScenarioError>& errors_;
};

}  // namespace

LoadedScenario load_scenario(const json& j) {
    LoadedScenario out;
    Loader load(out.errors);
    Scenario& s = out.scenario;
    if (!j.is_object()) {
        load.add("", "", "a scenario must be a JSON object");
        return out;
    }
    s.id = load.text(j, "id", "", "id", true, 64);
    if (!s.id.empty() && !is_valid_resource_id(s.id))
        load.add("", "id", "must be 1-64 lower-case letters, digits, '_', '-' or '.'");
    s.name = load.text(j, "name", "", "name", true, 200);
    const std::string status = load.text(j, "status", "", "status", false, 16);
    if (const auto st = scenario_status_of(status))
        s.status = *st;
    else if (!status.empty())
        load.add("", "status", "must be " + detail::enum_names(scenario_statuses));
    if (j.contains("version")) {
        detail::Fields f(j, "");
        s.version = static_cast<int>(f.integer("version", false, 1, 1'000'000).value_or(1));
        if (!f.ok()) load.add("", "version", f.error().message);
    }

    const auto trig = j.find("trigger");
    if (trig == j.end() || !trig->is_object()) {
        load.add("", "trigger", "is required: { \"event\": type, \"when\": expression }");
    } else {
        s.trigger.event = load.text(*trig, "event", "", "trigger.event", true, 64);
        if (!s.trigger.event.empty() && !is_valid_event_type_name(s.trigger.event))
            load.add("", "trigger.event", "must be an event type such as nps_response");
        s.trigger.when = load.expr(*trig, "when", "", "trigger.when", false);
        load.unknown_keys(*trig, {"event", "when"}, "", "trigger.");
    }

    const auto re = j.find("reentry");
    if (re != j.end() && !re->is_null()) {
        if (!re->is_object()) {
            load.add("", "reentry", "must be { \"policy\": \"always\" | \"once\" | \"cooldown\", \"days\": n }");
        } else {
            const std::string policy = load.text(*re, "policy", "", "reentry.policy", true, 16);
            if (const auto p = reentry_policy_of(policy))
                s.reentry.policy = *p;
            else if (!policy.empty())
                load.add("", "reentry.policy", "must be " + detail::enum_names(reentry_policies));
            if (s.reentry.policy == ReentryPolicy::cooldown) {
                detail::Fields f(*re, "");
                s.reentry.days = static_cast<int>(f.integer("days", true, 1, 36500).value_or(0));
                if (!f.ok()) load.add("", "reentry.days", f.error().message);
            }
            load.unknown_keys(*re, {"policy", "days"}, "", "reentry.");
        }
    }

    s.start = load.text(j, "start", "", "start", true, 64);
    const auto nodes = j.find("nodes");
    if (nodes == j.end() || !nodes->is_array() || nodes->empty()) {
        load.add("", "nodes", "must be a non-empty list of nodes");
    } else if (nodes->size() > 500) {
        load.add("", "nodes", "a scenario has at most 500 nodes");
    } else {
        for (std::size_t i = 0; i < nodes->size(); ++i) s.nodes.push_back(load.node((*nodes)[i], i));
    }
    const auto ui = j.find("ui");
    if (ui != j.end() && !ui->is_null()) {
        if (ui->is_object())
            s.ui = *ui;
        else
            load.add("", "ui", "must be an object");
    }
    load.unknown_keys(j,
                      {"id", "name", "status", "version", "trigger", "reentry", "start", "nodes", "ui", "description",
                       "created_at", "updated_at"},
                      "", "");
    return out;
}

// ---- validation ----------------------------------------------------------------------------

namespace {

void check_expr(std::vector<ScenarioError>& errors, const Expression& e, const TypeEnv& env, const std::string& node,
                const std::string& field, std::optional<ValueType> want) {
    auto t = e.check(env);
    if (!t) {
        errors.push_back({node, field, t.error().message, t.error().column});
        return;
    }
    if (want && *t != *want && *t != ValueType::any && !(*want == ValueType::boolean && *t == ValueType::null))
        errors.push_back(
            {node, field,
             "must give " + std::string(value_type_name(*want)) + ", but gives " + std::string(value_type_name(*t)),
             1});
}

}  // namespace

std::vector<ScenarioError> validate(const Scenario& s, const Catalog& catalog) {
    std::vector<ScenarioError> errors;
    const auto add = [&](const std::string& node, const std::string& field, std::string message) {
        errors.push_back({node, field, std::move(message), 0});
    };

    // Ids: unique, and references exist.
    std::unordered_map<std::string, std::size_t> index;
    for (std::size_t i = 0; i < s.nodes.size(); ++i) {
        const auto& n = s.nodes[i];
        if (n.id.empty()) continue;
        if (!index.emplace(n.id, i).second) add(n.id, "id", "another node has the same id");
    }
    if (s.start.empty())
        add("", "start", "is required: the id of the first node");
    else if (!index.count(s.start))
        add("", "start", "names no node: " + s.start);

    const auto check_ref = [&](const Node& n, const NodeRef& r, const std::string& field) {
        if (r && !index.count(*r)) add(n.id, field, "names no node: " + *r);
        if (r && *r == n.id && n.kind != NodeKind::wait) add(n.id, field, "a node cannot continue to itself");
    };
    for (const auto& n : s.nodes) {
        switch (n.kind) {
            case NodeKind::condition:
                check_ref(n, n.then_next, "then");
                check_ref(n, n.else_next, "else");
                break;
            case NodeKind::switch_:
                for (std::size_t i = 0; i < n.cases.size(); ++i)
                    check_ref(n, n.cases[i].next, "cases[" + std::to_string(i) + "].next");
                check_ref(n, n.default_next, "default");
                break;
            case NodeKind::split: {
                int total = 0;
                for (std::size_t i = 0; i < n.branches.size(); ++i) {
                    total += n.branches[i].percent;
                    check_ref(n, n.branches[i].next, "branches[" + std::to_string(i) + "].next");
                }
                if (!n.branches.empty() && total != 100)
                    add(n.id, "branches", "percents must add up to 100, not " + std::to_string(total));
                break;
            }
            case NodeKind::wait:
            case NodeKind::action:
                check_ref(n, n.next, "next");
                break;
        }
    }

    // Reachability from start.
    if (index.count(s.start)) {
        std::vector<bool> seen(s.nodes.size(), false);
        std::vector<std::size_t> stack = {index[s.start]};
        while (!stack.empty()) {
            const auto i = stack.back();
            stack.pop_back();
            if (seen[i]) continue;
            seen[i] = true;
            for (const auto& next : s.nodes[i].successors())
                if (auto it = index.find(next); it != index.end() && !seen[it->second]) stack.push_back(it->second);
        }
        for (std::size_t i = 0; i < s.nodes.size(); ++i)
            if (!seen[i] && !s.nodes[i].id.empty())
                add(s.nodes[i].id, "id", "cannot be reached from the start node " + s.start);
    }

    // Cycles: every cycle must pass through a wait, so edges out of waits are left out and
    // what remains must be acyclic (depth-first search with colours).
    {
        enum Colour : char { white, grey, black };
        std::vector<Colour> colour(s.nodes.size(), white);
        std::vector<std::string> reported;
        const std::function<void(std::size_t)> visit = [&](std::size_t i) {
            colour[i] = grey;
            if (s.nodes[i].kind != NodeKind::wait) {
                for (const auto& next : s.nodes[i].successors()) {
                    const auto it = index.find(next);
                    if (it == index.end()) continue;
                    if (colour[it->second] == grey) {
                        add(s.nodes[i].id, "next",
                            "makes a loop back to " + next + " with no wait in it (the run would never end)");
                    } else if (colour[it->second] == white) {
                        visit(it->second);
                    }
                }
            }
            colour[i] = black;
        };
        for (std::size_t i = 0; i < s.nodes.size(); ++i)
            if (colour[i] == white) visit(i);
    }

    // Expressions and params.
    TypeEnv env;
    env.event_type = s.trigger.event;
    if (s.trigger.when) check_expr(errors, *s.trigger.when, env, "", "trigger.when", ValueType::boolean);
    for (const auto& n : s.nodes) {
        switch (n.kind) {
            case NodeKind::condition:
                check_expr(errors, n.if_expr, env, n.id, "if", ValueType::boolean);
                break;
            case NodeKind::switch_:
                for (std::size_t i = 0; i < n.cases.size(); ++i)
                    check_expr(errors, n.cases[i].when, env, n.id, "cases[" + std::to_string(i) + "].when",
                               ValueType::boolean);
                break;
            case NodeKind::wait:
                if (n.wait_until) check_expr(errors, *n.wait_until, env, n.id, "until", ValueType::time);
                if (n.wait_for && !at_most(*n.wait_for, max_wait))
                    add(n.id, "for", "must be at most " + format_duration(max_wait) + " (max_wait)");
                break;
            case NodeKind::split:
                break;
            case NodeKind::action: {
                check_action_params(n, env, catalog, errors);
                break;
            }
        }
    }

    // Campaigns named in history calls must exist too.
    if (catalog.campaigns) {
        for (const auto& c : s.campaigns())
            if (!catalog.campaigns->count(c)) {
                const bool assigned =
                    std::any_of(s.nodes.begin(), s.nodes.end(), [&](const Node& n) { return action_campaign(n) == c; });
                if (!assigned) add("", "", "names no voucher campaign: " + c);
            }
    }
    return errors;
}

std::vector<ScenarioError> validate_document(const json& j, const Catalog& catalog) {
    auto loaded = load_scenario(j);
    std::vector<ScenarioError> errors = std::move(loaded.errors);
    if (!j.is_object()) return errors;
    // Every phase in one pass (the builder's panel shows them all): the graph, expression and
    // param checks run on what did load. A field that did not load was reported already and
    // is left out of the later phases' answers.
    const auto loading = static_cast<std::ptrdiff_t>(errors.size());
    for (auto& e : validate(loaded.scenario, catalog)) {
        const bool reported = std::any_of(errors.begin(), errors.begin() + loading, [&](const ScenarioError& known) {
            return known.node == e.node && known.field == e.field;
        });
        if (!reported) errors.push_back(std::move(e));
    }
    return errors;
}

// ---- JSON out ------------------------------------------------------------------------------

namespace {

json ref_json(const NodeRef& r) {
    return r ? json(*r) : json(nullptr);
}

}  // namespace

void to_json(json& j, const Scenario& s) {
    json trigger = {{"event", s.trigger.event}};
    if (s.trigger.when) trigger["when"] = s.trigger.when->text();
    json reentry = {{"policy", to_string(s.reentry.policy)}};
    if (s.reentry.policy == ReentryPolicy::cooldown) reentry["days"] = s.reentry.days;
    json nodes = json::array();
    for (const auto& n : s.nodes) {
        json o = {{"id", n.id}, {"type", to_string(n.kind)}};
        if (!n.label.empty()) o["label"] = n.label;
        switch (n.kind) {
            case NodeKind::condition:
                o["if"] = n.if_expr.text();
                o["then"] = ref_json(n.then_next);
                o["else"] = ref_json(n.else_next);
                break;
            case NodeKind::switch_: {
                json cases = json::array();
                for (const auto& c : n.cases) cases.push_back({{"when", c.when.text()}, {"next", ref_json(c.next)}});
                o["cases"] = cases;
                o["default"] = ref_json(n.default_next);
                break;
            }
            case NodeKind::split: {
                json branches = json::array();
                for (const auto& b : n.branches)
                    branches.push_back({{"percent", b.percent}, {"next", ref_json(b.next)}});
                o["branches"] = branches;
                break;
            }
            case NodeKind::wait:
                if (n.wait_for) o["for"] = format_duration(*n.wait_for);
                if (n.wait_until) o["until"] = n.wait_until->text();
                o["next"] = ref_json(n.next);
                break;
            case NodeKind::action:
                o["action"] = to_string(n.action);
                o["params"] = n.params;
                o["next"] = ref_json(n.next);
                break;
        }
        nodes.push_back(std::move(o));
    }
    j = {{"id", s.id},           {"name", s.name},     {"status", to_string(s.status)},
         {"version", s.version}, {"trigger", trigger}, {"reentry", reentry},
         {"start", s.start},     {"nodes", nodes},     {"ui", s.ui}};
}

}  // namespace closeloop
