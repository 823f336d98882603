// The public edge on a real App: what the publishable (widget) key may do, identity
// verification and answer tokens, and rate limits (a flood gets 429 + Retry-After, is counted
// on /metrics and never stored, while other callers are still served).
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <set>

#include "app.h"
#include "closeloop/detail/json_read.h"
#include "identity.h"
#include "keys.h"
#include "rate_limit.h"
#include "temp_dir.h"
#include "unsubscribe.h"
#include "workspaces.h"

using namespace closeloop;
using namespace closeloop::server;
using nlohmann::json;

namespace {

struct Answer {
    int status = 0;
    json body;
    httplib::Headers headers;
    std::string header(const char* name) const {
        const auto it = headers.find(name);
        return it == headers.end() ? "" : it->second;
    }
};

// An App on a free loopback port with two workspaces; the rate limits' clock is the test's.
struct Edge {
    TempDir dir;
    ManualClock clock{parse_time("2026-11-22T10:00:00Z").value()};
    std::atomic<std::int64_t> rate_ms{1'000'000};
    App app;
    std::string admin, publishable, other_admin, other_publishable;
    WorkspaceId ws = 0, other_ws = 0;
    std::unique_ptr<httplib::Client> client;

    explicit Edge(RateLimits limits = {})
        : app({.data = dir.path,
               .clock = clock.function(),
               .threads = 4,
               .rfm_interval_minutes = 0,
               .executor_thread = false,
               .rate_limits = limits,
               .rate_clock_ms = [this] { return rate_ms.load(); }}) {
        REQUIRE(app.bind("127.0.0.1", 0));
        app.open();
        auto demo = create_workspace(app.store(), "demo", "Demo", std::nullopt, clock.now());
        auto acme = create_workspace(app.store(), "acme", "ACME", std::nullopt, clock.now());
        REQUIRE(demo.ok());
        REQUIRE(acme.ok());
        admin = demo->admin_key, publishable = demo->publishable_key, ws = demo->workspace.id;
        other_admin = acme->admin_key, other_publishable = acme->publishable_key, other_ws = acme->workspace.id;
        app.start();
        client = std::make_unique<httplib::Client>("127.0.0.1", app.port());
    }

    Answer call(const std::string& method, const std::string& path, const json& body, const std::string* key,
                httplib::Headers headers = {}) {
        if (key) headers.emplace("Authorization", "Bearer " + *key);
        const std::string text = body.is_null() ? "" : body.dump();
        auto r = [&] {
            if (method == "GET") return client->Get(path.c_str(), headers);
            if (method == "POST") return client->Post(path.c_str(), headers, text, "application/json");
            return client->Delete(path.c_str(), headers, text, "application/json");
        }();
        REQUIRE(r);
        Answer a{r->status, nullptr, r->headers};
        if (!r->body.empty()) {
            auto parsed = detail::parse_json(r->body);
            a.body = parsed ? std::move(*parsed) : json(r->body);
        }
        return a;
    }
    Answer widget(const json& body, const std::string* key = nullptr) {
        return call("POST", "/api/v1/events", body, key ? key : &publishable);
    }
    Answer get(const std::string& path) { return call("GET", path, nullptr, &admin); }
    Answer post(const std::string& path, const json& body = nullptr) { return call("POST", path, body, &admin); }

    json contact(const std::string& id) {
        const auto c = get("/api/v1/contacts/" + id);
        REQUIRE(c.status == 200);
        return c.body;
    }
    std::size_t events(const std::string& query = "") {
        const auto r = get("/api/v1/events?limit=1000" + query);
        REQUIRE(r.status == 200);
        return r.body["events"].size();
    }
};

json nps(json contact, int score = 9) {
    json j = {{"type", "nps_response"}, {"data", {{"score", score}, {"channel", "widget"}}}};
    if (!contact.is_null()) j["contact"] = std::move(contact);
    return j;
}

json demo_1 = {{"id", "demo-1"}, {"email", "jana@example.cz"}, {"first_name", "Jana"}, {"vip", false}};

// A raw HTTP/1.1 exchange from another loopback address (127.0.0.2): the status code.
int status_from(const char* source, int port, const std::string& request) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in from{};
    from.sin_family = AF_INET;
    ::inet_pton(AF_INET, source, &from.sin_addr);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) == 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(static_cast<std::uint16_t>(port));
    ::inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0);
    REQUIRE(::send(fd, request.data(), request.size(), 0) == static_cast<ssize_t>(request.size()));
    char buf[64] = {};
    std::size_t got = 0;
    while (got < 12) {
        const ssize_t n = ::recv(fd, buf + got, sizeof buf - 1 - got, 0);
        if (n <= 0) break;
        got += static_cast<std::size_t>(n);
    }
    ::close(fd);
    return got >= 12 ? std::atoi(buf + 9) : 0;
}

