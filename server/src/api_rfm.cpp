// POST /api/v1/rfm/recompute: RFM scores and segments of every contact with purchases, now.
// The body is optional: { "as_of"?, "window_days"?, "grid"? } (rfm.h's RfmSettings);
// window_days and grid given here are kept for the schedule.
#include "api.h"

namespace closeloop::server {

using nlohmann::json;

namespace {

void recompute(Api& api, Call& call) {
    const Time now = api.now();
    RfmSettings settings = api.rfm.settings(call.caller.workspace, now);
    bool keep = false;
    if (!call.body.empty()) {
        auto body = parse_body(call.body);
        if (!body) return send_error(call.res, body.error());
        if (!body->is_object()) return send_error(call.res, 422, "invalid_field", "must be an object", "");
        json merged = settings;  // what is not given stays as the workspace has it
        for (const auto& [k, v] : body->items()) merged[k] = v;
        auto parsed = rfm_settings_from_json(merged, now, "");
        if (!parsed) return send_error(call.res, parsed.error());
        keep = body->contains("window_days") || body->contains("grid");
        settings = *parsed;
    }
    auto outcome = api.rfm.recompute(call.caller.workspace, settings);
    if (!outcome) return send_error(call.res, 422, outcome.error());
    if (keep) api.rfm.save_settings(call.caller.workspace, settings, now);
    send_json(call.res, 200,
              {{"as_of", format_time(outcome->settings.as_of)},
               {"window_days", outcome->settings.window_days},
               {"purchases", outcome->purchases},
               {"scored", outcome->scored},
               {"segments", outcome->segments},
               {"seconds", outcome->seconds}});
}

}  // namespace

void add_rfm_routes(Router& router, Api& api) {
    router.post("/api/v1/rfm/recompute", Access::admin, [&api](Call& c) { recompute(api, c); });
}

}  // namespace closeloop::server
