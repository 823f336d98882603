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

}  // namespace closeloop::server
