#include "closeloop/actions.h"

#include <algorithm>

#include "closeloop/detail/enum_table.h"
#include "closeloop/detail/json_read.h"

namespace closeloop {

using nlohmann::json;

namespace {

constexpr detail::EnumTable<ParamKind, 7> param_kinds = {{
    {"text", ParamKind::text},
    {"template", ParamKind::template_},
    {"expression", ParamKind::expression},
    {"duration", ParamKind::duration},
    {"address", ParamKind::address},
    {"url", ParamKind::url},
    {"enum", ParamKind::enum_},
}};

using Errors = std::vector<ScenarioError>;

// The string the node gives for a param; the spec's fallback when it gives none.
std::string_view param(const Node& n, std::string_view key) {
    const auto it = n.params.find(key);
    if (it != n.params.end() && it->is_string() && !it->get_ref<const std::string&>().empty())
        return it->get_ref<const std::string&>();
    const ParamSpec* spec = action_spec(n.action).param(key);
    return spec ? spec->fallback : std::string_view();
}

// Resolves "contact" / "owner" / an address to an e-mail address ("" when unknown).
std::string_view address(std::string_view who, const Contact& c) {
    if (who.empty() || who == "contact") return c.email;
    if (who == "owner") return c.owner;
    return who;
}

// ---- each action: its own rules across params, and how its effect is built ----------------

void check_set_attribute(const Node& n, Errors& errors) {
    const std::string_view name = param(n, "name");
    if (!name.empty() && (name.size() > 64 || name.find_first_of(" {}") != std::string_view::npos))
        errors.push_back({n.id, "params.name", "attribute names are 1-64 letters, digits, '_', '-' or '.'"});
}

ActionOutcome build_send_email(const Node& n, ActionContext& ctx, Effect& e) {
    const Contact& c = ctx.contact();
    auto& p = e.params.emplace<SendEmail>();
    p.template_id = param(n, "template");
    const std::string_view to = param(n, "to");
    p.to = address(to, c);
    if (p.to.empty()) return ctx.skip(to == "owner" ? "the contact has no owner" : "the contact has no e-mail address");
    if (const std::string_view cc = param(n, "cc"); !cc.empty()) p.cc = address(cc, c);
    if (const std::string_view from = param(n, "from"); !from.empty()) p.from = from == "owner" ? c.owner : from;
    p.locale = c.locale;
    return ActionOutcome::effect;
}

ActionOutcome build_assign_voucher(const Node& n, ActionContext& ctx, Effect& e) {
    const std::string_view id = param(n, "campaign");
    const VoucherCampaign* campaign = ctx.campaign(std::string(id));
    if (!campaign) return ctx.fail("params.campaign: there is no voucher campaign " + std::string(id));
    VoucherView v = assign_voucher(*campaign, ctx.voucher_code(*campaign, e.key), ctx.now());
    ctx.assigned(v);
    e.params.emplace<AssignVoucher>().voucher = std::move(v);
    return ActionOutcome::effect;
}

ActionOutcome build_notify(const Node& n, ActionContext& ctx, Effect& e) {
    auto message = ctx.render(n, "message");
    if (!message) return ActionOutcome::failed;
    e.params = Notify{std::string(param(n, "role")), std::move(*message)};
    return ActionOutcome::effect;
}

ActionOutcome build_webhook(const Node& n, ActionContext& ctx, Effect& e) {
    auto message = ctx.render(n, "message");
    if (!message) return ActionOutcome::failed;
    e.params = Webhook{std::string(param(n, "endpoint")), std::move(*message)};
    return ActionOutcome::effect;
}

ActionOutcome build_tag_change(const Node& n, ActionContext& ctx, Effect& e, bool add) {
    auto tag = ctx.render(n, "tag");
    if (!tag) return ActionOutcome::failed;
    const auto& tags = ctx.contact().tags;
    const bool has = std::find(tags.begin(), tags.end(), *tag) != tags.end();
    if (add && !has) {
        if (auto error = check_tag(*tag, "params.tag")) return ctx.fail(error->what());
        if (tags.size() >= max_contact_tags)
            return ctx.fail("params.tag: the contact holds " + std::to_string(max_contact_tags) +
                            " tags already (max_contact_tags)");
    }
    if (add && !has) ctx.change_contact().tags.push_back(*tag);
    if (!add && has) {
        auto& changed = ctx.change_contact().tags;
        changed.erase(std::find(changed.begin(), changed.end(), *tag));
    }
    e.params = TagChange{std::move(*tag)};
    return ActionOutcome::effect;
}

ActionOutcome build_add_tag(const Node& n, ActionContext& ctx, Effect& e) {
    return build_tag_change(n, ctx, e, true);
}

ActionOutcome build_remove_tag(const Node& n, ActionContext& ctx, Effect& e) {
    return build_tag_change(n, ctx, e, false);
}

ActionOutcome build_set_attribute(const Node& n, ActionContext& ctx, Effect& e) {
    auto value = ctx.evaluate(n, "value");
    if (!value) return ActionOutcome::failed;
    SetAttribute set{std::string(param(n, "name")), std::move(*value)};
    // The name was checked by validation; the value is known only now.
    if (auto error = check_attribute_value(json(set.value), "params.value")) return ctx.fail(error->what());
    const json& held = ctx.contact().attributes;
    if (!set.value.is_null() && held.is_object() && !held.contains(set.name) && held.size() >= max_contact_attributes)
        return ctx.fail("params.name: the contact holds " + std::to_string(max_contact_attributes) +
                        " attributes already (max_contact_attributes)");
    auto& p = e.params.emplace<SetAttribute>(std::move(set));
    Contact& changed = ctx.change_contact();
    if (!changed.attributes.is_object()) changed.attributes = json::object();
    if (p.value.is_null())
        changed.attributes.erase(p.name);
    else
        changed.attributes[p.name] = p.value;
    return ActionOutcome::effect;
}

ActionOutcome build_create_task(const Node& n, ActionContext& ctx, Effect& e) {
    const Contact& c = ctx.contact();
    const std::string_view who = param(n, "assignee");
    CreateTask p;
    p.assignee = who == "owner" && !c.owner.empty() ? std::string_view(c.owner) : who;
    auto title = ctx.render(n, "title");
    if (!title) return ActionOutcome::failed;
    p.title = std::move(*title);
    auto description = ctx.render(n, "description");
    if (!description) return ActionOutcome::failed;
    p.description = std::move(*description);
    if (const std::string_view due = param(n, "due"); !due.empty())
        if (auto d = parse_duration(due)) p.due = add(ctx.now(), *d);
    e.params = std::move(p);
    return ActionOutcome::effect;
}

ActionOutcome build_send_survey(const Node& n, ActionContext& ctx, Effect& e) {
    const Contact& c = ctx.contact();
    auto& p = e.params.emplace<SendSurvey>();
    p.survey = param(n, "survey");
    p.channel = param(n, "channel");
    p.to = address(param(n, "to"), c);
    if (p.to.empty()) return ctx.skip("the contact has no e-mail address");
    p.locale = c.locale;
    return ActionOutcome::effect;
}

// ---- the params JSON of each effect type ---------------------------------------------------

void put_optional(json& j, const char* key, const std::string& value) {
    if (!value.empty()) j[key] = value;
}

void write(const SendEmail& p, json& j) {
    j["template"] = p.template_id;
    j["to"] = p.to;
    put_optional(j, "cc", p.cc);
    put_optional(j, "from", p.from);
    j["locale"] = p.locale;
}
void write(const AssignVoucher& p, json& j) {
    j = voucher_view_json(p.voucher);
    j.erase("redeemed");
}
void write(const Notify& p, json& j) {
    j = {{"role", p.role}, {"message", p.message}};
}
void write(const Webhook& p, json& j) {
    j = {{"endpoint", p.endpoint}, {"message", p.message}};
}
void write(const TagChange& p, json& j) {
    j["tag"] = p.tag;
}
void write(const SetAttribute& p, json& j) {
    j = {{"name", p.name}, {"value", p.value}};
}
void write(const CreateTask& p, json& j) {
    j["assignee"] = p.assignee;
    j["title"] = p.title;
    put_optional(j, "description", p.description);
    if (p.due) j["due"] = format_time(*p.due);
}
void write(const SendSurvey& p, json& j) {
    j = {{"survey", p.survey}, {"channel", p.channel}, {"to", p.to}, {"locale", p.locale}};
}

// ---- the entries ---------------------------------------------------------------------------

struct ActionEntry {
    ActionSpec spec;
    void (*check)(const Node&, Errors&);  // the action's own rules across params; may be null
    ActionOutcome (*build)(const Node&, ActionContext&, Effect&);
};

// A param's spec, written short in the table below.
ParamSpec P(std::string_view name, ParamKind kind, bool required, std::string_view picker = {},
            std::vector<std::string_view> values = {}, std::string_view fallback = {}) {
    return {name, kind, required, picker, std::move(values), fallback};
}

// One entry per ActionKind, in the enum's order (action_spec indexes it).
const std::vector<ActionEntry>& entries() {
    using K = ParamKind;
    static const std::vector<ActionEntry> all = {
        {{ActionKind::send_email,
          "send_email",
          {P("template", K::text, true, "template_id"), P("to", K::address, false, "", {}, "contact"),
           P("from", K::text, false), P("cc", K::address, false)}},
         nullptr,
         build_send_email},
        {{ActionKind::assign_voucher, "assign_voucher", {P("campaign", K::text, true, "voucher_campaign_id")}},
         nullptr,
         build_assign_voucher},
        {{ActionKind::notify, "notify", {P("role", K::text, true, "role"), P("message", K::template_, true)}},
         nullptr,
         build_notify},
        {{ActionKind::webhook,
          "webhook",
          {P("endpoint", K::text, true, "endpoint_id"), P("message", K::template_, true)}},
         nullptr,
         build_webhook},
        {{ActionKind::add_tag, "add_tag", {P("tag", K::template_, true)}}, nullptr, build_add_tag},
        {{ActionKind::remove_tag, "remove_tag", {P("tag", K::template_, true)}}, nullptr, build_remove_tag},
        {{ActionKind::set_attribute, "set_attribute", {P("name", K::text, true), P("value", K::expression, true)}},
         check_set_attribute,
         build_set_attribute},
        {{ActionKind::create_task,
          "create_task",
          {P("assignee", K::text, true, "role"), P("title", K::template_, true), P("description", K::template_, false),
           P("due", K::duration, false)}},
         nullptr,
         build_create_task},
        {{ActionKind::send_survey,
          "send_survey",
          {P("survey", K::text, true, "survey_id"), P("channel", K::enum_, false, "", {"email"}, "email"),
           P("to", K::address, false, "", {}, "contact")}},
         nullptr,
         build_send_survey},
    };
    return all;
}

const ActionEntry& entry(ActionKind kind) {
    return entries()[static_cast<std::size_t>(kind)];
}

// ---- validation of one param ---------------------------------------------------------------

void check_kind(const Node& n, const ParamSpec& spec, std::string_view value, const TypeEnv& env, Errors& errors) {
    const std::string field = "params." + std::string(spec.name);
    switch (spec.kind) {
        case ParamKind::text:
            break;
        case ParamKind::template_:
            if (const auto t = n.text_params.find(spec.name); t != n.text_params.end())
                if (auto e = t->second.check(env)) errors.push_back({n.id, field, e->message, e->column});
            break;
        case ParamKind::expression:
            if (const auto x = n.expr_params.find(spec.name); x != n.expr_params.end())
                if (auto t = x->second.check(env); !t)
                    errors.push_back({n.id, field, t.error().message, t.error().column});
            break;
        case ParamKind::duration:
            if (const auto d = parse_duration(value); !d)
                errors.push_back({n.id, field, "must be a duration such as P2D"});
            else if (!at_most(*d, max_wait))
                errors.push_back({n.id, field, "must be at most " + format_duration(max_wait) + " (max_wait)"});
            break;
        case ParamKind::address:
            if (value != "contact" && value != "owner" && !is_valid_email(std::string(value)))
                errors.push_back({n.id, field, "must be \"contact\", \"owner\" or an e-mail address"});
            break;
        case ParamKind::url:
            if (value.rfind("https://", 0) != 0 && value.rfind("http://", 0) != 0)
                errors.push_back({n.id, field, "must start with https:// or http://"});
            break;
        case ParamKind::enum_:
            if (std::find(spec.values.begin(), spec.values.end(), value) == spec.values.end())
                errors.push_back({n.id, field,
                                  "must be " + detail::join_or(spec.values.begin(), spec.values.end(),
                                                               [](std::string_view v) { return v; })});
            break;
    }
}

void check_picked(const Node& n, const ParamSpec& spec, const std::string& value, const TypeEnv& env,
                  const Catalog& catalog, Errors& errors) {
    const std::string field = "params." + std::string(spec.name);
    if (spec.picker == "template_id" && catalog.templates) {
        const auto it = catalog.templates->find(value);
        if (it == catalog.templates->end())
            errors.push_back({n.id, field, "names no template: " + value});
        else if (auto e = validate_template(it->second, env))
            errors.push_back({n.id, field, "template " + value + " does not fit this scenario: " + e->what()});
    }
    if (spec.picker == "voucher_campaign_id" && catalog.campaigns && !catalog.campaigns->count(value))
        errors.push_back({n.id, field, "names no voucher campaign: " + value});
    if (spec.picker == "endpoint_id" && catalog.endpoints && !catalog.endpoints->count(value))
        errors.push_back({n.id, field, "there is no endpoint " + value});
}

// Params an action had in an earlier contract, with what replaced them: a scenario written
// then gets told what to write now rather than "is not a parameter".
std::optional<std::string_view> retired_param(ActionKind kind, std::string_view key) {
    if (kind == ActionKind::webhook && (key == "channel" || key == "url" || key == "url_secret"))
        return "webhooks name an endpoint (params.endpoint, managed at /api/v1/endpoints); a scenario holds no "
               "URL or secret";
    return std::nullopt;
}

}  // namespace

// ---- specs ---------------------------------------------------------------------------------

std::string_view to_string(ParamKind k) {
    return detail::enum_name(param_kinds, k);
}

const ParamSpec* ActionSpec::param(std::string_view key) const {
    for (const auto& p : params)
        if (p.name == key) return &p;
    return nullptr;
}

const ActionSpec& action_spec(ActionKind kind) {
    return entry(kind).spec;
}

// ActionKind's text in and out: its table is the entries.
std::string_view to_string(ActionKind a) {
    return action_spec(a).name;
}

std::optional<ActionKind> action_kind_of(std::string_view name) {
    for (const auto& e : entries())
        if (e.spec.name == name) return e.spec.kind;
    return std::nullopt;
}

std::string action_kind_names() {
    const auto& all = entries();
    return detail::join_or(all.begin(), all.end(), [](const ActionEntry& e) { return e.spec.name; });
}

json action_specs_json() {
    json out = json::array();
    for (const auto& e : entries()) {
        json params = json::array();
        for (const auto& p : e.spec.params) {
            json o = {
                {"name", std::string(p.name)}, {"kind", std::string(to_string(p.kind))}, {"required", p.required}};
            if (!p.picker.empty()) o["picker"] = std::string(p.picker);
            if (!p.values.empty()) {
                json values = json::array();
                for (const auto v : p.values) values.push_back(std::string(v));
                o["values"] = std::move(values);
            }
            if (!p.fallback.empty()) o["fallback"] = std::string(p.fallback);
            params.push_back(std::move(o));
        }
        out.push_back({{"action", std::string(e.spec.name)}, {"params", std::move(params)}});
    }
    return out;
}

// ---- effects -------------------------------------------------------------------------------

json voucher_view_json(const VoucherView& v) {
    return {{"code", v.code},
            {"campaign", v.campaign},
            {"value", v.value},
            {"currency", v.currency},
            {"assigned_at", format_time(v.assigned_at)},
            {"expires_at", format_time(v.expires_at)},
            {"redeemed", v.redeemed}};
}

json params_json(const Effect& e) {
    json j = json::object();
    std::visit([&j](const auto& p) { write(p, j); }, e.params);
    return j;
}

void to_json(json& j, const Effect& e) {
    j = {{"key", e.key},
         {"kind", to_string(e.kind)},
         {"contact", e.contact},
         {"node", e.node},
         {"params", params_json(e)}};
}

ActionOutcome build_effect(const Node& node, ActionContext& ctx, Effect& e) {
    return entry(node.action).build(node, ctx, e);
}

// ---- validation ----------------------------------------------------------------------------

void load_action_params(Node& n, Errors& errors) {
    const ActionSpec& spec = action_spec(n.action);
    for (const auto& p : spec.params) {
        const std::string key(p.name);
        const std::string field = "params." + key;
        const auto it = n.params.find(key);
        if (it == n.params.end() || it->is_null() || (it->is_string() && it->get_ref<const std::string&>().empty())) {
            if (p.required) errors.push_back({n.id, field, "is required for " + std::string(spec.name)});
            continue;
        }
        if (!it->is_string()) {
            errors.push_back({n.id, field, std::string("must be a string, not ") + detail::json_type_name(*it)});
            continue;
        }
        const auto& value = it->get_ref<const std::string&>();
        if (p.kind == ParamKind::template_) {
            auto t = TemplateText::parse(value);
            if (!t)
                errors.push_back({n.id, field, t.error().message, t.error().column});
            else
                n.text_params.emplace(key, std::move(*t));
        } else if (p.kind == ParamKind::expression) {
            auto x = Expression::parse(value);
            if (!x)
                errors.push_back({n.id, field, x.error().message, x.error().column});
            else
                n.expr_params.emplace(key, std::move(*x));
        }
    }
    for (const auto& item : n.params.items()) {
        if (spec.param(item.key())) continue;
        if (const auto why = retired_param(n.action, item.key()))
            errors.push_back({n.id, "params." + item.key(), std::string(*why)});
        else
            errors.push_back({n.id, "params." + item.key(), "is not a parameter of " + std::string(spec.name)});
    }
}

void check_action_params(const Node& n, const TypeEnv& env, const Catalog& catalog, Errors& errors) {
    const ActionEntry& e = entry(n.action);
    for (const auto& p : e.spec.params) {
        const auto it = n.params.find(p.name);
        if (it == n.params.end() || !it->is_string() || it->get_ref<const std::string&>().empty()) continue;
        const auto& value = it->get_ref<const std::string&>();
        check_kind(n, p, value, env, errors);
        check_picked(n, p, value, env, catalog, errors);
    }
    if (e.check) e.check(n, errors);
}

const std::string& action_campaign(const Node& n) {
    static const std::string none;
    if (n.kind != NodeKind::action) return none;
    for (const auto& p : action_spec(n.action).params) {
        if (p.picker != "voucher_campaign_id") continue;
        const auto it = n.params.find(p.name);
        if (it != n.params.end() && it->is_string()) return it->get_ref<const std::string&>();
    }
    return none;
}

// ---- tasks ---------------------------------------------------------------------------------

namespace {

// The first line, at most 200 bytes (cut before a UTF-8 character, "..." added).
std::string title_of(const std::string& message) {
    std::string line = message.substr(0, message.find('\n'));
    if (line.size() <= 200) return line.empty() ? "Scenario notification" : line;
    std::size_t cut = 197;
    while (cut > 0 && (static_cast<unsigned char>(line[cut]) & 0xC0) == 0x80) --cut;
    return line.substr(0, cut) + "...";
}

}  // namespace

std::optional<TaskDraft> task_of(const Effect& e) {
    if (const auto* p = std::get_if<Notify>(&e.params))
        return TaskDraft{p->role, "", title_of(p->message), p->message, {}};
    if (const auto* p = std::get_if<CreateTask>(&e.params)) {
        TaskDraft t;
        // The assignee is a person's address (the owner resolved by the engine) or a role.
        (p->assignee.find('@') != std::string::npos ? t.assignee : t.role) = p->assignee;
        t.title = title_of(p->title);
        t.message = p->description;
        t.due = p->due;
        return t;
    }
    return std::nullopt;
}

}  // namespace closeloop
