// bench_rfm: RFM scores and segments for many contacts (target: 1 million contacts from
// 10 million purchases in under 2 s on one core).
//
//   bench_rfm                                 1,000,000 contacts, 10,000,000 purchases
//   bench_rfm --contacts N --purchases M      other sizes
//   bench_rfm --smoke                         1,000 / 10,000, checks the results (exit 1 if wrong)
//
// The data is generated with a fixed seed: purchase counts per contact are skewed (a few
// contacts buy often, many once or never), times spread over 500 days before as_of (some after
// it), amounts mostly small with a long tail. The result is checked in every mode: scores 1-5
// and a segment exactly for contacts with a purchase in the window, monetary scores about one
// fifth each, and a few contacts' aggregates and scores recomputed by brute force.
#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <numeric>
#include <string>
#include <vector>

#include "closeloop/rfm.h"

using namespace closeloop;

namespace {

// splitmix64: small, fast and the same on every platform.
struct Rng {
    std::uint64_t state;
    std::uint64_t next() {
        std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)
};

const Time as_of{20779LL * ms_per_day};  // 2026-11-22T00:00:00Z

Purchases generate(std::uint32_t contacts, std::uint64_t purchases) {
    Rng rng{42};
    Purchases p;
    p.contact.reserve(purchases);
    p.time.reserve(purchases);
    p.amount.reserve(purchases);
    // Skewed: index = contacts * u^3 puts many purchases on few indexes; a multiplicative
    // permutation (when it is one) scatters the busy contacts over the table.
    std::uint64_t mult = 2654435761u;
    if (std::gcd(mult, std::uint64_t{contacts}) != 1) mult = 1;
    for (std::uint64_t i = 0; i < purchases; ++i) {
        const double u = rng.unit();
        const auto skewed = static_cast<std::uint64_t>(static_cast<double>(contacts) * u * u * u);
        const auto contact = static_cast<std::uint32_t>(skewed * mult % contacts);
        // 500 days before as_of up to 5 days after it (those are ignored).
        const auto back_ms = static_cast<std::int64_t>(rng.next() % static_cast<std::uint64_t>(505 * ms_per_day));
        const Time when{as_of.ms + 5 * ms_per_day - back_ms};
        // 5.00 - 5000.00, most below 100, with cents.
        const double v = rng.unit();
        const double amount =
            static_cast<double>(static_cast<std::int64_t>((5.0 + 4995.0 * v * v * v * v) * 100)) / 100;
        p.add(contact, when, amount);
    }
    return p;
}

struct Checker {
    int failures = 0;
    void check(bool ok, const std::string& what) {
        if (ok) return;
        if (++failures <= 20) std::printf("FAILED: %s\n", what.c_str());
    }
};

// The window's aggregates of one contact, by scanning every purchase.
RfmScore brute_aggregate(const Purchases& p, const RfmSettings& s, std::uint32_t contact) {
    RfmScore out;
    std::int64_t last = std::numeric_limits<std::int64_t>::min();
    const std::int64_t start = s.as_of.ms - std::int64_t{s.window_days} * ms_per_day;
    for (std::size_t i = 0; i < p.size(); ++i) {
        if (p.contact[i] != contact || p.time[i].ms < start || p.time[i].ms > s.as_of.ms) continue;
        ++out.frequency;
        out.monetary_cents += std::llround(p.amount[i] * 100);
        last = std::max(last, p.time[i].ms);
    }
    if (out.frequency > 0) out.recency_days = static_cast<std::int32_t>((s.as_of.ms - last) / ms_per_day);
    return out;
}

// The midrank score of one contact's value, by counting over every scored contact.
template <class Value>
int brute_score(const RfmResult& res, std::uint32_t contact, Value value_of, bool higher_is_better) {
    const auto mine = value_of(res.contacts[contact]);
    std::uint64_t below = 0, equal = 0, n = 0;
    for (const RfmScore& s : res.contacts) {
        if (!s.scored()) continue;
        ++n;
        const auto v = value_of(s);
        if (v == mine)
            ++equal;
        else if (higher_is_better ? v < mine : v > mine)
            ++below;
    }
    return 1 + static_cast<int>(5 * (2 * below + equal) / (2 * n));
}

int check_result(const Purchases& p, const RfmSettings& s, const RfmResult& res, std::uint32_t contacts, bool smoke) {
    Checker c;
    c.check(res.contacts.size() == contacts, "one result per contact");
    std::uint32_t scored = 0;
    std::uint64_t m_count[6] = {};
    for (std::uint32_t i = 0; i < contacts; ++i) {
        const RfmScore& r = res.contacts[i];
        const std::string id = "contact " + std::to_string(i);
        if (r.frequency == 0) {
            c.check(r.r == 0 && r.f == 0 && r.m == 0 && res.segment_name(i) == nullptr,
                    id + ": unscored has no segment");
            continue;
        }
        ++scored;
        c.check(r.r >= 1 && r.r <= 5 && r.f >= 1 && r.f <= 5 && r.m >= 1 && r.m <= 5, id + ": scores 1-5");
        c.check(r.fm == fm_score(r.f, r.m), id + ": fm");
        c.check(res.segment_name(i) != nullptr && *res.segment_name(i) == s.grid.at(r.r, r.fm), id + ": segment");
        c.check(r.recency_days >= 0 && r.recency_days <= s.window_days, id + ": recency in the window");
        ++m_count[r.m];
    }
    c.check(scored == res.scored_count, "scored_count");
    c.check(scored > 0, "some contacts are scored");
    // Amounts with cents are nearly all distinct, so each M score holds about a fifth (given
    // enough contacts for a fifth to mean something).
    for (int k = 1; k <= 5 && scored >= 500; ++k) {
        const double share = scored ? static_cast<double>(m_count[k]) / scored : 0;
        c.check(share > 0.17 && share < 0.23,
                "M = " + std::to_string(k) + " holds about a fifth (" + std::to_string(share) + ")");
    }
    // A few contacts by brute force (each scan reads every purchase).
    const int samples = smoke ? 50 : 5;
    Rng rng{7};
    for (int k = 0; k < samples; ++k) {
        const auto i = static_cast<std::uint32_t>(rng.next() % contacts);
        const RfmScore want = brute_aggregate(p, s, i);
        const RfmScore& got = res.contacts[i];
        const std::string id = "contact " + std::to_string(i);
        c.check(got.frequency == want.frequency, id + ": frequency");
        c.check(got.monetary_cents == want.monetary_cents, id + ": monetary");
        c.check(got.recency_days == want.recency_days, id + ": recency");
        if (!got.scored()) continue;
        c.check(got.r == brute_score(
                             res, i, [](const RfmScore& x) { return x.recency_days; }, false),
                id + ": r");
        c.check(got.f == brute_score(
                             res, i, [](const RfmScore& x) { return x.frequency; }, true),
                id + ": f");
        c.check(got.m == brute_score(
                             res, i, [](const RfmScore& x) { return x.monetary_cents; }, true),
                id + ": m");
    }
    if (c.failures) std::printf("%d check(s) failed\n", c.failures);
    return c.failures;
}

std::uint64_t parse_count(const char* text, const char* flag) {
    char* end = nullptr;
    const unsigned long long v = std::strtoull(text, &end, 10);
    if (!end || *end != '\0' || v == 0) {
        std::fprintf(stderr, "%s needs a positive integer, not '%s'\n", flag, text);
        std::exit(2);
    }
    return v;
}

}  // namespace

