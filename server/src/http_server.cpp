#include "http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

namespace closeloop::server {

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::uint64_t listen_tag = 0;
constexpr std::uint64_t wake_tag = 1;
constexpr auto linger_time = std::chrono::milliseconds(2000);    // draining a refused client's bytes
constexpr auto slow_head_age = std::chrono::milliseconds(1000);  // an unfinished head older than this may be evicted
constexpr std::size_t read_chunk = 16 * 1024;

// Where a connection is in its life.
enum class Phase {
    head,     // reading a request line and headers
    body,     // reading the body the head announced
    work,     // a worker has the request; nothing is read meanwhile (back-pressure)
    write,    // sending the answer
    idle,     // keep-alive: between requests
    closing,  // answered and shut for writing; reading (and dropping) until the peer closes
};

struct Conn {
    int fd = -1;
    std::uint64_t id = 0;
    std::string peer;
    int peer_port = 0;
    bool trusted = false;  // a trusted reverse proxy: not capped per address, X-Forwarded-For believed
    Phase phase = Phase::head;
    Clock::time_point since;     // when the phase began
    Clock::time_point deadline;  // when the phase must have ended
    std::string in;              // bytes read and not yet consumed
    std::unique_ptr<httplib::Request> req;
    bool keep_alive = true;
    // body framing
    bool chunked = false;
    std::size_t body_left = 0;  // Content-Length: bytes still to read; chunked: of this chunk
    enum class Chunk { size, data, data_end, trailer } chunk = Chunk::size;
    std::size_t trailer_bytes = 0;
    std::string out;
    std::size_t out_sent = 0;
    std::shared_ptr<httplib::Response> stream;  // the rest of the answer comes from its provider
    std::size_t stream_at = 0, stream_end = 0;
    bool close_after_write = false;
    std::uint32_t events = 0;  // epoll interest now
};

struct Job {
    std::uint64_t conn = 0;
    std::unique_ptr<httplib::Request> req;
    bool keep_alive = true;
};

struct Done {
    std::uint64_t conn = 0;
    std::string bytes;
    std::shared_ptr<httplib::Response> stream;  // a content provider to read from after `bytes`
    std::size_t stream_length = 0;
    bool close = false;
};

bool is_tchar(char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return std::strchr("!#$%&'*+-.^_`|~", c) != nullptr && c != '\0';
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

bool has_token(std::string_view list, std::string_view token) {
    for (const auto& item : split_list(list))
        if (lower(item) == token) return true;
    return false;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::string error_json(std::string_view code, std::string_view message) {
    std::string out = "{\"error\":{\"code\":\"";
    out += code;
    out += "\",\"message\":\"";
    for (char c : message) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    out += "\",\"field\":null}}";
    return out;
}

// A whole answer written by the transport itself (refusals before any handler).
std::string plain_answer(int status, std::string_view code, std::string_view message, int retry_after = 0) {
    const std::string body = error_json(code, message);
    std::string out = "HTTP/1.1 " + std::to_string(status) + " " + status_reason(status) + "\r\n";
    out += "Content-Type: application/json\r\n";
    out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    if (retry_after > 0) out += "Retry-After: " + std::to_string(retry_after) + "\r\n";
    out += "Connection: close\r\n\r\n";
    out += body;
    return out;
}

bool header_value_safe(const std::string& v) {
    return v.find_first_of("\r\n") == std::string::npos && v.find('\0') == std::string::npos;
}

// An answer ready to send: its bytes, and a content provider still to be read from (the
// builder's files): those are pulled a piece at a time as the socket drains, so a client that
// does not read holds a small buffer, not a copy of the file.
struct Serialized {
    std::string bytes;
    std::shared_ptr<httplib::Response> stream;
    std::size_t stream_length = 0;
};

// The status line, headers, Content-Length and body (none for HEAD, 204, 304).
Serialized serialize(const httplib::Request& req, httplib::Response& res, bool keep_alive) {
    if (res.status == -1) res.status = 200;
    const bool no_body = res.status == 204 || res.status == 304 || (res.status >= 100 && res.status < 200);
    const bool provided = res.content_provider_ && res.content_length_ > 0;
    const std::size_t length = provided ? res.content_length_ : res.body.size();
    Serialized out;
    out.bytes.reserve(256 + (provided ? 0 : res.body.size()));
    out.bytes += "HTTP/1.1 " + std::to_string(res.status) + " " + status_reason(res.status) + "\r\n";
    for (const auto& [name, value] : res.headers) {
        const std::string n = lower(name);
        if (n == "content-length" || n == "connection" || n == "transfer-encoding") continue;
        if (!header_value_safe(name) || !header_value_safe(value)) continue;  // no header injection
        out.bytes += name + ": " + value + "\r\n";
    }
    if (!no_body) out.bytes += "Content-Length: " + std::to_string(length) + "\r\n";
    if (!keep_alive)
        out.bytes += "Connection: close\r\n";
    else if (req.version == "HTTP/1.0")
        out.bytes += "Connection: keep-alive\r\n";
    out.bytes += "\r\n";
    if (no_body || req.method == "HEAD") return out;
    if (provided) {
        out.stream_length = length;
        out.stream = std::make_shared<httplib::Response>(std::move(res));
    } else {
        out.bytes += res.body;
    }
    return out;
}

void set_nonblocking(int fd) {
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

// Allows as many open files as the hard limit (Debian's soft default of 1024 would cap
// connections well below max_connections).
// Returns the limit in force afterwards.
std::size_t raise_file_limit(std::size_t wanted) {
    rlimit lim{};
    if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return wanted;
    const rlim_t target = std::min<rlim_t>(lim.rlim_max, static_cast<rlim_t>(wanted));
    if (lim.rlim_cur < target) {
        lim.rlim_cur = target;
        if (setrlimit(RLIMIT_NOFILE, &lim) != 0) getrlimit(RLIMIT_NOFILE, &lim);
    }
    return static_cast<std::size_t>(lim.rlim_cur);
}

std::string address_text(const sockaddr_storage& sa, int* port) {
    char text[INET6_ADDRSTRLEN] = {0};
    if (sa.ss_family == AF_INET) {
        const auto* in = reinterpret_cast<const sockaddr_in*>(&sa);
        inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
        *port = ntohs(in->sin_port);
    } else if (sa.ss_family == AF_INET6) {
        const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&sa);
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
            inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], text, sizeof text);
        } else {
            inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
        }
        *port = ntohs(in6->sin6_port);
    }
    return text;
}

}  // namespace

