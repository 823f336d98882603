#include "closeloop/rfm.h"

#include <algorithm>
#include <cassert>
#include <limits>
#include <nlohmann/json.hpp>
#include <utility>

#include "closeloop/detail/json_read.h"

namespace closeloop {

using nlohmann::json;

// ---- 1. Scoring rules ----------------------------------------------------------------------

int midrank_score(std::uint64_t below, std::uint64_t equal, std::uint64_t n) {
    assert(n > 0 && equal > 0 && below + equal <= n);
    return 1 + static_cast<int>(5 * (2 * below + equal) / (2 * n));
}

namespace {

// Values spanning fewer than this many integers (or fewer than the number of values) are
// scored by counting: recency (at most window_days + 1 values) and, usually, frequency.
constexpr std::uint64_t counting_range_floor = 1u << 16;

// `range` = max - min, which is below values.size() or counting_range_floor, so the tables fit
// in memory and every offset fits in std::size_t (32 bits in WebAssembly).
void scores_by_counting(std::span<const std::int64_t> values, std::int64_t lo, std::size_t range,
                        std::span<std::uint8_t> out) {
    const std::uint64_t n = values.size();
    const auto offset = [lo](std::int64_t v) {
        return static_cast<std::size_t>(static_cast<std::uint64_t>(v) - static_cast<std::uint64_t>(lo));
    };
    std::vector<std::size_t> count(range + 1, 0);
    for (const std::int64_t v : values) ++count[offset(v)];
    std::vector<std::uint8_t> score_of(range + 1, 0);
    std::uint64_t below = 0;
    for (std::size_t k = 0; k <= range; ++k) {
        if (count[k] == 0) continue;
        score_of[k] = static_cast<std::uint8_t>(midrank_score(below, count[k], n));
        below += count[k];
    }
    for (std::size_t i = 0; i < values.size(); ++i) out[i] = score_of[offset(values[i])];
}

void scores_by_sorting(std::span<const std::int64_t> values, std::span<std::uint8_t> out) {
    const std::uint64_t n = values.size();
    std::vector<std::pair<std::int64_t, std::uint32_t>> sorted(values.size());
    for (std::size_t i = 0; i < values.size(); ++i) sorted[i] = {values[i], static_cast<std::uint32_t>(i)};
    std::sort(sorted.begin(), sorted.end());
    // One run-length pass: a run of equal values starts after `below` smaller ones.
    for (std::size_t begin = 0; begin < sorted.size();) {
        std::size_t end = begin + 1;
        while (end < sorted.size() && sorted[end].first == sorted[begin].first) ++end;
        const auto score = static_cast<std::uint8_t>(midrank_score(begin, end - begin, n));
        for (std::size_t k = begin; k < end; ++k) out[sorted[k].second] = score;
        begin = end;
    }
}

}  // namespace

void quintile_scores(std::span<const std::int64_t> values, std::span<std::uint8_t> out) {
    assert(out.size() == values.size());
    assert(values.size() <= std::numeric_limits<std::uint32_t>::max());
    if (values.empty()) return;
    const auto [lo, hi] = std::minmax_element(values.begin(), values.end());
    const std::uint64_t range = static_cast<std::uint64_t>(*hi) - static_cast<std::uint64_t>(*lo);
    if (range < std::max<std::uint64_t>(values.size(), counting_range_floor))
        scores_by_counting(values, *lo, static_cast<std::size_t>(range), out);
    else
        scores_by_sorting(values, out);
}

// ---- 2. SegmentGrid ------------------------------------------------------------------------

std::vector<std::string> SegmentGrid::names() const {
    std::vector<std::string> out;
    for (int r = 5; r >= 1; --r)
        for (int fm = 1; fm <= 5; ++fm)
            if (std::find(out.begin(), out.end(), at(r, fm)) == out.end()) out.push_back(at(r, fm));
    return out;
}

SegmentGrid default_segment_grid() {
    SegmentGrid g;
    // R = 1 ... 5 (cells[r - 1]); FM = 1 ... 5 within a row. DOMAIN.md lists the rows 5 to 1.
    g.cells[0] = {"Lost", "Lost", "At Risk", "Cannot Lose", "Cannot Lose"};
    g.cells[1] = {"Hibernating", "Hibernating", "At Risk", "At Risk", "Cannot Lose"};
    g.cells[2] = {"Promising", "About to Sleep", "Need Attention", "Loyal", "Loyal"};
    g.cells[3] = {"Promising", "Potential Loyalist", "Potential Loyalist", "Loyal", "Champions"};
    g.cells[4] = {"New Customers", "Potential Loyalist", "Potential Loyalist", "Champions", "Champions"};
    return g;
}

namespace {

std::string cell_path(int r, int fm) {
    return "rows." + std::to_string(r) + "[" + std::to_string(fm - 1) + "]";
}

bool blank(const std::string& s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; });
}

