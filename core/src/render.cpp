// closeloop — message templates.
//
// Sections: parts and tag parsing, check, rendering, dates, MessageTemplate (locales, JSON,
// validation, render_message).
#include "closeloop/render.h"

#include <algorithm>
#include <cstdio>

#include "closeloop/contact.h"
#include "closeloop/detail/json_read.h"

namespace closeloop {

using nlohmann::json;

// A compiled piece of a template text: literal text, a value tag, or an {{#if}} block.
struct TemplateText::Part {
    enum class Kind : std::uint8_t { text, value, block };
    enum class Filter : std::uint8_t { none, date, days_until, default_ };

    Kind kind = Kind::text;
    std::string text;  // Kind::text
    Expression expr;   // the value, or the block's condition
    Filter filter = Filter::none;
    int column = 1;         // of the expression's first character in the whole template text
    int filter_column = 0;  // of the filter's name
    Expression filter_arg;  // default's argument
    int arg_column = 0;     // of the argument's first character
    std::vector<Part> then_parts, else_parts;
};

namespace {

using Part = TemplateText::Part;

constexpr int max_block_depth = 32;

Error template_error(int column, const std::string& what) {
    return Error{"invalid_template", "column " + std::to_string(column) + ": " + what, "", column};
}

// "column 3: unknown path x" -> "unknown path x"
std::string what_of(const Error& e) {
    const auto sep = e.message.find(": ");
    return sep == std::string::npos ? e.message : e.message.substr(sep + 2);
}

// An expression's error moved to the template: the column becomes the column in the whole text.
Error shifted(const Error& e, int expr_column, std::string code) {
    const int column = expr_column + std::max(e.column, 1) - 1;
    return Error{std::move(code), "column " + std::to_string(column) + ": " + what_of(e), "", column};
}

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

class TemplateParser {
public:
    explicit TemplateParser(std::string_view src) : src_(src) {}

    std::optional<Error> error;

    std::vector<Part> run() {
        std::size_t pos = 0;
        while (!error && pos < src_.size()) {
            const std::size_t open = src_.find("{{", pos);
            if (open == std::string_view::npos) {
                add_text(src_.substr(pos));
                break;
            }
            add_text(src_.substr(pos, open - pos));
            const int tag_column = column_at(open);
            const std::size_t close = find_close(open + 2);
            if (close == std::string_view::npos) {
                fail(tag_column, "unclosed {{");
                break;
            }
            tag(open + 2, close, tag_column);
            pos = close + 2;
        }
        if (!error && !stack_.empty()) fail(stack_.back().column, "unclosed {{#if}}");
        return std::move(root_);
    }

private:
    struct Frame {
        Part block;
        bool in_else = false;
        int column = 1;  // of its {{
    };

    std::string_view src_;
    std::size_t col_pos_ = 0;
    int col_ = 1;
    std::vector<Part> root_;
    std::vector<Frame> stack_;

    // 1-based column of byte `pos`, in characters; positions are asked in increasing order.
    int column_at(std::size_t pos) {
        for (; col_pos_ < pos && col_pos_ < src_.size(); ++col_pos_)
            if ((static_cast<unsigned char>(src_[col_pos_]) & 0xC0) != 0x80) ++col_;
        return col_;
    }

    void fail(int column, const std::string& what) {
        if (!error) error = template_error(column, what);
    }

    std::vector<Part>& out() {
        if (stack_.empty()) return root_;
        Frame& top = stack_.back();
        return top.in_else ? top.block.else_parts : top.block.then_parts;
    }

    void add_text(std::string_view text) {
        if (text.empty()) return;
        auto& parts = out();
        if (!parts.empty() && parts.back().kind == Part::Kind::text) {
            parts.back().text += text;
            return;
        }
        Part p;
        p.text = std::string(text);
        parts.push_back(std::move(p));
    }

    // The `}}` that ends a tag, skipping quoted strings (`{{ lower('}}') }}`); when a quote is
    // never closed, the first `}}` (the expression parser then reports the unclosed string).
    std::size_t find_close(std::size_t from) const {
        char quote = 0;
        for (std::size_t i = from; i < src_.size(); ++i) {
            const char c = src_[i];
            if (quote) {
                if (c == '\\')
                    ++i;
                else if (c == quote)
                    quote = 0;
            } else if (c == '\'' || c == '"') {
                quote = c;
            } else if (c == '}' && i + 1 < src_.size() && src_[i + 1] == '}') {
                return i;
            }
        }
        return src_.find("}}", from);
    }

