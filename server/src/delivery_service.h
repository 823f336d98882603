// closeloop server — the delivery workers: they take due effects from the outbox and perform
// them (e-mail over SMTP, webhooks to Slack, Teams or any receiver), recording every attempt.
//
// One thread sends e-mail (its SMTP connection is reused across messages); a few threads post
// webhooks (one slow receiver does not hold the others). Each loop:
//   1. claims a batch of due entries (Store::claim_effects: a lease, so an entry is one
//      worker's; a worker that dies leaves it to the next claim after the lease, and a start
//      releases every claim of the process before);
//   2. performs each: an e-mail as built when it was enqueued (outbox_prep.h) — suppressed
//      instead if the address unsubscribed or bounced since; a webhook signed per Standard
//      Webhooks with the endpoint's secrets (webhook-id = the effect key, so a receiver drops
//      a repeat), paced per endpoint (a burst waits its turn instead of being refused);
//   3. settles what it did every few messages, the commit running beside the next sends
//      (Store::finish_attempts, one transaction per group): sent; failed and due
//      again per core's retry policy (transient: no answer, timeout, 5xx, 429, SMTP 4xx;
//      Retry-After honoured); dead after the last try or on a permanent answer (kept, and
//      retryable through the API: nothing is dropped); a 410 disables the endpoint; an SMTP
//      5xx marks the address bounced.
// A crash between sending and settling sends that effect again with the same idempotency key
// (webhook-id, Message-ID): at least once, and receivers can make it exactly once.
// stop() finishes the message in flight, settles, hands back what it claimed and returns.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "closeloop/delivery.h"
#include "delivery/dkim.h"
#include "store/store.h"

namespace closeloop::server {

struct DeliveryOptions {
    std::string smtp_url;  // smtp://host:port or smtps://; "" = e-mail is not sent (it waits)
    std::string smtp_user, smtp_password;
    std::optional<delivery::DkimKey> dkim;  // every e-mail is DKIM-signed with it when set
    bool allow_private_endpoints = false;   // webhooks to loopback / private addresses
    RetryPolicy retry = default_retry_policy();
    std::chrono::milliseconds timeout{10000};  // one attempt, connect to answer
    int webhook_threads = 4;
    std::size_t batch = 32;         // webhook entries claimed at a time (per worker)
    std::size_t email_batch = 128;  // e-mails claimed at a time (one worker: nobody waits on it)
    // Attempts are settled (one commit) every few messages or after this long, whichever first:
    // what a crash can send twice.
    std::size_t settle_every = 64;
    std::chrono::milliseconds settle_after{100};
    std::chrono::milliseconds lease{300000};  // how long a claim holds
    std::chrono::milliseconds idle_poll{250};
};

struct DeliveryKindStats {
    std::uint64_t attempts = 0, failures = 0, sent = 0, dead = 0, suppressed = 0;
};

class DeliveryService {
public:
    DeliveryService(Store& store, std::function<Time()> clock, DeliveryOptions options);
    ~DeliveryService();  // stops
    DeliveryService(const DeliveryService&) = delete;
    DeliveryService& operator=(const DeliveryService&) = delete;

    void start();
    void stop();
    void wake();  // something may be due (an API retry)
    bool sends_email() const { return !options_.smtp_url.empty(); }
    std::map<std::string, DeliveryKindStats> stats();  // by kind: send_email, webhook

private:
    struct Worker;
    void loop(Worker& worker);
    // One batch: claim, perform, settle; false when nothing was due.
    bool pass(Worker& worker);
    AttemptOutcome send_email(Worker& worker, const OutboxEntry& entry, Time now);
    AttemptOutcome post_webhook(Worker& worker, const OutboxEntry& entry, Time now);
    // When this endpoint may be posted to next (pacing); reserves the slot when it is now.
    std::optional<Time> paced(const OutboxEntry& entry, double rate_per_second, Time now);
    void count(const std::string& kind, const AttemptOutcome& outcome);
    double jitter();

    Store& store_;
    std::function<Time()> clock_;
    DeliveryOptions options_;
    std::vector<std::unique_ptr<Worker>> workers_;
    std::vector<std::thread> threads_;

    std::mutex mutex_;
    std::condition_variable cv_;
    bool stopping_ = false;
    std::uint64_t signals_ = 0;
    std::map<std::string, DeliveryKindStats> stats_;                 // under mutex_
    std::map<std::pair<WorkspaceId, std::string>, Time> next_slot_;  // pacing, under mutex_
};

}  // namespace closeloop::server
