#include <doctest/doctest.h>

#include <string>

#include "closeloop/detail/json_read.h"
#include "closeloop/render.h"

using namespace closeloop;
using nlohmann::json;

namespace {

Time at(const char* rfc3339) {
    auto t = parse_time(rfc3339);
    REQUIRE(t.ok());
    return t.ok() ? *t : Time{};
}

TemplateText compile(const std::string& text) {
    auto t = TemplateText::parse(text);
    REQUIRE_MESSAGE(t.ok(), text << ": " << (t.ok() ? "" : t.error().message));
    return t.ok() ? *t : TemplateText{};
}

Error compile_error(const std::string& text) {
    auto t = TemplateText::parse(text);
    CHECK_MESSAGE(!t.ok(), text << " should not parse");
    return t.ok() ? Error{} : t.error();
}

std::string render(const std::string& text, const EvalContext& ctx, Escape escape = Escape::none,
                   std::string_view locale = "en") {
    const TemplateText t = compile(text);
    auto out = t.render(ctx, escape, locale);
    CHECK_MESSAGE(out.ok(), text << ": " << (out.ok() ? "" : out.error().message));
    return out.ok() ? *out : std::string();
}

json parse(const char* text) {
    auto j = detail::parse_json(text);
    REQUIRE(j.ok());
    return j.ok() ? *j : json();
}

struct World {
    Event event;
    Contact contact;
    VoucherView voucher;
    EvalContext ctx;

    World() {
        auto e = event_from_json(parse(R"({ "id": "evt-9f1c", "type": "nps_response",
            "time": "2026-11-22T10:00:00Z", "contact": { "id": "c-42" },
            "data": { "score": 4, "comment": "Doprava <b>trvala</b> 3 týdny & \"víc\"." } })"));
        REQUIRE(e.ok());
        if (e.ok()) event = *e;
        contact.id = "c-42";
        contact.email = "jana@example.cz";
        contact.first_name = "Jana";
        contact.last_name = "Nová";
        contact.locale = "cs";
        contact.vip = true;
        voucher.code = "AB12CD";
        voucher.value = 20;
        voucher.currency = "EUR";
        voucher.expires_at = at("2027-01-22T10:00:00Z");
        ctx.event = &event;
        ctx.contact = &contact;
        ctx.voucher = &voucher;
        ctx.now = at("2026-11-22T10:00:05Z");
    }
};

const char* const template_doc = R"({ "id": "nps-apology", "name": "NPS apology", "fallback_locale": "en",
  "from": "Wylde <care@wylde.example>",
  "locales": {
    "en": { "subject": "We are sorry, {{contact.first_name}}",
            "html": "<p>Dear {{contact.first_name}},</p><p>{{event.data.comment}}</p><p>Use {{voucher.code}} by {{voucher.expires_at | date}}.</p>",
            "text": "Dear {{contact.first_name}}, use {{voucher.code}} within {{voucher.expires_at | days_until}} days." },
    "cs": { "subject": "Omlouváme se, {{contact.first_name}}",
            "html": "<p>Milá {{contact.first_name}}, kód {{voucher.code}} platí do {{voucher.expires_at | date}}.</p>",
            "text": "Žluťoučký kůň úpěl ďábelské ódy: {{voucher.code}}, {{voucher.expires_at | date}}" },
    "pl": { "subject": "Przepraszamy", "html": "<p>{{voucher.expires_at | date}}</p>", "text": "Łódź" } } })";

}  // namespace

