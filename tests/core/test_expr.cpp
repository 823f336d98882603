#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "closeloop/detail/json_read.h"
#include "closeloop/expr.h"

using namespace closeloop;
using nlohmann::json;

namespace {

Time at(const char* rfc3339) {
    auto t = parse_time(rfc3339);
    REQUIRE(t.ok());
    return t.ok() ? *t : Time{};
}

Event make_event(const char* doc) {
    auto j = detail::parse_json(doc);
    REQUIRE(j.ok());
    if (!j.ok()) return {};
    auto e = event_from_json(*j);
    REQUIRE_MESSAGE(e.ok(), (e.ok() ? "" : e.error().what()));
    return e.ok() ? *e : Event{};
}

Expression parse_ok(const char* text) {
    auto e = Expression::parse(text);
    REQUIRE_MESSAGE(e.ok(), std::string(text) << ": " << (e.ok() ? "" : e.error().message));
    return e.ok() ? *e : Expression{};
}

// The error of parsing `text` (an empty Error when it parsed, which fails the caller's checks).
Error parse_error(const char* text) {
    auto e = Expression::parse(text);
    CHECK_MESSAGE(!e.ok(), std::string(text) << " should not parse");
    return e.ok() ? Error{} : e.error();
}

Error check_error(const char* text, const TypeEnv& env) {
    const Expression e = parse_ok(text);
    auto t = e.check(env);
    CHECK_MESSAGE(!t.ok(), std::string(text) << " should not type-check");
    return t.ok() ? Error{} : t.error();
}

ValueType type_of(const char* text, const TypeEnv& env) {
    const Expression e = parse_ok(text);
    auto t = e.check(env);
    CHECK_MESSAGE(t.ok(), std::string(text) << ": " << (t.ok() ? "" : t.error().message));
    return t.ok() ? *t : ValueType::null;
}

Value eval(const char* text, const EvalContext& ctx) {
    const Expression e = parse_ok(text);
    auto v = e.evaluate(ctx);
    CHECK_MESSAGE(v.ok(), std::string(text) << ": " << (v.ok() ? "" : v.error().message));
    return v.ok() ? *v : Value{};
}

Error eval_error(const char* text, const EvalContext& ctx) {
    const Expression e = parse_ok(text);
    auto v = e.evaluate(ctx);
    CHECK_MESSAGE(!v.ok(), std::string(text) << " should fail at run time");
    return v.ok() ? Error{} : v.error();
}

// An in-memory history: assigned vouchers, past events and NPS answers.
class TestHistory final : public History {
public:
    struct Assigned {
        std::string contact, campaign;
        Time time;
    };
    struct Past {
        std::string contact, type, id;
        Time time;
        int score = -1;
    };
    std::vector<Assigned> vouchers;
    std::vector<Past> events;
    mutable std::string last_before_id;
    mutable Time last_before;

    bool voucher_assigned_between(const std::string& contact, const std::string& campaign, Time since,
                                  Time until) const override {
        for (const auto& v : vouchers)
            if (v.contact == contact && v.campaign == campaign && v.time >= since && v.time <= until) return true;
        return false;
    }
    std::int64_t count_events_between(const std::string& contact, const std::string& type, Time since,
                                      Time until) const override {
        std::int64_t n = 0;
        for (const auto& e : events)
            if (e.contact == contact && e.type == type && e.time >= since && e.time <= until) ++n;
        return n;
    }
    std::optional<int> previous_nps(const std::string& contact, Time before,
                                    const std::string& current_event_id) const override {
        last_before = before;
        last_before_id = current_event_id;
        const Past* best = nullptr;
        for (const auto& e : events)
            if (e.contact == contact && e.type == "nps_response" && e.time < before && e.id != current_event_id &&
                (!best || e.time > best->time))
                best = &e;
        if (!best) return std::nullopt;
        return best->score;
    }
};

// A detractor's answer, the contact Jana and a voucher, as the seed scenario sees them.
struct World {
    Event event = make_event(R"({ "id": "evt-9f1c", "type": "nps_response", "time": "2026-11-22T10:00:00Z",
        "contact": { "id": "c-42" },
        "data": { "score": 4, "comment": "Doprava trvala 3 týdny.", "survey": "nps-main", "channel": "email" } })");
    Contact contact;
    VoucherView voucher;
    RunView run{"run-7f3a", at("2026-11-22T10:00:05Z")};
    std::map<std::string, std::string> links{{"unsubscribe", "https://x.example/u/abc"}};
    TestHistory history;
    EvalContext ctx;

    World() {
        contact.id = "c-42";
        contact.email = "jana@example.cz";
        contact.first_name = "Jana";
        contact.last_name = "Nová";
        contact.locale = "cs";
        contact.tags = {"newsletter", "NPS 10"};
        contact.attributes = json{{"branch", "Brno"}, {"plan", "pro"}, {"seats", 12}, {"beta", true}};
        contact.rfm = ContactRfm{2, 1, 2, "Hibernating"};
        voucher.code = "AB12CD";
        voucher.campaign = "nps-apology-20";
        voucher.currency = "EUR";
        voucher.value = 20;
        voucher.assigned_at = at("2026-11-22T10:00:05Z");
        voucher.expires_at = at("2027-01-22T10:00:05Z");
        ctx.event = &event;
        ctx.contact = &contact;
        ctx.voucher = &voucher;
        ctx.run = &run;
        ctx.links = &links;
        ctx.history = &history;
        ctx.now = at("2026-11-22T10:00:05Z");
    }
};

}  // namespace

