#include "delivery/http_post.h"

#include <algorithm>
#include <cctype>

#include "delivery/curl_easy.h"
#include "delivery/ssrf.h"

namespace closeloop::delivery {

namespace {

constexpr std::size_t excerpt_size = 500;
// An answer's body is read to keep the connection reusable, up to this; past it the post stops
// (the status is known by then) rather than let an endpoint stream into the worker.
constexpr std::size_t body_limit = 64 * 1024;

struct Answer {
    std::string retry_after;
    std::string excerpt;
    std::size_t body_size = 0;
    bool cut = false;  // we stopped reading at body_limit
};

bool equal_nocase(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
    return text;
}

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
    auto* answer = static_cast<Answer*>(user);
    const std::string_view line(data, size * count);
    if (line.substr(0, 5) == "HTTP/") answer->retry_after.clear();  // a new answer (after a 100 Continue)
    const auto colon = line.find(':');
    if (colon != std::string_view::npos && equal_nocase(trim(line.substr(0, colon)), "retry-after"))
        answer->retry_after = std::string(trim(line.substr(colon + 1)));
    return size * count;
}

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
    auto* answer = static_cast<Answer*>(user);
    const std::size_t n = size * count;
    if (answer->excerpt.size() < excerpt_size)
        answer->excerpt.append(data, std::min(n, excerpt_size - answer->excerpt.size()));
    answer->body_size += n;
    if (answer->body_size > body_limit) {
        answer->cut = true;
        return 0;  // makes libcurl stop with CURLE_WRITE_ERROR
    }
    return n;
}

}  // namespace

const char* user_agent() {
    return "closeloop/" CLOSELOOP_VERSION;
}

HttpPoster::HttpPoster(std::chrono::milliseconds timeout) : timeout_(timeout), curl_(detail::new_easy_handle()) {}

HttpResult HttpPoster::post(const HttpTarget& target, const std::string& json_body,
                            const std::vector<std::pair<std::string, std::string>>& headers) {
    const auto start = std::chrono::steady_clock::now();
    HttpResult result;
    auto finish = [&] {
        result.duration =
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
        return result;
    };
    const CheckedUrl checked = check_url(target.url, target.allow_private);
    if (!checked.error.empty()) {
        result.error = checked.error;
        result.refused = checked.refused;
        return finish();
    }

    CURL* curl = static_cast<CURL*>(curl_.get());
    // Connect only to the vetted addresses: libcurl takes these instead of asking DNS again.
    detail::Slist resolve;
    if (!checked.host_is_address) {
        std::string entry = checked.host + ":" + std::to_string(checked.port) + ":";
        for (std::size_t i = 0; i < checked.addresses.size(); ++i) {
            const auto& address = checked.addresses[i];
            if (i > 0) entry += ',';
            entry += address.find(':') != std::string::npos ? "[" + address + "]" : address;
        }
        detail::append(resolve, entry);
    }
    detail::Slist header_list;
    bool has_content_type = false;
    for (const auto& [name, value] : headers) {
        has_content_type = has_content_type || equal_nocase(name, "content-type");
        std::string line = name + ": " + value;
        std::replace_if(
            line.begin(), line.end(), [](char c) { return c == '\r' || c == '\n'; }, ' ');  // one header
        detail::append(header_list, line);
    }
    if (!has_content_type) detail::append(header_list, "Content-Type: application/json");
    detail::append(header_list, "Expect:");  // no 100-continue round trip for a small body

    Answer answer;
    char error[CURL_ERROR_SIZE] = {};
    curl_easy_setopt(curl, CURLOPT_URL, target.url.c_str());
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_PROXY, "");  // a proxy from the environment would bypass the pinning
    curl_easy_setopt(curl, CURLOPT_RESOLVE, resolve.get());
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_.count()));
    curl_easy_setopt(curl, CURLOPT_USERAGENT, user_agent());
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, json_body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(json_body.size()));
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, header_list.get());
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &answer);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);

    const CURLcode code = curl_easy_perform(curl);

    // The handle outlives these locals: leave it holding no pointer to them.
    curl_easy_setopt(curl, CURLOPT_RESOLVE, nullptr);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, nullptr);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, nullptr);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, nullptr);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);

    result.retry_after = std::move(answer.retry_after);
    result.body_excerpt = std::move(answer.excerpt);
    if (code == CURLE_OK || (code == CURLE_WRITE_ERROR && answer.cut)) {
        long status = 0;
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        result.status = static_cast<int>(status);
        return finish();
    }
    result.timed_out = code == CURLE_OPERATION_TIMEDOUT;
    result.error = (result.timed_out ? "timeout: " : "") + std::string(error[0] ? error : curl_easy_strerror(code));
    return finish();
}

}  // namespace closeloop::delivery
