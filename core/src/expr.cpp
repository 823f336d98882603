// closeloop — the expression language: lexer, parser, type check, evaluation.
//
// Sections:
//   Value             type names, display strings, JSON
//   lexer             text -> tokens (columns count characters, not bytes)
//   AST               Expression::Node; paths and functions resolved to enums at parse time
//   parser            recursive descent: or < and < not < comparison/in < + - < unary < primary
//   type check        static types against a TypeEnv
//   evaluation        Val: a non-owning value, so numbers, booleans and literal lists cost no
//                     allocation and strings are views into the context or the AST
//   Expression        the public class
#include "closeloop/expr.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <forward_list>
#include <nlohmann/json.hpp>
#include <span>

namespace closeloop {

using nlohmann::json;

// ---- Value ---------------------------------------------------------------------------------

std::string_view value_type_name(ValueType t) {
    switch (t) {
        case ValueType::null:
            return "null";
        case ValueType::boolean:
            return "boolean";
        case ValueType::number:
            return "number";
        case ValueType::text:
            return "text";
        case ValueType::time:
            return "time";
        case ValueType::duration:
            return "duration";
        case ValueType::list:
            return "list";
        case ValueType::any:
            return "any";
    }
    return "any";
}

ValueType Value::type() const {
    switch (v.index()) {
        case 0:
            return ValueType::null;
        case 1:
            return ValueType::boolean;
        case 2:
            return ValueType::number;
        case 3:
            return ValueType::text;
        case 4:
            return ValueType::time;
        case 5:
            return ValueType::duration;
        default:
            return ValueType::list;
    }
}

bool Value::truthy() const {
    const bool* b = std::get_if<bool>(&v);
    return b != nullptr && *b;
}

namespace {

// Whole numbers print without a fraction ("7", not "7.0"); others with up to 15 significant
// digits, which hides binary noise (0.1 + 0.2 prints "0.3").
std::string format_number(double d) {
    char buf[40];
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 1e15)
        std::snprintf(buf, sizeof buf, "%.0f", d == 0 ? 0.0 : d);  // no "-0"
    else
        std::snprintf(buf, sizeof buf, "%.15g", d);
    return buf;
}

}  // namespace

std::string to_display_string(const Value& value) {
    switch (value.v.index()) {
        case 0:
            return "";
        case 1:
            return std::get<bool>(value.v) ? "true" : "false";
        case 2:
            return format_number(std::get<double>(value.v));
        case 3:
            return std::get<std::string>(value.v);
        case 4:
            return format_time(std::get<Time>(value.v));
        case 5:
            return format_duration(std::get<Duration>(value.v));
        default: {
            std::string out;
            for (const Value& item : std::get<std::vector<Value>>(value.v)) {
                if (!out.empty()) out += ", ";
                out += to_display_string(item);
            }
            return out;
        }
    }
}

void to_json(json& j, const Value& value) {
    switch (value.v.index()) {
        case 0:
            j = nullptr;
            return;
        case 1:
            j = std::get<bool>(value.v);
            return;
        case 2: {
            const double d = std::get<double>(value.v);
            if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9007199254740992.0)
                j = static_cast<std::int64_t>(d);
            else if (std::isfinite(d))
                j = d;
            else
                j = nullptr;  // JSON has no NaN or infinity
            return;
        }
        case 3:
            j = std::get<std::string>(value.v);
            return;
        case 4:
            j = format_time(std::get<Time>(value.v));
            return;
        case 5:
            j = format_duration(std::get<Duration>(value.v));
            return;
        default: {
            j = json::array();
            for (const Value& item : std::get<std::vector<Value>>(value.v)) j.push_back(item);
            return;
        }
    }
}

