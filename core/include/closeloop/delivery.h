// closeloop — delivery rules: what the delivery workers decide, one home each.
//
// The workers (server) claim effects from the outbox, send them and record each attempt;
// every rule about *whether*, *when again* and *what to send* lives here, pure: the caller
// passes the clock (`now`), the randomness (`jitter01`) and the history (earlier sends).
//
// Sections: frequency cap, retry schedule, Retry-After, outcome classification, channel
// payloads (Slack, Teams, generic), e-mail rendering (shared by the simulator and the server).
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "closeloop/actions.h"
#include "closeloop/contact.h"
#include "closeloop/event.h"
#include "closeloop/expr.h"
#include "closeloop/render.h"
#include "closeloop/result.h"
#include "closeloop/time.h"

namespace closeloop {

// ---- frequency cap -------------------------------------------------------------------------

// At most this many marketing e-mails to one contact, across all scenarios (0 = no limit).
// Transactional mail (MessageTemplate::transactional) is neither capped nor counted.
struct FrequencyCap {
    int per_day = 1;   // in the last 24 hours
    int per_week = 3;  // in the last 7 days
};

// Why one more marketing e-mail now would exceed the cap, e.g. "frequency cap: 1 marketing
// e-mail in the last 24 hours (at most 1 a day)"; nullopt when it is allowed.
// `earlier_marketing_sends`: when marketing e-mails to this contact were sent or queued (any
// scenario, any order). Windows: (now - 24 h, now] and (now - 7 days, now].
std::optional<std::string> frequency_cap_reason(const FrequencyCap& cap, std::span<const Time> earlier_marketing_sends,
                                                Time now);

// ---- retry schedule ------------------------------------------------------------------------

// delays[0] is the first attempt (usually 0: at once), delays[n] the wait after the n-th
// failed attempt. After the last one the effect is dead-lettered (kept, retryable by hand).
struct RetryPolicy {
    std::vector<Duration> delays;
};

// The Standard Webhooks schedule (at once, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h)
// stretched to about three days: 11 attempts over 71 h 35 min.
RetryPolicy default_retry_policy();

// "0s,5s,5m,30m,2h" (whitespace allowed; units ms, s, m, h, d; whole numbers). Errors name
// the bad item: `item 3 ("5x"): ...`.
Result<RetryPolicy> parse_retry_schedule(std::string_view text);

// When to try again after `attempts_made` attempts (the one that just failed included; 0 =
// none yet, which gives the first attempt's time); nullopt when the schedule is exhausted
// (dead letter). The delay is delays[attempts_made] plus up to +-10 % of it from `jitter01`
// in [0, 1) (0.5 = none), so a burst of failures does not retry in lockstep. A Retry-After
// wins when it is later, capped at one day.
std::optional<Time> next_attempt_time(const RetryPolicy& policy, int attempts_made, Time now,
                                      std::optional<Duration> retry_after, double jitter01);

// ---- Retry-After ---------------------------------------------------------------------------

// An HTTP Retry-After header: delta-seconds ("120") or an IMF-fixdate ("Wed, 21 Oct 2026
// 07:28:00 GMT"; a date in the past gives 0). nullopt when empty or unparsable.
std::optional<Duration> parse_retry_after(std::string_view header, Time now);

// ---- outcome classification ----------------------------------------------------------------

enum class DeliveryVerdict {
    delivered,  // done
    retry,      // transient: try again on the schedule
    gone,       // HTTP 410: the receiver is gone; the endpoint is disabled
    permanent,  // will not succeed as it is (a 4xx, a bounce): dead-lettered, never dropped
};
std::string_view to_string(DeliveryVerdict v);  // "delivered", "retry", "gone", "permanent"

// 2xx delivered; 408, 425, 429 and 5xx retry; 410 gone; anything else permanent. 0 (no
// answer: connection refused, timeout) retry.
DeliveryVerdict classify_http_status(int status);
// 2xx delivered; 4xx retry; 5xx permanent (a bounce: the address is marked bounced). 0 (no
// reply: connection refused, timeout) and any other code retry.
DeliveryVerdict classify_smtp_reply(int code);

// ---- channel payloads ----------------------------------------------------------------------

// What a webhook effect posts, before it is shaped for the endpoint's kind.
struct ChannelPost {
    std::string message;               // the rendered message template (the effect's params.message)
    const Contact* contact = nullptr;  // may be null (erased contact)
    const Event* event = nullptr;      // the run's triggering event; may be null
    std::string contact_url;           // the contact's card, "" = no link
    std::string run_id;
    std::string effect_key;  // the idempotency key (Standard Webhooks' webhook-id)
    std::string scenario;
};

// Slack's limits: a section's text, and how many blocks a message may hold.
inline constexpr std::size_t slack_max_section_chars = 3000;
inline constexpr std::size_t slack_max_blocks = 50;

// A Slack incoming-webhook message: `text` (the notification fallback) and Block Kit
// `blocks`: a header with the contact's name, the message, for an NPS/CSAT answer the score
// and its class (metrics.h), the comment as a quote, the owner mentioned as <@U..> when the
// contact has the attribute `slack_user_id` (or `owner_slack_id`), and a button to the
// contact. Texts are escaped (& < >: a comment cannot ping @channel) and cut with "…" at a
// character boundary to Slack's limits.
nlohmann::json slack_payload(const ChannelPost& post);
// A Teams Workflows webhook message: one Adaptive Card 1.4 with the name, the message, the
// comment, a FactSet (score, class, segment) and an "Open contact" action.
nlohmann::json teams_payload(const ChannelPost& post);
// {"type": "closeloop.webhook", "key", "scenario", "run", "message", "contact", "event"}:
// the contact and event as their JSON documents (null when absent).
nlohmann::json generic_payload(const ChannelPost& post);

// `text` cut to at most `max_chars` characters (code points), ending in "…" when cut, never
// inside a UTF-8 sequence or an HTML entity such as &amp;.
std::string cut_text(std::string_view text, std::size_t max_chars);

// ---- e-mail rendering ----------------------------------------------------------------------

// A send_email effect's message rendered for its contact: what the simulator shows and what
// the server enqueues, from one function.
struct EmailRender {
    std::string effect;  // the effect's key
    std::string template_id, locale, dir, from, subject, html, text;
    std::string error;           // why it could not be rendered (no such template, a failed expression)
    bool transactional = false;  // the template's flag: exempt from unsubscribe and the frequency cap
};
// The template picked by mail.template_id in mail.locale (fallback locale otherwise), with
// `ctx` (the contact after the step, the event, the voucher, links). `from`: the action's
// wins over the template's. `dir` is text_direction(locale).
EmailRender render_email(const SendEmail& mail, const std::string& effect_key,
                         const std::map<std::string, MessageTemplate>& templates, const EvalContext& ctx);

}  // namespace closeloop
