#include "sessions.h"

#include <openssl/crypto.h>

#include <algorithm>

#include "keys.h"

namespace closeloop::server {

std::optional<std::string> cookie_value(const httplib::Request& req, std::string_view name) {
    const auto count = req.get_header_value_count("Cookie");
    for (std::size_t i = 0; i < count; ++i) {
        const std::string header = req.get_header_value("Cookie", i);
        std::size_t at = 0;
        while (at < header.size()) {
            auto end = header.find(';', at);
            if (end == std::string::npos) end = header.size();
            std::string_view pair(header.data() + at, end - at);
            while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
            const auto eq = pair.find('=');
            if (eq != std::string_view::npos && pair.substr(0, eq) == name) {
                auto value = pair.substr(eq + 1);
                while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
                return std::string(value);
            }
            at = end + 1;
        }
    }
    return std::nullopt;
}

Time session_end(const Session& session, const SessionPolicy& policy) {
    return Time{std::min(session.expires_at.ms, session.last_seen_at.ms + policy.idle_ms)};
}

SessionCheck check_session(Store& store, const httplib::Request& req, Time now, const SessionPolicy& policy) {
    SessionCheck out;
    const auto token = cookie_value(req, session_cookie_name);
    // Tokens are 64 hex digits; anything else cannot be one (and is not looked up).
    if (!token || token->empty() || token->size() > 128) return out;
    auto session = store.find_session(sha256_hex(*token));
    if (!session) return out;
    if (now.ms >= session_end(*session, policy).ms) {
        out.state = SessionState::expired;
        return out;
    }
    if (now.ms - session->last_seen_at.ms >= policy.touch_every_ms) {
        store.touch_session(session->token_hash, now);
        session->last_seen_at = now;
    }
    out.state = SessionState::valid;
    out.session = std::move(*session);
    return out;
}

bool csrf_matches(const Session& session, std::string_view given) {
    const std::string& expected = session.csrf_token;
    return !expected.empty() && given.size() == expected.size() &&
           CRYPTO_memcmp(given.data(), expected.data(), expected.size()) == 0;
}

std::string session_cookie(const std::string& token, bool secure) {
    return std::string(session_cookie_name) + "=" + token + "; HttpOnly; SameSite=Strict; Path=/" +
           (secure ? "; Secure" : "");
}

std::string expired_session_cookie(bool secure) {
    return std::string(session_cookie_name) + "=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0" +
           (secure ? "; Secure" : "");
}

}  // namespace closeloop::server
