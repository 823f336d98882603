// bench_executor: the scenario executor on a real SQLite database (durable FULL commits), with
// the shipped low-NPS recovery scenario active, over NPS answers of distinct contacts stored
// beforehand; it measures events handled per second, from the first unit of work to the last.
//
//   bench_executor                          100,000 answers none of which enter, 50,000 of
//                                           which one in ten does, 20,000 that all do
//   bench_executor --events N --entering F  one run: N answers, a share F (0-1) of them low
//   bench_executor --runs-per-unit R        the executor's bound on runs per unit of work (200)
//   bench_executor --smoke                  2,000 answers, one in ten entering; checks counts
//
// Checks every run: each entering answer has exactly one run and one voucher, and no event is
// left unprocessed (exit 1 otherwise).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "closeloop/detail/json_read.h"
#include "executor.h"
#include "keys.h"
#include "store/sqlite_store.h"

using namespace closeloop;
using namespace closeloop::server;
using nlohmann::json;

namespace {

json asset(const std::string& name) {
    std::ifstream in(std::string(CLOSELOOP_ASSETS_DIR) + "/" + name);
    std::stringstream text;
    text << in.rdbuf();
    auto j = detail::parse_json(text.str());
    if (!j) {
        std::fprintf(stderr, "cannot read %s: %s\n", name.c_str(), j.error().what().c_str());
        std::exit(2);
    }
    return *j;
}

// One measurement; false when a check fails.
bool measure(std::size_t n, double entering, const ExecutorOptions& options) {
    const auto dir = std::filesystem::temp_directory_path() / ("bench_executor_" + random_hex(6));
    bool ok = true;
    {
        SqliteStore store(dir);
        Time now{1795000000000};  // 2026-11-18
        WorkspaceId ws = 0;
        store.write([&](WriteTx& tx) { ws = tx.create_workspace("bench", "Bench", now).id; });
        auto campaign = voucher_campaign_from_json(asset("campaigns.json")[0]);
        store.save_voucher_campaign(ws, *campaign, now);
        store.create_scenario(ws, asset("scenarios/nps-recovery.json"), now);
        store.set_scenario_status(ws, "nps-recovery", ScenarioStatus::active, now);

        // Every k-th answer of 100 is low: `entering` of them start a run.
        const auto low = static_cast<std::size_t>(entering * 100 + 0.5);
        std::size_t expected = 0;
        for (std::size_t first = 0; first < n; first += 1000) {
            std::vector<Event> events;
            for (std::size_t i = first; i < std::min(n, first + 1000); ++i) {
                const bool enters = i % 100 < low;
                expected += enters;
                auto e = event_from_json(json{{"id", "e" + std::to_string(i)},
                                              {"type", "nps_response"},
                                              {"contact", {{"id", "c" + std::to_string(i)}, {"email", "c@example.cz"}}},
                                              {"data", {{"score", enters ? 3 : 9}, {"comment", "Doprava trvala."}}}});
                events.push_back(std::move(*e));
            }
            store.insert_events(ws, events, now);
        }

        Executor executor(
            store, [&now] { return now; }, options);
        const auto start = std::chrono::steady_clock::now();
        while (executor.run_once()) {
        }
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        const ExecutorStats stats = executor.stats();
        std::printf("%8zu answers, %3.0f %% entering: %6.2f s, %9.0f events/s, %7llu runs (%.0f runs/s)\n", n,
                    entering * 100, seconds, static_cast<double>(n) / seconds,
                    static_cast<unsigned long long>(stats.runs_started),
                    static_cast<double>(stats.runs_started) / seconds);
        const auto waiting =
            store.runs(ws, RunQuery{.scenario = {}, .contact = {}, .status = RunStatus::waiting, .limit = 1});
        if (stats.runs_started != expected || !store.unprocessed_events(1).empty() ||
            store.vouchers(ws, std::nullopt, expected + 1).size() != expected || (expected > 0 && waiting.empty())) {
            std::fprintf(stderr, "FAIL: expected %zu runs and vouchers, every event processed\n", expected);
            ok = false;
        }
    }
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    return ok;
}

}  // namespace

int main(int argc, char** argv) {
    std::size_t events = 0;
    double entering = -1;
    ExecutorOptions options;
    bool smoke = false;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--smoke") == 0) {
            smoke = true;
        } else if (std::strcmp(argv[i], "--events") == 0 && i + 1 < argc) {
            events = std::strtoull(argv[++i], nullptr, 10);
        } else if (std::strcmp(argv[i], "--entering") == 0 && i + 1 < argc) {
            entering = std::strtod(argv[++i], nullptr);
        } else if (std::strcmp(argv[i], "--runs-per-unit") == 0 && i + 1 < argc) {
            options.runs_per_unit = std::max<std::size_t>(1, std::strtoull(argv[++i], nullptr, 10));
        } else {
            std::fprintf(stderr, "usage: bench_executor [--smoke] [--events N --entering F] [--runs-per-unit R]\n");
            return 2;
        }
    }
    bool ok = true;
    if (smoke) {
        ok = measure(2000, 0.1, options);
    } else if (events > 0 && entering >= 0 && entering <= 1) {
        ok = measure(events, entering, options);
    } else {
        ok = measure(100000, 0, options) && measure(50000, 0.1, options) && measure(20000, 1, options);
    }
    return ok ? 0 : 1;
}
