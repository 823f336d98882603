// The files of assets/ (scenarios, templates, campaigns) and tests/data/validation/, compiled
// in by tests/CMakeLists.txt.
#pragma once

#include <string>
#include <vector>

struct EmbeddedAsset {
    std::string path;  // e.g. "assets/scenarios/nps-recovery.json"
    std::string text;
};
const std::vector<EmbeddedAsset>& embedded_assets();
