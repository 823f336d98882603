#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <map>
#include <utility>
#include <vector>

#include "closeloop/metrics.h"

using namespace closeloop;
using json = nlohmann::json;

namespace {

std::int64_t ms(const char* rfc3339) {
    return parse_time(rfc3339).value().ms;
}
std::int64_t day(const char* rfc3339) {
    return day_number(parse_time(rfc3339).value());
}

NpsTally tally(std::uint64_t promoters, std::uint64_t passives, std::uint64_t detractors) {
    return {promoters, passives, detractors};
}

// Columns owned by a test, viewed as ResponseColumns.
struct Columns {
    std::vector<std::int64_t> times;
    std::vector<std::uint8_t> scores;
    std::vector<std::uint32_t> groups;
    std::vector<std::string> names;

    void add(const char* time, int score, std::uint32_t group = 0) { add_ms(ms(time), score, group); }
    void add_ms(std::int64_t t, int score, std::uint32_t group = 0) {
        times.push_back(t);
        scores.push_back(static_cast<std::uint8_t>(score));
        groups.push_back(group);
    }
    ResponseColumns view() const { return {times, scores, groups, names}; }
    ResponseColumns ungrouped() const { return {times, scores, {}, names}; }
};

const NpsRow* find_row(const NpsRollup& r, const std::string& period, const std::string& group) {
    for (const auto& row : r.rows)
        if (row.period == period && row.group == group) return &row;
    return nullptr;
}

}  // namespace

TEST_CASE("NPS classes and score ranges") {
    SUBCASE("promoter 9-10, passive 7-8, detractor 0-6") {
        for (int s = 0; s <= 6; ++s) CHECK(nps_class(s) == NpsClass::detractor);
        CHECK(nps_class(7) == NpsClass::passive);
        CHECK(nps_class(8) == NpsClass::passive);
        CHECK(nps_class(9) == NpsClass::promoter);
        CHECK(nps_class(10) == NpsClass::promoter);
        CHECK(nps_class_name(NpsClass::passive) == "passive");
    }
    SUBCASE("scores outside 0-10 have no class") {
        CHECK_FALSE(nps_class(-1).has_value());
        CHECK_FALSE(nps_class(11).has_value());
        CHECK_FALSE(is_nps_score(11));
    }
    SUBCASE("CSAT is 1-5") {
        CHECK_FALSE(is_csat_score(0));
        CHECK(is_csat_score(1));
        CHECK(is_csat_score(5));
        CHECK_FALSE(is_csat_score(6));
    }
}

