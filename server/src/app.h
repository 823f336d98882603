// closeloop server — the App: the store, the scenario executor, the RFM job and the HTTP
// routes wired together over one clock. `closeloop serve` runs one with the system clock;
// tests run one on a free loopback port with a manual clock (ManualClock in clock.h) and
// talk to it with httplib::Client. HTTP is served by our own transport (http_server.h).
//
// Life cycle:  App app(options);   nothing is created yet
//              app.bind(addr, 0);  the listening socket (a port in use fails here, before any file exists)
//              app.open();         the database (created if new), executor, routes
//              app.start();        executor thread, RFM schedule, listening on a thread (or:
//                                  start_workers() then listen() on this thread)
//              app.stop();         stops listening (in-flight requests finish), then the workers
#pragma once

#include <httplib.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "clock.h"
#include "closeloop/event.h"
#include "delivery_service.h"
#include "executor.h"
#include "http_server.h"
#include "rate_limit.h"
#include "store/store.h"

namespace closeloop::server {

struct AppOptions {
    std::filesystem::path data = "data";
    std::function<Time()> clock = now_utc;
    int threads = 16;                          // HTTP worker threads: they answer complete requests only
    HttpLimits http;                           // connections, heads, bodies, deadlines (threads sets http.workers)
    std::vector<std::string> trusted_proxies;  // reverse proxies whose X-Forwarded-For is believed
    int rfm_interval_minutes = 60;     // RFM of every workspace at start and then this often; 0 = on demand only
    std::string synchronous = "FULL";  // see SqliteOptions
    std::string public_url = "";       // https://... makes the session cookie Secure
    // false: no executor thread; posted events are still handled as they are stored (ingest),
    // and the test drives the rest (timers, events written by effects) with run_executor().
    bool executor_thread = true;
    DeliveryOptions delivery;  // the delivery workers (SMTP, webhooks, retries)
    FrequencyCap cap;          // marketing e-mails per contact
    std::string redeem_url;    // {{links.redeem}}: the shop's voucher page, "{code}" for the code
    // false: no delivery threads (tests that look at the outbox as the executor left it).
    bool delivery_threads = true;
    RateLimits rate_limits;  // per publishable key and address, per address, per admin key
    // The rate limits' clock in milliseconds (nullptr: a steady clock; tests pass a manual one).
    std::function<std::int64_t()> rate_clock_ms = nullptr;
    EventTimeWindow event_window;  // how far a posted event's time may be from the clock
};

class App {
public:
    explicit App(AppOptions options);
    ~App();  // close()
    App(const App&) = delete;
    App& operator=(const App&) = delete;

    // Binds the listening socket; port 0 = any free port. False when it cannot be bound (in
    // use, or not an address of this machine). Touches no file.
    bool bind(const std::string& address, int port);
    int port() const { return port_; }
    const std::string& address() const { return address_; }

    // Opens the store in options.data (created if new; throws std::exception when it cannot)
    // and wires the executor and every route.
    void open();

    // The executor thread (unless options.executor_thread is false) and the RFM schedule.
    void start_workers();
    // Serves on the calling thread until stop_listening(); true when it ended cleanly.
    bool listen();
    // Stops listening; listen() returns once in-flight requests are answered. Any thread.
    void stop_listening();

    // start_workers(), then listen() on a thread of the App's; returns once connections are
    // accepted.
    void start();
    // stop_listening() and join, then stop the RFM schedule and the executor. Idempotent.
    void stop();
    // stop(), then the store commits what is queued and closes.
    void close();

    Store& store() { return *store_; }
    const std::filesystem::path& database_file() const { return database_file_; }
    Executor& executor() { return *executor_; }
    DeliveryService& delivery();
    Time now() const { return options_.clock(); }

    // Nothing left for the executor as of now(): no unprocessed event, no waiting run due.
    bool executor_idle();
    // Without the executor thread: passes of the executor until it is idle (at most
    // `max_passes`); returns whether it ended idle.
    bool run_executor(int max_passes = 1000);

private:
    struct Parts;  // what open() builds

    AppOptions options_;
    std::unique_ptr<HttpServer> http_;
    std::string address_;
    int port_ = 0;
    std::unique_ptr<Store> store_;
    std::filesystem::path database_file_;
    std::unique_ptr<Parts> parts_;
    Executor* executor_ = nullptr;  // in parts_
    std::thread listener_;
    bool workers_started_ = false;
};

}  // namespace closeloop::server
