// closeloop builder — the editor screen's shell: the top bar (back to the list, name, unsaved
// mark, Save, Activate / Pause, Versions) above the Editor, and what those buttons do on the
// server: save with If-Match (a conflict dialog on 412), the lifecycle (the server's 422
// errors shown), version history with the diff between two versions.
//
// Sections: opening, saving, lifecycle, dialogs, versions, the screen.
#include <GLFW/glfw3.h>
#include <imgui.h>

#include <algorithm>
#include <cstdio>

#include "platform.h"
#include "screens_state.h"
#include "theme.h"

namespace closeloop::web {

using nlohmann::json;

namespace {

std::string quoted(long version) {
    return "\"" + std::to_string(version) + "\"";
}

long version_of(const json& j) {
    if (j.is_object() && j.contains("version") && j["version"].is_number_integer()) return j["version"].get<long>();
    return 0;
}

// What GET adds to a document is the server's; the editor edits the scenario itself.
json editable(json doc) {
    for (const char* server_field : {"created_at", "updated_at", "errors", "version"}) doc.erase(server_field);
    return doc;
}

std::string scenario_path(const App::State& s) {
    return "/api/v1/scenarios/" + api::escape(s.scenario_id);
}

}  // namespace

// ---- opening ---------------------------------------------------------------------------------

void open_scenario(App::State& s, const std::string& id) {
    if (s.opening) return;
    s.opening = true;
    // Installing an example adds templates and campaigns, and another tab may have added
    // some: the pickers and the editor's checks read the workspace as it is now.
    load_catalog(s);
    api::get("/api/v1/scenarios/" + api::escape(id), [&s, id](const api::Reply& r) {
        s.opening = false;
        if (!r.ok() || !r.body.is_object()) {
            if (r.status != 401)
                show_banner(s, Banner::Kind::error, "“" + id + "” could not be opened. " + api::describe(r));
            return;
        }
        s.scenario_id = id;
        s.scenario_status = text_of(r.body, "status");
        s.version = version_of(r.body);
        s.etag = r.etag.empty() ? quoted(s.version) : r.etag;
        s.local_document = false;
        s.conflict_version = 0;
        s.activation_errors.clear();
        s.versions_open = false;
        s.diff = nullptr;
        s.editor.open(editable(r.body));
        s.screen = Screen::editor;
    });
}

namespace {

// ---- saving ----------------------------------------------------------------------------------

void after_saved(App::State& s, const api::Reply& r, const json& sent) {
    s.version = version_of(r.body) ? version_of(r.body) : s.version + 1;
    s.etag = r.etag.empty() ? quoted(s.version) : r.etag;
    if (auto status = text_of(r.body, "status"); !status.empty()) s.scenario_status = status;
    // Edits made while the request was out are still unsaved.
    if (s.editor.document() == sent) s.editor.mark_saved();
    const std::size_t problems =
        r.body.is_object() && r.body.contains("errors") && r.body["errors"].is_array() ? r.body["errors"].size() : 0;
    if (problems > 0) {
        show_banner(s, Banner::Kind::info,
                    "Saved as version " + std::to_string(s.version) + ". " + std::to_string(problems) +
                        (problems == 1 ? " problem" : " problems") + " to fix before it can be activated.");
    } else {
        show_banner(s, Banner::Kind::success, "Saved as version " + std::to_string(s.version) + ".");
    }
}

// The 422 of activate (or of saving an active scenario): every error the server listed.
void take_errors(App::State& s, const api::Reply& r) {
    s.activation_errors.clear();
    if (r.body.is_object() && r.body.contains("error") && r.body["error"].is_object()) {
        const json& e = r.body["error"];
        if (e.contains("errors") && e["errors"].is_array())
            for (const auto& item : e["errors"]) s.activation_errors.push_back(item);
        if (s.activation_errors.empty()) s.activation_errors.push_back({{"message", text_of(e, "message")}});
    }
    if (s.activation_errors.empty()) s.activation_errors.push_back({{"message", api::describe(r)}});
}

void save(App::State& s, std::function<void()> then = nullptr, bool overwrite = false) {
    if (s.saving || s.local_document) return;
    s.saving = true;
    const json sent = s.editor.document();
    const std::string if_match = overwrite && s.conflict_version ? quoted(s.conflict_version) : s.etag;
    api::call(
        "PUT", scenario_path(s), sent,
        [&s, sent, then](const api::Reply& r) {
            s.saving = false;
            if (r.ok()) {
                s.conflict_version = 0;
                after_saved(s, r, sent);
                if (then) then();
                return;
            }
            if (r.status == 412) {
                // Someone saved since this version was opened: ask which to keep.
                s.conflict_version = -1;
                api::get(scenario_path(s), [&s](const api::Reply& cur) {
                    s.conflict_version = cur.ok() && version_of(cur.body) ? version_of(cur.body) : -1;
                });
                return;
            }
            if (r.status == 422 && r.error_code == "invalid_scenario") {
                take_errors(s, r);
                return;
            }
            if (r.status != 401) show_banner(s, Banner::Kind::error, "Not saved. " + api::describe(r));
        },
        if_match);
}

// ---- lifecycle -------------------------------------------------------------------------------

void change_status(App::State& s, const char* action) {
    if (s.changing_status || s.local_document) return;
    const std::string what = action;
    // Activation applies to what the server has: save first.
    if (s.editor.unsaved()) return save(s, [&s, what]() { change_status(s, what.c_str()); });
    s.changing_status = true;
    api::call("POST", scenario_path(s) + "/" + what, json::object(), [&s, what](const api::Reply& r) {
        s.changing_status = false;
        if (r.ok()) {
            if (auto status = text_of(r.body, "status"); !status.empty()) {
                s.scenario_status = status;
            } else {
                s.scenario_status = what == "activate" ? "active" : "paused";
            }
            if (long v = version_of(r.body)) {
                s.version = v;
                s.etag = r.etag.empty() ? quoted(v) : r.etag;
            }
            show_banner(s, Banner::Kind::success,
                        what == "activate" ? "Active: new events that match its trigger now run through it."
                                           : "Paused: no new runs start; customers already in it go on to the end.");
            return;
        }
        if (r.status == 422) return take_errors(s, r);
        if (r.status != 401) show_banner(s, Banner::Kind::error, api::describe(r));
    });
}

void leave(App::State& s) {
    s.leave_pending = false;
    s.screen = s.signed_in ? Screen::list : Screen::sign_in;
    preview_hide();
    if (s.signed_in) load_list(s);
}

// ---- dialogs ---------------------------------------------------------------------------------

void errors_dialog(App::State& s) {
    if (!s.activation_errors.empty() && !ImGui::IsPopupOpen("Fix these first")) ImGui::OpenPopup("Fix these first");
    ImGui::SetNextWindowSize(ImVec2(620, 0));
    if (!ImGui::BeginPopupModal("Fix these first", nullptr,
                                ImGuiWindowFlags_NoResize | ImGuiWindowFlags_NoSavedSettings))
        return;
    ImGui::PushTextWrapPos(600);
    ImGui::TextUnformatted(s.scenario_status == "active"
                               ? "The server refused: an active scenario must be valid. Fix these (or pause it first):"
                               : "The scenario cannot be activated until these are fixed:");
    ImGui::Dummy(ImVec2(0, 4));
    ImGui::BeginChild("##errs",
                      ImVec2(0, std::min(300.0f, 26.0f * static_cast<float>(s.activation_errors.size()) + 10)), true);
    for (const auto& e : s.activation_errors) {
        const std::string node = text_of(e, "node"), field = text_of(e, "field");
        std::string where = node.empty() ? "scenario" : node;
        if (!field.empty()) where += " · " + field;
        ImGui::PushStyleColor(ImGuiCol_Text, theme::danger());
        ImGui::TextUnformatted("●");
        ImGui::PopStyleColor();
        ImGui::SameLine();
        ImGui::TextDisabled("%s", where.c_str());
        ImGui::SameLine();
        ImGui::TextUnformatted(text_of(e, "message").c_str());
    }
    ImGui::EndChild();
    ImGui::TextDisabled("The problems panel under the canvas shows the same list; click one to go to its node.");
    ImGui::PopTextWrapPos();
    const bool ok = theme::primary_button("OK", ImVec2(120, 0));
    mark(s, "errors_ok");
    if (ok || ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_Escape))) {
        s.activation_errors.clear();
        ImGui::CloseCurrentPopup();
    }
    ImGui::EndPopup();
}

