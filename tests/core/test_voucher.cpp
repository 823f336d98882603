#include <doctest/doctest.h>

#include "closeloop/detail/json_read.h"
#include "closeloop/voucher.h"

using namespace closeloop;
using nlohmann::json;

namespace {
json campaign(const char* valid_for, const char* currency = "CZK") {
    return {{"id", "welcome"}, {"name", "Welcome"}, {"value", 200}, {"currency", currency}, {"valid_for", valid_for}};
}
}  // namespace

TEST_CASE("a campaign's validity is at most max_voucher_validity (P10Y)") {
    for (const char* ok : {"P2M", "P10Y", "P120M", "P3652D"}) {
        CAPTURE(ok);
        CHECK(voucher_campaign_from_json(campaign(ok)).ok());
    }
    // P99999999Y gave vouchers that expired in the year -5911 (issue 13).
    for (const char* over : {"P10YT1S", "P121M", "P3653D", "P11Y", "P99999999Y"}) {
        CAPTURE(over);
        auto c = voucher_campaign_from_json(campaign(over));
        REQUIRE_FALSE(c.ok());
        CHECK(c.error().path == "valid_for");
        const bool named = c.error().message.find("max_voucher_validity") != std::string::npos ||
                           c.error().message.find("max_duration") != std::string::npos;
        CHECK(named);
    }
    const Time at = parse_time("2026-11-22T10:00:00Z").value();
    CHECK(format_time(voucher_expiry(*voucher_campaign_from_json(campaign("P10Y")), at)) == "2036-11-22T10:00:00Z");
}

TEST_CASE("a campaign's currency is an active ISO 4217 code") {
    auto c = voucher_campaign_from_json(campaign("P2M", "XYZ"), "campaigns[0]");
    REQUIRE_FALSE(c.ok());
    CHECK(c.error().path == "campaigns[0].currency");
    CHECK(voucher_campaign_from_json(campaign("P2M", "PLN")).ok());
}

TEST_CASE("stored campaigns keep loading after the rules tightened (Check::stored)") {
    for (const json& doc : {campaign("P20Y"), campaign("P2M", "HRK")}) {
        CAPTURE(doc.dump());
        CHECK_FALSE(voucher_campaign_from_json(doc).ok());
        auto stored = voucher_campaign_from_json(doc, "", Check::stored);
        REQUIRE(stored.ok());
        CHECK(json(*stored)["valid_for"] == doc["valid_for"]);
    }
    // What reading itself needs is still checked.
    CHECK_FALSE(voucher_campaign_from_json(json{{"id", "x"}}, "", Check::stored).ok());
}
