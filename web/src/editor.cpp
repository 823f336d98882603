// closeloop builder — the scenario editor: the frame around its parts (toolbar, palette,
// canvas, inspector / simulator, validation strip), keyboard shortcuts, the views derived
// from the document and the geometry the browser tests read.
//
// Sections: derived views, commands, Editor, drawing the frame, shortcuts, geometry.
#include "editor.h"

#include <imgui.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "closeloop/actions.h"
#include "editor_state.h"
#include "platform.h"

namespace closeloop::web {

using nlohmann::json;

// ---- derived views -------------------------------------------------------------------------

namespace {

std::string text_of(const json& j, const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// A coordinate of a hand-written `ui` block: anything but a number reads as 0 (json's value()
// would throw, and a throw aborts the WebAssembly module).
float number_of(const json& j, const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_number() ? it->get<float>() : 0.0f;
}

ImU32 header_colour(const std::string& kind, const std::string& action) {
    if (kind == "condition") return IM_COL32(59, 111, 182, 255);
    if (kind == "switch") return IM_COL32(122, 79, 176, 255);
    if (kind == "split") return IM_COL32(42, 140, 130, 255);
    if (kind == "wait") return IM_COL32(176, 122, 42, 255);
    if (action == "send_email") return IM_COL32(47, 138, 76, 255);
    if (action == "assign_voucher") return IM_COL32(196, 104, 43, 255);
    if (action == "notify" || action == "create_task") return IM_COL32(184, 72, 63, 255);
    if (action == "webhook") return IM_COL32(74, 90, 117, 255);
    if (action == "send_survey") return IM_COL32(47, 127, 160, 255);
    return IM_COL32(107, 123, 58, 255);  // tags and attributes
}

// "cases[2]" -> 2; -1 when the port is not indexed.
int port_index(const std::string& port) {
    auto open = port.find('[');
    if (open == std::string::npos) return -1;
    return std::atoi(port.c_str() + open + 1);
}

std::string port_label(const json& node, const std::string& port) {
    int i = port_index(port);
    if (i < 0) return port;
    if (port.rfind("cases", 0) == 0) {
        const json* cases = node.contains("cases") ? &node["cases"] : nullptr;
        if (cases && cases->is_array() && i < static_cast<int>(cases->size())) {
            std::string when = text_of((*cases)[static_cast<std::size_t>(i)], "when");
            if (!when.empty()) return when;
        }
        return "case " + std::to_string(i + 1);
    }
    const json* branches = node.contains("branches") ? &node["branches"] : nullptr;
    if (branches && branches->is_array() && i < static_cast<int>(branches->size())) {
        const json& b = (*branches)[static_cast<std::size_t>(i)];
        if (b.contains("percent") && b["percent"].is_number()) return b["percent"].dump() + " %";
    }
    return "branch " + std::to_string(i + 1);
}

std::string param_summary(const EditorState& s, const json& node, const std::string& action) {
    const json* params = node.contains("params") && node["params"].is_object() ? &node["params"] : nullptr;
    if (!params) return action;
    // The first required parameter says most about an action (template, campaign, role, ...).
    for (const auto& spec : s.action_specs) {
        if (text_of(spec, "action") != action) continue;
        for (const auto& p : spec["params"]) {
            if (!p.value("required", false)) continue;
            std::string v = text_of(*params, text_of(p, "name").c_str());
            if (!v.empty()) return action + " · " + v;
        }
    }
    return action;
}

}  // namespace

void refresh(EditorState& s) {
    if (s.history.revision() == s.view_revision) return;
    s.view_revision = s.history.revision();
    const json& doc = s.history.document();

    if (s.errors_stale) {
        Catalog catalog;
        if (s.catalog_known) {
            catalog.templates = &s.templates;
            catalog.campaigns = &s.campaigns;
        }
        s.errors = validate_document(doc, catalog);
        // The path shown was taken by the scenario as it was: after an edit it would mislead.
        if (!s.last_simulation.is_null() || !s.pass_counts.empty()) clear_simulation(s);
    }
    s.errors_stale = true;

    std::unordered_map<std::string, std::pair<int, std::string>> problems;
    for (const auto& e : s.errors) {
        auto& p = problems[e.node];
        if (p.first++ == 0) p.second = (e.field.empty() ? "" : e.field + ": ") + e.message;
    }

    s.start = text_of(doc, "start");
    s.nodes.clear();
    s.node_index.clear();
    const json empty = json::object();
    const json& ui = doc.contains("ui") && doc["ui"].is_object() ? doc["ui"] : empty;
    if (doc.contains("nodes") && doc["nodes"].is_array()) {
        for (const auto& n : doc["nodes"]) {
            if (!n.is_object()) continue;
            NodeView v;
            v.id = text_of(n, "id");
            v.kind = text_of(n, "type");
            v.action = text_of(n, "action");
            std::string label = text_of(n, "label");
            v.title = label.empty() ? v.id : label;
            if (v.kind == "condition") {
                v.summary = "if " + text_of(n, "if");
            } else if (v.kind == "switch") {
                std::size_t ncases = n.contains("cases") && n["cases"].is_array() ? n["cases"].size() : 0;
                v.summary = "switch · first true of " + std::to_string(ncases);
            } else if (v.kind == "split") {
                v.summary = "split";
            } else if (v.kind == "wait") {
                std::string f = text_of(n, "for"), u = text_of(n, "until");
                v.summary = !f.empty() ? "wait " + f : !u.empty() ? "wait until " + u : "wait";
            } else {
                v.summary = param_summary(s, n, v.action);
            }
            v.header = header_colour(v.kind, v.action);
            for (const auto& port : edit::output_ports(n))
                v.ports.push_back({port, port_label(n, port), edit::linked(n, port).value_or("")});
            auto pos = ui.find(v.id);
            if (pos != ui.end() && pos->is_object())
                v.pos = ImVec2(number_of(*pos, "x"), number_of(*pos, "y"));
            else
                v.pos = ImVec2(40.0f * static_cast<float>(s.nodes.size() % 10),
                               40.0f * static_cast<float>(s.nodes.size() / 10));
            float rows = static_cast<float>(std::max<std::size_t>(1, v.ports.size()));
            v.size = ImVec2(node_width, header_height + summary_height + rows * port_row + 6);
            auto p = problems.find(v.id);
            if (p != problems.end() && !v.id.empty()) {
                v.errors = p->second.first;
                v.first_error = p->second.second;
            }
            s.node_index[v.id] = s.nodes.size();
            s.nodes.push_back(std::move(v));
        }
    }
    s.notes.clear();
    auto notes = ui.find("$notes");
    if (notes != ui.end() && notes->is_array()) {
        for (const auto& n : *notes) {
            if (!n.is_object()) continue;
            s.notes.push_back({text_of(n, "id"), text_of(n, "text"), ImVec2(number_of(n, "x"), number_of(n, "y")),
                               ImVec2(note_width, note_height)});
        }
    }
    // Selection is view state: forget what the document no longer has.
    for (auto it = s.selection.begin(); it != s.selection.end();)
        it = s.node_index.count(*it) ? std::next(it) : s.selection.erase(it);
}

// ---- commands ------------------------------------------------------------------------------

void set_status(EditorState& s, std::string text) {
    s.status = std::move(text);
    s.status_time = ImGui::GetTime();
}

bool run(EditorState& s, const edit::Command& command, bool ui_only) {
    edit::Outcome out = s.history.apply(command);
    if (!out.applied) {
        set_status(s, out.refused);
        return false;
    }
    // Positions and notes do not change what validation says: skip it for moves.
    if (ui_only && s.view_revision + 1 == s.history.revision()) s.errors_stale = false;
    if (!out.created.empty() &&
        (std::holds_alternative<edit::AddNode>(command) || std::holds_alternative<edit::Paste>(command))) {
        s.selection.clear();
        s.selected_note.clear();
        for (const auto& id : out.created) s.selection.insert(id);
    }
    return true;
}

const NodeView* find_node(const EditorState& s, const std::string& id) {
    auto it = s.node_index.find(id);
    return it == s.node_index.end() ? nullptr : &s.nodes[it->second];
}

void focus_node(EditorState& s, const std::string& id) {
    const NodeView* n = find_node(s, id);
    if (!n) return;
    ImVec2 size(s.canvas_max.x - s.canvas_min.x, s.canvas_max.y - s.canvas_min.y);
    s.offset =
        ImVec2(size.x / 2 - (n->pos.x + n->size.x / 2) * s.zoom, size.y / 2 - (n->pos.y + n->size.y / 2) * s.zoom);
}

void fit_to_content(EditorState& s) {
    ImVec2 size(s.canvas_max.x - s.canvas_min.x, s.canvas_max.y - s.canvas_min.y);
    if (size.x < 50 || size.y < 50) return;
    s.fit_pending = false;
    if (s.nodes.empty() && s.notes.empty()) {
        s.zoom = 1;
        s.offset = ImVec2(40, 40);
        return;
    }
    ImVec2 lo(1e9f, 1e9f), hi(-1e9f, -1e9f);
    auto grow = [&](ImVec2 p, ImVec2 sz) {
        lo = ImVec2(std::min(lo.x, p.x), std::min(lo.y, p.y));
        hi = ImVec2(std::max(hi.x, p.x + sz.x), std::max(hi.y, p.y + sz.y));
    };
    for (const auto& n : s.nodes) grow(n.pos, n.size);
    for (const auto& n : s.notes) grow(n.pos, n.size);
    const float margin = 40;
    float zx = (size.x - 2 * margin) / std::max(1.0f, hi.x - lo.x);
    float zy = (size.y - 2 * margin) / std::max(1.0f, hi.y - lo.y);
    float fit = std::min(zx, zy);
    // Opening a scenario keeps the text readable: a flow wider than the view starts at its
    // left edge (where the start usually is) rather than shrunk to an unreadable size.
    float least = s.fit_readable ? 0.75f : min_zoom;
    s.zoom = std::clamp(fit, least, 1.0f);
    float x = fit >= least ? (size.x - (hi.x - lo.x) * s.zoom) / 2 : margin;
    float y = (size.y - (hi.y - lo.y) * s.zoom) / 2;
    s.offset = ImVec2(x - lo.x * s.zoom, y - lo.y * s.zoom);
    if (fit >= least) return;
    // Too big to show whole: open on the start node, at the left edge and mid-height (centring
    // the whole flow put the view on an empty stretch between far-apart branches).
    for (const auto& n : s.nodes) {
        if (n.id != s.start) continue;
        s.offset = ImVec2(margin - n.pos.x * s.zoom, size.y / 2 - (n.pos.y + n.size.y / 2) * s.zoom);
        break;
    }
}

void record(std::map<std::string, Rect>& where, const std::string& key) {
    ImVec2 a = ImGui::GetItemRectMin(), b = ImGui::GetItemRectMax();
    where[key] = Rect{a.x, a.y, b.x - a.x, b.y - a.y};
}

namespace {

int resize_callback(ImGuiInputTextCallbackData* data) {
    if (data->EventFlag == ImGuiInputTextFlags_CallbackResize) {
        auto* text = static_cast<std::string*>(data->UserData);
        text->resize(static_cast<std::size_t>(data->BufTextLen));
        data->Buf = text->data();
    }
    return 0;
}

}  // namespace

bool input_text(const char* label, std::string& text, ImGuiInputTextFlags flags) {
    return ImGui::InputText(label, text.data(), text.capacity() + 1, flags | ImGuiInputTextFlags_CallbackResize,
                            resize_callback, &text);
}

bool input_text_multiline(const char* label, std::string& text, ImVec2 size, ImGuiInputTextFlags flags) {
    return ImGui::InputTextMultiline(label, text.data(), text.capacity() + 1, size,
                                     flags | ImGuiInputTextFlags_CallbackResize, resize_callback, &text);
}

// ---- Editor --------------------------------------------------------------------------------

namespace {

// Lays out a document that has nodes without positions (a hand-written or API-made one).
void place_unplaced(json& doc) {
    if (!doc.is_object() || !doc.contains("nodes") || !doc["nodes"].is_array() || doc["nodes"].empty()) return;
    const json* ui = doc.contains("ui") && doc["ui"].is_object() ? &doc["ui"] : nullptr;
    bool missing = false;
    for (const auto& n : doc["nodes"]) {
        std::string id = n.is_object() ? text_of(n, "id") : "";
        if (!ui || !ui->contains(id)) missing = true;
    }
    if (!missing) return;
    edit::LayoutOptions options;
    options.node_height = header_height + summary_height + 5 * port_row + 6;
    json placed = doc;
    edit::Outcome out = edit::apply(placed, edit::SetPositions{edit::layout(doc, options)});
    if (out.applied) doc = std::move(placed);
}

}  // namespace

Editor::Editor() : state_(new EditorState) {
    state_->action_specs = action_specs_json();
    simulator_create(*state_);
}

Editor::~Editor() {
    simulator_destroy(*state_);
    delete state_;
}

void Editor::open(json scenario) {
    EditorState& s = *state_;
    if (!scenario.is_object()) scenario = json::object();
    place_unplaced(scenario);
    s.history.reset(std::move(scenario));
    s.saved_revision = s.history.revision();
    s.view_revision = static_cast<std::size_t>(-1);
    s.errors_stale = true;
    s.selection.clear();
    s.selected_note.clear();
    s.editing_note.clear();
    s.drag = Drag::none;
    s.fit_pending = true;
    s.fit_readable = true;
    clear_simulation(s);
    refresh(s);
}

void Editor::set_catalog(WorkspaceCatalog catalog) {
    EditorState& s = *state_;
    s.templates.clear();
    s.campaigns.clear();
    for (json t : catalog.templates) {
        if (t.is_object()) {  // what the API adds to a listed template is not part of it
            t.erase("created_at");
            t.erase("updated_at");
        }
        auto parsed = template_from_json(t);
        if (parsed) {
            s.templates[parsed.value().id] = parsed.value();
        } else if (t.is_object() && t.contains("id") && t["id"].is_string()) {
            MessageTemplate known;  // a list item without its texts: it exists, that is what validation asks
            known.id = t["id"].get<std::string>();
            s.templates[known.id] = known;
        }
    }
    for (const auto& c : catalog.campaigns) {
        auto parsed = voucher_campaign_from_json(c);
        if (parsed) s.campaigns[parsed.value().id] = parsed.value();
    }
    s.catalog = std::move(catalog);
    s.catalog_known = true;
    s.view_revision = static_cast<std::size_t>(-1);  // existence checks change
    s.errors_stale = true;
}

const json& Editor::document() const {
    return state_->history.document();
}

const std::vector<ScenarioError>& Editor::errors() const {
    refresh(*state_);
    return state_->errors;
}

bool Editor::unsaved() const {
    return state_->history.revision() != state_->saved_revision;
}
void Editor::mark_saved() {
    state_->saved_revision = state_->history.revision();
}
json Editor::last_simulation() const {
    return state_->last_simulation;
}

bool Editor::paste(const std::string& text) {
    EditorState& s = *state_;
    json clip = json::parse(text, nullptr, false);
    if (clip.is_discarded() || !clip.is_object() || !clip.contains("nodes")) return false;
    ImVec2 at = to_world(s, ImGui::GetIO().MousePos);
    ImVec2 mouse = ImGui::GetIO().MousePos;
    bool inside =
        mouse.x >= s.canvas_min.x && mouse.y >= s.canvas_min.y && mouse.x < s.canvas_max.x && mouse.y < s.canvas_max.y;
    if (!inside) at = to_world(s, ImVec2((s.canvas_min.x + s.canvas_max.x) / 2, (s.canvas_min.y + s.canvas_max.y) / 2));
    run(s, edit::Paste{std::move(clip), {at.x, at.y}});
    return true;
}

void Editor::zoom_at(float factor, float x, float y) {
    EditorState& s = *state_;
    ImVec2 world = to_world(s, ImVec2(x, y));
    s.zoom = std::clamp(s.zoom * factor, min_zoom, max_zoom);
    s.offset = ImVec2(x - s.canvas_min.x - world.x * s.zoom, y - s.canvas_min.y - world.y * s.zoom);
}

// ---- drawing the frame ---------------------------------------------------------------------

namespace {

void copy_selection(EditorState& s) {
    if (s.selection.empty()) return;
    std::vector<std::string> ids(s.selection.begin(), s.selection.end());
    clipboard_set(edit::copy_nodes(s.history.document(), ids).dump());
    set_status(s, "Copied " + std::to_string(ids.size()) + (ids.size() == 1 ? " node" : " nodes"));
}

void duplicate_selection(EditorState& s) {
    if (s.selection.empty()) return;
    std::vector<std::string> ids(s.selection.begin(), s.selection.end());
    ImVec2 lo(1e9f, 1e9f);
    for (const auto& id : ids)
        if (const NodeView* n = find_node(s, id)) lo = ImVec2(std::min(lo.x, n->pos.x), std::min(lo.y, n->pos.y));
    run(s, edit::Paste{edit::copy_nodes(s.history.document(), ids), {lo.x + 40, lo.y + 40}});
}

void delete_selection(EditorState& s) {
    if (!s.selection.empty()) {
        run(s, edit::DeleteNodes{std::vector<std::string>(s.selection.begin(), s.selection.end())});
        s.selection.clear();
    }
    if (!s.selected_note.empty()) {
        run(s, edit::DeleteNote{s.selected_note}, true);
        s.selected_note.clear();
    }
}

void undo(EditorState& s) {
    if (!s.history.undo()) set_status(s, "Nothing to undo");
}
void redo(EditorState& s) {
    if (!s.history.redo()) set_status(s, "Nothing to redo");
}

void shortcuts(EditorState& s) {
    ImGuiIO& io = ImGui::GetIO();
    if (io.WantTextInput || !s.editing_note.empty()) return;  // the field takes the keys
    bool ctrl = io.KeyCtrl || io.KeySuper;
    if (ctrl && ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_Z), false)) {
        io.KeyShift ? redo(s) : undo(s);
    } else if (ctrl && ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_Y), false)) {
        redo(s);
    }
    if (!s.canvas_focused) return;
    if (ctrl && ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_C), false)) copy_selection(s);
    // Key codes are GLFW's, which are ASCII for letters (ImGui 1.86 names only A, C, V, X, Y, Z).
    if (ctrl && ImGui::IsKeyPressed('D', false)) duplicate_selection(s);
    if (ctrl && ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_A), false)) {
        for (const auto& n : s.nodes) s.selection.insert(n.id);
    }
    if (ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_Delete), false) ||
        ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_Backspace), false))
        delete_selection(s);
    if (ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_Escape), false)) {
        s.selection.clear();
        s.selected_note.clear();
    }
}

