// closeloop server — the SQLite store's events and contacts: ingestion (the contact upsert and
// the response and purchase rows an event carries), the history reads of expressions, the
// contact card, export and erasure, and RFM's purchases and scores.
#include <array>

#include "sqlite_store_impl.h"

namespace closeloop::server {

namespace {

// The statement for each combination of optional filters (all prepared, none built at run
// time). The index is named: without statistics (no ANALYZE) SQLite may prefer the time
// index and walk a whole workspace's events to find one contact's. Bit 0 = contact, bit 1 =
// type.
constexpr std::array<const char*, 4> list_events_sql = {
    "SELECT " CL_EVENT_COLUMNS
    " FROM events INDEXED BY events_time WHERE workspace_id = ?1 AND time >= ?2 AND time < ?3 "
    "AND (time, seq) < (?4, ?5) ORDER BY time DESC, seq DESC LIMIT ?6",
    "SELECT " CL_EVENT_COLUMNS
    " FROM events INDEXED BY events_contact WHERE workspace_id = ?1 AND contact_id = ?7 AND time >= ?2 "
    "AND time < ?3 AND (time, seq) < (?4, ?5) ORDER BY time DESC, seq DESC LIMIT ?6",
    "SELECT " CL_EVENT_COLUMNS
    " FROM events INDEXED BY events_type WHERE workspace_id = ?1 AND type = ?8 AND time >= ?2 AND time < ?3 "
    "AND (time, seq) < (?4, ?5) ORDER BY time DESC, seq DESC LIMIT ?6",
    "SELECT " CL_EVENT_COLUMNS
    " FROM events INDEXED BY events_contact WHERE workspace_id = ?1 AND contact_id = ?7 AND type = ?8 "
    "AND time >= ?2 AND time < ?3 AND (time, seq) < (?4, ?5) ORDER BY time DESC, seq DESC LIMIT ?6",
};

}  // namespace

IngestResult SqliteWriteTx::insert_events(WorkspaceId ws, std::span<const Event> events, Time received_at) {
    const auto rows = event_rows(events, received_at);
    return insert_rows(ws, rows, received_at);
}

// `handler`: see Store::insert_events. Without one, events are stored unprocessed.
IngestResult SqliteWriteTx::insert_rows(WorkspaceId ws, const std::vector<EventRow>& rows, Time received_at,
                                        EventHandler* handler) {
    IngestResult result;
    for (const EventRow& row : rows) {
        const Event& e = *row.event;
        const Time time = row.time.value_or(received_at);
        auto ins = db_.prepare(
            "INSERT INTO events (workspace_id, id, type, contact_id, time, received_at, contact, data, "
            "processed_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (workspace_id, id) DO NOTHING");
        ins.bind(1, ws)
            .bind(2, e.id)
            .bind(3, e.type)
            .bind(4, e.contact.id)
            .bind(5, time.ms)
            .bind(6, received_at.ms)
            .bind_text_or_null(7, row.contact_json)
            .bind(8, row.data_json);
        if (handler)
            ins.bind(9, received_at.ms);
        else
            ins.bind_null(9);
        if (ins.run() == 0) {
            ++result.duplicates;
            continue;
        }
        ++result.accepted;
        const std::int64_t seq = db_.last_insert_rowid();

        // The handler needs the contact whole: read once, written if the event changed it.
        const bool wanted = handler && handler->wants(ws, e);
        std::optional<StoredContact> contact;
        if (wanted)
            contact = upsert_contact(ws, e.contact, time);
        else if (row.only_contact_id)
            ensure_contact(ws, e.contact.id, time);
        else
            upsert_event_contact(ws, e.contact, time);
        if (row.response) insert_response(ws, seq, *row.response);
        if (e.kind == EventType::purchase) {
            insert_purchase(ws, seq, e, time);
            auto rfm = rescore_rfm(ws, e.contact.id, received_at);
            if (rfm && contact) contact->contact.rfm = std::move(rfm);
        }
        if (e.kind == EventType::voucher_redeemed) mark_redeemed(ws, e, time);

        if (!handler) {
            unprocessed_events_ = true;
            continue;
        }
        ++result.handled;
        if (!wanted) continue;
        if (e.time) {
            handler->handle(*this, ws, seq, e, contact->contact);
        } else {
            Event timed = e;
            timed.time = time;
            handler->handle(*this, ws, seq, timed, contact->contact);
        }
    }
    return result;
}

void SqliteWriteTx::mark_events_processed(std::span<const std::int64_t> seqs, Time now) {
    // The executor hands over runs of consecutive seqs (it takes events oldest first): one
    // range UPDATE per run instead of one statement per event.
    for (std::size_t i = 0; i < seqs.size();) {
        std::size_t j = i + 1;
        while (j < seqs.size() && seqs[j] == seqs[j - 1] + 1) ++j;
        db_.prepare("UPDATE events SET processed_at = ?3 WHERE seq BETWEEN ?1 AND ?2 AND processed_at IS NULL")
            .bind(1, seqs[i])
            .bind(2, seqs[j - 1])
            .bind(3, now.ms)
            .run();
        i = j;
    }
}

StoredContact SqliteWriteTx::upsert_contact(WorkspaceId ws, const ContactPatch& patch, Time now) {
    auto existing = select_contact(db_, ws, patch.id);
    // RFM scores are computed by RFM, never taken from input.
    if (!existing) {
        StoredContact created{{}, now, now};
        created.contact.id = patch.id;
        apply(created.contact, patch, PatchRfm::ignore);
        write_contact(ws, created, true);
        return created;
    }
    if (!apply(existing->contact, patch, PatchRfm::ignore)) return std::move(*existing);
    existing->updated_at = now;
    write_contact(ws, *existing, false);
    return std::move(*existing);
}

// The contact of an event. Most events repeat what is stored (a stream names the same
// contacts again and again): when the patch touches no tags or attributes, only the other
// fields are read and compared (core's apply decides what changes), without reading and
// parsing the stored JSON; anything else goes through upsert_contact.
void SqliteWriteTx::upsert_event_contact(WorkspaceId ws, const ContactPatch& patch, Time now) {
    if (!patch.tags && !patch.attributes) {
        auto st = db_.prepare(
            "SELECT email, first_name, last_name, locale, owner, vip FROM contacts WHERE workspace_id = ?1 AND "
            "id = ?2");
        st.bind(1, ws).bind(2, patch.id);
        if (st.step()) {
            Contact stored;
            stored.id = patch.id;
            read_contact_fields(st, stored);
            if (!apply(stored, patch, PatchRfm::ignore)) return;
        }
    }
    upsert_contact(ws, patch, now);
}

std::optional<StoredContact> SqliteWriteTx::find_contact(WorkspaceId ws, std::string_view id) {
    return select_contact(db_, ws, id);
}

std::size_t SqliteWriteTx::count_events(WorkspaceId ws, std::string_view contact, std::string_view type, Time since) {
    auto st = db_.prepare(
        "SELECT count(*) FROM events INDEXED BY events_contact WHERE workspace_id = ?1 AND contact_id = ?2 "
        "AND time >= ?4 AND type = ?3");
    st.bind(1, ws).bind(2, contact).bind(3, type).bind(4, since.ms);
    st.step();
    return static_cast<std::size_t>(st.int64(0));
}

bool SqliteWriteTx::voucher_assigned_between(WorkspaceId ws, std::string_view contact, std::string_view campaign,
                                             Time since, Time until) {
    auto st = db_.prepare(
        "SELECT 1 FROM events INDEXED BY events_contact WHERE workspace_id = ?1 AND contact_id = ?2 "
        "AND time >= ?4 AND time <= ?5 AND type = 'voucher_assigned' AND json_extract(data, '$.campaign') = ?3 "
        "LIMIT 1");
    st.bind(1, ws).bind(2, contact).bind(3, campaign).bind(4, since.ms).bind(5, until.ms);
    return st.step();
}

std::int64_t SqliteWriteTx::count_events_between(WorkspaceId ws, std::string_view contact, std::string_view type,
                                                 Time since, Time until) {
    auto st = db_.prepare(
        "SELECT count(*) FROM events INDEXED BY events_contact WHERE workspace_id = ?1 AND contact_id = ?2 "
        "AND time >= ?4 AND time <= ?5 AND type = ?3");
    st.bind(1, ws).bind(2, contact).bind(3, type).bind(4, since.ms).bind(5, until.ms);
    st.step();
    return st.int64(0);
}

std::optional<int> SqliteWriteTx::previous_nps(WorkspaceId ws, std::string_view contact, Time before,
                                               std::string_view current_event_id) {
    auto st = db_.prepare(
        "SELECT json_extract(data, '$.score') FROM events INDEXED BY events_contact WHERE workspace_id = ?1 "
        "AND contact_id = ?2 AND time < ?3 AND type = 'nps_response' AND id != ?4 "
        "ORDER BY time DESC, seq DESC LIMIT 1");
    st.bind(1, ws).bind(2, contact).bind(3, before.ms).bind(4, current_event_id);
    if (!st.step() || st.is_null(0)) return std::nullopt;
    return st.int32(0);
}

std::optional<ContactErasure> SqliteWriteTx::erase_contact(WorkspaceId ws, std::string_view id, bool address_shared) {
    const auto contact = select_contact(db_, ws, id);
    if (!contact) return std::nullopt;
    auto gone = db_.prepare("DELETE FROM contacts WHERE workspace_id = ?1 AND id = ?2");
    gone.bind(1, ws).bind(2, id);
    if (gone.run() == 0) return std::nullopt;
    ContactErasure erased;
    const auto erase = [&](const char* sql) {
        auto st = db_.prepare(sql);
        st.bind(1, ws).bind(2, id);
        return static_cast<std::size_t>(st.run());
    };
    // Responses and purchases are found through the contact's events, so they go first.
    {
        auto st = db_.prepare(
            "SELECT type, time, seq FROM events INDEXED BY events_contact "
            "WHERE workspace_id = ?1 AND contact_id = ?2 "
            "AND type IN ('nps_response', 'csat_response', 'purchase')");
        st.bind(1, ws).bind(2, id);
        while (st.step()) {
            const std::string type = st.text(0);
            if (type == "purchase") {
                auto del =
                    db_.prepare("DELETE FROM purchases WHERE workspace_id = ?1 AND time = ?2 AND event_seq = ?3");
                del.bind(1, ws).bind(2, st.int64(1)).bind(3, st.int64(2));
                erased.purchases += static_cast<std::size_t>(del.run());
            } else {
                auto del = db_.prepare(
                    "DELETE FROM responses WHERE workspace_id = ?1 AND kind = ?2 AND time = ?3 AND event_seq = ?4");
                del.bind(1, ws)
                    .bind(2, type == "nps_response" ? "nps" : "csat")
                    .bind(3, st.int64(1))
                    .bind(4, st.int64(2));
                erased.responses += static_cast<std::size_t>(del.run());
            }
        }
    }
    erased.events = erase("DELETE FROM events WHERE workspace_id = ?1 AND contact_id = ?2");
    erased.vouchers = erase("DELETE FROM vouchers WHERE workspace_id = ?1 AND contact_id = ?2");
    erased.tasks = erase("DELETE FROM tasks WHERE workspace_id = ?1 AND contact_id = ?2");
    erase(
        "DELETE FROM outbox_attempts WHERE outbox_seq IN "
        "(SELECT seq FROM outbox WHERE workspace_id = ?1 AND contact_id = ?2)");
    erased.outbox = erase("DELETE FROM outbox WHERE workspace_id = ?1 AND contact_id = ?2");
    erased.runs = erase("DELETE FROM runs INDEXED BY runs_contact WHERE workspace_id = ?1 AND contact_id = ?2");
    erased.suppressions = erase_suppressions(db_, ws, id, contact->contact.email, address_shared);
    return erased;
}

std::size_t SqliteWriteTx::save_rfm(WorkspaceId ws, const std::vector<std::string>& contact_ids,
                                    const RfmResult& result, const std::optional<RfmEdges>& edges) {
    db_.prepare(
           "UPDATE contacts SET rfm_r = NULL, rfm_f = NULL, rfm_m = NULL, rfm_segment = NULL, "
           "rfm_recency_days = NULL, rfm_frequency = NULL, rfm_monetary_cents = NULL "
           "WHERE workspace_id = ?1 AND rfm_segment IS NOT NULL")
        .bind(1, ws)
        .run();
    std::size_t saved = 0;
    for (std::uint32_t i = 0; i < contact_ids.size() && i < result.contacts.size(); ++i)
        if (const auto card = result.card(i)) saved += static_cast<std::size_t>(write_rfm(ws, contact_ids[i], *card));
    if (edges) {
        db_.prepare(
               "INSERT INTO settings (workspace_id, name, value, updated_at) VALUES (?1, 'rfm_edges', ?2, "
               "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)) "
               "ON CONFLICT (workspace_id, name) DO UPDATE SET value = excluded.value, updated_at = "
               "excluded.updated_at")
            .bind(1, ws)
            .bind(2, json(*edges).dump())
            .run();
    } else {
        db_.prepare("DELETE FROM settings WHERE workspace_id = ?1 AND name = 'rfm_edges'").bind(1, ws).run();
    }
    return saved;
}

int SqliteWriteTx::write_rfm(WorkspaceId ws, std::string_view contact, const ContactRfm& rfm) {
    return db_
        .prepare(
            "UPDATE contacts SET rfm_r = ?3, rfm_f = ?4, rfm_m = ?5, rfm_segment = ?6, rfm_recency_days = ?7, "
            "rfm_frequency = ?8, rfm_monetary_cents = ?9 WHERE workspace_id = ?1 AND id = ?2")
        .bind(1, ws)
        .bind(2, contact)
        .bind(3, rfm.r)
        .bind(4, rfm.f)
        .bind(5, rfm.m)
        .bind(6, rfm.segment)
        .bind(7, rfm.recency_days)
        .bind(8, rfm.frequency)
        .bind(9, rfm.monetary_cents)
        .run();
}

std::optional<ContactRfm> SqliteWriteTx::rescore_rfm(WorkspaceId ws, const std::string& contact, Time as_of) {
    auto saved = db_.prepare("SELECT value FROM settings WHERE workspace_id = ?1 AND name = 'rfm_edges'");
    saved.bind(1, ws);
    if (!saved.step()) return std::nullopt;
    const auto edges = rfm_edges_from_json(parse_stored(saved.text(0), json()));
    if (!edges) return std::nullopt;
    // The contact's purchases, found through its events (purchases are clustered by time).
    auto st = db_.prepare(
        "SELECT p.time, p.amount FROM events e INDEXED BY events_contact JOIN purchases p ON p.workspace_id = "
        "e.workspace_id AND p.time = e.time AND p.event_seq = e.seq WHERE e.workspace_id = ?1 AND e.contact_id = ?2 "
        "AND e.type = 'purchase' AND e.time >= ?3 AND e.time <= ?4");
    st.bind(1, ws).bind(2, contact).bind(3, as_of.ms - std::int64_t{edges->window_days} * ms_per_day).bind(4, as_of.ms);
    std::vector<Time> times;
    std::vector<double> amounts;
    while (st.step()) {
        times.push_back(time_at(st, 0));
        amounts.push_back(st.real(1));
    }
    auto rfm = score_contact(*edges, as_of, times, amounts);
    if (rfm) write_rfm(ws, contact, *rfm);
    return rfm;
}

void SqliteWriteTx::ensure_contact(WorkspaceId ws, const std::string& id, Time now) {
    db_.prepare(
           "INSERT INTO contacts (workspace_id, id, created_at, updated_at) VALUES (?1, ?2, ?3, ?3) "
           "ON CONFLICT (workspace_id, id) DO NOTHING")
        .bind(1, ws)
        .bind(2, id)
        .bind(3, now.ms)
        .run();
}

void SqliteWriteTx::write_contact(WorkspaceId ws, const StoredContact& sc, bool insert) {
    const Contact& c = sc.contact;
    auto st = insert ? db_.prepare(
                           "INSERT INTO contacts (workspace_id, id, email, first_name, last_name, locale, owner, "
                           "vip, tags, attributes, created_at, updated_at) "
                           "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)")
                     : db_.prepare(
                           "UPDATE contacts SET email = ?3, first_name = ?4, last_name = ?5, locale = ?6, "
                           "owner = ?7, vip = ?8, tags = ?9, attributes = ?10, updated_at = ?12 "
                           "WHERE workspace_id = ?1 AND id = ?2");
    st.bind(1, ws)
        .bind(2, c.id)
        .bind_text_or_null(3, c.email)
        .bind_text_or_null(4, c.first_name)
        .bind_text_or_null(5, c.last_name)
        .bind_text_or_null(6, c.locale)
        .bind_text_or_null(7, c.owner)
        .bind(8, c.vip ? 1 : 0)
        .bind(9, json(c.tags).dump())
        .bind(10, (c.attributes.is_object() ? c.attributes : json::object()).dump())
        .bind(12, sc.updated_at.ms);
    if (insert) st.bind(11, sc.created_at.ms);
    st.run();
}

void SqliteWriteTx::insert_response(WorkspaceId ws, std::int64_t seq, const Response& r) {
    db_.prepare(
           "INSERT INTO responses (event_seq, workspace_id, event_id, contact_id, kind, score, time, survey, "
           "channel, comment, agent, ticket_id, topic) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, "
           "?13)")
        .bind(1, seq)
        .bind(2, ws)
        .bind(3, r.event_id)
        .bind(4, r.contact_id)
        .bind(5, response_kind_name(r.kind))
        .bind(6, r.score)
        .bind(7, r.time.ms)
        .bind_text_or_null(8, r.survey)
        .bind_text_or_null(9, r.channel)
        .bind_text_or_null(10, r.comment)
        .bind_text_or_null(11, r.agent)
        .bind_text_or_null(12, r.ticket_id)
        .bind_text_or_null(13, r.topic)
        .run();
}

void SqliteWriteTx::insert_purchase(WorkspaceId ws, std::int64_t seq, const Event& e, Time time) {
    const auto amount = e.data.find("amount");
    if (amount == e.data.end() || !amount->is_number()) return;  // validated on input; not a purchase otherwise
    db_.prepare(
           "INSERT INTO purchases (event_seq, workspace_id, contact_id, time, amount, currency) "
           "VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
        .bind(1, seq)
        .bind(2, ws)
        .bind(3, e.contact.id)
        .bind(4, time.ms)
        .bind(5, amount->get<double>())
        .bind(6, e.text("currency"))
        .run();
}

IngestResult SqliteStore::insert_events(WorkspaceId ws, std::span<const Event> events, Time received_at,
                                        EventHandler* handler) {
    // Rows (JSON text, derived responses) are made here, on the caller's thread, so the
    // writer only runs SQL (and the handler).
    const auto rows = event_rows(events, received_at);
    IngestResult result;
    if (handler) {
        // No savepoint per event (each would copy every page the event touches): a handler
        // that throws undoes the whole unit, and the events are then stored without it,
        // unprocessed, for the executor to take up one at a time.
        try {
            write([&](WriteTx& tx) { result = sqlite_tx(tx).insert_rows(ws, rows, received_at, handler); });
            return result;
        } catch (const std::exception&) {
            // A disk that fails fails again below, and the caller hears of it.
        }
    }
    write([&](WriteTx& tx) { result = sqlite_tx(tx).insert_rows(ws, rows, received_at); });
    return result;
}

EventPage SqliteStore::list_events(WorkspaceId ws, const EventQuery& q) {
    Impl::Reader r(*impl_);
    const std::size_t variant = (q.contact ? 1u : 0u) | (q.type ? 2u : 0u);
    auto st = r->prepare(list_events_sql[variant]);
    const EventCursor after = q.after.value_or(EventCursor{Time{int64_max}, int64_max});
    st.bind(1, ws)
        .bind(2, q.from ? q.from->ms : int64_min)
        .bind(3, q.to ? q.to->ms : int64_max)
        .bind(4, after.time.ms)
        .bind(5, after.seq)
        .bind(6, limit_of(q.limit + 1));
    if (q.contact) st.bind(7, *q.contact);
    if (q.type) st.bind(8, *q.type);
    EventPage page;
    while (st.step()) {
        if (page.events.size() == q.limit) {
            const StoredEvent& last = page.events.back();
            page.next = EventCursor{*last.event.time, last.seq};
            break;
        }
        page.events.push_back(read_event(st));
    }
    return page;
}

std::vector<StoredEvent> SqliteStore::unprocessed_events(std::size_t limit) {
    Impl::Reader r(*impl_);
    auto st = r->prepare("SELECT " CL_EVENT_COLUMNS
                         " FROM events INDEXED BY events_unprocessed WHERE processed_at IS NULL ORDER BY seq LIMIT ?1");
    st.bind(1, limit_of(limit));
    std::vector<StoredEvent> out;
    while (st.step()) out.push_back(read_event(st));
    return out;
}

std::optional<ContactCard> SqliteStore::contact_card(WorkspaceId ws, std::string_view id, std::size_t timeline_limit) {
    Impl::Reader r(*impl_);
    sqlite::ReadTx snapshot(*r);
    auto contact = select_contact(*r, ws, id);
    if (!contact) return std::nullopt;
    ContactCard card;
    card.contact = std::move(*contact);
    {
        auto st = r->prepare("SELECT " CL_RESPONSE_COLUMNS CL_CONTACT_RESPONSES
                             "AND e.type = ?3 ORDER BY e.time DESC, e.seq DESC LIMIT ?4");
        st.bind(1, ws).bind(2, id).bind(3, "nps_response").bind(4, 2);
        while (st.step()) card.nps.push_back(read_response(st));
    }
    {
        auto st = r->prepare("SELECT " CL_RESPONSE_COLUMNS CL_CONTACT_RESPONSES
                             "AND e.type = ?3 ORDER BY e.time DESC, e.seq DESC LIMIT ?4");
        st.bind(1, ws).bind(2, id).bind(3, "csat_response").bind(4, 1);
        if (st.step()) card.csat = read_response(st);
    }
    card.vouchers = contact_vouchers(*r, ws, id);
    {
        auto st = r->prepare("SELECT " CL_TASK_COLUMNS
                             " FROM tasks WHERE workspace_id = ?1 AND contact_id = ?2 AND status = 'open' "
                             "ORDER BY seq DESC");
        st.bind(1, ws).bind(2, id);
        while (st.step()) card.open_tasks.push_back(read_task(st));
    }
    {
        auto st = r->prepare(list_events_sql[1]);
        st.bind(1, ws)
            .bind(2, int64_min)
            .bind(3, int64_max)
            .bind(4, int64_max)
            .bind(5, int64_max)
            .bind(6, limit_of(timeline_limit))
            .bind(7, id);
        while (st.step()) card.timeline.push_back(read_event(st));
    }
    return card;
}

std::optional<ContactExport> SqliteStore::export_contact(WorkspaceId ws, std::string_view id) {
    Impl::Reader r(*impl_);
    sqlite::ReadTx snapshot(*r);
    auto contact = select_contact(*r, ws, id);
    if (!contact) return std::nullopt;
    ContactExport out;
    out.contact = std::move(*contact);
    {
        auto st = r->prepare(list_events_sql[1]);
        st.bind(1, ws)
            .bind(2, int64_min)
            .bind(3, int64_max)
            .bind(4, int64_max)
            .bind(5, int64_max)
            .bind(6, int64_max)
            .bind(7, id);
        while (st.step()) out.events.push_back(read_event(st));
    }
    {
        auto st = r->prepare("SELECT " CL_RESPONSE_COLUMNS CL_CONTACT_RESPONSES
                             "AND e.type IN ('nps_response', 'csat_response') ORDER BY e.time DESC, e.seq DESC");
        st.bind(1, ws).bind(2, id);
        while (st.step()) out.responses.push_back(read_response(st));
    }
    out.vouchers = contact_vouchers(*r, ws, id);
    {
        auto st = r->prepare("SELECT " CL_TASK_COLUMNS
                             " FROM tasks WHERE workspace_id = ?1 AND contact_id = ?2 ORDER BY seq DESC");
        st.bind(1, ws).bind(2, id);
        while (st.step()) out.tasks.push_back(read_task(st));
    }
    {
        auto st = r->prepare("SELECT " CL_OUTBOX_COLUMNS
                             " FROM outbox WHERE workspace_id = ?1 AND contact_id = ?2 ORDER BY seq DESC");
        st.bind(1, ws).bind(2, id);
        while (st.step()) out.outbox.push_back(read_outbox(st));
    }
    for (auto& o : out.outbox) load_attempts(*r, o);
    {
        auto st = r->prepare(
            "SELECT e.id, p.time, p.amount, p.currency FROM events e INDEXED BY events_contact JOIN purchases p ON "
            "p.workspace_id = e.workspace_id AND p.time = e.time AND p.event_seq = e.seq "
            "WHERE e.workspace_id = ?1 AND e.contact_id = ?2 AND e.type = 'purchase' ORDER BY e.time DESC, e.seq DESC");
        st.bind(1, ws).bind(2, id);
        while (st.step()) out.purchases.push_back({st.text(0), time_at(st, 1), st.real(2), st.text(3)});
    }
    {
        auto st = r->prepare("SELECT " CL_RUN_COLUMNS
                             " FROM runs INDEXED BY runs_contact WHERE workspace_id = ?1 AND contact_id = ?2 "
                             "ORDER BY seq DESC");
        st.bind(1, ws).bind(2, id);
        while (st.step()) out.runs.push_back(read_run(st));
    }
    out.suppressions = contact_suppressions(*r, ws, id, out.contact.contact.email);
    return out;
}

namespace {

// Whether a text holds one of the markers: ?3 the e-mail (lower case: compared with the text
// lowered), ?4 the full name, ?5 the phone; a NULL marker matches nothing.
#define CL_MENTIONS(x) "(instr(lower(" x "), ?3) > 0 OR instr(" x ", ?4) > 0 OR instr(" x ", ?5) > 0)"
// Where the rows of others name the person: tasks, events, outbox entries and contacts that are
// not the contact's own (?2). One pass over each of the workspace's tables (GDPR erasures are
// rare; there is no index on free text to use); a JSON document is walked (json_tree) only
// when its text holds a marker, to name the field that does.
constexpr const char* mentions_sql =
    "SELECT 'task', id, contact_id, 'title' FROM tasks INDEXED BY tasks_workspace WHERE workspace_id = ?1 "
    "AND contact_id IS NOT ?2 AND " CL_MENTIONS("title")
    " UNION ALL SELECT 'task', id, contact_id, 'message' FROM tasks INDEXED BY tasks_workspace "
    "WHERE workspace_id = ?1 AND contact_id IS NOT ?2 AND " CL_MENTIONS("message")
    " UNION ALL SELECT 'event', e.id, e.contact_id, 'data' || substr(t.fullkey, 2) "
    "FROM events e INDEXED BY events_time, json_tree(e.data) t WHERE e.workspace_id = ?1 AND e.contact_id <> ?2 "
    "AND " CL_MENTIONS("e.data") " AND t.type = 'text' AND " CL_MENTIONS("t.atom")
    " UNION ALL SELECT 'outbox', o.seq, o.contact_id, 'params' || substr(t.fullkey, 2) "
    "FROM outbox o INDEXED BY outbox_workspace, json_tree(o.params) t WHERE o.workspace_id = ?1 "
    "AND o.contact_id IS NOT ?2 AND " CL_MENTIONS("o.params") " AND t.type = 'text' AND " CL_MENTIONS("t.atom")
    " UNION ALL SELECT 'contact', id, id, 'email' FROM contacts WHERE workspace_id = ?1 AND id <> ?2 "
    "AND lower(email) = ?3"
    " UNION ALL SELECT 'contact', id, id, 'name' FROM contacts WHERE workspace_id = ?1 AND id <> ?2 "
    "AND first_name || ' ' || last_name = ?4"
    " UNION ALL SELECT 'contact', c.id, c.id, 'attributes' || substr(t.fullkey, 2) "
    "FROM contacts c, json_tree(c.attributes) t WHERE c.workspace_id = ?1 AND c.id <> ?2 "
    "AND " CL_MENTIONS("c.attributes") " AND t.type = 'text' AND " CL_MENTIONS("t.atom");
#undef CL_MENTIONS

std::string ascii_lower(std::string text) {
    for (char& c : text)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return text;
}

}  // namespace

std::optional<ContactErasure> SqliteStore::erase_contact(WorkspaceId ws, std::string_view id) {
    // The mentions are looked for first, on a reader (the writer goes on meanwhile), with the
    // markers of the contact as stored now; its own rows are left out, so the result is what
    // stays once it is erased. That reader's snapshot ends before the WAL is truncated.
    std::vector<Mention> found;
    std::size_t total = 0;
    bool address_shared = false;
    {
        Impl::Reader r(*impl_);
        const auto contact = select_contact(*r, ws, id);
        if (!contact) return std::nullopt;
        const PersonalMarkers markers = personal_markers(contact->contact);
        if (!markers.email.empty() || !markers.full_name.empty() || !markers.phone.empty()) {
            auto st = r->prepare(mentions_sql);
            st.bind(1, ws)
                .bind(2, id)
                .bind_text_or_null(3, ascii_lower(markers.email))
                .bind_text_or_null(4, markers.full_name)
                .bind_text_or_null(5, markers.phone);
            while (st.step()) {
                Mention m{st.text(0), st.text(1), st.text(2), st.text(3)};
                if (m.kind == "contact" && m.field == "email") address_shared = true;
                if (found.size() < ContactErasure::max_mentions) found.push_back(std::move(m));
                ++total;
            }
        }
    }
    std::optional<ContactErasure> out;
    write([&](WriteTx& tx) { out = sqlite_tx(tx).erase_contact(ws, id, address_shared); });
    if (!out) return out;
    out->mentions = std::move(found);
    out->mentions_total = total;
    // Acknowledged (durable) above; now no copy may stay in the WAL. Readers on an older
    // snapshot are waited for briefly: every write waits meanwhile.
    out->purged = impl_->truncate_wal(purge_wait_ms);
    return out;
}

PurchaseTable SqliteStore::purchases(WorkspaceId ws, Time from, Time to) {
    Impl::Reader r(*impl_);
    auto st = r->prepare(
        "SELECT contact_id, time, amount FROM purchases WHERE workspace_id = ?1 AND time >= ?2 AND time <= ?3");
    st.bind(1, ws).bind(2, from.ms).bind(3, to.ms);
    PurchaseTable table;
    std::unordered_map<std::string, std::uint32_t> index;
    while (st.step()) {
        auto [it, added] = index.try_emplace(st.text(0), static_cast<std::uint32_t>(table.contact_ids.size()));
        if (added) table.contact_ids.push_back(it->first);
        table.purchases.add(it->second, time_at(st, 1), st.real(2));
    }
    return table;
}

std::size_t SqliteStore::save_rfm(WorkspaceId ws, const std::vector<std::string>& contact_ids, const RfmResult& result,
                                  const std::optional<RfmEdges>& edges) {
    std::size_t saved = 0;
    write([&](WriteTx& tx) { saved = sqlite_tx(tx).save_rfm(ws, contact_ids, result, edges); });
    return saved;
}

}  // namespace closeloop::server
