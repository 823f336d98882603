#include <doctest/doctest.h>

#include "closeloop/contact.h"
#include "closeloop/detail/json_read.h"

using namespace closeloop;
using nlohmann::json;

namespace {
json parse(const char* text) {
    return detail::parse_json(text).value();
}
}  // namespace

TEST_CASE("contact JSON round trip") {
    const json doc = parse(R"({ "id": "c-42", "email": "jana@example.cz", "first_name": "Jana",
        "last_name": "Nová", "locale": "cs", "owner": "petr@brand.cz", "vip": false,
        "tags": ["newsletter"], "attributes": { "branch": "Brno", "plan": "pro", "seats": 12 } })");
    auto c = contact_from_json(doc);
    REQUIRE(c.ok());
    CHECK(c->id == "c-42");
    CHECK(c->last_name == "Nová");
    CHECK(c->attributes["seats"] == 12);
    CHECK(c->has_tag("newsletter"));
    CHECK_FALSE(c->rfm.has_value());

    json back = *c;
    CHECK(back["rfm"].is_null());
    back.erase("rfm");
    CHECK(back == doc);
    auto again = contact_from_json(json(*c));
    REQUIRE(again.ok());
    CHECK(*again == *c);
}

TEST_CASE("a contact's rfm is kept when given (the simulator uses it as is)") {
    auto c = contact_from_json(parse(R"({"id":"c-1","rfm":{"r":4,"f":3,"m":5,"segment":"Loyal"}})"));
    REQUIRE(c.ok());
    REQUIRE(c->rfm.has_value());
    CHECK(*c->rfm == ContactRfm{4, 3, 5, "Loyal"});
    CHECK(json(*c)["rfm"]["segment"] == "Loyal");
}

TEST_CASE("upsert: only the given fields change") {
    Contact c = contact_from_json(parse(R"({"id":"c-1","email":"a@b.cz","owner":"o@b.cz","tags":["x"],
        "attributes":{"branch":"Brno","plan":"pro"}})"))
                    .value();
    const ContactPatch p = contact_patch_from_json(parse(R"({"id":"c-1","first_name":"Eva","owner":"",
        "attributes":{"plan":null,"seats":3}})"))
                               .value();
    CHECK(apply(c, p));
    CHECK(c.first_name == "Eva");
    CHECK(c.email == "a@b.cz");  // not given: unchanged
    CHECK(c.owner.empty());      // empty string clears
    CHECK(c.tags == std::vector<std::string>{"x"});
    CHECK(c.attributes == json({{"branch", "Brno"}, {"seats", 3}}));  // null removes, others merge
}

