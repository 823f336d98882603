// closeloop builder — the test hook's C++ half: window.closeloopBuilder (platform_js.js
// platform_ready) calls these with JSON text and gets JSON text back. See docs/CONTRACT.md,
// part 2, "Builder test hook". A failure is {"error": text}, which the page throws.
#include <emscripten/emscripten.h>

#include <nlohmann/json.hpp>
#include <string>

#include "editor.h"
#include "screens.h"

namespace {
std::string out;  // the last answer; the page copies it before the next call

const char* answer(const nlohmann::json& j) {
    out = j.dump();
    return out.c_str();
}
const char* fail(const std::string& message) {
    return answer({{"error", message}});
}
}  // namespace

using closeloop::web::app;

extern "C" {
EMSCRIPTEN_KEEPALIVE const char* closeloop_hook_simulate(const char*, const char*, const char*, const char*) {
    return fail("simulate: not built yet");
}

EMSCRIPTEN_KEEPALIVE const char* closeloop_hook_load(const char* scenario) {
    auto doc = nlohmann::json::parse(scenario, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) return fail("loadScenario: not a JSON object");
    app().open_local(std::move(doc));
    return answer({{"ok", true}});
}

EMSCRIPTEN_KEEPALIVE const char* closeloop_hook_scenario() {
    return answer(app().editor_open() ? app().editor().document() : nlohmann::json());
}

EMSCRIPTEN_KEEPALIVE const char* closeloop_hook_errors() {
    return answer(nlohmann::json::array());
}

EMSCRIPTEN_KEEPALIVE const char* closeloop_hook_geometry() {
    return answer(app().editor().geometry());
}

EMSCRIPTEN_KEEPALIVE const char* closeloop_hook_last_simulation() {
    return answer(app().editor().last_simulation());
}

EMSCRIPTEN_KEEPALIVE const char* closeloop_hook_state() {
    return answer(app().state());
}
}
