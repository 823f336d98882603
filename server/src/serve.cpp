#include "serve.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <thread>
#include <tuple>

#include "app.h"
#include "clock.h"
#include "delivery/dkim.h"
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

// The data folder existed: say what became of CLOSELOOP_BOOTSTRAP_KEY.
void report_bootstrap_key(BootstrapKey outcome) {
    switch (outcome) {
        case BootstrapKey::added:
            std::cerr << "closeloop: CLOSELOOP_BOOTSTRAP_KEY added as an admin key of workspace \"demo\"\n";
            break;
        case BootstrapKey::present:
            break;
        case BootstrapKey::revoked:
            std::cerr << "closeloop: CLOSELOOP_BOOTSTRAP_KEY was revoked and stays so: issue a new key with "
                         "`closeloop keys create --workspace demo`\n";
            break;
        case BootstrapKey::elsewhere:
            std::cerr << "closeloop: CLOSELOOP_BOOTSTRAP_KEY is a key of another workspace, not of \"demo\"\n";
            break;
        case BootstrapKey::no_demo:
            std::cerr << "closeloop: CLOSELOOP_BOOTSTRAP_KEY not added: there is no workspace \"demo\"\n";
            break;
        case BootstrapKey::too_short:
            std::cerr << "closeloop: CLOSELOOP_BOOTSTRAP_KEY not added: it must be at least 24 characters long\n";
            break;
    }
}