std::string post_request(const std::string& path, const std::string& key, const std::string& body) {
    return "POST " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer " + key +
           "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

}  // namespace

// ---- what a publishable key may do ------------------------------------------------------------

TEST_CASE("public edge: the issue's attack leaves demo-1 as it was (403 naming the field)") {
    Edge s;
    REQUIRE(s.post("/api/v1/contacts", demo_1).status == 200);
    const auto attack = s.widget(nps({{"id", "demo-1"}, {"email", "attacker@evil.example"}, {"vip", true}}));
    CHECK(attack.status == 403);
    CHECK(attack.body["error"]["code"] == "forbidden");
    CHECK(attack.body["error"]["field"] == "contact.email");
    const json after = s.contact("demo-1");
    CHECK(after["email"] == "jana@example.cz");
    CHECK(after["vip"] == false);
    CHECK(s.events() == 0);
    // Each profile field alone, and in a batch (refused whole).
    for (const auto& [field, value] : std::vector<std::pair<const char*, json>>{{"first_name", "Eve"},
                                                                                {"owner", "eve@evil.example"},
                                                                                {"tags", json::array({"x"})},
                                                                                {"attributes", {{"plan", "gold"}}},
                                                                                {"locale", "cs"}}) {
        CAPTURE(field);
        json c = {{"id", "demo-1"}};
        c[field] = value;
        const auto r = s.widget({{"events", json::array({nps({{"visitor", "v1"}}), nps(c)})}});
        CHECK(r.status == 403);
        CHECK(r.body["error"]["field"] == std::string("events[1].contact.") + field);
    }
    CHECK(s.events() == 0);
    CHECK(s.contact("demo-1")["first_name"] == "Jana");
}

TEST_CASE("public edge: a publishable key posts answers and nothing else") {
    Edge s;
    const auto purchase =
        s.widget({{"type", "purchase"}, {"data", {{"order_id", "1"}, {"amount", 1}, {"currency", "EUR"}}}});
    CHECK(purchase.status == 403);
    CHECK(purchase.body["error"]["field"] == "type");
    const auto custom = s.widget({{"events", json::array({nps(nullptr), {{"type", "signup"}}})}});
    CHECK(custom.status == 403);
    CHECK(custom.body["error"]["field"] == "events[1].type");
    json dated = nps(nullptr);
    dated["time"] = "9999-12-31T00:00:00Z";
    CHECK(s.widget(dated).body["error"]["field"] == "time");
    json big = {{"events", json::array()}};
    for (int i = 0; i < 11; ++i) big["events"].push_back(nps(nullptr));
    CHECK(s.widget(big).status == 413);
    // Admin-only routes, the identity secret and answer tokens among them.
    for (const auto& [method, path] :
         std::vector<std::pair<std::string, std::string>>{{"GET", "/api/v1/events"},
                                                          {"POST", "/api/v1/contacts"},
                                                          {"GET", "/api/v1/contacts/demo-1"},
                                                          {"GET", "/api/v1/workspace/identity"},
                                                          {"POST", "/api/v1/workspace/identity/rotate"},
                                                          {"POST", "/api/v1/contacts/demo-1/answer-token"},
                                                          {"GET", "/api/v1/scenarios"}}) {
        CAPTURE(path);
        const auto r = s.call(method, path, method == "POST" ? json{{"id", "x"}} : json(), &s.publishable);
        CHECK(r.status == 403);
        CHECK(r.body["error"]["code"] == "forbidden");
    }
    CHECK(s.events() == 0);
    // An admin key keeps today's behaviour: its events upsert the contact.
    CHECK(s.post("/api/v1/events", nps({{"id", "demo-1"}, {"email", "new@example.cz"}, {"vip", true}})).status == 202);
    CHECK(s.contact("demo-1")["email"] == "new@example.cz");
    CHECK(s.contact("demo-1")["vip"] == true);
}

