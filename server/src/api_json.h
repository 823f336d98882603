// closeloop server — the API's JSON for store records. Core types bring their own JSON
// (to_json beside the type); this adds what only the server knows (receive times, delivery
// state, card composition).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

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

}  // namespace closeloop::server
