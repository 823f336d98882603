// bench_ingest: event ingestion over loopback HTTP with keep-alive, durable (202 only after the
// commit), against the same inserts made straight into the store with no HTTP.
//
//   bench_ingest                      20,000 single-event requests, 2,000 batches of 100
//   bench_ingest --singles N --batches M --clients K --synchronous NORMAL
//   bench_ingest --no-scenario        without the recovery scenario active
//   bench_ingest --smoke              a few hundred of each; checks every event was stored once
//                                     and that the executor ran the scenario over all of them
//
// By default the shipped low-NPS recovery scenario (assets/scenarios/nps-recovery.json, with
// its templates and voucher campaign) is active while the events stream in, so the scenario
// executor shares the writer with ingestion: scores 0-6 enter it, each contact once per 30
// days (its cooldown), and every run that enters assigns a voucher, queues an e-mail and
// waits. After the streams the bench waits until the executor has handled every event, and
// reports how long it lagged behind.
//
// Targets on the 2-core machine: >= 5,000 single-event requests/s, >= 50,000 events/s in
// batches of 100, and batches at >= 50 % of the direct rate. It starts the real `closeloop
// serve` (the path is compiled in; --closeloop overrides it) on a fresh data folder, so the
// clients, the server and its fsyncs share the same two cores; that is what the figures say.
//
// The direct baseline runs SqliteStore::insert_events (the very code behind POST
// /api/v1/events: same schema, indexes, contact upserts, response rows, group commit and
// synchronous mode) from the same number of threads, on already-parsed events: what is left
// between the two is HTTP, JSON parsing and validation.
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "clock.h"
#include "closeloop/detail/json_read.h"
#include "closeloop/event.h"
#include "executor.h"
#include "store/sqlite_store.h"

using namespace closeloop;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* key = "bench-key-0123456789abcdef-0123456789";

struct Options {
    std::string closeloop = CLOSELOOP_BINARY;
    std::size_t singles = 20000;
    std::size_t batches = 2000;
    std::size_t batch_size = 100;
    std::size_t clients = 4;
    std::size_t server_threads = 64;  // closeloop serve --threads
    std::string synchronous = "FULL";
    std::string assets = CLOSELOOP_ASSETS_DIR;  // templates, campaigns and the scenario to activate
    bool scenario = true;
    bool smoke = false;
    bool direct_only = false;  // for profiling the store
};

// The event number n as JSON: an NPS answer of one of 10,000 contacts, with a comment, one
// second after event n - 1 (like a live stream: times increase, contacts are scattered).
std::string event_text(const std::string& run, std::size_t n) {
    const std::string time = format_time(Time{1'795'392'000'000 + static_cast<std::int64_t>(n) * 1000});
    const std::size_t contact = n * 7919 % 10000;
    char buf[400];
    std::snprintf(
        buf, sizeof buf,
        R"({"id":"%s-%zu","type":"nps_response","time":"%s","contact":{"id":"c-%zu","email":"c%zu@example.cz"},)"
        R"("data":{"score":%zu,"comment":"Doprava trvala %zu dny.","survey":"nps-main","channel":"email"}})",
        run.c_str(), n, time.c_str(), contact, contact, n % 11, n % 9 + 1);
    return buf;
}

struct Summary {
    double seconds = 0;
    std::size_t requests = 0, events = 0, failures = 0;
    std::vector<double> latencies_ms;

    double percentile(double p) {
        if (latencies_ms.empty()) return 0;
        std::sort(latencies_ms.begin(), latencies_ms.end());
        const auto i = static_cast<std::size_t>(p * static_cast<double>(latencies_ms.size() - 1));
        return latencies_ms[i];
    }
};

int free_port() {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    close(fd);
    return ntohs(addr.sin_port);
}

