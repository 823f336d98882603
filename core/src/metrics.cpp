#include "closeloop/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <utility>

#include "closeloop/detail/enum_table.h"
#include "closeloop/detail/json_read.h"

namespace closeloop {

using json = nlohmann::json;

// ---- 1. scores and NPS classes -------------------------------------------------------------

namespace {

constexpr detail::EnumTable<NpsClass, 3> nps_classes = {{
    {"detractor", NpsClass::detractor},
    {"passive", NpsClass::passive},
    {"promoter", NpsClass::promoter},
}};

constexpr detail::EnumTable<Interval, 4> intervals = {{
    {"day", Interval::day},
    {"week", Interval::week},
    {"month", Interval::month},
    {"quarter", Interval::quarter},
}};

}  // namespace

std::string_view nps_class_name(NpsClass c) {
    return detail::enum_name(nps_classes, c);
}

std::optional<NpsClass> nps_class(int score) {
    if (!is_nps_score(score)) return std::nullopt;
    if (score >= 9) return NpsClass::promoter;
    if (score >= 7) return NpsClass::passive;
    return NpsClass::detractor;
}

// ---- 2. score bands ------------------------------------------------------------------------

ScoreBands default_score_bands() {
    return {{{"strong_detractor", 0, 1}, {"detractor", 2, 6}, {"passive", 7, 8}, {"promoter", 9, 10}}};
}

namespace {

std::string band_path(const std::string& path, std::size_t i, const char* field) {
    return join_path(path, "[" + std::to_string(i) + "]." + field);
}

std::string score_range_text(int a, int b) {
    return a == b ? "score " + std::to_string(a) : "scores " + std::to_string(a) + "-" + std::to_string(b);
}

}  // namespace

std::vector<Error> validate_score_bands(const ScoreBands& bands, const std::string& path) {
    std::vector<Error> errors;
    const auto& list = bands.bands;
    if (list.empty()) {
        errors.push_back(invalid_field(path, "must have at least one band; together they cover scores 0-10"));
        return errors;
    }
    bool ranges_ok = true;
    for (std::size_t i = 0; i < list.size(); ++i) {
        const ScoreBand& b = list[i];
        if (b.name.empty()) {
            errors.push_back(invalid_field(band_path(path, i, "name"), "must not be empty"));
        } else {
            for (std::size_t j = 0; j < i; ++j) {
                if (list[j].name == b.name) {
                    errors.push_back(
                        invalid_field(band_path(path, i, "name"), "repeats the name of " +
                                                                      join_path(path, "[" + std::to_string(j) + "]") +
                                                                      " ('" + b.name + "')"));
                    break;
                }
            }
        }
        const bool min_ok = is_nps_score(b.min), max_ok = is_nps_score(b.max);
        if (!min_ok) errors.push_back(invalid_field(band_path(path, i, "min"), "must be an integer 0-10"));
        if (!max_ok) errors.push_back(invalid_field(band_path(path, i, "max"), "must be an integer 0-10"));
        if (min_ok && max_ok && b.min > b.max)
            errors.push_back(
                invalid_field(band_path(path, i, "max"), "must be at least min (" + std::to_string(b.min) + ")"));
        ranges_ok = ranges_ok && min_ok && max_ok && b.min <= b.max;
    }
    if (!ranges_ok) return errors;  // coverage is meaningless until every range is sound

    // Overlaps: each band against the earlier ones, reported on the later band at the end
    // (min or max) where the overlap sits.
    for (std::size_t i = 0; i < list.size(); ++i) {
        for (std::size_t j = 0; j < i; ++j) {
            const int lo = std::max(list[i].min, list[j].min), hi = std::min(list[i].max, list[j].max);
            if (lo > hi) continue;
            errors.push_back(invalid_field(band_path(path, i, lo == list[i].min ? "min" : "max"),
                                           "overlaps '" + list[j].name + "' (" + std::to_string(list[j].min) + "-" +
                                               std::to_string(list[j].max) + ") at " + score_range_text(lo, hi)));
        }
    }
    // Gaps: runs of scores in no band, reported on the band just below the gap (its max),
    // or else on the band just above it (its min).
    std::array<bool, 11> covered{};
    for (const ScoreBand& b : list)
        for (int s = b.min; s <= b.max; ++s) covered[static_cast<std::size_t>(s)] = true;
    for (int s = 0; s <= 10;) {
        if (covered[static_cast<std::size_t>(s)]) {
            ++s;
            continue;
        }
        int e = s;
        while (e < 10 && !covered[static_cast<std::size_t>(e + 1)]) ++e;
        std::string where = path;
        for (std::size_t i = 0; i < list.size() && where == path; ++i)
            if (list[i].max == s - 1) where = band_path(path, i, "max");
        for (std::size_t i = 0; i < list.size() && where == path; ++i)
            if (list[i].min == e + 1) where = band_path(path, i, "min");
        errors.push_back(invalid_field(where, "leaves " + score_range_text(s, e) + " in no band"));
        s = e + 1;
    }
    return errors;
}

const ScoreBand* band_of(const ScoreBands& bands, int score) {
    if (!is_nps_score(score)) return nullptr;
    for (const ScoreBand& b : bands.bands)
        if (score >= b.min && score <= b.max) return &b;
    return nullptr;
}

std::vector<std::uint64_t> band_tally(const ScoreBands& bands, const NpsCounts& counts) {
    std::vector<std::uint64_t> out;
    out.reserve(bands.bands.size());
    for (const ScoreBand& b : bands.bands) {
        std::uint64_t n = 0;
        for (int s = std::max(b.min, 0); s <= std::min(b.max, 10); ++s) n += counts[static_cast<std::size_t>(s)];
        out.push_back(n);
    }
    return out;
}

Result<ScoreBands> score_bands_from_json(const json& j, const std::string& path) {
    if (!j.is_array())
        return invalid_field(path, std::string("must be an array of bands, not ") + detail::json_type_name(j));
    if (j.size() > 11) return invalid_field(path, "must have at most 11 bands");
    ScoreBands out;
    for (std::size_t i = 0; i < j.size(); ++i) {
        detail::Fields f(j[i], join_path(path, "[" + std::to_string(i) + "]"));
        ScoreBand b;
        if (auto name = f.string("name", true, 64, 1)) b.name = *name;
        if (auto min = f.integer("min", true, 0, 10)) b.min = static_cast<int>(*min);
        if (auto max = f.integer("max", true, 0, 10)) b.max = static_cast<int>(*max);
        f.reject_unknown({"name", "min", "max"});
        if (!f.ok()) return f.error();
        out.bands.push_back(std::move(b));
    }
    auto errors = validate_score_bands(out, path);
    if (!errors.empty()) return errors.front();
    return out;
}

void to_json(json& j, const ScoreBand& band) {
    j = json{{"name", band.name}, {"min", band.min}, {"max", band.max}};
}

void to_json(json& j, const ScoreBands& bands) {
    j = json::array();
    for (const ScoreBand& b : bands.bands) j.push_back(b);
}

// ---- 3. NPS --------------------------------------------------------------------------------

bool NpsTally::add(int score) {
    const auto c = nps_class(score);
    if (!c) return false;
    switch (*c) {
        case NpsClass::promoter:
            ++promoters;
            break;
        case NpsClass::passive:
            ++passives;
            break;
        case NpsClass::detractor:
            ++detractors;
            break;
    }
    return true;
}

NpsTally& NpsTally::operator+=(const NpsTally& other) {
    promoters += other.promoters;
    passives += other.passives;
    detractors += other.detractors;
    return *this;
}

NpsTally nps_tally(const NpsCounts& counts) {
    NpsTally t;
    for (std::size_t s = 0; s <= 6; ++s) t.detractors += counts[s];
    t.passives = counts[7] + counts[8];
    t.promoters = counts[9] + counts[10];
    return t;
}

std::optional<double> net_promoter_score(const NpsTally& t) {
    const std::uint64_t n = t.n();
    if (n == 0) return std::nullopt;
    return 100.0 * (static_cast<double>(t.promoters) - static_cast<double>(t.detractors)) / static_cast<double>(n);
}

std::optional<double> nps_margin_of_error(const NpsTally& t) {
    const std::uint64_t n = t.n();
    if (n == 0) return std::nullopt;
    const double dn = static_cast<double>(n);
    const double p = static_cast<double>(t.promoters) / dn, d = static_cast<double>(t.detractors) / dn;
    const double var = std::max(0.0, (p + d - (p - d) * (p - d)) / dn);  // >= 0 up to rounding
    return 100.0 * 1.96 * std::sqrt(var);
}

std::optional<NpsTrend> nps_trend(std::span<const Response> newest_first) {
    if (newest_first.empty()) return std::nullopt;
    NpsTrend t;
    t.last = newest_first[0].score;
    t.last_at = newest_first[0].time;
    if (newest_first.size() > 1) {
        t.previous = newest_first[1].score;
        t.change = t.last - *t.previous;
    }
    return t;
}

// ---- 4. CSAT -------------------------------------------------------------------------------

std::uint64_t CsatTally::n() const {
    std::uint64_t n = 0;
    for (auto c : counts) n += c;
    return n;
}

bool CsatTally::add(int score) {
    if (!is_csat_score(score)) return false;
    ++counts[static_cast<std::size_t>(score - 1)];
    return true;
}

CsatTally& CsatTally::operator+=(const CsatTally& other) {
    for (std::size_t i = 0; i < counts.size(); ++i) counts[i] += other.counts[i];
    return *this;
}

std::optional<double> csat_percent(const CsatTally& t) {
    const std::uint64_t n = t.n();
    if (n == 0) return std::nullopt;
    return 100.0 * static_cast<double>(t.satisfied()) / static_cast<double>(n);
}

std::optional<double> csat_average(const CsatTally& t) {
    const std::uint64_t n = t.n();
    if (n == 0) return std::nullopt;
    std::uint64_t sum = 0;
    for (std::size_t i = 0; i < t.counts.size(); ++i) sum += (i + 1) * t.counts[i];
    return static_cast<double>(sum) / static_cast<double>(n);
}

// ---- 5. periods ----------------------------------------------------------------------------

std::string_view interval_name(Interval interval) {
    return detail::enum_name(intervals, interval);
}

Result<Interval> parse_interval(std::string_view text) {
    if (const auto i = detail::enum_value(intervals, text)) return *i;
    return invalid_field("", "must be " + detail::enum_names(intervals));
}

IsoWeek iso_week(std::int64_t day) {
    // The week belongs to the year of its Thursday; it is that Thursday's week of the year.
    const std::int64_t thursday = day - static_cast<std::int64_t>(iso_weekday(day)) + 4;
    const int year = civil_from_days(thursday).year;
    const std::int64_t day_of_year = thursday - days_from_civil({year, 1, 1});
    return {year, static_cast<unsigned>(day_of_year / 7 + 1)};
}

std::int64_t period_start(Interval interval, std::int64_t day) {
    switch (interval) {
        case Interval::day:
            return day;
        case Interval::week:
            return day - static_cast<std::int64_t>(iso_weekday(day)) + 1;
        case Interval::month: {
            const CivilDate c = civil_from_days(day);
            return days_from_civil({c.year, c.month, 1});
        }
        case Interval::quarter: {
            const CivilDate c = civil_from_days(day);
            return days_from_civil({c.year, (c.month - 1) / 3 * 3 + 1, 1});
        }
    }
    return day;
}

std::string period_label(Interval interval, std::int64_t day) {
    char buf[32];
    switch (interval) {
        case Interval::day:
            return format_date(day);
        case Interval::week: {
            const IsoWeek w = iso_week(day);
            std::snprintf(buf, sizeof buf, "%04d-W%02u", w.year, w.week);
            return buf;
        }
        case Interval::month: {
            const CivilDate c = civil_from_days(day);
            std::snprintf(buf, sizeof buf, "%04d-%02u", c.year, c.month);
            return buf;
        }
        case Interval::quarter: {
            const CivilDate c = civil_from_days(day);
            std::snprintf(buf, sizeof buf, "%04d-Q%u", c.year, (c.month - 1) / 3 + 1);
            return buf;
        }
    }
    return format_date(day);
}

// ---- 6. groups -----------------------------------------------------------------------------

std::uint32_t GroupIndexer::index_of(std::string_view key) {
    const auto it = index_.find(key);
    if (it != index_.end()) return it->second;
    const auto i = static_cast<std::uint32_t>(names_.size());
    names_.emplace_back(key);
    index_.emplace(std::string(key), i);
    return i;
}

// ---- 7. rollups ----------------------------------------------------------------------------

namespace {

// 86 400 000 ms = 2^10 x 84 375: shifting first leaves a 32-bit division by a constant, which
// compiles to a multiply natively and in WebAssembly (a 64-bit one would be a real division).
constexpr unsigned ms_per_day_shift = 10;
constexpr std::uint32_t ms_per_day_rest = 84375;
static_assert((std::int64_t{ms_per_day_rest} << ms_per_day_shift) == ms_per_day);
// Offsets from the table's first day stay below 2^42 ms, so the shifted value fits 32 bits.
static_assert((max_rollup_days + 1) * ms_per_day < (std::int64_t{1} << 42));

// A uint32 counter cannot overflow within a chunk of this many responses.
constexpr std::size_t chunk_size = std::size_t{1} << 30;

bool time_in_years_1_9999(std::int64_t ms) {
    return ms >= min_rollup_time_ms && ms <= max_rollup_time_ms;
}

// The scores a rollup counts: `lo`..`lo + slots - 1`, one counter ("slot") each.
struct ScoreRange {
    unsigned lo;
    unsigned slots;
};
constexpr ScoreRange nps_scores{0, 11};
constexpr ScoreRange csat_scores{1, 5};

// Histogram per (period, group) cell: count(cell, slot) = counts[cell * slots + slot], with
// cell = period * groups + group.
struct Cells {
    std::vector<std::int64_t> period_starts;
    std::uint32_t groups = 1;
    std::vector<std::uint64_t> counts;
    RollupTotals totals;
};

struct Range {
    std::int64_t from = 0;  // ms, included
    std::int64_t to = 0;    // ms, excluded
};

// The hot loop: no allocation, no division, one predictable branch. Everything that does
// not count (a time outside the range, a bad score or group index) takes the cold path.
template <unsigned Lo, unsigned Slots, bool Grouped>
void count_chunk(const std::int64_t* times, const std::uint8_t* scores, const std::uint32_t* groups, std::size_t n,
                 const Range& range, std::int64_t base_ms, const std::uint32_t* cell_of_day, std::uint32_t ngroups,
                 std::uint32_t* counts, RollupTotals& totals) {
    const auto from = static_cast<std::uint64_t>(range.from);
    const auto span = static_cast<std::uint64_t>(range.to) - from;
    const auto from_off = static_cast<std::uint64_t>(range.from - base_ms);
    std::uint64_t outside = 0, rejected = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const std::uint64_t rel = static_cast<std::uint64_t>(times[i]) - from;  // wraps below `from`
        const std::uint32_t slot = static_cast<std::uint32_t>(scores[i]) - Lo;  // wraps below Lo
        const std::uint32_t group = Grouped ? groups[i] : 0;
        if (rel >= span || slot >= Slots || group >= ngroups) [[unlikely]] {
            if (slot >= Slots || group >= ngroups || !time_in_years_1_9999(times[i]))
                ++rejected;
            else
                ++outside;
            continue;
        }
        const auto day = static_cast<std::uint32_t>((rel + from_off) >> ms_per_day_shift) / ms_per_day_rest;
        ++counts[cell_of_day[day] + group * Slots + slot];
    }
    totals.outside += outside;
    totals.rejected += rejected;
}

// The range of valid times in the data: nullopt when there is none.
std::optional<Range> data_range(std::span<const std::int64_t> times) {
    if (times.empty()) return std::nullopt;
    // Two independent minima and maxima, so the comparisons do not wait on each other
    // (plain locals: std::min returns a reference, which can keep them in memory).
    const std::int64_t* at = times.data();
    const std::size_t n = times.size();
    std::int64_t lo0 = at[0], hi0 = at[0], lo1 = at[0], hi1 = at[0];
    std::size_t i = 0;
    for (; i + 2 <= n; i += 2) {
        const std::int64_t a = at[i], b = at[i + 1];
        lo0 = a < lo0 ? a : lo0;
        hi0 = a > hi0 ? a : hi0;
        lo1 = b < lo1 ? b : lo1;
        hi1 = b > hi1 ? b : hi1;
    }
    if (i < n) {
        lo0 = at[i] < lo0 ? at[i] : lo0;
        hi0 = at[i] > hi0 ? at[i] : hi0;
    }
    std::int64_t lo = lo0 < lo1 ? lo0 : lo1, hi = hi0 > hi1 ? hi0 : hi1;
    if (!time_in_years_1_9999(lo) || !time_in_years_1_9999(hi)) {  // rare: skip the bad ones
        lo = std::numeric_limits<std::int64_t>::max();
        hi = std::numeric_limits<std::int64_t>::min();
        for (const std::int64_t t : times) {
            if (!time_in_years_1_9999(t)) continue;
            lo = std::min(lo, t);
            hi = std::max(hi, t);
        }
        if (lo > hi) return std::nullopt;
    }
    return Range{lo, hi + 1};
}

template <unsigned Lo, unsigned Slots>
Result<Cells> count_cells(const ResponseColumns& r, const RollupOptions& options) {
    const std::size_t n = r.times.size();
    if (r.scores.size() != n)
        return invalid_field("scores", "must have one item per response (" + std::to_string(r.scores.size()) +
                                           " scores, " + std::to_string(n) + " times)");
    const bool grouped = !r.groups.empty();
    if (grouped && r.groups.size() != n)
        return invalid_field("groups", "must be empty or have one item per response (" +
                                           std::to_string(r.groups.size()) + " groups, " + std::to_string(n) +
                                           " times)");
    if (grouped && r.group_names.empty()) return invalid_field("group_names", "must name the groups of `groups`");
    if (!grouped && r.group_names.size() > 1)
        return invalid_field("group_names", "must have at most one name when `groups` is empty");
    if (r.group_names.size() > std::numeric_limits<std::uint32_t>::max())
        return invalid_field("group_names", "has too many names");
    if (options.from && options.to && options.to->ms <= options.from->ms)
        return invalid_field("to", "must be after from");

    Cells cells;
    cells.groups = grouped ? static_cast<std::uint32_t>(r.group_names.size()) : 1;

    // The range: as given, else from the data; always within the years 0001-9999.
    Range range;
    if (!options.from || !options.to) {
        const auto data = data_range(r.times);
        if (!data) {  // no response with a valid time: nothing to count, no range to show
            cells.totals.rejected = n;
            return cells;
        }
        range.from = options.from ? options.from->ms : data->from;
        range.to = options.to ? options.to->ms : data->to;
    } else {
        range = {options.from->ms, options.to->ms};
    }
    range.from = std::max(range.from, min_rollup_time_ms);
    range.to = std::min(range.to, max_rollup_time_ms + 1);
    if (range.to <= range.from) {  // nothing to count: every response is outside or bad
        for (std::size_t i = 0; i < n; ++i) {
            const bool bad = static_cast<unsigned>(r.scores[i]) - Lo >= Slots ||
                             (grouped && r.groups[i] >= cells.groups) || !time_in_years_1_9999(r.times[i]);
            ++(bad ? cells.totals.rejected : cells.totals.outside);
        }
        return cells;
    }

    // Day -> first counter of the day's period: a table over the days of the range.
    const std::int64_t first_day = day_number(Time{range.from}), last_day = day_number(Time{range.to - 1});
    if (last_day - first_day + 1 > max_rollup_days)
        return invalid_field(options.to ? "to" : "", "the range spans more than " + std::to_string(max_rollup_days) +
                                                         " days; give a shorter one");
    std::vector<std::uint32_t> cell_of_day(static_cast<std::size_t>(last_day - first_day + 1));
    for (std::int64_t d = first_day; d <= last_day; ++d) {
        const std::int64_t start = period_start(options.interval, d);
        if (cells.period_starts.empty() || cells.period_starts.back() != start) cells.period_starts.push_back(start);
        cell_of_day[static_cast<std::size_t>(d - first_day)] =
            static_cast<std::uint32_t>(cells.period_starts.size() - 1);
    }
    const std::uint64_t ncells = cells.period_starts.size() * std::uint64_t{cells.groups};
    if (ncells > max_rollup_cells)
        return invalid_field("", "the rollup would have " + std::to_string(ncells) + " periods x groups, more than " +
                                     std::to_string(max_rollup_cells) + "; give a shorter range or a longer interval");
    for (auto& c : cell_of_day) c *= cells.groups * Slots;

    std::vector<std::uint32_t> counts(static_cast<std::size_t>(ncells) * Slots);
    cells.counts.assign(counts.size(), 0);
    const std::int64_t base_ms = first_day * ms_per_day;
    for (std::size_t at = 0; at < n; at += chunk_size) {
        const std::size_t len = std::min(chunk_size, n - at);
        const std::uint32_t* groups = grouped ? r.groups.data() + at : nullptr;
        if (grouped)
            count_chunk<Lo, Slots, true>(r.times.data() + at, r.scores.data() + at, groups, len, range, base_ms,
                                         cell_of_day.data(), cells.groups, counts.data(), cells.totals);
        else
            count_chunk<Lo, Slots, false>(r.times.data() + at, r.scores.data() + at, groups, len, range, base_ms,
                                          cell_of_day.data(), cells.groups, counts.data(), cells.totals);
        for (std::size_t k = 0; k < counts.size(); ++k) {
            cells.counts[k] += counts[k];
            counts[k] = 0;
        }
    }
    cells.totals.counted = n - cells.totals.outside - cells.totals.rejected;
    return cells;
}

std::string group_label(const ResponseColumns& r, std::uint32_t g) {
    if (g < r.group_names.size()) return r.group_names[g];
    return "(all)";
}

// One row per cell, built by `make_row(period, start, group, counts)`.
template <class Row, class Counts, class MakeRow>
std::vector<Row> rows_of(const Cells& cells, const ResponseColumns& r, const RollupOptions& options, MakeRow make_row) {
    std::vector<Row> rows;
    Counts counts{};
    std::size_t k = 0;
    for (const std::int64_t start : cells.period_starts) {
        const std::string label = period_label(options.interval, start);
        for (std::uint32_t g = 0; g < cells.groups; ++g) {
            std::uint64_t n = 0;
            for (auto& c : counts) {
                c = cells.counts[k++];
                n += c;
            }
            if (n == 0 && !options.include_empty) continue;
            rows.push_back(make_row(label, start, group_label(r, g), counts));
        }
    }
    return rows;
}

}  // namespace

