#include "delivery_service.h"

#include <openssl/rand.h>
#include <pthread.h>

#include <algorithm>
#include <future>
#include <iostream>

#include "delivery/dkim.h"
#include "delivery/http_post.h"
#include "delivery/mime.h"
#include "delivery/signing.h"
#include "delivery/smtp.h"
#include "outbox_prep.h"

namespace closeloop::server {

using nlohmann::json;
using namespace closeloop::delivery;

namespace {

const std::string email_kind = "send_email";
const std::string webhook_kind = "webhook";

std::string text_of(const json& j, const char* key) {
    const auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string domain_of(std::string_view address) {
    const auto at = address.rfind('@');
    return at == std::string_view::npos ? "closeloop.invalid" : std::string(address.substr(at + 1));
}

std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

std::int64_t ms_of(std::chrono::milliseconds d) {
    return static_cast<std::int64_t>(d.count());
}

}  // namespace

// A worker thread's kind and its own connections.
struct DeliveryService::Worker {
    std::string kind;
    std::map<std::pair<WorkspaceId, std::string>, std::optional<Endpoint>> endpoints;  // this batch's
    std::unique_ptr<SmtpClient> smtp;
    std::unique_ptr<HttpPoster> http;
};

DeliveryService::DeliveryService(Store& store, std::function<Time()> clock, DeliveryOptions options)
    : store_(store), clock_(std::move(clock)), options_(std::move(options)) {}

DeliveryService::~DeliveryService() {
    stop();
}

void DeliveryService::start() {
    if (!threads_.empty()) return;
    {
        std::lock_guard lock(mutex_);
        stopping_ = false;
    }
    // One server owns a SQLite store: claims left by a process that died are nobody's now.
    if (const std::size_t released = store_.release_claims())
        std::cerr << "closeloop: " << released << " outbox entries claimed before a restart are due again\n";
    if (sends_email()) {
        auto w = std::make_unique<Worker>();
        w->kind = email_kind;
        SmtpConfig smtp;
        smtp.url = options_.smtp_url;
        smtp.user = options_.smtp_user;
        smtp.password = options_.smtp_password;
        smtp.timeout = options_.timeout;
        w->smtp = std::make_unique<SmtpClient>(smtp);
        workers_.push_back(std::move(w));
    }
    for (int i = 0; i < options_.webhook_threads; ++i) {
        auto w = std::make_unique<Worker>();
        w->kind = webhook_kind;
        w->http = std::make_unique<HttpPoster>(options_.timeout);
        workers_.push_back(std::move(w));
    }
    for (auto& w : workers_)
        threads_.emplace_back([this, worker = w.get()] {
            pthread_setname_np(pthread_self(), worker->kind == email_kind ? "closeloop-mail" : "closeloop-hook");
            loop(*worker);
        });
}

void DeliveryService::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_)
        if (t.joinable()) t.join();
    threads_.clear();
    workers_.clear();
}

void DeliveryService::wake() {
    {
        std::lock_guard lock(mutex_);
        ++signals_;
    }
    cv_.notify_all();
}

std::map<std::string, DeliveryKindStats> DeliveryService::stats() {
    std::lock_guard lock(mutex_);
    return stats_;
}

double DeliveryService::jitter() {
    std::uint32_t r = 0;
    RAND_bytes(reinterpret_cast<unsigned char*>(&r), sizeof r);
    return static_cast<double>(r) / 4294967296.0;
}

void DeliveryService::count(const std::string& kind, const AttemptOutcome& o) {
    std::lock_guard lock(mutex_);
    auto& s = stats_[kind];
    if (o.tried) {
        ++s.attempts;
        if (!o.attempt.ok) ++s.failures;
    }
    if (o.status == OutboxStatus::sent) ++s.sent;
    if (o.status == OutboxStatus::dead) ++s.dead;
    if (o.status == OutboxStatus::suppressed) ++s.suppressed;
}

