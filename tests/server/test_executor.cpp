// The scenario executor on a real SQLite store, driven pass by pass (run_once) with a clock
// the test moves: entry, effects, waits, re-entry, versions, and a deleted scenario's runs.
#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "closeloop/detail/json_read.h"
#include "executor.h"
#include "store/sqlite_store.h"
#include "temp_dir.h"

using namespace closeloop;
using namespace closeloop::server;
using nlohmann::json;

namespace {

const char* recovery = R"json({ "id": "rec", "name": "Recovery",
  "trigger": { "event": "nps_response", "when": "event.score < 7" },
  "reentry": { "policy": "cooldown", "days": 30 }, "start": "segment",
  "nodes": [
    { "id": "segment", "type": "switch",
      "cases": [ { "when": "contact.rfm.segment in ['Lost', 'Hibernating']", "next": "mail_plain" } ],
      "default": "give_voucher" },
    { "id": "give_voucher", "type": "action", "action": "assign_voucher", "params": { "campaign": "apology" },
      "next": "mail_voucher" },
    { "id": "mail_voucher", "type": "action", "action": "send_email", "params": { "template": "t" },
      "next": "wait" },
    { "id": "wait", "type": "wait", "for": "PT1H", "next": "call" },
    { "id": "call", "type": "action", "action": "notify",
      "params": { "role": "care", "message": "Call {{contact.email}}: NPS {{event.score}}" }, "next": "tag" },
    { "id": "tag", "type": "action", "action": "add_tag", "params": { "tag": "recovered" }, "next": null },
    { "id": "mail_plain", "type": "action", "action": "send_email", "params": { "template": "t" }, "next": null } ] })json";

Time at(const char* text) {
    return parse_time(text).value();
}

Event nps(const std::string& id, const std::string& contact, int score) {
    auto e = event_from_json(json{{"id", id},
                                  {"type", "nps_response"},
                                  {"contact", {{"id", contact}, {"email", contact + "@example.cz"}}},
                                  {"data", {{"score", score}}}});
    REQUIRE(e.ok());
    return *e;
}

json asset(const std::string& name) {
    std::ifstream in(std::string(CLOSELOOP_ASSETS_DIR) + "/" + name);
    std::stringstream text;
    text << in.rdbuf();
    auto j = detail::parse_json(text.str());
    REQUIRE(j.ok());
    return *j;
}

struct Fixture {
    TempDir dir;
    SqliteStore store{dir.path};
    Time now = at("2026-11-22T10:00:00Z");
    Executor executor{store, [this] { return now; }};
    WorkspaceId ws = 0;

    explicit Fixture(const json& scenario = detail::parse_json(recovery).value(),
                     const json& campaign_doc = json{
                         {"id", "apology"}, {"name", "A"}, {"value", 20}, {"currency", "EUR"}, {"valid_for", "P2M"}}) {
        store.write([&](WriteTx& tx) { ws = tx.create_workspace("demo", "Demo", now).id; });
        auto campaign = voucher_campaign_from_json(campaign_doc);
        REQUIRE(campaign.ok());
        store.save_voucher_campaign(ws, *campaign, now);
        REQUIRE(store.create_scenario(ws, scenario, now) == ScenarioSave::saved);
        REQUIRE(store.set_scenario_status(ws, scenario["id"].get<std::string>(), ScenarioStatus::active, now));
    }

    void drain() {
        for (int i = 0; i < 10 && executor.run_once(); ++i) {
        }
    }
    std::vector<RunRecord> runs() { return store.runs(ws, RunQuery{}); }
    std::vector<RunRecord> runs_of(const std::string& contact) {
        RunQuery q;
        q.contact = contact;
        return store.runs(ws, q);
    }
};

}  // namespace

