// closeloop builder — the editor's state shared by its parts (canvas, palette, inspector,
// simulator panel): the edit history, what is derived from the document (cached per
// revision, so 200 nodes cost no JSON walking per frame), the view and the last simulation.
//
// Sections: derived views, the state, helpers each part calls.
#pragma once

#include <imgui.h>

#include <cstddef>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "closeloop/render.h"
#include "closeloop/scenario.h"
#include "closeloop/scenario_edit.h"
#include "closeloop/voucher.h"
#include "editor.h"

namespace closeloop::web {

// ---- derived views -------------------------------------------------------------------------

struct PortView {
    std::string name;    // as core names it: "then", "cases[1]", "next"
    std::string label;   // as drawn: "then", "event.score >= 9", "50 %"
    std::string target;  // linked node id, "" = none
};

// One node as drawn, rebuilt from the document when its revision changes.
struct NodeView {
    std::string id, kind, action;  // kind: condition, switch, split, wait, action
    std::string title, summary;
    ImU32 header = 0;
    std::vector<PortView> ports;
    ImVec2 pos, size;  // world units
    int errors = 0;
    std::string first_error;
};

struct NoteView {
    std::string id, text;
    ImVec2 pos, size;
};

// Screen rectangles recorded while drawing, for Editor::geometry().
struct Rect {
    float x = 0, y = 0, w = 0, h = 0;
};
struct NodeGeometry {
    Rect box;
    ImVec2 input;
    std::vector<std::pair<std::string, ImVec2>> ports;
};

// ---- the state -----------------------------------------------------------------------------

enum class Drag { none, pan, box, nodes, link, note };

struct EditorState {
    edit::EditHistory history;
    WorkspaceCatalog catalog;
    bool catalog_known = false;
    std::map<std::string, MessageTemplate> templates;  // the catalog as core reads it
    std::map<std::string, VoucherCampaign> campaigns;
    nlohmann::json action_specs;  // core's action_specs_json()
    std::size_t saved_revision = 0;

    // Derived from the document (refresh()).
    std::size_t view_revision = static_cast<std::size_t>(-1);
    bool errors_stale = true;  // ui-only edits keep the errors
    std::vector<ScenarioError> errors;
    std::vector<NodeView> nodes;
    std::unordered_map<std::string, std::size_t> node_index;
    std::vector<NoteView> notes;
    std::string start;

    // View state (not in the document).
    ImVec2 offset{40, 40};  // screen offset of world (0,0) from the canvas origin
    float zoom = 1.0f;
    bool fit_pending = true;
    bool fit_readable = true;         // fit, but never smaller than readable (on open)
    std::set<std::string> selection;  // node ids
    std::string selected_note;
    std::string editing_note;  // note whose text is in the page's text overlay

    // Interaction.
    Drag drag = Drag::none;
    ImVec2 drag_start;                 // screen
    ImVec2 drag_delta;                 // world, for moving nodes / a note
    std::string link_from, link_port;  // the port a link is dragged from
    std::string link_was;              // the target the dragged link had ("" = a new link)
    bool canvas_focused = false;       // keys go to the canvas
    bool box_tool = false;             // a drag on the background selects (else it pans)
    ImVec2 canvas_min, canvas_max;     // screen rectangle of the canvas
    std::string status;                // last refusal or hint
    double status_time = -1000;        // ImGui time it was set
    ImVec2 status_at{-1, -1};          // where a refused canvas gesture ended (screen), or -1
    std::string link_hover;            // node under a dragged link ...
    std::string link_hover_refusal;    // ... and why core would refuse linking to it ("" = fine)
    std::string rename_buffer, rename_node;

    // Simulation shown on the canvas.
    nlohmann::json last_simulation;                            // array of runs, or null
    std::set<std::string> path_nodes;                          // nodes on the shown run's path
    std::set<std::pair<std::string, std::string>> path_links;  // (from, to)
    std::map<std::string, std::string> trace_text;             // node -> deciding value(s)
    std::map<std::string, long> pass_counts;                   // sample set: node -> runs through it
    bool show_pass_counts = false;

    // Geometry of this frame, in ImGui coordinates (CSS pixels).
    Rect canvas_rect, inspector_rect, simulator_rect, preview_rect;
    std::unordered_map<std::string, NodeGeometry> node_geometry;
    std::map<std::string, Rect> palette_geometry, note_geometry;
    std::vector<std::pair<ScenarioError, Rect>> error_geometry;
    std::map<std::string, Rect> widget_geometry;  // "simulate_button", "score_slider", "tidy_button", ...

    // Time spent in Editor::draw (ms): the last frame, and the sum over draw_frames frames.
    double draw_ms = 0, draw_ms_total = 0;
    long draw_frames = 0;

    // The right-hand panel: 0 inspector, 1 simulator.
    int right_tab = 0;
    int tab_request = -1;  // switch to this tab next frame
    struct Simulator;
    Simulator* sim = nullptr;
};

// ---- helpers each part calls ---------------------------------------------------------------

// Rebuilds the derived views when the document's revision changed.
void refresh(EditorState& s);
// Applies a command; a refusal goes to the status line. ui_only: the errors stay valid.
bool run(EditorState& s, const edit::Command& command, bool ui_only = false);
void set_status(EditorState& s, std::string text);
const NodeView* find_node(const EditorState& s, const std::string& id);
// Opens a note's text in the page's overlay (the canvas's double-click, a new note).
void edit_note(EditorState& s, const NoteView& note);
// Centres the canvas on a node (the validation panel's click).
void focus_node(EditorState& s, const std::string& id);
void fit_to_content(EditorState& s);
void record(std::map<std::string, Rect>& where, const std::string& key);  // the last ImGui item

// World <-> screen.
inline ImVec2 to_screen(const EditorState& s, ImVec2 w) {
    return ImVec2(s.canvas_min.x + s.offset.x + w.x * s.zoom, s.canvas_min.y + s.offset.y + w.y * s.zoom);
}
inline ImVec2 to_world(const EditorState& s, ImVec2 p) {
    return ImVec2((p.x - s.canvas_min.x - s.offset.x) / s.zoom, (p.y - s.canvas_min.y - s.offset.y) / s.zoom);
}

// The parts, each drawing inside the current ImGui window.
void draw_canvas(EditorState& s, ImVec2 size);
void draw_palette(EditorState& s);
void draw_inspector(EditorState& s);
void draw_validation(EditorState& s);
void draw_simulator(EditorState& s);
void simulator_create(EditorState& s);
void simulator_destroy(EditorState& s);
// Where the e-mail preview goes (beside the canvas), and hiding it when the panel closes.
void simulator_preview(EditorState& s, Rect beside);
void clear_simulation(EditorState& s);
bool simulator_has_preview(const EditorState& s);   // a run sent e-mails to show
std::string simulator_error(const EditorState& s);  // why the last run did not run ("" = it ran)

// Small widgets: ImGui text input on a std::string (1.86 has no imgui_stdlib in our build).
bool input_text(const char* label, std::string& text, ImGuiInputTextFlags flags = 0);
bool input_text_multiline(const char* label, std::string& text, ImVec2 size, ImGuiInputTextFlags flags = 0);

// Node sizes, shared by the canvas and the layout.
constexpr float node_width = 220, header_height = 26, summary_height = 22, port_row = 20;
constexpr float note_width = 200, note_height = 120;
constexpr float min_zoom = 0.05f, max_zoom = 2.5f;

}  // namespace closeloop::web
