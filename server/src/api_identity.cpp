// What a site needs to name its visitors in public answers (identity.h): the workspace's
// identity secret (GET, and POST .../rotate), and answer tokens for a contact (e-mail links).
#include "api.h"
#include "identity.h"
#include "unsubscribe.h"

namespace closeloop::server {

using nlohmann::json;

namespace {

json identity_json(const std::string& secret) {
    return {{"identity_secret", secret},
            {"algorithm", "HMAC-SHA256"},
            {"signs", "contact.id"},
            {"encoding", "hex"},
            {"usage",
             "on your server: contact.hash = hex(HMAC-SHA256(identity_secret, contact.id)); keep the secret there, "
             "never in a page"}};
}

void show(Api& api, Call& call) {
    call.res.set_header("Cache-Control", "no-store");
    send_json(call.res, 200, identity_json(identity_secret(api.store, call.caller.workspace)));
}

void rotate(Api& api, Call& call) {
    call.res.set_header("Cache-Control", "no-store");
    send_json(call.res, 200, identity_json(rotate_identity_secret(api.store, call.caller.workspace, api.now())));
}

void make_answer_token(Api& api, Call& call) {
    const std::string id = call.param(1);
    if (!api.store.contact_card(call.caller.workspace, id, 0))
        return send_error(call.res, 404, "not_found", "no contact with this id", "id");
    call.res.set_header("Cache-Control", "no-store");
    send_json(call.res, 200,
              {{"contact", id},
               {"token", answer_token(link_secret(api.store, call.caller.workspace), {call.caller.workspace, id})}});
}

}  // namespace

void add_identity_routes(Router& router, Api& api) {
    router.get("/api/v1/workspace/identity", Access::admin, [&api](Call& c) { show(api, c); });
    router.post("/api/v1/workspace/identity/rotate", Access::admin, [&api](Call& c) { rotate(api, c); });
    router.post("/api/v1/contacts/{id}/answer-token", Access::admin, [&api](Call& c) { make_answer_token(api, c); });
}

}  // namespace closeloop::server
