#include "serve.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "app.h"
#include "clock.h"
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

    App app({.data = options.data,
             .clock = now_utc,
             .threads = options.threads,
             .rfm_interval_minutes = options.rfm_interval_minutes,
             .synchronous = options.synchronous});
    // The port first: a port in use must fail before a database (and a key shown once) exists.
    if (!app.bind(options.bind, options.port)) {
        std::cerr << "closeloop: cannot listen on " << options.bind << ":" << options.port
                  << " (in use, or not an address of this machine)\n";
        return 1;
    }

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
    try {
        app.open();
        std::optional<std::string> bootstrap_key;
        if (const char* env = std::getenv("CLOSELOOP_BOOTSTRAP_KEY"); env && *env) bootstrap_key = env;
        auto created = bootstrap_demo_workspace(app.store(), bootstrap_key, app.now());
        if (!created) {
            std::cerr << "closeloop: " << created.error().what() << "\n";
            return 1;
        }
        if (*created) print_keys(**created, bootstrap_key.has_value());
    } catch (const std::exception& e) {
        std::cerr << "closeloop: " << e.what() << "\n";
        return 1;
    }

    std::thread stopper([&] {
        int sig = 0;
        sigwait(&stop_signals, &sig);
        std::cerr << "closeloop: stopping (signal " << sig << "), finishing requests in flight\n";
        app.stop_listening();
    });

    app.start_workers();
    std::cout << "closeloop: serving http://" << options.bind << ":" << app.port() << "/ with data in "
              << app.database_file().string() << std::endl;
    const bool clean = app.listen();

    // If listen ended for another reason, wake the stopper so it can be joined.
    pthread_kill(stopper.native_handle(), SIGTERM);
    stopper.join();
    app.close();
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