std::optional<Error> validate_segment_name(const std::string& name, const std::string& path) {
    if (name.empty() || blank(name)) return invalid_field(path, "must be a segment name, not empty");
    if (name.size() > segment_name_max_length)
        return invalid_field(path, "must be at most " + std::to_string(segment_name_max_length) + " characters long");
    return std::nullopt;
}

}  // namespace

std::optional<Error> validate(const SegmentGrid& grid) {
    for (int r = 5; r >= 1; --r)
        for (int fm = 1; fm <= 5; ++fm)
            if (auto e = validate_segment_name(grid.at(r, fm), cell_path(r, fm))) return e;
    return std::nullopt;
}

void to_json(json& j, const SegmentGrid& grid) {
    json rows = json::object();
    for (int r = 5; r >= 1; --r) rows[std::to_string(r)] = grid.cells[r - 1];
    j = json{{"rows", std::move(rows)}};
}

Result<SegmentGrid> segment_grid_from_json(const json& j, const std::string& path) {
    detail::Fields fields(j, path);
    fields.reject_unknown({"rows"});
    const json* rows = fields.object("rows", true);
    if (!fields.ok()) return fields.error();

    detail::Fields row_fields(*rows, fields.at("rows"));
    row_fields.reject_unknown({"1", "2", "3", "4", "5"});
    if (!row_fields.ok()) return row_fields.error();
    SegmentGrid grid;
    for (int r = 5; r >= 1; --r) {
        const std::string key = std::to_string(r);
        const std::string row_path = row_fields.at(key);
        const json* row = row_fields.find(key);
        if (!row) return missing_field(row_path);
        if (!row->is_array() || row->size() != 5)
            return invalid_field(row_path, "must be an array of 5 segment names (FM = 1 to 5)");
        for (int fm = 1; fm <= 5; ++fm) {
            const json& cell = (*row)[static_cast<std::size_t>(fm - 1)];
            if (!cell.is_string())
                return under(path, invalid_field(cell_path(r, fm), std::string("must be a segment name, not ") +
                                                                       detail::json_type_name(cell)));
            grid.at(r, fm) = cell.get_ref<const std::string&>();
        }
    }
    if (auto e = validate(grid)) return under(path, *e);
    return grid;
}

// ---- 3. RfmSettings ------------------------------------------------------------------------

std::optional<Error> validate(const RfmSettings& settings) {
    if (settings.window_days < 1 || settings.window_days > max_window_days)
        return invalid_field("window_days", "must be an integer 1-" + std::to_string(max_window_days));
    if (auto e = validate(settings.grid)) return under("grid", *e);
    return std::nullopt;
}

void to_json(json& j, const RfmSettings& settings) {
    j = json{{"as_of", format_time(settings.as_of)}, {"window_days", settings.window_days}, {"grid", settings.grid}};
}

Result<RfmSettings> rfm_settings_from_json(const json& j, Time default_as_of, const std::string& path) {
    detail::Fields fields(j, path);
    fields.reject_unknown({"as_of", "window_days", "grid"});
    const auto as_of = fields.time("as_of", false);
    const auto window_days = fields.integer("window_days", false, 1, max_window_days);
    const json* grid = fields.object("grid", false);
    if (!fields.ok()) return fields.error();

    RfmSettings settings;
    settings.as_of = as_of.value_or(default_as_of);
    if (window_days) settings.window_days = static_cast<std::int32_t>(*window_days);
    if (grid) {
        auto g = segment_grid_from_json(*grid, fields.at("grid"));
        if (!g) return g.error();
        settings.grid = std::move(g).value();
    }
    return settings;
}

