#include "serve.h"

#include <fcntl.h>
#include <httplib.h>
#include <sys/file.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "api.h"
#include "clock.h"
#include "executor.h"
#include "store/sqlite_store.h"
#include "workspaces.h"

namespace closeloop::server {

namespace {

void print_keys(const CreatedWorkspace& created, bool admin_from_env) {
    std::cout << "closeloop: created workspace \"" << created.workspace.slug << "\"\n";
    if (admin_from_env)
        std::cout << "  admin key:       the value of CLOSELOOP_BOOTSTRAP_KEY\n";
    else
        std::cout << "  admin key:       " << created.admin_key
                  << "   (shown once: keep it now, it is stored hashed)\n";
    std::cout << "  publishable key: " << created.publishable_key << "   (for the survey widget)\n" << std::flush;
}

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
        store = std::make_unique<SqliteStore>(options.data, SqliteOptions{.synchronous = options.synchronous});
        std::optional<std::string> bootstrap_key;
        if (const char* env = std::getenv("CLOSELOOP_BOOTSTRAP_KEY"); env && *env) bootstrap_key = env;
        auto created = bootstrap_demo_workspace(*store, bootstrap_key, now_utc());
        if (!created) {
            std::cerr << "closeloop: " << created.error().what() << "\n";
            return 1;
        }
        if (*created) print_keys(**created, bootstrap_key.has_value());
    } catch (const std::exception& e) {
        std::cerr << "closeloop: " << e.what() << "\n";
        return 1;
    }

    ServerMetrics metrics;
    RfmService rfm(*store, now_utc);
    // Posted events go through the executor (stored and run through the scenarios at once);
    // its thread takes events stored before this start too (processed_at is still NULL) and
    // every timer that came due while the server was down.
    Executor executor(*store, now_utc);
    Api api{*store, metrics, rfm, now_utc,
            [&executor](WorkspaceId ws, std::span<const Event> events, Time now) {
                return executor.ingest(ws, events, now);
            }};

    httplib::Server http;
    // SO_REUSEADDR only: httplib's default also sets SO_REUSEPORT, which would let a second
    // closeloop share the port silently.
    socket_t listening = INVALID_SOCKET;
    http.set_socket_options([&listening](socket_t sock) {
        int yes = 1;
        setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
        listening = sock;
    });
    const auto threads = static_cast<std::size_t>(options.threads);
    http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    http.set_payload_max_length(max_body_bytes);
    http.set_keep_alive_max_count(100000);
    http.set_keep_alive_timeout(5);
    http.set_tcp_nodelay(true);

    Router router(http, *store, max_body_bytes);
    add_api_routes(router, api);
    install_observers(http, router, metrics);

    if (!http.bind_to_port(options.bind, options.port)) {
        std::cerr << "closeloop: cannot listen on " << options.bind << ":" << options.port
                  << " (in use, or not an address of this machine)\n";
        return 1;
    }
    // Debian's httplib (a shared library) listens with a backlog of 5: a burst of clients
    // connecting at once overflows it and some connections are dropped. Linux lets a second
    // listen() on the same socket raise the backlog.
    if (listening != INVALID_SOCKET) ::listen(listening, SOMAXCONN);

    std::thread stopper([&] {
        int sig = 0;
        sigwait(&stop_signals, &sig);
        std::cerr << "closeloop: stopping (signal " << sig << "), finishing requests in flight\n";
        http.stop();
    });

    store->set_commit_listener([&executor] { executor.wake(); });
    metrics.set_executor_stats([&executor] { return executor.stats(); });
    executor.start();

    rfm.start_schedule(std::chrono::minutes(options.rfm_interval_minutes));
    std::cout << "closeloop: serving http://" << options.bind << ":" << options.port << "/ with data in "
              << store->file().string() << std::endl;
    // Returns once the listening socket is closed and every worker has finished its request:
    // a request waiting for its commit is answered before this returns.
    const bool clean = http.listen_after_bind();

    // If listen ended for another reason, wake the stopper so it can be joined.
    pthread_kill(stopper.native_handle(), SIGTERM);
    stopper.join();
    rfm.stop();
    executor.stop();  // finishes its unit of work in progress
    store->set_commit_listener(nullptr);
    metrics.set_executor_stats(nullptr);
    store.reset();  // the writer commits what is queued, then the database closes
    std::cout << "closeloop: stopped" << std::endl;
    return clean ? 0 : 1;
}

int create_workspace_command(const std::filesystem::path& data, const std::string& slug, const std::string& name) {
    try {
        SqliteStore store(data);
        auto created = create_workspace(store, slug, name.empty() ? slug : name, std::nullopt, now_utc());
        if (!created) {
            std::cerr << "closeloop: " << created.error().what() << "\n";
            return 1;
        }
        print_keys(*created, false);
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "closeloop: " << e.what() << "\n";
        return 1;
    }
}

}  // namespace closeloop::server
