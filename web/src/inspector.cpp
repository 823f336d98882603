// closeloop builder — the inspector (a form for the selected node, or for the scenario when
// nothing is selected) and the validation panel.
//
// Every field edits the document through SetField, so undo, validation and the canvas follow.
// Core validates the whole document on each change; a field's error is shown under it with
// its column marked (the expression is checked as it is typed).
//
// Sections: reading fields, error marks, field widgets, node forms, scenario form, validation.
#include <imgui.h>

#include <algorithm>
#include <cstdlib>

#include "editor_state.h"
#include "platform.h"

namespace closeloop::web {

using nlohmann::json;

namespace {

// ---- reading fields ------------------------------------------------------------------------

// The value at a field path as validation names it ("params.template", "cases[1].when").
const json* at(const json& root, const std::string& field) {
    const json* cur = &root;
    std::size_t i = 0;
    while (i < field.size() && cur) {
        std::size_t end = field.find_first_of(".[", i);
        std::string key = field.substr(i, end == std::string::npos ? std::string::npos : end - i);
        if (!key.empty()) {
            if (!cur->is_object() || !cur->contains(key)) return nullptr;
            cur = &(*cur)[key];
        }
        if (end == std::string::npos) break;
        if (field[end] == '[') {
            std::size_t close = field.find(']', end);
            if (close == std::string::npos) return nullptr;
            std::size_t index = static_cast<std::size_t>(std::atoi(field.c_str() + end + 1));
            if (!cur->is_array() || index >= cur->size()) return nullptr;
            cur = &(*cur)[index];
            i = close + 1;
            if (i < field.size() && field[i] == '.') ++i;
        } else {
            i = end + 1;
        }
    }
    return cur;
}

std::string string_at(const json& root, const std::string& field) {
    const json* v = at(root, field);
    if (!v || v->is_null()) return "";
    return v->is_string() ? v->get<std::string>() : v->dump();
}

const json* node_json(const EditorState& s, const std::string& id) {
    const json& doc = s.history.document();
    if (!doc.contains("nodes") || !doc["nodes"].is_array()) return nullptr;
    for (const auto& n : doc["nodes"])
        if (n.is_object() && n.contains("id") && n["id"] == id) return &n;
    return nullptr;
}

// ---- error marks ---------------------------------------------------------------------------

std::vector<const ScenarioError*> errors_of(const EditorState& s, const std::string& node, const std::string& field) {
    std::vector<const ScenarioError*> out;
    for (const auto& e : s.errors)
        if (e.node == node && e.field == field) out.push_back(&e);
    return out;
}

// Under the field just drawn: a red caret at the error's column and the message below.
void error_marks(const EditorState& s, const std::string& node, const std::string& field, const std::string& text,
                 bool multiline) {
    auto errors = errors_of(s, node, field);
    if (errors.empty()) return;
    ImVec2 a = ImGui::GetItemRectMin(), b = ImGui::GetItemRectMax();
    ImDrawList* dl = ImGui::GetWindowDrawList();
    const ImU32 red = IM_COL32(214, 40, 46, 255);
    dl->AddRect(a, b, red, ImGui::GetStyle().FrameRounding);
    for (const ScenarioError* e : errors) {
        if (e->column <= 0) continue;
        std::size_t col = std::min(text.size(), static_cast<std::size_t>(e->column - 1));
        std::size_t line_start = 0;
        int line = 0;
        if (multiline) {
            for (std::size_t i = 0; i < col; ++i)
                if (text[i] == '\n') {
                    line_start = i + 1;
                    ++line;
                }
        }
        ImVec2 pad = ImGui::GetStyle().FramePadding;
        float x = a.x + pad.x + ImGui::CalcTextSize(text.data() + line_start, text.data() + col).x;
        float y = multiline ? a.y + pad.y + ImGui::GetTextLineHeight() * static_cast<float>(line + 1) : b.y - 3;
        x = std::min(x, b.x - 6);
        float w =
            col < text.size() ? std::max(6.0f, ImGui::CalcTextSize(text.data() + col, text.data() + col + 1).x) : 8;
        dl->AddLine(ImVec2(x, y), ImVec2(x + w, y), red, 2.0f);
        dl->AddTriangleFilled(ImVec2(x, y + 1), ImVec2(x - 4, y + 7), ImVec2(x + 4, y + 7), red);
    }
    ImGui::Dummy(ImVec2(1, 4));
    for (const ScenarioError* e : errors) {
        ImGui::PushStyleColor(ImGuiCol_Text, IM_COL32(200, 30, 36, 255));
        ImGui::PushTextWrapPos(0);
        ImGui::TextUnformatted(e->message.c_str());
        ImGui::PopTextWrapPos();
        ImGui::PopStyleColor();
    }
}

// ---- field widgets -------------------------------------------------------------------------

enum class FieldKind { text, expression, multiline };

void set_field(EditorState& s, const std::string& node, const std::string& field, const std::string& value,
               bool required) {
    json v = value.empty() && !required ? json(nullptr) : json(value);
    run(s, edit::SetField{node, field, std::move(v)});
}

void label_row(const char* label, bool required) {
    ImGui::TextUnformatted(label);
    if (required) {
        ImGui::SameLine(0, 2);
        ImGui::TextColored(ImVec4(0.8f, 0.16f, 0.18f, 1.0f), "*");
    }
}

// A text field bound to a field of a node ("" = the scenario).
void text_field(EditorState& s, const json& root, const std::string& node, const std::string& field, const char* label,
                FieldKind kind, bool required, const char* hint = nullptr) {
    ImGui::PushID(field.c_str());
    label_row(label, required);
    std::string value = string_at(root, field);
    ImGui::SetNextItemWidth(-1);
    bool changed = false;
    if (kind == FieldKind::multiline) {
        changed = input_text_multiline("##v", value, ImVec2(-1, ImGui::GetTextLineHeight() * 4 + 8));
    } else {
        changed = input_text("##v", value);
    }
    record(s.widget_geometry, "field:" + field);
    if (changed) set_field(s, node, field, value, required);
    if (ImGui::IsItemDeactivatedAfterEdit()) s.history.seal();
    if (hint && value.empty() && !ImGui::IsItemActive()) {
        ImVec2 a = ImGui::GetItemRectMin();
        ImVec2 pad = ImGui::GetStyle().FramePadding;
        ImGui::GetWindowDrawList()->AddText(ImVec2(a.x + pad.x, a.y + pad.y), ImGui::GetColorU32(ImGuiCol_TextDisabled),
                                            hint);
    }
    ImVec2 field_min = ImGui::GetItemRectMin(), field_max = ImGui::GetItemRectMax();
    error_marks(s, node, field, value, kind == FieldKind::multiline);
    // Messages may be written in Hebrew or typed with an IME: ImGui lays out neither, the
    // page's own text box does (the shell's overlay over this field).
    if (kind == FieldKind::multiline && ImGui::SmallButton("Edit in a text box")) {
        std::string node_id = node, field_name = field;
        text_overlay_open(value, true, field_min.x, field_min.y, field_max.x - field_min.x,
                          std::max(field_max.y - field_min.y, 120.0f),
                          [&s, node_id, field_name, required](const std::string& text) {
                              set_field(s, node_id, field_name, text, required);
                              s.history.seal();
                          });
    }
    if (kind == FieldKind::multiline) record(s.widget_geometry, "overlay:" + field);
    ImGui::PopID();
    ImGui::Spacing();
}

// A text field with a list of suggestions beside it (templates, campaigns, roles, ...).
void picker_field(EditorState& s, const json& root, const std::string& node, const std::string& field,
                  const char* label, bool required, const std::vector<std::pair<std::string, std::string>>& choices) {
    ImGui::PushID(field.c_str());
    label_row(label, required);
    std::string value = string_at(root, field);
    float button = ImGui::GetFrameHeight();
    ImGui::SetNextItemWidth(-button - ImGui::GetStyle().ItemInnerSpacing.x);
    if (input_text("##v", value)) set_field(s, node, field, value, required);
    record(s.widget_geometry, "field:" + field);
    if (ImGui::IsItemDeactivatedAfterEdit()) s.history.seal();
    ImVec2 a = ImGui::GetItemRectMin(), b = ImGui::GetItemRectMax();
    ImGui::SameLine(0, ImGui::GetStyle().ItemInnerSpacing.x);
    if (ImGui::BeginCombo("##pick", nullptr, ImGuiComboFlags_NoPreview | ImGuiComboFlags_PopupAlignLeft)) {
        if (choices.empty()) ImGui::TextDisabled("Nothing in this workspace yet");
        for (const auto& [id, name] : choices) {
            std::string item = name.empty() || name == id ? id : id + "  (" + name + ")";
            if (ImGui::Selectable(item.c_str(), id == value)) {
                set_field(s, node, field, id, required);
                s.history.seal();
            }
        }
        ImGui::EndCombo();
    }
    // The error marks go under the text field, not the button.
    ImGui::SetCursorScreenPos(ImVec2(a.x, b.y + ImGui::GetStyle().ItemSpacing.y));
    ImGui::Dummy(ImVec2(0, 0));
    auto errors = errors_of(s, node, field);
    if (!errors.empty()) {
        ImGui::GetWindowDrawList()->AddRect(a, b, IM_COL32(214, 40, 46, 255), ImGui::GetStyle().FrameRounding);
        for (const ScenarioError* e : errors) {
            ImGui::PushStyleColor(ImGuiCol_Text, IM_COL32(200, 30, 36, 255));
            ImGui::PushTextWrapPos(0);
            ImGui::TextUnformatted(e->message.c_str());
            ImGui::PopTextWrapPos();
            ImGui::PopStyleColor();
        }
    }
    ImGui::PopID();
    ImGui::Spacing();
}

void enum_field(EditorState& s, const json& root, const std::string& node, const std::string& field, const char* label,
                bool required, const std::vector<std::string>& values) {
    ImGui::PushID(field.c_str());
    label_row(label, required);
    std::string value = string_at(root, field);
    ImGui::SetNextItemWidth(-1);
    bool open = ImGui::BeginCombo("##v", value.empty() ? "(none)" : value.c_str());
    record(s.widget_geometry, "field:" + field);
    if (open) {
        if (!required && ImGui::Selectable("(none)", value.empty())) set_field(s, node, field, "", false);
        for (const auto& v : values)
            if (ImGui::Selectable(v.c_str(), v == value)) set_field(s, node, field, v, required);
        ImGui::EndCombo();
        s.history.seal();
    }
    error_marks(s, node, field, value, false);
    ImGui::PopID();
    ImGui::Spacing();
}

// Where a port leads, changeable from the form as well as on the canvas.
void link_field(EditorState& s, const NodeView& n, const PortView& port) {
    ImGui::PushID(port.name.c_str());
    std::string label = port.label;
    if (label.size() > 28) label = label.substr(0, 26) + "..";
    ImGui::TextDisabled("%s", label.c_str());
    ImGui::SameLine(ImGui::GetContentRegionAvail().x * 0.45f);
    ImGui::SetNextItemWidth(-1);
    const char* preview = port.target.empty() ? "(ends the run)" : port.target.c_str();
    if (ImGui::BeginCombo("##to", preview)) {
        if (ImGui::Selectable("(ends the run)", port.target.empty()) && !port.target.empty())
            run(s, edit::Disconnect{n.id, port.name});
        for (const auto& other : s.nodes) {
            if (other.id == n.id) continue;
            if (ImGui::Selectable(other.id.c_str(), other.id == port.target) && other.id != port.target) {
                if (!port.target.empty()) run(s, edit::Disconnect{n.id, port.name});
                if (!run(s, edit::Connect{n.id, port.name, other.id}) && !port.target.empty()) s.history.undo();
            }
        }
        ImGui::EndCombo();
        s.history.seal();
    }
    ImGui::PopID();
}

std::vector<std::pair<std::string, std::string>> choices_of(const json& items) {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& item : items) {
        if (!item.is_object() || !item.contains("id") || !item["id"].is_string()) continue;
        out.emplace_back(item["id"].get<std::string>(),
                         item.contains("name") && item["name"].is_string() ? item["name"].get<std::string>() : "");
    }
    return out;
}

// ---- node forms ----------------------------------------------------------------------------

void action_form(EditorState& s, const json& node, const NodeView& n) {
    const json* spec = nullptr;
    for (const auto& a : s.action_specs)
        if (a.value("action", "") == n.action) spec = &a;
    if (!spec) {
        ImGui::TextColored(ImVec4(0.8f, 0.16f, 0.18f, 1.0f), "Unknown action '%s'", n.action.c_str());
        return;
    }
    for (const auto& p : (*spec)["params"]) {
        std::string name = p.value("name", "");
        std::string kind = p.value("kind", "text");
        std::string picker = p.value("picker", "");
        bool required = p.value("required", false);
        std::string field = "params." + name;
        std::string label = name;
        if (p.contains("fallback")) label += "  (default: " + p["fallback"].get<std::string>() + ")";
        if (kind == "enum") {
            std::vector<std::string> values;
            for (const auto& v : p["values"]) values.push_back(v.get<std::string>());
            enum_field(s, node, n.id, field, label.c_str(), required, values);
        } else if (picker == "template_id") {
            picker_field(s, node, n.id, field, label.c_str(), required, choices_of(s.catalog.templates));
        } else if (picker == "voucher_campaign_id") {
            picker_field(s, node, n.id, field, label.c_str(), required, choices_of(s.catalog.campaigns));
        } else if (picker == "endpoint_id") {
            picker_field(s, node, n.id, field, label.c_str(), required, choices_of(s.catalog.endpoints));
        } else if (picker == "role") {
            std::vector<std::pair<std::string, std::string>> roles;
            for (const auto& r : s.catalog.roles) roles.emplace_back(r, "");
            if (kind == "address") roles.insert(roles.begin(), {{"owner", "the contact's owner"}});
            picker_field(s, node, n.id, field, label.c_str(), required, roles);
        } else if (kind == "address") {
            picker_field(s, node, n.id, field, label.c_str(), required,
                         {{"contact", "the contact"}, {"owner", "the contact's owner"}});
        } else if (kind == "expression") {
            text_field(s, node, n.id, field, label.c_str(), FieldKind::expression, required, "an expression");
        } else if (kind == "template") {
            text_field(s, node, n.id, field, label.c_str(), FieldKind::multiline, required);
        } else if (kind == "duration") {
            text_field(s, node, n.id, field, label.c_str(), FieldKind::text, required, "P2D, PT4H");
        } else {
            text_field(s, node, n.id, field, label.c_str(), FieldKind::text, required);
        }
    }
}

void node_form(EditorState& s, const NodeView& n) {
    const json* node = node_json(s, n.id);
    if (!node) return;
    ImGui::PushID(n.id.c_str());
    ImVec2 p = ImGui::GetCursorScreenPos();
    ImGui::GetWindowDrawList()->AddRectFilled(p, ImVec2(p.x + 6, p.y + ImGui::GetTextLineHeight()), n.header);
    ImGui::SetCursorScreenPos(ImVec2(p.x + 12, p.y));
    ImGui::Text("%s", n.kind == "action" ? n.action.c_str() : n.kind.c_str());
    if (n.id == s.start) {
        ImGui::SameLine();
        ImGui::TextDisabled("(start)");
    } else {
        ImGui::SameLine();
        if (ImGui::SmallButton("Make start")) run(s, edit::SetField{"", "start", n.id});
    }
    ImGui::Separator();

    // The id: renamed on Enter or when the field is left (every link follows).
    if (s.rename_node != n.id) {
        s.rename_node = n.id;
        s.rename_buffer = n.id;
    }
    ImGui::TextUnformatted("id");
    ImGui::SetNextItemWidth(-1);
    input_text("##id", s.rename_buffer, ImGuiInputTextFlags_CharsNoBlank);
    record(s.widget_geometry, "field:id");
    if (ImGui::IsItemDeactivated() && s.rename_buffer != n.id) {
        std::string to = s.rename_buffer;
        if (run(s, edit::RenameNode{n.id, to})) {
            s.selection.erase(n.id);
            s.selection.insert(to);
            s.rename_node = to;
        } else {
            s.rename_buffer = n.id;
        }
        s.history.seal();
        ImGui::PopID();
        return;  // the node changed its name: draw it next frame
    }
    error_marks(s, n.id, "id", n.id, false);
    ImGui::Spacing();
    text_field(s, *node, n.id, "label", "label", FieldKind::text, false, "a name shown on the canvas");

    if (n.kind == "condition") {
        text_field(s, *node, n.id, "if", "if", FieldKind::expression, true, "event.score < 7");
    } else if (n.kind == "switch") {
        std::size_t ncases = node->contains("cases") && (*node)["cases"].is_array() ? (*node)["cases"].size() : 0;
        for (std::size_t i = 0; i < ncases; ++i) {
            std::string port = "cases[" + std::to_string(i) + "]";
            ImGui::PushID(static_cast<int>(i));
            std::string label = "case " + std::to_string(i + 1) + " when";
            text_field(s, *node, n.id, port + ".when", label.c_str(), FieldKind::expression, true);
            if (ImGui::SmallButton("Remove case")) run(s, edit::RemovePort{n.id, port});
            ImGui::PopID();
            ImGui::Spacing();
        }
        if (ImGui::Button("Add case")) run(s, edit::AddPort{n.id});
        record(s.widget_geometry, "add_case_button");
    } else if (n.kind == "split") {
        std::size_t nbranches =
            node->contains("branches") && (*node)["branches"].is_array() ? (*node)["branches"].size() : 0;
        int total = 0;
        for (std::size_t i = 0; i < nbranches; ++i) {
            std::string field = "branches[" + std::to_string(i) + "].percent";
            const json* v = at(*node, field);
            int percent = v && v->is_number_integer() ? v->get<int>() : 0;
            total += percent;
            ImGui::PushID(static_cast<int>(i));
            ImGui::Text("branch %d", static_cast<int>(i + 1));
            ImGui::SameLine(90);
            ImGui::SetNextItemWidth(ImGui::GetContentRegionAvail().x - 80);
            if (ImGui::SliderInt("##percent", &percent, 0, 100, "%d %%")) run(s, edit::SetField{n.id, field, percent});
            if (ImGui::IsItemDeactivatedAfterEdit()) s.history.seal();
            ImGui::SameLine();
            if (ImGui::SmallButton("Remove")) run(s, edit::RemovePort{n.id, "branches[" + std::to_string(i) + "]"});
            error_marks(s, n.id, field, std::to_string(percent), false);
            ImGui::PopID();
        }
        ImGui::TextDisabled("total %d %% (must be 100)", total);
        if (ImGui::Button("Add branch")) run(s, edit::AddPort{n.id});
        error_marks(s, n.id, "branches", "", false);
    } else if (n.kind == "wait") {
        bool until = node->contains("until") && !(*node)["until"].is_null();
        int mode = until ? 1 : 0;
        if (ImGui::RadioButton("for a time", &mode, 0) && until) {
            run(s, edit::SetField{n.id, "until", nullptr});
            run(s, edit::SetField{n.id, "for", "P1D"});
        }
        ImGui::SameLine();
        if (ImGui::RadioButton("until a moment", &mode, 1) && !until) {
            run(s, edit::SetField{n.id, "for", nullptr});
            run(s, edit::SetField{n.id, "until", "now + days(1)"});
        }
        if (mode == 0)
            text_field(s, *node, n.id, "for", "for (ISO 8601: P2D, PT4H)", FieldKind::text, true, "P2D");
        else
            text_field(s, *node, n.id, "until", "until (an expression giving a time)", FieldKind::expression, true,
                       "voucher.expires_at - days(10)");
    } else if (n.kind == "action") {
        action_form(s, *node, n);
    }

    if (!n.ports.empty()) {
        ImGui::Separator();
        ImGui::TextUnformatted("Goes to");
        for (const auto& port : n.ports) link_field(s, n, port);
    }
    // Errors of this node not shown beside a field above.
    bool header = false;
    for (const auto& e : s.errors) {
        if (e.node != n.id) continue;
        static const char* shown[] = {"label", "if", "for", "until", "id"};
        bool beside = e.field.rfind("params.", 0) == 0 || e.field.rfind("cases[", 0) == 0 ||
                      e.field.rfind("branches", 0) == 0 ||
                      std::find(std::begin(shown), std::end(shown), e.field) != std::end(shown);
        if (beside) continue;
        if (!header) {
            ImGui::Separator();
            header = true;
        }
        ImGui::PushStyleColor(ImGuiCol_Text, IM_COL32(200, 30, 36, 255));
        ImGui::PushTextWrapPos(0);
        ImGui::Text("%s%s%s", e.field.c_str(), e.field.empty() ? "" : ": ", e.message.c_str());
        ImGui::PopTextWrapPos();
        ImGui::PopStyleColor();
    }
    ImGui::Spacing();
    if (ImGui::Button("Delete node")) {
        run(s, edit::DeleteNodes{{n.id}});
        s.selection.clear();
    }
    ImGui::PopID();
}

// ---- scenario form -------------------------------------------------------------------------

void scenario_form(EditorState& s) {
    const json& doc = s.history.document();
    ImGui::TextUnformatted("Scenario");
    ImGui::Separator();
    text_field(s, doc, "", "name", "name", FieldKind::text, true, "NPS recovery");
    {
        ImGui::PushID("trigger.event");
        label_row("trigger event", true);
        std::string value = string_at(doc, "trigger.event");
        float button = ImGui::GetFrameHeight();
        ImGui::SetNextItemWidth(-button - ImGui::GetStyle().ItemInnerSpacing.x);
        if (input_text("##v", value)) set_field(s, "", "trigger.event", value, true);
        record(s.widget_geometry, "field:trigger.event");
        if (ImGui::IsItemDeactivatedAfterEdit()) s.history.seal();
        ImGui::SameLine(0, ImGui::GetStyle().ItemInnerSpacing.x);
        if (ImGui::BeginCombo("##pick", nullptr, ImGuiComboFlags_NoPreview | ImGuiComboFlags_PopupAlignLeft)) {
            for (const char* type : {"nps_response", "csat_response", "purchase", "ticket_resolved", "ticket_tagged",
                                     "voucher_redeemed", "voucher_assigned"})
                if (ImGui::Selectable(type, value == type)) set_field(s, "", "trigger.event", type, true);
            ImGui::EndCombo();
        }
        error_marks(s, "", "trigger.event", value, false);
        ImGui::PopID();
        ImGui::Spacing();
    }
    text_field(s, doc, "", "trigger.when", "trigger when (optional)", FieldKind::expression, false, "event.score < 7");
    enum_field(s, doc, "", "reentry.policy", "re-entry", false, {"always", "once", "cooldown"});
    if (string_at(doc, "reentry.policy") == "cooldown") {
        const json* v = at(doc, "reentry.days");
        int days = v && v->is_number_integer() ? v->get<int>() : 0;
        ImGui::TextUnformatted("cooldown days");
        ImGui::SetNextItemWidth(-1);
        if (ImGui::InputInt("##days", &days)) run(s, edit::SetField{"", "reentry.days", std::max(0, days)});
        if (ImGui::IsItemDeactivatedAfterEdit()) s.history.seal();
        error_marks(s, "", "reentry.days", std::to_string(days), false);
    }
    std::vector<std::string> ids;
    for (const auto& n : s.nodes) ids.push_back(n.id);
    enum_field(s, doc, "", "start", "start node", true, ids);
    ImGui::Separator();
    ImGui::TextDisabled("%d nodes · select one to edit it", static_cast<int>(s.nodes.size()));
    ImGui::TextDisabled("Ctrl+Z undo · Ctrl+Shift+Z redo · Ctrl+C / Ctrl+V");
    ImGui::TextDisabled("Ctrl+D duplicate · Delete removes");
}

}  // namespace

