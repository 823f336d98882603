// What the browser builder needs from the server, on a real App (real SQLite file, real HTTP on
// loopback, a manual clock): sign-in with a session cookie and its CSRF token, expiry (idle and
// absolute), optimistic concurrency on scenario saves, versions and their diff, roles, the
// shipped examples, and the app's static files (MIME, gzip, ETag / 304, the not-built page).
#include <doctest/doctest.h>
#include <httplib.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <thread>

#include "api.h"
#include "app.h"
#include "closeloop/detail/json_read.h"
#include "keys.h"
#include "static_site.h"
#include "store/sqlite_store.h"
#include "temp_dir.h"
#include "workspaces.h"

using namespace closeloop;
using namespace closeloop::server;
using nlohmann::json;

namespace {

Time at(const char* text) {
    return parse_time(text).value();
}

struct Answer {
    int status = 0;
    json body;
    std::string text;
    httplib::Headers headers;
    std::string header(const char* name) const {
        const auto it = headers.find(name);
        return it == headers.end() ? "" : it->second;
    }
    std::string error_code() const { return body.is_object() ? body["error"].value("code", "") : ""; }
};

struct Served {
    TempDir dir;
    ManualClock clock{at("2026-11-22T10:00:00Z")};
    App app{{.data = dir.path,
             .clock = clock.function(),
             .threads = 4,
             .rfm_interval_minutes = 0,
             .public_url = "",
             .executor_thread = false}};
    std::string admin, publishable;
    std::unique_ptr<httplib::Client> client;

    Served() {
        REQUIRE(app.bind("127.0.0.1", 0));
        app.open();
        auto created = create_workspace(app.store(), "demo", "Demo", std::nullopt, clock.now());
        REQUIRE(created.ok());
        admin = created->admin_key;
        publishable = created->publishable_key;
        app.start();
        client = std::make_unique<httplib::Client>("127.0.0.1", app.port());
    }

    Answer call(const std::string& method, const std::string& path, const json& body = nullptr,
                httplib::Headers headers = {}) {
        const std::string text = body.is_null() ? "" : body.dump();
        auto r = [&] {
            if (method == "GET") return client->Get(path.c_str(), headers);
            if (method == "POST") return client->Post(path.c_str(), headers, text, "application/json");
            if (method == "PUT") return client->Put(path.c_str(), headers, text, "application/json");
            return client->Delete(path.c_str(), headers, text, "application/json");
        }();
        REQUIRE(r);
        Answer a{r->status, nullptr, r->body, r->headers};
        if (!r->body.empty()) {
            auto parsed = detail::parse_json(r->body);
            if (parsed) a.body = std::move(*parsed);
        }
        return a;
    }
    httplib::Headers bearer(const std::string& key) const { return {{"Authorization", "Bearer " + key}}; }
    Answer with_key(const std::string& method, const std::string& path, const json& body = nullptr) {
        return call(method, path, body, bearer(admin));
    }
};

// A signed-in browser: its cookie and CSRF token.
struct Browser {
    std::string cookie, csrf;
    httplib::Headers get() const { return {{"Cookie", cookie}}; }
    httplib::Headers change() const { return {{"Cookie", cookie}, {"X-CSRF-Token", csrf}}; }
};

Browser sign_in(Served& s, const std::string& key) {
    const auto a = s.call("POST", "/api/v1/session", json{{"key", key}});
    REQUIRE(a.status == 200);
    const std::string set = a.header("Set-Cookie");
    const auto semicolon = set.find(';');
    REQUIRE(semicolon != std::string::npos);
    return {set.substr(0, semicolon), a.body.value("csrf_token", "")};
}

const json small = {{"id", "small"},
                    {"name", "Small"},
                    {"trigger", {{"event", "nps_response"}, {"when", "event.score < 7"}}},
                    {"start", "tag"},
                    {"nodes",
                     {{{"id", "tag"},
                       {"type", "action"},
                       {"action", "add_tag"},
                       {"params", {{"tag", "detractor"}}},
                       {"next", nullptr}}}}};

std::string gzip_of(const std::string& data) {
    z_stream z{};
    REQUIRE(deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) == Z_OK);
    std::string out(deflateBound(&z, static_cast<uLong>(data.size())) + 64, '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    z.avail_in = static_cast<uInt>(data.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    REQUIRE(deflate(&z, Z_FINISH) == Z_STREAM_END);
    out.resize(z.total_out);
    deflateEnd(&z);
    return out;
}

}  // namespace