// Named (not anonymous) so that Expression::Node may hold these types without
// -Wsubobject-linkage; nothing outside this file uses them.
namespace expr_impl {

constexpr std::size_t max_length = 4096;  // characters of expression text
constexpr int max_depth = 64;             // nesting of the AST and of the parser

// ---- lexer ---------------------------------------------------------------------------------

enum class Tok : std::uint8_t {
    end,
    number,
    string,
    ident,
    kw_and,  // and &&
    kw_or,   // or ||
    kw_not,  // not !
    kw_in,
    kw_true,
    kw_false,
    kw_null,
    lparen,
    rparen,
    lbracket,
    rbracket,
    comma,
    dot,
    eq,
    ne,
    lt,
    le,
    gt,
    ge,
    plus,
    minus,
};

struct Token {
    Tok kind = Tok::end;
    int column = 1;
    std::string_view raw;  // as written
    std::string str;       // a string literal, unescaped
    double number = 0;
};

Error syntax_error(int column, const std::string& what) {
    return Error{"invalid_expression", "column " + std::to_string(column) + ": " + what, "", column};
}

bool is_ident_start(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_ident_char(char c) {
    return is_ident_start(c) || (c >= '0' && c <= '9');
}
bool is_digit(char c) {
    return c >= '0' && c <= '9';
}
bool is_continuation(char c) {
    return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

class Lexer {
public:
    explicit Lexer(std::string_view text) : text_(text) {}

    Result<std::vector<Token>> run() {
        std::vector<Token> out;
        while (true) {
            skip_space();
            Token t;
            t.column = column_at(pos_);
            if (pos_ >= text_.size()) {
                out.push_back(std::move(t));
                return out;
            }
            const std::size_t start = pos_;
            if (auto err = next(t)) return std::move(*err);
            t.raw = text_.substr(start, pos_ - start);
            out.push_back(std::move(t));
        }
    }

private:
    std::string_view text_;
    std::size_t pos_ = 0;
    std::size_t col_pos_ = 0;  // column_at() counts forward from here
    int col_ = 1;

    // 1-based column of byte `pos`, counting UTF-8 characters; positions only move forward.
    int column_at(std::size_t pos) {
        for (; col_pos_ < pos && col_pos_ < text_.size(); ++col_pos_)
            if (!is_continuation(text_[col_pos_])) ++col_;
        return col_;
    }

    void skip_space() {
        while (pos_ < text_.size() &&
               (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' || text_[pos_] == '\r'))
            ++pos_;
    }

    bool take(char c) {
        if (pos_ < text_.size() && text_[pos_] == c) {
            ++pos_;
            return true;
        }
        return false;
    }

    std::optional<Error> next(Token& t) {
        const char c = text_[pos_];
        if (is_digit(c)) return number(t);
        if (c == '\'' || c == '"') return string(t);
        if (is_ident_start(c)) {
            const std::size_t start = pos_;
            while (pos_ < text_.size() && is_ident_char(text_[pos_])) ++pos_;
            const std::string_view word = text_.substr(start, pos_ - start);
            t.kind = word == "and"     ? Tok::kw_and
                     : word == "or"    ? Tok::kw_or
                     : word == "not"   ? Tok::kw_not
                     : word == "in"    ? Tok::kw_in
                     : word == "true"  ? Tok::kw_true
                     : word == "false" ? Tok::kw_false
                     : word == "null"  ? Tok::kw_null
                                       : Tok::ident;
            return std::nullopt;
        }
        ++pos_;
        switch (c) {
            case '(':
                t.kind = Tok::lparen;
                return std::nullopt;
            case ')':
                t.kind = Tok::rparen;
                return std::nullopt;
            case '[':
                t.kind = Tok::lbracket;
                return std::nullopt;
            case ']':
                t.kind = Tok::rbracket;
                return std::nullopt;
            case ',':
                t.kind = Tok::comma;
                return std::nullopt;
            case '.':
                t.kind = Tok::dot;
                return std::nullopt;
            case '+':
                t.kind = Tok::plus;
                return std::nullopt;
            case '-':
                t.kind = Tok::minus;
                return std::nullopt;
            case '<':
                t.kind = take('=') ? Tok::le : Tok::lt;
                return std::nullopt;
            case '>':
                t.kind = take('=') ? Tok::ge : Tok::gt;
                return std::nullopt;
            case '=':
                if (take('=')) {
                    t.kind = Tok::eq;
                    return std::nullopt;
                }
                return syntax_error(t.column, "'=' is not an operator; compare with '=='");
            case '!':
                t.kind = take('=') ? Tok::ne : Tok::kw_not;
                return std::nullopt;
            case '&':
                if (take('&')) {
                    t.kind = Tok::kw_and;
                    return std::nullopt;
                }
                return syntax_error(t.column, "unexpected character '&'; use 'and' or '&&'");
            case '|':
                if (take('|')) {
                    t.kind = Tok::kw_or;
                    return std::nullopt;
                }
                return syntax_error(t.column, "unexpected character '|'; use 'or' or '||'");
            default:
                break;
        }
        const auto u = static_cast<unsigned char>(c);
        if (u >= 0x80) {
            std::size_t end = pos_;
            while (end < text_.size() && is_continuation(text_[end])) ++end;
            return syntax_error(t.column,
                                "unexpected character '" + std::string(text_.substr(pos_ - 1, end - pos_ + 1)) + "'");
        }
        if (u < 0x20 || u == 0x7f) return syntax_error(t.column, "unexpected control character");
        return syntax_error(t.column, std::string("unexpected character '") + c + "'");
    }

    std::optional<Error> number(Token& t) {
        const std::size_t start = pos_;
        while (pos_ < text_.size() && is_digit(text_[pos_])) ++pos_;
        if (pos_ < text_.size() && text_[pos_] == '.' && pos_ + 1 < text_.size() && is_digit(text_[pos_ + 1])) {
            ++pos_;
            while (pos_ < text_.size() && is_digit(text_[pos_])) ++pos_;
        }
        const std::size_t len = pos_ - start;
        if (len > 40) return syntax_error(t.column, "number is too long");
        char buf[48];
        text_.copy(buf, len, start);
        buf[len] = '\0';
        t.kind = Tok::number;
        t.number = std::strtod(buf, nullptr);  // digits and one '.' only: no locale surprises
        return std::nullopt;
    }

    std::optional<Error> string(Token& t) {
        const char quote = text_[pos_++];
        while (pos_ < text_.size()) {
            const char c = text_[pos_];
            if (c == quote) {
                ++pos_;
                t.kind = Tok::string;
                return std::nullopt;
            }
            if (c != '\\') {
                t.str += c;
                ++pos_;
                continue;
            }
            const int escape_column = column_at(pos_);
            if (pos_ + 1 >= text_.size()) break;
            const char e = text_[pos_ + 1];
            pos_ += 2;
            switch (e) {
                case '\\':
                case '\'':
                case '"':
                case '/':
                    t.str += e;
                    break;
                case 'n':
                    t.str += '\n';
                    break;
                case 't':
                    t.str += '\t';
                    break;
                case 'r':
                    t.str += '\r';
                    break;
                case 'u': {
                    std::uint32_t cp = 0;
                    for (int i = 0; i < 4; ++i, ++pos_) {
                        const char h = pos_ < text_.size() ? text_[pos_] : '\0';
                        const int digit = is_digit(h)              ? h - '0'
                                          : (h >= 'a' && h <= 'f') ? h - 'a' + 10
                                          : (h >= 'A' && h <= 'F') ? h - 'A' + 10
                                                                   : -1;
                        if (digit < 0) return syntax_error(escape_column, "\\u needs four hex digits");
                        cp = cp * 16 + static_cast<std::uint32_t>(digit);
                    }
                    if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;  // lone surrogate
                    append_utf8(t.str, cp);
                    break;
                }
                default:
                    if (is_continuation(e) || static_cast<unsigned char>(e) >= 0x80)
                        return syntax_error(escape_column, "unknown escape in a string");
                    return syntax_error(escape_column, std::string("unknown escape \\") + e + " in a string");
            }
        }
        return syntax_error(t.column, "unclosed string");
    }
};

// ---- AST -----------------------------------------------------------------------------------

enum class Op : std::uint8_t {
    literal,  // also a list of literals, folded at parse time
    list,     // a list with computed elements
    path,
    call,
    not_,
    neg,
    and_,  // n-ary
    or_,   // n-ary
    eq,
    ne,
    lt,
    le,
    gt,
    ge,
    in,
    not_in,
    add,
    sub,
};

enum class PathId : std::uint8_t {
    unknown,
    event_type,
    event_id,
    event_time,
    event_score,
    event_data,  // keys: the nested field names
    contact_id,
    contact_email,
    contact_first_name,
    contact_last_name,
    contact_locale,
    contact_owner,
    contact_vip,
    contact_tags,
    contact_attribute,  // keys[0]: the attribute name (segments joined by '.')
    contact_rfm_r,
    contact_rfm_f,
    contact_rfm_m,
    contact_rfm_segment,
    voucher_code,
    voucher_campaign,
    voucher_currency,
    voucher_value,
    voucher_assigned_at,
    voucher_expires_at,
    voucher_redeemed,
    run_id,
    run_started_at,
    now,
    link,  // keys[0]: the link name
};

enum class Func : std::uint8_t {
    unknown,
    days,
    hours,
    minutes,
    has_tag,
    lower,
    contains,
    len,
    voucher_assigned_within,
    count_events,
    previous_nps,
};

struct FuncInfo {
    std::string_view name;
    Func func;
    std::size_t arity;
};
constexpr FuncInfo functions[] = {
    {"days", Func::days, 1},
    {"hours", Func::hours, 1},
    {"minutes", Func::minutes, 1},
    {"has_tag", Func::has_tag, 1},
    {"lower", Func::lower, 1},
    {"contains", Func::contains, 2},
    {"len", Func::len, 1},
    {"voucher_assigned_within", Func::voucher_assigned_within, 2},
    {"count_events", Func::count_events, 2},
    {"previous_nps", Func::previous_nps, 0},
};

const FuncInfo* find_function(Func f) {
    for (const auto& info : functions)
        if (info.func == f) return &info;
    return nullptr;
}

}  // namespace expr_impl

using namespace expr_impl;

struct Expression::Node {
    Op op = Op::literal;
    PathId path = PathId::unknown;
    Func func = Func::unknown;
    bool maybe_time = false;  // event.data.expires_at: a time when the event is voucher_assigned
    int column = 1;           // of the operator, the path, the function name or the literal
    int depth = 1;
    Value literal;
    std::vector<std::string> keys;
    std::string name;     // a path as written (canonical dotted form) or a function name
    std::string problem;  // why a path is unknown (reported by check)
    std::vector<Node> kids;
};

namespace expr_impl {

using Node = Expression::Node;

// ---- paths ---------------------------------------------------------------------------------

struct NamedPath {
    std::string_view name;
    PathId id;
};
constexpr NamedPath event_fields[] = {{"type", PathId::event_type},
                                      {"id", PathId::event_id},
                                      {"time", PathId::event_time},
                                      {"score", PathId::event_score}};
constexpr NamedPath contact_fields[] = {{"id", PathId::contact_id},
                                        {"email", PathId::contact_email},
                                        {"first_name", PathId::contact_first_name},
                                        {"last_name", PathId::contact_last_name},
                                        {"locale", PathId::contact_locale},
                                        {"owner", PathId::contact_owner},
                                        {"vip", PathId::contact_vip},
                                        {"tags", PathId::contact_tags}};
constexpr NamedPath rfm_fields[] = {{"r", PathId::contact_rfm_r},
                                    {"f", PathId::contact_rfm_f},
                                    {"m", PathId::contact_rfm_m},
                                    {"segment", PathId::contact_rfm_segment}};
constexpr NamedPath voucher_fields[] = {{"code", PathId::voucher_code},
                                        {"campaign", PathId::voucher_campaign},
                                        {"currency", PathId::voucher_currency},
                                        {"value", PathId::voucher_value},
                                        {"assigned_at", PathId::voucher_assigned_at},
                                        {"expires_at", PathId::voucher_expires_at},
                                        {"redeemed", PathId::voucher_redeemed}};
constexpr NamedPath run_fields[] = {{"id", PathId::run_id}, {"started_at", PathId::run_started_at}};

PathId lookup(std::span<const NamedPath> table, std::string_view name) {
    for (const auto& p : table)
        if (p.name == name) return p.id;
    return PathId::unknown;
}

// Resolves the segments of a path into `n` (path, keys, problem).
void resolve_path(Node& n, const std::vector<std::string>& seg) {
    const std::string& root = seg[0];
    const std::size_t count = seg.size();
    auto unknown = [&](std::string hint) {
        n.path = PathId::unknown;
        n.problem = "unknown path " + n.name + " (" + std::move(hint) + ")";
    };
    if (root == "event") {
        if (count >= 2 && seg[1] == "data") {
            if (count == 2) return unknown("event.data needs a field name, e.g. event.data.comment");
            n.path = PathId::event_data;
            n.keys.assign(seg.begin() + 2, seg.end());
            n.maybe_time = count == 3 && seg[2] == "expires_at";
            return;
        }
        if (count == 2) n.path = lookup(event_fields, seg[1]);
        if (n.path == PathId::unknown) unknown("event has type, id, time, score and data.*");
        return;
    }
    if (root == "contact") {
        if (count >= 2 && seg[1] == "attributes") {
            if (count == 2) return unknown("contact.attributes needs a name, e.g. contact.attributes.branch");
            n.path = PathId::contact_attribute;
            std::string key = seg[2];
            for (std::size_t i = 3; i < count; ++i) key += "." + seg[i];  // attribute names may contain '.'
            n.keys = {std::move(key)};
            return;
        }
        if (count == 3 && seg[1] == "rfm") n.path = lookup(rfm_fields, seg[2]);
        if (count == 2) n.path = lookup(contact_fields, seg[1]);
        if (n.path == PathId::unknown)
            unknown(
                "contact has id, email, first_name, last_name, locale, owner, vip, tags, attributes.*, rfm.r, rfm.f, "
                "rfm.m and rfm.segment");
        return;
    }
    if (root == "voucher") {
        if (count == 2) n.path = lookup(voucher_fields, seg[1]);
        if (n.path == PathId::unknown)
            unknown("voucher has code, campaign, value, currency, assigned_at, expires_at and redeemed");
        return;
    }
    if (root == "run") {
        if (count == 2) n.path = lookup(run_fields, seg[1]);
        if (n.path == PathId::unknown) unknown("run has id and started_at");
        return;
    }
    if (root == "links") {
        if (count == 2) {
            n.path = PathId::link;
            n.keys = {seg[1]};
            return;
        }
        return unknown("a link is links.<name>, e.g. links.unsubscribe");
    }
    if (root == "now") {
        if (count == 1) {
            n.path = PathId::now;
            return;
        }
        return unknown("now has no fields");
    }
    unknown("paths start with event, contact, voucher, run or links, or are now");
}

// ---- parser --------------------------------------------------------------------------------

std::string describe(const Token& t) {
    if (t.kind == Tok::end) return "end of expression";
    std::string raw(t.raw.substr(0, 24));
    if (raw.size() < t.raw.size()) raw += "...";
    return "'" + raw + "'";
}

class Parser {
public:
    explicit Parser(std::vector<Token> tokens) : toks_(std::move(tokens)) {}

    std::optional<Error> error;

    Node parse_all() {
        Node n = parse_or();
        if (!error && peek().kind != Tok::end) {
            const Token& t = peek();
            if (is_comparison(t.kind) || t.kind == Tok::kw_in)
                fail(t.column, "comparisons do not chain; combine them with 'and'");
            else
                fail(t.column, "unexpected " + describe(t) + " after a complete expression");
        }
        return n;
    }

private:
    std::vector<Token> toks_;
    std::size_t i_ = 0;
    int nesting_ = 0;

    const Token& peek(std::size_t ahead = 0) const { return toks_[std::min(i_ + ahead, toks_.size() - 1)]; }
    const Token& take() {
        const Token& t = toks_[i_];
        if (i_ + 1 < toks_.size()) ++i_;
        return t;
    }
    void fail(int column, const std::string& what) {
        if (!error) error = syntax_error(column, what);
    }
    static bool is_comparison(Tok k) {
        return k == Tok::eq || k == Tok::ne || k == Tok::lt || k == Tok::le || k == Tok::gt || k == Tok::ge;
    }

    // Guards the parser's own recursion (parentheses, lists, calls, not, unary minus).
    bool enter(int column) {
        if (++nesting_ > max_depth) {
            fail(column, "expression is nested too deeply (more than " + std::to_string(max_depth) + " levels)");
            return false;
        }
        return true;
    }
    void leave() { --nesting_; }

    Node make(Op op, int column, std::vector<Node> kids) {
        Node n;
        n.op = op;
        n.column = column;
        int deepest = 0;
        for (const Node& k : kids) deepest = std::max(deepest, k.depth);
        n.depth = deepest + 1;
        n.kids = std::move(kids);
        if (n.depth > max_depth)
            fail(column, "expression is nested too deeply (more than " + std::to_string(max_depth) + " levels)");
        return n;
    }

    static Node literal(Value v, int column) {
        Node n;
        n.literal = std::move(v);
        n.column = column;
        return n;
    }

    // and/or are n-ary: `a and b and c` is one node, so long chains stay shallow.
    Node parse_chain(Tok kind, Op op, Node (Parser::*operand)()) {
        Node first = (this->*operand)();
        if (error || peek().kind != kind) return first;
        const int column = peek().column;
        std::vector<Node> kids;
        kids.push_back(std::move(first));
        while (!error && peek().kind == kind) {
            take();
            kids.push_back((this->*operand)());
        }
        if (error) return {};
        return make(op, column, std::move(kids));
    }

    Node parse_or() { return parse_chain(Tok::kw_or, Op::or_, &Parser::parse_and); }
    Node parse_and() { return parse_chain(Tok::kw_and, Op::and_, &Parser::parse_not); }

    Node parse_not() {
        if (peek().kind != Tok::kw_not) return parse_comparison();
        const int column = take().column;
        if (!enter(column)) return {};
        Node operand = parse_not();
        leave();
        if (error) return {};
        std::vector<Node> kids;
        kids.push_back(std::move(operand));
        return make(Op::not_, column, std::move(kids));
    }

    Node parse_comparison() {
        Node left = parse_additive();
        if (error) return {};
        const Token& t = peek();
        Op op;
        switch (t.kind) {
            case Tok::eq:
                op = Op::eq;
                break;
            case Tok::ne:
                op = Op::ne;
                break;
            case Tok::lt:
                op = Op::lt;
                break;
            case Tok::le:
                op = Op::le;
                break;
            case Tok::gt:
                op = Op::gt;
                break;
            case Tok::ge:
                op = Op::ge;
                break;
            case Tok::kw_in:
                op = Op::in;
                break;
            case Tok::kw_not:
                if (peek(1).kind != Tok::kw_in) return left;
                op = Op::not_in;
                take();
                break;
            default:
                return left;
        }
        const int column = take().column;
        Node right = parse_additive();
        if (error) return {};
        std::vector<Node> kids;
        kids.push_back(std::move(left));
        kids.push_back(std::move(right));
        return make(op, column, std::move(kids));
    }

    Node parse_additive() {
        Node left = parse_unary();
        while (!error && (peek().kind == Tok::plus || peek().kind == Tok::minus)) {
            const Token& t = take();
            const Op op = t.kind == Tok::plus ? Op::add : Op::sub;
            const int column = t.column;
            Node right = parse_unary();
            if (error) return {};
            std::vector<Node> kids;
            kids.push_back(std::move(left));
            kids.push_back(std::move(right));
            left = make(op, column, std::move(kids));
        }
        if (error) return {};
        return left;
    }

    Node parse_unary() {
        if (peek().kind != Tok::minus) return parse_primary();
        const int column = take().column;
        if (!enter(column)) return {};
        Node operand = parse_unary();
        leave();
        if (error) return {};
        if (operand.op == Op::literal && operand.literal.type() == ValueType::number) {  // fold -5
            operand.literal = Value::number(-std::get<double>(operand.literal.v));
            operand.column = column;
            return operand;
        }
        std::vector<Node> kids;
        kids.push_back(std::move(operand));
        return make(Op::neg, column, std::move(kids));
    }

    Node parse_primary() {
        const Token& t = peek();
        switch (t.kind) {
            case Tok::number:
                take();
                return literal(Value::number(t.number), t.column);
            case Tok::string:
                take();
                return literal(Value::text(t.str), t.column);
            case Tok::kw_true:
                take();
                return literal(Value::boolean(true), t.column);
            case Tok::kw_false:
                take();
                return literal(Value::boolean(false), t.column);
            case Tok::kw_null:
                take();
                return literal(Value::null(), t.column);
            case Tok::lparen: {
                take();
                if (!enter(t.column)) return {};
                Node inner = parse_or();
                leave();
                if (error) return {};
                if (peek().kind != Tok::rparen) {
                    fail(peek().column, "expected ')'");
                    return {};
                }
                take();
                return inner;
            }
            case Tok::lbracket:
                return parse_list();
            case Tok::ident:
                if (peek(1).kind == Tok::lparen) return parse_call();
                return parse_path();
            case Tok::end:
                fail(t.column, "unexpected end of expression");
                return {};
            default:
                fail(t.column, "expected a value, found " + describe(t));
                return {};
        }
    }

    Node parse_list() {
        const int column = take().column;
        if (!enter(column)) return {};
        std::vector<Node> items;
        if (peek().kind != Tok::rbracket) {
            while (true) {
                items.push_back(parse_or());
                if (error) return {};
                if (peek().kind == Tok::comma) {
                    take();
                    continue;
                }
                if (peek().kind == Tok::rbracket) break;
                fail(peek().column, "expected ',' or ']' in the list");
                return {};
            }
        }
        take();  // ]
        leave();
        const bool constant =
            std::all_of(items.begin(), items.end(), [](const Node& k) { return k.op == Op::literal; });
        if (constant) {  // fold: evaluation then only points at this vector
            std::vector<Value> values;
            values.reserve(items.size());
            for (Node& k : items) values.push_back(std::move(k.literal));
            Node n = literal(Value{std::move(values)}, column);
            return n;
        }
        return make(Op::list, column, std::move(items));
    }

    Node parse_call() {
        const Token& name = take();
        take();  // (
        if (!enter(name.column)) return {};
        std::vector<Node> args;
        if (peek().kind != Tok::rparen) {
            while (true) {
                args.push_back(parse_or());
                if (error) return {};
                if (peek().kind == Tok::comma) {
                    take();
                    continue;
                }
                if (peek().kind == Tok::rparen) break;
                fail(peek().column, "expected ',' or ')' after an argument of " + std::string(name.raw) + "()");
                return {};
            }
        }
        take();  // )
        leave();
        Node n = make(Op::call, name.column, std::move(args));
        n.name = std::string(name.raw);
        for (const auto& info : functions)
            if (info.name == name.raw) n.func = info.func;
        return n;
    }

    Node parse_path() {
        const Token& first = take();
        std::vector<std::string> seg{std::string(first.raw)};
        while (true) {
            if (peek().kind == Tok::dot) {
                take();
                const Token& t = peek();
                // Any word is a field name after a dot (event.data.in, contact.attributes.null).
                const bool word = t.kind == Tok::ident || t.kind == Tok::kw_and || t.kind == Tok::kw_or ||
                                  t.kind == Tok::kw_not || t.kind == Tok::kw_in || t.kind == Tok::kw_true ||
                                  t.kind == Tok::kw_false || t.kind == Tok::kw_null;
                if (!word) {
                    fail(t.column, "expected a field name after '.', found " + describe(t));
                    return {};
                }
                seg.emplace_back(t.raw);
                take();
            } else if (peek().kind == Tok::lbracket) {  // contact.attributes['first-visit']
                const int column = take().column;
                if (peek().kind != Tok::string) {
                    fail(peek().column, "expected a quoted field name after '['");
                    return {};
                }
                seg.push_back(take().str);
                if (peek().kind != Tok::rbracket) {
                    fail(peek().column, "expected ']'");
                    return {};
                }
                take();
                if (seg.back().empty()) {
                    fail(column, "a field name cannot be empty");
                    return {};
                }
            } else {
                break;
            }
        }
        Node n;
        n.op = Op::path;
        n.column = first.column;
        n.name = seg[0];
        for (std::size_t i = 1; i < seg.size(); ++i) n.name += "." + seg[i];
        resolve_path(n, seg);
        return n;
    }
};

// ---- type check ----------------------------------------------------------------------------

struct SType {
    ValueType t = ValueType::any;
    ValueType elem = ValueType::any;  // for lists: the element type when known
};

struct FieldType {
    std::string_view name;
    ValueType type;
};
constexpr FieldType nps_fields[] = {{"score", ValueType::number},
                                    {"comment", ValueType::text},
                                    {"survey", ValueType::text},
                                    {"channel", ValueType::text}};
constexpr FieldType csat_fields[] = {{"score", ValueType::number},   {"comment", ValueType::text},
                                     {"ticket_id", ValueType::text}, {"agent", ValueType::text},
                                     {"topic", ValueType::text},     {"survey", ValueType::text},
                                     {"channel", ValueType::text}};
constexpr FieldType purchase_fields[] = {{"order_id", ValueType::text},
                                         {"amount", ValueType::number},
                                         {"currency", ValueType::text},
                                         {"items", ValueType::list}};
constexpr FieldType ticket_resolved_fields[] = {
    {"ticket_id", ValueType::text}, {"agent", ValueType::text}, {"group", ValueType::text}};
constexpr FieldType ticket_tagged_fields[] = {{"ticket_id", ValueType::text}, {"tag", ValueType::text}};
constexpr FieldType voucher_redeemed_fields[] = {{"code", ValueType::text}, {"campaign", ValueType::text}};
constexpr FieldType voucher_assigned_fields[] = {{"campaign", ValueType::text},
                                                 {"code", ValueType::text},
                                                 {"value", ValueType::number},
                                                 {"currency", ValueType::text},
                                                 {"expires_at", ValueType::time}};

std::span<const FieldType> builtin_fields(EventType kind) {
    switch (kind) {
        case EventType::nps_response:
            return nps_fields;
        case EventType::csat_response:
            return csat_fields;
        case EventType::purchase:
            return purchase_fields;
        case EventType::ticket_resolved:
            return ticket_resolved_fields;
        case EventType::ticket_tagged:
            return ticket_tagged_fields;
        case EventType::voucher_redeemed:
            return voucher_redeemed_fields;
        case EventType::voucher_assigned:
            return voucher_assigned_fields;
        case EventType::custom:
            break;
    }
    return {};
}

bool known(ValueType t) {
    return t != ValueType::any && t != ValueType::null;
}

std::string article(ValueType t) {
    switch (t) {
        case ValueType::any:
            return "a value of unknown type";
        case ValueType::null:
            return "null";
        case ValueType::list:
            return "a list";
        case ValueType::text:
            return "text";
        case ValueType::boolean:
            return "a boolean";
        case ValueType::number:
            return "a number";
        case ValueType::time:
            return "a time";
        case ValueType::duration:
            return "a duration";
    }
    return "a value";
}

class Checker {
public:
    explicit Checker(const TypeEnv& env) : env_(env), kind_(event_type_of(env.event_type)) {}

    std::optional<Error> error;

    SType check(const Node& n) {
        switch (n.op) {
            case Op::literal:
                return literal_type(n.literal);
            case Op::list: {
                SType out{ValueType::list, ValueType::null};
                for (const Node& k : n.kids) {
                    const SType s = check(k);
                    if (error) return {};
                    out.elem = join(out.elem, s.t);
                }
                if (out.elem == ValueType::null) out.elem = ValueType::any;
                return out;
            }
            case Op::path:
                return path_type(n);
            case Op::call:
                return call_type(n);
            case Op::not_:
            case Op::and_:
            case Op::or_: {
                const char* word = n.op == Op::not_ ? "not" : n.op == Op::and_ ? "and" : "or";
                for (const Node& k : n.kids) {
                    const SType s = check(k);
                    if (error) return {};
                    if (known(s.t) && s.t != ValueType::boolean)
                        return fail(k.column, std::string("'") + word + "' needs true or false, not " + article(s.t));
                }
                return {ValueType::boolean};
            }
            case Op::eq:
            case Op::ne: {
                check(n.kids[0]);
                if (!error) check(n.kids[1]);
                return {ValueType::boolean};
            }
            case Op::lt:
            case Op::le:
            case Op::gt:
            case Op::ge: {
                const SType a = check(n.kids[0]);
                if (error) return {};
                const SType b = check(n.kids[1]);
                if (error) return {};
                for (const SType* s : {&a, &b})
                    if (s->t == ValueType::boolean || s->t == ValueType::list)
                        return fail(n.column, "cannot order " + article(s->t) +
                                                  "; only numbers, text, times and "
                                                  "durations have an order");
                if (known(a.t) && known(b.t) && a.t != b.t)
                    return fail(n.column, "cannot compare " + article(a.t) + " with " + article(b.t));
                return {ValueType::boolean};
            }
            case Op::in:
            case Op::not_in: {
                const SType a = check(n.kids[0]);
                if (error) return {};
                const SType b = check(n.kids[1]);
                if (error) return {};
                if (known(b.t) && b.t != ValueType::list)
                    return fail(n.kids[1].column, "'in' needs a list on the right, not " + article(b.t) +
                                                      (b.t == ValueType::text ? "; use contains(text, part)" : ""));
                if (b.t == ValueType::list && known(a.t) && known(b.elem) && a.t != b.elem)
                    return fail(n.column, "cannot look for " + article(a.t) + " in a list of " +
                                              std::string(value_type_name(b.elem)) + " values");
                return {ValueType::boolean};
            }
            case Op::neg: {
                const SType a = check(n.kids[0]);
                if (error) return {};
                if (known(a.t) && a.t != ValueType::number && a.t != ValueType::duration)
                    return fail(n.column, "cannot negate " + article(a.t));
                return {a.t};
            }
            case Op::add:
            case Op::sub:
                return arithmetic_type(n);
        }
        return {};
    }

private:
    const TypeEnv& env_;
    EventType kind_;

    SType fail(int column, const std::string& what) {
        if (!error) error = syntax_error(column, what);
        return {};
    }

    static ValueType join(ValueType so_far, ValueType next) {
        if (so_far == ValueType::null) return next;
        if (next == ValueType::null || next == so_far) return so_far;
        return ValueType::any;
    }

    static SType literal_type(const Value& v) {
        const ValueType t = v.type();
        if (t != ValueType::list) return {t};
        SType out{ValueType::list, ValueType::null};
        for (const Value& item : std::get<std::vector<Value>>(v.v)) out.elem = join(out.elem, item.type());
        if (out.elem == ValueType::null) out.elem = ValueType::any;
        return out;
    }

    bool builtin() const { return !env_.event_type.empty() && kind_ != EventType::custom; }

    SType path_type(const Node& n) {
        switch (n.path) {
            case PathId::unknown:
                return fail(n.column, n.problem);
            case PathId::event_type:
            case PathId::event_id:
                return {ValueType::text};
            case PathId::event_time:
                return {ValueType::time};
            case PathId::event_score:
                if (builtin() && kind_ != EventType::nps_response && kind_ != EventType::csat_response)
                    return fail(n.column, "event.score exists only for nps_response and csat_response events, not " +
                                              env_.event_type);
                return {ValueType::number};
            case PathId::event_data:
                return data_type(n);
            case PathId::contact_id:
            case PathId::contact_email:
            case PathId::contact_first_name:
            case PathId::contact_last_name:
            case PathId::contact_locale:
            case PathId::contact_owner:
            case PathId::contact_rfm_segment:
            case PathId::voucher_code:
            case PathId::voucher_campaign:
            case PathId::voucher_currency:
            case PathId::run_id:
                return {ValueType::text};
            case PathId::contact_vip:
            case PathId::voucher_redeemed:
                return {ValueType::boolean};
            case PathId::contact_tags:
                return {ValueType::list, ValueType::text};
            case PathId::contact_attribute:
                return {ValueType::any};
            case PathId::contact_rfm_r:
            case PathId::contact_rfm_f:
            case PathId::contact_rfm_m:
            case PathId::voucher_value:
                return {ValueType::number};
            case PathId::voucher_assigned_at:
            case PathId::voucher_expires_at:
            case PathId::run_started_at:
            case PathId::now:
                return {ValueType::time};
            case PathId::link: {
                const auto& names = env_.link_names;
                if (std::find(names.begin(), names.end(), n.keys[0]) != names.end()) return {ValueType::text};
                std::string list;
                for (const auto& name : names) list += (list.empty() ? "" : ", ") + name;
                return fail(n.column, "unknown link " + n.name + " (known links: " + list + ")");
            }
        }
        return {};
    }

    SType data_type(const Node& n) {
        if (!builtin()) return {ValueType::any};  // custom events have free data
        const auto fields = builtin_fields(kind_);
        const auto it =
            std::find_if(fields.begin(), fields.end(), [&](const FieldType& f) { return f.name == n.keys[0]; });
        if (it == fields.end()) {
            std::string list;
            for (const auto& f : fields) list += (list.empty() ? "" : ", ") + std::string(f.name);
            return fail(n.column, "unknown field " + n.name + ": " + env_.event_type + " events have " + list);
        }
        if (n.keys.size() > 1)
            return fail(n.column,
                        "event.data." + n.keys[0] + " is " + article(it->type) + "; it has no field " + n.keys[1]);
        if (it->type == ValueType::list) return {ValueType::list, ValueType::any};
        return {it->type};
    }

    // Checks argument `i` of a call against the allowed types (any and null always pass).
    bool expect_arg(const Node& call, std::size_t i, const SType& s, std::initializer_list<ValueType> allowed,
                    const char* what) {
        if (!known(s.t)) return true;
        for (ValueType t : allowed)
            if (t == s.t) return true;
        fail(call.kids[i].column,
             "argument " + std::to_string(i + 1) + " of " + call.name + "() must be " + what + ", not " + article(s.t));
        return false;
    }

    SType call_type(const Node& n) {
        if (n.func == Func::unknown) {
            std::string list;
            for (const auto& f : functions) list += (list.empty() ? "" : ", ") + std::string(f.name);
            return fail(n.column, "unknown function " + n.name + "() (functions: " + list + ")");
        }
        const FuncInfo& info = *find_function(n.func);
        if (n.kids.size() != info.arity)
            return fail(n.column, n.name + "() takes " + std::to_string(info.arity) +
                                      (info.arity == 1 ? " argument" : " arguments") + ", not " +
                                      std::to_string(n.kids.size()));
        std::vector<SType> args;
        for (const Node& k : n.kids) {
            args.push_back(check(k));
            if (error) return {};
        }
        switch (n.func) {
            case Func::days:
            case Func::hours:
            case Func::minutes:
                if (!expect_arg(n, 0, args[0], {ValueType::number}, "a number")) return {};
                return {ValueType::duration};
            case Func::has_tag:
                if (!expect_arg(n, 0, args[0], {ValueType::text}, "text")) return {};
                return {ValueType::boolean};
            case Func::lower:
                if (!expect_arg(n, 0, args[0], {ValueType::text}, "text")) return {};
                return {ValueType::text};
            case Func::contains:
                if (!expect_arg(n, 0, args[0], {ValueType::text, ValueType::list}, "text or a list")) return {};
                if (args[0].t == ValueType::text &&
                    !expect_arg(n, 1, args[1], {ValueType::text}, "text when looking inside text"))
                    return {};
                if (args[0].t == ValueType::list && known(args[0].elem) && known(args[1].t) &&
                    args[1].t != args[0].elem)
                    return fail(n.kids[1].column, "cannot look for " + article(args[1].t) + " in a list of " +
                                                      std::string(value_type_name(args[0].elem)) + " values");
                return {ValueType::boolean};
            case Func::len:
                if (!expect_arg(n, 0, args[0], {ValueType::text, ValueType::list}, "text or a list")) return {};
                return {ValueType::number};
            case Func::voucher_assigned_within:
            case Func::count_events:
                if (!expect_arg(n, 0, args[0], {ValueType::text}, "text")) return {};
                if (!expect_arg(n, 1, args[1], {ValueType::duration}, "a duration such as days(30)")) return {};
                return {n.func == Func::count_events ? ValueType::number : ValueType::boolean};
            case Func::previous_nps:
                return {ValueType::number};
            case Func::unknown:
                break;
        }
        return {};
    }

    SType arithmetic_type(const Node& n) {
        const SType a = check(n.kids[0]);
        if (error) return {};
        const SType b = check(n.kids[1]);
        if (error) return {};
        const bool add = n.op == Op::add;
        using VT = ValueType;
        const VT x = a.t, y = b.t;
        for (VT t : {x, y})
            if (t == VT::boolean || t == VT::text || t == VT::list)
                return fail(n.column, std::string("cannot ") + (add ? "add" : "subtract") + " " + article(t) +
                                          " (+ and - work on numbers, times and durations)");
        if (x == VT::null || y == VT::null) return {VT::null};
        if (x == VT::any && y == VT::any) return {VT::any};
        if (x == VT::number || y == VT::number) {
            if ((x == VT::number || x == VT::any) && (y == VT::number || y == VT::any)) return {VT::number};
        } else if (x == VT::time && y == VT::time) {
            if (!add) return {VT::duration};
        } else if (x == VT::time || y == VT::time) {
            if (x == VT::any || y == VT::any) return {VT::any};  // time - time or time +- duration
            if (x == VT::time && y == VT::duration) return {VT::time};
            if (add && x == VT::duration && y == VT::time) return {VT::time};
        } else if (x == VT::duration || y == VT::duration) {
            if (x == VT::any || y == VT::any) return {VT::any};  // a duration, or a time plus a duration
            return {VT::duration};
        }
        return fail(n.column, std::string("cannot ") + (add ? "add " : "subtract ") + article(y) +
                                  (add ? " to " : " from ") + article(x));
    }
};

// ---- evaluation ----------------------------------------------------------------------------

enum class ListKind : std::uint8_t { values, strings, json };

// A value that borrows: text is a view into the context, the AST or the evaluator's scratch;
// a list points at a vector<Value>, a vector<string> (contact.tags) or a JSON array.
struct Val {
    ValueType type = ValueType::null;
    ListKind list_kind = ListKind::values;
    bool b = false;
    double n = 0;
    Time t{};
    Duration d{};
    std::string_view s{};
    const void* list = nullptr;
};

Val make_bool(bool b) {
    Val v;
    v.type = ValueType::boolean;
    v.b = b;
    return v;
}
Val make_number(double n) {
    Val v;
    v.type = ValueType::number;
    v.n = n;
    return v;
}
Val make_text(std::string_view s) {
    Val v;
    v.type = ValueType::text;
    v.s = s;
    return v;
}
// Empty text fields of the contact and the event mean "not given", which reads as null.
Val text_or_null(const std::string& s) {
    return s.empty() ? Val{} : make_text(s);
}
Val make_time(Time t) {
    Val v;
    v.type = ValueType::time;
    v.t = t;
    return v;
}
Val make_duration(Duration d) {
    Val v;
    v.type = ValueType::duration;
    v.d = d;
    return v;
}
Val make_list(ListKind kind, const void* list) {
    Val v;
    v.type = ValueType::list;
    v.list_kind = kind;
    v.list = list;
    return v;
}

Val view(const Value& value) {
    switch (value.v.index()) {
        case 0:
            return {};
        case 1:
            return make_bool(std::get<bool>(value.v));
        case 2:
            return make_number(std::get<double>(value.v));
        case 3:
            return make_text(std::get<std::string>(value.v));
        case 4:
            return make_time(std::get<Time>(value.v));
        case 5:
            return make_duration(std::get<Duration>(value.v));
        default:
            return make_list(ListKind::values, &std::get<std::vector<Value>>(value.v));
    }
}

// JSON objects have no expression type and read as null.
Val view(const json& j) {
    switch (j.type()) {
        case json::value_t::boolean:
            return make_bool(*j.get_ptr<const json::boolean_t*>());
        case json::value_t::number_integer:
        case json::value_t::number_unsigned:
        case json::value_t::number_float:
            return make_number(j.get<double>());
        case json::value_t::string:
            return make_text(*j.get_ptr<const json::string_t*>());
        case json::value_t::array:
            return make_list(ListKind::json, &j);
        default:
            return {};
    }
}

std::size_t list_size(const Val& v) {
    switch (v.list_kind) {
        case ListKind::values:
            return static_cast<const std::vector<Value>*>(v.list)->size();
        case ListKind::strings:
            return static_cast<const std::vector<std::string>*>(v.list)->size();
        case ListKind::json:
            return static_cast<const json*>(v.list)->size();
    }
    return 0;
}

Val list_at(const Val& v, std::size_t i) {
    switch (v.list_kind) {
        case ListKind::values:
            return view((*static_cast<const std::vector<Value>*>(v.list))[i]);
        case ListKind::strings:
            return make_text((*static_cast<const std::vector<std::string>*>(v.list))[i]);
        case ListKind::json:
            return view((*static_cast<const json*>(v.list))[i]);
    }
    return {};
}

Value to_value(const Val& v) {
    switch (v.type) {
        case ValueType::boolean:
            return Value::boolean(v.b);
        case ValueType::number:
            return Value::number(v.n);
        case ValueType::text:
            return Value::text(std::string(v.s));
        case ValueType::time:
            return Value::time(v.t);
        case ValueType::duration:
            return Value::duration(v.d);
        case ValueType::list: {
            if (v.list_kind == ListKind::values) return Value{*static_cast<const std::vector<Value>*>(v.list)};
            std::vector<Value> items;
            const std::size_t size = list_size(v);
            items.reserve(size);
            for (std::size_t i = 0; i < size; ++i) items.push_back(to_value(list_at(v, i)));
            return Value{std::move(items)};
        }
        case ValueType::null:
        case ValueType::any:
            break;
    }
    return {};
}

// A text that holds an RFC 3339 time counts as that time where a time is expected (custom
// event data and attributes carry times as strings).
bool as_time(const Val& v, Time& out) {
    if (v.type == ValueType::time) {
        out = v.t;
        return true;
    }
    if (v.type != ValueType::text) return false;
    auto t = parse_time(v.s);
    if (!t) return false;
    out = *t;
    return true;
}

// Durations compare by where they end when added to `anchor` (the evaluation's now), so
// days(1) == hours(24), and months compare as the calendar has them.
std::int64_t duration_end(const Duration& d, Time anchor) {
    return add(anchor, d).ms;
}

std::int64_t utf8_length(std::string_view s) {
    std::int64_t n = 0;
    for (char c : s)
        if (!is_continuation(c)) ++n;
    return n;
}

// Lower-cases ASCII, Latin-1, Latin Extended-A, Greek and Cyrillic capitals (Czech, Polish,
// German, ... names and comments); other characters are copied.
std::string to_lower(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            out += (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : static_cast<char>(c);
            ++i;
            continue;
        }
        std::size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
        if (len != 2 || i + 1 >= s.size() || !is_continuation(s[i + 1])) {
            len = std::min(len, s.size() - i);
            out.append(s.substr(i, len));
            i += len;
            continue;
        }
        std::uint32_t cp = ((c & 0x1Fu) << 6) | (static_cast<unsigned char>(s[i + 1]) & 0x3Fu);
        if ((cp >= 0xC0 && cp <= 0xDE && cp != 0xD7) || (cp >= 0x391 && cp <= 0x3AB && cp != 0x3A2) ||
            (cp >= 0x410 && cp <= 0x42F))
            cp += 0x20;
        else if (cp >= 0x400 && cp <= 0x40F)
            cp += 0x50;
        else if (cp == 0x130)
            cp = 'i';
        else if (cp == 0x178)
            cp = 0xFF;
        else if ((cp >= 0x100 && cp <= 0x12F) || (cp >= 0x132 && cp <= 0x137) || (cp >= 0x14A && cp <= 0x177))
            cp |= 1u;  // pairs: even capital, odd small
        else if ((cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17E))
            cp += cp % 2;  // pairs: odd capital, even small
        append_utf8(out, cp);
        i += 2;
    }
    return out;
}

class Evaluator {
public:
    explicit Evaluator(const EvalContext& ctx) : ctx_(ctx) {}

    std::optional<Error> error;

    Val eval(const Node& n) {
        switch (n.op) {
            case Op::literal:
                return view(n.literal);
            case Op::path:
                return read_path(n);
            case Op::list: {
                std::vector<Value>& items = lists_.emplace_front();
                items.reserve(n.kids.size());
                for (const Node& k : n.kids) {
                    const Val v = eval(k);
                    if (error) return {};
                    items.push_back(to_value(v));
                }
                return make_list(ListKind::values, &items);
            }
            case Op::call:
                return call(n);
            case Op::not_: {
                const Val v = eval(n.kids[0]);
                if (error) return {};
                if (v.type == ValueType::null) return make_bool(true);
                if (v.type != ValueType::boolean)
                    return fail(n.kids[0], "'not' needs true or false, not " + type_of(v));
                return make_bool(!v.b);
            }
            case Op::and_:
            case Op::or_: {
                const bool stop_at = n.op == Op::or_;  // or: the first true decides; and: the first false
                for (const Node& k : n.kids) {
                    const Val v = eval(k);
                    if (error) return {};
                    if (v.type != ValueType::boolean && v.type != ValueType::null)
                        return fail(k, std::string("'") + (stop_at ? "or" : "and") + "' needs true or false, not " +
                                           type_of(v));
                    const bool b = v.type == ValueType::boolean && v.b;  // null counts as false
                    if (b == stop_at) return make_bool(stop_at);
                }
                return make_bool(!stop_at);
            }
            case Op::eq:
            case Op::ne: {
                const Val a = eval(n.kids[0]);
                if (error) return {};
                const Val b = eval(n.kids[1]);
                if (error) return {};
                return make_bool(equal(a, b) == (n.op == Op::eq));
            }
            case Op::lt:
            case Op::le:
            case Op::gt:
            case Op::ge:
                return ordering(n);
            case Op::in:
            case Op::not_in: {
                const Val a = eval(n.kids[0]);
                if (error) return {};
                const Val b = eval(n.kids[1]);
                if (error) return {};
                if (b.type == ValueType::null) return make_bool(n.op == Op::not_in);
                if (b.type != ValueType::list) return fail(n.kids[1], "'in' needs a list, not " + type_of(b));
                return make_bool(list_contains(b, a) == (n.op == Op::in));
            }
            case Op::neg: {
                const Val v = eval(n.kids[0]);
                if (error) return {};
                if (v.type == ValueType::null) return {};
                if (v.type == ValueType::number) return make_number(-v.n);
                if (v.type == ValueType::duration) return make_duration({-v.d.months, -v.d.days, -v.d.ms});
                return fail(n, "cannot negate " + type_of(v));
            }
            case Op::add:
            case Op::sub:
                return arithmetic(n);
        }
        return {};
    }

private:
    const EvalContext& ctx_;
    std::forward_list<std::string> strings_;       // texts made here (lower)
    std::forward_list<std::vector<Value>> lists_;  // lists with computed elements

    Val fail(const Node& at, const std::string& what) {
        if (!error) {
            error = Error{"expression_error", "column " + std::to_string(at.column) + ": " + what, "", at.column};
        }
        return {};
    }

    static std::string type_of(const Val& v) { return article(v.type); }

    bool equal(const Val& a, const Val& b) const {
        if (a.type == ValueType::null || b.type == ValueType::null) return a.type == b.type;
        if (a.type != b.type) {
            Time x, y;
            if ((a.type == ValueType::time || b.type == ValueType::time) && as_time(a, x) && as_time(b, y))
                return x == y;
            return false;
        }
        switch (a.type) {
            case ValueType::boolean:
                return a.b == b.b;
            case ValueType::number:
                return a.n == b.n;
            case ValueType::text:
                return a.s == b.s;
            case ValueType::time:
                return a.t == b.t;
            case ValueType::duration:
                return duration_end(a.d, ctx_.now) == duration_end(b.d, ctx_.now);
            case ValueType::list: {
                const std::size_t size = list_size(a);
                if (size != list_size(b)) return false;
                for (std::size_t i = 0; i < size; ++i)
                    if (!equal(list_at(a, i), list_at(b, i))) return false;
                return true;
            }
            default:
                return true;
        }
    }

    bool list_contains(const Val& list, const Val& item) const {
        // The common cases, text in a list of literals or in contact.tags, compare views only.
        if (item.type == ValueType::text && list.list_kind == ListKind::strings) {
            for (const auto& s : *static_cast<const std::vector<std::string>*>(list.list))
                if (s == item.s) return true;
            return false;
        }
        if (item.type == ValueType::text && list.list_kind == ListKind::values) {
            for (const Value& v : *static_cast<const std::vector<Value>*>(list.list)) {
                const auto* s = std::get_if<std::string>(&v.v);
                if (s != nullptr && *s == item.s) return true;
                Time t;  // a time in the list matches text that holds that time
                if (s == nullptr && v.type() == ValueType::time && as_time(item, t) && t == std::get<Time>(v.v))
                    return true;
            }
            return false;
        }
        const std::size_t size = list_size(list);
        for (std::size_t i = 0; i < size; ++i)
            if (equal(list_at(list, i), item)) return true;
        return false;
    }

    Val ordering(const Node& n) {
        const Val a = eval(n.kids[0]);
        if (error) return {};
        const Val b = eval(n.kids[1]);
        if (error) return {};
        if (a.type == ValueType::null || b.type == ValueType::null) return make_bool(false);
        int c = 0;
        if (a.type == ValueType::number && b.type == ValueType::number) {
            c = a.n < b.n ? -1 : a.n > b.n ? 1 : 0;
        } else if (a.type == ValueType::text && b.type == ValueType::text) {
            c = a.s.compare(b.s);
        } else if (a.type == ValueType::duration && b.type == ValueType::duration) {
            const auto x = duration_end(a.d, ctx_.now), y = duration_end(b.d, ctx_.now);
            c = x < y ? -1 : x > y ? 1 : 0;
        } else {
            Time x, y;
            if (!(a.type == ValueType::time || b.type == ValueType::time) || !as_time(a, x) || !as_time(b, y))
                return fail(n, "cannot compare " + type_of(a) + " with " + type_of(b));
            c = x < y ? -1 : x > y ? 1 : 0;
        }
        switch (n.op) {
            case Op::lt:
                return make_bool(c < 0);
            case Op::le:
                return make_bool(c <= 0);
            case Op::gt:
                return make_bool(c > 0);
            default:
                return make_bool(c >= 0);
        }
    }

    Val arithmetic(const Node& n) {
        const Val a = eval(n.kids[0]);
        if (error) return {};
        const Val b = eval(n.kids[1]);
        if (error) return {};
        if (a.type == ValueType::null || b.type == ValueType::null) return {};
        const bool add_op = n.op == Op::add;
        if (a.type == ValueType::number && b.type == ValueType::number)
            return make_number(add_op ? a.n + b.n : a.n - b.n);
        if (a.type == ValueType::duration && b.type == ValueType::duration) {
            const int sign = add_op ? 1 : -1;
            const std::int64_t months = std::int64_t{a.d.months} + sign * std::int64_t{b.d.months};
            const std::int64_t days = std::int64_t{a.d.days} + sign * std::int64_t{b.d.days};
            if (std::llabs(months) > 1'000'000'000 || std::llabs(days) > 1'000'000'000)
                return fail(n, "duration out of range");
            return make_duration(
                {static_cast<std::int32_t>(months), static_cast<std::int32_t>(days), a.d.ms + sign * b.d.ms});
        }
        Time t;
        if (b.type == ValueType::duration && as_time(a, t)) return make_time(add_op ? add(t, b.d) : subtract(t, b.d));
        if (add_op && a.type == ValueType::duration && as_time(b, t)) return make_time(add(t, a.d));
        Time u;
        if (!add_op && (a.type == ValueType::time || b.type == ValueType::time) && as_time(a, t) && as_time(b, u))
            return make_duration({0, 0, t.ms - u.ms});
        return fail(n, std::string("cannot ") + (add_op ? "add " : "subtract ") + type_of(b) +
                           (add_op ? " to " : " from ") + type_of(a));
    }

    Val read_path(const Node& n) {
        const Event* e = ctx_.event;
        const Contact* c = ctx_.contact;
        const VoucherView* v = ctx_.voucher;
        switch (n.path) {
            case PathId::unknown:
                return fail(n, n.problem);
            case PathId::event_type:
                return e ? text_or_null(e->type) : Val{};
            case PathId::event_id:
                return e ? text_or_null(e->id) : Val{};
            case PathId::event_time:
                return e && e->time ? make_time(*e->time) : Val{};
            case PathId::event_score: {
                if (!e) return {};
                const bool scored = e->kind == EventType::nps_response || e->kind == EventType::csat_response;
                if (!scored && e->kind != EventType::custom) return {};
                if (!e->data.is_object()) return {};
                const auto it = e->data.find(std::string_view("score"));  // no strlen per compare
                if (it == e->data.end() || !it->is_number()) return {};
                return make_number(it->get<double>());
            }
            case PathId::event_data: {
                if (!e) return {};
                const json* j = &e->data;
                for (const std::string& key : n.keys) {
                    if (!j->is_object()) return {};
                    const auto it = j->find(key);
                    if (it == j->end()) return {};
                    j = &*it;
                }
                Val out = view(*j);
                Time t;
                if (n.maybe_time && e->kind == EventType::voucher_assigned && as_time(out, t)) return make_time(t);
                return out;
            }
            case PathId::contact_id:
                return c ? text_or_null(c->id) : Val{};
            case PathId::contact_email:
                return c ? text_or_null(c->email) : Val{};
            case PathId::contact_first_name:
                return c ? text_or_null(c->first_name) : Val{};
            case PathId::contact_last_name:
                return c ? text_or_null(c->last_name) : Val{};
            case PathId::contact_locale:
                return c ? text_or_null(c->locale) : Val{};
            case PathId::contact_owner:
                return c ? text_or_null(c->owner) : Val{};
            case PathId::contact_vip:
                return c ? make_bool(c->vip) : Val{};
            case PathId::contact_tags:
                return c ? make_list(ListKind::strings, &c->tags) : Val{};
            case PathId::contact_attribute: {
                if (!c || !c->attributes.is_object()) return {};
                const auto it = c->attributes.find(n.keys[0]);
                return it == c->attributes.end() ? Val{} : view(*it);
            }
            case PathId::contact_rfm_r:
                return c && c->rfm ? make_number(c->rfm->r) : Val{};
            case PathId::contact_rfm_f:
                return c && c->rfm ? make_number(c->rfm->f) : Val{};
            case PathId::contact_rfm_m:
                return c && c->rfm ? make_number(c->rfm->m) : Val{};
            case PathId::contact_rfm_segment:
                return c && c->rfm ? text_or_null(c->rfm->segment) : Val{};
            case PathId::voucher_code:
                return v ? text_or_null(v->code) : Val{};
            case PathId::voucher_campaign:
                return v ? text_or_null(v->campaign) : Val{};
            case PathId::voucher_currency:
                return v ? text_or_null(v->currency) : Val{};
            case PathId::voucher_value:
                return v ? make_number(v->value) : Val{};
            case PathId::voucher_assigned_at:
                return v ? make_time(v->assigned_at) : Val{};
            case PathId::voucher_expires_at:
                return v ? make_time(v->expires_at) : Val{};
            case PathId::voucher_redeemed:
                return v ? make_bool(v->redeemed) : Val{};
            case PathId::run_id:
                return ctx_.run ? text_or_null(ctx_.run->id) : Val{};
            case PathId::run_started_at:
                return ctx_.run ? make_time(ctx_.run->started_at) : Val{};
            case PathId::now:
                return make_time(ctx_.now);
            case PathId::link: {
                if (!ctx_.links) return {};
                const auto it = ctx_.links->find(n.keys[0]);
                return it == ctx_.links->end() ? Val{} : make_text(it->second);
            }
        }
        return {};
    }

    // The argument `i` of `n`, which must be text (or null, returned as such).
    bool text_arg(const Node& n, std::size_t i, const Val& v) {
        if (v.type == ValueType::text || v.type == ValueType::null) return true;
        fail(n.kids[i], "argument " + std::to_string(i + 1) + " of " + n.name + "() must be text, not " + type_of(v));
        return false;
    }

    Val call(const Node& n) {
        const FuncInfo* info = find_function(n.func);
        if (!info) return fail(n, "unknown function " + n.name + "()");
        if (n.kids.size() != info->arity)
            return fail(n, n.name + "() takes " + std::to_string(info->arity) + " argument(s), not " +
                               std::to_string(n.kids.size()));
        Val args[2];
        for (std::size_t i = 0; i < n.kids.size(); ++i) {
            args[i] = eval(n.kids[i]);
            if (error) return {};
        }
        switch (n.func) {
            case Func::days:
            case Func::hours:
            case Func::minutes: {
                const Val& a = args[0];
                if (a.type == ValueType::null) return {};
                if (a.type != ValueType::number)
                    return fail(n.kids[0], n.name + "() needs a number, not " + type_of(a));
                const double limit = n.func == Func::days ? 1e6 : n.func == Func::hours ? 1e7 : 1e9;
                if (!(std::fabs(a.n) <= limit)) return fail(n.kids[0], n.name + "() is out of range");
                if (n.func == Func::days) {
                    if (a.n != std::floor(a.n)) return fail(n.kids[0], "days() needs a whole number; use hours()");
                    return make_duration(days(static_cast<std::int32_t>(a.n)));
                }
                const double unit = static_cast<double>(n.func == Func::hours ? ms_per_hour : ms_per_minute);
                return make_duration({0, 0, std::llround(a.n * unit)});
            }
            case Func::has_tag: {
                if (!text_arg(n, 0, args[0])) return {};
                if (!ctx_.contact || args[0].type == ValueType::null) return make_bool(false);
                for (const auto& tag : ctx_.contact->tags)
                    if (tag == args[0].s) return make_bool(true);
                return make_bool(false);
            }
            case Func::lower: {
                if (!text_arg(n, 0, args[0])) return {};
                if (args[0].type == ValueType::null) return {};
                return make_text(strings_.emplace_front(to_lower(args[0].s)));
            }
            case Func::contains: {
                const Val& a = args[0];
                const Val& b = args[1];
                if (a.type == ValueType::null) return make_bool(false);
                if (a.type == ValueType::list) return make_bool(list_contains(a, b));
                if (a.type != ValueType::text)
                    return fail(n.kids[0], "argument 1 of contains() must be text or a list, not " + type_of(a));
                if (b.type == ValueType::null) return make_bool(false);
                if (b.type != ValueType::text)
                    return fail(n.kids[1], "argument 2 of contains() must be text, not " + type_of(b));
                return make_bool(a.s.find(b.s) != std::string_view::npos);
            }
            case Func::len: {
                const Val& a = args[0];
                if (a.type == ValueType::null) return make_number(0);
                if (a.type == ValueType::text) return make_number(static_cast<double>(utf8_length(a.s)));
                if (a.type == ValueType::list) return make_number(static_cast<double>(list_size(a)));
                return fail(n.kids[0], "len() needs text or a list, not " + type_of(a));
            }
            case Func::voucher_assigned_within:
            case Func::count_events: {
                const bool count = n.func == Func::count_events;
                if (!text_arg(n, 0, args[0])) return {};
                if (args[1].type != ValueType::duration && args[1].type != ValueType::null)
                    return fail(n.kids[1],
                                "argument 2 of " + n.name + "() must be a duration, not " + type_of(args[1]));
                const Val none = count ? make_number(0) : make_bool(false);
                if (args[0].type == ValueType::null || args[1].type == ValueType::null) return none;
                if (!ctx_.history || !ctx_.contact) return none;
                const std::string name(args[0].s);
                const Time since = subtract(ctx_.now, args[1].d);
                if (count)
                    return make_number(static_cast<double>(
                        ctx_.history->count_events_between(ctx_.contact->id, name, since, ctx_.now)));
                return make_bool(ctx_.history->voucher_assigned_between(ctx_.contact->id, name, since, ctx_.now));
            }
            case Func::previous_nps: {
                if (!ctx_.history || !ctx_.contact) return {};
                static const std::string no_id;
                const Event* e = ctx_.event;
                const Time before = e && e->time ? *e->time : ctx_.now;
                const auto score = ctx_.history->previous_nps(ctx_.contact->id, before, e ? e->id : no_id);
                return score ? make_number(*score) : Val{};
            }
            case Func::unknown:
                break;
        }
        return {};
    }
};

void collect_paths(const Node& n, std::vector<std::string>& out) {
    if (n.op == Op::path && std::find(out.begin(), out.end(), n.name) == out.end()) out.push_back(n.name);
    for (const Node& k : n.kids) collect_paths(k, out);
}

// Counts characters (not bytes) for the length limit.
std::size_t char_count(std::string_view s) {
    return static_cast<std::size_t>(utf8_length(s));
}

}  // namespace expr_impl

// ---- Expression ----------------------------------------------------------------------------

struct Expression::Parsed {
    std::string text;
    Node root;
    bool reads_voucher = false;
};

namespace {

bool reads_voucher_path(const Expression::Node& n) {
    if (n.op == expr_impl::Op::path && n.path >= expr_impl::PathId::voucher_code &&
        n.path <= expr_impl::PathId::voucher_redeemed)
        return true;
    for (const auto& k : n.kids)
        if (reads_voucher_path(k)) return true;
    return false;
}

const std::string empty_text;

}  // namespace

Expression::Expression() = default;

const std::string& Expression::text() const {
    return parsed_ ? parsed_->text : empty_text;
}

bool Expression::reads_voucher() const {
    return parsed_ && parsed_->reads_voucher;
}

Result<Expression> Expression::parse(std::string_view text) {
    if (char_count(text) > max_length)
        return syntax_error(static_cast<int>(max_length) + 1,
                            "expression is longer than " + std::to_string(max_length) + " characters");
    auto tokens = Lexer(text).run();
    if (!tokens) return tokens.error();
    if (tokens->size() == 1) return syntax_error(1, "empty expression");
    Parser parser(std::move(*tokens));
    Node root = parser.parse_all();
    if (parser.error) return std::move(*parser.error);
    const bool voucher = reads_voucher_path(root);
    Expression e;
    e.parsed_ = std::make_shared<const Parsed>(Parsed{std::string(text), std::move(root), voucher});
    return e;
}

Result<ValueType> Expression::check(const TypeEnv& env) const {
    if (!parsed_) return ValueType::null;
    Checker checker(env);
    const SType t = checker.check(parsed_->root);
    if (checker.error) return std::move(*checker.error);
    return t.t;
}

Result<Value> Expression::evaluate(const EvalContext& ctx) const {
    if (!parsed_) return Value{};
    Evaluator evaluator(ctx);
    const Val v = evaluator.eval(parsed_->root);
    if (evaluator.error) return std::move(*evaluator.error);
    return to_value(v);
}

std::vector<std::string> Expression::paths() const {
    std::vector<std::string> out;
    if (parsed_) collect_paths(parsed_->root, out);
    return out;
}

}  // namespace closeloop