void conflict_dialog(App::State& s) {
    if (s.conflict_version != 0 && !ImGui::IsPopupOpen("Changed elsewhere")) ImGui::OpenPopup("Changed elsewhere");
    ImGui::SetNextWindowSize(ImVec2(560, 0));
    if (!ImGui::BeginPopupModal("Changed elsewhere", nullptr,
                                ImGuiWindowFlags_NoResize | ImGuiWindowFlags_NoSavedSettings))
        return;
    ImGui::PushTextWrapPos(540);
    if (s.conflict_version > 0) {
        ImGui::Text(
            "Someone saved version %ld of this scenario after you opened version %ld "
            "(in another tab or by another person).",
            s.conflict_version, s.version);
    } else {
        ImGui::TextUnformatted(
            "Someone saved this scenario after you opened it (in another tab or by another person).");
    }
    ImGui::TextUnformatted("Your changes are not saved yet.");
    ImGui::PushStyleColor(ImGuiCol_Text, theme::muted());
    ImGui::TextUnformatted(
        "Load theirs to continue from the newest version (your changes are dropped), or keep "
        "editing yours: you can copy nodes (Ctrl+C) before you load theirs, or replace theirs.");
    ImGui::PopStyleColor();
    ImGui::PopTextWrapPos();
    ImGui::Dummy(ImVec2(0, 4));
    const bool theirs = theme::primary_button("Load their version");
    mark(s, "conflict_load_theirs");
    if (theirs) {
        s.conflict_version = 0;
        ImGui::CloseCurrentPopup();
        open_scenario(s, s.scenario_id);
    }
    ImGui::SameLine();
    const bool keep = ImGui::Button("Keep editing mine");
    mark(s, "conflict_keep");
    if (keep) {
        s.conflict_version = 0;
        ImGui::CloseCurrentPopup();
    }
    ImGui::SameLine();
    ImGui::BeginDisabled(s.conflict_version <= 0);
    const bool replace = theme::danger_button("Replace theirs with mine");
    mark(s, "conflict_replace");
    if (replace) {
        ImGui::CloseCurrentPopup();
        save(s, nullptr, true);
    }
    ImGui::EndDisabled();
    ImGui::EndPopup();
}