TEST_CASE("score bands are data") {
    const ScoreBands defaults = default_score_bands();

    SUBCASE("the default bands of seed 004") {
        REQUIRE(defaults.bands.size() == 4);
        CHECK(defaults.bands[0] == ScoreBand{"strong_detractor", 0, 1});
        CHECK(defaults.bands[1] == ScoreBand{"detractor", 2, 6});
        CHECK(defaults.bands[2] == ScoreBand{"passive", 7, 8});
        CHECK(defaults.bands[3] == ScoreBand{"promoter", 9, 10});
        CHECK(validate_score_bands(defaults).empty());
    }
    SUBCASE("band_of") {
        CHECK(band_of(defaults, 0)->name == "strong_detractor");
        CHECK(band_of(defaults, 1)->name == "strong_detractor");
        CHECK(band_of(defaults, 2)->name == "detractor");
        CHECK(band_of(defaults, 6)->name == "detractor");
        CHECK(band_of(defaults, 7)->name == "passive");
        CHECK(band_of(defaults, 10)->name == "promoter");
        CHECK(band_of(defaults, -1) == nullptr);
        CHECK(band_of(defaults, 11) == nullptr);
    }
    SUBCASE("bands need not be listed in score order") {
        const ScoreBands b{{{"happy", 7, 10}, {"unhappy", 0, 6}}};
        CHECK(validate_score_bands(b).empty());
        CHECK(band_of(b, 3)->name == "unhappy");
    }
    SUBCASE("band tally from counts per score") {
        NpsCounts counts{};
        counts[0] = 1;   // strong_detractor
        counts[1] = 2;   // strong_detractor
        counts[5] = 3;   // detractor
        counts[8] = 4;   // passive
        counts[10] = 5;  // promoter
        CHECK(band_tally(defaults, counts) == std::vector<std::uint64_t>{3, 3, 4, 5});
    }
    SUBCASE("invalid definitions name the field") {
        auto first = [](ScoreBands b) {
            auto errors = validate_score_bands(b);
            REQUIRE_FALSE(errors.empty());
            return errors.front();
        };
        ScoreBands b = defaults;
        b.bands[2].min = 6;  // passive 6-8 overlaps detractor 2-6 at 6
        Error e = first(b);
        CHECK(e.path == "bands[2].min");
        CHECK(e.message == "overlaps 'detractor' (2-6) at score 6");

        b = defaults;
        b.bands[1].max = 4;  // detractor 2-4: scores 5-6 in no band
        e = first(b);
        CHECK(e.path == "bands[1].max");
        CHECK(e.message == "leaves scores 5-6 in no band");

        b = defaults;
        b.bands[0].min = 1;  // nothing covers 0: reported on the band above the gap
        e = first(b);
        CHECK(e.path == "bands[0].min");
        CHECK(e.message == "leaves score 0 in no band");

        b = defaults;
        b.bands[3].max = 9;  // nothing covers 10
        CHECK(first(b).path == "bands[3].max");

        b = defaults;
        b.bands[3].max = 11;
        e = first(b);
        CHECK(e.path == "bands[3].max");
        CHECK(e.message == "must be an integer 0-10");

        b = defaults;
        b.bands[2] = {"passive", 8, 7};
        e = first(b);
        CHECK(e.path == "bands[2].max");
        CHECK(e.message == "must be at least min (8)");

        b = defaults;
        b.bands[1].name = "";
        CHECK(first(b).path == "bands[1].name");

        b = defaults;
        b.bands[3].name = "passive";
        e = first(b);
        CHECK(e.path == "bands[3].name");
        CHECK(e.message == "repeats the name of bands[2] ('passive')");

        e = first(ScoreBands{});
        CHECK(e.path == "bands");

        // Every problem is reported, not only the first, under the caller's path.
        b = defaults;
        b.bands[0].name = "";
        b.bands[1].min = 3;  // gap at 2
        const auto all = validate_score_bands(b, "workspace.bands");
        REQUIRE(all.size() == 2);
        CHECK(all[0].path == "workspace.bands[0].name");
        CHECK(all[1].path == "workspace.bands[0].max");
        CHECK(all[1].message == "leaves score 2 in no band");
    }
    SUBCASE("JSON round trip") {
        const json j = defaults;
        CHECK(j.dump() == R"([{"max":1,"min":0,"name":"strong_detractor"},{"max":6,"min":2,"name":"detractor"},)"
                          R"({"max":8,"min":7,"name":"passive"},{"max":10,"min":9,"name":"promoter"}])");
        auto back = score_bands_from_json(j);
        REQUIRE(back.ok());
        CHECK(*back == defaults);
    }
    SUBCASE("JSON errors name the path") {
        json j = defaults;
        j[2]["min"] = 6;
        auto r = score_bands_from_json(j);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().path == "bands[2].min");

        j = defaults;
        j[1]["min"] = "two";
        r = score_bands_from_json(j);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().path == "bands[1].min");
        CHECK(r.error().message == "must be an integer 0-10");

        j = defaults;
        j[0].erase("name");
        r = score_bands_from_json(j, "settings.bands");
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().code == "missing_field");
        CHECK(r.error().path == "settings.bands[0].name");

        j = defaults;
        j[3]["colour"] = "green";
        r = score_bands_from_json(j);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().path == "bands[3].colour");

        r = score_bands_from_json(json::object());
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().path == "bands");
    }
}

TEST_CASE("NPS figures") {
    SUBCASE("a hand-checked example") {
        const NpsTally t = tally(5, 3, 2);
        CHECK(t.n() == 10);
        // NPS = 100 * (5 - 2) / 10 = 30
        CHECK(net_promoter_score(t).value() == doctest::Approx(30.0));
        // p = .5, d = .2; var = (.7 - .3^2) / 10 = (.7 - .09) / 10 = .061; sqrt(.061) = .246982;
        // MoE = 100 * 1.96 * .246982 = 48.408
        CHECK(nps_margin_of_error(t).value() == doctest::Approx(48.4084).epsilon(1e-5));
    }
    SUBCASE("a larger sample narrows the margin") {
        const NpsTally t = tally(50, 30, 20);
        // NPS = 100 * (50 - 20) / 100 = 30
        CHECK(net_promoter_score(t).value() == doctest::Approx(30.0));
        // var = (.7 - .09) / 100 = .0061; sqrt = .0781025; * 196 = 15.3081
        CHECK(nps_margin_of_error(t).value() == doctest::Approx(15.3081).epsilon(1e-5));
    }
    SUBCASE("n = 0 is undefined, not 0") {
        const NpsTally t;
        CHECK_FALSE(net_promoter_score(t).has_value());
        CHECK_FALSE(nps_margin_of_error(t).has_value());
    }
    SUBCASE("all promoters: NPS 100, no margin") {
        const NpsTally t = tally(12, 0, 0);
        CHECK(net_promoter_score(t).value() == 100.0);  // 100 * 12 / 12
        CHECK(nps_margin_of_error(t).value() == 0.0);   // p = 1, d = 0: var = (1 - 1) / 12 = 0
    }
    SUBCASE("all detractors: NPS -100, no margin") {
        const NpsTally t = tally(0, 0, 7);
        CHECK(net_promoter_score(t).value() == -100.0);  // 100 * (0 - 7) / 7
        CHECK(nps_margin_of_error(t).value() == 0.0);    // p = 0, d = 1: var = (1 - 1) / 7 = 0
    }
    SUBCASE("only passives: NPS 0 is a real 0") {
        const NpsTally t = tally(0, 4, 0);
        CHECK(net_promoter_score(t).value() == 0.0);
        CHECK(nps_margin_of_error(t).value() == 0.0);
    }
    SUBCASE("half promoters, half detractors: the widest margin") {
        const NpsTally t = tally(1, 0, 1);
        CHECK(net_promoter_score(t).value() == 0.0);
        // p = d = .5: var = (1 - 0) / 2 = .5; sqrt = .707107; * 196 = 138.593
        CHECK(nps_margin_of_error(t).value() == doctest::Approx(138.593).epsilon(1e-5));
    }
    SUBCASE("small sample below 30") {
        CHECK(is_small_sample(0));
        CHECK(is_small_sample(29));
        CHECK_FALSE(is_small_sample(30));
        NpsCounts counts{};
        counts[10] = 29;
        CHECK(nps_row("2026-W48", 0, "g", counts).small_sample);
        counts[10] = 30;
        CHECK_FALSE(nps_row("2026-W48", 0, "g", counts).small_sample);
    }
    SUBCASE("tallies count answers and refuse bad scores") {
        NpsTally t;
        for (int s : {0, 6, 7, 8, 9, 10}) CHECK(t.add(s));
        CHECK_FALSE(t.add(11));
        CHECK_FALSE(t.add(-1));
        CHECK(t == tally(2, 2, 2));
        t += tally(1, 0, 0);
        CHECK(t == tally(3, 2, 2));
        NpsCounts counts{};
        counts[0] = 1;
        counts[6] = 2;
        counts[7] = 3;
        counts[9] = 4;
        CHECK(nps_tally(counts) == tally(4, 3, 3));
    }
}

