// closeloop delivery (internal) — the libcurl easy handle shared by the SMTP and HTTP clients.
#pragma once

#include <curl/curl.h>

#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>

namespace closeloop::delivery::detail {

// curl_global_init is not safe to call from two threads at once: once per process.
inline void init_curl() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// The clients' headers hold the handle as this type, so they need not include curl.h.
using EasyHandle = std::unique_ptr<void, void (*)(void*)>;

inline void easy_cleanup(void* handle) {
    curl_easy_cleanup(static_cast<CURL*>(handle));
}

inline EasyHandle new_easy_handle() {
    init_curl();
    EasyHandle handle{curl_easy_init(), easy_cleanup};
    if (!handle) throw std::runtime_error("curl_easy_init failed");
    return handle;
}

struct SlistFree {
    void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using Slist = std::unique_ptr<curl_slist, SlistFree>;

inline void append(Slist& list, const std::string& item) {
    curl_slist* grown = curl_slist_append(list.get(), item.c_str());
    if (!grown) throw std::bad_alloc();
    list.release();
    list.reset(grown);
}

}  // namespace closeloop::delivery::detail