const char* status_reason(int status) {
    switch (status) {
        case 100:
            return "Continue";
        case 200:
            return "OK";
        case 201:
            return "Created";
        case 202:
            return "Accepted";
        case 204:
            return "No Content";
        case 206:
            return "Partial Content";
        case 301:
            return "Moved Permanently";
        case 302:
            return "Found";
        case 303:
            return "See Other";
        case 304:
            return "Not Modified";
        case 400:
            return "Bad Request";
        case 401:
            return "Unauthorized";
        case 403:
            return "Forbidden";
        case 404:
            return "Not Found";
        case 405:
            return "Method Not Allowed";
        case 408:
            return "Request Timeout";
        case 409:
            return "Conflict";
        case 410:
            return "Gone";
        case 411:
            return "Length Required";
        case 412:
            return "Precondition Failed";
        case 413:
            return "Content Too Large";
        case 414:
            return "URI Too Long";
        case 415:
            return "Unsupported Media Type";
        case 416:
            return "Range Not Satisfiable";
        case 417:
            return "Expectation Failed";
        case 422:
            return "Unprocessable Content";
        case 428:
            return "Precondition Required";
        case 429:
            return "Too Many Requests";
        case 431:
            return "Request Header Fields Too Large";
        case 500:
            return "Internal Server Error";
        case 501:
            return "Not Implemented";
        case 502:
            return "Bad Gateway";
        case 503:
            return "Service Unavailable";
        case 505:
            return "HTTP Version Not Supported";
        default:
            return status < 400 ? "OK" : status < 500 ? "Client Error" : "Server Error";
    }
}

std::vector<std::string> split_list(std::string_view list) {
    std::vector<std::string> items;
    while (true) {
        const auto comma = list.find(',');
        items.emplace_back(trim(list.substr(0, comma)));
        if (comma == std::string_view::npos) return items;
        list.remove_prefix(comma + 1);
    }
}

bool is_ip_address(const std::string& text) {
    unsigned char buf[sizeof(in6_addr)];
    return inet_pton(AF_INET, text.c_str(), buf) == 1 || inet_pton(AF_INET6, text.c_str(), buf) == 1;
}

std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '%') {
            if (i + 2 >= text.size()) return std::nullopt;
            const int hi = hex_value(text[i + 1]), lo = hex_value(text[i + 2]);
            if (hi < 0 || lo < 0) return std::nullopt;
            out += static_cast<char>(hi * 16 + lo);
            i += 2;
        } else if (c == '+' && plus_is_space) {
            out += ' ';
        } else {
            out += c;
        }
    }
    return out;
}

// ---- the loop ------------------------------------------------------------------------------

struct HttpServer::Loop {
    HttpServer& server;
    const HttpLimits& limits;
    int epoll_fd = -1;
    std::unordered_map<std::uint64_t, Conn> conns;
    std::unordered_map<std::string, std::size_t> per_address;
    std::uint64_t next_id = 2;   // 0 and 1 tag the listening socket and the wake-up
    bool accept_paused = false;  // out of descriptors: the listening socket is not watched

    // Workers: complete requests in, answers out.
    std::mutex mutex;
    std::condition_variable work_ready;
    std::deque<Job> jobs;
    std::vector<Done> done;
    bool workers_stop = false;
    std::vector<std::thread> workers;
    std::atomic<std::size_t> in_work{0};

    mutable std::mutex stats_mutex;
    HttpStats stats;

    Loop(HttpServer& s) : server(s), limits(s.limits_) {}

    // ---- epoll bookkeeping ----
    void watch(Conn& c, std::uint32_t events) {
        if (c.events == events) return;
        epoll_event ev{};
        ev.events = events;
        ev.data.u64 = c.id;
        epoll_ctl(epoll_fd, EPOLL_CTL_MOD, c.fd, &ev);
        c.events = events;
    }

