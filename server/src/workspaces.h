// closeloop server — workspaces and their keys: the demo workspace on first start, and more
// from the command line (`closeloop workspace create`).
#pragma once

#include <optional>
#include <string>

#include "closeloop/result.h"
#include "store/store.h"

namespace closeloop::server {

struct CreatedWorkspace {
    Workspace workspace;
    std::string admin_key;        // shown once, stored only as its hash
    std::string publishable_key;  // for the widget: may only post survey answers
};

// Slugs are 1-64 lower-case letters, digits and '-', starting with a letter or digit.
bool is_valid_workspace_slug(const std::string& slug);

// Creates a workspace with a new admin key (or `admin_key` when given) and a publishable key.
// Errors: a bad or taken slug, an admin key shorter than 24 characters.
Result<CreatedWorkspace> create_workspace(Store& store, const std::string& slug, const std::string& name,
                                          const std::optional<std::string>& admin_key, Time now);

// On a database without workspaces: creates "demo", with `bootstrap_key` (the value of
// CLOSELOOP_BOOTSTRAP_KEY) as its admin key when given. nullopt when workspaces exist.
Result<std::optional<CreatedWorkspace>> bootstrap_demo_workspace(Store& store,
                                                                 const std::optional<std::string>& bootstrap_key,
                                                                 Time now);

// A new key for a workspace (`closeloop keys create`): a random one, or `key` when given
// (at least 24 characters, not a key already known). Returns the key (shown once) and its id.
struct AddedKey {
    std::string key, id;
};
Result<AddedKey> add_workspace_key(Store& store, const std::string& slug, KeyKind kind,
                                   const std::optional<std::string>& key, Time now);

// CLOSELOOP_BOOTSTRAP_KEY on a start where workspaces exist already: the key is added to
// "demo" as an admin key unless it is known, so the README's walk-through works whichever
// start came first.
enum class BootstrapKey { added, present, revoked, elsewhere, no_demo, too_short };
BootstrapKey ensure_bootstrap_key(Store& store, const std::string& key, Time now);

}  // namespace closeloop::server
