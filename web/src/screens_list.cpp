// closeloop builder — the scenario list: the workspace's scenarios with status, version and
// when changed; open, create empty, create from a shipped example, duplicate, delete.
//
// Sections: loading, actions, dialogs, the screen.
#include <imgui.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string_view>

#include "platform.h"
#include "screens_state.h"
#include "theme.h"

namespace closeloop::web {

using nlohmann::json;

// ---- loading ---------------------------------------------------------------------------------

void load_list(App::State& s) {
    if (s.list_loading) return;
    s.list_loading = true;
    api::get("/api/v1/scenarios", [&s](const api::Reply& r) {
        s.list_loading = false;
        if (!r.ok()) {
            if (r.status != 401)
                show_banner(s, Banner::Kind::error, "The scenarios could not be loaded. " + api::describe(r));
            return;
        }
        s.scenarios = list_of(r.body, "scenarios");
        // Newest change first: what the marketer worked on last is at the top.
        std::stable_sort(s.scenarios.begin(), s.scenarios.end(), [](const json& a, const json& b) {
            return text_of(a, "updated_at") > text_of(b, "updated_at");
        });
        s.list_loaded = true;
    });
}

void load_catalog(App::State& s) {
    // Four lists; the editor gets them together once all have answered (a missing one is
    // left empty: pickers then take typed ids, and the server still checks on activation).
    if (s.catalog_pending > 0) return;  // one load at a time; it reads the newest anyway
    s.catalog = WorkspaceCatalog{};
    s.catalog_pending = 4;
    auto done = [&s]() {
        if (--s.catalog_pending == 0) s.editor.set_catalog(s.catalog);
    };
    // The documents as the contract writes them: what the list adds (created_at, updated_at)
    // is the server's, and core's readers refuse fields they do not know.
    const auto documents = [](json list) {
        for (auto& item : list) {
            if (!item.is_object()) continue;
            item.erase("created_at");
            item.erase("updated_at");
        }
        return list;
    };
    api::get("/api/v1/templates", [&s, done, documents](const api::Reply& r) {
        if (r.ok()) s.catalog.templates = documents(list_of(r.body, "templates"));
        done();
    });
    api::get("/api/v1/voucher-campaigns", [&s, done, documents](const api::Reply& r) {
        if (r.ok()) s.catalog.campaigns = documents(list_of(r.body, "campaigns"));
        done();
    });
    api::get("/api/v1/endpoints", [&s, done](const api::Reply& r) {
        if (r.ok()) s.catalog.endpoints = list_of(r.body, "endpoints");
        done();
    });
    api::get("/api/v1/roles", [&s, done](const api::Reply& r) {
        if (r.ok()) {
            for (const auto& role : list_of(r.body, "roles")) {
                if (role.is_string())
                    s.catalog.roles.push_back(role.get<std::string>());
                else if (auto id = text_of(role, "id"); !id.empty())
                    s.catalog.roles.push_back(id);
            }
        }
        done();
    });
}

namespace {

void load_examples(App::State& s) {
    if (s.examples_loading) return;
    s.examples_loading = true;
    api::get("/api/v1/examples", [&s](const api::Reply& r) {
        s.examples_loading = false;
        if (r.ok()) {
            s.examples = list_of(r.body, "examples");
        } else if (r.status != 401) {
            s.dialog_error = "The examples could not be loaded. " + api::describe(r);
        }
    });
}

bool id_taken(const App::State& s, const std::string& id) {
    return std::any_of(s.scenarios.begin(), s.scenarios.end(), [&](const json& sc) { return text_of(sc, "id") == id; });
}

// An id from a name: "Omluva zákazníkům" -> "omluva-zakaznikum" (the server's rule: 1-64
// lower-case letters, digits, '_', '-' or '.').
std::string id_from_name(std::string_view name) {
    static const std::pair<const char*, char> folded[] = {
        {"á", 'a'}, {"ä", 'a'}, {"ą", 'a'}, {"č", 'c'}, {"ć", 'c'}, {"ď", 'd'}, {"é", 'e'}, {"ě", 'e'},
        {"ę", 'e'}, {"í", 'i'}, {"ł", 'l'}, {"ľ", 'l'}, {"ň", 'n'}, {"ń", 'n'}, {"ó", 'o'}, {"ö", 'o'},
        {"ř", 'r'}, {"š", 's'}, {"ś", 's'}, {"ť", 't'}, {"ú", 'u'}, {"ů", 'u'}, {"ü", 'u'}, {"ý", 'y'},
        {"ž", 'z'}, {"ź", 'z'}, {"ż", 'z'}, {"Á", 'a'}, {"Č", 'c'}, {"Ď", 'd'}, {"É", 'e'}, {"Ě", 'e'},
        {"Í", 'i'}, {"Ł", 'l'}, {"Ň", 'n'}, {"Ó", 'o'}, {"Ř", 'r'}, {"Š", 's'}, {"Ś", 's'}, {"Ť", 't'},
        {"Ú", 'u'}, {"Ů", 'u'}, {"Ý", 'y'}, {"Ž", 'z'}, {"Ż", 'z'}, {"Ź", 'z'}};
    std::string out;
    for (std::size_t i = 0; i < name.size();) {
        const unsigned char c = static_cast<unsigned char>(name[i]);
        char add = 0;
        std::size_t step = 1;
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
            add = static_cast<char>(c);
        } else if (c >= 'A' && c <= 'Z') {
            add = static_cast<char>(c - 'A' + 'a');
        } else if (c >= 0x80) {
            step = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
            for (const auto& [from, to] : folded)
                if (name.substr(i, std::strlen(from)) == from) add = to;
            if (!add) add = '-';
        } else {
            add = '-';
        }
        if (add == '-' && (out.empty() || out.back() == '-')) add = 0;
        if (add) out += add;
        i += step;
    }
    while (!out.empty() && out.back() == '-') out.pop_back();
    if (out.size() > 64) out.resize(64);
    return out;
}

std::string free_id(const App::State& s, const std::string& base) {
    if (!id_taken(s, base)) return base;
    for (int n = 2; n < 1000; ++n) {
        const std::string id = base + "-" + std::to_string(n);
        if (!id_taken(s, id)) return id;
    }
    return base;
}

// Why an id cannot be used, or "".
std::string id_problem(const App::State& s, const std::string& id) {
    if (id.empty()) return "Give it an id.";
    if (id.size() > 64) return "The id is longer than 64 characters.";
    for (const char c : id)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
            return "The id may hold only lower-case letters, digits, '_', '-' and '.'.";
    if (id_taken(s, id)) return "A scenario with this id exists already.";
    return "";
}

void copy_to(char* buf, std::size_t size, const std::string& text) {
    std::snprintf(buf, size, "%s", text.c_str());
}

// ---- actions ---------------------------------------------------------------------------------

void create_scenario(App::State& s, json doc) {
    s.dialog_busy = true;
    const std::string id = text_of(doc, "id");
    api::call("POST", "/api/v1/scenarios", doc, [&s, id](const api::Reply& r) {
        s.dialog_busy = false;
        if (!r.ok()) {
            s.dialog_error =
                r.status == 409 ? "A scenario with this id exists already: choose another id." : api::describe(r);
            return;
        }
        s.open_popup.clear();
        s.dialog_error.clear();
        load_list(s);
        open_scenario(s, id);
    });
}

void duplicate_scenario(App::State& s, const std::string& from, const std::string& id, const std::string& name) {
    s.dialog_busy = true;
    api::get("/api/v1/scenarios/" + api::escape(from), [&s, id, name](const api::Reply& r) {
        if (!r.ok() || !r.body.is_object()) {
            s.dialog_busy = false;
            s.dialog_error = "The scenario to copy could not be read. " + api::describe(r);
            return;
        }
        json doc = r.body;
        for (const char* server_field : {"created_at", "updated_at", "errors", "version", "status"})
            doc.erase(server_field);
        doc["id"] = id;
        doc["name"] = name;
        create_scenario(s, std::move(doc));
    });
}

void install_example(App::State& s, const std::string& example, const std::string& id) {
    s.dialog_busy = true;
    api::call("POST", "/api/v1/examples/" + api::escape(example) + "/install", json{{"id", id}},
              [&s, id](const api::Reply& r) {
                  s.dialog_busy = false;
                  if (!r.ok()) {
                      s.dialog_error = r.status == 409 ? "A scenario with this id exists already: choose another id."
                                                       : api::describe(r);
                      return;
                  }
                  s.open_popup.clear();
                  s.dialog_error.clear();
                  std::string opened = text_of(r.body, "id");
                  if (opened.empty()) opened = id;
                  load_list(s);
                  open_scenario(s, opened);
              });
}

void delete_scenario(App::State& s, const std::string& id) {
    s.dialog_busy = true;
    api::call("DELETE", "/api/v1/scenarios/" + api::escape(id), nullptr, [&s, id](const api::Reply& r) {
        s.dialog_busy = false;
        if (!r.ok() && r.status != 404) {
            s.dialog_error = api::describe(r);
            return;
        }
        s.open_popup.clear();
        s.dialog_error.clear();
        show_banner(s, Banner::Kind::success, "Deleted “" + id + "”.");
        load_list(s);
    });
}

// ---- dialogs ---------------------------------------------------------------------------------

void dialog_error_line(const App::State& s) {
    if (s.dialog_error.empty()) return;
    ImGui::PushStyleColor(ImGuiCol_Text, theme::danger());
    ImGui::PushTextWrapPos(ImGui::GetContentRegionAvail().x + ImGui::GetCursorPosX());
    ImGui::TextUnformatted(s.dialog_error.c_str());
    ImGui::PopTextWrapPos();
    ImGui::PopStyleColor();
}

// Name first, id after (derived from the name until the user edits it).
bool name_and_id_fields(App::State& s, bool& id_edited) {
    ImGui::TextUnformatted("Name");
    ImGui::SetNextItemWidth(-1);
    if (ImGui::IsWindowAppearing()) ImGui::SetKeyboardFocusHere();
    bool enter = ImGui::InputTextWithHint("##name", "Low NPS recovery", s.new_name, sizeof s.new_name,
                                          ImGuiInputTextFlags_EnterReturnsTrue);
    mark(s, "dialog_name");
    if (!id_edited && ImGui::IsItemEdited()) copy_to(s.new_id, sizeof s.new_id, free_id(s, id_from_name(s.new_name)));
    ImGui::TextUnformatted("Id");
    ImGui::SameLine();
    ImGui::TextDisabled("(in the API and on the command line; cannot be changed later)");
    ImGui::SetNextItemWidth(-1);
    enter |= ImGui::InputTextWithHint("##id", "low-nps-recovery", s.new_id, sizeof s.new_id,
                                      ImGuiInputTextFlags_EnterReturnsTrue);
    mark(s, "dialog_id");
    if (ImGui::IsItemEdited()) id_edited = true;
    const std::string problem = s.new_id[0] ? id_problem(s, s.new_id) : "";
    if (!problem.empty()) {
        ImGui::PushStyleColor(ImGuiCol_Text, theme::danger());
        ImGui::TextUnformatted(problem.c_str());
        ImGui::PopStyleColor();
    }
    return enter;
}

bool dialog_buttons(App::State& s, const char* ok_label, bool ok_enabled, bool danger = false) {
    ImGui::Dummy(ImVec2(0, 4));
    ImGui::BeginDisabled(!ok_enabled || s.dialog_busy);
    const bool ok =
        danger ? theme::danger_button(ok_label, ImVec2(150, 0)) : theme::primary_button(ok_label, ImVec2(150, 0));
    mark(s, "dialog_ok");
    ImGui::EndDisabled();
    ImGui::SameLine();
    const bool cancel = ImGui::Button("Cancel", ImVec2(100, 0));
    mark(s, "dialog_cancel");
    if (cancel || ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_Escape))) {
        s.open_popup.clear();
        s.dialog_error.clear();
        s.dialog_busy = false;
        ImGui::CloseCurrentPopup();
    }
    return ok && ok_enabled;
}

