// closeloop builder — the scenario editor: canvas, palette, inspector, validation panel and
// the in-browser simulator, over one scenario document (core's edit::EditHistory).
//
// The shell (main.cpp, screens.cpp) owns sign-in, the scenario list, saving and versions; it
// opens a document here, draws the editor each frame in the space left to it, and asks
// whether there are unsaved changes. All rules come from core: edits (scenario_edit.h),
// validation (scenario.h), simulation (simulator.h).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "closeloop/scenario.h"
#include "closeloop/scenario_edit.h"

namespace closeloop::web {

// What exists in the workspace, for pickers and validation (loaded by the shell from the API).
struct WorkspaceCatalog {
    nlohmann::json templates = nlohmann::json::array();  // GET /api/v1/templates items
    nlohmann::json campaigns = nlohmann::json::array();  // GET /api/v1/voucher-campaigns items
    nlohmann::json endpoints = nlohmann::json::array();  // GET /api/v1/endpoints items: {id, name, kind}
    std::vector<std::string> roles;                      // GET /api/v1/roles
};

struct EditorState;

class Editor {
public:
    Editor();
    ~Editor();
    // Opens a document (a scenario without `ui` positions is laid out); clears undo / redo.
    void open(nlohmann::json scenario);
    void set_catalog(WorkspaceCatalog catalog);
    // Draws in the rectangle (ImGui coordinates) the shell leaves to it.
    void draw(float x, float y, float w, float h);

    const nlohmann::json& document() const;
    // The errors validation finds now (what the panel lists), as core returns them.
    const std::vector<ScenarioError>& errors() const;
    bool unsaved() const;
    void mark_saved();  // the document as it is now is what the server has

    // For the test hook (window.closeloopBuilder): where things are on screen, in CSS
    // pixels: {"nodes": {id: {x,y,w,h, "ports": {port: {x,y}}}}, "palette": {kind: {x,y}},
    //  "canvas": {x,y,w,h}, "simulate_button": {...}, ...}.
    nlohmann::json geometry() const;
    // The last in-browser simulation shown (the JSON array of runs), or null.
    nlohmann::json last_simulation() const;

    // A paste event's text while no text field is active: nodes copied with Ctrl+C (core's
    // copy_nodes JSON) are pasted at the mouse; false = not nodes (the shell may use the text).
    bool paste(const std::string& text);
    // Zooms by `factor` keeping (x, y) (ImGui coordinates) in place: for a pinch, which the
    // page sees as a wheel event with ctrlKey and GLFW reports as plain scrolling.
    void zoom_at(float factor, float x, float y);

private:
    EditorState* state_;  // editor_state.h
};

}  // namespace closeloop::web