TEST_CASE("session: sign in with the admin key, a HttpOnly SameSite=Strict cookie, then the cookie is enough") {
    Served s;
    const auto a = s.call("POST", "/api/v1/session", json{{"key", s.admin}});
    REQUIRE(a.status == 200);
    CHECK(a.body["workspace"] == "demo");
    CHECK(a.body["csrf_token"].get<std::string>().size() == 64);
    CHECK(a.body["expires_at"] == "2026-11-22T22:00:00Z");  // 12 h idle
    CHECK(a.body["absolute_expires_at"] == "2026-11-29T10:00:00Z");
    const std::string cookie = a.header("Set-Cookie");
    CHECK(cookie.rfind("closeloop_session=", 0) == 0);
    CHECK(cookie.find("; HttpOnly") != std::string::npos);
    CHECK(cookie.find("; SameSite=Strict") != std::string::npos);
    CHECK(cookie.find("; Path=/") != std::string::npos);
    CHECK(cookie.find("Secure") == std::string::npos);  // http public URL
    CHECK(cookie.find(s.admin) == std::string::npos);   // the key is not the token

    Browser b = sign_in(s, s.admin);
    const auto me = s.call("GET", "/api/v1/session", nullptr, b.get());
    CHECK(me.status == 200);
    CHECK(me.body["workspace"] == "demo");
    CHECK(me.body["csrf_token"] == b.csrf);
    CHECK(s.call("GET", "/api/v1/scenarios", nullptr, b.get()).status == 200);

    SUBCASE("a change needs the CSRF token: refused without it or with a wrong one, accepted with it") {
        const auto none = s.call("POST", "/api/v1/scenarios", small, b.get());
        CHECK(none.status == 403);
        CHECK(none.error_code() == "csrf");
        auto wrong = b.get();
        wrong.emplace("X-CSRF-Token", std::string(64, '0'));
        CHECK(s.call("POST", "/api/v1/scenarios", small, wrong).error_code() == "csrf");
        CHECK(s.with_key("GET", "/api/v1/scenarios/small").status == 404);  // nothing was created
        const auto ok = s.call("POST", "/api/v1/scenarios", small, b.change());
        CHECK(ok.status == 201);
        // The key alone needs no CSRF token (no cookie, no browser to forge it).
        CHECK(s.with_key("POST", "/api/v1/scenarios/small/activate").status == 200);
    }
    SUBCASE("the idle timeout slides with use; past 12 h idle: 401 session_expired") {
        s.clock.advance(hours(11));
        CHECK(s.call("GET", "/api/v1/session", nullptr, b.get()).status == 200);  // used: slides
        s.clock.advance(hours(11));
        CHECK(s.call("GET", "/api/v1/scenarios", nullptr, b.get()).status == 200);
        s.clock.advance(hours(12));
        const auto late = s.call("GET", "/api/v1/scenarios", nullptr, b.get());
        CHECK(late.status == 401);
        CHECK(late.error_code() == "session_expired");
        CHECK(s.call("GET", "/api/v1/session", nullptr, b.get()).error_code() == "session_expired");
    }
    SUBCASE("used every few hours, it still ends 7 days after sign-in") {
        for (int i = 0; i < 15; ++i) {  // 165 h, never 12 h idle
            s.clock.advance(hours(11));
            CHECK(s.call("GET", "/api/v1/session", nullptr, b.get()).status == 200);
        }
        s.clock.advance(hours(2));  // 167 h
        CHECK(s.call("GET", "/api/v1/session", nullptr, b.get()).status == 200);
        s.clock.advance(hours(2));  // 169 h: past 7 days, 2 h after its last use
        CHECK(s.call("GET", "/api/v1/session", nullptr, b.get()).error_code() == "session_expired");
    }
    SUBCASE("signing out ends it and removes the cookie") {
        CHECK(s.call("DELETE", "/api/v1/session", nullptr, b.get()).error_code() == "csrf");
        const auto out = s.call("DELETE", "/api/v1/session", nullptr, b.change());
        CHECK(out.status == 204);
        CHECK(out.header("Set-Cookie").find("Max-Age=0") != std::string::npos);
        const auto after = s.call("GET", "/api/v1/scenarios", nullptr, b.get());
        CHECK(after.status == 401);
        CHECK(after.error_code() == "unauthorized");
        CHECK(s.call("DELETE", "/api/v1/session", nullptr, b.get()).status == 204);  // already out
    }
    SUBCASE("revoking its key ends the session") {
        const auto keys = s.app.store().api_keys(s.app.store().find_workspace("demo")->id);
        std::string id;
        for (const auto& k : keys)
            if (k.kind == KeyKind::admin) id = k.id;
        REQUIRE(s.app.store().revoke_key(s.app.store().find_workspace("demo")->id, id, s.clock.now()));
        CHECK(s.call("GET", "/api/v1/session", nullptr, b.get()).status == 401);
        CHECK(s.call("GET", "/api/v1/scenarios", {}, s.bearer(s.admin)).status == 401);
        const auto again = s.call("POST", "/api/v1/session", json{{"key", s.admin}});
        CHECK(again.status == 401);
        CHECK(again.body["error"]["message"].get<std::string>().find("revoked") != std::string::npos);
    }
}

