// scenario_edit.h: the builder's commands on the scenario document, undo and redo, diff.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "closeloop/detail/json_read.h"
#include "closeloop/scenario_edit.h"

using namespace closeloop;
using namespace closeloop::edit;
using nlohmann::json;

namespace {

// Every kind of node and port, with positions and a note.
json sample() {
    return json::parse(R"({
      "id": "s", "name": "Sample", "status": "draft",
      "trigger": { "event": "nps_response", "when": "event.score < 7" },
      "start": "check",
      "nodes": [
        { "id": "check", "type": "condition", "if": "event.score < 5", "then": "route", "else": "pause" },
        { "id": "route", "type": "switch",
          "cases": [ { "when": "contact.vip", "next": "mail" }, { "when": "true", "next": "ab" } ],
          "default": "mail" },
        { "id": "ab", "type": "split",
          "branches": [ { "percent": 50, "next": "mail" }, { "percent": 50, "next": null } ] },
        { "id": "pause", "type": "wait", "for": "P2D", "next": "mail" },
        { "id": "mail", "type": "action", "action": "send_email", "params": { "template": "t" }, "next": null }
      ],
      "ui": { "check": { "x": 0, "y": 0 }, "route": { "x": 300, "y": 0 }, "mail": { "x": 600, "y": 0 },
              "$notes": [ { "id": "note_1", "x": 10, "y": 20, "text": "hello" } ] }
    })");
}

const json& node(const json& doc, const std::string& id) {
    static const json none;
    for (const auto& n : doc["nodes"])
        if (n["id"] == id) return n;
    return none;
}

bool has_node(const json& doc, const std::string& id) {
    return !node(doc, id).is_null();
}

// A refused command says why and leaves the document exactly as it was.
std::string refusal(json doc, const Command& c) {
    const json before = doc;
    const Outcome o = edit::apply(doc, c);
    CHECK_FALSE(o.applied);
    CHECK(doc == before);
    return o.refused;
}

json applied(json doc, const Command& c) {
    const Outcome o = edit::apply(doc, c);
    CHECK_MESSAGE(o.applied, o.refused);
    CHECK(o.refused.empty());
    return doc;
}

}  // namespace

TEST_CASE("output ports and links of each kind") {
    const json doc = sample();
    CHECK(output_ports(node(doc, "check")) == std::vector<std::string>{"then", "else"});
    CHECK(output_ports(node(doc, "route")) == std::vector<std::string>{"cases[0]", "cases[1]", "default"});
    CHECK(output_ports(node(doc, "ab")) == std::vector<std::string>{"branches[0]", "branches[1]"});
    CHECK(output_ports(node(doc, "pause")) == std::vector<std::string>{"next"});
    CHECK(output_ports(node(doc, "mail")) == std::vector<std::string>{"next"});
    CHECK(output_ports(json{{"type", "nonsense"}}).empty());

    CHECK(linked(node(doc, "check"), "then") == "route");
    CHECK(linked(node(doc, "route"), "cases[1]") == "ab");
    CHECK(linked(node(doc, "route"), "default") == "mail");
    CHECK(linked(node(doc, "ab"), "branches[0]") == "mail");
    CHECK_FALSE(linked(node(doc, "ab"), "branches[1]"));
    CHECK_FALSE(linked(node(doc, "ab"), "branches[2]"));
    CHECK_FALSE(linked(node(doc, "mail"), "next"));
    CHECK_FALSE(linked(node(doc, "mail"), "then"));
}

