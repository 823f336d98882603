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
    CHECK_FALSE(detail::parse_json("{\"a\":\"\xff\"}").ok());  // not UTF-8
    CHECK_FALSE(detail::parse_json("[1] [2]").ok());           // trailing garbage
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