TEST_CASE("templates: values and escaping") {
    World w;
    SUBCASE("values print as they are in text and subject parts") {
        CHECK(render("Hello {{contact.first_name}} {{ contact.last_name }}!", w.ctx) == "Hello Jana Nová!");
        CHECK(render("NPS {{event.score}}, value {{voucher.value}} {{voucher.currency}}", w.ctx) ==
              "NPS 4, value 20 EUR");
        CHECK(render("{{event.data.comment}}", w.ctx) == "Doprava <b>trvala</b> 3 týdny & \"víc\".");
        CHECK(render("{{ event.score + 0.5 }}", w.ctx) == "4.5");
        CHECK(render("no tags at all", w.ctx) == "no tags at all");
        CHECK(render("", w.ctx).empty());
        CHECK(TemplateText().render(w.ctx, Escape::html)->empty());
    }
    SUBCASE("HTML escaping applies to values, never to the template's own text") {
        CHECK(render("<p>{{event.data.comment}}</p>", w.ctx, Escape::html) ==
              "<p>Doprava &lt;b&gt;trvala&lt;/b&gt; 3 týdny &amp; &quot;víc&quot;.</p>");
        w.contact.first_name = "O'Brien";
        CHECK(render("<a title=\"x\">{{contact.first_name}}</a>", w.ctx, Escape::html) ==
              "<a title=\"x\">O&#39;Brien</a>");
    }
    SUBCASE("the contract's notify message") {
        const TemplateText t = compile(
            "Call {{contact.first_name}} ({{contact.email}}): NPS {{event.score}}. Apologise, solve, then send "
            "voucher nps-apology-20.");
        CHECK_FALSE(t.check(TypeEnv{"nps_response"}));
        CHECK(*t.render(w.ctx, Escape::none) ==
              "Call Jana (jana@example.cz): NPS 4. Apologise, solve, then send voucher nps-apology-20.");
    }
    SUBCASE("a null value prints as empty") {
        CHECK(render("[{{event.data.missing}}]", w.ctx) == "[]");
        w.ctx.voucher = nullptr;
        CHECK(render("[{{voucher.expires_at | date}}][{{voucher.expires_at | days_until}}]", w.ctx) == "[][]");
    }
    SUBCASE("Czech text with diacritics is untouched") {
        const std::string czech = "Příliš žluťoučký kůň úpěl ďábelské ódy — {{contact.last_name}}.";
        CHECK(render(czech, w.ctx, Escape::html) == "Příliš žluťoučký kůň úpěl ďábelské ódy — Nová.");
        CHECK(render("שלום {{contact.first_name}}", w.ctx) == "שלום Jana");
    }
    SUBCASE("expressions inside tags, with strings that hold braces and pipes") {
        CHECK(render("{{ lower('A}}B') }}", w.ctx) == "a}}b");
        CHECK(render("{{ contact.vip || false }}", w.ctx) == "true");
        CHECK(render("{{ 'a|b' }}", w.ctx) == "a|b");
    }
}

TEST_CASE("templates: if/else blocks") {
    World w;
    SUBCASE("if with and without else") {
        CHECK(render("{{#if contact.vip}}VIP{{/if}}", w.ctx) == "VIP");
        CHECK(render("{{#if not contact.vip}}VIP{{/if}}", w.ctx) == "");
        CHECK(render("{{#if event.score < 7}}sorry{{else}}thanks{{/if}}", w.ctx) == "sorry");
        CHECK(render("{{#if event.score >= 7}}sorry{{ else }}thanks{{ /if }}", w.ctx) == "thanks");
        CHECK(render("{{ #if contact.vip }}a{{/if}}", w.ctx) == "a");
    }
    SUBCASE("nesting") {
        const std::string text =
            "{{#if contact.vip}}V{{#if event.score < 3}}-low{{else}}{{#if event.score < 7}}-mid{{else}}-high{{/if}}"
            "{{/if}}{{else}}N{{/if}}.";
        CHECK(render(text, w.ctx) == "V-mid.");
        w.contact.vip = false;
        CHECK(render(text, w.ctx) == "N.");
    }
    SUBCASE("values of any type read as present or absent") {
        CHECK(render("{{#if contact.first_name}}Dear {{contact.first_name}}{{else}}Hello{{/if}}", w.ctx) ==
              "Dear Jana");
        w.contact.first_name = "";
        CHECK(render("{{#if contact.first_name}}Dear {{contact.first_name}}{{else}}Hello{{/if}}", w.ctx) == "Hello");
        CHECK(render("{{#if event.data.missing}}x{{else}}y{{/if}}", w.ctx) == "y");
        CHECK(render("{{#if 0}}x{{else}}y{{/if}}", w.ctx) == "y");
        CHECK(render("{{#if []}}x{{else}}y{{/if}}", w.ctx) == "y");
        CHECK(render("{{#if voucher.expires_at}}x{{else}}y{{/if}}", w.ctx) == "x");
    }
}