// ---- 4. Purchases: see compute_rfm ---------------------------------------------------------

// ---- 5. ContactRfm -------------------------------------------------------------------------

void to_json(json& j, const ContactRfm& rfm) {
    j = json{{"r", rfm.r},
             {"f", rfm.f},
             {"m", rfm.m},
             {"segment", rfm.segment},
             {"recency_days", rfm.recency_days},
             {"frequency", rfm.frequency},
             {"monetary_cents", rfm.monetary_cents}};
}

json rfm_card_json(const std::optional<ContactRfm>& rfm) {
    return rfm ? json(*rfm) : json(nullptr);
}

Result<std::optional<ContactRfm>> contact_rfm_from_json(const json& j, const std::string& path) {
    if (j.is_null()) return std::optional<ContactRfm>{};
    detail::Fields fields(j, path);
    fields.reject_unknown({"r", "f", "m", "segment", "recency_days", "frequency", "monetary_cents"});
    const auto r = fields.integer("r", true, 1, 5);
    const auto f = fields.integer("f", true, 1, 5);
    const auto m = fields.integer("m", true, 1, 5);
    const auto segment = fields.string("segment", true, segment_name_max_length, 1);
    const auto recency_days = fields.integer("recency_days", false, 0, max_window_days);
    const auto frequency = fields.integer("frequency", false, 0, std::numeric_limits<std::int64_t>::max(), "0 or more");
    const auto monetary_cents =
        fields.integer("monetary_cents", false, 0, std::numeric_limits<std::int64_t>::max(), "0 or more");
    if (!fields.ok()) return fields.error();
    if (auto e = validate_segment_name(*segment, fields.at("segment"))) return *e;

    ContactRfm rfm;
    rfm.r = static_cast<int>(*r);
    rfm.f = static_cast<int>(*f);
    rfm.m = static_cast<int>(*m);
    rfm.segment = *segment;
    rfm.recency_days = recency_days.value_or(0);
    rfm.frequency = frequency.value_or(0);
    rfm.monetary_cents = monetary_cents.value_or(0);
    return std::optional<ContactRfm>{std::move(rfm)};
}

// ---- 6. compute_rfm ------------------------------------------------------------------------

std::optional<ContactRfm> RfmResult::card(std::uint32_t contact) const {
    const RfmScore& s = contacts[contact];
    if (s.segment == no_segment) return std::nullopt;
    return ContactRfm{s.r, s.f, s.m, segment_names[s.segment], s.recency_days, s.frequency, s.monetary_cents};
}

namespace {

// Per-contact running totals, 16 bytes so that one purchase touches one cache line.
struct Totals {
    std::int64_t cents = 0;
    std::uint32_t count = 0;
    std::int32_t min_days = std::numeric_limits<std::int32_t>::max();  // recency of the latest purchase
};
static_assert(sizeof(Totals) == 16);

std::string purchase_path(std::size_t i, const char* field) {
    return "purchases[" + std::to_string(i) + "]." + field;
}

// The window start saturates rather than wrapping for an as_of near the start of int64 time.
std::int64_t window_start(std::int64_t as_of, std::int32_t window_days) {
    const std::int64_t window_ms = std::int64_t{window_days} * ms_per_day;
    return as_of < std::numeric_limits<std::int64_t>::min() + window_ms ? std::numeric_limits<std::int64_t>::min()
                                                                        : as_of - window_ms;
}

bool valid_amount(double a) {
    return a >= 0.0 && a <= max_purchase_amount;  // also rejects NaN
}

// Counts a purchase at `t` of `a` (valid) when it is in the window [start, as_of]. Recency is
// kept in whole days: the latest purchase has the fewest days, and floor((as_of - t) / day)
// is monotone in t.
void add_purchase(Totals& s, std::int64_t start, std::int64_t as_of, std::int64_t t, double a) {
    if (t < start || t > as_of) return;
    ++s.count;
    // Rounded half up to cents (a >= 0); at most 1e14, so the check below cannot overflow.
    const auto cents = static_cast<std::int64_t>(a * 100.0 + 0.5);
    s.cents = s.cents > std::numeric_limits<std::int64_t>::max() - cents ? std::numeric_limits<std::int64_t>::max()
                                                                         : s.cents + cents;
    const auto days = static_cast<std::int32_t>((as_of - t) / ms_per_day);
    if (days < s.min_days) s.min_days = days;
}

}  // namespace