std::string time_text(std::optional<Time> t) {
    return t ? format_time(*t) : "-";
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

    DeliveryOptions delivery;
    delivery.smtp_url = options.smtp;
    delivery.smtp_user = options.smtp_user;
    delivery.smtp_password = options.smtp_password;
    delivery.allow_private_endpoints = options.allow_private_endpoints;
    delivery.timeout = std::chrono::milliseconds(options.delivery_timeout_ms);
    if (!options.retry_schedule.empty()) {
        auto policy = parse_retry_schedule(options.retry_schedule);
        if (!policy) {
            std::cerr << "closeloop: --retry-schedule: " << policy.error().what() << "\n";
            return 2;
        }
        delivery.retry = std::move(*policy);
    }
    if (!options.dkim_key.empty()) {
        // d= is given, not taken from each From: it names the DNS zone holding the public key.
        if (options.dkim_selector.empty() || options.dkim_domain.empty()) {
            std::cerr << "closeloop: --dkim-key needs --dkim-selector and --dkim-domain\n";
            return 2;
        }
        try {
            delivery.dkim = delivery::load_dkim_key(options.dkim_key, options.dkim_selector, options.dkim_domain);
        } catch (const std::runtime_error& e) {
            std::cerr << "closeloop: --dkim-key: " << e.what() << "\n";
            return 2;
        }
    } else if (!options.dkim_selector.empty() || !options.dkim_domain.empty()) {
        std::cerr << "closeloop: --dkim-selector and --dkim-domain need --dkim-key\n";
        return 2;
    }
    if (!options.smtp.empty() && options.smtp.rfind("smtp://", 0) != 0 && options.smtp.rfind("smtps://", 0) != 0) {
        std::cerr << "closeloop: --smtp must be smtp://host:port or smtps://host:port, not " << options.smtp << "\n";
        return 2;
    }
    RateLimits rate_limits;
    for (const auto& [flag, text, rule] :
         {std::tuple{"--rate-answers", &options.rate_answers, &rate_limits.answers},
          std::tuple{"--rate-signin", &options.rate_signin, &rate_limits.signin},
          std::tuple{"--rate-unsubscribe", &options.rate_unsubscribe, &rate_limits.unsubscribe},
          std::tuple{"--rate-api", &options.rate_api, &rate_limits.api}}) {
        if (text->empty()) continue;
        auto parsed = parse_rate_rule(*text);
        if (!parsed) {
            std::cerr << "closeloop: " << flag << ": " << parsed.error().what() << "\n";
            return 2;
        }
        *rule = *parsed;
    }
    EventTimeWindow event_window;
    for (auto [flag, text, into] :
         {std::tuple{"--event-max-future", &options.event_max_future, &event_window.max_future},
          std::tuple{"--event-max-age", &options.event_max_age, &event_window.max_age}}) {
        auto d = parse_duration(*text);
        if (!d) {
            std::cerr << "closeloop: " << flag << " " << d.error().message << ", not " << *text << "\n";
            return 2;
        }
        *into = *d;
    }
    const std::string public_url =
        options.public_url.empty() ? "http://" + options.bind + ":" + std::to_string(options.port) : options.public_url;
    std::vector<std::string> trusted;
    for (auto& address : split_list(options.trusted_proxy))
        if (!address.empty()) trusted.push_back(std::move(address));
    HttpLimits http;
    http.max_connections = static_cast<std::size_t>(options.max_connections);
    http.max_per_address = static_cast<std::size_t>(options.max_connections_per_address);
    App app({.data = options.data,
             .clock = now_utc,
             .threads = options.threads,
             .http = http,
             .trusted_proxies = trusted,
             .rfm_interval_minutes = options.rfm_interval_minutes,
             .synchronous = options.synchronous,
             .public_url = public_url,
             .delivery = delivery,
             .cap = {options.cap_per_day, options.cap_per_week},
             .redeem_url = options.redeem_url,
             .rate_limits = rate_limits,
             .event_window = event_window});
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
        if (*created)
            print_keys(**created, bootstrap_key.has_value());
        else if (bootstrap_key)
            report_bootstrap_key(ensure_bootstrap_key(app.store(), *bootstrap_key, app.now()));
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

// `closeloop keys ...` open the database beside a running server: SQLite in WAL mode lets
// both read, and writes wait their turn (busy timeout); the server reads keys and sessions
// from the database on each request, so a new or revoked key counts at once.
int keys_create_command(const std::filesystem::path& data, const std::string& workspace, const std::string& kind,
                        const std::string& key) {
    try {
        if (!std::filesystem::exists(data / "closeloop.db")) {
            std::cerr << "closeloop: no database in " << data.string() << " (start the server once, or pass --data)\n";
            return 1;
        }
        SqliteStore store(data);
        const KeyKind k = kind == "publishable" ? KeyKind::publishable : KeyKind::admin;
        auto added = add_workspace_key(store, workspace, k, key.empty() ? std::nullopt : std::optional(key), now_utc());
        if (!added) {
            std::cerr << "closeloop: " << added.error().what() << "\n";
            return 1;
        }
        if (key.empty()) {
            std::cout << added->key << std::endl;
            std::cerr << "closeloop: a new " << kind << " key of workspace \"" << workspace << "\" (id " << added->id
                      << "), shown once: keep it now, it is stored hashed\n";
        } else {
            std::cerr << "closeloop: the given key is now a " << kind << " key of workspace \"" << workspace
                      << "\" (id " << added->id << ")\n";
        }
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "closeloop: " << e.what() << "\n";
        return 1;
    }
}

int keys_list_command(const std::filesystem::path& data, const std::string& workspace) {
    try {
        if (!std::filesystem::exists(data / "closeloop.db")) {
            std::cerr << "closeloop: no database in " << data.string() << "\n";
            return 1;
        }
        SqliteStore store(data);
        const auto ws = store.find_workspace(workspace);
        if (!ws) {
            std::cerr << "closeloop: there is no workspace \"" << workspace << "\"\n";
            return 1;
        }
        std::printf("%-18s %-12s %-20s %-26s %s\n", "id", "kind", "prefix", "created", "revoked");
        for (const auto& k : store.api_keys(ws->id))
            std::printf("%-18s %-12s %-20s %-26s %s\n", k.id.c_str(), std::string(key_kind_name(k.kind)).c_str(),
                        k.prefix.c_str(), format_time(k.created_at).c_str(), time_text(k.revoked_at).c_str());
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "closeloop: " << e.what() << "\n";
        return 1;
    }
}

int keys_revoke_command(const std::filesystem::path& data, const std::string& workspace, const std::string& id) {
    try {
        if (!std::filesystem::exists(data / "closeloop.db")) {
            std::cerr << "closeloop: no database in " << data.string() << "\n";
            return 1;
        }
        SqliteStore store(data);
        const auto ws = store.find_workspace(workspace);
        if (!ws) {
            std::cerr << "closeloop: there is no workspace \"" << workspace << "\"\n";
            return 1;
        }
        if (!store.revoke_key(ws->id, id, now_utc())) {
            std::cerr << "closeloop: workspace \"" << workspace << "\" has no key " << id
                      << " that is not revoked (see `closeloop keys list --workspace " << workspace << "`)\n";
            return 1;
        }
        std::cerr << "closeloop: revoked " << id << "; its browser sessions are signed out\n";
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "closeloop: " << e.what() << "\n";
        return 1;
    }
}

}  // namespace closeloop::server
