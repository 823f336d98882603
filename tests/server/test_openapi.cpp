// The OpenAPI document describes exactly the routes the server registers (plus the ones of
// the v1 contract not served yet, marked x-closeloop-implemented: false).
#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <set>

#include "api.h"
#include "clock.h"
#include "closeloop/detail/json_read.h"
#include "store/sqlite_store.h"
#include "temp_dir.h"

using namespace closeloop;
using namespace closeloop::server;

TEST_CASE("the OpenAPI document matches the registered routes") {
    auto doc = detail::parse_json(openapi_document());
    REQUIRE(doc.ok());
    CHECK(doc->at("openapi").get<std::string>().rfind("3.", 0) == 0);

    TempDir dir;
    SqliteStore store(dir.path);
    ServerMetrics metrics;
    RfmService rfm(store, now_utc);
    Api api{store, metrics, rfm, now_utc};
    Router router(store, max_body_bytes);
    add_api_routes(router, api);

    std::set<std::pair<std::string, std::string>> registered, documented, planned;
    for (const auto& r : router.routes()) {
        std::string method = r.method;
        std::transform(method.begin(), method.end(), method.begin(), [](unsigned char c) { return std::tolower(c); });
        registered.insert({method, r.pattern});
    }
    for (const auto& [path, ops] : doc->at("paths").items()) {
        for (const auto& [method, op] : ops.items()) {
            CHECK_MESSAGE(op.contains("responses"), std::string(path + " " + method));
            if (op.value("x-closeloop-implemented", true))
                documented.insert({method, path});
            else
                planned.insert({method, path});
        }
    }
    for (const auto& r : registered)
        CHECK_MESSAGE(documented.count(r), std::string("not in openapi.json: " + r.first + " " + r.second));
    for (const auto& d : documented)
        CHECK_MESSAGE(registered.count(d), std::string("documented, not served: " + d.first + " " + d.second));
    // The contract's other endpoints are in the document, for those who build them next.
    for (const char* path : {"/api/v1/reports/nps", "/api/v1/responses"}) {
        bool found = false;
        for (const auto& p : planned) found = found || p.second == path;
        CHECK_MESSAGE(found, path);
    }
    // Every $ref points at something that exists.
    const std::string text = doc->dump();
    for (std::size_t at = text.find("#/components/"); at != std::string::npos;
         at = text.find("#/components/", at + 1)) {
        const auto end = text.find('"', at);
        const std::string pointer = text.substr(at + 1, end - at - 1);
        CHECK_MESSAGE(doc->contains(nlohmann::json::json_pointer(pointer)), pointer);
    }
}