TEST_CASE("public edge: anonymous answers never touch an existing contact") {
    Edge s;
    REQUIRE(s.post("/api/v1/contacts", demo_1).status == 200);
    const json before = s.contact("demo-1");
    CHECK(s.widget(nps(nullptr)).status == 202);
    CHECK(s.widget(nps({{"visitor", "v-42"}})).status == 202);
    CHECK(s.widget(nps({{"visitor", "v-42"}}, 3)).status == 202);
    // A visitor id that is an existing contact's id still makes an anonymous contact.
    CHECK(s.widget(nps({{"visitor", "demo-1"}})).status == 202);
    const auto all = s.get("/api/v1/events");
    REQUIRE(all.body["events"].size() == 4);
    std::set<std::string> contacts;
    for (const auto& e : all.body["events"]) {
        const std::string c = e["contact"]["id"];
        CHECK(c.rfind("anon_", 0) == 0);
        contacts.insert(c);
        const json card = s.contact(c);
        CHECK_FALSE(card.contains("email"));
        CHECK(card["vip"] == false);
    }
    CHECK(contacts.size() == 3);  // the visitor v-42 kept one contact
    CHECK(s.contact("demo-1") == before);
    CHECK(s.events("&contact=demo-1") == 0);
}

TEST_CASE("public edge: identity verification (contact.hash) attaches the answer, a wrong hash is refused") {
    Edge s;
    REQUIRE(s.post("/api/v1/contacts", demo_1).status == 200);
    const auto identity = s.get("/api/v1/workspace/identity");
    REQUIRE(identity.status == 200);
    CHECK(identity.header("Cache-Control") == "no-store");
    const std::string secret = identity.body["identity_secret"];
    CHECK(secret.size() == 64);
    CHECK(s.get("/api/v1/workspace/identity").body["identity_secret"] == secret);  // made once
    const std::string hash = contact_hash(secret, "demo-1");
    CHECK(hash == hmac_sha256_hex(secret, "demo-1"));

    const auto wrong = s.widget(nps({{"id", "demo-1"}, {"hash", contact_hash(secret, "demo-2")}}));
    CHECK(wrong.status == 403);
    CHECK(wrong.body["error"]["field"] == "contact.hash");
    const auto other_ws = s.widget(nps({{"id", "demo-1"}, {"hash", hash}}), &s.other_publishable);
    CHECK(other_ws.status == 403);  // acme's secret is another one
    const auto no_hash = s.widget(nps({{"id", "demo-1"}}));
    CHECK(no_hash.status == 403);
    CHECK(no_hash.body["error"]["field"] == "contact.id");
    CHECK(s.events() == 0);

    const auto good = s.widget(nps({{"id", "demo-1"}, {"hash", hash}}, 4));
    CHECK(good.status == 202);
    CHECK(s.events("&contact=demo-1") == 1);
    CHECK(s.contact("demo-1")["nps"]["last"] == 4);
    CHECK(s.contact("demo-1")["email"] == "jana@example.cz");

    // Rotating the secret voids the hashes signed with the old one.
    const auto rotated = s.post("/api/v1/workspace/identity/rotate");
    REQUIRE(rotated.status == 200);
    CHECK(rotated.body["identity_secret"] != secret);
    CHECK(s.widget(nps({{"id", "demo-1"}, {"hash", hash}})).status == 403);
    const std::string fresh = rotated.body["identity_secret"];
    CHECK(s.widget(nps({{"id", "demo-1"}, {"hash", contact_hash(fresh, "demo-1")}})).status == 202);
}

