// closeloop server — files compiled into the binary at build time (server/tools/embed_files.cpp):
// the builder app (the wasm preset's web/dist) and the shipped examples (assets/).
#pragma once

#include <string_view>
#include <vector>

namespace closeloop::server {

struct EmbeddedFile {
    std::string_view name;  // relative to its folder, with '/': "index.html", "scenarios/passives.json"
    std::string_view data;
    std::string_view gzip;  // the same bytes gzipped (-9, no name or time), or empty
};

// The builder app's files; empty when the wasm preset had not built it (GET / says so).
const std::vector<EmbeddedFile>& builder_files();
// assets/scenarios/*.json, assets/templates/*.json and assets/campaigns.json.
const std::vector<EmbeddedFile>& example_assets();

}  // namespace closeloop::server
