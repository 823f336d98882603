// closeloop — errors as values.
//
// Every expected failure in core (bad JSON, a field out of range, an unparsable time) is an
// Error value that names its place: a JSON path such as `data.score` or `events[3].time`.
// Core never throws for bad input; the server maps an Error to a 4xx with that detail.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace closeloop {

struct Error {
    std::string code;     // machine-readable: "invalid_field", "missing_field", "invalid_json", ...
    std::string message;  // for people: "must be an integer 0-10"
    std::string path;     // where: "data.score"; empty for the whole document
    int column = 0;       // 1-based column in an expression or template text; 0 = not applicable

    // "data.score: must be an integer 0-10"
    std::string what() const { return path.empty() ? message : path + ": " + message; }
    bool operator==(const Error&) const = default;
};

inline Error invalid_field(std::string path, std::string message) {
    return {"invalid_field", std::move(message), std::move(path)};
}
inline Error missing_field(std::string path) {
    return {"missing_field", "is required", std::move(path)};
}

// How much a reader checks. `input`: every rule, for what a client sends. `stored`: only what
// reading needs, for rows the store wrote earlier: data stored before a rule was tightened
// (a currency withdrawn from ISO 4217, a validity over today's bound) keeps loading.
enum class Check { input, stored };

// A value or the Error that prevented it (std::expected is C++23 and not in libc++ 13).
template <class T>
class Result {
public:
    Result(T value) : v_(std::move(value)) {}
    Result(Error error) : v_(std::move(error)) {}

    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }

    T& value() & {
        assert(ok());
        return std::get<0>(v_);
    }
    const T& value() const& {
        assert(ok());
        return std::get<0>(v_);
    }
    T&& value() && {
        assert(ok());
        return std::get<0>(std::move(v_));
    }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }

    const Error& error() const {
        assert(!ok());
        return std::get<1>(v_);
    }

private:
    std::variant<T, Error> v_;
};

// Joins JSON path segments: join_path("events[3]", "data.score") == "events[3].data.score".
inline std::string join_path(const std::string& base, const std::string& rest) {
    if (base.empty()) return rest;
    if (rest.empty()) return base;
    if (rest.front() == '[') return base + rest;
    return base + "." + rest;
}

// The same error, placed under a parent path (for nested documents and batches).
inline Error under(const std::string& base, Error e) {
    e.path = join_path(base, e.path);
    return e;
}

}  // namespace closeloop
