// closeloop server — RFM recomputation: purchases from the store, scores from core
// (compute_rfm), results back to the contacts. On demand (POST /api/v1/rfm/recompute) and on
// a schedule (at start, then every --rfm-interval minutes).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "closeloop/result.h"
#include "closeloop/rfm.h"
#include "store/store.h"

namespace closeloop::server {

struct RfmOutcome {
    RfmSettings settings;  // as used (as_of included)
    std::size_t purchases = 0;
    std::size_t scored = 0;  // contacts with a segment now
    std::map<std::string, std::size_t> segments;
    double seconds = 0;
};

class RfmService {
public:
    RfmService(Store& store, std::function<Time()> clock);
    ~RfmService();
    RfmService(const RfmService&) = delete;
    RfmService& operator=(const RfmService&) = delete;

    // The workspace's settings (its "rfm" setting, else the defaults), as of `now`.
    RfmSettings settings(WorkspaceId ws, Time now);
    // Keeps window_days and the grid for later computations (as_of is never kept).
    void save_settings(WorkspaceId ws, const RfmSettings& settings, Time now);
    // One computation at a time per process; errors name the bad purchase.
    Result<RfmOutcome> recompute(WorkspaceId ws, const RfmSettings& settings);

    // Every workspace now (in the background), then every `interval`; 0 = never.
    void start_schedule(std::chrono::minutes interval);
    void stop();

private:
    void run_all();

    Store& store_;
    std::function<Time()> clock_;
    std::mutex compute_mutex_;
    std::mutex schedule_mutex_;
    std::condition_variable schedule_cv_;
    bool stopping_ = false;
    std::thread scheduler_;
};

}  // namespace closeloop::server
