// closeloop — survey responses: one NPS or CSAT answer, as reports count it.
//
// A response is read from an `nps_response` or `csat_response` event (whatever channel it
// came through: widget, e-mail link, survey page, API) and keeps what reports group by.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "closeloop/event.h"
#include "closeloop/result.h"
#include "closeloop/time.h"

namespace closeloop {

enum class ResponseKind { nps, csat };
std::string_view response_kind_name(ResponseKind kind);

struct Response {
    std::string event_id;  // the event it came from; may be empty
    std::string contact_id;
    ResponseKind kind = ResponseKind::nps;
    int score = 0;  // nps 0-10, csat 1-5
    Time time;
    std::string survey, channel, comment;
    std::string agent, ticket_id, topic;  // csat: the interaction it rates

    bool operator==(const Response&) const = default;
};

// The response an event carries, or nullopt for events that are not answers. The event
// must have been validated (event_from_json); `received` stands in for a missing time.
std::optional<Response> response_from_event(const Event& event, Time received);

Result<Response> response_from_json(const nlohmann::json& j, const std::string& path = "");
void to_json(nlohmann::json& j, const Response& r);

}  // namespace closeloop
