// closeloop server — the embedded SQLite store.
//
// With the rest of the store library (server/src/store), the only place with SQL. The schema
// grows by numbered, forward-only migrations that run at start (sqlite_schema.cpp). The database runs in WAL mode, so
// readers (a small pool of connections) never block the writer.
//
// Writes go through ONE writer thread with group commit: units of work queued by many HTTP
// threads are run together in one transaction (each in a savepoint, so one failing unit does
// not undo the others); the transaction commits; a syncer thread fsyncs the WAL, and only
// then are the callers woken. Many small requests thus share one fsync, and the writer builds
// the next transaction while the disk writes the last one.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "store.h"

namespace closeloop::server {

struct SqliteOptions {
    // When a write is acknowledged (Store::write returns):
    //   FULL (closeloop's): after the WAL holding its commit is fsynced: it survives a process
    //     kill AND a power loss. Commits are made with SQLite's synchronous=NORMAL and a second
    //     thread fsyncs the WAL, so the writer does not wait for the disk between transactions.
    //   FULL-INLINE: SQLite's synchronous=FULL (the fsync inside COMMIT); same guarantee,
    //     slower; kept for measurements.
    //   NORMAL: after the commit, without fsync: survives a process kill, may lose the last
    //     commits on power loss. For measurements only.
    std::string synchronous = "FULL";
    std::size_t max_readers = 8;  // read connections kept open at most
    std::size_t max_units_per_commit = 1024;
};

class SqliteStore final : public Store {
public:
    // Opens (creating if needed) `dir/closeloop.db`, migrates it to the current schema and
    // starts the writer. Throws std::runtime_error with a message for the operator when it
    // cannot.
    explicit SqliteStore(const std::filesystem::path& dir, SqliteOptions options = {});
    // Finishes the queued units of work, commits, and closes.
    ~SqliteStore() override;
    SqliteStore(const SqliteStore&) = delete;
    SqliteStore& operator=(const SqliteStore&) = delete;

    const std::filesystem::path& file() const;
    static int latest_schema_version();
    // Diagnostics: every statement this store has prepared so far with SQLite's query plan
    // ("SEARCH events USING INDEX events_contact (...)"), one line per plan step. Tests use it
    // to check that every history query has an index.
    std::vector<std::pair<std::string, std::vector<std::string>>> query_plans();

    int schema_version() override;
    bool healthy() override;
    std::uint64_t size_bytes() override;
    StoreStats stats() override;

    void write(const std::function<void(WriteTx&)>& work) override;
    void set_commit_listener(std::function<void()> listener) override;

    std::vector<Workspace> workspaces() override;
    std::optional<Workspace> find_workspace(std::string_view slug) override;
    std::optional<KeyGrant> find_key(std::string_view key_hash) override;
    std::optional<nlohmann::json> setting(WorkspaceId ws, std::string_view name) override;
    std::vector<ApiKeyInfo> api_keys(WorkspaceId ws) override;
    std::optional<ApiKeyInfo> find_key_info(std::string_view key_hash) override;
    bool revoke_key(WorkspaceId ws, std::string_view key_id, Time now) override;
    void create_session(const Session& session, Time purge_before) override;
    std::optional<Session> find_session(std::string_view token_hash) override;
    void touch_session(std::string_view token_hash, Time now) override;
    bool delete_session(std::string_view token_hash) override;

    using Store::insert_events;
    IngestResult insert_events(WorkspaceId ws, std::span<const Event> events, Time received_at,
                               EventHandler* handler) override;
    EventPage list_events(WorkspaceId ws, const EventQuery& query) override;
    std::vector<StoredEvent> unprocessed_events(std::size_t limit) override;

    std::optional<ContactCard> contact_card(WorkspaceId ws, std::string_view id, std::size_t timeline_limit) override;
    std::optional<ContactExport> export_contact(WorkspaceId ws, std::string_view id) override;
    std::optional<ContactErasure> erase_contact(WorkspaceId ws, std::string_view id) override;

