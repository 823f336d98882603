// closeloop server — the store: everything the server keeps, at the level of the domain.
//
// Sections:
//   1. Records    — what the store returns (workspaces, stored events, cards, vouchers, tasks,
//                   outbox entries, scenarios with versions, templates, runs)
//   2. WriteTx    — one unit of work inside the writer's transaction (what the scenario
//                   executor will use: run state, outbox effects and internal effects commit
//                   together or not at all)
//   3. Store      — reads, and writes that return only once durably committed
//
// SqliteStore (sqlite_store.h) is the embedded implementation; a PostgreSQL one is to implement
// the same interface, so nothing here assumes SQLite (one writer, a file, rowids). Nothing
// outside the store library sees SQL: it is the only target that links a database. Every method takes the
// workspace, and every record it returns belongs to that workspace: another workspace's ids
// are simply not found.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "closeloop/contact.h"
#include "closeloop/engine.h"
#include "closeloop/event.h"
#include "closeloop/response.h"
#include "closeloop/rfm.h"
#include "closeloop/scenario.h"
#include "closeloop/time.h"
#include "closeloop/voucher.h"

namespace closeloop::server {

using WorkspaceId = std::int64_t;

// ---- 1. Records ----------------------------------------------------------------------------

struct Workspace {
    WorkspaceId id = 0;
    std::string slug;  // "demo"
    std::string name;
    Time created_at;
};

enum class KeyKind { admin, publishable };
std::string_view key_kind_name(KeyKind kind);

// Statuses, as the records carry them. A run's and a scenario's are core's (RunStatus,
// ScenarioStatus: their text is core's to_string); a task's and an outbox entry's are the
// store's, each with one table of names (store.cpp) for text in and out.
enum class TaskStatus { open, done };
// Outbox: pending (not tried yet, or due again), failed (a transient failure: tried again at
// next_attempt_at), sent, dead (the last try failed, or the failure is permanent: kept, and
// retryable by hand), suppressed (never sent: unsubscribed, bounced, frequency cap; the reason in
// last_error).
enum class OutboxStatus { pending, sent, failed, dead, suppressed };
std::string_view to_string(TaskStatus status);
std::string_view to_string(OutboxStatus status);
std::optional<TaskStatus> task_status_of(std::string_view text);
std::optional<OutboxStatus> outbox_status_of(std::string_view text);
std::optional<RunStatus> run_status_of(std::string_view text);
std::optional<ScenarioStatus> scenario_status_of(std::string_view text);

// What a key resolves to. Keys are stored only as their SHA-256 (hex).
struct KeyGrant {
    WorkspaceId workspace = 0;
    KeyKind kind = KeyKind::admin;
};

// A key as listed (`closeloop keys list`): never the key itself. `id` is what revokes it
// ("key_" and the first 12 hex digits of its hash).
struct ApiKeyInfo {
    std::string id;
    WorkspaceId workspace = 0;
    KeyKind kind = KeyKind::admin;
    std::string prefix;  // "cl_admin_3f9a..."
    Time created_at;
    std::optional<Time> revoked_at;
};
// The id of the key with this hash.
std::string key_id_of(std::string_view key_hash);

// A browser session (sign-in with an admin key, then a cookie). The token itself is never
// stored, only its SHA-256; the CSRF token is not a secret on its own (the page reads it
// back with GET /api/v1/session). The idle and absolute timeouts are the server's policy.
struct Session {
    std::string token_hash;
    WorkspaceId workspace = 0;
    std::string workspace_slug;  // filled by reads
    std::string key_id;          // the key signed in with: revoking it ends the session
    std::string csrf_token;
    Time created_at, last_seen_at;
    Time expires_at;  // absolute end
};

struct IngestResult {
    std::size_t accepted = 0;    // stored now
    std::size_t duplicates = 0;  // an event with the same id was stored before (or earlier in the batch)
    std::size_t handled = 0;     // of the accepted, stored processed with the handler (Store::insert_events)
};

struct StoredEvent {
    std::int64_t seq = 0;  // order of arrival, unique across workspaces
    WorkspaceId workspace = 0;
    Event event;  // `event.time` is always set (the receive time when none was given)
    Time received_at;
    std::optional<Time> processed_at;  // set by the scenario executor
};

// A position in the newest-first order of events (time, then arrival).
struct EventCursor {
    Time time;
    std::int64_t seq = 0;
    bool operator==(const EventCursor&) const = default;
};

struct EventQuery {
    std::optional<std::string> contact, type;
    std::optional<Time> from;  // time >= from
    std::optional<Time> to;    // time < to
    std::size_t limit = 100;
    std::optional<EventCursor> after;  // continue after this position (exclusive)
};

struct EventPage {
    std::vector<StoredEvent> events;  // newest first
    std::optional<EventCursor> next;  // present when there may be more
};

struct StoredContact {
    Contact contact;
    Time created_at, updated_at;
};

struct Voucher {
    std::string code, campaign, contact;
    double value = 0;
    std::string currency;
    double percent = 0;
    Time assigned_at;
    std::optional<Time> expires_at, redeemed_at;
    std::string key;  // the idempotency key it was assigned under ("" for none)
};

struct StoredCampaign {
    VoucherCampaign campaign;
    Time created_at, updated_at;
};

enum class RedeemOutcome { redeemed, not_found, already_redeemed, expired };
struct RedeemResult {
    RedeemOutcome outcome = RedeemOutcome::not_found;
    std::optional<Voucher> voucher;
};

struct Task {
    std::string id;
    std::string role;      // the inbox it is in ("call_center_agent"), or ""
    std::string assignee;  // a person's address, or ""
    std::string title, message;
    std::string contact;  // the contact it is about, or ""
    std::string run_id;   // the scenario run that created it, or ""
    std::string key;      // the effect's idempotency key, or ""
    TaskStatus status = TaskStatus::open;
    Time created_at;
    std::optional<Time> due_at, done_at;
    std::int64_t seq = 0;  // the store's order (newest highest): list paging
};

// A position in the voucher list (newest first): the last voucher of a page.
struct VoucherCursor {
    Time assigned_at;
    std::string code;
};

struct TaskQuery {
    std::optional<std::string> role;
    std::optional<TaskStatus> status;
    std::size_t limit = 100;
    std::optional<std::int64_t> before_seq;  // paging: tasks older than this
};

struct OutboxAttempt {
    Time at;
    bool ok = false;
    std::string detail;   // the error, or what the peer answered
    int status_code = 0;  // HTTP status or SMTP reply code; 0 = no answer
    std::int64_t duration_ms = 0;
};

// An effect to perform (send_email, webhook, ...), recorded with the state that caused it.
struct OutboxEntry {
    std::int64_t seq = 0;
    std::string key;   // idempotency key ("run-7f3a/mail_voucher"): one entry per key
    std::string kind;  // "send_email", "webhook", ...
    std::string contact, run_id;
    nlohmann::json params = nlohmann::json::object();
    OutboxStatus status = OutboxStatus::pending;
    int attempts = 0;
    std::optional<Time> next_attempt_at, sent_at;
    std::string last_error;
    Time created_at;
    std::vector<OutboxAttempt> attempt_log;  // filled by reads that ask for it
    // Delivery: the webhook endpoint it goes to; a marketing e-mail (counts towards the frequency
    // cap, honours unsubscribes); the e-mail's recipient; a worker's lease while it is claimed.
    std::string endpoint;
    bool marketing = false;
    std::string address;
    std::optional<Time> claimed_until;
    WorkspaceId workspace = 0;  // filled by claims (which span workspaces)
};

// A webhook endpoint (a workspace setting: scenarios name it, never hold its URL or secret).
// `secret` signs (Standard Webhooks, "whsec_..."); during a rotation the previous secret signs
// too until `previous_until`. A 410 Gone disables it (disabled_at, with the reason).
struct Endpoint {
    std::string id, name, kind, url;  // kind: slack, teams, generic
    std::string secret, previous_secret;
    std::optional<Time> previous_until;
    double rate_per_second = 0;  // pacing; 0 = none
    std::optional<Time> disabled_at;
    std::string disabled_reason;
    Time created_at, updated_at;
};

// An address no marketing e-mail goes to: `unsubscribed` (the contact asked) or `bounced` (a
// permanent SMTP rejection). Addresses are kept lower-case.
struct Suppression {
    std::string address, reason, contact, detail;
    Time created_at;
};

// What one delivery attempt came to (Store::finish_attempts). `status` is the entry's new
// status: sent, failed (again at next_attempt_at), dead or suppressed; `attempt` is logged
// unless `tried` is false (a claim handed back untried: pacing, shutdown). An outcome may
// suppress addresses (a bounce) or disable the endpoint (410).
struct AttemptOutcome {
    WorkspaceId workspace = 0;
    std::int64_t seq = 0;
    bool tried = true;
    OutboxAttempt attempt;
    OutboxStatus status = OutboxStatus::pending;
    std::optional<Time> next_attempt_at;
    std::string error;  // last_error ("" clears it)
    std::vector<Suppression> suppress;
    std::string disable_endpoint, disable_reason;
};

struct OutboxCount {
    std::string kind;
    OutboxStatus status = OutboxStatus::pending;
    std::uint64_t count = 0;
};

enum class RetryEffect { retried, not_found, not_retryable };

struct OutboxQuery {
    std::optional<OutboxStatus> status;
    std::optional<std::string> kind;
    std::size_t limit = 100;
    std::optional<std::int64_t> before_seq;  // paging: entries older than this
};

struct ContactCard {
    StoredContact contact;
    std::vector<Response> nps;          // newest first, at most two (last and previous)
    std::optional<Response> csat;       // the last one
    std::vector<Voucher> vouchers;      // newest first
    std::vector<Task> open_tasks;       // newest first
    std::vector<StoredEvent> timeline;  // newest first, at most the limit asked for
};

// Purchases in a window, ready for compute_rfm: contact_ids[i] is contact index i.
struct PurchaseTable {
    std::vector<std::string> contact_ids;
    Purchases purchases;
};

// A scenario as saved: the document as written (with the server's id, version and status in
// it), one row per version. Saving a scenario that has been activated makes a new version, so
// runs finish on the version they started on (CONTRACT.md, Versions).
struct StoredScenario {
    WorkspaceId workspace = 0;
    std::string id;
    int version = 1;
    ScenarioStatus status = ScenarioStatus::draft;
    nlohmann::json document = nlohmann::json::object();
    Time created_at, updated_at;  // of the scenario; updated_at changes with each save
};

// `conflict`: the save named the version it was based on and the stored one moved on.
enum class ScenarioSave { saved, not_found, exists, conflict };

// One saved version of a scenario (each save makes one).
struct ScenarioVersionInfo {
    int version = 1;
    Time saved_at;
    std::optional<ScenarioStatus> status;  // the scenario's status while it was current (unknown before schema 5)
};

// A message template document (CONTRACT.md, Templates), as written.
struct StoredTemplate {
    std::string id;
    nlohmann::json document = nlohmann::json::object();
    Time created_at, updated_at;
};

// One scenario run. state is the engine's RunState as JSON (to_json / run_state_from_json);
// trace and effects accumulate over the steps (start, then each wake-up).
struct RunRecord {
    WorkspaceId workspace = 0;
    std::string id, scenario;
    int version = 1;
    std::string contact, event_id;
    RunStatus status = RunStatus::done;
    std::optional<Time> wake_at;  // waiting: when it continues
    std::string error;            // failed: why
    nlohmann::json state = nlohmann::json::object();
    nlohmann::json trace = nlohmann::json::array();
    nlohmann::json effects = nlohmann::json::array();
    Time created_at, updated_at;
    std::int64_t seq = 0;  // the store's order (newest highest): list paging
};

// A purchase as RFM reads it (the row its purchase event left).
struct PurchaseRecord {
    std::string event_id;
    Time time;
    double amount = 0;
    std::string currency;
};

// Everything erase_contact removes, so an export is the whole of what the erasure destroys.
struct ContactExport {
    StoredContact contact;
    std::vector<StoredEvent> events;  // all, newest first
    std::vector<Response> responses;
    std::vector<PurchaseRecord> purchases;  // newest first
    std::vector<Voucher> vouchers;
    std::vector<Task> tasks;
    std::vector<OutboxEntry> outbox;        // with their attempt logs
    std::vector<RunRecord> runs;            // newest first
    std::vector<Suppression> suppressions;  // of its address, or recorded for it
};

// A place the erasure cannot clear by itself: someone else's record whose text names the
// erased person (PersonalMarkers). kind: "task" (a task without a link to the contact),
// "event" (another contact's event), "outbox" (an effect for another contact), "contact"
// (another contact with the same e-mail, name or phone). field: where, as a JSON path from
// the record ("title", "data.note", "params.message.text", "email").
struct Mention {
    std::string kind, id, contact, field;
};

// What an erasure removed, and what it could not.
struct ContactErasure {
    std::size_t events = 0, responses = 0, purchases = 0, vouchers = 0, tasks = 0, outbox = 0, runs = 0,
                suppressions = 0;
    // The store's files hold no copy of what was removed (overwritten, and logs and journals
    // cut back) when erase_contact returned. False: the rows are gone but some bytes may remain
    // on disk until the store can compact (a long reader held it back); the store keeps trying.
    bool purged = false;
    std::vector<Mention> mentions;  // the first max_mentions found
    std::size_t mentions_total = 0;
    static constexpr std::size_t max_mentions = 100;
};

struct RunQuery {
    std::optional<std::string> scenario, contact;
    std::optional<RunStatus> status;
    std::size_t limit = 100;
    std::optional<std::int64_t> before_seq;  // paging: runs older than this
};

struct ExecutorBacklog {
    std::uint64_t unprocessed_events = 0, waiting_runs = 0, due_runs = 0;
};

// What re-entry rules need about a contact's earlier runs of one scenario.
struct RunHistory {
    bool live_run = false;                // one is waiting
    std::optional<Time> last_started_at;  // the latest run's start
};

struct StoreStats {
    std::uint64_t commits = 0;        // write transactions committed
    std::uint64_t units_of_work = 0;  // WriteTx units committed in them (group commit: >= commits)
    std::uint64_t failed_units = 0;   // rolled back (the caller got an exception)
};

// ---- 2. WriteTx ----------------------------------------------------------------------------
//
// One unit of work, all or nothing: if the unit throws, its changes are undone (and those of
// other units are not). Store::write returns when the transaction holding it is durable. An
// implementation may run units on a thread of its own and several in one transaction
// (SqliteStore has one writer thread and commits units in groups), so a unit must not call
// Store methods (they could wait for that thread: a deadlock) nor do slow I/O; everything it
// needs is on WriteTx.
class WriteTx {
public:
    virtual ~WriteTx() = default;