    // The byte range [begin, end) without surrounding whitespace.
    void trim(std::size_t& begin, std::size_t& end) const {
        while (begin < end && is_space(src_[begin])) ++begin;
        while (end > begin && is_space(src_[end - 1])) --end;
    }

    std::optional<Expression> expression(std::size_t begin, std::size_t end, int& column) {
        column = column_at(begin);
        auto e = Expression::parse(src_.substr(begin, end - begin));
        if (!e) {
            if (!error) error = shifted(e.error(), column, "invalid_template");
            return std::nullopt;
        }
        return std::move(*e);
    }

    // The position of the filter's `|` in [begin, end): a single `|` outside strings (`||` is `or`).
    std::size_t find_pipe(std::size_t begin, std::size_t end) const {
        char quote = 0;
        std::size_t found = std::string_view::npos;
        for (std::size_t i = begin; i < end; ++i) {
            const char c = src_[i];
            if (quote) {
                if (c == '\\')
                    ++i;
                else if (c == quote)
                    quote = 0;
            } else if (c == '\'' || c == '"') {
                quote = c;
            } else if (c == '|') {
                if (i + 1 < end && src_[i + 1] == '|') {
                    ++i;
                    continue;
                }
                found = i;
            }
        }
        return found;
    }

    void tag(std::size_t begin, std::size_t end, int tag_column) {
        trim(begin, end);
        if (begin == end) return fail(tag_column, "empty tag {{}}");
        const std::string_view inner = src_.substr(begin, end - begin);

        if (inner[0] == '#') {
            std::size_t word_end = begin + 1;
            while (word_end < end && !is_space(src_[word_end])) ++word_end;
            const std::string_view word = src_.substr(begin + 1, word_end - begin - 1);
            if (word != "if")
                return fail(tag_column, "unknown block {{#" + std::string(word) + "}}; only {{#if}} is supported");
            std::size_t cond_begin = word_end, cond_end = end;
            trim(cond_begin, cond_end);
            if (cond_begin == cond_end) return fail(tag_column, "{{#if}} needs a condition");
            if (static_cast<int>(stack_.size()) >= max_block_depth)
                return fail(tag_column,
                            "{{#if}} blocks are nested too deeply (more than " + std::to_string(max_block_depth) + ")");
            Frame frame;
            frame.column = tag_column;
            frame.block.kind = Part::Kind::block;
            auto cond = expression(cond_begin, cond_end, frame.block.column);
            if (!cond) return;
            frame.block.expr = std::move(*cond);
            stack_.push_back(std::move(frame));
            return;
        }
        if (inner == "else") {
            if (stack_.empty()) return fail(tag_column, "{{else}} without {{#if}}");
            if (stack_.back().in_else) return fail(tag_column, "a second {{else}} in one {{#if}}");
            stack_.back().in_else = true;
            return;
        }
        if (inner[0] == '/') {
            std::size_t word_begin = begin + 1, word_end = end;
            trim(word_begin, word_end);
            const std::string_view word = src_.substr(word_begin, word_end - word_begin);
            if (word != "if") return fail(tag_column, "unknown closing tag {{/" + std::string(word) + "}}");
            if (stack_.empty()) return fail(tag_column, "{{/if}} without {{#if}}");
            Part block = std::move(stack_.back().block);
            stack_.pop_back();
            out().push_back(std::move(block));
            return;
        }

        Part p;
        p.kind = Part::Kind::value;
        std::size_t expr_end = end;
        const std::size_t pipe = find_pipe(begin, end);
        std::size_t name_begin = 0, name_end = 0;
        if (pipe != std::string_view::npos) {
            expr_end = pipe;
            name_begin = pipe + 1;
            name_end = end;
            trim(name_begin, name_end);
        }
        std::size_t expr_begin = begin;
        trim(expr_begin, expr_end);
        if (expr_begin == expr_end) return fail(column_at(expr_begin), "a filter needs a value before '|'");
        auto e = expression(expr_begin, expr_end, p.column);
        if (!e) return;
        p.expr = std::move(*e);
        if (pipe != std::string_view::npos) {
            const int pipe_column = column_at(pipe);
            p.filter_column = column_at(name_begin);
            const std::string_view name = src_.substr(name_begin, name_end - name_begin);
            if (name.substr(0, 7) == "default" && (name.size() == 7 || is_space(name[7]) || name[7] == '(')) {
                // default(arg): the argument is an expression between the parentheses.
                std::size_t open = name_begin + 7;
                while (open < name_end && is_space(src_[open])) ++open;
                if (open == name_end || src_[open] != '(' || src_[name_end - 1] != ')')
                    return fail(p.filter_column, "the default filter needs a value: default('there')");
                std::size_t arg_begin = open + 1, arg_end = name_end - 1;
                trim(arg_begin, arg_end);
                if (arg_begin == arg_end)
                    return fail(column_at(open), "the default filter needs a value: default('there')");
                auto arg = expression(arg_begin, arg_end, p.arg_column);
                if (!arg) return;
                p.filter_arg = std::move(*arg);
                p.filter = Part::Filter::default_;
            } else if (name == "date")
                p.filter = Part::Filter::date;
            else if (name == "days_until")
                p.filter = Part::Filter::days_until;
            else if (name.empty())
                return fail(pipe_column, "a filter name is missing after '|'");
            else
                return fail(p.filter_column,
                            "unknown filter '" + std::string(name) + "' (filters: date, days_until, default)");
        }
        out().push_back(std::move(p));
    }
};

const char* filter_name(Part::Filter f) {
    return f == Part::Filter::date ? "date" : f == Part::Filter::default_ ? "default" : "days_until";
}

std::optional<Error> check_parts(const std::vector<Part>& parts, const TypeEnv& env) {
    for (const Part& p : parts) {
        if (p.kind == Part::Kind::text) continue;
        auto type = p.expr.check(env);
        if (!type) return shifted(type.error(), p.column, "invalid_template");
        if (p.kind == Part::Kind::value && p.filter == Part::Filter::default_) {
            auto arg = p.filter_arg.check(env);
            if (!arg) return shifted(arg.error(), p.arg_column, "invalid_template");
            if (*arg != ValueType::text && *arg != ValueType::any && *arg != ValueType::null)
                return template_error(p.arg_column,
                                      "the default filter needs a text, not " + std::string(value_type_name(*arg)));
            continue;
        }
        if (p.kind == Part::Kind::value && p.filter != Part::Filter::none && *type != ValueType::time &&
            *type != ValueType::any && *type != ValueType::null) {
            return template_error(p.filter_column, std::string("the ") + filter_name(p.filter) +
                                                       " filter needs a time, not " +
                                                       std::string(value_type_name(*type)));
        }
        if (p.kind == Part::Kind::block) {
            if (auto e = check_parts(p.then_parts, env)) return e;
            if (auto e = check_parts(p.else_parts, env)) return e;
        }
    }
    return std::nullopt;
}

void append_escaped(std::string& out, std::string_view s, Escape escape) {
    if (escape == Escape::none) {
        out += s;
        return;
    }
    for (char c : s) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            case '\'':
                out += "&#39;";
                break;
            default:
                out += c;
        }
    }
}

