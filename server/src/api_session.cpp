// Browser sessions (sessions.h): POST /api/v1/session signs in with an admin key, GET says
// who is signed in (and gives the CSRF token back to a reloaded page), DELETE signs out.
#include "api.h"
#include "api_json.h"
#include "closeloop/detail/json_read.h"
#include "keys.h"
#include "sessions.h"

namespace closeloop::server {

using nlohmann::json;

namespace {

bool secure_cookies(const Api& api) {
    return api.public_url.rfind("https://", 0) == 0;
}

json session_json(const Session& s) {
    return {{"workspace", s.workspace_slug},
            {"csrf_token", s.csrf_token},
            {"expires_at", format_time(session_end(s))},
            {"absolute_expires_at", format_time(s.expires_at)}};
}

void sign_in(Api& api, Call& call) {
    // JSON only: a page on another site can post a form (text/plain) without asking, and would
    // sign the browser into the attacker's workspace; application/json needs a CORS preflight.
    if (call.req.get_header_value("Content-Type").rfind("application/json", 0) != 0)
        return send_error(call.res, 415, "unsupported_media_type",
                          "send the key as JSON, with Content-Type: application/json", "");
    auto body = parse_body(call.body);
    if (!body) return send_error(call.res, body.error());
    if (!body->is_object()) return send_error(call.res, 422, "invalid_field", "send {\"key\": \"<admin key>\"}", "");
    detail::Fields f(*body, "");
    f.reject_unknown({"key"});
    const auto key = f.string("key", true, 256, 1);
    if (!f.ok()) return send_error(call.res, f.error());
    const auto info = api.store.find_key_info(sha256_hex(*key));
    if (!info || info->revoked_at) {
        return send_error(call.res, 401, "unauthorized",
                          info ? "this key has been revoked: ask for a new one (closeloop keys create)"
                               : "this key is not valid: check it, or issue a new one with `closeloop keys create "
                                 "--workspace <slug>`",
                          "key");
    }
    if (info->kind != KeyKind::admin)
        return send_error(call.res, 403, "forbidden",
                          "a publishable key cannot sign in (it may only post survey answers): use the workspace's "
                          "admin key",
                          "key");
    const Time now = api.now();
    const SessionPolicy policy;
    const std::string token = random_hex(32);
    Session s;
    s.token_hash = sha256_hex(token);
    s.workspace = info->workspace;
    s.key_id = info->id;
    s.csrf_token = random_hex(32);
    s.created_at = s.last_seen_at = now;
    s.expires_at = Time{now.ms + policy.absolute_ms};
    api.store.create_session(s, Time{now.ms - policy.absolute_ms});
    const auto stored = api.store.find_session(s.token_hash);
    if (!stored) return send_error(call.res, 500, "internal", "the session was not stored");
    call.res.set_header("Set-Cookie", session_cookie(token, secure_cookies(api)));
    call.res.set_header("Cache-Control", "no-store");
    send_json(call.res, 200, session_json(*stored));
}

// With a key instead of a session: who the key is, without a CSRF token (none is needed).
void who_am_i(Api& api, Call& call) {
    call.res.set_header("Cache-Control", "no-store");
    if (call.session) return send_json(call.res, 200, session_json(*call.session));
    std::string slug;
    for (const auto& w : api.store.workspaces())
        if (w.id == call.caller.workspace) slug = w.slug;
    send_json(call.res, 200, {{"workspace", slug}, {"csrf_token", nullptr}, {"expires_at", nullptr}});
}

// Always removes the cookie; ends the session when the request names a live one with its
// CSRF token (a stale or unknown one is signed out already).
void sign_out(Api& api, Call& call) {
    auto check = check_session(api.store, call.req, api.now());
    if (check.state == SessionState::valid) {
        if (!csrf_matches(check.session, call.req.get_header_value("X-CSRF-Token")))
            return send_error(call.res, 403, "csrf", "signing out needs the session's CSRF token: X-CSRF-Token");
        api.store.delete_session(check.session.token_hash);
    } else if (auto token = cookie_value(call.req, session_cookie_name); token && !token->empty()) {
        api.store.delete_session(sha256_hex(*token));  // an expired one
    }
    call.res.set_header("Set-Cookie", expired_session_cookie(secure_cookies(api)));
    call.res.status = 204;
}

}  // namespace

void add_session_routes(Router& router, Api& api) {
    router.post("/api/v1/session", Access::open, [&api](Call& c) { sign_in(api, c); });
    router.get("/api/v1/session", Access::admin, [&api](Call& c) { who_am_i(api, c); });
    router.del("/api/v1/session", Access::open, [&api](Call& c) { sign_out(api, c); });
}

}  // namespace closeloop::server