// ---- parser --------------------------------------------------------------------------------

TEST_CASE("expressions: literals of every kind") {
    const EvalContext none;
    SUBCASE("numbers: integers and decimals") {
        CHECK(eval("12", none) == Value::number(12));
        CHECK(eval("4.5", none) == Value::number(4.5));
        CHECK(eval("-3", none) == Value::number(-3));
        CHECK(eval("0.25", none) == Value::number(0.25));
    }
    SUBCASE("strings in either quote with backslash escapes") {
        CHECK(eval("'text'", none) == Value::text("text"));
        CHECK(eval("\"text\"", none) == Value::text("text"));
        CHECK(eval(R"('it\'s')", none) == Value::text("it's"));
        CHECK(eval(R"("say \"hi\"")", none) == Value::text("say \"hi\""));
        CHECK(eval(R"('a\\b\nc\td')", none) == Value::text("a\\b\nc\td"));
        CHECK(eval(R"('\u0159')", none) == Value::text("ř"));
        CHECK(eval("'Doprava trvala 3 týdny.'", none) == Value::text("Doprava trvala 3 týdny."));
        CHECK(eval("''", none) == Value::text(""));
    }
    SUBCASE("true, false, null") {
        CHECK(eval("true", none) == Value::boolean(true));
        CHECK(eval("false", none) == Value::boolean(false));
        CHECK(eval("null", none).is_null());
    }
    SUBCASE("lists, empty and nested") {
        CHECK(eval("[1, 'a', true, null]", none) ==
              Value{std::vector<Value>{Value::number(1), Value::text("a"), Value::boolean(true), Value::null()}});
        CHECK(eval("[]", none) == Value{std::vector<Value>{}});
        CHECK(eval("[[1], [2, 3]]", none) ==
              Value{std::vector<Value>{Value{std::vector<Value>{Value::number(1)}},
                                       Value{std::vector<Value>{Value::number(2), Value::number(3)}}}});
        CHECK(eval("[1 + 1, -2]", none) == Value{std::vector<Value>{Value::number(2), Value::number(-2)}});
    }
    SUBCASE("the default expression is the literal null") {
        const Expression e;
        CHECK(e.evaluate(none)->is_null());
        CHECK(*e.check(TypeEnv{}) == ValueType::null);
        CHECK(e.paths().empty());
    }
}

TEST_CASE("expressions: precedence is or < and < not < comparison < + - < unary") {
    const EvalContext none;
    CHECK(eval("true or false and false", none) == Value::boolean(true));  // or (and)
    CHECK(eval("false and false or true", none) == Value::boolean(true));
    CHECK(eval("not false and false", none) == Value::boolean(false));  // (not false) and false
    CHECK(eval("not 1 == 2", none) == Value::boolean(true));            // not (1 == 2)
    CHECK(eval("! 1 == 2", none) == Value::boolean(true));              // ! is not
    CHECK(eval("1 + 2 == 3", none) == Value::boolean(true));            // (1 + 2) == 3
    CHECK(eval("10 - 2 - 3", none) == Value::number(5));                // left to right
    CHECK(eval("-2 + 3", none) == Value::number(1));                    // (-2) + 3
    CHECK(eval("- (2 + 3)", none) == Value::number(-5));
    CHECK(eval("(true or false) and false", none) == Value::boolean(false));
    CHECK(eval("1 in [1, 2] and 3 not in [1, 2]", none) == Value::boolean(true));
    CHECK(eval("not 3 in [1, 2]", none) == Value::boolean(true));
    CHECK(eval("true && false || true", none) == Value::boolean(true));
}

TEST_CASE("expressions: syntax errors give the column") {
    struct Case {
        const char* text;
        int column;
        const char* says;
    };
    const Case cases[] = {
        {"event.score <", 14, "unexpected end of expression"},
        {"'abc", 1, "unclosed string"},
        {"event.score == 'abc", 16, "unclosed string"},
        {"event.score @ 3", 13, "unexpected character '@'"},
        {"1 2", 3, "unexpected '2' after a complete expression"},
        {"(1 + 2", 7, "expected ')'"},
        {"event.score = 3", 13, "'=' is not an operator"},
        {"1 < 2 < 3", 7, "comparisons do not chain"},
        {"'Dáša' @", 8, "unexpected character '@'"},  // columns count characters, not bytes
        {"'Dáša' § 1", 8, "unexpected character '§'"},
        {"[1, 2", 6, "expected ',' or ']'"},
        {"days(1,", 8, "unexpected end of expression"},
        {"event.", 7, "expected a field name after '.'"},
        {"'a\\q'", 3, "unknown escape \\q"},
        {"a & b", 3, "use 'and'"},
        {"a | b", 3, "use 'or'"},
        {")", 1, "expected a value, found ')'"},
        {"", 1, "empty expression"},
        {"   ", 1, "empty expression"},
        {"1.", 2, "unexpected '.'"},
        {"contact.attributes[1]", 20, "expected a quoted field name"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.text);
        const Error e = parse_error(c.text);
        CHECK(e.code == "invalid_expression");
        CHECK(e.column == c.column);
        CHECK(e.message.find("column " + std::to_string(c.column) + ": ") == 0);
        CHECK_MESSAGE(e.message.find(c.says) != std::string::npos, e.message);
    }
}