// {{#if}} reads values as templates do: false, null, "", 0 and [] are false; other values
// true (so `{{#if contact.first_name}}` works as people expect).
bool block_truthy(const Value& v) {
    switch (v.type()) {
        case ValueType::boolean:
            return v.truthy();
        case ValueType::number:
            return std::get<double>(v.v) != 0;
        case ValueType::text:
            return !std::get<std::string>(v.v).empty();
        case ValueType::list:
            return !std::get<std::vector<Value>>(v.v).empty();
        case ValueType::time:
        case ValueType::duration:
            return true;
        case ValueType::null:
        case ValueType::any:
            break;
    }
    return false;
}

struct RenderState {
    const EvalContext& ctx;
    Escape escape;
    std::string_view locale;
    std::string out;
    std::optional<Error> error;
};

// What a value of `type` counts for in TemplateText::size_bound.
constexpr std::size_t short_value_bytes = 64;

std::size_t bound_parts(const std::vector<Part>& parts, const TypeEnv& env) {
    std::size_t total = 0;
    for (const Part& p : parts) {
        switch (p.kind) {
            case Part::Kind::text:
                total += p.text.size();
                break;
            case Part::Kind::block:
                total += std::max(bound_parts(p.then_parts, env), bound_parts(p.else_parts, env));
                break;
            case Part::Kind::value: {
                if (p.filter == Part::Filter::date || p.filter == Part::Filter::days_until) {
                    total += short_value_bytes;
                    break;
                }
                const auto type = p.expr.check(env);
                const bool short_value =
                    type && (*type == ValueType::number || *type == ValueType::boolean || *type == ValueType::time ||
                             *type == ValueType::duration || *type == ValueType::null);
                total += short_value && p.filter == Part::Filter::none ? short_value_bytes : max_value_bytes_assumed;
                break;
            }
        }
    }
    return total;
}

