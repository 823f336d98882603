// closeloop builder — the canvas: nodes, links and notes drawn with ImDrawList under our own
// pan / zoom transform, and the mouse turned into edit commands.
//
// Off-screen nodes and links are culled and text is dropped when zoomed far out, so a
// 200-node scenario stays smooth (WebGL has no base-vertex draw: a draw list must stay under
// 64k vertices with ImGui's 16-bit indices).
//
// Sections: geometry, hit tests, drawing, the mouse, draw_canvas.
#include <imgui.h>

#include <algorithm>
#include <cmath>

#include "editor_state.h"
#include "platform.h"

namespace closeloop::web {

namespace {

// ---- geometry ------------------------------------------------------------------------------

// Light, to match the app's theme: a pale board, white cards with a coloured header.
constexpr ImU32 col_background = IM_COL32(238, 240, 245, 255);
constexpr ImU32 col_grid = IM_COL32(225, 228, 236, 255);
constexpr ImU32 col_body = IM_COL32(255, 255, 255, 255);
constexpr ImU32 col_border = IM_COL32(196, 201, 212, 255);
constexpr ImU32 col_shadow = IM_COL32(20, 30, 60, 28);
constexpr ImU32 col_text = IM_COL32(255, 255, 255, 255);  // on a header
constexpr ImU32 col_body_text = IM_COL32(30, 34, 44, 255);
constexpr ImU32 col_dim_text = IM_COL32(96, 102, 116, 255);
constexpr ImU32 col_link = IM_COL32(146, 154, 172, 255);
constexpr ImU32 col_port = IM_COL32(98, 108, 128, 255);
constexpr ImU32 col_port_free = IM_COL32(255, 255, 255, 255);
constexpr ImU32 col_selected = IM_COL32(38, 99, 217, 255);
constexpr ImU32 col_error = IM_COL32(204, 41, 46, 255);
constexpr ImU32 col_path = IM_COL32(22, 150, 70, 255);
constexpr ImU32 col_note = IM_COL32(254, 236, 130, 255);
constexpr ImU32 col_note_text = IM_COL32(66, 56, 10, 255);

ImU32 faded(ImU32 c, float alpha) {
    ImU32 a = static_cast<ImU32>(static_cast<float>((c >> IM_COL32_A_SHIFT) & 0xFF) * alpha);
    return (c & ~IM_COL32_A_MASK) | (a << IM_COL32_A_SHIFT);
}

ImVec2 add(ImVec2 a, ImVec2 b) {
    return ImVec2(a.x + b.x, a.y + b.y);
}
ImVec2 sub(ImVec2 a, ImVec2 b) {
    return ImVec2(a.x - b.x, a.y - b.y);
}

bool dragging_node(const EditorState& s, const std::string& id) {
    return s.drag == Drag::nodes && s.selection.count(id);
}

ImVec2 node_pos(const EditorState& s, const NodeView& n) {
    return dragging_node(s, n.id) ? add(n.pos, s.drag_delta) : n.pos;
}

ImVec2 port_world(const EditorState& s, const NodeView& n, std::size_t i) {
    ImVec2 p = node_pos(s, n);
    return ImVec2(p.x + n.size.x, p.y + header_height + summary_height + (static_cast<float>(i) + 0.5f) * port_row);
}

ImVec2 input_world(const EditorState& s, const NodeView& n) {
    ImVec2 p = node_pos(s, n);
    return ImVec2(p.x, p.y + header_height / 2);
}

ImVec2 note_pos(const EditorState& s, const NoteView& n) {
    return s.drag == Drag::note && s.selected_note == n.id ? add(n.pos, s.drag_delta) : n.pos;
}

bool overlaps(ImVec2 a0, ImVec2 a1, ImVec2 b0, ImVec2 b1) {
    return a0.x <= b1.x && b0.x <= a1.x && a0.y <= b1.y && b0.y <= a1.y;
}

// ---- hit tests -----------------------------------------------------------------------------

struct PortHit {
    const NodeView* node = nullptr;
    std::size_t port = 0;
};

PortHit hit_port(const EditorState& s, ImVec2 mouse) {
    float radius = std::max(9.0f, 8.0f * s.zoom);
    for (auto it = s.nodes.rbegin(); it != s.nodes.rend(); ++it) {
        for (std::size_t i = 0; i < it->ports.size(); ++i) {
            ImVec2 p = to_screen(s, port_world(s, *it, i));
            float dx = p.x - mouse.x, dy = p.y - mouse.y;
            if (dx * dx + dy * dy <= radius * radius) return {&*it, i};
        }
    }
    return {};
}

const NodeView* hit_node(const EditorState& s, ImVec2 mouse) {
    for (auto it = s.nodes.rbegin(); it != s.nodes.rend(); ++it) {
        ImVec2 a = to_screen(s, node_pos(s, *it));
        ImVec2 b = add(a, ImVec2(it->size.x * s.zoom, it->size.y * s.zoom));
        if (mouse.x >= a.x && mouse.x <= b.x && mouse.y >= a.y && mouse.y <= b.y) return &*it;
    }
    return nullptr;
}

const NoteView* hit_note(const EditorState& s, ImVec2 mouse) {
    for (auto it = s.notes.rbegin(); it != s.notes.rend(); ++it) {
        ImVec2 a = to_screen(s, note_pos(s, *it));
        ImVec2 b = add(a, ImVec2(it->size.x * s.zoom, it->size.y * s.zoom));
        if (mouse.x >= a.x && mouse.x <= b.x && mouse.y >= a.y && mouse.y <= b.y) return &*it;
    }
    return nullptr;
}

// ---- drawing -------------------------------------------------------------------------------

struct Pen {
    ImDrawList* dl;
    ImFont* font;
    float font_size;  // at zoom 1
    ImVec4 clip;
};

// Text clipped to a box (so a long expression never spills out of its node).
void text(const Pen& pen, float size, ImVec2 at, ImU32 col, const std::string& t, float max_x) {
    ImVec4 clip(pen.clip.x, pen.clip.y, std::min(pen.clip.z, max_x), pen.clip.w);
    pen.dl->AddText(pen.font, size, at, col, t.data(), t.data() + t.size(), 0.0f, &clip);
}

void grid(const EditorState& s, ImDrawList* dl, ImVec2 a, ImVec2 b) {
    dl->AddRectFilled(a, b, col_background);
    float step = 32 * s.zoom;
    while (step < 14) step *= 2;
    float x0 = a.x + std::fmod(s.offset.x, step), y0 = a.y + std::fmod(s.offset.y, step);
    if (x0 < a.x) x0 += step;
    if (y0 < a.y) y0 += step;
    for (float x = x0; x < b.x; x += step) dl->AddLine(ImVec2(x, a.y), ImVec2(x, b.y), col_grid);
    for (float y = y0; y < b.y; y += step) dl->AddLine(ImVec2(a.x, y), ImVec2(b.x, y), col_grid);
}

void bezier(ImDrawList* dl, ImVec2 p0, ImVec2 p1, ImU32 col, float thickness, float zoom, ImVec2 clip0, ImVec2 clip1) {
    float dx = std::max(std::fabs(p1.x - p0.x) * 0.5f, 50.0f * zoom);
    ImVec2 c0(p0.x + dx, p0.y), c1(p1.x - dx, p1.y);
    ImVec2 lo(std::min({p0.x, p1.x, c0.x, c1.x}), std::min({p0.y, p1.y, c0.y, c1.y}));
    ImVec2 hi(std::max({p0.x, p1.x, c0.x, c1.x}), std::max({p0.y, p1.y, c0.y, c1.y}));
    if (!overlaps(lo, hi, clip0, clip1)) return;  // the curve lies inside its control points' box
    // A fixed number of segments by the curve's length: ImGui's adaptive tessellation splits a
    // long curve up to 1,024 times, and a 200-node flow at a readable zoom has links thousands
    // of pixels long crossing the view (tens of milliseconds a frame, nothing visible).
    float length = std::fabs(p1.x - p0.x) + std::fabs(p1.y - p0.y) + 2 * dx;
    int segments = zoom < 0.5f ? 12 : std::clamp(static_cast<int>(length / 24), 8, 48);
    dl->AddBezierCubic(p0, c0, c1, p1, col, thickness, segments);
}

void draw_links(const EditorState& s, ImDrawList* dl, ImVec2 clip0, ImVec2 clip1) {
    bool sim = !s.path_nodes.empty();
    for (const auto& n : s.nodes) {
        for (std::size_t i = 0; i < n.ports.size(); ++i) {
            const PortView& port = n.ports[i];
            if (port.target.empty()) continue;
            if (s.drag == Drag::link && s.link_from == n.id && s.link_port == port.name) continue;  // being moved
            const NodeView* to = find_node(s, port.target);
            if (!to) continue;
            ImVec2 p0 = to_screen(s, port_world(s, n, i)), p1 = to_screen(s, input_world(s, *to));
            bool on_path = s.path_links.count({n.id, port.target}) > 0;
            bool touches_selection = s.selection.count(n.id) || s.selection.count(port.target);
            ImU32 col = on_path ? col_path : touches_selection ? col_selected : col_link;
            if (sim && !on_path) col = faded(col, 0.3f);
            bezier(dl, p0, p1, col, (on_path ? 3.5f : 2.0f) * std::max(0.6f, s.zoom), s.zoom, clip0, clip1);
        }
    }
}

void draw_node(const EditorState& s, const Pen& pen, const NodeView& n) {
    ImDrawList* dl = pen.dl;
    const float z = s.zoom;
    ImVec2 a = to_screen(s, node_pos(s, n));
    ImVec2 b = add(a, ImVec2(n.size.x * z, n.size.y * z));
    bool sim = !s.path_nodes.empty();
    float alpha = sim && !s.path_nodes.count(n.id) ? 0.35f : 1.0f;
    bool detail = z >= 0.45f;  // text and port labels
    // Far out, and near the vertex limit of 16-bit indices, boxes only.
    bool room = sizeof(ImDrawIdx) > 2 || dl->VtxBuffer.Size < 52000;
    float rounding = detail ? 6 * z : 0;

    if (detail)
        dl->AddRectFilled(ImVec2(a.x + 2, a.y + 3), ImVec2(b.x + 2, b.y + 3), faded(col_shadow, alpha), rounding);
    dl->AddRectFilled(a, b, faded(col_body, alpha), rounding);
    dl->AddRectFilled(a, ImVec2(b.x, a.y + header_height * z), faded(n.header, alpha), rounding,
                      ImDrawFlags_RoundCornersTop);
    if (detail) dl->AddRect(a, b, faded(col_border, alpha), rounding);
    if (n.id == s.start) {  // the start: a small triangle in front of the input port
        ImVec2 c = to_screen(s, input_world(s, n));
        dl->AddTriangleFilled(ImVec2(c.x - 20 * z, c.y - 8 * z), ImVec2(c.x - 20 * z, c.y + 8 * z),
                              ImVec2(c.x - 8 * z, c.y), faded(col_path, alpha));
    }
    bool selected = s.selection.count(n.id) > 0;
    if (n.errors > 0) dl->AddRect(a, b, col_error, rounding, 0, 2.5f);
    if (sim && s.path_nodes.count(n.id)) dl->AddRect(a, b, col_path, rounding, 0, 2.5f);
    if (selected) {
        dl->AddRect(ImVec2(a.x - 3, a.y - 3), ImVec2(b.x + 3, b.y + 3), col_selected, rounding + 3, 0, 2.0f);
    }

    // The input port and the output ports.
    ImVec2 in = to_screen(s, input_world(s, n));
    float r = std::max(3.0f, 5.5f * z);
    dl->AddCircleFilled(in, r, faded(col_port, alpha), detail ? 12 : 6);
    for (std::size_t i = 0; i < n.ports.size(); ++i) {
        ImVec2 p = to_screen(s, port_world(s, n, i));
        bool free = n.ports[i].target.empty();  // an open port: a ring, to invite a drag
        dl->AddCircleFilled(p, r, faded(free ? col_port_free : col_port, alpha), detail ? 12 : 6);
        if (free) dl->AddCircle(p, r, faded(col_port, alpha), detail ? 12 : 6, 1.5f);
    }

    float fs = pen.font_size * z;
    if (!room || z < 0.3f) return;
    float pad = 8 * z;
    text(pen, fs, ImVec2(a.x + pad, a.y + (header_height * z - fs) / 2), faded(col_text, alpha), n.title,
         b.x - pad - (n.errors > 0 ? 18 * z : 0));
    if (!detail) return;
    float sy = a.y + header_height * z + (summary_height * z - fs) / 2;
    text(pen, fs * 0.92f, ImVec2(a.x + pad, sy), faded(col_body_text, alpha), n.summary, b.x - pad);
    for (std::size_t i = 0; i < n.ports.size(); ++i) {
        ImVec2 p = to_screen(s, port_world(s, n, i));
        const std::string& label = n.ports[i].label;
        float ls = fs * 0.85f;
        float w = pen.font->CalcTextSizeA(ls, 1e9f, 0.0f, label.c_str()).x;
        float max_w = n.size.x * z * 0.8f;
        float x = p.x - 12 * z - std::min(w, max_w);
        text(pen, ls, ImVec2(x, p.y - ls / 2), faded(col_dim_text, alpha), label, p.x - 10 * z);
    }

    // Problems: a red badge with the count.
    if (n.errors > 0) {
        ImVec2 c(b.x - 10 * z, a.y + header_height * z / 2);
        dl->AddCircleFilled(c, 8 * z, IM_COL32(255, 255, 255, 255), 16);
        dl->AddCircleFilled(c, 7 * z, col_error, 16);
        std::string count = std::to_string(n.errors);
        ImVec2 ts = pen.font->CalcTextSizeA(fs * 0.8f, 1e9f, 0.0f, count.c_str());
        dl->AddText(pen.font, fs * 0.8f, ImVec2(c.x - ts.x / 2, c.y - ts.y / 2), col_text, count.c_str());
    }
    // The simulation: what decided at this node, and how many of the sample set passed.
    auto trace = s.trace_text.find(n.id);
    if (trace != s.trace_text.end() && !trace->second.empty()) {
        float ts = fs * 0.85f;
        ImVec2 size = pen.font->CalcTextSizeA(ts, 1e9f, 0.0f, trace->second.c_str());
        size.x = std::min(size.x, n.size.x * z * 1.6f);
        ImVec2 t0(a.x, b.y + 4 * z), t1(a.x + size.x + 10 * z, b.y + 4 * z + size.y + 4 * z);
        dl->AddRectFilled(t0, t1, IM_COL32(220, 246, 228, 250), 4 * z);
        dl->AddRect(t0, t1, col_path, 4 * z);
        text(pen, ts, ImVec2(t0.x + 5 * z, t0.y + 2 * z), IM_COL32(16, 84, 42, 255), trace->second, t1.x);
    }
    auto passed = s.pass_counts.find(n.id);
    if (s.show_pass_counts) {
        long count = passed == s.pass_counts.end() ? 0 : passed->second;
        std::string label = std::to_string(count) + " passed";
        float ts = fs * 0.85f;
        ImVec2 size = pen.font->CalcTextSizeA(ts, 1e9f, 0.0f, label.c_str());
        ImVec2 t0(b.x - size.x - 10 * z, a.y - size.y - 8 * z), t1(b.x, a.y - 2 * z);
        dl->AddRectFilled(t0, t1, count > 0 ? IM_COL32(38, 99, 217, 240) : IM_COL32(150, 156, 168, 240), 4 * z);
        dl->AddText(pen.font, ts, ImVec2(t0.x + 5 * z, t0.y + 3 * z), col_text, label.c_str());
    }
}

void draw_note(const EditorState& s, const Pen& pen, const NoteView& n) {
    const float z = s.zoom;
    ImVec2 a = to_screen(s, note_pos(s, n));
    ImVec2 b = add(a, ImVec2(n.size.x * z, n.size.y * z));
    pen.dl->AddRectFilled(add(a, ImVec2(3, 4)), add(b, ImVec2(3, 4)), IM_COL32(0, 0, 0, 70), 3 * z);
    pen.dl->AddRectFilled(a, b, col_note, 3 * z);
    if (s.selected_note == n.id) pen.dl->AddRect(a, b, col_selected, 3 * z, 0, 2.0f);
    if (z < 0.4f || s.editing_note == n.id) return;
    float fs = pen.font_size * z * 0.95f;
    ImVec4 clip(std::max(pen.clip.x, a.x), std::max(pen.clip.y, a.y), std::min(pen.clip.z, b.x - 6 * z),
                std::min(pen.clip.w, b.y - 4 * z));
    pen.dl->AddText(pen.font, fs, ImVec2(a.x + 8 * z, a.y + 6 * z), col_note_text, n.text.data(),
                    n.text.data() + n.text.size(), n.size.x * z - 16 * z, &clip);
}

// ---- the mouse -----------------------------------------------------------------------------

void select_only(EditorState& s, const std::string& id) {
    s.selection.clear();
    s.selection.insert(id);
    s.selected_note.clear();
}

void begin_gesture(EditorState& s, ImVec2 mouse) {
    ImGuiIO& io = ImGui::GetIO();
    bool multi = io.KeyShift || io.KeyCtrl || io.KeySuper;
    s.drag_start = mouse;
    s.drag_delta = ImVec2(0, 0);
    s.status_at = ImVec2(-1, -1);
    if (PortHit port = hit_port(s, mouse); port.node) {
        s.drag = Drag::link;
        s.link_from = port.node->id;
        s.link_port = port.node->ports[port.port].name;
        s.link_was = port.node->ports[port.port].target;
        s.link_hover.clear();
        return;
    }
    if (const NodeView* n = hit_node(s, mouse)) {
        s.selected_note.clear();
        if (multi) {
            if (!s.selection.erase(n->id)) s.selection.insert(n->id);
            if (!s.selection.count(n->id)) return;  // toggled off: nothing to drag
        } else if (!s.selection.count(n->id)) {
            select_only(s, n->id);
        }
        s.drag = Drag::nodes;
        return;
    }
    if (const NoteView* note = hit_note(s, mouse)) {
        s.selection.clear();
        s.selected_note = note->id;
        if (ImGui::IsMouseDoubleClicked(ImGuiMouseButton_Left)) {
            edit_note(s, *note);
            return;
        }
        s.drag = Drag::note;
        return;
    }
    s.drag = multi || s.box_tool ? Drag::box : Drag::pan;
}

// Which node a dragged link would go to, and whether core would take it (tried on a copy,
// once per node hovered).
void check_link_target(EditorState& s, ImVec2 mouse) {
    const NodeView* over = hit_node(s, mouse);
    std::string target = over ? over->id : "";
    if (target == s.link_hover) return;
    s.link_hover = target;
    s.link_hover_refusal.clear();
    if (target.empty() || target == s.link_was) return;
    nlohmann::json copy = s.history.document();
    if (!s.link_was.empty()) edit::apply(copy, edit::Disconnect{s.link_from, s.link_port});
    edit::Outcome out = edit::apply(copy, edit::Connect{s.link_from, s.link_port, target});
    if (!out.applied) s.link_hover_refusal = out.refused;
}

void end_gesture(EditorState& s, ImVec2 mouse) {
    ImGuiIO& io = ImGui::GetIO();
    bool moved = std::fabs(mouse.x - s.drag_start.x) + std::fabs(mouse.y - s.drag_start.y) > 3;
    Drag drag = s.drag;
    s.drag = Drag::none;
    switch (drag) {
        case Drag::nodes:
            if (moved) {
                run(s,
                    edit::MoveNodes{std::vector<std::string>(s.selection.begin(), s.selection.end()),
                                    {s.drag_delta.x, s.drag_delta.y}},
                    true);
                s.history.seal();
            } else if (!(io.KeyShift || io.KeyCtrl || io.KeySuper)) {
                if (const NodeView* n = hit_node(s, mouse)) select_only(s, n->id);
            }
            break;
        case Drag::note:
            if (moved) {
                run(s, edit::MoveNodes{{s.selected_note}, {s.drag_delta.x, s.drag_delta.y}}, true);
                s.history.seal();
            }
            break;
        case Drag::link: {
            const NodeView* over = hit_node(s, mouse);
            std::string target = over ? over->id : "";
            if (target == s.link_was) break;  // put back where it was
            if (!s.link_was.empty() && !run(s, edit::Disconnect{s.link_from, s.link_port})) break;
            if (target.empty()) {
                if (s.link_was.empty() && moved) set_status(s, "Drop the link on a node to connect it");
                break;
            }
            if (!run(s, edit::Connect{s.link_from, s.link_port, target})) {
                std::string why = s.status;
                if (!s.link_was.empty()) s.history.undo();  // keep the old link rather than none
                set_status(s, why);
                s.status_at = mouse;
            }
            s.history.seal();
            break;
        }
        case Drag::box: {
            ImVec2 a(std::min(s.drag_start.x, mouse.x), std::min(s.drag_start.y, mouse.y));
            ImVec2 b(std::max(s.drag_start.x, mouse.x), std::max(s.drag_start.y, mouse.y));
            for (const auto& n : s.nodes) {
                ImVec2 na = to_screen(s, n.pos), nb = add(na, ImVec2(n.size.x * s.zoom, n.size.y * s.zoom));
                if (overlaps(a, b, na, nb)) s.selection.insert(n.id);
            }
            break;
        }
        case Drag::pan:
            if (!moved) {
                s.selection.clear();
                s.selected_note.clear();
            }
            break;
        case Drag::none:
            break;
    }
}

void place_from_palette(EditorState& s) {
    if (!ImGui::BeginDragDropTarget()) return;
    if (const ImGuiPayload* payload = ImGui::AcceptDragDropPayload("closeloop_kind")) {
        std::string kind(static_cast<const char*>(payload->Data), static_cast<std::size_t>(payload->DataSize));
        ImVec2 at = to_world(s, ImGui::GetIO().MousePos);
        run(s, edit::AddNode{kind, {at.x - node_width / 2, at.y - header_height / 2}, ""});
        s.history.seal();
        s.canvas_focused = true;
    }
    ImGui::EndDragDropTarget();
}

}  // namespace

// A note is edited in the page's text overlay (an HTML textarea over it): typing, IME,
// paste and right-to-left text work there as in any page.
void edit_note(EditorState& s, const NoteView& note) {
    s.editing_note = note.id;
    ImVec2 a = to_screen(s, note.pos);
    std::string id = note.id;
    text_overlay_open(note.text, true, a.x, a.y, note.size.x * s.zoom, note.size.y * s.zoom,
                      [&s, id](const std::string& text) {
                          const NoteView* now = nullptr;
                          for (const auto& n : s.notes)
                              if (n.id == id) now = &n;
                          if (now && now->text != text) run(s, edit::SetNote{id, text}, true);
                          s.history.seal();
                          s.editing_note.clear();
                      });
}

// ---- draw_canvas ---------------------------------------------------------------------------

void draw_canvas(EditorState& s, ImVec2 size) {
    ImGuiIO& io = ImGui::GetIO();
    ImVec2 a = ImGui::GetCursorScreenPos();
    ImVec2 b = add(a, size);
    s.canvas_min = a;
    s.canvas_max = b;
    s.canvas_rect = Rect{a.x, a.y, size.x, size.y};
    if (s.fit_pending) fit_to_content(s);

    ImGui::InvisibleButton(
        "##canvas", size,
        ImGuiButtonFlags_MouseButtonLeft | ImGuiButtonFlags_MouseButtonRight | ImGuiButtonFlags_MouseButtonMiddle);
    bool hovered = ImGui::IsItemHovered();
    place_from_palette(s);

    if (ImGui::IsMouseClicked(ImGuiMouseButton_Left) || ImGui::IsMouseClicked(ImGuiMouseButton_Right))
        s.canvas_focused = hovered;
    ImVec2 mouse = io.MousePos;
    if (hovered && s.drag == Drag::none) {
        if (ImGui::IsMouseClicked(ImGuiMouseButton_Left)) {
            begin_gesture(s, mouse);
        } else if (ImGui::IsMouseClicked(ImGuiMouseButton_Middle) || ImGui::IsMouseClicked(ImGuiMouseButton_Right)) {
            s.drag = Drag::pan;
            s.drag_start = mouse;
        }
        // Scroll pans; Ctrl+scroll zooms at the mouse (a pinch comes through Editor::zoom_at).
        if (io.MouseWheel != 0 || io.MouseWheelH != 0) {
            if (io.KeyCtrl) {
                ImVec2 world = to_world(s, mouse);
                s.zoom = std::clamp(s.zoom * std::pow(1.12f, io.MouseWheel), min_zoom, max_zoom);
                s.offset = ImVec2(mouse.x - a.x - world.x * s.zoom, mouse.y - a.y - world.y * s.zoom);
            } else {
                // Emscripten 3.1.6's GLFW hands over the page's wheel deltas as they are: pixels,
                // positive downwards, where GLFW elsewhere gives about 1 per notch, positive
                // upwards. More than 3 in one frame can only be the former: turn it into notches.
                auto notches = [](float v) { return std::fabs(v) > 3 ? -v / 100 : v; };
                float wheel = notches(io.MouseWheel), wheel_h = notches(io.MouseWheelH);
                float dx = io.KeyShift ? wheel : wheel_h;
                float dy = io.KeyShift ? 0 : wheel;
                s.offset = add(s.offset, ImVec2(std::clamp(dx, -3.0f, 3.0f) * 40, std::clamp(dy, -3.0f, 3.0f) * 40));
            }
        }
    }

    // Follow the drag.
    if (s.drag != Drag::none) {
        ImVec2 d = io.MouseDelta;
        switch (s.drag) {
            case Drag::pan:
                s.offset = add(s.offset, d);
                break;
            case Drag::nodes:
            case Drag::note:
                s.drag_delta = ImVec2((mouse.x - s.drag_start.x) / s.zoom, (mouse.y - s.drag_start.y) / s.zoom);
                break;
            case Drag::link:
                check_link_target(s, mouse);
                break;
            default:
                break;
        }
        bool down = io.MouseDown[0] || io.MouseDown[1] || io.MouseDown[2];
        if (!down) end_gesture(s, mouse);
    }

    ImDrawList* dl = ImGui::GetWindowDrawList();
    dl->PushClipRect(a, b, true);
    grid(s, dl, a, b);
    Pen pen{dl, ImGui::GetFont(), ImGui::GetFontSize(), ImVec4(a.x, a.y, b.x, b.y)};

    for (const auto& n : s.notes) {
        ImVec2 na = to_screen(s, note_pos(s, n));
        if (overlaps(na, add(na, ImVec2(n.size.x * s.zoom, n.size.y * s.zoom)), a, b)) draw_note(s, pen, n);
    }
    draw_links(s, dl, a, b);
    for (const auto& n : s.nodes) {
        ImVec2 na = to_screen(s, node_pos(s, n));
        // Margin above and below for the trace and pass-count tags.
        ImVec2 nb = add(na, ImVec2(n.size.x * s.zoom * 1.6f, (n.size.y + 30) * s.zoom));
        if (overlaps(ImVec2(na.x, na.y - 24 * s.zoom), nb, a, b)) draw_node(s, pen, n);
    }

    // The gesture under way.
    if (s.drag == Drag::link) {
        const NodeView* from = find_node(s, s.link_from);
        if (from) {
            std::size_t i = 0;
            while (i < from->ports.size() && from->ports[i].name != s.link_port) ++i;
            ImVec2 p0 = to_screen(s, port_world(s, *from, i));
            const NodeView* over = find_node(s, s.link_hover);
            ImVec2 p1 = over ? to_screen(s, input_world(s, *over)) : mouse;
            bool refused = !s.link_hover_refusal.empty();
            bezier(dl, p0, p1, refused ? col_error : col_selected, 2.5f, s.zoom, a, b);
            if (over) {
                ImVec2 oa = to_screen(s, over->pos), ob = add(oa, ImVec2(over->size.x * s.zoom, over->size.y * s.zoom));
                dl->AddRect(oa, ob, refused ? col_error : col_path, 6 * s.zoom, 0, 2.5f);
            }
            if (refused) {
                ImVec2 t = add(mouse, ImVec2(16, 12));
                ImVec2 ts = ImGui::CalcTextSize(s.link_hover_refusal.c_str());
                dl->AddRectFilled(sub(t, ImVec2(6, 4)), add(t, ImVec2(ts.x + 6, ts.y + 4)), IM_COL32(80, 20, 20, 235),
                                  4);
                dl->AddText(t, col_text, s.link_hover_refusal.c_str());
            }
        }
    } else if (s.drag == Drag::box) {
        ImVec2 p0(std::min(s.drag_start.x, mouse.x), std::min(s.drag_start.y, mouse.y));
        ImVec2 p1(std::max(s.drag_start.x, mouse.x), std::max(s.drag_start.y, mouse.y));
        dl->AddRectFilled(p0, p1, IM_COL32(38, 99, 217, 30));
        dl->AddRect(p0, p1, col_selected);
    }
    if (const ImGuiPayload* payload = ImGui::GetDragDropPayload(); payload && payload->IsDataType("closeloop_kind") &&
                                                                   mouse.x >= a.x && mouse.x < b.x && mouse.y >= a.y &&
                                                                   mouse.y < b.y) {
        ImVec2 g0(mouse.x - node_width / 2 * s.zoom, mouse.y - header_height / 2 * s.zoom);
        dl->AddRect(g0, add(g0, ImVec2(node_width * s.zoom, 70 * s.zoom)), col_selected, 6 * s.zoom, 0, 2.0f);
    }
    // A refused gesture says why where it ended, for a few seconds.
    if (s.status_at.x >= 0 && ImGui::GetTime() - s.status_time < 4.0 && !s.status.empty()) {
        ImVec2 t = add(s.status_at, ImVec2(16, 12));
        ImVec2 ts = ImGui::CalcTextSize(s.status.c_str());
        dl->AddRectFilled(sub(t, ImVec2(6, 4)), add(t, ImVec2(ts.x + 6, ts.y + 4)), IM_COL32(80, 20, 20, 235), 4);
        dl->AddText(t, col_text, s.status.c_str());
    }
    if (s.nodes.empty() && s.notes.empty()) {
        const char* hint = "Drag a node from the palette to start";
        ImVec2 ts = ImGui::CalcTextSize(hint);
        dl->AddText(ImVec2((a.x + b.x - ts.x) / 2, (a.y + b.y - ts.y) / 2), col_dim_text, hint);
    }
    dl->PopClipRect();
    if (!s.editing_note.empty() && !text_overlay_active()) s.editing_note.clear();  // closed without an answer
}

}  // namespace closeloop::web
