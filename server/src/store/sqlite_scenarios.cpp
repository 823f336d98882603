// closeloop server — the SQLite store's scenarios (with their versions), templates and runs.
#include <array>

#include "sqlite_store_impl.h"

namespace closeloop::server {

namespace {

// Bit 0 = contact, bit 1 = scenario (when no contact), bit 2 = status (when neither): the most
// selective filter given picks the index, the others filter its rows; each walks seq backwards.
constexpr std::array<const char*, 4> list_runs_sql = {
    "SELECT " CL_RUN_COLUMNS
    " FROM runs INDEXED BY runs_workspace WHERE workspace_id = ?1 AND seq < ?6 ORDER BY seq DESC LIMIT ?5",
    "SELECT " CL_RUN_COLUMNS
    " FROM runs INDEXED BY runs_contact WHERE workspace_id = ?1 AND contact_id = ?3 "
    "AND (?2 IS NULL OR scenario_id = ?2) AND (?4 IS NULL OR status = ?4) AND seq < ?6 ORDER BY seq DESC LIMIT ?5",
    "SELECT " CL_RUN_COLUMNS
    " FROM runs INDEXED BY runs_scenario WHERE workspace_id = ?1 AND scenario_id = ?2 "
    "AND (?4 IS NULL OR status = ?4) AND seq < ?6 ORDER BY seq DESC LIMIT ?5",
    "SELECT " CL_RUN_COLUMNS
    " FROM runs INDEXED BY runs_status WHERE workspace_id = ?1 AND status = ?4 AND seq < ?6 ORDER BY seq DESC LIMIT ?5",
};

}  // namespace

RunHistory SqliteWriteTx::run_history(WorkspaceId ws, std::string_view scenario, std::string_view contact) {
    auto st = db_.prepare(
        "SELECT max(created_at), max(status = 'waiting') FROM runs INDEXED BY runs_scenario_contact "
        "WHERE workspace_id = ?1 AND scenario_id = ?2 AND contact_id = ?3");
    st.bind(1, ws).bind(2, scenario).bind(3, contact);
    RunHistory h;
    if (st.step() && !st.is_null(0)) {
        h.last_started_at = time_at(st, 0);
        h.live_run = st.int64(1) != 0;
    }
    return h;
}

void SqliteWriteTx::save_run(const RunRecord& r) {
    auto st = db_.prepare(
        "INSERT INTO runs (workspace_id, id, scenario_id, version, contact_id, event_id, status, wake_at, error, "
        "state, trace, effects, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "
        "?12, ?13, ?14) ON CONFLICT (workspace_id, id) DO UPDATE SET status = excluded.status, wake_at = "
        "excluded.wake_at, error = excluded.error, state = excluded.state, trace = excluded.trace, effects = "
        "excluded.effects, updated_at = excluded.updated_at");
    st.bind(1, r.workspace)
        .bind(2, r.id)
        .bind(3, r.scenario)
        .bind(4, r.version)
        .bind(5, r.contact)
        .bind(6, r.event_id)
        .bind(7, to_string(r.status))
        .bind_text_or_null(9, r.error)
        .bind(10, r.state.dump(-1, ' ', false, json::error_handler_t::replace))
        .bind(11, r.trace.dump(-1, ' ', false, json::error_handler_t::replace))
        .bind(12, r.effects.dump(-1, ' ', false, json::error_handler_t::replace))
        .bind(13, r.created_at.ms)
        .bind(14, r.updated_at.ms);
    bind_time(st, 8, r.wake_at);
    st.run();
}

ScenarioSave SqliteWriteTx::create_scenario(WorkspaceId ws, const json& document, Time now) {
    const std::string id = document.value("id", "");
    auto ins = db_.prepare(
        "INSERT INTO scenarios (workspace_id, id, version, status, created_at, updated_at) "
        "VALUES (?1, ?2, 1, 'draft', ?3, ?3) ON CONFLICT (workspace_id, id) DO NOTHING");
    ins.bind(1, ws).bind(2, id).bind(3, now.ms);
    if (ins.run() == 0) return ScenarioSave::exists;
    // A deleted scenario's versions are gone, so version 1 is free.
    insert_scenario_version(ws, id, 1, document, now, "draft");
    return ScenarioSave::saved;
}

// Every save is a new version (the builder's history shows them; runs finish on the version
// they started on), with the status the scenario has.
ScenarioSave SqliteWriteTx::update_scenario(WorkspaceId ws, std::string_view id, const json& document, Time now,
                                            std::optional<int> if_version, int& current) {
    auto st = db_.prepare("SELECT version, status FROM scenarios WHERE workspace_id = ?1 AND id = ?2");
    st.bind(1, ws).bind(2, id);
    if (!st.step()) return ScenarioSave::not_found;
    current = st.int32(0);
    const std::string status = st.text(1);
    if (if_version && *if_version != current) return ScenarioSave::conflict;
    insert_scenario_version(ws, std::string(id), current + 1, document, now, status);
    db_.prepare("UPDATE scenarios SET version = ?3, updated_at = ?4 WHERE workspace_id = ?1 AND id = ?2")
        .bind(1, ws)
        .bind(2, id)
        .bind(3, current + 1)
        .bind(4, now.ms)
        .run();
    return ScenarioSave::saved;
}

bool SqliteWriteTx::set_scenario_status(WorkspaceId ws, std::string_view id, ScenarioStatus status, Time now) {
    auto st = db_.prepare(
        "UPDATE scenarios SET status = ?3, activated = activated OR ?3 = 'active', updated_at = ?4 "
        "WHERE workspace_id = ?1 AND id = ?2");
    st.bind(1, ws).bind(2, id).bind(3, to_string(status)).bind(4, now.ms);
    if (st.run() == 0) return false;
    // The current version's status is the last one it had while current.
    db_.prepare(
           "UPDATE scenario_versions SET status = ?3 WHERE workspace_id = ?1 AND scenario_id = ?2 AND version = "
           "(SELECT version FROM scenarios WHERE workspace_id = ?1 AND id = ?2)")
        .bind(1, ws)
        .bind(2, id)
        .bind(3, to_string(status))
        .run();
    return true;
}

bool SqliteWriteTx::delete_scenario(WorkspaceId ws, std::string_view id, Time now) {
    auto del = db_.prepare("DELETE FROM scenarios WHERE workspace_id = ?1 AND id = ?2");
    del.bind(1, ws).bind(2, id);
    if (del.run() == 0) return false;
    db_.prepare("DELETE FROM scenario_versions WHERE workspace_id = ?1 AND scenario_id = ?2")
        .bind(1, ws)
        .bind(2, id)
        .run();
    // Its timers must not fire later: waiting runs end here, with the reason in their state.
    db_.prepare(
           "UPDATE runs INDEXED BY runs_scenario SET status = 'failed', wake_at = NULL, error = ?3, "
           "state = json_set(state, '$.status', 'failed', '$.wake_at', NULL, '$.error', ?3), updated_at = ?4 "
           "WHERE workspace_id = ?1 AND scenario_id = ?2 AND status = 'waiting'")
        .bind(1, ws)
        .bind(2, id)
        .bind(3, "the scenario was deleted")
        .bind(4, now.ms)
        .run();
    return true;
}

bool SqliteWriteTx::save_template(WorkspaceId ws, const std::string& id, const json& document, Time now) {
    return save_document(
        "INSERT INTO templates (workspace_id, id, doc, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4) "
        "ON CONFLICT (workspace_id, id) DO NOTHING",
        "UPDATE templates SET doc = ?3, updated_at = ?4 WHERE workspace_id = ?1 AND id = ?2", ws, id, document, now);
}

void SqliteWriteTx::insert_scenario_version(WorkspaceId ws, const std::string& id, int version, const json& document,
                                            Time now, std::string_view status) {
    db_.prepare(
           "INSERT INTO scenario_versions (workspace_id, scenario_id, version, doc, created_at, status) "
           "VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
        .bind(1, ws)
        .bind(2, id)
        .bind(3, version)
        .bind(4, scenario_doc_text(document))
        .bind(5, now.ms)
        .bind(6, status)
        .run();
}

std::vector<StoredScenario> SqliteStore::scenarios(WorkspaceId ws) {
    Impl::Reader r(*impl_);
    auto st = r->prepare("SELECT " CL_SCENARIO_COLUMNS CL_SCENARIO_CURRENT "WHERE s.workspace_id = ?1 ORDER BY s.id");
    st.bind(1, ws);
    std::vector<StoredScenario> out;
    while (st.step()) out.push_back(read_scenario(st));
    return out;
}

std::optional<StoredScenario> SqliteStore::find_scenario(WorkspaceId ws, std::string_view id) {
    Impl::Reader r(*impl_);
    auto st = r->prepare("SELECT " CL_SCENARIO_COLUMNS CL_SCENARIO_CURRENT "WHERE s.workspace_id = ?1 AND s.id = ?2");
    st.bind(1, ws).bind(2, id);
    if (!st.step()) return std::nullopt;
    return read_scenario(st);
}

std::optional<StoredScenario> SqliteStore::find_scenario_version(WorkspaceId ws, std::string_view id, int version) {
    Impl::Reader r(*impl_);
    auto st = r->prepare(
        "SELECT s.workspace_id, s.id, v.version, s.status, v.doc, s.created_at, s.updated_at FROM scenarios s "
        "JOIN scenario_versions v ON v.workspace_id = s.workspace_id AND v.scenario_id = s.id "
        "WHERE s.workspace_id = ?1 AND s.id = ?2 AND v.version = ?3");
    st.bind(1, ws).bind(2, id).bind(3, version);
    if (!st.step()) return std::nullopt;
    return read_scenario(st);
}

std::vector<StoredScenario> SqliteStore::active_scenarios() {
    Impl::Reader r(*impl_);
    auto st = r->prepare("SELECT " CL_SCENARIO_COLUMNS CL_SCENARIO_CURRENT
                         "WHERE s.status = 'active' ORDER BY s.workspace_id, s.id");
    std::vector<StoredScenario> out;
    while (st.step()) out.push_back(read_scenario(st));
    return out;
}

ScenarioSave SqliteStore::create_scenario(WorkspaceId ws, const json& document, Time now) {
    ScenarioSave out = ScenarioSave::saved;
    write([&](WriteTx& tx) { out = sqlite_tx(tx).create_scenario(ws, document, now); });
    ++impl_->catalog_generation;
    return out;
}

ScenarioSave SqliteStore::update_scenario(WorkspaceId ws, std::string_view id, const json& document, Time now,
                                          StoredScenario* stored, std::optional<int> if_version) {
    ScenarioSave out = ScenarioSave::saved;
    int current = 0;
    write([&](WriteTx& tx) { out = sqlite_tx(tx).update_scenario(ws, id, document, now, if_version, current); });
    if (out == ScenarioSave::saved) ++impl_->catalog_generation;
    if ((out == ScenarioSave::saved || out == ScenarioSave::conflict) && stored) {
        if (auto s = find_scenario(ws, id)) *stored = std::move(*s);
    }
    return out;
}

std::vector<ScenarioVersionInfo> SqliteStore::scenario_versions(WorkspaceId ws, std::string_view id) {
    Impl::Reader r(*impl_);
    auto st = r->prepare(
        "SELECT version, created_at, status FROM scenario_versions WHERE workspace_id = ?1 AND scenario_id = ?2 "
        "ORDER BY version DESC");
    st.bind(1, ws).bind(2, id);
    std::vector<ScenarioVersionInfo> out;
    while (st.step()) {
        ScenarioVersionInfo v;
        v.version = st.int32(0);
        v.saved_at = time_at(st, 1);
        if (!st.is_null(2)) v.status = scenario_status_of(st.text(2));
        out.push_back(v);
    }
    return out;
}

std::optional<StoredScenario> SqliteStore::set_scenario_status(WorkspaceId ws, std::string_view id,
                                                               ScenarioStatus status, Time now) {
    bool found = false;
    write([&](WriteTx& tx) { found = sqlite_tx(tx).set_scenario_status(ws, id, status, now); });
    ++impl_->catalog_generation;
    if (!found) return std::nullopt;
    return find_scenario(ws, id);
}

bool SqliteStore::delete_scenario(WorkspaceId ws, std::string_view id, Time now) {
    bool found = false;
    write([&](WriteTx& tx) { found = sqlite_tx(tx).delete_scenario(ws, id, now); });
    ++impl_->catalog_generation;
    return found;
}

std::vector<StoredTemplate> SqliteStore::templates(WorkspaceId ws) {
    Impl::Reader r(*impl_);
    auto st = r->prepare("SELECT id, doc, created_at, updated_at FROM templates WHERE workspace_id = ?1 ORDER BY id");
    st.bind(1, ws);
    std::vector<StoredTemplate> out;
    while (st.step())
        out.push_back({st.text(0), parse_stored(st.text(1), json::object()), time_at(st, 2), time_at(st, 3)});
    return out;
}

std::optional<StoredTemplate> SqliteStore::find_template(WorkspaceId ws, std::string_view id) {
    Impl::Reader r(*impl_);
    auto st = r->prepare("SELECT id, doc, created_at, updated_at FROM templates WHERE workspace_id = ?1 AND id = ?2");
    st.bind(1, ws).bind(2, id);
    if (!st.step()) return std::nullopt;
    return StoredTemplate{st.text(0), parse_stored(st.text(1), json::object()), time_at(st, 2), time_at(st, 3)};
}

bool SqliteStore::save_template(WorkspaceId ws, const std::string& id, const json& document, Time now) {
    bool created = false;
    write([&](WriteTx& tx) { created = sqlite_tx(tx).save_template(ws, id, document, now); });
    ++impl_->catalog_generation;
    return created;
}

std::uint64_t SqliteStore::catalog_generation() {
    return impl_->catalog_generation.load();
}

std::vector<RunRecord> SqliteStore::runs(WorkspaceId ws, const RunQuery& q) {
    Impl::Reader r(*impl_);
    const std::size_t variant = q.contact ? 1 : q.scenario ? 2 : q.status ? 3 : 0;
    auto st = r->prepare(list_runs_sql[variant]);
    st.bind(1, ws).bind(2, q.scenario).bind(3, q.contact).bind(5, limit_of(q.limit));
    st.bind(6, q.before_seq.value_or(int64_max));
    if (q.status) st.bind(4, to_string(*q.status));
    std::vector<RunRecord> out;
    while (st.step()) out.push_back(read_run(st));
    return out;
}

std::optional<RunRecord> SqliteStore::find_run(WorkspaceId ws, std::string_view id) {
    Impl::Reader r(*impl_);
    return select_run(*r, ws, id);
}

std::vector<RunRecord> SqliteStore::due_runs(Time now, std::size_t limit) {
    Impl::Reader r(*impl_);
    auto st = r->prepare("SELECT " CL_RUN_COLUMNS
                         " FROM runs INDEXED BY runs_due WHERE status = 'waiting' AND wake_at <= ?1 "
                         "ORDER BY wake_at LIMIT ?2");
    st.bind(1, now.ms).bind(2, limit_of(limit));
    std::vector<RunRecord> out;
    while (st.step()) out.push_back(read_run(st));
    return out;
}

std::optional<Time> SqliteStore::next_wake_at() {
    Impl::Reader r(*impl_);
    auto st = r->prepare("SELECT min(wake_at) FROM runs INDEXED BY runs_due WHERE status = 'waiting'");
    if (!st.step()) return std::nullopt;
    return opt_time(st, 0);
}

ExecutorBacklog SqliteStore::executor_backlog(Time now) {
    Impl::Reader r(*impl_);
    sqlite::ReadTx snapshot(*r);
    ExecutorBacklog out;
    {
        auto st = r->prepare("SELECT count(*) FROM events INDEXED BY events_unprocessed WHERE processed_at IS NULL");
        if (st.step()) out.unprocessed_events = static_cast<std::uint64_t>(st.int64(0));
    }
    {
        auto st = r->prepare(
            "SELECT count(*), coalesce(sum(wake_at <= ?1), 0) FROM runs INDEXED BY runs_due WHERE status = 'waiting'");
        st.bind(1, now.ms);
        if (st.step()) {
            out.waiting_runs = static_cast<std::uint64_t>(st.int64(0));
            out.due_runs = static_cast<std::uint64_t>(st.int64(1));
        }
    }
    return out;
}

}  // namespace closeloop::server
