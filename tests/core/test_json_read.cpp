#include <doctest/doctest.h>

#include "closeloop/detail/json_read.h"

using namespace closeloop;
using closeloop::detail::Fields;
using nlohmann::json;

TEST_CASE("untrusted JSON parses without exceptions and says where it broke") {
    CHECK(detail::parse_json(R"({"a":1})").ok());
    auto bad = detail::parse_json(R"({"a": 1,})");
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().code == "invalid_json");
    CHECK(bad.error().message.find("at byte 9") != std::string::npos);
    CHECK_FALSE(detail::parse_json("").ok());
    CHECK_FALSE(detail::parse_json("{\"a\":\"\xff\"}").ok());                  // not UTF-8
    CHECK_FALSE(detail::parse_json("[1] [2]").ok());                           // trailing garbage
    const auto nul = detail::parse_json(std::string_view("{\"a\":1}\0[", 9));  // nlohmann stops at a NUL
    REQUIRE_FALSE(nul.ok());
    CHECK(nul.error().message == "is not valid JSON (a NUL byte at byte 7)");
}

namespace {
std::string nested(std::size_t levels) {
    return std::string(levels, '[') + std::string(levels, ']');
}
}  // namespace

TEST_CASE("JSON nested deeper than 64 levels is refused, naming the field that holds it") {
    CHECK(detail::parse_json(nested(64)).ok());
    auto deep = detail::parse_json(nested(65));
    REQUIRE_FALSE(deep.ok());
    CHECK(deep.error().code == "invalid_field");
    CHECK(deep.error().what() == "is nested deeper than 64 levels");
    // 60,000 levels (120 KB) would overflow the stack in dump() or a comparison.
    auto event = detail::parse_json(R"({"type": "x", "data": )" + nested(60000) + "}");
    REQUIRE_FALSE(event.ok());
    CHECK(event.error().what() == "data: is nested deeper than 64 levels");
    auto batch = detail::parse_json(R"({"events": [{"data": 1}, {"id": "[[[", "data": {"a": )" + nested(100) + "}}]}");
    REQUIRE_FALSE(batch.ok());
    CHECK(batch.error().path == "events[1].data.a");
    // Objects count as levels too; brackets inside strings do not.
    std::string objects;
    for (int i = 0; i < 64; ++i) objects += R"({"k": )";
    objects += "\"[[[[\"" + std::string(64, '}');
    CHECK(detail::parse_json(objects).ok());
    CHECK(detail::parse_json("{\"k\": " + objects + "}").error().path == "k.k.k.k.k.k.k.k");
    // Text broken before it gets too deep is reported as broken.
    CHECK(detail::parse_json("[1,] " + std::string(100, '[')).error().code == "invalid_json");
}

TEST_CASE("Fields keeps the first error and its path") {
    const json j = {{"score", 7.5}, {"name", 3}};
    Fields f(j, "events[3].data");
    CHECK_FALSE(f.integer("score", true, 0, 10).has_value());
    CHECK_FALSE(f.string("name", true).has_value());
    REQUIRE_FALSE(f.ok());
    CHECK(f.error().path == "events[3].data.score");
    CHECK(f.error().what() == "events[3].data.score: must be an integer 0-10");
}

TEST_CASE("integers: 7.0 is 7, huge numbers are out of range") {
    const json j = json::parse(R"({"a":7.0,"b":18446744073709551615,"c":-1})");
    Fields f(j, "");
    CHECK(f.integer("a", true, 0, 10) == 7);
    CHECK_FALSE(f.integer("b", true, 0, 10).has_value());
    Fields g(j, "");
    CHECK_FALSE(g.integer("c", true, 0, 10).has_value());
    CHECK(g.error().path == "c");
}

TEST_CASE("missing and unknown fields") {
    const json j = {{"known", 1}, {"typo", 2}};
    Fields f(j, "x");
    f.string("absent", true);
    CHECK(f.error() == missing_field("x.absent"));
    Fields g(j, "x");
    g.reject_unknown({"known"});
    CHECK(g.error().path == "x.typo");
}