TEST_CASE("templates: filters") {
    World w;
    SUBCASE("date, per locale, in UTC") {
        CHECK(render("{{voucher.expires_at | date}}", w.ctx, Escape::none, "en") == "22 January 2027");
        CHECK(render("{{voucher.expires_at | date}}", w.ctx, Escape::none, "cs") == "22. 1. 2027");
        CHECK(render("{{voucher.expires_at | date}}", w.ctx, Escape::none, "pl") == "22.01.2027");
        CHECK(render("{{voucher.expires_at | date}}", w.ctx, Escape::none, "he") == "2027-01-22");
        CHECK(render("{{voucher.expires_at | date}}", w.ctx, Escape::none, "de") == "2027-01-22");
        CHECK(render("{{ voucher.expires_at|date }}", w.ctx, Escape::none, "en-GB") == "22 January 2027");
        CHECK(format_date_for_locale(at("2027-03-05T23:59:59Z"), "cs") == "5. 3. 2027");
        CHECK(format_date_for_locale(at("2027-03-05T23:59:59Z"), "pl") == "05.03.2027");
        CHECK(format_date_for_locale(at("2027-03-05T23:59:59Z"), "en") == "5 March 2027");
        CHECK(format_date_for_locale(at("2027-03-05T23:59:59Z"), "") == "2027-03-05");
    }
    SUBCASE("days_until: whole days from now, rounded up, 0 when past") {
        w.ctx.now = at("2027-01-12T10:00:00Z");
        CHECK(render("{{voucher.expires_at | days_until}}", w.ctx) == "10");
        w.ctx.now = at("2027-01-12T10:00:01Z");
        CHECK(render("{{voucher.expires_at | days_until}}", w.ctx) == "10");  // 9 days 23:59:59 -> 10
        w.ctx.now = at("2027-01-22T09:00:00Z");
        CHECK(render("{{voucher.expires_at | days_until}}", w.ctx) == "1");
        w.ctx.now = at("2027-01-22T10:00:00Z");
        CHECK(render("{{voucher.expires_at | days_until}}", w.ctx) == "0");
        w.ctx.now = at("2027-02-01T00:00:00Z");
        CHECK(render("{{voucher.expires_at | days_until}}", w.ctx) == "0");
        CHECK(render("{{voucher.expires_at - days(10) | date}}", w.ctx) == "12 January 2027");
    }
    SUBCASE("a filter given text that is not a time fails at render time with the column") {
        const TemplateText t = compile("x {{contact.attributes.renewal | date}}");
        w.contact.attributes = json{{"renewal", "soon"}};
        auto out = t.render(w.ctx, Escape::none);
        REQUIRE_FALSE(out.ok());
        CHECK(out.error().column == 34);
        w.contact.attributes = json{{"renewal", "2027-05-01T00:00:00Z"}};
        CHECK(*t.render(w.ctx, Escape::none) == "x 1 May 2027");
    }
}