TEST_CASE("expressions: fuzz-sized input is refused, not followed into the stack") {
    SUBCASE("deep parentheses") {
        const std::string text = std::string(1000, '(') + "1" + std::string(1000, ')');
        const Error e = parse_error(text.c_str());
        CHECK(e.message.find("nested too deeply") != std::string::npos);
    }
    SUBCASE("long chains of not and minus") {
        std::string nots;
        for (int i = 0; i < 1000; ++i) nots += "not ";
        CHECK(parse_error((nots + "true").c_str()).message.find("nested too deeply") != std::string::npos);
        CHECK(parse_error((std::string(2000, '-') + "1").c_str()).message.find("nested too deeply") !=
              std::string::npos);
    }
    SUBCASE("a long left-deep sum") {
        std::string sum = "1";
        for (int i = 0; i < 1000; ++i) sum += "+1";
        CHECK(parse_error(sum.c_str()).message.find("nested too deeply") != std::string::npos);
    }
    SUBCASE("long and/or chains stay flat and are fine") {
        std::string chain = "true";
        for (int i = 0; i < 400; ++i) chain += " and true";
        CHECK(eval(chain.c_str(), EvalContext{}) == Value::boolean(true));
    }
    SUBCASE("length limit") {
        const std::string text = "'" + std::string(5000, 'a') + "'";
        const Error e = parse_error(text.c_str());
        CHECK(e.column == 4097);
        CHECK(e.message.find("longer than 4096") != std::string::npos);
    }
    SUBCASE("nesting inside the limits parses") {
        const std::string text = std::string(30, '(') + "1" + std::string(30, ')');
        CHECK(eval(text.c_str(), EvalContext{}) == Value::number(1));
    }
}

TEST_CASE("expressions: paths") {
    SUBCASE("paths() lists what is read, once, as written") {
        const Expression e = parse_ok(
            "contact.rfm.segment in ['Lost'] and event.score < 7 or contact.rfm.segment == null or "
            "has_tag(lower(event.data.survey))");
        CHECK(e.paths() == std::vector<std::string>{"contact.rfm.segment", "event.score", "event.data.survey"});
        CHECK(e.text().find("contact.rfm.segment") == 0);
    }
    SUBCASE("any word is a key after event.data. and contact.attributes.") {
        const TypeEnv custom{"webinar_attended"};
        CHECK(type_of("event.data.in", custom) == ValueType::any);
        CHECK(type_of("event.data.null", custom) == ValueType::any);
        CHECK(type_of("event.data.order_id", custom) == ValueType::any);
        CHECK(type_of("contact.attributes.not", custom) == ValueType::any);
        CHECK(parse_ok("contact.attributes['first-visit']").paths() ==
              std::vector<std::string>{"contact.attributes.first-visit"});
    }
}

// ---- type check ----------------------------------------------------------------------------

TEST_CASE("type check: the contract's example expressions") {
    const TypeEnv nps{"nps_response"};
    CHECK(type_of("event.score < 7", nps) == ValueType::boolean);
    CHECK(type_of("voucher_assigned_within('nps-apology-20', days(183))", nps) == ValueType::boolean);
    CHECK(type_of("contact.rfm.segment in ['Lost', 'Hibernating']", nps) == ValueType::boolean);
    CHECK(type_of("contact.rfm.segment in ['Champions', 'Loyal', 'Cannot Lose']", nps) == ValueType::boolean);
    CHECK(type_of("not voucher.redeemed", nps) == ValueType::boolean);
    CHECK(type_of("voucher.expires_at - days(10)", nps) == ValueType::time);
}