    // Workspaces and keys (bootstrap, `closeloop workspace create`).
    virtual Workspace create_workspace(const std::string& slug, const std::string& name, Time now) = 0;
    virtual void add_key(WorkspaceId ws, KeyKind kind, const std::string& key_hash, const std::string& prefix,
                         Time now) = 0;
    virtual void put_setting(WorkspaceId ws, const std::string& name, const nlohmann::json& value, Time now) = 0;

    // Events: each needs an id (callers give one to events without); a repeated id is a
    // duplicate and changes nothing. A new event upserts its contact, and records the survey
    // response (nps_response, csat_response) or purchase it carries.
    virtual IngestResult insert_events(WorkspaceId ws, std::span<const Event> events, Time received_at) = 0;
    virtual void mark_events_processed(std::span<const std::int64_t> seqs, Time now) = 0;

    virtual StoredContact upsert_contact(WorkspaceId ws, const ContactPatch& patch, Time now) = 0;
    virtual std::optional<StoredContact> find_contact(WorkspaceId ws, std::string_view id) = 0;

    // History reads inside the transaction (what scenario conditions ask).
    virtual std::size_t count_events(WorkspaceId ws, std::string_view contact, std::string_view type, Time since) = 0;
    virtual std::optional<Voucher> latest_voucher(WorkspaceId ws, std::string_view contact, std::string_view campaign,
                                                  Time since) = 0;

