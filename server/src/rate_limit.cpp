#include "rate_limit.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "http.h"
#include "server_metrics.h"

namespace closeloop::server {

namespace {

std::int64_t steady_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

// Which bucket a request takes from: nullopt when the route is not limited.
struct BucketKey {
    RateClass cls;
    std::string key;
};

std::optional<BucketKey> bucket_of(const Call& call, std::string_view route) {
    const std::string& addr = call.req.remote_addr;
    if (call.caller.key_id.empty()) {  // an open route: no key was asked for
        if (route == "/api/v1/session" && call.req.method == "POST") return BucketKey{RateClass::signin, addr};
        if (route.rfind("/unsubscribe/", 0) == 0) return BucketKey{RateClass::unsubscribe, addr};
        return std::nullopt;
    }
    if (call.caller.kind == KeyKind::publishable) return BucketKey{RateClass::answers, call.caller.key_id + "|" + addr};
    return BucketKey{RateClass::api, call.caller.key_id};
}

}  // namespace

std::string_view rate_class_name(RateClass cls) {
    switch (cls) {
        case RateClass::answers:
            return "answers";
        case RateClass::signin:
            return "signin";
        case RateClass::unsubscribe:
            return "unsubscribe";
        case RateClass::api:
            break;
    }
    return "api";
}

Result<RateRule> parse_rate_rule(std::string_view text) {
    const auto bad = [&] {
        return Error{"invalid_field",
                     "must be a rate such as 10/s, 10/m,30 (10 a minute, bursts of 30), 100/h or off, not \"" +
                         std::string(text) + "\"",
                     ""};
    };
    if (text == "off") return RateRule{};
    const auto slash = text.find('/');
    if (slash == std::string_view::npos || slash == 0 || slash + 2 > text.size()) return bad();
    const std::string count(text.substr(0, slash));
    char* end = nullptr;
    const double n = std::strtod(count.c_str(), &end);
    if (end != count.c_str() + count.size() || !(n > 0) || n > 1e9) return bad();
    const char unit = text[slash + 1];
    const double seconds = unit == 's' ? 1 : unit == 'm' ? 60 : unit == 'h' ? 3600 : 0;
    if (seconds == 0) return bad();
    double burst = std::max(1.0, n);
    const std::string_view rest = text.substr(slash + 2);
    if (!rest.empty()) {
        if (rest[0] != ',' || rest.size() < 2) return bad();
        const std::string b(rest.substr(1));
        burst = std::strtod(b.c_str(), &end);
        if (end != b.c_str() + b.size() || !(burst >= 1) || burst > 1e9) return bad();
    }
    return RateRule{n / seconds, burst};
}

std::string rate_rule_text(const RateRule& rule) {
    if (!rule.limits()) return "off";
    char buf[64];
    if (rule.per_second >= 1)
        std::snprintf(buf, sizeof buf, "%g/s,%g", rule.per_second, rule.burst);
    else
        std::snprintf(buf, sizeof buf, "%g/m,%g", rule.per_second * 60, rule.burst);
    return buf;
}

const RateRule& RateLimits::rule(RateClass cls) const {
    switch (cls) {
        case RateClass::answers:
            return answers;
        case RateClass::signin:
            return signin;
        case RateClass::unsubscribe:
            return unsubscribe;
        case RateClass::api:
            break;
    }
    return api;
}

std::int64_t take_tokens(TokenBucket& b, const RateRule& rule, std::int64_t now_ms, double cost) {
    if (!rule.limits()) return 0;
    if (now_ms > b.at_ms) {
        b.tokens = std::min(rule.burst, b.tokens + static_cast<double>(now_ms - b.at_ms) * rule.per_second / 1000);
        b.at_ms = now_ms;
    }
    if (b.tokens >= cost) {
        b.tokens -= cost;
        return 0;
    }
    return std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil((cost - b.tokens) / rule.per_second * 1000)));
}

bool bucket_full(const TokenBucket& b, const RateRule& rule, std::int64_t now_ms) {
    if (!rule.limits()) return true;
    return b.tokens + static_cast<double>(now_ms - b.at_ms) * rule.per_second / 1000 >= rule.burst;
}