// Where a new note covers no node: the nearest free place around the view's centre.
ImVec2 free_spot(const EditorState& s, ImVec2 centre) {
    auto free = [&](ImVec2 p) {
        for (const auto& n : s.nodes)
            if (p.x < n.pos.x + n.size.x + 10 && n.pos.x < p.x + note_width + 10 && p.y < n.pos.y + n.size.y + 10 &&
                n.pos.y < p.y + note_height + 10)
                return false;
        return true;
    };
    ImVec2 start(centre.x - note_width / 2, centre.y - note_height / 2);
    for (int ring = 0; ring < 12; ++ring) {
        for (int i = -ring; i <= ring; ++i) {
            for (ImVec2 d : {ImVec2(static_cast<float>(i), static_cast<float>(-ring)),
                             ImVec2(static_cast<float>(i), static_cast<float>(ring)),
                             ImVec2(static_cast<float>(-ring), static_cast<float>(i)),
                             ImVec2(static_cast<float>(ring), static_cast<float>(i))}) {
                ImVec2 p(start.x + d.x * 60, start.y + d.y * 60);
                if (free(p)) return p;
            }
        }
    }
    return start;
}

void toolbar(EditorState& s) {
    ImGui::BeginDisabled(!s.history.can_undo());
    if (ImGui::Button("Undo")) undo(s);
    ImGui::EndDisabled();
    record(s.widget_geometry, "undo_button");
    ImGui::SameLine();
    ImGui::BeginDisabled(!s.history.can_redo());
    if (ImGui::Button("Redo")) redo(s);
    ImGui::EndDisabled();
    record(s.widget_geometry, "redo_button");
    ImGui::SameLine();
    if (ImGui::Button("Tidy up")) {
        edit::LayoutOptions options;
        float tallest = 0;
        for (const auto& n : s.nodes) tallest = std::max(tallest, n.size.y);
        options.node_width = node_width;
        options.node_height = std::max(64.0f, tallest);
        if (run(s, edit::SetPositions{edit::layout(s.history.document(), options)}, true)) {
            s.fit_pending = true;
            s.fit_readable = true;
        }
        s.history.seal();
    }
    record(s.widget_geometry, "tidy_button");
    ImGui::SameLine();
    if (ImGui::Button("Fit")) {
        s.fit_pending = true;
        s.fit_readable = false;
    }
    record(s.widget_geometry, "fit_button");
    ImGui::SameLine();
    if (ImGui::Button("Add note")) {
        ImVec2 c = free_spot(
            s, to_world(s, ImVec2((s.canvas_min.x + s.canvas_max.x) / 2, (s.canvas_min.y + s.canvas_max.y) / 2)));
        if (run(s, edit::AddNote{{c.x, c.y}, "Note"}, true)) {
            refresh(s);
            if (!s.notes.empty()) {
                s.selected_note = s.notes.back().id;
                edit_note(s, s.notes.back());
            }
        }
    }
    record(s.widget_geometry, "note_button");
    ImGui::SameLine();
    // Box selection as a tool as well as Shift+drag: for a touchpad, and a mouse in one hand.
    bool tool = s.box_tool;
    if (tool) ImGui::PushStyleColor(ImGuiCol_Button, ImGui::GetStyleColorVec4(ImGuiCol_ButtonActive));
    if (ImGui::Button("Select")) s.box_tool = !s.box_tool;
    if (tool) ImGui::PopStyleColor();
    record(s.widget_geometry, "select_tool");
    if (ImGui::IsItemHovered())
        ImGui::SetTooltip(s.box_tool ? "Dragging the background selects; drag with the right button to pan"
                                     : "Drag the background to select (or hold Shift)");
    ImGui::SameLine();
    ImGui::TextDisabled("%d%%", static_cast<int>(std::lround(s.zoom * 100)));
    if (!s.last_simulation.is_null() || !s.pass_counts.empty()) {
        ImGui::SameLine();
        if (ImGui::Button("Clear simulation")) clear_simulation(s);
    }
    ImGui::SameLine();
    bool fresh = ImGui::GetTime() - s.status_time < 6.0;
    if (fresh && !s.status.empty()) {
        ImGui::TextColored(ImVec4(0.8f, 0.16f, 0.18f, 1.0f), "%s", s.status.c_str());
    } else {
        ImGui::TextDisabled(s.box_tool
                                ? "Drag to select · right-drag to pan · Ctrl+scroll to zoom"
                                : "Drag to pan · Ctrl+scroll to zoom · Shift+drag to select · drag a port to a node");
    }
}

}  // namespace

