#include "closeloop/voucher.h"

#include <algorithm>

#include "closeloop/detail/json_read.h"
#include "closeloop/event.h"

namespace closeloop {

using detail::Fields;
using nlohmann::json;

bool is_valid_resource_id(const std::string& id) {
    if (id.empty() || id.size() > 64) return false;
    const auto ok_first = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
    if (!ok_first(id[0])) return false;
    return std::all_of(id.begin(), id.end(), [&](char c) { return ok_first(c) || c == '_' || c == '-' || c == '.'; });
}

Time voucher_expiry(const VoucherCampaign& c, Time assigned_at) {
    if (c.valid_for) return add(assigned_at, *c.valid_for);
    if (c.valid_until) return *c.valid_until;
    return add(assigned_at, Duration{12, 0, 0});  // not reachable for a validated campaign
}

VoucherView assign_voucher(const VoucherCampaign& campaign, std::string code, Time at) {
    VoucherView v;
    v.code = std::move(code);
    v.campaign = campaign.id;
    v.currency = campaign.currency;
    v.value = campaign.value;
    v.assigned_at = at;
    v.expires_at = voucher_expiry(campaign, at);
    return v;
}

Event voucher_assigned_event(const VoucherCampaign& campaign, const VoucherView& v, const std::string& contact_id) {
    Event e;
    e.id = "voucher_assigned:" + v.code;
    e.type = "voucher_assigned";
    e.kind = EventType::voucher_assigned;
    e.time = v.assigned_at;
    e.contact.id = contact_id;
    e.data = {{"campaign", v.campaign}, {"code", v.code}, {"value", campaign.percent ? 0.0 : v.value}};
    if (!v.currency.empty()) e.data["currency"] = v.currency;
    if (campaign.percent) e.data["percent"] = v.value;
    e.data["expires_at"] = format_time(v.expires_at);
    return e;
}

std::optional<VoucherView> voucher_of_event(const Event& e) {
    if (e.kind != EventType::voucher_assigned || !e.time) return std::nullopt;
    const auto number = [&](const char* key) {
        const auto it = e.data.find(key);
        return it != e.data.end() && it->is_number() ? it->get<double>() : 0.0;
    };
    VoucherView v;
    v.code = e.text("code");
    v.campaign = e.text("campaign");
    v.currency = e.text("currency");
    const double percent = number("percent");
    v.value = percent > 0 ? percent : number("value");
    v.assigned_at = *e.time;
    const auto expires = parse_time(e.text("expires_at"));
    v.expires_at = expires ? *expires : voucher_never_expires;
    return v;
}

const char* to_string(VoucherStatus s) {
    switch (s) {
        case VoucherStatus::redeemed:
            return "redeemed";
        case VoucherStatus::expired:
            return "expired";
        case VoucherStatus::active:
            break;
    }
    return "active";
}

VoucherStatus voucher_status(const std::optional<Time>& redeemed_at, const std::optional<Time>& expires_at, Time now) {
    if (redeemed_at && *redeemed_at <= now) return VoucherStatus::redeemed;
    if (expires_at && *expires_at <= now) return VoucherStatus::expired;
    return VoucherStatus::active;
}

Result<VoucherCampaign> voucher_campaign_from_json(const json& j, const std::string& path, Check check) {
    Fields f(j, path);
    VoucherCampaign c;
    c.id = f.string("id", true, 64, 1).value_or("");
    if (f.ok() && !is_valid_resource_id(c.id))
        f.fail("id", "must be 1-64 lower-case letters, digits, '_', '-' or '.', starting with a letter or digit");
    c.name = f.string("name", true, 200, 1).value_or("");
    c.percent = f.boolean("percent", false).value_or(false);
    c.value = f.number("value", true, 0, c.percent ? 100 : 1e12, c.percent ? "0-100 (percent)" : ">= 0").value_or(0);
    if (f.ok() && c.value <= 0) f.fail("value", "must be more than 0");
    const auto currency = f.string("currency", !c.percent, 3);
    if (currency) {
        if (check == Check::input && !is_currency_code(*currency))
            f.fail("currency", "must be an active ISO 4217 currency code such as EUR or CZK");
        else
            c.currency = *currency;
    }
    c.valid_for = f.duration("valid_for", false);
    c.valid_until = f.time("valid_until", false);
    if (f.ok() && !c.valid_for && !c.valid_until)
        f.fail(invalid_field(f.at("valid_for"), "give valid_for (e.g. P2M) or valid_until"));
    if (f.ok() && c.valid_for && c.valid_until)
        f.fail(invalid_field(f.at("valid_until"), "give valid_for or valid_until, not both"));
    if (f.ok() && c.valid_for && *c.valid_for == Duration{}) f.fail("valid_for", "must be longer than zero");
    if (f.ok() && check == Check::input && c.valid_for && !at_most(*c.valid_for, max_voucher_validity))
        f.fail("valid_for", "must be at most " + format_duration(max_voucher_validity) + " (max_voucher_validity)");
    if (const json* scope = f.object("scope", false)) {
        Fields s(*scope, f.at("scope"));
        c.scope.brands = s.strings("brands", false, 1000, 128).value_or(std::vector<std::string>{});
        c.scope.product_groups = s.strings("product_groups", false, 1000, 128).value_or(std::vector<std::string>{});
        c.scope.products = s.strings("products", false, 10000, 128).value_or(std::vector<std::string>{});
        if (!s.ok()) f.fail(s.error());
    }
    if (!f.ok()) return f.error();
    return c;
}

void to_json(json& j, const VoucherCampaign& c) {
    j = {{"id", c.id},
         {"name", c.name},
         {"value", c.value},
         {"scope",
          {{"brands", c.scope.brands}, {"product_groups", c.scope.product_groups}, {"products", c.scope.products}}}};
    if (c.percent) j["percent"] = true;
    if (!c.currency.empty()) j["currency"] = c.currency;
    if (c.valid_for) j["valid_for"] = format_duration(*c.valid_for);
    if (c.valid_until) j["valid_until"] = format_time(*c.valid_until);
}

}  // namespace closeloop