TEST_CASE("type check: the type of every path and function") {
    const TypeEnv nps{"nps_response"};
    struct Case {
        const char* text;
        ValueType type;
    };
    const Case cases[] = {
        {"event.type", ValueType::text},
        {"event.id", ValueType::text},
        {"event.time", ValueType::time},
        {"event.score", ValueType::number},
        {"event.data.score", ValueType::number},
        {"event.data.comment", ValueType::text},
        {"contact.email", ValueType::text},
        {"contact.vip", ValueType::boolean},
        {"contact.tags", ValueType::list},
        {"contact.attributes.branch", ValueType::any},
        {"contact.rfm.r", ValueType::number},
        {"contact.rfm.segment", ValueType::text},
        {"voucher.code", ValueType::text},
        {"voucher.value", ValueType::number},
        {"voucher.assigned_at", ValueType::time},
        {"voucher.redeemed", ValueType::boolean},
        {"run.id", ValueType::text},
        {"run.started_at", ValueType::time},
        {"now", ValueType::time},
        {"links.unsubscribe", ValueType::text},
        {"days(1)", ValueType::duration},
        {"hours(2) + minutes(30)", ValueType::duration},
        {"has_tag('vip')", ValueType::boolean},
        {"lower(contact.first_name)", ValueType::text},
        {"contains(event.data.comment, 'doprava')", ValueType::boolean},
        {"contains(contact.tags, 'vip')", ValueType::boolean},
        {"len(contact.tags)", ValueType::number},
        {"count_events('purchase', days(90))", ValueType::number},
        {"previous_nps()", ValueType::number},
        {"now - event.time", ValueType::duration},
        {"event.time + hours(2)", ValueType::time},
        {"days(1) + now", ValueType::time},
        {"event.score - previous_nps()", ValueType::number},
        {"-days(1)", ValueType::duration},
        {"event.score == 'x'", ValueType::boolean},  // == and != compare anything
        {"null", ValueType::null},
        {"event.score + null", ValueType::null},
    };
    for (const auto& c : cases) {
        CAPTURE(c.text);
        CHECK(type_of(c.text, nps) == c.type);
    }
    SUBCASE("built-in data of the other event types") {
        CHECK(type_of("event.data.amount", TypeEnv{"purchase"}) == ValueType::number);
        CHECK(type_of("event.data.items", TypeEnv{"purchase"}) == ValueType::list);
        CHECK(type_of("event.data.expires_at", TypeEnv{"voucher_assigned"}) == ValueType::time);
        CHECK(type_of("event.data.value", TypeEnv{"voucher_assigned"}) == ValueType::number);
        CHECK(type_of("event.data.tag", TypeEnv{"ticket_tagged"}) == ValueType::text);
        CHECK(type_of("event.data.group", TypeEnv{"ticket_resolved"}) == ValueType::text);
        CHECK(type_of("event.data.topic", TypeEnv{"csat_response"}) == ValueType::text);
        CHECK(type_of("event.score", TypeEnv{"csat_response"}) == ValueType::number);
    }
    SUBCASE("custom types and an empty event type are free") {
        CHECK(type_of("event.data.anything.nested", TypeEnv{"webinar_attended"}) == ValueType::any);
        CHECK(type_of("event.data.anything", TypeEnv{}) == ValueType::any);
        CHECK(type_of("event.score", TypeEnv{}) == ValueType::number);
    }
    SUBCASE("any passes everything") {
        CHECK(type_of("contact.attributes.seats < 5", nps) == ValueType::boolean);
        CHECK(type_of("contact.attributes.seats + 1", nps) == ValueType::number);
        CHECK(type_of("contact.attributes.plan in ['pro']", nps) == ValueType::boolean);
        CHECK(type_of("contact.attributes.beta and true", nps) == ValueType::boolean);
        CHECK(type_of("contact.attributes.x in contact.attributes.y", nps) == ValueType::boolean);
        CHECK(type_of("contact.attributes.renewal - days(3)", nps) == ValueType::any);
        CHECK(type_of("lower(contact.attributes.plan)", nps) == ValueType::text);
    }
}

TEST_CASE("type check: every error class names the place") {
    const TypeEnv nps{"nps_response"};
    struct Case {
        const char* text;
        int column;
        const char* says;
    };
    const Case cases[] = {
        {"customer.x", 1, "unknown path customer.x"},
        {"event.score < 7 and customer.x == 1", 21, "unknown path customer.x"},
        {"score < 7", 1, "unknown path score"},
        {"contact.foo", 1, "contact has id, email"},
        {"contact.rfm", 1, "unknown path contact.rfm"},
        {"event.data", 1, "event.data needs a field name"},
        {"event.data.scroe", 1,
         "unknown field event.data.scroe: nps_response events have score, comment, survey, "
         "channel"},
        {"event.data.comment.words", 1, "event.data.comment is text; it has no field words"},
        {"voucher.color", 1, "voucher has code"},
        {"run.finished_at", 1, "run has id and started_at"},
        {"now.day", 1, "now has no fields"},
        {"links.foo", 1, "unknown link links.foo (known links: unsubscribe, redeem, survey, preferences)"},
        {"event.score < 'x'", 13, "cannot compare a number with text"},
        {"now < 5", 5, "cannot compare a time with a number"},
        {"days(1) > 5", 9, "cannot compare a duration with a number"},
        {"true < false", 6, "cannot order a boolean"},
        {"contact.tags < 1", 14, "cannot order a list"},
        {"event.score in 'abc'", 16, "'in' needs a list on the right, not text"},
        {"event.score in ['a', 'b']", 13, "cannot look for a number in a list of text values"},
        {"contact.vip in contact.tags", 13, "cannot look for a boolean in a list of text values"},
        {"1 and true", 1, "'and' needs true or false, not a number"},
        {"true or 'x'", 9, "'or' needs true or false, not text"},
        {"not event.score", 5, "'not' needs true or false, not a number"},
        {"'a' + 1", 5, "cannot add text"},
        {"now + now", 5, "cannot add a time to a time"},
        {"event.score + days(1)", 13, "cannot add a duration to a number"},
        {"days(1) - now", 9, "cannot subtract a time from a duration"},
        {"-'a'", 1, "cannot negate text"},
        {"frobnicate(1)", 1, "unknown function frobnicate() (functions: days, hours"},
        {"days()", 1, "days() takes 1 argument, not 0"},
        {"contains('a')", 1, "contains() takes 2 arguments, not 1"},
        {"previous_nps(1)", 1, "previous_nps() takes 0 arguments, not 1"},
        {"days('3')", 6, "argument 1 of days() must be a number, not text"},
        {"has_tag(1)", 9, "argument 1 of has_tag() must be text"},
        {"lower(now)", 7, "argument 1 of lower() must be text, not a time"},
        {"len(5)", 5, "must be text or a list"},
        {"contains(event.data.comment, 5)", 30, "argument 2 of contains() must be text"},
        {"contains(contact.tags, 5)", 24, "cannot look for a number in a list of text"},
        {"voucher_assigned_within('x', 5)", 30, "argument 2 of voucher_assigned_within() must be a duration"},
        {"count_events(5, days(1))", 14, "argument 1 of count_events() must be text"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.text);
        const Error e = check_error(c.text, nps);
        CHECK(e.code == "invalid_expression");
        CHECK(e.column == c.column);
        CHECK_MESSAGE(e.message.find(c.says) != std::string::npos, e.message);
        CHECK(e.message.find("column " + std::to_string(c.column) + ": ") == 0);
    }
    SUBCASE("event.score is an error for built-in types without a score") {
        const Error e = check_error("event.score > 5", TypeEnv{"purchase"});
        CHECK(e.message.find("only for nps_response and csat_response events, not purchase") != std::string::npos);
    }
    SUBCASE("built-in data has only its documented fields") {
        CHECK(check_error("event.data.score", TypeEnv{"purchase"}).message.find("order_id, amount, currency, items") !=
              std::string::npos);
        CHECK(check_error("event.data.agent", TypeEnv{"ticket_tagged"}).message.find("ticket_id, tag") !=
              std::string::npos);
    }
    SUBCASE("link names come from the environment") {
        TypeEnv env;
        env.link_names = {"review"};
        CHECK(type_of("links.review", env) == ValueType::text);
        CHECK(check_error("links.unsubscribe", env).message.find("known links: review") != std::string::npos);
    }
}

