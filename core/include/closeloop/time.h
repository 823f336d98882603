// closeloop — instants and durations.
//
// Core has no clock: the current time is always an argument. Instants are milliseconds
// since the Unix epoch, UTC, written as RFC 3339 (`2026-11-22T10:00:00Z`). Durations are
// ISO 8601 (`P10D`, `PT24H`, `P2M`); the calendar part (years, months, days) is applied on
// the UTC calendar, so `P2M` from 31 December ends on the last day of February.
//
// Sections: Time, Duration, calendar helpers.
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "closeloop/result.h"

namespace closeloop {

// ---- Time ----------------------------------------------------------------------------------

struct Time {
    std::int64_t ms = 0;  // since 1970-01-01T00:00:00Z
    auto operator<=>(const Time&) const = default;
};

inline constexpr std::int64_t ms_per_second = 1000;
inline constexpr std::int64_t ms_per_minute = 60 * ms_per_second;
inline constexpr std::int64_t ms_per_hour = 60 * ms_per_minute;
inline constexpr std::int64_t ms_per_day = 24 * ms_per_hour;

// RFC 3339 with a `Z` or `+hh:mm` offset and optional fractional seconds (kept to the
// millisecond). Lower-case `t`/`z` and a space separator are accepted, as RFC 3339 allows.
Result<Time> parse_time(std::string_view text);
// `2026-11-22T10:00:00Z`, with `.123` when the milliseconds are not zero.
std::string format_time(Time t);

// ---- Duration ------------------------------------------------------------------------------

struct Duration {
    std::int32_t months = 0;  // calendar months (years count as 12)
    std::int32_t days = 0;    // calendar days (weeks count as 7)
    std::int64_t ms = 0;      // exact time: hours, minutes, seconds
    bool operator==(const Duration&) const = default;
};

inline Duration days(std::int32_t n) {
    return {0, n, 0};
}
inline Duration hours(std::int64_t n) {
    return {0, 0, n * ms_per_hour};
}
inline Duration minutes(std::int64_t n) {
    return {0, 0, n * ms_per_minute};
}

// A duration's length with a month counted as its average (30.436875 days, a Gregorian year
// over 12): how durations of different units are compared against a bound.
inline constexpr std::int64_t ms_per_average_month = 2'629'746'000;
inline constexpr std::int64_t nominal_ms(const Duration& d) {
    return d.months * ms_per_average_month + d.days * ms_per_day + d.ms;
}
// Whether `d` is at most `bound` long (nominal_ms): `P10Y` and `P120M` are at most `P10Y`,
// `P3653D` is not.
inline constexpr bool at_most(const Duration& d, const Duration& bound) {
    return nominal_ms(d) <= nominal_ms(bound);
}

// No parsed duration is longer than this (limit `max_duration`): adding one to any RFC 3339
// time (years 0000-9999) stays within the calendar arithmetic's range, so `add` cannot
// overflow. Tighter bounds apply where a duration is used (voucher validity, scenario waits).
inline constexpr Duration max_duration{12 * 10'000, 0, 0};  // P10000Y

// `P1Y2M10DT2H30M`, `P2W`, `PT24H`, `PT0.5S`; no negative durations, none longer than
// max_duration.
Result<Duration> parse_duration(std::string_view text);
std::string format_duration(const Duration& d);

// t + d: months first (clamped to the month's last day), then days, then exact time.
Time add(Time t, const Duration& d);
// t - d, the mirror of add.
Time subtract(Time t, const Duration& d);

// ---- calendar helpers ----------------------------------------------------------------------

struct CivilDate {
    int year = 1970;
    unsigned month = 1;  // 1-12
    unsigned day = 1;    // 1-31
    bool operator==(const CivilDate&) const = default;
};

// Days since 1970-01-01 (negative before), rounding down for instants before the epoch.
inline std::int64_t day_number(Time t) {
    return t.ms >= 0 ? t.ms / ms_per_day : -((-t.ms + ms_per_day - 1) / ms_per_day);
}
std::int64_t days_from_civil(const CivilDate& d);
CivilDate civil_from_days(std::int64_t day);
inline Time time_from_days(std::int64_t day) {
    return {day * ms_per_day};
}
// ISO weekday: Monday = 1 ... Sunday = 7.
unsigned iso_weekday(std::int64_t day);
// `2026-11-22`
std::string format_date(std::int64_t day);

}  // namespace closeloop