TEST_CASE("AddNode") {
    SUBCASE("each kind with the fields it needs, present and empty") {
        json doc = json::object();
        Outcome o = edit::apply(doc, AddNode{"condition", {10, 20}, ""});
        REQUIRE(o.applied);
        CHECK(o.created == std::vector<std::string>{"condition_1"});
        CHECK(node(doc, "condition_1") ==
              json{{"id", "condition_1"}, {"type", "condition"}, {"if", ""}, {"then", nullptr}, {"else", nullptr}});
        CHECK(doc["ui"]["condition_1"] == json{{"x", 10.0}, {"y", 20.0}});
        CHECK(doc["start"] == "condition_1");  // the first node of an empty scenario

        CHECK(edit::apply(doc, AddNode{"switch", {}, ""}).created == std::vector<std::string>{"switch_1"});
        CHECK(node(doc, "switch_1")["cases"] == json::parse(R"([{"when": "", "next": null}])"));
        CHECK(node(doc, "switch_1")["default"].is_null());
        CHECK(node(doc, "switch_1").contains("default"));

        CHECK(edit::apply(doc, AddNode{"split", {}, ""}).applied);
        CHECK(node(doc, "split_1")["branches"] ==
              json::parse(R"([{"percent": 50, "next": null}, {"percent": 50, "next": null}])"));

        CHECK(edit::apply(doc, AddNode{"wait", {}, ""}).applied);
        CHECK(node(doc, "wait_1")["for"] == "P1D");
        CHECK(node(doc, "wait_1").contains("next"));

        CHECK(edit::apply(doc, AddNode{"send_email", {}, ""}).applied);
        CHECK(node(doc, "send_email_1") == json::parse(R"({"id": "send_email_1", "type": "action",
              "action": "send_email", "params": {"template": ""}, "next": null})"));
        CHECK(edit::apply(doc, AddNode{"send_email", {}, ""}).created == std::vector<std::string>{"send_email_2"});
        CHECK(edit::apply(doc, AddNode{"notify", {}, ""}).applied);
        CHECK(node(doc, "notify_1")["params"] == json{{"role", ""}, {"message", ""}});

        CHECK(doc["start"] == "condition_1");  // later nodes do not move the start
        CHECK(doc["nodes"].size() == 7);
        // New ids are "<kind>_<n>" in [a-z0-9_].
        for (const auto& n : doc["nodes"])
            CHECK(n["id"].get<std::string>().find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") ==
                  std::string::npos);
    }
    SUBCASE("with a chosen id") {
        json doc = applied(sample(), AddNode{"wait", {1, 2}, "later"});
        CHECK(node(doc, "later")["type"] == "wait");
        CHECK(doc["start"] == "check");
    }
    SUBCASE("refused") {
        CHECK(refusal(sample(), AddNode{"loop", {}, ""}).find("no node kind \"loop\"") != std::string::npos);
        CHECK(refusal(sample(), AddNode{"wait", {}, "mail"}).find("already in use") != std::string::npos);
        CHECK(refusal(sample(), AddNode{"wait", {}, "note_1"}).find("already in use") != std::string::npos);
        CHECK(refusal(sample(), AddNode{"wait", {}, "a b"}).find("not a valid node id") != std::string::npos);
        CHECK(refusal(sample(), AddNode{"wait", {}, std::string(65, 'a')}).find("not a valid") != std::string::npos);
    }
}

TEST_CASE("DeleteNodes removes the nodes, every link to them and their positions") {
    json doc = applied(sample(), DeleteNodes{{"mail", "ab"}});
    CHECK_FALSE(has_node(doc, "mail"));
    CHECK_FALSE(has_node(doc, "ab"));
    CHECK(doc["nodes"].size() == 3);
    CHECK(node(doc, "route")["cases"][0]["next"].is_null());
    CHECK(node(doc, "route")["cases"][1]["next"].is_null());
    CHECK(node(doc, "route")["default"].is_null());
    CHECK(node(doc, "pause")["next"].is_null());
    CHECK(node(doc, "check")["then"] == "route");
    CHECK_FALSE(doc["ui"].contains("mail"));
    CHECK(doc["ui"].contains("route"));
    CHECK(doc["start"] == "check");

    SUBCASE("a deleted start leaves no start") {
        json d = applied(sample(), DeleteNodes{{"check"}});
        CHECK_FALSE(d.contains("start"));
    }
    SUBCASE("refused") {
        CHECK(refusal(sample(), DeleteNodes{{"mail", "ghost"}}) == "there is no node \"ghost\"");
        CHECK_FALSE(refusal(sample(), DeleteNodes{}).empty());
    }
}

