#include "rfm_job.h"

#include <iostream>

namespace closeloop::server {

using nlohmann::json;

RfmService::RfmService(Store& store, std::function<Time()> clock) : store_(store), clock_(std::move(clock)) {}

RfmService::~RfmService() {
    stop();
}

RfmSettings RfmService::settings(WorkspaceId ws, Time now) {
    if (auto saved = store_.setting(ws, "rfm")) {
        auto s = rfm_settings_from_json(*saved, now);
        if (s) {
            s->as_of = now;
            return *s;
        }
    }
    RfmSettings s;
    s.as_of = now;
    return s;
}

void RfmService::save_settings(WorkspaceId ws, const RfmSettings& settings, Time now) {
    json j = settings;
    j.erase("as_of");
    store_.write([&](WriteTx& tx) { tx.put_setting(ws, "rfm", j, now); });
}

Result<RfmOutcome> RfmService::recompute(WorkspaceId ws, const RfmSettings& settings) {
    std::lock_guard lock(compute_mutex_);
    const auto start = std::chrono::steady_clock::now();
    const Time from{settings.as_of.ms - std::int64_t{settings.window_days} * ms_per_day};
    const PurchaseTable table = store_.purchases(ws, from, settings.as_of);
    auto result =
        compute_rfm(settings, static_cast<std::uint32_t>(table.contact_ids.size()), table.purchases.columns());
    if (!result) return result.error();
    RfmOutcome out;
    out.settings = settings;
    out.purchases = table.purchases.size();
    out.scored = result->scored_count;
    for (std::uint32_t i = 0; i < table.contact_ids.size(); ++i)
        if (const std::string* segment = result->segment_name(i)) ++out.segments[*segment];
    store_.save_rfm(ws, table.contact_ids, *result, rfm_edges(*result, settings));
    out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return out;
}

void RfmService::run_all() {
    for (const Workspace& w : store_.workspaces()) {
        {
            std::lock_guard lock(schedule_mutex_);
            if (stopping_) return;
        }
        try {
            auto outcome = recompute(w.id, settings(w.id, clock_()));
            if (!outcome)
                std::cerr << "closeloop: RFM of workspace " << w.slug << " not computed: " << outcome.error().what()
                          << std::endl;
        } catch (const std::exception& e) {
            std::cerr << "closeloop: RFM of workspace " << w.slug << " failed: " << e.what() << std::endl;
        }
    }
}

void RfmService::start_schedule(std::chrono::minutes interval) {
    if (interval.count() <= 0 || scheduler_.joinable()) return;
    scheduler_ = std::thread([this, interval] {
        for (;;) {
            run_all();
            std::unique_lock lock(schedule_mutex_);
            if (schedule_cv_.wait_for(lock, interval, [&] { return stopping_; })) return;
        }
    });
}

void RfmService::stop() {
    {
        std::lock_guard lock(schedule_mutex_);
        stopping_ = true;
    }
    schedule_cv_.notify_all();
    if (scheduler_.joinable()) scheduler_.join();
}

}  // namespace closeloop::server
