// closeloop server — the clock (core has none: it takes the time as an argument).
#pragma once

#include <chrono>

#include "closeloop/time.h"

namespace closeloop::server {

inline Time now_utc() {
    using namespace std::chrono;
    return Time{duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count()};
}

}  // namespace closeloop::server