TEST_CASE("Connect and Disconnect") {
    json doc = applied(sample(), Connect{"ab", "branches[1]", "pause"});
    CHECK(node(doc, "ab")["branches"][1]["next"] == "pause");
    doc = applied(doc, Connect{"mail", "next", "pause"});  // a cycle through a wait is allowed
    CHECK(node(doc, "mail")["next"] == "pause");
    doc = applied(doc, Disconnect{"route", "default"});
    CHECK(node(doc, "route")["default"].is_null());
    doc = applied(doc, Connect{"route", "default", "ab"});
    CHECK(node(doc, "route")["default"] == "ab");

    SUBCASE("a port that is absent from the node is created") {
        json d = sample();
        d["nodes"][4].erase("next");
        d = applied(d, Connect{"mail", "next", "check"});
        CHECK(node(d, "mail")["next"] == "check");
    }
    SUBCASE("refused") {
        CHECK(refusal(sample(), Connect{"mail", "next", "mail"}) == "a node cannot link to itself");
        CHECK(refusal(sample(), Connect{"check", "then", "mail"}).find("already links to \"route\"") !=
              std::string::npos);
        CHECK(refusal(sample(), Connect{"ghost", "next", "mail"}) == "there is no node \"ghost\"");
        CHECK(refusal(sample(), Connect{"mail", "next", "ghost"}) == "there is no node \"ghost\"");
        CHECK(refusal(sample(), Connect{"mail", "then", "check"}) == "\"mail\" has no port \"then\"");
        CHECK(refusal(sample(), Connect{"ab", "branches[2]", "check"}).find("no port") != std::string::npos);
        CHECK(refusal(sample(), Disconnect{"mail", "next"}).find("has no link") != std::string::npos);
        CHECK(refusal(sample(), Disconnect{"mail", "else"}).find("no port") != std::string::npos);
        CHECK(refusal(sample(), Disconnect{"ghost", "next"}) == "there is no node \"ghost\"");
    }
}

TEST_CASE("SetField") {
    SUBCASE("a half-typed expression is kept exactly as typed") {
        json doc = applied(sample(), SetField{"check", "if", "event.score <"});
        CHECK(node(doc, "check")["if"] == "event.score <");
        CHECK_FALSE(validate_document(doc, {}).empty());
    }
    SUBCASE("nested fields of nodes and of the scenario") {
        json doc = applied(sample(), SetField{"route", "cases[1].when", "contact.rfm.segment == 'Lost'"});
        CHECK(node(doc, "route")["cases"][1]["when"] == "contact.rfm.segment == 'Lost'");
        doc = applied(doc, SetField{"ab", "branches[0].percent", 30});
        CHECK(node(doc, "ab")["branches"][0]["percent"] == 30);
        doc = applied(doc, SetField{"mail", "params.template", "nps-apology"});
        CHECK(node(doc, "mail")["params"]["template"] == "nps-apology");
        doc = applied(doc, SetField{"mail", "label", "Apology mail"});
        CHECK(node(doc, "mail")["label"] == "Apology mail");
        doc = applied(doc, SetField{"", "trigger.when", "event.score < 5"});
        CHECK(doc["trigger"]["when"] == "event.score < 5");
        doc = applied(doc, SetField{"", "reentry.days", 30});
        CHECK(doc["reentry"] == json{{"days", 30}});
        doc = applied(doc, SetField{"", "name", "Renamed"});
        CHECK(doc["name"] == "Renamed");
        doc = applied(doc, SetField{"", "start", "route"});
        CHECK(doc["start"] == "route");
    }
    SUBCASE("null removes an optional field, and empties a link") {
        json doc = applied(sample(), SetField{"mail", "label", "x"});
        doc = applied(doc, SetField{"mail", "label", nullptr});
        CHECK_FALSE(node(doc, "mail").contains("label"));
        doc = applied(doc, SetField{"pause", "for", nullptr});
        doc = applied(doc, SetField{"pause", "until", "run.started_at + days(3)"});
        CHECK_FALSE(node(doc, "pause").contains("for"));
        CHECK(node(doc, "pause")["until"] == "run.started_at + days(3)");
        doc = applied(doc, SetField{"check", "then", nullptr});
        CHECK(node(doc, "check").contains("then"));
        CHECK(node(doc, "check")["then"].is_null());
        doc = applied(doc, SetField{"check", "then", "mail"});
        CHECK(node(doc, "check")["then"] == "mail");
    }
    SUBCASE("refused") {
        CHECK(refusal(sample(), SetField{"ghost", "label", "x"}) == "there is no node \"ghost\"");
        CHECK(refusal(sample(), SetField{"mail", "id", "x"}).find("rename") != std::string::npos);
        CHECK(refusal(sample(), SetField{"mail", "type", "wait"}).find("cannot change") != std::string::npos);
        CHECK(refusal(sample(), SetField{"route", "cases[5].when", "x"}) == "there is no cases[5]");
        CHECK(refusal(sample(), SetField{"mail", "params..x", "x"}).find("not a field name") != std::string::npos);
        CHECK(refusal(sample(), SetField{"mail", "", "x"}).find("not a field name") != std::string::npos);
        CHECK(refusal(sample(), SetField{"check", "then", "ghost"}) == "there is no node \"ghost\"");
        CHECK(refusal(sample(), SetField{"check", "then", "check"}) == "a node cannot link to itself");
        CHECK(refusal(sample(), SetField{"", "start", "ghost"}).find("start must be") != std::string::npos);
        CHECK(refusal(sample(), SetField{"", "nodes", json::array()}).find("by node") != std::string::npos);
        CHECK(refusal(sample(), SetField{"", "name.first", "x"}).find("not an object") != std::string::npos);
    }
}

