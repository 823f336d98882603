// bench_delivery: the delivery workers (DeliveryService) draining an outbox already holding N
// pending effects into local sinks on loopback, beside a minimal loop of plain libcurl calls
// sending the same number of messages to the same sink: the loop is the transport's limit on
// this machine, so the share says what the workers' claims, settling and signing cost.
//
//   bench_delivery                  N = 10,000 e-mails, then N webhooks with 4 threads and with 1
//   bench_delivery --n N            another N
//   bench_delivery --webhook-threads T   the service's webhook threads for the first webhook run (4)
//   bench_delivery --batch B        entries a worker claims at a time (DeliveryOptions::batch)
//   bench_delivery --aiosmtpd       the e-mail sink is tests/server/smtp_peer.py (aiosmtpd, which
//                                   writes every message to disk) instead of the in-process sink
//   bench_delivery --smoke          N = 300; checks that everything arrived
//
// The sinks: SMTP, a minimal C++ server on a thread (one thread per connection, answers 250 to
// everything, counts messages): aiosmtpd needs ~1 ms of Python per message, so with it both the
// workers and the plain loop measure aiosmtpd. Webhooks: an httplib::Server answering 200.
// The store is a real SqliteStore in a temporary folder (durable FULL commits).
//
// Beside the figures, the cost of each part of a worker's loop alone: the store's (claim a batch,
// settle it as sent, sending nothing), building one e-mail (GMime), the service's SmtpClient and
// HttpPoster (with signing) sending a prebuilt message: where the time goes.
//
// Checks every run: each effect is sent, and the sink received one message per effect (exit 1
// otherwise).
#include <arpa/inet.h>
#include <curl/curl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "closeloop/delivery.h"
#include "delivery/http_post.h"
#include "delivery/mime.h"
#include "delivery/signing.h"
#include "delivery/smtp.h"
#include "delivery_service.h"
#include "keys.h"
#include "store/sqlite_store.h"

using namespace closeloop;
using namespace closeloop::server;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

Time wall_now() {
    return Time{
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count()};
}

// ---- sinks ---------------------------------------------------------------------------------

// A minimal SMTP server on 127.0.0.1: greets, answers 250 to EHLO/MAIL/RCPT/RSET/NOOP, 354 to
// DATA, 250 after the lone dot, 221 to QUIT; one thread per connection. Counts messages.
class SmtpSink {
public:
    SmtpSink() {
        listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(listen_fd_, 64) != 0) {
            std::perror("smtp sink");
            std::exit(2);
        }
        socklen_t len = sizeof addr;
        getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
        port_ = ntohs(addr.sin_port);
        acceptor_ = std::thread([this] { accept_loop(); });
    }
    ~SmtpSink() {
        shutdown(listen_fd_, SHUT_RDWR);
        close(listen_fd_);
        acceptor_.join();
        std::lock_guard lock(mutex_);
        for (int fd : connections_) shutdown(fd, SHUT_RDWR);
        for (auto& t : threads_) t.join();
        for (int fd : connections_) close(fd);
    }
    int port() const { return port_; }
    std::uint64_t messages() const { return messages_.load(); }

private:
    void accept_loop() {
        for (;;) {
            const int fd = accept(listen_fd_, nullptr, nullptr);
            if (fd < 0) return;
            std::lock_guard lock(mutex_);
            connections_.push_back(fd);
            threads_.emplace_back([this, fd] { serve(fd); });
        }
    }
    static bool say(int fd, const char* text) {
        const std::size_t n = std::strlen(text);
        return send(fd, text, n, MSG_NOSIGNAL) == static_cast<ssize_t>(n);
    }
    void serve(int fd) {
        say(fd, "220 sink ESMTP\r\n");
        std::string buffer, line;
        bool in_data = false;
        char chunk[16384];
        for (;;) {
            const ssize_t got = recv(fd, chunk, sizeof chunk, 0);
            if (got <= 0) break;
            buffer.append(chunk, static_cast<std::size_t>(got));
            std::size_t start = 0;
            for (std::size_t end; (end = buffer.find('\n', start)) != std::string::npos; start = end + 1) {
                const std::string_view l(buffer.data() + start, end - start);
                if (in_data) {
                    if (l == ".\r" || l == ".") {
                        in_data = false;
                        ++messages_;
                        say(fd, "250 2.0.0 queued\r\n");
                    }
                    continue;
                }
                const std::string verb = [&] {
                    std::string v(l.substr(0, 4));
                    for (char& c : v) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
                    return v;
                }();
                if (verb == "EHLO")
                    say(fd, "250-sink\r\n250-8BITMIME\r\n250 SIZE 10485760\r\n");
                else if (verb == "DATA") {
                    in_data = true;
                    say(fd, "354 go ahead\r\n");
                } else if (verb == "QUIT") {
                    say(fd, "221 bye\r\n");
                    goto done;
                } else
                    say(fd, "250 ok\r\n");
            }
            buffer.erase(0, start);
        }
    done:
        shutdown(fd, SHUT_RDWR);  // the fd itself is closed by the destructor (no reuse race)
    }

    int listen_fd_ = -1, port_ = 0;
    std::thread acceptor_;
    std::mutex mutex_;
    std::vector<int> connections_;
    std::vector<std::thread> threads_;
    std::atomic<std::uint64_t> messages_{0};
};