void leave_dialog(App::State& s) {
    if (s.leave_pending && !ImGui::IsPopupOpen("Unsaved changes")) ImGui::OpenPopup("Unsaved changes");
    ImGui::SetNextWindowSize(ImVec2(470, 0));
    if (!ImGui::BeginPopupModal("Unsaved changes", nullptr,
                                ImGuiWindowFlags_NoResize | ImGuiWindowFlags_NoSavedSettings))
        return;
    ImGui::PushTextWrapPos(450);
    ImGui::TextUnformatted("This scenario has changes that are not saved. Save them before going back to the list?");
    ImGui::PopTextWrapPos();
    ImGui::Dummy(ImVec2(0, 4));
    const bool save_leave = theme::primary_button("Save and leave");
    mark(s, "leave_save");
    if (save_leave) {
        ImGui::CloseCurrentPopup();
        s.leave_pending = false;
        save(s, [&s]() { leave(s); });
    }
    ImGui::SameLine();
    const bool discard = theme::danger_button("Discard changes");
    mark(s, "leave_discard");
    if (discard) {
        ImGui::CloseCurrentPopup();
        leave(s);
    }
    ImGui::SameLine();
    if (ImGui::Button("Stay") || ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_Escape))) {
        s.leave_pending = false;
        ImGui::CloseCurrentPopup();
    }
    ImGui::EndPopup();
}