    std::vector<StoredCampaign> voucher_campaigns(WorkspaceId ws) override;
    std::optional<StoredCampaign> find_voucher_campaign(WorkspaceId ws, std::string_view id) override;
    bool save_voucher_campaign(WorkspaceId ws, const VoucherCampaign& campaign, Time now) override;
    std::vector<Voucher> vouchers(WorkspaceId ws, const std::optional<std::string>& contact, std::size_t limit,
                                  const std::optional<VoucherCursor>& after = std::nullopt) override;
    RedeemResult redeem_voucher(WorkspaceId ws, std::string_view code, Time now) override;

    std::vector<Task> tasks(WorkspaceId ws, const TaskQuery& query) override;
    std::optional<Task> complete_task(WorkspaceId ws, std::string_view id, Time now) override;
    std::vector<OutboxEntry> outbox(WorkspaceId ws, const OutboxQuery& query) override;

    std::vector<StoredScenario> scenarios(WorkspaceId ws) override;
    std::optional<StoredScenario> find_scenario(WorkspaceId ws, std::string_view id) override;
    std::optional<StoredScenario> find_scenario_version(WorkspaceId ws, std::string_view id, int version) override;
    std::vector<StoredScenario> active_scenarios() override;
    ScenarioSave create_scenario(WorkspaceId ws, const nlohmann::json& document, Time now) override;
    ScenarioSave update_scenario(WorkspaceId ws, std::string_view id, const nlohmann::json& document, Time now,
                                 StoredScenario* out, std::optional<int> if_version = std::nullopt) override;
    std::vector<ScenarioVersionInfo> scenario_versions(WorkspaceId ws, std::string_view id) override;
    std::optional<StoredScenario> set_scenario_status(WorkspaceId ws, std::string_view id, ScenarioStatus status,
                                                      Time now) override;
    bool delete_scenario(WorkspaceId ws, std::string_view id, Time now) override;
    std::vector<StoredTemplate> templates(WorkspaceId ws) override;
    std::optional<StoredTemplate> find_template(WorkspaceId ws, std::string_view id) override;
    bool save_template(WorkspaceId ws, const std::string& id, const nlohmann::json& document, Time now) override;
    std::uint64_t catalog_generation() override;
    std::vector<RunRecord> runs(WorkspaceId ws, const RunQuery& query) override;
    std::optional<RunRecord> find_run(WorkspaceId ws, std::string_view id) override;
    std::vector<RunRecord> due_runs(Time now, std::size_t limit) override;
    std::optional<Time> next_wake_at() override;
    ExecutorBacklog executor_backlog(Time now) override;
    std::vector<OutboxEntry> run_outbox(WorkspaceId ws, std::string_view run_id) override;

    std::vector<OutboxEntry> claim_effects(std::span<const std::string> kinds, Time now, Time lease_until,
                                           std::size_t limit) override;
    void finish_attempts(std::span<const AttemptOutcome> outcomes, Time now) override;
    std::size_t release_claims() override;
    std::optional<OutboxEntry> find_effect(WorkspaceId ws, std::int64_t seq) override;
    RetryEffect retry_effect(WorkspaceId ws, std::int64_t seq, Time now) override;
    std::size_t retry_endpoint_effects(WorkspaceId ws, std::string_view endpoint, Time now) override;
    std::vector<OutboxCount> outbox_counts() override;
    std::vector<Endpoint> endpoints(WorkspaceId ws) override;
    std::optional<Endpoint> find_endpoint(WorkspaceId ws, std::string_view id) override;
    bool create_endpoint(WorkspaceId ws, const Endpoint& endpoint) override;
    bool update_endpoint(WorkspaceId ws, const Endpoint& endpoint) override;
    bool delete_endpoint(WorkspaceId ws, std::string_view id) override;
    void add_suppression(WorkspaceId ws, const Suppression& s) override;
    std::optional<Suppression> find_suppression(WorkspaceId ws, std::string_view address) override;
    std::vector<Suppression> suppressions(WorkspaceId ws, std::size_t limit) override;

    PurchaseTable purchases(WorkspaceId ws, Time from, Time to) override;
    std::size_t save_rfm(WorkspaceId ws, const std::vector<std::string>& contact_ids, const RfmResult& result,
                         const std::optional<RfmEdges>& edges) override;

    struct Impl;

private:
    bool write_endpoint(const char* sql, WorkspaceId ws, const Endpoint& e);
    std::unique_ptr<Impl> impl_;
};

}  // namespace closeloop::server
