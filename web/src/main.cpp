// closeloop builder — the program: a GLFW window on WebGL2, Dear ImGui's frame loop driven by
// the browser (emscripten_set_main_loop), the font, and the device pixel ratio.
//
// Coordinates: ImGui works in CSS pixels (what the page, Playwright's mouse and the test
// hook's geometry use); the canvas's backing store is CSS size x devicePixelRatio, and the
// font is rasterized at that density, so a 2x screen is sharp.
#include <GLES3/gl3.h>
#include <GLFW/glfw3.h>
#include <emscripten/emscripten.h>
#include <imgui.h>
#include <imgui_impl_glfw.h>
#include <imgui_impl_opengl3.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <set>
#include <vector>

#include "platform.h"
#include "platform_shell.h"
#include "screens.h"
#include "theme.h"

extern const unsigned char closeloop_font_ttf[];
extern const unsigned closeloop_font_ttf_size;

namespace {

using namespace closeloop::web;

GLFWwindow* window = nullptr;
int backing_w = 0, backing_h = 0;
float font_dpr = 0;  // the density the font atlas was built for
long frames = 0;

// Must match CLOSELOOP_FONT_UNICODES in web/CMakeLists.txt (what the subset holds).
const ImWchar font_ranges[] = {
    0x0020, 0x007E,  // Basic Latin
    0x00A0, 0x017F,  // Latin-1 Supplement, Latin Extended-A (Czech, Polish)
    0x0590, 0x05FF,  // Hebrew
    0x2000, 0x206F,  // General Punctuation (dashes, quotes, bullet, ellipsis)
    0x20AC, 0x20AC,  // euro sign
    0x2190, 0x2199,  // arrows
    0x21B6, 0x21B7,  // undo / redo arrows
    0x21BB, 0x21BB,  // reload arrow
    0x2212, 0x2212,  // minus sign
    0x2261, 0x2261,  // menu bars
    0x25A0, 0x25FF,  // geometric shapes (triangles, circles)
    0x26A0, 0x26A0,  // warning sign
    0x2713, 0x2718,  // check marks and crosses
    0,
};

// ImGui 1.86 polls key state once a frame: a key pressed and released between two frames (a
// quick tap, a test's keyboard.press, a slow frame) would never be seen down. Such a release
// is held back until the frame after the press has been drawn.
struct KeyEvent {
    int key, scancode, action, mods;
};
std::set<int> pressed_since_frame;
std::vector<KeyEvent> held_releases;

// Emscripten 3.1.6's GLFW hands over the page's wheel deltas as they are (pixels, positive
// downwards) where ImGui expects notches, positive upwards: lists scrolled the wrong way, a
// hundred lines a notch. Normalised here, once, for every panel and the canvas.
double wheel_notches(double v) {
    if (std::fabs(v) > 3) v = -v / 100;
    return std::clamp(v, -3.0, 3.0);
}
void scroll_callback(GLFWwindow* w, double dx, double dy) {
    ImGui_ImplGlfw_ScrollCallback(w, wheel_notches(dx), wheel_notches(dy));
}

void key_callback(GLFWwindow* w, int key, int scancode, int action, int mods) {
    if (action == GLFW_RELEASE && pressed_since_frame.count(key)) {
        held_releases.push_back({key, scancode, action, mods});
        return;
    }
    if (action == GLFW_PRESS) pressed_since_frame.insert(key);
    ImGui_ImplGlfw_KeyCallback(w, key, scancode, action, mods);
}

void release_held_keys() {
    pressed_since_frame.clear();
    std::vector<KeyEvent> releases;
    releases.swap(held_releases);
    for (const KeyEvent& e : releases) ImGui_ImplGlfw_KeyCallback(window, e.key, e.scancode, e.action, e.mods);
}

void build_fonts(float dpr) {
    ImGuiIO& io = ImGui::GetIO();
    io.Fonts->Clear();
    ImFontConfig config;
    config.FontDataOwnedByAtlas = false;  // the array is static
    config.OversampleH = 2;
    config.OversampleV = 1;
    const float size = theme::font_size * dpr;
    io.Fonts->AddFontFromMemoryTTF(const_cast<unsigned char*>(closeloop_font_ttf),
                                   static_cast<int>(closeloop_font_ttf_size), size, &config, font_ranges);
    io.FontGlobalScale = 1.0f / dpr;
    font_dpr = dpr;
}

void frame() {
    ImGuiIO& io = ImGui::GetIO();
    const shell::CssSize css = shell::canvas_css_size();
    const float dpr = static_cast<float>(shell::device_pixel_ratio());
    const int want_w = std::max(1, static_cast<int>(std::lround(css.w * dpr)));
    const int want_h = std::max(1, static_cast<int>(std::lround(css.h * dpr)));
    if (want_w != backing_w || want_h != backing_h) {
        glfwSetWindowSize(window, want_w, want_h);  // the canvas's backing store; CSS sizes it
        backing_w = want_w;
        backing_h = want_h;
    }
    if (dpr != font_dpr) {
        build_fonts(dpr);
        ImGui_ImplOpenGL3_DestroyFontsTexture();
        ImGui_ImplOpenGL3_CreateFontsTexture();
    }

    ImGui_ImplOpenGL3_NewFrame();
    ImGui_ImplGlfw_NewFrame();
    // GLFW reports sizes and the mouse in backing pixels: make ImGui's space CSS pixels.
    const float sx = css.w > 0 ? static_cast<float>(backing_w / css.w) : 1.0f;
    const float sy = css.h > 0 ? static_cast<float>(backing_h / css.h) : 1.0f;
    io.DisplaySize = ImVec2(static_cast<float>(css.w), static_cast<float>(css.h));
    io.DisplayFramebufferScale = ImVec2(sx, sy);
    if (io.MousePos.x != -FLT_MAX) io.MousePos = ImVec2(io.MousePos.x / sx, io.MousePos.y / sy);

    ImGui::NewFrame();
    app().draw(io.DisplaySize.x, io.DisplaySize.y);
    ImGui::Render();

    glViewport(0, 0, backing_w, backing_h);
    const ImVec4 bg = theme::background();
    glClearColor(bg.x, bg.y, bg.z, 1.0f);
    glClear(GL_COLOR_BUFFER_BIT);
    ImGui_ImplOpenGL3_RenderDrawData(ImGui::GetDrawData());
    release_held_keys();
    if (++frames == 1) shell::first_frame();
}

}  // namespace

