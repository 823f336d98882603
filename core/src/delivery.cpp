// closeloop — delivery rules.
//
// Sections: frequency cap, retry schedule, Retry-After, outcome classification, text cuts,
// channel payloads, e-mail rendering.
#include "closeloop/delivery.h"

#include <algorithm>
#include <cmath>

#include "closeloop/metrics.h"

namespace closeloop {

using nlohmann::json;

// ---- frequency cap -------------------------------------------------------------------------

namespace {

std::string plural(std::int64_t n, const char* one, const char* many) {
    return std::to_string(n) + " " + (n == 1 ? one : many);
}

}  // namespace

std::optional<std::string> frequency_cap_reason(const FrequencyCap& cap, std::span<const Time> earlier_marketing_sends,
                                                Time now) {
    const auto in_window = [&](std::int64_t window_ms) {
        return std::count_if(earlier_marketing_sends.begin(), earlier_marketing_sends.end(),
                             [&](Time t) { return t.ms > now.ms - window_ms && t.ms <= now.ms; });
    };
    if (cap.per_day > 0) {
        const auto n = in_window(ms_per_day);
        if (n >= cap.per_day)
            return "frequency cap: " + plural(n, "marketing e-mail", "marketing e-mails") +
                   " in the last 24 hours (at most " + std::to_string(cap.per_day) + " a day)";
    }
    if (cap.per_week > 0) {
        const auto n = in_window(7 * ms_per_day);
        if (n >= cap.per_week)
            return "frequency cap: " + plural(n, "marketing e-mail", "marketing e-mails") +
                   " in the last 7 days (at most " + std::to_string(cap.per_week) + " a week)";
    }
    return std::nullopt;
}

// ---- retry schedule ------------------------------------------------------------------------

RetryPolicy default_retry_policy() {
    // Standard Webhooks' schedule (at once, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h: about
    // 27.6 h) with three more tries, so an endpoint down over a weekend still gets its
    // messages: 14 h, 14 h, 16 h. Sum: 71 h 35 min 5 s, just under three days.
    const auto s = [](std::int64_t n) { return Duration{0, 0, n * ms_per_second}; };
    return RetryPolicy{{s(0), s(5), minutes(5), minutes(30), hours(2), hours(5), hours(10), hours(10), hours(14),
                        hours(14), hours(16)}};
}

namespace {

// Whole units of the retry schedule, in milliseconds; 0 for an unknown unit.
std::int64_t unit_ms(std::string_view unit) {
    if (unit == "ms") return 1;
    if (unit == "s") return ms_per_second;
    if (unit == "m") return ms_per_minute;
    if (unit == "h") return ms_per_hour;
    if (unit == "d") return ms_per_day;
    return 0;
}

std::string_view trimmed(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

constexpr std::size_t max_retry_items = 100;
constexpr std::int64_t max_retry_delay_ms = 30 * ms_per_day;

}  // namespace

Result<RetryPolicy> parse_retry_schedule(std::string_view text) {
    RetryPolicy policy;
    if (trimmed(text).empty())
        return invalid_field("", "a retry schedule lists delays such as 0s,5s,5m,30m,2h (units ms, s, m, h, d)");
    std::size_t index = 0;
    while (true) {
        const std::size_t comma = text.find(',');
        const std::string_view raw = text.substr(0, comma);
        const std::string_view item = trimmed(raw);
        ++index;
        const auto bad = [&](const std::string& why) {
            return invalid_field("", "item " + std::to_string(index) + " (\"" + std::string(item) + "\"): " + why);
        };
        std::size_t digits = 0;
        while (digits < item.size() && item[digits] >= '0' && item[digits] <= '9') ++digits;
        const std::int64_t unit = unit_ms(item.substr(digits));
        if (digits == 0 || digits > 9 || unit == 0)
            return bad("must be a whole number with a unit ms, s, m, h or d, such as 30s");
        std::int64_t n = 0;
        for (std::size_t i = 0; i < digits; ++i) n = n * 10 + (item[i] - '0');
        if (n * unit > max_retry_delay_ms) return bad("is longer than 30 days");
        if (policy.delays.size() == max_retry_items)
            return bad("a schedule has at most " + std::to_string(max_retry_items) + " attempts");
        policy.delays.push_back(Duration{0, 0, n * unit});
        if (comma == std::string_view::npos) break;
        text.remove_prefix(comma + 1);
    }
    return policy;
}

std::optional<Time> next_attempt_time(const RetryPolicy& policy, int attempts_made, Time now,
                                      std::optional<Duration> retry_after, double jitter01) {
    if (attempts_made < 0) attempts_made = 0;
    if (static_cast<std::size_t>(attempts_made) >= policy.delays.size()) return std::nullopt;
    const Duration& d = policy.delays[static_cast<std::size_t>(attempts_made)];
    const std::int64_t delay = d.ms + std::int64_t{d.days} * ms_per_day;
    if (!(jitter01 >= 0.0)) jitter01 = 0.0;  // also NaN
    if (jitter01 >= 1.0) jitter01 = std::nextafter(1.0, 0.0);
    const double spread = (jitter01 * 2.0 - 1.0) * 0.1 * static_cast<double>(delay);
    Time at{now.ms + delay + static_cast<std::int64_t>(std::llround(spread))};
    if (retry_after) {
        const std::int64_t wait = std::min(retry_after->ms + std::int64_t{retry_after->days} * ms_per_day, ms_per_day);
        at = std::max(at, Time{now.ms + std::max<std::int64_t>(wait, 0)});
    }
    return at;
}

// ---- Retry-After ---------------------------------------------------------------------------

namespace {

// "Sun, 06 Nov 1994 08:49:37 GMT" (RFC 9110's IMF-fixdate).
std::optional<Time> parse_imf_fixdate(std::string_view s) {
    static constexpr const char* days[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
    static constexpr const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                             "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    if (s.size() != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' || s[19] != ':' ||
        s[22] != ':' || s[25] != ' ' || s.substr(26) != "GMT")
        return std::nullopt;
    if (std::none_of(std::begin(days), std::end(days), [&](const char* d) { return s.substr(0, 3) == d; }))
        return std::nullopt;
    unsigned month = 0;
    for (unsigned i = 0; i < 12; ++i)
        if (s.substr(8, 3) == months[i]) month = i + 1;
    if (month == 0) return std::nullopt;
    const auto number = [&](std::size_t at, std::size_t len) -> int {
        int n = 0;
        for (std::size_t i = at; i < at + len; ++i) {
            if (s[i] < '0' || s[i] > '9') return -1;
            n = n * 10 + (s[i] - '0');
        }
        return n;
    };
    const int day = number(5, 2), year = number(12, 4), hour = number(17, 2), minute = number(20, 2),
              second = number(23, 2);
    if (day < 1 || day > 31 || year < 0 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 ||
        second > 60)
        return std::nullopt;
    const CivilDate date{year, month, static_cast<unsigned>(day)};
    const std::int64_t day_no = days_from_civil(date);
    if (civil_from_days(day_no) != date) return std::nullopt;  // 31 Feb
    return Time{day_no * ms_per_day + hour * ms_per_hour + minute * ms_per_minute + second * ms_per_second};
}

}  // namespace

std::optional<Duration> parse_retry_after(std::string_view header, Time now) {
    header = trimmed(header);
    if (header.empty()) return std::nullopt;
    if (std::all_of(header.begin(), header.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        // A huge number is a long wait, not an overflow; the caller caps it anyway.
        if (header.size() > 9) return Duration{0, 0, 999'999'999 * ms_per_second};
        std::int64_t n = 0;
        for (char c : header) n = n * 10 + (c - '0');
        return Duration{0, 0, n * ms_per_second};
    }
    const auto at = parse_imf_fixdate(header);
    if (!at) return std::nullopt;
    return Duration{0, 0, std::max<std::int64_t>(at->ms - now.ms, 0)};
}

// ---- outcome classification ----------------------------------------------------------------

std::string_view to_string(DeliveryVerdict v) {
    switch (v) {
        case DeliveryVerdict::delivered:
            return "delivered";
        case DeliveryVerdict::retry:
            return "retry";
        case DeliveryVerdict::gone:
            return "gone";
        case DeliveryVerdict::permanent:
            break;
    }
    return "permanent";
}

DeliveryVerdict classify_http_status(int status) {
    if (status == 0) return DeliveryVerdict::retry;
    if (status >= 200 && status <= 299) return DeliveryVerdict::delivered;
    if (status == 408 || status == 425 || status == 429 || (status >= 500 && status <= 599))
        return DeliveryVerdict::retry;
    if (status == 410) return DeliveryVerdict::gone;
    return DeliveryVerdict::permanent;
}

DeliveryVerdict classify_smtp_reply(int code) {
    if (code >= 200 && code <= 299) return DeliveryVerdict::delivered;
    if (code >= 500 && code <= 599) return DeliveryVerdict::permanent;
    return DeliveryVerdict::retry;  // 4xx, no reply, or a reply that is no final answer
}

// ---- text cuts -----------------------------------------------------------------------------

std::string cut_text(std::string_view text, std::size_t max_chars) {
    // One unit is a UTF-8 character or an entity such as &amp; (counted as its characters).
    const auto unit_end = [&](std::size_t i) {
        if (text[i] == '&') {
            const std::size_t semi = text.find(';', i);
            if (semi != std::string_view::npos && semi - i <= 8) return semi + 1;
        }
        std::size_t j = i + 1;
        while (j < text.size() && (static_cast<unsigned char>(text[j]) & 0xC0) == 0x80) ++j;
        return j;
    };
    const auto chars_in = [&](std::size_t from, std::size_t to) {
        std::size_t n = 0;
        for (std::size_t i = from; i < to; ++i)
            if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) ++n;
        return n;
    };
    if (chars_in(0, text.size()) <= max_chars) return std::string(text);
    if (max_chars == 0) return "";
    std::size_t i = 0, used = 0;
    while (i < text.size()) {
        const std::size_t next = unit_end(i);
        const std::size_t n = chars_in(i, next);
        if (used + n > max_chars - 1) break;  // one character is left for the ellipsis
        used += n;
        i = next;
    }
    return std::string(text.substr(0, i)) + "\u2026";
}

// ---- channel payloads ----------------------------------------------------------------------

namespace {

std::string display_name(const Contact* c) {
    if (!c) return "Unknown contact";
    std::string name = c->first_name;
    if (!c->last_name.empty()) name += (name.empty() ? "" : " ") + c->last_name;
    if (!name.empty()) return name;
    return c->email.empty() ? c->id : c->email;
}

// The answer's score and its class by the core rule (metrics.h); nullopt for other events.
struct Answer {
    std::string kind;  // "NPS", "CSAT"
    int score = 0;
    std::string band;  // "promoter", "passive", "detractor"; CSAT "satisfied", "not satisfied"
};
std::optional<Answer> answer_of(const Event* e) {
    if (!e) return std::nullopt;
    const auto score = e->score();
    if (!score) return std::nullopt;
    if (e->kind == EventType::nps_response) {
        const auto c = nps_class(*score);
        return Answer{"NPS", *score, c ? std::string(nps_class_name(*c)) : ""};
    }
    if (e->kind == EventType::csat_response) {
        CsatTally t;
        t.add(*score);
        return Answer{"CSAT", *score, t.satisfied() > 0 ? "satisfied" : "not satisfied"};
    }
    return std::nullopt;
}

std::string segment_of(const Contact* c) {
    return c && c->rfm ? c->rfm->segment : "";
}

// A Slack member id (U…, W…): letters and digits only, so an attribute cannot inject markup.
std::string slack_user_of(const Contact* c) {
    if (!c || !c->attributes.is_object()) return "";
    for (const char* key : {"slack_user_id", "owner_slack_id"}) {
        const auto it = c->attributes.find(key);
        if (it == c->attributes.end() || !it->is_string()) continue;
        const auto& id = it->get_ref<const std::string&>();
        if (!id.empty() && id.size() <= 32 && std::all_of(id.begin(), id.end(), [](char ch) {
                return (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
            }))
            return id;
    }
    return "";
}

// Slack's escaping: only & < > (https://api.slack.com/reference/surfaces/formatting).
std::string slack_escape(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        if (c == '&')
            out += "&amp;";
        else if (c == '<')
            out += "&lt;";
        else if (c == '>')
            out += "&gt;";
        else
            out += c;
    }
    return out;
}

json mrkdwn_section(std::string_view text) {
    return {{"type", "section"}, {"text", {{"type", "mrkdwn"}, {"text", cut_text(text, slack_max_section_chars)}}}};
}

// Each line as a Slack quote.
std::string slack_quote(std::string_view text) {
    std::string out = "&gt; ";
    for (char c : text) {
        out += c;
        if (c == '\n') out += "&gt; ";
    }
    return out;
}

}  // namespace

json slack_payload(const ChannelPost& post) {
    const std::string name = display_name(post.contact);
    const auto answer = answer_of(post.event);
    const std::string comment = post.event ? post.event->text("comment") : "";
    const std::string segment = segment_of(post.contact);
    const std::string owner_id = slack_user_of(post.contact);

    std::string headline = name;
    if (answer) headline += " \u00b7 " + answer->kind + " " + std::to_string(answer->score);
    json blocks = json::array();
    // A header is plain text (no escaping) of at most 150 characters.
    blocks.push_back({{"type", "header"}, {"text", {{"type", "plain_text"}, {"text", cut_text(headline, 150)}}}});
    if (!post.message.empty()) blocks.push_back(mrkdwn_section(slack_escape(post.message)));
    json fields = json::array();
    if (answer)
        fields.push_back({{"type", "mrkdwn"},
                          {"text", "*" + answer->kind + "*\n" + std::to_string(answer->score) +
                                       (answer->band.empty() ? "" : " (" + answer->band + ")")}});
    if (!segment.empty())
        fields.push_back({{"type", "mrkdwn"}, {"text", cut_text("*Segment*\n" + slack_escape(segment), 2000)}});
    if (!owner_id.empty())
        fields.push_back({{"type", "mrkdwn"}, {"text", "*Owner*\n<@" + owner_id + ">"}});
    else if (post.contact && !post.contact->owner.empty())
        fields.push_back(
            {{"type", "mrkdwn"}, {"text", cut_text("*Owner*\n" + slack_escape(post.contact->owner), 2000)}});
    if (!fields.empty()) blocks.push_back({{"type", "section"}, {"fields", std::move(fields)}});
    if (!comment.empty()) blocks.push_back(mrkdwn_section(slack_quote(slack_escape(comment))));
    if (!post.contact_url.empty())
        blocks.push_back({{"type", "actions"},
                          {"elements", json::array({{{"type", "button"},
                                                     {"text", {{"type", "plain_text"}, {"text", "Open contact"}}},
                                                     {"url", cut_text(post.contact_url, 3000)}}})}});
    std::string context = "closeloop";
    if (!post.scenario.empty()) context += " \u00b7 scenario " + slack_escape(post.scenario);
    if (!post.run_id.empty()) context += " \u00b7 " + slack_escape(post.run_id);
    blocks.push_back(
        {{"type", "context"}, {"elements", json::array({{{"type", "mrkdwn"}, {"text", cut_text(context, 3000)}}})}});
    if (blocks.size() > slack_max_blocks) blocks.erase(blocks.begin() + slack_max_blocks, blocks.end());

    // The notification text: the message, or the headline when there is none.
    const std::string fallback = post.message.empty() ? slack_escape(headline) : slack_escape(post.message);
    return {{"text", cut_text(fallback, slack_max_section_chars)}, {"blocks", std::move(blocks)}};
}

json teams_payload(const ChannelPost& post) {
    const std::string name = display_name(post.contact);
    const auto answer = answer_of(post.event);
    const std::string comment = post.event ? post.event->text("comment") : "";
    const std::string segment = segment_of(post.contact);

    json body = json::array();
    body.push_back({{"type", "TextBlock"}, {"text", name}, {"size", "Medium"}, {"weight", "Bolder"}, {"wrap", true}});
    if (!post.message.empty()) body.push_back({{"type", "TextBlock"}, {"text", post.message}, {"wrap", true}});
    if (!comment.empty())
        body.push_back(
            {{"type", "TextBlock"}, {"text", "\u201c" + comment + "\u201d"}, {"isSubtle", true}, {"wrap", true}});
    json facts = json::array();
    if (answer) {
        facts.push_back({{"title", answer->kind}, {"value", std::to_string(answer->score)}});
        if (!answer->band.empty()) facts.push_back({{"title", "Band"}, {"value", answer->band}});
    }
    if (!segment.empty()) facts.push_back({{"title", "Segment"}, {"value", segment}});
    if (post.contact && !post.contact->owner.empty())
        facts.push_back({{"title", "Owner"}, {"value", post.contact->owner}});
    if (!facts.empty()) body.push_back({{"type", "FactSet"}, {"facts", std::move(facts)}});

    json card = {{"$schema", "http://adaptivecards.io/schemas/adaptive-card.json"},
                 {"type", "AdaptiveCard"},
                 {"version", "1.4"},
                 {"body", std::move(body)}};
    card["actions"] = json::array();
    if (!post.contact_url.empty())
        card["actions"].push_back({{"type", "Action.OpenUrl"}, {"title", "Open contact"}, {"url", post.contact_url}});
    return {{"type", "message"},
            {"attachments", json::array({{{"contentType", "application/vnd.microsoft.card.adaptive"},
                                          {"contentUrl", nullptr},
                                          {"content", std::move(card)}}})}};
}

json generic_payload(const ChannelPost& post) {
    return {{"type", "closeloop.webhook"},
            {"key", post.effect_key},
            {"scenario", post.scenario},
            {"run", post.run_id},
            {"message", post.message},
            {"contact", post.contact ? json(*post.contact) : json(nullptr)},
            {"event", post.event ? json(*post.event) : json(nullptr)}};
}

// ---- e-mail rendering ----------------------------------------------------------------------

EmailRender render_email(const SendEmail& mail, const std::string& effect_key,
                         const std::map<std::string, MessageTemplate>& templates, const EvalContext& ctx) {
    EmailRender out;
    out.effect = effect_key;
    out.template_id = mail.template_id;
    const auto t = templates.find(mail.template_id);
    if (t == templates.end()) {
        out.error = "there is no template " + mail.template_id;
        return out;
    }
    out.transactional = t->second.transactional;
    auto m = render_message(t->second, mail.locale, ctx);
    if (!m) {
        out.error = m.error().what();
        return out;
    }
    out.locale = std::move(m->locale);
    out.dir = std::string(text_direction(out.locale));
    out.from = mail.from.empty() ? std::move(m->from) : mail.from;
    out.subject = std::move(m->subject);
    out.html = std::move(m->html);
    out.text = std::move(m->text);
    return out;
}

}  // namespace closeloop
