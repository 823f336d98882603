// closeloop server — the SQLite store's row mapping: records to and from columns, shared by the
// store's domain files. Internal to the store library.
#pragma once

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sqlite_db.h"
#include "store.h"

namespace closeloop::server::sqlite::rows {

using nlohmann::json;

inline constexpr std::int64_t int64_max = std::numeric_limits<std::int64_t>::max();
inline constexpr std::int64_t int64_min = std::numeric_limits<std::int64_t>::min();

// ---- 2. Row mapping ------------------------------------------------------------------------

json parse_stored(const std::string& text, json fallback);

inline std::optional<Time> opt_time(const Stmt& st, int col) {
    if (st.is_null(col)) return std::nullopt;
    return Time{st.int64(col)};
}

inline Time time_at(const Stmt& st, int col) {
    return Time{st.int64(col)};
}

inline void bind_time(Stmt& st, int i, const std::optional<Time>& t) {
    if (t)
        st.bind(i, t->ms);
    else
        st.bind_null(i);
}

// What an event row needs, computed before the writer sees it (JSON is written on the
// caller's thread, not on the writer's).
struct EventRow {
    const Event* event = nullptr;
    std::string contact_json;  // "" when the event names only the contact id
    std::string data_json;
    std::optional<Time> time;  // the event's own time; the receive time otherwise
    std::optional<Response> response;
    bool only_contact_id = true;
};

bool patch_has_fields(const ContactPatch& p);

std::vector<EventRow> event_rows(std::span<const Event> events, Time received_at);

// Columns 0-5: email, first_name, last_name, locale, owner, vip.
void read_contact_fields(const Stmt& st, Contact& c);

StoredContact read_contact(const Stmt& st, std::string id);

// Columns: seq, workspace_id, id, type, contact_id, time, received_at, contact, data, processed_at
#define CL_EVENT_COLUMNS "seq, workspace_id, id, type, contact_id, time, received_at, contact, data, processed_at"

StoredEvent read_event(const Stmt& st);

// A contact's responses, through its events (responses are clustered by time, not contact).
#define CL_RESPONSE_COLUMNS                                                                                     \
    "r.event_id, r.contact_id, r.kind, r.score, r.time, r.survey, r.channel, r.comment, r.agent, r.ticket_id, " \
    "r.topic"
#define CL_CONTACT_RESPONSES                                                                                     \
    " FROM events e INDEXED BY events_contact JOIN responses r ON r.workspace_id = e.workspace_id AND r.time = " \
    "e.time AND "                                                                                                \
    "r.event_seq = e.seq AND r.kind = CASE e.type WHEN 'nps_response' THEN 'nps' ELSE 'csat' END "               \
    "WHERE e.workspace_id = ?1 AND e.contact_id = ?2 "

Response read_response(const Stmt& st);

#define CL_VOUCHER_COLUMNS \
    "code, campaign_id, contact_id, value, currency, percent, assigned_at, expires_at, redeemed_at, assign_key"

Voucher read_voucher(const Stmt& st);

// Of vouchers assigned at the same instant, the one assigned last first (its voucher_assigned
// event's seq), as the simulator's history orders them; codes are random, so not by code.
#define CL_VOUCHER_ASSIGNED_LAST                                                 \
    "(SELECT seq FROM events WHERE events.workspace_id = vouchers.workspace_id " \
    "AND events.id = 'voucher_assigned:' || vouchers.code) DESC"

#define CL_TASK_COLUMNS \
    "id, role, assignee, title, message, contact_id, run_id, effect_key, status, created_at, due_at, done_at, seq"

Task read_task(const Stmt& st);

#define CL_OUTBOX_COLUMNS                                                                                              \
    "seq, key, kind, contact_id, run_id, params, status, attempts, next_attempt_at, last_error, created_at, sent_at, " \
    "endpoint_id, marketing, address, claimed_until, workspace_id"

OutboxEntry read_outbox(const Stmt& st);

#define CL_RUN_COLUMNS                                                                                              \
    "workspace_id, id, scenario_id, version, contact_id, event_id, status, wake_at, error, state, trace, effects, " \
    "created_at, updated_at, seq"

RunRecord read_run(const Stmt& st);

// The current version of scenarios: s = scenarios, v = scenario_versions.
#define CL_SCENARIO_COLUMNS "s.workspace_id, s.id, s.version, s.status, v.doc, s.created_at, s.updated_at"
#define CL_SCENARIO_CURRENT                                                                                   \
    " FROM scenarios s JOIN scenario_versions v ON v.workspace_id = s.workspace_id AND v.scenario_id = s.id " \
    "AND v.version = s.version "

// The document as stored, with the store's id, version and status (never taken from input).
StoredScenario read_scenario(const Stmt& st);

std::string scenario_doc_text(const json& document);

void load_attempts(Db& db, OutboxEntry& o);

std::optional<StoredContact> select_contact(Db& db, WorkspaceId ws, std::string_view id);

std::optional<RunRecord> select_run(Db& db, WorkspaceId ws, std::string_view id);

std::vector<Voucher> contact_vouchers(Db& db, WorkspaceId ws, std::string_view contact);

// Suppressions recorded for the contact or of its address (`email`, any case; "" = none),
// newest first; erasure deletes them, except the address's own when `address_shared` (another
// contact has it), which only loses its contact id. Returns how many were deleted.
std::vector<Suppression> contact_suppressions(Db& db, WorkspaceId ws, std::string_view contact, std::string_view email);
std::size_t erase_suppressions(Db& db, WorkspaceId ws, std::string_view contact, std::string_view email,
                               bool address_shared);

}  // namespace closeloop::server::sqlite::rows
