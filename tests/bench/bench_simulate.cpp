// bench_simulate: `closeloop simulate` over N NPS answers of N contacts (default 200,000), beside a
// plain JSON parse of the same two files.
//
//   bench_simulate [--n N] [--reps R] [--smoke] [--keep DIR]
//
// It writes N contacts and N answers (JSON lines, like assets/samples/*.jsonl: one answer per
// contact, in a scattered contact order, spread evenly over 120 days) to a temporary folder,
// then times
//   (a) a plain parse: each file read and nlohmann::json::parse of each line, nothing else;
//   (b) cli::simulate, the very function behind `closeloop simulate`, with the shipped recovery
//       scenario (assets/scenarios/nps-recovery.json) and campaigns (assets/campaigns.json),
//       its output written to a file in the folder.
// It prints both (the best of R, processor and wall time), events/s and their ratio against the target: simulate in at
// most twice the plain parse. Then it checks the output (full size and smoke alike) against a direct count from the
// inputs: answers 0-6 enter; Lost and Hibernating get the plain apology, Champions, Loyal and Cannot Lose a call, the
// others (and no segment) a voucher, an e-mail and a wait until ten days before the voucher expires; that wait wakes
// (one reminder) when a later answer passes its time, so every run waking before the last answer is one more line. With
// --keep DIR the inputs and the output are written to DIR and left there (to time or profile the command).
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "cli_tools.h"
#include "closeloop/time.h"
#include "closeloop/voucher.h"

using namespace closeloop;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const char* segments[] = {
    "Champions",      "Loyal",   "Potential Loyalist", "New Customers", "Promising", "Need Attention",
    "About to Sleep", "At Risk", "Cannot Lose",        "Hibernating",   "Lost",      ""};
const char* names[] = {"Jana", "Tomáš", "Emily", "Lukas", "Kateřina", "Marie", "Petr"};

std::string contact_id(std::size_t i) {
    return "c-" + std::to_string(100000 + i);
}

// The k-th answer comes from contact (k * 7919) mod n: every contact once, scattered.
std::size_t contact_of(std::size_t k, std::size_t n) {
    return static_cast<std::size_t>(static_cast<std::uint64_t>(k) * 7919 % n);
}

struct Inputs {
    std::vector<Time> times;           // of answer k
    std::vector<int> scores;           // of answer k
    std::vector<std::string> segment;  // of contact i ("" = none)
};

Inputs write_inputs(const fs::path& dir, std::size_t n) {
    Inputs in;
    std::ofstream contacts(dir / "contacts.jsonl", std::ios::binary);
    for (std::size_t i = 0; i < n; ++i) {
        const std::string id = contact_id(i);
        const char* name = names[i % 7];
        json c = {{"id", id},
                  {"email", id + "@example.cz"},
                  {"first_name", name},
                  {"last_name", "Nováková"},
                  {"locale", i % 3 ? "cs" : "en"},
                  {"tags", i % 2 ? json::array({"newsletter"}) : json::array()},
                  {"attributes", {{"branch", i % 5 ? "Brno" : "online"}}}};
        in.segment.push_back(segments[i % 12]);
        if (*segments[i % 12])
            c["rfm"] = {{"r", 1 + i % 5}, {"f", 1 + i / 5 % 5}, {"m", 1 + i / 25 % 5}, {"segment", segments[i % 12]}};
        contacts << c.dump() << '\n';
    }
    std::ofstream events(dir / "events.jsonl", std::ios::binary);
    const Time start = parse_time("2026-06-01T08:00:00Z").value();
    const std::int64_t step = 120 * ms_per_day / static_cast<std::int64_t>(n);
    for (std::size_t k = 0; k < n; ++k) {
        const std::size_t i = contact_of(k, n);
        const std::string id = contact_id(i);
        const Time t{start.ms + static_cast<std::int64_t>(k) * step};
        const int score = static_cast<int>(k % 11);
        in.times.push_back(t);
        in.scores.push_back(score);
        const json e = {{"id", "evt-nps-" + std::to_string(k)},
                        {"type", "nps_response"},
                        {"time", format_time(t)},
                        {"contact", {{"id", id}, {"email", id + "@example.cz"}, {"first_name", names[i % 7]}}},
                        {"data",
                         {{"score", score},
                          {"survey", "nps-main"},
                          {"channel", "email"},
                          {"comment", "Doprava trvala 3 týdny a nikdo mi neodpovídal na e-maily."}}}};
        events << e.dump() << '\n';
    }
    return in;
}