// ---- evaluation ----------------------------------------------------------------------------

TEST_CASE("evaluation: paths read the context") {
    World w;
    CHECK(eval("event.score", w.ctx) == Value::number(4));
    CHECK(eval("event.score < 7", w.ctx) == Value::boolean(true));
    CHECK(eval("event.type", w.ctx) == Value::text("nps_response"));
    CHECK(eval("event.id", w.ctx) == Value::text("evt-9f1c"));
    CHECK(eval("event.time", w.ctx) == Value::time(at("2026-11-22T10:00:00Z")));
    CHECK(eval("event.data.comment", w.ctx) == Value::text("Doprava trvala 3 týdny."));
    CHECK(eval("contact.last_name", w.ctx) == Value::text("Nová"));
    CHECK(eval("contact.vip", w.ctx) == Value::boolean(false));
    CHECK(eval("contact.tags", w.ctx) == Value{std::vector<Value>{Value::text("newsletter"), Value::text("NPS 10")}});
    CHECK(eval("contact.attributes.branch", w.ctx) == Value::text("Brno"));
    CHECK(eval("contact.attributes.seats", w.ctx) == Value::number(12));
    CHECK(eval("contact.attributes.beta", w.ctx) == Value::boolean(true));
    CHECK(eval("contact.rfm.r", w.ctx) == Value::number(2));
    CHECK(eval("contact.rfm.segment in ['Lost', 'Hibernating']", w.ctx) == Value::boolean(true));
    CHECK(eval("contact.rfm.segment in ['Champions', 'Loyal', 'Cannot Lose']", w.ctx) == Value::boolean(false));
    CHECK(eval("voucher.code", w.ctx) == Value::text("AB12CD"));
    CHECK(eval("voucher.value", w.ctx) == Value::number(20));
    CHECK(eval("voucher.redeemed", w.ctx) == Value::boolean(false));
    CHECK(eval("not voucher.redeemed", w.ctx) == Value::boolean(true));
    CHECK(eval("run.id", w.ctx) == Value::text("run-7f3a"));
    CHECK(eval("run.started_at", w.ctx) == Value::time(at("2026-11-22T10:00:05Z")));
    CHECK(eval("now", w.ctx) == Value::time(w.ctx.now));
    CHECK(eval("links.unsubscribe", w.ctx) == Value::text("https://x.example/u/abc"));
    CHECK(eval("'NPS 10' in contact.tags", w.ctx) == Value::boolean(true));
    SUBCASE("built-in times in data are times") {
        const Event assigned = make_event(R"({"type":"voucher_assigned","contact":"c-42","data":{
            "campaign":"nps-apology-20","code":"AB12CD","value":20,"currency":"EUR",
            "expires_at":"2027-01-22T10:00:00Z"}})");
        w.ctx.event = &assigned;
        CHECK(eval("event.data.expires_at", w.ctx) == Value::time(at("2027-01-22T10:00:00Z")));
        CHECK(eval("event.data.expires_at - days(10)", w.ctx) == Value::time(at("2027-01-12T10:00:00Z")));
        CHECK(eval("event.score", w.ctx).is_null());
    }
    SUBCASE("custom data: nested keys, lists, a score") {
        const Event custom = make_event(R"({"type":"webinar_attended","contact":"c-42","data":{
            "score": 9, "webinar": {"title": "Onboarding"}, "topics": ["price", "support"],
            "due": "2026-11-20T00:00:00Z"}})");
        w.ctx.event = &custom;
        CHECK(eval("event.score", w.ctx) == Value::number(9));
        CHECK(eval("event.data.webinar.title", w.ctx) == Value::text("Onboarding"));
        CHECK(eval("event.data.webinar", w.ctx).is_null());  // objects have no expression type
        CHECK(eval("'price' in event.data.topics", w.ctx) == Value::boolean(true));
        CHECK(eval("len(event.data.topics)", w.ctx) == Value::number(2));
        CHECK(eval("event.data.due < now", w.ctx) == Value::boolean(true));  // RFC 3339 text meets a time
        CHECK(eval("now - event.data.due > days(2)", w.ctx) == Value::boolean(true));
    }
}

