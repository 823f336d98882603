// The differential test (issue 10): generated workloads go through core's simulate() (what
// `closeloop simulate` runs) and through a real server (an App on a free loopback port with a
// real SQLite file and a clock set to each event's time), and every run's path, effects and
// deciding values must be equal. Only what must differ is normalised: run ids and voucher
// codes (the server's are random), each mapped to the event and effect that made it.
#include <doctest/doctest.h>
#include <httplib.h>

#include <algorithm>
#include <map>
#include <random>

#include "app.h"
#include "closeloop/detail/json_read.h"
#include "closeloop/scenario.h"
#include "closeloop/simulator.h"
#include "temp_dir.h"
#include "workspaces.h"

using namespace closeloop;
using namespace closeloop::server;
using nlohmann::json;

namespace {

json parse(const char* text) {
    return detail::parse_json(text).value();
}

// Each reads history (previous_nps, count_events, voucher_assigned_within) or `voucher.*`,
// assigns vouchers, waits and splits (by scenario and contact, so both sides take the same branch).
const char* recovery = R"json({ "id": "recovery", "name": "Recovery",
  "trigger": { "event": "nps_response", "when": "event.score <= 6" }, "reentry": { "policy": "always" },
  "start": "prev",
  "nodes": [
    { "id": "prev", "type": "condition", "if": "previous_nps() >= 7", "then": "tag_drop", "else": "had" },
    { "id": "tag_drop", "type": "action", "action": "add_tag", "params": { "tag": "dropped" }, "next": "had" },
    { "id": "had", "type": "condition", "if": "voucher_assigned_within('apology', days(30))",
      "then": "call", "else": "buyer" },
    { "id": "buyer", "type": "condition", "if": "count_events('purchase', days(60)) >= 2",
      "then": "give", "else": "call" },
    { "id": "give", "type": "action", "action": "assign_voucher", "params": { "campaign": "apology" },
      "next": "wait" },
    { "id": "wait", "type": "wait", "for": "P1D", "next": "check" },
    { "id": "check", "type": "condition", "if": "voucher.redeemed", "then": "thanks", "else": "call" },
    { "id": "thanks", "type": "action", "action": "add_tag", "params": { "tag": "redeemed" }, "next": null },
    { "id": "call", "type": "action", "action": "notify",
      "params": { "role": "care", "message": "NPS {{event.score}}, voucher {{voucher.code}} {{voucher.value}}" },
      "next": null } ] })json";

const char* loyal = R"json({ "id": "loyal", "name": "Loyal",
  "trigger": { "event": "purchase" }, "reentry": { "policy": "cooldown", "days": 2 },
  "start": "engaged",
  "nodes": [
    { "id": "engaged", "type": "condition", "if": "count_events('opened_app', days(7)) >= 1",
      "then": "give", "else": "tally" },
    { "id": "give", "type": "action", "action": "assign_voucher", "params": { "campaign": "pct" }, "next": "attr" },
    { "id": "attr", "type": "action", "action": "set_attribute",
      "params": { "name": "last_pct", "value": "voucher.value" }, "next": "wait" },
    { "id": "wait", "type": "wait", "for": "PT6H", "next": "check" },
    { "id": "check", "type": "condition", "if": "not voucher.redeemed", "then": "remind", "else": null },
    { "id": "remind", "type": "action", "action": "notify",
      "params": { "role": "sales", "message": "Voucher {{voucher.code}} unused" }, "next": null },
    { "id": "tally", "type": "action", "action": "set_attribute",
      "params": { "name": "purchases", "value": "count_events('purchase', days(30))" }, "next": null } ] })json";

const char* app_open = R"json({ "id": "app", "name": "App opened",
  "trigger": { "event": "opened_app" }, "reentry": { "policy": "once" },
  "start": "has",
  "nodes": [
    { "id": "has", "type": "condition", "if": "voucher.campaign == 'apology' and not voucher.redeemed",
      "then": "nudge", "else": "often" },
    { "id": "nudge", "type": "action", "action": "notify",
      "params": { "role": "care", "message": "{{voucher.code}} worth {{voucher.value}} until {{voucher.expires_at}}" },
      "next": null },
    { "id": "often", "type": "condition", "if": "count_events('opened_app', days(3)) >= 3",
      "then": "give", "else": "ab" },
    { "id": "ab", "type": "split", "branches": [ { "percent": 50, "next": "tag_a" }, { "percent": 50, "next": null } ] },
    { "id": "tag_a", "type": "action", "action": "add_tag", "params": { "tag": "group-a" }, "next": null },
    { "id": "give", "type": "action", "action": "assign_voucher", "params": { "campaign": "apology" },
      "next": "later" },
    { "id": "later", "type": "wait", "for": "PT12H", "next": "has" } ] })json";