TEST_CASE("public edge: answer tokens (forged, another workspace's, an unsubscribe token) and a valid one") {
    Edge s;
    REQUIRE(s.post("/api/v1/contacts", demo_1).status == 200);
    CHECK(s.post("/api/v1/contacts/nobody/answer-token").status == 404);
    const auto issued = s.post("/api/v1/contacts/demo-1/answer-token");
    REQUIRE(issued.status == 200);
    const std::string token = issued.body["token"];
    CHECK(issued.body["contact"] == "demo-1");
    CHECK(verify_answer_token(link_secret(s.app.store(), s.ws), token)->contact == "demo-1");

    // Forged: the payload changed to name another contact, the signature kept.
    const std::string other = answer_token(link_secret(s.app.store(), s.ws), {s.ws, "demo-2"});
    const std::string forged = other.substr(0, other.find('.')) + token.substr(token.find('.'));
    std::string flipped = token;
    flipped.back() = flipped.back() == 'A' ? 'B' : 'A';
    const std::string made_up = answer_token(std::string(64, '0'), {s.ws, "demo-1"});
    const std::string unsubscribe =
        unsubscribe_token(link_secret(s.app.store(), s.ws), {s.ws, "demo-1", "jana@example.cz"});
    REQUIRE(s.post("/api/v1/contacts", {{"id", "theirs"}}).status == 200);
    const std::string theirs = answer_token(link_secret(s.app.store(), s.other_ws), {s.other_ws, "demo-1"});
    for (const auto& bad : {forged, flipped, made_up, unsubscribe, theirs, std::string("nonsense")}) {
        CAPTURE(bad);
        const auto r = s.widget(nps({{"token", bad}}));
        CHECK(r.status == 403);
        CHECK(r.body["error"]["field"] == "contact.token");
    }
    // acme's widget with demo's valid token: another workspace's token.
    CHECK(s.widget(nps({{"token", token}}), &s.other_publishable).status == 403);
    CHECK(s.events() == 0);
    // An answer token is no unsubscribe link either.
    const auto page = s.call("POST", "/unsubscribe/" + token, nullptr, nullptr);
    CHECK(page.status == 404);

    const auto good = s.widget(nps({{"token", token}}, 2));
    CHECK(good.status == 202);
    CHECK(s.events("&contact=demo-1") == 1);
    CHECK(s.contact("demo-1")["nps"]["last"] == 2);
    CHECK(s.contact("demo-1")["email"] == "jana@example.cz");
}

// ---- rate limits ------------------------------------------------------------------------------