// ---- versions --------------------------------------------------------------------------------

void load_diff(App::State& s) {
    if (s.diff_from <= 0 || s.diff_to <= 0) return;
    s.diff_loading = true;
    s.diff = nullptr;
    api::get(scenario_path(s) + "/diff?from=" + std::to_string(s.diff_from) + "&to=" + std::to_string(s.diff_to),
             [&s](const api::Reply& r) {
                 s.diff_loading = false;
                 if (r.ok() && r.body.is_object()) {
                     s.diff = r.body;
                 } else if (r.status != 401) {
                     s.versions_error = "The changes could not be loaded. " + api::describe(r);
                 }
             });
}

void load_versions(App::State& s) {
    s.versions_loading = true;
    s.versions_error.clear();
    s.diff = nullptr;
    api::get(scenario_path(s) + "/versions", [&s](const api::Reply& r) {
        s.versions_loading = false;
        if (!r.ok()) {
            if (r.status != 401) s.versions_error = "The versions could not be loaded. " + api::describe(r);
            return;
        }
        s.versions = list_of(r.body, "versions");
        // Newest first; compare the newest with the one before it to begin with.
        std::stable_sort(s.versions.begin(), s.versions.end(),
                         [](const json& a, const json& b) { return version_of(a) > version_of(b); });
        s.diff_to = s.versions.size() > 0 ? version_of(s.versions[0]) : 0;
        s.diff_from = s.versions.size() > 1 ? version_of(s.versions[1]) : s.diff_to;
        if (s.versions.size() > 1) load_diff(s);
    });
}

void id_list(const char* title, const json& ids, const ImVec4& colour, const char* mark) {
    if (!ids.is_array() || ids.empty()) return;
    ImGui::PushStyleColor(ImGuiCol_Text, colour);
    ImGui::Text("%s (%zu)", title, ids.size());
    ImGui::PopStyleColor();
    for (const auto& id : ids) {
        ImGui::Indent(12);
        ImGui::PushStyleColor(ImGuiCol_Text, colour);
        ImGui::TextUnformatted(mark);
        ImGui::PopStyleColor();
        ImGui::SameLine();
        ImGui::TextUnformatted(id.is_string() ? id.get<std::string>().c_str() : id.dump().c_str());
        ImGui::Unindent(12);
    }
    ImGui::Dummy(ImVec2(0, 4));
}