TEST_CASE("session: refused sign-ins (wrong key, publishable key, no session)") {
    Served s;
    const auto wrong = s.call("POST", "/api/v1/session", json{{"key", "cl_admin_not-a-key-at-all-00000000"}});
    CHECK(wrong.status == 401);
    CHECK(wrong.error_code() == "unauthorized");
    CHECK(wrong.body["error"]["message"].get<std::string>().find("keys create") != std::string::npos);
    CHECK(wrong.header("Set-Cookie").empty());
    const auto pub = s.call("POST", "/api/v1/session", json{{"key", s.publishable}});
    CHECK(pub.status == 403);
    CHECK(pub.header("Set-Cookie").empty());
    CHECK(s.call("POST", "/api/v1/session", json{{"kee", s.admin}}).status == 422);
    // A form another site could post without asking: refused, no cookie.
    auto form = s.client->Post("/api/v1/session", json{{"key", s.admin}}.dump(), "text/plain");
    REQUIRE(form);
    CHECK(form->status == 415);
    CHECK(form->get_header_value("Set-Cookie").empty());
    const auto none = s.call("GET", "/api/v1/session");
    CHECK(none.status == 401);
    CHECK(none.error_code() == "unauthorized");
    const auto forged =
        s.call("GET", "/api/v1/session", nullptr, {{"Cookie", "closeloop_session=" + std::string(64, 'a')}});
    CHECK(forged.status == 401);
    CHECK(forged.error_code() == "unauthorized");
}

TEST_CASE("session: Secure cookies when the public URL is https") {
    TempDir dir;
    ManualClock clock{at("2026-11-22T10:00:00Z")};
    App app{{.data = dir.path,
             .clock = clock.function(),
             .threads = 2,
             .rfm_interval_minutes = 0,
             .public_url = "https://feedback.example.com",
             .executor_thread = false}};
    REQUIRE(app.bind("127.0.0.1", 0));
    app.open();
    auto created = create_workspace(app.store(), "demo", "Demo", std::nullopt, clock.now());
    REQUIRE(created.ok());
    app.start();
    httplib::Client client("127.0.0.1", app.port());
    auto r = client.Post("/api/v1/session", json{{"key", created->admin_key}}.dump(), "application/json");
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->get_header_value("Set-Cookie").find("; Secure") != std::string::npos);
}

