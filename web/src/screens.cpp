// closeloop builder — the screens (screens.h): the App, the session and the sign-in screen.
// The list is in screens_list.cpp, the editor's top bar, saving and versions in
// screens_editor.cpp.
//
// Sections: helpers, banner, session, sign-in, the App.
#include <imgui.h>
#include <imgui_internal.h>  // BringWindowToDisplayFront: the banner stays above every window

#include <algorithm>
#include <cctype>
#include <cstring>

#include "platform.h"
#include "screens_state.h"
#include "theme.h"

namespace closeloop::web {

using nlohmann::json;

// ---- helpers ---------------------------------------------------------------------------------

json list_of(const json& body, const char* key) {
    if (body.is_array()) return body;
    if (body.is_object()) {
        const auto it = body.find(key);
        if (it != body.end() && it->is_array()) return *it;
    }
    return json::array();
}

std::string short_time(const std::string& t) {
    // 2026-12-03T19:40:12Z -> 2026-12-03 19:40
    if (t.size() < 16 || t[10] != 'T') return t;
    return t.substr(0, 10) + " " + t.substr(11, 5);
}

std::string text_of(const json& j, const char* key) {
    if (!j.is_object()) return "";
    const auto it = j.find(key);
    if (it == j.end()) return "";
    if (it->is_string()) return it->get<std::string>();
    if (it->is_number_integer()) return std::to_string(it->get<long long>());
    return "";
}

void mark(App::State& s, const char* name) {
    const ImVec2 a = ImGui::GetItemRectMin(), b = ImGui::GetItemRectMax();
    s.marks[name] = {{"x", a.x}, {"y", a.y}, {"w", b.x - a.x}, {"h", b.y - a.y}};
}

// ---- banner ----------------------------------------------------------------------------------

void show_banner(App::State& s, Banner::Kind kind, std::string text) {
    s.banner.kind = kind;
    s.banner.text = std::move(text);
    s.banner.shown_at = now_ms();
}

void draw_banner(App::State& s, float y, float w) {
    Banner& b = s.banner;
    if (b.kind == Banner::Kind::none) return;
    // Good news goes by itself; an error stays until dismissed or replaced.
    if (b.kind != Banner::Kind::error && now_ms() - b.shown_at > 6000) {
        b.kind = Banner::Kind::none;
        return;
    }
    ImVec4 bg, fg;
    switch (b.kind) {
        case Banner::Kind::error:
            bg = ImVec4(0.99f, 0.92f, 0.92f, 1);
            fg = theme::danger();
            break;
        case Banner::Kind::success:
            bg = ImVec4(0.90f, 0.97f, 0.92f, 1);
            fg = theme::success();
            break;
        default:
            bg = ImVec4(0.91f, 0.94f, 0.99f, 1);
            fg = theme::accent();
            break;
    }
    const float width = std::min(w - 40, 760.0f);
    ImGui::SetNextWindowPos(ImVec2((w - width) / 2, y + 8));
    ImGui::SetNextWindowSize(ImVec2(width, 0));
    ImGui::PushStyleColor(ImGuiCol_WindowBg, bg);
    ImGui::PushStyleColor(ImGuiCol_Border, fg);
    ImGui::Begin("##banner", nullptr,
                 ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoSavedSettings |
                     ImGuiWindowFlags_AlwaysAutoResize | ImGuiWindowFlags_NoFocusOnAppearing);
    ImGui::BringWindowToDisplayFront(ImGui::GetCurrentWindow());
    ImGui::PushStyleColor(ImGuiCol_Text, fg);
    ImGui::PushTextWrapPos(width - 90);
    ImGui::TextUnformatted(b.text.c_str());
    ImGui::PopTextWrapPos();
    ImGui::PopStyleColor();
    ImGui::SameLine(width - 76);
    if (ImGui::SmallButton("Dismiss")) b.kind = Banner::Kind::none;
    ImGui::End();
    ImGui::PopStyleColor(2);
}

// ---- session ---------------------------------------------------------------------------------

namespace {

std::string workspace_name(const json& session) {
    if (!session.is_object()) return "";
    const auto it = session.find("workspace");
    if (it == session.end()) return "";
    if (it->is_string()) return it->get<std::string>();
    for (const char* key : {"name", "slug", "id"})
        if (auto t = text_of(*it, key); !t.empty()) return t;
    return "";
}

void signed_in(App::State& s, const json& session) {
    s.signed_in = true;
    const std::string workspace = workspace_name(session);
    const bool same_workspace = workspace == s.workspace;
    s.workspace = workspace;
    set_csrf_token(text_of(session, "csrf_token"));
    s.sign_in_message.clear();
    // Signed out in the middle of editing (the session expired): back to the same document,
    // unsaved edits and all, when it is the same workspace.
    s.screen = s.resume_editor && same_workspace ? Screen::editor : Screen::list;
    s.resume_editor = false;
    load_list(s);
    load_catalog(s);
}

void sign_in(App::State& s) {
    if (s.sign_in_busy) return;
    std::string key = s.key;
    // Trim what a copy from a terminal brings along.
    while (!key.empty() && std::isspace(static_cast<unsigned char>(key.back()))) key.pop_back();
    key.erase(0, std::min(key.size(), key.find_first_not_of(" \t\r\n")));
    if (key.empty()) {
        s.sign_in_message = "Paste the workspace admin key first.";
        return;
    }
    // The key lives only in this request: the server answers with an HttpOnly cookie.
    std::memset(s.key, 0, sizeof s.key);
    s.sign_in_busy = true;
    s.sign_in_message.clear();
    api::call("POST", "/api/v1/session", json{{"key", key}}, [&s](const api::Reply& r) {
        s.sign_in_busy = false;
        s.focus_key = true;
        if (r.ok()) return signed_in(s, r.body);
        if (r.status == 401 || r.status == 403) {
            // The server says why (not valid, revoked, a publishable key) and what to do.
            std::string why;
            if (r.body.is_object() && r.body.contains("error")) why = text_of(r.body["error"], "message");
            s.sign_in_message = why.empty() ? "That key was not accepted: check that you pasted the whole admin key."
                                            : "That key was not accepted: " + why + ".";
        } else {
            s.sign_in_message = api::describe(r);
        }
    });
}

}  // namespace

void go_to_sign_in(App::State& s, std::string message) {
    if (s.screen == Screen::sign_in && !s.signed_in) return;
    s.signed_in = false;
    s.resume_editor = s.screen == Screen::editor && !s.local_document;
    s.screen = Screen::sign_in;
    s.sign_in_message = std::move(message);
    s.focus_key = true;
    set_csrf_token("");
}

// ---- sign-in ---------------------------------------------------------------------------------

void draw_sign_in(App::State& s, float w, float h) {
    const float width = std::min(460.0f, w - 32);
    ImGui::SetNextWindowPos(ImVec2((w - width) / 2, std::max(24.0f, h * 0.22f)));
    ImGui::SetNextWindowSize(ImVec2(width, 0));
    ImGui::Begin("##sign_in", nullptr,
                 ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoSavedSettings |
                     ImGuiWindowFlags_AlwaysAutoResize);
    ImGui::Dummy(ImVec2(0, 4));
    ImGui::SetWindowFontScale(1.35f);
    ImGui::TextUnformatted("Sign in to closeloop");
    ImGui::SetWindowFontScale(1.0f);
    ImGui::PushTextWrapPos(width - 28);
    ImGui::PushStyleColor(ImGuiCol_Text, theme::muted());
    ImGui::TextUnformatted(
        "Paste the workspace admin key. `closeloop serve` prints it at its first start; "
        "an operator can issue a new one with `closeloop keys create --workspace demo`.");
    ImGui::PopStyleColor();
    ImGui::Dummy(ImVec2(0, 4));
    if (!s.sign_in_message.empty()) {
        ImGui::PushStyleColor(ImGuiCol_Text, theme::danger());
        ImGui::TextUnformatted(s.sign_in_message.c_str());
        ImGui::PopStyleColor();
    }
    ImGui::PopTextWrapPos();
    ImGui::TextUnformatted("Admin key");
    ImGui::SetNextItemWidth(-1);
    if (ImGui::IsWindowAppearing() || s.focus_key) ImGui::SetKeyboardFocusHere();
    s.focus_key = false;
    const bool enter = ImGui::InputTextWithHint("##key", "sk_…", s.key, sizeof s.key,
                                                ImGuiInputTextFlags_Password | ImGuiInputTextFlags_EnterReturnsTrue);
    mark(s, "sign_in_key");
    ImGui::Dummy(ImVec2(0, 2));
    ImGui::BeginDisabled(s.sign_in_busy);
    const bool clicked = theme::primary_button(s.sign_in_busy ? "Signing in…" : "Sign in", ImVec2(-1, 34));
    mark(s, "sign_in_button");
    if (clicked || enter) sign_in(s);
    ImGui::EndDisabled();
    ImGui::Dummy(ImVec2(0, 4));
    ImGui::End();
}

// ---- the App ---------------------------------------------------------------------------------

App::App() : s_(std::make_unique<State>()) {}
App::~App() = default;

App& app() {
    static App instance;
    return instance;
}

void App::start() {
    State& s = *s_;
    api::on_signed_out([&s](const std::string& message) { go_to_sign_in(s, message); });
    // Nodes copied with Ctrl+C paste onto the canvas; while a text field is being edited the
    // text goes to it instead (ImGui reads the same text for its Ctrl+V).
    on_paste([&s](const std::string& text) {
        if (s.screen == Screen::editor && !ImGui::GetIO().WantTextInput) s.editor.paste(text);
    });
    s.screen = Screen::loading;
    // A session may be open already (a reload): its cookie is sent, the key is not needed.
    api::get("/api/v1/session", [&s](const api::Reply& r) {
        if (r.ok()) return signed_in(s, r.body);
        s.screen = Screen::sign_in;
        if (r.status == 401 && r.error_code == "session_expired") {
            s.sign_in_message = api::describe(r);
        } else if (r.status != 401 && r.status != 404) {
            s.sign_in_message = api::describe(r);  // down, or failing
        }
    });
}

Editor& App::editor() {
    return s_->editor;
}
bool App::editor_open() const {
    return s_->screen == Screen::editor;
}

void App::open_local(json scenario) {
    State& s = *s_;
    s.scenario_id = text_of(scenario, "id");
    s.scenario_status = text_of(scenario, "status");
    s.version = 0;
    s.etag.clear();
    s.local_document = true;
    s.editor.open(std::move(scenario));
    s.screen = Screen::editor;
}

json App::state() const {
    const State& s = *s_;
    static const char* names[] = {"loading", "sign_in", "list", "editor"};
    json j = {{"screen", names[static_cast<int>(s.screen)]},
              {"signed_in", s.signed_in},
              {"workspace", s.workspace},
              {"message", s.screen == Screen::sign_in ? s.sign_in_message : s.banner.text}};
    if (s.screen == Screen::editor) {
        j["scenario"] = s.scenario_id;
        j["version"] = s.version;
        j["status"] = s.scenario_status;
        j["unsaved"] = s.editor.unsaved();
        j["conflict"] = s.conflict_version != 0;
    }
    if (s.screen == Screen::list) j["scenarios"] = s.scenarios.size();
    return j;
}

json App::geometry() const {
    return s_->marks;
}

void App::draw(float w, float h) {
    State& s = *s_;
    s.marks = json::object();
    set_unsaved_changes(s.screen == Screen::editor && s.editor.unsaved());
    switch (s.screen) {
        case Screen::loading: {
            ImGui::SetNextWindowPos(ImVec2(w / 2, h / 2), 0, ImVec2(0.5f, 0.5f));
            ImGui::Begin("##loading", nullptr,
                         ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_NoMove | ImGuiWindowFlags_AlwaysAutoResize);
            ImGui::TextUnformatted("Connecting to the closeloop server…");
            ImGui::End();
            break;
        }
        case Screen::sign_in:
            draw_sign_in(s, w, h);
            break;
        case Screen::list:
            draw_list(s, 0, w, h);
            break;
        case Screen::editor:
            draw_editor_screen(s, w, h);
            break;
    }
    draw_banner(s, top_bar_height, w);
}

}  // namespace closeloop::web
