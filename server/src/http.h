// closeloop server — HTTP plumbing shared by the routes: the router (path patterns, auth,
// metrics labels), JSON answers, the one error format, and query-parameter reading.
//
// Errors: { "error": { "code": "invalid_field", "message": "...", "field": "events[3].data.score" } }
// ("field" is null when the error is about no field). Bad input is always a 4xx; a 500 comes
// only from the exception handler and is a bug.
#pragma once

#include <httplib.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "closeloop/result.h"
#include "closeloop/time.h"
#include "server_metrics.h"
#include "store/store.h"

namespace closeloop::server {

// ---- answers -------------------------------------------------------------------------------

void send_json(httplib::Response& res, int status, const nlohmann::json& body);
void send_error(httplib::Response& res, int status, std::string_view code, std::string_view message,
                std::string_view field = "");
// A core Error: invalid_json is a 400, the others (a field that is missing or wrong) a 422.
void send_error(httplib::Response& res, const Error& error);
void send_error(httplib::Response& res, int status, const Error& error);

// A small HTML page for people (the unsubscribe pages and their refusals), not the API's JSON.
void send_page(httplib::Response& res, int status, std::string_view title, std::string_view body_html);

// ---- input ---------------------------------------------------------------------------------

// The body as JSON (an empty body is an error too).
Result<nlohmann::json> parse_body(const std::string& body);

// Query parameters: absent or empty = nullopt; errors are "invalid_parameter" naming it.
Result<std::optional<std::string>> query_text(const httplib::Request& req, const char* name, std::size_t max_len);
Result<std::optional<Time>> query_time(const httplib::Request& req, const char* name);
Result<std::size_t> query_limit(const httplib::Request& req, std::size_t fallback, std::size_t max);
// One of `allowed` ("must be open or done" otherwise).
Result<std::optional<std::string>> query_choice(const httplib::Request& req, const char* name,
                                                std::initializer_list<std::string_view> allowed);

// Stores a query parameter's reading in `to`, or answers 400 with its error and returns false:
//   if (!take_param(call.res, query_text(call.req, "role", 64), q.role)) return;
template <class T, class U>
bool take_param(httplib::Response& res, Result<T> reading, U& to) {
    if (!reading) {
        send_error(res, 400, reading.error());
        return false;
    }
    to = std::move(*reading);
    return true;
}

// ---- routes --------------------------------------------------------------------------------

// A key comes as `Authorization: Bearer <key>`, or (admin only) as the browser session the
// key opened (sessions.h): then POST, PUT and DELETE need the session's X-CSRF-Token too.
enum class Access {
    open,     // no key (health, metrics, the OpenAPI document, the builder's files)
    admin,    // a workspace's admin key, or a session opened with one
    answers,  // an admin key, or a publishable key (which the route then restricts)
};

struct Caller {
    WorkspaceId workspace = 0;
    KeyKind kind = KeyKind::admin;
    std::string key_id;  // the key's (or the session's key's) id; empty on open routes
};

struct Call {
    const httplib::Request& req;
    httplib::Response& res;
    Caller caller;
    std::string body;                 // of POST, PUT and DELETE requests
    std::optional<Session> session;   // when the caller came with a session cookie
    std::vector<std::string> params;  // the path's {parameters}, percent-decoded
    std::string route;                // the route's pattern ("/api/v1/contacts/{id}")
    // Path parameter i (1-based, in pattern order).
    const std::string& param(std::size_t i) const { return params.at(i - 1); }
};

class RateLimiter;

struct RouteInfo {
    std::string method;
    std::string pattern;  // "/api/v1/contacts/{id}"
};

// Finds the route of each request and answers it: access, body, the handler, and the answers
// no route gives (404, 405, 500). It is the HttpServer's one handler (http_server.h).
class Router {
public:
    using Handler = std::function<void(Call&)>;
    // `max_body` bytes at most per request body (413 beyond); `now` judges sessions.
    Router(
        Store& store, std::size_t max_body, std::function<Time()> now = [] { return Time{0}; });

    void get(const std::string& pattern, Access access, Handler handler);  // HEAD too
    void post(const std::string& pattern, Access access, Handler handler);
    void put(const std::string& pattern, Access access, Handler handler);
    void del(const std::string& pattern, Access access, Handler handler);

    // Every answer is observed here (route pattern, status, latency).
    void set_metrics(ServerMetrics* metrics) { metrics_ = metrics; }

    // Answers one complete request. Routes match the path as sent (still percent-encoded), so
    // an id holding "/" (sent as %2F) reaches its route; parameters are decoded after.
    void dispatch(const httplib::Request& req, httplib::Response& res) const;
    // Rate limits (rate_limit.h) for every route from now on; nullptr = none.
    void set_rate_limiter(RateLimiter* limiter) { rate_ = limiter; }

    const std::vector<RouteInfo>& routes() const { return routes_; }
    // The methods routed for the raw `path` (for 405 answers); empty when the path is unknown.
    std::vector<std::string> methods_for(const std::string& path) const;

private:
    struct Route {
        std::string method;
        std::string pattern;
        std::regex regex;
        Access access;
        Handler handler;
    };
    void add(const std::string& method, const std::string& pattern, Access access, Handler handler);
    bool authorize(Call& call, Access access) const;
    void answer(const httplib::Request& req, httplib::Response& res, std::string& route) const;

    Store& store_;
    std::size_t max_body_;
    std::function<Time()> now_;
    ServerMetrics* metrics_ = nullptr;
    RateLimiter* rate_ = nullptr;
    std::vector<RouteInfo> routes_;
    std::vector<Route> table_;
};

}  // namespace closeloop::server