// tests/server/smtp_peer.py (aiosmtpd), started with a fresh folder; messages = files in it.
class AiosmtpdSink {
public:
    AiosmtpdSink() {
        dir_ = std::filesystem::temp_directory_path() / ("bench_delivery_smtp_" + random_hex(6));
        std::filesystem::create_directories(dir_);
        int out[2];
        if (pipe(out) != 0) std::exit(2);
        pid_ = fork();
        if (pid_ == 0) {
            dup2(out[1], 1);
            close(out[0]);
            close(out[1]);
            const std::string script = std::string(CLOSELOOP_SOURCE_DIR) + "/tests/server/smtp_peer.py";
            execl("/usr/bin/python3", "python3", script.c_str(), "--port", "0", "--dir", dir_.c_str(),
                  static_cast<char*>(nullptr));
            _exit(127);
        }
        close(out[1]);
        FILE* in = fdopen(out[0], "r");
        char line[256];
        while (std::fgets(line, sizeof line, in)) {
            if (std::sscanf(line, "port %d", &port_) == 1) continue;
            if (std::strncmp(line, "ready", 5) == 0) break;
        }
        std::fclose(in);
        if (port_ == 0) {
            std::fprintf(stderr, "smtp_peer.py did not start (is python3-aiosmtpd installed?)\n");
            std::exit(2);
        }
    }
    ~AiosmtpdSink() {
        kill(pid_, SIGTERM);
        waitpid(pid_, nullptr, 0);
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }
    int port() const { return port_; }
    std::uint64_t messages() const {
        std::uint64_t n = 0;
        for (const auto& f : std::filesystem::directory_iterator(dir_)) n += f.path().extension() == ".eml";
        return n;
    }

private:
    std::filesystem::path dir_;
    pid_t pid_ = -1;
    int port_ = 0;
};

// An HTTP receiver on 127.0.0.1 answering 200 to every POST, keeping connections alive.
class WebhookSink {
public:
    WebhookSink() {
        server_.set_keep_alive_max_count(1000000);
        // httplib writes the headers and the body apart: without this, Nagle and the client's
        // delayed ACK hold every answer ~40 ms.
        server_.set_tcp_nodelay(true);
        server_.Post("/hook", [this](const httplib::Request&, httplib::Response& res) {
            ++posts_;
            res.set_content("ok", "text/plain");
        });
        port_ = server_.bind_to_any_port("127.0.0.1");
        thread_ = std::thread([this] { server_.listen_after_bind(); });
        while (!server_.is_running()) std::this_thread::yield();  // so that stop() finds it running
    }
    ~WebhookSink() {
        server_.stop();
        thread_.join();
    }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/hook"; }
    std::uint64_t posts() const { return posts_.load(); }

private:
    httplib::Server server_;
    int port_ = 0;
    std::thread thread_;
    std::atomic<std::uint64_t> posts_{0};
};

// ---- the outbox ----------------------------------------------------------------------------

const char* const from_address = "Dana Nováková <reditelka@obchod.example>";
const std::string subject = "Omlouváme se, Jiří — váš dárkový poukaz na 20 % čeká (žluťoučký kůň)";

