#include "closeloop/detail/json_read.h"

#include <cmath>
#include <limits>

namespace closeloop::detail {

namespace {

// A SAX handler that only records where parsing failed (nlohmann reports it without
// throwing when the handler returns false).
struct ErrorFinder : nlohmann::json_sax<json> {
    std::size_t position = 0;
    std::string token;
    bool null() override { return true; }
    bool boolean(bool) override { return true; }
    bool number_integer(number_integer_t) override { return true; }
    bool number_unsigned(number_unsigned_t) override { return true; }
    bool number_float(number_float_t, const string_t&) override { return true; }
    bool string(string_t&) override { return true; }
    bool binary(binary_t&) override { return true; }
    bool start_object(std::size_t) override { return true; }
    bool key(string_t&) override { return true; }
    bool end_object() override { return true; }
    bool start_array(std::size_t) override { return true; }
    bool end_array() override { return true; }
    bool parse_error(std::size_t pos, const std::string& last, const nlohmann::detail::exception&) override {
        position = pos;
        token = last;
        return false;
    }
};

}  // namespace

Result<json> parse_json(std::string_view text) {
    json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
    if (!j.is_discarded()) return j;
    ErrorFinder finder;
    json::sax_parse(text.begin(), text.end(), &finder, nlohmann::detail::input_format_t::json,
                    /*strict=*/true);
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