void new_scenario_dialog(App::State& s) {
    static bool id_edited = false;
    ImGui::SetNextWindowSize(ImVec2(480, 0));
    if (!ImGui::BeginPopupModal("New scenario", nullptr, ImGuiWindowFlags_NoResize | ImGuiWindowFlags_NoSavedSettings))
        return;
    if (ImGui::IsWindowAppearing()) id_edited = false;
    ImGui::TextDisabled("An empty canvas, triggered by an NPS answer (you can change that).");
    const bool enter = name_and_id_fields(s, id_edited);
    dialog_error_line(s);
    const bool valid = s.new_name[0] && id_problem(s, s.new_id).empty();
    if (dialog_buttons(s, s.dialog_busy ? "Creating…" : "Create", valid) || (enter && valid && !s.dialog_busy)) {
        create_scenario(s, json{{"id", s.new_id},
                                {"name", s.new_name},
                                {"trigger", {{"event", "nps_response"}}},
                                {"nodes", json::array()}});
    }
    if (s.open_popup.empty()) ImGui::CloseCurrentPopup();
    ImGui::EndPopup();
}

void duplicate_dialog(App::State& s) {
    static bool id_edited = false;
    ImGui::SetNextWindowSize(ImVec2(480, 0));
    if (!ImGui::BeginPopupModal("Duplicate scenario", nullptr,
                                ImGuiWindowFlags_NoResize | ImGuiWindowFlags_NoSavedSettings))
        return;
    if (ImGui::IsWindowAppearing()) id_edited = false;
    ImGui::Text("A copy of “%s” as a new draft.", s.duplicate_of.c_str());
    const bool enter = name_and_id_fields(s, id_edited);
    dialog_error_line(s);
    const bool valid = s.new_name[0] && id_problem(s, s.new_id).empty();
    if (dialog_buttons(s, s.dialog_busy ? "Copying…" : "Duplicate", valid) || (enter && valid && !s.dialog_busy))
        duplicate_scenario(s, s.duplicate_of, s.new_id, s.new_name);
    if (s.open_popup.empty()) ImGui::CloseCurrentPopup();
    ImGui::EndPopup();
}