// `out` cut to at most `max` bytes, at a UTF-8 character boundary and, in HTML, not inside
// an entity such as &amp; (the escaping of a value may have been cut).
void cut_utf8(std::string& out, std::size_t max, Escape escape) {
    if (out.size() <= max) return;
    std::size_t end = max;
    while (end > 0 && (static_cast<unsigned char>(out[end]) & 0xC0) == 0x80) --end;
    if (escape == Escape::html) {
        const std::size_t amp = out.rfind('&', end == 0 ? 0 : end - 1);
        if (amp != std::string::npos && end - amp < 8 && out.find(';', amp) >= end) end = amp;
    }
    out.resize(end);
}

bool render_parts(const std::vector<Part>& parts, RenderState& st) {
    for (const Part& p : parts) {
        if (st.out.size() > max_rendered_text_bytes) return true;  // cut by TemplateText::render
        if (p.kind == Part::Kind::text) {
            st.out += p.text;  // the template's own text is never escaped
            continue;
        }
        auto value = p.expr.evaluate(st.ctx);
        if (!value) {
            st.error = shifted(value.error(), p.column, value.error().code);
            return false;
        }
        if (p.kind == Part::Kind::block) {
            if (!render_parts(block_truthy(*value) ? p.then_parts : p.else_parts, st)) return false;
            continue;
        }
        if (p.filter == Part::Filter::default_) {
            const std::string* text = std::get_if<std::string>(&value->v);
            if (value->is_null() || (text && text->empty())) {
                value = p.filter_arg.evaluate(st.ctx);
                if (!value) {
                    st.error = shifted(value.error(), p.arg_column, value.error().code);
                    return false;
                }
            }
            append_escaped(st.out, to_display_string(*value), st.escape);
            continue;
        }
        if (p.filter == Part::Filter::none || value->is_null()) {
            append_escaped(st.out, to_display_string(*value), st.escape);
            continue;
        }
        std::optional<Time> t;
        if (const Time* tt = std::get_if<Time>(&value->v)) t = *tt;
        if (const std::string* s = std::get_if<std::string>(&value->v)) {
            if (auto parsed = parse_time(*s)) t = *parsed;
        }
        if (!t) {
            st.error = template_error(p.filter_column, std::string("the ") + filter_name(p.filter) +
                                                           " filter needs a time, not " +
                                                           std::string(value_type_name(value->type())));
            st.error->code = "expression_error";
            return false;
        }
        if (p.filter == Part::Filter::date) {
            append_escaped(st.out, format_date_for_locale(*t, st.locale), st.escape);
        } else {
            const std::int64_t ms = t->ms - st.ctx.now.ms;
            const std::int64_t days_left = ms <= 0 ? 0 : (ms + ms_per_day - 1) / ms_per_day;
            st.out += std::to_string(days_left);
        }
    }
    return true;
}

std::string_view language_of(std::string_view locale) {
    return locale.substr(0, std::min(locale.find_first_of("-_"), locale.size()));
}

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z') x = static_cast<char>(x + 32);
        if (y >= 'A' && y <= 'Z') y = static_cast<char>(y + 32);
        if (x != y) return false;
    }
    return true;
}

bool is_template_id(const std::string& id) {
    if (id.empty() || id.size() > 64) return false;
    auto lower_or_digit = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
    if (!lower_or_digit(id[0])) return false;
    return std::all_of(id.begin(), id.end(), [&](char c) { return lower_or_digit(c) || c == '_' || c == '-'; });
}