TEST_CASE("templates: the default filter") {
    World w;
    SUBCASE("the value when there is one, else the argument: null or empty text") {
        CHECK(render("Hello {{contact.first_name | default('there')}}", w.ctx) == "Hello Jana");
        w.contact.first_name.clear();
        CHECK(render("Hello {{contact.first_name | default('there')}}", w.ctx) == "Hello there");
        CHECK(render("{{ contact.attributes.nick|default( \"friend\" ) }}", w.ctx) == "friend");
        w.contact.attributes = json{{"nick", ""}};
        CHECK(render("{{contact.attributes.nick | default('friend')}}", w.ctx) == "friend");
        w.contact.attributes = json{{"nick", "Janička"}};
        CHECK(render("{{contact.attributes.nick | default('friend')}}", w.ctx) == "Janička");
    }
    SUBCASE("0 and false are values, not missing") {
        w.contact.attributes = json{{"n", 0}, {"b", false}};
        CHECK(render("{{contact.attributes.n | default('none')}} {{contact.attributes.b | default('none')}}", w.ctx) ==
              "0 false");
    }
    SUBCASE("the argument is an expression: another path, escaped like any value in HTML") {
        w.contact.first_name.clear();
        CHECK(render("{{contact.first_name | default(contact.email)}}", w.ctx) == "jana@example.cz");
        CHECK(render("{{contact.first_name | default('<you>')}}", w.ctx, Escape::html) == "&lt;you&gt;");
        w.contact.first_name = "<Jana>";
        CHECK(render("{{contact.first_name | default('x')}}", w.ctx, Escape::html) == "&lt;Jana&gt;");
    }
    SUBCASE("parse errors: no parentheses, no argument, a bad argument, each with its column") {
        Error e = compile_error("Hi {{contact.first_name | default}}");
        CHECK(e.column == 27);
        CHECK(e.message.find("the default filter needs a value: default('there')") != std::string::npos);
        e = compile_error("Hi {{contact.first_name | default()}}");
        CHECK(e.column == 34);
        e = compile_error("Hi {{contact.first_name | default('x'}}");
        CHECK(e.message.find("the default filter needs a value") != std::string::npos);
        e = compile_error("Hi {{contact.first_name | default('x' +)}}");
        CHECK(e.column == 40);
        CHECK(compile_error("{{contact.first_name | defaults('x')}}").message.find("unknown filter 'defaults('x')'") !=
              std::string::npos);
    }
    SUBCASE("the argument type-checks as text, with its column") {
        const TypeEnv nps{"nps_response"};
        CHECK_FALSE(compile("{{contact.first_name | default('there')}}").check(nps));
        CHECK_FALSE(compile("{{event.score | default(contact.email)}}").check(nps));
        auto e = compile("Hi {{contact.first_name | default(5)}}").check(nps);
        REQUIRE(e);
        CHECK(e->column == 35);
        CHECK(e->message.find("the default filter needs a text, not number") != std::string::npos);
        auto f = compile("Hi {{contact.first_name | default(contact.nope)}}").check(nps);
        REQUIRE(f);
        CHECK(f->column == 35);
        CHECK(f->message.find("unknown path contact.nope") != std::string::npos);
    }
    SUBCASE("an argument reading voucher.* counts as reading the voucher") {
        CHECK(compile("{{contact.first_name | default(voucher.code)}}").reads_voucher());
        CHECK_FALSE(compile("{{contact.first_name | default('x')}}").reads_voucher());
    }
}

TEST_CASE("templates: parse errors give the column in the whole text") {
    struct Case {
        std::string text;
        int column;
        const char* says;
    };
    const Case cases[] = {
        {"Hello {{contact.first_name", 7, "unclosed {{"},
        {"Hi {{else}}", 4, "{{else}} without {{#if}}"},
        {"Hi {{/if}}", 4, "{{/if}} without {{#if}}"},
        {"a {{#if contact.vip}}b{{#if event.score < 7}}c{{/if}}", 3, "unclosed {{#if}}"},
        {"a {{#if contact.vip}}b{{#if event.score < 7}}c", 23, "unclosed {{#if}}"},  // the innermost
        {"a {{#if contact.vip}}b{{else}}c{{else}}d{{/if}}", 32, "a second {{else}}"},
        {"{{voucher.expires_at | shout}}", 24, "unknown filter 'shout' (filters: date, days_until, default)"},
        {"{{voucher.expires_at | }}", 22, "a filter name is missing"},
        {"{{ | date}}", 4, "a filter needs a value"},
        {"Dear {{contact.first_name ==}}", 29, "unexpected end of expression"},
        {"Milá {{ contact.first_name @ }}", 28, "unexpected character '@'"},  // characters, not bytes
        {"x\n{{'abc}}", 5, "unclosed string"},
        {"{{}}", 1, "empty tag"},
        {"{{#each contact.tags}}x{{/each}}", 1, "unknown block {{#each}}"},
        {"{{#if}}x{{/if}}", 1, "{{#if}} needs a condition"},
        {"{{#if true}}x{{/unless}}", 14, "unknown closing tag {{/unless}}"},
        {"ok {{#if (1}}x{{/if}}", 12, "expected ')'"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.text);
        const Error e = compile_error(c.text);
        CHECK(e.code == "invalid_template");
        CHECK(e.column == c.column);
        CHECK(e.message.find("column " + std::to_string(c.column) + ": ") == 0);
        CHECK_MESSAGE(e.message.find(c.says) != std::string::npos, e.message);
    }
    SUBCASE("deep nesting is refused") {
        std::string text;
        for (int i = 0; i < 100; ++i) text += "{{#if true}}";
        CHECK(compile_error(text).message.find("nested too deeply") != std::string::npos);
    }
    SUBCASE("a lone }} is text") {
        CHECK(render("a }} b", EvalContext{}) == "a }} b");
    }
}

