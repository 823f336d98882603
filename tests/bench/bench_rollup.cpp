// bench_rollup — how fast the NPS rollup counts, against the memory floor.
//
// Generates N NPS responses (default 10 million) over two years in 11 RFM segments plus
// "(none)", then times rollup_nps by ISO week x group (best of --reps runs) and, on the same
// arrays, a plain sum of times + scores + groups: the least any pass over the data costs.
// Targets: >= 50 million responses/s on one core, and within 3x of the floor.
//
//   bench_rollup [--n N] [--reps R] [--smoke]
//
// --smoke: N = 10 000 unless --n is given; checks the results (every response counted, a few
// cells recounted by brute force) and exits non-zero on a mismatch. Every run checks them;
// a missed speed target is reported, not an error (the machine may be busy).
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "closeloop/metrics.h"

using namespace closeloop;

namespace {

struct Data {
    std::vector<std::int64_t> times;
    std::vector<std::uint8_t> scores;
    std::vector<std::uint32_t> groups;
    std::vector<std::string> names;
};

// splitmix64: a fixed seed, so every run counts the same data.
struct Rng {
    std::uint64_t state;
    std::uint64_t next() {
        std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
};

Data generate(std::size_t n, std::int64_t from_ms, std::int64_t to_ms) {
    Data d;
    d.names = {"Champions",      "Loyal",   "Potential Loyalist", "New Customers", "Promising", "Need Attention",
               "About to Sleep", "At Risk", "Cannot Lose",        "Hibernating",   "Lost",      "(none)"};
    d.times.resize(n);
    d.scores.resize(n);
    d.groups.resize(n);
    Rng rng{20261122};
    // Scores shaped like real NPS answers: many 8-10, a tail of detractors.
    static constexpr std::uint8_t score_of[20] = {0, 1, 2, 3, 4, 5, 5, 6, 6, 7, 7, 8, 8, 8, 9, 9, 9, 10, 10, 10};
    // Times in order (as a store returns them), evenly spread with jitter inside each step.
    const double step = static_cast<double>(to_ms - from_ms) / static_cast<double>(n);
    const auto jitter = static_cast<std::uint64_t>(step > 1 ? step : 1);
    for (std::size_t i = 0; i < n; ++i) {
        const std::uint64_t r = rng.next();
        d.times[i] = from_ms + static_cast<std::int64_t>(static_cast<double>(i) * step) +
                     static_cast<std::int64_t>((r >> 32) % jitter);
        d.scores[i] = score_of[(r & 0xffff) % 20];
        d.groups[i] = static_cast<std::uint32_t>(((r >> 16) & 0xffff) % d.names.size());
    }
    return d;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The floor: one plain pass over the same three columns.
[[gnu::noinline]] std::uint64_t plain_sum(const Data& d) {
    std::uint64_t sum = 0;
    const std::size_t n = d.times.size();
    const std::int64_t* t = d.times.data();
    const std::uint8_t* s = d.scores.data();
    const std::uint32_t* g = d.groups.data();
    for (std::size_t i = 0; i < n; ++i) sum += static_cast<std::uint64_t>(t[i]) + s[i] + g[i];
    return sum;
}

// Brute force: the counts of one row's cell, by scanning everything.
NpsCounts recount(const Data& d, Interval interval, const NpsRow& row, Time from, Time to) {
    NpsCounts counts{};
    for (std::size_t i = 0; i < d.times.size(); ++i) {
        if (d.times[i] < from.ms || d.times[i] >= to.ms) continue;
        if (d.names[d.groups[i]] != row.group) continue;
        if (period_start(interval, day_number(Time{d.times[i]})) != row.period_start) continue;
        if (d.scores[i] <= 10) ++counts[d.scores[i]];
    }
    return counts;
}

void print_rate(const char* what, std::size_t n, double s) {
    std::printf("%-28s %zu responses in %.4f s = %.1f M/s\n", what, n, s, static_cast<double>(n) / s / 1e6);
}

}  // namespace

int main(int argc, char** argv) {
    bool smoke = false;
    std::size_t n = 0;
    int reps = 5;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--smoke") == 0) {
            smoke = true;
        } else if (std::strcmp(argv[i], "--n") == 0 && i + 1 < argc) {
            n = static_cast<std::size_t>(std::strtoull(argv[++i], nullptr, 10));
        } else if (std::strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
            reps = std::atoi(argv[++i]);
        } else {
            std::fprintf(stderr, "usage: bench_rollup [--n N] [--reps R] [--smoke]\n");
            return 2;
        }
    }
    if (n == 0) n = smoke ? 10'000 : 10'000'000;
    if (reps < 1) reps = 1;