void example_dialog(App::State& s) {
    static bool id_edited = false;
    ImGui::SetNextWindowSize(ImVec2(560, 0));
    if (!ImGui::BeginPopupModal("Start from an example", nullptr,
                                ImGuiWindowFlags_NoResize | ImGuiWindowFlags_NoSavedSettings))
        return;
    if (ImGui::IsWindowAppearing()) id_edited = false;
    ImGui::TextDisabled("Shipped with closeloop: a working flow to adapt. Its templates and voucher");
    ImGui::TextDisabled("campaigns must exist in the workspace before it can be activated.");
    ImGui::Dummy(ImVec2(0, 2));
    if (s.examples_loading) ImGui::TextUnformatted("Loading the examples…");
    if (!s.examples_loading && s.examples.empty() && s.dialog_error.empty())
        ImGui::TextUnformatted("The server offers no examples.");
    if (ImGui::BeginChild("##examples", ImVec2(0, std::min(260.0f, 58.0f * static_cast<float>(s.examples.size()) + 8)),
                          true)) {
        for (const auto& ex : s.examples) {
            const std::string id = text_of(ex, "id");
            std::string name = text_of(ex, "name");
            if (name.empty()) name = id;
            const std::string description = text_of(ex, "description");
            ImGui::PushID(id.c_str());
            const bool picked = ImGui::Selectable("##pick", s.example_id == id, 0, ImVec2(0, 44));
            mark(s, ("example:" + id).c_str());
            if (picked) {
                s.example_id = id;
                if (!id_edited) copy_to(s.new_id, sizeof s.new_id, free_id(s, id));
            }
            ImGui::SameLine(12);
            ImGui::BeginGroup();
            ImGui::TextUnformatted(name.c_str());
            ImGui::PushStyleColor(ImGuiCol_Text, theme::muted());
            ImGui::TextUnformatted(description.empty() ? id.c_str() : description.c_str());
            ImGui::PopStyleColor();
            ImGui::EndGroup();
            ImGui::PopID();
        }
    }
    ImGui::EndChild();
    ImGui::TextUnformatted("Id of the new scenario");
    ImGui::SetNextItemWidth(-1);
    ImGui::InputText("##id", s.new_id, sizeof s.new_id);
    mark(s, "dialog_id");
    if (ImGui::IsItemEdited()) id_edited = true;
    const std::string problem = s.new_id[0] ? id_problem(s, s.new_id) : "";
    if (!problem.empty()) {
        ImGui::PushStyleColor(ImGuiCol_Text, theme::danger());
        ImGui::TextUnformatted(problem.c_str());
        ImGui::PopStyleColor();
    }
    dialog_error_line(s);
    const bool valid = !s.example_id.empty() && problem.empty() && s.new_id[0];
    if (dialog_buttons(s, s.dialog_busy ? "Adding…" : "Use this example", valid))
        install_example(s, s.example_id, s.new_id);
    if (s.open_popup.empty()) ImGui::CloseCurrentPopup();
    ImGui::EndPopup();
}

