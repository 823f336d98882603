#include "closeloop/time.h"

#include <date/date.h>

#include <cstdio>

namespace closeloop {

namespace {

// Reads exactly `n` digits at `pos`; returns -1 if any is not a digit.
int digits(std::string_view s, std::size_t pos, std::size_t n) {
    if (pos + n > s.size()) return -1;
    int v = 0;
    for (std::size_t i = pos; i < pos + n; ++i) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

Error bad_time() {
    return invalid_field("", "must be an RFC 3339 time such as 2026-11-22T10:00:00Z");
}

}  // namespace

std::int64_t days_from_civil(const CivilDate& d) {
    const date::year_month_day ymd{date::year{d.year}, date::month{d.month}, date::day{d.day}};
    return date::sys_days{ymd}.time_since_epoch().count();
}

CivilDate civil_from_days(std::int64_t day) {
    const date::year_month_day ymd{date::sys_days{date::days{day}}};
    return {static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day())};
}

unsigned iso_weekday(std::int64_t day) {
    return date::weekday{date::sys_days{date::days{day}}}.iso_encoding();
}

std::string format_date(std::int64_t day) {
    const CivilDate c = civil_from_days(day);
    char buf[16];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", c.year, c.month, c.day);
    return buf;
}

Result<Time> parse_time(std::string_view s) {
    // YYYY-MM-DDTHH:MM:SS[.fff...](Z|+hh:mm|-hh:mm)
    if (s.size() < 20) return bad_time();
    const int year = digits(s, 0, 4), month = digits(s, 5, 2), day = digits(s, 8, 2);
    const int hour = digits(s, 11, 2), minute = digits(s, 14, 2), second = digits(s, 17, 2);
    if (year < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0) return bad_time();
    if (s[4] != '-' || s[7] != '-' || s[13] != ':' || s[16] != ':') return bad_time();
    if (s[10] != 'T' && s[10] != 't' && s[10] != ' ') return bad_time();
    const date::year_month_day ymd{date::year{year}, date::month{static_cast<unsigned>(month)},
                                   date::day{static_cast<unsigned>(day)}};
    // Second 60 (a leap second) is folded into the next second's start, as Unix time does.
    if (!ymd.ok() || hour > 23 || minute > 59 || second > 60) return bad_time();

    std::size_t pos = 19;
    std::int64_t millis = 0;
    if (pos < s.size() && s[pos] == '.') {
        ++pos;
        std::size_t n = 0;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
            if (n < 3) millis = millis * 10 + (s[pos] - '0');
            ++n;
            ++pos;
        }
        if (n == 0) return bad_time();
        for (; n < 3; ++n) millis *= 10;
    }
    std::int64_t offset_minutes = 0;
    if (pos == s.size()) return bad_time();
    if (s[pos] == 'Z' || s[pos] == 'z') {
        ++pos;
    } else if (s[pos] == '+' || s[pos] == '-') {
        const int oh = digits(s, pos + 1, 2), om = digits(s, pos + 4, 2);
        if (oh < 0 || om < 0 || pos + 6 != s.size() || s[pos + 3] != ':' || oh > 23 || om > 59) return bad_time();
        offset_minutes = (oh * 60 + om) * (s[pos] == '-' ? -1 : 1);
        pos += 6;
    } else {
        return bad_time();
    }
    if (pos != s.size()) return bad_time();

    const std::int64_t day_count = date::sys_days{ymd}.time_since_epoch().count();
    const std::int64_t ms = day_count * ms_per_day + hour * ms_per_hour + minute * ms_per_minute +
                            second * ms_per_second + millis - offset_minutes * ms_per_minute;
    return Time{ms};
}

std::string format_time(Time t) {
    const std::int64_t day = day_number(t);
    const std::int64_t in_day = t.ms - day * ms_per_day;
    const CivilDate c = civil_from_days(day);
    const auto h = static_cast<int>(in_day / ms_per_hour);
    const auto m = static_cast<int>(in_day / ms_per_minute % 60);
    const auto sec = static_cast<int>(in_day / ms_per_second % 60);
    const auto ms = static_cast<int>(in_day % ms_per_second);
    char buf[40];
    if (ms == 0)
        std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02dZ", c.year, c.month, c.day, h, m, sec);
    else
        std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", c.year, c.month, c.day, h, m, sec, ms);
    return buf;
}

