// closeloop — public answers: what an answer posted with a publishable key (the survey widget's,
// which anyone can read from a web page) may carry. The one home of that rule.
//
// A public answer is an nps_response or csat_response to the key's own workspace. It never
// creates or changes a contact's profile: it names a contact only through proof the server can
// check (an answer token the server issued, or an identity the customer's site signed), and
// otherwise stays an anonymous visitor's answer. The proofs are checked in the server (they
// need HMAC); this file only says which fields may come and what they mean.
//
//   "contact": {"token": "<answer token>"}                     a contact the server named (e-mail links)
//   "contact": {"id": "c-42", "hash": "<hex HMAC-SHA256>"}     a contact the site signed (logged-in visitors)
//   "contact": {"visitor": "v-8f2c..."}                        an anonymous visitor the widget remembers
//   no "contact"                                               an anonymous visitor, one answer
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "closeloop/event.h"
#include "closeloop/result.h"

namespace closeloop {

// At most this many answers in one request with a publishable key (a widget sends one).
inline constexpr std::size_t max_public_answers_per_request = 10;
// A public answer's own id is stored as "pub_<id>", so that a public caller cannot take (and
// so void) an event id an integrator will send later; ids are 1-64 characters.
inline constexpr std::string_view public_event_id_prefix = "pub_";
inline constexpr std::size_t max_public_event_id = 64;
// Contacts the server makes for anonymous visitors: "anon_<hex>", never an existing contact.
inline constexpr std::string_view anonymous_contact_prefix = "anon_";
inline constexpr std::size_t max_visitor_id = 64;

enum class AnswerIdentityKind {
    anonymous,  // no contact: a new anonymous contact for this answer
    visitor,    // an anonymous visitor id the widget keeps: one anonymous contact per visitor
    token,      // an answer token the server issued: the contact it names
    signed_id,  // a contact id with its hash under the workspace's identity secret
};

struct AnswerIdentity {
    AnswerIdentityKind kind = AnswerIdentityKind::anonymous;
    std::string token;       // kind token
    std::string contact_id;  // kind signed_id
    std::string hash;        // kind signed_id: lower-case hex, 64 digits
    std::string visitor;     // kind visitor
};

struct PublicAnswer {
    Event event;  // validated; event.contact.id is empty until the server resolves `identity`
    AnswerIdentity identity;
};

// Reads one public answer. Errors name the field under `path`; the code is "forbidden" (the
// server answers 403) for what a publishable key may not do at all, whatever the value: another
// event type, a `time`, a contact id without proof, any profile field (contact.email, .vip,
// .attributes, ...), and otherwise the usual invalid_field / missing_field (422).
Result<PublicAnswer> public_answer_from_json(const nlohmann::json& j, const std::string& path = "");

}  // namespace closeloop
