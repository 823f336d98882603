#include "serve.h"

#include <fcntl.h>
#include <httplib.h>
#include <sys/file.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "sqlite_store.h"

namespace closeloop::server {

namespace {

const char* placeholder_page = R"html(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>closeloop</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
 body{font-family:system-ui,-apple-system,"DejaVu Sans",sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
 main{max-width:40rem;margin:10vh auto;padding:2rem;background:#fff;border-radius:12px;box-shadow:0 2px 12px #0001}
 h1{margin:0 0 .25rem;font-size:1.8rem} p{line-height:1.5} code{background:#eef1f5;padding:.1rem .3rem;border-radius:4px}
 .ok{color:#13795b;font-weight:600}
</style></head>
<body><main>
<h1>closeloop</h1>
<p>Closes the customer-feedback loop: collects NPS and CSAT answers and reacts to each one
through scenarios.</p>
<p class="ok">The server is running.</p>
<p>The scenario builder will be served here. Until then: <code>GET /healthz</code>.</p>
</main></body></html>
)html";

}  // namespace

int serve(const ServeOptions& options) {
    // Block the stop signals in every thread; one thread waits for them and stops the
    // server, so in-flight requests finish and nothing runs inside a signal handler.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

    // One server per data folder: a second one would run every timer twice.
    const auto lock_path = options.data / "closeloop.lock";
    std::error_code ec;
    std::filesystem::create_directories(options.data, ec);
    const int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lock_fd < 0 || ::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
        std::cerr << "closeloop: " << options.data.string()
                  << (lock_fd < 0 ? " cannot be written" : " is in use by another closeloop serve") << "\n";
        return 1;
    }

    std::unique_ptr<SqliteStore> store;
    try {
        store = std::make_unique<SqliteStore>(options.data);
    } catch (const std::exception& e) {
        std::cerr << "closeloop: " << e.what() << "\n";
        return 1;
    }

    httplib::Server http;
    // SO_REUSEADDR only: httplib's default also sets SO_REUSEPORT, which would let a second
    // closeloop share the port silently.
    http.set_socket_options([](socket_t sock) {
        int yes = 1;
        setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    });
    http.Get("/healthz", [&](const httplib::Request&, httplib::Response& res) {
        const bool ok = store->healthy();
        nlohmann::json body = {{"status", ok ? "ok" : "unavailable"}, {"schema_version", store->schema_version()}};
        res.status = ok ? 200 : 503;
        res.set_content(body.dump(), "application/json");
    });
    http.Get("/", [](const httplib::Request&, httplib::Response& res) {
        res.set_content(placeholder_page, "text/html; charset=utf-8");
    });
    http.set_exception_handler([](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "unknown";
        try {
            if (ep) std::rethrow_exception(ep);
        } catch (const std::exception& e) {
            what = e.what();
        } catch (...) {
        }
        std::cerr << "closeloop: internal error on " << req.method << " " << req.path << ": " << what << "\n";
        res.status = 500;
        res.set_content(R"({"error":{"code":"internal","message":"internal error"}})", "application/json");
    });

    if (!http.bind_to_port(options.bind, options.port)) {
        std::cerr << "closeloop: cannot listen on " << options.bind << ":" << options.port
                  << " (in use, or not an address of this machine)\n";
        return 1;
    }

    std::thread stopper([&] {
        int sig = 0;
        sigwait(&stop_signals, &sig);
        std::cerr << "closeloop: stopping (signal " << sig << "), finishing requests in flight\n";
        http.stop();
    });

    std::cout << "closeloop: serving http://" << options.bind << ":" << options.port << "/ with data in "
              << store->file().string() << std::endl;
    const bool clean = http.listen_after_bind();

    // If listen ended for another reason, wake the stopper so it can be joined.
    pthread_kill(stopper.native_handle(), SIGTERM);
    stopper.join();
    std::cout << "closeloop: stopped" << std::endl;
    return clean ? 0 : 1;
}

}  // namespace closeloop::server
