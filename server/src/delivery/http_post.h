// closeloop delivery — posting a webhook (libcurl).
//
// One HttpPoster keeps one libcurl easy handle, so posts to the same endpoint reuse the
// connection (keep-alive). Every post passes the SSRF guard (ssrf.h) first and connects only to
// the addresses it vetted. http and https only, no redirects (a redirect could lead past the
// guard), a total timeout. A poster is used by one thread at a time.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace closeloop::delivery {

struct HttpTarget {
    std::string url;
    bool allow_private = false;  // loopback and private ranges (the operator's choice; tests)
};

struct HttpResult {
    int status = 0;     // the HTTP status; 0 = no answer (refused, unresolvable, connection, timeout)
    std::string error;  // empty when an answer came; "timeout: ..." when the time ran out
    std::chrono::milliseconds duration{};
    std::string retry_after;   // the Retry-After header's value, raw
    std::string body_excerpt;  // the answer's first 500 bytes
    bool refused = false;      // the SSRF guard refused the URL: permanent, do not retry
    bool timed_out = false;    // no full answer within the timeout
};

class HttpPoster {
public:
    explicit HttpPoster(std::chrono::milliseconds timeout);
    HttpPoster(HttpPoster&&) noexcept = default;
    HttpPoster& operator=(HttpPoster&&) noexcept = default;

    // POSTs `json_body` with Content-Type: application/json (unless `headers` names another)
    // and `headers` (e.g. webhook-id, webhook-timestamp, webhook-signature).
    HttpResult post(const HttpTarget& target, const std::string& json_body,
                    const std::vector<std::pair<std::string, std::string>>& headers);

private:
    std::chrono::milliseconds timeout_;
    std::unique_ptr<void, void (*)(void*)> curl_;
};

// "closeloop/<version>"
const char* user_agent();

}  // namespace closeloop::delivery