    // The same, as the History of expressions asks (inclusive bounds): a voucher_assigned event
    // of `campaign` (written by assign_voucher, or posted), events of a type, the NPS answer
    // before `before` other than the current one.
    virtual bool voucher_assigned_between(WorkspaceId ws, std::string_view contact, std::string_view campaign,
                                          Time since, Time until) = 0;
    virtual std::int64_t count_events_between(WorkspaceId ws, std::string_view contact, std::string_view type,
                                              Time since, Time until) = 0;
    virtual std::optional<int> previous_nps(WorkspaceId ws, std::string_view contact, Time before,
                                            std::string_view current_event_id) = 0;
    // The contact's vouchers assigned at or before `until`, newest first (voucher.* of a run).
    virtual std::vector<Voucher> contact_vouchers(WorkspaceId ws, std::string_view contact, Time until) = 0;
    virtual std::optional<Voucher> find_voucher(WorkspaceId ws, std::string_view code) = 0;

    // Runs, for the scenario executor: earlier runs of a scenario for a contact (re-entry), one
    // run (to check it is still waiting before resuming it), and the run written whole.
    virtual RunHistory run_history(WorkspaceId ws, std::string_view scenario, std::string_view contact) = 0;
    virtual std::optional<RunRecord> find_run(WorkspaceId ws, std::string_view id) = 0;
    virtual void save_run(const RunRecord& run) = 0;