TEST_CASE("the executor starts runs, applies effects and resumes waits when they come due") {
    Fixture f;
    f.store.insert_events(f.ws, std::vector<Event>{nps("n1", "c1", 3), nps("n2", "c2", 9)}, f.now);
    f.drain();

    const auto runs = f.runs();
    REQUIRE(runs.size() == 1);  // the 9 does not enter
    const RunRecord& run = runs[0];
    CHECK(run.contact == "c1");
    CHECK(run.status == RunStatus::waiting);
    CHECK(run.wake_at == add(f.now, hours(1)));
    CHECK(run.state["path"] == json::array({"segment", "give_voucher", "mail_voucher", "wait"}));
    CHECK(f.store.unprocessed_events(10).empty());  // voucher_assigned included

    const auto vouchers = f.store.vouchers(f.ws, std::string("c1"), 10);
    REQUIRE(vouchers.size() == 1);
    CHECK(vouchers[0].key == run.id + "/give_voucher");
    CHECK(run.state["voucher"]["code"] == vouchers[0].code);
    auto outbox = f.store.outbox(f.ws, OutboxQuery{});
    REQUIRE(outbox.size() == 1);
    CHECK(outbox[0].key == run.id + "/mail_voucher");
    CHECK(outbox[0].params["to"] == "c1@example.cz");
    CHECK(outbox[0].status == OutboxStatus::pending);

    SUBCASE("not before its time") {
        f.now = add(f.now, minutes(59));
        f.drain();
        CHECK(f.runs()[0].status == RunStatus::waiting);
    }
    SUBCASE("after its wake time: the rest of the path, a task and a tag") {
        f.now = add(f.now, minutes(61));
        CHECK(f.store.due_runs(f.now, 10).size() == 1);
        f.drain();
        const auto after = f.runs();
        REQUIRE(after.size() == 1);
        CHECK(after[0].status == RunStatus::done);
        CHECK(!after[0].wake_at);
        CHECK(after[0].effects.size() == 4);
        CHECK(after[0].trace.size() == 6);
        const auto tasks = f.store.tasks(f.ws, TaskQuery{.role = std::string("care"), .status = {}});
        REQUIRE(tasks.size() == 1);
        CHECK(tasks[0].message == "Call c1@example.cz: NPS 3");
        CHECK(tasks[0].key == run.id + "/call");
        const auto card = f.store.contact_card(f.ws, "c1", 0);
        REQUIRE(card);
        CHECK(card->contact.contact.tags == std::vector<std::string>{"recovered"});
        CHECK(f.store.due_runs(f.now, 10).empty());
    }
    SUBCASE("re-entry: a second low answer within the cooldown starts nothing") {
        f.store.insert_events(f.ws, std::vector<Event>{nps("n3", "c1", 2)}, f.now);
        f.drain();
        CHECK(f.runs().size() == 1);
    }
    SUBCASE("a new version does not change a live run; deleting the scenario ends it") {
        auto doc = detail::parse_json(recovery).value();
        doc["name"] = "Recovery 2";
        StoredScenario saved;
        REQUIRE(f.store.update_scenario(f.ws, "rec", doc, f.now, &saved) == ScenarioSave::saved);
        CHECK(saved.version == 2);
        CHECK(saved.status == ScenarioStatus::active);
        CHECK(f.store.find_scenario_version(f.ws, "rec", 1));
        f.store.insert_events(f.ws, std::vector<Event>{nps("n4", "c3", 1)}, f.now);
        f.drain();
        const auto runs2 = f.runs_of("c3");
        REQUIRE(runs2.size() == 1);
        CHECK(runs2[0].version == 2);
        CHECK(f.runs_of("c1")[0].version == 1);

        REQUIRE(f.store.delete_scenario(f.ws, "rec", f.now));
        for (const auto& r : f.runs()) {
            CHECK(r.status == RunStatus::failed);
            CHECK(r.error == "the scenario was deleted");
            CHECK(r.state["status"] == "failed");
        }
        f.now = add(f.now, hours(2));
        CHECK(f.store.due_runs(f.now, 10).empty());
        CHECK(!f.store.next_wake_at());
    }
}

