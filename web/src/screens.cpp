// closeloop builder — the screens (screens.h). Skeleton: the editor under a top bar.
#include "screens.h"

#include <imgui.h>

#include "theme.h"

namespace closeloop::web {

struct App::State {
    Editor editor;
    bool open = false;
};

App::App() : s_(std::make_unique<State>()) {}
App::~App() = default;

App& app() {
    static App instance;
    return instance;
}

void App::start() {}
Editor& App::editor() {
    return s_->editor;
}
bool App::editor_open() const {
    return s_->open;
}
void App::open_local(nlohmann::json scenario) {
    s_->editor.open(std::move(scenario));
    s_->open = true;
}
nlohmann::json App::state() const {
    return {{"screen", s_->open ? "editor" : "list"}};
}

void App::draw(float w, float h) {
    const float bar = 44;
    ImGui::SetNextWindowPos(ImVec2(0, 0));
    ImGui::SetNextWindowSize(ImVec2(w, bar));
    ImGui::Begin("##topbar", nullptr,
                 ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoSavedSettings);
    ImGui::TextUnformatted("closeloop builder");
    ImGui::End();
    s_->editor.draw(0, bar, w, h - bar);
}

}  // namespace closeloop::web