constexpr const char* text_fields[] = {"subject", "html", "text"};
constexpr std::size_t max_subject = 1000;
constexpr std::size_t max_body = 1'000'000;

}  // namespace

std::string escape_html(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    append_escaped(out, text, Escape::html);
    return out;
}

// ---- TemplateText --------------------------------------------------------------------------

TemplateText::TemplateText() = default;

namespace {

bool any_reads_voucher(const std::vector<Part>& parts) {
    for (const Part& p : parts)
        if (p.expr.reads_voucher() || p.filter_arg.reads_voucher() || any_reads_voucher(p.then_parts) ||
            any_reads_voucher(p.else_parts))
            return true;
    return false;
}

}  // namespace

Result<TemplateText> TemplateText::parse(std::string_view text) {
    TemplateParser parser(text);
    std::vector<Part> parts = parser.run();
    if (parser.error) return std::move(*parser.error);
    TemplateText t;
    t.source_ = std::string(text);
    t.reads_voucher_ = any_reads_voucher(parts);
    t.parts_ = std::make_shared<const std::vector<Part>>(std::move(parts));
    return t;
}

std::optional<Error> TemplateText::check(const TypeEnv& env) const {
    if (!parts_) return std::nullopt;
    if (auto e = check_parts(*parts_, env)) return e;
    if (const std::size_t bound = size_bound(env); bound > max_rendered_text_bytes)
        return template_error(1, "the rendered text can reach " + std::to_string(bound) +
                                     " bytes (its own text plus up to " + std::to_string(max_value_bytes_assumed) +
                                     " bytes for each value), over the limit of " +
                                     std::to_string(max_rendered_text_bytes) + " (max_rendered_text_bytes)");
    return std::nullopt;
}

std::size_t TemplateText::size_bound(const TypeEnv& env) const {
    return parts_ ? bound_parts(*parts_, env) : 0;
}

Result<std::string> TemplateText::render(const EvalContext& ctx, Escape escape, std::string_view locale) const {
    if (!parts_) return std::string();
    RenderState st{ctx, escape, locale, {}, std::nullopt};
    st.out.reserve(std::min(source_.size(), max_rendered_text_bytes) + 64);
    if (!render_parts(*parts_, st)) return std::move(*st.error);
    if (st.out.size() > max_rendered_text_bytes) {
        cut_utf8(st.out, max_rendered_text_bytes - truncation_marker.size(), escape);
        st.out += truncation_marker;
    }
    return std::move(st.out);
}

// ---- dates ---------------------------------------------------------------------------------

std::string format_date_for_locale(Time t, std::string_view locale) {
    static constexpr const char* months[] = {"January", "February", "March",     "April",   "May",      "June",
                                             "July",    "August",   "September", "October", "November", "December"};
    const std::string_view language = language_of(locale);
    const CivilDate d = civil_from_days(day_number(t));
    char buf[48];
    if (iequals(language, "en"))
        std::snprintf(buf, sizeof buf, "%u %s %d", d.day, months[(d.month - 1) % 12], d.year);
    else if (iequals(language, "cs"))
        std::snprintf(buf, sizeof buf, "%u. %u. %d", d.day, d.month, d.year);
    else if (iequals(language, "pl"))
        std::snprintf(buf, sizeof buf, "%02u.%02u.%04d", d.day, d.month, d.year);
    else
        return format_date(day_number(t));
    return buf;
}

std::string_view text_direction(std::string_view locale) {
    const std::string_view language = language_of(locale);
    for (const char* rtl : {"he", "ar", "fa", "ur"})
        if (iequals(language, rtl)) return "rtl";
    return "ltr";
}

// ---- MessageTemplate -----------------------------------------------------------------------

const std::string& MessageTemplate::pick_locale(std::string_view wanted) const {
    if (!wanted.empty()) {
        for (const auto& entry : locales)
            if (iequals(entry.first, wanted)) return entry.first;
        const std::string_view language = language_of(wanted);
        for (const auto& entry : locales)
            if (iequals(entry.first, language)) return entry.first;
    }
    return fallback_locale;
}