std::string slurp(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// (a) the floor: read each file, parse each line, keep nothing.
std::size_t plain_parse(const std::vector<fs::path>& files) {
    std::size_t objects = 0;
    for (const auto& f : files) {
        const std::string text = slurp(f);
        std::size_t pos = 0;
        while (pos < text.size()) {
            std::size_t end = text.find('\n', pos);
            if (end == std::string::npos) end = text.size();
            if (end > pos)
                objects += json::parse(text.begin() + static_cast<std::ptrdiff_t>(pos),
                                       text.begin() + static_cast<std::ptrdiff_t>(end))
                               .is_object();
            pos = end + 1;
        }
    }
    return objects;
}

// (b) the command's function, its standard output sent to `out`.
int run_simulate(const cli::SimulateOptions& o, const fs::path& out) {
    std::ofstream file(out, std::ios::binary);
    std::streambuf* saved = std::cout.rdbuf(file.rdbuf());
    const int code = cli::simulate(o);
    std::cout.flush();
    std::cout.rdbuf(saved);
    return code;
}

struct Counts {
    std::size_t lines = 0, entered = 0, resumed = 0, effects = 0, waits = 0;
    bool operator==(const Counts&) const = default;
};

void print(const char* what, const Counts& c) {
    std::printf("  %-9s lines %zu, entered %zu, resumed %zu, effects %zu, waits %zu\n", what, c.lines, c.entered,
                c.resumed, c.effects, c.waits);
}

// What the output must say, counted from the inputs by the scenario's rules (see the top).
Counts expected(const Inputs& in, const VoucherCampaign& campaign) {
    Counts c;
    const std::size_t n = in.times.size();
    const Time last = in.times.back();
    for (std::size_t k = 0; k < n; ++k) {
        ++c.lines;
        if (in.scores[k] >= 7) continue;
        ++c.entered;
        const std::string& seg = in.segment[contact_of(k, n)];
        if (seg == "Lost" || seg == "Hibernating" || seg == "Champions" || seg == "Loyal" || seg == "Cannot Lose") {
            c.effects += 1;
            continue;
        }
        c.effects += 2;  // the voucher and its e-mail, then the wait
        ++c.waits;
        if (subtract(voucher_expiry(campaign, in.times[k]), days(10)) <= last) {
            ++c.lines;
            ++c.resumed;
            c.effects += 1;  // the reminder: nothing redeems the voucher
        }
    }
    return c;
}

Counts counted(const fs::path& out) {
    Counts c;
    std::ifstream in(out, std::ios::binary);
    std::string line;
    while (std::getline(in, line)) {
        const json j = json::parse(line);
        ++c.lines;
        if (!j.at("entered").get<bool>()) continue;
        j.contains("resumed") ? ++c.resumed : ++c.entered;
        c.effects += j.at("effects").size();
        c.waits += j.at("state") == "waiting";  // a run's first line; its resumed line ends it
    }
    return c;
}

// Wall and processor time (user + system, this process) of a phase: the machine is shared, so
// the ratio is taken on processor time, which other processes' load does not inflate.
struct Seconds {
    double wall = 0, cpu = 0;
};
struct Stopwatch {
    std::chrono::steady_clock::time_point wall = std::chrono::steady_clock::now();
    double cpu = cpu_now();
    static double cpu_now() {
        rusage u{};
        getrusage(RUSAGE_SELF, &u);
        const auto s = [](const timeval& t) {
            return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
        };
        return s(u.ru_utime) + s(u.ru_stime);
    }
    Seconds elapsed() const {
        return {std::chrono::duration<double>(std::chrono::steady_clock::now() - wall).count(), cpu_now() - cpu};
    }
};
void keep_best(Seconds& best, const Seconds& s) {
    best.wall = std::min(best.wall, s.wall);
    best.cpu = std::min(best.cpu, s.cpu);
}

}  // namespace

