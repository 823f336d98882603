// closeloop — internal: one table per enum for its text in and out.
//
// Each enum read from or written as text has one constexpr table of (name, value) pairs, and
// both directions (and the "a, b or c" list of messages) are read from it, so a name cannot
// be spelled one way when written and another when read.
#pragma once

#include <array>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>

namespace closeloop::detail {

template <class E>
struct EnumName {
    std::string_view name;
    E value;
};

template <class E, std::size_t N>
using EnumTable = std::array<EnumName<E>, N>;

// The value's name; the first entry's when the value is not in the table (never for a valid value).
template <class E, std::size_t N>
constexpr std::string_view enum_name(const EnumTable<E, N>& table, E value) {
    for (const auto& e : table)
        if (e.value == value) return e.name;
    return table[0].name;
}

template <class E, std::size_t N>
constexpr std::optional<E> enum_value(const EnumTable<E, N>& table, std::string_view name) {
    for (const auto& e : table)
        if (e.name == name) return e.value;
    return std::nullopt;
}

// "a, b or c" of the names `name(item)` gives, for messages such as "must be a, b or c".
template <class It, class Name>
std::string join_or(It begin, It end, Name name) {
    std::string out;
    for (It it = begin; it != end; ++it) {
        if (it != begin) out += std::next(it) == end ? " or " : ", ";
        out += name(*it);
    }
    return out;
}

template <class E, std::size_t N>
std::string enum_names(const EnumTable<E, N>& table) {
    return join_or(table.begin(), table.end(), [](const EnumName<E>& e) { return e.name; });
}

}  // namespace closeloop::detail