int main(int argc, char** argv) {
    std::uint64_t contacts = 1'000'000, purchases = 10'000'000;
    bool smoke = false;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--smoke") == 0) {
            smoke = true;
            contacts = 1000;
            purchases = 10'000;
        } else if (std::strcmp(argv[i], "--contacts") == 0 && i + 1 < argc) {
            contacts = parse_count(argv[++i], "--contacts");
        } else if (std::strcmp(argv[i], "--purchases") == 0 && i + 1 < argc) {
            purchases = parse_count(argv[++i], "--purchases");
        } else {
            std::fprintf(stderr, "usage: bench_rfm [--smoke] [--contacts N] [--purchases M]\n");
            return 2;
        }
    }
    if (contacts > std::numeric_limits<std::uint32_t>::max()) {
        std::fprintf(stderr, "--contacts must be below 2^32\n");
        return 2;
    }
    const auto n_contacts = static_cast<std::uint32_t>(contacts);

    std::printf("bench_rfm: %" PRIu64 " contacts, %" PRIu64 " purchases%s\n", contacts, purchases,
                smoke ? " (smoke)" : "");
    const Purchases p = generate(n_contacts, purchases);
    RfmSettings settings;
    settings.as_of = as_of;

    using clock = std::chrono::steady_clock;
    double best = 1e300;
    Result<RfmResult> result = Error{};
    for (int run = 0; run < 3; ++run) {
        const auto t0 = clock::now();
        result = compute_rfm(settings, n_contacts, p.columns());
        const double seconds = std::chrono::duration<double>(clock::now() - t0).count();
        best = std::min(best, seconds);
        if (!result.ok()) {
            std::printf("FAILED: %s\n", result.error().what().c_str());
            return 1;
        }
    }
    const RfmResult& res = *result;

    std::printf("compute_rfm, best of 3: %.4f s  (%.2f M contacts/s, %.1f M purchases/s)\n", best,
                static_cast<double>(contacts) / best / 1e6, static_cast<double>(purchases) / best / 1e6);
    std::printf("scored contacts: %u of %u (%.1f %%)\n", res.scored_count, n_contacts,
                100.0 * res.scored_count / static_cast<double>(n_contacts));
    std::map<std::string, std::uint64_t> by_segment;
    for (std::uint32_t i = 0; i < n_contacts; ++i)
        if (const std::string* name = res.segment_name(i)) ++by_segment[*name];
    std::printf("segments:\n");
    for (const std::string& name : res.segment_names) {
        const std::uint64_t k = by_segment[name];
        std::printf("  %-20s %10" PRIu64 "  %5.1f %%\n", name.c_str(), k,
                    res.scored_count ? 100.0 * static_cast<double>(k) / res.scored_count : 0.0);
    }

    const int failures = check_result(p, settings, res, n_contacts, smoke);
    if (failures) return 1;
    std::printf("checks: ok\n");
    if (!smoke) {
        const bool is_target = contacts == 1'000'000 && purchases == 10'000'000;
        std::printf("target (1 M contacts, 10 M purchases, < 2 s): %s\n", !is_target   ? "not measured at these sizes"
                                                                          : best < 2.0 ? "met"
                                                                                       : "NOT met");
    }
    return 0;
}