void versions_window(App::State& s, float w, float h) {
    if (!s.versions_open) return;
    const float width = std::min(760.0f, w - 40);
    ImGui::SetNextWindowPos(ImVec2(w - width - 16, top_bar_height + 8), ImGuiCond_Appearing);
    ImGui::SetNextWindowSize(ImVec2(width, std::min(520.0f, h - top_bar_height - 24)), ImGuiCond_Appearing);
    if (!ImGui::Begin("Versions", &s.versions_open, ImGuiWindowFlags_NoCollapse | ImGuiWindowFlags_NoSavedSettings)) {
        ImGui::End();
        return;
    }
    if (s.versions_loading) ImGui::TextUnformatted("Loading the versions…");
    if (!s.versions_error.empty()) {
        ImGui::PushStyleColor(ImGuiCol_Text, theme::danger());
        ImGui::TextWrapped("%s", s.versions_error.c_str());
        ImGui::PopStyleColor();
    }
    ImGui::TextDisabled("Pick two versions: what changed from the first to the second is shown on the right.");
    const float list_w = 300;
    ImGui::BeginChild("##versions", ImVec2(list_w, 0), true);
    if (ImGui::BeginTable("##vt", 4, ImGuiTableFlags_RowBg)) {
        ImGui::TableSetupColumn("From", ImGuiTableColumnFlags_WidthFixed, 40);
        ImGui::TableSetupColumn("To", ImGuiTableColumnFlags_WidthFixed, 30);
        ImGui::TableSetupColumn("Version", ImGuiTableColumnFlags_WidthFixed, 56);
        ImGui::TableSetupColumn("Saved (UTC)", ImGuiTableColumnFlags_WidthStretch);
        ImGui::TableHeadersRow();
        bool changed = false;
        for (const auto& v : s.versions) {
            const long n = version_of(v);
            ImGui::PushID(static_cast<int>(n));
            ImGui::TableNextRow();
            ImGui::TableNextColumn();
            if (ImGui::RadioButton("##from", s.diff_from == n)) {
                s.diff_from = n;
                changed = true;
            }
            ImGui::TableNextColumn();
            if (ImGui::RadioButton("##to", s.diff_to == n)) {
                s.diff_to = n;
                changed = true;
            }
            ImGui::TableNextColumn();
            ImGui::Text("v%ld%s", n, n == s.version ? " ●" : "");
            if (n == s.version && ImGui::IsItemHovered()) ImGui::SetTooltip("The version open in the editor");
            ImGui::TableNextColumn();
            std::string when = text_of(v, "saved_at");
            if (when.empty()) when = text_of(v, "created_at");
            if (when.empty()) when = text_of(v, "updated_at");
            ImGui::TextUnformatted(short_time(when).c_str());
            ImGui::PopID();
        }
        ImGui::EndTable();
        if (changed) load_diff(s);
    }
    if (!s.versions_loading && s.versions.size() == 1) ImGui::TextDisabled("Only one version so far.");
    ImGui::EndChild();
    ImGui::SameLine();
    ImGui::BeginChild("##diff", ImVec2(0, 0), true);
    if (s.diff_loading) {
        ImGui::TextUnformatted("Comparing…");
    } else if (s.diff.is_object()) {
        ImGui::Text("From v%ld to v%ld", s.diff_from, s.diff_to);
        ImGui::Separator();
        const json none = json::array();
        const auto field = [&](const char* key) { return s.diff.contains(key) ? s.diff[key] : none; };
        const bool nothing = field("added").empty() && field("removed").empty() && field("changed").empty() &&
                             field("scenario_fields").empty();
        if (nothing) {
            ImGui::PushStyleColor(ImGuiCol_Text, theme::muted());
            ImGui::TextWrapped("No changes to the flow (positions on the canvas are not compared).");
            ImGui::PopStyleColor();
        }
        id_list("Nodes added", field("added"), theme::success(), "+");
        id_list("Nodes removed", field("removed"), theme::danger(), "−");
        id_list("Nodes changed", field("changed"), ImVec4(0.72f, 0.45f, 0.05f, 1), "~");
        id_list("Scenario settings changed", field("scenario_fields"), theme::accent(), "~");
    } else if (s.diff_from == s.diff_to && s.diff_to > 0) {
        ImGui::TextDisabled("Pick two different versions.");
    }
    ImGui::EndChild();
    ImGui::End();
}

}  // namespace

// ---- the screen ------------------------------------------------------------------------------