void delete_dialog(App::State& s) {
    ImGui::SetNextWindowSize(ImVec2(460, 0));
    if (!ImGui::BeginPopupModal("Delete scenario", nullptr,
                                ImGuiWindowFlags_NoResize | ImGuiWindowFlags_NoSavedSettings))
        return;
    ImGui::PushTextWrapPos(440);
    ImGui::Text("Delete “%s” and all its versions?", s.delete_id.c_str());
    ImGui::PushStyleColor(ImGuiCol_Text, theme::muted());
    ImGui::TextUnformatted(
        "Customers waiting in it stop where they are (their runs end as failed). "
        "This cannot be undone.");
    ImGui::PopStyleColor();
    ImGui::PopTextWrapPos();
    dialog_error_line(s);
    if (dialog_buttons(s, s.dialog_busy ? "Deleting…" : "Delete", true, true)) delete_scenario(s, s.delete_id);
    if (s.open_popup.empty()) ImGui::CloseCurrentPopup();
    ImGui::EndPopup();
}

void status_pill(const std::string& status) {
    ImVec4 colour = theme::muted();
    const char* label = status.empty() ? "draft" : status.c_str();
    if (status == "active") colour = theme::success();
    if (status == "paused") colour = ImVec4(0.72f, 0.45f, 0.05f, 1);
    const ImVec2 size = ImGui::CalcTextSize(label);
    ImVec2 p = ImGui::GetCursorScreenPos();
    p.y += ImGui::GetStyle().FramePadding.y;  // the row's text sits on the frame padding line
    ImDrawList* dl = ImGui::GetWindowDrawList();
    dl->AddRectFilled(ImVec2(p.x, p.y - 1), ImVec2(p.x + size.x + 16, p.y + size.y + 1),
                      ImGui::GetColorU32(ImVec4(colour.x, colour.y, colour.z, 0.13f)), 9);
    dl->AddText(ImVec2(p.x + 8, p.y), ImGui::GetColorU32(colour), label);
    ImGui::Dummy(ImVec2(size.x + 16, size.y));
}