TEST_CASE("rate limits: the bucket arithmetic and the rule syntax") {
    const RateRule rule{10, 60};
    TokenBucket b{60, 0};
    for (int i = 0; i < 60; ++i) CHECK(take_tokens(b, rule, 0) == 0);
    CHECK(take_tokens(b, rule, 0) == 100);  // one token comes back in 100 ms
    CHECK(take_tokens(b, rule, 50) == 50);
    CHECK(take_tokens(b, rule, 100) == 0);
    CHECK_FALSE(bucket_full(b, rule, 5000));
    CHECK(bucket_full(b, rule, 6100));
    CHECK(take_tokens(b, rule, 100'000) == 0);
    CHECK(b.tokens == 59);  // refilled to the burst, not past it

    CHECK(parse_rate_rule("10/s,60").value() == RateRule{10, 60});
    CHECK(parse_rate_rule("10/m").value() == RateRule{10.0 / 60, 10});
    CHECK(parse_rate_rule("120/h,5").value() == RateRule{120.0 / 3600, 5});
    CHECK_FALSE(parse_rate_rule("off").value().limits());
    for (const char* bad : {"", "10", "10/d", "-1/s", "0/s", "10/s,", "10/s,0", "x/s", "10/s60"}) {
        CAPTURE(bad);
        CHECK_FALSE(parse_rate_rule(bad).ok());
    }
    CHECK(rate_rule_text(RateLimits{}.signin) == "10/m,10");
    CHECK(rate_rule_text(RateLimits{}.api) == "100/s,1000");
}

TEST_CASE("rate limits: buckets are bounded; idle ones are forgotten") {
    std::int64_t now = 0;
    RateLimits limits;
    limits.max_buckets = 100;
    RateLimiter r(limits, nullptr, [&] { return now; });
    for (int i = 0; i < 1000; ++i) CHECK(r.take(RateClass::answers, "k|10.0.0." + std::to_string(i)) == 0);
    CHECK(r.buckets() == 100);
    now += 60'000;  // every bucket is full again: each call forgets idle ones
    for (int i = 0; i < 50; ++i) r.take(RateClass::signin, "a" + std::to_string(i));
    CHECK(r.buckets() == 50);
}

TEST_CASE("rate limits: an answer flood gets 429 + Retry-After, is counted and not stored; others still get 202") {
    RateLimits limits;
    limits.answers = {1, 5};
    Edge s(limits);
    int accepted = 0, refused = 0;
    Answer last;
    for (int i = 0; i < 20; ++i) {
        const auto r = s.widget(nps({{"visitor", "flood"}}));
        if (r.status == 202) ++accepted;
        if (r.status == 429) ++refused, last = r;
    }
    CHECK(accepted == 5);
    CHECK(refused == 15);
    CHECK(last.header("Retry-After") == "1");
    CHECK(last.body["error"]["code"] == "rate_limited");
    CHECK(last.body["error"].contains("field"));
    CHECK(s.events() == 5);  // the refused ones were never stored

    // Another publishable key, another address, and the admin key are other buckets.
    auto added = add_workspace_key(s.app.store(), "demo", KeyKind::publishable, std::nullopt, s.clock.now());
    REQUIRE(added.ok());
    CHECK(s.widget(nps(nullptr), &added->key).status == 202);
    CHECK(status_from("127.0.0.2", s.app.port(), post_request("/api/v1/events", s.publishable, nps(nullptr).dump())) ==
          202);
    CHECK(s.post("/api/v1/events", nps("c-1")).status == 202);
    CHECK(s.events() == 8);

    // The counter on /metrics.
    const auto metrics = s.client->Get("/metrics");
    REQUIRE(metrics);
    CHECK(metrics->body.find("closeloop_rate_limited_total{class=\"answers\"} 15") != std::string::npos);
    CHECK(metrics->body.find("closeloop_rate_limited_total{class=\"signin\"} 0") != std::string::npos);

    // Retry-After is honest: a second later the bucket has a token again.
    s.rate_ms += 1000;
    CHECK(s.widget(nps({{"visitor", "flood"}})).status == 202);
    CHECK(s.widget(nps({{"visitor", "flood"}})).status == 429);
}

TEST_CASE("rate limits: sign-in brute force gets 429; a successful sign-in costs nothing") {
    Edge s;  // the default: 10 a minute per address
    for (int i = 0; i < 30; ++i) CHECK(s.call("POST", "/api/v1/session", {{"key", s.admin}}, nullptr).status == 200);
    int unauthorized = 0;
    Answer refused;
    for (int i = 0; i < 15; ++i) {
        const auto r = s.call("POST", "/api/v1/session",
                              {{"key", "cl_admin_" + std::to_string(i) + std::string(60, '0')}}, nullptr);
        if (r.status == 401) ++unauthorized;
        if (r.status == 429) refused = r;
    }
    CHECK(unauthorized == 10);
    CHECK(refused.status == 429);
    CHECK(std::stoi(refused.header("Retry-After")) >= 1);
    CHECK(std::stoi(refused.header("Retry-After")) <= 6);
    // The right key is refused too while the address is blocked: guessing gains nothing.
    CHECK(s.call("POST", "/api/v1/session", {{"key", s.admin}}, nullptr).status == 429);
    // Another address is not.
    CHECK(status_from("127.0.0.2", s.app.port(), post_request("/api/v1/session", "x", json{{"key", s.admin}}.dump())) ==
          200);
}

TEST_CASE("rate limits: unsubscribe pages per address, the admin API per key") {
    RateLimits limits;
    limits.unsubscribe = {1, 3};
    limits.api = {1, 4};
    Edge s(limits);
    int refused = 0;
    std::string refusal;
    for (int i = 0; i < 6; ++i) {
        const auto page = s.call("GET", "/unsubscribe/not-a-token", nullptr, nullptr);
        if (page.status != 429) continue;
        ++refused;
        refusal = page.body.is_string() ? page.body.get<std::string>() : page.body.dump();
    }
    CHECK(refused == 3);
    // A person opened the link: the refusal is a page saying when to try again, not JSON.
    CHECK(refusal.find("<!doctype html>") == 0);
    CHECK(refusal.find("Open the link again in 1 second.") != std::string::npos);
    for (int i = 0; i < 4; ++i) CHECK(s.get("/api/v1/tasks").status == 200);
    const auto api = s.get("/api/v1/tasks");
    CHECK(api.status == 429);
    CHECK(api.header("Retry-After") == "1");
    CHECK(s.call("GET", "/api/v1/tasks", nullptr, &s.other_admin).status == 200);  // another key
    CHECK(s.client->Get("/healthz")->status == 200);                               // open routes are not limited
}
