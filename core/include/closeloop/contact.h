// closeloop — the contact: a customer as the integrator knows them.
//
// Sections: Contact (the stored person), ContactPatch (an upsert: only the fields given),
// JSON. Computed fields of the customer card (RFM, NPS, CSAT, vouchers, tasks) are read-only:
// `rfm` is kept when given (the simulator takes it as is); the others are ignored on input.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "closeloop/result.h"
#include "closeloop/rfm.h"

namespace closeloop {

struct Contact {
    std::string id;  // the integrator's own id, 1-128 characters
    std::string email, first_name, last_name;
    std::string locale;  // BCP 47 language tag, e.g. "cs" or "pt-BR"; empty = workspace default
    std::string owner;   // the account owner's e-mail address
    bool vip = false;
    std::vector<std::string> tags;
    nlohmann::json attributes = nlohmann::json::object();  // name -> string, number or boolean
    std::optional<ContactRfm> rfm;                         // computed by rfm.h; scenarios read contact.rfm.segment

    bool has_tag(const std::string& tag) const;
    bool operator==(const Contact&) const = default;
};

// The fields an event or an upsert gives. Absent (or null) = unchanged; an empty string
// clears a text field; `tags` replaces the list; `attributes` merges, and an attribute set
// to null is removed.
struct ContactPatch {
    std::string id;
    std::optional<std::string> email, first_name, last_name, locale, owner;
    std::optional<bool> vip;
    std::optional<std::vector<std::string>> tags;
    std::optional<nlohmann::json> attributes;
    std::optional<ContactRfm> rfm;
    bool operator==(const ContactPatch&) const = default;
};

// What identifies the person in free text, for a GDPR erasure's list of mentions it cannot
// remove (a hand-made task, another contact's event). Empty = not searched for: the e-mail
// (compared case-insensitively); the full name "first last" (only when both parts are given:
// a first name alone would match strangers); the phone, the text attribute `phone` (or the
// first of `mobile`, `phone_number`), compared as written.
struct PersonalMarkers {
    std::string email, full_name, phone;
};
PersonalMarkers personal_markers(const Contact& contact);

// Applies an upsert to a stored contact (or to a new one holding only the id); true when it
// changed something. PatchRfm::ignore leaves the RFM scores as they are (they are computed,
// never taken from input).
enum class PatchRfm { apply, ignore };
bool apply(Contact& contact, const ContactPatch& patch, PatchRfm rfm = PatchRfm::apply);
Contact contact_from_patch(const ContactPatch& patch);

// ---- JSON ----------------------------------------------------------------------------------

// Reads a contact document; errors name the field under `path` ("contact.email").
Result<ContactPatch> contact_patch_from_json(const nlohmann::json& j, const std::string& path = "");
void to_json(nlohmann::json& j, const ContactPatch& patch);

Result<Contact> contact_from_json(const nlohmann::json& j, const std::string& path = "");
void to_json(nlohmann::json& j, const Contact& contact);

// Field checks shared with other documents.
bool is_valid_email(const std::string& s);
bool is_valid_locale(const std::string& s);

}  // namespace closeloop
