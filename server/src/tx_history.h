// closeloop — the History and VoucherBook that runs on the server read: SQL on the writer's
// transaction (the store's history queries), so a run sees everything committed before it and
// what its own unit wrote so far. The simulator's MemoryHistory answers the same questions
// from memory; tests/server/test_history_conformance.cpp holds both to the same answers.
#pragma once

#include "closeloop/engine.h"
#include "store/store.h"

namespace closeloop::server {

class TxHistory final : public History, public VoucherBook {
public:
    TxHistory(WriteTx& tx, WorkspaceId ws) : tx_(tx), ws_(ws) {}

    bool voucher_assigned_between(const std::string& contact, const std::string& campaign, Time since,
                                  Time until) const override;
    std::int64_t count_events_between(const std::string& contact, const std::string& type, Time since,
                                      Time until) const override;
    std::optional<int> previous_nps(const std::string& contact, Time before,
                                    const std::string& current_event_id) const override;
    std::optional<VoucherView> latest(const std::string& contact, const std::vector<std::string>& campaigns,
                                      Time now) const override;
    bool redeemed(const std::string& contact, const std::string& code, Time now) const override;

    // A stored voucher as `voucher.*` reads it at `now`.
    static VoucherView view(const Voucher& v, Time now);

private:
    WriteTx& tx_;
    WorkspaceId ws_;
};

}  // namespace closeloop::server