const char* campaigns = R"json([
  { "id": "apology", "name": "Apology", "value": 20, "currency": "EUR", "valid_for": "P1M" },
  { "id": "pct", "name": "Percent", "value": 15, "percent": true, "valid_for": "P3D" } ])json";

// A seeded workload: a few contacts, answers (some repeated at the same instant), purchases,
// a custom event, redemptions naming a campaign (the codes are each side's own).
std::vector<Event> workload(unsigned seed, int count) {
    std::mt19937 rng(seed);
    const auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
    std::vector<Event> out;
    Time t = parse_time("2026-11-01T08:00:00Z").value();
    std::string contact = "c0";
    for (int i = 0; i < count; ++i) {
        const bool same_instant = i > 0 && pick(5) == 0;
        if (!same_instant) t.ms += (1 + pick(48 * 60)) * ms_per_minute;
        if (!same_instant || pick(2) == 0) contact = "c" + std::to_string(pick(6));
        json e = {{"id", "e" + std::to_string(i)},
                  {"contact", {{"id", contact}, {"email", contact + "@example.cz"}}},
                  {"time", format_time(t)}};
        const int kind = pick(20);
        if (kind < 8) {
            e["type"] = "nps_response";
            e["data"] = {{"score", pick(11)}};
        } else if (kind < 13) {
            e["type"] = "purchase";
            e["data"] = {{"order_id", "o" + std::to_string(i)}, {"amount", 5 + pick(200)}, {"currency", "EUR"}};
        } else if (kind < 17) {
            e["type"] = "opened_app";
        } else {
            e["type"] = "voucher_redeemed";
            e["data"] = {{"campaign", pick(2) ? "apology" : "pct"}};
        }
        auto event = event_from_json(e);
        REQUIRE(event.ok());
        out.push_back(std::move(*event));
    }
    return out;
}

// One run as compared: its path, effects, trace (every step's deciding values), status, wake.
struct RunOut {
    std::string id;  // the side's run id
    json record;
};

