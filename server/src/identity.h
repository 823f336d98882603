// closeloop server — who answered a public survey: the proofs a public answer (public_answer.h)
// may carry, checked here because they need HMAC.
//
// Identity verification (for visitors signed in on the customer's site, as Intercom does it):
// the site computes contact.hash = hex(HMAC-SHA256(identity secret, contact id)) on its server
// and gives it to the widget with the id. The identity secret is per workspace (setting
// "identity_secret", made on first use; GET /api/v1/workspace/identity shows it to an admin).
// Answer tokens (unsubscribe.h) are the server's own proof, for e-mail links.
#pragma once

#include <string>
#include <string_view>

#include "closeloop/public_answer.h"
#include "closeloop/result.h"
#include "store/store.h"

namespace closeloop::server {

// The workspace's identity secret, made when it has none.
std::string identity_secret(Store& store, WorkspaceId ws);
// A new identity secret: every hash signed with the old one stops working.
std::string rotate_identity_secret(Store& store, WorkspaceId ws, Time now);
// hex(HMAC-SHA256(secret, contact id)).
std::string contact_hash(std::string_view secret, std::string_view contact_id);

// The contact id a public answer of workspace `ws` is stored under:
//   token     -> the contact it names (403 "forbidden" when forged, from another workspace, or
//                an unsubscribe token; 404 "not_found" when the contact is gone)
//   signed_id -> the id (403 "forbidden" when the hash does not match)
//   visitor   -> "anon_" + 24 hex of HMAC(link secret, "visitor:" + id): the same visitor keeps
//                one anonymous contact, and nobody can aim it at an existing contact's id
//   anonymous -> "anon_" + 24 random hex
// Error paths name the field under `path` ("contact.token").
Result<std::string> resolve_answer_contact(Store& store, WorkspaceId ws, const AnswerIdentity& identity,
                                           const std::string& path);

}  // namespace closeloop::server
