#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "closeloop/detail/json_read.h"
#include "closeloop/rfm.h"

using namespace closeloop;
using nlohmann::json;

namespace {

// 2026-11-22T00:00:00Z = day 20779 (see test_time.cpp).
const Time as_of{20779LL * ms_per_day};

Time days_ago(std::int64_t days, std::int64_t extra_ms = 0) {
    return Time{as_of.ms - days * ms_per_day - extra_ms};
}

RfmSettings settings() {
    RfmSettings s;
    s.as_of = as_of;
    return s;
}

// compute_rfm that cannot fail in these tests; on failure it reports and returns unscored
// contacts, so the checks after it fail instead of reading past the end (REQUIRE does not stop
// a test in the WASM build, which runs without exceptions).
RfmResult compute(const Purchases& p, std::uint32_t contact_count, const RfmSettings& s = settings()) {
    auto r = compute_rfm(s, contact_count, p.columns());
    if (!r.ok()) {
        FAIL_CHECK(r.error().what());
        RfmResult empty;
        empty.contacts.resize(contact_count);
        return empty;
    }
    return std::move(r).value();
}

// "r/f/m" of a contact, "0/0/0" when unscored.
std::string scores(const RfmResult& res, std::uint32_t c) {
    const RfmScore& s = res.contacts[c];
    return std::to_string(s.r) + "/" + std::to_string(s.f) + "/" + std::to_string(s.m);
}

std::string segment(const RfmResult& res, std::uint32_t c) {
    const std::string* name = res.segment_name(c);
    return name ? *name : "(none)";
}

std::vector<int> score_list(std::vector<std::int64_t> values) {
    std::vector<std::uint8_t> out(values.size());
    quintile_scores(values, out);
    return {out.begin(), out.end()};
}

// One contact per row of wanted scores (r, f, m), each a permutation of 1..5 over the five
// contacts, so every value is distinct and the score equals the rank. Recency (5 - r) * 10
// days; f purchases; a total of m * 100.00 (one purchase of m * 100 - (f - 1), the others 1.00).
Purchases five_contacts(const std::array<std::array<int, 3>, 5>& wanted) {
    Purchases p;
    for (std::uint32_t c = 0; c < 5; ++c) {
        const auto [r, f, m] = wanted[c];
        const std::int64_t latest = (5 - r) * 10;
        p.add(c, days_ago(latest), m * 100.0 - (f - 1));
        for (int k = 1; k < f; ++k) p.add(c, days_ago(latest + k), 1.0);
    }
    return p;
}

Error grid_error(const std::string& text, const std::string& path = "") {
    auto j = detail::parse_json(text);
    if (!j.ok()) return j.error();
    auto g = segment_grid_from_json(*j, path);
    if (g.ok()) return Error{"ok", "", ""};
    return g.error();
}

}  // namespace

