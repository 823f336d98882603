// closeloop — RFM: recency, frequency and monetary scores and the segment grid.
//
// Per contact, from its purchases in a window as of a given time (DOMAIN.md, "RFM"):
//   recency  = whole days from the last purchase to as_of (rounded down),
//   frequency = number of purchases,
//   monetary = sum of amounts, in hundredths of the workspace currency ("cents"), each amount
//              rounded to cents first, so equal spends compare exactly.
// Each becomes a score 1-5 by quintile over the contacts with at least one purchase in the
// window (5 = most recent / most frequent / highest spend); FM = (F + M) / 2 rounded half up;
// the segment is the cell (R, FM) of an editable 5x5 grid. A contact without a purchase in
// the window has no scores (0) and no segment (`null` on the card).
//
// Sections:
//   1. Scoring rules     — midrank quintile score, FM
//   2. SegmentGrid       — the 5x5 grid of segment names, its default, validation, JSON
//   3. RfmSettings       — as_of, window_days, grid; validation, JSON
//   4. Purchases         — the columnar input
//   5. ContactRfm        — one contact's RFM as the card and scenarios see it; JSON
//   6. compute_rfm       — the computation and its result
//   7. RfmEdges          — one contact scored between computations (a purchase)
#pragma once

#include <array>
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "closeloop/result.h"
#include "closeloop/time.h"

namespace closeloop {

// ---- 1. Scoring rules ----------------------------------------------------------------------
//
// Quintile score with midranks. For a value, over the n contacts being scored:
//   below = contacts with a strictly worse value, equal = contacts with the same value
//   (itself included), score = 1 + floor(5 * (2 * below + equal) / (2 * n)), in integers.
// (2 * below + equal) / (2 * n) is the value's midrank as a fraction of n: the middle of the
// block of positions its equal values occupy. Why this rule:
//   - equal values get equal scores, with no arbitrary tie break (no dependence on the order
//     of contacts, ids or sort stability);
//   - it is the same rule whichever direction is better: a block of ties sits at its middle,
//     not at its bottom or top (as min-rank or max-rank would put it), so recency (fewer days
//     is better) is treated exactly like frequency and monetary (more is better); reversing
//     the direction mirrors every midrank (only one exactly on a quintile boundary goes to
//     the upper score either way);
//   - it never exceeds 5 (2 * below + equal <= 2 * n - 1), so no clamping is needed.
// Examples: 5 distinct values score 1..5; 10 distinct values score 1,1,2,2,3,3,4,4,5,5; a
// single contact, or contacts all equal, score 3.
int midrank_score(std::uint64_t below, std::uint64_t equal, std::uint64_t n);

// Scores of `values` (higher is better) by the rule above: out[i] is the score of values[i].
// `out` must be as long as `values`. Linear with counting when the values span a small range,
// otherwise O(n log n) by sorting a copy.
void quintile_scores(std::span<const std::int64_t> values, std::span<std::uint8_t> out);

// FM = round half up of (F + M) / 2: F=2, M=3 -> 3; F=1, M=2 -> 2.
inline int fm_score(int f, int m) {
    return (f + m + 1) / 2;
}

// ---- 2. SegmentGrid ------------------------------------------------------------------------
//
// The segment of each (R, FM) pair, editable per workspace. JSON: an object with one row per
// R score, keyed "5" to "1"; each row lists the names for FM = 1..5:
//   { "rows": { "5": ["New Customers", "Potential Loyalist", "Potential Loyalist",
//                     "Champions", "Champions"],
//               "4": [...], "3": [...], "2": [...], "1": [...] } }
// All five rows are required, each with exactly five names of 1-64 characters (not blank).
// Keys rather than an array so that an edited file cannot silently shift rows. Errors name
// the cell: `rows.5[2]`. Several cells may share a name (the default has 11 distinct names).
struct SegmentGrid {
    std::array<std::array<std::string, 5>, 5> cells;  // cells[r - 1][fm - 1]