void Editor::draw(float x, float y, float w, float h) {
    EditorState& s = *state_;
    const double started = now_ms();
    refresh(s);
    s.widget_geometry.clear();
    s.palette_geometry.clear();
    s.error_geometry.clear();

    ImGui::SetNextWindowPos(ImVec2(x, y));
    ImGui::SetNextWindowSize(ImVec2(w, h));
    ImGui::PushStyleVar(ImGuiStyleVar_WindowPadding, ImVec2(0, 0));
    ImGui::Begin("##editor", nullptr,
                 ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoBringToFrontOnFocus |
                     ImGuiWindowFlags_NoSavedSettings | ImGuiWindowFlags_NoScrollWithMouse);
    ImGui::PopStyleVar();

    const float palette_w = std::min(210.0f, w * 0.2f);
    const float right_w = std::clamp(w * 0.28f, 300.0f, 400.0f);
    const float errors_h =
        s.errors.empty() ? 34.0f : std::min(150.0f, 44.0f + 22.0f * static_cast<float>(s.errors.size()));
    const float toolbar_h = ImGui::GetFrameHeightWithSpacing() + 8;
    bool preview = s.right_tab == 1 && simulator_has_preview(s);
    const float preview_w = preview ? std::clamp(w * 0.3f, 320.0f, 520.0f) : 0.0f;
    const float middle_w = std::max(200.0f, w - palette_w - right_w - preview_w);

    ImGui::BeginChild("##palette", ImVec2(palette_w, h), true);
    draw_palette(s);
    ImGui::EndChild();

    ImGui::SameLine(0, 0);
    ImGui::BeginGroup();
    ImGui::BeginChild("##toolbar", ImVec2(middle_w, toolbar_h), false, ImGuiWindowFlags_NoScrollbar);
    ImGui::SetCursorPos(ImVec2(8, 6));
    toolbar(s);
    ImGui::EndChild();
    ImGui::PushStyleVar(ImGuiStyleVar_WindowPadding, ImVec2(0, 0));
    ImGui::BeginChild("##canvas_area", ImVec2(middle_w, h - toolbar_h - errors_h), false,
                      ImGuiWindowFlags_NoScrollbar | ImGuiWindowFlags_NoScrollWithMouse | ImGuiWindowFlags_NoMove);
    ImGui::PopStyleVar();
    draw_canvas(s, ImVec2(middle_w, h - toolbar_h - errors_h));
    ImGui::EndChild();
    ImGui::PushStyleVar(ImGuiStyleVar_WindowPadding, ImVec2(10, 7));
    ImGui::BeginChild("##validation", ImVec2(middle_w, errors_h), true);
    draw_validation(s);
    ImGui::EndChild();
    ImGui::PopStyleVar();
    ImGui::EndGroup();

    if (preview) {
        ImGui::SameLine(0, 0);
        ImVec2 p = ImGui::GetCursorScreenPos();
        ImGui::BeginChild("##preview_area", ImVec2(preview_w, h), true, ImGuiWindowFlags_NoScrollbar);
        simulator_preview(s, Rect{p.x, p.y, preview_w, h});
        ImGui::EndChild();
    } else {
        simulator_preview(s, Rect{});
    }

    ImGui::SameLine(0, 0);
    ImGui::BeginChild("##right", ImVec2(right_w, h), true);
    {
        ImVec2 p = ImGui::GetCursorScreenPos();
        s.inspector_rect = Rect{p.x, p.y, right_w, h};
    }
    if (ImGui::BeginTabBar("##right_tabs")) {
        auto flags = [&](int tab) { return s.tab_request == tab ? ImGuiTabItemFlags_SetSelected : 0; };
        bool inspector = ImGui::BeginTabItem("Inspector", nullptr, flags(0));
        record(s.widget_geometry, "inspector_tab");
        if (inspector) {
            s.right_tab = 0;
            ImGui::BeginChild("##inspector_body");
            draw_inspector(s);
            ImGui::EndChild();
            ImGui::EndTabItem();
        }
        bool simulator = ImGui::BeginTabItem("Simulator", nullptr, flags(1));
        record(s.widget_geometry, "simulator_tab");
        if (simulator) {
            s.right_tab = 1;
            ImGui::BeginChild("##simulator_body");
            draw_simulator(s);
            ImGui::EndChild();
            ImGui::EndTabItem();
        }
        s.tab_request = -1;
        ImGui::EndTabBar();
    }
    ImGui::EndChild();

    shortcuts(s);
    ImGui::End();
    set_unsaved_changes(unsaved());
    // Our own CPU time per frame (what the browser tests report beside the frame rate).
    s.draw_ms = now_ms() - started;
    s.draw_ms_total += s.draw_ms;
    ++s.draw_frames;
}

