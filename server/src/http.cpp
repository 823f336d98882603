#include "http.h"

#include <strings.h>

#include <algorithm>
#include <chrono>
#include <iostream>

#include "closeloop/detail/json_read.h"
#include "http_server.h"
#include "keys.h"
#include "rate_limit.h"
#include "sessions.h"

namespace closeloop::server {

using nlohmann::json;

namespace {

std::string pattern_regex(const std::string& pattern) {
    std::string out;
    for (std::size_t i = 0; i < pattern.size(); ++i) {
        const char c = pattern[i];
        if (c == '{') {
            i = pattern.find('}', i);
            out += "([^/]+)";
        } else if (c == '.') {
            out += "\\.";
        } else {
            out += c;
        }
    }
    return out;
}

std::optional<std::string> bearer_key(const httplib::Request& req) {
    const auto& h = req.get_header_value("Authorization");
    constexpr std::string_view scheme = "Bearer ";
    if (h.size() <= scheme.size() || h.compare(0, scheme.size(), scheme) != 0) return std::nullopt;
    std::string key = h.substr(scheme.size());
    while (!key.empty() && key.back() == ' ') key.pop_back();
    if (key.empty() || key.size() > 256) return std::nullopt;
    return key;
}

const char* default_code(int status) {
    switch (status) {
        case 400:
            return "bad_request";
        case 401:
            return "unauthorized";
        case 403:
            return "forbidden";
        case 404:
            return "not_found";
        case 405:
            return "method_not_allowed";
        case 409:
            return "conflict";
        case 413:
            return "payload_too_large";
        case 414:
            return "uri_too_long";
        case 416:
            return "range_not_satisfiable";
        default:
            return status >= 500 ? "internal" : "error";
    }
}

}  // namespace

void send_json(httplib::Response& res, int status, const json& body) {
    res.status = status;
    res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

void send_error(httplib::Response& res, int status, std::string_view code, std::string_view message,
                std::string_view field) {
    json err = {{"code", code}, {"message", message}, {"field", nullptr}};
    if (!field.empty()) err["field"] = field;
    send_json(res, status, json{{"error", err}});
}

void send_error(httplib::Response& res, int status, const Error& error) {
    send_error(res, status, error.code, error.message, error.path);
}

void send_error(httplib::Response& res, const Error& error) {
    send_error(res, error.code == "invalid_json" ? 400 : 422, error);
}

Result<json> parse_body(const std::string& body) {
    if (body.empty()) return Error{"invalid_json", "the body is empty: send a JSON document", ""};
    return detail::parse_json(body);
}

Result<std::optional<std::string>> query_text(const httplib::Request& req, const char* name, std::size_t max_len) {
    if (!req.has_param(name)) return std::optional<std::string>{};
    std::string v = req.get_param_value(name);
    if (v.empty()) return std::optional<std::string>{};
    if (v.size() > max_len)
        return Error{"invalid_parameter", "must be at most " + std::to_string(max_len) + " characters long", name};
    return std::optional<std::string>{std::move(v)};
}

Result<std::optional<Time>> query_time(const httplib::Request& req, const char* name) {
    auto text = query_text(req, name, 64);
    if (!text) return text.error();
    if (!*text) return std::optional<Time>{};
    auto t = parse_time(**text);
    if (!t) return Error{"invalid_parameter", "must be an RFC 3339 time such as 2026-11-22T10:00:00Z", name};
    return std::optional<Time>{*t};
}

Result<std::size_t> query_limit(const httplib::Request& req, std::size_t fallback, std::size_t max) {
    auto text = query_text(req, "limit", 16);
    if (!text) return text.error();
    if (!*text) return fallback;
    const std::string& s = **text;
    std::size_t n = 0;
    for (char c : s) {
        if (c < '0' || c > '9' || n > max) {
            n = max + 1;
            break;
        }
        n = n * 10 + static_cast<std::size_t>(c - '0');
    }
    if (n < 1 || n > max) return Error{"invalid_parameter", "must be an integer 1-" + std::to_string(max), "limit"};
    return n;
}

Result<std::optional<std::string>> query_choice(const httplib::Request& req, const char* name,
                                                std::initializer_list<std::string_view> allowed) {
    auto text = query_text(req, name, 64);
    if (!text || !*text) return text;
    std::string choices;
    std::size_t i = 0;
    for (const auto a : allowed) {
        if (**text == a) return text;
        choices += (i == 0 ? "" : i + 1 == allowed.size() ? " or " : ", ") + std::string(a);
        ++i;
    }
    return Error{"invalid_parameter", "must be " + choices, name};
}

Router::Router(Store& store, std::size_t max_body, std::function<Time()> now)
    : store_(store), max_body_(max_body), now_(std::move(now)) {}

void Router::get(const std::string& p, Access a, Handler h) {
    add("GET", p, a, std::move(h));
}
void Router::post(const std::string& p, Access a, Handler h) {
    add("POST", p, a, std::move(h));
}
void Router::put(const std::string& p, Access a, Handler h) {
    add("PUT", p, a, std::move(h));
}
void Router::del(const std::string& p, Access a, Handler h) {
    add("DELETE", p, a, std::move(h));
}

// Who calls: the key in Authorization, else the session cookie (with the CSRF token on
// changes). Answers the refusal and returns false when neither admits the caller.
bool Router::authorize(Call& call, Access access) const {
    if (!call.req.has_header("Authorization") && cookie_value(call.req, session_cookie_name)) {
        auto check = check_session(store_, call.req, now_());
        if (check.state == SessionState::expired) {
            send_error(call.res, 401, "session_expired", "your session has expired: sign in again");
            return false;
        }
        if (check.state == SessionState::none) {
            send_error(call.res, 401, "unauthorized",
                       "this session is not valid (signed out, or its key was revoked): sign in again");
            return false;
        }
        const std::string& method = call.req.method;
        if (method != "GET" && method != "HEAD" &&
            !csrf_matches(check.session, call.req.get_header_value("X-CSRF-Token"))) {
            send_error(call.res, 403, "csrf",
                       "a change made with a session must carry its CSRF token: X-CSRF-Token (from the sign-in "
                       "answer or GET /api/v1/session)");
            return false;
        }
        call.caller = {check.session.workspace, KeyKind::admin, check.session.key_id};
        call.session = std::move(check.session);
        return !rate_ || rate_->admit(call, call.route);
    }
    const auto key = bearer_key(call.req);
    if (!key) {
        send_error(call.res, 401, "unauthorized",
                   "send the workspace's key: Authorization: Bearer <key> (or sign in: POST /api/v1/session)");
        return false;
    }
    const std::string hash = sha256_hex(*key);
    const auto grant = store_.find_key(hash);
    if (!grant) {
        send_error(call.res, 401, "unauthorized", "this key is not valid (revoked, mistyped or another server's)");
        return false;
    }
    if (access == Access::admin && grant->kind != KeyKind::admin) {
        send_error(call.res, 403, "forbidden", "a publishable key may only post survey answers");
        return false;
    }
    call.caller = {grant->workspace, grant->kind, key_id_of(hash)};
    return !rate_ || rate_->admit(call, call.route);
}

void Router::add(const std::string& method, const std::string& pattern, Access access, Handler handler) {
    routes_.push_back({method, pattern});
    table_.push_back({method, pattern, std::regex(pattern_regex(pattern)), access, std::move(handler)});
}

std::vector<std::string> Router::methods_for(const std::string& path) const {
    std::vector<std::string> out;
    for (const auto& r : table_)
        if (std::regex_match(path, r.regex) && std::find(out.begin(), out.end(), r.method) == out.end())
            out.push_back(r.method);
    return out;
}

void Router::answer(const httplib::Request& req, httplib::Response& res, std::string& route) const {
    const std::string raw_path = req.target.substr(0, req.target.find('?'));
    const std::string& method = req.method == "HEAD" ? std::string("GET") : req.method;
    for (const auto& r : table_) {
        if (r.method != method) continue;
        std::smatch m;
        if (!std::regex_match(raw_path, m, r.regex)) continue;
        route = r.pattern;
        Call call{req, res, {}, {}, std::nullopt, {}, r.pattern};
        for (std::size_t i = 1; i < m.size(); ++i) {
            auto decoded = percent_decode(m[i].str(), false);
            if (!decoded)
                return send_error(res, 400, "bad_request", "the path holds a % not followed by two hex digits");
            call.params.push_back(std::move(*decoded));
        }
        if (method != "GET") {
            const std::string type = req.get_header_value("Content-Type");
            if (strncasecmp(type.c_str(), "multipart/form-data", 19) == 0)
                return send_error(res, 400, "bad_request", "send JSON (Content-Type: application/json), not a form");
            if (req.body.size() > max_body_)
                return send_error(
                    res, 413, "payload_too_large",
                    "the body is larger than " + std::to_string(max_body_) + " bytes: send smaller batches");
            call.body = req.body;
        }
        if (r.access != Access::open ? !authorize(call, r.access) : rate_ && !rate_->admit(call, r.pattern)) return;
        r.handler(call);
        if (rate_) rate_->settle(call, r.pattern);
        return;
    }
    route = "unmatched";
    const auto methods = methods_for(raw_path);
    if (!methods.empty()) {
        std::string allow;
        for (const auto& m : methods) allow += (allow.empty() ? "" : ", ") + m;
        res.set_header("Allow", allow);
        return send_error(res, 405, "method_not_allowed", req.method + " is not allowed here; use " + allow);
    }
    send_error(res, 404, "not_found", "no such route: " + req.method + " " + req.path);
}

void Router::dispatch(const httplib::Request& req, httplib::Response& res) const {
    const auto start = std::chrono::steady_clock::now();
    std::string route = "unmatched";
    try {
        answer(req, res, route);
        if (res.status == -1) res.status = 200;
        // A route that set an error status without a body still answers in the one error format.
        if (res.status >= 400 && res.body.empty() && !res.content_provider_)
            send_error(res, res.status, default_code(res.status), "the request cannot be answered");
    } catch (const std::exception& e) {
        std::cerr << "closeloop: internal error on " << req.method << " " << req.path << ": " << e.what() << std::endl;
        res = httplib::Response{};
        send_error(res, 500, "internal", "internal error (logged on the server)");
    }
    if (metrics_)
        metrics_->observe_request(req.method, route, res.status,
                                  std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
}

}  // namespace closeloop::server