NpsRow nps_row(std::string period, std::int64_t period_start, std::string group, const NpsCounts& counts) {
    const NpsTally t = nps_tally(counts);
    NpsRow row;
    row.period = std::move(period);
    row.period_start = period_start;
    row.group = std::move(group);
    row.promoters = t.promoters;
    row.passives = t.passives;
    row.detractors = t.detractors;
    row.n = t.n();
    row.nps = net_promoter_score(t);
    row.margin_of_error = nps_margin_of_error(t);
    row.small_sample = is_small_sample(row.n);
    row.counts = counts;
    return row;
}

CsatRow csat_row(std::string period, std::int64_t period_start, std::string group, const CsatCounts& counts) {
    const CsatTally t{counts};
    CsatRow row;
    row.period = std::move(period);
    row.period_start = period_start;
    row.group = std::move(group);
    row.n = t.n();
    row.satisfied = t.satisfied();
    row.csat = csat_percent(t);
    row.average = csat_average(t);
    row.small_sample = is_small_sample(row.n);
    row.counts = counts;
    return row;
}

Result<NpsRollup> rollup_nps(const ResponseColumns& responses, const RollupOptions& options) {
    auto cells = count_cells<nps_scores.lo, nps_scores.slots>(responses, options);
    if (!cells) return cells.error();
    NpsRollup out;
    out.interval = options.interval;
    out.rows = rows_of<NpsRow, NpsCounts>(*cells, responses, options, nps_row);
    out.totals = cells->totals;
    return out;
}

