// POST /api/v1/events (one event, or { "events": [...] } up to 1000) and GET /api/v1/events.
#include "api.h"
#include "api_json.h"
#include "keys.h"

namespace closeloop::server {

using nlohmann::json;

namespace {

void post_events(Api& api, Call& call) {
    auto body = parse_body(call.body);
    if (!body) return send_error(call.res, body.error());

    std::vector<Event> events;
    // { "events": [...] } is a batch; anything else is read as one event.
    const json* batch = nullptr;
    if (body->is_object())
        if (const auto it = body->find("events"); it != body->end()) batch = &*it;
    if (batch) {
        if (!batch->is_array())
            return send_error(call.res, 422, "invalid_field", "must be an array of events", "events");
        if (batch->empty()) return send_error(call.res, 422, "invalid_field", "must hold 1-1000 events", "events");
        if (batch->size() > max_events_per_request)
            return send_error(
                call.res, 413, "too_many_events",
                "at most 1000 events per request: split the batch (this one has " + std::to_string(batch->size()) + ")",
                "events");
        for (const auto& [key, _] : body->items())
            if (key != "events")
                return send_error(call.res, 422, "invalid_field", "a batch is { \"events\": [...] } and nothing else",
                                  key);
        events.reserve(batch->size());
        for (std::size_t i = 0; i < batch->size(); ++i) {
            auto e = event_from_json((*batch)[i], "events[" + std::to_string(i) + "]");
            if (!e) return send_error(call.res, e.error());
            events.push_back(std::move(*e));
        }
    } else {
        auto e = event_from_json(*body, "");
        if (!e) return send_error(call.res, e.error());
        events.push_back(std::move(*e));
    }

    if (call.caller.kind == KeyKind::publishable) {
        for (std::size_t i = 0; i < events.size(); ++i) {
            if (events[i].kind != EventType::nps_response && events[i].kind != EventType::csat_response)
                return send_error(call.res, 403, "forbidden",
                                  "a publishable key may only post survey answers (nps_response, csat_response)",
                                  batch ? "events[" + std::to_string(i) + "].type" : "type");
        }
    }

    // Times far from the server's clock are mistakes (9999-12-31 would stay the contact's
    // latest answer for good); the window is core's rule, the clock the server's.
    const Time now = api.now();
    for (std::size_t i = 0; i < events.size(); ++i) {
        if (!events[i].time) continue;
        const std::string path = batch ? "events[" + std::to_string(i) + "].time" : "time";
        if (auto error = check_event_time(*events[i].time, now, api.event_window, path))
            return send_error(call.res, *error);
    }

    // Events without an id get one, so that each stored event can be addressed.
    for (Event& e : events)
        if (e.id.empty()) e.id = new_id("ev_");

    const auto result = api.ingest ? api.ingest(call.caller.workspace, events, now)
                                   : api.store.insert_events(call.caller.workspace, events, now);
    api.metrics.count_events(result.accepted, result.duplicates);
    send_json(call.res, 202, {{"accepted", result.accepted}, {"duplicates", result.duplicates}});
}

void get_events(Api& api, Call& call) {
    EventQuery q;
    auto contact = query_text(call.req, "contact", 128);
    if (!contact) return send_error(call.res, 400, contact.error());
    q.contact = *contact;
    auto type = query_text(call.req, "type", 64);
    if (!type) return send_error(call.res, 400, type.error());
    if (*type && !is_valid_event_type_name(**type))
        return send_error(call.res, 400, "invalid_parameter", "must be an event type such as nps_response", "type");
    q.type = *type;
    auto from = query_time(call.req, "from");
    if (!from) return send_error(call.res, 400, from.error());
    q.from = *from;
    auto to = query_time(call.req, "to");
    if (!to) return send_error(call.res, 400, to.error());
    q.to = *to;
    auto limit = query_limit(call.req, default_page_size, max_page_size);
    if (!limit) return send_error(call.res, 400, limit.error());
    q.limit = *limit;
    auto cursor = query_text(call.req, "cursor", 64);
    if (!cursor) return send_error(call.res, 400, cursor.error());
    if (*cursor) {
        q.after = parse_cursor(**cursor);
        if (!q.after)
            return send_error(call.res, 400, "invalid_parameter", "is not a cursor this API gave (next_cursor)",
                              "cursor");
    }

    const EventPage page = api.store.list_events(call.caller.workspace, q);
    json events = json::array();
    for (const auto& e : page.events) events.push_back(event_json(e));
    send_json(call.res, 200,
              {{"events", std::move(events)}, {"next_cursor", page.next ? json(cursor_text(*page.next)) : json()}});
}

}  // namespace

void add_event_routes(Router& router, Api& api) {
    router.post("/api/v1/events", Access::answers, [&api](Call& c) { post_events(api, c); });
    router.get("/api/v1/events", Access::admin, [&api](Call& c) { get_events(api, c); });
}

}  // namespace closeloop::server
