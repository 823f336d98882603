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

// An active ISO 4217 currency (CZK, EUR, PLN, ILS, USD, ...): a sorted table in event.cpp. The
// codes for metals, bond units, testing and "no currency" (XAU, XBA, XTS, XXX, ...) are left
// out: nothing is bought in them. Checked on input only; stored rows are read as they are.
bool is_currency_code(std::string_view s);

// ---- event times ---------------------------------------------------------------------------

// How far from the receiver's clock an event's `time` may be. Integrations send the time
// something happened: a little ahead is clock skew, far ahead is a mistake that would stay the
// contact's latest answer for good; old times are imports of purchase history, but nothing
// closeloop keeps happened before 1970 (limits `event_max_future`, `event_max_age`).
struct EventTimeWindow {
    Duration max_future{0, 1, 0};     // P1D
    Duration max_age{12 * 30, 0, 0};  // P30Y
    bool operator==(const EventTimeWindow&) const = default;
};

// nullopt when `time` is within `window` around `now` and not before 1970-01-01; else an
// error at `path` ("time", "events[3].time").
std::optional<Error> check_event_time(Time time, Time now, const EventTimeWindow& window,
                                      const std::string& path = "time");

}  // namespace closeloop
