#include "sqlite_rows.h"

namespace closeloop::server::sqlite::rows {

json parse_stored(const std::string& text, json fallback) {
    // Most contacts have no tags and no attributes: their defaults need no parser.
    if (text == "[]") return json::array();
    if (text == "{}") return json::object();
    // Our own JSON, written by this store; a damaged value reads as the fallback.
    json j = json::parse(text, nullptr, false);
    return j.is_discarded() ? fallback : j;
}

bool patch_has_fields(const ContactPatch& p) {
    return p.email || p.first_name || p.last_name || p.locale || p.owner || p.vip || p.tags || p.attributes;
}

std::vector<EventRow> event_rows(std::span<const Event> events, Time received_at) {
    std::vector<EventRow> rows;
    rows.reserve(events.size());
    for (const Event& e : events) {
        EventRow row;
        row.event = &e;
        row.only_contact_id = !patch_has_fields(e.contact);
        if (!row.only_contact_id) {
            ContactPatch stored = e.contact;
            stored.rfm.reset();  // computed, never taken from input
            row.contact_json = json(stored).dump();
        }
        row.data_json = e.data.dump();
        row.time = e.time;
        row.response = response_from_event(e, received_at);
        rows.push_back(std::move(row));
    }
    return rows;
}

void read_contact_fields(const Stmt& st, Contact& c) {
    c.email = st.text(0);
    c.first_name = st.text(1);
    c.last_name = st.text(2);
    c.locale = st.text(3);
    c.owner = st.text(4);
    c.vip = st.int64(5) != 0;
}

StoredContact read_contact(const Stmt& st, std::string id) {
    StoredContact out;
    Contact& c = out.contact;
    c.id = std::move(id);
    read_contact_fields(st, c);
    const json tags = parse_stored(st.text(6), json::array());
    for (const auto& t : tags)
        if (t.is_string()) c.tags.push_back(t.get<std::string>());
    c.attributes = parse_stored(st.text(7), json::object());
    if (!st.is_null(8) && !st.is_null(11)) {
        ContactRfm rfm;
        rfm.r = st.int32(8);
        rfm.f = st.int32(9);
        rfm.m = st.int32(10);
        rfm.segment = st.text(11);
        rfm.recency_days = st.int64(12);
        rfm.frequency = st.int64(13);
        rfm.monetary_cents = st.int64(14);
        c.rfm = std::move(rfm);
    }
    out.created_at = time_at(st, 15);
    out.updated_at = time_at(st, 16);
    return out;
}

StoredEvent read_event(const Stmt& st) {
    StoredEvent out;
    out.seq = st.int64(0);
    out.workspace = st.int64(1);
    Event& e = out.event;
    e.id = st.text(2);
    e.type = st.text(3);
    e.kind = event_type_of(e.type);
    e.contact.id = st.text(4);
    e.time = time_at(st, 5);
    out.received_at = time_at(st, 6);
    if (!st.is_null(7)) {
        auto patch = contact_patch_from_json(parse_stored(st.text(7), json::object()), "", Check::stored);
        if (patch) {
            e.contact = std::move(*patch);
            e.contact.id = st.text(4);
        }
    }
    e.data = parse_stored(st.text(8), json::object());
    out.processed_at = opt_time(st, 9);
    return out;
}

Response read_response(const Stmt& st) {
    Response r;
    r.event_id = st.text(0);
    r.contact_id = st.text(1);
    r.kind = st.text(2) == "csat" ? ResponseKind::csat : ResponseKind::nps;
    r.score = st.int32(3);
    r.time = time_at(st, 4);
    r.survey = st.text(5);
    r.channel = st.text(6);
    r.comment = st.text(7);
    r.agent = st.text(8);
    r.ticket_id = st.text(9);
    r.topic = st.text(10);
    return r;
}

Voucher read_voucher(const Stmt& st) {
    Voucher v;
    v.code = st.text(0);
    v.campaign = st.text(1);
    v.contact = st.text(2);
    v.value = st.real(3);
    v.currency = st.text(4);
    v.percent = st.real(5);
    v.assigned_at = time_at(st, 6);
    v.expires_at = opt_time(st, 7);
    v.redeemed_at = opt_time(st, 8);
    v.key = st.text(9);
    return v;
}

Task read_task(const Stmt& st) {
    Task t;
    t.id = st.text(0);
    t.role = st.text(1);
    t.assignee = st.text(2);
    t.title = st.text(3);
    t.message = st.text(4);
    t.contact = st.text(5);
    t.run_id = st.text(6);
    t.key = st.text(7);
    t.status = task_status_of(st.text(8)).value_or(TaskStatus::open);
    t.created_at = time_at(st, 9);
    t.due_at = opt_time(st, 10);
    t.done_at = opt_time(st, 11);
    t.seq = st.int64(12);
    return t;
}

OutboxEntry read_outbox(const Stmt& st) {
    OutboxEntry o;
    o.seq = st.int64(0);
    o.key = st.text(1);
    o.kind = st.text(2);
    o.contact = st.text(3);
    o.run_id = st.text(4);
    o.params = parse_stored(st.text(5), json::object());
    o.status = outbox_status_of(st.text(6)).value_or(OutboxStatus::pending);
    o.attempts = st.int32(7);
    o.next_attempt_at = opt_time(st, 8);
    o.last_error = st.text(9);
    o.created_at = time_at(st, 10);
    o.sent_at = opt_time(st, 11);
    o.endpoint = st.text(12);
    o.marketing = st.int64(13) != 0;
    o.address = st.text(14);
    o.claimed_until = opt_time(st, 15);
    o.workspace = st.int64(16);
    return o;
}

RunRecord read_run(const Stmt& st) {
    RunRecord r;
    r.workspace = st.int64(0);
    r.id = st.text(1);
    r.scenario = st.text(2);
    r.version = st.int32(3);
    r.contact = st.text(4);
    r.event_id = st.text(5);
    r.status = run_status_of(st.text(6)).value_or(RunStatus::failed);
    r.wake_at = opt_time(st, 7);
    r.error = st.text(8);
    r.state = parse_stored(st.text(9), json::object());
    r.trace = parse_stored(st.text(10), json::array());
    r.effects = parse_stored(st.text(11), json::array());
    r.created_at = time_at(st, 12);
    r.updated_at = time_at(st, 13);
    r.seq = st.int64(14);
    return r;
}

StoredScenario read_scenario(const Stmt& st) {
    StoredScenario s;
    s.workspace = st.int64(0);
    s.id = st.text(1);
    s.version = st.int32(2);
    s.status = scenario_status_of(st.text(3)).value_or(ScenarioStatus::draft);
    s.document = parse_stored(st.text(4), json::object());
    if (!s.document.is_object()) s.document = json::object();
    s.document["id"] = s.id;
    s.document["version"] = s.version;
    s.document["status"] = to_string(s.status);
    s.created_at = time_at(st, 5);
    s.updated_at = time_at(st, 6);
    return s;
}

std::string scenario_doc_text(const json& document) {
    json doc = document.is_object() ? document : json::object();
    doc.erase("version");
    doc.erase("status");
    return doc.dump();
}

void load_attempts(Db& db, OutboxEntry& o) {
    auto st = db.prepare(
        "SELECT at, ok, detail, status_code, duration_ms FROM outbox_attempts WHERE outbox_seq = ?1 ORDER BY seq");
    st.bind(1, o.seq);
    while (st.step()) o.attempt_log.push_back({time_at(st, 0), st.int64(1) != 0, st.text(2), st.int32(3), st.int64(4)});
}

std::optional<StoredContact> select_contact(Db& db, WorkspaceId ws, std::string_view id) {
    auto st = db.prepare(
        "SELECT email, first_name, last_name, locale, owner, vip, tags, attributes, rfm_r, rfm_f, rfm_m, "
        "rfm_segment, rfm_recency_days, rfm_frequency, rfm_monetary_cents, created_at, updated_at "
        "FROM contacts WHERE workspace_id = ?1 AND id = ?2");
    st.bind(1, ws).bind(2, id);
    if (!st.step()) return std::nullopt;
    return read_contact(st, std::string(id));
}

std::optional<RunRecord> select_run(Db& db, WorkspaceId ws, std::string_view id) {
    auto st = db.prepare("SELECT " CL_RUN_COLUMNS " FROM runs WHERE workspace_id = ?1 AND id = ?2");
    st.bind(1, ws).bind(2, id);
    if (!st.step()) return std::nullopt;
    return read_run(st);
}

std::vector<Voucher> contact_vouchers(Db& db, WorkspaceId ws, std::string_view contact) {
    auto st = db.prepare("SELECT " CL_VOUCHER_COLUMNS
                         " FROM vouchers WHERE workspace_id = ?1 AND contact_id = ?2 ORDER BY assigned_at DESC, code");
    st.bind(1, ws).bind(2, contact);
    std::vector<Voucher> out;
    while (st.step()) out.push_back(read_voucher(st));
    return out;
}

}  // namespace closeloop::server::sqlite::rows
