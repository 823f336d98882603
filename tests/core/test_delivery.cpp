// delivery.h: the frequency cap, the retry schedule, Retry-After, outcome classification,
// the channel payloads and the shared e-mail rendering.
#include <doctest/doctest.h>

#include <vector>

#include "closeloop/delivery.h"
#include "scenario_fixtures.h"

using namespace closeloop;
using nlohmann::json;

namespace {

Time at(const char* rfc3339) {
    return fixtures::at(rfc3339);
}

Time plus_ms(Time t, std::int64_t ms) {
    return Time{t.ms + ms};
}

// Whether `s` is well-formed UTF-8 (no sequence cut in the middle).
bool valid_utf8(const std::string& s) {
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        const std::size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (len == 0 || i + len > s.size()) return false;
        for (std::size_t k = 1; k < len; ++k)
            if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
        i += len;
    }
    return true;
}

std::size_t code_points(const std::string& s) {
    std::size_t n = 0;
    for (char c : s)
        if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
    return n;
}

// Every section text, field text and the fallback of a Slack message.
std::vector<std::string> slack_texts(const json& payload) {
    std::vector<std::string> out = {payload["text"].get<std::string>()};
    for (const auto& b : payload["blocks"]) {
        if (b.contains("text")) out.push_back(b["text"]["text"].get<std::string>());
        if (b.contains("fields"))
            for (const auto& f : b["fields"]) out.push_back(f["text"].get<std::string>());
    }
    return out;
}

struct Post {
    Contact contact = fixtures::contact("c-42", "Loyal");
    Event event = fixtures::nps("evt-1", "c-42", 4, "2026-11-22T10:00:00Z");
    ChannelPost post;
    Post() {
        contact.first_name = "Jana";
        contact.last_name = "Nová";
        event.data["comment"] = "Doprava trvala 3 týdny <!channel> & víc";
        post.message = "NPS 4 from Jana Nová\n> Doprava trvala 3 týdny";
        post.contact = &contact;
        post.event = &event;
        post.contact_url = "https://cl.example/contacts/c-42";
        post.run_id = "run-evt-1";
        post.effect_key = "run-evt-1/post_team";
        post.scenario = "nps-score-bands";
    }
};

}  // namespace

// ---- frequency cap -------------------------------------------------------------------------

TEST_CASE("delivery: the frequency cap counts marketing e-mails in the last 24 hours and 7 days") {
    const Time now = at("2026-11-22T10:00:00Z");
    const FrequencyCap cap;  // 1 a day, 3 a week
    SUBCASE("nothing sent: allowed") {
        CHECK_FALSE(frequency_cap_reason(cap, {}, now));
    }
    SUBCASE("one today: the second is refused, with the reason") {
        const std::vector<Time> sent = {at("2026-11-22T08:00:00Z")};
        CHECK(frequency_cap_reason(cap, sent, now) ==
              "frequency cap: 1 marketing e-mail in the last 24 hours (at most 1 a day)");
    }
    SUBCASE("the day window is (now - 24 h, now]: exactly 24 h ago no longer counts, a later time does not") {
        const std::vector<Time> edge = {at("2026-11-21T10:00:00Z")};
        CHECK_FALSE(frequency_cap_reason(cap, edge, now));
        const std::vector<Time> inside = {at("2026-11-21T10:00:00.001Z")};
        CHECK(frequency_cap_reason(cap, inside, now));
        const std::vector<Time> future = {at("2026-11-22T10:00:01Z")};
        CHECK_FALSE(frequency_cap_reason(cap, future, now));
    }
    SUBCASE("three this week (none today): the week's cap refuses") {
        const std::vector<Time> sent = {at("2026-11-16T10:00:01Z"), at("2026-11-18T09:00:00Z"),
                                        at("2026-11-20T09:00:00Z")};
        CHECK(frequency_cap_reason(cap, sent, now) ==
              "frequency cap: 3 marketing e-mails in the last 7 days (at most 3 a week)");
        const std::vector<Time> older = {at("2026-11-15T10:00:00Z"), at("2026-11-18T09:00:00Z"),
                                         at("2026-11-20T09:00:00Z")};
        CHECK_FALSE(frequency_cap_reason(cap, older, now));  // one is 7 days old exactly
    }
    SUBCASE("0 is no limit") {
        const std::vector<Time> sent(10, at("2026-11-22T09:00:00Z"));
        CHECK_FALSE(frequency_cap_reason(FrequencyCap{0, 0}, sent, now));
        CHECK(frequency_cap_reason(FrequencyCap{0, 5}, sent, now) ==
              "frequency cap: 10 marketing e-mails in the last 7 days (at most 5 a week)");
        CHECK(frequency_cap_reason(FrequencyCap{2, 0}, sent, now) ==
              "frequency cap: 10 marketing e-mails in the last 24 hours (at most 2 a day)");
    }
}

