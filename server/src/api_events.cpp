// POST /api/v1/events (one event, or { "events": [...] } up to 1000) and GET /api/v1/events.
// With a publishable key the post takes public answers only (public_answer.h, identity.h).
#include "api.h"
#include "api_json.h"
#include "closeloop/public_answer.h"
#include "identity.h"
#include "keys.h"

namespace closeloop::server {

using nlohmann::json;

namespace {

// A core Error of a public answer: "forbidden" (what a publishable key may not do) is a 403,
// a contact gone a 404, the rest as usual.
void send_answer_error(httplib::Response& res, const Error& error) {
    if (error.code == "forbidden") return send_error(res, 403, error);
    if (error.code == "not_found") return send_error(res, 404, error);
    send_error(res, error);
}

// With a publishable key: answers only (public_answer.h), each naming its contact by proof or
// staying anonymous; nothing in them reaches a contact's profile.
void post_public_answers(Api& api, Call& call, const json& body) {
    const json* batch = nullptr;
    if (body.is_object())
        if (const auto it = body.find("events"); it != body.end()) batch = &*it;
    std::vector<std::pair<const json*, std::string>> docs;  // document, its path
    if (batch) {
        if (!batch->is_array() || batch->empty())
            return send_error(call.res, 422, "invalid_field", "must be an array of 1-10 answers", "events");
        if (batch->size() > max_public_answers_per_request)
            return send_error(call.res, 413, "too_many_events",
                              "at most " + std::to_string(max_public_answers_per_request) +
                                  " answers per request with a publishable key",
                              "events");
        for (const auto& [key, _] : body.items())
            if (key != "events")
                return send_error(call.res, 422, "invalid_field", "a batch is { \"events\": [...] } and nothing else",
                                  key);
        for (std::size_t i = 0; i < batch->size(); ++i)
            docs.emplace_back(&(*batch)[i], "events[" + std::to_string(i) + "]");
    } else {
        docs.emplace_back(&body, "");
    }
    std::vector<PublicAnswer> answers;
    for (const auto& [doc, path] : docs) {
        auto a = public_answer_from_json(*doc, path);
        if (!a) return send_answer_error(call.res, a.error());
        answers.push_back(std::move(*a));
    }
    // Every answer is read before any proof is checked, and every proof before anything is
    // stored: a batch is refused whole.
    std::vector<Event> events;
    for (std::size_t i = 0; i < answers.size(); ++i) {
        auto contact = resolve_answer_contact(api.store, call.caller.workspace, answers[i].identity,
                                              join_path(docs[i].second, "contact"));
        if (!contact) return send_answer_error(call.res, contact.error());
        Event e = std::move(answers[i].event);
        e.contact = ContactPatch{};
        e.contact.id = std::move(*contact);
        if (e.id.empty()) e.id = new_id("ev_");
        events.push_back(std::move(e));
    }
    const auto result = api.ingest ? api.ingest(call.caller.workspace, events, api.now())
                                   : api.store.insert_events(call.caller.workspace, events, api.now());
    api.metrics.count_events(result.accepted, result.duplicates);
    send_json(call.res, 202, {{"accepted", result.accepted}, {"duplicates", result.duplicates}});
}

void post_events(Api& api, Call& call) {
    auto body = parse_body(call.body);
    if (!body) return send_error(call.res, body.error());
    if (call.caller.kind == KeyKind::publishable) return post_public_answers(api, call, *body);

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
