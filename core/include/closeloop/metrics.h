// closeloop — NPS and CSAT: classification, score bands, figures with their margin of error,
// and rollups per period and group.
//
// Sections:
//   1. scores and NPS classes       promoter 9-10, passive 7-8, detractor 0-6; CSAT 1-5
//   2. score bands                  editable per workspace: {name, min, max} covering 0-10
//   3. NPS                          tally, score (undefined for n = 0), margin of error at 95 %
//   4. CSAT                         counts per score, share of 4 and 5, average
//   5. periods                      day, ISO week, month, quarter (UTC) and their labels
//   6. groups                       dense indices for group keys (segment, agent, branch...)
//   7. rollups                      columnar input -> one row per (period, group)
//   8. JSON                         rows and rollups as the reports API sends them
//
// Figures that are undefined (n = 0) are std::nullopt in C++ and null in JSON, never 0.
// Figures are not rounded here: 33.333333333333336 stays as is; whoever shows it rounds it.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "closeloop/response.h"
#include "closeloop/result.h"
#include "closeloop/time.h"

namespace closeloop {

// ---- 1. scores and NPS classes -------------------------------------------------------------

inline constexpr bool is_nps_score(int score) {
    return score >= 0 && score <= 10;
}
inline constexpr bool is_csat_score(int score) {
    return score >= 1 && score <= 5;
}

enum class NpsClass { detractor, passive, promoter };
std::string_view nps_class_name(NpsClass c);  // "detractor", "passive", "promoter"
// The class of an NPS answer; nullopt for a score outside 0-10.
std::optional<NpsClass> nps_class(int score);

// Responses per score: index = NPS score 0-10; for CSAT index 0 = score 1 ... 4 = score 5.
using NpsCounts = std::array<std::uint64_t, 11>;
using CsatCounts = std::array<std::uint64_t, 5>;

// A group with fewer answers than this is flagged as too small to compare.
inline constexpr std::uint64_t small_sample_below = 30;
inline constexpr bool is_small_sample(std::uint64_t n) {
    return n < small_sample_below;
}

// ---- 2. score bands ------------------------------------------------------------------------

// A named range of NPS scores, both ends included. Scenarios and e-mails branch on bands;
// the NPS classes above are fixed by the definition of NPS and are not bands.
struct ScoreBand {
    std::string name;
    int min = 0;
    int max = 0;
    bool operator==(const ScoreBand&) const = default;
};

// Valid bands cover 0-10 exactly once (no gap, no overlap) and have unique, non-empty names.
// The list order is the display order; it need not be sorted by score.
struct ScoreBands {
    std::vector<ScoreBand> bands;
    bool operator==(const ScoreBands&) const = default;
};

// strong_detractor 0-1, detractor 2-6, passive 7-8, promoter 9-10 (seed 004).
ScoreBands default_score_bands();

// Every problem, each naming its place under `path` ("bands[2].min: ..."); empty when valid.
std::vector<Error> validate_score_bands(const ScoreBands& bands, const std::string& path = "bands");

// The band containing `score` (the first in list order), or nullptr when none does: a score
// outside 0-10, or a gap in bands that are not valid.
const ScoreBand* band_of(const ScoreBands& bands, int score);

// Responses per band (aligned with `bands.bands`), from responses per score.
std::vector<std::uint64_t> band_tally(const ScoreBands& bands, const NpsCounts& counts);

// JSON: an array of {"name", "min", "max"}. Reading validates (first error returned).
Result<ScoreBands> score_bands_from_json(const nlohmann::json& j, const std::string& path = "bands");
void to_json(nlohmann::json& j, const ScoreBand& band);
void to_json(nlohmann::json& j, const ScoreBands& bands);

// ---- 3. NPS --------------------------------------------------------------------------------

struct NpsTally {
    std::uint64_t promoters = 0;
    std::uint64_t passives = 0;
    std::uint64_t detractors = 0;