TEST_CASE("templates: check against the environment") {
    const TypeEnv nps{"nps_response"};
    SUBCASE("good templates pass") {
        CHECK_FALSE(compile("{{contact.first_name}} {{event.score}} {{voucher.expires_at | date}}").check(nps));
        CHECK_FALSE(compile("{{#if event.score < 7}}{{links.unsubscribe}}{{/if}}").check(nps));
        CHECK_FALSE(compile("{{contact.attributes.renewal | days_until}}").check(nps));
    }
    SUBCASE("an unknown path is an error naming it, with its column") {
        auto e = compile("Hi {{#if contact.vip}}{{else}}{{ customer.name }}{{/if}}").check(nps);
        REQUIRE(e);
        CHECK(e->code == "invalid_template");
        CHECK(e->column == 34);
        CHECK(e->message.find("column 34: unknown path customer.name") == 0);
        auto f = compile("Score: {{event.data.scroe}}").check(nps);
        REQUIRE(f);
        CHECK(f->column == 10);
        CHECK(f->message.find("event.data.scroe") != std::string::npos);
    }
    SUBCASE("conditions are checked too") {
        auto e = compile("{{#if event.score < 'x'}}a{{/if}}").check(nps);
        REQUIRE(e);
        CHECK(e->column == 19);
    }
    SUBCASE("date and days_until need a time") {
        auto e = compile("{{event.score | date}}").check(nps);
        REQUIRE(e);
        CHECK(e->column == 17);
        CHECK(e->message.find("the date filter needs a time, not number") != std::string::npos);
        auto f = compile("{{contact.first_name | days_until}}").check(nps);
        REQUIRE(f);
        CHECK(f->message.find("days_until filter needs a time, not text") != std::string::npos);
    }
}

TEST_CASE("message templates: JSON, locales, validation, rendering") {
    World w;
    auto parsed = template_from_json(parse(template_doc));
    REQUIRE_MESSAGE(parsed.ok(), (parsed.ok() ? "" : parsed.error().what()));
    if (!parsed.ok()) return;
    const MessageTemplate& t = *parsed;

    SUBCASE("the document reads and writes back as it was") {
        CHECK(t.id == "nps-apology");
        CHECK(t.name == "NPS apology");
        CHECK(t.from == "Wylde <care@wylde.example>");
        CHECK(t.locales.size() == 3);
        CHECK(json(t) == parse(template_doc));
        auto again = template_from_json(json(t));
        REQUIRE(again.ok());
        CHECK(json(*again) == json(t));
    }
    SUBCASE("transactional: read and written only when true; must be a boolean") {
        CHECK_FALSE(t.transactional);
        CHECK_FALSE(json(t).contains("transactional"));
        json doc = parse(template_doc);
        doc["transactional"] = true;
        auto tx = template_from_json(doc);
        REQUIRE(tx.ok());
        CHECK(tx->transactional);
        CHECK(json(*tx) == doc);
        doc["transactional"] = "yes";
        auto bad = template_from_json(doc);
        REQUIRE_FALSE(bad.ok());
        CHECK(bad.error().path == "transactional");
    }
    SUBCASE("pick_locale: exact, then the language, then the fallback") {
        CHECK(t.pick_locale("cs") == "cs");
        CHECK(t.pick_locale("cs-CZ") == "cs");
        CHECK(t.pick_locale("PL") == "pl");
        CHECK(t.pick_locale("he") == "en");
        CHECK(t.pick_locale("") == "en");
        MessageTemplate pt = t;
        pt.locales.emplace("pt-BR", LocalizedMessage{});
        pt.locales.emplace("pt", LocalizedMessage{});
        CHECK(pt.pick_locale("pt-BR") == "pt-BR");
        CHECK(pt.pick_locale("pt-br") == "pt-BR");
        CHECK(pt.pick_locale("pt-PT") == "pt");
    }
    SUBCASE("validation passes for the contract's example") {
        CHECK_FALSE(validate_template(t, TypeEnv{"nps_response"}));
    }
    SUBCASE("rendering picks the locale and escapes only the HTML part") {
        auto cs = render_message(t, "cs", w.ctx);
        REQUIRE(cs.ok());
        CHECK(cs->locale == "cs");
        CHECK(cs->from == "Wylde <care@wylde.example>");
        CHECK(cs->subject == "Omlouváme se, Jana");
        CHECK(cs->html == "<p>Milá Jana, kód AB12CD platí do 22. 1. 2027.</p>");
        CHECK(cs->text == "Žluťoučký kůň úpěl ďábelské ódy: AB12CD, 22. 1. 2027");

        w.contact.first_name = "<Jana & co>";
        auto en = render_message(t, "he", w.ctx);
        REQUIRE(en.ok());
        CHECK(en->locale == "en");
        CHECK(en->subject == "We are sorry, <Jana & co>");
        CHECK(en->html ==
              "<p>Dear &lt;Jana &amp; co&gt;,</p><p>Doprava &lt;b&gt;trvala&lt;/b&gt; 3 týdny &amp; "
              "&quot;víc&quot;.</p><p>Use AB12CD by 22 January 2027.</p>");
        CHECK(en->text == "Dear <Jana & co>, use AB12CD within 61 days.");

        auto pl = render_message(t, "pl-PL", w.ctx);
        REQUIRE(pl.ok());
        CHECK(pl->html == "<p>22.01.2027</p>");
    }
    SUBCASE("a line break in a value cannot start a new header in the subject") {
        w.contact.first_name = "Jana\r\nBcc: everyone@example.com";
        auto en = render_message(t, "en", w.ctx);
        REQUIRE(en.ok());
        CHECK(en->subject == "We are sorry, Jana  Bcc: everyone@example.com");
    }
    SUBCASE("a render-time error names the part") {
        auto broken = template_from_json(parse(R"({"id":"x","locales":{"en":{"subject":"s",
            "html":"{{contact.attributes.n + 1}}","text":""}}})"));
        REQUIRE(broken.ok());
        w.contact.attributes = json{{"n", "many"}};
        auto out = render_message(*broken, "en", w.ctx);
        REQUIRE_FALSE(out.ok());
        CHECK(out.error().path == "locales.en.html");
        CHECK(out.error().column == 24);
    }
}

