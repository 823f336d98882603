#include <doctest/doctest.h>

#include "closeloop/time.h"

using namespace closeloop;

TEST_CASE("RFC 3339 times parse to milliseconds since the epoch") {
    SUBCASE("UTC with Z") {
        auto t = parse_time("2026-11-22T10:00:00Z");
        REQUIRE(t.ok());
        // 1970..2025 = 56 years = 56*365 + 14 leap days (1972..2024) = 20454 days;
        // 1 Jan -> 22 Nov 2026 = 304 (Jan..Oct) + 21 = 325; day 20779; + 10 h
        CHECK(t->ms == (20779LL * 86400 + 36000) * 1000);
        CHECK(format_time(*t) == "2026-11-22T10:00:00Z");
    }
    SUBCASE("offsets are converted to UTC") {
        auto t = parse_time("2026-11-22T11:30:00+01:30");
        REQUIRE(t.ok());
        CHECK(format_time(*t) == "2026-11-22T10:00:00Z");
        auto u = parse_time("2026-11-21T23:00:00-11:00");
        REQUIRE(u.ok());
        CHECK(format_time(*u) == "2026-11-22T10:00:00Z");
    }
    SUBCASE("fractions keep milliseconds") {
        auto t = parse_time("2026-01-01T00:00:00.1234Z");
        REQUIRE(t.ok());
        CHECK(t->ms % 1000 == 123);
        CHECK(format_time(*t) == "2026-01-01T00:00:00.123Z");
    }
    SUBCASE("before the epoch") {
        auto t = parse_time("1969-12-31T23:59:59Z");
        REQUIRE(t.ok());
        CHECK(t->ms == -1000);
        CHECK(day_number(*t) == -1);
        CHECK(format_time(*t) == "1969-12-31T23:59:59Z");
    }
    SUBCASE("bad times are errors, not guesses") {
        for (const char* bad : {"", "2026-11-22", "2026-11-22T10:00:00", "2026-02-30T10:00:00Z", "2026-13-01T00:00:00Z",
                                "2026-11-22T24:00:00Z", "2026-11-22T10:00:00Zjunk", "2026-11-22T10:00:00+1:00",
                                "2026-11-22T10:00:00.Z", "yesterday"}) {
            CAPTURE(bad);
            auto t = parse_time(bad);
            REQUIRE_FALSE(t.ok());
            CHECK(t.error().message.find("RFC 3339") != std::string::npos);
        }
    }
}

TEST_CASE("ISO 8601 durations") {
    SUBCASE("forms of the contract") {
        CHECK(parse_duration("P10D").value() == Duration{0, 10, 0});
        CHECK(parse_duration("PT24H").value() == Duration{0, 0, 24 * ms_per_hour});
        CHECK(parse_duration("P2M").value() == Duration{2, 0, 0});
        CHECK(parse_duration("P1Y2M3W4DT5H6M7.5S").value() ==
              Duration{14, 25, 5 * ms_per_hour + 6 * ms_per_minute + 7500});
        CHECK(format_duration(Duration{14, 25, 5 * ms_per_hour}) == "P1Y2M25DT5H");
        CHECK(format_duration(Duration{}) == "PT0S");
    }
    SUBCASE("malformed durations") {
        for (const char* bad : {"", "P", "PT", "10D", "P1H", "PT1D", "P1D2Y", "P-1D", "P1.5D", "P1DT"}) {
            CAPTURE(bad);
            CHECK_FALSE(parse_duration(bad).ok());
        }
    }
    SUBCASE("no duration is longer than max_duration (P10000Y), in any unit") {
        CHECK(parse_duration("P10000Y").value() == max_duration);
        CHECK(parse_duration("P120000M").ok());
        for (const char* over : {"P10001Y", "P120001M", "P10000Y1D", "P99999999Y", "P1000000000Y", "P3652426D",
                                 "P521776W", "PT87658201H", "P9999YT999999999H"}) {
            CAPTURE(std::string(over));
            const auto d = parse_duration(over);
            REQUIRE_FALSE(d.ok());
            CHECK(d.error().message.find("max_duration") != std::string::npos);
        }
        // The longest one still adds to the last RFC 3339 instant without overflowing.
        const Time end = parse_time("9999-12-31T23:59:59Z").value();
        CHECK(format_time(add(end, max_duration)) == "19999-12-31T23:59:59Z");
    }
    SUBCASE("durations compare by nominal length (a month is 1/12 of an average year)") {
        const Duration ten_years{120, 0, 0};
        CHECK(at_most(parse_duration("P10Y").value(), ten_years));
        CHECK(at_most(parse_duration("P120M").value(), ten_years));
        CHECK(at_most(parse_duration("P3652D").value(), ten_years));
        CHECK_FALSE(at_most(parse_duration("P3653D").value(), ten_years));
        CHECK_FALSE(at_most(parse_duration("P10YT1S").value(), ten_years));
    }
}

TEST_CASE("calendar arithmetic") {
    const Time jan31 = parse_time("2026-01-31T12:00:00Z").value();
    SUBCASE("a month from 31 January ends on the last day of February") {
        CHECK(format_time(add(jan31, parse_duration("P1M").value())) == "2026-02-28T12:00:00Z");
        CHECK(format_time(add(parse_time("2028-01-31T12:00:00Z").value(), Duration{1, 0, 0})) ==
              "2028-02-29T12:00:00Z");  // 2028 is a leap year
    }
    SUBCASE("the voucher validity of seed 000: two months") {
        const Time assigned = parse_time("2026-11-22T10:00:00Z").value();
        CHECK(format_time(add(assigned, Duration{2, 0, 0})) == "2027-01-22T10:00:00Z");
        // reminder 10 days before expiry
        CHECK(format_time(subtract(add(assigned, Duration{2, 0, 0}), days(10))) == "2027-01-12T10:00:00Z");
    }
    SUBCASE("days and exact time") {
        CHECK(format_time(add(jan31, days(1))) == "2026-02-01T12:00:00Z");
        CHECK(format_time(add(jan31, hours(36))) == "2026-02-02T00:00:00Z");
        CHECK(format_time(subtract(jan31, Duration{12, 0, 0})) == "2025-01-31T12:00:00Z");
    }
    SUBCASE("civil dates and weekdays") {
        CHECK(days_from_civil({1970, 1, 1}) == 0);
        CHECK(civil_from_days(20779) == CivilDate{2026, 11, 22});
        CHECK(iso_weekday(0) == 4);      // 1970-01-01 was a Thursday
        CHECK(iso_weekday(20779) == 7);  // 2026-11-22 is a Sunday
        CHECK(format_date(20780) == "2026-11-23");
    }
}
