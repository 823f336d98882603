// Voucher campaigns and vouchers: GET/POST /api/v1/voucher-campaigns, GET
// /api/v1/voucher-campaigns/{id}, GET /api/v1/vouchers?contact=, POST /api/v1/vouchers (assign
// by hand), POST /api/v1/vouchers/{code}/redeem (once; again is a 409).
#include "api.h"
#include "api_json.h"
#include "closeloop/detail/json_read.h"
#include "keys.h"

namespace closeloop::server {

using nlohmann::json;

namespace {

void list_campaigns(Api& api, Call& call) {
    std::size_t limit = 0;
    std::optional<std::string> cursor;
    if (!take_param(call.res, query_limit(call.req, default_catalog_page_size, max_page_size), limit) ||
        !take_param(call.res, query_text(call.req, "cursor", 128), cursor))
        return;
    const auto all = api.store.voucher_campaigns(call.caller.workspace);
    json next, out = json::array();
    for (const auto* item : id_page(
             all, [](const auto& x) -> const std::string& { return x.campaign.id; }, cursor, limit, next))
        out.push_back(campaign_json(*item));
    send_json(call.res, 200, {{"campaigns", std::move(out)}, {"next_cursor", std::move(next)}});
}

void save_campaign(Api& api, Call& call) {
    auto body = parse_body(call.body);
    if (!body) return send_error(call.res, body.error());
    auto campaign = voucher_campaign_from_json(*body, "");
    if (!campaign) return send_error(call.res, campaign.error());
    const bool created = api.store.save_voucher_campaign(call.caller.workspace, *campaign, api.now());
    const auto stored = api.store.find_voucher_campaign(call.caller.workspace, campaign->id);
    send_json(call.res, created ? 201 : 200, stored ? campaign_json(*stored) : json(*campaign));
}

void get_campaign(Api& api, Call& call) {
    const auto c = api.store.find_voucher_campaign(call.caller.workspace, call.param(1));
    if (!c) return send_error(call.res, 404, "not_found", "no voucher campaign with this id", "id");
    send_json(call.res, 200, campaign_json(*c));
}

void list_vouchers(Api& api, Call& call) {
    auto contact = query_text(call.req, "contact", 128);
    if (!contact) return send_error(call.res, 400, contact.error());
    auto limit = query_limit(call.req, default_page_size, max_page_size);
    if (!limit) return send_error(call.res, 400, limit.error());
    auto cursor = query_text(call.req, "cursor", 128);
    if (!cursor) return send_error(call.res, 400, cursor.error());
    std::optional<VoucherCursor> after;
    if (*cursor && !(after = parse_voucher_cursor(**cursor)))
        return send_error(call.res, 400, "invalid_parameter", "is not a cursor this API gave (next_cursor)", "cursor");
    const Time now = api.now();
    auto vouchers = api.store.vouchers(call.caller.workspace, *contact, *limit + 1, after);
    json next = nullptr;
    if (vouchers.size() > *limit) {
        vouchers.resize(*limit);
        next = voucher_cursor_text(vouchers.back());
    }
    json out = json::array();
    for (const auto& v : vouchers) out.push_back(voucher_json(v, now));
    send_json(call.res, 200, {{"vouchers", std::move(out)}, {"next_cursor", std::move(next)}});
}

void assign(Api& api, Call& call) {
    auto body = parse_body(call.body);
    if (!body) return send_error(call.res, body.error());
    detail::Fields f(*body, "");
    f.reject_unknown({"campaign", "contact", "key"});
    const auto campaign_id = f.string("campaign", true, 128, 1);
    const auto contact = f.string("contact", true, 128, 1);
    const auto key = f.string("key", false, 200, 1);
    if (!f.ok()) return send_error(call.res, f.error());

    const auto campaign = api.store.find_voucher_campaign(call.caller.workspace, *campaign_id);
    if (!campaign) return send_error(call.res, 404, "not_found", "no voucher campaign with this id", "campaign");
    const Time now = api.now();
    std::optional<Voucher> voucher;
    bool existed = false;
    const std::string code = new_voucher_code();
    api.store.write([&](WriteTx& tx) {
        if (!tx.find_contact(call.caller.workspace, *contact)) return;
        voucher = tx.assign_voucher(call.caller.workspace, campaign->campaign, *contact, code, key.value_or(""), now);
        existed = voucher->code != code;  // an earlier assignment under the same key
    });
    if (!voucher) return send_error(call.res, 404, "not_found", "no contact with this id", "contact");
    send_json(call.res, existed ? 200 : 201, voucher_json(*voucher, now));
}

void redeem(Api& api, Call& call) {
    const Time now = api.now();
    const auto r = api.store.redeem_voucher(call.caller.workspace, call.param(1), now);
    switch (r.outcome) {
        case RedeemOutcome::redeemed:
            return send_json(call.res, 200, voucher_json(*r.voucher, now));
        case RedeemOutcome::not_found:
            return send_error(call.res, 404, "not_found", "no voucher with this code", "code");
        case RedeemOutcome::already_redeemed:
            return send_error(call.res, 409, "already_redeemed",
                              "this voucher was redeemed at " + format_time(*r.voucher->redeemed_at), "code");
        case RedeemOutcome::expired:
            return send_error(call.res, 409, "expired",
                              "this voucher expired at " + format_time(*r.voucher->expires_at), "code");
    }
}

}  // namespace

void add_voucher_routes(Router& router, Api& api) {
    router.get("/api/v1/voucher-campaigns", Access::admin, [&api](Call& c) { list_campaigns(api, c); });
    router.post("/api/v1/voucher-campaigns", Access::admin, [&api](Call& c) { save_campaign(api, c); });
    router.get("/api/v1/voucher-campaigns/{id}", Access::admin, [&api](Call& c) { get_campaign(api, c); });
    router.get("/api/v1/vouchers", Access::admin, [&api](Call& c) { list_vouchers(api, c); });
    router.post("/api/v1/vouchers", Access::admin, [&api](Call& c) { assign(api, c); });
    router.post("/api/v1/vouchers/{code}/redeem", Access::admin, [&api](Call& c) { redeem(api, c); });
}

}  // namespace closeloop::server
