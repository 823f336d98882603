// closeloop — editing a scenario document: ports, commands, the edit history, diff.
// (Auto-layout is in scenario_layout.cpp.)
//
// Every command checks everything it needs before it changes the document, so a refused
// command leaves it exactly as it was.
#include "closeloop/scenario_edit.h"

#include <algorithm>
#include <cstdlib>
#include <set>

#include "closeloop/actions.h"

namespace closeloop::edit {

using nlohmann::json;

namespace {

// ---- document helpers ----------------------------------------------------------------------

const json* node_list(const json& doc) {
    const auto it = doc.find("nodes");
    return it != doc.end() && it->is_array() ? &*it : nullptr;
}

json& node_list(json& doc) {
    if (!doc.is_object()) doc = json::object();
    json& nodes = doc["nodes"];
    if (!nodes.is_array()) nodes = json::array();
    return nodes;
}

std::string id_of(const json& node) {
    const auto it = node.find("id");
    return node.is_object() && it != node.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string type_of(const json& node) {
    if (!node.is_object()) return "";
    const auto it = node.find("type");
    return it != node.end() && it->is_string() ? it->get<std::string>() : std::string();
}

const json* find_node(const json& doc, std::string_view id) {
    const json* nodes = node_list(doc);
    if (!nodes || id.empty()) return nullptr;
    for (const auto& n : *nodes)
        if (id_of(n) == id) return &n;
    return nullptr;
}

json* find_node(json& doc, std::string_view id) {
    return const_cast<json*>(find_node(std::as_const(doc), id));
}

json& ui_of(json& doc) {
    json& ui = doc["ui"];
    if (!ui.is_object()) ui = json::object();
    return ui;
}

const json* notes_of(const json& doc) {
    const auto ui = doc.find("ui");
    if (ui == doc.end() || !ui->is_object()) return nullptr;
    const auto notes = ui->find("$notes");
    return notes != ui->end() && notes->is_array() ? &*notes : nullptr;
}

json& notes_of(json& doc) {
    json& notes = ui_of(doc)["$notes"];
    if (!notes.is_array()) notes = json::array();
    return notes;
}

json* find_note(json& doc, std::string_view id) {
    if (!notes_of(std::as_const(doc))) return nullptr;
    for (auto& n : notes_of(doc))
        if (id_of(n) == id) return &n;
    return nullptr;
}

bool note_exists(const json& doc, std::string_view id) {
    const json* notes = notes_of(doc);
    if (!notes) return false;
    return std::any_of(notes->begin(), notes->end(), [&](const json& n) { return id_of(n) == id; });
}

bool id_taken(const json& doc, std::string_view id) {
    return find_node(doc, id) != nullptr || note_exists(doc, id);
}

// Node ids as the user may type them (RenameNode, AddNode with an id).
bool valid_node_id(std::string_view id) {
    if (id.empty() || id.size() > 64) return false;
    return std::all_of(id.begin(), id.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
               c == '.';
    });
}

// "<base>_<n>" with the smallest n >= 1 that is free, the base reduced to [a-z0-9_].
std::string fresh_id(const json& doc, std::string_view base, const std::set<std::string>& also_taken = {}) {
    std::string b;
    for (char c : base) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        b += (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ? c : '_';
    }
    if (b.empty()) b = "node";
    if (b.size() > 50) b.resize(50);
    for (int n = 1;; ++n) {
        std::string id = b + "_" + std::to_string(n);
        if (!id_taken(doc, id) && !also_taken.count(id)) return id;
    }
}

// The kind a new id is made from: the action's name for actions, else the node type.
std::string kind_of(const json& node) {
    const std::string type = type_of(node);
    if (type == "action") {
        const auto it = node.find("action");
        if (it != node.end() && it->is_string() && !it->get_ref<const std::string&>().empty())
            return it->get<std::string>();
    }
    return type.empty() ? "node" : type;
}

// ---- ports ---------------------------------------------------------------------------------

// "cases[2]" -> ("cases", 2); anything else -> ("", -1).
std::pair<std::string, long> indexed(std::string_view port) {
    const auto open = port.find('[');
    if (open == std::string_view::npos || port.size() < open + 3 || port.back() != ']') return {"", -1};
    const std::string digits(port.substr(open + 1, port.size() - open - 2));
    if (digits.empty() || digits.size() > 6 ||
        !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return {"", -1};
    return {std::string(port.substr(0, open)), std::strtol(digits.c_str(), nullptr, 10)};
}

bool has_port(const json& node, std::string_view port) {
    const auto ports = output_ports(node);
    return std::find(ports.begin(), ports.end(), port) != ports.end();
}

// Where the port's link is kept: the object and the key in it (the object is created on
// write). nullptr when the node has no such port.
const json* port_holder(const json& node, std::string_view port, std::string& key) {
    if (!has_port(node, port)) return nullptr;
    const auto [list, index] = indexed(port);
    if (index < 0) {
        key = std::string(port);
        return &node;
    }
    key = "next";
    return &node[list][static_cast<std::size_t>(index)];
}

json* port_holder(json& node, std::string_view port, std::string& key) {
    return const_cast<json*>(port_holder(std::as_const(node), port, key));
}

// Every link slot of a node, to rewrite or clear links.
template <class F>
void each_link(json& node, F f) {
    for (const auto& port : output_ports(node)) {
        std::string key;
        json* holder = port_holder(node, port, key);
        if (!holder || !holder->is_object()) continue;
        const auto it = holder->find(key);
        if (it != holder->end()) f(*it);
    }
}

// Never throws on a document edited by hand (json::value would, for a string "x").
double number_or_zero(const json& obj, const char* key) {
    const auto it = obj.find(key);
    return it != obj.end() && it->is_number() ? it->get<double>() : 0.0;
}

Point position_of(const json& doc, const std::string& id) {
    const auto ui = doc.find("ui");
    if (ui == doc.end() || !ui->is_object()) return {};
    const auto at = ui->find(id);
    if (at == ui->end() || !at->is_object()) return {};
    Point p;
    if (const auto x = at->find("x"); x != at->end() && x->is_number()) p.x = x->get<double>();
    if (const auto y = at->find("y"); y != at->end() && y->is_number()) p.y = y->get<double>();
    return p;
}

bool has_position(const json& doc, const std::string& id) {
    const auto ui = doc.find("ui");
    return ui != doc.end() && ui->is_object() && ui->contains(id) && (*ui)[id].is_object();
}

void set_position(json& doc, const std::string& id, Point p) {
    json& at = ui_of(doc)[id];
    if (!at.is_object()) at = json::object();
    at["x"] = p.x;
    at["y"] = p.y;
}

// ---- fields by path ------------------------------------------------------------------------

// "cases[1].when" -> [{"cases", 1}, {"when", -1}]; false when it is not such a path.
struct Step {
    std::string key;
    long index = -1;
};
bool parse_field(std::string_view field, std::vector<Step>& steps) {
    if (field.empty()) return false;
    std::size_t pos = 0;
    while (pos <= field.size()) {
        const auto dot = std::min(field.find('.', pos), field.size());
        const std::string_view part = field.substr(pos, dot - pos);
        if (part.empty()) return false;
        Step s;
        if (part.find('[') != std::string_view::npos) {
            const auto [key, index] = indexed(part);
            if (key.empty() || index < 0) return false;
            s = {key, index};
        } else {
            if (part.find(']') != std::string_view::npos) return false;
            s.key = std::string(part);
        }
        steps.push_back(std::move(s));
        pos = dot + 1;
        if (dot == field.size()) break;
    }
    return true;
}

bool is_link_field(const std::vector<Step>& steps) {
    if (steps.size() == 1 && steps[0].index < 0)
        return steps[0].key == "then" || steps[0].key == "else" || steps[0].key == "next" || steps[0].key == "default";
    return steps.size() == 2 && steps[0].index >= 0 && (steps[0].key == "cases" || steps[0].key == "branches") &&
           steps[1].key == "next" && steps[1].index < 0;
}

// Sets (or, for null, removes) the value at the path; objects on the way are created, list
// items must exist. Returns a reason when it cannot, checked before anything changes.
std::string check_path(const json& root, const std::vector<Step>& steps) {
    const json* at = &root;
    for (std::size_t i = 0; i < steps.size(); ++i) {
        const Step& s = steps[i];
        if (!at || at->is_null()) return "";  // created from here on
        if (!at->is_object()) return "cannot set a field inside a value that is not an object";
        const auto it = at->find(s.key);
        if (s.index >= 0) {
            if (it == at->end() || !it->is_array() || static_cast<std::size_t>(s.index) >= it->size())
                return "there is no " + s.key + "[" + std::to_string(s.index) + "]";
            at = &(*it)[static_cast<std::size_t>(s.index)];
        } else {
            at = it == at->end() ? nullptr : &*it;
        }
    }
    return "";
}

void set_path(json& root, const std::vector<Step>& steps, const json& value) {
    json* at = &root;
    for (std::size_t i = 0; i + 1 < steps.size(); ++i) {
        const Step& s = steps[i];
        if (!at->is_object()) *at = json::object();
        at = &(*at)[s.key];
        if (s.index >= 0) at = &(*at)[static_cast<std::size_t>(s.index)];
    }
    const Step& last = steps.back();
    if (!at->is_object()) *at = json::object();
    if (last.index >= 0) {
        (*at)[last.key][static_cast<std::size_t>(last.index)] = value;
    } else if (value.is_null() && !is_link_field(steps)) {
        at->erase(last.key);
    } else {
        (*at)[last.key] = value;
    }
}

// ---- commands ------------------------------------------------------------------------------

Outcome refused(std::string why) {
    Outcome o;
    o.refused = std::move(why);
    return o;
}

Outcome done(std::vector<std::string> created = {}) {
    Outcome o;
    o.applied = true;
    o.created = std::move(created);
    return o;
}

std::string in_quotes(std::string_view s) {
    return "\"" + std::string(s) + "\"";
}

// The node a kind starts as: the fields its kind needs, present and empty.
std::optional<json> new_node(const std::string& kind, const std::string& id) {
    json n = {{"id", id}};
    if (kind == "condition") {
        n["type"] = "condition";
        n["if"] = "";
        n["then"] = nullptr;
        n["else"] = nullptr;
    } else if (kind == "switch") {
        n["type"] = "switch";
        n["cases"] = json::array({{{"when", ""}, {"next", nullptr}}});
        n["default"] = nullptr;
    } else if (kind == "split") {
        n["type"] = "split";
        n["branches"] = json::array({{{"percent", 50}, {"next", nullptr}}, {{"percent", 50}, {"next", nullptr}}});
    } else if (kind == "wait") {
        n["type"] = "wait";
        n["for"] = "P1D";
        n["next"] = nullptr;
    } else if (const auto action = action_kind_of(kind)) {
        n["type"] = "action";
        n["action"] = kind;
        json params = json::object();
        for (const auto& p : action_spec(*action).params)
            if (p.required) params[std::string(p.name)] = "";
        n["params"] = std::move(params);
        n["next"] = nullptr;
    } else {
        return std::nullopt;
    }
    return n;
}

bool scenario_is_empty(const json& doc) {
    const json* nodes = node_list(doc);
    return !nodes || nodes->empty();
}

bool has_start(const json& doc) {
    const auto it = doc.find("start");
    return it != doc.end() && it->is_string() && !it->get_ref<const std::string&>().empty();
}

Outcome add_node(json& doc, const AddNode& c) {
    std::string id = c.id;
    if (id.empty()) {
        id = fresh_id(doc, c.kind);
    } else {
        if (!valid_node_id(id))
            return refused("\"" + id + "\" is not a valid node id: use 1-64 letters, digits, '_', '-' or '.'");
        if (id_taken(doc, id)) return refused("the id " + in_quotes(id) + " is already in use");
    }
    auto node = new_node(c.kind, id);
    if (!node)
        return refused("there is no node kind " + in_quotes(c.kind) +
                       ": use condition, switch, split, wait or an action (" + action_kind_names() + ")");
    const bool first = scenario_is_empty(doc) && !has_start(doc);
    node_list(doc).push_back(std::move(*node));
    set_position(doc, id, c.at);
    if (first) doc["start"] = id;
    return done({id});
}

Outcome delete_nodes(json& doc, const DeleteNodes& c) {
    if (c.ids.empty()) return refused("no node is selected");
    for (const auto& id : c.ids)
        if (!find_node(doc, id)) return refused("there is no node " + in_quotes(id));
    const std::set<std::string> gone(c.ids.begin(), c.ids.end());
    json& nodes = node_list(doc);
    json kept = json::array();
    for (auto& n : nodes)
        if (!gone.count(id_of(n))) kept.push_back(std::move(n));
    nodes = std::move(kept);
    for (auto& n : nodes)
        each_link(n, [&](json& link) {
            if (link.is_string() && gone.count(link.get<std::string>())) link = nullptr;
        });
    if (doc.contains("ui") && doc["ui"].is_object())
        for (const auto& id : gone) doc["ui"].erase(id);
    if (doc.contains("start") && doc["start"].is_string() && gone.count(doc["start"].get<std::string>()))
        doc.erase("start");
    return done();
}

Outcome connect(json& doc, const Connect& c) {
    json* from = find_node(doc, c.from);
    if (!from) return refused("there is no node " + in_quotes(c.from));
    if (!has_port(*from, c.port)) return refused(in_quotes(c.from) + " has no port " + in_quotes(c.port));
    if (!find_node(doc, c.to)) return refused("there is no node " + in_quotes(c.to));
    if (c.from == c.to) return refused("a node cannot link to itself");
    if (auto to = linked(*from, c.port))
        return refused("the port " + in_quotes(c.port) + " of " + in_quotes(c.from) + " already links to " +
                       in_quotes(*to) + ": disconnect it first");
    std::string key;
    json* holder = port_holder(*from, c.port, key);
    (*holder)[key] = c.to;
    return done();
}

Outcome disconnect(json& doc, const Disconnect& c) {
    json* from = find_node(doc, c.from);
    if (!from) return refused("there is no node " + in_quotes(c.from));
    if (!has_port(*from, c.port)) return refused(in_quotes(c.from) + " has no port " + in_quotes(c.port));
    if (!linked(*from, c.port))
        return refused("the port " + in_quotes(c.port) + " of " + in_quotes(c.from) + " has no link");
    std::string key;
    json* holder = port_holder(*from, c.port, key);
    (*holder)[key] = nullptr;
    return done();
}

Outcome set_field(json& doc, const SetField& c) {
    std::vector<Step> steps;
    if (!parse_field(c.field, steps)) return refused(in_quotes(c.field) + " is not a field name");
    if (c.node.empty()) {
        static const std::set<std::string> kept_apart = {"nodes", "ui"};
        if (kept_apart.count(steps[0].key)) return refused("the scenario's " + steps[0].key + " are edited by node");
        if (c.field == "start" && !c.value.is_null() &&
            !(c.value.is_string() && find_node(doc, c.value.get<std::string>())))
            return refused("the start must be one of the scenario's nodes");
        if (!doc.is_object()) doc = json::object();
        if (auto why = check_path(doc, steps); !why.empty()) return refused(why);
        set_path(doc, steps, c.value);
        return done();
    }
    json* node = find_node(doc, c.node);
    if (!node) return refused("there is no node " + in_quotes(c.node));
    if (c.field == "id") return refused("rename a node to change its id");
    if (c.field == "type") return refused("a node's kind cannot change: add a node of the other kind");
    if (is_link_field(steps)) {
        if (c.value.is_string()) {
            const std::string to = c.value.get<std::string>();
            if (!find_node(doc, to)) return refused("there is no node " + in_quotes(to));
            if (to == c.node) return refused("a node cannot link to itself");
        } else if (!c.value.is_null()) {
            return refused("a link is a node id or null");
        }
    }
    if (auto why = check_path(*node, steps); !why.empty()) return refused(why);
    set_path(*node, steps, c.value);
    return done();
}

Outcome add_port(json& doc, const AddPort& c) {
    json* node = find_node(doc, c.node);
    if (!node) return refused("there is no node " + in_quotes(c.node));
    const std::string type = type_of(*node);
    if (type == "switch") {
        json& cases = (*node)["cases"];
        if (!cases.is_array()) cases = json::array();
        cases.push_back({{"when", ""}, {"next", nullptr}});
        return done();
    }
    if (type == "split") {
        json& branches = (*node)["branches"];
        if (!branches.is_array()) branches = json::array();
        // The new branch takes half of the largest one, so the percents still sum to 100.
        std::size_t largest = 0;
        long most = -1;
        for (std::size_t i = 0; i < branches.size(); ++i) {
            const json& p = branches[i].is_object() ? branches[i].value("percent", json()) : json();
            const long v = p.is_number_integer() ? p.get<long>() : 0;
            if (v > most) {
                most = v;
                largest = i;
            }
        }
        long share = 0;
        if (most >= 2) {
            share = most / 2;
            branches[largest]["percent"] = most - share;
        } else if (branches.empty()) {
            share = 100;
        }
        branches.push_back({{"percent", share}, {"next", nullptr}});
        return done();
    }
    return refused("only a switch (cases) or a split (branches) can have more ports");
}

Outcome remove_port(json& doc, const RemovePort& c) {
    json* node = find_node(doc, c.node);
    if (!node) return refused("there is no node " + in_quotes(c.node));
    if (!has_port(*node, c.port)) return refused(in_quotes(c.node) + " has no port " + in_quotes(c.port));
    const auto [list, index] = indexed(c.port);
    if (index < 0) return refused("the port " + in_quotes(c.port) + " cannot be removed");
    json& items = (*node)[list];
    const auto i = static_cast<std::size_t>(index);
    if (list == "cases") {
        if (items.size() <= 1) return refused("a switch needs at least one case");
        items.erase(i);
        return done();
    }
    if (items.size() <= 2) return refused("a split needs at least two branches");
    // Its percent goes to the branch before it (or after, for the first), keeping the sum.
    const json& p = items[i].is_object() ? items[i].value("percent", json()) : json();
    const long freed = p.is_number_integer() ? p.get<long>() : 0;
    items.erase(i);
    json& heir = items[i == 0 ? 0 : i - 1];
    if (heir.is_object() && heir.value("percent", json()).is_number_integer())
        heir["percent"] = heir["percent"].get<long>() + freed;
    return done();
}

Outcome move_nodes(json& doc, const MoveNodes& c) {
    for (const auto& id : c.ids)
        if (!find_node(doc, id) && !note_exists(doc, id)) return refused("there is no node or note " + in_quotes(id));
    for (const auto& id : c.ids) {
        if (find_node(doc, id)) {
            const Point p = position_of(doc, id);
            set_position(doc, id, {p.x + c.delta.x, p.y + c.delta.y});
        } else if (json* note = find_note(doc, id)) {
            (*note)["x"] = number_or_zero(*note, "x") + c.delta.x;
            (*note)["y"] = number_or_zero(*note, "y") + c.delta.y;
        }
    }
    return done();
}

void rename_links(json& doc, const std::string& from, const std::string& to) {
    for (auto& n : node_list(doc))
        each_link(n, [&](json& link) {
            if (link.is_string() && link.get_ref<const std::string&>() == from) link = to;
        });
}

Outcome rename_node(json& doc, const RenameNode& c) {
    json* node = find_node(doc, c.from);
    if (!node) return refused("there is no node " + in_quotes(c.from));
    if (c.from == c.to) return refused("the node is already called " + in_quotes(c.to));
    if (!valid_node_id(c.to))
        return refused(in_quotes(c.to) + " is not a valid node id: use 1-64 letters, digits, '_', '-' or '.'");
    if (id_taken(doc, c.to)) return refused("the id " + in_quotes(c.to) + " is already in use");
    (*node)["id"] = c.to;
    rename_links(doc, c.from, c.to);
    if (doc.contains("start") && doc["start"] == c.from) doc["start"] = c.to;
    if (doc.contains("ui") && doc["ui"].is_object() && doc["ui"].contains(c.from)) {
        json& ui = doc["ui"];
        json at = std::move(ui[c.from]);
        ui.erase(c.from);
        ui[c.to] = std::move(at);
    }
    return done();
}

Outcome paste(json& doc, const Paste& c) {
    const json* nodes = c.clip.is_object() ? node_list(c.clip) : nullptr;
    if (!nodes || nodes->empty()) return refused("the clipboard holds no nodes");
    for (const auto& n : *nodes)
        if (!n.is_object() || id_of(n).empty() || type_of(n).empty())
            return refused("the clipboard holds something that is not a node");
    // Fresh ids first, for every pasted node, so links between them can be rewritten.
    std::map<std::string, std::string> renamed;
    std::set<std::string> taken;
    for (const auto& n : *nodes) {
        const std::string old = id_of(n);
        if (renamed.count(old)) return refused("the clipboard holds two nodes called " + in_quotes(old));
        std::string id = old;
        if (!valid_node_id(id) || id_taken(doc, id) || taken.count(id)) id = fresh_id(doc, kind_of(n), taken);
        taken.insert(id);
        renamed[old] = id;
    }
    // The group keeps its shape: its top-left corner goes to `at`.
    bool any = false;
    Point corner;
    for (const auto& n : *nodes) {
        if (!has_position(c.clip, id_of(n))) continue;
        const Point p = position_of(c.clip, id_of(n));
        corner = any ? Point{std::min(corner.x, p.x), std::min(corner.y, p.y)} : p;
        any = true;
    }
    const bool first = scenario_is_empty(doc) && !has_start(doc);
    std::vector<std::string> created;
    double unplaced = 0;
    for (const auto& n : *nodes) {
        json copy = n;
        const std::string old = id_of(n), id = renamed[old];
        copy["id"] = id;
        each_link(copy, [&](json& link) {
            if (!link.is_string()) return;
            const auto it = renamed.find(link.get<std::string>());
            link = it == renamed.end() ? json(nullptr) : json(it->second);
        });
        node_list(doc).push_back(std::move(copy));
        if (has_position(c.clip, old)) {
            const Point p = position_of(c.clip, old);
            set_position(doc, id, {c.at.x + p.x - corner.x, c.at.y + p.y - corner.y});
        } else {
            set_position(doc, id, {c.at.x + unplaced, c.at.y + unplaced});
            unplaced += 30;
        }
        created.push_back(id);
    }
    if (first) doc["start"] = created.front();
    return done(std::move(created));
}

Outcome add_note(json& doc, const AddNote& c) {
    const std::string id = fresh_id(doc, "note");
    notes_of(doc).push_back({{"id", id}, {"x", c.at.x}, {"y", c.at.y}, {"text", c.text}});
    return done({id});
}

Outcome set_note(json& doc, const SetNote& c) {
    json* note = find_note(doc, c.id);
    if (!note) return refused("there is no note " + in_quotes(c.id));
    (*note)["text"] = c.text;
    return done();
}

Outcome delete_note(json& doc, const DeleteNote& c) {
    if (!find_note(doc, c.id)) return refused("there is no note " + in_quotes(c.id));
    json& notes = notes_of(doc);
    for (std::size_t i = 0; i < notes.size(); ++i)
        if (id_of(notes[i]) == c.id) {
            notes.erase(i);
            break;
        }
    return done();
}

Outcome set_positions(json& doc, const SetPositions& c) {
    for (const auto& [id, _] : c.positions)
        if (!find_node(doc, id)) return refused("there is no node " + in_quotes(id));
    for (const auto& [id, at] : c.positions) set_position(doc, id, at);
    return done();
}

struct Applier {
    json& doc;
    Outcome operator()(const AddNode& c) { return add_node(doc, c); }
    Outcome operator()(const DeleteNodes& c) { return delete_nodes(doc, c); }
    Outcome operator()(const Connect& c) { return connect(doc, c); }
    Outcome operator()(const Disconnect& c) { return disconnect(doc, c); }
    Outcome operator()(const SetField& c) { return set_field(doc, c); }
    Outcome operator()(const AddPort& c) { return add_port(doc, c); }
    Outcome operator()(const RemovePort& c) { return remove_port(doc, c); }
    Outcome operator()(const MoveNodes& c) { return move_nodes(doc, c); }
    Outcome operator()(const RenameNode& c) { return rename_node(doc, c); }
    Outcome operator()(const Paste& c) { return paste(doc, c); }
    Outcome operator()(const AddNote& c) { return add_note(doc, c); }
    Outcome operator()(const SetNote& c) { return set_note(doc, c); }
    Outcome operator()(const DeleteNote& c) { return delete_note(doc, c); }
    Outcome operator()(const SetPositions& c) { return set_positions(doc, c); }
};

// Commands that merge with the one before when they have the same key (typing into one
// field, dragging the same nodes); "" = never merges.
std::string merge_key(const Command& command) {
    if (const auto* f = std::get_if<SetField>(&command)) return "field\x1f" + f->node + "\x1f" + f->field;
    if (const auto* m = std::get_if<MoveNodes>(&command)) {
        std::vector<std::string> ids = m->ids;
        std::sort(ids.begin(), ids.end());
        std::string key = "move";
        for (const auto& id : ids) key += "\x1f" + id;
        return key;
    }
    if (const auto* n = std::get_if<SetNote>(&command)) return "note\x1f" + n->id;
    return "";
}

}  // namespace

// ---- ports ---------------------------------------------------------------------------------

std::vector<std::string> output_ports(const json& node) {
    const std::string type = type_of(node);
    if (type == "condition") return {"then", "else"};
    if (type == "wait" || type == "action") return {"next"};
    std::vector<std::string> out;
    const auto count = [&](const char* key) {
        const auto it = node.find(key);
        return it != node.end() && it->is_array() ? it->size() : 0;
    };
    if (type == "switch") {
        for (std::size_t i = 0; i < count("cases"); ++i) out.push_back("cases[" + std::to_string(i) + "]");
        out.push_back("default");
    } else if (type == "split") {
        for (std::size_t i = 0; i < count("branches"); ++i) out.push_back("branches[" + std::to_string(i) + "]");
    }
    return out;
}

std::optional<std::string> linked(const json& node, std::string_view port) {
    std::string key;
    const json* holder = port_holder(node, port, key);
    if (!holder || !holder->is_object()) return std::nullopt;
    const auto it = holder->find(key);
    if (it == holder->end() || !it->is_string() || it->get_ref<const std::string&>().empty()) return std::nullopt;
    return it->get<std::string>();
}

// ---- commands ------------------------------------------------------------------------------

Outcome apply(json& scenario, const Command& command) {
    if (!scenario.is_object()) scenario = json::object();
    return std::visit(Applier{scenario}, command);
}

json copy_nodes(const json& scenario, const std::vector<std::string>& ids) {
    json clip = {{"closeloop", "nodes"}, {"nodes", json::array()}, {"ui", json::object()}};
    const json* nodes = node_list(scenario);
    if (!nodes) return clip;
    const std::set<std::string> wanted(ids.begin(), ids.end());
    for (const auto& n : *nodes) {
        const std::string id = id_of(n);
        if (!wanted.count(id)) continue;
        clip["nodes"].push_back(n);
        if (has_position(scenario, id)) clip["ui"][id] = scenario["ui"][id];
    }
    return clip;
}

// ---- the edit history ----------------------------------------------------------------------

namespace {
constexpr std::size_t max_undo = 500;  // each step is a whole document
}

EditHistory::EditHistory(json scenario) : doc_(std::move(scenario)) {
    if (!doc_.is_object()) doc_ = json::object();
}

Outcome EditHistory::apply(const Command& command) {
    const std::string key = merge_key(command);
    const bool merge = mergeable_ && !key.empty() && key == merge_key_ && !undo_.empty();
    json before = merge ? json() : doc_;
    Outcome o = edit::apply(doc_, command);
    if (!o.applied) return o;
    if (!merge) {
        undo_.push_back(std::move(before));
        if (undo_.size() > max_undo) undo_.erase(undo_.begin());
    }
    redo_.clear();
    ++revision_;
    mergeable_ = !key.empty();
    merge_key_ = key;
    return o;
}

bool EditHistory::undo() {
    if (undo_.empty()) return false;
    redo_.push_back(std::move(doc_));
    doc_ = std::move(undo_.back());
    undo_.pop_back();
    ++revision_;
    mergeable_ = false;
    return true;
}

bool EditHistory::redo() {
    if (redo_.empty()) return false;
    undo_.push_back(std::move(doc_));
    doc_ = std::move(redo_.back());
    redo_.pop_back();
    ++revision_;
    mergeable_ = false;
    return true;
}

void EditHistory::reset(json scenario) {
    doc_ = scenario.is_object() ? std::move(scenario) : json::object();
    undo_.clear();
    redo_.clear();
    ++revision_;
    mergeable_ = false;
    merge_key_.clear();
}

// ---- diff ----------------------------------------------------------------------------------

Diff diff(const json& before, const json& after) {
    Diff d;
    const auto by_id = [](const json& doc) {
        std::map<std::string, const json*> out;
        if (const json* nodes = doc.is_object() ? node_list(doc) : nullptr)
            for (const auto& n : *nodes) out.emplace(id_of(n), &n);
        return out;
    };
    const auto old_nodes = by_id(before), new_nodes = by_id(after);
    if (const json* nodes = after.is_object() ? node_list(after) : nullptr)
        for (const auto& n : *nodes) {
            const std::string id = id_of(n);
            const auto was = old_nodes.find(id);
            if (was == old_nodes.end())
                d.added.push_back(id);
            else if (*was->second != n)
                d.changed.push_back(id);
        }
    if (const json* nodes = before.is_object() ? node_list(before) : nullptr)
        for (const auto& n : *nodes)
            if (!new_nodes.count(id_of(n))) d.removed.push_back(id_of(n));
    static const std::set<std::string> ignored = {"nodes",      "ui",         "status", "version",
                                                  "created_at", "updated_at", "errors"};
    std::set<std::string> keys;
    for (const json* doc : {&before, &after})
        if (doc->is_object())
            for (const auto& [k, _] : doc->items())
                if (!ignored.count(k)) keys.insert(k);
    for (const auto& k : keys) {
        const json none;
        const json& a = before.is_object() && before.contains(k) ? before[k] : none;
        const json& b = after.is_object() && after.contains(k) ? after[k] : none;
        if (a != b) d.scenario_fields.push_back(k);
    }
    return d;
}

void to_json(json& j, const Diff& d) {
    j = {{"added", d.added}, {"removed", d.removed}, {"changed", d.changed}, {"scenario_fields", d.scenario_fields}};
}

}  // namespace closeloop::edit
