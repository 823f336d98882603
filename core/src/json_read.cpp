#include "closeloop/detail/json_read.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace closeloop::detail {

namespace {

// Walks text as SAX (nlohmann's SAX parser keeps its own stack, so any depth is safe) and
// records where parsing failed (reported without throwing when the handler returns false)
// or where the nesting went deeper than max_json_depth: the path down to the last object
// member within the first levels, e.g. `events[3].data` for `{"events": [.., .., .., {"data": [[[...`.
struct Scan : nlohmann::json_sax<json> {
    std::size_t position = 0;
    std::string token;
    std::optional<std::string> too_deep;

    struct Level {
        bool array = false;
        std::size_t items = 0;  // of an array, so far
        std::string key;        // of an object, the member being read
    };
    std::vector<Level> levels;

    bool value() {
        if (!levels.empty() && levels.back().array) ++levels.back().items;
        return true;
    }
    bool start(bool array) {
        value();
        if (levels.size() >= max_json_depth) {
            too_deep = path();
            return false;
        }
        levels.push_back({array, 0, {}});
        return true;
    }
    bool end() {
        levels.pop_back();
        return true;
    }
    std::string path() const {
        constexpr std::size_t named_levels = 8;  // enough to place it; 64 levels would be unreadable
        std::string out, named;
        for (std::size_t i = 0; i < levels.size() && i < named_levels; ++i) {
            const Level& l = levels[i];
            if (l.array) {
                out += "[" + std::to_string(l.items - 1) + "]";
            } else {
                out = join_path(out, l.key);
                named = out;
            }
        }
        return named;  // trailing indexes dropped: the field is what holds the arrays
    }

    bool null() override { return value(); }
    bool boolean(bool) override { return value(); }
    bool number_integer(number_integer_t) override { return value(); }
    bool number_unsigned(number_unsigned_t) override { return value(); }
    bool number_float(number_float_t, const string_t&) override { return value(); }
    bool string(string_t&) override { return value(); }
    bool binary(binary_t&) override { return value(); }
    bool start_object(std::size_t) override { return start(false); }
    bool key(string_t& k) override {
        levels.back().key = k;
        return true;
    }
    bool end_object() override { return end(); }
    bool start_array(std::size_t) override { return start(true); }
    bool end_array() override { return end(); }
    bool parse_error(std::size_t pos, const std::string& last, const nlohmann::detail::exception&) override {
        position = pos;
        token = last;
        return false;
    }
};

// Nesting depth of text that may be JSON, counted without parsing (brackets outside strings):
// cheap enough to run before every parse.
std::size_t nesting_depth(std::string_view text) {
    std::size_t depth = 0, deepest = 0;
    bool in_string = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (in_string) {
            if (c == '\\')
                ++i;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            deepest = std::max(deepest, ++depth);
        } else if ((c == ']' || c == '}') && depth > 0) {
            --depth;
        }
    }
    return deepest;
}

}  // namespace

Result<json> parse_json(std::string_view text) {
    // nlohmann stops at a NUL byte as at the end of the text, so `{"a": 1}<NUL>anything` would
    // pass; a NUL is never valid JSON (the fuzzer found it).
    if (const auto nul = text.find('\0'); nul != std::string_view::npos)
        return Error{"invalid_json", "is not valid JSON (a NUL byte at byte " + std::to_string(nul) + ")", ""};
    // The DOM is built only when the cheap count allows it; the SAX walk runs only on failure.
    if (nesting_depth(text) <= max_json_depth) {
        json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
        if (!j.is_discarded()) return j;
    }
    Scan finder;
    json::sax_parse(text.begin(), text.end(), &finder, nlohmann::detail::input_format_t::json,
                    /*strict=*/true);
    if (finder.too_deep)
        return invalid_field(*finder.too_deep, "is nested deeper than " + std::to_string(max_json_depth) + " levels");
    std::string message = "is not valid JSON (at byte " + std::to_string(finder.position);
    if (!finder.token.empty() && finder.token.size() <= 40) message += " near '" + finder.token + "'";
    message += ")";
    return Error{"invalid_json", message, ""};
}

const char* json_type_name(const json& j) {
    switch (j.type()) {
        case json::value_t::null:
            return "null";
        case json::value_t::object:
            return "an object";
        case json::value_t::array:
            return "an array";
        case json::value_t::string:
            return "a string";
        case json::value_t::boolean:
            return "a boolean";
        case json::value_t::number_integer:
        case json::value_t::number_unsigned:
            return "an integer";
        case json::value_t::number_float:
            return "a number";
        default:
            return "an unsupported value";
    }
}

std::optional<Error> expect_object(const json& j, const std::string& path) {
    if (j.is_object()) return std::nullopt;
    return invalid_field(path, std::string("must be an object, not ") + json_type_name(j));
}

Fields::Fields(const json& obj, std::string path) : obj_(obj), path_(std::move(path)) {
    if (auto e = expect_object(obj_, path_)) error_ = *e;
}

const json* Fields::find(std::string_view key) const {
    if (!obj_.is_object()) return nullptr;
    const auto it = obj_.find(key);
    if (it == obj_.end() || it->is_null()) return nullptr;
    return &*it;
}

