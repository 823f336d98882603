// closeloop — editing a scenario: the builder's commands, undo and redo, auto-layout.
//
// The document edited is the scenario as the contract writes it (JSON): a half-typed
// expression must stay exactly as typed, and the compiled `Scenario` cannot hold an
// expression that does not parse. Loading and validation (scenario.h) read the same JSON, so
// what the builder shows is what the server would say. No ImGui here: the app turns mouse
// and keyboard into commands, and shows a refused command's reason.
//
// Sections: ports, commands, the edit history (apply / undo / redo), layout, diff.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "closeloop/scenario.h"

namespace closeloop::edit {

// ---- ports ---------------------------------------------------------------------------------

// A node's output ports, in drawing order: condition "then", "else"; switch "cases[0]", ...,
// "default"; split "branches[0]", ...; wait and action "next". A port holds one link (a node
// id) or none.
std::vector<std::string> output_ports(const nlohmann::json& node);
// The node a port links to, or nullopt (no link, or no such port).
std::optional<std::string> linked(const nlohmann::json& node, std::string_view port);

// ---- commands ------------------------------------------------------------------------------

struct Point {
    double x = 0, y = 0;
    bool operator==(const Point&) const = default;
};

// A new node of a kind ("condition", "switch", "split", "wait" or an action name such as
// "send_email"), with the fields its kind needs present and empty; id "" = a fresh one from
// the kind ("send_email_2"). The first node of an empty scenario becomes its start.
struct AddNode {
    std::string kind;
    Point at;
    std::string id;
};
// Deletes nodes, every link to them and their positions; a deleted start leaves no start.
struct DeleteNodes {
    std::vector<std::string> ids;
};
// Links a port to a node. Refused: no such node or port, a link to the node itself, a port
// that already has a link (disconnect it first).
struct Connect {
    std::string from, port, to;
};
struct Disconnect {
    std::string from, port;
};
// Sets one field of a node, or of the scenario when `node` is "": the field as validation
// names it ("label", "if", "cases[1].when", "branches[0].percent", "for", "until",
// "params.template"; for the scenario "name", "trigger.event", "trigger.when",
// "reentry.policy", "reentry.days", "start"). A null value removes an optional field.
struct SetField {
    std::string node, field;
    nlohmann::json value;
};
// Adds a case to a switch or a branch to a split (at the end), or removes one by port name.
struct AddPort {
    std::string node;
};
struct RemovePort {
    std::string node, port;
};
struct MoveNodes {
    std::vector<std::string> ids;  // node ids or note ids
    Point delta;
};
// Renames a node; every link to it, the start and its position follow. Refused: an id in
// use, or not 1-64 letters, digits, '_', '-' or '.'.
struct RenameNode {
    std::string from, to;
};
// Pastes nodes copied with `copy_nodes`: fresh ids where the copied ones are taken, links
// between pasted nodes kept, links out of the group dropped, placed with their top-left at `at`.
struct Paste {
    nlohmann::json clip;
    Point at;
};
// Sticky notes, kept in `ui["$notes"]` as [{ "id", "x", "y", "text" }].
struct AddNote {
    Point at;
    std::string text;
};
struct SetNote {
    std::string id, text;
};
struct DeleteNote {
    std::string id;
};
// Sets the `ui` positions of many nodes at once (the "tidy up" button applies `layout`).
struct SetPositions {
    std::vector<std::pair<std::string, Point>> positions;
};

using Command = std::variant<AddNode, DeleteNodes, Connect, Disconnect, SetField, AddPort, RemovePort, MoveNodes,
                             RenameNode, Paste, AddNote, SetNote, DeleteNote, SetPositions>;

// What `apply` did: applied (with the ids it created, e.g. the new node's), or refused with
// the reason to show the user.
struct Outcome {
    bool applied = false;
    std::string refused;               // why not, in the user's words
    std::vector<std::string> created;  // ids of nodes or notes created
};

// Applies a command to a scenario document; refused = the document is unchanged.
Outcome apply(nlohmann::json& scenario, const Command& command);

// The clipboard form of some nodes (their JSON and positions), for Paste and the system clipboard.
nlohmann::json copy_nodes(const nlohmann::json& scenario, const std::vector<std::string>& ids);

// ---- the edit history ----------------------------------------------------------------------

// The document being edited with undo and redo stacks. Every applied command can be undone;
// applying after an undo drops the redo stack. Consecutive SetField commands on the same field
// (typing) merge into one undo step, as do consecutive moves of the same nodes (a drag).
class EditHistory {
public:
    explicit EditHistory(nlohmann::json scenario = nlohmann::json::object());

    const nlohmann::json& document() const { return doc_; }
    Outcome apply(const Command& command);
    bool can_undo() const { return !undo_.empty(); }
    bool can_redo() const { return !redo_.empty(); }
    bool undo();
    bool redo();
    // Counts changes (apply, undo and redo); compare with the one saved for "unsaved changes".
    std::size_t revision() const { return revision_; }
    // Ends merging: the next command is its own undo step (call on mouse release, field blur).
    void seal() { mergeable_ = false; }
    // Replaces the document (open, reload after a conflict): both stacks are cleared.
    void reset(nlohmann::json scenario);

private:
    nlohmann::json doc_;
    std::vector<nlohmann::json> undo_, redo_;  // whole-document snapshots
    std::size_t revision_ = 0;
    bool mergeable_ = false;
    std::string merge_key_;
};

// ---- layout --------------------------------------------------------------------------------

enum class Direction { left_to_right, top_to_bottom };
struct LayoutOptions {
    Direction direction = Direction::left_to_right;
    double node_width = 220, node_height = 96;  // the box drawn for each node
    double gap_layer = 80, gap_node = 40;       // between layers, between nodes of a layer
};
// Positions for every node: layered from the start (a node's layer is after every node that
// links to it, except along back edges through a wait), few crossings (ordered by the
// barycentre of the previous layer), boxes never overlap. Deterministic: the same graph gives
// the same positions, and a small edit moves few nodes. Unreachable nodes go in a last row.
std::vector<std::pair<std::string, Point>> layout(const nlohmann::json& scenario, const LayoutOptions& options = {});

// ---- diff between two versions -------------------------------------------------------------

struct Diff {
    std::vector<std::string> added, removed, changed;  // node ids
    std::vector<std::string> scenario_fields;          // top-level fields that changed ("name", "trigger", ...)
};
// What changed from `before` to `after`, ignoring `ui`, status, version and timestamps.
Diff diff(const nlohmann::json& before, const nlohmann::json& after);
void to_json(nlohmann::json& j, const Diff& d);

}  // namespace closeloop::edit
