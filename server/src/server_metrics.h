// closeloop server — operational metrics in the Prometheus text format (GET /metrics).
//
// Requests by route pattern (never the raw path: ids would make unbounded label sets),
// method and status; a latency histogram per route; events accepted and duplicated; the
// store's size and commit counters; and the scenario executor's counters. Not to be confused
// with closeloop/metrics.h (NPS, CSAT).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "delivery_service.h"
#include "executor.h"
#include "http_server.h"
#include "store/store.h"

namespace closeloop::server {

class ServerMetrics {
public:
    ServerMetrics();

    void observe_request(std::string_view method, std::string_view route, int status, double seconds);
    void count_events(std::size_t accepted, std::size_t duplicates);
    // A request refused by a rate limit of class `cls` (rate_limit.h: answers, signin, ...).
    void count_rate_limited(std::string_view cls);
    std::uint64_t events_accepted() const;

    // Where the executor's counters come from (nullptr: none shown).
    void set_executor_stats(std::function<ExecutorStats()> stats);
    // Where the delivery workers' counters come from (nullptr: none shown).
    void set_delivery_stats(std::function<std::map<std::string, DeliveryKindStats>()> stats);

    // Where the HTTP transport's counters come from (nullptr: none shown).
    void set_http_stats(std::function<HttpStats()> stats);

    // The exposition text, with the store's figures read now.
    std::string render(Store& store, Time now) const;  // now: the App's clock (due runs)

private:
    struct Histogram {
        std::vector<std::uint64_t> counts;  // per bucket (not cumulative), + the +Inf bucket
        double sum = 0;
        std::uint64_t count = 0;
    };

    mutable std::mutex mutex_;
    std::vector<double> bounds_;  // bucket upper bounds, seconds
    std::map<std::tuple<std::string, std::string, int>, std::uint64_t> requests_;
    std::map<std::pair<std::string, std::string>, Histogram> latency_;
    std::uint64_t events_accepted_ = 0, events_duplicates_ = 0;
    std::map<std::string, std::uint64_t, std::less<>> rate_limited_;
    std::function<ExecutorStats()> executor_stats_;
    std::function<std::map<std::string, DeliveryKindStats>()> delivery_stats_;
    std::function<HttpStats()> http_stats_;
};

}  // namespace closeloop::server
