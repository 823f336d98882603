// closeloop — voucher campaigns: what a scenario's `assign_voucher` gives a contact.
//
// A campaign has a value (an amount in a currency, or a percent), a scope (empty = the whole
// assortment) and a validity: `valid_for` counted in calendar months and days from the
// assignment (`P2M`), or a fixed `valid_until`. Codes are made by the caller (the server
// from secure random bytes; the simulator deterministically), never in core.
//
// This is the one home of a voucher's rules: what `voucher.*` reads (VoucherView), the voucher
// an assignment gives, the `voucher_assigned` event written for it (the server's store and the
// simulator's history both write and read it through these functions) and a voucher's status.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "closeloop/event.h"
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
    double value = 0;      // amount in `currency`, or a percent when `percent` is true
    std::string currency;  // ISO 4217; empty for percent campaigns
    bool percent = false;
    std::optional<Duration> valid_for;  // from the assignment
    std::optional<Time> valid_until;    // or a fixed end
    VoucherScope scope;
    bool operator==(const VoucherCampaign&) const = default;
};

// When a voucher of `campaign` assigned at `assigned_at` expires.
Time voucher_expiry(const VoucherCampaign& campaign, Time assigned_at);

// A voucher as expressions and templates see it (`voucher.*`). `value` is the amount in
// `currency`, or the percent of a percent campaign.
struct VoucherView {
    std::string code, campaign, currency;
    double value = 0;
    Time assigned_at, expires_at;
    bool redeemed = false;
    bool operator==(const VoucherView&) const = default;
};

// The expiry read for a voucher stored without one (campaigns always have a validity).
inline constexpr Time voucher_never_expires{253402300799000};  // 9999-12-31T23:59:59Z

// The voucher of `campaign` assigned at `at` under `code` (not redeemed).
VoucherView assign_voucher(const VoucherCampaign& campaign, std::string code, Time at);

// The `voucher_assigned` event of an assignment, as the timeline shows it and history reads it
// (CONTRACT.md, Event): id `voucher_assigned:<code>`, time = assigned_at, data {campaign, code,
// value, currency (when set), percent (percent campaigns, whose value is then 0), expires_at}.
Event voucher_assigned_event(const VoucherCampaign& campaign, const VoucherView& voucher,
                             const std::string& contact_id);
// The voucher such an event describes (not redeemed); nullopt for any other event.
std::optional<VoucherView> voucher_of_event(const Event& e);

enum class VoucherStatus { active, redeemed, expired };
const char* to_string(VoucherStatus s);
// At `now`: redeemed when redeemed at or before it; else expired from `expires_at` on; else active.
VoucherStatus voucher_status(const std::optional<Time>& redeemed_at, const std::optional<Time>& expires_at, Time now);

bool is_valid_resource_id(const std::string& id);  // [a-z0-9][a-z0-9_.-]{0,63}

// The longest `valid_for` a campaign takes (limit `max_voucher_validity`); longer is a typo
// (`P99999999Y` would otherwise give vouchers that expire before they are assigned).
inline constexpr Duration max_voucher_validity{12 * 10, 0, 0};  // P10Y

// Check::stored (the store's reads) skips the currency list and the validity bound.
Result<VoucherCampaign> voucher_campaign_from_json(const nlohmann::json& j, const std::string& path = "",
                                                   Check check = Check::input);
void to_json(nlohmann::json& j, const VoucherCampaign& c);

}  // namespace closeloop
