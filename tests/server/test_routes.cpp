// The HTTP routes on a real App: a real SQLite file in a temporary folder, a real server on a
// free loopback port, httplib::Client as the caller (as cpp-httplib's own tests do), and a
// clock the test moves. What needs a whole process (signals, SIGKILL, the first start's keys)
// stays in the Python tests.
#include <doctest/doctest.h>
#include <httplib.h>

#include <memory>

#include "app.h"
#include "closeloop/detail/json_read.h"
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
    httplib::Headers headers;
};

// An App serving on 127.0.0.1:<any free port>, with one workspace, driven by hand: no executor
// thread (the test runs the executor with run_executor()) and no RFM schedule.
struct Served {
    TempDir dir;
    ManualClock clock{at("2026-11-22T10:00:00Z")};
    App app{{.data = dir.path,
             .clock = clock.function(),
             .threads = 4,
             .rfm_interval_minutes = 0,
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

    // `key`: nullptr for none.
    Answer call(const std::string& method, const std::string& path, const json& body = nullptr,
                const std::string* key = nullptr) {
        httplib::Headers headers;
        if (key) headers.emplace("Authorization", "Bearer " + *key);
        const std::string text = body.is_null() ? "" : body.dump();
        auto r = [&] {
            if (method == "GET") return client->Get(path.c_str(), headers);
            if (method == "POST") return client->Post(path.c_str(), headers, text, "application/json");
            if (method == "PUT") return client->Put(path.c_str(), headers, text, "application/json");
            return client->Delete(path.c_str(), headers, text, "application/json");
        }();
        REQUIRE(r);
        Answer a{r->status, nullptr, r->headers};
        if (!r->body.empty()) {
            auto parsed = detail::parse_json(r->body);
            if (parsed) a.body = std::move(*parsed);
        }
        return a;
    }
    Answer get(const std::string& path) { return call("GET", path, nullptr, &admin); }
    Answer post(const std::string& path, const json& body = nullptr) { return call("POST", path, body, &admin); }
};

json nps(const std::string& id, const std::string& contact, int score) {
    return {{"id", id}, {"type", "nps_response"}, {"contact", contact}, {"data", {{"score", score}}}};
}

// Detractors get a tag, an hour later another one.
const json follow_up = {
    {"id", "follow-up"},
    {"name", "Follow up"},
    {"trigger", {{"event", "nps_response"}, {"when", "event.score < 7"}}},
    {"start", "tag"},
    {"nodes",
     {{{"id", "tag"}, {"type", "action"}, {"action", "add_tag"}, {"params", {{"tag", "detractor"}}}, {"next", "wait"}},
      {{"id", "wait"}, {"type", "wait"}, {"for", "PT1H"}, {"next", "later"}},
      {{"id", "later"},
       {"type", "action"},
       {"action", "add_tag"},
       {"params", {{"tag", "followed-up"}}},
       {"next", nullptr}}}}};

}  // namespace

TEST_CASE("routes: the App listens on a free port and stops") {
    Served s;
    CHECK(s.app.port() > 0);
    const auto health = s.call("GET", "/healthz");
    CHECK(health.status == 200);
    s.app.stop();
    CHECK_FALSE(s.client->Get("/healthz"));  // nobody listens any more
}

TEST_CASE("routes: an App refuses a port in use before it creates anything") {
    Served s;
    TempDir other;
    App second{{.data = other.path / "data", .clock = s.clock.function()}};
    CHECK_FALSE(second.bind("127.0.0.1", s.app.port()));
    CHECK_FALSE(std::filesystem::exists(other.path / "data"));
}

TEST_CASE("routes: keys (401 without or with a wrong key, 403 for a publishable key on admin routes)") {
    Served s;
    const auto none = s.call("GET", "/api/v1/events");
    CHECK(none.status == 401);
    CHECK(none.body["error"]["code"] == "unauthorized");
    const std::string wrong = "cl_admin_" + std::string(64, '0');
    CHECK(s.call("GET", "/api/v1/events", nullptr, &wrong).status == 401);
    const auto widget_read = s.call("GET", "/api/v1/events", nullptr, &s.publishable);
    CHECK(widget_read.status == 403);
    CHECK(widget_read.body["error"]["code"] == "forbidden");
    // The widget's key may post answers (naming no contact without proof: test_public_edge.cpp).
    json anonymous = nps("w1", "c-1", 9);
    anonymous.erase("contact");
    const auto answer = s.call("POST", "/api/v1/events", anonymous, &s.publishable);
    CHECK(answer.status == 202);
    CHECK(answer.body == json{{"accepted", 1}, {"duplicates", 0}});
}

TEST_CASE("routes: events are accepted as of the App's clock, duplicates counted") {
    Served s;
    const auto first = s.post("/api/v1/events", nps("e1", "c-42", 4));
    CHECK(first.status == 202);
    CHECK(first.body == json{{"accepted", 1}, {"duplicates", 0}});
    CHECK(s.post("/api/v1/events", nps("e1", "c-42", 4)).body == json{{"accepted", 0}, {"duplicates", 1}});
    const auto listed = s.get("/api/v1/events?contact=c-42");
    REQUIRE(listed.status == 200);
    REQUIRE(listed.body["events"].size() == 1);
    // No time given: the event happened when it was received, by the App's clock.
    CHECK(listed.body["events"][0]["time"] == "2026-11-22T10:00:00Z");
    CHECK(listed.body["events"][0]["received_at"] == "2026-11-22T10:00:00Z");
    const auto bad = s.post("/api/v1/events", json{{"type", "nps_response"}, {"contact", "c-1"}});
    CHECK(bad.status == 422);
    CHECK(bad.body["error"]["field"] == "data.score");
}

TEST_CASE("routes: the contact card shows the last and previous NPS") {
    Served s;
    s.post("/api/v1/events", nps("e1", "c-42", 4));
    s.clock.advance(hours(1));
    s.post("/api/v1/events", nps("e2", "c-42", 9));
    CHECK(s.post("/api/v1/contacts", {{"id", "c-42"}, {"email", "jana@example.cz"}}).status == 200);
    const auto card = s.get("/api/v1/contacts/c-42");
    REQUIRE(card.status == 200);
    CHECK(card.body["email"] == "jana@example.cz");
    CHECK(card.body["nps"]["last"] == 9);
    CHECK(card.body["nps"]["previous"] == 4);
    CHECK(card.body["nps"]["change"] == 5);
    CHECK(card.body["timeline"].size() == 2);
    const auto missing = s.get("/api/v1/contacts/nobody");
    CHECK(missing.status == 404);
    CHECK(missing.body["error"]["field"] == "id");
}

TEST_CASE("routes: a scenario created, validated, simulated, activated, and its runs waking by the clock") {
    Served s;
    const auto created = s.post("/api/v1/scenarios", follow_up);
    REQUIRE(created.status == 201);
    CHECK(created.body["errors"] == json::array());
    CHECK(s.post("/api/v1/scenarios", follow_up).status == 409);

    const auto valid = s.post("/api/v1/scenarios/validate", follow_up);
    CHECK(valid.status == 200);
    CHECK(valid.body["valid"] == true);
    json broken = follow_up;
    broken["nodes"][0]["next"] = "nowhere";
    const auto invalid = s.post("/api/v1/scenarios/validate", broken);
    CHECK(invalid.status == 200);
    CHECK(invalid.body["valid"] == false);
    CHECK_FALSE(invalid.body["errors"].empty());

    const auto simulated = s.post("/api/v1/scenarios/follow-up/simulate", {{"event", nps("x", "c-9", 3)}});
    REQUIRE(simulated.status == 200);
    CHECK(simulated.body["path"] == json{"tag", "wait"});
    CHECK(s.get("/api/v1/runs").body["runs"].empty());  // a simulation stores nothing

    const auto active = s.post("/api/v1/scenarios/follow-up/activate");
    REQUIRE(active.status == 200);
    CHECK(active.body["status"] == "active");

    REQUIRE(s.post("/api/v1/events", nps("e1", "c-1", 2)).status == 202);
    REQUIRE(s.post("/api/v1/events", nps("e2", "c-2", 10)).status == 202);  // a promoter: no run
    CHECK(s.app.executor_idle());
    auto runs = s.get("/api/v1/runs?scenario=follow-up");
    REQUIRE(runs.body["runs"].size() == 1);
    CHECK(runs.body["runs"][0]["status"] == "waiting");
    CHECK(runs.body["runs"][0]["wake_at"] == "2026-11-22T11:00:00Z");

    s.clock.advance(minutes(59));
    CHECK(s.app.executor_idle());  // not due yet
    s.clock.advance(minutes(1));
    CHECK_FALSE(s.app.executor_idle());
    CHECK(s.app.run_executor());
    runs = s.get("/api/v1/runs?scenario=follow-up");
    CHECK(runs.body["runs"][0]["status"] == "done");
    CHECK(runs.body["runs"][0]["path"] == json{"tag", "wait", "later"});
    const auto run = s.get("/api/v1/runs/" + runs.body["runs"][0]["id"].get<std::string>());
    CHECK(run.status == 200);
    CHECK(run.body["effects"].size() == 2);
    const auto card = s.get("/api/v1/contacts/c-1");
    CHECK(card.body["tags"] == json{"detractor", "followed-up"});

    CHECK(s.post("/api/v1/scenarios/nothing/activate").status == 404);
    CHECK(s.get("/api/v1/runs/run_nothing").status == 404);
}

TEST_CASE("routes: simulate takes the event's contact from the given contact") {
    Served s;
    REQUIRE(s.post("/api/v1/scenarios", follow_up).status == 201);
    const json answer = {{"type", "nps_response"}, {"data", {{"score", 2}}}};
    const auto given = s.post("/api/v1/scenarios/follow-up/simulate",
                              {{"contact", {{"id", "c-5"}, {"email", "a@b.cz"}}}, {"event", answer}});
    REQUIRE(given.status == 200);
    CHECK(given.body["entered"] == true);
    CHECK(given.body["path"] == json{"tag", "wait"});
    // Without either, the event's contact is what is missing.
    const auto neither = s.post("/api/v1/scenarios/follow-up/simulate", {{"event", answer}});
    CHECK(neither.status == 422);
    CHECK(neither.body["error"]["field"] == "event.contact");
    // Both, and different: refused.
    json other = answer;
    other["contact"] = "c-6";
    const auto differ =
        s.post("/api/v1/scenarios/follow-up/simulate", {{"contact", {{"id", "c-5"}}}, {"event", other}});
    CHECK(differ.status == 422);
    CHECK(differ.body["error"]["field"] == "contact.id");
}

TEST_CASE("routes: unknown routes are 404, a wrong method is 405 with Allow") {
    Served s;
    const auto unknown = s.get("/api/v1/nothing");
    CHECK(unknown.status == 404);
    CHECK(unknown.body["error"]["code"] == "not_found");
    const auto wrong = s.call("PUT", "/api/v1/events", json::object(), &s.admin);
    CHECK(wrong.status == 405);
    CHECK(wrong.body["error"]["code"] == "method_not_allowed");
    const auto allow = wrong.headers.find("Allow");
    REQUIRE(allow != wrong.headers.end());
    CHECK(allow->second == "POST, GET");
}
