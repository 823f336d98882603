// closeloop builder — the look (theme.h).
#include "theme.h"

namespace closeloop::web::theme {

ImVec4 background() {
    return ImVec4(0.955f, 0.96f, 0.97f, 1.0f);
}
ImVec4 accent() {
    return ImVec4(0.15f, 0.39f, 0.85f, 1.0f);
}
ImVec4 danger() {
    return ImVec4(0.80f, 0.16f, 0.18f, 1.0f);
}
ImVec4 muted() {
    return ImVec4(0.42f, 0.45f, 0.50f, 1.0f);
}
ImVec4 success() {
    return ImVec4(0.10f, 0.55f, 0.30f, 1.0f);
}

void apply() {
    ImGui::StyleColorsLight();
    ImGuiStyle& s = ImGui::GetStyle();
    s.WindowRounding = 6;
    s.ChildRounding = 6;
    s.FrameRounding = 4;
    s.PopupRounding = 6;
    s.GrabRounding = 4;
    s.TabRounding = 4;
    s.ScrollbarRounding = 6;
    s.WindowPadding = ImVec2(14, 12);
    s.FramePadding = ImVec2(8, 5);
    s.ItemSpacing = ImVec2(8, 7);
    s.WindowBorderSize = 1;
    s.FrameBorderSize = 1;
    s.PopupBorderSize = 1;
    ImVec4* c = s.Colors;
    c[ImGuiCol_WindowBg] = ImVec4(1, 1, 1, 1);
    c[ImGuiCol_ChildBg] = ImVec4(1, 1, 1, 0);
    c[ImGuiCol_PopupBg] = ImVec4(1, 1, 1, 0.98f);
    c[ImGuiCol_Border] = ImVec4(0.80f, 0.82f, 0.86f, 1);
    c[ImGuiCol_FrameBg] = ImVec4(0.97f, 0.975f, 0.98f, 1);
    c[ImGuiCol_FrameBgHovered] = ImVec4(0.93f, 0.95f, 0.99f, 1);
    c[ImGuiCol_FrameBgActive] = ImVec4(0.90f, 0.93f, 0.99f, 1);
    c[ImGuiCol_TitleBg] = ImVec4(0.94f, 0.95f, 0.96f, 1);
    c[ImGuiCol_TitleBgActive] = ImVec4(0.90f, 0.92f, 0.95f, 1);
    c[ImGuiCol_MenuBarBg] = ImVec4(1, 1, 1, 1);
    c[ImGuiCol_Button] = ImVec4(0.93f, 0.94f, 0.96f, 1);
    c[ImGuiCol_ButtonHovered] = ImVec4(0.86f, 0.90f, 0.97f, 1);
    c[ImGuiCol_ButtonActive] = ImVec4(0.78f, 0.85f, 0.97f, 1);
    c[ImGuiCol_Header] = ImVec4(0.88f, 0.92f, 0.99f, 1);
    c[ImGuiCol_HeaderHovered] = ImVec4(0.92f, 0.94f, 0.99f, 1);
    c[ImGuiCol_HeaderActive] = ImVec4(0.82f, 0.88f, 0.99f, 1);
    c[ImGuiCol_TableHeaderBg] = ImVec4(0.95f, 0.96f, 0.97f, 1);
    c[ImGuiCol_TableRowBgAlt] = ImVec4(0.975f, 0.98f, 0.985f, 1);
    c[ImGuiCol_ModalWindowDimBg] = ImVec4(0.10f, 0.12f, 0.16f, 0.35f);
    c[ImGuiCol_Text] = ImVec4(0.11f, 0.13f, 0.17f, 1);
    c[ImGuiCol_TextDisabled] = ImVec4(0.55f, 0.58f, 0.62f, 1);
}

namespace {
bool filled_button(const char* label, const ImVec4& colour, const ImVec2& size) {
    ImGui::PushStyleColor(ImGuiCol_Button, colour);
    ImGui::PushStyleColor(ImGuiCol_ButtonHovered, ImVec4(colour.x * 0.88f, colour.y * 0.88f, colour.z * 0.88f, 1));
    ImGui::PushStyleColor(ImGuiCol_ButtonActive, ImVec4(colour.x * 0.76f, colour.y * 0.76f, colour.z * 0.76f, 1));
    ImGui::PushStyleColor(ImGuiCol_Text, ImVec4(1, 1, 1, 1));
    ImGui::PushStyleColor(ImGuiCol_Border, colour);
    const bool pressed = ImGui::Button(label, size);
    ImGui::PopStyleColor(5);
    return pressed;
}
}  // namespace

bool primary_button(const char* label, const ImVec2& size) {
    return filled_button(label, accent(), size);
}
bool danger_button(const char* label, const ImVec2& size) {
    return filled_button(label, danger(), size);
}

}  // namespace closeloop::web::theme
