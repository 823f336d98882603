// closeloop server — the HTTP/1.1 transport: one event-loop thread owns every socket, a pool
// of workers answers complete requests.
//
// Why not httplib::Server (which we used until issue 13): Debian ships cpp-httplib 0.11 as a
// compiled library, so its limits cannot even be set at build time, and it gives each
// connection a worker thread for as long as the connection is open. Measured on loopback, 64
// idle keep-alive clients or 200 slowloris connections (a header line every 2 s) left a fresh
// client unanswered for 50 s; one connection sending 800 MB of header lines grew the process
// to 2 GB; a request carrying both Content-Length and Transfer-Encoding was accepted. Here:
//  - a connection costs a socket and a small buffer, not a thread, until its request is
//    complete: idle keep-alive and slow clients wait in epoll, workers only ever run handlers;
//  - the request head has a deadline as a whole (not per read), and limits on its size, the
//    request line and the number of header lines;
//  - Content-Length with Transfer-Encoding, or two different Content-Lengths, are refused and
//    the connection closed (request smuggling behind a proxy that reads them otherwise);
//  - connections are capped in total and per client address; at a cap the oldest idle
//    keep-alive connection is closed first, then the slowest unfinished head, and only then is
//    the newcomer answered 503 with Retry-After;
//  - complete requests queue for the workers up to a bound, beyond which they get 503.
// Requests and responses are httplib's types (the handlers and httplib::Client use them), and
// one handler (the Router) answers every request; httplib stays our HTTP client.
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace closeloop::server {

// Every limit a client's bytes meet before a handler runs. Each refusal names its limit.
struct HttpLimits {
    std::size_t max_connections = 4096;               // open at once; the process's file limit is raised to fit
    std::size_t max_per_address = 512;                // from one client address (a trusted proxy is exempt)
    std::size_t max_request_line = 8 * 1024;          // method, target and version: 414 beyond
    std::size_t max_header_bytes = 32 * 1024;         // the whole head, request line included: 431 beyond
    std::size_t max_header_count = 100;               // header lines: 431 beyond
    std::size_t max_body = 1024 * 1024;               // 413 beyond (chunked bodies too)
    std::chrono::milliseconds head_timeout{10'000};   // the whole head must arrive within: 408
    std::chrono::milliseconds body_timeout{30'000};   // the whole body must arrive within: 408
    std::chrono::milliseconds idle_timeout{30'000};   // a keep-alive connection between requests
    std::chrono::milliseconds write_timeout{30'000};  // a response the client does not read
    std::size_t max_queued = 1024;                    // complete requests waiting for a worker: 503 beyond
    int workers = 16;
};

// What the transport saw, for /metrics.
struct HttpStats {
    std::uint64_t open = 0;       // connections open now
    std::uint64_t accepted = 0;   // connections accepted since start
    std::uint64_t evicted = 0;    // closed to make room (idle keep-alive or slow head)
    std::uint64_t timed_out = 0;  // closed for a deadline (head, body, idle, write)
    std::uint64_t busy = 0;       // answered 503: a cap reached or the queue full
    std::uint64_t malformed = 0;  // answered 4xx by the transport (framing, limits)
};

class HttpServer {
public:
    // Answers one complete request; runs on a worker. Exceptions are answered 500 by the caller.
    using Handler = std::function<void(httplib::Request&, httplib::Response&)>;

    HttpServer(HttpLimits limits, Handler handler);
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    // Client addresses of reverse proxies whose X-Forwarded-For is believed (exact text of the
    // address, e.g. "127.0.0.1" or "::1"). From anyone else the header is ignored.
    void set_trusted_proxies(std::vector<std::string> addresses);

    // Binds and listens; port 0 = any free port. Returns the port, or -1 (in use, not an
    // address of this machine).
    int bind(const std::string& address, int port);
    // Serves on the calling thread until stop(); requests in progress are answered first.
    bool listen();
    // Any thread; listen() returns once in-flight requests are answered.
    void stop();
    bool is_running() const { return running_; }

    HttpStats stats() const;
    const HttpLimits& limits() const { return limits_; }

private:
    struct Loop;
    HttpLimits limits_;
    Handler handler_;
    std::vector<std::string> trusted_;
    int listen_fd_ = -1;
    int wake_fd_ = -1;
    std::atomic<bool> running_{false};
    std::atomic<bool> stopping_{false};
    std::shared_ptr<Loop> loop_;
};

// The reason phrase of a status code ("Not Found").
const char* status_reason(int status);

// The items of a comma-separated list ("a, b,c"), each trimmed of spaces and tabs; an empty
// item stays (a header such as "Content-Length: 5," is then refused, not read as 5).
std::vector<std::string> split_list(std::string_view list);
// An IPv4 or IPv6 address in text ("127.0.0.1", "::1").
bool is_ip_address(const std::string& text);

// Percent-decodes `text` (and '+' as a space when `plus_is_space`); nullopt when a % is not
// followed by two hex digits.
std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space);

}  // namespace closeloop::server
