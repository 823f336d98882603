// closeloop — message templates: e-mails, task and chat messages.
//
// Syntax (CONTRACT.md "Templates"):
//   {{path}} or {{expression}}        the value, HTML-escaped in HTML parts
//   {{expr | date}}                   a time as a date in the message's locale
//   {{expr | days_until}}             whole days from now until that time (0 when past)
//   {{expr | default('there')}}       the value, or the argument (an expression giving a text)
//                                     when the value is null or "": `Hello {{contact.first_name
//                                     | default('there')}}` reads well for a contact with no name
//   {{#if expr}} .. {{else}} .. {{/if}}   (nestable; `else` optional)
// A template that names an unknown path fails validation, not delivery.
// {{#if}} reads its value as templates do: false, null, "", 0 and [] choose the else part,
// anything else the then part (so `{{#if contact.first_name}}` works). Whitespace inside
// tags is allowed. Columns count characters of the whole text (a line break is one).
// Errors: "invalid_template" (parse and check, with the column), "expression_error" (render).
//
// Sections: TemplateText (one compiled text), MessageTemplate (the document with locales),
// JSON, validation, rendering.
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "closeloop/contact.h"
#include "closeloop/expr.h"
#include "closeloop/result.h"

namespace closeloop {

// ---- limits --------------------------------------------------------------------------------

// The most one rendered text (a subject, an HTML or text body, a task message) may hold
// (limit `max_rendered_text_bytes`). Validation refuses a text whose own text plus the most
// each {{value}} can give is over it; at run time a longer result is cut at a UTF-8 boundary
// and ends with truncation_marker. Without it, a message repeating a 1 KB attribute 38,000
// times wrote 39 MB on every run.
inline constexpr std::size_t max_rendered_text_bytes = 100 * 1024;
// The most a text {{value}} counts for in that bound: an attribute's size limit, the largest
// text a client stores on a contact. Numbers, times and filtered dates count 64 bytes.
inline constexpr std::size_t max_value_bytes_assumed = max_attribute_value_bytes;
inline constexpr std::string_view truncation_marker = "\n[truncated: over 100 KB, max_rendered_text_bytes]";

enum class Escape { none, html };

// Text made safe inside HTML (& < > " '): what {{ }} values get in an HTML body.
std::string escape_html(std::string_view text);

// One compiled template text (a subject, an HTML body, a message).
class TemplateText {
public:
    TemplateText();  // empty text
    // Errors: code "invalid_template", message "column 14: unclosed {{#if}}", column set.
    static Result<TemplateText> parse(std::string_view text);

    // Every expression type-checks against env (unknown paths are errors with the column), and
    // the text cannot render longer than max_rendered_text_bytes (size_bound).
    std::optional<Error> check(const TypeEnv& env) const;
    // The most the rendered text can hold: its own text, plus for each value the most its type
    // gives (max_value_bytes_assumed for texts), the longer branch of each {{#if}}. Call after
    // check() passed the types.
    std::size_t size_bound(const TypeEnv& env) const;
    // Rendering stops once the output is over max_rendered_text_bytes: the text is cut at a
    // UTF-8 boundary (not inside an HTML entity) and ends with truncation_marker.
    // `locale` picks the date format of the `date` filter.
    Result<std::string> render(const EvalContext& ctx, Escape escape, std::string_view locale = "en") const;

    const std::string& source() const { return source_; }
    // Whether any of its expressions reads `voucher.*`.
    bool reads_voucher() const { return reads_voucher_; }
    struct Part;  // defined in render.cpp

private:
    std::string source_;
    std::shared_ptr<const std::vector<Part>> parts_;
    bool reads_voucher_ = false;
};

struct LocalizedMessage {
    TemplateText subject, html, text;
};

// A template document of CONTRACT.md: id, name, fallback_locale, from, transactional, locales.
struct MessageTemplate {
    std::string id, name, fallback_locale = "en", from;
    // Mail the customer asked for or needs (a voucher they were promised, a receipt): exempt
    // from unsubscribe and the frequency cap (delivery.h). JSON `"transactional": true`,
    // written only when true; absent = marketing.
    bool transactional = false;
    std::map<std::string, LocalizedMessage> locales;

    // The locale used for a contact: exact ("pt-BR"), then its language ("pt"), then the
    // fallback locale.
    const std::string& pick_locale(std::string_view wanted) const;
};

// Errors name the path, e.g. `locales.cs.html` with the column inside that text.
Result<MessageTemplate> template_from_json(const nlohmann::json& j, const std::string& path = "");
void to_json(nlohmann::json& j, const MessageTemplate& t);

// All texts of all locales type-check against env; the fallback locale exists.
std::optional<Error> validate_template(const MessageTemplate& t, const TypeEnv& env);

struct RenderedMessage {
    std::string locale, from, subject, html, text;
};
// Subject and text are not escaped, HTML is; line breaks in the rendered subject become
// spaces (a value cannot start a new mail header). Dates use the picked locale.
Result<RenderedMessage> render_message(const MessageTemplate& t, std::string_view locale, const EvalContext& ctx);

// "rtl" for a locale whose script runs right to left (Hebrew, Arabic, Persian, Urdu: he, ar,
// fa, ur, with or without a region such as "he-IL"), else "ltr": how a preview lays out HTML.
std::string_view text_direction(std::string_view locale);

// `date` filter output: "22 January 2027" (en), "22. 1. 2027" (cs), "22.01.2027" (pl),
// ISO "2027-01-22" otherwise.
std::string format_date_for_locale(Time t, std::string_view locale);

}  // namespace closeloop
