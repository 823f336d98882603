// closeloop builder — the palette: the node kinds (the four flow kinds and every action core
// knows), filtered by a search field; drag one onto the canvas, or double-click to add it at
// the centre of the view.
#include <imgui.h>

#include <algorithm>
#include <cctype>

#include "editor_state.h"

namespace closeloop::web {

namespace {

struct Kind {
    std::string name, title, hint;
};

std::string title_of(const std::string& name) {
    std::string t = name;
    std::replace(t.begin(), t.end(), '_', ' ');
    if (!t.empty()) t[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(t[0])));
    return t;
}

std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

std::vector<Kind> kinds(const EditorState& s) {
    std::vector<Kind> out = {
        {"condition", "Condition", "if / then / else"},
        {"switch", "Switch", "first true case wins"},
        {"split", "Split", "A/B by percent"},
        {"wait", "Wait", "for a time or until"},
    };
    for (const auto& spec : s.action_specs) {
        std::string name = spec.value("action", "");
        std::string params;
        for (const auto& p : spec["params"]) {
            if (!p.value("required", false)) continue;
            params += (params.empty() ? "" : ", ") + p.value("name", "");
        }
        out.push_back({name, title_of(name), params});
    }
    return out;
}

}  // namespace

void draw_palette(EditorState& s) {
    static std::string search;
    ImGui::TextUnformatted("Nodes");
    ImGui::SetNextItemWidth(-1);
    input_text("##palette_search", search);
    record(s.widget_geometry, "palette_search");
    if (search.empty()) {
        ImVec2 p = ImGui::GetItemRectMin();
        ImGui::GetWindowDrawList()->AddText(
            ImVec2(p.x + ImGui::GetStyle().FramePadding.x, p.y + ImGui::GetStyle().FramePadding.y),
            ImGui::GetColorU32(ImGuiCol_TextDisabled), "Search");
    }
    ImGui::Spacing();
    std::string needle = lower(search);
    int shown = 0;
    for (const auto& k : kinds(s)) {
        if (!needle.empty() && lower(k.name + " " + k.title + " " + k.hint).find(needle) == std::string::npos) continue;
        ++shown;
        ImGui::PushID(k.name.c_str());
        ImGui::Selectable("##kind", false, ImGuiSelectableFlags_AllowDoubleClick, ImVec2(0, 36));
        bool add = ImGui::IsItemHovered() && ImGui::IsMouseDoubleClicked(ImGuiMouseButton_Left);
        bool hovered = ImGui::IsItemHovered() && !ImGui::IsMouseDown(ImGuiMouseButton_Left);
        record(s.palette_geometry, k.name);
        ImVec2 a = ImGui::GetItemRectMin();
        if (ImGui::BeginDragDropSource()) {
            ImGui::SetDragDropPayload("closeloop_kind", k.name.data(), k.name.size());
            ImGui::Text("%s", k.title.c_str());
            ImGui::EndDragDropSource();
        }
        ImDrawList* dl = ImGui::GetWindowDrawList();
        dl->AddRectFilled(ImVec2(a.x + 2, a.y + 6), ImVec2(a.x + 6, a.y + 30), ImGui::GetColorU32(ImGuiCol_CheckMark));
        dl->AddText(ImVec2(a.x + 12, a.y + 2), ImGui::GetColorU32(ImGuiCol_Text), k.title.c_str());
        dl->AddText(ImGui::GetFont(), ImGui::GetFontSize() * 0.85f, ImVec2(a.x + 12, a.y + 19),
                    ImGui::GetColorU32(ImGuiCol_TextDisabled), k.hint.c_str());
        if (add) {
            ImVec2 c =
                to_world(s, ImVec2((s.canvas_min.x + s.canvas_max.x) / 2, (s.canvas_min.y + s.canvas_max.y) / 2));
            run(s, edit::AddNode{k.name, {c.x - node_width / 2, c.y - 40}, ""});
            s.history.seal();
        }
        if (hovered) ImGui::SetTooltip("Drag onto the canvas, or double-click to add");
        ImGui::PopID();
    }
    if (shown == 0) ImGui::TextDisabled("No node kind matches");
}

}  // namespace closeloop::web