void draw_inspector(EditorState& s) {
    if (s.selection.size() == 1) {
        if (const NodeView* n = find_node(s, *s.selection.begin())) {
            NodeView copy = *n;  // the form may edit the document (and so the views) while drawing
            node_form(s, copy);
            return;
        }
    }
    if (s.selection.size() > 1) {
        ImGui::Text("%d nodes selected", static_cast<int>(s.selection.size()));
        ImGui::TextDisabled("Drag to move them together; Ctrl+D duplicates, Delete removes.");
        if (ImGui::Button("Delete them")) {
            run(s, edit::DeleteNodes{std::vector<std::string>(s.selection.begin(), s.selection.end())});
            s.selection.clear();
        }
        return;
    }
    scenario_form(s);
}

// ---- validation ----------------------------------------------------------------------------

void draw_validation(EditorState& s) {
    if (s.errors.empty()) {
        ImGui::TextColored(ImVec4(0.10f, 0.55f, 0.30f, 1.0f), "No problems: the scenario can be activated.");
        return;
    }
    ImGui::TextColored(ImVec4(0.8f, 0.16f, 0.18f, 1.0f), "%d %s", static_cast<int>(s.errors.size()),
                       s.errors.size() == 1 ? "problem" : "problems");
    ImGui::SameLine();
    ImGui::TextDisabled("(click one to go to its node)");
    for (std::size_t i = 0; i < s.errors.size(); ++i) {
        const ScenarioError& e = s.errors[i];
        ImGui::PushID(static_cast<int>(i));
        std::string where = e.node.empty() ? "scenario" : e.node;
        if (!e.field.empty()) where += " · " + e.field;
        std::string line = where + ":  " + e.message;
        if (ImGui::Selectable(line.c_str(), !e.node.empty() && s.selection.count(e.node) && s.selection.size() == 1)) {
            s.selection.clear();
            s.selected_note.clear();
            if (!e.node.empty() && find_node(s, e.node)) {
                s.selection.insert(e.node);
                focus_node(s, e.node);
            }
            s.tab_request = 0;
        }
        ImVec2 a = ImGui::GetItemRectMin(), b = ImGui::GetItemRectMax();
        s.error_geometry.push_back({e, Rect{a.x, a.y, b.x - a.x, b.y - a.y}});
        ImGui::PopID();
    }
}

}  // namespace closeloop::web
