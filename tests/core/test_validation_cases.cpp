// The data-driven validation cases of tests/data/validation: each file is a scenario and the
// errors validation must report for it, all of them in one pass (order aside). They run
// natively and as WebAssembly (compiled in, see embedded_assets.h).
#include <doctest/doctest.h>

#include <algorithm>

#include "embedded_assets.h"
#include "scenario_fixtures.h"

using namespace closeloop;
using nlohmann::json;

namespace {

// Errors as sorted JSON texts: compared as a multiset, every field (node, field, message, column).
std::vector<std::string> sorted_texts(const json& errors) {
    std::vector<std::string> out;
    for (const auto& e : errors) out.push_back(e.dump());
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace

TEST_CASE("validation cases: each file's scenario gives exactly its expected errors") {
    const auto campaigns = fixtures::campaigns();
    const Catalog catalog{nullptr, &campaigns};
    int cases = 0;
    bool every_phase = false;
    for (const auto& a : embedded_assets()) {
        if (a.path.find("tests/data/validation/") != 0) continue;
        CAPTURE(a.path);
        const auto doc = detail::parse_json(a.text);
        REQUIRE(doc.ok());
        REQUIRE(doc->contains("scenario"));
        REQUIRE((*doc)["errors"].is_array());
        const json actual = validate_document((*doc)["scenario"], catalog);
        CHECK(sorted_texts(actual) == sorted_texts((*doc)["errors"]));
        ++cases;
        every_phase = every_phase || a.path.find("every-phase-at-once") != std::string::npos;
    }
    CHECK(cases >= 12);
    CHECK(every_phase);
}
