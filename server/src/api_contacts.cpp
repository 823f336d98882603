// Contacts: POST /api/v1/contacts (upsert), GET /api/v1/contacts/{id} (the customer card),
// DELETE /api/v1/contacts/{id} (GDPR erasure), GET /api/v1/contacts/{id}/export.
#include "api.h"
#include "api_json.h"

namespace closeloop::server {

using nlohmann::json;

namespace {

constexpr std::size_t timeline_length = 50;

void upsert(Api& api, Call& call) {
    auto body = parse_body(call.body);
    if (!body) return send_error(call.res, body.error());
    if (!body->is_object()) return send_error(call.res, 422, "invalid_field", "must be a contact object", "");
    auto patch = contact_patch_from_json(*body, "");
    if (!patch) return send_error(call.res, patch.error());
    // The merge must leave the contact within max_contact_attributes (core's rule; apply()
    // alone would drop the new names silently).
    if (patch->attributes)
        if (const auto held = api.store.contact_card(call.caller.workspace, patch->id, 0))
            if (auto error = check_patch_fits(held->contact.contact, *patch)) return send_error(call.res, *error);
    const auto stored = api.store.upsert_contact(call.caller.workspace, *patch, api.now());
    send_json(call.res, 200, contact_json(stored));
}

void not_found(Call& call) {
    send_error(call.res, 404, "not_found", "no contact with this id", "id");
}

void card(Api& api, Call& call) {
    const auto card = api.store.contact_card(call.caller.workspace, call.param(1), timeline_length);
    if (!card) return not_found(call);
    send_json(call.res, 200, card_json(*card, api.now()));
}

void erase(Api& api, Call& call) {
    const auto erased = api.store.erase_contact(call.caller.workspace, call.param(1));
    if (!erased) return not_found(call);
    send_json(call.res, 200, erasure_json(call.param(1), *erased));
}

void export_all(Api& api, Call& call) {
    const auto x = api.store.export_contact(call.caller.workspace, call.param(1));
    if (!x) return not_found(call);
    call.res.set_header("Content-Disposition", "attachment; filename=\"contact-export.json\"");
    send_json(call.res, 200, export_json(*x, api.now()));
}

}  // namespace

void add_contact_routes(Router& router, Api& api) {
    router.post("/api/v1/contacts", Access::admin, [&api](Call& c) { upsert(api, c); });
    router.get("/api/v1/contacts/{id}", Access::admin, [&api](Call& c) { card(api, c); });
    router.del("/api/v1/contacts/{id}", Access::admin, [&api](Call& c) { erase(api, c); });
    router.get("/api/v1/contacts/{id}/export", Access::admin, [&api](Call& c) { export_all(api, c); });
}

}  // namespace closeloop::server