    void set_phase(Conn& c, Phase p, std::chrono::milliseconds limit) {
        c.phase = p;
        c.since = Clock::now();
        c.deadline = c.since + limit;
    }

    void count(std::uint64_t HttpStats::*field, std::uint64_t n = 1) {
        std::lock_guard lock(stats_mutex);
        stats.*field += n;
    }

    void close_conn(std::uint64_t id) {
        const auto it = conns.find(id);
        if (it == conns.end()) return;
        Conn& c = it->second;
        epoll_ctl(epoll_fd, EPOLL_CTL_DEL, c.fd, nullptr);
        ::close(c.fd);
        if (!c.trusted) {
            const auto pa = per_address.find(c.peer);
            if (pa != per_address.end() && --pa->second == 0) per_address.erase(pa);
        }
        conns.erase(it);
        std::lock_guard lock(stats_mutex);
        stats.open = conns.size();
    }

    // Answers without a handler and shuts the connection: the answer is sent, the client's
    // further bytes are read and dropped for a moment (closing with unread bytes would reset
    // the connection and could destroy the answer before the client reads it).
    void refuse(Conn& c, int status, std::string_view code, std::string_view message, int retry_after = 0) {
        count(status == 503 ? &HttpStats::busy : &HttpStats::malformed);
        c.out = plain_answer(status, code, message, retry_after);
        c.out_sent = 0;
        c.stream.reset();
        c.close_after_write = true;
        c.req.reset();
        c.in.clear();
        set_phase(c, Phase::write, limits.write_timeout);
        flush(c);
    }

    void head_too_large(Conn& c) {
        refuse(
            c, 431, "headers_too_large",
            "the request head is larger than " + std::to_string(limits.max_header_bytes) + " bytes (max_header_bytes)");
    }

    void body_too_large(Conn& c) {
        refuse(
            c, 413, "payload_too_large",
            "the body is larger than " + std::to_string(limits.max_body) + " bytes (max_body): send smaller batches");
    }

    void linger(Conn& c) {
        shutdown(c.fd, SHUT_WR);
        c.in.clear();
        set_phase(c, Phase::closing, linger_time);
        watch(c, EPOLLIN | EPOLLRDHUP);
    }