TEST_CASE("evaluation: the null rules, one by one") {
    World w;
    SUBCASE("a missing path is null") {
        CHECK(eval("event.data.missing", w.ctx).is_null());
        CHECK(eval("contact.attributes.missing", w.ctx).is_null());
        CHECK(eval("links.redeem", w.ctx).is_null());
        w.contact.owner = "";
        CHECK(eval("contact.owner", w.ctx).is_null());  // empty = not given
        w.ctx.voucher = nullptr;
        CHECK(eval("voucher.redeemed", w.ctx).is_null());
        w.ctx.contact = nullptr;
        CHECK(eval("contact.email", w.ctx).is_null());
        CHECK(eval("contact.tags", w.ctx).is_null());
        w.ctx.event = nullptr;
        CHECK(eval("event.score", w.ctx).is_null());
        w.ctx.run = nullptr;
        CHECK(eval("run.started_at", w.ctx).is_null());
    }
    SUBCASE("a contact without RFM has no segment") {
        w.contact.rfm.reset();
        CHECK(eval("contact.rfm.segment", w.ctx).is_null());
        CHECK(eval("contact.rfm.segment in ['Lost', 'Hibernating']", w.ctx) == Value::boolean(false));
    }
    SUBCASE("ordering with a null side is false, both ways") {
        for (const char* text : {"event.data.missing < 5", "event.data.missing <= 5", "event.data.missing > 5",
                                 "event.data.missing >= 5", "5 < null", "null >= null"}) {
            CAPTURE(text);
            CHECK(eval(text, w.ctx) == Value::boolean(false));
        }
    }
    SUBCASE("== and != treat null as a value") {
        CHECK(eval("event.data.missing == null", w.ctx) == Value::boolean(true));
        CHECK(eval("null == null", w.ctx) == Value::boolean(true));
        CHECK(eval("event.data.missing == 5", w.ctx) == Value::boolean(false));
        CHECK(eval("event.data.missing != 5", w.ctx) == Value::boolean(true));
        CHECK(eval("event.score != null", w.ctx) == Value::boolean(true));
    }
    SUBCASE("not null is true; and/or read null as false") {
        CHECK(eval("not event.data.missing", w.ctx) == Value::boolean(true));
        CHECK(eval("null and true", w.ctx) == Value::boolean(false));
        CHECK(eval("null or true", w.ctx) == Value::boolean(true));
        CHECK(eval("null or false", w.ctx) == Value::boolean(false));
    }
    SUBCASE("arithmetic with null gives null") {
        CHECK(eval("event.data.missing + 1", w.ctx).is_null());
        CHECK(eval("1 - event.data.missing", w.ctx).is_null());
        CHECK(eval("-event.data.missing", w.ctx).is_null());
        w.ctx.voucher = nullptr;
        CHECK(eval("voucher.expires_at - days(10)", w.ctx).is_null());
        CHECK(eval("days(event.data.missing)", w.ctx).is_null());
    }
    SUBCASE("x in null is false; null in a list compares by ==") {
        CHECK(eval("5 in event.data.missing", w.ctx) == Value::boolean(false));
        CHECK(eval("5 not in event.data.missing", w.ctx) == Value::boolean(true));
        CHECK(eval("null in [1, null]", w.ctx) == Value::boolean(true));
        CHECK(eval("null in [1, 2]", w.ctx) == Value::boolean(false));
    }
    SUBCASE("functions given null") {
        CHECK(eval("has_tag(event.data.missing)", w.ctx) == Value::boolean(false));
        CHECK(eval("lower(event.data.missing)", w.ctx).is_null());
        CHECK(eval("contains(event.data.missing, 'a')", w.ctx) == Value::boolean(false));
        CHECK(eval("contains('abc', event.data.missing)", w.ctx) == Value::boolean(false));
        CHECK(eval("len(event.data.missing)", w.ctx) == Value::number(0));
        CHECK(eval("voucher_assigned_within(event.data.missing, days(1))", w.ctx) == Value::boolean(false));
        CHECK(eval("count_events('purchase', days(event.data.missing))", w.ctx) == Value::number(0));
    }
    SUBCASE("and/or stop at the first deciding operand") {
        CHECK(eval("false and event.data.comment < 5", w.ctx) == Value::boolean(false));
        CHECK(eval("true or event.data.comment < 5", w.ctx) == Value::boolean(true));
    }
}

TEST_CASE("evaluation: calendar arithmetic") {
    World w;
    CHECK(eval("voucher.expires_at - days(10)", w.ctx) == Value::time(at("2027-01-12T10:00:05Z")));
    CHECK(eval("event.time + days(10)", w.ctx) == Value::time(at("2026-12-02T10:00:00Z")));
    CHECK(eval("days(10) + event.time", w.ctx) == Value::time(at("2026-12-02T10:00:00Z")));
    CHECK(eval("event.time - hours(12)", w.ctx) == Value::time(at("2026-11-21T22:00:00Z")));
    CHECK(eval("event.time + minutes(90)", w.ctx) == Value::time(at("2026-11-22T11:30:00Z")));
    CHECK(eval("now - event.time", w.ctx) == Value::duration({0, 0, 5000}));
    CHECK(eval("voucher.expires_at - voucher.assigned_at > days(60)", w.ctx) == Value::boolean(true));
    CHECK(eval("days(1) + hours(2)", w.ctx) == Value::duration({0, 1, 2 * ms_per_hour}));
    CHECK(eval("days(3) - days(1)", w.ctx) == Value::duration(days(2)));
    CHECK(eval("hours(1.5)", w.ctx) == Value::duration({0, 0, 90 * ms_per_minute}));
    CHECK(eval("-days(2)", w.ctx) == Value::duration({0, -2, 0}));
    CHECK(eval("days(1) == hours(24)", w.ctx) == Value::boolean(true));
    CHECK(eval("days(2) > hours(47)", w.ctx) == Value::boolean(true));
    CHECK(eval("minutes(60) <= hours(1)", w.ctx) == Value::boolean(true));
    CHECK(eval("event.time < now", w.ctx) == Value::boolean(true));
    CHECK(eval("event.time == event.time + days(0)", w.ctx) == Value::boolean(true));
    CHECK(eval("0.1 + 0.2", w.ctx) == Value::number(0.1 + 0.2));
    SUBCASE("days() needs a whole number") {
        const Error e = eval_error("days(1.5)", w.ctx);
        CHECK(e.code == "expression_error");
        CHECK(e.column == 6);
    }
    SUBCASE("out-of-range durations are errors") {
        CHECK(eval_error("days(1000000000)", w.ctx).message.find("out of range") != std::string::npos);
    }
}

