// What an answer posted with a publishable key may carry (public_answer.h): each refusal names
// its field, and nothing in an accepted one can reach a contact's profile.
#include <doctest/doctest.h>

#include "closeloop/detail/json_read.h"
#include "closeloop/public_answer.h"

using namespace closeloop;
using nlohmann::json;

namespace {

json answer(json contact) {
    json j = {{"type", "nps_response"}, {"data", {{"score", 9}}}};
    if (!contact.is_null()) j["contact"] = std::move(contact);
    return j;
}

const std::string hash64(64, 'a');

}  // namespace

TEST_CASE("public answer: the issue's attack (a profile in the contact) is refused, naming the field") {
    // The widget key rewrote demo-1's e-mail and made it a VIP.
    const auto r =
        public_answer_from_json(answer({{"id", "demo-1"}, {"email", "attacker@evil.example"}, {"vip", true}}));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == "forbidden");
    CHECK((r.error().path == "contact.email" || r.error().path == "contact.vip"));
}

TEST_CASE("public answer: every profile field is forbidden, with or without proof") {
    for (const char* field : {"email", "first_name", "last_name", "locale", "owner", "vip", "tags", "attributes", "rfm",
                              "phone", "nps", "created_at"}) {
        CAPTURE(field);
        for (json contact : {json{{"id", "c-1"}, {"hash", hash64}}, json{{"token", "x.y"}}, json::object()}) {
            contact[field] = "x";
            const auto r = public_answer_from_json(answer(contact), "events[2]");
            REQUIRE_FALSE(r.ok());
            CHECK(r.error().code == "forbidden");
            CHECK(r.error().path == std::string("events[2].contact.") + field);
        }
    }
}

TEST_CASE("public answer: a contact id needs proof") {
    const auto plain = public_answer_from_json(answer("demo-1"));
    REQUIRE_FALSE(plain.ok());
    CHECK(plain.error().code == "forbidden");
    CHECK(plain.error().path == "contact");
    const auto id_only = public_answer_from_json(answer({{"id", "demo-1"}}));
    REQUIRE_FALSE(id_only.ok());
    CHECK(id_only.error().code == "forbidden");
    CHECK(id_only.error().path == "contact.id");
    const auto hash_only = public_answer_from_json(answer({{"hash", hash64}}));
    REQUIRE_FALSE(hash_only.ok());
    CHECK(hash_only.error().path == "contact.id");
    const auto bad_hash = public_answer_from_json(answer({{"id", "demo-1"}, {"hash", "ABC"}}));
    REQUIRE_FALSE(bad_hash.ok());
    CHECK(bad_hash.error().code == "invalid_field");
    CHECK(bad_hash.error().path == "contact.hash");
    const auto both = public_answer_from_json(answer({{"token", "a.b"}, {"visitor", "v1"}}));
    REQUIRE_FALSE(both.ok());
    CHECK(both.error().path == "contact");
    const auto unknown = public_answer_from_json(answer({{"user_hash", hash64}}));
    REQUIRE_FALSE(unknown.ok());
    CHECK(unknown.error().path == "contact.user_hash");
    const auto bad_visitor = public_answer_from_json(answer({{"visitor", "a/b"}}));
    REQUIRE_FALSE(bad_visitor.ok());
    CHECK(bad_visitor.error().path == "contact.visitor");
}

TEST_CASE("public answer: only answers, at the server's time, with the documented data") {
    const auto purchase = public_answer_from_json(
        {{"type", "purchase"}, {"data", {{"order_id", "1"}, {"amount", 1}, {"currency", "EUR"}}}});
    REQUIRE_FALSE(purchase.ok());
    CHECK(purchase.error().code == "forbidden");
    CHECK(purchase.error().path == "type");
    const auto custom = public_answer_from_json({{"type", "signup"}});
    REQUIRE_FALSE(custom.ok());
    CHECK(custom.error().code == "forbidden");
    json dated = answer(nullptr);
    dated["time"] = "9999-12-31T00:00:00Z";
    const auto future = public_answer_from_json(dated);
    REQUIRE_FALSE(future.ok());
    CHECK(future.error().code == "forbidden");
    CHECK(future.error().path == "time");
    json extra = answer(nullptr);
    extra["data"]["blob"] = std::string(1000, 'x');
    const auto blob = public_answer_from_json(extra);
    REQUIRE_FALSE(blob.ok());
    CHECK(blob.error().path == "data.blob");
    json score = answer(nullptr);
    score["data"]["score"] = 11;
    CHECK(public_answer_from_json(score).error().path == "data.score");
}

TEST_CASE("public answer: the identities it may carry") {
    const auto anonymous = public_answer_from_json(answer(nullptr));
    REQUIRE(anonymous.ok());
    CHECK(anonymous->identity.kind == AnswerIdentityKind::anonymous);
    CHECK(anonymous->event.contact == ContactPatch{});
    CHECK(anonymous->event.score() == 9);

    const auto visitor = public_answer_from_json(answer({{"visitor", "v-8f2c_1"}}));
    REQUIRE(visitor.ok());
    CHECK(visitor->identity.kind == AnswerIdentityKind::visitor);
    CHECK(visitor->identity.visitor == "v-8f2c_1");

    const auto token = public_answer_from_json(answer({{"token", "abc.def"}}));
    REQUIRE(token.ok());
    CHECK(token->identity.kind == AnswerIdentityKind::token);
    CHECK(token->identity.token == "abc.def");

    const auto signed_id = public_answer_from_json(answer({{"id", "demo-1"}, {"hash", hash64}}));
    REQUIRE(signed_id.ok());
    CHECK(signed_id->identity.kind == AnswerIdentityKind::signed_id);
    CHECK(signed_id->identity.contact_id == "demo-1");
    CHECK(signed_id->event.contact.id.empty());  // the server names it once the hash is checked
}

TEST_CASE("public answer: its own id is kept apart from integrators' event ids") {
    json j = answer(nullptr);
    j["id"] = "order-77-nps";
    const auto r = public_answer_from_json(j);
    REQUIRE(r.ok());
    CHECK(r->event.id == "pub_order-77-nps");
    j["id"] = std::string(65, 'x');
    CHECK(public_answer_from_json(j).error().path == "id");
}