Result<MessageTemplate> template_from_json(const json& j, const std::string& path) {
    detail::Fields f(j, path);
    if (!f.ok()) return f.error();
    MessageTemplate t;
    t.id = f.string("id", true, 64).value_or("");
    t.name = f.string("name", false, 200).value_or("");
    t.fallback_locale = f.string("fallback_locale", false, 35).value_or("en");
    t.from = f.string("from", false, 320).value_or("");
    t.transactional = f.boolean("transactional", false).value_or(false);
    const json* locales = f.ok() ? f.object("locales", true) : nullptr;
    if (locales) {
        for (const auto& [key, value] : locales->items()) {
            const std::string locale_path = join_path(f.at("locales"), key);
            if (!is_valid_locale(key)) {
                f.fail(invalid_field(locale_path, "must be a locale such as en, cs or pt-BR"));
                break;
            }
            detail::Fields lf(value, locale_path);
            LocalizedMessage message;
            TemplateText* targets[] = {&message.subject, &message.html, &message.text};
            for (std::size_t i = 0; i < 3 && lf.ok(); ++i) {
                const auto text = lf.string(text_fields[i], true, i == 0 ? max_subject : max_body);
                if (!text) break;
                auto parsed = TemplateText::parse(*text);
                if (!parsed) {
                    Error e = parsed.error();
                    e.path = lf.at(text_fields[i]);
                    lf.fail(std::move(e));
                    break;
                }
                *targets[i] = std::move(*parsed);
            }
            if (lf.ok()) lf.reject_unknown({"subject", "html", "text"});
            if (!lf.ok()) {
                f.fail(lf.error());
                break;
            }
            t.locales.emplace(key, std::move(message));
        }
    }
    if (f.ok()) f.reject_unknown({"id", "name", "fallback_locale", "from", "transactional", "locales"});
    if (!f.ok()) return f.error();
    return t;
}

void to_json(json& j, const MessageTemplate& t) {
    json locales = json::object();
    for (const auto& [key, m] : t.locales)
        locales[key] = json{{"subject", m.subject.source()}, {"html", m.html.source()}, {"text", m.text.source()}};
    j = json{{"id", t.id},
             {"name", t.name},
             {"fallback_locale", t.fallback_locale},
             {"from", t.from},
             {"locales", std::move(locales)}};
    if (t.transactional) j["transactional"] = true;
}

std::optional<Error> validate_template(const MessageTemplate& t, const TypeEnv& env) {
    if (!is_template_id(t.id))
        return invalid_field("id",
                             "must be 1-64 lower-case letters, digits, '-' or '_', starting with a letter or digit");
    if (!t.locales.count(t.fallback_locale)) {
        std::string known;
        for (const auto& entry : t.locales) known += (known.empty() ? "" : ", ") + entry.first;
        return invalid_field("fallback_locale", "names no locale of the template (locales: " +
                                                    (known.empty() ? std::string("none") : known) + ")");
    }
    for (const auto& [key, m] : t.locales) {
        const TemplateText* texts[] = {&m.subject, &m.html, &m.text};
        for (std::size_t i = 0; i < 3; ++i) {
            if (auto e = texts[i]->check(env)) {
                e->path = "locales." + key + "." + text_fields[i];
                return e;
            }
        }
    }
    return std::nullopt;
}

Result<RenderedMessage> render_message(const MessageTemplate& t, std::string_view locale, const EvalContext& ctx) {
    const std::string& picked = t.pick_locale(locale);
    const auto it = t.locales.find(picked);
    if (it == t.locales.end())
        return invalid_field("fallback_locale", "names no locale of the template (" + picked + ")");
    const LocalizedMessage& m = it->second;
    RenderedMessage out;
    out.locale = picked;
    out.from = t.from;
    const std::string base = "locales." + picked + ".";
    auto subject = m.subject.render(ctx, Escape::none, picked);
    if (!subject) return under(base + "subject", subject.error());
    // A subject is one header line: a value with a line break must not start a new header.
    out.subject = std::move(*subject);
    std::replace(out.subject.begin(), out.subject.end(), '\r', ' ');
    std::replace(out.subject.begin(), out.subject.end(), '\n', ' ');
    auto html = m.html.render(ctx, Escape::html, picked);
    if (!html) return under(base + "html", html.error());
    out.html = std::move(*html);
    auto text = m.text.render(ctx, Escape::none, picked);
    if (!text) return under(base + "text", text.error());
    out.text = std::move(*text);
    return out;
}

}  // namespace closeloop