pid_t start_server(const Options& o, const std::filesystem::path& data, int port) {
    std::fflush(stdout);  // else the child flushes a copy of the buffer
    const pid_t pid = fork();
    if (pid == 0) {
        setenv("CLOSELOOP_BOOTSTRAP_KEY", key, 1);
        const std::string port_text = std::to_string(port);
        const std::string data_text = data.string();
        const std::string threads_text = std::to_string(o.server_threads);
        if (!freopen("/dev/null", "w", stdout)) _exit(127);
        // --rate-api off: the bench is one integrator posting as fast as the server takes it,
        // far past the default limit (100 requests/s per admin key) it measures the server without.
        execl(o.closeloop.c_str(), o.closeloop.c_str(), "serve", "--data", data_text.c_str(), "--port",
              port_text.c_str(), "--rfm-interval", "0", "--threads", threads_text.c_str(), "--synchronous",
              o.synchronous.c_str(), "--rate-api", "off", static_cast<char*>(nullptr));
        _exit(127);
    }
    httplib::Client probe("127.0.0.1", port);
    for (int i = 0; i < 200; ++i) {
        if (auto r = probe.Get("/healthz"); r && r->status == 200) return pid;
        std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    std::fprintf(stderr, "bench_ingest: %s did not start\n", o.closeloop.c_str());
    kill(pid, SIGKILL);
    std::exit(1);
}

// `total` requests spread over the clients; request i carries the events make(i).
template <class MakeBody>
Summary run_http(const Options& o, int port, std::size_t total, std::size_t events_per_request, MakeBody make) {
    std::vector<std::string> bodies(total);
    for (std::size_t i = 0; i < total; ++i) bodies[i] = make(i);
    Summary s;
    std::vector<std::vector<double>> lat(o.clients);
    std::atomic<std::size_t> next{0}, failures{0};
    const httplib::Headers headers = {{"Authorization", std::string("Bearer ") + key}};
    const auto start = Clock::now();
    std::vector<std::thread> threads;
    for (std::size_t c = 0; c < o.clients; ++c) {
        threads.emplace_back([&, c] {
            httplib::Client cli("127.0.0.1", port);
            cli.set_keep_alive(true);
            cli.set_tcp_nodelay(true);  // headers and body go in two writes: no Nagle delay
            cli.set_read_timeout(30, 0);
            for (std::size_t i; (i = next++) < total;) {
                const auto t0 = Clock::now();
                auto r = cli.Post("/api/v1/events", headers, bodies[i], "application/json");
                const auto t1 = Clock::now();
                if (!r || r->status != 202) {
                    if (failures++ < 3)
                        std::fprintf(stderr, "bench_ingest: request failed: %s\n",
                                     r ? (std::to_string(r->status) + " " + r->body.substr(0, 300)).c_str()
                                       : httplib::to_string(r.error()).c_str());
                }
                lat[c].push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
            }
        });
    }
    for (auto& t : threads) t.join();
    s.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    s.requests = total;
    s.events = total * events_per_request;
    s.failures = failures;
    for (auto& l : lat) s.latencies_ms.insert(s.latencies_ms.end(), l.begin(), l.end());
    return s;
}

// The same events straight into a SqliteStore: `total` units of `per_unit` events, from
// o.clients threads. With an executor, through Executor::ingest (what POST /events calls).
Summary run_direct(const Options& o, server::Store& store, server::Executor* executor, const std::string& run,
                   std::size_t total, std::size_t per_unit) {
    std::vector<Event> events;
    events.reserve(total * per_unit);
    for (std::size_t n = 0; n < total * per_unit; ++n)
        events.push_back(event_from_json(detail::parse_json(event_text(run, n)).value()).value());
    const auto ws = store.find_workspace("demo") ? store.find_workspace("demo")->id : 1;
    Summary s;
    std::vector<std::vector<double>> lat(o.clients);
    std::atomic<std::size_t> next{0};
    const auto start = Clock::now();
    std::vector<std::thread> threads;
    for (std::size_t c = 0; c < o.clients; ++c) {
        threads.emplace_back([&, c] {
            for (std::size_t i; (i = next++) < total;) {
                const auto t0 = Clock::now();
                const std::span<const Event> part(events.data() + i * per_unit, per_unit);
                const Time now = server::now_utc();
                if (executor)
                    executor->ingest(ws, part, now);
                else
                    store.insert_events(ws, part, now);
                lat[c].push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
            }
        });
    }
    for (auto& t : threads) t.join();
    s.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    s.requests = total;
    s.events = total * per_unit;
    for (auto& l : lat) s.latencies_ms.insert(s.latencies_ms.end(), l.begin(), l.end());
    return s;
}

Summary run_direct(const Options& o, const std::filesystem::path& data, const std::string& run, std::size_t total,
                   std::size_t per_unit) {
    server::SqliteStore store(data, server::SqliteOptions{.synchronous = o.synchronous});
    return run_direct(o, store, nullptr, run, total, per_unit);
}

void print(const char* what, Summary& s) {
    std::printf("  %-34s %8zu req %9zu events %7.2f s  %9.0f req/s %9.0f events/s  p50 %6.2f ms  p99 %6.2f ms%s\n",
                what, s.requests, s.events, s.seconds, static_cast<double>(s.requests) / s.seconds,
                static_cast<double>(s.events) / s.seconds, s.percentile(0.50), s.percentile(0.99),
                s.failures ? "  FAILURES" : "");
}

// A counter of /metrics ("closeloop_events_accepted_total"), 0 when absent.
std::size_t metric(int port, const std::string& name) {
    httplib::Client cli("127.0.0.1", port);
    auto r = cli.Get("/metrics");
    if (!r) return 0;
    const std::string line = "\n" + name + " ";
    const auto at = r->body.find(line);
    if (at == std::string::npos) return 0;
    return std::strtoull(r->body.c_str() + at + line.size(), nullptr, 10);
}

std::size_t stored_events(int port) {
    return metric(port, "closeloop_events_accepted_total");
}

std::string read_file(const std::filesystem::path& path) {
    std::string text;
    if (FILE* f = std::fopen(path.c_str(), "rb")) {
        char buf[65536];
        for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) text.append(buf, n);
        std::fclose(f);
    }
    return text;
}