// ---- retry schedule ------------------------------------------------------------------------

TEST_CASE("delivery: the default retry schedule is Standard Webhooks' stretched to about three days") {
    const RetryPolicy p = default_retry_policy();
    REQUIRE(p.delays.size() == 11);
    CHECK(p.delays[0].ms == 0);
    CHECK(p.delays[1].ms == 5 * ms_per_second);
    CHECK(p.delays[2] == minutes(5));
    CHECK(p.delays[3] == minutes(30));
    CHECK(p.delays[4] == hours(2));
    std::int64_t total = 0;
    for (const auto& d : p.delays) total += d.ms + d.days * ms_per_day;
    CHECK(total > 70 * ms_per_hour);
    CHECK(total < 3 * ms_per_day);
}

TEST_CASE("delivery: a retry schedule reads from text, errors name the item") {
    auto p = parse_retry_schedule("0s, 5s,5m ,30m,2h,1d,250ms");
    REQUIRE(p.ok());
    const std::vector<std::int64_t> want = {
        0, 5 * ms_per_second, 5 * ms_per_minute, 30 * ms_per_minute, 2 * ms_per_hour, ms_per_day, 250};
    REQUIRE(p->delays.size() == want.size());
    for (std::size_t i = 0; i < want.size(); ++i) CHECK(p->delays[i].ms == want[i]);

    auto bad = parse_retry_schedule("0s,5s,5x");
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().message.find("item 3 (\"5x\")") == 0);
    CHECK_FALSE(parse_retry_schedule("").ok());
    CHECK_FALSE(parse_retry_schedule("5s,,5m").ok());
    CHECK_FALSE(parse_retry_schedule("s").ok());
    CHECK_FALSE(parse_retry_schedule("-5s").ok());
    CHECK_FALSE(parse_retry_schedule("1.5h").ok());
    CHECK_FALSE(parse_retry_schedule("31d").ok());
}

