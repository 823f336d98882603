// closeloop server — the SQLite store's vouchers, tasks and the outbox.
#include <array>

#include "sqlite_store_impl.h"

namespace closeloop::server {

namespace {

// Bit 0 = role, bit 1 = status. Each walks an index in seq order: no sort.
constexpr std::array<const char*, 4> list_tasks_sql = {
    "SELECT " CL_TASK_COLUMNS
    " FROM tasks INDEXED BY tasks_workspace WHERE workspace_id = ?1 AND seq < ?5 ORDER BY seq DESC LIMIT ?4",
    "SELECT " CL_TASK_COLUMNS
    " FROM tasks INDEXED BY tasks_role WHERE workspace_id = ?1 AND role = ?2 AND seq < ?5 ORDER BY seq DESC LIMIT ?4",
    "SELECT " CL_TASK_COLUMNS
    " FROM tasks INDEXED BY tasks_status WHERE workspace_id = ?1 AND status = ?3 AND seq < ?5 ORDER BY seq DESC LIMIT "
    "?4",
    "SELECT " CL_TASK_COLUMNS
    " FROM tasks INDEXED BY tasks_role_status WHERE workspace_id = ?1 AND role = ?2 AND status = ?3 "
    "AND seq < ?5 ORDER BY seq DESC LIMIT ?4",
};

// Bit 0 = status, bit 1 = kind.
constexpr std::array<const char*, 4> list_outbox_sql = {
    "SELECT " CL_OUTBOX_COLUMNS
    " FROM outbox INDEXED BY outbox_workspace WHERE workspace_id = ?1 AND seq < ?4 ORDER BY seq DESC LIMIT ?5",
    "SELECT " CL_OUTBOX_COLUMNS
    " FROM outbox INDEXED BY outbox_status WHERE workspace_id = ?1 AND status = ?2 AND seq < ?4 "
    "ORDER BY seq DESC LIMIT ?5",
    "SELECT " CL_OUTBOX_COLUMNS
    " FROM outbox INDEXED BY outbox_kind WHERE workspace_id = ?1 AND kind = ?3 AND seq < ?4 "
    "ORDER BY seq DESC LIMIT ?5",
    "SELECT " CL_OUTBOX_COLUMNS
    " FROM outbox INDEXED BY outbox_status_kind WHERE workspace_id = ?1 AND status = ?2 AND kind = ?3 "
    "AND seq < ?4 ORDER BY seq DESC LIMIT ?5",
};

}  // namespace

std::optional<Voucher> SqliteWriteTx::latest_voucher(WorkspaceId ws, std::string_view contact,
                                                     std::string_view campaign, Time since) {
    auto st = db_.prepare("SELECT " CL_VOUCHER_COLUMNS
                          " FROM vouchers WHERE workspace_id = ?1 AND campaign_id = ?2 AND contact_id = ?3 "
                          "AND assigned_at >= ?4 ORDER BY assigned_at DESC LIMIT 1");
    st.bind(1, ws).bind(2, campaign).bind(3, contact).bind(4, since.ms);
    if (!st.step()) return std::nullopt;
    return read_voucher(st);
}

Voucher SqliteWriteTx::assign_voucher(WorkspaceId ws, const VoucherCampaign& campaign, const std::string& contact,
                                      const std::string& code, const std::string& key, Time now) {
    if (!key.empty()) {
        auto st =
            db_.prepare("SELECT " CL_VOUCHER_COLUMNS " FROM vouchers WHERE workspace_id = ?1 AND assign_key = ?2");
        st.bind(1, ws).bind(2, key);
        if (st.step()) return read_voucher(st);
    }
    Voucher v;
    v.code = code;
    v.campaign = campaign.id;
    v.contact = contact;
    v.value = campaign.percent ? 0 : campaign.value;
    v.currency = campaign.currency;
    v.percent = campaign.percent ? campaign.value : 0;
    v.assigned_at = now;
    v.expires_at = voucher_expiry(campaign, now);
    v.key = key;
    auto ins = db_.prepare(
        "INSERT INTO vouchers (workspace_id, code, campaign_id, contact_id, value, currency, percent, "
        "assigned_at, expires_at, assign_key) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
    ins.bind(1, ws)
        .bind(2, v.code)
        .bind(3, v.campaign)
        .bind(4, v.contact)
        .bind(5, v.value)
        .bind(6, v.currency)
        .bind(7, v.percent)
        .bind(8, v.assigned_at.ms)
        .bind_text_or_null(10, v.key);
    bind_time(ins, 9, v.expires_at);
    ins.run();

    // On the timeline and in the history expressions read: core's one definition (voucher.h).
    const Event assigned = voucher_assigned_event(campaign, closeloop::assign_voucher(campaign, code, now), contact);
    insert_events(ws, std::span<const Event>(&assigned, 1), now);
    return v;
}

Task SqliteWriteTx::create_task(WorkspaceId ws, const Task& task) {
    if (!task.key.empty()) {
        auto st = db_.prepare("SELECT " CL_TASK_COLUMNS " FROM tasks WHERE workspace_id = ?1 AND effect_key = ?2");
        st.bind(1, ws).bind(2, task.key);
        if (st.step()) return read_task(st);
    }
    auto ins = db_.prepare(
        "INSERT INTO tasks (workspace_id, id, role, assignee, title, message, contact_id, run_id, effect_key, "
        "status, created_at, due_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'open', ?10, ?11)");
    ins.bind(1, ws)
        .bind(2, task.id)
        .bind_text_or_null(3, task.role)
        .bind_text_or_null(4, task.assignee)
        .bind(5, task.title)
        .bind(6, task.message)
        .bind_text_or_null(7, task.contact)
        .bind_text_or_null(8, task.run_id)
        .bind_text_or_null(9, task.key)
        .bind(10, task.created_at.ms);
    bind_time(ins, 11, task.due_at);
    ins.run();
    Task out = task;
    out.status = TaskStatus::open;
    out.done_at.reset();
    return out;
}

bool SqliteWriteTx::enqueue_effect(WorkspaceId ws, const OutboxEntry& effect) {
    auto ins = db_.prepare(
        "INSERT INTO outbox (workspace_id, key, kind, contact_id, run_id, params, status, created_at, "
        "next_attempt_at, last_error, endpoint_id, marketing, address) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) "
        "ON CONFLICT (workspace_id, key) DO NOTHING");
    const bool suppressed = effect.status == OutboxStatus::suppressed;
    ins.bind(1, ws)
        .bind(2, effect.key)
        .bind(3, effect.kind)
        .bind_text_or_null(4, effect.contact)
        .bind_text_or_null(5, effect.run_id)
        .bind(6, effect.params.dump())
        .bind(7, to_string(suppressed ? OutboxStatus::suppressed : OutboxStatus::pending))
        .bind(8, effect.created_at.ms)
        .bind_text_or_null(10, effect.last_error)
        .bind_text_or_null(11, effect.endpoint)
        .bind(12, effect.marketing ? 1 : 0)
        .bind_text_or_null(13, effect.address);
    if (suppressed)
        ins.bind_null(9);
    else
        ins.bind(9, effect.next_attempt_at.value_or(effect.created_at).ms);
    return ins.run() > 0;
}

std::vector<Voucher> SqliteWriteTx::contact_vouchers(WorkspaceId ws, std::string_view contact, Time until) {
    auto st = db_.prepare("SELECT " CL_VOUCHER_COLUMNS
                          " FROM vouchers INDEXED BY vouchers_contact WHERE workspace_id = ?1 AND contact_id = ?2 "
                          "AND assigned_at <= ?3 ORDER BY assigned_at DESC, " CL_VOUCHER_ASSIGNED_LAST);
    st.bind(1, ws).bind(2, contact).bind(3, until.ms);
    std::vector<Voucher> out;
    while (st.step()) out.push_back(read_voucher(st));
    return out;
}

std::optional<Voucher> SqliteWriteTx::find_voucher(WorkspaceId ws, std::string_view code) {
    auto st = db_.prepare("SELECT " CL_VOUCHER_COLUMNS " FROM vouchers WHERE workspace_id = ?1 AND code = ?2");
    st.bind(1, ws).bind(2, code);
    if (!st.step()) return std::nullopt;
    return read_voucher(st);
}

bool SqliteWriteTx::save_voucher_campaign(WorkspaceId ws, const VoucherCampaign& campaign, Time now) {
    return save_document(
        "INSERT INTO voucher_campaigns (workspace_id, id, doc, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4) "
        "ON CONFLICT (workspace_id, id) DO NOTHING",
        "UPDATE voucher_campaigns SET doc = ?3, updated_at = ?4 WHERE workspace_id = ?1 AND id = ?2", ws, campaign.id,
        json(campaign), now);
}

RedeemResult SqliteWriteTx::redeem_voucher(WorkspaceId ws, std::string_view code, Time now) {
    auto st = db_.prepare("SELECT " CL_VOUCHER_COLUMNS " FROM vouchers WHERE workspace_id = ?1 AND code = ?2");
    st.bind(1, ws).bind(2, code);
    if (!st.step()) return {RedeemOutcome::not_found, std::nullopt};
    Voucher v = read_voucher(st);
    if (v.redeemed_at) return {RedeemOutcome::already_redeemed, v};
    if (v.expires_at && *v.expires_at <= now) return {RedeemOutcome::expired, v};
    db_.prepare("UPDATE vouchers SET redeemed_at = ?3 WHERE workspace_id = ?1 AND code = ?2")
        .bind(1, ws)
        .bind(2, code)
        .bind(3, now.ms)
        .run();
    v.redeemed_at = now;

    Event redeemed;
    redeemed.id = "voucher_redeemed:" + v.code;
    redeemed.type = "voucher_redeemed";
    redeemed.kind = EventType::voucher_redeemed;
    redeemed.time = now;
    redeemed.contact.id = v.contact;
    redeemed.data = {{"code", v.code}, {"campaign", v.campaign}};
    insert_events(ws, std::span<const Event>(&redeemed, 1), now);
    return {RedeemOutcome::redeemed, v};
}

std::optional<Task> SqliteWriteTx::complete_task(WorkspaceId ws, std::string_view id, Time now) {
    db_.prepare(
           "UPDATE tasks SET status = 'done', done_at = ?3 WHERE workspace_id = ?1 AND id = ?2 "
           "AND status = 'open'")
        .bind(1, ws)
        .bind(2, id)
        .bind(3, now.ms)
        .run();
    auto st = db_.prepare("SELECT " CL_TASK_COLUMNS " FROM tasks WHERE workspace_id = ?1 AND id = ?2");
    st.bind(1, ws).bind(2, id);
    if (!st.step()) return std::nullopt;
    return read_task(st);
}

// A voucher_redeemed event marks the voucher used: by its code, or the contact's latest
// unused voucher of the campaign (CONTRACT.md, Event). Already used: nothing changes.
void SqliteWriteTx::mark_redeemed(WorkspaceId ws, const Event& e, Time time) {
    const std::string code = e.text("code");
    if (!code.empty()) {
        db_.prepare(
               "UPDATE vouchers SET redeemed_at = ?3 WHERE workspace_id = ?1 AND code = ?2 "
               "AND redeemed_at IS NULL")
            .bind(1, ws)
            .bind(2, code)
            .bind(3, time.ms)
            .run();
        return;
    }
    const std::string campaign = e.text("campaign");
    if (campaign.empty()) return;
    db_.prepare(
           "UPDATE vouchers SET redeemed_at = ?4 WHERE workspace_id = ?1 AND code = ("
           "SELECT code FROM vouchers WHERE workspace_id = ?1 AND campaign_id = ?2 AND contact_id = ?3 "
           "AND redeemed_at IS NULL ORDER BY assigned_at DESC, " CL_VOUCHER_ASSIGNED_LAST " LIMIT 1)")
        .bind(1, ws)
        .bind(2, campaign)
        .bind(3, e.contact.id)
        .bind(4, time.ms)
        .run();
}

std::vector<StoredCampaign> SqliteStore::voucher_campaigns(WorkspaceId ws) {
    Impl::Reader r(*impl_);
    auto st =
        r->prepare("SELECT doc, created_at, updated_at FROM voucher_campaigns WHERE workspace_id = ?1 ORDER BY id");
    st.bind(1, ws);
    std::vector<StoredCampaign> out;
    while (st.step()) {
        auto c = voucher_campaign_from_json(parse_stored(st.text(0), json::object()), "", Check::stored);
        if (c) out.push_back({std::move(*c), time_at(st, 1), time_at(st, 2)});
    }
    return out;
}

std::optional<StoredCampaign> SqliteStore::find_voucher_campaign(WorkspaceId ws, std::string_view id) {
    Impl::Reader r(*impl_);
    auto st =
        r->prepare("SELECT doc, created_at, updated_at FROM voucher_campaigns WHERE workspace_id = ?1 AND id = ?2");
    st.bind(1, ws).bind(2, id);
    if (!st.step()) return std::nullopt;
    auto c = voucher_campaign_from_json(parse_stored(st.text(0), json::object()), "", Check::stored);
    if (!c) return std::nullopt;
    return StoredCampaign{std::move(*c), time_at(st, 1), time_at(st, 2)};
}

bool SqliteStore::save_voucher_campaign(WorkspaceId ws, const VoucherCampaign& campaign, Time now) {
    bool created = false;
    write([&](WriteTx& tx) { created = sqlite_tx(tx).save_voucher_campaign(ws, campaign, now); });
    ++impl_->catalog_generation;
    return created;
}

std::vector<Voucher> SqliteStore::vouchers(WorkspaceId ws, const std::optional<std::string>& contact, std::size_t limit,
                                           const std::optional<VoucherCursor>& after) {
    Impl::Reader r(*impl_);
    std::vector<Voucher> out;
    // Rows after the cursor in (assigned_at DESC, code) order; no cursor = from the newest.
    const std::int64_t at = after ? after->assigned_at.ms : int64_max;
    const std::string code = after ? after->code : std::string();
    if (contact) {
        auto st = r->prepare("SELECT " CL_VOUCHER_COLUMNS
                             " FROM vouchers WHERE workspace_id = ?1 AND contact_id = ?2 "
                             "AND (assigned_at < ?4 OR (assigned_at = ?4 AND code > ?5)) "
                             "ORDER BY assigned_at DESC, code LIMIT ?3");
        st.bind(1, ws).bind(2, *contact).bind(3, limit_of(limit)).bind(4, at).bind(5, code);
        while (st.step()) out.push_back(read_voucher(st));
    } else {
        auto st = r->prepare("SELECT " CL_VOUCHER_COLUMNS
                             " FROM vouchers WHERE workspace_id = ?1 "
                             "AND (assigned_at < ?3 OR (assigned_at = ?3 AND code > ?4)) "
                             "ORDER BY assigned_at DESC, code LIMIT ?2");
        st.bind(1, ws).bind(2, limit_of(limit)).bind(3, at).bind(4, code);
        while (st.step()) out.push_back(read_voucher(st));
    }
    return out;
}

RedeemResult SqliteStore::redeem_voucher(WorkspaceId ws, std::string_view code, Time now) {
    RedeemResult out;
    write([&](WriteTx& tx) { out = sqlite_tx(tx).redeem_voucher(ws, code, now); });
    return out;
}

std::vector<Task> SqliteStore::tasks(WorkspaceId ws, const TaskQuery& q) {
    Impl::Reader r(*impl_);
    const std::size_t variant = (q.role ? 1u : 0u) | (q.status ? 2u : 0u);
    auto st = r->prepare(list_tasks_sql[variant]);
    st.bind(1, ws).bind(4, limit_of(q.limit)).bind(5, q.before_seq.value_or(int64_max));
    if (q.role) st.bind(2, *q.role);
    if (q.status) st.bind(3, to_string(*q.status));
    std::vector<Task> out;
    while (st.step()) out.push_back(read_task(st));
    return out;
}

std::optional<Task> SqliteStore::complete_task(WorkspaceId ws, std::string_view id, Time now) {
    std::optional<Task> out;
    write([&](WriteTx& tx) { out = sqlite_tx(tx).complete_task(ws, id, now); });
    return out;
}

std::vector<OutboxEntry> SqliteStore::outbox(WorkspaceId ws, const OutboxQuery& q) {
    Impl::Reader r(*impl_);
    sqlite::ReadTx snapshot(*r);
    const std::size_t variant = (q.status ? 1u : 0u) | (q.kind ? 2u : 0u);
    std::vector<OutboxEntry> out;
    {
        auto st = r->prepare(list_outbox_sql[variant]);
        st.bind(1, ws).bind(4, q.before_seq.value_or(int64_max)).bind(5, limit_of(q.limit));
        if (q.status) st.bind(2, to_string(*q.status));
        if (q.kind) st.bind(3, *q.kind);
        while (st.step()) out.push_back(read_outbox(st));
    }
    for (auto& o : out) load_attempts(*r, o);
    return out;
}

std::vector<OutboxEntry> SqliteStore::run_outbox(WorkspaceId ws, std::string_view run_id) {
    Impl::Reader r(*impl_);
    sqlite::ReadTx snapshot(*r);
    std::vector<OutboxEntry> out;
    {
        // Effect keys are `<run id>/<node id>`: a run's entries are one range of the key index,
        // so the outbox (the most indexed table, written by every run) needs no index of its own.
        auto st = r->prepare("SELECT " CL_OUTBOX_COLUMNS
                             " FROM outbox INDEXED BY outbox_key WHERE workspace_id = ?1 AND key >= ?2 AND key < ?3 "
                             "AND run_id = ?4");
        const std::string run(run_id);
        st.bind(1, ws).bind(2, run + "/").bind(3, run + "0").bind(4, run);  // '0' follows '/'
        while (st.step()) out.push_back(read_outbox(st));
    }
    for (auto& o : out) load_attempts(*r, o);
    return out;
}

}  // namespace closeloop::server
