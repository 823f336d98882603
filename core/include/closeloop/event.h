// closeloop — events: everything that happens to a contact.
//
// Sections: EventType (the built-in types and custom ones), Event, JSON and validation.
// Built-in types have a fixed `data` shape, checked on input with errors that name the field
// (`data.score: must be an integer 0-10`); any other `[a-z][a-z0-9_]{0,63}` type is a custom
// event with free `data`.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "closeloop/contact.h"
#include "closeloop/result.h"
#include "closeloop/time.h"

namespace closeloop {

enum class EventType {
    nps_response,
    csat_response,
    purchase,
    ticket_resolved,
    ticket_tagged,
    voucher_redeemed,
    voucher_assigned,
    custom,
};

// The built-in type named `name`, or EventType::custom.
EventType event_type_of(std::string_view name);
std::string_view event_type_name(EventType type);  // "custom" for custom types
bool is_valid_event_type_name(std::string_view name);

struct Event {
    std::string id;    // the integrator's id, unique per workspace; empty when none was given
    std::string type;  // "nps_response", ..., or a custom name
    EventType kind = EventType::custom;
    std::optional<Time> time;  // absent: the receiver stamps its own receive time
    ContactPatch contact;      // upserts the contact; `id` is always set
    nlohmann::json data = nlohmann::json::object();

    bool operator==(const Event&) const = default;

    // Typed reads of validated built-in data.
    std::optional<int> score() const;              // nps_response 0-10, csat_response 1-5
    std::string text(std::string_view key) const;  // a string field of data, or ""
};

// Reads and validates an event document; errors name the field under `path`
// ("events[3].data.score").
Result<Event> event_from_json(const nlohmann::json& j, const std::string& path = "");
void to_json(nlohmann::json& j, const Event& e);

// Validates `data` for a built-in type (no-op for custom types beyond "is an object").
std::optional<Error> validate_event_data(EventType type, const nlohmann::json& data, const std::string& path);

bool is_currency_code(std::string_view s);  // ISO 4217 shape: three capital letters

}  // namespace closeloop
