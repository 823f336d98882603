#include "http.h"

#include <strings.h>

#include <algorithm>
#include <chrono>
#include <iostream>

#include "closeloop/detail/json_read.h"
#include "keys.h"
#include "rate_limit.h"
#include "sessions.h"

namespace closeloop::server {

using nlohmann::json;

namespace {

// What the metrics need about the request a thread is answering: httplib handles a request
// entirely on one thread, from the pre-routing handler to the logger.
struct RequestInfo {
    std::chrono::steady_clock::time_point start;
    bool started = false;
    std::string route;
};
thread_local RequestInfo current_request;

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

Router::Router(httplib::Server& http, Store& store, std::size_t max_body, std::function<Time()> now)
    : http_(http), store_(store), max_body_(max_body), now_(std::move(now)) {}

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
bool Router::authorize(Call& call, Access access) {
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
        return !rate_ || rate_->admit(call, current_request.route);
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
    return !rate_ || rate_->admit(call, current_request.route);
}

void Router::add(const std::string& method, const std::string& pattern, Access access, Handler handler) {
    const std::string regex = pattern_regex(pattern);
    routes_.push_back({method, pattern});
    matchers_.emplace_back(method, std::regex(regex));
    auto answer = [this, pattern, access, handler = std::move(handler)](Call& call) {
        current_request.route = pattern;
        if (access != Access::open ? !authorize(call, access) : rate_ && !rate_->admit(call, pattern)) return;
        handler(call);
        if (rate_) rate_->settle(call, pattern);
    };
    if (method == "GET") {
        http_.Get(regex, [answer](const httplib::Request& req, httplib::Response& res) {
            Call call{req, res, {}, {}, std::nullopt};
            answer(call);
        });
        return;
    }
    // Requests with a body read it here rather than in httplib: a POST without Content-Length
    // (curl -X POST) has no body, where httplib would wait for the connection to close.
    auto with_body = [this, answer](const httplib::Request& req, httplib::Response& res,
                                    const httplib::ContentReader& reader) {
        Call call{req, res, {}, {}, std::nullopt};
        const bool chunked = strcasecmp(req.get_header_value("Transfer-Encoding").c_str(), "chunked") == 0;
        if (req.has_header("Content-Length") || chunked) {
            if (req.is_multipart_form_data()) {
                // Read (and drop) it so the connection stays in step, then refuse it.
                reader([](const httplib::MultipartFormData&) { return true; },
                       [](const char*, std::size_t) { return true; });
                send_error(res, 400, "bad_request", "send JSON (Content-Type: application/json), not a form");
                return;
            }
            bool too_large = false;
            const bool read = reader([&](const char* data, std::size_t n) {
                if (call.body.size() + n > max_body_) {
                    too_large = true;
                    return false;
                }
                call.body.append(data, n);
                return true;
            });
            if (!read) {
                if (too_large) res.status = 413;  // else httplib set 400 or 413; the error handler writes the JSON
                return;
            }
        }
        answer(call);
    };
    if (method == "POST")
        http_.Post(regex, std::move(with_body));
    else if (method == "PUT")
        http_.Put(regex, std::move(with_body));
    else
        http_.Delete(regex, std::move(with_body));
}

std::vector<std::string> Router::methods_for(const std::string& path) const {
    std::vector<std::string> out;
    for (const auto& [method, re] : matchers_)
        if (std::regex_match(path, re) && std::find(out.begin(), out.end(), method) == out.end()) out.push_back(method);
    return out;
}

void install_observers(httplib::Server& http, const Router& router, ServerMetrics& metrics) {
    http.set_pre_routing_handler([](const httplib::Request&, httplib::Response&) {
        current_request.start = std::chrono::steady_clock::now();
        current_request.started = true;
        current_request.route = "unmatched";
        return httplib::Server::HandlerResponse::Unhandled;
    });
    http.set_logger([&metrics](const httplib::Request& req, const httplib::Response& res) {
        double seconds = 0;
        if (current_request.started)
            seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - current_request.start).count();
        metrics.observe_request(req.method, current_request.started ? current_request.route : "unparsed", res.status,
                                seconds);
        current_request.started = false;
    });
    http.set_error_handler(
        httplib::Server::HandlerWithResponse([&router](const httplib::Request& req, httplib::Response& res) {
            if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;  // a route's own error
            if (res.status == 404 && current_request.route == "unmatched") {
                const auto methods = router.methods_for(req.path);
                if (!methods.empty()) {
                    std::string allow;
                    for (const auto& m : methods) allow += (allow.empty() ? "" : ", ") + m;
                    res.set_header("Allow", allow);
                    send_error(res, 405, "method_not_allowed", req.method + " is not allowed here; use " + allow);
                    return httplib::Server::HandlerResponse::Handled;
                }
                send_error(res, 404, "not_found", "no such route: " + req.method + " " + req.path);
                return httplib::Server::HandlerResponse::Handled;
            }
            if (res.status == 413) {
                send_error(res, 413, "payload_too_large", "the body is larger than 1 MiB: send smaller batches");
                return httplib::Server::HandlerResponse::Handled;
            }
            send_error(res, res.status, default_code(res.status),
                       res.status == 400 ? "the request is not valid HTTP (request line, headers or chunked body)"
                                         : "the request cannot be answered");
            return httplib::Server::HandlerResponse::Handled;
        }));
    http.set_exception_handler([](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "unknown";
        try {
            if (ep) std::rethrow_exception(ep);
        } catch (const std::exception& e) {
            what = e.what();
        } catch (...) {
        }
        std::cerr << "closeloop: internal error on " << req.method << " " << req.path << ": " << what << std::endl;
        send_error(res, 500, "internal", "internal error (logged on the server)");
    });
}

}  // namespace closeloop::server
