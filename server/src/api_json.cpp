#include "api_json.h"

#include <charconv>

#include "closeloop/metrics.h"

namespace closeloop::server {

using nlohmann::json;

json time_or_null(const std::optional<Time>& t) {
    return t ? json(format_time(*t)) : json(nullptr);
}

namespace {

void put_text(json& j, const char* name, const std::string& value) {
    if (!value.empty()) j[name] = value;
}

json optional_int(const std::optional<int>& v) {
    return v ? json(*v) : json(nullptr);
}

json nps_json(const std::vector<Response>& nps) {
    const auto trend = nps_trend(nps);
    if (!trend) return nullptr;
    return {{"last", trend->last},
            {"last_at", format_time(trend->last_at)},
            {"previous", optional_int(trend->previous)},
            {"change", optional_int(trend->change)}};
}

}  // namespace

json event_json(const StoredEvent& e) {
    json j = e.event;
    j["received_at"] = format_time(e.received_at);
    j["processed_at"] = time_or_null(e.processed_at);
    return j;
}

json contact_json(const StoredContact& c) {
    json j = c.contact;
    j["created_at"] = format_time(c.created_at);
    j["updated_at"] = format_time(c.updated_at);
    return j;
}

json voucher_json(const Voucher& v, Time now) {
    json j = {{"code", v.code}, {"campaign", v.campaign}, {"contact", v.contact}};
    if (v.percent > 0) {
        j["percent"] = v.percent;
    } else {
        j["value"] = v.value;
        j["currency"] = v.currency;
    }
    j["assigned_at"] = format_time(v.assigned_at);
    j["expires_at"] = time_or_null(v.expires_at);
    j["redeemed"] = v.redeemed_at.has_value();
    j["redeemed_at"] = time_or_null(v.redeemed_at);
    j["status"] = to_string(voucher_status(v.redeemed_at, v.expires_at, now));
    return j;
}

json campaign_json(const StoredCampaign& c) {
    json j = c.campaign;
    j["created_at"] = format_time(c.created_at);
    j["updated_at"] = format_time(c.updated_at);
    return j;
}

json task_json(const Task& t) {
    json j = {{"id", t.id}, {"title", t.title}, {"message", t.message}, {"status", to_string(t.status)}};
    put_text(j, "role", t.role);
    put_text(j, "assignee", t.assignee);
    put_text(j, "contact", t.contact);
    put_text(j, "run_id", t.run_id);
    put_text(j, "key", t.key);
    j["created_at"] = format_time(t.created_at);
    j["due_at"] = time_or_null(t.due_at);
    j["done_at"] = time_or_null(t.done_at);
    return j;
}

json outbox_json(const OutboxEntry& o, bool sends_email) {
    json attempts = json::array();
    for (const auto& a : o.attempt_log)
        attempts.push_back({{"at", format_time(a.at)},
                            {"ok", a.ok},
                            {"detail", a.detail},
                            {"status_code", a.status_code},
                            {"duration_ms", a.duration_ms}});
    json j = {{"id", o.seq},
              {"key", o.key},
              {"kind", o.kind},
              {"params", o.params},
              {"status", to_string(o.status)},
              {"attempts", o.attempts},
              {"attempt_log", attempts}};
    put_text(j, "contact", o.contact);
    put_text(j, "run_id", o.run_id);
    put_text(j, "endpoint", o.endpoint);
    if (o.kind == "send_email") j["marketing"] = o.marketing;
    put_text(j, "last_error", o.last_error);
    // Why a pending entry waits when nothing here can send it (said, not stored: it goes as
    // soon as the server can).
    const bool waiting = o.status == OutboxStatus::pending && o.last_error.empty();
    if (waiting && o.kind == "send_email" && !sends_email)
        j["last_error"] = "waiting: no SMTP server is configured (closeloop serve --smtp smtp://host:port)";
    if (waiting && o.kind == "send_survey")
        j["last_error"] = "waiting: survey e-mails need survey definitions, which are not built yet";
    j["created_at"] = format_time(o.created_at);
    j["next_attempt_at"] = time_or_null(o.next_attempt_at);
    j["sent_at"] = time_or_null(o.sent_at);
    return j;
}

json card_json(const ContactCard& card, Time now) {
    json j = contact_json(card.contact);
    j["nps"] = nps_json(card.nps);
    j["csat"] = card.csat ? json{{"last", card.csat->score}, {"last_at", format_time(card.csat->time)}} : json(nullptr);
    j["vouchers"] = json::array();
    for (const auto& v : card.vouchers) j["vouchers"].push_back(voucher_json(v, now));
    j["tasks"] = json::array();
    for (const auto& t : card.open_tasks) j["tasks"].push_back(task_json(t));
    j["timeline"] = json::array();
    for (const auto& e : card.timeline) j["timeline"].push_back(event_json(e));
    return j;
}

json run_json(const RunRecord& r) {
    json j = {{"id", r.id},
              {"scenario", r.scenario},
              {"version", r.version},
              {"contact", r.contact},
              {"event", r.event_id},
              {"status", to_string(r.status)},
              {"path", r.state.contains("path") ? r.state["path"] : json::array()},
              {"wake_at", r.wake_at ? json(format_time(*r.wake_at)) : json()},
              {"effects", r.effects},
              {"started_at", format_time(r.created_at)},
              {"updated_at", format_time(r.updated_at)}};
    if (!r.error.empty()) j["error"] = r.error;
    return j;
}

json export_json(const ContactExport& x, Time now) {
    json j = {{"exported_at", format_time(now)}, {"contact", contact_json(x.contact)}};
    j["events"] = json::array();
    for (const auto& e : x.events) j["events"].push_back(event_json(e));
    j["responses"] = x.responses;
    j["vouchers"] = json::array();
    for (const auto& v : x.vouchers) j["vouchers"].push_back(voucher_json(v, now));
    j["tasks"] = json::array();
    for (const auto& t : x.tasks) j["tasks"].push_back(task_json(t));
    j["outbox"] = json::array();
    for (const auto& o : x.outbox) j["outbox"].push_back(outbox_json(o));
    // Everything else the erasure removes: the purchase rows RFM reads, runs whole (their state
    // and trace hold what the scenario saw of the contact), suppressions of its address.
    j["purchases"] = json::array();
    for (const auto& p : x.purchases)
        j["purchases"].push_back(
            {{"event", p.event_id}, {"time", format_time(p.time)}, {"amount", p.amount}, {"currency", p.currency}});
    j["runs"] = json::array();
    for (const auto& r : x.runs) {
        json run = run_json(r);
        run["state"] = r.state;
        run["trace"] = r.trace;
        j["runs"].push_back(std::move(run));
    }
    j["suppressions"] = json::array();
    for (const auto& s : x.suppressions)
        j["suppressions"].push_back({{"address", s.address},
                                     {"reason", s.reason},
                                     {"detail", s.detail},
                                     {"created_at", format_time(s.created_at)}});
    return j;
}

json erasure_json(std::string_view contact, const ContactErasure& e) {
    json mentions = json::array();
    for (const auto& m : e.mentions) {
        json one = {{"kind", m.kind}, {"field", m.field}};
        // Each record's id as its own API gives it: an outbox entry's is a number.
        if (m.kind == "outbox") {
            std::int64_t seq = 0;
            std::from_chars(m.id.data(), m.id.data() + m.id.size(), seq);
            one["id"] = seq;
        } else {
            one["id"] = m.id;
        }
        if (!m.contact.empty() && m.kind != "contact") one["contact"] = m.contact;
        mentions.push_back(std::move(one));
    }
    return {{"erased",
             {{"contact", std::string(contact)},
              {"events", e.events},
              {"responses", e.responses},
              {"purchases", e.purchases},
              {"vouchers", e.vouchers},
              {"tasks", e.tasks},
              {"outbox", e.outbox},
              {"runs", e.runs},
              {"suppressions", e.suppressions}}},
            {"purged", e.purged},
            {"mentions", std::move(mentions)},
            {"mentions_total", e.mentions_total}};
}

std::string cursor_text(const EventCursor& c) {
    return std::to_string(c.time.ms) + "_" + std::to_string(c.seq);
}

std::optional<EventCursor> parse_cursor(std::string_view text) {
    const auto sep = text.find('_');
    if (sep == std::string_view::npos || sep == 0 || sep + 1 == text.size()) return std::nullopt;
    EventCursor c;
    const char* end1 = text.data() + sep;
    auto r1 = std::from_chars(text.data(), end1, c.time.ms);
    if (r1.ec != std::errc{} || r1.ptr != end1) return std::nullopt;
    const char* end2 = text.data() + text.size();
    auto r2 = std::from_chars(end1 + 1, end2, c.seq);
    if (r2.ec != std::errc{} || r2.ptr != end2 || c.seq < 0) return std::nullopt;
    return c;
}

std::optional<std::int64_t> parse_seq_cursor(std::string_view text) {
    std::int64_t seq = 0;
    const char* end = text.data() + text.size();
    const auto r = std::from_chars(text.data(), end, seq);
    if (r.ec != std::errc{} || r.ptr != end || seq < 1) return std::nullopt;
    return seq;
}

std::string voucher_cursor_text(const Voucher& v) {
    return std::to_string(v.assigned_at.ms) + "_" + v.code;
}

std::optional<VoucherCursor> parse_voucher_cursor(std::string_view text) {
    const auto sep = text.find('_');
    if (sep == std::string_view::npos || sep == 0 || sep + 1 == text.size()) return std::nullopt;
    VoucherCursor c;
    const char* end = text.data() + sep;
    const auto r = std::from_chars(text.data(), end, c.assigned_at.ms);
    if (r.ec != std::errc{} || r.ptr != end) return std::nullopt;
    c.code = std::string(text.substr(sep + 1));
    return c;
}

}  // namespace closeloop::server
