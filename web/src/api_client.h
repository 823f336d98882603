// closeloop builder — the server's API v1 as the shell uses it: JSON in and out over
// platform::http, and the server's errors turned into sentences a marketer can act on.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>

namespace closeloop::web::api {

struct Reply {
    int status = 0;          // 0: the server did not answer
    nlohmann::json body;     // null when the body was empty or not JSON
    std::string etag;        // as sent ("\"3\"")
    std::string error_code;  // error.code of an error body ("session_expired", ...)
    bool ok() const { return status >= 200 && status < 300; }
};

// Sends a request; `body` is sent as JSON unless null. `if_match` is an ETag ("\"3\"").
void call(const std::string& method, const std::string& path, const nlohmann::json& body,
          std::function<void(const Reply&)> done, const std::string& if_match = "");
inline void get(const std::string& path, std::function<void(const Reply&)> done) {
    call("GET", path, nullptr, std::move(done));
}

// A sentence for a failed reply: "The server did not answer...", the server's own message.
std::string describe(const Reply& reply);

// Called for a 401 on any request but sign-in (the session ended): the shell goes back to
// the sign-in screen with the message.
void on_signed_out(std::function<void(const std::string& message)> handler);

// Percent-encodes a path segment (scenario ids are plain, but a user may type anything).
std::string escape(const std::string& segment);

}  // namespace closeloop::web::api