    // Assigns a voucher of `campaign` with `code` (made by the caller: unguessable) and writes a
    // voucher_assigned event. With a key, a second call with the same key returns the first
    // voucher and changes nothing.
    virtual Voucher assign_voucher(WorkspaceId ws, const VoucherCampaign& campaign, const std::string& contact,
                                   const std::string& code, const std::string& key, Time now) = 0;
    // Creates a task (idempotent by task.key when not empty); returns the stored task.
    virtual Task create_task(WorkspaceId ws, const Task& task) = 0;
    // Records an effect to perform; false when an entry with the same key exists (unchanged).
    // Its status is pending or suppressed (with the reason in last_error), with its endpoint,
    // marketing flag and address as given.
    virtual bool enqueue_effect(WorkspaceId ws, const OutboxEntry& effect) = 0;

    // Delivery rules at enqueue time: when marketing e-mails to the contact were queued or sent
    // (not suppressed) since `since`, oldest first; an address's suppression; an endpoint.
    virtual std::vector<Time> marketing_sends(WorkspaceId ws, std::string_view contact, Time since) = 0;
    virtual std::optional<Suppression> find_suppression(WorkspaceId ws, std::string_view address) = 0;
    virtual std::optional<Endpoint> find_endpoint(WorkspaceId ws, std::string_view id) = 0;
};

// What runs with new events inside the unit of work that stores them (Store::insert_events).
class EventHandler {
public:
    virtual ~EventHandler() = default;
    // Whether handle() must see this event (an active scenario starts on its type); the store
    // reads the contact whole only for those.
    virtual bool wants(WorkspaceId ws, const Event& event) const = 0;
    // The event with its seq, its time set (the receive time when it had none) and its contact
    // as stored now.
    virtual void handle(WriteTx& tx, WorkspaceId ws, std::int64_t seq, const Event& event, const Contact& contact) = 0;
};

// ---- 3. Store ------------------------------------------------------------------------------

class Store {
public:
    virtual ~Store() = default;