TEST_CASE("midrank quintile scores") {
    SUBCASE("five distinct values score 1 to 5") {
        // below = 0..4, equal = 1, n = 5: 1 + floor(5 * (2b + 1) / 10) = 1 + floor(0.5, 1.5, 2.5, 3.5, 4.5)
        CHECK(score_list({10, 20, 30, 40, 50}) == std::vector<int>{1, 2, 3, 4, 5});
        // the order of the input does not matter
        CHECK(score_list({40, 10, 50, 30, 20}) == std::vector<int>{4, 1, 5, 3, 2});
    }
    SUBCASE("ten distinct values score two per quintile") {
        // n = 10: 1 + floor(5 * (2b + 1) / 20) for b = 0..9 -> floor(0.25, 0.75, 1.25, ... 4.75)
        CHECK(score_list({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}) == std::vector<int>{1, 1, 2, 2, 3, 3, 4, 4, 5, 5});
    }
    SUBCASE("one value, or all equal, scores 3") {
        // below = 0, equal = n: 1 + floor(5n / 2n) = 1 + 2
        CHECK(score_list({7}) == std::vector<int>{3});
        CHECK(score_list({7, 7, 7, 7}) == std::vector<int>{3, 3, 3, 3});
        CHECK(score_list({}).empty());
    }
    SUBCASE("a tie across a quintile boundary gets one score, from its midrank") {
        // Distinct, positions 3 and 4 would score 2 and 3. Tied (the two 4s): below = 3 (1, 2, 3),
        // equal = 2, n = 10: 1 + floor(5 * (6 + 2) / 20) = 1 + floor(2.0) = 3.
        // The 6: below = 5: 1 + floor(5 * 11 / 20) = 1 + 2 = 3. The 3: below = 2: 1 + floor(25 / 20) = 2.
        CHECK(score_list({1, 2, 3, 4, 4, 6, 7, 8, 9, 10}) == std::vector<int>{1, 1, 2, 3, 3, 3, 4, 4, 5, 5});
        // The tie at positions 1-2: below = 1, equal = 2: 1 + floor(5 * 4 / 20) = 2 (distinct: 1 and 2).
        CHECK(score_list({1, 2, 2, 4, 5, 6, 7, 8, 9, 10}) == std::vector<int>{1, 2, 2, 2, 3, 3, 4, 4, 5, 5});
        CHECK(midrank_score(3, 2, 10) == 3);
        CHECK(midrank_score(1, 2, 10) == 2);
    }
    SUBCASE("never above 5") {
        // the best of n: below = n - 1, equal = 1: 5 * (2n - 1) / 2n < 5
        CHECK(midrank_score(999'999, 1, 1'000'000) == 5);
        CHECK(midrank_score(0, 1, 1'000'000) == 1);
        CHECK(midrank_score(0, 1'000'000, 1'000'000) == 3);
    }
    SUBCASE("wide ranges (sorted) score like narrow ones (counted)") {
        const std::int64_t big = 1'000'000'000'000;
        CHECK(score_list({1 * big, 2 * big, 3 * big, 4 * big, 4 * big, 6 * big, 7 * big, 8 * big, 9 * big, 10 * big}) ==
              std::vector<int>{1, 1, 2, 3, 3, 3, 4, 4, 5, 5});
        CHECK(score_list({std::numeric_limits<std::int64_t>::min(), -5, 0, 5,
                          std::numeric_limits<std::int64_t>::max()}) == std::vector<int>{1, 2, 3, 4, 5});
        // negative values (recency is scored as minus days)
        CHECK(score_list({-9, -3, -3, -1}) == std::vector<int>{1, 3, 3, 5});  // -3: 1 + floor(5 * 4 / 8)
    }
}

TEST_CASE("FM is (F + M) / 2 rounded half up") {
    CHECK(fm_score(2, 3) == 3);  // 2.5 -> 3
    CHECK(fm_score(1, 2) == 2);  // 1.5 -> 2
    CHECK(fm_score(1, 1) == 1);
    CHECK(fm_score(5, 4) == 5);  // 4.5 -> 5
    CHECK(fm_score(1, 5) == 3);
    CHECK(fm_score(5, 5) == 5);
}

TEST_CASE("compute_rfm: aggregates and scores") {
    SUBCASE("five contacts, hand-checked") {
        Purchases p;
        p.add(0, days_ago(300), 50.00);  // c0: recency 300, F 1, M 50.00
        p.add(1, days_ago(100), 5.00);   // c1: recency 100, F 2, M 10.00
        p.add(1, days_ago(110), 5.00);
        for (int d : {10, 20, 30}) p.add(2, days_ago(d), 10.00);         // c2: recency 10, F 3, M 30.00
        for (int d : {0, 1, 2, 3}) p.add(3, days_ago(d), 5.00);          // c3: recency 0, F 4, M 20.00
        for (int d : {50, 60, 70, 80, 90}) p.add(4, days_ago(d), 8.00);  // c4: recency 50, F 5, M 40.00
        const RfmResult res = compute(p, 5);
        CHECK(res.scored_count == 5);
        CHECK(res.contacts[3].recency_days == 0);
        CHECK(res.contacts[4].frequency == 5);
        CHECK(res.contacts[0].monetary_cents == 5000);
        CHECK(res.contacts[1].monetary_cents == 1000);
        // R by fewest days: c3 (0) 5, c2 (10) 4, c4 (50) 3, c1 (100) 2, c0 (300) 1.
        // F: c0 1 ... c4 5. M: c1 (10) 1, c3 (20) 2, c2 (30) 3, c4 (40) 4, c0 (50) 5.
        CHECK(scores(res, 0) == "1/1/5");  // FM (1 + 5 + 1) / 2 = 3; R1 FM3 -> At Risk
        CHECK(scores(res, 1) == "2/2/1");  // FM (2 + 1 + 1) / 2 = 2; R2 FM2 -> Hibernating
        CHECK(scores(res, 2) == "4/3/3");  // FM 3; R4 FM3 -> Potential Loyalist
        CHECK(scores(res, 3) == "5/4/2");  // FM (4 + 2 + 1) / 2 = 3; R5 FM3 -> Potential Loyalist
        CHECK(scores(res, 4) == "3/5/4");  // FM (5 + 4 + 1) / 2 = 5; R3 FM5 -> Loyal
        CHECK(res.contacts[0].fm == 3);
        CHECK(res.contacts[4].fm == 5);
        CHECK(segment(res, 0) == "At Risk");
        CHECK(segment(res, 1) == "Hibernating");
        CHECK(segment(res, 2) == "Potential Loyalist");
        CHECK(segment(res, 3) == "Potential Loyalist");
        CHECK(segment(res, 4) == "Loyal");
    }
    SUBCASE("the order of purchases does not matter") {
        Purchases p;
        p.add(0, days_ago(3), 1.0);
        p.add(1, days_ago(1), 2.0);
        p.add(0, days_ago(7), 4.0);
        p.add(2, days_ago(2), 0.5);
        Purchases reversed;
        for (std::size_t i = p.size(); i-- > 0;) reversed.add(p.contact[i], p.time[i], p.amount[i]);
        const RfmResult a = compute(p, 3), b = compute(reversed, 3);
        for (std::uint32_t c = 0; c < 3; ++c) {
            CAPTURE(c);
            CHECK(scores(a, c) == scores(b, c));
            CHECK(segment(a, c) == segment(b, c));
            CHECK(a.contacts[c].monetary_cents == b.contacts[c].monetary_cents);
        }
    }
    SUBCASE("recency is whole days, rounded down") {
        Purchases p;
        p.add(0, days_ago(1, ms_per_day / 2), 1.0);  // 1.5 days ago -> 1
        p.add(1, days_ago(0, ms_per_day - 1), 1.0);  // 1 ms short of a day -> 0
        p.add(2, days_ago(2), 1.0);                  // exactly 2 days -> 2
        const RfmResult res = compute(p, 3);
        CHECK(res.contacts[0].recency_days == 1);
        CHECK(res.contacts[1].recency_days == 0);
        CHECK(res.contacts[2].recency_days == 2);
    }
    SUBCASE("amounts are rounded to cents one by one, so equal spends tie exactly") {
        Purchases p;
        p.add(0, days_ago(1), 0.1);  // c0: 10 + 20 = 30 cents (0.1 + 0.2 is 0.30000000000000004 in double)
        p.add(0, days_ago(2), 0.2);
        p.add(1, days_ago(1), 0.3);     // c1: 30 cents
        p.add(2, days_ago(1), 19.999);  // c2: 1999.9 -> 2000 cents
        p.add(3, days_ago(1), 0.004);   // c3: 0.4 -> 0 cents
        const RfmResult res = compute(p, 4);
        CHECK(res.contacts[0].monetary_cents == 30);
        CHECK(res.contacts[1].monetary_cents == 30);
        CHECK(res.contacts[2].monetary_cents == 2000);
        CHECK(res.contacts[3].monetary_cents == 0);
        // M over n = 4: c3 (0) below 0: 1 + floor(5 * 1 / 8) = 1; c0, c1 (30) below 1, equal 2:
        // 1 + floor(5 * 4 / 8) = 3; c2 (2000) below 3: 1 + floor(5 * 7 / 8) = 5.
        CHECK(res.contacts[3].m == 1);
        CHECK(res.contacts[0].m == 3);
        CHECK(res.contacts[1].m == 3);
        CHECK(res.contacts[2].m == 5);
    }
    SUBCASE("recency ties across a quintile boundary") {
        // 10 contacts, one purchase each, days ago 0,1,2,3,3,5,6,7,8,9. Worse = more days.
        Purchases p;
        const int ago[10] = {0, 1, 2, 3, 3, 5, 6, 7, 8, 9};
        for (std::uint32_t c = 0; c < 10; ++c) p.add(c, days_ago(ago[c]), 10.0);
        const RfmResult res = compute(p, 10);
        // days 0: below 9 -> 1 + floor(5 * 19 / 20) = 5;  days 1: below 8 -> 1 + floor(85 / 20) = 5
        // days 2: below 7 -> 1 + floor(75 / 20) = 4;      days 3 (x2): below 5 (5..9), equal 2
        //                                                   -> 1 + floor(5 * 12 / 20) = 4
        // days 5: below 4 -> 1 + floor(45 / 20) = 3;      days 6: 1 + floor(35 / 20) = 2
        // days 7: 1 + floor(25 / 20) = 2;  days 8: 1 + floor(15 / 20) = 1;  days 9: 1
        const int want_r[10] = {5, 5, 4, 4, 4, 3, 2, 2, 1, 1};
        for (std::uint32_t c = 0; c < 10; ++c) {
            CAPTURE(c);
            CHECK(res.contacts[c].r == want_r[c]);
            CHECK(res.contacts[c].f == 3);  // all F = 1 and M = 10.00: all equal -> 3, FM 3
            CHECK(res.contacts[c].m == 3);
        }
        CHECK(segment(res, 3) == "Potential Loyalist");  // R4 FM3
        CHECK(segment(res, 4) == "Potential Loyalist");
        CHECK(segment(res, 5) == "Need Attention");  // R3 FM3
        CHECK(segment(res, 9) == "At Risk");         // R1 FM3
    }
}

TEST_CASE("compute_rfm: edges") {
    SUBCASE("no purchases at all") {
        const RfmResult res = compute(Purchases{}, 3);
        CHECK(res.scored_count == 0);
        REQUIRE(res.contacts.size() == 3);
        for (std::uint32_t c = 0; c < 3; ++c) {
            CHECK_FALSE(res.contacts[c].scored());
            CHECK(scores(res, c) == "0/0/0");
            CHECK(res.segment_name(c) == nullptr);
            CHECK_FALSE(res.card(c).has_value());
            CHECK(rfm_card_json(res.card(c)).is_null());
        }
        CHECK(compute(Purchases{}, 0).contacts.empty());
    }
    SUBCASE("one contact scores 3/3/3: Need Attention") {
        Purchases p;
        p.add(0, days_ago(40), 12.5);
        p.add(0, days_ago(20), 7.5);
        const RfmResult res = compute(p, 1);
        CHECK(scores(res, 0) == "3/3/3");  // below 0, equal 1, n 1: 1 + floor(5 / 2) = 3
        CHECK(segment(res, 0) == "Need Attention");
        CHECK(res.contacts[0].recency_days == 20);
        CHECK(res.contacts[0].frequency == 2);
        CHECK(res.contacts[0].monetary_cents == 2000);
    }
    SUBCASE("purchases outside the window are ignored") {
        Purchases p;
        p.add(0, days_ago(365, 1), 1000.0);  // 1 ms before the window start
        p.add(0, days_ago(10), 1.0);
        p.add(1, Time{as_of.ms + 1}, 1000.0);  // 1 ms after as_of
        p.add(1, days_ago(30), 2.0);
        p.add(2, days_ago(400), 5.0);  // only outside: no segment
        p.add(2, Time{as_of.ms + ms_per_day}, 5.0);
        const RfmResult res = compute(p, 3);
        CHECK(res.contacts[0].frequency == 1);
        CHECK(res.contacts[0].monetary_cents == 100);
        CHECK(res.contacts[0].recency_days == 10);
        CHECK(res.contacts[1].frequency == 1);
        CHECK(res.contacts[1].monetary_cents == 200);
        CHECK(res.contacts[1].recency_days == 30);
        CHECK(res.scored_count == 2);
        CHECK(res.segment_name(2) == nullptr);
        CHECK(res.contacts[2].frequency == 0);
    }
    SUBCASE("purchases exactly at the window start and at as_of count") {
        Purchases p;
        p.add(0, days_ago(365), 3.0);  // as_of - 365 days exactly: recency 365
        p.add(1, as_of, 4.0);          // as_of: recency 0
        const RfmResult res = compute(p, 2);
        CHECK(res.scored_count == 2);
        CHECK(res.contacts[0].recency_days == 365);
        CHECK(res.contacts[1].recency_days == 0);
        // n = 2: the worse below 0 -> 1 + floor(5 / 4) = 2; the better below 1 -> 1 + floor(15 / 4) = 4
        CHECK(scores(res, 0) == "2/3/2");  // F tie (1 each) -> 3; M 300 < 400
        CHECK(scores(res, 1) == "4/3/4");
        SUBCASE("and a shorter window") {
            RfmSettings s = settings();
            s.window_days = 30;
            const RfmResult short_window = compute(p, 2, s);
            CHECK(short_window.scored_count == 1);
            CHECK_FALSE(short_window.contacts[0].scored());
            CHECK(scores(short_window, 1) == "3/3/3");
        }
    }
}

TEST_CASE("the default grid") {
    const SegmentGrid g = default_segment_grid();
    SUBCASE("matches DOMAIN.md") {
        CHECK(g.at(5, 1) == "New Customers");
        CHECK(g.at(5, 5) == "Champions");
        CHECK(g.at(4, 5) == "Champions");
        CHECK(g.at(3, 2) == "About to Sleep");
        CHECK(g.at(2, 5) == "Cannot Lose");
        CHECK(g.at(1, 3) == "At Risk");
        CHECK(g.at(1, 1) == "Lost");
        CHECK(g.names() == std::vector<std::string>{"New Customers", "Potential Loyalist", "Champions", "Promising",
                                                    "Loyal", "About to Sleep", "Need Attention", "Hibernating",
                                                    "At Risk", "Cannot Lose", "Lost"});
        CHECK_FALSE(validate(g).has_value());
    }
    SUBCASE("all 11 segments are reachable") {
        // Three runs of five contacts with chosen (r, f, m); the comment gives FM and the cell.
        const RfmResult a = compute(five_contacts({{{5, 1, 1},     // FM 1: R5 -> New Customers
                                                    {2, 5, 5},     // FM 5: R2 -> Cannot Lose
                                                    {3, 3, 3},     // FM 3: R3 -> Need Attention
                                                    {4, 4, 4},     // FM 4: R4 -> Loyal
                                                    {1, 2, 2}}}),  // FM 2: R1 -> Lost
                                    5);
        const RfmResult b = compute(five_contacts({{{5, 5, 5},     // FM 5: R5 -> Champions
                                                    {4, 1, 1},     // FM 1: R4 -> Promising
                                                    {3, 2, 2},     // FM 2: R3 -> About to Sleep
                                                    {2, 3, 4},     // FM (3 + 4 + 1) / 2 = 4: R2 -> At Risk
                                                    {1, 4, 3}}}),  // FM 4: R1 -> Cannot Lose
                                    5);
        const RfmResult c = compute(five_contacts({{{5, 1, 2},     // FM (1 + 2 + 1) / 2 = 2: R5 -> Potential Loyalist
                                                    {2, 2, 1},     // FM 2: R2 -> Hibernating
                                                    {4, 3, 3},     // FM 3: R4 -> Potential Loyalist
                                                    {3, 4, 4},     // FM 4: R3 -> Loyal
                                                    {1, 5, 5}}}),  // FM 5: R1 -> Cannot Lose
                                    5);
        const std::vector<std::string> want_a{"New Customers", "Cannot Lose", "Need Attention", "Loyal", "Lost"};
        const std::vector<std::string> want_b{"Champions", "Promising", "About to Sleep", "At Risk", "Cannot Lose"};
        const std::vector<std::string> want_c{"Potential Loyalist", "Hibernating", "Potential Loyalist", "Loyal",
                                              "Cannot Lose"};
        std::vector<std::string> seen;
        for (std::uint32_t k = 0; k < 5; ++k) {
            CAPTURE(k);
            CHECK(segment(a, k) == want_a[k]);
            CHECK(segment(b, k) == want_b[k]);
            CHECK(segment(c, k) == want_c[k]);
            for (const RfmResult* res : {&a, &b, &c})
                if (res->segment_name(k)) seen.push_back(*res->segment_name(k));
        }
        CHECK(scores(c, 0) == "5/1/2");
        CHECK(c.contacts[0].fm == 2);
        for (const std::string& name : g.names()) {
            CAPTURE(name);
            CHECK(std::find(seen.begin(), seen.end(), name) != seen.end());
        }
    }
}

TEST_CASE("an edited grid") {
    RfmSettings s = settings();
    for (auto& row : s.grid.cells)
        for (auto& cell : row)
            if (cell == "Champions") cell = "VIP";
    s.grid.at(3, 3) = "Watch";
    REQUIRE_FALSE(validate(s).has_value());

    Purchases p;
    p.add(0, days_ago(5), 10.0);  // one contact: 3/3/3 -> cell (3, 3)
    const RfmResult one = compute(p, 1, s);
    CHECK(segment(one, 0) == "Watch");
    CHECK(std::find(one.segment_names.begin(), one.segment_names.end(), "Need Attention") == one.segment_names.end());

    const RfmResult top = compute(five_contacts({{{5, 5, 5}, {4, 1, 1}, {3, 2, 2}, {2, 3, 4}, {1, 4, 3}}}), 5, s);
    CHECK(segment(top, 0) == "VIP");
    CHECK(segment(top, 1) == "Promising");

    SUBCASE("it survives a JSON round trip") {
        const json j = s.grid;
        CHECK(j["rows"]["3"][2] == "Watch");
        CHECK(j["rows"]["5"][4] == "VIP");
        auto back = segment_grid_from_json(j);
        REQUIRE(back.ok());
        CHECK(*back == s.grid);
    }
}

TEST_CASE("grid JSON") {
    SUBCASE("the default grid reads back") {
        const json j = default_segment_grid();
        CHECK(j["rows"]["5"] ==
              json{"New Customers", "Potential Loyalist", "Potential Loyalist", "Champions", "Champions"});
        CHECK(j["rows"]["1"][0] == "Lost");
        auto g = segment_grid_from_json(j);
        REQUIRE(g.ok());
        CHECK(*g == default_segment_grid());
    }
    SUBCASE("invalid grids name their place") {
        const std::string ok_row = R"(["a","b","c","d","e"])";
        const std::string rows_1_to_4 =
            R"("4":)" + ok_row + R"(,"3":)" + ok_row + R"(,"2":)" + ok_row + R"(,"1":)" + ok_row;
        struct Case {
            std::string text, path, message_part;
        };
        const Case cases[] = {
            {"[]", "", "must be an object"},
            {"{}", "rows", "is required"},
            {R"({"rows": [], "colour": 1})", "colour", "not a known field"},
            {R"({"rows": []})", "rows", "must be an object"},
            {R"({"rows": {)" + rows_1_to_4 + "}}", "rows.5", "is required"},
            {R"({"rows": {"6":)" + ok_row + "," + rows_1_to_4 + "}}", "rows.6", "not a known field"},
            {R"({"rows": {"5": ["a","b","c","d"],)" + rows_1_to_4 + "}}", "rows.5", "5 segment names"},
            {R"({"rows": {"5": "Champions",)" + rows_1_to_4 + "}}", "rows.5", "5 segment names"},
            {R"({"rows": {"5": ["a",7,"c","d","e"],)" + rows_1_to_4 + "}}", "rows.5[1]", "not an integer"},
            {R"({"rows": {"5": ["a","b","","d","e"],)" + rows_1_to_4 + "}}", "rows.5[2]", "not empty"},
            {R"({"rows": {"5": ["a","b","c","d","  "],)" + rows_1_to_4 + "}}", "rows.5[4]", "not empty"},
            {R"({"rows": {"5": ["a","b","c","d",")" + std::string(65, 'x') + R"("],)" + rows_1_to_4 + "}}", "rows.5[4]",
             "at most 64"},
        };
        for (const Case& c : cases) {
            CAPTURE(c.text);
            const Error e = grid_error(c.text);
            CHECK(e.path == c.path);
            CHECK(e.message.find(c.message_part) != std::string::npos);
        }
        // a 64-character name is fine
        CHECK(grid_error(R"({"rows": {"5": ["a","b","c","d",")" + std::string(64, 'x') + R"("],)" + rows_1_to_4 + "}}")
                  .code == "ok");
        // errors sit under the grid's place in the document
        CHECK(grid_error(R"({"rows": {"5": ["a","b","","d","e"],)" + rows_1_to_4 + "}}", "settings.grid").path ==
              "settings.grid.rows.5[2]");
        CHECK(grid_error(R"({"rows": {"5": ["a",null,"c","d","e"],)" + rows_1_to_4 + "}}", "settings.grid").path ==
              "settings.grid.rows.5[1]");
    }
    SUBCASE("a grid edited in code is validated too") {
        SegmentGrid g = default_segment_grid();
        g.at(2, 4) = "";
        const auto e = validate(g);
        REQUIRE(e.has_value());
        CHECK(e->path == "rows.2[3]");
    }
}

TEST_CASE("settings") {
    SUBCASE("defaults") {
        const RfmSettings s;
        CHECK(s.window_days == 365);
        CHECK(s.grid == default_segment_grid());
        CHECK_FALSE(validate(s).has_value());
    }
    SUBCASE("a window of 0 days is invalid, and compute_rfm says so") {
        RfmSettings s = settings();
        s.window_days = 0;
        const auto e = validate(s);
        REQUIRE(e.has_value());
        CHECK(e->path == "window_days");
        Purchases p;
        p.add(0, as_of, 1.0);
        const auto r = compute_rfm(s, 1, p.columns());
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().path == "window_days");
        s.window_days = max_window_days + 1;
        CHECK(validate(s).has_value());
        s.window_days = 1;
        CHECK_FALSE(validate(s).has_value());
    }
    SUBCASE("an invalid grid in the settings") {
        RfmSettings s = settings();
        s.grid.at(1, 1) = " ";
        const auto r = compute_rfm(s, 0, PurchaseColumns{});
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().path == "grid.rows.1[0]");
    }
    SUBCASE("JSON round trip") {
        RfmSettings s = settings();
        s.window_days = 90;
        s.grid.at(5, 5) = "Stars";
        const json j = s;
        CHECK(j["as_of"] == "2026-11-22T00:00:00Z");
        CHECK(j["window_days"] == 90);
        auto back = rfm_settings_from_json(j, Time{0});
        REQUIRE(back.ok());
        CHECK(*back == s);
    }
    SUBCASE("every field is optional when read; as_of falls back to the argument") {
        auto s = rfm_settings_from_json(json::object(), as_of);
        REQUIRE(s.ok());
        CHECK(s->as_of == as_of);
        CHECK(s->window_days == 365);
        CHECK(s->grid == default_segment_grid());
    }
    SUBCASE("invalid settings JSON") {
        struct Case {
            const char* text;
            const char* path;
        };
        const Case cases[] = {
            {R"({"window_days": 0})", "rfm.window_days"},
            {R"({"window_days": "365"})", "rfm.window_days"},
            {R"({"window_days": 36601})", "rfm.window_days"},
            {R"({"as_of": "yesterday"})", "rfm.as_of"},
            {R"({"window": 30})", "rfm.window"},
            {R"({"grid": {"rows": {}}})", "rfm.grid.rows.5"},
            {R"("all")", "rfm"},
        };
        for (const Case& c : cases) {
            CAPTURE(c.text);
            auto j = detail::parse_json(c.text);
            REQUIRE(j.ok());
            auto s = rfm_settings_from_json(*j, as_of, "rfm");
            REQUIRE_FALSE(s.ok());
            CHECK(s.error().path == c.path);
        }
    }
}