void open_dialog(App::State& s, const char* name) {
    s.open_popup = name;
    s.dialog_error.clear();
    s.dialog_busy = false;
    ImGui::OpenPopup(name);
}

}  // namespace

// ---- the screen ------------------------------------------------------------------------------

void draw_list(App::State& s, float y, float w, float h) {
    // The top bar: where we are, who is signed in.
    ImGui::SetNextWindowPos(ImVec2(0, y));
    ImGui::SetNextWindowSize(ImVec2(w, top_bar_height));
    ImGui::Begin("##list_bar", nullptr,
                 ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoSavedSettings);
    ImGui::SetCursorPosY(13);
    ImGui::PushStyleColor(ImGuiCol_Text, theme::accent());
    ImGui::TextUnformatted("closeloop");
    ImGui::PopStyleColor();
    ImGui::SameLine();
    ImGui::TextDisabled("/");
    ImGui::SameLine();
    ImGui::TextUnformatted("Scenarios");
    const std::string who = s.workspace.empty() ? std::string("Signed in") : "Workspace: " + s.workspace;
    const float right = ImGui::CalcTextSize(who.c_str()).x + ImGui::CalcTextSize("Sign out").x + 44;
    ImGui::SameLine(w - right);
    ImGui::TextDisabled("%s", who.c_str());
    ImGui::SameLine();
    ImGui::SetCursorPosY(9);
    const bool sign_out = ImGui::Button("Sign out");
    mark(s, "sign_out_button");
    if (sign_out) {
        api::call("DELETE", "/api/v1/session", nullptr, [&s](const api::Reply&) {
            go_to_sign_in(s, "");
            s.sign_in_message = "You are signed out.";
        });
    }
    ImGui::End();

    const float width = std::min(w - 32, 1040.0f);
    ImGui::SetNextWindowPos(ImVec2((w - width) / 2, y + top_bar_height + 20));
    ImGui::SetNextWindowSize(ImVec2(width, h - y - top_bar_height - 40));
    ImGui::Begin("##list", nullptr,
                 ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoSavedSettings);
    ImGui::SetWindowFontScale(1.3f);
    ImGui::TextUnformatted("Scenarios");
    ImGui::SetWindowFontScale(1.0f);
    ImGui::TextDisabled(
        "Each scenario reacts to feedback: it checks the answer and the customer, then sends, "
        "assigns or alerts.");
    ImGui::Dummy(ImVec2(0, 4));
    const bool new_clicked = theme::primary_button("+ New scenario");
    mark(s, "new_scenario_button");
    if (new_clicked) {
        s.new_id[0] = s.new_name[0] = 0;
        open_dialog(s, "New scenario");
    }
    ImGui::SameLine();
    const bool example_clicked = ImGui::Button("Start from an example");
    mark(s, "example_button");
    if (example_clicked) {
        s.new_id[0] = 0;
        s.example_id.clear();
        open_dialog(s, "Start from an example");
        load_examples(s);
    }
    ImGui::SameLine();
    if (ImGui::Button(s.list_loading ? "Refreshing…" : "Refresh")) load_list(s);

    static char filter[96] = {};
    ImGui::SameLine(width - 260);
    ImGui::SetNextItemWidth(232);
    ImGui::InputTextWithHint("##filter", "Filter by name or id", filter, sizeof filter);
    ImGui::Dummy(ImVec2(0, 6));

    std::string pending_open, pending_duplicate, pending_delete;
    if (!s.list_loaded) {
        ImGui::TextDisabled(s.list_loading ? "Loading the scenarios…" : "The scenarios are not loaded.");
    } else if (s.scenarios.empty()) {
        ImGui::Dummy(ImVec2(0, 30));
        const char* line1 = "No scenarios yet.";
        const char* line2 = "Start from an example, or draw one on an empty canvas with “New scenario”.";
        ImGui::SetCursorPosX((width - ImGui::CalcTextSize(line1).x) / 2);
        ImGui::TextUnformatted(line1);
        ImGui::SetCursorPosX((width - ImGui::CalcTextSize(line2).x) / 2);
        ImGui::TextDisabled("%s", line2);
    } else if (ImGui::BeginTable("##scenarios", 6,
                                 ImGuiTableFlags_RowBg | ImGuiTableFlags_BordersInnerH | ImGuiTableFlags_ScrollY |
                                     ImGuiTableFlags_PadOuterX,
                                 ImVec2(0, ImGui::GetContentRegionAvail().y))) {
        ImGui::TableSetupScrollFreeze(0, 1);
        ImGui::TableSetupColumn("Name", ImGuiTableColumnFlags_WidthStretch, 2.2f);
        ImGui::TableSetupColumn("Id", ImGuiTableColumnFlags_WidthStretch, 1.6f);
        ImGui::TableSetupColumn("Status", ImGuiTableColumnFlags_WidthFixed, 84);
        ImGui::TableSetupColumn("Version", ImGuiTableColumnFlags_WidthFixed, 64);
        ImGui::TableSetupColumn("Changed (UTC)", ImGuiTableColumnFlags_WidthFixed, 136);
        ImGui::TableSetupColumn("", ImGuiTableColumnFlags_WidthFixed, 220);
        ImGui::TableHeadersRow();
        const std::string needle = filter;
        for (const auto& sc : s.scenarios) {
            const std::string id = text_of(sc, "id");
            std::string name = text_of(sc, "name");
            if (!needle.empty() && name.find(needle) == std::string::npos && id.find(needle) == std::string::npos)
                continue;
            ImGui::PushID(id.c_str());
            ImGui::TableNextRow(0, 34);
            ImGui::TableNextColumn();
            ImGui::AlignTextToFramePadding();
            if (ImGui::Selectable(name.empty() ? "(no name)" : name.c_str(), false,
                                  ImGuiSelectableFlags_AllowDoubleClick))
                pending_open = id;
            if (ImGui::IsItemHovered()) ImGui::SetTooltip("Open in the editor");
            ImGui::TableNextColumn();
            ImGui::AlignTextToFramePadding();
            ImGui::TextDisabled("%s", id.c_str());
            ImGui::TableNextColumn();
            ImGui::AlignTextToFramePadding();
            status_pill(text_of(sc, "status"));
            ImGui::TableNextColumn();
            ImGui::AlignTextToFramePadding();
            ImGui::TextUnformatted(text_of(sc, "version").c_str());
            ImGui::TableNextColumn();
            ImGui::AlignTextToFramePadding();
            ImGui::TextUnformatted(short_time(text_of(sc, "updated_at")).c_str());
            ImGui::TableNextColumn();
            if (ImGui::SmallButton("Open")) pending_open = id;
            mark(s, ("open:" + id).c_str());
            ImGui::SameLine();
            if (ImGui::SmallButton("Duplicate")) pending_duplicate = id;
            mark(s, ("duplicate:" + id).c_str());
            ImGui::SameLine();
            ImGui::PushStyleColor(ImGuiCol_Text, theme::danger());
            if (ImGui::SmallButton("Delete")) pending_delete = id;
            mark(s, ("delete:" + id).c_str());
            ImGui::PopStyleColor();
            ImGui::PopID();
        }
        ImGui::EndTable();
    }
    if (!pending_duplicate.empty()) {
        s.duplicate_of = pending_duplicate;
        std::string name;
        for (const auto& sc : s.scenarios)
            if (text_of(sc, "id") == pending_duplicate) name = text_of(sc, "name");
        copy_to(s.new_name, sizeof s.new_name, (name.empty() ? pending_duplicate : name) + " (copy)");
        copy_to(s.new_id, sizeof s.new_id, free_id(s, pending_duplicate + "-copy"));
        open_dialog(s, "Duplicate scenario");
    }
    if (!pending_delete.empty()) {
        s.delete_id = pending_delete;
        open_dialog(s, "Delete scenario");
    }
    new_scenario_dialog(s);
    duplicate_dialog(s);
    example_dialog(s);
    delete_dialog(s);
    ImGui::End();
    if (!pending_open.empty()) open_scenario(s, pending_open);
}

}  // namespace closeloop::web
