// GET / (placeholder page until the builder is served), /healthz, /metrics, /api/openapi.json.
#include "api.h"

namespace closeloop::server {

using nlohmann::json;

namespace {

const char* placeholder_page = R"html(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>closeloop</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
 body{font-family:system-ui,-apple-system,"DejaVu Sans",sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
 main{max-width:40rem;margin:10vh auto;padding:2rem;background:#fff;border-radius:12px;box-shadow:0 2px 12px #0001}
 h1{margin:0 0 .25rem;font-size:1.8rem} p{line-height:1.5} code{background:#eef1f5;padding:.1rem .3rem;border-radius:4px}
 .ok{color:#13795b;font-weight:600}
</style></head>
<body><main>
<h1>closeloop</h1>
<p>Closes the customer-feedback loop: collects NPS and CSAT answers and reacts to each one
through scenarios.</p>
<p class="ok">The server is running.</p>
<p>The scenario builder will be served here. Until then: the HTTP API, described in
<a href="/api/openapi.json"><code>/api/openapi.json</code></a>; <code>GET /healthz</code>.</p>
</main></body></html>
)html";

}  // namespace

void add_system_routes(Router& router, Api& api) {
    router.get("/", Access::open, [](Call& c) { c.res.set_content(placeholder_page, "text/html; charset=utf-8"); });
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
}

}  // namespace closeloop::server