    virtual int schema_version() = 0;
    virtual bool healthy() = 0;
    virtual std::uint64_t size_bytes() = 0;  // on disk, for /metrics
    virtual StoreStats stats() = 0;

    // Runs `work` as one unit of work (see WriteTx) and returns when it is durable; rethrows
    // what `work` threw (its changes undone).
    virtual void write(const std::function<void(WriteTx&)>& work) = 0;
    // Called after each commit that stored events the executor has yet to handle (wakes it).
    virtual void set_commit_listener(std::function<void()> listener) = 0;

    // Workspaces and keys.
    virtual std::vector<Workspace> workspaces() = 0;
    virtual std::optional<Workspace> find_workspace(std::string_view slug) = 0;
    virtual std::optional<KeyGrant> find_key(std::string_view key_hash) = 0;
    virtual std::optional<nlohmann::json> setting(WorkspaceId ws, std::string_view name) = 0;
    // Every key of a workspace (revoked ones too), oldest first; one key by its hash, revoked or not.
    virtual std::vector<ApiKeyInfo> api_keys(WorkspaceId ws) = 0;
    virtual std::optional<ApiKeyInfo> find_key_info(std::string_view key_hash) = 0;
    // Revokes a key by id and ends its sessions, in one transaction. False when the workspace
    // has no such key (or it was revoked already).
    virtual bool revoke_key(WorkspaceId ws, std::string_view key_id, Time now) = 0;

