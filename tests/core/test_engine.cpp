#include <doctest/doctest.h>

#include <set>

#include "scenario_fixtures.h"

using namespace closeloop;
using nlohmann::json;

namespace {

struct Harness {
    Scenario scenario = fixtures::recovery();
    std::map<std::string, VoucherCampaign> campaigns = fixtures::campaigns();
    MemoryHistory history;
    DeterministicCodes codes;

    StepResult start(const Contact& c, const Event& e) {
        const StepContext ctx{scenario, history, history, codes, campaigns, nullptr, *e.time};
        return start_run(ctx, "run-" + e.id, e, c);
    }
    // Puts the run's voucher assignments into the history, as the server's store and the
    // simulator write them (a redemption then names a voucher the history knows).
    void keep_vouchers(const StepResult& r) {
        for (const auto& eff : r.effects)
            if (const auto* a = std::get_if<AssignVoucher>(&eff.params))
                history.add(voucher_assigned_event(campaigns.at(a->voucher.campaign), a->voucher, eff.contact));
    }
    StepResult resume(RunState s, const Contact& c) {
        const StepContext ctx{scenario, history, history, codes, campaigns, nullptr, *s.wake_at};
        return resume_run(ctx, std::move(s), c);
    }
};

const std::vector<std::string> low_value = {"Lost", "Hibernating"};
const std::vector<std::string> high_value = {"Champions", "Loyal", "Cannot Lose"};
const std::vector<std::string> middle = {"Promising", "Need Attention", "About to Sleep",
                                         "At Risk",   "New Customers",  "Potential Loyalist"};

}  // namespace

TEST_CASE("recovery scenario: the path of each RFM tier (DOMAIN.md, seed 000)") {
    Harness h;
    SUBCASE("low value: apology without voucher") {
        for (const auto& seg : low_value) {
            CAPTURE(seg);
            auto r = h.start(fixtures::contact("c1", seg), fixtures::nps("e1", "c1", 4, "2026-11-20T10:00:00Z"));
            CHECK(r.state.path == std::vector<std::string>{"had_voucher", "segment", "mail_plain"});
            CHECK(r.state.status == RunStatus::done);
            REQUIRE(r.effects.size() == 1);
            CHECK(r.effects[0].kind == ActionKind::send_email);
            CHECK(params_json(r.effects[0])["template"] == "nps-apology");
            CHECK(params_json(r.effects[0])["to"] == "c1@example.cz");
            CHECK(r.effects[0].key == "run-e1/mail_plain");
        }
    }
    SUBCASE("high value: no e-mail, the call centre gets a task with instructions") {
        for (const auto& seg : high_value) {
            CAPTURE(seg);
            auto r = h.start(fixtures::contact("c2", seg), fixtures::nps("e2", "c2", 2, "2026-11-20T10:00:00Z"));
            CHECK(r.state.path == std::vector<std::string>{"had_voucher", "segment", "call"});
            REQUIRE(r.effects.size() == 1);
            CHECK(r.effects[0].kind == ActionKind::notify);
            CHECK(params_json(r.effects[0])["role"] == "call_center_agent");
            CHECK(params_json(r.effects[0])["message"] ==
                  "Call Jana (c2@example.cz): NPS 2. Apologise, solve, then send voucher nps-apology-20.");
        }
    }
    SUBCASE("middle (and no segment): voucher, e-mail with it, then wait until 10 days before expiry") {
        auto segments = middle;
        segments.push_back("");  // no purchase in the window: no segment
        for (const auto& seg : segments) {
            CAPTURE(seg);
            auto r = h.start(fixtures::contact("c3", seg), fixtures::nps("e3", "c3", 6, "2026-11-20T10:00:00Z"));
            CHECK(r.state.path ==
                  std::vector<std::string>{"had_voucher", "segment", "give_voucher", "mail_voucher", "wait_expiry"});
            CHECK(r.state.status == RunStatus::waiting);
            // assigned 2026-11-20T10:00Z + P2M = 2027-01-20T10:00Z; minus 10 days = 2027-01-10T10:00Z
            REQUIRE(r.state.wake_at.has_value());
            CHECK(format_time(*r.state.wake_at) == "2027-01-10T10:00:00Z");
            CHECK(r.state.resume_at == "still_unused");
            REQUIRE(r.effects.size() == 2);
            CHECK(r.effects[0].kind == ActionKind::assign_voucher);
            CHECK(params_json(r.effects[0])["campaign"] == "nps-apology-20");
            CHECK(params_json(r.effects[0])["expires_at"] == "2027-01-20T10:00:00Z");
            CHECK(params_json(r.effects[0])["value"] == 20);
            CHECK(params_json(r.effects[1])["template"] == "nps-apology-voucher");
            REQUIRE(r.state.voucher.has_value());
            CHECK(r.state.voucher->code == params_json(r.effects[0])["code"]);
        }
    }
}

