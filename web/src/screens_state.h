// closeloop builder — the shell's state, shared by the screens' files (screens.cpp: session
// and sign-in; screens_list.cpp: the scenario list; screens_editor.cpp: the editor's top bar,
// saving, the lifecycle and versions). Not part of any interface.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "api_client.h"
#include "editor.h"
#include "screens.h"

namespace closeloop::web {

enum class Screen { loading, sign_in, list, editor };

// A line shown under the top bar until replaced or dismissed.
struct Banner {
    enum class Kind { none, info, success, error } kind = Kind::none;
    std::string text;
    double shown_at = 0;  // ms (now_ms); info and success fade after a while
};

struct App::State {
    Screen screen = Screen::loading;
    Editor editor;
    Banner banner;

    // ---- session -------------------------------------------------------------------------
    bool signed_in = false;
    std::string workspace;        // as the session names it
    std::string sign_in_message;  // why the sign-in screen is shown (expired, wrong key, down)
    bool sign_in_busy = false;
    bool resume_editor = false;  // signing in again returns to the open document
    bool focus_key = false;      // put the cursor in the key field on the next frame
    char key[256] = {};          // the admin key while typed; cleared once sent

    // ---- the list ------------------------------------------------------------------------
    nlohmann::json scenarios = nlohmann::json::array();
    bool list_loading = false;
    bool list_loaded = false;
    nlohmann::json examples = nlohmann::json::array();
    bool examples_loading = false;
    std::string list_filter_text;
    // Dialogs of the list (ImGui popups opened by name on the next frame).
    std::string open_popup;
    char new_id[72] = {}, new_name[160] = {};
    std::string dialog_error;
    std::string duplicate_of;  // the scenario a "duplicate" dialog copies
    std::string delete_id;     // the scenario a "delete" confirmation names
    std::string example_id;    // the example an "install" dialog installs
    bool dialog_busy = false;

    // ---- the document open in the editor ----------------------------------------------------
    std::string scenario_id;
    std::string scenario_status;  // draft | active | paused
    long version = 0;             // the version opened or last saved
    std::string etag;             // what If-Match sends ("\"3\"")
    bool saving = false, changing_status = false, opening = false;
    std::vector<nlohmann::json> activation_errors;  // the server's 422 list
    long conflict_version = 0;                      // the server's version when a save met 412
    bool leave_pending = false;                     // asked to leave with unsaved changes
    bool local_document = false;                    // opened by the test hook, not from the server

    // ---- versions --------------------------------------------------------------------------
    bool versions_open = false, versions_loading = false, diff_loading = false;
    nlohmann::json versions = nlohmann::json::array();
    long diff_from = 0, diff_to = 0;
    nlohmann::json diff;  // null until asked
    std::string versions_error;

    // ---- for the test hook: where the shell's buttons and fields are this frame ------------------
    nlohmann::json marks = nlohmann::json::object();

    // ---- the catalog (pickers and validation) ------------------------------------------------
    WorkspaceCatalog catalog;
    int catalog_pending = 0;
};

// Shared between the screens' files.
void show_banner(App::State& s, Banner::Kind kind, std::string text);
void go_to_sign_in(App::State& s, std::string message);
void load_list(App::State& s);
void load_catalog(App::State& s);
void open_scenario(App::State& s, const std::string& id);

void draw_sign_in(App::State& s, float w, float h);
void draw_list(App::State& s, float y, float w, float h);
void draw_editor_screen(App::State& s, float w, float h);
void draw_banner(App::State& s, float y, float w);

// Notes where the last ImGui item is, under `name` (test hook geometry, CSS pixels).
void mark(App::State& s, const char* name);

// The array under `key` in a list answer ({"scenarios": [...]}), or the body when it is one.
nlohmann::json list_of(const nlohmann::json& body, const char* key);
// "2026-12-03 19:40" from an RFC 3339 time (UTC).
std::string short_time(const std::string& rfc3339);
// A string field of an object, or "".
std::string text_of(const nlohmann::json& j, const char* key);

inline constexpr float top_bar_height = 48.0f;

}  // namespace closeloop::web
