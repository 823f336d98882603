// closeloop — voucher campaigns: what a voucher is worth, where it applies, how long it lives.
//
// Sections: VoucherScope, VoucherCampaign, expiry, JSON. A campaign gives either a value in a
// currency (`"value": 20, "currency": "EUR"`) or a percentage (`"percent": 15`); its vouchers
// expire `valid_for` after assignment (calendar months and days, CONTRACT.md) or at a fixed
// `valid_until`, or never when neither is given. Codes are made by the server (randomness is
// not core's); core only says what a campaign document is.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "closeloop/result.h"
#include "closeloop/time.h"

namespace closeloop {

// Where a voucher can be spent; all lists empty = the whole assortment.
struct VoucherScope {
    std::vector<std::string> brands, product_groups, products;

    bool whole_assortment() const { return brands.empty() && product_groups.empty() && products.empty(); }
    bool operator==(const VoucherScope&) const = default;
};

struct VoucherCampaign {
    std::string id;    // a resource id (is_valid_resource_id), e.g. "nps-apology-20"
    std::string name;  // "NPS apology, 20 EUR"
    double value = 0;  // in `currency`; 0 for a percentage campaign
    std::string currency;
    double percent = 0;                 // 0-100; 0 for a value campaign
    std::optional<Duration> valid_for;  // from the assignment
    std::optional<Time> valid_until;    // a fixed end
    VoucherScope scope;

    bool operator==(const VoucherCampaign&) const = default;
};

// The expiry of a voucher of `campaign` assigned at `assigned_at`: assigned_at + valid_for,
// or valid_until, or nullopt (never expires).
std::optional<Time> voucher_expiry(const VoucherCampaign& campaign, Time assigned_at);

// Ids of documents the API addresses by path (campaigns, templates, scenarios, surveys):
// 1-128 characters of letters, digits, '-', '_' and '.', starting with a letter or digit.
bool is_valid_resource_id(std::string_view id);

// ---- JSON ----------------------------------------------------------------------------------
//
// { "id": "nps-apology-20", "name": "NPS apology, 20 EUR", "value": 20, "currency": "EUR",
//   "valid_for": "P2M", "scope": { "brands": [], "product_groups": [], "products": [] } }
// Exactly one of value (with currency) or percent; at most one of valid_for or valid_until.
Result<VoucherCampaign> voucher_campaign_from_json(const nlohmann::json& j, const std::string& path = "");
void to_json(nlohmann::json& j, const VoucherCampaign& campaign);

}  // namespace closeloop