TEST_CASE("message templates: errors name the path") {
    SUBCASE("a bad tag: the text's path and the column") {
        auto t = template_from_json(parse(R"({"id":"x","locales":{"cs":{"subject":"s","text":"",
            "html":"<p>{{#if contact.vip}}Ahoj</p>"}}})"));
        REQUIRE_FALSE(t.ok());
        CHECK(t.error().path == "locales.cs.html");
        CHECK(t.error().column == 4);
        CHECK(t.error().message.find("unclosed {{#if}}") != std::string::npos);
    }
    SUBCASE("structure") {
        struct Case {
            const char* doc;
            const char* path;
        };
        const Case cases[] = {
            {R"({"locales":{}})", "id"},
            {R"({"id":"x"})", "locales"},
            {R"({"id":"x","locales":[]})", "locales"},
            {R"({"id":"x","locales":{"english":{"subject":"","html":"","text":""}}})", "locales.english"},
            {R"({"id":"x","locales":{"en":{"subject":"","html":""}}})", "locales.en.text"},
            {R"({"id":"x","locales":{"en":{"subject":1,"html":"","text":""}}})", "locales.en.subject"},
            {R"({"id":"x","locales":{"en":{"subject":"","html":"","text":"","body":""}}})", "locales.en.body"},
            {R"({"id":"x","locales":{"en":"hello"}})", "locales.en"},
            {R"({"id":"x","locales":{},"fallback":"en"})", "fallback"},
        };
        for (const auto& c : cases) {
            CAPTURE(c.doc);
            auto t = template_from_json(parse(c.doc));
            REQUIRE_FALSE(t.ok());
            CHECK(t.error().path == c.path);
        }
        auto nested = template_from_json(parse(R"({"id":"x","locales":{"en":{"subject":"{{","html":"","text":""}}})"),
                                         "templates[2]");
        REQUIRE_FALSE(nested.ok());
        CHECK(nested.error().path == "templates[2].locales.en.subject");
    }
    SUBCASE("validation: id, fallback locale, unknown paths with path and column") {
        const TypeEnv nps{"nps_response"};
        auto t = template_from_json(parse(R"({"id":"nps-apology","fallback_locale":"en","locales":{
            "en":{"subject":"Hi","html":"<p>{{contact.first_name}}</p>","text":""},
            "cs":{"subject":"Ahoj {{contact.nickname}}","html":"","text":""}}})"));
        REQUIRE(t.ok());
        auto e = validate_template(*t, nps);
        REQUIRE(e);
        CHECK(e->path == "locales.cs.subject");
        CHECK(e->column == 8);
        CHECK(e->message.find("unknown path contact.nickname") != std::string::npos);

        MessageTemplate bad_id = *t;
        bad_id.id = "NPS Apology";
        REQUIRE(validate_template(bad_id, nps));
        CHECK(validate_template(bad_id, nps)->path == "id");
        bad_id.id = "";
        CHECK(validate_template(bad_id, nps)->path == "id");

        MessageTemplate no_fallback = *t;
        no_fallback.fallback_locale = "pl";
        auto f = validate_template(no_fallback, nps);
        REQUIRE(f);
        CHECK(f->path == "fallback_locale");
        CHECK(f->message.find("cs, en") != std::string::npos);
        CHECK_FALSE(render_message(no_fallback, "de", EvalContext{}).ok());
    }
}

