// closeloop server — browser sessions: the builder signs in once with the workspace's admin
// key (POST /api/v1/session) and then sends a cookie; the key is never kept in the page.
//
// Policy: a session ends 12 hours after its last request (idle) and 7 days after sign-in
// (absolute), whichever comes first; signing out or revoking its key ends it at once. The
// cookie is HttpOnly and SameSite=Strict (Secure when the public URL is https); requests that
// change something (POST, PUT, DELETE) must also carry the session's CSRF token in
// X-CSRF-Token. A request with `Authorization: Bearer <key>` is judged by the key alone.
#pragma once

#include <httplib.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "closeloop/time.h"
#include "store/store.h"

namespace closeloop::server {

inline constexpr std::string_view session_cookie_name = "closeloop_session";

struct SessionPolicy {
    std::int64_t idle_ms = 12LL * 3600 * 1000;
    std::int64_t absolute_ms = 7LL * 24 * 3600 * 1000;
    // last_seen_at is written at most this often per session (a write per request would
    // cost an fsync each).
    std::int64_t touch_every_ms = 60 * 1000;
};

enum class SessionState { none, expired, valid };

struct SessionCheck {
    SessionState state = SessionState::none;
    Session session;  // when valid
};

// The value of cookie `name` in the request's Cookie headers, if any.
std::optional<std::string> cookie_value(const httplib::Request& req, std::string_view name);

// When the session ends if nothing more happens: the idle end or the absolute one.
Time session_end(const Session& session, const SessionPolicy& policy = {});

// The session the request's cookie names, judged as of `now` (and its last_seen_at moved when
// due). `none`: no cookie, or a token the store does not know (signed out, revoked, purged).
SessionCheck check_session(Store& store, const httplib::Request& req, Time now, const SessionPolicy& policy = {});

// Whether `given` is the session's CSRF token (compared in constant time).
bool csrf_matches(const Session& session, std::string_view given);

// Set-Cookie values: the new session's, and the one that removes it.
std::string session_cookie(const std::string& token, bool secure);
std::string expired_session_cookie(bool secure);

}  // namespace closeloop::server
