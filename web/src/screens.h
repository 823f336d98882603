// closeloop builder — the shell's screens: sign-in, the scenario list, and the editor's top
// bar (save, activate, pause, undo / redo, versions) around the Editor (editor.h).
//
// One App per page. It starts by asking the server for an existing session, so a reload
// keeps the marketer signed in (the cookie is HttpOnly: the page never sees the key).
#pragma once

#include <memory>
#include <nlohmann/json.hpp>

#include "editor.h"

namespace closeloop::web {

class App {
public:
    App();
    ~App();
    void start();                 // GET /api/v1/session, then the list or sign-in
    void draw(float w, float h);  // the whole UI, once a frame, in CSS pixels

    Editor& editor();
    bool editor_open() const;
    // Opens a document in the editor without the server (the test hook's loadScenario).
    void open_local(nlohmann::json scenario);
    // For the test hook: {"screen": "loading" | "sign_in" | "list" | "editor", "signed_in",
    // "scenario": id, "version", "unsaved", "message"}.
    nlohmann::json state() const;
    // For the test hook: the shell's buttons and fields drawn in the last frame, by name
    // ("sign_in_key", "new_scenario_button", "open:<id>", "save_button", ...): {x, y, w, h}.
    nlohmann::json geometry() const;

    struct State;

private:
    std::unique_ptr<State> s_;
};

App& app();

}  // namespace closeloop::web