TEST_CASE("evaluation: functions") {
    World w;
    SUBCASE("has_tag reads contact.tags") {
        CHECK(eval("has_tag('NPS 10')", w.ctx) == Value::boolean(true));
        CHECK(eval("has_tag('nps 10')", w.ctx) == Value::boolean(false));
        w.ctx.contact = nullptr;
        CHECK(eval("has_tag('NPS 10')", w.ctx) == Value::boolean(false));
    }
    SUBCASE("lower folds ASCII and accented capitals") {
        CHECK(eval("lower('ŘÍJEN Łódź ŽLUŤOUČKÝ Ärger ΣΟΦΙΑ МОСКВА')", w.ctx) ==
              Value::text("říjen łódź žluťoučký ärger σοφια москва"));
        CHECK(eval("lower('שלום ABC')", w.ctx) == Value::text("שלום abc"));
        CHECK(eval("contains(lower(event.data.comment), 'doprava')", w.ctx) == Value::boolean(true));
    }
    SUBCASE("contains on text and on lists") {
        CHECK(eval("contains(event.data.comment, 'týdny')", w.ctx) == Value::boolean(true));
        CHECK(eval("contains(event.data.comment, 'dny!')", w.ctx) == Value::boolean(false));
        CHECK(eval("contains(contact.tags, 'newsletter')", w.ctx) == Value::boolean(true));
        CHECK(eval("contains([1, 2, 3], 2)", w.ctx) == Value::boolean(true));
        CHECK(eval("contains([1, 2, 3], '2')", w.ctx) == Value::boolean(false));
    }
    SUBCASE("len counts characters and items") {
        CHECK(eval("len('Dáša')", w.ctx) == Value::number(4));
        CHECK(eval("len(contact.tags)", w.ctx) == Value::number(2));
        CHECK(eval("len([])", w.ctx) == Value::number(0));
    }
    SUBCASE("days, hours, minutes") {
        CHECK(eval("days(183)", w.ctx) == Value::duration(days(183)));
        CHECK(eval("hours(24)", w.ctx) == Value::duration(hours(24)));
        CHECK(eval("minutes(5)", w.ctx) == Value::duration(minutes(5)));
    }
}

TEST_CASE("evaluation: history functions") {
    World w;
    w.ctx.now = at("2027-06-01T10:00:00Z");
    const Time now = w.ctx.now;
    const Time boundary = subtract(now, days(183));  // 2026-11-30T10:00:00Z
    CHECK(boundary == at("2026-11-30T10:00:00Z"));

    SUBCASE("voucher_assigned_within: just inside and just outside 183 days") {
        const char* text = "voucher_assigned_within('nps-apology-20', days(183))";
        w.history.vouchers = {{"c-42", "nps-apology-20", boundary}};
        CHECK(eval(text, w.ctx) == Value::boolean(true));
        w.history.vouchers = {{"c-42", "nps-apology-20", Time{boundary.ms - 1}}};
        CHECK(eval(text, w.ctx) == Value::boolean(false));
        w.history.vouchers = {{"c-42", "other-campaign", now}, {"c-7", "nps-apology-20", now}};
        CHECK(eval(text, w.ctx) == Value::boolean(false));
        w.history.vouchers = {{"c-42", "nps-apology-20", Time{now.ms + 1}}};  // after now does not count
        CHECK(eval(text, w.ctx) == Value::boolean(false));
    }
    SUBCASE("count_events counts from now - d to now") {
        w.history.events = {{"c-42", "purchase", "p1", Time{now.ms - 1}},
                            {"c-42", "purchase", "p2", subtract(now, days(90))},
                            {"c-42", "purchase", "p3", Time{subtract(now, days(90)).ms - 1}},
                            {"c-42", "ticket_resolved", "t1", now},
                            {"c-7", "purchase", "p4", now}};
        CHECK(eval("count_events('purchase', days(90))", w.ctx) == Value::number(2));
        CHECK(eval("count_events('purchase', days(90)) >= 2", w.ctx) == Value::boolean(true));
        CHECK(eval("count_events('ticket_resolved', hours(1))", w.ctx) == Value::number(1));
        CHECK(eval("count_events('refund', days(365))", w.ctx) == Value::number(0));
    }
    SUBCASE("previous_nps asks with the event's time and id") {
        w.history.events = {{"c-42", "nps_response", "old", at("2026-01-01T00:00:00Z"), 9},
                            {"c-42", "nps_response", "older", at("2025-01-01T00:00:00Z"), 10},
                            {"c-42", "nps_response", "evt-9f1c", at("2026-11-22T10:00:00Z"), 4}};
        CHECK(eval("previous_nps()", w.ctx) == Value::number(9));
        CHECK(w.history.last_before == at("2026-11-22T10:00:00Z"));
        CHECK(w.history.last_before_id == "evt-9f1c");
        CHECK(eval("previous_nps() - event.score >= 3", w.ctx) == Value::boolean(true));  // falling NPS
        w.ctx.event = nullptr;
        eval("previous_nps()", w.ctx);
        CHECK(w.history.last_before == now);
        CHECK(w.history.last_before_id.empty());
        w.history.events.clear();
        CHECK(eval("previous_nps()", w.ctx).is_null());
    }
    SUBCASE("no history or no contact: false, 0, null") {
        w.history.vouchers = {{"c-42", "nps-apology-20", now}};
        w.history.events = {{"c-42", "nps_response", "old", at("2026-01-01T00:00:00Z"), 9}};
        for (int round = 0; round < 2; ++round) {
            EvalContext ctx = w.ctx;
            if (round == 0) ctx.history = nullptr;
            if (round == 1) ctx.contact = nullptr;
            CHECK(eval("voucher_assigned_within('nps-apology-20', days(183))", ctx) == Value::boolean(false));
            CHECK(eval("count_events('nps_response', days(1000))", ctx) == Value::number(0));
            CHECK(eval("previous_nps()", ctx).is_null());
        }
        const EmptyHistory empty;
        EvalContext ctx = w.ctx;
        ctx.history = &empty;
        CHECK(eval("voucher_assigned_within('nps-apology-20', days(183))", ctx) == Value::boolean(false));
    }
}

