// closeloop server — unsubscribe links: a signed token per workspace, contact and address.
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

// "<public url>/unsubscribe/<token>".
std::string unsubscribe_url(std::string_view public_url, std::string_view token);

}  // namespace closeloop::server
