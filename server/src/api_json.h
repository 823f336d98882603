// closeloop server — the API's JSON for store records. Core types bring their own JSON
// (to_json beside the type); this adds what only the server knows (receive times, delivery
// state, card composition).
#pragma once

#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/store.h"

namespace closeloop::server {

// RFC 3339, or null.
nlohmann::json time_or_null(const std::optional<Time>& t);
nlohmann::json event_json(const StoredEvent& e);
nlohmann::json contact_json(const StoredContact& c);
nlohmann::json voucher_json(const Voucher& v, Time now);
nlohmann::json campaign_json(const StoredCampaign& c);
nlohmann::json task_json(const Task& t);
// sends_email: whether this server has an SMTP server (a pending e-mail says why it waits).
nlohmann::json outbox_json(const OutboxEntry& o, bool sends_email = true);
// The customer card: the contact, rfm, nps (last, previous, change), csat (last), vouchers,
// open tasks and the timeline.
nlohmann::json card_json(const ContactCard& card, Time now);
// A run as listed (GET /api/v1/runs): its path, wake time and effects, without state and trace.
nlohmann::json run_json(const RunRecord& r);
// Everything erase_contact would remove.
nlohmann::json export_json(const ContactExport& x, Time now);
// The answer of DELETE /api/v1/contacts/{id}: what went, whether the files hold no copy of it
// any more (`purged`), and the mentions left in others' records.
nlohmann::json erasure_json(std::string_view contact, const ContactErasure& erased);

// Paging cursors of GET /api/v1/events: opaque to clients.
std::string cursor_text(const EventCursor& c);
std::optional<EventCursor> parse_cursor(std::string_view text);
// Lists in the store's order (tasks, runs, the outbox): the last row's seq, as decimal text.
std::optional<std::int64_t> parse_seq_cursor(std::string_view text);
// Vouchers: `<assigned_at ms>_<code>`.
std::string voucher_cursor_text(const Voucher& v);
std::optional<VoucherCursor> parse_voucher_cursor(std::string_view text);

// A newest-first page of a list in the store's order (tasks, runs, the outbox): the store was
// asked for limit + 1 rows, the extra one only says that a next page exists. Returns
// { <name>: [...], "next_cursor": the last row's seq, or null on the last page }.
template <class Row, class ToJson>
nlohmann::json seq_page(const char* name, std::vector<Row> rows, std::size_t limit, ToJson to_json) {
    nlohmann::json next = nullptr;
    if (rows.size() > limit) {
        rows.resize(limit);
        next = std::to_string(rows.back().seq);
    }
    nlohmann::json out = nlohmann::json::array();
    for (const auto& row : rows) out.push_back(to_json(row));
    return {{name, std::move(out)}, {"next_cursor", std::move(next)}};
}

// A page of a list that has `id` order (scenarios, templates, campaigns, endpoints): the
// items after `after` (the last id of the previous page), at most `limit`; `next` is the
// cursor of the following page, null on the last.
template <class T, class IdOf>
std::vector<const T*> id_page(const std::vector<T>& all, IdOf id_of, const std::optional<std::string>& after,
                              std::size_t limit, nlohmann::json& next) {
    std::vector<const T*> sorted;
    sorted.reserve(all.size());
    for (const T& item : all)
        if (!after || id_of(item) > *after) sorted.push_back(&item);
    std::sort(sorted.begin(), sorted.end(), [&](const T* a, const T* b) { return id_of(*a) < id_of(*b); });
    next = nullptr;
    if (sorted.size() > limit) {
        sorted.resize(limit);
        next = id_of(*sorted.back());
    }
    return sorted;
}

}  // namespace closeloop::server