TEST_CASE("upsert says whether it changed anything") {
    Contact c = contact_from_json(parse(R"({"id":"c-1","email":"a@b.cz","tags":["x"],
        "attributes":{"branch":"Brno"},"rfm":{"r":4,"f":3,"m":5,"segment":"Loyal"}})"))
                    .value();
    const Contact before = c;
    const auto patch = [](const char* text) { return contact_patch_from_json(parse(text)).value(); };
    // The same values, a removal of what is not there, the id alone: nothing changes.
    CHECK_FALSE(apply(c, patch(R"({"id":"c-1","email":"a@b.cz","tags":["x"],
        "attributes":{"branch":"Brno","gone":null}})")));
    CHECK_FALSE(apply(c, patch(R"({"id":"c-1"})")));
    CHECK(c == before);
    // Each kind of change is seen.
    for (const char* text :
         {R"({"id":"c-1","email":"b@b.cz"})", R"({"id":"c-1","vip":true})", R"({"id":"c-1","tags":[]})",
          R"({"id":"c-1","attributes":{"branch":"Praha"}})", R"({"id":"c-1","attributes":{"branch":null}})",
          R"({"id":"c-1","attributes":{"seats":2}})"}) {
        CAPTURE(text);
        Contact changed = before;
        CHECK(apply(changed, patch(text)));
        CHECK(changed != before);
    }
    // RFM scores in a patch: applied, or left alone with PatchRfm::ignore.
    ContactPatch rfm;
    rfm.id = "c-1";
    rfm.rfm = ContactRfm{1, 1, 1, "Lost"};
    Contact kept = before;
    CHECK_FALSE(apply(kept, rfm, PatchRfm::ignore));
    CHECK(kept == before);
    CHECK(apply(kept, rfm));
    CHECK(kept.rfm->segment == "Lost");
}

TEST_CASE("a string stands for a contact id") {
    auto p = contact_patch_from_json(json("c-7"), "contact");
    REQUIRE(p.ok());
    CHECK(p->id == "c-7");
    CHECK_FALSE(p->email.has_value());
    // Checked as the object form is (the fuzzer found "\x7f" taken here, refused there).
    auto control = contact_patch_from_json(json("\x7f"), "contact");
    REQUIRE_FALSE(control.ok());
    CHECK(control.error().path == "contact.id");
    CHECK(contact_patch_from_json(json(""), "contact").error().path == "contact.id");
}

TEST_CASE("invalid contacts name the field") {
    struct Case {
        const char* doc;
        const char* path;
    };
    const Case cases[] = {
        {R"({})", "contact.id"},
        {R"({"id":""})", "contact.id"},
        {R"({"id":42})", "contact.id"},
        {R"({"id":"c","email":"not-an-address"})", "contact.email"},
        {R"({"id":"c","email":"two@@at.cz"})", "contact.email"},
        {R"({"id":"c","locale":"Czech"})", "contact.locale"},
        {R"({"id":"c","owner":"petr"})", "contact.owner"},
        {R"({"id":"c","vip":"yes"})", "contact.vip"},
        {R"({"id":"c","tags":"vip"})", "contact.tags"},
        {R"({"id":"c","tags":["ok",""]})", "contact.tags[1]"},
        {R"({"id":"c","attributes":[1]})", "contact.attributes"},
        {R"({"id":"c","attributes":{"x":{"nested":1}}})", "contact.attributes.x"},
        {R"({"id":"c","attributes":{"bad name":1}})", "contact.attributes.bad name"},
        {R"({"id":"c","rfm":{"r":6,"f":1,"m":1,"segment":"Lost"}})", "contact.rfm.r"},
        {R"({"id":"c","emial":"a@b.cz"})", "contact.emial"},
        {R"([1,2])", "contact"},
    };
    for (const auto& tc : cases) {
        CAPTURE(tc.doc);
        auto r = contact_patch_from_json(parse(tc.doc), "contact");
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().path == tc.path);
        CHECK_FALSE(r.error().message.empty());
    }
    CHECK(contact_patch_from_json(json(std::string(129, 'x'))).error().path == "id");
}

TEST_CASE("read-only card fields are accepted and ignored") {
    auto c = contact_from_json(parse(R"({"id":"c","nps":{"last":9},"timeline":[]})"));
    REQUIRE(c.ok());
    CHECK(json(*c).contains("nps") == false);
}

TEST_CASE("e-mail and locale checks") {
    CHECK(is_valid_email("jana@example.cz"));
    CHECK(is_valid_email("ops@localhost"));
    CHECK_FALSE(is_valid_email("jana@example"));
    CHECK_FALSE(is_valid_email("jana example@x.cz"));
    CHECK_FALSE(is_valid_email("@x.cz"));
    CHECK(is_valid_locale("cs"));
    CHECK(is_valid_locale("pt-BR"));
    CHECK(is_valid_locale("zh-Hant-TW"));
    CHECK_FALSE(is_valid_locale("CS"));
    CHECK_FALSE(is_valid_locale("c"));
    CHECK_FALSE(is_valid_locale("cs-"));
}

