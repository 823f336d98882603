// closeloop server — signed links: unsubscribe tokens (per workspace, contact and address) and
// answer tokens (per workspace and contact: a survey link's proof of whose answer it is).
//
// The token is what `List-Unsubscribe` and {{links.unsubscribe}} carry: anyone holding the
// e-mail can unsubscribe its recipient, nobody can forge a token for another address. It is
// "<payload>.<signature>", both base64url: the payload is {"w": workspace, "c": contact,
// "a": address} as JSON, the signature the first 16 bytes of HMAC-SHA256 under the workspace's
// link secret (setting "link_secret", made on first use).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "store/store.h"

namespace closeloop::server {

struct UnsubscribeTarget {
    WorkspaceId workspace = 0;
    std::string contact, address;
};

std::string unsubscribe_token(std::string_view secret, const UnsubscribeTarget& target);
// The workspace the token names, without checking it (to find the secret to check it with).
std::optional<WorkspaceId> token_workspace(std::string_view token);
// The target when the token is well formed and signed with `secret`.
std::optional<UnsubscribeTarget> verify_unsubscribe_token(std::string_view secret, std::string_view token);

// The workspace's link secret, made and stored when it has none (outside a unit of work).
std::string link_secret(Store& store, WorkspaceId ws);
// A workspace's secret in setting `name` (32 random bytes, hex), made and stored when it has none.
std::string workspace_secret(Store& store, WorkspaceId ws, std::string_view name);

// Answer tokens: what survey e-mails put in their links ({{links.answer_token}}) so that an
// answer posted with the publishable key names its contact. Same shape and secret as the
// unsubscribe token, but the payload is {"p": "answer", "w": workspace, "c": contact} and the
// signature covers "answer." + payload: neither kind of token passes for the other.
struct AnswerTarget {
    WorkspaceId workspace = 0;
    std::string contact;
};
std::string answer_token(std::string_view secret, const AnswerTarget& target);
// The workspace an answer token names, unchecked (to find the secret to check it with).
std::optional<WorkspaceId> answer_token_workspace(std::string_view token);
std::optional<AnswerTarget> verify_answer_token(std::string_view secret, std::string_view token);

// "<public url>/unsubscribe/<token>".
std::string unsubscribe_url(std::string_view public_url, std::string_view token);

}  // namespace closeloop::server