std::string html_body(std::size_t i) {
    return "<!doctype html><html lang=\"cs\"><body><p>Dobrý den, Jiří Dvořák,</p><p>mrzí nás, že doprava "
           "trvala déle, než jsme slíbili. Jako omluvu pro vás máme poukaz <strong>OMLUVA-" +
           std::to_string(i) +
           "</strong> na 20 % z příští objednávky, platný do 18. 12. 2026.</p><p>Zbývá 30 dní.</p><p>S "
           "pozdravem<br>Dana Nováková, ředitelka</p><p><a "
           "href=\"https://closeloop.example/u/abc\">Odhlásit odběr</a></p></body></html>";
}

std::string text_body(std::size_t i) {
    return "Dobrý den, Jiří Dvořák,\n\nmrzí nás, že doprava trvala déle, než jsme slíbili. Jako omluvu pro vás "
           "máme poukaz OMLUVA-" +
           std::to_string(i) +
           " na 20 % z příští objednávky, platný do 18. 12. 2026.\n\nZbývá 30 dní.\n\nS pozdravem\nDana "
           "Nováková, ředitelka\n\nOdhlásit odběr: https://closeloop.example/u/abc\n";
}

json email_message(std::size_t i) {
    // As outbox_prep.cpp builds it (a transactional message: no suppression lookup, no
    // unsubscribe headers).
    return {{"from", from_address}, {"to", "zakaznik" + std::to_string(i) + "@example.cz"},
            {"cc", json::array()},  {"subject", subject},
            {"html", html_body(i)}, {"text", text_body(i)},
            {"locale", "cs"},       {"dir", "ltr"},
            {"marketing", false}};
}

json webhook_payload(std::size_t i) {
    static const Contact contact = [] {
        Contact c;
        c.id = "c-1";
        c.email = "jiri.dvorak@example.cz";
        c.first_name = "Jiří";
        c.last_name = "Dvořák";
        c.locale = "cs";
        c.owner = "petra@obchod.example";
        return c;
    }();
    static const Event event = *event_from_json(json{{"id", "e-1"},
                                                     {"type", "nps_response"},
                                                     {"contact", {{"id", "c-1"}}},
                                                     {"data", {{"score", 3}, {"comment", "Doprava trvala týden."}}}});
    ChannelPost post;
    post.message = "Zákazník Jiří Dvořák dal NPS 3: „Doprava trvala týden.“";
    post.contact = &contact;
    post.event = &event;
    post.contact_url = "https://closeloop.example/api/v1/contacts/c-1";
    post.run_id = "run-" + std::to_string(i);
    post.effect_key = "run-" + std::to_string(i) + "/notify";
    post.scenario = "nps-recovery";
    return generic_payload(post);
}

struct Outbox {
    std::filesystem::path dir;
    std::unique_ptr<SqliteStore> store;
    WorkspaceId ws = 0;

    Outbox() : dir(std::filesystem::temp_directory_path() / ("bench_delivery_" + random_hex(6))) {
        store = std::make_unique<SqliteStore>(dir);
        store->write([&](WriteTx& tx) { ws = tx.create_workspace("bench", "Bench", wall_now()).id; });
    }
    ~Outbox() {
        store.reset();
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }

    void fill(const std::string& kind, std::size_t n, const std::string& endpoint) {
        const Time now = wall_now();
        for (std::size_t first = 0; first < n; first += 1000) {
            store->write([&](WriteTx& tx) {
                for (std::size_t i = first; i < std::min(n, first + 1000); ++i) {
                    OutboxEntry e;
                    e.key = "run-" + std::to_string(i) + (kind == "webhook" ? "/notify" : "/mail");
                    e.kind = kind;
                    e.contact = "c-" + std::to_string(i);
                    e.run_id = "run-" + std::to_string(i);
                    e.created_at = now;
                    if (kind == "webhook") {
                        e.endpoint = endpoint;
                        e.params["payload"] = webhook_payload(i);
                    } else {
                        e.params["message"] = email_message(i);
                        e.address = e.params["message"]["to"];
                    }
                    tx.enqueue_effect(ws, e);
                }
            });
        }
    }

    // pending + failed, and sent, of a kind.
    std::pair<std::uint64_t, std::uint64_t> counts(const std::string& kind) {
        std::uint64_t open = 0, sent = 0;
        for (const auto& c : store->outbox_counts()) {
            if (c.kind != kind) continue;
            if (c.status == OutboxStatus::pending || c.status == OutboxStatus::failed) open += c.count;
            if (c.status == OutboxStatus::sent) sent += c.count;
        }
        return {open, sent};
    }
};