std::optional<std::string> Fields::string(std::string_view key, bool required, std::size_t max_len,
                                          std::size_t min_len) {
    const json* v = find(key);
    if (!v) {
        if (required) fail(missing_field(at(key)));
        return std::nullopt;
    }
    if (!v->is_string()) {
        fail(key, std::string("must be a string, not ") + json_type_name(*v));
        return std::nullopt;
    }
    const auto& s = v->get_ref<const std::string&>();
    if (s.size() < min_len || s.size() > max_len) {
        if (min_len > 0)
            fail(key, "must be " + std::to_string(min_len) + "-" + std::to_string(max_len) + " characters long");
        else
            fail(key, "must be at most " + std::to_string(max_len) + " characters long");
        return std::nullopt;
    }
    return s;
}

std::optional<std::int64_t> Fields::integer(std::string_view key, bool required, std::int64_t min, std::int64_t max,
                                            const char* range_text) {
    const json* v = find(key);
    if (!v) {
        if (required) fail(missing_field(at(key)));
        return std::nullopt;
    }
    const std::string range = range_text ? range_text : std::to_string(min) + "-" + std::to_string(max);
    std::optional<std::int64_t> value;
    if (v->is_number_integer()) {
        value = v->get<std::int64_t>();
    } else if (v->is_number_unsigned()) {
        const auto u = v->get<std::uint64_t>();
        if (u <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
            value = static_cast<std::int64_t>(u);
    } else if (v->is_number_float()) {
        // 7.0 is an integer; 7.5 is not.
        const double d = v->get<double>();
        if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9e15) value = static_cast<std::int64_t>(d);
    }
    if (!value || *value < min || *value > max) {
        fail(key, "must be an integer " + range);
        return std::nullopt;
    }
    return value;
}

std::optional<double> Fields::number(std::string_view key, bool required, double min, double max,
                                     const char* range_text) {
    const json* v = find(key);
    if (!v) {
        if (required) fail(missing_field(at(key)));
        return std::nullopt;
    }
    if (!v->is_number()) {
        fail(key, std::string("must be a number, not ") + json_type_name(*v));
        return std::nullopt;
    }
    const double d = v->get<double>();
    if (!std::isfinite(d) || d < min || d > max) {
        fail(key, std::string("must be a number ") + (range_text ? range_text : "in range"));
        return std::nullopt;
    }
    return d;
}

std::optional<bool> Fields::boolean(std::string_view key, bool required) {
    const json* v = find(key);
    if (!v) {
        if (required) fail(missing_field(at(key)));
        return std::nullopt;
    }
    if (!v->is_boolean()) {
        fail(key, std::string("must be true or false, not ") + json_type_name(*v));
        return std::nullopt;
    }
    return v->get<bool>();
}

std::optional<Time> Fields::time(std::string_view key, bool required) {
    const auto s = string(key, required, 64);
    if (!s) return std::nullopt;
    auto t = parse_time(*s);
    if (!t) {
        fail(under(at(key), t.error()));
        return std::nullopt;
    }
    return *t;
}

std::optional<Duration> Fields::duration(std::string_view key, bool required) {
    const auto s = string(key, required, 64);
    if (!s) return std::nullopt;
    auto d = parse_duration(*s);
    if (!d) {
        fail(under(at(key), d.error()));
        return std::nullopt;
    }
    return *d;
}

std::optional<std::vector<std::string>> Fields::strings(std::string_view key, bool required, std::size_t max_items,
                                                        std::size_t max_len) {
    const json* v = find(key);
    if (!v) {
        if (required) fail(missing_field(at(key)));
        return std::nullopt;
    }
    if (!v->is_array()) {
        fail(key, std::string("must be an array of strings, not ") + json_type_name(*v));
        return std::nullopt;
    }
    if (v->size() > max_items) {
        fail(key, "must have at most " + std::to_string(max_items) + " items");
        return std::nullopt;
    }
    std::vector<std::string> out;
    out.reserve(v->size());
    for (std::size_t i = 0; i < v->size(); ++i) {
        const json& item = (*v)[i];
        const std::string item_path = at(key) + "[" + std::to_string(i) + "]";
        if (!item.is_string()) {
            fail(invalid_field(item_path, std::string("must be a string, not ") + json_type_name(item)));
            return std::nullopt;
        }
        const auto& s = item.get_ref<const std::string&>();
        if (s.empty() || s.size() > max_len) {
            fail(invalid_field(item_path, "must be 1-" + std::to_string(max_len) + " characters long"));
            return std::nullopt;
        }
        out.push_back(s);
    }
    return out;
}

const json* Fields::object(std::string_view key, bool required) {
    const json* v = find(key);
    if (!v) {
        if (required) fail(missing_field(at(key)));
        return nullptr;
    }
    if (!v->is_object()) {
        fail(key, std::string("must be an object, not ") + json_type_name(*v));
        return nullptr;
    }
    return v;
}

void Fields::reject_unknown(std::initializer_list<std::string_view> known) {
    if (!obj_.is_object()) return;
    for (const auto& [k, _] : obj_.items()) {
        bool found = false;
        for (auto name : known) found = found || name == k;
        if (!found) {
            fail(invalid_field(at(k), "is not a known field"));
            return;
        }
    }
}

}  // namespace closeloop::detail