void draw_editor_screen(App::State& s, float w, float h) {
    const bool unsaved = s.editor.unsaved();
    const bool ctrl = ImGui::GetIO().KeyCtrl || ImGui::GetIO().KeySuper;
    if (ctrl && ImGui::IsKeyPressed(GLFW_KEY_S, false) && !s.local_document) save(s);

    ImGui::SetNextWindowPos(ImVec2(0, 0));
    ImGui::SetNextWindowSize(ImVec2(w, top_bar_height));
    ImGui::Begin("##editor_bar", nullptr,
                 ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoSavedSettings);
    ImGui::SetCursorPosY(9);
    const bool back = ImGui::Button("← Scenarios");
    mark(s, "back_button");
    if (back) {
        if (unsaved && !s.local_document) {
            s.leave_pending = true;
        } else {
            leave(s);
        }
    }
    ImGui::SameLine(0, 16);
    ImGui::SetCursorPosY(13);
    std::string name = text_of(s.editor.document(), "name");
    if (name.empty()) name = "(no name)";
    ImGui::TextUnformatted(name.c_str());
    ImGui::SameLine();
    ImGui::TextDisabled("%s", s.scenario_id.c_str());
    ImGui::SameLine(0, 12);
    {
        const std::string status = s.scenario_status.empty() ? "draft" : s.scenario_status;
        ImVec4 colour = status == "active"   ? theme::success()
                        : status == "paused" ? ImVec4(0.72f, 0.45f, 0.05f, 1)
                                             : theme::muted();
        ImGui::PushStyleColor(ImGuiCol_Text, colour);
        if (s.version > 0) {
            ImGui::Text("%s · v%ld", status.c_str(), s.version);
        } else {
            ImGui::TextUnformatted(status.c_str());
        }
        ImGui::PopStyleColor();
    }
    if (unsaved) {
        ImGui::SameLine(0, 12);
        ImGui::PushStyleColor(ImGuiCol_Text, ImVec4(0.80f, 0.45f, 0.0f, 1));
        ImGui::TextUnformatted(s.local_document ? "● Not on the server" : "● Unsaved changes");
        ImGui::PopStyleColor();
    }

    // Right side: Versions, Pause / Activate, Save (the primary action while unsaved).
    const bool active = s.scenario_status == "active";
    const char* lifecycle = s.changing_status ? (active ? "Pausing…" : "Activating…") : (active ? "Pause" : "Activate");
    const char* save_label = s.saving ? "Saving…" : "Save";
    const ImGuiStyle& style = ImGui::GetStyle();
    const auto bw = [&](const char* label) { return ImGui::CalcTextSize(label).x + style.FramePadding.x * 2; };
    const float right = bw("Versions") + bw(lifecycle) + std::max(bw(save_label), 70.0f) + style.ItemSpacing.x * 2 + 14;
    ImGui::SameLine(w - right);
    ImGui::SetCursorPosY(9);
    ImGui::BeginDisabled(s.local_document);
    const bool versions = ImGui::Button("Versions");
    mark(s, "versions_button");
    if (versions) {
        s.versions_open = !s.versions_open;
        if (s.versions_open) load_versions(s);
    }
    ImGui::SameLine();
    ImGui::BeginDisabled(s.changing_status || s.saving);
    const bool lifecycle_clicked = active || unsaved ? ImGui::Button(lifecycle) : theme::primary_button(lifecycle);
    mark(s, "lifecycle_button");
    if (lifecycle_clicked) change_status(s, active ? "pause" : "activate");
    if (ImGui::IsItemHovered(ImGuiHoveredFlags_AllowWhenDisabled))
        ImGui::SetTooltip(active ? "Stop starting new runs (customers already in it go on)"
                                 : "Start running it for new events (saves first)");
    ImGui::EndDisabled();
    ImGui::SameLine();
    ImGui::BeginDisabled(!unsaved || s.saving);
    const bool save_clicked = theme::primary_button(save_label, ImVec2(std::max(bw(save_label), 70.0f), 0));
    mark(s, "save_button");
    if (save_clicked) save(s);
    if (ImGui::IsItemHovered(ImGuiHoveredFlags_AllowWhenDisabled))
        ImGui::SetTooltip(unsaved ? "Save a new version (Ctrl+S)" : "Everything is saved");
    ImGui::EndDisabled();
    ImGui::EndDisabled();

    errors_dialog(s);
    conflict_dialog(s);
    leave_dialog(s);
    ImGui::End();

    s.editor.draw(0, top_bar_height, w, h - top_bar_height);
    versions_window(s, w, h);
}

}  // namespace closeloop::web
