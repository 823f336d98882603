// closeloop builder — the simulator panel: a sample contact and an event run through core's
// simulator in the page (no server call), the path lit on the canvas with the deciding value
// at each branch, the effects listed and each e-mail shown as the customer will see it (in an
// iframe beside the canvas: ImGui lays out neither HTML nor right-to-left text). The sample
// set runs the scenario over core's generated contacts and writes on each node how many
// passed through it.
//
// Sections: the sample contact and event, running, results, the e-mail preview.
#include <imgui.h>

#include <algorithm>
#include <cstdio>
#include <ctime>

#include "closeloop/rfm.h"
#include "closeloop/time.h"
#include "editor_state.h"
#include "platform.h"
#include "simulator_panel_core.h"

namespace closeloop::web {

using nlohmann::json;

// ---- the sample contact and event ----------------------------------------------------------

struct VoucherHistoryItem {
    std::string campaign, date;  // date: YYYY-MM-DD
};

struct EditorState::Simulator {
    std::string contact_id = "c-sample", first_name = "Jana", last_name = "Nová", email = "jana@example.cz";
    int locale = 0;  // index into locales
    std::string segment = "Hibernating";
    bool vip = false;
    std::string tags = "newsletter";
    std::string attributes = "{\"branch\": \"Brno\"}";
    std::string owner = "petr@brand.example";
    std::vector<VoucherHistoryItem> vouchers;

    int score = 3;
    std::string comment = "Doprava trvala 3 týdny.";
    std::string event_data = "{}";  // other trigger types: their data as JSON
    std::string event_time;         // RFC 3339; empty = now
    bool fast_forward = true;

    // Results.
    SimulationOutcome outcome;
    std::string error;
    int shown_email = 0;
    bool sample_set = false;
    SampleSetOutcome sample;