TEST_CASE("escape_html: the escaping of HTML bodies, for text the builder puts into its preview") {
    CHECK(closeloop::escape_html("Tom & Jerry <b>\"hi\" 'x'</b>") ==
          "Tom &amp; Jerry &lt;b&gt;&quot;hi&quot; &#39;x&#39;&lt;/b&gt;");
    CHECK(closeloop::escape_html("Příliš žluťoučký kůň · שלום") == "Příliš žluťoučký kůň · שלום");
}

TEST_CASE("rendered output is bounded by max_rendered_text_bytes") {
    World w;
    const TypeEnv env;  // no trigger: contact.attributes.* are text-or-anything values

    // Issue 13: a notify message repeating a 1 KB attribute 38,000 times wrote 39 MB per run.
    std::string amplified;
    for (int i = 0; i < 38000; ++i) amplified += "{{contact.attributes.note}}";

    SUBCASE("validation: own text plus max_value_bytes_assumed per text value, the longer branch of an if") {
        CHECK(compile("Hi {{contact.first_name}}").size_bound(env) == 3 + max_value_bytes_assumed);
        CHECK(compile("{{1 + 2}} {{voucher.expires_at | date}}").size_bound(env) == 129);
        CHECK(compile("{{#if contact.vip}}abcdef{{else}}ab{{/if}}").size_bound(env) == 6);

        const auto error = compile(amplified).check(env);
        REQUIRE(error);
        CHECK(error->code == "invalid_template");
        CHECK(error->message.find("max_rendered_text_bytes") != std::string::npos);

        // The boundary: exactly at the limit passes, one byte more does not.
        const std::size_t values = max_rendered_text_bytes / max_value_bytes_assumed - 1;
        std::string at_limit;
        for (std::size_t i = 0; i < values; ++i) at_limit += "{{contact.first_name}}";
        at_limit += std::string(max_rendered_text_bytes - values * max_value_bytes_assumed, 'x');
        CHECK(compile(at_limit).size_bound(env) == max_rendered_text_bytes);
        CHECK_FALSE(compile(at_limit).check(env));
        CHECK(compile(at_limit + "x").check(env));
    }
    SUBCASE("run time: cut at a UTF-8 boundary with a visible marker, without rendering the rest") {
        w.contact.attributes["note"] = std::string(1023, 'a') + "\xC5\xBE";  // ends with a 2-byte 'ž'
        const std::string out = render(amplified, w.ctx);
        CHECK(out.size() <= max_rendered_text_bytes);
        CHECK(out.size() > max_rendered_text_bytes - 8);
        CHECK(out.substr(out.size() - truncation_marker.size()) == truncation_marker);
        const std::string body = out.substr(0, out.size() - truncation_marker.size());
        // No half character before the marker: the body is whole 1025-byte notes plus whole characters.
        const std::size_t tail = body.size() % 1025;
        CHECK((tail <= 1023 || tail == 0));
        CHECK(render("short {{contact.first_name}}", w.ctx) == "short Jana");
    }
    SUBCASE("run time, HTML: an entity is never cut in half") {
        w.contact.attributes["note"] = std::string(1024, '&');
        const std::string out = render(amplified, w.ctx, Escape::html);
        CHECK(out.size() <= max_rendered_text_bytes);
        const std::string body = out.substr(0, out.size() - truncation_marker.size());
        CHECK(body.size() % 5 == 0);  // whole "&amp;"
        CHECK(body.substr(body.size() - 5) == "&amp;");
    }
}
