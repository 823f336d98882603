#include "cli_tools.h"

#include <closeloop/detail/json_read.h>
#include <closeloop/render.h>
#include <closeloop/scenario.h>
#include <closeloop/simulator.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <string_view>
#include <vector>

namespace closeloop::cli {

using nlohmann::json;

namespace {

// A problem with an input file: printed as "FILE: message" (or "FILE line N: ...").
struct InputError {
    std::string message;
};

// Read in blocks into a string reserved at the file's size (through a stringstream the text
// was copied twice more). Pipes work too.
std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw InputError{path + ": cannot be read"};
    std::string text;
    std::error_code ec;
    if (const auto size = std::filesystem::file_size(path, ec); !ec) text.reserve(size);
    std::vector<char> block(1 << 16);
    while (in.read(block.data(), static_cast<std::streamsize>(block.size())) || in.gcount() > 0)
        text.append(block.data(), static_cast<std::size_t>(in.gcount()));
    return text;
}

json read_json(const std::string& path) {
    auto j = detail::parse_json(read_file(path));
    if (!j) throw InputError{path + ": " + j.error().what()};
    return *j;
}

// Reads a JSON-lines file, calling `each(json, line_number)`; blank lines are skipped. Lines
// are parsed in place in the file's text, not copied out of it.
template <class F>
void read_lines(const std::string& path, F each) {
    const std::string text = read_file(path);
    int number = 0;
    for (std::size_t pos = 0; pos < text.size();) {
        const std::size_t end = std::min(text.find('\n', pos), text.size());
        const std::string_view line(text.data() + pos, end - pos);
        pos = end + 1;
        ++number;
        if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
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
        in.links = simulated_links();
        std::map<std::string, MessageTemplate> templates;
        if (!o.templates.empty()) {
            templates = read_templates(o.templates);
            in.templates = &templates;
        }
        const Catalog catalog{nullptr, o.campaigns.empty() ? nullptr : &in.campaigns};
        if (const auto errors = validate(loaded.scenario, catalog); !errors.empty()) {
            for (const auto& e : errors) std::cerr << o.scenario << ": " << json(e).dump() << "\n";
            return 1;
        }
        // Each line is written as soon as it is complete, and not kept.
        std::string text;
        const auto done = simulate(std::move(in), [&](SimulatedRun& r) {
            text = simulated_run_json(r, o.trace).dump();
            text += '\n';
            std::cout.write(text.data(), static_cast<std::streamsize>(text.size()));
        });
        if (!done) {
            std::cerr << "closeloop simulate: " << done.error().what() << "\n";
            return 1;
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