TEST_CASE("an expression that fails at run time fails that run with its reason; the next events go on") {
    Fixture f;
    auto doc = detail::parse_json(recovery).value();
    doc["id"] = "bad";
    // `event.data.x` of a custom event is free data: a text where a number is compared fails
    // at run time, not at validation.
    doc["trigger"] = {{"event", "page_view"}};
    doc["reentry"] = {{"policy", "always"}};
    doc["start"] = "check";
    doc["nodes"] = json::array({{{"id", "check"},
                                 {"type", "condition"},
                                 {"if", "event.data.x - 1 > 0"},
                                 {"then", nullptr},
                                 {"else", nullptr}}});
    REQUIRE(f.store.create_scenario(f.ws, doc, f.now) == ScenarioSave::saved);
    REQUIRE(f.store.set_scenario_status(f.ws, "bad", ScenarioStatus::active, f.now));
    std::vector<Event> events;
    for (const char* x : {R"("text")", "5"}) {
        auto e = event_from_json(json{
            {"id", std::string("p") + x}, {"type", "page_view"}, {"contact", "c9"}, {"data", {{"x", json::parse(x)}}}});
        REQUIRE(e.ok());
        events.push_back(*e);
    }
    f.store.insert_events(f.ws, events, f.now);
    f.drain();
    const auto runs = f.runs();
    REQUIRE(runs.size() == 2);
    CHECK(runs[1].status == RunStatus::failed);  // newest first: the text came first
    CHECK(runs[1].error.find("check") != std::string::npos);
    CHECK(runs[0].status == RunStatus::done);
    CHECK(f.store.unprocessed_events(10).empty());
}

TEST_CASE("the shipped recovery scenario: a reminder 10 days before expiry unless the voucher was redeemed") {
    Fixture f(asset("scenarios/nps-recovery.json"), asset("campaigns.json")[0]);
    f.store.insert_events(f.ws, std::vector<Event>{nps("n1", "c1", 3), nps("n2", "c2", 4)}, f.now);
    f.drain();
    const auto waiting = f.runs();
    REQUIRE(waiting.size() == 2);
    const auto v1 = f.store.vouchers(f.ws, std::string("c1"), 10);
    REQUIRE(v1.size() == 1);
    REQUIRE(v1[0].expires_at);
    const Time wake = subtract(*v1[0].expires_at, days(10));
    for (const auto& r : waiting) {
        CHECK(r.status == RunStatus::waiting);
        CHECK(r.wake_at == wake);
    }
    CHECK(f.store.redeem_voucher(f.ws, v1[0].code, add(f.now, days(3))).outcome == RedeemOutcome::redeemed);

    f.now = add(wake, minutes(1));
    f.drain();
    const auto c1 = f.runs_of("c1");
    const auto c2 = f.runs_of("c2");
    REQUIRE(c1.size() == 1);
    REQUIRE(c2.size() == 1);
    CHECK(c1[0].status == RunStatus::done);
    CHECK(c1[0].state["path"].back() == "still_unused");
    CHECK(c2[0].status == RunStatus::done);
    CHECK(c2[0].state["path"].back() == "mail_reminder");
    std::vector<std::string> mails;
    for (const auto& o : f.store.outbox(f.ws, OutboxQuery{}))
        mails.push_back(o.contact + " " + o.params.value("template", ""));
    std::sort(mails.begin(), mails.end());
    CHECK(mails == std::vector<std::string>{"c1 nps-apology-voucher", "c2 nps-apology-voucher", "c2 voucher-reminder"});
}