TEST_CASE("CSAT figures") {
    SUBCASE("a hand-checked example") {
        CsatTally t;
        t.counts = {1, 1, 2, 3, 3};  // scores 1..5
        CHECK(t.n() == 10);
        CHECK(t.satisfied() == 6);  // 3 fours + 3 fives
        // CSAT = 100 * 6 / 10 = 60
        CHECK(csat_percent(t).value() == doctest::Approx(60.0));
        // average = (1*1 + 2*1 + 3*2 + 4*3 + 5*3) / 10 = (1 + 2 + 6 + 12 + 15) / 10 = 3.6
        CHECK(csat_average(t).value() == doctest::Approx(3.6));
    }
    SUBCASE("n = 0 is undefined") {
        const CsatTally t;
        CHECK_FALSE(csat_percent(t).has_value());
        CHECK_FALSE(csat_average(t).has_value());
        CHECK(csat_row("2026-11", 0, "g", t.counts).small_sample);
    }
    SUBCASE("add refuses scores outside 1-5") {
        CsatTally t;
        CHECK_FALSE(t.add(0));
        CHECK_FALSE(t.add(6));
        CHECK(t.add(5));
        CHECK(t.add(5));
        CHECK(t.add(1));
        CHECK(t.counts == CsatCounts{1, 0, 0, 0, 2});
        CHECK(csat_percent(t).value() == doctest::Approx(100.0 * 2 / 3));  // 2 of 3 are 4-5
        CHECK(csat_average(t).value() == doctest::Approx(11.0 / 3));       // (5 + 5 + 1) / 3
    }
}

