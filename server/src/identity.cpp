#include "identity.h"

#include "keys.h"
#include "unsubscribe.h"

namespace closeloop::server {

namespace {

constexpr std::string_view identity_setting = "identity_secret";

Error forbidden(std::string path, std::string message) {
    return {"forbidden", std::move(message), std::move(path)};
}

}  // namespace

std::string identity_secret(Store& store, WorkspaceId ws) {
    return workspace_secret(store, ws, identity_setting);
}

std::string rotate_identity_secret(Store& store, WorkspaceId ws, Time now) {
    const std::string fresh = random_hex(32);
    store.write([&](WriteTx& tx) { tx.put_setting(ws, std::string(identity_setting), fresh, now); });
    return fresh;
}

std::string contact_hash(std::string_view secret, std::string_view contact_id) {
    return hmac_sha256_hex(secret, contact_id);
}

Result<std::string> resolve_answer_contact(Store& store, WorkspaceId ws, const AnswerIdentity& identity,
                                           const std::string& path) {
    switch (identity.kind) {
        case AnswerIdentityKind::token: {
            const std::string at = join_path(path, "token");
            // Another workspace's token is refused before any secret is read: it would not
            // verify under this one's anyway, and its own workspace's secret is not ours to use.
            const auto named = answer_token_workspace(identity.token);
            if (!named) return forbidden(at, "is not an answer token (changed, cut short, or another kind of link)");
            if (*named != ws) return forbidden(at, "is an answer token of another workspace");
            const auto target = verify_answer_token(link_secret(store, ws), identity.token);
            if (!target) return forbidden(at, "is not an answer token this server signed");
            if (!store.contact_card(ws, target->contact, 0))
                return Error{"not_found", "the contact this link was made for no longer exists", at};
            return target->contact;
        }
        case AnswerIdentityKind::signed_id: {
            const std::string expected = contact_hash(identity_secret(store, ws), identity.contact_id);
            if (!secrets_equal(expected, identity.hash))
                return forbidden(join_path(path, "hash"),
                                 "does not match contact.id: it must be hex(HMAC-SHA256(identity secret, id)), the "
                                 "secret from GET /api/v1/workspace/identity");
            return identity.contact_id;
        }
        case AnswerIdentityKind::visitor:
            return std::string(anonymous_contact_prefix) +
                   hmac_sha256_hex(link_secret(store, ws), "visitor:" + identity.visitor).substr(0, 24);
        case AnswerIdentityKind::anonymous:
            break;
    }
    return std::string(anonymous_contact_prefix) + random_hex(12);
}

}  // namespace closeloop::server
