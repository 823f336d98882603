// closeloop builder — what only the shell (main.cpp) asks of the page, beside platform.h.
#pragma once

#include <string>

namespace closeloop::web::shell {

void init();         // before glfwInit: installs the page's listeners ahead of GLFW's
void ready();        // the app is up: fills in window.closeloopBuilder, resolves `ready`
void first_frame();  // the first frame is drawn: the loading card goes, the time is noted
// ImGui's Ctrl+C / Ctrl+V through the page's clipboard; the IME beside ImGui's text cursor.
void install_imgui_hooks();
const std::string& clipboard_text();  // the last text copied or pasted

struct CssSize {
    double w = 0, h = 0;
};
CssSize canvas_css_size();
double device_pixel_ratio();

}  // namespace closeloop::web::shell