TEST_CASE("periods") {
    SUBCASE("interval names") {
        CHECK(parse_interval("quarter").value() == Interval::quarter);
        CHECK(interval_name(Interval::week) == "week");
        auto bad = parse_interval("fortnight");
        REQUIRE_FALSE(bad.ok());
        CHECK(bad.error().message == "must be day, week, month or quarter");
    }
    SUBCASE("ISO weeks start on Monday") {
        // 2026-11-22 is a Sunday (test_time.cpp), so 2026-11-23 is a Monday.
        CHECK(period_label(Interval::week, day("2026-11-22T12:00:00Z")) == "2026-W47");
        CHECK(period_label(Interval::week, day("2026-11-23T00:00:00Z")) == "2026-W48");
        CHECK(period_label(Interval::week, day("2026-11-29T23:59:59Z")) == "2026-W48");
        CHECK(period_start(Interval::week, day("2026-11-29T23:59:59Z")) == day("2026-11-23T00:00:00Z"));
        CHECK(format_date(period_start(Interval::week, day("2026-11-23T00:00:00Z"))) == "2026-11-23");
    }
    SUBCASE("ISO week-years at year boundaries") {
        // By hand: 2026-01-01 is a Thursday (22 Nov is a Sunday, 325 days later; 325 = 46*7 + 3),
        // so week 1 of 2026 runs Mon 2025-12-29 .. Sun 2026-01-04, and 2026 has 53 weeks
        // (a year starting on Thursday). 2026-12-31 is a Thursday (39 days after Sun 22 Nov,
        // 39 = 5*7 + 4): the week Mon 28 Dec .. Sun 3 Jan 2027 has its Thursday in 2026, so it is
        // 2026-W53 (28 Dec = 29 Dec 2025 + 364 days = week 1 + 52).
        CHECK(iso_week(day("2026-12-31T00:00:00Z")) == IsoWeek{2026, 53});
        CHECK(period_label(Interval::week, day("2026-12-31T00:00:00Z")) == "2026-W53");
        CHECK(period_label(Interval::week, day("2027-01-01T00:00:00Z")) == "2026-W53");
        CHECK(period_label(Interval::week, day("2027-01-03T23:59:59Z")) == "2026-W53");
        CHECK(format_date(period_start(Interval::week, day("2027-01-01T00:00:00Z"))) == "2026-12-28");
        CHECK(period_label(Interval::week, day("2027-01-04T00:00:00Z")) == "2027-W01");
        // The week-year can also run ahead of the calendar year.
        CHECK(period_label(Interval::week, day("2025-12-29T00:00:00Z")) == "2026-W01");
        CHECK(period_label(Interval::week, day("2025-12-28T00:00:00Z")) == "2025-W52");
        // 2024-12-30 is a Monday and 2025-01-01 a Wednesday: that week is 2025-W01.
        CHECK(period_label(Interval::week, day("2024-12-30T00:00:00Z")) == "2025-W01");
        // 2021-01-01 is a Friday: still in 2020-W53 (2020 began on a Wednesday, leap year).
        CHECK(period_label(Interval::week, day("2021-01-01T00:00:00Z")) == "2020-W53");
        // Before the epoch: 1970-01-01 is a Thursday, so Wed 1969-12-31 is in 1970-W01.
        CHECK(period_label(Interval::week, -1) == "1970-W01");
        CHECK(period_start(Interval::week, -1) == -3);  // Monday 1969-12-29
    }
    SUBCASE("days, months and quarters") {
        CHECK(period_label(Interval::day, day("2026-11-23T10:00:00Z")) == "2026-11-23");
        CHECK(period_label(Interval::month, day("2026-11-23T10:00:00Z")) == "2026-11");
        CHECK(format_date(period_start(Interval::month, day("2026-11-23T10:00:00Z"))) == "2026-11-01");
        CHECK(period_label(Interval::month, day("2028-02-29T10:00:00Z")) == "2028-02");
        CHECK(period_label(Interval::quarter, day("2026-11-23T10:00:00Z")) == "2026-Q4");
        CHECK(format_date(period_start(Interval::quarter, day("2026-11-23T10:00:00Z"))) == "2026-10-01");
        CHECK(period_label(Interval::quarter, day("2026-03-31T23:59:59Z")) == "2026-Q1");
        CHECK(period_label(Interval::quarter, day("2026-04-01T00:00:00Z")) == "2026-Q2");
        CHECK(period_label(Interval::quarter, day("2026-06-30T00:00:00Z")) == "2026-Q2");
        CHECK(period_label(Interval::quarter, day("2026-07-01T00:00:00Z")) == "2026-Q3");
        CHECK(period_label(Interval::quarter, day("2027-01-01T00:00:00Z")) == "2027-Q1");
        CHECK(period_label(Interval::month, -1) == "1969-12");
        CHECK(period_label(Interval::quarter, -1) == "1969-Q4");
    }
}

TEST_CASE("group indexer") {
    GroupIndexer g;
    CHECK(g.index_of("Champions") == 0);
    CHECK(g.index_of("(none)") == 1);
    CHECK(g.index_of("Champions") == 0);
    CHECK(g.index_of("Lost") == 2);
    CHECK(g.names() == std::vector<std::string>{"Champions", "(none)", "Lost"});
}

