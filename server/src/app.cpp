#include "app.h"

#include <unistd.h>

#include <chrono>

#include "api.h"
#include "rfm_job.h"
#include "server_metrics.h"
#include "store/sqlite_store.h"

namespace closeloop::server {

struct App::Parts {
    ServerMetrics metrics;
    RfmService rfm;
    // Posted events go through the executor (stored and run through the scenarios at once);
    // its thread takes events stored before this start too (processed_at is still NULL) and
    // every timer that came due while the server was down.
    Executor executor;
    DeliveryService delivery;
    Api api;
    Router router;
    RateLimiter rate;

    Parts(Store& store, const std::function<Time()>& clock, const AppOptions& options)
        : rfm(store, clock),
          executor(store, clock, ExecutorOptions{.outbox = {options.public_url, options.cap, options.redeem_url}}),
          delivery(store, clock, options.delivery),
          api{store,
              metrics,
              rfm,
              clock,
              [this](WorkspaceId ws, std::span<const Event> events, Time now) {
                  return executor.ingest(ws, events, now);
              },
              options.public_url,
              options.delivery.allow_private_endpoints,
              !options.delivery.smtp_url.empty(),
              [this] { delivery.wake(); },
              options.event_window},
          router(store, max_body_bytes, clock),
          rate(options.rate_limits, &metrics, options.rate_clock_ms) {
        router.set_rate_limiter(&rate);
        add_api_routes(router, api);
        router.set_metrics(&metrics);
    }
};

App::App(AppOptions options) : options_(std::move(options)) {
    HttpLimits limits = options_.http;
    limits.workers = options_.threads;
    limits.max_body = max_body_bytes;
    http_ = std::make_unique<HttpServer>(
        limits, [this](httplib::Request& req, httplib::Response& res) { parts_->router.dispatch(req, res); });
    http_->set_trusted_proxies(options_.trusted_proxies);
}

App::~App() {
    close();
}

void App::close() {
    stop();
    parts_.reset();
    executor_ = nullptr;
    store_.reset();  // the writer commits what is queued, then the database closes
}

bool App::bind(const std::string& address, int port) {
    const int bound = http_->bind(address, port);
    if (bound < 0) return false;
    address_ = address;
    port_ = bound;
    return true;
}

void App::open() {
    auto store = std::make_unique<SqliteStore>(options_.data, SqliteOptions{.synchronous = options_.synchronous});
    database_file_ = store->file();
    store_ = std::move(store);
    parts_ = std::make_unique<Parts>(*store_, options_.clock, options_);
    executor_ = &parts_->executor;
}

void App::start_workers() {
    if (workers_started_) return;
    workers_started_ = true;
    store_->set_commit_listener([this] { executor_->wake(); });
    parts_->metrics.set_executor_stats([this] { return executor_->stats(); });
    if (options_.executor_thread) executor_->start();
    parts_->metrics.set_delivery_stats([this] { return parts_->delivery.stats(); });
    if (options_.delivery_threads) parts_->delivery.start();
    parts_->rfm.start_schedule(std::chrono::minutes(options_.rfm_interval_minutes));
    parts_->metrics.set_http_stats([this] { return http_->stats(); });
}

bool App::listen() {
    // Returns once the listening socket is closed and every worker has finished its request:
    // a request waiting for its commit is answered before this returns.
    return http_->listen();
}

void App::stop_listening() {
    http_->stop();
}

void App::start() {
    start_workers();
    listener_ = std::thread([this] { http_->listen(); });
    while (!http_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

void App::stop() {
    if (listener_.joinable()) {
        http_->stop();
        listener_.join();
    }
    if (!workers_started_) return;
    workers_started_ = false;
    parts_->rfm.stop();
    parts_->delivery.stop();  // finishes the message in flight, settles what it claimed
    executor_->stop();        // finishes its unit of work in progress
    parts_->metrics.set_delivery_stats(nullptr);
    parts_->metrics.set_http_stats(nullptr);
    store_->set_commit_listener(nullptr);
    parts_->metrics.set_executor_stats(nullptr);
}

DeliveryService& App::delivery() {
    return parts_->delivery;
}

bool App::executor_idle() {
    const auto backlog = store_->executor_backlog(now());
    return backlog.unprocessed_events == 0 && backlog.due_runs == 0;
}

bool App::run_executor(int max_passes) {
    for (int i = 0; i < max_passes && !executor_idle(); ++i) executor_->run_once();
    return executor_idle();
}

}  // namespace closeloop::server
