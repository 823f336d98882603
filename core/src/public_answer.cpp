#include "closeloop/public_answer.h"

#include <algorithm>

#include "closeloop/detail/json_read.h"

namespace closeloop {

using detail::Fields;
using nlohmann::json;

namespace {

Error forbidden(std::string path, std::string message) {
    return {"forbidden", std::move(message), std::move(path)};
}

// What a contact object may not carry with a publishable key: every profile field, and the
// card's read-only ones (an admin may post a card back; a public caller has no card to post).
constexpr std::string_view profile_fields[] = {"email",    "first_name", "last_name", "locale",     "owner",     "vip",
                                               "tags",     "attributes", "rfm",       "phone",      "nps",       "csat",
                                               "vouchers", "tasks",      "timeline",  "created_at", "updated_at"};

bool is_hex64(std::string_view s) {
    return s.size() == 64 &&
           std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool is_visitor_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

const char* const naming_help =
    "a publishable key names a contact only with proof: contact.token (an answer token from an e-mail link) or "
    "contact.id with contact.hash (the HMAC-SHA256 of the id under the workspace's identity secret); send "
    "contact.visitor, or no contact, for an anonymous visitor";

Result<AnswerIdentity> identity_from_json(const json& c, const std::string& path) {
    if (c.is_string()) return forbidden(path, naming_help);
    if (!c.is_object()) return invalid_field(path, std::string("must be an object, not ") + detail::json_type_name(c));
    for (const auto& [k, _] : c.items())
        if (std::find(std::begin(profile_fields), std::end(profile_fields), k) != std::end(profile_fields))
            return forbidden(join_path(path, k), "a publishable key cannot create or change a contact's profile (" + k +
                                                     "): send profile fields from your server with the admin key");
    Fields f(c, path);
    f.reject_unknown({"token", "id", "hash", "visitor"});
    if (!f.ok()) return f.error();
    AnswerIdentity id;
    const auto token = f.string("token", false, 2048, 1);
    const auto contact = f.string("id", false, 128, 1);
    const auto hash = f.string("hash", false, 64, 1);
    const auto visitor = f.string("visitor", false, max_visitor_id, 1);
    if (!f.ok()) return f.error();
    const int given = (token ? 1 : 0) + (contact || hash ? 1 : 0) + (visitor ? 1 : 0);
    if (given > 1)
        return invalid_field(path, "give one of contact.token, contact.id with contact.hash, or contact.visitor");
    if (token) {
        id.kind = AnswerIdentityKind::token;
        id.token = *token;
    } else if (contact || hash) {
        if (!contact) return missing_field(f.at("id"));
        if (!hash) return forbidden(f.at("id"), naming_help);
        if (!is_hex64(*hash))
            return invalid_field(f.at("hash"), "must be the 64 lower-case hex digits of an HMAC-SHA256");
        id.kind = AnswerIdentityKind::signed_id;
        id.contact_id = *contact;
        id.hash = *hash;
    } else if (visitor) {
        if (!std::all_of(visitor->begin(), visitor->end(), is_visitor_char))
            return invalid_field(f.at("visitor"), "must be 1-64 letters, digits, '-' or '_'");
        id.kind = AnswerIdentityKind::visitor;
        id.visitor = *visitor;
    }
    return id;
}

}  // namespace

Result<PublicAnswer> public_answer_from_json(const json& j, const std::string& path) {
    if (auto err = detail::expect_object(j, path)) return *err;
    Fields f(j, path);
    const auto type = f.string("type", true, 64, 1);
    if (!f.ok()) return f.error();
    const EventType kind = event_type_of(*type);
    if (kind != EventType::nps_response && kind != EventType::csat_response)
        return forbidden(f.at("type"), "a publishable key may only post survey answers (nps_response, csat_response)");
    if (f.find("time"))
        return forbidden(f.at("time"), "a public answer takes the server's receive time: leave time out");
    if (f.find("id")) {
        const auto given = f.string("id", true, max_public_event_id, 1);
        if (!f.ok()) return f.error();
        (void)given;
    }

    PublicAnswer out;
    if (const json* c = f.find("contact")) {
        auto identity = identity_from_json(*c, f.at("contact"));
        if (!identity) return identity.error();
        out.identity = std::move(*identity);
    }

    // Only the fields the answer's type documents: a public caller has no use for more, and
    // each extra one would be stored as given.
    if (const json* data = f.find("data"); data && data->is_object()) {
        Fields d(*data, f.at("data"));
        if (kind == EventType::nps_response)
            d.reject_unknown({"score", "comment", "survey", "channel"});
        else
            d.reject_unknown({"score", "comment", "ticket_id", "agent", "topic", "survey", "channel"});
        if (!d.ok()) return d.error();
    }

    // The rest is an ordinary event; its contact is named by the server after the proof.
    json doc = j;
    doc["contact"] = "-";
    auto event = event_from_json(doc, path);
    if (!event) return event.error();
    out.event = std::move(*event);
    out.event.contact = ContactPatch{};
    if (!out.event.id.empty()) out.event.id = std::string(public_event_id_prefix) + out.event.id;
    return out;
}

}  // namespace closeloop
