#include "store.h"

#include <array>
#include <utility>

namespace closeloop::server {

namespace {

template <class E, std::size_t N>
using Names = std::array<std::pair<E, std::string_view>, N>;

constexpr Names<TaskStatus, 2> task_status_names = {{{TaskStatus::open, "open"}, {TaskStatus::done, "done"}}};
constexpr Names<OutboxStatus, 5> outbox_status_names = {{{OutboxStatus::pending, "pending"},
                                                         {OutboxStatus::sent, "sent"},
                                                         {OutboxStatus::failed, "failed"},
                                                         {OutboxStatus::dead, "dead"},
                                                         {OutboxStatus::suppressed, "suppressed"}}};

template <class E, std::size_t N>
std::string_view name_in(const Names<E, N>& names, E value) {
    for (const auto& [v, name] : names)
        if (v == value) return name;
    return names[0].second;
}

template <class E, std::size_t N>
std::optional<E> value_in(const Names<E, N>& names, std::string_view text) {
    for (const auto& [v, name] : names)
        if (name == text) return v;
    return std::nullopt;
}

// Core's enums, read back through core's own names (to_string).
template <class E, class... Values>
std::optional<E> core_value_of(std::string_view text, Values... values) {
    std::optional<E> found;
    ((to_string(values) == text ? (void)(found = values) : void()), ...);
    return found;
}

}  // namespace

std::string_view to_string(TaskStatus status) {
    return name_in(task_status_names, status);
}

std::string_view to_string(OutboxStatus status) {
    return name_in(outbox_status_names, status);
}

std::optional<TaskStatus> task_status_of(std::string_view text) {
    return value_in(task_status_names, text);
}

std::optional<OutboxStatus> outbox_status_of(std::string_view text) {
    return value_in(outbox_status_names, text);
}

std::optional<RunStatus> run_status_of(std::string_view text) {
    return core_value_of<RunStatus>(text, RunStatus::waiting, RunStatus::done, RunStatus::failed);
}

std::optional<ScenarioStatus> scenario_status_of(std::string_view text) {
    return core_value_of<ScenarioStatus>(text, ScenarioStatus::draft, ScenarioStatus::active, ScenarioStatus::paused);
}

std::string_view key_kind_name(KeyKind kind) {
    return kind == KeyKind::admin ? "admin" : "publishable";
}

std::string key_id_of(std::string_view key_hash) {
    return "key_" + std::string(key_hash.substr(0, 12));
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