TEST_CASE("recovery scenario: the reminder goes only when the voucher is unused") {
    Harness h;
    const Contact c = fixtures::contact("c4", "At Risk");
    auto first = h.start(c, fixtures::nps("e4", "c4", 5, "2026-11-20T10:00:00Z"));
    REQUIRE(first.state.status == RunStatus::waiting);
    h.keep_vouchers(first);
    const std::string code = first.state.voucher->code;

    SUBCASE("not redeemed: reminder e-mail") {
        auto r = h.resume(first.state, c);
        CHECK(r.state.status == RunStatus::done);
        CHECK(r.state.path.back() == "mail_reminder");
        REQUIRE(r.effects.size() == 1);
        CHECK(params_json(r.effects[0])["template"] == "voucher-reminder");
        CHECK(r.effects[0].key == "run-e4/mail_reminder");
        REQUIRE(r.trace.size() == 2);
        CHECK(r.trace[0].node == "still_unused");
        CHECK(r.trace[0].outcome == "then");
        CHECK(trace_values_json(r.trace[0].values)["not voucher.redeemed"] == true);
    }
    SUBCASE("redeemed before the wake time: no reminder") {
        h.history.add(fixtures::voucher_redeemed("c4", "2026-12-01T09:00:00Z", {{"code", code}}));
        auto r = h.resume(first.state, c);
        CHECK(r.state.status == RunStatus::done);
        CHECK(r.state.path.back() == "still_unused");
        CHECK(r.effects.empty());
        CHECK(r.trace[0].outcome == "else");
    }
    SUBCASE("redeemed only after the wake time does not count") {
        h.history.add(fixtures::voucher_redeemed("c4", "2027-01-15T09:00:00Z", {{"code", code}}));
        auto r = h.resume(first.state, c);
        CHECK(r.state.path.back() == "mail_reminder");
    }
    SUBCASE("the run state survives JSON (the server stores it)") {
        auto back = run_state_from_json(json(first.state));
        REQUIRE(back.ok());
        CHECK(json(*back) == json(first.state));
        auto r = h.resume(*back, c);
        CHECK(r.state.path.back() == "mail_reminder");
    }
}

