// closeloop server — the HTTP API v1 (CONTRACT.md). Each api_*.cpp adds one group of routes;
// a route parses (core readers), calls core or the store, and answers JSON. No SQL and no
// business rule lives here.
#pragma once

#include <functional>

#include "closeloop/event.h"
#include "http.h"
#include "rfm_job.h"
#include "server_metrics.h"
#include "store/store.h"

namespace closeloop::server {

inline constexpr std::size_t max_events_per_request = 1000;

// Every list is paged (CONTRACT.md, Limits): `limit` is 1-max_page_size (400 naming `limit`
// over it), and `next_cursor` is null on the last page, else the `cursor` of the next.
inline constexpr std::size_t max_page_size = 1000;
inline constexpr std::size_t default_page_size = 100;  // events, tasks, outbox, runs, vouchers
// Scenarios, templates, voucher campaigns and endpoints: what the builder's pickers load at
// once, so one page holds as many as a list ever returned in practice.
inline constexpr std::size_t default_catalog_page_size = max_page_size;
inline constexpr std::size_t max_body_bytes = 1024 * 1024;  // larger bodies get 413

struct Api {
    Store& store;
    ServerMetrics& metrics;
    RfmService& rfm;
    std::function<Time()> now;
    // Stores posted events; the scenario executor's ingest (which also runs them through the
    // active scenarios) when one is running, else the store's insert_events.
    std::function<IngestResult(WorkspaceId, std::span<const Event>, Time)> ingest = nullptr;
    std::string public_url = "";           // https://... makes the session cookie Secure
    bool allow_private_endpoints = false;  // webhook endpoints on loopback / private networks
    bool sends_email = false;              // an SMTP server is configured
    std::function<void()> wake_delivery = nullptr;
    EventTimeWindow event_window = {};  // posted events' `time` around now() (core: check_event_time)
};

void add_event_routes(Router& router, Api& api);    // api_events.cpp
void add_contact_routes(Router& router, Api& api);  // api_contacts.cpp
void add_voucher_routes(Router& router, Api& api);  // api_vouchers.cpp
void add_task_routes(Router& router, Api& api);     // api_tasks.cpp: tasks and the outbox
void add_rfm_routes(Router& router, Api& api);      // api_rfm.cpp
// api_scenarios.cpp: scenarios (validate, simulate, activate, pause), runs, templates
void add_scenario_routes(Router& router, Api& api);
void add_system_routes(Router& router, Api& api);   // api_system.cpp: /healthz, /metrics, /api/openapi.json
void add_session_routes(Router& router, Api& api);  // api_session.cpp: sign-in, who am I, sign-out
// api_identity.cpp: the identity secret and answer tokens (who answered a public survey)
void add_identity_routes(Router& router, Api& api);
// api_builder.cpp: what the builder's pickers need (roles), the shipped examples and installing one
void add_builder_routes(Router& router, Api& api);
void add_static_routes(Router& router, Api& api);
// api_delivery.cpp: webhook endpoints, retrying outbox entries, unsubscribe links
void add_delivery_routes(Router& router, Api& api);  // api_static.cpp: the builder app at /

// All of the above.
void add_api_routes(Router& router, Api& api);

// The OpenAPI 3 document (server/openapi.json, compiled in).
const char* openapi_document();

}  // namespace closeloop::server
