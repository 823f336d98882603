// closeloop server — the clock (core has none: it takes the time as an argument).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>

#include "closeloop/time.h"

namespace closeloop::server {

inline Time now_utc() {
    using namespace std::chrono;
    return Time{duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count()};
}

// A clock that tests set by hand (App's clock, the executor's, the RFM job's): any thread may
// read it while the test moves it.
class ManualClock {
public:
    explicit ManualClock(Time start) : ms_(start.ms) {}
    Time now() const { return Time{ms_.load()}; }
    void set(Time t) { ms_.store(t.ms); }
    void advance(const Duration& d) { set(add(now(), d)); }  // calendar months and days too
    // For AppOptions::clock and the like; the ManualClock must outlive its users.
    std::function<Time()> function() const {
        return [this] { return now(); };
    }

private:
    std::atomic<std::int64_t> ms_;
};

}  // namespace closeloop::server