TEST_CASE("invalid purchases are errors naming the purchase") {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double inf = std::numeric_limits<double>::infinity();
    SUBCASE("amounts") {
        for (const double bad : {-0.01, nan, inf, -inf, 1e13}) {
            CAPTURE(bad);
            Purchases p;
            p.add(0, days_ago(1), 5.0);
            p.add(1, days_ago(2), 5.0);
            p.add(1, days_ago(3), bad);
            const auto r = compute_rfm(settings(), 2, p.columns());
            REQUIRE_FALSE(r.ok());
            CHECK(r.error().path == "purchases[2].amount");
            CHECK(r.error().code == "invalid_field");
        }
    }
    SUBCASE("even outside the window") {
        Purchases p;
        p.add(0, days_ago(1000), -5.0);
        const auto r = compute_rfm(settings(), 1, p.columns());
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().path == "purchases[0].amount");
    }
    SUBCASE("zero and the largest amount are fine") {
        Purchases p;
        p.add(0, days_ago(1), 0.0);
        p.add(0, days_ago(1), max_purchase_amount);
        const RfmResult res = compute(p, 1);
        CHECK(res.contacts[0].monetary_cents == 100'000'000'000'000);
    }
    SUBCASE("a contact index out of range") {
        Purchases p;
        p.add(0, days_ago(1), 1.0);
        p.add(2, days_ago(1), 1.0);
        const auto r = compute_rfm(settings(), 2, p.columns());
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().path == "purchases[1].contact");
    }
    SUBCASE("columns of different lengths") {
        Purchases p;
        p.add(0, days_ago(1), 1.0);
        p.amount.push_back(2.0);
        const auto r = compute_rfm(settings(), 1, p.columns());
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().path == "purchases");
    }
}