TEST_CASE("NPS rollups") {
    // Two groups across three ISO weeks: W47 (from Mon 16 Nov), W48 (23 Nov), W49 (30 Nov).
    Columns c;
    c.names = {"Champions", "(none)"};
    c.add("2026-11-22T23:59:59.999Z", 10, 0);  // Sunday: last moment of W47
    c.add("2026-11-23T00:00:00Z", 9, 0);       // Monday: first moment of W48
    c.add("2026-11-24T12:00:00Z", 3, 0);
    c.add("2026-11-29T23:00:00Z", 7, 1);  // Sunday of W48
    c.add("2026-11-30T08:00:00Z", 0, 1);  // W49

    SUBCASE("one row per week and group, empty cells with null figures") {
        auto r = rollup_nps(c.view(), {});
        REQUIRE(r.ok());
        CHECK(r->interval == Interval::week);
        CHECK(r->totals == RollupTotals{5, 0, 0});
        REQUIRE(r->rows.size() == 6);  // 3 weeks x 2 groups, ordered by period then group
        CHECK(r->rows[0].period == "2026-W47");
        CHECK(r->rows[0].group == "Champions");
        CHECK(format_date(r->rows[0].period_start) == "2026-11-16");
        CHECK(r->rows[1].group == "(none)");
        CHECK(r->rows[5].period == "2026-W49");

        const NpsRow* w47 = find_row(*r, "2026-W47", "Champions");
        REQUIRE(w47);
        CHECK(w47->promoters == 1);
        CHECK(w47->n == 1);
        CHECK(w47->nps.value() == 100.0);            // one promoter
        CHECK(w47->margin_of_error.value() == 0.0);  // p = 1, d = 0
        CHECK(w47->small_sample);

        const NpsRow* empty = find_row(*r, "2026-W47", "(none)");
        REQUIRE(empty);
        CHECK(empty->n == 0);
        CHECK_FALSE(empty->nps.has_value());
        CHECK_FALSE(empty->margin_of_error.has_value());

        const NpsRow* w48 = find_row(*r, "2026-W48", "Champions");
        REQUIRE(w48);
        CHECK(w48->promoters == 1);   // the 9
        CHECK(w48->detractors == 1);  // the 3
        CHECK(w48->counts[9] == 1);
        CHECK(w48->counts[3] == 1);
        CHECK(w48->nps.value() == 0.0);  // 100 * (1 - 1) / 2
        // p = d = .5: var = (1 - 0) / 2 = .5; 196 * sqrt(.5) = 138.593
        CHECK(w48->margin_of_error.value() == doctest::Approx(138.593).epsilon(1e-5));

        const NpsRow* passive = find_row(*r, "2026-W48", "(none)");
        REQUIRE(passive);
        CHECK(passive->passives == 1);
        CHECK(passive->nps.value() == 0.0);

        const NpsRow* w49 = find_row(*r, "2026-W49", "(none)");
        REQUIRE(w49);
        CHECK(w49->nps.value() == -100.0);  // one detractor (score 0)
        CHECK(find_row(*r, "2026-W49", "Champions")->n == 0);
    }
    SUBCASE("include_empty = false keeps only cells with answers") {
        RollupOptions o;
        o.include_empty = false;
        auto r = rollup_nps(c.view(), o);
        REQUIRE(r.ok());
        CHECK(r->rows.size() == 4);
        for (const auto& row : r->rows) CHECK(row.n > 0);
    }
    SUBCASE("from and to: from included, to excluded, the rest is outside") {
        RollupOptions o;
        o.from = Time{ms("2026-11-23T00:00:00Z")};
        o.to = Time{ms("2026-11-30T08:00:00Z")};
        auto r = rollup_nps(c.view(), o);
        REQUIRE(r.ok());
        CHECK(r->totals == RollupTotals{3, 2, 0});  // the Sunday before and the 30th at 08:00
        REQUIRE(r->rows.size() == 4);               // W48 and W49 (the range touches it) x 2 groups
        CHECK(find_row(*r, "2026-W48", "Champions")->n == 2);
        CHECK(find_row(*r, "2026-W49", "(none)")->n == 0);
    }
    SUBCASE("a range inside one day, to the millisecond") {
        Columns d;
        d.names = {"all"};
        d.add("2026-11-23T10:29:59.999Z", 10);
        d.add("2026-11-23T10:30:00Z", 10);
        d.add("2026-11-23T10:59:59.999Z", 0);
        d.add("2026-11-23T11:00:00Z", 0);
        RollupOptions o;
        o.interval = Interval::day;
        o.from = Time{ms("2026-11-23T10:30:00Z")};
        o.to = Time{ms("2026-11-23T11:00:00Z")};
        auto r = rollup_nps(d.view(), o);
        REQUIRE(r.ok());
        CHECK(r->totals == RollupTotals{2, 2, 0});
        REQUIRE(r->rows.size() == 1);
        CHECK(r->rows[0].period == "2026-11-23");
        CHECK(r->rows[0].nps.value() == 0.0);  // one promoter, one detractor
    }
    SUBCASE("only from, or only to: the other end comes from the data") {
        RollupOptions o;
        o.from = Time{ms("2026-11-30T00:00:00Z")};
        auto r = rollup_nps(c.view(), o);
        REQUIRE(r.ok());
        CHECK(r->totals == RollupTotals{1, 4, 0});
        o.from = Time{ms("2026-12-01T00:00:00Z")};  // after every response: nothing to count
        r = rollup_nps(c.view(), o);
        REQUIRE(r.ok());
        CHECK(r->totals == RollupTotals{0, 5, 0});
        CHECK(r->rows.empty());
        o = {};
        o.to = Time{ms("2026-11-23T00:00:00Z")};
        r = rollup_nps(c.view(), o);
        REQUIRE(r.ok());
        CHECK(r->totals == RollupTotals{1, 4, 0});
    }
    SUBCASE("bad scores, unknown groups and impossible times are rejected, not counted") {
        Columns d = c;
        d.add("2026-11-24T00:00:00Z", 11, 0);
        d.add("2026-11-24T00:00:00Z", 255, 1);
        d.add("2026-11-24T00:00:00Z", 5, 2);  // only groups 0 and 1 have names
        d.add_ms(std::numeric_limits<std::int64_t>::max(), 10, 0);
        d.add_ms(std::numeric_limits<std::int64_t>::min(), 10, 0);
        d.add_ms(max_rollup_time_ms + 1, 10, 0);  // year 10000
        auto r = rollup_nps(d.view(), {});
        REQUIRE(r.ok());
        CHECK(r->totals == RollupTotals{5, 0, 6});
        CHECK(r->rows.size() == 6);  // the bad times did not stretch the range
        RollupOptions o;
        o.from = Time{ms("2026-11-23T00:00:00Z")};
        o.to = Time{ms("2026-11-30T00:00:00Z")};
        r = rollup_nps(d.view(), o);
        REQUIRE(r.ok());
        CHECK(r->totals == RollupTotals{3, 2, 6});
    }
    SUBCASE("the limits of valid times") {
        CHECK(min_rollup_time_ms == ms("0001-01-01T00:00:00Z"));
        CHECK(max_rollup_time_ms == ms("9999-12-31T23:59:59.999Z"));
        Columns d;
        d.add_ms(max_rollup_time_ms, 10);
        d.add_ms(min_rollup_time_ms, 0);
        RollupOptions o;
        o.interval = Interval::day;
        o.include_empty = false;
        o.from = Time{max_rollup_time_ms - 10};
        auto r = rollup_nps(d.ungrouped(), o);
        REQUIRE(r.ok());
        CHECK(r->totals == RollupTotals{1, 1, 0});
        REQUIRE(r->rows.size() == 1);
        CHECK(r->rows[0].period == "9999-12-31");
        o.from = std::nullopt;
        o.to = Time{min_rollup_time_ms + 1};
        r = rollup_nps(d.ungrouped(), o);
        REQUIRE(r.ok());
        REQUIRE(r->rows.size() == 1);
        CHECK(r->rows[0].period == "0001-01-01");
    }
    SUBCASE("times before the epoch") {
        Columns d;
        d.add("1969-12-31T12:00:00Z", 10);
        d.add("1969-12-31T23:59:59.999Z", 0);
        d.add("1970-01-01T00:00:00Z", 8);
        RollupOptions o;
        o.interval = Interval::day;
        auto r = rollup_nps(d.ungrouped(), o);
        REQUIRE(r.ok());
        REQUIRE(r->rows.size() == 2);
        CHECK(r->rows[0].period == "1969-12-31");
        CHECK(r->rows[0].period_start == -1);
        CHECK(r->rows[0].n == 2);
        CHECK(r->rows[1].period == "1970-01-01");
        CHECK(r->rows[1].passives == 1);
    }
    SUBCASE("without groups: one group, named by the caller or (all)") {
        auto r = rollup_nps(c.ungrouped(), {});
        REQUIRE_FALSE(r.ok());  // two names but no group column: ambiguous
        CHECK(r.error().path == "group_names");
        Columns d = c;
        d.names = {};
        r = rollup_nps(d.ungrouped(), {});
        REQUIRE(r.ok());
        REQUIRE(r->rows.size() == 3);
        CHECK(r->rows[1].group == "(all)");
        CHECK(r->rows[1].n == 3);
        d.names = {"everyone"};
        r = rollup_nps(d.ungrouped(), {});
        REQUIRE(r.ok());
        CHECK(r->rows[1].group == "everyone");
    }
    SUBCASE("months and quarters") {
        Columns d;
        d.names = {"x"};
        d.add("2026-01-31T23:59:59.999Z", 10);
        d.add("2026-02-01T00:00:00Z", 0);
        d.add("2026-03-31T23:59:59.999Z", 9);
        d.add("2026-04-01T00:00:00Z", 8);
        d.add("2026-12-31T23:59:59.999Z", 7);
        d.add("2027-01-01T00:00:00Z", 6);
        RollupOptions o;
        o.interval = Interval::month;
        auto r = rollup_nps(d.view(), o);
        REQUIRE(r.ok());
        CHECK(r->rows.size() == 13);  // 2026-01 .. 2027-01
        CHECK(r->rows[0].period == "2026-01");
        CHECK(r->rows[0].promoters == 1);
        CHECK(r->rows[1].period == "2026-02");
        CHECK(r->rows[1].detractors == 1);
        CHECK(r->rows[2].period == "2026-03");
        CHECK(r->rows[3].period == "2026-04");
        CHECK(r->rows[3].passives == 1);
        CHECK(r->rows[12].period == "2027-01");
        CHECK(format_date(r->rows[12].period_start) == "2027-01-01");

        o.interval = Interval::quarter;
        r = rollup_nps(d.view(), o);
        REQUIRE(r.ok());
        REQUIRE(r->rows.size() == 5);  // 2026-Q1 .. 2027-Q1
        CHECK(r->rows[0].period == "2026-Q1");
        CHECK(r->rows[0].n == 3);  // January, February, 31 March
        CHECK(r->rows[1].period == "2026-Q2");
        CHECK(r->rows[1].n == 1);
        CHECK(r->rows[3].period == "2026-Q4");
        CHECK(r->rows[3].n == 1);
        CHECK(r->rows[4].period == "2027-Q1");
        CHECK(format_date(r->rows[4].period_start) == "2027-01-01");

        o.interval = Interval::week;  // 2026-12-31 and 2027-01-01 share 2026-W53
        o.from = Time{ms("2026-12-28T00:00:00Z")};
        r = rollup_nps(d.view(), o);
        REQUIRE(r.ok());
        REQUIRE(r->rows.size() == 1);
        CHECK(r->rows[0].period == "2026-W53");
        CHECK(r->rows[0].n == 2);
    }
    SUBCASE("no responses") {
        Columns d;
        auto r = rollup_nps(d.view(), {});
        REQUIRE(r.ok());
        CHECK(r->rows.empty());
        CHECK(r->totals == RollupTotals{});
        RollupOptions o;
        o.from = Time{ms("2026-11-23T00:00:00Z")};
        o.to = Time{ms("2026-11-30T00:00:00Z")};
        d.names = {"a"};
        r = rollup_nps(d.ungrouped(), o);
        REQUIRE(r.ok());
        REQUIRE(r->rows.size() == 1);  // the range's week, empty
        CHECK_FALSE(r->rows[0].nps.has_value());
    }
    SUBCASE("bad arguments are errors that name them") {
        Columns d = c;
        d.scores.pop_back();
        auto r = rollup_nps(d.view(), {});
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().path == "scores");

        d = c;
        d.groups.pop_back();
        r = rollup_nps(d.view(), {});
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().path == "groups");

        d = c;
        d.names.clear();
        r = rollup_nps(d.view(), {});
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().path == "group_names");

        RollupOptions o;
        o.from = Time{ms("2026-11-30T00:00:00Z")};
        o.to = o.from;
        r = rollup_nps(c.view(), o);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().path == "to");

        o.interval = Interval::day;
        o.from = Time{ms("1900-01-01T00:00:00Z")};
        o.to = Time{ms("2100-01-01T00:00:00Z")};
        r = rollup_nps(c.view(), o);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().path == "to");
        CHECK(r.error().message.find("days") != std::string::npos);

        // 10 years of days x 100 groups = 365 300 cells > 2^18
        d = c;
        for (int i = 0; i < 98; ++i) d.names.push_back("agent " + std::to_string(i));
        o.from = Time{ms("2020-01-01T00:00:00Z")};
        o.to = Time{ms("2030-01-01T00:00:00Z")};
        r = rollup_nps(d.view(), o);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().message.find("periods x groups") != std::string::npos);
        o.interval = Interval::month;  // 120 months x 100 groups is fine
        r = rollup_nps(d.view(), o);
        REQUIRE(r.ok());
        CHECK(r->rows.size() == 12000);
    }
}