Result<Duration> parse_duration(std::string_view s) {
    const Error bad = invalid_field("", "must be an ISO 8601 duration such as P10D, PT24H or P2M");
    if (s.size() < 3 || s[0] != 'P') return bad;
    Duration d;
    std::int64_t months = 0, days = 0, ms = 0;
    bool in_time = false, any = false;
    std::size_t pos = 1;
    // Units must appear in order: Y M W D, then T, then H M S.
    const std::string_view date_units = "YMWD", time_units = "HMS";
    std::size_t next_unit = 0;
    while (pos < s.size()) {
        if (s[pos] == 'T') {
            if (in_time || pos + 1 == s.size()) return bad;
            in_time = true;
            next_unit = 0;
            ++pos;
            continue;
        }
        std::int64_t whole = 0;
        std::size_t ndigits = 0;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
            whole = whole * 10 + (s[pos] - '0');
            if (whole > 1'000'000'000) return bad;
            ++ndigits;
            ++pos;
        }
        std::int64_t frac_ms = 0;  // only seconds may have a fraction
        if (pos < s.size() && (s[pos] == '.' || s[pos] == ',')) {
            ++pos;
            std::size_t n = 0;
            while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
                if (n < 3) frac_ms = frac_ms * 10 + (s[pos] - '0');
                ++n;
                ++pos;
            }
            if (n == 0) return bad;
            for (; n < 3; ++n) frac_ms *= 10;
            if (pos >= s.size() || s[pos] != 'S' || !in_time) return bad;
        }
        if (ndigits == 0 || pos >= s.size()) return bad;
        const std::string_view units = in_time ? time_units : date_units;
        const std::size_t unit = units.find(s[pos], next_unit);
        if (unit == std::string_view::npos) return bad;
        next_unit = unit + 1;
        ++pos;
        any = true;
        // Each unit is at most 1e9 and there are at most seven, so the sums cannot overflow
        // 64 bits; the total is bounded before it is narrowed into the Duration.
        if (!in_time) {
            switch (units[unit]) {
                case 'Y':
                    months += whole * 12;
                    break;
                case 'M':
                    months += whole;
                    break;
                case 'W':
                    days += whole * 7;
                    break;
                default:
                    days += whole;
                    break;
            }
        } else {
            switch (units[unit]) {
                case 'H':
                    ms += whole * ms_per_hour;
                    break;
                case 'M':
                    ms += whole * ms_per_minute;
                    break;
                default:
                    ms += whole * ms_per_second + frac_ms;
                    break;
            }
        }
    }
    if (!any) return bad;
    const std::int64_t limit = nominal_ms(max_duration);
    if (months > limit / ms_per_average_month || days > limit / ms_per_day ||
        months * ms_per_average_month + days * ms_per_day + ms > limit)
        return invalid_field("", "must be at most " + format_duration(max_duration) + " long (max_duration)");
    d.months = static_cast<std::int32_t>(months);
    d.days = static_cast<std::int32_t>(days);
    d.ms = ms;
    return d;
}

std::string format_duration(const Duration& d) {
    std::string out = "P";
    if (d.months / 12) out += std::to_string(d.months / 12) + "Y";
    if (d.months % 12) out += std::to_string(d.months % 12) + "M";
    if (d.days) out += std::to_string(d.days) + "D";
    if (d.ms) {
        out += "T";
        std::int64_t rest = d.ms;
        if (rest / ms_per_hour) out += std::to_string(rest / ms_per_hour) + "H";
        rest %= ms_per_hour;
        if (rest / ms_per_minute) out += std::to_string(rest / ms_per_minute) + "M";
        rest %= ms_per_minute;
        if (rest) {
            out += std::to_string(rest / ms_per_second);
            if (rest % ms_per_second) {
                char buf[8];
                std::snprintf(buf, sizeof buf, ".%03d", static_cast<int>(rest % ms_per_second));
                out += buf;
            }
            out += "S";
        }
    }
    if (out == "P") out = "PT0S";
    return out;
}

namespace {

Time shift(Time t, const Duration& d, int sign) {
    std::int64_t day = day_number(t);
    const std::int64_t in_day = t.ms - day * ms_per_day;
    if (d.months != 0) {
        date::year_month_day ymd{date::sys_days{date::days{day}}};
        ymd += date::months{sign * d.months};
        if (!ymd.ok()) ymd = ymd.year() / ymd.month() / date::last;  // 31 Jan + P1M = 28/29 Feb
        day = date::sys_days{ymd}.time_since_epoch().count();
    }
    day += sign * d.days;
    return Time{day * ms_per_day + in_day + sign * d.ms};
}

}  // namespace

Time add(Time t, const Duration& d) {
    return shift(t, d, 1);
}
Time subtract(Time t, const Duration& d) {
    return shift(t, d, -1);
}

}  // namespace closeloop
