#include "closeloop/event.h"

#include <algorithm>
#include <array>
#include <string>

#include "closeloop/detail/json_read.h"

namespace closeloop {

using detail::Fields;
using nlohmann::json;

namespace {

constexpr std::array<std::pair<std::string_view, EventType>, 7> builtin_types = {{
    {"nps_response", EventType::nps_response},
    {"csat_response", EventType::csat_response},
    {"purchase", EventType::purchase},
    {"ticket_resolved", EventType::ticket_resolved},
    {"ticket_tagged", EventType::ticket_tagged},
    {"voucher_redeemed", EventType::voucher_redeemed},
    {"voucher_assigned", EventType::voucher_assigned},
}};

// Active ISO 4217 codes (the list of SIX, the maintenance agency), sorted for binary search.
// Kept: national currencies and the fund codes some countries price in (BOV, CHE, CLF, COU,
// MXV, USN, UYI, UYW), XAF, XCD, XCG, XDR, XOF, XPF; ANG and ZWL stay beside their successors
// (XCG, ZWG) while both are in use. Left out: metals, bond units, XSU, XUA, XTS, XXX, and
// withdrawn codes (HRK, LTL, ...).
constexpr std::array<std::string_view, 170> iso_4217_codes = {{
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BGN", "BHD", "BIF",
    "BMD", "BND", "BOB", "BOV", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHE", "CHF", "CHW", "CLF",
    "CLP", "CNY", "COP", "COU", "CRC", "CUC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB",
    "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF", "IDR",
    "ILS", "INR", "IQD", "IRR", "ISK", "JMD", "JOD", "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD",
    "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR",
    "MVR", "MWK", "MXN", "MXV", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK",
    "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP",
    "SLE", "SLL", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TND", "TOP", "TRY", "TTD",
    "TWD", "TZS", "UAH", "UGX", "USD", "USN", "UYI", "UYU", "UYW", "UZS", "VED", "VES", "VND", "VUV", "WST", "XAF",
    "XCD", "XCG", "XDR", "XOF", "XPF", "YER", "ZAR", "ZMW", "ZWG", "ZWL",
}};
static_assert(std::is_sorted(iso_4217_codes.begin(), iso_4217_codes.end()));

constexpr std::size_t max_comment = 10000;
constexpr std::size_t max_id = 128;
constexpr std::size_t max_label = 128;

}  // namespace

EventType event_type_of(std::string_view name) {
    for (const auto& [n, t] : builtin_types)
        if (n == name) return t;
    return EventType::custom;
}

std::string_view event_type_name(EventType type) {
    for (const auto& [n, t] : builtin_types)
        if (t == type) return n;
    return "custom";
}

bool is_valid_event_type_name(std::string_view name) {
    if (name.empty() || name.size() > 64 || name[0] < 'a' || name[0] > 'z') return false;
    return std::all_of(name.begin(), name.end(),
                       [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; });
}

bool is_currency_code(std::string_view s) {
    return std::binary_search(iso_4217_codes.begin(), iso_4217_codes.end(), s);
}

std::optional<Error> check_event_time(Time time, Time now, const EventTimeWindow& window, const std::string& path) {
    if (time.ms < 0) return invalid_field(path, "must not be before 1970-01-01T00:00:00Z");
    if (time > add(now, window.max_future))
        return invalid_field(path, "must not be more than " + format_duration(window.max_future) +
                                       " after the server's time " + format_time(now) + " (event_max_future)");
    if (time < subtract(now, window.max_age))
        return invalid_field(path, "must not be more than " + format_duration(window.max_age) +
                                       " before the server's time " + format_time(now) + " (event_max_age)");
    return std::nullopt;
}

std::optional<Error> validate_event_data(EventType type, const json& data, const std::string& path) {
    Fields f(data, path);
    switch (type) {
        case EventType::nps_response:
            f.integer("score", true, 0, 10);
            f.string("comment", false, max_comment);
            f.string("survey", false, max_label);
            f.string("channel", false, 64);
            break;
        case EventType::csat_response:
            f.integer("score", true, 1, 5);
            f.string("comment", false, max_comment);
            f.string("ticket_id", false, max_id);
            f.string("agent", false, 254);
            f.string("topic", false, max_label);
            f.string("survey", false, max_label);
            f.string("channel", false, 64);
            break;
        case EventType::purchase: {
            f.string("order_id", true, max_id, 1);
            f.number("amount", true, 0, 1e12, "0-1e12");  // the bound RFM sums in integer cents
            if (auto cur = f.string("currency", true, 3); cur && !is_currency_code(*cur))
                f.fail("currency", "must be an active ISO 4217 currency code such as EUR or CZK");
            if (const json* items = f.find("items"); items && !items->is_array())
                f.fail("items", std::string("must be an array, not ") + detail::json_type_name(*items));
            break;
        }
        case EventType::ticket_resolved:
            f.string("ticket_id", true, max_id, 1);
            f.string("agent", false, 254);
            f.string("group", false, max_label);
            break;
        case EventType::ticket_tagged:
            f.string("ticket_id", true, max_id, 1);
            f.string("tag", true, 64, 1);
            break;
        case EventType::voucher_redeemed: {
            const auto code = f.string("code", false, 64, 1);
            const auto campaign = f.string("campaign", false, max_id, 1);
            if (f.ok() && !code && !campaign)
                f.fail(invalid_field(f.at("code"), "give the voucher's code or its campaign"));
            break;
        }
        case EventType::voucher_assigned:
            f.string("campaign", true, max_id, 1);
            f.string("code", true, 64, 1);
            f.number("value", true, 0, 1e15, ">= 0");
            if (auto cur = f.string("currency", false, 3); cur && !is_currency_code(*cur))
                f.fail("currency", "must be an active ISO 4217 currency code such as EUR or CZK");
            f.time("expires_at", true);
            break;
        case EventType::custom:
            break;
    }
    if (!f.ok()) return f.error();
    return std::nullopt;
}

Result<Event> event_from_json(const json& j, const std::string& path) {
    Fields f(j, path);
    if (!f.ok()) return f.error();
    Event e;
    e.id = f.string("id", false, max_id, 1).value_or("");
    e.type = f.string("type", true, 64, 1).value_or("");
    if (f.ok() && !is_valid_event_type_name(e.type))
        f.fail("type",
               "must be a built-in type (nps_response, csat_response, purchase, ...) or a custom name "
               "of lower-case letters, digits and '_'");
    e.kind = event_type_of(e.type);
    e.time = f.time("time", false);
    if (f.ok()) {
        if (const json* c = f.find("contact")) {
            auto contact = contact_patch_from_json(*c, f.at("contact"));
            if (contact)
                e.contact = std::move(*contact);
            else
                f.fail(contact.error());
        } else {
            f.fail(missing_field(f.at("contact")));
        }
    }
    if (f.ok()) {
        if (const json* data = f.find("data")) {
            if (!data->is_object())
                f.fail("data", std::string("must be an object, not ") + detail::json_type_name(*data));
            else
                e.data = *data;
        }
    }
    if (f.ok()) {
        if (auto err = validate_event_data(e.kind, e.data, f.at("data"))) f.fail(*err);
    }
    if (f.ok()) f.reject_unknown({"id", "type", "time", "contact", "data"});
    if (!f.ok()) return f.error();
    return e;
}

void to_json(json& j, const Event& e) {
    j = json::object();
    if (!e.id.empty()) j["id"] = e.id;
    j["type"] = e.type;
    if (e.time) j["time"] = format_time(*e.time);
    j["contact"] = e.contact;
    j["data"] = e.data;
}

std::optional<int> Event::score() const {
    if (kind != EventType::nps_response && kind != EventType::csat_response) return std::nullopt;
    const auto it = data.find("score");
    if (it == data.end() || !it->is_number()) return std::nullopt;
    return static_cast<int>(it->get<double>());
}

std::string Event::text(std::string_view key) const {
    const auto it = data.find(key);
    if (it == data.end() || !it->is_string()) return "";
    return it->get<std::string>();
}

}  // namespace closeloop