// Regression guard for the hot loop's arithmetic (a shift and a 32-bit division in place of
// a 64-bit floor division): compare it with a plain recount over awkward data.
TEST_CASE("rollups agree with a plain recount") {
    std::uint64_t state = 0x9e3779b97f4a7c15ULL;
    auto next = [&state] {  // xorshift64*
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        return state * 0x2545f4914f6cdd1dULL;
    };
    Columns d;
    d.names = {"a", "b", "c"};
    const std::int64_t lo = ms("1969-06-01T00:00:00Z"), hi = ms("1971-03-01T00:00:00Z");
    for (int i = 0; i < 20000; ++i) {
        const auto t = lo + static_cast<std::int64_t>(next() % static_cast<std::uint64_t>(hi - lo));
        // Some exactly at midnight, some a millisecond before it.
        const std::int64_t at = i % 7 == 0 ? day_number(Time{t}) * ms_per_day - (i % 2) : t;
        const auto score = static_cast<int>(next() % 13);           // 11 and 12 are bad scores
        const auto group = static_cast<std::uint32_t>(next() % 4);  // 3 has no name
        d.add_ms(at, score, group);
    }
    for (Interval interval : {Interval::day, Interval::week, Interval::month, Interval::quarter}) {
        CAPTURE(interval_name(interval));
        std::map<std::pair<std::int64_t, std::uint32_t>, NpsCounts> expected;
        std::uint64_t rejected = 0;
        for (std::size_t i = 0; i < d.times.size(); ++i) {
            if (d.scores[i] > 10 || d.groups[i] > 2) {
                ++rejected;
                continue;
            }
            const std::int64_t start = period_start(interval, day_number(Time{d.times[i]}));
            ++expected[{start, d.groups[i]}][d.scores[i]];
        }
        RollupOptions o;
        o.interval = interval;
        o.include_empty = false;
        auto r = rollup_nps(d.view(), o);
        REQUIRE(r.ok());
        CHECK(r->totals.rejected == rejected);
        CHECK(r->totals.counted == d.times.size() - rejected);
        REQUIRE(r->rows.size() == expected.size());
        std::size_t k = 0;
        for (const auto& [key, counts] : expected) {  // ordered by period, then group
            const NpsRow& row = r->rows[k++];
            CHECK(row.period_start == key.first);
            CHECK(row.group == d.names[key.second]);
            CHECK(row.counts == counts);
        }
    }
}

