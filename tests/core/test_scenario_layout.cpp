// scenario_edit.h, layout: layered, no overlapping boxes, edges forward (but back edges
// through a wait), deterministic, stable for small edits; on every shipped scenario.
#include <doctest/doctest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "closeloop/detail/json_read.h"
#include "closeloop/scenario_edit.h"
#include "embedded_assets.h"

using namespace closeloop;
using namespace closeloop::edit;
using nlohmann::json;

namespace {

using Positions = std::map<std::string, Point>;

Positions positions(const std::vector<std::pair<std::string, Point>>& list) {
    return Positions(list.begin(), list.end());
}

std::vector<std::pair<std::string, std::string>> edges(const json& doc) {
    std::vector<std::pair<std::string, std::string>> out;
    std::set<std::string> ids;
    for (const auto& n : doc["nodes"]) ids.insert(n["id"].get<std::string>());
    for (const auto& n : doc["nodes"])
        for (const auto& port : output_ports(n))
            if (auto to = linked(n, port); to && ids.count(*to)) out.push_back({n["id"].get<std::string>(), *to});
    return out;
}

std::set<std::string> reachable_from(const json& doc, const std::string& from) {
    const auto all = edges(doc);
    std::set<std::string> seen = {from};
    std::vector<std::string> todo = {from};
    while (!todo.empty()) {
        const std::string u = todo.back();
        todo.pop_back();
        for (const auto& [a, b] : all)
            if (a == u && seen.insert(b).second) todo.push_back(b);
    }
    return seen;
}

bool is_wait(const json& doc, const std::string& id) {
    for (const auto& n : doc["nodes"])
        if (n["id"] == id) return n["type"] == "wait";
    return false;
}

// u -> v closes a cycle v ... u that passes through a wait.
bool back_edge_through_wait(const json& doc, const std::string& u, const std::string& v) {
    const auto from_v = reachable_from(doc, v);
    if (!from_v.count(u)) return false;
    for (const auto& w : from_v)
        if (is_wait(doc, w) && reachable_from(doc, w).count(u)) return true;
    return false;
}

// The layout's promises for one document; returns the positions.
Positions check_layout(const json& doc, const LayoutOptions& o) {
    const auto list = layout(doc, o);
    const Positions at = positions(list);
    CHECK(list.size() == doc["nodes"].size());
    CHECK(at.size() == list.size());
    // No two boxes overlap.
    for (auto a = at.begin(); a != at.end(); ++a)
        for (auto b = std::next(a); b != at.end(); ++b) {
            const bool apart = a->second.x + o.node_width <= b->second.x || b->second.x + o.node_width <= a->second.x ||
                               a->second.y + o.node_height <= b->second.y || b->second.y + o.node_height <= a->second.y;
            CAPTURE(a->first);
            CAPTURE(b->first);
            CHECK(apart);
        }
    // Every edge between reachable nodes goes forward, unless it closes a cycle through a wait.
    const bool ltr = o.direction == Direction::left_to_right;
    const auto reached =
        doc.contains("start") ? reachable_from(doc, doc["start"].get<std::string>()) : std::set<std::string>{};
    for (const auto& edge : edges(doc)) {
        const std::string &u = edge.first, &v = edge.second;  // (clang 14 cannot capture bindings)
        if (!reached.count(u)) continue;
        const double du = ltr ? at.at(u).x : at.at(u).y, dv = ltr ? at.at(v).x : at.at(v).y;
        CAPTURE(u);
        CAPTURE(v);
        if (dv <= du) CHECK(back_edge_through_wait(doc, u, v));
    }
    // Unreachable nodes in a last row, after (beyond) every reachable node.
    for (const auto& [id, p] : at) {
        if (reached.count(id)) continue;
        for (const auto& r : reached) CHECK(p.y > at.at(r).y);
    }
    CHECK(layout(doc, o) == list);  // deterministic
    return at;
}

json chain_with_loop() {
    return json::parse(R"({
      "id": "loop", "name": "Loop", "trigger": { "event": "nps_response" }, "start": "a",
      "nodes": [
        { "id": "a", "type": "condition", "if": "event.score < 7", "then": "b", "else": "c" },
        { "id": "b", "type": "action", "action": "send_email", "params": { "template": "t" }, "next": "w" },
        { "id": "w", "type": "wait", "for": "P7D", "next": "d" },
        { "id": "d", "type": "condition", "if": "count_events('purchase', days(7)) == 0", "then": "b", "else": null },
        { "id": "c", "type": "action", "action": "add_tag", "params": { "tag": "happy" }, "next": "e" },
        { "id": "e", "type": "action", "action": "notify", "params": { "role": "x", "message": "m" }, "next": "d" },
        { "id": "lost", "type": "wait", "for": "P1D", "next": "lost2" },
        { "id": "lost2", "type": "action", "action": "add_tag", "params": { "tag": "x" }, "next": null }
      ] })");
}

