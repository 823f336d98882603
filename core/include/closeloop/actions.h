// closeloop — the action kinds: one home for each.
//
// Every action kind (send_email, assign_voucher, ...) has one entry in actions.cpp that holds
// its name, its parameters as data (what the builder's inspector draws its form from and
// what loading and validation check), how its effect is built while a run steps, and its
// effect's params JSON (the contract's object, stored in the outbox and shown by the API).
// Adding an action: a value of ActionKind (scenario.h), its typed params below, its entry in
// actions.cpp. The executor delivers a new kind's effects through the outbox untouched.
//
// Sections: parameter specs, effects, building an effect, validation, tasks.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "closeloop/contact.h"
#include "closeloop/expr.h"
#include "closeloop/scenario.h"
#include "closeloop/time.h"
#include "closeloop/voucher.h"

namespace closeloop {

// ---- parameter specs -----------------------------------------------------------------------

// What a parameter's string holds, which says how it is checked and drawn:
//   text        free text (a picker may offer values)
//   template    text with {{ }} placeholders, rendered for each run
//   expression  an expression, evaluated for each run
//   duration    an ISO 8601 duration such as P2D
//   address     "contact", "owner" or an e-mail address
//   url         an http:// or https:// address
//   enum        one of `values`
enum class ParamKind { text, template_, expression, duration, address, url, enum_ };
std::string_view to_string(ParamKind k);

struct ParamSpec {
    std::string_view name;
    ParamKind kind = ParamKind::text;
    bool required = false;
    // What a form offers to choose from, when something exists to choose: "template_id",
    // "voucher_campaign_id", "role", "survey_id", "endpoint_id"; "" = nothing to pick.
    std::string_view picker;
    std::vector<std::string_view> values;  // enum: the allowed values
    std::string_view fallback;             // what the engine uses when the param is absent; "" = none
};

struct ActionSpec {
    ActionKind kind;
    std::string_view name;  // as in a scenario's "action"
    std::vector<ParamSpec> params;
    const ParamSpec* param(std::string_view key) const;
};

const ActionSpec& action_spec(ActionKind kind);
// "send_email, assign_voucher, ... or send_survey", for messages.
std::string action_kind_names();
// Every action's spec, for the builder's inspector:
//   [{"action": "send_email", "params": [{"name": "template", "kind": "text", "required": true,
//     "picker": "template_id"}, {"name": "to", "kind": "address", "required": false,
//     "fallback": "contact"}, ...]}, ...]
// ("picker", "values" and "fallback" only when set).
nlohmann::json action_specs_json();

// ---- effects -------------------------------------------------------------------------------

// The resolved parameters of an effect, one type per action: templates rendered, addresses
// picked. Typed, so a step builds no JSON; params_json gives the contract's object (what the
// outbox stores and the API shows), with optional fields only when set.
struct SendEmail {  // send_email
    std::string template_id, to, cc, from, locale;
};
struct AssignVoucher {  // assign_voucher: the voucher assigned (redeemed is false)
    VoucherView voucher;
};
struct Notify {  // notify: a task in the role's inbox
    std::string role, message;
};
struct Webhook {  // webhook: the endpoint's id (a workspace setting holding kind, URL and secret)
    std::string endpoint, message;
};
struct TagChange {  // add_tag, remove_tag
    std::string tag;
};
struct SetAttribute {  // set_attribute: a null value removes the attribute
    std::string name;
    Value value;
};
struct CreateTask {  // create_task
    std::string assignee, title, description;
    std::optional<Time> due;
};
struct SendSurvey {  // send_survey
    std::string survey, channel, to, locale;
};
using EffectParams =
    std::variant<SendEmail, AssignVoucher, Notify, Webhook, TagChange, SetAttribute, CreateTask, SendSurvey>;

// What the engine asks the caller to do. `key` is unique: `<run id>/<node id>`, with `#n`
// for the n-th visit of the same node (n >= 2).
struct Effect {
    std::string key;
    ActionKind kind = ActionKind::send_email;
    std::string contact;
    std::string node;
    EffectParams params;
};
void to_json(nlohmann::json& j, const Effect& e);
// A voucher as the run state and assign_voucher's params show it.
nlohmann::json voucher_view_json(const VoucherView& v);
// The params alone, as the contract's JSON object (what the outbox stores).
nlohmann::json params_json(const Effect& e);

// ---- building an effect --------------------------------------------------------------------

enum class ActionOutcome {
    effect,   // the effect is built
    skipped,  // nothing to send to: no effect, the run goes on
    failed,   // the run fails (the reason is given to fail())
};

// What an action's builder reads and changes while a run steps; the engine implements it.
class ActionContext {
public:
    // The contact as of this step (after its earlier tag and attribute effects).
    virtual const Contact& contact() const = 0;
    // The same, to change (copied on the first change).
    virtual Contact& change_contact() = 0;
    virtual Time now() const = 0;
    virtual const VoucherCampaign* campaign(const std::string& id) const = 0;
    virtual std::string voucher_code(const VoucherCampaign& campaign, const std::string& effect_key) = 0;
    // The voucher this run assigned: what `voucher.*` reads from now on.
    virtual void assigned(const VoucherView& voucher) = 0;
    // A template param rendered for this contact; "" when the node has none; nullopt when
    // rendering failed (then fail() was called).
    virtual std::optional<std::string> render(const Node& node, std::string_view param) = 0;
    // An expression param evaluated; nullopt when it failed (then fail() was called).
    virtual std::optional<Value> evaluate(const Node& node, std::string_view param) = 0;
    // Records why the run fails ("params.campaign: ...") and returns ActionOutcome::failed.
    virtual ActionOutcome fail(std::string why) = 0;
    // Records why nothing was sent (a text with static storage) and returns ActionOutcome::skipped.
    virtual ActionOutcome skip(const char* reason) = 0;

protected:
    ~ActionContext() = default;
};

// Fills e.params for the node's action (e.key, kind, contact and node are set by the caller).
ActionOutcome build_effect(const Node& node, ActionContext& ctx, Effect& e);

// ---- validation ----------------------------------------------------------------------------

// Loading: n.params as written is checked against the spec (required, strings, no unknown
// params); template params are compiled into n.text_params and expressions into n.expr_params.
void load_action_params(Node& n, std::vector<ScenarioError>& errors);
// Validation: templates and expressions type-check against the trigger's event, each param
// fits its kind, what a picker names exists in the catalog, and the action's own rules hold.
void check_action_params(const Node& n, const TypeEnv& env, const Catalog& catalog, std::vector<ScenarioError>& errors);
// The voucher campaign the action names ("" when none): for `voucher.*` and catalog checks.
const std::string& action_campaign(const Node& n);

// ---- tasks ---------------------------------------------------------------------------------

// The task a notify or create_task effect puts in an inbox: a person's when the assignee is
// an e-mail address, else the role's. The title is the first line of the message (or of the
// create_task title), at most 200 bytes with UTF-8 characters kept whole.
struct TaskDraft {
    std::string role, assignee, title, message;
    std::optional<Time> due;
};
// nullopt for effects that make no task.
std::optional<TaskDraft> task_of(const Effect& e);

}  // namespace closeloop