RateLimiter::RateLimiter(RateLimits limits, ServerMetrics* metrics, std::function<std::int64_t()> now_ms)
    : limits_(limits), metrics_(metrics), now_ms_(now_ms ? std::move(now_ms) : steady_ms) {}

RateLimiter::Entry& RateLimiter::entry(RateClass cls, const std::string& key, std::int64_t now) {
    // Forget up to two idle buckets per call: enough to keep up with the calls that add them.
    for (int i = 0; i < 2 && !lru_.empty(); ++i) {
        const auto oldest = buckets_.find(lru_.front());
        if (!bucket_full(oldest->second.bucket, limits_.rule(oldest->second.cls), now)) break;
        buckets_.erase(oldest);
        lru_.pop_front();
    }
    if (auto it = buckets_.find(key); it != buckets_.end()) {
        lru_.splice(lru_.end(), lru_, it->second.order);
        return it->second;
    }
    // Past the cap the least recently used bucket goes (under a flood of addresses, each is
    // limited for as long as it keeps within the newest max_buckets).
    while (buckets_.size() >= std::max<std::size_t>(1, limits_.max_buckets)) {
        buckets_.erase(lru_.front());
        lru_.pop_front();
    }
    lru_.push_back(key);
    Entry& e = buckets_[key];
    e.bucket = {limits_.rule(cls).burst, now};
    e.cls = cls;
    e.order = std::prev(lru_.end());
    return e;
}

int RateLimiter::take(RateClass cls, std::string_view key) {
    const RateRule& rule = limits_.rule(cls);
    if (!rule.limits()) return 0;
    std::int64_t wait_ms = 0;
    {
        const std::int64_t now = now_ms_();
        std::string full(1, static_cast<char>('0' + static_cast<int>(cls)));
        full += key;
        std::lock_guard lock(mutex_);
        wait_ms = take_tokens(entry(cls, full, now).bucket, rule, now);
    }
    if (wait_ms == 0) return 0;
    if (metrics_) metrics_->count_rate_limited(rate_class_name(cls));
    return static_cast<int>(std::min<std::int64_t>((wait_ms + 999) / 1000, 24 * 3600));
}

void RateLimiter::refund(RateClass cls, std::string_view key) {
    const RateRule& rule = limits_.rule(cls);
    if (!rule.limits()) return;
    std::string full(1, static_cast<char>('0' + static_cast<int>(cls)));
    full += key;
    std::lock_guard lock(mutex_);
    if (auto it = buckets_.find(full); it != buckets_.end())
        it->second.bucket.tokens = std::min(rule.burst, it->second.bucket.tokens + 1);
}

bool RateLimiter::admit(Call& call, std::string_view route) {
    const auto bucket = bucket_of(call, route);
    if (!bucket) return true;
    const int wait = take(bucket->cls, bucket->key);
    if (wait == 0) return true;
    const std::string_view cls = rate_class_name(bucket->cls);
    call.res.set_header("Retry-After", std::to_string(wait));
    if (bucket->cls == RateClass::unsubscribe && call.req.method == "GET") {
        // A person opened the link: a page, not JSON.
        send_page(call.res, 429, "Please try again in a moment",
                  "<p>Too many requests came from your network just now. Open the link again in " +
                      std::to_string(wait) + (wait == 1 ? " second.</p>" : " seconds.</p>"));
        return false;
    }
    send_error(call.res, 429, "rate_limited",
               "too many requests (" + std::string(cls) + ": " + rate_rule_text(limits_.rule(bucket->cls)) +
                   "): retry after " + std::to_string(wait) + " s");
    return false;
}

void RateLimiter::settle(const Call& call, std::string_view route) {
    if (call.res.status != 200) return;
    if (const auto bucket = bucket_of(call, route); bucket && bucket->cls == RateClass::signin)
        refund(bucket->cls, bucket->key);
}

std::size_t RateLimiter::buckets() const {
    std::lock_guard lock(mutex_);
    return buckets_.size();
}

}  // namespace closeloop::server
