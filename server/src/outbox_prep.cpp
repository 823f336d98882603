#include "outbox_prep.h"

#include <cctype>

#include "unsubscribe.h"

namespace closeloop::server {

using nlohmann::json;

namespace {

// The shop's redeem page for a code: "{code}" replaced by the code, percent-encoded.
std::string redeem_link(const std::string& pattern, const std::string& code) {
    std::string encoded;
    for (unsigned char c : code) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            encoded += static_cast<char>(c);
        } else {
            static const char* hex = "0123456789ABCDEF";
            encoded += '%';
            encoded += hex[c >> 4];
            encoded += hex[c & 15];
        }
    }
    std::string out = pattern;
    for (auto at = out.find("{code}"); at != std::string::npos; at = out.find("{code}", at + encoded.size()))
        out.replace(at, 6, encoded);
    return out;
}

void suppress(OutboxEntry& entry, std::string why) {
    entry.status = OutboxStatus::suppressed;
    entry.last_error = std::move(why);
}

void prepare_email(WriteTx& tx, WorkspaceId ws, const Effect& effect, const SendEmail& mail, const StepFacts& step,
                   const WorkspaceDelivery& delivery, const OutboxPolicy& policy, OutboxEntry& entry) {
    entry.address = mail.to;
    const std::string url =
        unsubscribe_url(policy.public_url, unsubscribe_token(delivery.link_secret, {ws, step.contact.id, mail.to}));
    // answer_token: a survey link's proof of whose answer it is (posted with the publishable key).
    std::map<std::string, std::string> links = {
        {"unsubscribe", url},
        {"preferences", url},
        {"answer_token", answer_token(delivery.link_secret, {ws, step.contact.id})}};
    // The run's voucher, or the contact's latest of the scenario's campaigns (as the simulator).
    std::optional<VoucherView> fallback;
    if (!step.state.voucher) fallback = step.history.latest(step.contact.id, step.scenario.campaigns(), step.now);
    const VoucherView* voucher = step.state.voucher ? &*step.state.voucher : (fallback ? &*fallback : nullptr);
    if (voucher && !policy.redeem_url.empty()) links["redeem"] = redeem_link(policy.redeem_url, voucher->code);
    const RunView run{step.state.id, step.state.started_at};
    EvalContext ctx;
    ctx.event = step.state.event.get();
    ctx.contact = &step.contact;
    ctx.voucher = voucher;
    ctx.run = &run;
    ctx.links = &links;
    ctx.history = &step.history;
    ctx.now = step.now;
    static const std::map<std::string, MessageTemplate> none;
    const EmailRender r = render_email(mail, effect.key, delivery.templates ? *delivery.templates : none, ctx);
    if (!r.error.empty()) {
        // Templates are checked when a scenario is activated; one changed since is reported here.
        entry.status = OutboxStatus::dead;
        entry.last_error = "the e-mail does not render: " + r.error;
        return;
    }
    entry.marketing = !r.transactional;
    json message = {{"from", r.from}, {"to", mail.to},      {"subject", r.subject}, {"html", r.html},
                    {"text", r.text}, {"locale", r.locale}, {"dir", r.dir},         {"marketing", entry.marketing}};
    message["cc"] = mail.cc.empty() ? json::array() : json::array({mail.cc});
    if (entry.marketing) message["unsubscribe_url"] = url;
    entry.params["message"] = std::move(message);
    if (!entry.marketing) return;
    if (const auto s = tx.find_suppression(ws, mail.to)) {
        suppress(entry, suppression_reason(*s));
        return;
    }
    const auto earlier = tx.marketing_sends(ws, step.contact.id, Time{step.now.ms - 7 * ms_per_day});
    if (auto why = frequency_cap_reason(policy.cap, earlier, step.now)) suppress(entry, std::move(*why));
}

void prepare_webhook(WriteTx& tx, WorkspaceId ws, const Effect& effect, const Webhook& hook, const StepFacts& step,
                     const OutboxPolicy& policy, OutboxEntry& entry) {
    entry.endpoint = hook.endpoint;
    const auto endpoint = tx.find_endpoint(ws, hook.endpoint);
    if (!endpoint) {
        entry.status = OutboxStatus::dead;
        entry.last_error = "there is no endpoint " + hook.endpoint + " (create it: POST /api/v1/endpoints)";
        return;
    }
    std::string base = policy.public_url;
    while (!base.empty() && base.back() == '/') base.pop_back();
    ChannelPost post;
    post.message = hook.message;
    post.contact = &step.contact;
    post.event = step.state.event.get();
    post.contact_url = base + "/api/v1/contacts/" + step.contact.id;
    post.run_id = step.state.id;
    post.effect_key = effect.key;
    post.scenario = step.scenario.id;
    entry.params["payload"] = endpoint->kind == "slack"   ? slack_payload(post)
                              : endpoint->kind == "teams" ? teams_payload(post)
                                                          : generic_payload(post);
}

}  // namespace

std::string suppression_reason(const Suppression& s) {
    return s.reason == "bounced" ? "the address " + s.address + " bounced: " + s.detail
                                 : "the contact unsubscribed (" + s.address + ")";
}

void prepare_entry(WriteTx& tx, WorkspaceId ws, const Effect& effect, const StepFacts& step,
                   const WorkspaceDelivery& delivery, const OutboxPolicy& policy, OutboxEntry& entry) {
    if (const auto* mail = std::get_if<SendEmail>(&effect.params))
        prepare_email(tx, ws, effect, *mail, step, delivery, policy, entry);
    else if (const auto* hook = std::get_if<Webhook>(&effect.params))
        prepare_webhook(tx, ws, effect, *hook, step, policy, entry);
}

}  // namespace closeloop::server
