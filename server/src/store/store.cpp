#include "store.h"

namespace closeloop::server {

std::string_view key_kind_name(KeyKind kind) {
    return kind == KeyKind::admin ? "admin" : "publishable";
}

StoredContact Store::upsert_contact(WorkspaceId ws, const ContactPatch& patch, Time now) {
    StoredContact out;
    write([&](WriteTx& tx) { out = tx.upsert_contact(ws, patch, now); });
    return out;
}

Task Store::create_task(WorkspaceId ws, const Task& task) {
    Task out;
    write([&](WriteTx& tx) { out = tx.create_task(ws, task); });
    return out;
}

Voucher Store::assign_voucher(WorkspaceId ws, const VoucherCampaign& campaign, const std::string& contact,
                              const std::string& code, const std::string& key, Time now) {
    Voucher out;
    write([&](WriteTx& tx) { out = tx.assign_voucher(ws, campaign, contact, code, key, now); });
    return out;
}

}  // namespace closeloop::server
