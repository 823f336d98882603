// closeloop — voucher campaigns: what a scenario's `assign_voucher` gives a contact.
//
// A campaign has a value (an amount in a currency, or a percent), a scope (empty = the whole
// assortment) and a validity: `valid_for` counted in calendar months and days from the
// assignment (`P2M`), or a fixed `valid_until`. Codes are made by the caller (the server
// from secure random bytes; the simulator deterministically), never in core.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "closeloop/result.h"
#include "closeloop/time.h"

namespace closeloop {

struct VoucherScope {
    std::vector<std::string> brands, product_groups, products;
    bool whole_assortment() const { return brands.empty() && product_groups.empty() && products.empty(); }
    bool operator==(const VoucherScope&) const = default;
};

struct VoucherCampaign {
    std::string id, name;
    double value = 0;           // amount in `currency`, or a percent when `percent` is true
    std::string currency;       // ISO 4217; empty for percent campaigns
    bool percent = false;
    std::optional<Duration> valid_for;  // from the assignment
    std::optional<Time> valid_until;    // or a fixed end
    VoucherScope scope;
    bool operator==(const VoucherCampaign&) const = default;
};

// When a voucher of `campaign` assigned at `assigned_at` expires.
Time voucher_expiry(const VoucherCampaign& campaign, Time assigned_at);

bool is_valid_resource_id(const std::string& id);  // [a-z0-9][a-z0-9_.-]{0,63}

Result<VoucherCampaign> voucher_campaign_from_json(const nlohmann::json& j, const std::string& path = "");
void to_json(nlohmann::json& j, const VoucherCampaign& c);

}  // namespace closeloop