void DeliveryService::loop(Worker& worker) {
    for (;;) {
        std::uint64_t seen;
        {
            std::lock_guard lock(mutex_);
            if (stopping_) return;
            seen = signals_;
        }
        bool busy = false;
        try {
            busy = pass(worker);
        } catch (const std::exception& e) {
            // A broken store: said, then tried again after the pause (claims run out on their own).
            std::cerr << "closeloop: delivery (" << worker.kind << "): " << e.what() << std::endl;
        }
        if (busy) continue;
        std::unique_lock lock(mutex_);
        cv_.wait_for(lock, options_.idle_poll, [&] { return stopping_ || signals_ != seen; });
    }
}

bool DeliveryService::pass(Worker& worker) {
    const Time now = clock_();
    const std::string kinds[] = {worker.kind};
    // E-mail has one worker: a bigger batch costs nobody a wait. The lease outlasts the batch
    // even if every message in it takes the whole timeout, so no other worker can claim an
    // entry this one still holds.
    const std::size_t batch = worker.kind == email_kind ? options_.email_batch : options_.batch;
    const auto lease = std::max<std::int64_t>(ms_of(options_.lease),
                                              static_cast<std::int64_t>(batch) * ms_of(options_.timeout) + 60000);
    const auto claimed = store_.claim_effects(kinds, now, Time{now.ms + lease}, batch);
    if (claimed.empty()) return false;
    // Settled as they come, a few at a time: after a crash only those sent and not yet settled
    // go again (with their keys), while a commit is shared by several messages.
    // The commit runs beside the sending (one at a time per worker, in order): the next
    // messages go out while the disk syncs.
    std::vector<AttemptOutcome> outcomes;
    std::future<void> settling;
    auto first_unsettled = std::chrono::steady_clock::now();
    const auto settle = [&] {
        if (settling.valid()) settling.get();  // the one before; rethrows its failure
        settling = std::async(std::launch::async,
                              [this, group = std::move(outcomes)] { store_.finish_attempts(group, clock_()); });
        outcomes.clear();
    };
    worker.endpoints.clear();
    for (const OutboxEntry& entry : claimed) {
        bool stopping;
        {
            std::lock_guard lock(mutex_);
            stopping = stopping_;
        }
        AttemptOutcome o;
        if (stopping) {  // handed back untried, due as it was
            o.workspace = entry.workspace;
            o.seq = entry.seq;
            o.tried = false;
            o.status = entry.status;
            o.next_attempt_at = entry.next_attempt_at;
            o.error = entry.last_error;
        } else {
            const Time at = clock_();
            o = worker.kind == email_kind ? send_email(worker, entry, at) : post_webhook(worker, entry, at);
        }
        count(worker.kind, o);
        if (outcomes.empty()) first_unsettled = std::chrono::steady_clock::now();
        outcomes.push_back(std::move(o));
        if (outcomes.size() >= options_.settle_every ||
            std::chrono::steady_clock::now() - first_unsettled >= options_.settle_after)
            settle();
    }
    if (!outcomes.empty()) settle();
    if (settling.valid()) settling.get();
    return true;
}

namespace {

// The entry's next status after a failed attempt: due again per the policy, or dead.
void failed(AttemptOutcome& o, const OutboxEntry& entry, const RetryPolicy& policy, Time now,
            std::optional<Duration> retry_after, double jitter01) {
    const auto next = next_attempt_time(policy, entry.attempts + 1, now, retry_after, jitter01);
    if (next) {
        o.status = OutboxStatus::failed;
        o.next_attempt_at = next;
        o.error = o.attempt.detail;
    } else {
        o.status = OutboxStatus::dead;
        o.error = "gave up after " + std::to_string(entry.attempts + 1) + " attempts: " + o.attempt.detail;
    }
}

AttemptOutcome outcome_for(const OutboxEntry& entry, Time now) {
    AttemptOutcome o;
    o.workspace = entry.workspace;
    o.seq = entry.seq;
    o.attempt.at = now;
    return o;
}

// Settled without an attempt (suppressed, or nothing that can be sent).
AttemptOutcome settled(const OutboxEntry& entry, Time now, OutboxStatus status, std::string why) {
    AttemptOutcome o = outcome_for(entry, now);
    o.tried = false;
    o.status = status;
    o.error = std::move(why);
    return o;
}

}  // namespace