TEST_CASE("CSAT rollups") {
    Columns c;
    c.names = {"agent-1", "agent-2"};
    c.add("2026-11-02T09:00:00Z", 5, 0);
    c.add("2026-11-15T09:00:00Z", 4, 0);
    c.add("2026-11-20T09:00:00Z", 2, 0);
    c.add("2026-11-21T09:00:00Z", 3, 1);
    c.add("2026-12-01T00:00:00Z", 1, 1);
    c.add("2026-12-01T00:00:00Z", 0, 1);  // not a CSAT score
    c.add("2026-12-01T00:00:00Z", 6, 1);  // not a CSAT score
    RollupOptions o;
    o.interval = Interval::month;
    auto r = rollup_csat(c.view(), o);
    REQUIRE(r.ok());
    CHECK(r->totals == RollupTotals{5, 0, 2});
    REQUIRE(r->rows.size() == 4);  // 2026-11 and 2026-12 x 2 agents
    const CsatRow& nov1 = r->rows[0];
    CHECK(nov1.period == "2026-11");
    CHECK(nov1.group == "agent-1");
    CHECK(nov1.n == 3);
    CHECK(nov1.satisfied == 2);                                  // the 5 and the 4
    CHECK(nov1.csat.value() == doctest::Approx(100.0 * 2 / 3));  // 66.67
    CHECK(nov1.average.value() == doctest::Approx(11.0 / 3));    // (5 + 4 + 2) / 3 = 3.67
    CHECK(nov1.counts == CsatCounts{0, 1, 0, 1, 1});
    CHECK(r->rows[1].csat.value() == 0.0);  // one 3: nobody satisfied, a real 0
    CHECK(r->rows[2].n == 0);               // agent-1 in December
    CHECK_FALSE(r->rows[2].csat.has_value());
    CHECK_FALSE(r->rows[2].average.has_value());
    CHECK(r->rows[3].average.value() == 1.0);
}