    // The name in row r, column fm (both 1-5).
    const std::string& at(int r, int fm) const { return cells[r - 1][fm - 1]; }
    std::string& at(int r, int fm) { return cells[r - 1][fm - 1]; }
    // The distinct names, in reading order: row R=5 first, FM 1..5 within a row.
    std::vector<std::string> names() const;

    bool operator==(const SegmentGrid&) const = default;
};

inline constexpr std::size_t segment_name_max_length = 64;

// The grid of DOMAIN.md: Champions, Loyal, Potential Loyalist, New Customers, Promising,
// Need Attention, About to Sleep, At Risk, Cannot Lose, Hibernating, Lost.
SegmentGrid default_segment_grid();

// The first invalid cell (empty, blank or too long name), with its path `rows.<r>[<fm-1>]`.
std::optional<Error> validate(const SegmentGrid& grid);

void to_json(nlohmann::json& j, const SegmentGrid& grid);
// Reads and validates; `path` is where the grid sits in the document (errors are under it).
Result<SegmentGrid> segment_grid_from_json(const nlohmann::json& j, const std::string& path = "");

// ---- 3. RfmSettings ------------------------------------------------------------------------
//
// JSON: { "as_of": "2026-11-22T00:00:00Z", "window_days": 365, "grid": {...} }. Every field
// is optional when read: window_days defaults to 365 and grid to the default grid; as_of is
// usually not stored (the server computes "as of now"), so the reader takes a fallback.

inline constexpr std::int32_t default_window_days = 365;
inline constexpr std::int32_t max_window_days = 36'600;  // 100 years; keeps time arithmetic far from overflow

struct RfmSettings {
    Time as_of;                                      // purchases after this are ignored
    std::int32_t window_days = default_window_days;  // 1 to max_window_days
    SegmentGrid grid = default_segment_grid();

    bool operator==(const RfmSettings&) const = default;
};

// window_days out of range (`window_days`), or the grid's first invalid cell (`grid.rows.5[2]`).
std::optional<Error> validate(const RfmSettings& settings);

void to_json(nlohmann::json& j, const RfmSettings& settings);
Result<RfmSettings> rfm_settings_from_json(const nlohmann::json& j, Time default_as_of, const std::string& path = "");

// ---- 4. Purchases --------------------------------------------------------------------------
//
// Columnar: element i of each column is purchase i. The caller maps its contact ids to dense
// indexes 0..contact_count-1 and converts amounts to the workspace currency. Order does not
// matter. compute_rfm checks every purchase (in the window or not) and fails on the first bad
// one: `purchases[17].contact` (index out of range), `purchases[17].amount` (not finite, < 0,
// or above max_purchase_amount).

inline constexpr double max_purchase_amount = 1e12;  // per purchase, in currency units

struct PurchaseColumns {
    std::span<const std::uint32_t> contact;  // contact index
    std::span<const Time> time;              // when it was bought
    std::span<const double> amount;          // in the workspace currency, finite, >= 0
};

// An owning table for callers that build the columns one purchase at a time.
struct Purchases {
    std::vector<std::uint32_t> contact;
    std::vector<Time> time;
    std::vector<double> amount;

    void add(std::uint32_t contact_index, Time when, double amount_value) {
        contact.push_back(contact_index);
        time.push_back(when);
        amount.push_back(amount_value);
    }
    std::size_t size() const { return contact.size(); }
    PurchaseColumns columns() const { return {contact, time, amount}; }
};

// ---- 5. ContactRfm -------------------------------------------------------------------------
//
// The card's `rfm` and the scenarios' `contact.rfm`:
//   { "r": 4, "f": 3, "m": 5, "segment": "Loyal",
//     "recency_days": 12, "frequency": 3, "monetary_cents": 45990 }
// and `null` for a contact without a purchase in the window. When read (e.g. contacts given
// to `closeloop simulate`), r, f, m and segment are required and the other fields optional
// (0 when absent); null reads as no RFM.
struct ContactRfm {
    int r = 0, f = 0, m = 0;  // 1-5
    std::string segment;
    std::int64_t recency_days = 0;
    std::int64_t frequency = 0;
    std::int64_t monetary_cents = 0;