Result<CsatRollup> rollup_csat(const ResponseColumns& responses, const RollupOptions& options) {
    auto cells = count_cells<csat_scores.lo, csat_scores.slots>(responses, options);
    if (!cells) return cells.error();
    CsatRollup out;
    out.interval = options.interval;
    out.rows = rows_of<CsatRow, CsatCounts>(*cells, responses, options, csat_row);
    out.totals = cells->totals;
    return out;
}

// ---- 8. JSON -------------------------------------------------------------------------------

namespace {

json optional_number(const std::optional<double>& v) {
    return v ? json(*v) : json(nullptr);
}

// Reads `key` as an array of exactly N non-negative integers.
template <std::size_t N>
std::optional<std::array<std::uint64_t, N>> read_counts(detail::Fields& f, std::string_view key) {
    const json* v = f.find(key);
    if (!v) {
        f.fail(missing_field(f.at(key)));
        return std::nullopt;
    }
    if (!v->is_array() || v->size() != N) {
        f.fail(key, "must be an array of " + std::to_string(N) + " counts");
        return std::nullopt;
    }
    std::array<std::uint64_t, N> out{};
    for (std::size_t i = 0; i < N; ++i) {
        const json& item = (*v)[i];
        if (!item.is_number_unsigned() && !(item.is_number_integer() && item.get<std::int64_t>() >= 0)) {
            f.fail(invalid_field(f.at(key) + "[" + std::to_string(i) + "]", "must be an integer >= 0"));
            return std::nullopt;
        }
        out[i] = item.get<std::uint64_t>();
    }
    return out;
}

// The period and group of a row; false (with the error recorded) when they are bad.
bool read_row_place(detail::Fields& f, std::string& period, std::int64_t& start, std::string& group) {
    if (auto p = f.string("period", true, 32, 1)) period = *p;
    if (auto g = f.string("group", true, 1024)) group = *g;
    if (auto s = f.string("period_start", true, 32)) {
        auto t = parse_time(*s + "T00:00:00Z");
        if (s->size() == 10 && t)
            start = day_number(*t);
        else
            f.fail("period_start", "must be a date such as 2026-11-23");
    }
    return f.ok();
}

// A count field that, when present, must agree with the counts.
void check_count(detail::Fields& f, std::string_view key, std::uint64_t expected) {
    const json* v = f.find(key);
    if (!v) return;
    if (!v->is_number_unsigned() && !v->is_number_integer()) {
        f.fail(key, "must be an integer >= 0");
        return;
    }
    if (!v->is_number_unsigned() || v->get<std::uint64_t>() != expected)
        f.fail(key, "must agree with counts (" + std::to_string(expected) + ")");
}

}  // namespace