    // Browser sessions. create_session also removes sessions whose absolute end is before
    // `purge_before` (they can no longer be told apart from none). find_session reads it
    // with its workspace's slug; touch_session moves last_seen_at.
    virtual void create_session(const Session& session, Time purge_before) = 0;
    virtual std::optional<Session> find_session(std::string_view token_hash) = 0;
    virtual void touch_session(std::string_view token_hash, Time now) = 0;
    virtual bool delete_session(std::string_view token_hash) = 0;

    // Events. insert_events is WriteTx::insert_events as its own unit of work, durable on return.
    // With a handler (the scenario executor), the events are stored processed, and each event
    // stored now (not a duplicate) that the handler wants is handed to it inside the same unit,
    // in order, right after it is stored (see EventHandler): what the handler writes commits
    // with the event. If the handler throws, the events are stored without it, unprocessed
    // (the executor takes them up again), and `handled` is 0.
    virtual IngestResult insert_events(WorkspaceId ws, std::span<const Event> events, Time received_at,
                                       EventHandler* handler) = 0;
    IngestResult insert_events(WorkspaceId ws, std::span<const Event> events, Time received_at) {
        return insert_events(ws, events, received_at, nullptr);
    }
    virtual EventPage list_events(WorkspaceId ws, const EventQuery& query) = 0;
    // Events not yet processed by the executor, oldest first, across workspaces.
    virtual std::vector<StoredEvent> unprocessed_events(std::size_t limit) = 0;

    // Contacts.
    virtual std::optional<ContactCard> contact_card(WorkspaceId ws, std::string_view id,
                                                    std::size_t timeline_limit) = 0;
    virtual std::optional<ContactExport> export_contact(WorkspaceId ws, std::string_view id) = 0;
    // GDPR erasure: the contact and everything about it (events, responses, purchases, vouchers,
    // tasks, outbox entries with their attempts, runs, and the suppressions of its address
    // unless another contact has that address), in one transaction, made durable and then
    // compacted so that no copy is left in the store's files (`purged` says whether that
    // completed). Also lists the mentions of the person in others' records (Mention), which it
    // leaves as they are. nullopt when there is no such contact.
    virtual std::optional<ContactErasure> erase_contact(WorkspaceId ws, std::string_view id) = 0;