AttemptOutcome DeliveryService::send_email(Worker& worker, const OutboxEntry& entry, Time now) {
    const auto m = entry.params.find("message");
    if (m == entry.params.end() || !m->is_object())
        return settled(
            entry, now, OutboxStatus::dead,
            entry.last_error.empty() ? "the e-mail was not rendered when it was enqueued" : entry.last_error);
    const json& message = *m;
    const bool marketing = message.value("marketing", true);
    const std::string to = text_of(message, "to");
    if (marketing) {
        if (const auto s = store_.find_suppression(entry.workspace, to))
            return settled(entry, now, OutboxStatus::suppressed, suppression_reason(*s));
    }
    OutgoingEmail mail;
    mail.from = text_of(message, "from");
    mail.to = {to};
    if (const auto cc = message.find("cc"); cc != message.end() && cc->is_array())
        for (const auto& a : *cc)
            if (a.is_string() && !a.get<std::string>().empty()) mail.cc.push_back(a.get<std::string>());
    mail.subject = text_of(message, "subject");
    mail.text = text_of(message, "text");
    mail.html = text_of(message, "html");
    const std::string envelope_from = address_of(mail.from);
    mail.message_id = message_id_for(entry.key, domain_of(envelope_from));
    mail.date = now;
    mail.headers.emplace_back("X-Closeloop-Effect", entry.key);
    const std::string unsubscribe = text_of(message, "unsubscribe_url");
    if (marketing && !unsubscribe.empty()) {
        // RFC 8058: the https link takes a one-click POST; the mailto is for older clients.
        mail.headers.emplace_back("List-Unsubscribe", "<" + unsubscribe + ">, <mailto:unsubscribe@" +
                                                          domain_of(envelope_from) + "?subject=unsubscribe>");
        mail.headers.emplace_back("List-Unsubscribe-Post", "List-Unsubscribe=One-Click");
    }
    std::vector<std::string> recipients;
    for (const auto& a : mail.to) recipients.push_back(address_of(a));
    for (const auto& a : mail.cc) recipients.push_back(address_of(a));

    std::string raw = build_email(mail);
    if (options_.dkim) {
        try {
            raw = dkim_sign(*options_.dkim, raw);
        } catch (const std::runtime_error& e) {  // the key signed a probe at start: this message is at fault
            return settled(entry, now, OutboxStatus::dead, e.what());
        }
    }
    const SmtpResult r = worker.smtp->send(envelope_from, recipients, raw);
    AttemptOutcome o = outcome_for(entry, now);
    o.attempt.ok = r.ok;
    o.attempt.status_code = r.code;
    o.attempt.duration_ms = ms_of(r.duration);
    o.attempt.detail = r.ok ? "accepted" : r.error;
    if (r.ok && !r.deferred.empty()) o.attempt.detail += "; deferred by the server for some recipients";
    for (const auto& rejected : r.rejected)
        o.suppress.push_back({lower(rejected), "bounced", entry.contact, "rejected by the SMTP server", now});
    switch (r.ok ? DeliveryVerdict::delivered : classify_smtp_reply(r.code)) {
        case DeliveryVerdict::delivered:
            o.status = OutboxStatus::sent;
            o.error.clear();
            break;
        case DeliveryVerdict::retry:
            failed(o, entry, options_.retry, now, std::nullopt, jitter());
            break;
        case DeliveryVerdict::gone:
        case DeliveryVerdict::permanent:
            // A permanent rejection: the address bounced, and no marketing mail goes to it again.
            o.status = OutboxStatus::dead;
            o.error = "rejected (" + std::to_string(r.code) + "): " + r.error;
            o.suppress.push_back({lower(address_of(to)), "bounced", entry.contact, o.error, now});
            break;
    }
    return o;
}

