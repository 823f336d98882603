#include "tx_history.h"

#include <algorithm>

namespace closeloop::server {

bool TxHistory::voucher_assigned_between(const std::string& contact, const std::string& campaign, Time since,
                                         Time until) const {
    return tx_.voucher_assigned_between(ws_, contact, campaign, since, until);
}

std::int64_t TxHistory::count_events_between(const std::string& contact, const std::string& type, Time since,
                                             Time until) const {
    return tx_.count_events_between(ws_, contact, type, since, until);
}

std::optional<int> TxHistory::previous_nps(const std::string& contact, Time before,
                                           const std::string& current_event_id) const {
    return tx_.previous_nps(ws_, contact, before, current_event_id);
}

std::optional<VoucherView> TxHistory::latest(const std::string& contact, const std::vector<std::string>& campaigns,
                                             Time now) const {
    for (const Voucher& v : tx_.contact_vouchers(ws_, contact, now))
        if (std::find(campaigns.begin(), campaigns.end(), v.campaign) != campaigns.end()) return view(v, now);
    return std::nullopt;
}

bool TxHistory::redeemed(const std::string&, const std::string& code, Time now) const {
    const auto v = tx_.find_voucher(ws_, code);
    return v && voucher_status(v->redeemed_at, v->expires_at, now) == VoucherStatus::redeemed;
}

VoucherView TxHistory::view(const Voucher& v, Time now) {
    VoucherView out;
    out.code = v.code;
    out.campaign = v.campaign;
    out.currency = v.currency;
    out.value = v.percent > 0 ? v.percent : v.value;  // a percent campaign's value is its percent
    out.assigned_at = v.assigned_at;
    out.expires_at = v.expires_at.value_or(voucher_never_expires);
    out.redeemed = voucher_status(v.redeemed_at, v.expires_at, now) == VoucherStatus::redeemed;
    return out;
}

}  // namespace closeloop::server
