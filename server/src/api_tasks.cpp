// The inbox and the outbox: GET /api/v1/tasks?role=&status=, POST /api/v1/tasks (by hand),
// POST /api/v1/tasks/{id}/done, GET /api/v1/outbox?status=&kind=.
#include "api.h"
#include "api_json.h"
#include "closeloop/detail/json_read.h"
#include "keys.h"

namespace closeloop::server {

using nlohmann::json;

namespace {

void list_tasks(Api& api, Call& call) {
    TaskQuery q;
    std::optional<std::string> status, cursor;
    std::size_t limit = 0;
    if (!take_param(call.res, query_text(call.req, "role", 64), q.role) ||
        !take_param(call.res, query_choice(call.req, "status", {"open", "done"}), status) ||
        !take_param(call.res, query_limit(call.req, default_page_size, max_page_size), limit) ||
        !take_param(call.res, query_text(call.req, "cursor", 32), cursor))
        return;
    if (status) q.status = task_status_of(*status);
    if (cursor && !(q.before_seq = parse_seq_cursor(*cursor)))
        return send_error(call.res, 400, "invalid_parameter", "is not a cursor this API gave (next_cursor)", "cursor");
    q.limit = limit + 1;  // one more says whether a next page exists
    send_json(call.res, 200, seq_page("tasks", api.store.tasks(call.caller.workspace, q), limit, [&](const auto& t) {
                  return task_json(t);
              }));
}

void create_task(Api& api, Call& call) {
    auto body = parse_body(call.body);
    if (!body) return send_error(call.res, body.error());
    detail::Fields f(*body, "");
    f.reject_unknown({"title", "message", "role", "assignee", "contact", "due", "key"});
    Task t;
    t.title = f.string("title", true, 200, 1).value_or("");
    t.message = f.string("message", false, 10000).value_or("");
    t.role = f.string("role", false, 64, 1).value_or("");
    t.assignee = f.string("assignee", false, 254, 1).value_or("");
    t.contact = f.string("contact", false, 128, 1).value_or("");
    const auto due = f.duration("due", false);
    t.key = f.string("key", false, 200, 1).value_or("");
    if (f.ok() && t.role.empty() && t.assignee.empty()) f.fail(missing_field("role"));
    if (!f.ok()) return send_error(call.res, f.error());

    t.id = new_id("task_");
    t.created_at = api.now();
    if (due) t.due_at = add(t.created_at, *due);
    std::optional<Task> stored;
    api.store.write([&](WriteTx& tx) {
        if (!t.contact.empty() && !tx.find_contact(call.caller.workspace, t.contact)) return;
        stored = tx.create_task(call.caller.workspace, t);
    });
    if (!stored) return send_error(call.res, 404, "not_found", "no contact with this id", "contact");
    send_json(call.res, stored->id == t.id ? 201 : 200, task_json(*stored));
}

void done(Api& api, Call& call) {
    const auto t = api.store.complete_task(call.caller.workspace, call.param(1), api.now());
    if (!t) return send_error(call.res, 404, "not_found", "no task with this id", "id");
    send_json(call.res, 200, task_json(*t));
}

void list_outbox(Api& api, Call& call) {
    OutboxQuery q;
    std::optional<std::string> status, cursor;
    std::size_t limit = 0;
    if (!take_param(call.res, query_choice(call.req, "status", {"pending", "sent", "failed", "dead", "suppressed"}),
                    status) ||
        !take_param(call.res, query_text(call.req, "kind", 64), q.kind) ||
        !take_param(call.res, query_limit(call.req, default_page_size, max_page_size), limit) ||
        !take_param(call.res, query_text(call.req, "cursor", 32), cursor))
        return;
    if (status) q.status = outbox_status_of(*status);
    if (cursor && !(q.before_seq = parse_seq_cursor(*cursor)))
        return send_error(call.res, 400, "invalid_parameter", "is not a cursor this API gave (next_cursor)", "cursor");
    q.limit = limit + 1;  // one more says whether a next page exists
    send_json(call.res, 200, seq_page("outbox", api.store.outbox(call.caller.workspace, q), limit, [&](const auto& o) {
                  return outbox_json(o, api.sends_email);
              }));
}

}  // namespace

void add_task_routes(Router& router, Api& api) {
    router.get("/api/v1/tasks", Access::admin, [&api](Call& c) { list_tasks(api, c); });
    router.post("/api/v1/tasks", Access::admin, [&api](Call& c) { create_task(api, c); });
    router.post("/api/v1/tasks/{id}/done", Access::admin, [&api](Call& c) { done(api, c); });
    router.get("/api/v1/outbox", Access::admin, [&api](Call& c) { list_outbox(api, c); });
}

}  // namespace closeloop::server