Result<RfmResult> compute_rfm(const RfmSettings& settings, std::uint32_t contact_count,
                              const PurchaseColumns& purchases) {
    if (auto e = validate(settings)) return *e;
    const std::size_t n_purchases = purchases.contact.size();
    if (purchases.time.size() != n_purchases || purchases.amount.size() != n_purchases)
        return invalid_field("purchases", "columns must have the same length (contact " + std::to_string(n_purchases) +
                                              ", time " + std::to_string(purchases.time.size()) + ", amount " +
                                              std::to_string(purchases.amount.size()) + ")");

    const std::int64_t as_of = settings.as_of.ms;
    const std::int64_t start = window_start(as_of, settings.window_days);

    // One pass over the columns.
    std::vector<Totals> totals(contact_count);
    const std::uint32_t* contact = purchases.contact.data();
    const Time* time = purchases.time.data();
    const double* amount = purchases.amount.data();
    for (std::size_t i = 0; i < n_purchases; ++i) {
        const std::uint32_t c = contact[i];
        if (c >= contact_count)
            return invalid_field(purchase_path(i, "contact"),
                                 "must be a contact index below " + std::to_string(contact_count));
        if (!valid_amount(amount[i]))
            return invalid_field(purchase_path(i, "amount"), "must be a finite number 0-1e12");
        add_purchase(totals[c], start, as_of, time[i].ms, amount[i]);
    }

    // The scored contacts' values, each oriented so that higher is better.
    std::vector<std::uint32_t> scored;
    for (std::uint32_t c = 0; c < contact_count; ++c)
        if (totals[c].count > 0) scored.push_back(c);
    const std::size_t n = scored.size();
    std::vector<std::int64_t> values(n);
    std::vector<std::uint8_t> r(n), f(n), m(n);
    for (std::size_t k = 0; k < n; ++k) values[k] = -std::int64_t{totals[scored[k]].min_days};
    quintile_scores(values, r);
    for (std::size_t k = 0; k < n; ++k) values[k] = totals[scored[k]].count;
    quintile_scores(values, f);
    for (std::size_t k = 0; k < n; ++k) values[k] = totals[scored[k]].cents;
    quintile_scores(values, m);

    RfmResult result;
    result.segment_names = settings.grid.names();
    std::array<std::array<std::uint8_t, 5>, 5> segment_of{};  // [r - 1][fm - 1] -> index into the names
    for (int rs = 1; rs <= 5; ++rs)
        for (int fms = 1; fms <= 5; ++fms) {
            const auto it =
                std::find(result.segment_names.begin(), result.segment_names.end(), settings.grid.at(rs, fms));
            segment_of[rs - 1][fms - 1] = static_cast<std::uint8_t>(it - result.segment_names.begin());
        }

    result.contacts.resize(contact_count);
    result.scored_count = static_cast<std::uint32_t>(n);
    for (std::size_t k = 0; k < n; ++k) {
        const Totals& t = totals[scored[k]];
        RfmScore& s = result.contacts[scored[k]];
        s.r = r[k];
        s.f = f[k];
        s.m = m[k];
        s.fm = static_cast<std::uint8_t>(fm_score(s.f, s.m));
        s.segment = segment_of[s.r - 1][s.fm - 1];
        s.frequency = t.count;
        s.recency_days = t.min_days;
        s.monetary_cents = t.cents;
    }
    return result;
}

// ---- 7. RfmEdges ---------------------------------------------------------------------------

