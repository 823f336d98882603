// closeloop — internal: reading untrusted JSON with checks that name the path.
//
// Input is never read with operator[] or get<T>() on unchecked values (those throw, and a
// throw aborts the WebAssembly module). A Fields reader keeps the first error it meets.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "closeloop/result.h"
#include "closeloop/time.h"

namespace closeloop::detail {

using json = nlohmann::json;

// Nesting deeper than this is refused wherever JSON comes in: nlohmann's dump() and
// comparisons recurse, and a body of 60,000 nested arrays (120 KB) overflows a thread's stack.
inline constexpr std::size_t max_json_depth = 64;

// Parses text without exceptions; the error says where the text went wrong ("invalid_json"),
// or names the field nested deeper than max_json_depth levels ("invalid_field"; `[]` is one
// level, `{"a": []}` two). Every entry point of untrusted JSON parses with this.
Result<json> parse_json(std::string_view text);

// "a string", "an integer", ... for messages.
const char* json_type_name(const json& j);

class Fields {
public:
    // `path` is where `obj` sits in the document ("" for the root, "contact", "events[3]").
    Fields(const json& obj, std::string path);

    bool ok() const { return !error_; }
    const Error& error() const { return *error_; }
    void fail(Error e) {
        if (!error_) error_ = std::move(e);
    }
    void fail(std::string_view key, std::string message) { fail(invalid_field(at(key), std::move(message))); }
    std::string at(std::string_view key) const { return join_path(path_, std::string(key)); }

    // The value under `key`, or nullptr when it is absent or null.
    const json* find(std::string_view key) const;
    bool has(std::string_view key) const { return find(key) != nullptr; }

    // Each returns nullopt when the key is absent/null (recording missing_field if required)
    // or when the value is invalid (recording invalid_field).
    std::optional<std::string> string(std::string_view key, bool required, std::size_t max_len = 1024,
                                      std::size_t min_len = 0);
    std::optional<std::int64_t> integer(std::string_view key, bool required, std::int64_t min, std::int64_t max,
                                        const char* range_text = nullptr);
    std::optional<double> number(std::string_view key, bool required, double min, double max,
                                 const char* range_text = nullptr);
    std::optional<bool> boolean(std::string_view key, bool required);
    std::optional<Time> time(std::string_view key, bool required);
    std::optional<Duration> duration(std::string_view key, bool required);
    std::optional<std::vector<std::string>> strings(std::string_view key, bool required, std::size_t max_items = 1000,
                                                    std::size_t max_len = 256);
    // An object (kept as JSON); nullptr if absent or invalid.
    const json* object(std::string_view key, bool required);

    // Records an error for every key of the object not in `known` (catches typos such as
    // "scroe"); used where the contract fixes the fields.
    void reject_unknown(std::initializer_list<std::string_view> known);

private:
    const json& obj_;
    std::string path_;
    std::optional<Error> error_;
};

// Checks that `j` is an object; otherwise an error at `path`.
std::optional<Error> expect_object(const json& j, const std::string& path);

}  // namespace closeloop::detail