TEST_CASE("delivery: the next attempt follows the schedule with jitter, Retry-After and a dead letter") {
    const RetryPolicy p = *parse_retry_schedule("0s,10s,100s");
    const Time now = at("2026-11-22T10:00:00Z");
    SUBCASE("delays[attempts_made], no jitter at 0.5") {
        CHECK(next_attempt_time(p, 0, now, std::nullopt, 0.5) == now);
        CHECK(next_attempt_time(p, 1, now, std::nullopt, 0.5) == plus_ms(now, 10'000));
        CHECK(next_attempt_time(p, 2, now, std::nullopt, 0.5) == plus_ms(now, 100'000));
    }
    SUBCASE("the schedule exhausted: nullopt (dead letter)") {
        CHECK_FALSE(next_attempt_time(p, 3, now, std::nullopt, 0.5));
        CHECK_FALSE(next_attempt_time(p, 30, now, hours(1), 0.5));
    }
    SUBCASE("jitter stays within +-10 % of the delay") {
        CHECK(next_attempt_time(p, 2, now, std::nullopt, 0.0) == plus_ms(now, 90'000));
        const Time high = *next_attempt_time(p, 2, now, std::nullopt, 0.999999);
        CHECK(high.ms > now.ms + 109'000);
        CHECK(high.ms <= now.ms + 110'000);
        CHECK(next_attempt_time(p, 2, now, std::nullopt, 0.75) == plus_ms(now, 105'000));
        CHECK(next_attempt_time(p, 2, now, std::nullopt, 7.0) <= plus_ms(now, 110'000));  // out of range: clamped
        CHECK(next_attempt_time(p, 2, now, std::nullopt, -1.0) == plus_ms(now, 90'000));
    }
    SUBCASE("Retry-After wins when later, capped at a day") {
        CHECK(next_attempt_time(p, 1, now, Duration{0, 0, 60'000}, 0.5) == plus_ms(now, 60'000));
        CHECK(next_attempt_time(p, 2, now, Duration{0, 0, 60'000}, 0.5) == plus_ms(now, 100'000));
        CHECK(next_attempt_time(p, 1, now, days(5), 0.5) == plus_ms(now, ms_per_day));
        CHECK(next_attempt_time(p, 1, now, hours(48), 0.5) == plus_ms(now, ms_per_day));
    }
}

TEST_CASE("delivery: Retry-After is delta-seconds or an IMF-fixdate") {
    const Time now = at("2026-10-21T07:28:00Z");
    CHECK(parse_retry_after("120", now) == Duration{0, 0, 120'000});
    CHECK(parse_retry_after(" 0 ", now) == Duration{0, 0, 0});
    CHECK(parse_retry_after("Wed, 21 Oct 2026 07:30:30 GMT", now) == Duration{0, 0, 150'000});
    CHECK(parse_retry_after("Wed, 21 Oct 2026 07:00:00 GMT", now) == Duration{0, 0, 0});  // past: at once
    CHECK(parse_retry_after("99999999999999", now)->ms > ms_per_day);                     // huge, not overflowed
    CHECK_FALSE(parse_retry_after("", now));
    CHECK_FALSE(parse_retry_after("soon", now));
    CHECK_FALSE(parse_retry_after("-5", now));
    CHECK_FALSE(parse_retry_after("1.5", now));
    CHECK_FALSE(parse_retry_after("Wed, 31 Feb 2026 07:30:30 GMT", now));
    CHECK_FALSE(parse_retry_after("Wed, 21 Oct 2026 07:30:30 CET", now));
    CHECK_FALSE(parse_retry_after("Wednesday, 21-Oct-26 07:30:30 GMT", now));  // RFC 850 is obsolete
}

// ---- outcome classification ----------------------------------------------------------------

TEST_CASE("delivery: HTTP and SMTP outcomes") {
    using V = DeliveryVerdict;
    CHECK(classify_http_status(200) == V::delivered);
    CHECK(classify_http_status(204) == V::delivered);
    for (int s : {0, 408, 425, 429, 500, 502, 503, 504, 599}) {
        CAPTURE(s);
        CHECK(classify_http_status(s) == V::retry);
    }
    CHECK(classify_http_status(410) == V::gone);
    for (int s : {301, 400, 401, 403, 404, 413, 422}) {
        CAPTURE(s);
        CHECK(classify_http_status(s) == V::permanent);
    }
    CHECK(classify_smtp_reply(250) == V::delivered);
    CHECK(classify_smtp_reply(0) == V::retry);
    CHECK(classify_smtp_reply(421) == V::retry);
    CHECK(classify_smtp_reply(451) == V::retry);
    CHECK(classify_smtp_reply(550) == V::permanent);
    CHECK(classify_smtp_reply(554) == V::permanent);
    CHECK(to_string(V::gone) == "gone");
    CHECK(to_string(V::permanent) == "permanent");
}

// ---- channel payloads ----------------------------------------------------------------------

TEST_CASE("delivery: the Slack payload") {
    Post p;
    SUBCASE("name, score and its class, comment quoted and escaped, a link, text as fallback") {
        const json j = slack_payload(p.post);
        REQUIRE(j["blocks"].is_array());
        CHECK(j["blocks"].size() <= slack_max_blocks);
        CHECK(j["blocks"][0]["type"] == "header");
        CHECK(j["blocks"][0]["text"]["text"] == "Jana Nová \u00b7 NPS 4");
        CHECK(j["text"] == "NPS 4 from Jana Nová\n&gt; Doprava trvala 3 týdny");
        const std::string all = j.dump();
        CHECK(all.find("4 (detractor)") != std::string::npos);
        CHECK(all.find("&gt; Doprava trvala 3 týdny &lt;!channel&gt; &amp; víc") != std::string::npos);
        CHECK(all.find("<!channel>") == std::string::npos);  // a comment cannot ping a channel
        CHECK(all.find("https://cl.example/contacts/c-42") != std::string::npos);
        CHECK(all.find("Loyal") != std::string::npos);
        CHECK(all.find("<@") == std::string::npos);  // no Slack id: the owner's address instead
        CHECK(all.find("petr@brand.cz") != std::string::npos);
    }
    SUBCASE("the owner mentioned by Slack id from the contact's attributes; a bad id is not markup") {
        p.contact.attributes = json{{"slack_user_id", "U024BE7LH"}};
        CHECK(slack_payload(p.post).dump().find("<@U024BE7LH>") != std::string::npos);
        p.contact.attributes = json{{"owner_slack_id", "W0123ABC"}};
        CHECK(slack_payload(p.post).dump().find("<@W0123ABC>") != std::string::npos);
        p.contact.attributes = json{{"slack_user_id", "U1> <!here"}};
        CHECK(slack_payload(p.post).dump().find("<!here") == std::string::npos);
    }
    SUBCASE("a promoter and a CSAT answer get their class by the core rule") {
        p.event.data["score"] = 9;
        CHECK(slack_payload(p.post).dump().find("9 (promoter)") != std::string::npos);
        p.event.data["score"] = 7;
        CHECK(slack_payload(p.post).dump().find("7 (passive)") != std::string::npos);
        p.event.type = "csat_response";
        p.event.kind = EventType::csat_response;
        p.event.data["score"] = 5;
        CHECK(slack_payload(p.post).dump().find("5 (satisfied)") != std::string::npos);
    }
    SUBCASE("a 10,000-character Czech comment is cut to 3,000 characters at a character boundary") {
        std::string comment;
        while (code_points(comment) < 10'000) comment += "Žluťoučký kůň úpěl ďábelské ódy & ";
        p.event.data["comment"] = comment;
        p.post.message = comment;
        const json j = slack_payload(p.post);
        for (const auto& text : slack_texts(j)) {
            CHECK(valid_utf8(text));
            CHECK(code_points(text) <= slack_max_section_chars);
        }
        const std::string& fallback = j["text"].get_ref<const std::string&>();
        CHECK(code_points(fallback) <= slack_max_section_chars);
        CHECK(code_points(fallback) > slack_max_section_chars - 8);  // cut, not emptied
        CHECK(fallback.substr(fallback.size() - 3) == "\u2026");
        CHECK(fallback.find("&am\u2026") == std::string::npos);  // never inside an entity
    }
    SUBCASE("no contact, no event: still a valid message") {
        p.post.contact = nullptr;
        p.post.event = nullptr;
        p.post.contact_url.clear();
        const json j = slack_payload(p.post);
        CHECK(j["blocks"][0]["text"]["text"] == "Unknown contact");
        CHECK(j.dump().find("\"actions\"") == std::string::npos);
    }
}

TEST_CASE("delivery: cut_text keeps characters and entities whole") {
    CHECK(cut_text("short", 10) == "short");
    CHECK(cut_text("ěščřž", 5) == "ěščřž");
    CHECK(cut_text("ěščřžý", 5) == "ěščř\u2026");
    CHECK(cut_text("ab&amp;cd", 5) == "ab\u2026");
    CHECK(cut_text("ab&amp;cd", 8) == "ab&amp;\u2026");
    CHECK(cut_text("abc", 0).empty());
}

TEST_CASE("delivery: the Teams payload is a Workflows message with one Adaptive Card") {
    Post p;
    const json j = teams_payload(p.post);
    CHECK(j["type"] == "message");
    REQUIRE(j["attachments"].size() == 1);
    const json& a = j["attachments"][0];
    CHECK(a["contentType"] == "application/vnd.microsoft.card.adaptive");
    CHECK(a["contentUrl"].is_null());
    const json& card = a["content"];
    CHECK(card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json");
    CHECK(card["type"] == "AdaptiveCard");
    CHECK(card["version"] == "1.4");
    CHECK(card["body"][0]["text"] == "Jana Nová");
    CHECK(card["body"][1]["text"] == p.post.message);
    json facts;
    for (const auto& b : card["body"])
        if (b["type"] == "FactSet") facts = b["facts"];
    CHECK(facts[0] == json{{"title", "NPS"}, {"value", "4"}});
    CHECK(facts[1] == json{{"title", "Band"}, {"value", "detractor"}});
    CHECK(facts[2] == json{{"title", "Segment"}, {"value", "Loyal"}});
    CHECK(card["actions"] ==
          json::array(
              {{{"type", "Action.OpenUrl"}, {"title", "Open contact"}, {"url", "https://cl.example/contacts/c-42"}}}));
}

TEST_CASE("delivery: the generic payload carries the key, the run, the contact and the event") {
    Post p;
    const json j = generic_payload(p.post);
    CHECK(j["type"] == "closeloop.webhook");
    CHECK(j["key"] == "run-evt-1/post_team");
    CHECK(j["scenario"] == "nps-score-bands");
    CHECK(j["run"] == "run-evt-1");
    CHECK(j["message"] == p.post.message);
    CHECK(j["contact"] == json(p.contact));
    CHECK(j["event"] == json(p.event));
    p.post.contact = nullptr;
    CHECK(generic_payload(p.post)["contact"].is_null());
}

// ---- e-mail rendering ----------------------------------------------------------------------

TEST_CASE("delivery: render_email picks the template and locale; the action's sender wins") {
    auto t = template_from_json(json::parse(R"({"id": "voucher", "from": "Wylde <care@wylde.example>",
        "transactional": true, "fallback_locale": "en",
        "locales": {"en": {"subject": "Hi {{contact.first_name | default('there')}}", "html": "<p>{{event.data.comment}}</p>", "text": "t"},
                    "he": {"subject": "שלום", "html": "<p>x</p>", "text": "x"}}})"));
    REQUIRE(t.ok());
    const std::map<std::string, MessageTemplate> templates = {{"voucher", *t}};
    Contact c = fixtures::contact("c1", "");
    c.first_name.clear();
    Event e = fixtures::nps("e1", "c1", 3, "2026-11-20T10:00:00Z");
    e.data["comment"] = "<b>slow</b>";
    EvalContext ctx;
    ctx.contact = &c;
    ctx.event = &e;
    ctx.now = *e.time;

    SendEmail mail{"voucher", "c1@example.cz", "", "", "cs"};
    EmailRender r = render_email(mail, "run-1/mail", templates, ctx);
    CHECK(r.error.empty());
    CHECK(r.effect == "run-1/mail");
    CHECK(r.template_id == "voucher");
    CHECK(r.locale == "en");  // no Czech: the fallback
    CHECK(r.dir == "ltr");
    CHECK(r.from == "Wylde <care@wylde.example>");
    CHECK(r.subject == "Hi there");
    CHECK(r.html == "<p>&lt;b&gt;slow&lt;/b&gt;</p>");
    CHECK(r.transactional);

    mail.from = "Dana Novak, CEO <ceo@wylde.example>";
    mail.locale = "he-IL";
    r = render_email(mail, "run-1/mail", templates, ctx);
    CHECK(r.from == "Dana Novak, CEO <ceo@wylde.example>");
    CHECK(r.dir == "rtl");

    mail.template_id = "gone";
    r = render_email(mail, "run-1/mail", templates, ctx);
    CHECK(r.error == "there is no template gone");
    CHECK(r.subject.empty());
}