    const Time from = parse_time("2025-01-01T00:00:00Z").value();
    const Time to = parse_time("2027-01-01T00:00:00Z").value();
    const Data d = generate(n, from.ms, to.ms);
    const ResponseColumns columns{d.times, d.scores, d.groups, d.names};
    std::printf("bench_rollup: %zu NPS responses 2025-01-01..2026-12-31, ISO week x %zu groups, best of %d%s\n", n,
                d.names.size(), reps, smoke ? " (smoke)" : "");

    RollupOptions given;  // as the reports API asks: from and to known
    given.interval = Interval::week;
    given.from = from;
    given.to = to;
    RollupOptions from_data;  // the range found by a pass over the times
    from_data.interval = Interval::week;

    double best_given = 1e30, best_data = 1e30, best_floor = 1e30;
    std::uint64_t sink = 0;
    NpsRollup result;
    for (int rep = 0; rep < reps; ++rep) {
        auto start = std::chrono::steady_clock::now();
        auto r = rollup_nps(columns, given);
        best_given = std::min(best_given, seconds_since(start));
        if (!r) {
            std::fprintf(stderr, "rollup failed: %s\n", r.error().what().c_str());
            return 1;
        }
        result = std::move(r).value();

        start = std::chrono::steady_clock::now();
        auto r2 = rollup_nps(columns, from_data);
        best_data = std::min(best_data, seconds_since(start));
        if (!r2 || r2->totals.counted != n) {
            std::fprintf(stderr, "rollup (range from data) counted %llu of %zu\n",
                         r2 ? static_cast<unsigned long long>(r2->totals.counted) : 0ULL, n);
            return 1;
        }

        start = std::chrono::steady_clock::now();
        sink += plain_sum(d);
        best_floor = std::min(best_floor, seconds_since(start));
    }

    print_rate("rollup (from/to given):", n, best_given);
    print_rate("rollup (range from data):", n, best_data);
    print_rate("floor (plain sum):", n, best_floor);
    const double ratio_given = best_given / best_floor, ratio_data = best_data / best_floor;
    std::printf("ratio rollup/floor:          %.2fx (from/to given), %.2fx (range from data)\n", ratio_given,
                ratio_data);
    const double rate = static_cast<double>(n) / best_given / 1e6;
    if (smoke) {
        std::printf("targets: not checked in smoke mode\n");
    } else {
        std::printf("target >= 50 M/s:            %s (%.1f M/s)\n", rate >= 50 ? "met" : "NOT met", rate);
        std::printf("target <= 3x floor:          %s (%.2fx; range from data %.2fx)\n",
                    ratio_given <= 3 ? "met" : "NOT met", ratio_given, ratio_data);
    }

    // Checks: every response counted; a few cells recounted by brute force.
    bool ok = result.totals.counted == n && result.totals.rejected == 0 && result.totals.outside == 0;
    std::uint64_t rows_n = 0;
    for (const auto& row : result.rows) rows_n += row.n;
    ok = ok && rows_n == n;
    int checked = 0;
    if (!result.rows.empty()) {
        const std::size_t picks[] = {0, result.rows.size() / 3, result.rows.size() / 2, result.rows.size() - 1};
        for (std::size_t k : picks) {
            const NpsRow& row = result.rows[k];
            if (recount(d, Interval::week, row, from, to) != row.counts) {
                std::fprintf(stderr, "mismatch in %s / %s\n", row.period.c_str(), row.group.c_str());
                ok = false;
            }
            ++checked;
        }
    }
    std::printf("check: counted %llu of %zu in %zu rows, %d cells recounted: %s (checksum %llu)\n",
                static_cast<unsigned long long>(result.totals.counted), n, result.rows.size(), checked,
                ok ? "ok" : "MISMATCH", static_cast<unsigned long long>(sink % 1000));
    return ok ? 0 : 1;
}
