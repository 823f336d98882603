#include "cli_tools.h"

#include <closeloop/detail/json_read.h>
#include <closeloop/render.h>
#include <closeloop/scenario.h>
#include <closeloop/simulator.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <vector>

namespace closeloop::cli {

using nlohmann::json;

namespace {

// A problem with an input file: printed as "FILE: message" (or "FILE line N: ...").
struct InputError {
    std::string message;
};

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw InputError{path + ": cannot be read"};
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

json read_json(const std::string& path) {
    auto j = detail::parse_json(read_file(path));
    if (!j) throw InputError{path + ": " + j.error().what()};
    return *j;
}

// Reads a JSON-lines file, calling `each(json, line_number)`; blank lines are skipped.
template <class F>
void read_lines(const std::string& path, F each) {
    std::istringstream in(read_file(path));
    std::string line;
    int number = 0;
    while (std::getline(in, line)) {
        ++number;
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        auto j = detail::parse_json(line);
        if (!j) throw InputError{path + " line " + std::to_string(number) + ": " + j.error().what()};
        each(*j, number);
    }
}

std::vector<Event> read_events(const std::string& path) {
    std::vector<Event> out;
    read_lines(path, [&](const json& j, int line) {
        auto e = event_from_json(j);
        if (!e) throw InputError{path + " line " + std::to_string(line) + ": " + e.error().what()};
        if (!e->time) throw InputError{path + " line " + std::to_string(line) + ": time: is required to simulate"};
        out.push_back(std::move(*e));
    });
    return out;
}

std::map<std::string, VoucherCampaign> read_campaigns(const std::string& path) {
    std::map<std::string, VoucherCampaign> out;
    const json j = read_json(path);
    if (!j.is_array()) throw InputError{path + ": must be a JSON array of voucher campaigns"};
    for (std::size_t i = 0; i < j.size(); ++i) {
        auto c = voucher_campaign_from_json(j[i], "[" + std::to_string(i) + "]");
        if (!c) throw InputError{path + ": " + c.error().what()};
        out.emplace(c->id, std::move(*c));
    }
    return out;
}

std::map<std::string, MessageTemplate> read_templates(const std::string& dir) {
    std::map<std::string, MessageTemplate> out;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
        if (entry.path().extension() != ".json") continue;
        const std::string path = entry.path().string();
        auto t = template_from_json(read_json(path));
        if (!t) throw InputError{path + ": " + t.error().what()};
        out.emplace(t->id, std::move(*t));
    }
    if (ec) throw InputError{dir + ": " + ec.message()};
    return out;
}

}  // namespace

int simulate(const SimulateOptions& o) {
    try {
        auto loaded = load_scenario(read_json(o.scenario));
        if (!loaded.errors.empty()) {
            for (const auto& e : loaded.errors) std::cerr << o.scenario << ": " << json(e).dump() << "\n";
            return 1;
        }
        SimulationInput in;
        in.scenario = &loaded.scenario;
        in.fast_forward = o.fast_forward;
        in.events = read_events(o.events);
        if (!o.history.empty()) in.history = read_events(o.history);
        if (!o.campaigns.empty()) in.campaigns = read_campaigns(o.campaigns);
        if (!o.contacts.empty()) {
            read_lines(o.contacts, [&](const json& j, int line) {
                auto c = contact_from_json(j);
                if (!c) throw InputError{o.contacts + " line " + std::to_string(line) + ": " + c.error().what()};
                in.contacts.push_back(std::move(*c));
            });
        }
        in.links = {{"unsubscribe", "https://closeloop.example/u/SIMULATED"},
                    {"redeem", "https://closeloop.example/r/SIMULATED"},
                    {"survey", "https://closeloop.example/s/SIMULATED"},
                    {"preferences", "https://closeloop.example/p/SIMULATED"}};
        const Catalog catalog{nullptr, o.campaigns.empty() ? nullptr : &in.campaigns};
        if (const auto errors = validate(loaded.scenario, catalog); !errors.empty()) {
            for (const auto& e : errors) std::cerr << o.scenario << ": " << json(e).dump() << "\n";
            return 1;
        }
        auto runs = simulate(in);
        if (!runs) {
            std::cerr << "closeloop simulate: " << runs.error().what() << "\n";
            return 1;
        }
        for (const auto& r : *runs) {
            json line = r;
            if (!o.trace) line.erase("trace");
            std::cout << line.dump() << "\n";
        }
        return 0;
    } catch (const InputError& e) {
        std::cerr << "closeloop simulate: " << e.message << "\n";
        return 2;
    }
}

int validate(const ValidateOptions& o) {
    try {
        std::map<std::string, MessageTemplate> templates;
        std::map<std::string, VoucherCampaign> campaigns;
        Catalog catalog;
        if (!o.templates.empty()) {
            templates = read_templates(o.templates);
            catalog.templates = &templates;
        }
        if (!o.campaigns.empty()) {
            campaigns = read_campaigns(o.campaigns);
            catalog.campaigns = &campaigns;
        }
        const auto errors = validate_document(read_json(o.scenario), catalog);
        for (const auto& e : errors) std::cout << json(e).dump() << "\n";
        // Said on stderr: stdout holds only the errors, one JSON line each.
        if (errors.empty())
            std::cerr << "closeloop validate: " << o.scenario << " is valid\n";
        else
            std::cerr << "closeloop validate: " << o.scenario << " has " << errors.size()
                      << (errors.size() == 1 ? " error\n" : " errors\n");
        return errors.empty() ? 0 : 1;
    } catch (const InputError& e) {
        std::cerr << "closeloop validate: " << e.message << "\n";
        return 2;
    }
}

}  // namespace closeloop::cli
