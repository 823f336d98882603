// closeloop server — the SQLite store's internals shared by its files: the unit of work on the
// writer's connection (SqliteWriteTx) and the store's connections. Internal to the store library.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sqlite_connections.h"
#include "sqlite_rows.h"
#include "sqlite_store.h"

namespace closeloop::server {

// Names every file of the store uses (this header is theirs alone).
using nlohmann::json;
using sqlite::Db;
using sqlite::Stmt;
using namespace sqlite::rows;

// The units of work, on the writer's connection: WriteTx, and the writes of SqliteStore's own
// methods.
class SqliteWriteTx final : public WriteTx {
public:
    explicit SqliteWriteTx(Db& db) : db_(db) {}

    Db& db() { return db_; }

    // Whether this transaction stored events the executor has yet to handle.
    bool unprocessed_events() const { return unprocessed_events_; }

    Workspace create_workspace(const std::string& slug, const std::string& name, Time now) override;

    void add_key(WorkspaceId ws, KeyKind kind, const std::string& key_hash, const std::string& prefix,
                 Time now) override;

    void put_setting(WorkspaceId ws, const std::string& name, const json& value, Time now) override;

    IngestResult insert_events(WorkspaceId ws, std::span<const Event> events, Time received_at) override;

    // `handler`: see Store::insert_events. Without one, events are stored unprocessed.
    IngestResult insert_rows(WorkspaceId ws, const std::vector<EventRow>& rows, Time received_at,
                             EventHandler* handler = nullptr);

    void mark_events_processed(std::span<const std::int64_t> seqs, Time now) override;

    StoredContact upsert_contact(WorkspaceId ws, const ContactPatch& patch, Time now) override;

    // The contact of an event. Most events repeat what is stored (a stream names the same
    // contacts again and again): when the patch touches no tags or attributes, only the other
    // fields are read and compared (core's apply decides what changes), without reading and
    // parsing the stored JSON; anything else goes through upsert_contact.
    void upsert_event_contact(WorkspaceId ws, const ContactPatch& patch, Time now);

    std::optional<StoredContact> find_contact(WorkspaceId ws, std::string_view id) override;

    std::size_t count_events(WorkspaceId ws, std::string_view contact, std::string_view type, Time since) override;

    std::optional<Voucher> latest_voucher(WorkspaceId ws, std::string_view contact, std::string_view campaign,
                                          Time since) override;

    Voucher assign_voucher(WorkspaceId ws, const VoucherCampaign& campaign, const std::string& contact,
                           const std::string& code, const std::string& key, Time now) override;

    Task create_task(WorkspaceId ws, const Task& task) override;

    bool enqueue_effect(WorkspaceId ws, const OutboxEntry& effect) override;

    bool voucher_assigned_between(WorkspaceId ws, std::string_view contact, std::string_view campaign, Time since,
                                  Time until) override;

    std::int64_t count_events_between(WorkspaceId ws, std::string_view contact, std::string_view type, Time since,
                                      Time until) override;

    std::optional<int> previous_nps(WorkspaceId ws, std::string_view contact, Time before,
                                    std::string_view current_event_id) override;

    std::vector<Voucher> contact_vouchers(WorkspaceId ws, std::string_view contact, Time until) override;

    std::optional<Voucher> find_voucher(WorkspaceId ws, std::string_view code) override;

    RunHistory run_history(WorkspaceId ws, std::string_view scenario, std::string_view contact) override;

    std::optional<RunRecord> find_run(WorkspaceId ws, std::string_view id) override { return select_run(db_, ws, id); }

    void save_run(const RunRecord& r) override;

    std::vector<Time> marketing_sends(WorkspaceId ws, std::string_view contact, Time since) override;
    std::optional<Suppression> find_suppression(WorkspaceId ws, std::string_view address) override;
    std::optional<Endpoint> find_endpoint(WorkspaceId ws, std::string_view id) override;
    void add_suppression(WorkspaceId ws, const Suppression& s);

    // ---- units used by SqliteStore's own writes --------------------------------------------

    ScenarioSave create_scenario(WorkspaceId ws, const json& document, Time now);

    // `current` receives the version stored before this save.
    ScenarioSave update_scenario(WorkspaceId ws, std::string_view id, const json& document, Time now,
                                 std::optional<int> if_version, int& current);

    bool set_scenario_status(WorkspaceId ws, std::string_view id, ScenarioStatus status, Time now);

    bool delete_scenario(WorkspaceId ws, std::string_view id, Time now);

    bool save_template(WorkspaceId ws, const std::string& id, const json& document, Time now);

    // `address_shared`: another contact has its e-mail address (its suppression stays).
    std::optional<ContactErasure> erase_contact(WorkspaceId ws, std::string_view id, bool address_shared);

    bool save_voucher_campaign(WorkspaceId ws, const VoucherCampaign& campaign, Time now);

    RedeemResult redeem_voucher(WorkspaceId ws, std::string_view code, Time now);

    std::optional<Task> complete_task(WorkspaceId ws, std::string_view id, Time now);

    std::size_t save_rfm(WorkspaceId ws, const std::vector<std::string>& contact_ids, const RfmResult& result,
                         const std::optional<RfmEdges>& edges);

private:
    // Creates or replaces a document row (workspace_id, id, doc, created_at, updated_at) of a
    // table named in the two statements; true when created.
    bool save_document(const char* insert_sql, const char* update_sql, WorkspaceId ws, const std::string& id,
                       const json& document, Time now);

    void insert_scenario_version(WorkspaceId ws, const std::string& id, int version, const json& document, Time now,
                                 std::string_view status);

    void ensure_contact(WorkspaceId ws, const std::string& id, Time now);

    void write_contact(WorkspaceId ws, const StoredContact& sc, bool insert);

    void insert_response(WorkspaceId ws, std::int64_t seq, const Response& r);

    void insert_purchase(WorkspaceId ws, std::int64_t seq, const Event& e, Time time);

    // The contact scored against the last computation's edges as of `as_of` and saved; nullopt
    // (nothing changed) without edges or without a purchase in their window.
    std::optional<ContactRfm> rescore_rfm(WorkspaceId ws, const std::string& contact, Time as_of);
    // Returns the rows changed (0 or 1).
    int write_rfm(WorkspaceId ws, std::string_view contact, const ContactRfm& rfm);

    // A voucher_redeemed event marks the voucher used: by its code, or the contact's latest
    // unused voucher of the campaign (CONTRACT.md, Event). Already used: nothing changes.
    void mark_redeemed(WorkspaceId ws, const Event& e, Time time);

    Db& db_;
    bool unprocessed_events_ = false;
};

struct SqliteStore::Impl : sqlite::Connections {
    using Connections::Connections;
    std::atomic<std::uint64_t> catalog_generation{0};  // bumped after each committed catalog change
};

inline SqliteWriteTx& sqlite_tx(WriteTx& tx) {
    return static_cast<SqliteWriteTx&>(tx);  // the store only ever hands out its own
}

// How long an erasure waits for readers on an older snapshot before it answers unpurged (the
// writer then truncates the WAL as soon as they are done).
inline constexpr int purge_wait_ms = 2000;

inline std::int64_t limit_of(std::size_t n) {
    return static_cast<std::int64_t>(std::min<std::size_t>(n, 1'000'000));
}

}  // namespace closeloop::server