// ---- measurements --------------------------------------------------------------------------

struct Figures {
    std::string kind;
    double workers_rate = 0, plain_rate = 0, drain_seconds = 0;
};

// The service drains `n` entries of `kind` already in `box`: seconds from start() until none is
// pending or failed. Checks each was sent.
double drain(Outbox& box, const std::string& kind, std::size_t n, DeliveryOptions options, bool& ok) {
    DeliveryService service(*box.store, wall_now, std::move(options));
    const auto start = Clock::now();
    service.start();
    // The service's own counters first (no store read competing with the workers), then the
    // store until the last batch is settled.
    auto settled = [&] {
        const auto s = service.stats()[kind];
        return s.sent + s.dead + s.suppressed;
    };
    while (settled() < n && seconds_since(start) < 600) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    while (box.counts(kind).first != 0 && seconds_since(start) < 600)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    const double seconds = seconds_since(start);
    service.stop();
    const auto [open, sent] = box.counts(kind);
    if (open != 0 || sent != n) {
        std::fprintf(stderr, "FAIL: %s: %llu sent of %zu, %llu left\n", kind.c_str(),
                     static_cast<unsigned long long>(sent), n, static_cast<unsigned long long>(open));
        ok = false;
    }
    return seconds;
}

std::size_t read_string(char* buffer, std::size_t size, std::size_t count, void* user) {
    auto* cursor = static_cast<std::pair<const std::string*, std::size_t>*>(user);
    const std::size_t n = std::min(size * count, cursor->first->size() - cursor->second);
    std::memcpy(buffer, cursor->first->data() + cursor->second, n);
    cursor->second += n;
    return n;
}

std::size_t discard(char*, std::size_t size, std::size_t count, void*) {
    return size * count;
}

std::string built_email(std::size_t i) {
    delivery::OutgoingEmail mail;
    mail.from = from_address;
    mail.to = {"zakaznik" + std::to_string(i) + "@example.cz"};
    mail.subject = subject;
    mail.text = text_body(i);
    mail.html = html_body(i);
    mail.message_id = delivery::message_id_for("run-" + std::to_string(i) + "/mail", "obchod.example");
    mail.date = wall_now();
    mail.headers.emplace_back("X-Closeloop-Effect", "run-" + std::to_string(i) + "/mail");
    return delivery::build_email(mail);
}

// The transport's limit: one easy handle, the message built once, sent n times.
double plain_smtp(int port, std::size_t n, bool& ok) {
    const std::string message = built_email(0);
    CURL* curl = curl_easy_init();
    curl_slist* rcpt = curl_slist_append(nullptr, "zakaznik0@example.cz");
    const std::string url = "smtp://127.0.0.1:" + std::to_string(port) + "/bench";
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_MAIL_FROM, "reditelka@obchod.example");
    curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, read_string);
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(message.size()));
    const auto start = Clock::now();
    for (std::size_t i = 0; i < n; ++i) {
        std::pair<const std::string*, std::size_t> cursor{&message, 0};
        curl_easy_setopt(curl, CURLOPT_READDATA, &cursor);
        if (const CURLcode code = curl_easy_perform(curl); code != CURLE_OK) {
            std::fprintf(stderr, "FAIL: plain SMTP: %s\n", curl_easy_strerror(code));
            ok = false;
            break;
        }
    }
    const double seconds = seconds_since(start);
    curl_easy_cleanup(curl);
    curl_slist_free_all(rcpt);
    return seconds;
}

double plain_http(const std::string& url, std::size_t n, bool& ok) {
    const std::string body = webhook_payload(0).dump();
    CURL* curl = curl_easy_init();
    curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
    const auto start = Clock::now();
    for (std::size_t i = 0; i < n; ++i) {
        long status = 0;
        if (curl_easy_perform(curl) != CURLE_OK ||
            (curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status), status != 200)) {
            std::fprintf(stderr, "FAIL: plain HTTP POST (status %ld)\n", status);
            ok = false;
            break;
        }
    }
    const double seconds = seconds_since(start);
    curl_easy_cleanup(curl);
    curl_slist_free_all(headers);
    return seconds;
}