TEST_CASE("evaluation: run-time type problems are errors with the column") {
    World w;
    const Event custom = make_event(R"({"type":"webinar_attended","contact":"c-42","data":{"seats":"many"}})");
    w.ctx.event = &custom;
    struct Case {
        const char* text;
        int column;
        const char* says;
    };
    const Case cases[] = {
        {"event.data.seats < 5", 18, "cannot compare text with a number"},
        {"event.data.seats + 1", 18, "cannot add a number to text"},
        {"event.data.seats and true", 1, "'and' needs true or false, not text"},
        {"not event.data.seats", 5, "'not' needs true or false"},
        {"1 in event.data.seats", 6, "'in' needs a list, not text"},
        {"days(event.data.seats)", 6, "days() needs a number"},
        {"len(contact.vip)", 5, "len() needs text or a list"},
        {"customer.x", 1, "unknown path customer.x"},
        {"frobnicate()", 1, "unknown function frobnicate()"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.text);
        const Error e = eval_error(c.text, w.ctx);
        CHECK(e.code == "expression_error");
        CHECK(e.column == c.column);
        CHECK_MESSAGE(e.message.find(c.says) != std::string::npos, e.message);
    }
    SUBCASE("== across types is false, not an error") {
        CHECK(eval("event.data.seats == 5", w.ctx) == Value::boolean(false));
        CHECK(eval("event.data.seats != 5", w.ctx) == Value::boolean(true));
    }
}

// ---- Value ---------------------------------------------------------------------------------

TEST_CASE("values: truthy, display strings and JSON") {
    SUBCASE("truthy is true only for boolean true") {
        CHECK(Value::boolean(true).truthy());
        CHECK_FALSE(Value::boolean(false).truthy());
        CHECK_FALSE(Value::null().truthy());
        CHECK_FALSE(Value::number(1).truthy());
        CHECK_FALSE(Value::text("true").truthy());
    }
    SUBCASE("display strings") {
        CHECK(to_display_string(Value::null()) == "");
        CHECK(to_display_string(Value::boolean(true)) == "true");
        CHECK(to_display_string(Value::number(7)) == "7");
        CHECK(to_display_string(Value::number(-0.0)) == "0");
        CHECK(to_display_string(Value::number(12.5)) == "12.5");
        CHECK(to_display_string(Value::number(0.1 + 0.2)) == "0.3");
        CHECK(to_display_string(Value::number(1e20)) == "1e+20");
        CHECK(to_display_string(Value::text("Nová")) == "Nová");
        CHECK(to_display_string(Value::time(at("2027-01-22T10:00:00Z"))) == "2027-01-22T10:00:00Z");
        CHECK(to_display_string(Value::duration(days(10))) == "P10D");
        CHECK(to_display_string(Value{std::vector<Value>{Value::text("a"), Value::number(2)}}) == "a, 2");
    }
    SUBCASE("JSON") {
        CHECK(json(Value::number(7)).dump() == "7");
        CHECK(json(Value::number(2.5)).dump() == "2.5");
        CHECK(json(Value::null()).is_null());
        CHECK(json(Value::boolean(false)) == json(false));
        CHECK(json(Value::time(at("2027-01-22T10:00:00Z"))) == json("2027-01-22T10:00:00Z"));
        CHECK(json(Value::duration(hours(24))) == json("PT24H"));
        CHECK(json(Value{std::vector<Value>{Value::text("a"), Value::number(1)}}) == json::parse(R"(["a", 1])"));
    }
    SUBCASE("types and their names") {
        CHECK(Value::number(1).type() == ValueType::number);
        CHECK(Value{std::vector<Value>{}}.type() == ValueType::list);
        CHECK(value_type_name(ValueType::duration) == "duration");
        CHECK(value_type_name(ValueType::any) == "any");
    }
}
