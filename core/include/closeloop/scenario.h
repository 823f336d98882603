// closeloop — scenarios: the graph a marketer draws, as plain data.
//
// Nodes live in a vector keyed by stable string ids, with no pointers between them; the
// `ui` block (builder positions) is kept untouched and ignored by the engine.
//
// Sections: kinds, Node, Scenario, loading (JSON -> Scenario plus the problems found),
// validation (graph, expressions, params, catalog), JSON out.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "closeloop/expr.h"
#include "closeloop/render.h"
#include "closeloop/result.h"
#include "closeloop/time.h"
#include "closeloop/voucher.h"

namespace closeloop {

// ---- kinds ---------------------------------------------------------------------------------

enum class ScenarioStatus { draft, active, paused };
enum class NodeKind { condition, switch_, split, wait, action };
enum class ActionKind {
    send_email,
    assign_voucher,
    notify,
    webhook,
    add_tag,
    remove_tag,
    set_attribute,
    create_task,
    send_survey,
};
enum class ReentryPolicy { always, once, cooldown };

std::string_view to_string(ScenarioStatus s);
std::string_view to_string(NodeKind k);
std::string_view to_string(ActionKind a);  // ActionKind's names live in actions.cpp
std::string_view to_string(ReentryPolicy p);
// Names to values (nullopt for an unknown name); each enum has one table for both directions.
std::optional<ScenarioStatus> scenario_status_of(std::string_view name);
std::optional<NodeKind> node_kind_of(std::string_view name);
std::optional<ActionKind> action_kind_of(std::string_view name);
std::optional<ReentryPolicy> reentry_policy_of(std::string_view name);

// ---- Node ----------------------------------------------------------------------------------

using NodeRef = std::optional<std::string>;  // the next node's id; nullopt ends the run

struct SwitchCase {
    Expression when;
    NodeRef next;
};

struct SplitBranch {
    int percent = 0;
    NodeRef next;
};

// One node. The fields used depend on `kind` (the others stay empty).
struct Node {
    std::string id;
    NodeKind kind = NodeKind::action;
    std::string label;  // optional display name for the builder

    Expression if_expr;  // condition
    NodeRef then_next, else_next;

    std::vector<SwitchCase> cases;  // switch
    NodeRef default_next;

    std::vector<SplitBranch> branches;  // split

    std::optional<Duration> wait_for;      // wait: `for` ...
    std::optional<Expression> wait_until;  // ... or `until`

    ActionKind action = ActionKind::send_email;                    // action (its params: actions.h)
    nlohmann::json params = nlohmann::json::object();              // as written
    std::map<std::string, TemplateText, std::less<>> text_params;  // params that are templates, compiled
    std::map<std::string, Expression, std::less<>> expr_params;    // params that are expressions, compiled
    NodeRef next;

    // Every node this one can continue to (for graph checks), in order.
    std::vector<std::string> successors() const;
};

// The longest a scenario waits (a wait node's `for`) or sets a due date ahead (a duration
// param such as create_task's `due`): limit `max_wait`, checked by validate() so that stored
// scenarios keep loading.
inline constexpr Duration max_wait{12 * 2, 0, 0};  // P2Y

// ---- Scenario ------------------------------------------------------------------------------

struct Trigger {
    std::string event;  // event type, e.g. "nps_response"
    std::optional<Expression> when;
};

struct Reentry {
    ReentryPolicy policy = ReentryPolicy::always;  // when a scenario says nothing: react to every event
    int days = 0;                                  // cooldown only
};

struct Scenario {
    std::string id, name;
    ScenarioStatus status = ScenarioStatus::draft;
    int version = 1;
    Trigger trigger;
    Reentry reentry;
    std::string start;
    std::vector<Node> nodes;
    nlohmann::json ui = nlohmann::json::object();

    const Node* find(std::string_view node_id) const;
    // Voucher campaigns named anywhere in the scenario (assign_voucher and history calls),
    // in order of appearance: `voucher.*` falls back to the latest voucher of these.
    std::vector<std::string> campaigns() const;
};

// ---- loading and validation ----------------------------------------------------------------

// One problem, placed where the builder shows it: the node id ("" for the scenario itself)
// and the field ("if", "params.template", "cases[1].when", "trigger.when", ...).
struct ScenarioError {
    std::string node, field, message;
    int column = 0;  // inside an expression or template, 1-based; 0 = not applicable
    bool operator==(const ScenarioError&) const = default;
};
void to_json(nlohmann::json& j, const ScenarioError& e);

struct LoadedScenario {
    Scenario scenario;
    std::vector<ScenarioError> errors;  // shape problems found while reading; empty = readable
};
// Reads as much as it can: every shape problem is reported, not only the first.
LoadedScenario load_scenario(const nlohmann::json& j);

// What exists around the scenario. A null pointer means "not known here": that existence
// check is skipped (e.g. `closeloop validate` without --templates).
struct Catalog {
    const std::map<std::string, MessageTemplate>* templates = nullptr;
    const std::map<std::string, VoucherCampaign>* campaigns = nullptr;
    const std::set<std::string>* endpoints = nullptr;  // webhook endpoint ids (/api/v1/endpoints)
};

// Everything that must hold before a scenario can be activated (CONTRACT.md, Validation):
// exactly one start, every referenced id exists, every node reachable, no cycle that does
// not pass through a wait, expressions parse and type-check against the trigger's event
// type, action params complete, templates and voucher campaigns exist.
std::vector<ScenarioError> validate(const Scenario& s, const Catalog& catalog);
// load_scenario + validate, every error of both in one list (a field that did not load is
// reported once, by loading).
std::vector<ScenarioError> validate_document(const nlohmann::json& j, const Catalog& catalog);

void to_json(nlohmann::json& j, const Scenario& s);

}  // namespace closeloop