// The store's part alone: claim batches of `kind` and settle them as sent, sending nothing;
// seconds claiming and seconds settling.
std::pair<double, double> store_only(Outbox& box, const std::string& kind, std::size_t batch) {
    const std::string kinds[] = {kind};
    double claiming = 0, settling = 0;
    for (;;) {
        const Time now = wall_now();
        auto start = Clock::now();
        const auto claimed = box.store->claim_effects(kinds, now, Time{now.ms + 300000}, batch);
        claiming += seconds_since(start);
        if (claimed.empty()) break;
        std::vector<AttemptOutcome> outcomes;
        for (const auto& e : claimed) {
            AttemptOutcome o;
            o.workspace = e.workspace;
            o.seq = e.seq;
            o.attempt = {now, true, "accepted", 250, 0};
            o.status = OutboxStatus::sent;
            outcomes.push_back(std::move(o));
        }
        start = Clock::now();
        box.store->finish_attempts(outcomes, now);
        settling += seconds_since(start);
    }
    return {claiming, settling};
}

double build_only(std::size_t n) {
    const auto start = Clock::now();
    std::size_t bytes = 0;
    for (std::size_t i = 0; i < n; ++i) bytes += built_email(i).size();
    return bytes > 0 ? seconds_since(start) : 0;
}

// The service's SMTP client alone: the message built once, sent n times.
double smtp_client_only(int port, std::size_t n) {
    const std::string message = built_email(0);
    delivery::SmtpConfig config;
    config.url = "smtp://127.0.0.1:" + std::to_string(port);
    delivery::SmtpClient client(config);
    const auto start = Clock::now();
    for (std::size_t i = 0; i < n; ++i) client.send("reditelka@obchod.example", {"zakaznik0@example.cz"}, message);
    return seconds_since(start);
}

// The service's webhook poster alone, signing each post as the workers do.
double http_poster_only(const std::string& url, std::size_t n) {
    const std::string body = webhook_payload(0).dump();
    const std::vector<std::string> secrets = {"whsec_" + random_hex(24)};
    delivery::HttpPoster poster(std::chrono::milliseconds(10000));
    const auto start = Clock::now();
    for (std::size_t i = 0; i < n; ++i) {
        const std::string id = "run-" + std::to_string(i) + "/notify";
        const std::int64_t timestamp = wall_now().ms / 1000;
        poster.post({url, true}, body,
                    {{"Content-Type", "application/json"},
                     {"webhook-id", id},
                     {"webhook-timestamp", std::to_string(timestamp)},
                     {"webhook-signature", delivery::webhook_signature(secrets, id, timestamp, body)}});
    }
    return seconds_since(start);
}

void print_row(const Figures& f) {
    std::printf("%-22s %12.0f %14.0f %8.0f %%  %8.2f s\n", f.kind.c_str(), f.workers_rate, f.plain_rate,
                100.0 * f.workers_rate / f.plain_rate, f.drain_seconds);
}

