#include "workspaces.h"

#include <algorithm>

#include "keys.h"

namespace closeloop::server {

namespace {
constexpr std::size_t min_key_length = 24;
}

bool is_valid_workspace_slug(const std::string& slug) {
    if (slug.empty() || slug.size() > 64) return false;
    const auto lower_alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
    return lower_alnum(slug.front()) &&
           std::all_of(slug.begin(), slug.end(), [&](char c) { return lower_alnum(c) || c == '-'; });
}

Result<CreatedWorkspace> create_workspace(Store& store, const std::string& slug, const std::string& name,
                                          const std::optional<std::string>& admin_key, Time now) {
    if (!is_valid_workspace_slug(slug))
        return invalid_field("slug", "must be 1-64 lower-case letters, digits or '-', starting with a letter or digit");
    if (name.empty() || name.size() > 200) return invalid_field("name", "must be 1-200 characters long");
    if (admin_key && admin_key->size() < min_key_length)
        return invalid_field("admin_key", "must be at least " + std::to_string(min_key_length) + " characters long");
    if (store.find_workspace(slug)) return Error{"conflict", "a workspace with this slug exists", "slug"};

    CreatedWorkspace out;
    out.admin_key = admin_key.value_or(new_api_key(KeyKind::admin));
    out.publishable_key = new_api_key(KeyKind::publishable);
    // The slug is UNIQUE in the store too: of two concurrent creators one fails.
    store.write([&](WriteTx& tx) {
        out.workspace = tx.create_workspace(slug, name, now);
        tx.add_key(out.workspace.id, KeyKind::admin, sha256_hex(out.admin_key), key_prefix(out.admin_key), now);
        tx.add_key(out.workspace.id, KeyKind::publishable, sha256_hex(out.publishable_key),
                   key_prefix(out.publishable_key), now);
    });
    return out;
}

Result<std::optional<CreatedWorkspace>> bootstrap_demo_workspace(Store& store,
                                                                 const std::optional<std::string>& bootstrap_key,
                                                                 Time now) {
    if (!store.workspaces().empty()) return std::optional<CreatedWorkspace>{};
    auto created = create_workspace(store, "demo", "Demo", bootstrap_key, now);
    if (!created) {
        Error e = created.error();
        if (e.path == "admin_key") e.path = "CLOSELOOP_BOOTSTRAP_KEY";
        return e;
    }
    return std::optional<CreatedWorkspace>{std::move(*created)};
}

Result<AddedKey> add_workspace_key(Store& store, const std::string& slug, KeyKind kind,
                                   const std::optional<std::string>& key, Time now) {
    const auto ws = store.find_workspace(slug);
    if (!ws) return Error{"not_found", "there is no workspace \"" + slug + "\"", "workspace"};
    if (key && key->size() < min_key_length)
        return invalid_field("key", "must be at least " + std::to_string(min_key_length) + " characters long");
    if (key && key->size() > 256) return invalid_field("key", "must be at most 256 characters long");
    AddedKey out;
    out.key = key.value_or(new_api_key(kind));
    const std::string hash = sha256_hex(out.key);
    if (store.find_key_info(hash)) return Error{"conflict", "this key exists already (or was revoked)", "key"};
    out.id = key_id_of(hash);
    store.write([&](WriteTx& tx) { tx.add_key(ws->id, kind, hash, key_prefix(out.key), now); });
    return out;
}

BootstrapKey ensure_bootstrap_key(Store& store, const std::string& key, Time now) {
    const auto info = store.find_key_info(sha256_hex(key));
    const auto demo = store.find_workspace("demo");
    if (info) {
        if (demo && info->workspace != demo->id) return BootstrapKey::elsewhere;
        return info->revoked_at ? BootstrapKey::revoked : BootstrapKey::present;
    }
    if (!demo) return BootstrapKey::no_demo;
    if (key.size() < min_key_length) return BootstrapKey::too_short;
    auto added = add_workspace_key(store, "demo", KeyKind::admin, key, now);
    return added ? BootstrapKey::added : BootstrapKey::present;
}

}  // namespace closeloop::server