TEST_CASE("a unit starts a bounded number of runs; the events after them wait for the next unit, none is lost") {
    Fixture f;
    std::vector<Event> events;
    for (int i = 0; i < 7; ++i) events.push_back(nps("b" + std::to_string(i), "b" + std::to_string(i), i % 2 ? 9 : 1));
    f.store.insert_events(f.ws, events, f.now);
    Executor small(
        f.store, [&f] { return f.now; }, ExecutorOptions{.runs_per_unit = 2});
    const auto commits = f.store.stats().commits;
    while (small.run_once()) {
    }
    CHECK(f.runs().size() == 4);  // the scores of 1
    CHECK(small.stats().runs_started == 4);
    CHECK(small.stats().events >= 7);
    CHECK(f.store.unprocessed_events(10).empty());
    CHECK(f.store.stats().commits - commits >= 3);  // 2 + 2 runs, then the rest and the vouchers' events
}

TEST_CASE("the executor sees catalog changes at once: a campaign's new value, a paused scenario") {
    Fixture f;
    f.store.insert_events(f.ws, std::vector<Event>{nps("k1", "k1", 1)}, f.now);
    f.drain();
    auto campaign = voucher_campaign_from_json(
        json{{"id", "apology"}, {"name", "A"}, {"value", 35}, {"currency", "EUR"}, {"valid_for", "P2M"}});
    REQUIRE(campaign.ok());
    f.store.save_voucher_campaign(f.ws, *campaign, f.now);
    f.store.insert_events(f.ws, std::vector<Event>{nps("k2", "k2", 1)}, f.now);
    f.drain();
    CHECK(f.store.vouchers(f.ws, std::string("k1"), 1).at(0).value == 20);
    CHECK(f.store.vouchers(f.ws, std::string("k2"), 1).at(0).value == 35);

    REQUIRE(f.store.set_scenario_status(f.ws, "rec", ScenarioStatus::paused, f.now));
    f.store.insert_events(f.ws, std::vector<Event>{nps("k3", "k3", 1)}, f.now);
    f.drain();
    CHECK(f.runs_of("k3").empty());
    CHECK(f.store.unprocessed_events(10).empty());
    // A paused scenario's live runs still finish.
    f.now = add(f.now, hours(2));
    f.drain();
    CHECK(f.runs_of("k1").at(0).status == RunStatus::done);
}

TEST_CASE("live runs finish on the version they started on, across a save and a restart of the executor") {
    Fixture f;
    f.store.insert_events(f.ws, std::vector<Event>{nps("v1", "old", 2)}, f.now);
    f.drain();
    auto doc = detail::parse_json(recovery).value();
    for (auto& node : doc["nodes"])
        if (node["id"] == "call") node["params"]["message"] = "v2: call {{contact.email}}";
    REQUIRE(f.store.update_scenario(f.ws, "rec", doc, f.now, nullptr) == ScenarioSave::saved);
    f.store.insert_events(f.ws, std::vector<Event>{nps("v2", "new", 2)}, f.now);
    f.drain();

    f.now = add(f.now, hours(2));
    Executor restarted(f.store, [&f] { return f.now; });  // nothing cached
    while (restarted.run_once()) {
    }
    std::map<std::string, std::string> messages;
    for (const auto& t : f.store.tasks(f.ws, TaskQuery{.role = std::string("care"), .status = {}}))
        messages[t.contact] = t.message;
    CHECK(messages["old"] == "Call old@example.cz: NPS 2");
    CHECK(messages["new"] == "v2: call new@example.cz");
    CHECK(f.runs_of("old").at(0).version == 1);
    CHECK(f.runs_of("new").at(0).version == 2);
}