TEST_CASE("recovery scenario: the 183-day anti-abuse rule") {
    // The answer comes at 2026-11-20T10:00Z; 183 days earlier is 2026-05-21T10:00Z.
    SUBCASE("voucher 182 days ago: apology without voucher") {
        Harness h;
        h.history.add(fixtures::voucher_assigned("c5", "2026-05-22T10:00:00Z", "2026-07-22T10:00:00Z"));
        auto r = h.start(fixtures::contact("c5", "At Risk"), fixtures::nps("e5", "c5", 3, "2026-11-20T10:00:00Z"));
        CHECK(r.state.path == std::vector<std::string>{"had_voucher", "mail_plain"});
        CHECK(trace_values_json(r.trace[0].values)["voucher_assigned_within('nps-apology-20', days(183))"] == true);
    }
    SUBCASE("voucher exactly 183 days ago still counts (the window is inclusive)") {
        Harness h;
        h.history.add(fixtures::voucher_assigned("c5", "2026-05-21T10:00:00Z", "2026-07-21T10:00:00Z"));
        auto r = h.start(fixtures::contact("c5", "At Risk"), fixtures::nps("e5", "c5", 3, "2026-11-20T10:00:00Z"));
        CHECK(r.state.path == std::vector<std::string>{"had_voucher", "mail_plain"});
    }
    SUBCASE("voucher 184 days ago: a new voucher") {
        Harness h;
        h.history.add(fixtures::voucher_assigned("c5", "2026-05-20T10:00:00Z", "2026-07-20T10:00:00Z"));
        auto r = h.start(fixtures::contact("c5", "At Risk"), fixtures::nps("e5", "c5", 3, "2026-11-20T10:00:00Z"));
        CHECK(r.state.path[2] == "give_voucher");
    }
}

TEST_CASE("entry: trigger condition and re-entry policies") {
    const Scenario s = fixtures::recovery();
    const EmptyHistory none;
    const Contact c = fixtures::contact("c6", "Loyal");
    SUBCASE("every score 0-10: below 7 enters") {
        for (int score = 0; score <= 10; ++score) {
            CAPTURE(score);
            const auto d = decide_entry(s, fixtures::nps("e", "c6", score, "2026-11-20T10:00:00Z"), c, {}, none,
                                        fixtures::at("2026-11-20T10:00:00Z"));
            CHECK(d.enter == (score < 7));
            if (!d.enter) CHECK(d.reason.find("trigger.when is false") != std::string::npos);
        }
    }
    SUBCASE("another event type does not enter") {
        Event e = fixtures::nps("e", "c6", 3, "2026-11-20T10:00:00Z");
        e.type = "purchase";
        e.kind = EventType::purchase;
        CHECK_FALSE(decide_entry(s, e, c, {}, none, *e.time).enter);
    }
    SUBCASE("the facts are asked for only when the trigger matches and the rule needs them") {
        int asked = 0;
        EntryFacts facts;
        facts.last_started_at = fixtures::at("2026-11-01T10:00:00Z");
        const auto ask = [&] {
            ++asked;
            return facts;
        };
        const Time now = fixtures::at("2026-11-20T10:00:00Z");
        CHECK_FALSE(decide_entry_lazy(s, fixtures::nps("e", "c6", 9, "2026-11-20T10:00:00Z"), c, ask, none, now).enter);
        CHECK(asked == 0);  // trigger.when is false
        const auto d = decide_entry_lazy(s, fixtures::nps("e", "c6", 2, "2026-11-20T10:00:00Z"), c, ask, none, now);
        CHECK(asked == 1);
        CHECK_FALSE(d.enter);  // the cooldown, as decide_entry says
        CHECK(d.reason ==
              decide_entry(s, fixtures::nps("e", "c6", 2, "2026-11-20T10:00:00Z"), c, facts, none, now).reason);
        Scenario always = s;
        always.reentry.policy = ReentryPolicy::always;
        CHECK(decide_entry_lazy(always, fixtures::nps("e", "c6", 2, "2026-11-20T10:00:00Z"), c, ask, none, now).enter);
        CHECK(asked == 1);  // `always` needs none
    }
    SUBCASE("cooldown of 30 days") {
        EntryFacts facts;
        facts.last_started_at = fixtures::at("2026-11-01T10:00:00Z");
        const Event e = fixtures::nps("e", "c6", 3, "2026-11-20T10:00:00Z");
        const auto blocked = decide_entry(s, e, c, facts, none, *e.time);
        CHECK_FALSE(blocked.enter);
        CHECK(blocked.reason.find("2026-12-01T10:00:00Z") != std::string::npos);
        CHECK(decide_entry(s, e, c, facts, none, fixtures::at("2026-12-01T10:00:00Z")).enter);
    }
    SUBCASE("a live run blocks entry unless the policy is always") {
        EntryFacts facts;
        facts.live_run = true;
        const Event e = fixtures::nps("e", "c6", 3, "2026-11-20T10:00:00Z");
        CHECK_FALSE(decide_entry(s, e, c, facts, none, *e.time).enter);
        Scenario always = s;
        always.reentry.policy = ReentryPolicy::always;
        CHECK(decide_entry(always, e, c, facts, none, *e.time).enter);
        Scenario once = s;
        once.reentry.policy = ReentryPolicy::once;
        facts.live_run = false;
        facts.last_started_at = fixtures::at("2020-01-01T00:00:00Z");
        CHECK_FALSE(decide_entry(once, e, c, facts, none, *e.time).enter);
    }
}

