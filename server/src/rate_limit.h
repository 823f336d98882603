// closeloop server — rate limits: token buckets per caller, checked before a route does
// anything (a refused request is answered 429 with Retry-After, counted, and never stored).
//
//   class        bucket per                          default           what it guards
//   answers      publishable key + client address    10/s, burst 60    the widget's answers
//   signin       client address                      10/min, burst 10  POST /api/v1/session (brute force;
//                                                                      a successful sign-in gives its token back)
//   unsubscribe  client address                      5/s, burst 100    GET/POST /unsubscribe/{token}
//   api          admin key (its sessions share it)   100/s, burst 1000 every other keyed route
//
// Memory is bounded: at most max_buckets buckets; a bucket idle long enough to be full again
// is dropped (it is the same as a new one), and past the cap the least recently used goes.
// Time is a steady clock of its own (the App's clock is business time, which tests stop).
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "closeloop/result.h"

namespace closeloop::server {

struct Call;
class ServerMetrics;

enum class RateClass { answers, signin, unsubscribe, api };
inline constexpr RateClass rate_classes[] = {RateClass::answers, RateClass::signin, RateClass::unsubscribe,
                                             RateClass::api};
std::string_view rate_class_name(RateClass cls);

// `per_second` tokens come back each second, up to `burst`; per_second 0 = no limit.
struct RateRule {
    double per_second = 0;
    double burst = 0;
    bool limits() const { return per_second > 0; }
    bool operator==(const RateRule&) const = default;
};

// "10/s,60" (10 a second, burst 60), "10/m" (burst = the rate's count), "100/h,5", "off".
Result<RateRule> parse_rate_rule(std::string_view text);
std::string rate_rule_text(const RateRule& rule);

struct RateLimits {
    RateRule answers{10, 60};
    RateRule signin{10.0 / 60, 10};
    RateRule unsubscribe{5, 100};
    RateRule api{100, 1000};
    std::size_t max_buckets = 100000;  // about 150 bytes each: ~15 MB at most
    const RateRule& rule(RateClass cls) const;
};

// The bucket arithmetic, a pure function of time.
struct TokenBucket {
    double tokens = 0;
    std::int64_t at_ms = 0;  // when `tokens` was counted
};
// Refills `bucket` to now_ms and takes `cost` tokens if it holds them. Returns 0 when taken,
// else the milliseconds until it will hold them (the bucket is left refilled, not taken from).
std::int64_t take_tokens(TokenBucket& bucket, const RateRule& rule, std::int64_t now_ms, double cost = 1);
// A bucket counted at `bucket.at_ms` would be full by now_ms: it can be forgotten.
bool bucket_full(const TokenBucket& bucket, const RateRule& rule, std::int64_t now_ms);

class RateLimiter {
public:
    explicit RateLimiter(RateLimits limits, ServerMetrics* metrics = nullptr,
                         std::function<std::int64_t()> now_ms = nullptr);

    // Takes a token from (cls, key): 0 when taken, else the seconds to wait (at least 1).
    // A refusal is counted on /metrics.
    int take(RateClass cls, std::string_view key);
    // Gives a token back (a sign-in that succeeded).
    void refund(RateClass cls, std::string_view key);

    // The router's check, on open routes before the handler and on keyed ones right after the
    // key is known: answers 429 (Retry-After, the JSON error) and returns false when refused.
    bool admit(Call& call, std::string_view route);
    // After the handler: a successful sign-in costs nothing.
    void settle(const Call& call, std::string_view route);

    std::size_t buckets() const;
    const RateLimits& limits() const { return limits_; }

private:
    struct Entry {
        TokenBucket bucket;
        RateClass cls;
        std::list<std::string>::iterator order;  // in lru_
    };
    Entry& entry(RateClass cls, const std::string& key, std::int64_t now);

    RateLimits limits_;
    ServerMetrics* metrics_;
    std::function<std::int64_t()> now_ms_;
    mutable std::mutex mutex_;
    std::unordered_map<std::string, Entry> buckets_;
    std::list<std::string> lru_;  // least recently used first
};

}  // namespace closeloop::server
