// closeloop builder — the scenario editor (stub: the shell links against it while the canvas,
// palette, inspector and simulator panel are written).
#include "editor.h"

#include <imgui.h>

namespace closeloop::web {

struct Editor::State {
    edit::EditHistory history;
    WorkspaceCatalog catalog;
    std::vector<ScenarioError> errors;
    std::size_t saved_revision = 0;
    nlohmann::json last_simulation;
};

Editor::Editor() : state_(new State) {}
Editor::~Editor() {
    delete state_;
}

void Editor::open(nlohmann::json scenario) {
    state_->history.reset(std::move(scenario));
    state_->saved_revision = state_->history.revision();
}

void Editor::set_catalog(WorkspaceCatalog catalog) {
    state_->catalog = std::move(catalog);
}

void Editor::draw(float x, float y, float w, float h) {
    ImGui::SetNextWindowPos(ImVec2(x, y));
    ImGui::SetNextWindowSize(ImVec2(w, h));
    ImGui::Begin("##editor", nullptr, ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_NoMove);
    ImGui::TextUnformatted("editor");
    ImGui::End();
}

const nlohmann::json& Editor::document() const {
    return state_->history.document();
}
const std::vector<ScenarioError>& Editor::errors() const {
    return state_->errors;
}
bool Editor::unsaved() const {
    return state_->history.revision() != state_->saved_revision;
}
void Editor::mark_saved() {
    state_->saved_revision = state_->history.revision();
}
nlohmann::json Editor::geometry() const {
    return nlohmann::json::object();
}
nlohmann::json Editor::last_simulation() const {
    return state_->last_simulation;
}

}  // namespace closeloop::web