// ---- geometry ------------------------------------------------------------------------------

namespace {

json rect_json(const Rect& r) {
    return {{"x", r.x}, {"y", r.y}, {"w", r.w}, {"h", r.h}};
}
json point_json(ImVec2 p) {
    return {{"x", p.x}, {"y", p.y}};
}

}  // namespace

// Computed on demand from the views and the transform: nothing is recorded per node per frame.
json Editor::geometry() const {
    const EditorState& s = *state_;
    json nodes = json::object();
    for (const auto& n : s.nodes) {
        ImVec2 a = to_screen(s, n.pos);
        json ports = json::object();
        for (std::size_t i = 0; i < n.ports.size(); ++i) {
            ImVec2 p = to_screen(s, ImVec2(n.pos.x + n.size.x, n.pos.y + header_height + summary_height +
                                                                   (static_cast<float>(i) + 0.5f) * port_row));
            ports[n.ports[i].name] = point_json(p);
        }
        nodes[n.id] = {{"x", a.x},
                       {"y", a.y},
                       {"w", n.size.x * s.zoom},
                       {"h", n.size.y * s.zoom},
                       {"input", point_json(to_screen(s, ImVec2(n.pos.x, n.pos.y + header_height / 2)))},
                       {"ports", ports},
                       {"errors", n.errors}};
    }
    json notes = json::object();
    for (const auto& n : s.notes) {
        ImVec2 a = to_screen(s, n.pos);
        notes[n.id] = {{"x", a.x}, {"y", a.y}, {"w", n.size.x * s.zoom}, {"h", n.size.y * s.zoom}};
    }
    json palette = json::object();
    for (const auto& [kind, r] : s.palette_geometry) palette[kind] = rect_json(r);
    json errors = json::array();
    for (const auto& [e, r] : s.error_geometry) {
        json item = rect_json(r);
        item["node"] = e.node;
        item["field"] = e.field;
        item["message"] = e.message;
        errors.push_back(std::move(item));
    }
    json g = {{"canvas", rect_json(Rect{s.canvas_min.x, s.canvas_min.y, s.canvas_max.x - s.canvas_min.x,
                                        s.canvas_max.y - s.canvas_min.y})},
              {"zoom", s.zoom},
              {"nodes", std::move(nodes)},
              {"notes", std::move(notes)},
              {"palette", std::move(palette)},
              {"errors", std::move(errors)},
              {"selection", std::vector<std::string>(s.selection.begin(), s.selection.end())},
              {"inspector", rect_json(s.inspector_rect)},
              {"preview", rect_json(s.preview_rect)},
              {"status", s.status},
              {"editing_note", s.editing_note},
              {"simulator_error", simulator_error(s)},
              {"draw_ms", s.draw_ms},
              {"draw_ms_total", s.draw_ms_total},
              {"draw_frames", s.draw_frames}};
    for (const auto& [key, r] : s.widget_geometry) g[key] = rect_json(r);
    return g;
}

}  // namespace closeloop::web
