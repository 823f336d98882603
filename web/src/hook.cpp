// closeloop builder — the test hook's C++ half: window.closeloopBuilder (platform_js.js
// platform_ready) calls these with JSON text and gets JSON text back. See docs/CONTRACT.md,
// part 2, "Builder test hook". A failure is {"error": text}, which the page throws.
#include <emscripten/emscripten.h>

#include <nlohmann/json.hpp>
#include <string>

#include "closeloop/simulator.h"
#include "editor.h"
#include "screens.h"

namespace {
std::string last_answer;  // the page copies it before the next call

const char* answer(const nlohmann::json& j) {
    last_answer = j.dump();
    return last_answer.c_str();
}
const char* fail(const std::string& message) {
    return answer({{"error", message}});
}
}  // namespace

using closeloop::web::app;

extern "C" {
// simulate(scenario, contact, event, options): core's simulate_documents, the call behind
// `closeloop simulate`, so the array holds exactly the lines it prints for that input.
// `contact` and `event` may each be one document or an array of them; options: history,
// campaigns, templates (arrays), fast_forward, trace (booleans).
EMSCRIPTEN_KEEPALIVE const char* closeloop_hook_simulate(const char* scenario, const char* contact, const char* event,
                                                         const char* options) {
    const auto parse = [](const char* text, const char* what, nlohmann::json& out) -> std::string {
        out = nlohmann::json::parse(text, nullptr, false);
        if (out.is_discarded()) return std::string("simulate: ") + what + " is not JSON";
        return "";
    };
    nlohmann::json sc, ct, ev, opt;
    for (const auto& problem : {parse(scenario, "the scenario", sc), parse(contact, "the contact", ct),
                                parse(event, "the event", ev), parse(options, "options", opt)})
        if (!problem.empty()) return fail(problem);
    if (!opt.is_object() && !opt.is_null()) return fail("simulate: options must be an object");
    const auto as_list = [](const nlohmann::json& j) {
        return j.is_null() || j.is_array() ? j : nlohmann::json::array({j});
    };
    closeloop::SimulationDocuments docs;
    docs.scenario = std::move(sc);
    docs.contacts = as_list(ct);
    docs.events = as_list(ev);
    if (opt.is_object()) {
        docs.history = opt.value("history", nlohmann::json());
        docs.campaigns = opt.value("campaigns", nlohmann::json());
        docs.templates = opt.value("templates", nlohmann::json());
        const auto flag = [&](const char* key) {
            return opt.contains(key) && opt[key].is_boolean() && opt[key].get<bool>();
        };
        docs.fast_forward = flag("fast_forward");
        docs.trace = flag("trace");
    }
    auto runs = closeloop::simulate_documents(docs);
    if (!runs) return fail(runs.error().what());
    return answer(*runs);
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

// The errors the editor shows (its validation panel and the nodes' red outlines).
EMSCRIPTEN_KEEPALIVE const char* closeloop_hook_errors() {
    nlohmann::json out = nlohmann::json::array();
    if (app().editor_open())
        for (const auto& e : app().editor().errors()) out.push_back(e);
    return answer(out);
}

// The editor's geometry (nodes, ports, palette, ...) and the shell's buttons and fields, side
// by side (their names differ: "save_button", "open:<id>", ...).
EMSCRIPTEN_KEEPALIVE const char* closeloop_hook_geometry() {
    nlohmann::json g = app().editor_open() ? app().editor().geometry() : nlohmann::json::object();
    if (!g.is_object()) g = nlohmann::json::object();
    const nlohmann::json shell = app().geometry();
    for (const auto& [name, rect] : shell.items()) g[name] = rect;
    return answer(g);
}

EMSCRIPTEN_KEEPALIVE const char* closeloop_hook_last_simulation() {
    return answer(app().editor().last_simulation());
}

EMSCRIPTEN_KEEPALIVE const char* closeloop_hook_state() {
    return answer(app().state());
}
}