TEST_CASE("AddPort and RemovePort") {
    SUBCASE("a switch gets an empty case at the end") {
        json doc = applied(sample(), AddPort{"route"});
        CHECK(node(doc, "route")["cases"].size() == 3);
        CHECK(node(doc, "route")["cases"][2] == json{{"when", ""}, {"next", nullptr}});
        CHECK(output_ports(node(doc, "route")).size() == 4);
        doc = applied(doc, RemovePort{"route", "cases[0]"});
        CHECK(node(doc, "route")["cases"].size() == 2);
        CHECK(node(doc, "route")["cases"][0]["next"] == "ab");
    }
    SUBCASE("a split's percents still sum to 100") {
        json doc = applied(sample(), AddPort{"ab"});
        const auto sum = [](const json& n) {
            int s = 0;
            for (const auto& b : n["branches"]) s += b["percent"].get<int>();
            return s;
        };
        CHECK(node(doc, "ab")["branches"].size() == 3);
        CHECK(sum(node(doc, "ab")) == 100);
        CHECK(node(doc, "ab")["branches"][2]["percent"] == 25);
        doc = applied(doc, RemovePort{"ab", "branches[0]"});
        CHECK(node(doc, "ab")["branches"].size() == 2);
        CHECK(sum(node(doc, "ab")) == 100);
    }
    SUBCASE("refused") {
        CHECK(refusal(sample(), AddPort{"mail"}).find("only a switch") != std::string::npos);
        CHECK(refusal(sample(), AddPort{"ghost"}) == "there is no node \"ghost\"");
        CHECK(refusal(sample(), RemovePort{"ab", "branches[0]"}).find("at least two") != std::string::npos);
        json one = applied(sample(), RemovePort{"route", "cases[1]"});
        CHECK(refusal(one, RemovePort{"route", "cases[0]"}).find("at least one case") != std::string::npos);
        CHECK(refusal(sample(), RemovePort{"route", "default"}).find("cannot be removed") != std::string::npos);
        CHECK(refusal(sample(), RemovePort{"route", "cases[7]"}).find("no port") != std::string::npos);
    }
}

TEST_CASE("MoveNodes moves nodes and notes; SetPositions places nodes") {
    json doc = applied(sample(), MoveNodes{{"route", "note_1", "ab"}, {5, -5}});
    CHECK(doc["ui"]["route"] == json{{"x", 305.0}, {"y", -5.0}});
    CHECK(doc["ui"]["ab"] == json{{"x", 5.0}, {"y", -5.0}});  // had no position: from 0, 0
    CHECK(doc["ui"]["$notes"][0]["x"] == 15.0);
    CHECK(doc["ui"]["$notes"][0]["y"] == 15.0);
    CHECK(refusal(sample(), MoveNodes{{"route", "ghost"}, {1, 1}}) == "there is no node or note \"ghost\"");
    // a document edited by hand with a position that is not a number: read as 0, no throw
    json odd = sample();
    odd["ui"]["$notes"][0]["x"] = "left";
    odd["ui"]["mail"]["y"] = json::array();
    odd = applied(odd, MoveNodes{{"note_1", "mail"}, {1, 1}});
    CHECK(odd["ui"]["$notes"][0]["x"] == 1.0);
    CHECK(odd["ui"]["mail"]["y"] == 1.0);

    doc = applied(sample(), SetPositions{{{"mail", {1, 2}}, {"pause", {3, 4}}}});
    CHECK(doc["ui"]["mail"] == json{{"x", 1.0}, {"y", 2.0}});
    CHECK(doc["ui"]["pause"] == json{{"x", 3.0}, {"y", 4.0}});
    CHECK(refusal(sample(), SetPositions{{{"mail", {1, 2}}, {"ghost", {3, 4}}}}) == "there is no node \"ghost\"");
}

