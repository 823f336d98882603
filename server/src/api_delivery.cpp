// Delivery: webhook endpoints (/api/v1/endpoints), retrying dead outbox entries, and the
// unsubscribe links of e-mails (/unsubscribe/{token}: a page on GET, the one-click POST of
// RFC 8058).
#include <cctype>

#include "api.h"
#include "api_json.h"
#include "closeloop/detail/json_read.h"
#include "closeloop/render.h"
#include "delivery/signing.h"
#include "delivery/ssrf.h"
#include "unsubscribe.h"

namespace closeloop::server {

using delivery::new_webhook_secret;
using delivery::refuse_url;
using nlohmann::json;

// ---- pages for people ----------------------------------------------------------------------

namespace {

std::string page(std::string_view title, std::string_view body_html) {
    return "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" "
           "content=\"width=device-width,initial-scale=1\"><meta name=\"robots\" content=\"noindex\"><title>" +
           escape_html(title) +
           "</title><style>body{font-family:system-ui,Arial,sans-serif;background:#f3f1ec;color:#2b2b2b;margin:0}"
           "main{max-width:520px;margin:12vh auto;background:#fff;border-radius:8px;padding:32px 36px;"
           "box-shadow:0 1px 3px rgba(0,0,0,.08)}h1{font-size:24px;margin:0 0 16px;color:#1f3d2b}"
           "p{line-height:1.6}button{font-size:17px;padding:12px 28px;border:0;border-radius:6px;"
           "background:#1f3d2b;color:#fff;cursor:pointer}button:hover{background:#2d5a3f}</style></head><body><main>"
           "<h1>" +
           escape_html(title) + "</h1>" + std::string(body_html) + "</main></body></html>";
}

}  // namespace

void send_page(httplib::Response& res, int status, std::string_view title, std::string_view body_html) {
    res.status = status;
    res.set_header("Cache-Control", "no-store");
    res.set_header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'");
    res.set_content(page(title, body_html), "text/html; charset=utf-8");
}

namespace {

// ---- endpoints -----------------------------------------------------------------------------

constexpr std::int64_t secret_overlap_ms = 24 * ms_per_hour;  // a rotated-out secret still signs

bool valid_id(std::string_view id) {
    if (id.empty() || id.size() > 64) return false;
    for (char c : id)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
    return true;
}

json endpoint_json(const Endpoint& e) {
    json j = {{"id", e.id},
              {"name", e.name},
              {"kind", e.kind},
              {"url", e.url},
              {"rate_per_second", e.rate_per_second},
              {"enabled", !e.disabled_at},
              {"created_at", format_time(e.created_at)},
              {"updated_at", format_time(e.updated_at)}};
    j["disabled_at"] = time_or_null(e.disabled_at);
    j["disabled_reason"] = e.disabled_reason.empty() ? json(nullptr) : json(e.disabled_reason);
    j["previous_secret_until"] = e.previous_secret.empty() ? json(nullptr) : time_or_null(e.previous_until);
    return j;
}

// Slack allows about one message a second per incoming webhook; Teams workflows a few.
double default_rate(std::string_view kind) {
    return kind == "slack" ? 1.0 : kind == "teams" ? 2.0 : 0.0;
}

// The fields of a POST or PUT body; `creating` requires id, kind and url.
std::optional<Endpoint> read_endpoint(Api& api, Call& call, const json& body, Endpoint e, bool creating,
                                      std::optional<bool>* enabled) {
    detail::Fields f(body, "");
    if (creating)
        f.reject_unknown({"id", "name", "kind", "url", "rate_per_second"});
    else
        f.reject_unknown({"name", "kind", "url", "rate_per_second", "enabled"});
    if (creating) {
        e.id = f.string("id", true, 64, 1).value_or("");
        if (f.ok() && !valid_id(e.id)) f.fail("id", "an endpoint id is 1-64 letters, digits, '-' or '_'");
    }
    if (auto name = f.string("name", false, 200, 1)) e.name = *name;
    if (auto kind = f.string("kind", creating, 16, 1)) {
        if (*kind != "slack" && *kind != "teams" && *kind != "generic")
            f.fail("kind", "must be slack, teams or generic");
        else
            e.kind = *kind;
    }
    if (auto url = f.string("url", creating, 2048, 1)) e.url = *url;
    const bool rate_given = f.has("rate_per_second");
    if (auto rate = f.number("rate_per_second", false, 0, 1000)) e.rate_per_second = *rate;
    if (!creating) *enabled = f.boolean("enabled", false);
    if (!f.ok()) {
        send_error(call.res, f.error());
        return std::nullopt;
    }
    if (creating && !rate_given) e.rate_per_second = default_rate(e.kind);
    if (e.name.empty()) e.name = e.id;
    if (const auto refused = refuse_url(e.url, api.allow_private_endpoints)) {
        send_error(call.res, 422, "invalid_field", *refused, "url");
        return std::nullopt;
    }
    return e;
}

void list_endpoints(Api& api, Call& call) {
    std::size_t limit = 0;
    std::optional<std::string> cursor;
    if (!take_param(call.res, query_limit(call.req, default_catalog_page_size, max_page_size), limit) ||
        !take_param(call.res, query_text(call.req, "cursor", 128), cursor))
        return;
    const auto all = api.store.endpoints(call.caller.workspace);
    json next, out = json::array();
    for (const auto* item : id_page(
             all, [](const auto& x) -> const std::string& { return x.id; }, cursor, limit, next))
        out.push_back(endpoint_json(*item));
    send_json(call.res, 200, {{"endpoints", std::move(out)}, {"next_cursor", std::move(next)}});
}

void create_endpoint(Api& api, Call& call) {
    auto body = parse_body(call.body);
    if (!body) return send_error(call.res, body.error());
    std::optional<bool> unused;
    auto e = read_endpoint(api, call, *body, Endpoint{}, true, &unused);
    if (!e) return;
    e->secret = new_webhook_secret();
    e->created_at = e->updated_at = api.now();
    if (!api.store.create_endpoint(call.caller.workspace, *e))
        return send_error(call.res, 409, "conflict", "an endpoint with this id exists", "id");
    json out = endpoint_json(*e);
    out["secret"] = e->secret;  // shown once
    send_json(call.res, 201, out);
}

void get_endpoint(Api& api, Call& call) {
    const auto e = api.store.find_endpoint(call.caller.workspace, call.param(1));
    if (!e) return send_error(call.res, 404, "not_found", "no endpoint with this id", "id");
    send_json(call.res, 200, endpoint_json(*e));
}

void update_endpoint(Api& api, Call& call) {
    auto current = api.store.find_endpoint(call.caller.workspace, call.param(1));
    if (!current) return send_error(call.res, 404, "not_found", "no endpoint with this id", "id");
    auto body = parse_body(call.body);
    if (!body) return send_error(call.res, body.error());
    std::optional<bool> enabled;
    auto e = read_endpoint(api, call, *body, *current, false, &enabled);
    if (!e) return;
    if (enabled && *enabled) {
        e->disabled_at.reset();
        e->disabled_reason.clear();
    } else if (enabled && !*enabled && !e->disabled_at) {
        e->disabled_at = api.now();
        e->disabled_reason = "disabled through the API";
    }
    e->updated_at = api.now();
    if (!api.store.update_endpoint(call.caller.workspace, *e))
        return send_error(call.res, 404, "not_found", "no endpoint with this id", "id");
    send_json(call.res, 200, endpoint_json(*e));
}

void rotate_secret(Api& api, Call& call) {
    auto e = api.store.find_endpoint(call.caller.workspace, call.param(1));
    if (!e) return send_error(call.res, 404, "not_found", "no endpoint with this id", "id");
    const Time now = api.now();
    e->previous_secret = e->secret;
    e->previous_until = Time{now.ms + secret_overlap_ms};
    e->secret = new_webhook_secret();
    e->updated_at = now;
    if (!api.store.update_endpoint(call.caller.workspace, *e))
        return send_error(call.res, 404, "not_found", "no endpoint with this id", "id");
    json out = endpoint_json(*e);
    out["secret"] = e->secret;
    send_json(call.res, 200, out);
}

void delete_endpoint(Api& api, Call& call) {
    if (!api.store.delete_endpoint(call.caller.workspace, call.param(1)))
        return send_error(call.res, 404, "not_found", "no endpoint with this id", "id");
    call.res.status = 204;
}

void retry_endpoint(Api& api, Call& call) {
    const auto e = api.store.find_endpoint(call.caller.workspace, call.param(1));
    if (!e) return send_error(call.res, 404, "not_found", "no endpoint with this id", "id");
    if (e->disabled_at)
        return send_error(
            call.res, 409, "endpoint_disabled",
            "the endpoint is disabled (" + e->disabled_reason + "): enable it first with PUT {\"enabled\": true}",
            "enabled");
    const std::size_t n = api.store.retry_endpoint_effects(call.caller.workspace, e->id, api.now());
    if (api.wake_delivery) api.wake_delivery();
    send_json(call.res, 200, {{"retried", n}});
}

// ---- the outbox ----------------------------------------------------------------------------

void retry_effect(Api& api, Call& call) {
    const std::string id = call.param(1);
    std::int64_t seq = 0;
    try {
        std::size_t used = 0;
        seq = std::stoll(id, &used);
        if (used != id.size()) throw std::invalid_argument(id);
    } catch (const std::exception&) {
        return send_error(call.res, 404, "not_found", "no outbox entry with this id", "id");
    }
    switch (api.store.retry_effect(call.caller.workspace, seq, api.now())) {
        case RetryEffect::not_found:
            return send_error(call.res, 404, "not_found", "no outbox entry with this id", "id");
        case RetryEffect::not_retryable:
            return send_error(call.res, 409, "not_retryable", "only a dead or failed entry can be retried", "id");
        case RetryEffect::retried:
            break;
    }
    if (api.wake_delivery) api.wake_delivery();
    send_json(call.res, 200, outbox_json(*api.store.find_effect(call.caller.workspace, seq), api.sends_email));
}

// ---- unsubscribe ---------------------------------------------------------------------------

std::optional<UnsubscribeTarget> target_of(Api& api, const std::string& token) {
    const auto ws = token_workspace(token);
    if (!ws) return std::nullopt;
    const auto secret = api.store.setting(*ws, "link_secret");
    if (!secret || !secret->is_string()) return std::nullopt;
    return verify_unsubscribe_token(secret->get<std::string>(), token);
}

void not_a_link(httplib::Response& res) {
    send_page(res, 404, "This link is not valid",
              "<p>The unsubscribe link is incomplete or was changed. Open it again from the e-mail, "
              "or reply to the e-mail and ask us to stop.</p>");
}

// A GET (a person, or a mail provider's link scanner) only asks: it must not unsubscribe.
void unsubscribe_page(Api& api, Call& call) {
    const auto target = target_of(api, call.param(1));
    if (!target) return not_a_link(call.res);
    if (const auto s = api.store.find_suppression(target->workspace, target->address); s && s->reason == "unsubscribed")
        return send_page(call.res, 200, "You are unsubscribed",
                         "<p>" + escape_html(target->address) + " gets no more of these e-mails.</p>");
    send_page(call.res, 200, "Unsubscribe",
              "<p>Stop sending e-mails like this to <strong>" + escape_html(target->address) +
                  "</strong>?</p><form method=\"post\"><input type=\"hidden\" name=\"List-Unsubscribe\" "
                  "value=\"One-Click\"><button type=\"submit\">Unsubscribe</button></form>"
                  "<p style=\"font-size:14px;color:#5b5b5b\">Messages you asked for, such as a voucher, still "
                  "arrive.</p>");
}

// RFC 8058: the POST unsubscribes at once (the form above, or a mail provider's one click).
void unsubscribe(Api& api, Call& call) {
    const auto target = target_of(api, call.param(1));
    if (!target) return not_a_link(call.res);
    api.store.add_suppression(target->workspace,
                              {target->address, "unsubscribed", target->contact, "one-click unsubscribe", api.now()});
    send_page(call.res, 200, "You are unsubscribed",
              "<p>" + escape_html(target->address) + " gets no more of these e-mails.</p>");
}

}  // namespace

void add_delivery_routes(Router& router, Api& api) {
    router.get("/api/v1/endpoints", Access::admin, [&api](Call& c) { list_endpoints(api, c); });
    router.post("/api/v1/endpoints", Access::admin, [&api](Call& c) { create_endpoint(api, c); });
    router.get("/api/v1/endpoints/{id}", Access::admin, [&api](Call& c) { get_endpoint(api, c); });
    router.put("/api/v1/endpoints/{id}", Access::admin, [&api](Call& c) { update_endpoint(api, c); });
    router.del("/api/v1/endpoints/{id}", Access::admin, [&api](Call& c) { delete_endpoint(api, c); });
    router.post("/api/v1/endpoints/{id}/rotate", Access::admin, [&api](Call& c) { rotate_secret(api, c); });
    router.post("/api/v1/endpoints/{id}/retry", Access::admin, [&api](Call& c) { retry_endpoint(api, c); });
    router.post("/api/v1/outbox/{id}/retry", Access::admin, [&api](Call& c) { retry_effect(api, c); });
    router.get("/unsubscribe/{token}", Access::open, [&api](Call& c) { unsubscribe_page(api, c); });
    router.post("/unsubscribe/{token}", Access::open, [&api](Call& c) { unsubscribe(api, c); });
}

}  // namespace closeloop::server
