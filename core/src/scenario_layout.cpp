// closeloop — auto-layout of a scenario graph (scenario_edit.h, layout).
//
// Layered drawing in four steps: layers by the longest path from the start over the graph
// without its back edges (those closing a cycle, which validation allows only through a
// wait); order within each layer by barycentre sweeps, keeping the order with the fewest
// crossings; coordinates across the layers pulled towards the nodes each one comes from,
// averaged between a downward and an upward packing (so a node's children centre on it and
// boxes never overlap); unreachable nodes in a last row. Everything is in document and port
// order, so the same graph always gives the same drawing.
#include <algorithm>
#include <map>
#include <numeric>

#include "closeloop/scenario_edit.h"

namespace closeloop::edit {

using nlohmann::json;

namespace {

struct Graph {
    std::vector<std::string> ids;               // document order
    std::vector<std::vector<std::size_t>> out;  // links in port order, to existing nodes
    std::optional<std::size_t> start;
};

Graph graph_of(const json& doc) {
    Graph g;
    const auto nodes = doc.find("nodes");
    if (nodes == doc.end() || !nodes->is_array()) return g;
    std::map<std::string, std::size_t> index;
    std::vector<const json*> kept;
    for (const auto& n : *nodes) {
        if (!n.is_object() || !n.contains("id") || !n["id"].is_string()) continue;
        const std::string id = n["id"].get<std::string>();
        if (id.empty() || index.count(id)) continue;
        index.emplace(id, g.ids.size());
        g.ids.push_back(id);
        kept.push_back(&n);
    }
    g.out.resize(g.ids.size());
    for (std::size_t i = 0; i < kept.size(); ++i)
        for (const auto& port : output_ports(*kept[i]))
            if (const auto to = linked(*kept[i], port)) {
                const auto it = index.find(*to);
                if (it != index.end() && it->second != i) g.out[i].push_back(it->second);
            }
    if (const auto s = doc.find("start"); s != doc.end() && s->is_string()) {
        const auto it = index.find(s->get<std::string>());
        if (it != index.end()) g.start = it->second;
    }
    return g;
}

constexpr int unreached = -1;

// Depth-first from the start (iteratively: 200 nodes deep must not need 200 frames): the
// nodes in the order found, and which edges are back edges.
struct Search {
    std::vector<std::size_t> found;       // discovery order
    std::vector<std::size_t> finished;    // post-order
    std::vector<std::vector<bool>> back;  // back[u][k]: out[u][k] closes a cycle
};

Search search(const Graph& g) {
    Search s;
    s.back.resize(g.ids.size());
    for (std::size_t i = 0; i < g.ids.size(); ++i) s.back[i].assign(g.out[i].size(), false);
    if (!g.start) return s;
    enum Mark { fresh, open, closed };
    std::vector<Mark> mark(g.ids.size(), fresh);
    std::vector<std::pair<std::size_t, std::size_t>> stack;  // node, next edge to follow
    stack.push_back({*g.start, 0});
    mark[*g.start] = open;
    s.found.push_back(*g.start);
    while (!stack.empty()) {
        auto& [u, k] = stack.back();
        if (k == g.out[u].size()) {
            mark[u] = closed;
            s.finished.push_back(u);
            stack.pop_back();
            continue;
        }
        const std::size_t edge = k++;
        const std::size_t v = g.out[u][edge];
        if (mark[v] == open) {
            s.back[u][edge] = true;
        } else if (mark[v] == fresh) {
            mark[v] = open;
            s.found.push_back(v);
            stack.push_back({v, 0});
        }
    }
    return s;
}

std::size_t crossings(const std::vector<std::pair<std::size_t, std::size_t>>& edges, const std::vector<int>& layer,
                      const std::vector<std::size_t>& rank) {
    std::size_t n = 0;
    for (std::size_t a = 0; a < edges.size(); ++a)
        for (std::size_t b = a + 1; b < edges.size(); ++b) {
            const auto [u1, v1] = edges[a];
            const auto [u2, v2] = edges[b];
            if (layer[u1] != layer[u2] || layer[v1] != layer[v2]) continue;
            const long du = static_cast<long>(rank[u1]) - static_cast<long>(rank[u2]);
            const long dv = static_cast<long>(rank[v1]) - static_cast<long>(rank[v2]);
            if ((du < 0 && dv > 0) || (du > 0 && dv < 0)) ++n;
        }
    return n;
}

}  // namespace

std::vector<std::pair<std::string, Point>> layout(const json& scenario, const LayoutOptions& options) {
    std::vector<std::pair<std::string, Point>> out;
    if (!scenario.is_object()) return out;
    const Graph g = graph_of(scenario);
    const std::size_t n = g.ids.size();
    const Search s = search(g);

    // Forward edges (both directions kept for the sweeps).
    std::vector<std::vector<std::size_t>> preds(n), succs(n);
    std::vector<std::pair<std::size_t, std::size_t>> edges;
    for (std::size_t u = 0; u < n; ++u)
        for (std::size_t k = 0; k < g.out[u].size(); ++k) {
            const std::size_t v = g.out[u][k];
            if (s.back[u][k]) continue;
            if (std::find(succs[u].begin(), succs[u].end(), v) != succs[u].end()) continue;  // two ports, one target
            succs[u].push_back(v);
            preds[v].push_back(u);
        }

    // Layers: the longest path from the start, in topological order (reverse post-order).
    std::vector<int> layer(n, unreached);
    for (auto it = s.finished.rbegin(); it != s.finished.rend(); ++it) {
        const std::size_t u = *it;
        if (layer[u] == unreached) layer[u] = 0;
        for (const std::size_t v : succs[u]) layer[v] = std::max(layer[v], layer[u] + 1);
    }
    int layers = 0;
    for (const std::size_t u : s.found) layers = std::max(layers, layer[u] + 1);
    for (std::size_t u = 0; u < n; ++u)
        if (layer[u] != unreached)
            for (const std::size_t v : succs[u]) edges.push_back({u, v});

    // Order within layers: first as found (ports in order), then barycentre sweeps.
    std::vector<std::vector<std::size_t>> order(static_cast<std::size_t>(layers));
    for (const std::size_t u : s.found) order[static_cast<std::size_t>(layer[u])].push_back(u);
    std::vector<std::size_t> rank(n, 0);
    const auto rerank = [&] {
        for (const auto& row : order)
            for (std::size_t i = 0; i < row.size(); ++i) rank[row[i]] = i;
    };
    rerank();
    const auto sweep = [&](std::size_t l, const std::vector<std::vector<std::size_t>>& across) {
        auto& row = order[l];
        std::vector<std::pair<double, std::size_t>> keyed;
        for (const std::size_t u : row) {
            double key = static_cast<double>(rank[u]);
            if (!across[u].empty()) {
                double sum = 0;
                for (const std::size_t v : across[u]) sum += static_cast<double>(rank[v]);
                key = sum / static_cast<double>(across[u].size());
            }
            keyed.push_back({key, u});
        }
        std::stable_sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
        for (std::size_t i = 0; i < row.size(); ++i) row[i] = keyed[i].second;
        rerank();
    };
    auto best = order;
    std::size_t fewest = crossings(edges, layer, rank);
    for (int round = 0; round < 4 && fewest > 0; ++round) {
        for (std::size_t l = 1; l < order.size(); ++l) sweep(l, preds);
        for (std::size_t l = order.size(); l-- > 0;) sweep(l, succs);
        const std::size_t now = crossings(edges, layer, rank);
        if (now < fewest) {
            fewest = now;
            best = order;
        }
    }
    order = best;
    rerank();

    // Coordinates across the layers: each node wants the mean of its predecessors'; packed
    // downwards and upwards in the layer's order, and the two packings averaged.
    const bool ltr = options.direction == Direction::left_to_right;
    const double across_pitch = (ltr ? options.node_height : options.node_width) + options.gap_node;
    const double along_pitch = (ltr ? options.node_width : options.node_height) + options.gap_layer;
    std::vector<double> cross(n, 0);
    for (std::size_t l = 0; l < order.size(); ++l) {
        const auto& row = order[l];
        std::vector<double> want(row.size());
        for (std::size_t i = 0; i < row.size(); ++i) {
            const auto& from = preds[row[i]];
            if (from.empty()) {
                want[i] = static_cast<double>(i) * across_pitch;
                continue;
            }
            double sum = 0;
            for (const std::size_t v : from) sum += cross[v];
            want[i] = sum / static_cast<double>(from.size());
        }
        std::vector<double> down(want), up(want);
        for (std::size_t i = 1; i < row.size(); ++i) down[i] = std::max(down[i], down[i - 1] + across_pitch);
        for (std::size_t i = row.size(); i-- > 1;) up[i - 1] = std::min(up[i - 1], up[i] - across_pitch);
        for (std::size_t i = 0; i < row.size(); ++i) cross[row[i]] = (down[i] + up[i]) / 2;
    }

    std::vector<Point> at(n);
    double low = 0;  // the far edge of the drawing across the layers
    bool placed = false;
    for (std::size_t u = 0; u < n; ++u) {
        if (layer[u] == unreached) continue;
        const double along = layer[u] * along_pitch;
        at[u] = ltr ? Point{along, cross[u]} : Point{cross[u], along};
        low = placed ? std::max(low, cross[u]) : cross[u];
        placed = true;
    }
    // Unreachable nodes: a row below (left to right) or after (top to bottom) the rest.
    double next = 0;
    const double row_at = ltr ? (placed ? low + across_pitch + options.gap_layer : 0)
                              : (layers > 0 ? layers * along_pitch + options.gap_layer : 0);
    for (std::size_t u = 0; u < n; ++u) {
        if (layer[u] != unreached) continue;
        at[u] = Point{next, row_at};
        next += options.node_width + options.gap_node;
    }
    out.reserve(n);
    for (std::size_t u = 0; u < n; ++u) out.push_back({g.ids[u], at[u]});
    return out;
}

}  // namespace closeloop::edit