int main(int argc, char** argv) {
    std::size_t n = 200'000;
    int reps = 3;
    bool smoke = false;
    fs::path keep;
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--smoke")) smoke = true;
        if (!std::strcmp(argv[i], "--n") && i + 1 < argc)
            n = static_cast<std::size_t>(std::strtoull(argv[++i], nullptr, 10));
        if (!std::strcmp(argv[i], "--reps") && i + 1 < argc) reps = std::max(1, std::atoi(argv[++i]));
        if (!std::strcmp(argv[i], "--keep") && i + 1 < argc) keep = argv[++i];
    }
    if (smoke) n = 2000, reps = 1;
    if (n < 2 || n % 7919 == 0) {
        std::fprintf(stderr, "--n must be at least 2 and not a multiple of 7919\n");
        return 2;
    }

    const fs::path dir =
        keep.empty() ? fs::temp_directory_path() / ("closeloop-bench-simulate-" + std::to_string(getpid())) : keep;
    fs::create_directories(dir);
    const Inputs inputs = write_inputs(dir, n);
    const std::string assets = CLOSELOOP_ASSETS_DIR;
    cli::SimulateOptions o;
    o.scenario = assets + "/scenarios/nps-recovery.json";
    o.campaigns = assets + "/campaigns.json";
    o.contacts = (dir / "contacts.jsonl").string();
    o.events = (dir / "events.jsonl").string();
    const fs::path out = dir / "out.jsonl";

    Seconds parse_s{1e9, 1e9}, sim_s{1e9, 1e9};
    std::size_t objects = 0;
    for (int rep = 0; rep < reps; ++rep) {
        const Stopwatch parse_watch;
        objects = plain_parse({o.contacts, o.events});
        keep_best(parse_s, parse_watch.elapsed());
        const Stopwatch sim_watch;
        if (run_simulate(o, out) != 0) {
            std::fprintf(stderr, "closeloop simulate failed\n");
            return 1;
        }
        keep_best(sim_s, sim_watch.elapsed());
    }

    const double ratio = sim_s.cpu / parse_s.cpu;
    std::printf("simulate: %zu answers of %zu contacts (%.1f MB of JSON lines), best of %d\n", n, n,
                static_cast<double>(fs::file_size(o.contacts) + fs::file_size(o.events)) / 1e6, reps);
    std::printf("  plain parse  %.3f s processor time (%.3f s wall), %zu objects\n", parse_s.cpu, parse_s.wall,
                objects);
    std::printf("  simulate     %.3f s processor time (%.3f s wall) = %.0f events/s, output %.1f MB\n", sim_s.cpu,
                sim_s.wall, static_cast<double>(n) / sim_s.cpu, static_cast<double>(fs::file_size(out)) / 1e6);
    std::printf("  ratio %.2fx plain parse (processor time); target <= 2x: %s\n", ratio,
                ratio <= 2.0 ? "met" : "NOT met");

    const json campaigns = json::parse(slurp(o.campaigns));
    const auto apology =
        std::find_if(campaigns.begin(), campaigns.end(), [](const json& c) { return c.at("id") == "nps-apology-20"; });
    const auto campaign = voucher_campaign_from_json(*apology).value();
    const Counts want = expected(inputs, campaign), got = counted(out);
    print("output", got);
    if (keep.empty()) fs::remove_all(dir);
    if (objects != 2 * n || !(got == want)) {
        print("expected", want);
        std::fprintf(stderr, "self-check failed (parsed objects %zu of %zu)\n", objects, 2 * n);
        return 1;
    }
    std::printf("self-check: ok\n");
    return 0;
}