namespace {

using Edges = std::array<std::optional<std::int64_t>, 4>;

// edges[s - 2] = the least of values[k] over the contacts k whose score is at least s.
void lower_edges(Edges& edges, std::int64_t value, int score) {
    for (int s = 2; s <= score; ++s) {
        auto& e = edges[static_cast<std::size_t>(s - 2)];
        if (!e || value < *e) e = value;
    }
}

int score_by_edges(const Edges& edges, std::int64_t value) {
    int score = 1;
    for (const auto& e : edges)
        if (e && value >= *e) ++score;
    return score;
}

json edges_json(const Edges& edges) {
    json out = json::array();
    for (const auto& e : edges) out.push_back(e ? json(*e) : json(nullptr));
    return out;
}

}  // namespace

std::optional<RfmEdges> rfm_edges(const RfmResult& result, const RfmSettings& settings) {
    if (result.scored_count == 0) return std::nullopt;
    RfmEdges edges;
    edges.window_days = settings.window_days;
    edges.grid = settings.grid;
    for (const RfmScore& s : result.contacts) {
        if (!s.scored()) continue;
        lower_edges(edges.r, -std::int64_t{s.recency_days}, s.r);
        lower_edges(edges.f, s.frequency, s.f);
        lower_edges(edges.m, s.monetary_cents, s.m);
    }
    return edges;
}

ContactRfm score_with_edges(const RfmEdges& edges, std::int64_t recency_days, std::int64_t frequency,
                            std::int64_t monetary_cents) {
    ContactRfm rfm;
    rfm.r = score_by_edges(edges.r, -recency_days);
    rfm.f = score_by_edges(edges.f, frequency);
    rfm.m = score_by_edges(edges.m, monetary_cents);
    rfm.segment = edges.grid.at(rfm.r, fm_score(rfm.f, rfm.m));
    rfm.recency_days = recency_days;
    rfm.frequency = frequency;
    rfm.monetary_cents = monetary_cents;
    return rfm;
}

std::optional<ContactRfm> score_contact(const RfmEdges& edges, Time as_of, std::span<const Time> times,
                                        std::span<const double> amounts) {
    const std::int64_t start = window_start(as_of.ms, edges.window_days);
    Totals totals;
    for (std::size_t i = 0; i < times.size() && i < amounts.size(); ++i)
        if (valid_amount(amounts[i])) add_purchase(totals, start, as_of.ms, times[i].ms, amounts[i]);
    if (totals.count == 0) return std::nullopt;
    return score_with_edges(edges, totals.min_days, totals.count, totals.cents);
}

void to_json(json& j, const RfmEdges& edges) {
    j = json{{"window_days", edges.window_days},
             {"r", edges_json(edges.r)},
             {"f", edges_json(edges.f)},
             {"m", edges_json(edges.m)},
             {"grid", edges.grid}};
}

Result<RfmEdges> rfm_edges_from_json(const json& j, const std::string& path) {
    detail::Fields fields(j, path);
    fields.reject_unknown({"window_days", "r", "f", "m", "grid"});
    const auto window_days = fields.integer("window_days", true, 1, max_window_days);
    const json* grid = fields.object("grid", true);
    if (!fields.ok()) return fields.error();
    RfmEdges edges;
    edges.window_days = static_cast<std::int32_t>(*window_days);
    for (auto [name, column] : {std::pair{"r", &edges.r}, std::pair{"f", &edges.f}, std::pair{"m", &edges.m}}) {
        const auto it = j.find(name);
        if (it == j.end() || !it->is_array() || it->size() != 4)
            return invalid_field(fields.at(name), "must be an array of 4 edges");
        for (std::size_t s = 0; s < 4; ++s) {
            const json& e = (*it)[s];
            if (e.is_null()) continue;
            if (!e.is_number_integer())
                return invalid_field(fields.at(name) + "[" + std::to_string(s) + "]", "must be an integer or null");
            (*column)[s] = e.get<std::int64_t>();
        }
    }
    auto g = segment_grid_from_json(*grid, fields.at("grid"));
    if (!g) return g.error();
    edges.grid = std::move(g).value();
    return edges;
}

}  // namespace closeloop