TEST_CASE("scenarios: ETag and If-Match (412 when the version moved on), every save a version, versions and diff") {
    Served s;
    const auto created = s.with_key("POST", "/api/v1/scenarios", small);
    REQUIRE(created.status == 201);
    CHECK(created.header("ETag") == "\"1\"");
    const auto read = s.with_key("GET", "/api/v1/scenarios/small");
    CHECK(read.header("ETag") == "\"1\"");

    json edited = read.body;
    edited["name"] = "Small, edited";
    auto match = s.bearer(s.admin);
    match.emplace("If-Match", "\"1\"");
    const auto saved = s.call("PUT", "/api/v1/scenarios/small", edited, match);
    CHECK(saved.status == 200);
    CHECK(saved.body["version"] == 2);  // a draft's save is a version too
    CHECK(saved.header("ETag") == "\"2\"");

    // Someone else's edit, based on version 1 too: refused, nothing saved.
    json theirs = read.body;
    theirs["nodes"][0]["params"]["tag"] = "theirs";
    const auto stale = s.call("PUT", "/api/v1/scenarios/small", theirs, match);
    CHECK(stale.status == 412);
    CHECK(stale.error_code() == "version_conflict");
    CHECK(stale.body["error"]["current_version"] == 2);
    CHECK(stale.body["error"]["message"].get<std::string>().find("version 2") != std::string::npos);
    CHECK(s.with_key("GET", "/api/v1/scenarios/small").body["name"] == "Small, edited");
    auto bad = s.bearer(s.admin);
    bad.emplace("If-Match", "\"two\"");
    CHECK(s.call("PUT", "/api/v1/scenarios/small", theirs, bad).status == 400);
    // Without If-Match, as before: the save goes through.
    const auto forced = s.with_key("PUT", "/api/v1/scenarios/small", theirs);
    CHECK(forced.status == 200);
    CHECK(forced.body["version"] == 3);

    CHECK(s.with_key("POST", "/api/v1/scenarios/small/activate").status == 200);
    const auto versions = s.with_key("GET", "/api/v1/scenarios/small/versions");
    REQUIRE(versions.status == 200);
    CHECK(versions.body["current_version"] == 3);
    REQUIRE(versions.body["versions"].size() == 3);
    CHECK(versions.body["versions"][0]["version"] == 3);
    CHECK(versions.body["versions"][0]["status"] == "active");
    CHECK(versions.body["versions"][2]["status"] == "draft");
    CHECK(versions.body["versions"][2]["saved_at"] == "2026-11-22T10:00:00Z");

    const auto v1 = s.with_key("GET", "/api/v1/scenarios/small/versions/1");
    CHECK(v1.status == 200);
    CHECK(v1.body["name"] == "Small");
    CHECK(v1.body["version"] == 1);
    CHECK(s.with_key("GET", "/api/v1/scenarios/small/versions/9").status == 404);
    CHECK(s.with_key("GET", "/api/v1/scenarios/small/versions/x").status == 404);

    json more = forced.body;
    more["nodes"][0]["next"] = "later";
    more["nodes"].push_back({{"id", "later"}, {"type", "wait"}, {"for", "P1D"}, {"next", nullptr}});
    CHECK(s.with_key("PUT", "/api/v1/scenarios/small", more).body["version"] == 4);
    const auto diff = s.with_key("GET", "/api/v1/scenarios/small/diff?from=2&to=4");
    REQUIRE(diff.status == 200);
    CHECK(diff.body["added"] == json::array({"later"}));
    CHECK(diff.body["changed"] == json::array({"tag"}));
    CHECK(diff.body["removed"] == json::array());
    CHECK(diff.body["scenario_fields"] == json::array({"name"}));
    const auto last = s.with_key("GET", "/api/v1/scenarios/small/diff");  // the current against the one before
    CHECK(last.body["from"] == 3);
    CHECK(last.body["to"] == 4);
    CHECK(last.body["scenario_fields"] == json::array());
    CHECK(s.with_key("GET", "/api/v1/scenarios/small/diff?from=0").status == 400);
    CHECK(s.with_key("GET", "/api/v1/scenarios/small/diff?from=7").status == 404);
}