// Replaces the run id and each voucher code with a name both sides give it: a code by the
// event that started the run and the effect (node, visit) that assigned it.
std::map<std::string, json> normalise(const std::map<std::string, RunOut>& runs) {
    std::map<std::string, std::string> names;
    for (const auto& [event, run] : runs) {
        names[run.id] = "RUN(" + event + ")";
        for (const json& e : run.record["effects"]) {
            if (e.value("kind", "") != "assign_voucher") continue;
            const std::string key = e.value("key", "");
            names[e["params"].value("code", "")] = "CODE(" + event + key.substr(key.find('/')) + ")";
        }
    }
    // Longest first: "run-e2" must not rename the start of "run-e22".
    std::vector<std::pair<std::string, std::string>> order(names.begin(), names.end());
    std::stable_sort(order.begin(), order.end(),
                     [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
    std::map<std::string, json> out;
    for (const auto& [event, run] : runs) {
        std::string text = run.record.dump();
        for (const auto& [from, to] : order) {
            for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
                text.replace(at, from.size(), to);
        }
        out[event] = json::parse(text);
    }
    return out;
}

std::map<std::string, RunOut> simulated(const Scenario& scenario, const std::vector<Event>& events,
                                        const std::map<std::string, VoucherCampaign>& catalog) {
    SimulationInput in;
    in.scenario = &scenario;
    in.events = events;
    in.campaigns = catalog;
    auto lines = simulate(in);
    REQUIRE(lines.ok());
    std::map<std::string, RunOut> runs;
    for (const SimulatedRun& line : *lines) {
        if (!line.entered) continue;
        RunOut& run = runs[line.event];
        if (!line.resumed) run = {"run-" + line.event, {{"effects", json::array()}, {"trace", json::array()}}};
        for (const Effect& e : line.effects) run.record["effects"].push_back(e);
        for (const TraceStep& s : line.trace) run.record["trace"].push_back(s);
        run.record["path"] = line.path;
        run.record["status"] = to_string(line.state);
        run.record["wake_at"] = line.wake_at ? json(format_time(*line.wake_at)) : json();
    }
    return runs;
}

// A real server: one workspace per scenario (simulate runs one scenario), events posted over
// HTTP with the clock at each event's time, the executor run until idle around each post.
struct Server {
    TempDir dir;
    ManualClock clock{parse_time("2026-10-01T00:00:00Z").value()};
    App app{{.data = dir.path,
             .clock = clock.function(),
             .threads = 2,
             .rfm_interval_minutes = 0,
             .synchronous = "NORMAL",  // speed: durability is not under test here
             .executor_thread = false}};
    std::unique_ptr<httplib::Client> client;
    std::vector<std::string> keys;  // admin key of each scenario's workspace

    explicit Server(const std::vector<json>& scenarios) {
        REQUIRE(app.bind("127.0.0.1", 0));
        app.open();
        app.start();
        client = std::make_unique<httplib::Client>("127.0.0.1", app.port());
        for (const json& s : scenarios) {
            auto created = create_workspace(app.store(), s["id"].get<std::string>(), "W", std::nullopt, clock.now());
            REQUIRE(created.ok());
            keys.push_back(created->admin_key);
            for (const json& c : parse(campaigns)) CHECK(post(keys.size() - 1, "/api/v1/voucher-campaigns", c) < 300);
            CHECK(post(keys.size() - 1, "/api/v1/scenarios", s) == 201);
            CHECK(post(keys.size() - 1, "/api/v1/scenarios/" + s["id"].get<std::string>() + "/activate", json()) ==
                  200);
        }
    }

    httplib::Headers auth(std::size_t ws) const { return {{"Authorization", "Bearer " + keys[ws]}}; }
    int post(std::size_t ws, const std::string& path, const json& body) {
        auto r = client->Post(path.c_str(), auth(ws), body.is_null() ? "" : body.dump(), "application/json");
        REQUIRE(r);
        if (r->status >= 300) MESSAGE(path << ": " << r->body);
        return r->status;
    }
    json get(std::size_t ws, const std::string& path) {
        auto r = client->Get(path.c_str(), auth(ws));
        REQUIRE(r);
        REQUIRE(r->status == 200);
        return json::parse(r->body);
    }

    void run(const std::vector<Event>& events) {
        for (const Event& e : events) {
            clock.set(*e.time);
            REQUIRE(app.run_executor());  // the runs due by now first, as simulate wakes them
            for (std::size_t ws = 0; ws < keys.size(); ++ws) REQUIRE(post(ws, "/api/v1/events", json(e)) == 202);
            REQUIRE(app.run_executor());
        }
    }

    std::map<std::string, RunOut> runs(std::size_t ws) {
        std::map<std::string, RunOut> out;
        const json listed = get(ws, "/api/v1/runs?limit=1000");  // kept: the loop reads into it
        for (const json& r : listed["runs"]) {
            json full = get(ws, "/api/v1/runs/" + r["id"].get<std::string>());
            json effects = json::array();
            for (json e : full["effects"]) {
                e.erase("status");  // the outbox status: the simulator performs nothing
                e.erase("delivery");
                effects.push_back(std::move(e));
            }
            out[full["event"].get<std::string>()] = {full["id"].get<std::string>(),
                                                     {{"effects", std::move(effects)},
                                                      {"trace", full["trace"]},
                                                      {"path", full["path"]},
                                                      {"status", full["status"]},
                                                      {"wake_at", full["wake_at"]}}};
        }
        return out;
    }
};

}  // namespace

TEST_CASE("differential: simulate and a real server take the same runs on generated workloads") {
    std::map<std::string, VoucherCampaign> catalog;
    for (const json& c : parse(campaigns)) {
        auto campaign = voucher_campaign_from_json(c);
        REQUIRE(campaign.ok());
        catalog[campaign->id] = *campaign;
    }
    const std::vector<json> documents = {parse(recovery), parse(loyal), parse(app_open)};
    std::vector<Scenario> scenarios;
    for (const json& d : documents) {
        auto loaded = load_scenario(d);
        REQUIRE(loaded.errors.empty());
        scenarios.push_back(std::move(loaded.scenario));
    }

    std::size_t compared = 0, waited = 0, vouchers = 0;
    for (unsigned seed : {1u, 2u, 3u, 4u, 5u}) {
        CAPTURE(seed);
        const auto events = workload(seed, 200);
        Server server(documents);
        server.run(events);
        for (std::size_t i = 0; i < scenarios.size(); ++i) {
            CAPTURE(scenarios[i].id);
            const auto sim = normalise(simulated(scenarios[i], events, catalog));
            const auto live = normalise(server.runs(i));
            std::vector<std::string> sim_events, live_events;
            for (const auto& [event, run] : sim) sim_events.push_back(event);
            for (const auto& [event, run] : live) live_events.push_back(event);
            CAPTURE(sim_events.size());
            CAPTURE(live_events.size());
            CHECK(sim_events == live_events);
            for (const auto& [event, run] : sim) {
                const auto other = live.find(event);
                if (other == live.end()) continue;
                CAPTURE(event);
                CHECK(run.dump() == other->second.dump());
                ++compared;
                if (run["trace"].dump().find("\"waiting\"") != std::string::npos) ++waited;
                if (run["effects"].dump().find("assign_voucher") != std::string::npos) ++vouchers;
            }
        }
    }
    // The workloads exercise what they are for: many runs, waits that resumed, vouchers.
    MESSAGE("runs compared: " << compared << ", with a wait: " << waited << ", assigning a voucher: " << vouchers);
    CHECK(compared > 300);
    CHECK(waited > 30);
    CHECK(vouchers > 30);
}