// Creates the templates and voucher campaigns of assets/ and the scenario, then activates it.
// The singles, then the batches, on one store through the executor with the recovery
// scenario active (as the server has it): what the server does per event without HTTP.
std::pair<Summary, Summary> run_direct_executor(const Options& o, const std::filesystem::path& data) {
    server::SqliteStore store(data, server::SqliteOptions{.synchronous = o.synchronous});
    const Time now = server::now_utc();
    server::WorkspaceId ws = 0;
    store.write([&](server::WriteTx& tx) { ws = tx.create_workspace("demo", "Demo", now).id; });
    const std::filesystem::path assets = o.assets;
    for (const auto& campaign : json::parse(read_file(assets / "campaigns.json")))
        store.save_voucher_campaign(ws, voucher_campaign_from_json(campaign).value(), now);
    const json scenario = json::parse(read_file(assets / "scenarios" / "nps-recovery.json"));
    const std::string id = scenario.at("id").get<std::string>();
    if (store.create_scenario(ws, scenario, now) != server::ScenarioSave::saved ||
        !store.set_scenario_status(ws, id, ScenarioStatus::active, now)) {
        std::fprintf(stderr, "bench_ingest: cannot activate %s in the direct store\n", id.c_str());
        std::exit(1);
    }
    server::Executor executor(store, server::now_utc);
    executor.start();
    auto single = run_direct(o, store, &executor, "s", o.singles, 1);
    auto batch = run_direct(o, store, &executor, "b", o.batches, o.batch_size);
    executor.stop();
    return {single, batch};
}

void activate_scenario(const Options& o, int port) {
    httplib::Client cli("127.0.0.1", port);
    const httplib::Headers headers = {{"Authorization", std::string("Bearer ") + key}};
    const auto post = [&](const std::string& path, const std::string& body) {
        auto r = cli.Post(path, headers, body, "application/json");
        if (!r || r->status >= 300) {
            std::fprintf(stderr, "bench_ingest: POST %s answered %d: %s\n", path.c_str(), r ? r->status : 0,
                         r ? r->body.substr(0, 400).c_str() : "no answer");
            std::exit(1);
        }
    };
    const std::filesystem::path assets = o.assets;
    for (const auto& entry : std::filesystem::directory_iterator(assets / "templates"))
        if (entry.path().extension() == ".json") post("/api/v1/templates", read_file(entry.path()));
    for (const auto& campaign : json::parse(read_file(assets / "campaigns.json")))
        post("/api/v1/voucher-campaigns", campaign.dump());
    const json scenario = json::parse(read_file(assets / "scenarios" / "nps-recovery.json"));
    post("/api/v1/scenarios", scenario.dump());
    post("/api/v1/scenarios/" + scenario.at("id").get<std::string>() + "/activate", "{}");
}