TEST_CASE("ingest: an event, the run it starts and the run's effects commit in one unit of work") {
    Fixture f;
    const auto commits = f.store.stats().commits;
    const auto r = f.executor.ingest(f.ws, std::vector<Event>{nps("i1", "c1", 3), nps("i2", "c2", 9)}, f.now);
    CHECK(r.accepted == 2);
    CHECK(f.store.stats().commits == commits + 1);
    // No pass of the executor yet: the run, its voucher and its e-mail are there.
    const auto runs = f.runs();
    REQUIRE(runs.size() == 1);
    CHECK(runs[0].contact == "c1");
    CHECK(runs[0].event_id == "i1");
    CHECK(runs[0].status == RunStatus::waiting);
    CHECK(f.store.vouchers(f.ws, std::string("c1"), 10).size() == 1);
    const auto outbox = f.store.outbox(f.ws, OutboxQuery{});
    REQUIRE(outbox.size() == 1);
    CHECK(outbox[0].params["to"] == "c1@example.cz");  // the contact as the event left it
    CHECK(f.executor.stats().events == 2);
    CHECK(f.executor.stats().runs_started == 1);
    // Only the voucher_assigned event the run wrote is left for the executor's own pass.
    const auto todo = f.store.unprocessed_events(10);
    REQUIRE(todo.size() == 1);
    CHECK(todo[0].event.type == "voucher_assigned");
    f.drain();
    CHECK(f.store.unprocessed_events(10).empty());
    CHECK(f.runs().size() == 1);

    SUBCASE("the same events again are duplicates and start nothing") {
        const auto again = f.executor.ingest(f.ws, std::vector<Event>{nps("i1", "c1", 3)}, f.now);
        CHECK(again.duplicates == 1);
        CHECK(f.runs().size() == 1);
    }
    SUBCASE("re-entry within a batch: the second low answer of c3 sees the first one's run") {
        f.executor.ingest(f.ws, std::vector<Event>{nps("i3", "c3", 1), nps("i4", "c3", 2)}, f.now);
        CHECK(f.runs_of("c3").size() == 1);
    }
    SUBCASE("a scenario activated before the post is used at once") {
        auto doc = detail::parse_json(recovery).value();
        doc["id"] = "rec2";
        REQUIRE(f.store.create_scenario(f.ws, doc, f.now) == ScenarioSave::saved);
        REQUIRE(f.store.set_scenario_status(f.ws, "rec2", ScenarioStatus::active, f.now));
        f.executor.ingest(f.ws, std::vector<Event>{nps("i5", "c5", 1)}, f.now);
        CHECK(f.runs_of("c5").size() == 2);
    }
}

TEST_CASE("the now rule: an event is reacted to as of its time, never after its receipt; a late wake as of wake_at") {
    Fixture f;
    const auto trace_at = [](const RunRecord& r, std::size_t i) { return r.trace.at(i)["at"].get<std::string>(); };

    SUBCASE("an event posted three days late, handled by the executor's pass") {
        Event late = nps("old", "c1", 3);
        late.time = add(f.now, Duration{0, -3, 0});
        f.store.insert_events(f.ws, std::vector<Event>{late}, f.now);
        f.drain();  // starts the run as of the answer, then resumes its wait (due long ago) as of wake_at
        const auto runs = f.runs();
        REQUIRE(runs.size() == 1);
        CHECK(runs[0].status == RunStatus::done);
        CHECK(trace_at(runs[0], 0) == format_time(*late.time));
        const Time wake = add(*late.time, hours(1));
        CHECK(trace_at(runs[0], 4) == format_time(wake));  // the node after the wait
        CHECK(runs[0].updated_at == f.now);                // the record: when it was written
        const auto vouchers = f.store.vouchers(f.ws, std::string("c1"), 10);
        REQUIRE(vouchers.size() == 1);
        CHECK(vouchers[0].assigned_at == *late.time);
        const auto tasks = f.store.tasks(f.ws, TaskQuery{.role = std::string("care"), .status = {}});
        REQUIRE(tasks.size() == 1);
        CHECK(tasks[0].created_at == wake);
    }
    SUBCASE("a future-dated event posted through ingest is reacted to as of its receipt") {
        Event future = nps("future", "c1", 3);
        future.time = add(f.now, Duration{0, 2, 0});
        f.executor.ingest(f.ws, std::vector<Event>{future}, f.now);
        const auto runs = f.runs();
        REQUIRE(runs.size() == 1);
        CHECK(trace_at(runs[0], 0) == format_time(f.now));
        CHECK(runs[0].wake_at == add(f.now, hours(1)));
    }
}