TEST_CASE("RenameNode updates every reference") {
    SUBCASE("then, cases, default, branches, next, start and ui") {
        json doc = applied(sample(), RenameNode{"mail", "apology"});
        CHECK_FALSE(has_node(doc, "mail"));
        CHECK(node(doc, "apology")["action"] == "send_email");
        CHECK(node(doc, "route")["cases"][0]["next"] == "apology");
        CHECK(node(doc, "route")["default"] == "apology");
        CHECK(node(doc, "ab")["branches"][0]["next"] == "apology");
        CHECK(node(doc, "pause")["next"] == "apology");
        CHECK(doc["ui"]["apology"] == json{{"x", 600}, {"y", 0}});
        CHECK_FALSE(doc["ui"].contains("mail"));

        doc = applied(doc, RenameNode{"check", "first"});
        CHECK(doc["start"] == "first");
        doc = applied(doc, RenameNode{"route", "Route.2-b"});
        CHECK(node(doc, "first")["then"] == "Route.2-b");
        doc = applied(doc, RenameNode{"pause", "hold"});
        CHECK(node(doc, "first")["else"] == "hold");
        CHECK(validate_document(doc, {}) == validate_document(sample(), {}));
    }
    SUBCASE("refused") {
        CHECK(refusal(sample(), RenameNode{"mail", "route"}) == "the id \"route\" is already in use");
        CHECK(refusal(sample(), RenameNode{"mail", "note_1"}) == "the id \"note_1\" is already in use");
        CHECK(refusal(sample(), RenameNode{"mail", "bad id"}).find("not a valid node id") != std::string::npos);
        CHECK(refusal(sample(), RenameNode{"mail", ""}).find("not a valid node id") != std::string::npos);
        CHECK(refusal(sample(), RenameNode{"ghost", "x"}) == "there is no node \"ghost\"");
        CHECK_FALSE(refusal(sample(), RenameNode{"mail", "mail"}).empty());
    }
}

TEST_CASE("copy_nodes and Paste") {
    const json doc = sample();
    const json clip = copy_nodes(doc, {"route", "mail", "ab"});
    CHECK(clip["nodes"].size() == 3);
    CHECK(clip["ui"].contains("route"));
    CHECK(clip["ui"].contains("mail"));
    CHECK_FALSE(clip["ui"].contains("ab"));  // had no position

    SUBCASE("into the same scenario: fresh ids, links inside kept, links out dropped") {
        json d = doc;
        const Outcome o = edit::apply(d, Paste{clip, {1000, 500}});
        REQUIRE(o.applied);
        CHECK(o.created == std::vector<std::string>{"switch_1", "split_1", "send_email_1"});
        CHECK(d["nodes"].size() == 8);
        const json& route = node(d, "switch_1");
        CHECK(route["cases"][0]["when"] == "contact.vip");
        CHECK(route["cases"][0]["next"] == "send_email_1");
        CHECK(route["cases"][1]["next"] == "split_1");
        CHECK(route["default"] == "send_email_1");
        CHECK(node(d, "split_1")["branches"][0]["next"] == "send_email_1");
        CHECK(node(d, "send_email_1")["next"].is_null());
        // the group's top-left corner at `at`, its shape kept
        CHECK(d["ui"]["switch_1"] == json{{"x", 1000.0}, {"y", 500.0}});
        CHECK(d["ui"]["send_email_1"] == json{{"x", 1300.0}, {"y", 500.0}});
        CHECK(d["ui"].contains("split_1"));
        // the originals are untouched
        CHECK(node(d, "route") == node(doc, "route"));
        CHECK(d["start"] == "check");
    }
    SUBCASE("a link out of the group is dropped") {
        json d = doc;
        REQUIRE(edit::apply(d, Paste{copy_nodes(doc, {"check", "pause"}), {0, 0}}).applied);
        CHECK(node(d, "condition_1")["then"].is_null());  // to route, not pasted
        CHECK(node(d, "condition_1")["else"] == "wait_1");
        CHECK(node(d, "wait_1")["next"].is_null());  // to mail, not pasted
    }
    SUBCASE("into another scenario the ids are kept, and the first becomes the start") {
        json d = json::object();
        REQUIRE(edit::apply(d, Paste{clip, {0, 0}}).applied);
        CHECK(has_node(d, "route"));
        CHECK(node(d, "route")["default"] == "mail");
        CHECK(d["start"] == "route");
    }
    SUBCASE("refused") {
        CHECK(refusal(doc, Paste{json::object(), {}}) == "the clipboard holds no nodes");
        CHECK(refusal(doc, Paste{json{{"nodes", json::array({1, 2})}}, {}}).find("not a node") != std::string::npos);
        CHECK(refusal(doc, Paste{"text", {}}) == "the clipboard holds no nodes");
    }
}