std::optional<Time> DeliveryService::paced(const OutboxEntry& entry, double rate, Time now) {
    if (rate <= 0) return std::nullopt;
    std::lock_guard lock(mutex_);
    Time& slot = next_slot_[{entry.workspace, entry.endpoint}];
    if (slot > now) return slot;
    slot = Time{now.ms + static_cast<std::int64_t>(1000.0 / rate)};
    return std::nullopt;
}

AttemptOutcome DeliveryService::post_webhook(Worker& worker, const OutboxEntry& entry, Time now) {
    // Read once per batch (a batch is mostly one endpoint's burst).
    auto cached = worker.endpoints.find({entry.workspace, entry.endpoint});
    if (cached == worker.endpoints.end())
        cached = worker.endpoints
                     .emplace(std::pair{entry.workspace, entry.endpoint},
                              store_.find_endpoint(entry.workspace, entry.endpoint))
                     .first;
    const std::optional<Endpoint>& endpoint = cached->second;
    if (!endpoint) return settled(entry, now, OutboxStatus::dead, "there is no endpoint " + entry.endpoint);
    if (endpoint->disabled_at)
        return settled(entry, now, OutboxStatus::dead,
                       "the endpoint " + endpoint->id + " is disabled: " + endpoint->disabled_reason);
    const auto payload = entry.params.find("payload");
    if (payload == entry.params.end())
        return settled(entry, now, OutboxStatus::dead, "no payload was built when it was enqueued");
    if (const auto slot = paced(entry, endpoint->rate_per_second, now)) {
        AttemptOutcome o = settled(entry, now, entry.status, entry.last_error);  // its turn comes
        o.next_attempt_at = slot;
        return o;
    }
    const std::string body = payload->dump();
    std::vector<std::string> secrets = {endpoint->secret};
    if (!endpoint->previous_secret.empty() && endpoint->previous_until && *endpoint->previous_until > now)
        secrets.push_back(endpoint->previous_secret);
    const std::int64_t timestamp = now.ms / 1000;
    const std::vector<std::pair<std::string, std::string>> headers = {
        {"Content-Type", "application/json"},
        {"webhook-id", entry.key},
        {"webhook-timestamp", std::to_string(timestamp)},
        {"webhook-signature", webhook_signature(secrets, entry.key, timestamp, body)}};
    const HttpResult r = worker.http->post({endpoint->url, options_.allow_private_endpoints}, body, headers);

    AttemptOutcome o = outcome_for(entry, now);
    o.attempt.status_code = r.status;
    o.attempt.duration_ms = ms_of(r.duration);
    // No answer is transient (down, timeout), unless the guard refused the address: permanent.
    const DeliveryVerdict verdict = r.refused       ? DeliveryVerdict::permanent
                                    : r.status == 0 ? DeliveryVerdict::retry
                                                    : classify_http_status(r.status);
    o.attempt.ok = verdict == DeliveryVerdict::delivered;
    o.attempt.detail =
        r.status == 0 ? r.error : "HTTP " + std::to_string(r.status) + (r.error.empty() ? "" : ": " + r.error);
    switch (verdict) {
        case DeliveryVerdict::delivered:
            o.status = OutboxStatus::sent;
            break;
        case DeliveryVerdict::retry:
            failed(o, entry, options_.retry, now, parse_retry_after(r.retry_after, now), jitter());
            break;
        case DeliveryVerdict::gone:
            o.status = OutboxStatus::dead;
            o.error = "the receiver answered 410 Gone: the endpoint " + endpoint->id + " is disabled";
            o.disable_endpoint = endpoint->id;
            cached->second->disabled_at = now;  // the rest of this batch sees it disabled
            cached->second->disabled_reason = "the receiver answered 410 Gone";
            o.disable_reason = "the receiver answered 410 Gone";
            break;
        case DeliveryVerdict::permanent:
            o.status = OutboxStatus::dead;
            o.error = "refused: " + o.attempt.detail;
            break;
    }
    return o;
}

}  // namespace closeloop::server