// A generated scenario of about `n` nodes: switches fanning out into chains of actions.
json generated(int n) {
    json doc = {{"id", "big"}, {"name", "Big"}, {"trigger", {{"event", "nps_response"}}}, {"start", "n0"}};
    json nodes = json::array();
    for (int i = 0; i < n; ++i) {
        const std::string id = "n" + std::to_string(i);
        const auto ref = [&](int k) { return k < n ? json("n" + std::to_string(k)) : json(nullptr); };
        if (i % 7 == 0)
            nodes.push_back({{"id", id},
                             {"type", "switch"},
                             {"cases", json::array({{{"when", "true"}, {"next", ref(i + 1)}},
                                                    {{"when", "false"}, {"next", ref(i + 3)}}})},
                             {"default", ref(i + 5)}});
        else
            nodes.push_back({{"id", id},
                             {"type", "action"},
                             {"action", "add_tag"},
                             {"params", {{"tag", "t"}}},
                             {"next", ref(i % 7 == 6 ? i + 1 : i + 2)}});
    }
    doc["nodes"] = std::move(nodes);
    return doc;
}

}  // namespace

TEST_CASE("layout: layered, no overlaps, edges forward unless back through a wait") {
    for (const auto dir : {Direction::left_to_right, Direction::top_to_bottom}) {
        LayoutOptions o;
        o.direction = dir;
        const json doc = chain_with_loop();
        const Positions at = check_layout(doc, o);
        const bool ltr = dir == Direction::left_to_right;
        const auto along = [&](const std::string& id) { return ltr ? at.at(id).x : at.at(id).y; };
        CHECK(along("a") == 0);
        CHECK(along("b") > along("a"));
        CHECK(along("w") > along("b"));
        CHECK(along("d") > along("w"));
        CHECK(along("d") > along("e"));
        // d -> b is the back edge (through w)
        CHECK(along("b") < along("d"));
        // the unreachable pair is in a row of its own, side by side
        CHECK(at.at("lost").y == at.at("lost2").y);
        CHECK(at.at("lost2").x > at.at("lost").x);
        // a's two children are spread around it across the layers
        const auto across = [&](const std::string& id) { return ltr ? at.at(id).y : at.at(id).x; };
        CHECK(across("b") < across("c"));
        CHECK(across("b") < across("a"));
        CHECK(across("c") > across("a"));
    }
}

TEST_CASE("layout of every shipped scenario") {
    int count = 0;
    for (const auto& a : embedded_assets()) {
        if (a.path.find("assets/scenarios/") != 0) continue;
        CAPTURE(a.path);
        auto j = detail::parse_json(a.text);
        REQUIRE(j.ok());
        for (const auto dir : {Direction::left_to_right, Direction::top_to_bottom}) {
            LayoutOptions o;
            o.direction = dir;
            check_layout(*j, o);
        }
        ++count;
    }
    CHECK(count >= 8);
}

TEST_CASE("layout: a small edit moves few nodes") {
    json doc;
    for (const auto& a : embedded_assets())
        if (a.path == "assets/scenarios/nps-recovery.json") doc = *detail::parse_json(a.text);
    REQUIRE(doc.is_object());
    const Positions before = positions(layout(doc));
    // A new action after a leaf.
    json edited = doc;
    REQUIRE(edit::apply(edited, AddNode{"add_tag", {}, "tagged"}).applied);
    REQUIRE(edit::apply(edited, Connect{"mail_reminder", "next", "tagged"}).applied);
    const Positions after = positions(layout(edited));
    int moved = 0;
    for (const auto& [id, p] : before) moved += after.at(id) == p ? 0 : 1;
    CHECK(moved <= 1);
    // A renamed node keeps its place, and so does everything else.
    json renamed = doc;
    REQUIRE(edit::apply(renamed, RenameNode{"segment", "by_segment"}).applied);
    const Positions same = positions(layout(renamed));
    CHECK(same.at("by_segment") == before.at("segment"));
    for (const auto& [id, p] : before)
        if (id != "segment") CHECK(same.at(id) == p);
    // Positions (ui) do not change the layout.
    json moved_doc = doc;
    REQUIRE(edit::apply(moved_doc, MoveNodes{{"call"}, {500, 500}}).applied);
    CHECK(positions(layout(moved_doc)) == before);
}

TEST_CASE("layout: a generated scenario of 200 nodes, and degenerate documents") {
    const json big = generated(200);
    LayoutOptions o;
    const Positions at = check_layout(big, o);
    CHECK(at.size() == 200);
    o.direction = Direction::top_to_bottom;
    check_layout(big, o);

    CHECK(layout(json::object()).empty());
    CHECK(layout(json::array()).empty());
    // no start: every node is unreachable, in one row
    json no_start = chain_with_loop();
    no_start.erase("start");
    const Positions row = positions(layout(no_start));
    for (const auto& [id, p] : row) CHECK(p.y == row.at("a").y);
    // links to missing nodes and duplicate ids are ignored, not fatal
    json broken = chain_with_loop();
    broken["nodes"][0]["then"] = "ghost";
    broken["nodes"].push_back({{"id", "a"}, {"type", "wait"}});
    broken["nodes"].push_back(42);
    CHECK(layout(broken).size() == 8);
}

TEST_CASE("layout as SetPositions: the tidy-up button is one undo step") {
    EditHistory h(chain_with_loop());
    const auto tidy = layout(h.document());
    REQUIRE(h.apply(SetPositions{tidy}).applied);
    for (const auto& [id, p] : tidy) CHECK(h.document()["ui"][id] == json{{"x", p.x}, {"y", p.y}});
    CHECK(h.undo());
    CHECK(h.document() == chain_with_loop());
}