TEST_CASE("effects: keys are unique across runs and repeat visits") {
    Harness h;
    std::set<std::string> keys;
    for (int i = 0; i < 50; ++i) {
        const std::string id = "e" + std::to_string(i);
        auto r =
            h.start(fixtures::contact("c" + std::to_string(i), middle[static_cast<std::size_t>(i) % middle.size()]),
                    fixtures::nps(id, "c" + std::to_string(i), 1, "2026-11-20T10:00:00Z"));
        for (const auto& e : r.effects) CHECK(keys.insert(e.key).second);
    }
    CHECK(keys.size() == 100);
}

TEST_CASE("split: a stable function of its key (scenario and contact), close to its percents") {
    const auto loaded =
        load_scenario(fixtures::parse(R"json({ "id": "ab", "name": "A/B", "trigger": { "event": "purchase" },
        "start": "s", "nodes": [
          { "id": "s", "type": "split", "branches": [ { "percent": 30, "next": "a" }, { "percent": 70, "next": "b" } ] },
          { "id": "a", "type": "action", "action": "add_tag", "params": { "tag": "A" }, "next": null },
          { "id": "b", "type": "action", "action": "add_tag", "params": { "tag": "B" }, "next": null } ] })json"));
    REQUIRE(loaded.errors.empty());
    const Node& split = *loaded.scenario.find("s");
    int first = 0;
    for (int i = 0; i < 10000; ++i) {
        const std::string run = "run-" + std::to_string(i);
        const auto b = split_branch(split, run);
        CHECK(b == split_branch(split, run));  // stable
        if (b == 0) ++first;
    }
    CHECK(first > 2800);  // 30 % of 10,000 = 3,000, within 2 %
    CHECK(first < 3200);
}

TEST_CASE("waits: `for` sets the wake time, a time in the past continues at once") {
    const auto loaded =
        load_scenario(fixtures::parse(R"json({ "id": "w", "name": "waits", "trigger": { "event": "purchase" },
        "start": "w1", "nodes": [
          { "id": "w1", "type": "wait", "until": "event.time - days(1)", "next": "w2" },
          { "id": "w2", "type": "wait", "for": "PT24H", "next": "t" },
          { "id": "t", "type": "action", "action": "add_tag", "params": { "tag": "bought {{event.data.order_id}}" }, "next": null } ] })json"));
    REQUIRE(loaded.errors.empty());
    MemoryHistory h;
    DeterministicCodes codes;
    const std::map<std::string, VoucherCampaign> none;
    Event e;
    e.id = "p1";
    e.type = "purchase";
    e.kind = EventType::purchase;
    e.time = fixtures::at("2026-11-20T10:00:00Z");
    e.contact.id = "c7";
    e.data = {{"order_id", "o-77"}, {"amount", 10}, {"currency", "EUR"}};
    Contact c;
    c.id = "c7";
    const StepContext ctx{loaded.scenario, h, h, codes, none, nullptr, *e.time};
    auto r = start_run(ctx, "run-p1", e, c);
    CHECK(r.state.path == std::vector<std::string>{"w1", "w2"});
    CHECK(r.trace[0].outcome == "continued");
    CHECK(format_time(*r.state.wake_at) == "2026-11-21T10:00:00Z");
    const StepContext later{loaded.scenario, h, h, codes, none, nullptr, *r.state.wake_at};
    auto done = resume_run(later, r.state, c);
    CHECK(done.state.status == RunStatus::done);
    REQUIRE(done.effects.size() == 1);
    CHECK(params_json(done.effects[0])["tag"] == "bought o-77");
    REQUIRE(done.contact);  // the step changed the contact
    CHECK(done.contact->has_tag("bought o-77"));
}