    bool operator==(const ContactRfm&) const = default;
};

void to_json(nlohmann::json& j, const ContactRfm& rfm);
// `null` for nullopt.
nlohmann::json rfm_card_json(const std::optional<ContactRfm>& rfm);
Result<std::optional<ContactRfm>> contact_rfm_from_json(const nlohmann::json& j, const std::string& path = "");

// ---- 6. compute_rfm ------------------------------------------------------------------------
//
// The window is [as_of - window_days days, as_of], both ends included (exact milliseconds,
// not calendar days). One pass over the columns aggregates; each score is then a counting or
// sorting pass over the scored contacts. 1 million contacts from 10 million purchases take
// well under 2 s on one core (tests/bench/bench_rfm.cpp).

inline constexpr std::uint8_t no_segment = 0xFF;

// One contact's aggregates and scores; scores are 0 and segment is no_segment when the
// contact has no purchase in the window.
struct RfmScore {
    std::uint8_t r = 0, f = 0, m = 0, fm = 0;
    std::uint8_t segment = no_segment;  // index into RfmResult::segment_names
    std::uint32_t frequency = 0;
    std::int32_t recency_days = 0;    // 0 to window_days
    std::int64_t monetary_cents = 0;  // saturates at INT64_MAX (unreachable with real data)

    bool scored() const { return r != 0; }
};

struct RfmResult {
    std::vector<std::string> segment_names;  // the grid's distinct names (SegmentGrid::names)
    std::vector<RfmScore> contacts;          // by contact index, contact_count long
    std::uint32_t scored_count = 0;          // contacts with a purchase in the window

    // The contact's segment name, or nullptr when it has none.
    const std::string* segment_name(std::uint32_t contact) const {
        const std::uint8_t s = contacts[contact].segment;
        return s == no_segment ? nullptr : &segment_names[s];
    }
    // The card's view of the contact, or nullopt when it has no segment.
    std::optional<ContactRfm> card(std::uint32_t contact) const;
};

Result<RfmResult> compute_rfm(const RfmSettings& settings, std::uint32_t contact_count,
                              const PurchaseColumns& purchases);

// ---- 7. RfmEdges: one contact scored between computations ----------------------------------
//
// A purchase changes its contact's aggregates at once, but quintiles are a property of all
// contacts and are computed on a schedule. In between, the contact is scored against the
// edges of the last computation: for each score s = 2..5, the least value (oriented so that
// higher is better: recency as minus days) that scored at least s. A value scores 1 + the
// number of edges it reaches, so a contact whose aggregates equal those of a contact in the
// computation gets that contact's scores, and scores never fall as an aggregate improves. The
// segment is the cell of the computation's grid.
// JSON: { "window_days": 365, "r": [e2, e3, e4, e5], "f": [...], "m": [...], "grid": {...} },
// an edge that no contact reached being null.
struct RfmEdges {
    std::int32_t window_days = default_window_days;
    std::array<std::optional<std::int64_t>, 4> r, f, m;  // [s - 2]
    SegmentGrid grid = default_segment_grid();

    bool operator==(const RfmEdges&) const = default;
};

// The edges of a computation made with `settings`; nullopt when it scored no contact.
std::optional<RfmEdges> rfm_edges(const RfmResult& result, const RfmSettings& settings);

// The card's view of a contact with these aggregates (frequency 1 or more).
ContactRfm score_with_edges(const RfmEdges& edges, std::int64_t recency_days, std::int64_t frequency,
                            std::int64_t monetary_cents);

// One contact's purchases (times[i], amounts[i]) aggregated as compute_rfm does, as of `as_of`
// over the edges' window, and scored; nullopt when none is in the window.
std::optional<ContactRfm> score_contact(const RfmEdges& edges, Time as_of, std::span<const Time> times,
                                        std::span<const double> amounts);

void to_json(nlohmann::json& j, const RfmEdges& edges);
Result<RfmEdges> rfm_edges_from_json(const nlohmann::json& j, const std::string& path = "");

}  // namespace closeloop