    // Vouchers.
    virtual std::vector<StoredCampaign> voucher_campaigns(WorkspaceId ws) = 0;
    virtual std::optional<StoredCampaign> find_voucher_campaign(WorkspaceId ws, std::string_view id) = 0;
    // Creates or replaces; true when created.
    virtual bool save_voucher_campaign(WorkspaceId ws, const VoucherCampaign& campaign, Time now) = 0;
    // Newest first (assigned_at, then code); `after` continues after that voucher (paging).
    virtual std::vector<Voucher> vouchers(WorkspaceId ws, const std::optional<std::string>& contact, std::size_t limit,
                                          const std::optional<VoucherCursor>& after = std::nullopt) = 0;
    // Marks the voucher used (once) and writes a voucher_redeemed event.
    virtual RedeemResult redeem_voucher(WorkspaceId ws, std::string_view code, Time now) = 0;

    // Tasks and the outbox.
    virtual std::vector<Task> tasks(WorkspaceId ws, const TaskQuery& query) = 0;
    // Marks the task done (a task already done stays as it was); nullopt when not found.
    virtual std::optional<Task> complete_task(WorkspaceId ws, std::string_view id, Time now) = 0;
    virtual std::vector<OutboxEntry> outbox(WorkspaceId ws, const OutboxQuery& query) = 0;

    // RFM: purchases with from <= time <= to; the scores of one computation replace the
    // previous ones (contacts without a segment now have none). Its edges are kept: until the
    // next computation, each purchase stored scores its contact against them at once (core's
    // score_contact, as of the receive time), so a customer who buys and then answers is
    // routed by a fresh segment. Without edges (nobody scored), purchases leave scores as
    // they are.
    virtual PurchaseTable purchases(WorkspaceId ws, Time from, Time to) = 0;
    virtual std::size_t save_rfm(WorkspaceId ws, const std::vector<std::string>& contact_ids, const RfmResult& result,
                                 const std::optional<RfmEdges>& edges) = 0;

    // Scenarios. Ids are per workspace; reads give the current version.
    virtual std::vector<StoredScenario> scenarios(WorkspaceId ws) = 0;
    virtual std::optional<StoredScenario> find_scenario(WorkspaceId ws, std::string_view id) = 0;
    virtual std::optional<StoredScenario> find_scenario_version(WorkspaceId ws, std::string_view id, int version) = 0;
    // Every workspace's active scenarios (current versions), for the executor.
    virtual std::vector<StoredScenario> active_scenarios() = 0;
    // `exists` when the id is taken. The document's id must be set; version and status are the
    // store's (a new scenario is a draft at version 1).
    virtual ScenarioSave create_scenario(WorkspaceId ws, const nlohmann::json& document, Time now) = 0;
    // Saves a new version (its status stays). With `if_version`, only when that is still the
    // current version (`conflict` otherwise, nothing saved; `out` then holds the current one),
    // checked in the same transaction as the save. `out` is what was stored.
    virtual ScenarioSave update_scenario(WorkspaceId ws, std::string_view id, const nlohmann::json& document, Time now,
                                         StoredScenario* out, std::optional<int> if_version = std::nullopt) = 0;
    // Every version kept, newest first; empty when there is no such scenario.
    virtual std::vector<ScenarioVersionInfo> scenario_versions(WorkspaceId ws, std::string_view id) = 0;
    virtual std::optional<StoredScenario> set_scenario_status(WorkspaceId ws, std::string_view id,
                                                              ScenarioStatus status, Time now) = 0;
    // Deletes the scenario with its versions; its waiting runs end as failed ("the scenario was
    // deleted"), so no timer of it fires later. False when there is no such scenario.
    virtual bool delete_scenario(WorkspaceId ws, std::string_view id, Time now) = 0;

    // Templates: create or replace; true when created.
    virtual std::vector<StoredTemplate> templates(WorkspaceId ws) = 0;
    virtual std::optional<StoredTemplate> find_template(WorkspaceId ws, std::string_view id) = 0;
    virtual bool save_template(WorkspaceId ws, const std::string& id, const nlohmann::json& document, Time now) = 0;

