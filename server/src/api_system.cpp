// GET /healthz, /metrics, /api/openapi.json (the builder app at / is api_static.cpp).
#include "api.h"

namespace closeloop::server {

using nlohmann::json;

namespace {}  // namespace

void add_system_routes(Router& router, Api& api) {
    router.get("/healthz", Access::open, [&api](Call& c) {
        const bool ok = api.store.healthy();
        send_json(c.res, ok ? 200 : 503,
                  {{"status", ok ? "ok" : "unavailable"}, {"schema_version", api.store.schema_version()}});
    });
    router.get("/metrics", Access::open, [&api](Call& c) {
        c.res.set_content(api.metrics.render(api.store, api.now()), "text/plain; version=0.0.4; charset=utf-8");
    });
    router.get("/api/openapi.json", Access::open,
               [](Call& c) { c.res.set_content(openapi_document(), "application/json"); });
}

void add_api_routes(Router& router, Api& api) {
    add_system_routes(router, api);
    add_event_routes(router, api);
    add_contact_routes(router, api);
    add_voucher_routes(router, api);
    add_task_routes(router, api);
    add_rfm_routes(router, api);
    add_scenario_routes(router, api);
    add_session_routes(router, api);
    add_identity_routes(router, api);
    add_builder_routes(router, api);
    add_delivery_routes(router, api);
    add_static_routes(router, api);
}

}  // namespace closeloop::server
