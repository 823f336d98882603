#include "server_metrics.h"

#include <cstdio>

namespace closeloop::server {

namespace {

std::string label(std::string_view value) {
    std::string out;
    for (char c : value) {
        if (c == '\\' || c == '"')
            out += '\\', out += c;
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
    return out;
}

std::string number(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.9g", v);
    return buf;
}

}  // namespace

ServerMetrics::ServerMetrics()
    : bounds_{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
      // Every class from the start, so a dashboard sees 0 rather than no series.
      rate_limited_{{"answers", 0}, {"signin", 0}, {"unsubscribe", 0}, {"api", 0}} {}

void ServerMetrics::observe_request(std::string_view method, std::string_view route, int status, double seconds) {
    std::lock_guard lock(mutex_);
    ++requests_[{std::string(method), std::string(route), status}];
    auto& h = latency_[{std::string(method), std::string(route)}];
    if (h.counts.empty()) h.counts.assign(bounds_.size() + 1, 0);
    std::size_t i = 0;
    while (i < bounds_.size() && seconds > bounds_[i]) ++i;
    ++h.counts[i];
    h.sum += seconds;
    ++h.count;
}

void ServerMetrics::count_events(std::size_t accepted, std::size_t duplicates) {
    std::lock_guard lock(mutex_);
    events_accepted_ += accepted;
    events_duplicates_ += duplicates;
}

void ServerMetrics::count_rate_limited(std::string_view cls) {
    std::lock_guard lock(mutex_);
    const auto it = rate_limited_.find(cls);
    if (it != rate_limited_.end())
        ++it->second;
    else
        rate_limited_.emplace(std::string(cls), 1);
}

std::uint64_t ServerMetrics::events_accepted() const {
    std::lock_guard lock(mutex_);
    return events_accepted_;
}

std::string ServerMetrics::render(Store& store, Time now) const {
    const auto size = store.size_bytes();
    const auto stats = store.stats();
    const auto backlog = store.executor_backlog(now);
    std::string out;
    std::lock_guard lock(mutex_);

    out += "# HELP closeloop_http_requests_total HTTP requests answered, by route pattern, method and status.\n";
    out += "# TYPE closeloop_http_requests_total counter\n";
    for (const auto& [key, n] : requests_) {
        const auto& [method, route, status] = key;
        out += "closeloop_http_requests_total{method=\"" + label(method) + "\",route=\"" + label(route) +
               "\",status=\"" + std::to_string(status) + "\"} " + std::to_string(n) + "\n";
    }

    out += "# HELP closeloop_http_request_duration_seconds Time from the request's headers to its response.\n";
    out += "# TYPE closeloop_http_request_duration_seconds histogram\n";
    for (const auto& [key, h] : latency_) {
        const std::string labels = "method=\"" + label(key.first) + "\",route=\"" + label(key.second) + "\"";
        std::uint64_t cumulative = 0;
        for (std::size_t i = 0; i < bounds_.size(); ++i) {
            cumulative += h.counts[i];
            out += "closeloop_http_request_duration_seconds_bucket{" + labels + ",le=\"" + number(bounds_[i]) + "\"} " +
                   std::to_string(cumulative) + "\n";
        }
        out += "closeloop_http_request_duration_seconds_bucket{" + labels + ",le=\"+Inf\"} " + std::to_string(h.count) +
               "\n";
        out += "closeloop_http_request_duration_seconds_sum{" + labels + "} " + number(h.sum) + "\n";
        out += "closeloop_http_request_duration_seconds_count{" + labels + "} " + std::to_string(h.count) + "\n";
    }

    out += "# HELP closeloop_events_accepted_total Events stored (202 answers count them once stored).\n";
    out += "# TYPE closeloop_events_accepted_total counter\n";
    out += "closeloop_events_accepted_total " + std::to_string(events_accepted_) + "\n";
    out += "# HELP closeloop_events_duplicates_total Events not stored again: their id was stored before.\n";
    out += "# TYPE closeloop_events_duplicates_total counter\n";
    out += "closeloop_events_duplicates_total " + std::to_string(events_duplicates_) + "\n";

    out += "# HELP closeloop_rate_limited_total Requests refused by a rate limit (429), by limit class.\n";
    out += "# TYPE closeloop_rate_limited_total counter\n";
    for (const auto& [cls, n] : rate_limited_)
        out += "closeloop_rate_limited_total{class=\"" + label(cls) + "\"} " + std::to_string(n) + "\n";

    out += "# HELP closeloop_db_size_bytes Size of the database on disk (main file and write-ahead log).\n";
    out += "# TYPE closeloop_db_size_bytes gauge\n";
    out += "closeloop_db_size_bytes " + std::to_string(size) + "\n";
    out += "# HELP closeloop_db_commits_total Write transactions committed (group commit: many units each).\n";
    out += "# TYPE closeloop_db_commits_total counter\n";
    out += "closeloop_db_commits_total " + std::to_string(stats.commits) + "\n";
    out += "# HELP closeloop_db_units_total Units of work committed.\n";
    out += "# TYPE closeloop_db_units_total counter\n";
    out += "closeloop_db_units_total " + std::to_string(stats.units_of_work) + "\n";
    out += "# HELP closeloop_db_failed_units_total Units of work rolled back.\n";
    out += "# TYPE closeloop_db_failed_units_total counter\n";
    out += "closeloop_db_failed_units_total " + std::to_string(stats.failed_units) + "\n";

    if (executor_stats_) {
        const ExecutorStats x = executor_stats_();
        const auto metric = [&out](const char* type, const char* name, const char* help, std::uint64_t value) {
            out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" + name + " " +
                   std::to_string(value) + "\n";
        };
        const auto counter = [&](const char* name, const char* help, std::uint64_t value) {
            metric("counter", name, help, value);
        };
        counter("closeloop_executor_events_total", "Events handled by the scenario executor.", x.events);
        counter("closeloop_executor_runs_started_total", "Scenario runs started.", x.runs_started);
        counter("closeloop_executor_runs_resumed_total", "Waiting runs resumed at their wake time.", x.runs_resumed);
        counter("closeloop_executor_runs_failed_total", "Runs that ended failed (their error says why).",
                x.runs_failed);
        counter("closeloop_executor_set_aside_total",
                "Events or runs set aside because their unit of work failed even alone (logged).", x.set_aside);
        metric("gauge", "closeloop_executor_unprocessed_events", "Events stored and not yet handled by the executor.",
               backlog.unprocessed_events);
        metric("gauge", "closeloop_runs_waiting", "Scenario runs waiting for their wake time.", backlog.waiting_runs);
        metric("gauge", "closeloop_runs_due", "Waiting runs whose wake time has passed (the executor is behind).",
               backlog.due_runs);
    }

    // The outbox by kind and status (queue depth, dead letters), and the workers' attempts.
    const auto counts = store.outbox_counts();
    out += "# HELP closeloop_outbox_depth Outbox entries by kind and status (pending and failed wait to be sent).\n";
    out += "# TYPE closeloop_outbox_depth gauge\n";
    std::map<std::string, std::uint64_t> dead;
    for (const auto& c : counts) {
        out += "closeloop_outbox_depth{kind=\"" + label(c.kind) + "\",status=\"" + std::string(to_string(c.status)) +
               "\"} " + std::to_string(c.count) + "\n";
        dead[c.kind] += c.status == OutboxStatus::dead ? c.count : 0;
    }
    out += "# HELP closeloop_outbox_dead Dead letters by kind: given up, kept, retryable through the API.\n";
    out += "# TYPE closeloop_outbox_dead gauge\n";
    for (const auto& [kind, n] : dead)
        out += "closeloop_outbox_dead{kind=\"" + label(kind) + "\"} " + std::to_string(n) + "\n";
    if (delivery_stats_) {
        const auto stats_by_kind = delivery_stats_();
        const auto family = [&](const char* name, const char* help, auto field) {
            out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " counter\n";
            for (const auto& [kind, s] : stats_by_kind)
                out += std::string(name) + "{kind=\"" + label(kind) + "\"} " + std::to_string(s.*field) + "\n";
        };
        family("closeloop_delivery_attempts_total", "Delivery attempts since the start.", &DeliveryKindStats::attempts);
        family("closeloop_delivery_failures_total", "Delivery attempts that failed.", &DeliveryKindStats::failures);
        family("closeloop_delivery_sent_total", "Effects delivered.", &DeliveryKindStats::sent);
        family("closeloop_delivery_dead_total", "Effects given up (dead letters) since the start.",
               &DeliveryKindStats::dead);
    }
    if (http_stats_) {
        const HttpStats h = http_stats_();
        out += "# HELP closeloop_http_connections Client connections open now.\n";
        out += "# TYPE closeloop_http_connections gauge\n";
        out += "closeloop_http_connections " + std::to_string(h.open) + "\n";
        out +=
            "# HELP closeloop_http_connections_total Client connections by how they ended early: accepted counts "
            "all; evicted (closed to make room), timed_out (a deadline), busy (answered 503), malformed (refused "
            "by the transport: framing or a limit).\n";
        out += "# TYPE closeloop_http_connections_total counter\n";
        out += "closeloop_http_connections_total{outcome=\"accepted\"} " + std::to_string(h.accepted) + "\n";
        out += "closeloop_http_connections_total{outcome=\"evicted\"} " + std::to_string(h.evicted) + "\n";
        out += "closeloop_http_connections_total{outcome=\"timed_out\"} " + std::to_string(h.timed_out) + "\n";
        out += "closeloop_http_connections_total{outcome=\"busy\"} " + std::to_string(h.busy) + "\n";
        out += "closeloop_http_connections_total{outcome=\"malformed\"} " + std::to_string(h.malformed) + "\n";
    }
    return out;
}

void ServerMetrics::set_http_stats(std::function<HttpStats()> stats) {
    std::lock_guard lock(mutex_);
    http_stats_ = std::move(stats);
}

void ServerMetrics::set_delivery_stats(std::function<std::map<std::string, DeliveryKindStats>()> stats) {
    std::lock_guard lock(mutex_);
    delivery_stats_ = std::move(stats);
}

void ServerMetrics::set_executor_stats(std::function<ExecutorStats()> stats) {
    std::lock_guard lock(mutex_);
    executor_stats_ = std::move(stats);
}

}  // namespace closeloop::server
