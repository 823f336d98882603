// closeloop builder — the API client (api_client.h).
#include "api_client.h"

#include <cstdio>
#include <utility>

#include "platform.h"

namespace closeloop::web::api {
namespace {
std::function<void(const std::string&)> signed_out;

bool is_session_call(const std::string& path) {
    return path.rfind("/api/v1/session", 0) == 0;
}
}  // namespace

void on_signed_out(std::function<void(const std::string& message)> handler) {
    signed_out = std::move(handler);
}

void call(const std::string& method, const std::string& path, const nlohmann::json& body,
          std::function<void(const Reply&)> done, const std::string& if_match) {
    const std::string text = body.is_null() ? std::string() : body.dump();
    http(method, path, text, if_match, [path, done = std::move(done)](const HttpResponse& r) {
        Reply reply;
        reply.status = r.status;
        reply.etag = r.etag;
        if (!r.body.empty()) {
            reply.body = nlohmann::json::parse(r.body, nullptr, false);
            if (reply.body.is_discarded()) reply.body = nullptr;
        }
        if (reply.body.is_object() && reply.body.contains("error") && reply.body["error"].is_object()) {
            const auto& code = reply.body["error"].value("code", nlohmann::json());
            if (code.is_string()) reply.error_code = code.get<std::string>();
        }
        // A 401 anywhere but sign-in means the session is over (expired, or signed out in
        // another tab): the shell goes back to sign-in; the caller still hears of it.
        if (reply.status == 401 && !is_session_call(path) && signed_out) signed_out(describe(reply));
        if (done) done(reply);
    });
}

std::string describe(const Reply& reply) {
    if (reply.status == 0) {
        return "The closeloop server did not answer. Check that `closeloop serve` is running, then try again.";
    }
    std::string message;
    if (reply.body.is_object() && reply.body.contains("error") && reply.body["error"].is_object()) {
        const auto& m = reply.body["error"].value("message", nlohmann::json());
        if (m.is_string()) message = m.get<std::string>();
    }
    // The server's 401 text speaks to API clients (Bearer keys); a marketer needs to sign in.
    if (reply.status == 401) {
        if (reply.error_code == "session_expired") return "Your session has expired. Sign in again to go on.";
        return "You are signed out (the session ended or was closed elsewhere). Sign in again to go on.";
    }
    if (reply.status == 403 && message.empty()) return "This key may not do that.";
    if (reply.status == 404 && message.empty()) return "Not found: it may have been deleted.";
    if (reply.status >= 500 && message.empty()) {
        return "The server failed (" + std::to_string(reply.status) +
               "). Try again; if it persists, see the server log.";
    }
    if (message.empty()) message = "The server answered " + std::to_string(reply.status) + ".";
    return message;
}

std::string escape(const std::string& segment) {
    std::string out;
    for (const unsigned char c : segment) {
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
            c == '.' || c == '~') {
            out += static_cast<char>(c);
        } else {
            char buf[4];
            std::snprintf(buf, sizeof buf, "%%%02X", c);
            out += buf;
        }
    }
    return out;
}

}  // namespace closeloop::web::api