int main() {
    shell::init();  // before glfwInit: the page's key listeners must run before GLFW's
    if (!glfwInit()) return 1;
    glfwWindowHint(GLFW_CLIENT_API, GLFW_OPENGL_ES_API);
    glfwWindowHint(GLFW_CONTEXT_VERSION_MAJOR, 3);
    glfwWindowHint(GLFW_CONTEXT_VERSION_MINOR, 0);
    const shell::CssSize css = shell::canvas_css_size();
    const double dpr = shell::device_pixel_ratio();
    backing_w = std::max(1, static_cast<int>(std::lround(css.w * dpr)));
    backing_h = std::max(1, static_cast<int>(std::lround(css.h * dpr)));
    window = glfwCreateWindow(backing_w, backing_h, "closeloop builder", nullptr, nullptr);
    if (!window) return 1;
    glfwMakeContextCurrent(window);

    IMGUI_CHECKVERSION();
    ImGui::CreateContext();
    ImGuiIO& io = ImGui::GetIO();
    io.IniFilename = nullptr;  // window layout is view state the app owns, not a file
    io.LogFilename = nullptr;
    theme::apply();
    build_fonts(static_cast<float>(dpr));
    ImGui_ImplGlfw_InitForOpenGL(window, true);
    glfwSetKeyCallback(window, key_callback);  // in front of the backend's (see key_callback)
    glfwSetScrollCallback(window, scroll_callback);
    ImGui_ImplOpenGL3_Init("#version 300 es");
    shell::install_imgui_hooks();

    app().start();
    shell::ready();
    emscripten_set_main_loop(frame, 0, false);
    return 0;
}