template <class Sink>
bool run(Sink& smtp, std::size_t n, int webhook_threads, std::size_t batch, const char* smtp_name) {
    bool ok = true;
    WebhookSink hooks;
    std::vector<Figures> rows;
    DeliveryOptions base;
    base.allow_private_endpoints = true;
    base.batch = batch;

    // E-mail: one worker (the service's one SMTP connection), then the plain loop.
    {
        Outbox box;
        box.fill("send_email", n, "");
        DeliveryOptions o = base;
        o.smtp_url = "smtp://127.0.0.1:" + std::to_string(smtp.port());
        o.webhook_threads = 0;
        const std::uint64_t before = smtp.messages();
        Figures f{std::string("e-mail (") + smtp_name + ")"};
        f.drain_seconds = drain(box, "send_email", n, o, ok);
        f.workers_rate = static_cast<double>(n) / f.drain_seconds;
        f.plain_rate = static_cast<double>(n) / plain_smtp(smtp.port(), n, ok);
        if (smtp.messages() - before != 2 * n) {
            std::fprintf(stderr, "FAIL: the SMTP sink got %llu messages, expected %zu\n",
                         static_cast<unsigned long long>(smtp.messages() - before), 2 * n);
            ok = false;
        }
        rows.push_back(f);
    }
    // Webhooks: a generic endpoint (signed), unpaced; the service with T threads, then with 1.
    // The plain loop runs beside each measurement (the machine's load changes from minute to minute).
    const auto plain_hooks = [&] {
        const std::uint64_t before = hooks.posts();
        const double rate = static_cast<double>(n) / plain_http(hooks.url(), n, ok);
        if (hooks.posts() - before != n) ok = false;
        return rate;
    };
    std::vector<int> thread_counts = {webhook_threads};
    if (webhook_threads != 1) thread_counts.push_back(1);
    for (int threads : thread_counts) {
        Outbox box;
        Endpoint endpoint;
        endpoint.id = "bench";
        endpoint.name = "Bench receiver";
        endpoint.kind = "generic";
        endpoint.url = hooks.url();
        endpoint.secret = "whsec_" + random_hex(24);
        endpoint.created_at = endpoint.updated_at = wall_now();
        box.store->create_endpoint(box.ws, endpoint);
        box.fill("webhook", n, endpoint.id);
        DeliveryOptions o = base;
        o.webhook_threads = threads;
        const std::uint64_t before = hooks.posts();
        Figures f{"webhook (" + std::to_string(threads) + (threads == 1 ? " thread)" : " threads)")};
        f.drain_seconds = drain(box, "webhook", n, o, ok);
        f.workers_rate = static_cast<double>(n) / f.drain_seconds;
        if (hooks.posts() - before != n) {
            std::fprintf(stderr, "FAIL: the webhook receiver got %llu posts, expected %zu\n",
                         static_cast<unsigned long long>(hooks.posts() - before), n);
            ok = false;
        }
        f.plain_rate = plain_hooks();
        rows.push_back(f);
    }

    std::printf("%zu effects of each kind, already in the outbox (SQLite, durable commits)\n", n);
    std::printf("%-22s %12s %14s %10s  %10s\n", "kind", "workers/s", "plain curl/s", "share", "drain");
    for (const auto& f : rows) print_row(f);

    // Where the time goes: each part of a worker's loop alone, one after the other (the
    // workers' figure is about 1 / the sum of the parts' costs: one thread does them in turn).
    {
        Outbox box;
        box.fill("send_email", n, "");
        const auto [claim_s, settle_s] = store_only(box, "send_email", batch);
        const double build_s = build_only(n);
        const double smtp_s = smtp_client_only(smtp.port(), n);
        const double http_s = http_poster_only(hooks.url(), n);
        const auto us = [n](double seconds) { return 1e6 * seconds / static_cast<double>(n); };
        std::printf(
            "alone, us per message: claim %.0f + settle %.0f (batches of %zu), build_email %.0f, SmtpClient::send "
            "%.0f, HttpPoster::post + signing %.0f\n",
            us(claim_s), us(settle_s), batch, us(build_s), us(smtp_s), us(http_s));
    }
    return ok;
}

}  // namespace

int main(int argc, char** argv) {
    std::size_t n = 10000;
    int webhook_threads = DeliveryOptions{}.webhook_threads;
    std::size_t batch = DeliveryOptions{}.batch;
    bool smoke = false, aiosmtpd = false;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--smoke") == 0) {
            smoke = true;
        } else if (std::strcmp(argv[i], "--aiosmtpd") == 0) {
            aiosmtpd = true;
        } else if (std::strcmp(argv[i], "--n") == 0 && i + 1 < argc) {
            n = std::max<std::size_t>(1, std::strtoull(argv[++i], nullptr, 10));
        } else if (std::strcmp(argv[i], "--batch") == 0 && i + 1 < argc) {
            batch = std::max<std::size_t>(1, std::strtoull(argv[++i], nullptr, 10));
        } else if (std::strcmp(argv[i], "--webhook-threads") == 0 && i + 1 < argc) {
            webhook_threads = std::max(1, std::atoi(argv[++i]));
        } else {
            std::fprintf(stderr,
                         "usage: bench_delivery [--smoke] [--n N] [--webhook-threads T] [--batch B] [--aiosmtpd]\n");
            return 2;
        }
    }
    if (smoke) n = 300;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    bool ok;
    if (aiosmtpd) {
        AiosmtpdSink smtp;
        ok = run(smtp, n, webhook_threads, batch, "aiosmtpd");
    } else {
        SmtpSink smtp;
        ok = run(smtp, n, webhook_threads, batch, "C++ sink");
    }
    curl_global_cleanup();
    return ok ? 0 : 1;
}