void to_json(json& j, const NpsRow& row) {
    j = json{{"period", row.period},
             {"period_start", format_date(row.period_start)},
             {"group", row.group},
             {"promoters", row.promoters},
             {"passives", row.passives},
             {"detractors", row.detractors},
             {"n", row.n},
             {"nps", optional_number(row.nps)},
             {"margin_of_error", optional_number(row.margin_of_error)},
             {"small_sample", row.small_sample},
             {"counts", row.counts}};
}

void to_json(json& j, const CsatRow& row) {
    j = json{{"period", row.period},
             {"period_start", format_date(row.period_start)},
             {"group", row.group},
             {"n", row.n},
             {"satisfied", row.satisfied},
             {"csat", optional_number(row.csat)},
             {"average", optional_number(row.average)},
             {"small_sample", row.small_sample},
             {"counts", row.counts}};
}

Result<NpsRow> nps_row_from_json(const json& j, const std::string& path) {
    detail::Fields f(j, path);
    std::string period, group;
    std::int64_t start = 0;
    if (!read_row_place(f, period, start, group)) return f.error();
    const auto counts = read_counts<11>(f, "counts");
    if (!counts) return f.error();
    NpsRow row = nps_row(std::move(period), start, std::move(group), *counts);
    check_count(f, "promoters", row.promoters);
    check_count(f, "passives", row.passives);
    check_count(f, "detractors", row.detractors);
    check_count(f, "n", row.n);
    if (!f.ok()) return f.error();
    return row;
}

Result<CsatRow> csat_row_from_json(const json& j, const std::string& path) {
    detail::Fields f(j, path);
    std::string period, group;
    std::int64_t start = 0;
    if (!read_row_place(f, period, start, group)) return f.error();
    const auto counts = read_counts<5>(f, "counts");
    if (!counts) return f.error();
    CsatRow row = csat_row(std::move(period), start, std::move(group), *counts);
    check_count(f, "satisfied", row.satisfied);
    check_count(f, "n", row.n);
    if (!f.ok()) return f.error();
    return row;
}

void to_json(json& j, const NpsRollup& rollup) {
    j = json{{"interval", interval_name(rollup.interval)},
             {"series", rollup.rows},
             {"counted", rollup.totals.counted},
             {"outside", rollup.totals.outside},
             {"rejected", rollup.totals.rejected}};
}

void to_json(json& j, const CsatRollup& rollup) {
    j = json{{"interval", interval_name(rollup.interval)},
             {"series", rollup.rows},
             {"counted", rollup.totals.counted},
             {"outside", rollup.totals.outside},
             {"rejected", rollup.totals.rejected}};
}

}  // namespace closeloop