TEST_CASE("the card's rfm JSON") {
    Purchases p;
    p.add(0, days_ago(12), 459.90);
    const RfmResult res = compute(p, 2);
    SUBCASE("a scored contact") {
        const auto card = res.card(0);
        REQUIRE(card.has_value());
        const json j = rfm_card_json(card);
        CHECK(j == json::parse(R"({"r": 3, "f": 3, "m": 3, "segment": "Need Attention",
                                   "recency_days": 12, "frequency": 1, "monetary_cents": 45990})"));
        auto back = contact_rfm_from_json(j);
        REQUIRE(back.ok());
        REQUIRE(back->has_value());
        CHECK(**back == *card);
    }
    SUBCASE("no purchase in the window is null") {
        CHECK(rfm_card_json(res.card(1)).is_null());
        auto back = contact_rfm_from_json(json(nullptr));
        REQUIRE(back.ok());
        CHECK_FALSE(back->has_value());
    }
    SUBCASE("the contract's short form reads; bad ones name the field") {
        auto r = contact_rfm_from_json(json::parse(R"({ "r": 4, "f": 3, "m": 5, "segment": "Loyal" })"));
        REQUIRE(r.ok());
        REQUIRE(r->has_value());
        CHECK((*r)->r == 4);
        CHECK((*r)->segment == "Loyal");
        CHECK((*r)->frequency == 0);

        auto bad = contact_rfm_from_json(json::parse(R"({ "r": 6, "f": 3, "m": 5, "segment": "Loyal" })"), "rfm");
        REQUIRE_FALSE(bad.ok());
        CHECK(bad.error().path == "rfm.r");
        bad = contact_rfm_from_json(json::parse(R"({ "r": 4, "f": 3, "m": 5 })"), "rfm");
        REQUIRE_FALSE(bad.ok());
        CHECK(bad.error().path == "rfm.segment");
        bad = contact_rfm_from_json(json::parse(R"({ "r": 4, "f": 3, "m": 5, "segment": " " })"), "rfm");
        REQUIRE_FALSE(bad.ok());
        CHECK(bad.error().path == "rfm.segment");
        bad = contact_rfm_from_json(json::parse(R"({ "r": 4, "f": 3, "m": 5, "segmnet": "Loyal" })"), "rfm");
        REQUIRE_FALSE(bad.ok());
        CHECK(bad.error().path == "rfm.segmnet");  // a typo is named, not taken as a missing segment
    }
}