TEST_CASE("builder: roles for the pickers, examples listed and installed with what they need") {
    Served s;
    const auto roles = s.with_key("GET", "/api/v1/roles");
    REQUIRE(roles.status == 200);
    CHECK(roles.body["roles"] == json::array({"call_center_agent", "care_manager", "vip_care"}));

    const auto examples = s.with_key("GET", "/api/v1/examples");
    REQUIRE(examples.status == 200);
    json recovery;
    for (const auto& e : examples.body["examples"])
        if (e["id"] == "nps-recovery") recovery = e;
    REQUIRE(recovery.is_object());
    CHECK(recovery["name"] == "NPS recovery");
    CHECK(recovery["campaigns"] == json::array({"nps-apology-20"}));
    CHECK(recovery["templates"].size() == 3);
    CHECK(examples.body["examples"].size() >= 8);

    const auto installed = s.with_key("POST", "/api/v1/examples/nps-recovery/install", json{{"id", "my-recovery"}});
    REQUIRE(installed.status == 201);
    CHECK(installed.body["id"] == "my-recovery");
    CHECK(installed.body["status"] == "draft");
    CHECK(installed.body["version"] == 1);
    CHECK(installed.body["installed"]["campaigns"] == json::array({"nps-apology-20"}));
    CHECK(installed.body["installed"]["templates"].size() == 3);
    // Everything it names exists now: it validates and activates as installed.
    CHECK(s.with_key("POST", "/api/v1/scenarios/my-recovery/activate").status == 200);
    const auto again = s.with_key("POST", "/api/v1/examples/nps-recovery/install", json{{"id", "second"}});
    CHECK(again.status == 201);
    CHECK(again.body["installed"]["templates"] == json::array());  // not installed twice
    CHECK(s.with_key("POST", "/api/v1/examples/nps-recovery/install", json{{"id", "second"}}).status == 409);
    CHECK(s.with_key("POST", "/api/v1/examples/nope/install", json{{"id", "x"}}).status == 404);
    CHECK(s.with_key("POST", "/api/v1/examples/nps-recovery/install", json{{"id", "Bad Id"}}).status == 422);

    // Roles named by the workspace's scenarios and tasks join the defaults.
    json care = small;
    care["id"] = "care";
    care["nodes"][0] = {{"id", "tag"},
                        {"type", "action"},
                        {"action", "notify"},
                        {"params", {{"role", "retention_team"}, {"message", "hi"}}},
                        {"next", nullptr}};
    s.with_key("POST", "/api/v1/scenarios", care);
    s.with_key("POST", "/api/v1/tasks", json{{"role", "night_shift"}, {"title", "t"}});
    const json more = s.with_key("GET", "/api/v1/roles").body["roles"];
    CHECK(std::find(more.begin(), more.end(), json("retention_team")) != more.end());
    CHECK(std::find(more.begin(), more.end(), json("night_shift")) != more.end());
}

