#include "closeloop/voucher.h"

#include <algorithm>

#include "closeloop/detail/json_read.h"
#include "closeloop/event.h"

namespace closeloop {

using detail::Fields;
using nlohmann::json;

std::optional<Time> voucher_expiry(const VoucherCampaign& campaign, Time assigned_at) {
    if (campaign.valid_for) return add(assigned_at, *campaign.valid_for);
    if (campaign.valid_until) return *campaign.valid_until;
    return std::nullopt;
}

bool is_valid_resource_id(std::string_view id) {
    if (id.empty() || id.size() > 128) return false;
    const auto alnum = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    };
    if (!alnum(id.front())) return false;
    return std::all_of(id.begin(), id.end(), [&](char c) { return alnum(c) || c == '-' || c == '_' || c == '.'; });
}

Result<VoucherCampaign> voucher_campaign_from_json(const json& j, const std::string& path) {
    Fields f(j, path);
    if (!f.ok()) return f.error();
    f.reject_unknown({"id", "name", "value", "currency", "percent", "valid_for", "valid_until", "scope"});
    VoucherCampaign c;
    c.id = f.string("id", true, 128, 1).value_or("");
    if (f.ok() && !is_valid_resource_id(c.id))
        f.fail("id", "must be 1-128 letters, digits, '-', '_' or '.', starting with a letter or digit");
    c.name = f.string("name", true, 200, 1).value_or("");

    const auto value = f.number("value", false, 0, 1e12, ">= 0");
    const auto currency = f.string("currency", false, 3);
    const auto percent = f.number("percent", false, 0, 100, "0-100");
    if (f.ok()) {
        if (value && percent)
            f.fail("percent", "give either value (with currency) or percent, not both");
        else if (!value && !percent)
            f.fail(missing_field(f.at("value")));
        else if (value && !currency)
            f.fail(missing_field(f.at("currency")));
        else if (currency && !is_currency_code(*currency))
            f.fail("currency", "must be an ISO 4217 code such as EUR or CZK");
        else if (percent && currency)
            f.fail("currency", "a percentage campaign has no currency");
        else if (percent && *percent <= 0)
            f.fail("percent", "must be a number above 0, at most 100");
    }
    c.value = value.value_or(0);
    c.currency = currency.value_or("");
    c.percent = percent.value_or(0);

    c.valid_for = f.duration("valid_for", false);
    c.valid_until = f.time("valid_until", false);
    if (f.ok() && c.valid_for && c.valid_until) f.fail("valid_until", "give either valid_for or valid_until, not both");
    if (f.ok() && c.valid_for && *c.valid_for == Duration{}) f.fail("valid_for", "must be longer than zero");

    if (const json* scope = f.object("scope", false); scope && f.ok()) {
        Fields s(*scope, f.at("scope"));
        s.reject_unknown({"brands", "product_groups", "products"});
        c.scope.brands = s.strings("brands", false, 1000, 128).value_or(std::vector<std::string>{});
        c.scope.product_groups = s.strings("product_groups", false, 1000, 128).value_or(std::vector<std::string>{});
        c.scope.products = s.strings("products", false, 10000, 128).value_or(std::vector<std::string>{});
        if (!s.ok()) f.fail(s.error());
    }
    if (!f.ok()) return f.error();
    return c;
}

void to_json(json& j, const VoucherCampaign& c) {
    j = {{"id", c.id}, {"name", c.name}};
    if (c.percent > 0) {
        j["percent"] = c.percent;
    } else {
        j["value"] = c.value;
        j["currency"] = c.currency;
    }
    if (c.valid_for) j["valid_for"] = format_duration(*c.valid_for);
    if (c.valid_until) j["valid_until"] = format_time(*c.valid_until);
    j["scope"] = {
        {"brands", c.scope.brands}, {"product_groups", c.scope.product_groups}, {"products", c.scope.products}};
}

}  // namespace closeloop
