// closeloop — the expression language of scenarios and templates.
//
// Small, safe, side-effect free (CONTRACT.md "Expressions"):
//   literals   12, 4.5, 'text', "text", true, false, null, [1, 'a']
//   paths      event.type, event.score, event.data.*, event.time, event.id,
//              contact.id|email|first_name|last_name|locale|owner|vip|tags|attributes.*,
//              contact.rfm.r|f|m|segment, voucher.code|campaign|value|currency|assigned_at|
//              expires_at|redeemed, run.id, run.started_at, links.*, now
//   operators  == != < <= > >=, and or not (&& || !), in, + -, ( )
//   functions  days(n) hours(n) minutes(n) has_tag(t) lower(s) contains(s, sub) len(x)
//              voucher_assigned_within(campaign, duration) count_events(type, duration)
//              previous_nps()
// Null rules: a missing path is null; an ordering comparison (< <= > >=) with a null side
// is false; `==`/`!=` treat null as a value (null == null); `not null` is true; arithmetic
// with null gives null; `x in null` is false. Nothing here throws; a run-time problem (a
// type mismatch inside custom data, say) is an Error value.
// Details: an empty text field of the contact, event or voucher (no owner, no e-mail) reads
// as null; `and`/`or` read null as false and always give true or false; `x not in list`
// works; len(null) is 0, has_tag/contains(null, ..) false, lower/days/hours/minutes(null)
// null; days(n) needs a whole n, hours and minutes may be fractional. `==` between different
// types is false, never an error. Durations compare by where they end from `now` (so
// days(1) == hours(24)). Where a time is expected, text holding an RFC 3339 time counts as
// that time (custom data carries times as strings). event.score is the score of
// nps_response/csat_response (for custom events: data.score when it is a number).
// Paths: `event.data.<a>.<b>` reads nested custom data; `contact.attributes.<name>` joins
// the rest with '.' (names may contain dots); `contact.attributes['first-visit']` quotes a
// name that is not a word. Columns count characters (UTF-8 code points), not bytes.
// Error codes: "invalid_expression" (parse and check), "expression_error" (evaluation).
//
// Sections: Value, evaluation context and History, Expression (parse, check, evaluate).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "closeloop/contact.h"
#include "closeloop/event.h"
#include "closeloop/result.h"
#include "closeloop/time.h"
#include "closeloop/voucher.h"  // VoucherView

namespace closeloop {

// ---- Value ---------------------------------------------------------------------------------

enum class ValueType { null, boolean, number, text, time, duration, list, any };
std::string_view value_type_name(ValueType t);  // "null", "boolean", ... ("any" = unknown statically)

struct Value {
    std::variant<std::monostate, bool, double, std::string, Time, Duration, std::vector<Value>> v;

    ValueType type() const;
    bool is_null() const { return v.index() == 0; }
    bool truthy() const;  // true only for boolean true (null and everything else: false)
    bool operator==(const Value&) const = default;

    static Value null() { return {}; }
    static Value boolean(bool b) { return {b}; }
    static Value number(double d) { return {d}; }
    static Value text(std::string s) { return {std::move(s)}; }
    static Value time(Time t) { return {t}; }
    static Value duration(Duration d) { return {d}; }
};

// As a template prints it: numbers without a trailing ".0", times in RFC 3339, null as "".
std::string to_display_string(const Value& v);
// JSON for traces and the simulator (times and durations as their ISO strings).
void to_json(nlohmann::json& j, const Value& v);

// ---- evaluation context --------------------------------------------------------------------

// Read-only history of a contact, asked by history functions. The server answers from SQL,
// the simulator from memory. Times are inclusive lower bounds; only history before `now`
// of the evaluation counts (the caller's implementation receives it).
class History {
public:
    virtual ~History() = default;
    // Was a voucher of `campaign` assigned to the contact at or after `since` (and not after `until`)?
    virtual bool voucher_assigned_between(const std::string& contact_id, const std::string& campaign, Time since,
                                          Time until) const = 0;
    // How many events of `type` the contact has with since <= time <= until.
    virtual std::int64_t count_events_between(const std::string& contact_id, const std::string& type, Time since,
                                              Time until) const = 0;
    // The contact's NPS score before the one in `current` (the answer being processed),
    // i.e. the latest nps_response strictly before `before` other than `current_event_id`.
    virtual std::optional<int> previous_nps(const std::string& contact_id, Time before,
                                            const std::string& current_event_id) const = 0;
};

// A History with nothing in it (for checks and previews).
class EmptyHistory final : public History {
public:
    bool voucher_assigned_between(const std::string&, const std::string&, Time, Time) const override { return false; }
    std::int64_t count_events_between(const std::string&, const std::string&, Time, Time) const override { return 0; }
    std::optional<int> previous_nps(const std::string&, Time, const std::string&) const override { return {}; }
};

struct RunView {
    std::string id;
    Time started_at;
};

// Everything a path or function can read. Null pointers read as null paths.
struct EvalContext {
    const Event* event = nullptr;
    const Contact* contact = nullptr;
    const VoucherView* voucher = nullptr;
    const RunView* run = nullptr;
    const std::map<std::string, std::string>* links = nullptr;  // links.unsubscribe, links.redeem, ...
    const History* history = nullptr;
    Time now;
};

// ---- static types --------------------------------------------------------------------------

// What a check knows: the trigger's event type decides which `event.data.*` exist (built-in
// types have fixed data; custom types are free and read as `any`).
struct TypeEnv {
    std::string event_type;  // the trigger's type, e.g. "nps_response"; empty = any event
    std::vector<std::string> link_names = {"unsubscribe", "redeem", "survey", "preferences"};
};

// ---- Expression ----------------------------------------------------------------------------

class Expression {
public:
    Expression();  // the literal `null`

    // Errors: code "invalid_expression", message "column 12: expected ')'", column set.
    static Result<Expression> parse(std::string_view text);

    // The static type of the expression, or an Error (with column) for an unknown path,
    // an unknown function, wrong argument count or types, or operands that never compare.
    Result<ValueType> check(const TypeEnv& env) const;

    // Never throws; a run-time type problem is an Error with the column.
    Result<Value> evaluate(const EvalContext& ctx) const;

    const std::string& text() const;
    // The paths it reads, as written ("contact.rfm.segment"), for previews and traces.
    std::vector<std::string> paths() const;
    // Whether it reads `voucher.*` (the engine looks the contact's voucher up only then).
    bool reads_voucher() const;

    struct Node;    // the AST, defined in expr.cpp
    struct Parsed;  // the text with its AST

private:
    std::shared_ptr<const Parsed> parsed_;  // immutable, so copies share it (and are cheap)
};

}  // namespace closeloop
