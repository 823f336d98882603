// closeloop builder — the browser beneath the app: one seam, implemented in platform_js.js
// (an Emscripten --js-library) and platform.cpp. Everything the app asks of the page goes
// through here: the clipboard, HTTP to the server, the e-mail preview beside the canvas, the
// text overlay for IME input, the "leave with unsaved changes?" warning.
//
// Sections: clipboard, HTTP, preview, text overlay, page.
#pragma once

#include <functional>
#include <string>

namespace closeloop::web {

// ---- clipboard -----------------------------------------------------------------------------
// GLFW's clipboard does not work under Emscripten 3.1.6: the page's copy / paste events carry
// the text. `clipboard_set` writes it (navigator.clipboard, or the next copy event);
// a paste event's text reaches `on_paste` (set once by the app), outside any frame.
void clipboard_set(const std::string& text);
void on_paste(std::function<void(const std::string& text)> handler);

// ---- HTTP ----------------------------------------------------------------------------------
// fetch() with the session cookie; mutating requests carry the CSRF token given at sign-in.
// `done` runs later on the main thread. status 0 = the server did not answer (down).
struct HttpResponse {
    int status = 0;
    std::string body;  // JSON text as the server sent it
    std::string etag;  // the ETag header, when sent
};
void http(const std::string& method, const std::string& path, const std::string& body, const std::string& if_match,
          std::function<void(const HttpResponse&)> done);
void set_csrf_token(const std::string& token);

// ---- preview -------------------------------------------------------------------------------
// Shows rendered e-mail HTML in a sandboxed iframe over the given rectangle (CSS pixels),
// right to left when `rtl`; ImGui cannot lay out HTML or right-to-left text.
void preview_show(const std::string& html, bool rtl, float x, float y, float w, float h);
void preview_hide();

// ---- text overlay --------------------------------------------------------------------------
// An HTML <input> or <textarea> placed over an ImGui field for text ImGui cannot take (IME,
// composed characters, right-to-left). `done` gets the text when the field loses focus.
void text_overlay_open(const std::string& text, bool multiline, float x, float y, float w, float h,
                       std::function<void(const std::string& text)> done);
bool text_overlay_active();

// ---- page ----------------------------------------------------------------------------------
void set_unsaved_changes(bool unsaved);  // the page asks before leaving while true
double now_ms();                         // performance.now(), for frame timing only
}  // namespace closeloop::web