    // Changes with every committed change of scenarios, templates or voucher campaigns, so the
    // executor knows when to reload what it caches.
    virtual std::uint64_t catalog_generation() = 0;

    // Runs: newest first, filtered; one run; waiting runs due at `now` (oldest wake first,
    // across workspaces); the earliest wake time of any waiting run.
    virtual std::vector<RunRecord> runs(WorkspaceId ws, const RunQuery& query) = 0;
    virtual std::optional<RunRecord> find_run(WorkspaceId ws, std::string_view id) = 0;
    virtual std::vector<RunRecord> due_runs(Time now, std::size_t limit) = 0;
    virtual std::optional<Time> next_wake_at() = 0;
    // How far behind the executor is (for /metrics): events not processed yet, runs waiting,
    // and of those the ones already due at `now`.
    virtual ExecutorBacklog executor_backlog(Time now) = 0;
    // The outbox entries a run enqueued (delivery status of its effects).
    virtual std::vector<OutboxEntry> run_outbox(WorkspaceId ws, std::string_view run_id) = 0;

    // ---- delivery ----
    // Claims up to `limit` due entries of these kinds (pending or failed, next_attempt_at <=
    // now, not claimed or their lease over) until `lease_until`, oldest due first, across
    // workspaces; each entry carries its workspace. A claimed entry is nobody else's until its
    // lease ends or finish_attempts settles it.
    virtual std::vector<OutboxEntry> claim_effects(std::span<const std::string> kinds, Time now, Time lease_until,
                                                   std::size_t limit) = 0;
    // Settles claimed entries (one transaction): status, attempt log, suppressions, endpoints.
    virtual void finish_attempts(std::span<const AttemptOutcome> outcomes, Time now) = 0;
    // Every claim ends (a store one server owns alone, at its start: the claims of a process
    // that died). Returns how many there were.
    virtual std::size_t release_claims() = 0;
    virtual std::optional<OutboxEntry> find_effect(WorkspaceId ws, std::int64_t seq) = 0;
    // A dead (or failed) entry goes back to pending, due now; its attempts are kept.
    virtual RetryEffect retry_effect(WorkspaceId ws, std::int64_t seq, Time now) = 0;
    // Every dead entry of an endpoint goes back to pending, due now; how many.
    virtual std::size_t retry_endpoint_effects(WorkspaceId ws, std::string_view endpoint, Time now) = 0;
    // Entries by kind and status, across workspaces (/metrics).
    virtual std::vector<OutboxCount> outbox_counts() = 0;

    // Webhook endpoints. create: false when the id is taken; update: false when not found
    // (every field is written as given); delete: false when not found.
    virtual std::vector<Endpoint> endpoints(WorkspaceId ws) = 0;
    virtual std::optional<Endpoint> find_endpoint(WorkspaceId ws, std::string_view id) = 0;
    virtual bool create_endpoint(WorkspaceId ws, const Endpoint& endpoint) = 0;
    virtual bool update_endpoint(WorkspaceId ws, const Endpoint& endpoint) = 0;
    virtual bool delete_endpoint(WorkspaceId ws, std::string_view id) = 0;

    // Suppressed addresses (unsubscribes, bounces). add: an existing one stays as it was.
    virtual void add_suppression(WorkspaceId ws, const Suppression& s) = 0;
    virtual std::optional<Suppression> find_suppression(WorkspaceId ws, std::string_view address) = 0;
    virtual std::vector<Suppression> suppressions(WorkspaceId ws, std::size_t limit) = 0;

    // Convenience: single WriteTx calls as their own unit of work.
    StoredContact upsert_contact(WorkspaceId ws, const ContactPatch& patch, Time now);
    Task create_task(WorkspaceId ws, const Task& task);
    Voucher assign_voucher(WorkspaceId ws, const VoucherCampaign& campaign, const std::string& contact,
                           const std::string& code, const std::string& key, Time now);
};

}  // namespace closeloop::server