// Waits until the executor has handled `events` events; the seconds it took (-1: it did not
// within a minute of its last progress).
double wait_for_executor(int port, std::size_t events) {
    const auto start = Clock::now();
    auto progress_at = start;
    std::size_t last = 0;
    while (true) {
        const std::size_t handled = metric(port, "closeloop_executor_events_total");
        if (handled >= events) return std::chrono::duration<double>(Clock::now() - start).count();
        if (handled != last) {
            last = handled;
            progress_at = Clock::now();
        } else if (Clock::now() - progress_at > std::chrono::seconds(60)) {
            return -1;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const auto value = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
        if (a == "--smoke") {
            o.smoke = true;
            o.singles = 400;
            o.batches = 20;
        } else if (a == "--singles") {
            o.singles = std::stoul(value());
        } else if (a == "--batches") {
            o.batches = std::stoul(value());
        } else if (a == "--clients") {
            o.clients = std::max<std::size_t>(1, std::stoul(value()));
        } else if (a == "--server-threads") {
            o.server_threads = std::max<std::size_t>(2, std::stoul(value()));
        } else if (a == "--no-scenario") {
            o.scenario = false;
        } else if (a == "--synchronous") {
            o.synchronous = value();
        } else if (a == "--direct-only") {
            o.direct_only = true;
        } else if (a == "--closeloop") {
            o.closeloop = value();
        } else {
            std::fprintf(stderr,
                         "usage: bench_ingest [--smoke] [--singles N] [--batches M] [--clients K] "
                         "[--synchronous FULL|NORMAL] [--closeloop PATH]\n");
            return 2;
        }
    }

    const auto root = std::filesystem::temp_directory_path() / ("bench_ingest." + std::to_string(getpid()));
    std::filesystem::remove_all(root);
    std::printf("bench_ingest: %u cores, %zu client threads, synchronous=%s, data in %s\n",
                std::thread::hardware_concurrency(), o.clients, o.synchronous.c_str(), root.c_str());

    if (o.direct_only) {
        auto d = run_direct(o, root / "direct-batch", "b", o.batches, o.batch_size);
        print("direct batches", d);
        if (o.scenario) {
            auto [single, batch] = run_direct_executor(o, root / "direct-executor");
            print("executor singles", single);
            print("executor batches", batch);
        }
        std::filesystem::remove_all(root);
        return 0;
    }

    // Over HTTP.
    const int port = free_port();
    const pid_t server = start_server(o, root / "http", port);
    if (o.scenario) activate_scenario(o, port);
    auto single = run_http(o, port, o.singles, 1, [](std::size_t i) { return event_text("s", i); });
    auto batch = run_http(o, port, o.batches, o.batch_size, [&](std::size_t i) {
        std::string body = R"({"events":[)";
        for (std::size_t k = 0; k < o.batch_size; ++k) {
            if (k) body += ',';
            body += event_text("b", i * o.batch_size + k);
        }
        return body + "]}";
    });
    const std::size_t stored = stored_events(port);
    const double lag = o.scenario ? wait_for_executor(port, stored) : 0;
    const std::size_t runs = metric(port, "closeloop_executor_runs_started_total");
    const std::size_t failed_runs = metric(port, "closeloop_executor_runs_failed_total");
    kill(server, SIGTERM);
    int status = 0;
    waitpid(server, &status, 0);

    // Straight into the store.
    auto direct_single = run_direct(o, root / "direct-single", "s", o.singles, 1);
    auto direct_batch = run_direct(o, root / "direct-batch", "b", o.batches, o.batch_size);
    std::optional<std::pair<Summary, Summary>> direct_executor;
    if (o.scenario) direct_executor = run_direct_executor(o, root / "direct-executor");

    std::printf("\nover HTTP (POST /api/v1/events, keep-alive, 202 after commit), %s:\n",
                o.scenario ? "recovery scenario active" : "no scenario");
    print("single-event requests", single);
    print("batches of 100", batch);
    std::printf("straight into SqliteStore (same code below HTTP):\n");
    print("single-event units", direct_single);
    print("batches of 100", direct_batch);
    if (direct_executor) {
        std::printf(
            "straight into the executor's ingest, recovery scenario active (what a request costs below HTTP):\n");
        print("single-event units", direct_executor->first);
        print("batches of 100", direct_executor->second);
    }
    const double ratio_single = (static_cast<double>(single.events) / single.seconds) /
                                (static_cast<double>(direct_single.events) / direct_single.seconds);
    const double ratio_batch = (static_cast<double>(batch.events) / batch.seconds) /
                               (static_cast<double>(direct_batch.events) / direct_batch.seconds);
    std::printf("\nHTTP / direct: single %.0f %%, batches %.0f %%\n", 100 * ratio_single, 100 * ratio_batch);
    std::printf("targets: single >= 5000 req/s: %s; batches >= 50000 events/s: %s; batches >= 50 %% of direct: %s\n",
                static_cast<double>(single.requests) / single.seconds >= 5000 ? "met" : "NOT met",
                static_cast<double>(batch.events) / batch.seconds >= 50000 ? "met" : "NOT met",
                ratio_batch >= 0.5 ? "met" : "NOT met");

    if (o.scenario)
        std::printf("executor: %zu runs started (%zu failed); it had handled every event %.2f s after the last 202\n",
                    runs, failed_runs, lag);

    std::filesystem::remove_all(root);
    const std::size_t expected = single.events + batch.events;
    // Scores 0-6 of distinct contacts enter; the stream's first events already cover them.
    const bool executor_ok = !o.scenario || (lag >= 0 && runs > 0 && failed_runs == 0);
    const bool ok = single.failures == 0 && batch.failures == 0 && stored == expected && WIFEXITED(status) &&
                    WEXITSTATUS(status) == 0 && executor_ok;
    std::printf("checks: %s (stored %zu of %zu events, server exit %d)\n", ok ? "ok" : "FAILED", stored, expected,
                WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return ok ? 0 : 1;
}