    // What the preview iframe shows now (so it is sent to the page only when it changes).
    int preview_shown = -1;
    Rect preview_at;
};

namespace {

constexpr const char* locales[] = {"cs", "en", "pl", "he"};
// ImGui draws text left to right only: the Hebrew name would come out reversed.
constexpr const char* locale_names[] = {"cs · Čeština", "en · English", "pl · Polski", "he · Hebrew"};

std::vector<std::string> segment_names() {
    std::vector<std::string> out;
    SegmentGrid grid = default_segment_grid();
    for (int r = 5; r >= 1; --r)
        for (const auto& name : grid.cells[static_cast<std::size_t>(r - 1)])
            if (std::find(out.begin(), out.end(), name) != out.end())
                continue;
            else
                out.push_back(name);
    return out;
}

// A contact of the segment: the scores of its first cell in the grid (R, and FM as both F and M).
json rfm_of(const std::string& segment) {
    SegmentGrid grid = default_segment_grid();
    for (int r = 5; r >= 1; --r)
        for (int fm = 1; fm <= 5; ++fm)
            if (grid.cells[static_cast<std::size_t>(r - 1)][static_cast<std::size_t>(fm - 1)] == segment)
                return {{"r", r}, {"f", fm}, {"m", fm}, {"segment", segment}};
    return nullptr;
}

std::string now_rfc3339() {
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::vector<std::string> split_tags(const std::string& text) {
    std::vector<std::string> out;
    std::string cur;
    for (char c : text + ",") {
        if (c == ',') {
            auto b = cur.find_first_not_of(' '), e = cur.find_last_not_of(' ');
            if (b != std::string::npos) out.push_back(cur.substr(b, e - b + 1));
            cur.clear();
        } else {
            cur += c;
        }
    }
    return out;
}

std::string trigger_event(const EditorState& s) {
    const json& doc = s.history.document();
    if (doc.contains("trigger") && doc["trigger"].is_object() && doc["trigger"].contains("event") &&
        doc["trigger"]["event"].is_string())
        return doc["trigger"]["event"].get<std::string>();
    return "nps_response";
}

SimulationRequest request_of(const EditorState& s, const EditorState::Simulator& sim, std::string& error) {
    SimulationRequest r;
    r.scenario = s.history.document();
    json contact = {{"id", sim.contact_id},
                    {"first_name", sim.first_name},
                    {"last_name", sim.last_name},
                    {"locale", locales[sim.locale]},
                    {"vip", sim.vip},
                    {"tags", split_tags(sim.tags)}};
    if (!sim.email.empty()) contact["email"] = sim.email;
    if (!sim.owner.empty()) contact["owner"] = sim.owner;
    json rfm = rfm_of(sim.segment);
    if (!rfm.is_null()) contact["rfm"] = rfm;
    json attributes = json::parse(sim.attributes.empty() ? "{}" : sim.attributes, nullptr, false);
    if (attributes.is_discarded() || !attributes.is_object()) {
        error = "attributes: must be a JSON object, e.g. {\"branch\": \"Brno\"}";
        return r;
    }
    contact["attributes"] = attributes;
    r.contact = contact;

    std::string type = trigger_event(s);
    json data;
    if (type == "nps_response" || type == "csat_response") {
        data = {{"score", sim.score}};
        if (!sim.comment.empty()) data["comment"] = sim.comment;
    } else {
        data = json::parse(sim.event_data.empty() ? "{}" : sim.event_data, nullptr, false);
        if (data.is_discarded() || !data.is_object()) {
            error = "event data: must be a JSON object";
            return r;
        }
    }
    r.event = {{"id", "sim-event"},
               {"type", type},
               {"time", sim.event_time.empty() ? now_rfc3339() : sim.event_time},
               {"contact", sim.contact_id},
               {"data", data}};
    for (const auto& v : sim.vouchers) {
        if (v.campaign.empty()) continue;
        r.voucher_history.push_back({v.campaign, v.date.size() == 10 ? v.date + "T09:00:00Z" : v.date});
    }
    // Before the workspace's lists arrive nothing is known: campaigns are then not checked
    // (as `closeloop simulate` without --campaigns) and no e-mail is rendered.
    r.templates = s.catalog_known ? s.catalog.templates : json();
    r.campaigns = s.catalog_known ? s.catalog.campaigns : json();
    r.fast_forward = sim.fast_forward;
    return r;
}

std::string value_text(const json& v) {
    if (v.is_string()) return v.get<std::string>();
    return v.dump();
}

// What the canvas shows of a simulation: the path, the links taken, the deciding values.
void show_on_canvas(EditorState& s, const json& runs) {
    s.path_nodes.clear();
    s.path_links.clear();
    s.trace_text.clear();
    for (const auto& line : runs) {
        if (!line.is_object()) continue;
        if (line.contains("path") && line["path"].is_array()) {
            std::string prev;
            for (const auto& id : line["path"]) {
                if (!id.is_string()) continue;
                std::string cur = id.get<std::string>();
                s.path_nodes.insert(cur);
                if (!prev.empty()) s.path_links.insert({prev, cur});
                prev = cur;
            }
        }
        if (!line.contains("trace") || !line["trace"].is_array()) continue;
        for (const auto& step : line["trace"]) {
            std::string node = step.value("node", "");
            if (step.contains("next") && step["next"].is_string())
                s.path_links.insert({node, step["next"].get<std::string>()});
            std::string text;
            if (step.contains("values") && step["values"].is_object()) {
                for (const auto& [name, value] : step["values"].items()) {
                    if (!text.empty()) text += "; ";
                    text += name + " = " + value_text(value);
                }
            }
            std::string outcome = step.value("outcome", "");
            if (!outcome.empty() && outcome != "effect" && outcome != "continued")
                text += (text.empty() ? "" : "  →  ") + outcome;
            if (!text.empty()) s.trace_text[node] = text;
        }
    }
}

// ---- running -------------------------------------------------------------------------------

void run_once(EditorState& s, EditorState::Simulator& sim) {
    sim.error.clear();
    sim.sample_set = false;
    s.show_pass_counts = false;
    s.pass_counts.clear();
    SimulationRequest request = request_of(s, sim, sim.error);
    if (!sim.error.empty()) return;
    sim.outcome = simulate_request(request);
    sim.shown_email = 0;
    sim.preview_shown = -1;
    if (!sim.outcome.error.empty()) {
        sim.error = sim.outcome.error;
        s.last_simulation = nullptr;
        s.path_nodes.clear();
        s.path_links.clear();
        s.trace_text.clear();
        return;
    }
    s.last_simulation = sim.outcome.runs;
    show_on_canvas(s, sim.outcome.runs);
}

void run_sample_set(EditorState& s, EditorState::Simulator& sim) {
    sim.error.clear();
    SimulationRequest request = request_of(s, sim, sim.error);
    if (!sim.error.empty()) return;
    sim.sample = simulate_sample_set(request);
    if (!sim.sample.error.empty()) {
        sim.error = sim.sample.error;
        return;
    }
    sim.sample_set = true;
    s.path_nodes.clear();
    s.path_links.clear();
    s.trace_text.clear();
    s.last_simulation = nullptr;
    sim.outcome = {};
    s.pass_counts = sim.sample.pass_counts;
    s.show_pass_counts = true;
}

// ---- results -------------------------------------------------------------------------------

void results(EditorState& s, EditorState::Simulator& sim) {
    if (sim.sample_set) {
        ImGui::Separator();
        ImGui::Text("Sample set: %ld contacts, %ld entered", sim.sample.contacts, sim.sample.entered);
        ImGui::TextDisabled("every RFM segment x scores 0-10; counts are on the nodes");
        if (ImGui::BeginTable("##passes", 2, ImGuiTableFlags_RowBg | ImGuiTableFlags_BordersInnerH)) {
            for (const auto& n : s.nodes) {
                auto it = sim.sample.pass_counts.find(n.id);
                ImGui::TableNextRow();
                ImGui::TableNextColumn();
                ImGui::TextUnformatted(n.id.c_str());
                ImGui::TableNextColumn();
                ImGui::Text("%ld", it == sim.sample.pass_counts.end() ? 0L : it->second);
            }
            ImGui::EndTable();
        }
        return;
    }
    if (!sim.outcome.runs.is_array()) return;
    ImGui::Separator();
    for (const auto& line : sim.outcome.runs) {
        ImGui::PushID(&line);
        bool entered = line.value("entered", false);
        if (!entered) {
            ImGui::TextColored(ImVec4(0.8f, 0.45f, 0.1f, 1), "Not entered: %s", line.value("reason", "").c_str());
            ImGui::PopID();
            continue;
        }
        std::string state = line.value("state", "");
        bool resumed = line.value("resumed", false);
        std::string woke;  // a run that waited goes on at its wake time: the first step's time
        if (resumed && line.contains("trace") && line["trace"].is_array() && !line["trace"].empty())
            woke = line["trace"][0].value("at", "");
        if (resumed)
            ImGui::Text("Woke up %s%s, %s", woke.empty() ? "" : "at ", woke.c_str(), state.c_str());
        else
            ImGui::Text("Entered, %s", state.c_str());
        if (line.contains("wake_at") && line["wake_at"].is_string()) {
            ImGui::SameLine();
            ImGui::TextDisabled("wakes %s", line["wake_at"].get<std::string>().c_str());
        }
        if (line.contains("error") && line["error"].is_string())
            ImGui::TextColored(ImVec4(0.8f, 0.16f, 0.18f, 1), "%s", line["error"].get<std::string>().c_str());
        std::string path;
        for (const auto& id : line.value("path", json::array())) path += (path.empty() ? "" : " → ") + value_text(id);
        ImGui::PushTextWrapPos(0);
        ImGui::TextDisabled("%s", path.c_str());
        // Each wait: until when (with fast-forward the run goes on at that time).
        for (const auto& step : line.value("trace", json::array())) {
            const NodeView* n = find_node(s, step.value("node", ""));
            if (!n || n->kind != "wait") continue;
            std::string until;
            if (step.contains("values") && step["values"].is_object())
                for (const auto& [name, value] : step["values"].items())
                    if (value.is_string()) until = value.get<std::string>();
            ImGui::TextDisabled("%s waits until %s (%s)", n->id.c_str(), until.empty() ? "?" : until.c_str(),
                                step.value("outcome", "").c_str());
        }
        for (const auto& e : line.value("effects", json::array())) {
            std::string kind = e.value("kind", "");
            ImGui::Bullet();
            ImGui::TextUnformatted(kind.c_str());
            if (e.contains("params") && e["params"].is_object()) {
                for (const auto& [key, value] : e["params"].items()) {
                    std::string v =
                        value.is_object() && value.contains("code") ? value_text(value["code"]) : value_text(value);
                    if (v.size() > 90) v = v.substr(0, 87) + "...";
                    ImGui::Indent();
                    ImGui::TextDisabled("%s:", key.c_str());
                    ImGui::SameLine();
                    ImGui::TextUnformatted(v.c_str());
                    ImGui::Unindent();
                }
            }
        }
        ImGui::PopTextWrapPos();
        ImGui::PopID();
    }
    if (!sim.outcome.emails.empty()) {
        ImGui::Separator();
        ImGui::Text("E-mails (%d), shown beside the canvas", static_cast<int>(sim.outcome.emails.size()));
        for (std::size_t i = 0; i < sim.outcome.emails.size(); ++i) {
            const auto& m = sim.outcome.emails[i];
            ImGui::PushID(static_cast<int>(i));
            // ImGui cannot lay out right-to-left text: a Hebrew subject is shown in the preview only.
            std::string item = "[" + m.locale + "] " + (m.subject.empty() || m.rtl ? m.template_id : m.subject);
            if (ImGui::Selectable(item.c_str(), sim.shown_email == static_cast<int>(i)))
                sim.shown_email = static_cast<int>(i);
            ImGui::PopID();
        }
    }
}

}  // namespace

namespace {

// A form row: the label on the left, the field filling the rest.
bool begin_form(const char* id) {
    if (!ImGui::BeginTable(id, 2, ImGuiTableFlags_SizingStretchProp)) return false;
    ImGui::TableSetupColumn("label", ImGuiTableColumnFlags_WidthFixed, 96);
    ImGui::TableSetupColumn("field", ImGuiTableColumnFlags_WidthStretch);
    return true;
}
void row(const char* label) {
    ImGui::TableNextRow();
    ImGui::TableNextColumn();
    ImGui::AlignTextToFramePadding();
    ImGui::TextUnformatted(label);
    ImGui::TableNextColumn();
    ImGui::SetNextItemWidth(-1);
}

void contact_form(EditorState& s, EditorState::Simulator& sim) {
    if (!begin_form("##contact")) return;
    row("first name");
    input_text("##first", sim.first_name);
    row("last name");
    input_text("##last", sim.last_name);
    row("e-mail");
    input_text("##email", sim.email);
    row("locale");
    ImGui::Combo("##locale", &sim.locale, locale_names, IM_ARRAYSIZE(locale_names));
    record(s.widget_geometry, "locale_combo");
    row("RFM segment");
    if (ImGui::BeginCombo("##segment", sim.segment.c_str())) {
        for (const auto& name : segment_names())
            if (ImGui::Selectable(name.c_str(), name == sim.segment)) sim.segment = name;
        ImGui::EndCombo();
    }
    record(s.widget_geometry, "segment_combo");
    row("VIP");
    ImGui::Checkbox("##vip", &sim.vip);
    record(s.widget_geometry, "vip_checkbox");
    row("tags");
    input_text("##tags", sim.tags);
    row("attributes");
    input_text("##attributes", sim.attributes);
    row("owner");
    input_text("##owner", sim.owner);
    row("contact id");
    input_text("##cid", sim.contact_id);
    ImGui::EndTable();

    ImGui::TextUnformatted("Vouchers assigned earlier");
    for (std::size_t i = 0; i < sim.vouchers.size(); ++i) {
        ImGui::PushID(static_cast<int>(i));
        auto& v = sim.vouchers[i];
        ImGui::SetNextItemWidth(ImGui::GetContentRegionAvail().x * 0.55f);
        if (ImGui::BeginCombo("##campaign", v.campaign.empty() ? "(campaign)" : v.campaign.c_str())) {
            for (const auto& c : s.catalog.campaigns)
                if (c.contains("id") && c["id"].is_string() &&
                    ImGui::Selectable(c["id"].get<std::string>().c_str(), c["id"] == v.campaign))
                    v.campaign = c["id"].get<std::string>();
            ImGui::EndCombo();
        }
        ImGui::SameLine();
        ImGui::SetNextItemWidth(ImGui::GetContentRegionAvail().x - 28);
        input_text("##date", v.date);
        ImGui::SameLine();
        bool remove = ImGui::SmallButton("x");
        ImGui::PopID();
        if (remove) {
            sim.vouchers.erase(sim.vouchers.begin() + static_cast<std::ptrdiff_t>(i));
            break;
        }
    }
    if (ImGui::SmallButton("Add a voucher")) {
        std::string campaign;
        for (const auto& c : s.catalog.campaigns)
            if (c.contains("id") && c["id"].is_string()) {
                campaign = c["id"].get<std::string>();
                break;
            }
        sim.vouchers.push_back({campaign, now_rfc3339().substr(0, 10)});
    }
    ImGui::SameLine();
    ImGui::TextDisabled("campaign, date (YYYY-MM-DD)");
}

}  // namespace

void draw_simulator(EditorState& s) {
    EditorState::Simulator& sim = *s.sim;
    std::string type = trigger_event(s);

    // The event first: the score is what a marketer changes most.
    ImGui::TextDisabled("Event: %s (the scenario's trigger)", type.c_str());
    if (type == "nps_response" || type == "csat_response") {
        int lo = type == "nps_response" ? 0 : 1, hi = type == "nps_response" ? 10 : 5;
        sim.score = std::clamp(sim.score, lo, hi);
        ImGui::SetNextItemWidth(-1);
        ImGui::SliderInt("##score", &sim.score, lo, hi, "score %d");
        record(s.widget_geometry, "score_slider");
    }
    ImGui::Checkbox("Fast-forward through waits", &sim.fast_forward);
    record(s.widget_geometry, "fast_forward");
    float half = ImGui::GetContentRegionAvail().x * 0.5f - 4;
    ImGui::PushStyleColor(ImGuiCol_Button, ImVec4(0.15f, 0.39f, 0.85f, 1.0f));
    ImGui::PushStyleColor(ImGuiCol_ButtonHovered, ImVec4(0.20f, 0.45f, 0.92f, 1.0f));
    ImGui::PushStyleColor(ImGuiCol_ButtonActive, ImVec4(0.12f, 0.33f, 0.75f, 1.0f));
    ImGui::PushStyleColor(ImGuiCol_Text, ImVec4(1, 1, 1, 1));
    if (ImGui::Button("Run", ImVec2(half, 0))) run_once(s, sim);
    ImGui::PopStyleColor(4);
    record(s.widget_geometry, "simulate_button");
    ImGui::SameLine();
    if (ImGui::Button("Sample set", ImVec2(-1, 0))) run_sample_set(s, sim);
    record(s.widget_geometry, "sample_set_button");
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("Every RFM segment x every score 0-10: counts on each node");
    if (!sim.error.empty()) {
        ImGui::PushTextWrapPos(0);
        ImGui::TextColored(ImVec4(0.8f, 0.16f, 0.18f, 1), "%s", sim.error.c_str());
        ImGui::PopTextWrapPos();
    }
    results(s, sim);

    ImGui::Spacing();
    if (ImGui::CollapsingHeader("Sample contact", ImGuiTreeNodeFlags_DefaultOpen)) contact_form(s, sim);
    if (ImGui::CollapsingHeader("Event details")) {
        if (begin_form("##event")) {
            if (type == "nps_response" || type == "csat_response") {
                row("comment");
                input_text("##comment", sim.comment);
            } else {
                row("data (JSON)");
                input_text_multiline("##data", sim.event_data, ImVec2(-1, ImGui::GetTextLineHeight() * 4));
            }
            row("time");
            input_text("##time", sim.event_time);
            ImGui::EndTable();
        }
        ImGui::TextDisabled("time: RFC 3339, e.g. 2026-12-03T10:00:00Z; empty = now");
    }
}

void simulator_create(EditorState& s) {
    s.sim = new EditorState::Simulator;
}

void simulator_destroy(EditorState& s) {
    if (s.sim && s.sim->preview_shown >= 0) preview_hide();
    delete s.sim;
    s.sim = nullptr;
}

void clear_simulation(EditorState& s) {
    s.last_simulation = nullptr;
    s.path_nodes.clear();
    s.path_links.clear();
    s.trace_text.clear();
    s.pass_counts.clear();
    s.show_pass_counts = false;
    if (s.sim) {
        s.sim->outcome = {};
        s.sim->sample_set = false;
    }
}

bool simulator_has_preview(const EditorState& s) {
    return s.sim && !s.sim->outcome.emails.empty();
}
std::string simulator_error(const EditorState& s) {
    return s.sim ? s.sim->error : "";
}

// ---- the e-mail preview --------------------------------------------------------------------

namespace {

// The subject goes into the page above the body, where the browser lays it out (right to left
// for Hebrew), as a mail client shows it.
std::string with_subject(const RenderedEmail& m) {
    return "<div style=\"font:600 15px Arial,Helvetica,sans-serif;padding:10px 12px;border-bottom:1px solid "
           "#d5d9e0;background:#f7f8fa;color:#1c2129\">" +
           escape_html(m.subject) + "</div>" + m.html;
}

}  // namespace

void simulator_preview(EditorState& s, Rect beside) {
    EditorState::Simulator& sim = *s.sim;
    bool show = beside.w > 0 && !sim.outcome.emails.empty();
    if (!show) {
        if (sim.preview_shown >= 0) preview_hide();
        sim.preview_shown = -1;
        s.preview_rect = Rect{};
        return;
    }
    sim.shown_email = std::clamp(sim.shown_email, 0, static_cast<int>(sim.outcome.emails.size()) - 1);
    const RenderedEmail& m = sim.outcome.emails[static_cast<std::size_t>(sim.shown_email)];
    // A header in ImGui (which e-mail, to whom, in which locale); the iframe below it.
    ImGui::SetCursorScreenPos(ImVec2(beside.x + 10, beside.y + 8));
    ImGui::BeginGroup();
    ImGui::TextDisabled("E-mail %d of %d · %s · %s", sim.shown_email + 1, static_cast<int>(sim.outcome.emails.size()),
                        m.locale.c_str(), m.template_id.c_str());
    ImGui::PushTextWrapPos(beside.x + beside.w - 10);
    ImGui::Text("To: %s", m.to.c_str());
    ImGui::PopTextWrapPos();
    ImGui::EndGroup();
    float top = ImGui::GetItemRectMax().y + 8;
    Rect frame{beside.x + 6, top, beside.w - 12, beside.y + beside.h - top - 6};
    if (!m.error.empty()) {  // nothing to lay out: say why in ImGui
        if (sim.preview_shown >= 0) preview_hide();
        sim.preview_shown = -1;
        s.preview_rect = Rect{};
        ImGui::SetCursorScreenPos(ImVec2(frame.x + 4, frame.y + 4));
        ImGui::PushTextWrapPos(frame.x + frame.w - 4);
        ImGui::TextColored(ImVec4(0.8f, 0.16f, 0.18f, 1), "Not rendered: %s", m.error.c_str());
        ImGui::PopTextWrapPos();
        return;
    }
    s.preview_rect = frame;
    ImGui::GetWindowDrawList()->AddRect(ImVec2(frame.x - 1, frame.y - 1),
                                        ImVec2(frame.x + frame.w + 1, frame.y + frame.h + 1),
                                        IM_COL32(196, 201, 212, 255));
    bool moved = frame.x != sim.preview_at.x || frame.y != sim.preview_at.y || frame.w != sim.preview_at.w ||
                 frame.h != sim.preview_at.h;
    if (sim.preview_shown != sim.shown_email || moved) {
        preview_show(with_subject(m), m.rtl, frame.x, frame.y, frame.w, frame.h);
        sim.preview_shown = sim.shown_email;
        sim.preview_at = frame;
    }
}

}  // namespace closeloop::web
