// closeloop builder — the look: one light ImGui style for every screen, and its few colours.
#pragma once

#include <imgui.h>

namespace closeloop::web::theme {

inline constexpr float font_size = 15.0f;  // CSS pixels
void apply();                              // sets ImGui's style (after CreateContext)
ImVec4 background();                       // behind every window
ImVec4 accent();                           // primary buttons, links
ImVec4 danger();                           // errors, delete
ImVec4 muted();                            // secondary text
ImVec4 success();

// A filled button in the accent (or danger) colour, for the one thing to do next.
bool primary_button(const char* label, const ImVec2& size = ImVec2(0, 0));
bool danger_button(const char* label, const ImVec2& size = ImVec2(0, 0));

}  // namespace closeloop::web::theme