TEST_CASE("contact limits: attributes and tags, each error names the field and the limit") {
    const auto error_of = [](const json& doc) {
        auto r = contact_patch_from_json(doc, "contact");
        REQUIRE_FALSE(r.ok());
        return r.error();
    };
    SUBCASE("attribute count") {
        json attrs = json::object();
        for (std::size_t i = 0; i < max_contact_attributes; ++i) attrs["a" + std::to_string(i)] = 1;
        CHECK(contact_patch_from_json(json{{"id", "c"}, {"attributes", attrs}}).ok());
        attrs["one_more"] = 1;
        const Error e = error_of({{"id", "c"}, {"attributes", attrs}});
        CHECK(e.path == "contact.attributes");
        CHECK(e.message.find("max_contact_attributes") != std::string::npos);
    }
    SUBCASE("attribute names and values") {
        CHECK(contact_patch_from_json(json{{"id", "c"}, {"attributes", {{std::string(64, 'n'), 1}}}}).ok());
        Error e = error_of({{"id", "c"}, {"attributes", {{std::string(65, 'n'), 1}}}});
        CHECK(e.path == "contact.attributes." + std::string(65, 'n'));
        CHECK(e.message.find("max_attribute_name") != std::string::npos);

        CHECK(contact_patch_from_json(json{{"id", "c"}, {"attributes", {{"x", std::string(1024, 'v')}}}}).ok());
        e = error_of({{"id", "c"}, {"attributes", {{"x", std::string(1025, 'v')}}}});
        CHECK(e.path == "contact.attributes.x");
        CHECK(e.message.find("max_attribute_value_bytes") != std::string::npos);
        // Bytes, not characters: 513 two-byte letters are 1026 bytes.
        std::string wide;
        for (int i = 0; i < 513; ++i) wide += "\xC5\xBE";
        CHECK(error_of({{"id", "c"}, {"attributes", {{"x", wide}}}}).path == "contact.attributes.x");
    }
    SUBCASE("tags") {
        std::vector<std::string> tags;
        for (std::size_t i = 0; i < max_contact_tags; ++i) tags.push_back("t" + std::to_string(i));
        CHECK(contact_patch_from_json(json{{"id", "c"}, {"tags", tags}}).ok());
        tags.push_back("over");
        Error e = error_of({{"id", "c"}, {"tags", tags}});
        CHECK(e.path == "contact.tags");
        CHECK(e.message.find("max_contact_tags") != std::string::npos);

        CHECK(contact_patch_from_json(json{{"id", "c"}, {"tags", {std::string(64, 't')}}}).ok());
        e = error_of({{"id", "c"}, {"tags", {"ok", std::string(65, 't')}}});
        CHECK(e.path == "contact.tags[1]");
        CHECK(e.message.find("max_tag_length") != std::string::npos);
    }
    SUBCASE("merging: a contact never holds more than max_contact_attributes") {
        Contact c;
        c.id = "c";
        for (std::size_t i = 0; i < max_contact_attributes; ++i) c.attributes["a" + std::to_string(i)] = 1;
        ContactPatch more;
        more.id = "c";
        more.attributes = json{{"new_one", 1}, {"a0", 2}};
        const auto fits = check_patch_fits(c, more, "contact");
        REQUIRE(fits);
        CHECK(fits->path == "contact.attributes");
        CHECK(fits->message.find("max_contact_attributes") != std::string::npos);
        // Removing one makes room.
        ContactPatch swap = more;
        (*swap.attributes)["a1"] = nullptr;
        CHECK_FALSE(check_patch_fits(c, swap));
        // apply() keeps the bound for patches nobody checked (events): held ones still change.
        CHECK(apply(c, more));
        CHECK(c.attributes.size() == max_contact_attributes);
        CHECK_FALSE(c.attributes.contains("new_one"));
        CHECK(c.attributes["a0"] == 2);
    }
    SUBCASE("stored patches keep loading (Check::stored)") {
        const json doc = {
            {"id", "c"}, {"tags", {std::string(80, 't')}}, {"attributes", {{"x", std::string(2000, 'v')}}}};
        CHECK_FALSE(contact_patch_from_json(doc).ok());
        auto stored = contact_patch_from_json(doc, "", Check::stored);
        REQUIRE(stored.ok());
        CHECK(stored->tags->front().size() == 80);
    }
}