    // Sends what it can; the rest when the socket is writable again.
    void flush(Conn& c) {
        while (true) {
            while (c.out_sent < c.out.size()) {
                const ssize_t n = ::send(c.fd, c.out.data() + c.out_sent, c.out.size() - c.out_sent, MSG_NOSIGNAL);
                if (n > 0) {
                    c.out_sent += static_cast<std::size_t>(n);
                    continue;
                }
                if (n < 0 && errno == EINTR) continue;
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                    watch(c, EPOLLOUT);
                    return;
                }
                return close_conn(c.id);
            }
            if (!c.stream || c.stream_at >= c.stream_end) break;
            if (!refill(c)) return close_conn(c.id);  // the provider failed: the length cannot be kept
        }
        if (c.stream) c.stream->content_provider_success_ = true;
        c.stream.reset();
        c.out.clear();
        c.out_sent = 0;
        if (c.close_after_write) return linger(c);
        // Keep-alive: the next request may already be here (pipelining).
        set_phase(c, Phase::idle, limits.idle_timeout);
        watch(c, EPOLLIN | EPOLLRDHUP);
        if (!c.in.empty()) advance(c);
    }

    // The next piece of a provided body into `out` (64 KiB at most).
    bool refill(Conn& c) {
        c.out.clear();
        c.out_sent = 0;
        const std::size_t want = std::min<std::size_t>(64 * 1024, c.stream_end - c.stream_at);
        httplib::DataSink sink;
        sink.write = [&c](const char* data, std::size_t n) {
            c.out.append(data, n);
            return true;
        };
        sink.is_writable = [] { return true; };
        sink.done = [] {};
        if (!c.stream->content_provider_(c.stream_at, want, sink) || c.out.empty()) return false;
        if (c.out.size() > c.stream_end - c.stream_at) c.out.resize(c.stream_end - c.stream_at);
        c.stream_at += c.out.size();
        return true;
    }

    // ---- accepting ----
    // The connection to close so a newcomer fits: the oldest idle keep-alive one, else the
    // slowest unfinished head. `peer` empty = any address.
    std::optional<std::uint64_t> victim(const std::string* peer, Clock::time_point now) {
        std::optional<std::uint64_t> idle, slow;
        Clock::time_point idle_since = Clock::time_point::max(), slow_since = Clock::time_point::max();
        for (auto& [id, c] : conns) {
            if (peer && c.peer != *peer) continue;
            if (c.phase == Phase::idle && c.since < idle_since) {
                idle = id;
                idle_since = c.since;
            } else if ((c.phase == Phase::head || c.phase == Phase::closing) && now - c.since >= slow_head_age &&
                       c.since < slow_since) {
                slow = id;
                slow_since = c.since;
            }
        }
        return idle ? idle : slow;
    }

    // A newcomer that cannot be taken: one small 503, then closed.
    static void turn_away(int fd) {
        static const std::string answer =
            plain_answer(503, "busy", "the server has too many connections open: retry in a moment", 1);
        [[maybe_unused]] const auto n = ::send(fd, answer.data(), answer.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        shutdown(fd, SHUT_WR);
        char scratch[4096];
        while (::recv(fd, scratch, sizeof scratch, MSG_DONTWAIT) > 0) {
        }
        ::close(fd);
    }

    void accept_all() {
        while (true) {
            sockaddr_storage sa{};
            socklen_t len = sizeof sa;
            const int fd =
                accept4(server.listen_fd_, reinterpret_cast<sockaddr*>(&sa), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) {
                if (errno == EINTR) continue;
                if (errno == EMFILE || errno == ENFILE) {
                    // Out of descriptors: make room by closing the oldest idle connection.
                    if (const auto v = victim(nullptr, Clock::now())) {
                        close_conn(*v);
                        count(&HttpStats::evicted);
                        continue;
                    }
                    // Nothing to close: stop asking for a moment (the socket stays readable,
                    // and a level-triggered loop would spin); the sweep listens again.
                    epoll_ctl(epoll_fd, EPOLL_CTL_DEL, server.listen_fd_, nullptr);
                    accept_paused = true;
                }
                return;  // EAGAIN, or nothing to be done now
            }
            int port = 0;
            std::string peer = address_text(sa, &port);
            const bool trusted =
                std::find(server.trusted_.begin(), server.trusted_.end(), peer) != server.trusted_.end();
            const auto now = Clock::now();
            if (conns.size() >= limits.max_connections) {
                const auto v = victim(nullptr, now);
                if (!v) {
                    count(&HttpStats::busy);
                    turn_away(fd);
                    continue;
                }
                close_conn(*v);
                count(&HttpStats::evicted);
            }
            if (!trusted && per_address[peer] >= limits.max_per_address) {
                const auto v = victim(&peer, now);
                if (!v) {
                    count(&HttpStats::busy);
                    turn_away(fd);
                    continue;
                }
                close_conn(*v);
                count(&HttpStats::evicted);
            }
            int yes = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
            const std::uint64_t id = next_id++;
            Conn& c = conns[id];
            c.fd = fd;
            c.id = id;
            c.peer = std::move(peer);
            c.peer_port = port;
            c.trusted = trusted;
            if (!trusted) ++per_address[c.peer];
            set_phase(c, Phase::head, limits.head_timeout);
            epoll_event ev{};
            ev.events = EPOLLIN | EPOLLRDHUP;
            ev.data.u64 = id;
            epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev);
            c.events = ev.events;
            std::lock_guard lock(stats_mutex);
            ++stats.accepted;
            stats.open = conns.size();
        }
    }

    // ---- reading ----
    void on_readable(Conn& c) {
        // A bounded number of reads per wake-up, so one fast sender cannot hold the loop;
        // epoll (level-triggered) reports the rest on the next turn.
        char buf[read_chunk];
        for (int reads = 0; reads < 16; ++reads) {
            const ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
            if (n > 0) {
                if (c.phase == Phase::closing) continue;  // a refused client's bytes: dropped
                c.in.append(buf, static_cast<std::size_t>(n));
                const std::uint64_t id = c.id;
                advance(c);
                if (!conns.count(id)) return;
                // A worker has the request, or the answer is being written: read no further.
                if (c.phase == Phase::work || c.phase == Phase::write) return;
                continue;
            }
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
            return close_conn(c.id);  // the peer closed (or reset): an unfinished request is dropped
        }
    }

    // Consumes what `in` holds: the head, then the body; dispatches a complete request.
    void advance(Conn& c) {
        const std::uint64_t id = c.id;
        while (conns.count(id)) {
            if (c.phase == Phase::idle && !c.in.empty()) set_phase(c, Phase::head, limits.head_timeout);
            if (c.phase == Phase::head) {
                if (!read_head(c)) return;
                continue;
            }
            if (c.phase == Phase::body) {
                if (!read_body(c)) return;
                continue;
            }
            return;
        }
    }

    // True when the phase moved on (head complete); false to wait for more bytes or when refused.
    bool read_head(Conn& c) {
        // Blank lines before a request line are allowed (RFC 9112 2.2).
        while (c.in.size() >= 2 && c.in[0] == '\r' && c.in[1] == '\n') c.in.erase(0, 2);
        const auto line_end = c.in.find("\r\n");
        if ((line_end == std::string::npos ? c.in.size() : line_end) > limits.max_request_line) {
            refuse(c, 414, "uri_too_long",
                   "the request line is longer than " + std::to_string(limits.max_request_line) +
                       " bytes (max_request_line)");
            return false;
        }
        const auto end = c.in.find("\r\n\r\n");
        if (end == std::string::npos) {
            if (c.in.size() > limits.max_header_bytes) {
                head_too_large(c);
            }
            return false;
        }
        if (end + 4 > limits.max_header_bytes) {
            head_too_large(c);
            return false;
        }
        const std::string head = c.in.substr(0, end + 2);
        c.in.erase(0, end + 4);
        return parse_head(c, head);
    }

    bool parse_head(Conn& c, const std::string& head) {
        auto req = std::make_unique<httplib::Request>();
        std::size_t pos = head.find("\r\n");
        const std::string_view line(head.data(), pos);
        const auto sp1 = line.find(' '), sp2 = line.rfind(' ');
        if (sp1 == std::string_view::npos || sp2 == sp1) {
            refuse(c, 400, "bad_request", "the request line is not METHOD TARGET HTTP/1.1");
            return false;
        }
        req->method = std::string(line.substr(0, sp1));
        req->target = std::string(line.substr(sp1 + 1, sp2 - sp1 - 1));
        req->version = std::string(line.substr(sp2 + 1));
        static const std::string_view methods[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"};
        if (std::find(std::begin(methods), std::end(methods), req->method) == std::end(methods)) {
            refuse(c, 400, "bad_request",
                   "the request method is not one of GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS");
            return false;
        }
        if (req->version != "HTTP/1.1" && req->version != "HTTP/1.0") {
            // Bad input is a 4xx here, never a 5xx (RFC 9110 would say 505).
            refuse(c, 400, "bad_request", "only HTTP/1.1 and HTTP/1.0 are served");
            return false;
        }
        if (req->target.empty() || req->target[0] != '/' ||
            std::any_of(req->target.begin(), req->target.end(),
                        [](unsigned char ch) { return ch <= 0x20 || ch == 0x7f; })) {
            refuse(c, 400, "bad_request", "the request target must be a path starting with /");
            return false;
        }

        // Header lines.
        std::size_t lines = 0;
        std::vector<std::string> lengths;
        bool transfer_encoding = false, chunked = false;
        pos += 2;
        while (pos < head.size()) {
            const auto eol = head.find("\r\n", pos);
            const std::string_view h(head.data() + pos, eol - pos);
            pos = eol + 2;
            if (++lines > limits.max_header_count) {
                refuse(c, 431, "too_many_headers",
                       "more than " + std::to_string(limits.max_header_count) + " header lines (max_header_count)");
                return false;
            }
            const auto colon = h.find(':');
            if (h.empty() || h[0] == ' ' || h[0] == '\t' || colon == std::string_view::npos || colon == 0 ||
                !std::all_of(h.begin(), h.begin() + static_cast<std::ptrdiff_t>(colon), is_tchar)) {
                refuse(c, 400, "bad_request",
                       "a header line is not NAME: VALUE (no folding, no space before the colon)");
                return false;
            }
            const std::string name(h.substr(0, colon));
            const std::string_view value = trim(h.substr(colon + 1));
            if (std::any_of(value.begin(), value.end(),
                            [](unsigned char ch) { return (ch < 0x20 && ch != '\t') || ch == 0x7f; })) {
                refuse(c, 400, "bad_request", "the value of header " + name + " holds a control character");
                return false;
            }
            const std::string lname = lower(name);
            if (lname == "content-length") {
                for (auto& l : split_list(value)) lengths.push_back(std::move(l));
            } else if (lname == "transfer-encoding") {
                transfer_encoding = true;
                chunked = lower(value) == "chunked";
                if (!chunked) {
                    refuse(c, 400, "bad_request", "Transfer-Encoding other than chunked is not supported");
                    return false;
                }
            }
            req->headers.emplace(name, std::string(value));
        }

        // Framing: one way to know where the body ends, or the request is refused (smuggling).
        std::size_t length = 0;
        if (!lengths.empty()) {
            for (const auto& l : lengths) {
                if (l.empty() || l.size() > 18 ||
                    !std::all_of(l.begin(), l.end(), [](char ch) { return ch >= '0' && ch <= '9'; })) {
                    refuse(c, 400, "bad_request", "Content-Length must be a number of bytes");
                    return false;
                }
                if (l != lengths.front() && std::stoull(l) != std::stoull(lengths.front())) {
                    refuse(c, 400, "bad_request", "two different Content-Length values: the body's end is ambiguous");
                    return false;
                }
            }
            length = std::stoull(lengths.front());
        }
        if (transfer_encoding && !lengths.empty()) {
            refuse(c, 400, "bad_request",
                   "both Content-Length and Transfer-Encoding: the body's end is ambiguous (send one)");
            return false;
        }
        if (transfer_encoding && req->version == "HTTP/1.0") {
            refuse(c, 400, "bad_request", "Transfer-Encoding is not allowed in HTTP/1.0");
            return false;
        }
        if (length > limits.max_body) {
            body_too_large(c);
            return false;
        }

        // Path and query.
        const auto q = req->target.find('?');
        auto path = percent_decode(std::string_view(req->target).substr(0, q), false);
        if (!path || path->find('\0') != std::string::npos) {
            refuse(c, 400, "bad_request", "the path holds a % not followed by two hex digits, or a NUL");
            return false;
        }
        req->path = std::move(*path);
        if (q != std::string::npos) {
            std::string_view query = std::string_view(req->target).substr(q + 1);
            while (!query.empty()) {
                const auto amp = query.find('&');
                const std::string_view pair = query.substr(0, amp);
                if (!pair.empty()) {
                    const auto eq = pair.find('=');
                    auto key = percent_decode(pair.substr(0, eq), true);
                    auto val = percent_decode(eq == std::string_view::npos ? "" : pair.substr(eq + 1), true);
                    if (!key || !val) {
                        refuse(c, 400, "bad_request", "the query holds a % not followed by two hex digits");
                        return false;
                    }
                    req->params.emplace(std::move(*key), std::move(*val));
                }
                if (amp == std::string_view::npos) break;
                query.remove_prefix(amp + 1);
            }
        }

        // Who asks: the peer, or the client a trusted proxy names (the rightmost address in
        // X-Forwarded-For that is not itself a trusted proxy).
        req->remote_addr = c.peer;
        req->remote_port = c.peer_port;
        if (c.trusted && req->has_header("X-Forwarded-For")) {
            std::string forwarded;
            for (std::size_t i = 0, n = req->get_header_value_count("X-Forwarded-For"); i < n; ++i)
                forwarded += (i ? "," : "") + req->get_header_value("X-Forwarded-For", i);
            const std::vector<std::string> hops = split_list(forwarded);
            for (auto it = hops.rbegin(); it != hops.rend(); ++it) {
                if (!is_ip_address(*it)) break;
                req->remote_addr = *it;
                req->remote_port = -1;
                if (std::find(server.trusted_.begin(), server.trusted_.end(), *it) == server.trusted_.end()) break;
            }
        }

        const std::string connection = req->get_header_value("Connection");
        c.keep_alive =
            req->version == "HTTP/1.1" ? !has_token(connection, "close") : has_token(connection, "keep-alive");

        c.chunked = chunked;
        c.body_left = length;
        c.chunk = Conn::Chunk::size;
        c.trailer_bytes = 0;
        const bool has_body = chunked || length > 0;
        if (has_body) {
            const std::string expect = req->get_header_value("Expect");
            if (!expect.empty()) {
                if (lower(expect) != "100-continue") {
                    refuse(c, 417, "expectation_failed", "only Expect: 100-continue is understood");
                    return false;
                }
                // Asked before sending the body: the limits above were met, so say go on.
                static const char go_on[] = "HTTP/1.1 100 Continue\r\n\r\n";
                [[maybe_unused]] const auto n = ::send(c.fd, go_on, sizeof go_on - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
            }
            req->body.reserve(std::min(length, limits.max_body));
        }
        c.req = std::move(req);
        if (!has_body) {
            dispatch(c);
            return false;
        }
        set_phase(c, Phase::body, limits.body_timeout);
        return true;
    }

    // True when more of `in` may be consumed (never: the body ends the request); false to wait.
    bool read_body(Conn& c) {
        std::string& body = c.req->body;
        if (!c.chunked) {
            const std::size_t take = std::min(c.body_left, c.in.size());
            body.append(c.in, 0, take);
            c.in.erase(0, take);
            c.body_left -= take;
            if (c.body_left == 0) dispatch(c);
            return false;
        }
        while (true) {
            switch (c.chunk) {
                case Conn::Chunk::size: {
                    const auto eol = c.in.find("\r\n");
                    if (eol == std::string::npos) {
                        if (c.in.size() > 1024) {
                            refuse(c, 400, "bad_request", "a chunk size line is longer than 1024 bytes");
                        }
                        return false;
                    }
                    std::string_view line(c.in.data(), eol);
                    line = line.substr(0, line.find(';'));
                    line = trim(line);
                    std::size_t size = 0;
                    if (line.empty() || line.size() > 8) {
                        refuse(c, 400, "bad_request", "a chunk size is not a hexadecimal number");
                        return false;
                    }
                    for (char ch : line) {
                        const int v = hex_value(ch);
                        if (v < 0) {
                            refuse(c, 400, "bad_request", "a chunk size is not a hexadecimal number");
                            return false;
                        }
                        size = size * 16 + static_cast<std::size_t>(v);
                    }
                    c.in.erase(0, eol + 2);
                    if (size == 0) {
                        c.chunk = Conn::Chunk::trailer;
                    } else {
                        if (body.size() + size > limits.max_body) {
                            body_too_large(c);
                            return false;
                        }
                        c.body_left = size;
                        c.chunk = Conn::Chunk::data;
                    }
                    break;
                }
                case Conn::Chunk::data: {
                    const std::size_t take = std::min(c.body_left, c.in.size());
                    body.append(c.in, 0, take);
                    c.in.erase(0, take);
                    c.body_left -= take;
                    if (c.body_left > 0) return false;
                    c.chunk = Conn::Chunk::data_end;
                    break;
                }
                case Conn::Chunk::data_end:
                    if (c.in.size() < 2) return false;
                    if (c.in[0] != '\r' || c.in[1] != '\n') {
                        refuse(c, 400, "bad_request", "a chunk does not end with CRLF");
                        return false;
                    }
                    c.in.erase(0, 2);
                    c.chunk = Conn::Chunk::size;
                    break;
                case Conn::Chunk::trailer: {
                    const auto eol = c.in.find("\r\n");
                    if (eol == std::string::npos) {
                        if (c.trailer_bytes + c.in.size() > limits.max_header_bytes)
                            refuse(c, 431, "headers_too_large", "the chunked trailer is too large (max_header_bytes)");
                        return false;
                    }
                    c.trailer_bytes += eol + 2;
                    if (c.trailer_bytes > limits.max_header_bytes) {
                        refuse(c, 431, "headers_too_large", "the chunked trailer is too large (max_header_bytes)");
                        return false;
                    }
                    c.in.erase(0, eol + 2);
                    if (eol == 0) {  // the blank line that ends the trailer: the request is whole
                        dispatch(c);
                        return false;
                    }
                    break;
                }
            }
        }
    }

    // ---- working ----
    void dispatch(Conn& c) {
        std::unique_lock lock(mutex);
        if (jobs.size() >= limits.max_queued) {
            lock.unlock();
            refuse(c, 503, "busy", "the server is busy: retry in a moment", 1);
            return;
        }
        jobs.push_back(Job{c.id, std::move(c.req), c.keep_alive && !server.stopping_});
        lock.unlock();
        work_ready.notify_one();
        c.phase = Phase::work;
        c.since = Clock::now();
        c.deadline = Clock::time_point::max();
        watch(c, 0);
    }

    void work() {
        while (true) {
            Job job;
            {
                std::unique_lock lock(mutex);
                work_ready.wait(lock, [&] { return workers_stop || !jobs.empty(); });
                if (jobs.empty()) return;
                job = std::move(jobs.front());
                jobs.pop_front();
            }
            ++in_work;
            httplib::Response res;
            try {
                server.handler_(*job.req, res);
            } catch (const std::exception& e) {
                std::cerr << "closeloop: internal error on " << job.req->method << " " << job.req->path << ": "
                          << e.what() << std::endl;
                res = httplib::Response{};
                res.status = 500;
                res.set_content(error_json("internal", "internal error (logged on the server)"), "application/json");
            }
            Serialized answer = serialize(*job.req, res, job.keep_alive);
            Done d{job.conn, std::move(answer.bytes), std::move(answer.stream), answer.stream_length, !job.keep_alive};
            {
                std::lock_guard lock(mutex);
                done.push_back(std::move(d));
            }
            --in_work;
            const std::uint64_t one = 1;
            [[maybe_unused]] const auto n = ::write(server.wake_fd_, &one, sizeof one);
        }
    }

    void collect_answers() {
        std::vector<Done> ready;
        {
            std::lock_guard lock(mutex);
            ready.swap(done);
        }
        for (auto& d : ready) {
            const auto it = conns.find(d.conn);
            if (it == conns.end()) continue;  // the client went away meanwhile
            Conn& c = it->second;
            c.out = std::move(d.bytes);
            c.out_sent = 0;
            c.stream = std::move(d.stream);
            c.stream_at = 0;
            c.stream_end = d.stream_length;
            c.close_after_write = d.close || server.stopping_;
            set_phase(c, Phase::write, limits.write_timeout);
            flush(c);
        }
    }

    // ---- deadlines ----
    void sweep() {
        const auto now = Clock::now();
        if (accept_paused && server.listen_fd_ >= 0 && !server.stopping_) {
            epoll_event ev{};
            ev.events = EPOLLIN;
            ev.data.u64 = listen_tag;
            epoll_ctl(epoll_fd, EPOLL_CTL_ADD, server.listen_fd_, &ev);
            accept_paused = false;
        }
        std::vector<std::uint64_t> expired;
        for (auto& [id, c] : conns)
            if (now >= c.deadline) expired.push_back(id);
        for (const auto id : expired) {
            const auto it = conns.find(id);
            if (it == conns.end()) continue;
            Conn& c = it->second;
            switch (c.phase) {
                case Phase::head:
                    if (c.in.empty()) {
                        // Nothing at all arrived: no answer owed.
                        count(&HttpStats::timed_out);
                        close_conn(id);
                    } else {
                        count(&HttpStats::timed_out);
                        refuse(c, 408, "request_timeout",
                               "the request head did not arrive within " +
                                   std::to_string(limits.head_timeout.count() / 1000) + " s (head_timeout)");
                    }
                    break;
                case Phase::body:
                    count(&HttpStats::timed_out);
                    refuse(c, 408, "request_timeout",
                           "the request body did not arrive within " +
                               std::to_string(limits.body_timeout.count() / 1000) + " s (body_timeout)");
                    break;
                case Phase::write:
                    count(&HttpStats::timed_out);
                    close_conn(id);
                    break;
                case Phase::idle:
                case Phase::closing:
                    close_conn(id);
                    break;
                case Phase::work:
                    break;
            }
        }
    }

    // Stopping: no new connections; what has not reached a worker is closed; the rest finish.
    void begin_stop() {
        if (server.listen_fd_ >= 0) {
            epoll_ctl(epoll_fd, EPOLL_CTL_DEL, server.listen_fd_, nullptr);
            ::close(server.listen_fd_);
            server.listen_fd_ = -1;
        }
        std::vector<std::uint64_t> ids;
        for (auto& [id, c] : conns)
            if (c.phase != Phase::work && c.phase != Phase::write) ids.push_back(id);
        for (const auto id : ids) close_conn(id);
    }

    bool busy_connections() const {
        for (const auto& [id, c] : conns)
            if (c.phase == Phase::work || c.phase == Phase::write) return true;
        return false;
    }

    void run() {
        epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u64 = listen_tag;
        epoll_ctl(epoll_fd, EPOLL_CTL_ADD, server.listen_fd_, &ev);
        ev.data.u64 = wake_tag;
        epoll_ctl(epoll_fd, EPOLL_CTL_ADD, server.wake_fd_, &ev);
        for (int i = 0; i < std::max(1, limits.workers); ++i) workers.emplace_back([this] { work(); });

        std::vector<epoll_event> events(256);
        auto last_sweep = Clock::now();
        bool stopping = false;
        while (true) {
            if (!stopping && server.stopping_) {
                stopping = true;
                begin_stop();
            }
            if (stopping && !busy_connections()) break;
            const int n = epoll_wait(epoll_fd, events.data(), static_cast<int>(events.size()), 100);
            for (int i = 0; i < n; ++i) {
                const std::uint64_t tag = events[i].data.u64;
                if (tag == listen_tag) {
                    if (!stopping) accept_all();
                    continue;
                }
                if (tag == wake_tag) {
                    std::uint64_t v;
                    [[maybe_unused]] const auto r = ::read(server.wake_fd_, &v, sizeof v);
                    collect_answers();
                    continue;
                }
                const auto it = conns.find(tag);
                if (it == conns.end()) continue;
                Conn& c = it->second;
                const std::uint32_t e = events[i].events;
                if (e & EPOLLERR) {
                    close_conn(tag);
                    continue;
                }
                if ((e & EPOLLOUT) && c.phase == Phase::write) {
                    flush(c);
                    continue;
                }
                if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) {
                    if (c.phase == Phase::work) {
                        if (e & EPOLLHUP) close_conn(tag);  // gone entirely: the answer is dropped
                        continue;
                    }
                    on_readable(c);
                }
            }
            const auto now = Clock::now();
            if (now - last_sweep >= std::chrono::milliseconds(100)) {
                last_sweep = now;
                sweep();
            }
        }
        {
            std::lock_guard lock(mutex);
            workers_stop = true;
        }
        work_ready.notify_all();
        for (auto& t : workers) t.join();
        std::vector<std::uint64_t> ids;
        for (auto& [id, c] : conns) ids.push_back(id);
        for (const auto id : ids) close_conn(id);
        ::close(epoll_fd);
        epoll_fd = -1;
    }
};