TEST_CASE("RfmEdges: a contact scored between computations") {
    // 40 contacts with spread and tied aggregates: c buys (c % 7) + 1 times, the latest
    // (c * 3) % 50 days ago, for (c % 11) * 10.00 + 10.99 in all.
    Purchases p;
    const std::uint32_t n = 40;
    for (std::uint32_t c = 0; c < n; ++c) {
        const int count = static_cast<int>(c % 7) + 1;
        const std::int64_t latest = (c * 3) % 50;
        p.add(c, days_ago(latest), (c % 11) * 10.0 + 10.99 - (count - 1));
        for (int k = 1; k < count; ++k) p.add(c, days_ago(latest + k), 1.0);
    }
    const RfmResult res = compute(p, n);
    const auto edges = rfm_edges(res, settings());
    REQUIRE(edges.has_value());
    if (!edges) return;

    SUBCASE("the aggregates of a contact in the computation get its scores and segment") {
        for (std::uint32_t c = 0; c < n; ++c) {
            CAPTURE(c);
            const RfmScore& s = res.contacts[c];
            const ContactRfm got = score_with_edges(*edges, s.recency_days, s.frequency, s.monetary_cents);
            CHECK(got == res.card(c).value_or(ContactRfm{}));
        }
    }
    SUBCASE("beyond every contact: the best score there was; below: 1") {
        const ContactRfm best = score_with_edges(*edges, 0, 1000, 1'000'000'00);
        CHECK(best.r == 5);
        CHECK(best.f == 5);
        CHECK(best.m == 5);
        CHECK(best.segment == "Champions");
        const ContactRfm worst = score_with_edges(*edges, 365, 1, 0);
        CHECK(worst.r == 1);
        CHECK(worst.f == 1);
        CHECK(worst.m == 1);
        CHECK(worst.segment == "Lost");
    }
    SUBCASE("scores never fall as an aggregate improves") {
        int last = 1;
        for (std::int64_t cents = 0; cents < 12000; cents += 37) {
            const int m = score_with_edges(*edges, 10, 2, cents).m;
            CHECK(m >= last);
            last = m;
        }
        CHECK(last == 5);
    }
    SUBCASE("score_contact aggregates as compute_rfm does") {
        const std::array<Time, 3> times = {days_ago(3, 5), days_ago(400), Time{as_of.ms + 1}};
        const std::array<double, 3> amounts = {10.005, 99.0, 99.0};  // outside the window: the last two
        const auto got = score_contact(*edges, as_of, times, amounts);
        REQUIRE(got.has_value());
        if (!got) return;
        CHECK(got->recency_days == 3);
        CHECK(got->frequency == 1);
        CHECK(got->monetary_cents == 1001);  // rounded half up to cents
        CHECK(*got == score_with_edges(*edges, 3, 1, 1001));
        CHECK_FALSE(score_contact(*edges, as_of, std::span<const Time>(times).subspan(1),
                                  std::span<const double>(amounts).subspan(1)));
    }
    SUBCASE("an edited grid names the segment") {
        RfmSettings s = settings();
        s.grid.at(5, 5) = "Stars";
        const auto edited = rfm_edges(res, s);
        REQUIRE(edited.has_value());
        if (edited) CHECK(score_with_edges(*edited, 0, 1000, 1'000'000'00).segment == "Stars");
    }
    SUBCASE("JSON round trip; errors name the field") {
        const nlohmann::json j = *edges;
        const auto back = rfm_edges_from_json(j);
        REQUIRE(back.ok());
        if (back) CHECK(*back == *edges);
        nlohmann::json bad = j;
        bad["f"] = nlohmann::json::array({1, 2});
        const auto e = rfm_edges_from_json(bad, "rfm_edges");
        REQUIRE_FALSE(e.ok());
        if (!e) CHECK(e.error().path == "rfm_edges.f");
        bad = j;
        bad["m"][2] = "x";
        const auto e2 = rfm_edges_from_json(bad);
        REQUIRE_FALSE(e2.ok());
        if (!e2) CHECK(e2.error().path == "m[2]");
    }
}

TEST_CASE("RfmEdges: one contact scored, edges it did not reach are null; none scored, no edges") {
    Purchases p;
    p.add(0, days_ago(20), 20.0);
    const RfmResult one = compute(p, 2);
    const auto edges = rfm_edges(one, settings());
    REQUIRE(edges.has_value());
    if (!edges) return;
    // It scored 3/3/3: edges for 2 and 3 at its values, none for 4 and 5.
    CHECK(edges->f[0] == 1);
    CHECK(edges->f[1] == 1);
    CHECK_FALSE(edges->f[2].has_value());
    CHECK_FALSE(edges->f[3].has_value());
    CHECK(edges->r[1] == -20);
    CHECK(score_with_edges(*edges, 5, 9, 99999).r == 3);
    CHECK(score_with_edges(*edges, 21, 1, 2000).r == 1);
    CHECK(nlohmann::json(*edges)["f"] == nlohmann::json::parse("[1, 1, null, null]"));
    CHECK_FALSE(rfm_edges(compute(Purchases{}, 3), settings()).has_value());
}
