#include "closeloop/sample_set.h"

#include <set>

namespace closeloop {

using nlohmann::json;

namespace {

std::string slug(const std::string& name) {
    std::string out;
    for (char c : name) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        const bool keep = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (keep)
            out += c;
        else if (!out.empty() && out.back() != '-')
            out += '-';
    }
    while (!out.empty() && out.back() == '-') out.pop_back();
    return out.empty() ? "segment" : out;
}

struct Variation {
    const char* key;
    const char* locale;
    const char* first_name;
    const char* last_name;
    bool vip;
    std::vector<std::string> tags;
    const char* owner;
    json attributes;
};

const std::vector<Variation>& variations() {
    static const std::vector<Variation> all = {
        {"en", "en", "Emma", "Smith", false, {}, "", json::object()},
        {"cs", "cs", "Jana", "Nová", true, {"newsletter"}, "petr@brand.example", {{"branch", "Brno"}, {"plan", "pro"}}},
        {"he", "he", "נועה", "כהן", false, {"beta"}, "", {{"branch", "Tel Aviv"}, {"plan", "basic"}}},
    };
    return all;
}

}  // namespace

SampleSet sample_set(Time at, const SegmentGrid& grid) {
    SampleSet out;
    // Each segment with the R and FM of its first cell; "" = a contact without purchases.
    std::vector<std::pair<std::string, std::optional<ContactRfm>>> segments;
    for (const auto& name : grid.names()) {
        for (int r = 5, found = 0; r >= 1 && !found; --r)
            for (int fm = 1; fm <= 5 && !found; ++fm) {
                if (grid.at(r, fm) != name) continue;
                ContactRfm rfm;
                rfm.r = r;
                rfm.f = fm;
                rfm.m = fm;
                rfm.segment = name;
                rfm.recency_days = (5 - r) * 70 + 3;
                rfm.frequency = fm * 2 - 1;
                rfm.monetary_cents = fm * 4'990;
                segments.push_back({name, rfm});
                found = 1;
            }
    }
    segments.push_back({"", std::nullopt});
    for (const auto& [name, rfm] : segments)
        for (const auto& v : variations())
            for (int score = 0; score <= 10; ++score) {
                Contact c;
                c.id = "sample-" + (name.empty() ? std::string("none") : slug(name)) + "-" + v.key + "-" +
                       std::to_string(score);
                c.email = c.id + "@example.com";
                c.first_name = v.first_name;
                c.last_name = v.last_name;
                c.locale = v.locale;
                c.owner = v.owner;
                c.vip = v.vip;
                c.tags = v.tags;
                c.attributes = v.attributes;
                c.rfm = rfm;
                Event e;
                e.id = c.id + "-nps";
                e.type = "nps_response";
                e.kind = EventType::nps_response;
                e.time = at;
                e.contact.id = c.id;
                e.data = {{"score", score}, {"survey", "nps-main"}, {"channel", "email"}};
                out.contacts.push_back(std::move(c));
                out.events.push_back(std::move(e));
            }
    return out;
}

void to_json(json& j, const SampleSet& s) {
    j = {{"contacts", s.contacts}, {"events", s.events}};
}

namespace {

// Runs by (event, contact): a resumed line adds to the run it continues.
class PassCounter {
public:
    void add(const std::string& event, const std::string& contact, bool resumed, const std::vector<std::string>& path) {
        const std::string key = event + '\x1f' + contact;
        std::set<std::string>* run = nullptr;
        if (resumed)
            if (const auto it = latest_.find(key); it != latest_.end()) run = &runs_[it->second];
        if (!run) {
            latest_[key] = runs_.size();
            runs_.emplace_back();
            run = &runs_.back();
        }
        run->insert(path.begin(), path.end());
    }
    std::map<std::string, int> counts() const {
        std::map<std::string, int> out;
        for (const auto& run : runs_)
            for (const auto& node : run) ++out[node];
        return out;
    }

private:
    std::vector<std::set<std::string>> runs_;
    std::map<std::string, std::size_t> latest_;
};

}  // namespace

std::map<std::string, int> passes_by_node(const std::vector<SimulatedRun>& runs) {
    PassCounter counter;
    for (const auto& r : runs)
        if (r.entered) counter.add(r.event, r.contact, r.resumed, r.path);
    return counter.counts();
}

std::map<std::string, int> passes_by_node(const json& runs) {
    PassCounter counter;
    if (!runs.is_array()) return {};
    for (const auto& r : runs) {
        const auto flag = [&](const char* key) {
            const auto it = r.find(key);
            return it != r.end() && it->is_boolean() && it->get<bool>();
        };
        if (!r.is_object() || !flag("entered")) continue;
        std::vector<std::string> path;
        if (const auto p = r.find("path"); p != r.end() && p->is_array())
            for (const auto& node : *p)
                if (node.is_string()) path.push_back(node.get<std::string>());
        const auto text = [&](const char* key) {
            const auto it = r.find(key);
            return it != r.end() && it->is_string() ? it->get<std::string>() : std::string();
        };
        counter.add(text("event"), text("contact"), flag("resumed"), path);
    }
    return counter.counts();
}

}  // namespace closeloop