// ---- HttpServer ----------------------------------------------------------------------------

HttpServer::HttpServer(HttpLimits limits, Handler handler) : limits_(limits), handler_(std::move(handler)) {
    wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

HttpServer::~HttpServer() {
    if (listen_fd_ >= 0) ::close(listen_fd_);
    if (wake_fd_ >= 0) ::close(wake_fd_);
}

void HttpServer::set_trusted_proxies(std::vector<std::string> addresses) {
    trusted_ = std::move(addresses);
}

int HttpServer::bind(const std::string& address, int port) {
    // 256 descriptors stay for the database, delivery and the rest; a lower hard limit lowers
    // the connection cap (so the cap, with its evictions, is met before accept() fails).
    constexpr std::size_t reserved_files = 256;
    const std::size_t files = raise_file_limit(limits_.max_connections + reserved_files);
    if (files < limits_.max_connections + reserved_files) {
        const std::size_t fit = files > reserved_files + 16 ? files - reserved_files : 16;
        std::cerr << "closeloop: the open-file limit is " << files << ": at most " << fit
                  << " connections (raise `ulimit -n` for more)\n";
        limits_.max_connections = fit;
        limits_.max_per_address = std::min(limits_.max_per_address, fit);
    }
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* found = nullptr;
    const std::string service = std::to_string(port);
    if (getaddrinfo(address.c_str(), service.c_str(), &hints, &found) != 0 || !found) return -1;
    int fd = -1;
    for (addrinfo* ai = found; ai; ai = ai->ai_next) {
        fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
        if (fd < 0) continue;
        // SO_REUSEADDR only (no SO_REUSEPORT): a second closeloop on the port must fail.
        int yes = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
        if (ai->ai_family == AF_INET6) {
            int no = 0;
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &no, sizeof no);
        }
        if (::bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && ::listen(fd, SOMAXCONN) == 0) break;
        ::close(fd);
        fd = -1;
    }
    freeaddrinfo(found);
    if (fd < 0) return -1;
    sockaddr_storage sa{};
    socklen_t len = sizeof sa;
    getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
    int bound = 0;
    address_text(sa, &bound);
    if (listen_fd_ >= 0) ::close(listen_fd_);
    listen_fd_ = fd;
    return bound;
}

bool HttpServer::listen() {
    if (listen_fd_ < 0) return false;
    loop_ = std::make_shared<Loop>(*this);
    running_ = true;
    loop_->run();
    running_ = false;
    stopping_ = false;
    return true;
}

void HttpServer::stop() {
    stopping_ = true;
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto n = ::write(wake_fd_, &one, sizeof one);
}

HttpStats HttpServer::stats() const {
    const auto loop = loop_;
    if (!loop) return {};
    std::lock_guard lock(loop->stats_mutex);
    return loop->stats;
}

}  // namespace closeloop::server