TEST_CASE("report rows as JSON") {
    NpsCounts counts{};
    counts[10] = 3;
    counts[9] = 2;  // 5 promoters
    counts[8] = 3;  // 3 passives
    counts[1] = 1;
    counts[4] = 1;  // 2 detractors
    const NpsRow row = nps_row("2026-W48", day("2026-11-23T00:00:00Z"), "Champions", counts);

    SUBCASE("the contract's names") {
        const json j = row;
        CHECK(j["period"] == "2026-W48");
        CHECK(j["period_start"] == "2026-11-23");
        CHECK(j["group"] == "Champions");
        CHECK(j["promoters"] == 5);
        CHECK(j["passives"] == 3);
        CHECK(j["detractors"] == 2);
        CHECK(j["n"] == 10);
        CHECK(j["nps"].get<double>() == doctest::Approx(30.0));
        CHECK(j["margin_of_error"].get<double>() == doctest::Approx(48.4084).epsilon(1e-5));
        CHECK(j["small_sample"] == true);
        CHECK(j["counts"] == json::array({0, 1, 0, 0, 1, 0, 0, 0, 3, 2, 3}));
    }
    SUBCASE("n = 0 is null, never 0") {
        const json j = nps_row("2026-W48", 0, "(none)", NpsCounts{});
        CHECK(j["n"] == 0);
        CHECK(j["nps"].is_null());
        CHECK(j["margin_of_error"].is_null());
        const json c = csat_row("2026-11", 0, "(none)", CsatCounts{});
        CHECK(c["csat"].is_null());
        CHECK(c["average"].is_null());
    }
    SUBCASE("round trip") {
        auto back = nps_row_from_json(json(row));
        REQUIRE(back.ok());
        CHECK(*back == row);
        const CsatRow c = csat_row("2026-11", day("2026-11-01T00:00:00Z"), "agent-1", CsatCounts{1, 1, 2, 3, 3});
        const json cj = c;
        CHECK(cj["satisfied"] == 6);
        CHECK(cj["csat"].get<double>() == doctest::Approx(60.0));
        CHECK(cj["average"].get<double>() == doctest::Approx(3.6));
        auto cback = csat_row_from_json(cj);
        REQUIRE(cback.ok());
        CHECK(*cback == c);
    }
    SUBCASE("reading checks the counts and names the field") {
        json j = row;
        j["promoters"] = 6;
        auto r = nps_row_from_json(j, "series[4]");
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().path == "series[4].promoters");
        CHECK(r.error().message == "must agree with counts (5)");

        j = row;
        j["counts"][3] = -1;
        r = nps_row_from_json(j, "series[4]");
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().path == "series[4].counts[3]");

        j = row;
        j["counts"].erase(0);
        r = nps_row_from_json(j);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().path == "counts");

        j = row;
        j["period_start"] = "2026-11-23T00:00:00Z";
        r = nps_row_from_json(j);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().path == "period_start");

        j = row;
        j.erase("group");
        r = nps_row_from_json(j);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().code == "missing_field");

        r = nps_row_from_json(json::array());
        CHECK_FALSE(r.ok());
    }
    SUBCASE("a rollup") {
        Columns c;
        c.names = {"(none)"};
        c.add("2026-11-23T10:00:00Z", 9);
        c.add("2026-11-23T10:00:00Z", 12);
        auto r = rollup_nps(c.view(), {});
        REQUIRE(r.ok());
        const json j = *r;
        CHECK(j["interval"] == "week");
        CHECK(j["counted"] == 1);
        CHECK(j["outside"] == 0);
        CHECK(j["rejected"] == 1);
        REQUIRE(j["series"].size() == 1);
        CHECK(j["series"][0]["period"] == "2026-W48");
        CHECK(j["series"][0]["group"] == "(none)");
        CHECK(j["series"][0]["nps"] == 100.0);
    }
}

TEST_CASE("nps_trend: the card's last answer, the one before and the change") {
    using closeloop::Response;
    CHECK_FALSE(closeloop::nps_trend({}));
    std::vector<Response> answers(1);
    answers[0].score = 3;
    answers[0].time = closeloop::Time{1000};
    auto one = closeloop::nps_trend(answers);
    REQUIRE(one);
    CHECK(one->last == 3);
    CHECK(one->last_at == closeloop::Time{1000});
    CHECK_FALSE(one->previous);
    CHECK_FALSE(one->change);
    answers.push_back(answers[0]);
    answers[1].score = 8;  // the older answer
    auto two = closeloop::nps_trend(answers);
    REQUIRE(two);
    CHECK(two->previous == 8);
    CHECK(two->change == -5);
}
