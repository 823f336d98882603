// closeloop builder — platform.h over the page (platform_js.js): callbacks the page calls back
// are kept here by id until it does.
//
// Sections: the JS functions, pending callbacks, clipboard, HTTP, preview, overlay, page.
#include "platform.h"

#include <emscripten/emscripten.h>
#include <imgui.h>

#include <map>
#include <utility>

#include "platform_shell.h"
#include "screens.h"

// ---- the JS functions (platform_js.js) -------------------------------------------------------
extern "C" {
void platform_init();
void platform_ready();
void platform_first_frame();
void platform_clipboard_set(const char* text);
void platform_text_caret(float x, float y);
void platform_set_csrf(const char* token);
void platform_http(int id, const char* method, const char* path, const char* body, const char* if_match);
void platform_preview_show(const char* html, int rtl, float x, float y, float w, float h);
void platform_preview_hide();
void platform_overlay_open(int id, const char* text, int multiline, float x, float y, float w, float h);
int platform_overlay_active();
void platform_set_unsaved(int unsaved);
void platform_canvas_css_size(double* w, double* h);
double platform_device_pixel_ratio();
}

namespace closeloop::web {
namespace {

// ---- pending callbacks -----------------------------------------------------------------------
int next_id = 1;
std::map<int, std::function<void(const HttpResponse&)>> pending_http;
std::map<int, std::function<void(const std::string&)>> pending_overlay;
std::function<void(const std::string&)> paste_handler;
std::string clipboard;  // what ImGui's Ctrl+V pastes: the last text copied or pasted
bool unsaved_shown = false;

const char* imgui_get_clipboard(void*) {
    return clipboard.c_str();
}
void imgui_set_clipboard(void*, const char* text) {
    clipboard_set(text);
}

}  // namespace

// ---- clipboard -------------------------------------------------------------------------------
void clipboard_set(const std::string& text) {
    clipboard = text;
    platform_clipboard_set(text.c_str());
}
void on_paste(std::function<void(const std::string& text)> handler) {
    paste_handler = std::move(handler);
}

// ---- HTTP ------------------------------------------------------------------------------------
void http(const std::string& method, const std::string& path, const std::string& body, const std::string& if_match,
          std::function<void(const HttpResponse&)> done) {
    const int id = next_id++;
    pending_http.emplace(id, std::move(done));
    platform_http(id, method.c_str(), path.c_str(), body.c_str(), if_match.c_str());
}
void set_csrf_token(const std::string& token) {
    platform_set_csrf(token.c_str());
}

// ---- preview ---------------------------------------------------------------------------------
void preview_show(const std::string& html, bool rtl, float x, float y, float w, float h) {
    platform_preview_show(html.c_str(), rtl ? 1 : 0, x, y, w, h);
}
void preview_hide() {
    platform_preview_hide();
}

// ---- text overlay ----------------------------------------------------------------------------
void text_overlay_open(const std::string& text, bool multiline, float x, float y, float w, float h,
                       std::function<void(const std::string& text)> done) {
    const int id = next_id++;
    pending_overlay.emplace(id, std::move(done));
    platform_overlay_open(id, text.c_str(), multiline ? 1 : 0, x, y, w, h);
}
bool text_overlay_active() {
    return platform_overlay_active() != 0;
}

// ---- page ------------------------------------------------------------------------------------
void set_unsaved_changes(bool unsaved) {
    if (unsaved == unsaved_shown) return;
    unsaved_shown = unsaved;
    platform_set_unsaved(unsaved ? 1 : 0);
}
double now_ms() {
    return emscripten_get_now();
}

namespace shell {
void init() {
    platform_init();
}
void ready() {
    platform_ready();
}
void first_frame() {
    platform_first_frame();
}
void install_imgui_hooks() {
    ImGuiIO& io = ImGui::GetIO();
    io.GetClipboardTextFn = imgui_get_clipboard;
    io.SetClipboardTextFn = imgui_set_clipboard;
    io.ClipboardUserData = nullptr;
    io.ImeSetInputScreenPosFn = [](int x, int y) { platform_text_caret(static_cast<float>(x), static_cast<float>(y)); };
}
const std::string& clipboard_text() {
    return clipboard;
}
CssSize canvas_css_size() {
    CssSize s;
    platform_canvas_css_size(&s.w, &s.h);
    return s;
}
double device_pixel_ratio() {
    return platform_device_pixel_ratio();
}
}  // namespace shell

}  // namespace closeloop::web

// ---- called by the page ----------------------------------------------------------------------
using namespace closeloop::web;

extern "C" {
EMSCRIPTEN_KEEPALIVE void closeloop_http_done(int id, int status, const char* body, const char* etag) {
    auto it = pending_http.find(id);
    if (it == pending_http.end()) return;
    auto done = std::move(it->second);
    pending_http.erase(it);
    HttpResponse r;
    r.status = status;
    r.body = body;
    r.etag = etag;
    if (done) done(r);
}

EMSCRIPTEN_KEEPALIVE void closeloop_overlay_done(int id, const char* text) {
    auto it = pending_overlay.find(id);
    if (it == pending_overlay.end()) return;
    auto done = std::move(it->second);
    pending_overlay.erase(it);
    if (done) done(text);
}

EMSCRIPTEN_KEEPALIVE void closeloop_paste(const char* text) {
    clipboard = text;
    if (paste_handler) paste_handler(clipboard);
}

// A pinch (or Ctrl+wheel): zoom the canvas at the pointer (CSS pixels).
EMSCRIPTEN_KEEPALIVE void closeloop_zoom(double factor, double x, double y) {
    if (app().editor_open())
        app().editor().zoom_at(static_cast<float>(factor), static_cast<float>(x), static_cast<float>(y));
}

// Text typed, composed or inserted into the page's text sink: ImGui's active field takes it.
EMSCRIPTEN_KEEPALIVE void closeloop_text_input(const char* text) {
    ImGui::GetIO().AddInputCharactersUTF8(text);
}
}