TEST_CASE("sticky notes live in ui[\"$notes\"]") {
    json doc = json::object();
    const Outcome o = edit::apply(doc, AddNote{{5, 6}, "Ask Petr about the voucher"});
    REQUIRE(o.applied);
    CHECK(o.created == std::vector<std::string>{"note_1"});
    CHECK(doc["ui"]["$notes"] == json::parse(R"([{"id": "note_1", "x": 5.0, "y": 6.0,
          "text": "Ask Petr about the voucher"}])"));
    doc = applied(doc, SetNote{"note_1", "Zeptat se Petra"});
    CHECK(doc["ui"]["$notes"][0]["text"] == "Zeptat se Petra");
    CHECK(edit::apply(doc, AddNote{{}, ""}).created == std::vector<std::string>{"note_2"});
    doc = applied(doc, DeleteNote{"note_1"});
    CHECK(doc["ui"]["$notes"].size() == 1);
    CHECK(doc["ui"]["$notes"][0]["id"] == "note_2");
    CHECK(refusal(doc, SetNote{"note_1", "x"}) == "there is no note \"note_1\"");
    CHECK(refusal(doc, DeleteNote{"note_9"}) == "there is no note \"note_9\"");
    // notes do not make the scenario invalid, nor are they nodes
    CHECK(layout(doc).empty());
}

TEST_CASE("EditHistory: undo and redo") {
    const std::vector<Command> commands = {
        AddNode{"send_email", {0, 0}, ""},
        Connect{"ab", "branches[1]", "send_email_1"},
        SetField{"send_email_1", "params.template", "nps-apology"},
        RenameNode{"mail", "apology"},
        DeleteNodes{{"pause"}},
        AddPort{"route"},
        RemovePort{"ab", "branches[1]"},  // refused: a split keeps two branches
        MoveNodes{{"apology"}, {10, 10}},
        AddNote{{1, 1}, "note"},
        Paste{copy_nodes(sample(), {"mail"}), {50, 50}},
        Disconnect{"check", "then"},
        SetPositions{{{"apology", {7, 7}}}},
        SetNote{"note_2", "edited"},
        DeleteNote{"note_1"},
    };
    EditHistory h(sample());
    std::vector<json> states = {h.document()};
    for (const auto& c : commands) {
        const Outcome o = h.apply(c);
        if (o.applied) {
            states.push_back(h.document());
            h.seal();
        }
    }
    CHECK(states.size() == commands.size());  // all but the refused one
    const json final_doc = h.document();
    CHECK(h.can_undo());
    CHECK_FALSE(h.can_redo());
    for (std::size_t i = states.size() - 1; i > 0; --i) {
        CHECK(h.undo());
        CHECK(h.document() == states[i - 1]);
    }
    CHECK_FALSE(h.undo());
    CHECK(h.document() == sample());
    for (std::size_t i = 1; i < states.size(); ++i) {
        CHECK(h.redo());
        CHECK(h.document() == states[i]);
    }
    CHECK_FALSE(h.redo());
    CHECK(h.document() == final_doc);

    SUBCASE("applying after an undo drops the redo stack") {
        h.undo();
        CHECK(h.can_redo());
        CHECK(h.apply(AddNote{{}, "x"}).applied);
        CHECK_FALSE(h.can_redo());
    }
    SUBCASE("a refused command is no step and no change") {
        const auto rev = h.revision();
        CHECK_FALSE(h.apply(Connect{"apology", "next", "apology"}).applied);
        CHECK(h.revision() == rev);
        CHECK(h.document() == final_doc);
    }
    SUBCASE("revision counts changes; reset clears both stacks") {
        const auto rev = h.revision();
        h.undo();
        h.redo();
        CHECK(h.revision() == rev + 2);
        h.reset(sample());
        CHECK_FALSE(h.can_undo());
        CHECK_FALSE(h.can_redo());
        CHECK(h.document() == sample());
    }
}