    std::uint64_t n() const { return promoters + passives + detractors; }
    // Counts one answer; returns false and counts nothing for a score outside 0-10.
    bool add(int score);
    NpsTally& operator+=(const NpsTally& other);
    bool operator==(const NpsTally&) const = default;
};

NpsTally nps_tally(const NpsCounts& counts);

// 100 x (promoters - detractors) / n, from -100 to 100; nullopt for n = 0.
std::optional<double> net_promoter_score(const NpsTally& t);
// At 95 %: p = P/n, d = D/n, var = (p + d - (p - d)^2) / n, MoE = 100 x 1.96 x sqrt(var), in
// NPS points; nullopt for n = 0.
std::optional<double> nps_margin_of_error(const NpsTally& t);

// A contact's NPS as its card shows it: the last answer, the one before it and the change
// between them (last - previous; nullopt with a single answer).
struct NpsTrend {
    int last = 0;
    Time last_at;
    std::optional<int> previous, change;
};
// From the contact's NPS answers, newest first; nullopt when there are none.
std::optional<NpsTrend> nps_trend(std::span<const Response> newest_first);

// ---- 4. CSAT -------------------------------------------------------------------------------

struct CsatTally {
    CsatCounts counts{};  // index 0 = score 1 ... 4 = score 5

    std::uint64_t n() const;
    std::uint64_t satisfied() const { return counts[3] + counts[4]; }  // scores 4 and 5
    // Counts one answer; returns false and counts nothing for a score outside 1-5.
    bool add(int score);
    CsatTally& operator+=(const CsatTally& other);
    bool operator==(const CsatTally&) const = default;
};

// 100 x (answers 4 or 5) / n; nullopt for n = 0.
std::optional<double> csat_percent(const CsatTally& t);
// Mean score 1-5; nullopt for n = 0.
std::optional<double> csat_average(const CsatTally& t);

// ---- 5. periods ----------------------------------------------------------------------------

// Periods are calendar periods in UTC. A week is an ISO 8601 week: it starts on Monday and
// belongs to the year of its Thursday, so 2027-01-01 (a Friday) is in 2026-W53.
enum class Interval { day, week, month, quarter };
std::string_view interval_name(Interval interval);  // "day", "week", "month", "quarter"
// Reads "day", "week", "month" or "quarter"; the error has an empty path (place it with under()).
Result<Interval> parse_interval(std::string_view text);

struct IsoWeek {
    int year = 1970;    // the ISO week-year: may differ from the calendar year near 1 January
    unsigned week = 1;  // 1-53
    bool operator==(const IsoWeek&) const = default;
};
IsoWeek iso_week(std::int64_t day);

// The first day (days since 1970-01-01) of the period containing `day`.
std::int64_t period_start(Interval interval, std::int64_t day);
// "2026-11-23", "2026-W48", "2026-11", "2026-Q4".
std::string period_label(Interval interval, std::int64_t day);

// ---- 6. groups -----------------------------------------------------------------------------

// Dense group indices for the rollup's `groups` column: the first distinct key gets 0, the
// next 1, and so on. A response without a key (a contact with no RFM segment) takes a name
// the caller chooses, such as "(none)".
class GroupIndexer {
public:
    std::uint32_t index_of(std::string_view key);  // adds an unseen key at the end
    const std::vector<std::string>& names() const { return names_; }

private:
    std::vector<std::string> names_;
    std::map<std::string, std::uint32_t, std::less<>> index_;
};

// ---- 7. rollups ----------------------------------------------------------------------------

// Responses in columns (struct of arrays), so that a rollup of millions reads only what it
// counts. All spans have one item per response, except `groups`, which may be empty: then
// every response is in one group, named by `group_names[0]`, or "(all)" when that is empty.
struct ResponseColumns {
    std::span<const std::int64_t> times;       // Time::ms, UTC
    std::span<const std::uint8_t> scores;      // NPS 0-10 or CSAT 1-5; others are rejected
    std::span<const std::uint32_t> groups;     // index into group_names; unknown -> rejected
    std::span<const std::string> group_names;  // the group label of each index
};

struct RollupOptions {
    Interval interval = Interval::week;
    std::optional<Time> from;  // included; absent: the earliest response
    std::optional<Time> to;    // excluded; absent: just after the latest response
    // true: one row per period of the range x every name in group_names, n = 0 rows with
    // null figures (continuous series for charts). false: rows with n > 0 only.
    bool include_empty = true;
};

// Limits that keep a rollup's memory bounded; beyond them the rollup returns an Error.
inline constexpr std::int64_t max_rollup_days = 36600;       // about 100 years from first to last day
inline constexpr std::uint64_t max_rollup_cells = 1u << 18;  // periods x groups

// Times must lie in the years 0001-9999 (others are rejected as bad data).
inline constexpr std::int64_t min_rollup_time_ms = -62135596800000;  // 0001-01-01T00:00:00Z
inline constexpr std::int64_t max_rollup_time_ms = 253402300799999;  // 9999-12-31T23:59:59.999Z

struct NpsRow {
    std::string period;             // "2026-W48"
    std::int64_t period_start = 0;  // its first day, days since 1970-01-01 (JSON: "2026-11-23")
    std::string group;              // "Champions", "(none)", "(all)"
    std::uint64_t promoters = 0;
    std::uint64_t passives = 0;
    std::uint64_t detractors = 0;
    std::uint64_t n = 0;
    std::optional<double> nps;              // null for n = 0
    std::optional<double> margin_of_error;  // null for n = 0
    bool small_sample = true;               // n < 30
    NpsCounts counts{};                     // per score 0-10: apply score bands with band_tally
    bool operator==(const NpsRow&) const = default;
};
NpsRow nps_row(std::string period, std::int64_t period_start, std::string group, const NpsCounts& counts);

struct CsatRow {
    std::string period;
    std::int64_t period_start = 0;
    std::string group;
    std::uint64_t n = 0;
    std::uint64_t satisfied = 0;    // answers 4 or 5
    std::optional<double> csat;     // percent; null for n = 0
    std::optional<double> average;  // 1-5; null for n = 0
    bool small_sample = true;       // n < 30
    CsatCounts counts{};            // per score 1-5
    bool operator==(const CsatRow&) const = default;
};
CsatRow csat_row(std::string period, std::int64_t period_start, std::string group, const CsatCounts& counts);

// `counted` + `outside` + `rejected` is the number of responses given.
struct RollupTotals {
    std::uint64_t counted = 0;   // in the rows
    std::uint64_t outside = 0;   // time outside [from, to): skipped, not an error
    std::uint64_t rejected = 0;  // bad data, skipped: score out of range, unknown group index,
                                 // time outside the years 0001-9999
    bool operator==(const RollupTotals&) const = default;
};

struct NpsRollup {
    Interval interval = Interval::week;
    std::vector<NpsRow> rows;
    RollupTotals totals;
};

struct CsatRollup {
    Interval interval = Interval::week;
    std::vector<CsatRow> rows;
    RollupTotals totals;
};

// Counts every response into its (period, group) cell, then classifies each cell; rows are
// ordered by period, then by group index. Periods are whole calendar periods: the first row's
// period_start may precede `from`. Give from and to when they are known: without them the
// rollup reads the times once more to find their range.
// Errors (the path names the argument): columns of different lengths, group indices without
// names, to <= from, a range longer than max_rollup_days, more than max_rollup_cells.
Result<NpsRollup> rollup_nps(const ResponseColumns& responses, const RollupOptions& options);
Result<CsatRollup> rollup_csat(const ResponseColumns& responses, const RollupOptions& options);

// ---- 8. JSON -------------------------------------------------------------------------------

// NpsRow: { "period", "period_start", "group", "promoters", "passives", "detractors", "n",
//           "nps", "margin_of_error", "small_sample", "counts": [11 numbers, scores 0-10] }
// CsatRow: { "period", "period_start", "group", "n", "satisfied", "csat", "average",
//            "small_sample", "counts": [5 numbers, scores 1-5] }
// Reading a row takes its counts as the truth, derives the figures from them, and reports a
// count field that disagrees with them.
void to_json(nlohmann::json& j, const NpsRow& row);
void to_json(nlohmann::json& j, const CsatRow& row);
Result<NpsRow> nps_row_from_json(const nlohmann::json& j, const std::string& path = "");
Result<CsatRow> csat_row_from_json(const nlohmann::json& j, const std::string& path = "");

// { "interval": "week", "series": [rows], "counted", "outside", "rejected" }
void to_json(nlohmann::json& j, const NpsRollup& rollup);
void to_json(nlohmann::json& j, const CsatRollup& rollup);

}  // namespace closeloop