TEST_CASE("a run-time expression error fails the run with a reason, never throws") {
    const auto loaded =
        load_scenario(fixtures::parse(R"json({ "id": "x", "name": "custom", "trigger": { "event": "form_sent" },
        "start": "c", "nodes": [
          { "id": "c", "type": "condition", "if": "lower(event.data.name) == 'x'", "then": "t", "else": null },
          { "id": "t", "type": "action", "action": "add_tag", "params": { "tag": "x" }, "next": null } ] })json"));
    REQUIRE(loaded.errors.empty());
    REQUIRE(validate(loaded.scenario, {}).empty());
    MemoryHistory h;
    DeterministicCodes codes;
    const std::map<std::string, VoucherCampaign> none;
    Event e;
    e.id = "f1";
    e.type = "form_sent";
    e.time = fixtures::at("2026-11-20T10:00:00Z");
    e.contact.id = "c8";
    e.data = {{"name", 42}};  // a number where lower() needs text
    Contact c;
    c.id = "c8";
    const StepContext ctx{loaded.scenario, h, h, codes, none, nullptr, *e.time};
    auto r = start_run(ctx, "run-f1", e, c);
    CHECK(r.state.status == RunStatus::failed);
    CHECK(r.state.error.find("c: if:") == 0);
    CHECK(r.effects.empty());
    CHECK(r.trace.back().outcome == "failed");
}

TEST_CASE("trace values: the first two inline, more spill, order and copies kept") {
    TraceValues values;
    const auto cond = Expression::parse("event.score < 7").value();
    values.push_back({cond, {}, Value::boolean(true)});
    values.push_back({{}, "percent", Value::number(50)});
    CHECK(values.size() == 2);
    for (int i = 0; i < 3; ++i) values.push_back({{}, i == 0 ? "a" : i == 1 ? "b" : "c", Value::number(i)});
    REQUIRE(values.size() == 5);
    CHECK(values[0].name() == "event.score < 7");
    CHECK(values[1].name() == "percent");
    CHECK(values[4].name() == "c");
    const TraceValues copy = values;
    CHECK(copy.size() == 5);
    CHECK(trace_values_json(copy) == trace_values_json(values));
    REQUIRE(find_value(copy, "b"));
    CHECK(*find_value(copy, "b") == Value::number(1));
    CHECK(find_value(copy, "missing") == nullptr);
}

TEST_CASE("effect params: each action's JSON has the contract's names, optional fields only when set") {
    Effect mail;
    mail.kind = ActionKind::send_email;
    mail.params = SendEmail{"nps-apology", "jana@example.cz", "", "", "cs"};
    CHECK(params_json(mail) ==
          nlohmann::json{{"template", "nps-apology"}, {"to", "jana@example.cz"}, {"locale", "cs"}});
    Effect task;
    task.kind = ActionKind::create_task;
    task.params = CreateTask{"petr@brand.cz", "Call back", "", Time{0}};
    CHECK(params_json(task) ==
          nlohmann::json{{"assignee", "petr@brand.cz"}, {"title", "Call back"}, {"due", "1970-01-01T00:00:00Z"}});
    Effect attr;
    attr.kind = ActionKind::set_attribute;
    attr.params = SetAttribute{"plan", Value::null()};
    CHECK(params_json(attr) == nlohmann::json{{"name", "plan"}, {"value", nullptr}});
}
