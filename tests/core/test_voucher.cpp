#include <doctest/doctest.h>

#include "closeloop/detail/json_read.h"
#include "closeloop/voucher.h"

using namespace closeloop;
using nlohmann::json;

namespace {
json parse(const char* text) {
    return detail::parse_json(text).value();
}
Time at(const char* text) {
    return parse_time(text).value();
}
}  // namespace

TEST_CASE("the contract's voucher campaign example round-trips") {
    const json doc = parse(R"({ "id": "nps-apology-20", "name": "NPS apology, 20 EUR", "value": 20, "currency": "EUR",
        "valid_for": "P2M", "scope": { "brands": [], "product_groups": [], "products": [] } })");
    auto c = voucher_campaign_from_json(doc);
    REQUIRE(c.ok());
    CHECK(c->value == 20);
    CHECK(c->currency == "EUR");
    CHECK(c->scope.whole_assortment());
    CHECK(json(*c) == doc);
    auto again = voucher_campaign_from_json(json(*c));
    REQUIRE(again.ok());
    CHECK(*again == *c);
}

TEST_CASE("voucher expiry counts calendar months from the assignment, or is fixed") {
    auto c = voucher_campaign_from_json(parse(R"({"id":"a","name":"A","value":5,"currency":"CZK","valid_for":"P2M"})"));
    REQUIRE(c.ok());
    CHECK(voucher_expiry(*c, at("2026-12-31T10:00:00Z")) == at("2027-02-28T10:00:00Z"));

    auto fixed =
        voucher_campaign_from_json(parse(R"({"id":"b","name":"B","percent":15,"valid_until":"2027-01-01T00:00:00Z"})"));
    REQUIRE(fixed.ok());
    CHECK(voucher_expiry(*fixed, at("2026-12-01T00:00:00Z")) == at("2027-01-01T00:00:00Z"));

    auto forever = voucher_campaign_from_json(parse(R"({"id":"c","name":"C","percent":10})"));
    REQUIRE(forever.ok());
    CHECK_FALSE(voucher_expiry(*forever, at("2026-12-01T00:00:00Z")).has_value());
}

TEST_CASE("a bad campaign names its field") {
    const std::pair<const char*, const char*> cases[] = {
        {R"({"name":"A","value":5,"currency":"EUR"})", "id"},
        {R"({"id":"-x","name":"A","value":5,"currency":"EUR"})", "id"},
        {R"({"id":"a b","name":"A","value":5,"currency":"EUR"})", "id"},
        {R"({"id":"a","value":5,"currency":"EUR"})", "name"},
        {R"({"id":"a","name":"A"})", "value"},
        {R"({"id":"a","name":"A","value":5})", "currency"},
        {R"({"id":"a","name":"A","value":-1,"currency":"EUR"})", "value"},
        {R"({"id":"a","name":"A","value":"5","currency":"EUR"})", "value"},
        {R"({"id":"a","name":"A","value":5,"currency":"eur"})", "currency"},
        {R"({"id":"a","name":"A","value":5,"currency":"EUR","percent":5})", "percent"},
        {R"({"id":"a","name":"A","percent":101})", "percent"},
        {R"({"id":"a","name":"A","percent":0})", "percent"},
        {R"({"id":"a","name":"A","value":5,"currency":"EUR","valid_for":"2 months"})", "valid_for"},
        {R"({"id":"a","name":"A","value":5,"currency":"EUR","valid_for":"P0D"})", "valid_for"},
        {R"({"id":"a","name":"A","value":5,"currency":"EUR","valid_for":"P1M","valid_until":"2027-01-01T00:00:00Z"})",
         "valid_until"},
        {R"({"id":"a","name":"A","value":5,"currency":"EUR","scope":{"brands":"x"}})", "scope.brands"},
        {R"({"id":"a","name":"A","value":5,"currency":"EUR","scope":{"brand":[]}})", "scope.brand"},
        {R"({"id":"a","name":"A","value":5,"currency":"EUR","colour":"red"})", "colour"},
    };
    for (const auto& [text, field] : cases) {
        CAPTURE(text);
        auto c = voucher_campaign_from_json(parse(text), "");
        REQUIRE_FALSE(c.ok());
        CHECK(c.error().path == field);
    }
    auto nested = voucher_campaign_from_json(parse(R"({"id":"a","name":"A"})"), "campaigns[2]");
    REQUIRE_FALSE(nested.ok());
    CHECK(nested.error().path == "campaigns[2].value");
}

TEST_CASE("resource ids") {
    CHECK(is_valid_resource_id("nps-apology-20"));
    CHECK(is_valid_resource_id("A.b_c-1"));
    CHECK_FALSE(is_valid_resource_id(""));
    CHECK_FALSE(is_valid_resource_id("_x"));
    CHECK_FALSE(is_valid_resource_id("a/b"));
    CHECK_FALSE(is_valid_resource_id(std::string(129, 'a')));
}
