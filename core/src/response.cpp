#include "closeloop/response.h"

#include "closeloop/detail/enum_table.h"
#include "closeloop/detail/json_read.h"

namespace closeloop {

using detail::Fields;
using nlohmann::json;

namespace {

constexpr detail::EnumTable<ResponseKind, 2> response_kinds = {
    {{"nps", ResponseKind::nps}, {"csat", ResponseKind::csat}}};

}  // namespace

std::string_view response_kind_name(ResponseKind kind) {
    return detail::enum_name(response_kinds, kind);
}

std::optional<Response> response_from_event(const Event& e, Time received) {
    if (e.kind != EventType::nps_response && e.kind != EventType::csat_response) return std::nullopt;
    const auto score = e.score();
    if (!score) return std::nullopt;
    Response r;
    r.event_id = e.id;
    r.contact_id = e.contact.id;
    r.kind = e.kind == EventType::nps_response ? ResponseKind::nps : ResponseKind::csat;
    r.score = *score;
    r.time = e.time.value_or(received);
    r.survey = e.text("survey");
    r.channel = e.text("channel");
    r.comment = e.text("comment");
    r.agent = e.text("agent");
    r.ticket_id = e.text("ticket_id");
    r.topic = e.text("topic");
    return r;
}

Result<Response> response_from_json(const json& j, const std::string& path) {
    Fields f(j, path);
    Response r;
    r.event_id = f.string("event_id", false, 128).value_or("");
    r.contact_id = f.string("contact", true, 128, 1).value_or("");
    const auto kind = f.string("kind", true, 8);
    const auto kind_of = kind ? detail::enum_value(response_kinds, *kind) : std::nullopt;
    if (kind && !kind_of) f.fail("kind", "must be " + detail::enum_names(response_kinds));
    r.kind = kind_of.value_or(ResponseKind::nps);
    if (f.ok()) {
        const bool nps = r.kind == ResponseKind::nps;
        r.score = static_cast<int>(f.integer("score", true, nps ? 0 : 1, nps ? 10 : 5).value_or(0));
    }
    r.time = f.time("time", true).value_or(Time{});
    r.survey = f.string("survey", false, 128).value_or("");
    r.channel = f.string("channel", false, 64).value_or("");
    r.comment = f.string("comment", false, 10000).value_or("");
    r.agent = f.string("agent", false, 254).value_or("");
    r.ticket_id = f.string("ticket_id", false, 128).value_or("");
    r.topic = f.string("topic", false, 128).value_or("");
    if (!f.ok()) return f.error();
    return r;
}

void to_json(json& j, const Response& r) {
    j = {{"contact", r.contact_id},
         {"kind", response_kind_name(r.kind)},
         {"score", r.score},
         {"time", format_time(r.time)}};
    // Optional text is left out when empty.
    const std::pair<const char*, const std::string*> optional_text[] = {
        {"event_id", &r.event_id}, {"survey", &r.survey},       {"channel", &r.channel}, {"comment", &r.comment},
        {"agent", &r.agent},       {"ticket_id", &r.ticket_id}, {"topic", &r.topic}};
    for (const auto& [name, value] : optional_text)
        if (!value->empty()) j[name] = *value;
}

}  // namespace closeloop