TEST_CASE("static files: MIME types, gzip when accepted, ETag and 304, security headers, the not-built page") {
    const std::string wasm(4000, '\x01');
    const std::string js = "var x = 1;\n" + std::string(3000, ' ') + "console.log(x);\n";
    const std::string index =
        "<!doctype html><title>b</title><script>window.a = 1;</script><script src=\"builder.js\"></script>"
        "<canvas oncontextmenu=\"event.preventDefault()\"></canvas>";
    const std::string wasm_gz = gzip_of(wasm), js_gz = gzip_of(js);
    const std::vector<EmbeddedFile> files = {{"index.html", index, ""},
                                             {"builder.js", js, js_gz},
                                             {"builder.wasm", wasm, wasm_gz},
                                             {"DejaVuSans.ttf", "ttf-bytes", ""}};
    const StaticSite site(files), empty(std::vector<EmbeddedFile>{});

    TempDir dir;
    SqliteStore store(dir.path);
    Router router(store, max_body_bytes);
    add_static_routes(router, site);
    Router router2(store, max_body_bytes);
    add_static_routes(router2, empty);
    HttpServer http({}, [&](httplib::Request& q, httplib::Response& r) { router.dispatch(q, r); });
    HttpServer http2({}, [&](httplib::Request& q, httplib::Response& r) { router2.dispatch(q, r); });
    const int port = http.bind("127.0.0.1", 0), port2 = http2.bind("127.0.0.1", 0);
    std::thread t([&] { http.listen(); }), t2([&] { http2.listen(); });
    while (!http.is_running() || !http2.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));

    httplib::Client c("127.0.0.1", port);
    c.set_decompress(false);  // see the bytes as sent
    auto page = c.Get("/");
    REQUIRE(page);
    CHECK(page->status == 200);
    CHECK(page->body == index);
    CHECK(page->get_header_value("Content-Type") == "text/html; charset=utf-8");
    CHECK(page->get_header_value("Cache-Control") == "no-cache");
    CHECK(page->get_header_value("X-Content-Type-Options") == "nosniff");
    const std::string csp = page->get_header_value("Content-Security-Policy");
    CHECK(csp.find("script-src 'self' 'wasm-unsafe-eval' 'sha256-") != std::string::npos);
    CHECK(csp.find("frame-ancestors 'none'") != std::string::npos);
    // The inline script's hash, as a browser computes it (base64 of SHA-256 of its text).
    CHECK(csp.find("'sha256-ShPZs6SyOIfeOg7tsGkUC0BIIQiM/4HlSLumBwNEK6k='") != std::string::npos);
    // ... and its inline event handler's.
    CHECK(csp.find("'unsafe-hashes' 'sha256-cwPror8N/Ds4hiaerviPOQ1rJd1zjNrEPnNZvr5x7Z8='") != std::string::npos);

    auto w = c.Get("/builder.wasm", {{"Accept-Encoding", "gzip, deflate"}});
    REQUIRE(w);
    CHECK(w->status == 200);
    CHECK(w->get_header_value("Content-Type") == "application/wasm");
    CHECK(w->get_header_value("Content-Encoding") == "gzip");
    CHECK(w->get_header_value("Vary") == "Accept-Encoding");
    CHECK(w->body == wasm_gz);  // the build's gzip copy, not compressed again
    auto raw = c.Get("/builder.wasm", {{"Accept-Encoding", "identity"}});
    REQUIRE(raw);
    CHECK(raw->get_header_value("Content-Encoding").empty());
    CHECK(raw->body == wasm);
    auto refused = c.Get("/builder.wasm", {{"Accept-Encoding", "gzip;q=0"}});
    CHECK(refused->body == wasm);

    auto j = c.Get("/builder.js", {{"Accept-Encoding", "gzip"}});
    REQUIRE(j);
    CHECK(j->get_header_value("Content-Type") == "text/javascript; charset=utf-8");
    CHECK(j->body == js_gz);
    const std::string etag = j->get_header_value("ETag");
    CHECK(etag.size() == 34);
    auto same = c.Get("/builder.js", {{"If-None-Match", etag}});
    REQUIRE(same);
    CHECK(same->status == 304);
    CHECK(same->body.empty());
    CHECK(same->get_header_value("ETag") == etag);
    auto other = c.Get("/builder.js", {{"If-None-Match", "\"something-else\""}});
    CHECK(other->status == 200);
    CHECK(c.Get("/DejaVuSans.ttf")->get_header_value("Content-Type") == "font/ttf");
    CHECK(c.Get("/nope.js")->status == 404);

    httplib::Client c2("127.0.0.1", port2);
    auto missing = c2.Get("/");
    REQUIRE(missing);
    CHECK(missing->status == 200);
    CHECK(missing->body.find("not built") != std::string::npos);
    CHECK(missing->body.find("cmake --build --preset wasm") != std::string::npos);
    CHECK(c2.Get("/builder.wasm")->status == 404);

    http.stop();
    http2.stop();
    t.join();
    t2.join();
}

TEST_CASE("static files: MIME types by extension") {
    CHECK(mime_type_of("builder.wasm") == "application/wasm");
    CHECK(mime_type_of("builder.js") == "text/javascript; charset=utf-8");
    CHECK(mime_type_of("index.html") == "text/html; charset=utf-8");
    CHECK(mime_type_of("f.woff2") == "font/woff2");
    CHECK(mime_type_of("noext") == "application/octet-stream");
}