TEST_CASE("EditHistory merges typing into one field and dragging the same nodes") {
    EditHistory h(sample());
    for (const char* typed : {"e", "ev", "eve", "event.sc", "event.score > 8"})
        CHECK(h.apply(SetField{"check", "if", typed}).applied);
    CHECK(node(h.document(), "check")["if"] == "event.score > 8");
    for (int i = 0; i < 5; ++i) CHECK(h.apply(MoveNodes{{"route", "mail"}, {1, 1}}).applied);
    CHECK(h.document()["ui"]["route"] == json{{"x", 305.0}, {"y", 5.0}});
    CHECK(h.apply(MoveNodes{{"mail", "route"}, {1, 1}}).applied);  // the same nodes, in another order
    h.seal();
    CHECK(h.apply(MoveNodes{{"mail", "route"}, {1, 1}}).applied);  // sealed: a new step

    CHECK(h.undo());
    CHECK(h.document()["ui"]["route"] == json{{"x", 306.0}, {"y", 6.0}});
    CHECK(h.undo());  // the whole drag
    CHECK(h.document()["ui"]["route"] == json{{"x", 300}, {"y", 0}});
    CHECK(node(h.document(), "check")["if"] == "event.score > 8");
    CHECK(h.undo());  // all the typing at once
    CHECK(h.document() == sample());
    CHECK_FALSE(h.can_undo());

    SUBCASE("another field, or another command between, is a new step") {
        EditHistory g(sample());
        g.apply(SetField{"check", "if", "a"});
        g.apply(SetField{"mail", "label", "b"});
        g.apply(SetField{"check", "if", "c"});
        int steps = 0;
        while (g.undo()) ++steps;
        CHECK(steps == 3);
    }
    SUBCASE("no merging across an undo") {
        EditHistory g(sample());
        g.apply(SetField{"check", "if", "a"});
        g.apply(SetField{"mail", "label", "b"});
        g.undo();
        g.apply(SetField{"check", "if", "c"});
        CHECK(g.undo());
        CHECK(node(g.document(), "check")["if"] == "a");
    }
}

TEST_CASE("diff between two versions") {
    json before = sample();
    json after = sample();
    REQUIRE(edit::apply(after, DeleteNodes{{"ab"}}).applied);
    REQUIRE(edit::apply(after, AddNode{"wait", {}, ""}).applied);
    REQUIRE(edit::apply(after, SetField{"mail", "params.template", "other"}).applied);
    REQUIRE(edit::apply(after, MoveNodes{{"check"}, {100, 100}}).applied);  // ui only: not a change
    after["status"] = "active";
    after["version"] = 4;
    after["updated_at"] = "2026-12-01T00:00:00Z";
    after["name"] = "New name";
    after["trigger"]["when"] = "event.score < 5";
    const Diff d = diff(before, after);
    CHECK(d.added == std::vector<std::string>{"wait_1"});
    CHECK(d.removed == std::vector<std::string>{"ab"});
    // route lost its links to ab; mail's template changed
    CHECK(d.changed == std::vector<std::string>{"route", "mail"});
    CHECK(d.scenario_fields == std::vector<std::string>{"name", "trigger"});
    const json j = d;
    CHECK(j == json::parse(R"({"added": ["wait_1"], "removed": ["ab"], "changed": ["route", "mail"],
                              "scenario_fields": ["name", "trigger"]})"));

    const Diff none = diff(before, before);
    CHECK(none.added.empty());
    CHECK(none.removed.empty());
    CHECK(none.changed.empty());
    CHECK(none.scenario_fields.empty());
    CHECK(diff(json::object(), before).added.size() == 5);
}
